#!/usr/bin/env bash
# Makes the upgrade fixture of tests/it/upgrade.rs with a given (older) release binary:
# a data directory and an export holding a small account tree (an Administrator tenant with
# a Developer, a suspended and a closed account), clients (one disabled) and one live
# binding, all made through the API and a real digest REGISTER.
#
#   scripts/make-upgrade-fixture.sh BINARY OUT_DIR
#
# OUT_DIR gets data/ (the data directory, server stopped by SIGKILL as a crash-only server
# is), export.json (`edgecomm export --bindings`) and facts.env (the SIDs and passwords the
# test needs). The fixture in tests/fixtures/release-1/ was made by the release before
# organizations existed (git describe: see its facts.env).
set -euo pipefail
source "$(dirname "$0")/lib/serve.sh"
init upgrade-fixture "$1"
out=$2
rm -rf "$out"
mkdir -p "$out"
data=$out/data
serve "$data" --sip-realm pbx.test --https-listen off --sip-tls-listen off
api() { curl -sS -f -u "$sid:$token" "http://$http/2012-04-24/$1" "${@:2}"; }
field() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }

tenant=$(api Accounts.json -d EmailAddress=tenant@example.com -d Password=tenantpass1 \
  -d Role=Administrator -d FriendlyName=Tenant | field sid)
dev=$(api "Accounts/$tenant.json" -d EmailAddress=dev@example.com -d Password=devpass123 \
  -d Role=Developer | field sid)
held=$(api Accounts.json -d EmailAddress=held@example.com -d Password=heldpass12 | field sid)
api "Accounts/$held.json" -d Status=suspended >/dev/null
gone=$(api Accounts.json -d EmailAddress=gone@example.com -d Password=gonepass12 | field sid)
api "Accounts/$gone.json" -X DELETE >/dev/null
alice=$(api "Accounts/$dev/Clients.json" -d Login=alice -d Password=alicepass1 | field sid)
bob=$(api "Accounts/$tenant/Clients.json" -d Login=bob -d Password=bobpass123 -d Status=0 | field sid)

# One REGISTER with an MD5 digest, as a phone sends it, so that the data has a binding.
python3 - "$sip" <<'EOF'
import hashlib, re, socket, sys
host, port = sys.argv[1].rsplit(":", 1)
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.settimeout(5)
sock.bind(("127.0.0.1", 0))
me = "127.0.0.1:%d" % sock.getsockname()[1]
def register(cseq, auth=""):
    msg = ("REGISTER sip:pbx.test SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK-fix%d\r\n"
           "Max-Forwards: 70\r\nFrom: <sip:alice@pbx.test>;tag=fix\r\nTo: <sip:alice@pbx.test>\r\n"
           "Call-ID: upgrade-fixture\r\nCSeq: %d REGISTER\r\nContact: <sip:alice@%s>\r\n"
           "Expires: 7200\r\nUser-Agent: fixture/1\r\n%sContent-Length: 0\r\n\r\n"
           % (me, cseq, cseq, me, auth))
    sock.sendto(msg.encode(), (host, int(port)))
    return sock.recv(65535).decode()
challenge = register(1)
nonce = re.search(r'nonce="([^"]+)"', challenge).group(1)
ha1 = hashlib.md5(b"alice:pbx.test:alicepass1").hexdigest()
ha2 = hashlib.md5(b"REGISTER:sip:pbx.test").hexdigest()
response = hashlib.md5(("%s:%s:00000001:fixcnonce:auth:%s" % (ha1, nonce, ha2)).encode()).hexdigest()
auth = ('Authorization: Digest username="alice", realm="pbx.test", nonce="%s", uri="sip:pbx.test", '
        'response="%s", algorithm=MD5, qop=auth, nc=00000001, cnonce="fixcnonce"\r\n' % (nonce, response))
answer = register(2, auth)
assert answer.startswith("SIP/2.0 200"), answer
EOF
[ "$(api "Accounts/$dev/Registrations.json" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 1 ]

kill -9 "$server_pid"
wait "$server_pid" 2>/dev/null || true
server_pid=""
"$bin" export --bindings --data-dir "$data" --sip-realm pbx.test >"$out/export.json"
rm -f "$data/ready" "$data/server.log" "$out/ready" "$out/server.log"
cat >"$out/facts.env" <<EOF
made_by=$("$bin" --version) $(git -C "$here" describe --always --dirty 2>/dev/null || echo unknown)
root_sid=$sid
root_token=$token
tenant=$tenant
dev=$dev
held=$held
gone=$gone
alice=$alice
bob=$bob
EOF
du -sh "$data"
echo "fixture made in $out"
