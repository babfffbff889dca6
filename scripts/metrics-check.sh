#!/usr/bin/env bash
# The operator's scrape, as real tools see it: a box serves a phone (sipsak, right and wrong
# password) and API calls (curl), then
# - `promtool check metrics` (Debian's prometheus) passes on its scrape over loopback HTTP
#   without credentials and over HTTPS with the root's (which must say 401 without them);
# - the scrape holds what was done (one UDP registration, one wrong password);
# - Debian's Prometheus server, run with the README's scrape config (HTTPS, the box's
#   certificate as its CA, basic auth with an AuthToken file), scrapes it: `up` is 1.
#   scripts/metrics-check.sh [BINARY]   (default target/release/edgecomm)
# Needs prometheus (promtool), sipsak, curl, python3.
set -euo pipefail
. "$(dirname "$0")/lib/serve.sh"
init metrics "${1:-}"
serve "$work/data" --sip-realm pbx.test
https=$(sed -E 's/.*https=([^ ]+).*/\1/' "$work/ready")
api="http://$http/2012-04-24/Accounts"
curl -sS -f -u "$sid:$token" "$api/$sid/Clients.json" -d Login=alice -d Password=alice-secret1 >/dev/null
sipsak -U -C "sip:alice@127.0.0.1:5099" -x 600 -u alice -a alice-secret1 -s "sip:alice@$sip" -H 127.0.0.1 >/dev/null
if sipsak -U -C "sip:alice@127.0.0.1:5098" -x 600 -u alice -a wrong-password1 \
  -s "sip:alice@$sip" -H 127.0.0.1 >/dev/null 2>&1; then
  echo "FAILED: sipsak registered with a wrong password"; exit 1
fi

curl -sS -f "http://$http/metrics" >"$work/http.txt"
promtool check metrics <"$work/http.txt"
for want in 'edgecomm_sip_registrations{transport="udp"} 1' \
  'edgecomm_auth_failures_total{service="sip",reason="wrong_password"} 1' \
  'edgecomm_clients{status="enabled"} 1'; do
  grep -qxF "$want" "$work/http.txt" || { echo "FAILED: no '$want' in the scrape:"; cat "$work/http.txt"; exit 1; }
done
cert="$work/data/tls/cert.pem"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$cert" "https://localhost:${https##*:}/metrics")
[ "$code" = 401 ] || { echo "FAILED: HTTPS scrape without credentials got $code, not 401"; exit 1; }
curl -sS -f --cacert "$cert" -u "$sid:$token" "https://localhost:${https##*:}/metrics" >"$work/https.txt"
promtool check metrics <"$work/https.txt"
echo "promtool: both scrapes pass ($(grep -vc '^#' "$work/http.txt") samples)"

# The README's scrape config, with this box's certificate, SID, AuthToken and address.
echo "$token" >"$work/token"
prom_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
{
  printf 'global:\n  scrape_interval: 1s\n'
  awk '/^```yaml$/ { on = 1; next } on && /^```$/ { exit } on' "$here/README.md"
} | sed -e "s|/etc/prometheus/edgecomm-box1.pem|$cert|" \
  -e "s|AC0123456789abcdef0123456789abcdef|$sid|" \
  -e "s|/etc/prometheus/edgecomm-box1.token|$work/token|" \
  -e "s|'192.0.2.10:8443'|'localhost:${https##*:}'|" >"$work/prometheus.yml"
grep -q "$sid" "$work/prometheus.yml" || { echo "FAILED: no scrape config found in the README"; exit 1; }
promtool check config "$work/prometheus.yml" >/dev/null
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --web.listen-address="127.0.0.1:$prom_port" >"$work/prometheus.log" 2>&1 &
prom_pid=$!
trap 'kill "$prom_pid" 2>/dev/null; [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; wait 2>/dev/null || true' EXIT
query() {
  curl -s "http://127.0.0.1:$prom_port/api/v1/query" --data-urlencode "query=$1" |
    python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")'
}
up=""
for _ in $(seq 60); do
  up=$(query 'up{job="edgecomm"}' 2>/dev/null || true)
  [ "$up" = 1 ] && [ -n "$(query 'edgecomm_sip_registrations{transport="udp"}' 2>/dev/null)" ] && break
  sleep 0.5
done
regs=$(query 'edgecomm_sip_registrations{transport="udp"}')
if [ "$up" != 1 ] || [ "$regs" != 1 ]; then
  echo "FAILED: Prometheus with the README's config: up=$up, udp registrations=$regs"
  tail -20 "$work/prometheus.log"
  exit 1
fi
echo "Prometheus with the README's scrape config (HTTPS, the box's certificate, basic auth): up=1, udp registrations=$regs"
