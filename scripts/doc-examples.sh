#!/usr/bin/env bash
# Every curl example of the two Restcomm documents in ../shared/reference (Clients and
# Accounts), read from the documents themselves and run with real curl against a fresh server
# each, with only the host, the SIDs and the passwords too weak for edgecomm replaced. The
# root Administrator's email is the documents' administrator@company.com, so the
# `#(administrator%40company.com)` example names it as written. Each example must answer 200
# with the body its section describes.
#   scripts/doc-examples.sh [BINARY]   (default target/release/edgecomm)
set -euo pipefail
. "$(dirname "$0")/lib/serve.sh"
init doc-examples "${1:-}"
reference=${REFERENCE:-$here/../shared/reference}
clients_doc=$reference/000_6cd268b52d558069.txt
accounts_doc=$reference/002_13f9fb457026aa0c.txt

# The N-th curl example of FILE, continuation lines included.
example() {
  awk -v n="$2" '/^curl / { k++; on = (k == n) } on { print; if ($0 !~ /\\$/) on = 0 }' "$1"
}
count() { grep -c '^curl ' "$1"; }

# Setups: what an example needs on a fresh box; each may set ACCOUNT and CLIENT.
api() { curl -sS -f -u "$sid:$token" "http://$http/2012-04-24/Accounts$1" "${@:2}"; }
with_client() {
  CLIENT=$(api "/$sid/Clients.json" -d Login=bob -d Password=bob-secret1 |
    sed -n 's/.*"sid":"\(CL[0-9a-f]*\)".*/\1/p')
}
with_sub_account() {
  ACCOUNT=$(api ".json" -d EmailAddress=sub@company.com -d Password=Secret123 |
    sed -n 's/.*"sid":"\(AC[0-9a-f]*\)".*/\1/p')
}

# document  N  setup  what the answer must hold (a grep -E pattern; $sid is the caller)
cases=(
  "$clients_doc 1 - \"login\":\"alice\""
  "$clients_doc 2 with_client <Client><Sid>CL"
  "$clients_doc 3 with_client <Client><Sid>CL"
  "$clients_doc 4 with_client <Clients><Client>"
  "$clients_doc 5 with_client ^\\[\\{\"sid\":\"CL"
  "$accounts_doc 1 - \"sid\":\"\$sid\""
  "$accounts_doc 2 - \"auth_token\":\"[0-9a-f]{32}\""
  "$accounts_doc 3 - \"auth_token\":\"[0-9a-f]{32}\""
  "$accounts_doc 4 - \"email_address\":\"administrator@company.com\""
  "$accounts_doc 5 - \"email_address\":\"administrator@company.com\""
  "$accounts_doc 6 with_sub_account \"owner_account_sid\":\"\$sid\""
  "$accounts_doc 7 - \"owner_account_sid\":\"\$sid\",\"organization_sid\":\"\$org\",\"friendly_name\":\"MySubAccount\",\"email_address\":\"test@company.com\""
  "$accounts_doc 8 - \"owner_account_sid\":\"\$sid\",\"organization_sid\":\"\$org\",\"friendly_name\":\"MySubAccount\",\"email_address\":\"test@company.com\""
  "$accounts_doc 9 with_sub_account \"status\":\"closed\""
)
total=$(($(count "$clients_doc") + $(count "$accounts_doc")))
[ "$total" -eq "${#cases[@]}" ] ||
  { echo "FAILED: the documents hold $total curl examples, this script knows ${#cases[@]}"; exit 1; }

failed=0 n=0
for case in "${cases[@]}"; do
  read -r doc index setup want <<<"$case"
  n=$((n + 1))
  kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  serve "$work/box$n/data" --accounts-admin-email administrator@company.com
  ACCOUNT=$sid CLIENT=""
  # The document's "OrganizationSid=OrganizationSid" stands for a real SID: the box's default.
  org=$(curl -sS -f -u "$sid:$token" "http://$http/2012-04-24/Organizations.json" |
    sed -n 's/.*"sid":"\(OR[0-9a-f]*\)".*/\1/p' | head -1)
  [ "$setup" = - ] || "$setup"
  command=$(example "$doc" "$index" | sed \
    -e "s|https://mycompany.restcomm.com|http://$http|" \
    -e "s|YourAccountSid:YourAuthToken|$sid:$token|" \
    -e "s|ACCOUNT_SID|$ACCOUNT|g; s|CLIENT_SID|$CLIENT|g; s|OrganizationSid=OrganizationSid|OrganizationSid=$org|" \
    -e 's|#(\([^)]*\))|\1|' \
    -e "s|'Password=test'|'Password=test-1234'|; s|'Password=NewPassword'|'Password=NewPassword1'|" \
    -e "s|'Password=restcomm'|'Password=restcomm1'|")
  status=$(eval "$command -s -o '$work/body$n' -w '%{http_code}'") || status="curl failed"
  want=${want//\$sid/$sid}
  want=${want//\$org/$org}
  name="$(basename "$doc") #$index"
  if [ "$status" = 200 ] && grep -Eq "$want" "$work/body$n"; then
    echo "ok   $name: $(echo "$command" | head -1 | sed -E 's|https?://[^/]+||; s/ +\\$//')"
  else
    failed=$((failed + 1))
    echo "FAIL $name: HTTP $status, wanted /$want/ in:"
    echo "$command"
    head -c 600 "$work/body$n"; echo
  fi
done
echo "reference curl examples: $((n - failed)) of $n passed"
[ "$failed" -eq 0 ]
