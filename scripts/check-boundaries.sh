#!/usr/bin/env bash
# Checks the boundary rules of ARCHITECTURE.md ("Invariants", the first group) with grep:
# which code may name what. Test files (tests.rs, testing.rs) are left out: they set up
# scenarios across layers on purpose. Also checks that no function in src/ is longer than
# MAX_FN_LINES (80) lines. Prints every breach and exits 1 if there is any.
set -euo pipefail
cd "$(dirname "$0")/.."
max_fn_lines=${MAX_FN_LINES:-80}
status=0

# Production sources under $1 (a directory or file), without test files.
sources() {
  find "$@" -name '*.rs' ! -name tests.rs ! -name testing.rs | sort
}
# Reports the lines of a file that name the pattern (comments excluded) as a breach of rule.
breach() {
  local file=$1 pattern=$2 rule=$3 hits
  hits=$(grep -nE "$pattern" "$file" | grep -vE '^[0-9]+:\s*//' || true)
  if [ -n "$hits" ]; then
    echo "boundary: $rule"
    sed "s|^|  $file:|" <<<"$hits"
    status=1
  fi
}
# Fails when a file outside the allowed list (files, or directories ending in /) names the pattern.
only() {
  local pattern=$1 rule=$2; shift 2
  local allowed=" $* " file
  for file in $(sources src); do
    case "$allowed" in *" $file "* | *" ${file%/*}/ "*) continue ;; esac
    breach "$file" "$pattern" "$rule"
  done
}
# Fails when a file under $1 names the pattern.
never() {
  local dir=$1 pattern=$2 rule=$3 file
  for file in $(sources "$dir"); do
    breach "$file" "$pattern" "$rule"
  done
}

only '\bapp::' 'only main.rs names app (the wiring sits on top; nothing imports it)' src/main.rs
only '\btiny_http::' 'only http.rs names tiny_http' src/http.rs
only '\bsled::' 'only store/ names sled' src/store/
only '\bUdpSocket\b' 'only sip/transport.rs owns SIP sockets' src/sip/transport.rs
only '\b(TcpListener|TcpStream)\b' 'only http.rs and sip/transport(/) own TCP sockets' src/http.rs src/sip/transport.rs src/sip/transport/
only '\bSystemTime\b' 'only clock.rs reads the time' src/clock.rs
only '\bstore::keys\b|\bkeys::' 'only store/ builds keys' src/store/
never src/api '\bstore::' 'src/api/ names no store type (the domain hands it views without secrets)'
never src/store 'domain::(accounts|clients|bindings)\b' 'src/store/ knows the domain value types, never a rule file'
never src/domain/mod.rs '\bstore\b' 'domain/mod.rs (the value types) imports nothing from store'

# Function length: from a `fn` line to the closing brace at its indentation.
long=$(for file in $(find src -name '*.rs' | sort); do
  awk -v file="$file" -v max="$max_fn_lines" '
    !open && /^[[:space:]]*(pub(\([a-z]+\))? )?(const )?(unsafe )?fn [A-Za-z0-9_]+/ && !/;[[:space:]]*$/ {
      match($0, /^[[:space:]]*/); indent = substr($0, 1, RLENGTH); start = NR; open = 1
      name = $0; sub(/.*fn /, "", name); sub(/[^A-Za-z0-9_].*/, "", name); next
    }
    open && $0 == indent "}" {
      if (NR - start + 1 > max) printf "  %s:%d %s is %d lines\n", file, start, name, NR - start + 1
      open = 0
    }' "$file"
done)
if [ -n "$long" ]; then
  echo "functions over $max_fn_lines lines:"
  echo "$long"
  status=1
fi

[ "$status" = 0 ] && echo "boundaries hold; no function over $max_fn_lines lines"
exit "$status"
