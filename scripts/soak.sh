#!/usr/bin/env bash
# Flash wear, phase by phase: what the box writes to its disk and how large its data directory
# grows (du -sb), for the workloads of an office PBX. Two measures of writes:
#   written  /proc/PID/io write_bytes: what the process sent to the block layer. Exact zero
#            for the rules about nothing written, but on Linux 6.x it counts a whole large
#            page-cache folio for a small write into one (1.4 MB for a 300-byte synced write
#            into a region first written in bulk), so it overstates small writes.
#   device   sectors written by the block device under the data directory
#            (/sys/class/block/DEV/stat, after `sync`): what the flash receives, file system
#            journal included, and anything else the machine wrote meanwhile (run it quiet).
# The API rule is judged on the device figure (on write_bytes where there is no block
# device, e.g. tmpfs or overlay); the zero rules on write_bytes. Phases:
#   provision  NUSERS clients through the API (one keep-alive connection)
#   register   every client's phone registers once (SIPp, one fixed local port)
#   refresh    the same phones re-register for REG_SECS at REG_RATE (nothing changes)
#   api        API churn for API_SECS: create 20 clients, delete them, again (live data unchanged)
#   idle       IDLE_SECS without traffic, the first minute after the churn left out
#   restart    SIGTERM and start again, on the churned directory
#   idle2      IDLE_SECS without traffic after the restart
# then the size of a fresh import of the same data, for comparison.
#
#   scripts/soak.sh            full run (10,000 clients, 8 min phases, 4-5 min idle)
#   SHORT=1 scripts/soak.sh    CI's form (2,000 clients, 30-90 s phases): fails on a broken rule
# Rules: idle writes 0 bytes per minute (after the first minute), a refresh writes 0 bytes, an
# API write costs at most 8 KB on disk, the data directory stays within 2x a fresh import.
# Knobs: NUSERS REG_RATE REG_SECS API_SECS IDLE_SECS. Needs sip-tester (sipp), python3.
set -euo pipefail
. "$(dirname "$0")/lib/serve.sh"
init soak "${BIN:-}"
if [ "${SHORT:-0}" = 1 ]; then
  nusers=${NUSERS:-2000} reg_secs=${REG_SECS:-30} api_secs=${API_SECS:-30} idle_secs=${IDLE_SECS:-90}
else
  nusers=${NUSERS:-10000} reg_secs=${REG_SECS:-480} api_secs=${API_SECS:-480} idle_secs=${IDLE_SECS:-300}
fi
reg_rate=${REG_RATE:-500}
scenario="$here/../shared/tools/sip-bench/register_auth.xml"
[ -f "$scenario" ] || { echo "no SIPp scenario at $scenario"; exit 1; }
command -v sipp >/dev/null || { echo "sipp (Debian sip-tester) is needed"; exit 1; }
[ -x "$here/target/release/edgecomm" ] || (cd "$here" && cargo build --release --quiet)

data="$work/data"
serve "$data" --sip-realm pbx.local --log-level warn
written() { awk '/^write_bytes/ { print $2 }' "/proc/$server_pid/io"; }
devstat=/sys/class/block/$(basename "$(df --output=source "$data" | tail -1)")/stat
[ -r "$devstat" ] || devstat=""
# Sectors field 7 (sectors written) of the device, in bytes, after the page cache reached it.
device() { sync; if [ -n "$devstat" ]; then awk '{ printf "%.0f\n", $7 * 512 }' "$devstat"; else echo 0; fi; }
size() { du -sb "$data/db" | awk '{ print $1 }'; }
failed=0
report() { # phase written device count unit
  local per="-" dper="-" dev="-"
  [ "$4" -gt 0 ] && per=$(( $2 / $4 ))
  if [ -n "$devstat" ]; then dev=$3; [ "$4" -gt 0 ] && dper=$(( $3 / $4 )); fi
  printf '%-10s %8s %-12s written %12s B (%8s B/%s)  device %12s B (%8s B/%s)  data dir %s B\n' \
    "$1" "$4" "$5" "$2" "$per" "${5%s}" "$dev" "$dper" "${5%s}" "$(size)"
}
rule() { # description ok
  if [ "$2" = 1 ]; then echo "  ok: $1"; else echo "  BROKEN: $1"; failed=1; fi
}
sipp_run() { # rate calls
  (cd "$work" && timeout $(( $2 / $1 + 60 )) sipp "$sip" -sf "$scenario" -inf "$work/users.csv" \
    -i 127.0.0.1 -p 25099 -t u1 -r "$1" -rp 1000 -l 1000 -m "$2" -nostdin -buff_size 4194304 \
    -trace_err -error_file "$work/sipp-errors.log" >/dev/null 2>&1) || {
    echo "sipp failed:"; tail -5 "$work/sipp-errors.log"; exit 1; }
}

