#!/usr/bin/env bash
# SIP conformance against the real binary: starts edgecomm on loopback (realm pbx.test),
# creates the Clients of ../shared/tools/sip/users.csv through the REST API, and runs
# ../shared/tools/sip/run_conformance.sh (SIPp scenarios + sipsak). Exits non-zero if any
# check fails. Needs sipp (Debian: sip-tester), sipsak, curl.
#   scripts/conformance.sh [BINARY]     (default: target/release/edgecomm)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$here/target/release/edgecomm}
kit=${KIT:-$here/../shared/tools/sip}
work=$(mktemp -d /tmp/edgecomm-conformance.XXXXXX)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true' EXIT

"$bin" --data-dir "$work/data" --http-listen 127.0.0.1:0 --sip-listen 127.0.0.1:0 --https-listen 127.0.0.1:0 --sip-tls-listen 127.0.0.1:0 \
  --sip-realm pbx.test >"$work/ready" 2>"$work/server.log" &
pid=$!
for _ in $(seq 100); do grep -q '^READY ' "$work/ready" 2>/dev/null && break; sleep 0.1; done
ready=$(grep '^READY ' "$work/ready") || { echo "server did not start:"; cat "$work/server.log"; exit 1; }
http=$(sed -E 's/.*http=([^ ]+).*/\1/' <<<"$ready")
sip=$(sed -E 's/.*sip=([^ ]+).*/\1/' <<<"$ready")
sid=$(sed -n 's/^sid=//p' "$work/data/initial-credentials")
token=$(sed -n 's/^auth_token=//p' "$work/data/initial-credentials")
echo "edgecomm: $ready"

grep -v -E '^(#|SEQUENTIAL)' "$kit/users.csv" | while IFS=';' read -r user _keyword _domain password; do
  code=$(curl -s -o "$work/client.json" -w '%{http_code}' -u "$sid:$token" \
    "http://$http/2012-04-24/Accounts/$sid/Clients.json" \
    --data-urlencode "Login=$user" --data-urlencode "Password=$password")
  [ "$code" = 200 ] || { echo "creating client $user: HTTP $code: $(cat "$work/client.json")"; exit 1; }
done
echo "clients created from users.csv"

status=0
OUT_DIR="$work/conformance" sh "$kit/run_conformance.sh" "${sip%:*}" "${sip##*:}" users.csv || status=$?
if [ "$status" != 0 ]; then
  echo "--- server log (last 40 lines)"; tail -40 "$work/server.log"
fi
exit "$status"
