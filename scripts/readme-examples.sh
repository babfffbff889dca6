#!/usr/bin/env bash
# Runs the README's API examples as a newcomer would paste them: every ```sh block from
# "## The API" to "### Status cascade", in order, in one POSIX sh (dash on Debian), in a fresh
# directory where the binary made ./data, with only the port of `API=` replaced. Every curl
# must succeed (HTTP < 400), and every SID the examples capture must be set.
#   scripts/readme-examples.sh [BINARY]   (default target/release/edgecomm)
set -euo pipefail
. "$(dirname "$0")/lib/serve.sh"
init readme "${1:-}"
serve "$work/data"

examples=$(awk '
  /^## The API/ { on = 1 } /^### Status cascade/ { on = 0 }
  on && /^```sh$/ { block = 1; next }
  block && /^```$/ { block = 0; print ""; next }
  block { print }' "$here/README.md" | sed "s|http://127.0.0.1:8080/|http://$http/|")
captured=$(echo "$examples" | sed -n 's/^\([a-z_]*\)=\$(curl.*/\1/p' | sort -u | tr '\n' ' ')
echo "README: $(echo "$examples" | grep -c 'curl ') curl commands; captured: $captured"

# curl as the examples call it, but a failed request (or >= 400) stops the run and says which.
cat >"$work/run.sh" <<SH
set -eu
curl() {
  command curl -sS --fail-with-body "\$@" || { echo "FAILED: curl \$*" >&2; touch "$work/failed"; exit 1; }
}
$examples
for name in $captured; do
  eval "value=\\\${\$name:-}"
  case "\$value" in AC*|CL*|[0-9a-f]*) ;; *) echo "FAILED: \$name was not captured" >&2; exit 1 ;; esac
done
SH
if ! (cd "$work" && sh "$work/run.sh" >"$work/out" 2>&1) || [ -e "$work/failed" ]; then
  cat "$work/out"
  echo "README examples: FAILED (server log: $work/server.log)"
  exit 1
fi
[ ! -e "$work/data/initial-credentials" ] || { echo "initial-credentials was not removed"; exit 1; }
echo "README examples: all passed under $(readlink -f "$(command -v sh)")"
