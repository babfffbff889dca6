#!/usr/bin/env bash
# The README's fail2ban filter, run by fail2ban itself (Debian fail2ban's fail2ban-regex) over
# the real log of a server that saw failed API logins (curl, wrong AuthToken and unknown user)
# and failed SIP registrations (sipsak, wrong password and unknown login). Every failure line
# must be matched, with 127.0.0.1 as the host, and nothing else.
#   scripts/fail2ban-check.sh [BINARY]   (default target/release/edgecomm)
# Needs fail2ban, sipsak, curl.
set -euo pipefail
. "$(dirname "$0")/lib/serve.sh"
init fail2ban "${1:-}"
serve "$work/data" --sip-realm pbx.test --auth-max-failures 1000
api="http://$http/2012-04-24/Accounts"
curl -sS -f -u "$sid:$token" "$api/$sid/Clients.json" -d Login=alice -d Password=alice-secret1 >/dev/null

api_failures=0
for user in "$sid" nobody@example.com 'x source=203.0.113.9:1 reason=forged'; do
  code=$(curl -s -o /dev/null -w '%{http_code}' -u "$user:wrong-token1" "$api.json")
  [ "$code" = 401 ] || { echo "API login as $user: $code, not 401"; exit 1; }
  api_failures=$((api_failures + 1))
done
sip_failures=0
for user in alice mallory; do
  if sipsak -U -C "sip:$user@127.0.0.1:5099" -x 60 -u "$user" -a wrong-password1 \
    -s "sip:$user@$sip" -H 127.0.0.1 >/dev/null 2>&1; then
    echo "sipsak registered $user with a wrong password"; exit 1
  fi
  sip_failures=$((sip_failures + 1))
done
sleep 0.5

filter="$work/edgecomm.conf"
{ echo "[Definition]"; grep '^failregex = ' "$here/README.md"; } >"$filter"
lines=$(grep -c 'auth failed: ' "$work/server.log" || true)
api_lines=$(grep -c 'api auth failed: ' "$work/server.log" || true)
sip_lines=$(grep -c 'sip auth failed: ' "$work/server.log" || true)
echo "failures: API $api_failures sent, $api_lines logged; SIP $sip_failures sent, $sip_lines logged"
[ "$api_lines" -eq "$api_failures" ] && [ "$sip_lines" -ge "$sip_failures" ] ||
  { echo "FAILED: the log does not hold one line per failure"; cat "$work/server.log"; exit 1; }

fail2ban-regex -v "$work/server.log" "$filter" >"$work/regex.out" 2>&1 || true
matched=$(sed -n 's/^Lines: .* \([0-9]*\) matched.*/\1/p' "$work/regex.out")
hosts=$(awk '/^Failregex:/ { on = 1 } /^`-/ { on = 0 } on && /^\|      [0-9a-f.:]+  / { print $2 }' \
  "$work/regex.out" | sort | uniq -c | tr -s ' ')
echo "fail2ban-regex: $matched of $lines failure lines matched; hosts:$hosts"
if [ "$matched" != "$lines" ] || [ "$(echo "$hosts" | awk '{ print $2 }')" != 127.0.0.1 ]; then
  cat "$work/regex.out"
  echo "FAILED: the README's filter does not catch every failure with its real source"
  exit 1
fi
echo "fail2ban: the README's filter catches every API and SIP failure"
