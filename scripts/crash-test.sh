#!/usr/bin/env bash
# Crash consistency under load (issue #7 item 1): runs the black-box test
# tests/it/crash.rs with CYCLES kills (default 100). Each cycle: two writers create accounts
# and clients, rename, change account and SIP passwords and flip a cascade while the server
# is SIGKILLed at a random moment; then `edgecomm check` on the data directory, a restart, and
# a check of every acknowledged write (an in-flight one may be there or not, never half).
# Prints the report line; exits non-zero on the first lost or half-done write.
#   scripts/crash-test.sh            CYCLES=20 scripts/crash-test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
CRASH_CYCLES=${CYCLES:-100} cargo test --test it crash::acknowledged_writes_survive_sigkill -- \
  --nocapture 2>&1 | grep -E '^crash-test:|panicked|test result' 
