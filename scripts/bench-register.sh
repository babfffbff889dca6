#!/usr/bin/env bash
# Authenticated-REGISTER benchmark of edgecomm with the shared SIPp harness
# (../shared/tools/sip-bench/run.sh: REGISTER -> 401 -> REGISTER+MD5 -> 200, loopback only).
#
#   scripts/bench-register.sh            # edgecomm only
#   KAMAILIO=1 scripts/bench-register.sh # also Kamailio 5.6 in the same run, same scenario
#
# Prints, per server: the maximum sustainable rate (ramp), p99 at half of it, and memory
# after 10,000 bindings (edgecomm: RSS of its one process; Kamailio: PSS summed over its
# processes), then the ratios; and edgecomm's cold start with those clients and bindings
# (time to READY, RSS). Knobs: NUSERS=10000 RAMP_SECS=10 PORT=25070 KPORT=25060.
# Installs sip-tester (and kamailio with KAMAILIO=1) if missing. Takes about 5 minutes
# per server on a 2-core box.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bench=${BENCH:-$here/../shared/tools/sip-bench}
nusers=${NUSERS:-10000}
ramp_secs=${RAMP_SECS:-10}
port=${PORT:-25070}
kport=${KPORT:-25060}
work=$(mktemp -d /tmp/edgecomm-bench.XXXXXX)
export OUT_ROOT="$work/sipbench"

need=""
wanted="sip-tester"
[ "${KAMAILIO:-0}" = 1 ] && wanted="$wanted kamailio kamailio-sqlite-modules sqlite3"
for pkg in $wanted; do
  # By package, not by command: kamailio without its sqlite module cannot load the users.
  dpkg-query -W -f '${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || need="$need $pkg"
done
if [ -n "$need" ]; then
  apt-get update >/dev/null || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $need >/dev/null
fi
(cd "$here" && cargo build --release --quiet)
bin="$here/target/release/edgecomm"
ls -l "$bin" | awk '{print "binary: " $5 " bytes"}'

pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; }
trap cleanup EXIT

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
last_line() { grep -E "$1" | tail -1; }
field() { sed -nE "s/.*(^| )$1=([^ ]+).*/\2/p"; }

# --- edgecomm
# Same nice and autogroup as the harness gives sipp and Kamailio (its README, pitfall 11).
echo -10 > /proc/self/autogroup 2>/dev/null || true
# Starts edgecomm; sets pid, http and ready_ms: from spawn to its READY line, read through a
# FIFO so that the figure has no polling step in it.
start_edgecomm() {
  local fifo="$work/stdout.fifo" t0 line=""
  rm -f "$fifo" && mkfifo "$fifo"
  t0=$(date +%s%N)
  nice -n -10 "$bin" --data-dir "$work/data" --http-listen 127.0.0.1:0 --sip-listen "127.0.0.1:$port" --https-listen off --sip-tls-listen off \
    --sip-realm pbx.local --log-level warn >"$fifo" 2>>"$work/server.log" &
  pid=$!
  exec 3<"$fifo"
  while [[ $line != READY* ]]; do
    IFS= read -r -t 30 line <&3 || { echo "edgecomm did not start:"; cat "$work/server.log"; exit 1; }
  done
  ready_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  echo "$line" >"$work/ready"
  http=$(sed -nE 's/^READY http=([^ ]+).*/\1/p' "$work/ready")
}
registrations() {
  curl -s -u "$sid:$token" "http://$http/2012-04-24/Accounts/$sid/Registrations.json?PageSize=1&Page=0" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])'
}
start_edgecomm
sid=$(sed -n 's/^sid=//p' "$work/data/initial-credentials")
token=$(sed -n 's/^auth_token=//p' "$work/data/initial-credentials")
echo "edgecomm: $(cat "$work/ready") after $ready_ms ms, RSS idle $(rss_kib "$pid") KiB"
python3 "$here/scripts/provision.py" "$http" "$sid" "$token" "$nusers" "$work/users.csv"
echo "edgecomm: RSS with $nusers clients $(rss_kib "$pid") KiB"
export USERS_CSV="$work/users.csv" SERVER_PID="$pid"