w0=$(written) d0=$(device)
python3 "$here/scripts/provision.py" "$http" "$sid" "$token" "$nusers" "$work/users.csv" >/dev/null
sleep 1
w1=$(written) d1=$(device); report provision $((w1 - w0)) $((d1 - d0)) "$nusers" creates

sipp_run 1000 "$nusers"
sleep 2
w2=$(written) d2=$(device); report register $((w2 - w1)) $((d2 - d1)) "$nusers" REGISTERs

calls=$(( reg_rate * reg_secs ))
sipp_run "$reg_rate" "$calls"
sleep 2
w3=$(written) d3=$(device); report refresh $((w3 - w2)) $((d3 - d2)) "$calls" REGISTERs
rule "a refresh writes nothing ($(( (w3 - w2) / calls )) bytes per REGISTER)" $([ $((w3 - w2)) -eq 0 ] && echo 1 || echo 0)

writes=$(python3 - "$http" "$sid" "$token" "$api_secs" <<'PY'
import base64, http.client, sys, time
addr, sid, token, secs = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
host, port = addr.rsplit(":", 1)
auth = {"Authorization": "Basic " + base64.b64encode(f"{sid}:{token}".encode()).decode(),
        "Content-Type": "application/x-www-form-urlencoded"}
conn = http.client.HTTPConnection(host, int(port), timeout=30)
path = f"/2012-04-24/Accounts/{sid}/Clients"
writes, end, rnd = 0, time.monotonic() + secs, 0
while time.monotonic() < end:
    made = []
    for i in range(20):
        conn.request("POST", path + ".json", f"Login=churn{rnd}x{i}&Password=churn-pass{i}x", auth)
        res = conn.getresponse(); body = res.read()
        assert res.status == 200, body
        made.append(body.split(b'"sid":"')[1].split(b'"')[0].decode())
    for client in made:
        conn.request("DELETE", f"{path}/{client}.json", headers=auth)
        res = conn.getresponse(); res.read()
        assert res.status in (200, 204), res.status
    writes += 40; rnd += 1
print(writes)
PY
)
sleep 1
w4=$(written) d4=$(device); report api $((w4 - w3)) $((d4 - d3)) "$writes" writes
per_write=$(( (w4 - w3) / writes )) measure="write_bytes"
[ -n "$devstat" ] && per_write=$(( (d4 - d3) / writes )) measure="at the device"
rule "an API write costs at most 8 KB ($per_write bytes $measure)" $([ "$per_write" -le 8192 ] && echo 1 || echo 0)

idle() { # phase
  sleep 60
  local a b da db minutes
  a=$(written) da=$(device)
  sleep "$(( idle_secs - 60 ))"
  b=$(written) db=$(device)
  minutes=$(( (idle_secs - 60) / 60 )); [ "$minutes" -gt 0 ] || minutes=1
  report "$1" $((b - a)) $((db - da)) "$minutes" minutes
  rule "$1: nothing written after the first minute ($(( (b - a) / minutes )) bytes per minute)" \
    $([ $((b - a)) -eq 0 ] && echo 1 || echo 0)
}
idle idle

kill "$server_pid"; wait "$server_pid" 2>/dev/null || true
serve "$data" --sip-realm pbx.local --log-level warn
echo "restart    data dir $(size) bytes"
idle idle2

churned=$(size)
kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""
"$bin" export --data-dir "$data" --bindings --out "$work/export.json" 2>/dev/null
"$bin" import "$work/export.json" --data-dir "$work/fresh" 2>/dev/null
fresh=$(du -sb "$work/fresh/db" | awk '{ print $1 }')
echo "fresh import of the same data: $fresh bytes; churned directory $churned bytes ($(awk -v a="$churned" -v b="$fresh" 'BEGIN { printf "%.2f", a / b }')x)"
rule "the data directory stays within 2x a fresh import" $([ "$churned" -le $(( 2 * fresh )) ] && echo 1 || echo 0)
echo "logs: $work"
[ "$failed" = 0 ] || { [ "${SHORT:-0}" = 1 ] && exit 1; }
exit 0
