#!/usr/bin/env bash
# Runs the cargo-fuzz targets (fuzz/fuzz_targets) for SECS seconds each (default 600, the
# issue's ten minutes; CI runs a short form) and prints, per target, the executions and
# whether it found a crash. Needs the nightly toolchain (present on the build machines) and
# cargo-fuzz, which it installs if missing. Seeds: fuzz/seeds/<target>. A crashing input is
# left in fuzz/artifacts/<target>/; copy it into tests (see src/*/fuzz_regressions) and fix.
#   scripts/fuzz.sh [target ...]      JOBS=2 runs two targets at a time
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${SECS:-600}
jobs=${JOBS:-1}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(sip_message digest_authorization form_and_path import)

command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
cargo +nightly fuzz build -O >/dev/null 2>&1 || cargo +nightly fuzz build -O

run_one() {
  local t=$1 corpus="fuzz/corpus/$1" log="fuzz/$1.log"
  mkdir -p "$corpus" "fuzz/artifacts/$t"
  set +e
  cargo +nightly fuzz run -O "$t" "$corpus" "fuzz/seeds/$t" -- \
    -max_total_time="$secs" -max_len=70000 -rss_limit_mb=1024 -print_final_stats=1 \
    >"$log" 2>&1
  local rc=$?
  set -e
  local execs
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  if [ $rc -eq 0 ]; then
    printf '%-22s %12s execs in %ss, no crash\n' "$t" "${execs:-?}" "$secs"
  else
    printf '%-22s %12s execs: CRASH (exit %s), see %s and fuzz/artifacts/%s\n' "$t" "${execs:-?}" "$rc" "$log" "$t"
    return 1
  fi
}

status=0
running=0
for t in "${targets[@]}"; do
  run_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n || status=1
    running=$((running - 1))
  fi
done
while [ "$running" -gt 0 ]; do
  wait -n || status=1
  running=$((running - 1))
done
exit $status
