#!/usr/bin/env bash
# The console in a real browser: starts a release binary and runs console-check.py (headless
# Chromium through chromium-driver and selenium, from Debian) against its HTTPS listener, with
# the box's certificate trusted by its public-key pin from initial-credentials. Screenshots at
# 1280x800 and 390x844 go to OUT_DIR (default target/console-screenshots).
#   scripts/console-check.sh [BINARY]
# Needs chromium, chromium-driver, python3-selenium (Debian's python3, which has it).
set -euo pipefail
. "$(dirname "$0")/lib/serve.sh"
init console "${1:-}"
out=${OUT_DIR:-$here/target/console-screenshots}
mkdir -p "$out"
rm -f "$out"/*.png
serve "$work/box/data"
creds=$work/box/data/initial-credentials
https=$(sed -E 's/.*https=([^ ]+).*/\1/' "$work/box/ready")
/usr/bin/python3 "$here/scripts/console-check.py" "${https##*:}" "${sip##*:}" \
  "$(sed -n 's/^email=//p' "$creds")" "$(sed -n 's/^password=//p' "$creds")" "$sid" "$token" \
  "$(sed -n 's/^tls_pin=//p' "$creds")" "$work/box/data/tls" "$out" "${http##*:}"
echo "screenshots: $(ls "$out"/*.png | tr '\n' ' ')"
