"""One pjsip phone (PyPI pjsua2-python) for scripts/real-phones.sh: registers USER with
PASSWORD to the registrar at 127.0.0.1:PORT over TRANSPORT (udp or tcp) for SECONDS, printing
each registration state it reaches ("regstate 200 OK"), then de-registers and exits."""
import sys
import time

import pjsua2 as pj

port, user, password, transport, seconds = sys.argv[1:6]
ep = pj.Endpoint()
ep.libCreate()
cfg = pj.EpConfig()
cfg.logConfig.level = 1
cfg.uaConfig.userAgent = "pjsua2-python"
ep.libInit(cfg)
kind = pj.PJSIP_TRANSPORT_TCP if transport == "tcp" else pj.PJSIP_TRANSPORT_UDP
ep.transportCreate(kind, pj.TransportConfig())
ep.audDevManager().setNullDev()
ep.libStart()


class Account(pj.Account):
    def onRegState(self, prm):
        print("regstate", prm.code, prm.reason, flush=True)


acfg = pj.AccountConfig()
acfg.idUri = f"sip:{user}@pbx.test"
acfg.regConfig.registrarUri = f"sip:127.0.0.1:{port};transport={transport}"
acfg.sipConfig.authCreds.append(pj.AuthCredInfo("digest", "*", user, 0, password))
account = Account()
account.create(acfg)
end = time.time() + float(seconds)
while time.time() < end:
    ep.libHandleEvents(100)
account.shutdown()
end = time.time() + 1
while time.time() < end:
    ep.libHandleEvents(50)
ep.libDestroy()
