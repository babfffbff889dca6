#!/usr/bin/env bash
# Flash wear, phase by phase: what the box writes to its disk (/proc/PID/io write_bytes, which
# counts what reaches the block layer, page cache write-back included) and how large its data
# directory grows (du -sb), for the workloads of an office PBX:
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
# API write costs at most 8 KB on disk (not met yet: reported, failing only past 24 KB), the
# data directory stays within 2x a fresh import.
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
size() { du -sb "$data/db" | awk '{ print $1 }'; }
failed=0
report() { # phase bytes count unit
  local per="-"
  [ "$3" -gt 0 ] && per=$(( $2 / $3 ))
  printf '%-10s %12s bytes written %8s %-16s %10s bytes/%s   data dir %s bytes\n' \
    "$1" "$2" "$3" "$4" "$per" "${4%s}" "$(size)"
}
rule() { # description ok
  if [ "$2" = 1 ]; then echo "  ok: $1"; else echo "  BROKEN: $1"; failed=1; fi
}
# A rule not met yet, reported but not failing the run: every atomic multi-tree write of sled
# 0.34 syncs its batch manifest and then its data separately (two 4 KiB pages at least), so
# an API write costs 14-17 KB (README, Flash wear; 38 KB before). It fails past 24 KB.
open_rule() { # description bytes
  if [ "$2" -le 8192 ]; then echo "  ok: $1"
  elif [ "$2" -le 24576 ]; then echo "  OPEN (not met yet, no regression): $1"
  else echo "  BROKEN (regression past 24 KB): $1"; failed=1; fi
}
sipp_run() { # rate calls
  (cd "$work" && timeout $(( $2 / $1 + 60 )) sipp "$sip" -sf "$scenario" -inf "$work/users.csv" \
    -i 127.0.0.1 -p 25099 -t u1 -r "$1" -rp 1000 -l 1000 -m "$2" -nostdin -buff_size 4194304 \
    -trace_err -error_file "$work/sipp-errors.log" >/dev/null 2>&1) || {
    echo "sipp failed:"; tail -5 "$work/sipp-errors.log"; exit 1; }
}

w0=$(written)
python3 "$here/scripts/provision.py" "$http" "$sid" "$token" "$nusers" "$work/users.csv" >/dev/null
sleep 1
w1=$(written); report provision $((w1 - w0)) "$nusers" creates

sipp_run 1000 "$nusers"
sleep 2
w2=$(written); report register $((w2 - w1)) "$nusers" REGISTERs

calls=$(( reg_rate * reg_secs ))
sipp_run "$reg_rate" "$calls"
sleep 2
w3=$(written); report refresh $((w3 - w2)) "$calls" REGISTERs
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
w4=$(written); report api $((w4 - w3)) "$writes" writes
open_rule "an API write costs at most 8 KB ($(( (w4 - w3) / writes )) bytes)" $(( (w4 - w3) / writes ))

idle() { # phase
  sleep 60
  local a b minutes
  a=$(written)
  sleep "$(( idle_secs - 60 ))"
  b=$(written)
  minutes=$(( (idle_secs - 60) / 60 )); [ "$minutes" -gt 0 ] || minutes=1
  report "$1" $((b - a)) "$minutes" minutes
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
