# Sourced by the scripts that drive a real binary.
#
#   init NAME [BINARY]
# sets `here` (the repository), `bin` (BINARY, default the release build) and `work` (a fresh
# directory /tmp/edgecomm-NAME.*), and stops the server, if one runs, when the script exits.
#
#   serve DATA_DIR [FLAGS...]
# starts `bin` in the background on the data directory DATA_DIR (whose parent keeps `ready`
# and `server.log`), HTTP and SIP on free loopback ports unless FLAGS say otherwise, and sets
# server_pid, http (host:port), sip (host:port or off), and sid and token (the root
# Administrator's, from initial-credentials). Exits with the server's log when it does not
# start within 10 s.
init() {
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  bin=${2:-$here/target/release/edgecomm}
  work=$(mktemp -d "/tmp/edgecomm-$1.XXXXXX")
  server_pid=""
  trap '[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; wait 2>/dev/null || true' EXIT
}

serve() {
  local data=$1
  shift
  local dir
  dir=$(dirname "$data")
  mkdir -p "$dir"
  "$bin" --data-dir "$data" --http-listen 127.0.0.1:0 --sip-listen 127.0.0.1:0 --https-listen 127.0.0.1:0 --sip-tls-listen 127.0.0.1:0 "$@" \
    >"$dir/ready" 2>"$dir/server.log" &
  server_pid=$!
  local ready=""
  for _ in $(seq 100); do
    ready=$(grep '^READY ' "$dir/ready" 2>/dev/null) && break
    sleep 0.1
  done
  if [ -z "$ready" ]; then
    echo "server did not start:"
    cat "$dir/server.log"
    exit 1
  fi
  http=$(echo "$ready" | sed -E 's/.*http=([^ ]+).*/\1/')
  sip=$(echo "$ready" | sed -E 's/.*sip=([^ ]+).*/\1/')
  sid=$(sed -n 's/^sid=//p' "$data/initial-credentials")
  token=$(sed -n 's/^auth_token=//p' "$data/initial-credentials")
}