ramp=$("$bench/run.sh" 127.0.0.1 "$port" ramp "$ramp_secs" 2>&1 | tee "$work/ramp.log" | last_line '^max_register_tps=')
e_max=$(field max_register_tps <<<"$ramp")
echo "edgecomm ramp: $ramp"
half=$(( e_max / 2 ))
lat=$("$bench/run.sh" 127.0.0.1 "$port" "$half" "$ramp_secs" 2>&1 | tee "$work/half.log" | last_line '^register_tps=')
e_p99=$(field p99_ms <<<"$lat")
e_cpu=$(field server_cpu_pct <<<"$lat")
echo "edgecomm at $half/s: $lat"
# 10,000 bindings: each user once (SEQUENTIAL csv), at 2,000/s.
"$bench/run.sh" 127.0.0.1 "$port" 2000 $(( nusers / 2000 )) >"$work/fill.log" 2>&1 || true
bindings=$(registrations)
e_rss=$(rss_kib "$pid")
echo "edgecomm: $bindings bindings, RSS $e_rss KiB right after the storm"
# What the box keeps once the storm is over: the sweeper (every 30 s) hands freed heap back.
sleep 31
e_rss_settled=$(rss_kib "$pid")
echo "edgecomm: RSS $e_rss_settled KiB 31 s later"
# Cold start with them: bindings reach the disk without a flush of their own (sled's flusher
# runs every 500 ms), so give it a second, then stop it the way systemd does and start again.
sleep 1
kill "$pid"; wait "$pid" 2>/dev/null || true
start_edgecomm
e_cold_ms=$ready_ms
e_cold_rss=$(rss_kib "$pid")
echo "edgecomm cold start with $nusers clients and $(registrations) bindings: READY after $e_cold_ms ms, RSS $e_cold_rss KiB"
kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""

printf '\n%-10s %14s %10s %10s %12s %30s\n' server max_reg_per_s p99_ms "cpu%@half" "cpu%/1k/s" "mem_KiB@bindings"
cpu_per_k() { awk -v c="$1" -v r="$2" 'BEGIN { if (c != "" && r > 0) printf "%.1f", c * 1000 / r; else print "-" }'; }
e_cpu_k=$(cpu_per_k "$e_cpu" "$half")
printf '%-10s %14s %10s %10s %12s %30s\n' edgecomm "$e_max" "$e_p99" "$e_cpu" "$e_cpu_k" "$e_rss / $e_rss_settled 31 s later (RSS)"
if [ -n "$e_cpu" ] && [ "$half" -gt 0 ]; then
  echo "edgecomm CPU per 1,000 REGISTER/s: $e_cpu_k% of one core"
fi
echo "edgecomm cold start with $nusers clients and bindings: READY after $e_cold_ms ms, RSS $e_cold_rss KiB"

# --- Kamailio, same scenario, same box, same run
if [ "${KAMAILIO:-0}" = 1 ]; then
  unset SERVER_PID USERS_CSV
  kam="$bench/kamailio.sh"
  NUSERS="$nusers" "$kam" start "$kport" >"$work/kamailio-start.log" 2>&1 || { echo "kamailio did not start:"; cat "$work/kamailio-start.log"; exit 1; }
  kramp=$("$bench/run.sh" 127.0.0.1 "$kport" ramp "$ramp_secs" 2>&1 | tee "$work/k-ramp.log" | last_line '^max_register_tps=')
  k_max=$(field max_register_tps <<<"$kramp")
  khalf=$(( k_max / 2 ))
  klat=$("$bench/run.sh" 127.0.0.1 "$kport" "$khalf" "$ramp_secs" 2>&1 | last_line '^register_tps=')
  k_p99=$(field p99_ms <<<"$klat")
  k_cpu=$(field server_cpu_pct <<<"$klat")
  "$bench/run.sh" 127.0.0.1 "$kport" 2000 $(( nusers / 2000 )) >/dev/null 2>&1 || true
  k_pss=0
  for p in $("$kam" pids "$kport"); do
    k_pss=$(( k_pss + $(awk '/^Pss:/ {s += $2} END {print s + 0}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0) ))
  done
  "$kam" stop "$kport" >/dev/null || true
  k_cpu_k=$(cpu_per_k "$k_cpu" "$khalf")
  printf '%-10s %14s %10s %10s %12s %30s\n' kamailio "$k_max" "$k_p99" "$k_cpu" "$k_cpu_k" "$k_pss (PSS sum)"
  awk -v a="$e_max" -v b="$k_max" -v m="$e_rss" -v s="$e_rss_settled" -v n="$k_pss" -v ec="$e_cpu_k" -v kc="$k_cpu_k" \
    'BEGIN { if (b > 0 && n > 0) printf "ratios edgecomm/kamailio: rate %.2f, memory %.2f (%.2f settled), CPU per REGISTER %.2f\n", a / b, m / n, s / n, (kc > 0 ? ec / kc : 0) }'
fi
echo "logs: $work"
