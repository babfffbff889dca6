#!/usr/bin/env bash
# Memory of the release binary: RSS idle, then after creating N Clients through the API,
# then after a restart with them (cold start time included).
#   scripts/rss.sh [N]     (default 10000)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-10000}
(cd "$here" && cargo build --release --quiet)
bin="$here/target/release/edgecomm"
work=$(mktemp -d /tmp/edgecomm-rss.XXXXXX)
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true' EXIT
rss() { awk '/^VmRSS/ {print $2}' "/proc/$pid/status"; }
start() {
  : >"$work/ready"
  local t0; t0=$(date +%s%N)
  "$bin" --data-dir "$work/data" --http-listen 127.0.0.1:0 --sip-listen 127.0.0.1:0 --https-listen 127.0.0.1:0 --sip-tls-listen 127.0.0.1:0 \
    --log-level warn >"$work/ready" 2>>"$work/server.log" &
  pid=$!
  for _ in $(seq 500); do grep -q '^READY ' "$work/ready" && break; sleep 0.01; done
  echo "ready after $(( ($(date +%s%N) - t0) / 1000000 )) ms: $(cat "$work/ready")"
}
start
sleep 1
echo "RSS idle: $(rss) KiB"
http=$(sed -nE 's/^READY http=([^ ]+).*/\1/p' "$work/ready")
sid=$(sed -n 's/^sid=//p' "$work/data/initial-credentials")
token=$(sed -n 's/^auth_token=//p' "$work/data/initial-credentials")
python3 "$here/scripts/provision.py" "$http" "$sid" "$token" "$n" "$work/users.csv"
echo "RSS after $n clients: $(rss) KiB"
kill "$pid"; wait "$pid" 2>/dev/null || true
start
sleep 1
echo "RSS after a restart with $n clients: $(rss) KiB"
