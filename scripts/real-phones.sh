#!/usr/bin/env bash
# Real SIP phones that others wrote, against a binary with the default digest settings:
# baresip (Debian baresip-core) and linphonec (Debian linphone-cli), each over UDP, TCP and
# TLS (trusting the box's self-signed certificate: baresip checks its names too; linphonec
# 5.1's mbedtls 2.28 cannot match an IP address, so it checks the certificate but not the name).
# For every phone and transport:
#  1. it registers: 200, and the API shows the binding with the phone's User-Agent and the
#     transport it used;
#  2. a refresh keeps it: the server grants 10 s, so 14 s later the binding is still there,
#     from the same source (over TCP: the connection outlived three 2-s idle timeouts);
#  3. quitting the phone removes it (the phone de-registers);
#  4. started again, it registers, and disabling its client (Status=0) drops the binding at
#     once; the phone's next REGISTER gets 403.
# Then pjsip (PyPI pjsua2-python, in a venv): three attempts with a wrong password (pjsip
# answers each fresh challenge again at once) lock out neither its address nor its login, so
# the right password registers at once; each attempt is one counted failure.
# Needs baresip-core, linphone-cli, curl, python3 with venv, and PyPI.
#   scripts/real-phones.sh [BINARY]   (default target/release/edgecomm)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$here/target/release/edgecomm}
work=$(mktemp -d /tmp/edgecomm-phones.XXXXXX)
server_pid="" phone_pid=""
cleanup() {
  [ -n "$phone_pid" ] && kill "$phone_pid" 2>/dev/null
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
  wait 2>/dev/null || true
}
trap cleanup EXIT
fail=0

"$bin" --data-dir "$work/data" --http-listen 127.0.0.1:0 --sip-listen 127.0.0.1:0 --https-listen 127.0.0.1:0 --sip-tls-listen 127.0.0.1:0 \
  --sip-realm pbx.test --sip-min-expires 10 --sip-max-expires 10 --sip-idle-timeout-secs 2 \
  --auth-max-failures 5 \
  >"$work/ready" 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 100); do grep -q '^READY ' "$work/ready" 2>/dev/null && break; sleep 0.1; done
