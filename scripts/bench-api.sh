#!/usr/bin/env bash
# HTTP API benchmark with wrk on loopback: an authenticated GET of one account, a GET of a
# 100-client list, and a bare tiny_http hello-world (examples/hello.rs, the ceiling of our
# HTTP layer), each at full load and at half of it for p99; the account GET again over HTTPS
# on kept-alive connections, and over HTTPS with a new connection (a full TLS handshake) per
# request; then write throughput (creates/s with a flush per create). Installs wrk if missing.
#   scripts/bench-api.sh        knobs: SECS=10 CONNS=32 THREADS=2
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
secs=${SECS:-10}; conns=${CONNS:-32}; threads=${THREADS:-2}
command -v wrk >/dev/null || { apt-get update >/dev/null || true; DEBIAN_FRONTEND=noninteractive apt-get install -y wrk >/dev/null; }
(cd "$here" && cargo build --release --quiet && cargo build --release --quiet --example hello)
work=$(mktemp -d /tmp/edgecomm-api.XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null || true' EXIT
wait_ready() { for _ in $(seq 200); do grep -q '^READY ' "$1" 2>/dev/null && return; sleep 0.05; done; echo "no READY in $1" >&2; exit 1; }

"$here/target/release/edgecomm" --data-dir "$work/data" --http-listen 127.0.0.1:0 --sip-listen off --https-listen 127.0.0.1:0 --sip-tls-listen off \
  --log-level warn >"$work/ready" 2>"$work/server.log" &
pids+=($!)
wait_ready "$work/ready"
http=$(sed -nE 's/^READY http=([^ ]+).*/\1/p' "$work/ready")
https=$(sed -nE 's/.* https=([^ ]+).*/\1/p' "$work/ready")
sid=$(sed -n 's/^sid=//p' "$work/data/initial-credentials")
token=$(sed -n 's/^auth_token=//p' "$work/data/initial-credentials")
auth="Authorization: Basic $(printf '%s' "$sid:$token" | base64 -w0)"
writes=$(python3 "$here/scripts/provision.py" "$http" "$sid" "$token" 100 "$work/users.csv")

"$here/target/release/examples/hello" 127.0.0.1:0 4 >"$work/hello" &
pids+=($!)
wait_ready "$work/hello"
hello=$(sed -nE 's/^READY http=([^ ]+).*/\1/p' "$work/hello")

# rate p99_ms from one wrk run (-R is not in Debian's wrk: closed loop, fixed connections)
run() { # url conns [header]
  local out
  out=$(wrk -t"$threads" -c"$2" -d"${secs}s" --latency ${3:+-H "$3"} "$1")
  local rps p99
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '/ 99%/ {print $2}' <<<"$out")
  echo "$rps $p99"
}
printf '%-22s %12s %10s %16s\n' target req_per_s p99 "p99@half_conns"
for name in hello account clients account_https handshakes; do
  case $name in
    hello) url="http://$hello/"; header="" ;;
    account) url="http://$http/2012-04-24/Accounts/$sid.json"; header="$auth" ;;
    clients) url="http://$http/2012-04-24/Accounts/$sid/Clients.json"; header="$auth" ;;
    account_https) url="https://$https/2012-04-24/Accounts/$sid.json"; header="$auth" ;;
    handshakes) url="https://$https/health"; header="Connection: close" ;;
  esac
  read -r rps p99 <<<"$(run "$url" "$conns" "$header")"
  read -r _ p99half <<<"$(run "$url" $(( conns / 2 )) "$header")"
  printf '%-22s %12s %10s %16s\n' "$name" "$rps" "$p99" "$p99half"
  eval "rps_$name=$rps"
done
awk -v a="$rps_account" -v h="$rps_hello" 'BEGIN { printf "single GET / ceiling: %.2f\n", a / h }'
awk -v s="$rps_account_https" -v a="$rps_account" 'BEGIN { printf "single GET, HTTPS / HTTP (kept-alive): %.2f\n", s / a }'
echo "new TLS handshakes per second (one request each, Connection: close): $rps_handshakes"
echo "writes: $writes"
