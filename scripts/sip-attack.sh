#!/usr/bin/env bash
# SIP attackers (issue #7 item 5), with the real tools: SIPVicious (Debian: sipvicious).
#  1. svwar enumerating extensions by REGISTER (a name dictionary holding real logins) and by
#     OPTIONS (a numeric range holding real logins) must find nothing: a known login and an
#     unknown one get the same answer.
#  2. svcrack against a real login with a dictionary holding its password at line 200 must not
#     find it: the per-address limit (auth.max_failures, default 10) stops answering first.
#     Every wrong password it tried is in the log as a fail2ban line.
#  3. Control: the same svcrack against a server with the limit lifted does find the password,
#     so (2) shows the limit at work, not a tool that cannot crack.
# Needs sipvicious and curl.   scripts/sip-attack.sh [BINARY]   (default target/release/edgecomm)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$here/target/release/edgecomm}
work=$(mktemp -d /tmp/edgecomm-attack.XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT
password='Secret-alice-real'

start() { # name [extra flags...] -> sets http sip sid token dir
  dir="$work/$1"; shift
  mkdir -p "$dir"
  "$bin" --data-dir "$dir/data" --http-listen 127.0.0.1:0 --sip-listen 127.0.0.1:0 --https-listen 127.0.0.1:0 --sip-tls-listen 127.0.0.1:0 \
    --sip-realm pbx.test "$@" >"$dir/ready" 2>"$dir/server.log" &
  pids+=($!)
  for _ in $(seq 100); do grep -q '^READY ' "$dir/ready" 2>/dev/null && break; sleep 0.1; done
  local ready
  ready=$(grep '^READY ' "$dir/ready") || { echo "server did not start:"; cat "$dir/server.log"; exit 1; }
  http=$(sed -E 's/.*http=([^ ]+).*/\1/' <<<"$ready")
  sip=$(sed -E 's/.*sip=([^ ]+).*/\1/' <<<"$ready")
  sid=$(sed -n 's/^sid=//p' "$dir/data/initial-credentials")
  token=$(sed -n 's/^auth_token=//p' "$dir/data/initial-credentials")
  for login in alice 101 150; do
    local secret="Secret-$login-real"
    code=$(curl -s -o /dev/null -w '%{http_code}' -u "$sid:$token" \
      "http://$http/2012-04-24/Accounts/$sid/Clients.json" \
      --data-urlencode "Login=$login" --data-urlencode "Password=$secret")
    [ "$code" = 200 ] || { echo "creating client $login: HTTP $code"; exit 1; }
  done
}

python3 - "$work/passwords.txt" "$password" <<'PY'
import sys
with open(sys.argv[1], "w") as out:
    for i in range(1, 401):
        out.write((sys.argv[2] if i == 200 else f"guess{i:04d}x") + "\n")
PY
printf 'admin\nalice\nbob\n101\n150\nroot\ntest\noperator\n' >"$work/names.txt"
fail=0

start limited
echo "edgecomm (default limits): sip=$sip"
for scan in "REGISTER -d $work/names.txt" "OPTIONS -e100-200" "REGISTER -e100-200"; do
  out=$(timeout 300 svwar --force -m $scan "${sip%:*}" -p "${sip##*:}" 2>&1 || true)
  if grep -q 'found nothing' <<<"$out" && ! grep -qE '\| *(alice|101|150) *\|' <<<"$out"; then
    echo "svwar -m $scan: found nothing"
  else
    echo "svwar -m $scan FOUND USERS:"; echo "$out"; fail=1
  fi
done
# svwar's own failures are logged too; count only svcrack's below.
before=$(grep -c 'auth failed: user=alice ' "$dir/server.log" || true)
start_time=$(date +%s)
out=$(timeout 600 svcrack -u alice -d "$work/passwords.txt" "${sip%:*}" -p "${sip##*:}" 2>&1 || true)
took=$(( $(date +%s) - start_time ))
lines=$(( $(grep -c 'auth failed: user=alice ' "$dir/server.log" || true) - before ))
if grep -q "$password" <<<"$out"; then
  echo "svcrack RECOVERED the password (position 200):"; echo "$out"; fail=1
else
  echo "svcrack (password at position 200 of 400): not recovered in ${took}s; the server evaluated $lines guesses, each logged:"
  grep 'auth failed: user=alice ' "$dir/server.log" | tail -1
fi
limit=10
if [ "$lines" -lt 1 ] || [ "$lines" -gt "$limit" ]; then
  echo "expected 1 to $limit logged failures before the limit, got $lines"; fail=1
fi

start unlimited --auth-max-failures 1000000
out=$(timeout 600 svcrack -u alice -d "$work/passwords.txt" "${sip%:*}" -p "${sip##*:}" 2>&1 || true)
if grep -q "$password" <<<"$out"; then
  echo "control (limit lifted): svcrack recovers the password, so the limit is what stopped it"
else
  echo "control FAILED: svcrack did not find the password even without the limit:"; echo "$out"; fail=1
fi
exit $fail