ready=$(grep '^READY ' "$work/ready") || { echo "server did not start:"; cat "$work/server.log"; exit 1; }
http=$(sed -E 's/.*http=([^ ]+).*/\1/' <<<"$ready")
sip=$(sed -E 's/.*sip=([^ ]+).*/\1/' <<<"$ready")
port=${sip##*:}
sip_tls=$(sed -E 's/.*sip_tls=([^ ]+).*/\1/' <<<"$ready")
tls_port=${sip_tls##*:}
sid=$(sed -n 's/^sid=//p' "$work/data/initial-credentials")
token=$(sed -n 's/^auth_token=//p' "$work/data/initial-credentials")
api="http://$http/2012-04-24/Accounts/$sid"
echo "edgecomm: $ready (grants 10 s, SIP idle timeout 2 s, limit after 5 failures)"

# The client's bindings as "source transport user-agent" lines.
bindings() {
  curl -s -u "$sid:$token" "$api/Clients/$1/Registrations.json" | python3 -c '
import json, sys
for r in json.load(sys.stdin):
    print(r["source"], r["transport"], r["user_agent"])'
}
# Waits up to $2 seconds for the client's bindings to be non-empty (or, with "none", empty).
await_bindings() {
  local client=$1 secs=$2 want=${3:-some}
  for _ in $(seq $((secs * 5))); do
    local now; now=$(bindings "$client")
    if [ "$want" = none ] && [ -z "$now" ]; then return 0; fi
    if [ "$want" = some ] && [ -n "$now" ]; then echo "$now"; return 0; fi
    sleep 0.2
  done
  return 1
}

# The server's port for a transport.
port_for() { if [ "$1" = tls ]; then echo "$tls_port"; else echo "$port"; fi; }
start_baresip() { # login transport dir
  local login=$1 transport=$2 dir=$3
  mkdir -p "$dir"
  printf 'poll_method epoll\nsip_listen 127.0.0.1:0\nsip_cafile %s\nmodule_path /usr/lib/baresip/modules\nmodule_tmp account.so\nmodule_app menu.so\n' \
    "$work/data/tls/cert.pem" >"$dir/config"
  printf '<sip:%s@pbx.test;transport=%s>;auth_pass=%s-secret;outbound="sip:127.0.0.1:%s;transport=%s";regint=60\n' \
    "$login" "$transport" "$login" "$(port_for "$transport")" "$transport" >"$dir/accounts"
  baresip -f "$dir" </dev/null >"$dir/phone.log" 2>&1 &
  phone_pid=$!
}
stop_baresip() { # baresip de-registers on SIGTERM, then exits
  kill -TERM "$phone_pid" 2>/dev/null || true
  wait "$phone_pid" 2>/dev/null || true
  phone_pid=""
}
start_linphonec() { # login transport dir
  local login=$1 transport=$2 dir=$3
  mkdir -p "$dir/home/.local/share/linphone"
  printf '[sip]\nsip_port=-1\nsip_tcp_port=-1\nsip_tls_port=-1\nroot_ca=%s\nverify_server_cn=0\n' \
    "$work/data/tls/cert.pem" >"$dir/rc"
  rm -f "$dir/in"; mkfifo "$dir/in"
  HOME="$dir/home" linphonec -c "$dir/rc" <"$dir/in" >"$dir/phone.log" 2>&1 &
  phone_pid=$!
  exec 7>"$dir/in"
  sleep 1
  echo "register sip:$login@pbx.test sip:127.0.0.1:$(port_for "$transport");transport=$transport $login-secret" >&7
}
stop_linphonec() {
  echo quit >&7 || true
  exec 7>&-
  for _ in $(seq 50); do kill -0 "$phone_pid" 2>/dev/null || break; sleep 0.1; done
  kill "$phone_pid" 2>/dev/null || true
  wait "$phone_pid" 2>/dev/null || true
  phone_pid=""
}

check() { # phone transport
  local phone=$1 transport=$2 login="$1-$2" upper
  upper=$(tr a-z A-Z <<<"$transport")
  local client
  client=$(curl -s -u "$sid:$token" "$api/Clients.json" --data-urlencode "Login=$login" \
    --data-urlencode "Password=$login-secret" | python3 -c 'import json,sys; print(json.load(sys.stdin)["sid"])')
  local label="$phone over $upper"
  "start_$phone" "$login" "$transport" "$work/$login"
  local first
  if ! first=$(await_bindings "$client" 10); then
    echo "$label: NOT REGISTERED"; tail -5 "$work/$login/phone.log"; fail=1; "stop_$phone"; return
  fi
  if grep -q " $upper " <<<"$first"; then
    echo "$label: registered, the API shows: $first"
  else
    echo "$label: registered over the wrong transport: $first"; fail=1
  fi
  sleep 14
  local later; later=$(bindings "$client")
  if [ -n "$later" ] && [ "${later%% *}" = "${first%% *}" ]; then
    echo "$label: 14 s later (grant 10 s, idle timeout 2 s) still bound from ${later%% *}"
  else
    echo "$label: refresh lost the binding or its source: '$first' then '$later'"; fail=1
  fi
  "stop_$phone"
  if await_bindings "$client" 5 none; then
    echo "$label: quitting the phone removed its binding"
  else
    echo "$label: binding left after the phone quit"; fail=1
  fi
  "start_$phone" "$login" "$transport" "$work/$login"
  if ! await_bindings "$client" 10 >/dev/null; then
    echo "$label: did not register again"; fail=1; "stop_$phone"; return
  fi
  curl -s -o /dev/null -u "$sid:$token" "$api/Clients/$client.json" -d Status=0
  if [ -z "$(bindings "$client")" ]; then
    echo "$label: disabled: binding dropped at once"
  else
    echo "$label: disabled, but the binding stayed"; fail=1
  fi
  local forbidden=""
  for _ in $(seq 60); do
    if grep -qE "REGISTER <?sip:$login@pbx.test>? from .* -> 403" "$work/server.log"; then forbidden=yes; break; fi
    sleep 0.2
  done
  if [ -n "$forbidden" ]; then
    echo "$label: its next REGISTER got 403"
  else
    echo "$label: no 403 for the disabled client's REGISTER"; fail=1
  fi
  "stop_$phone"
}

for phone in baresip linphonec; do
  for transport in udp tcp tls; do
    check "$phone" "$transport"
  done
done
# pjsip's retry burst: one attempt, one counted failure (counted one by one, the three
# attempts' nine failures would pass the limit of five).
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q pjsua2-python==2.15.1.post1
pjsua() { "$work/venv/bin/python" "$here/scripts/pjsua2-phone.py" "$port" "$@"; }
curl -s -o /dev/null -u "$sid:$token" "$api/Clients.json" -d Login=pjsip -d Password=pjsip-secret
counted() { grep -c 'auth failed: user=pjsip ' "$work/server.log" || true; }
for attempt in 1 2 3; do
  pjsua pjsip wrong-password udp 3 | grep -m1 regstate || true
done
wrong=$(counted)
retries=$(grep -c 'auth retry not evaluated: user=pjsip ' "$work/server.log" || true)
right=$(pjsua pjsip pjsip-secret udp 3 | grep -m1 regstate || true)
echo "pjsip: three wrong attempts: $wrong counted failures, $retries retries not evaluated; then the right password: $right"
if [ "$wrong" -gt 3 ] || [ "$right" != "regstate 200 OK" ] || grep -q 'sip limit: ' "$work/server.log"; then
  echo "pjsip: its own retries locked it out"; fail=1
fi

if [ "$fail" != 0 ]; then
  echo "--- server log (last 30 lines)"; tail -30 "$work/server.log"
fi
exit $fail
