#!/usr/bin/env bash
# HTTPS and SIP over TLS as real TLS clients see them, against a release binary:
#  1. the box's own certificate: curl with --cacert and with the pinned public key from
#     initial-credentials (a wrong pin is refused), python's ssl with the fingerprint
#     checked, openssl s_client on both TLS ports: TLS 1.2 and 1.3 accepted, 1.0 and 1.1
#     refused by the server;
#  2. an installed certificate from a local CA (what an administrator does for a real one):
#     testssl.sh (Debian) trusting that CA finds nothing HIGH or CRITICAL and TLS 1.0 and 1.1
#     not offered.
#   scripts/tls-check.sh [BINARY]   (default target/release/edgecomm)
# Needs curl, openssl, python3, testssl.sh.
set -euo pipefail
. "$(dirname "$0")/lib/serve.sh"
init tls "${1:-}"
fail=0
serve "$work/own/data"
cert=$work/own/data/tls/cert.pem
pin=$(sed -n 's/^tls_pin=//p' "$work/own/data/initial-credentials")
fingerprint=$(sed -n 's/^tls_sha256=//p' "$work/own/data/initial-credentials")
https=$(sed -E 's/.*https=([^ ]+).*/\1/' "$work/own/ready")
sip_tls=$(sed -E 's/.*sip_tls=([^ ]+).*/\1/' "$work/own/ready")
url="https://localhost:${https##*:}/2012-04-24/Accounts/$sid.json"
result() { if [ "$1" = ok ]; then echo "ok   $2"; else echo "FAIL $2"; fail=1; fi; }

code=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$cert" -u "$sid:$token" "$url" || true)
[ "$code" = 200 ] && result ok "curl --cacert (the box's certificate): $code" || result no "curl --cacert: $code"
code=$(curl -sS -o /dev/null -w '%{http_code}' -k --pinnedpubkey "$pin" -u "$sid:$token" \
  "https://127.0.0.1:${https##*:}/health" || true)
[ "$code" = 200 ] && result ok "curl --pinnedpubkey $pin: $code" || result no "curl --pinnedpubkey: $code"
if curl -s -o /dev/null -k --pinnedpubkey "sha256//$(head -c 32 /dev/zero | base64)" \
  "https://127.0.0.1:${https##*:}/health"; then
  result no "curl accepted a wrong pin"
else
  result ok "curl refuses a wrong pin (exit $?)"
fi
seen=$(python3 - "$cert" "${https##*:}" "$sid" "$token" <<'PY'
import base64, hashlib, http.client, ssl, sys
cert, port, sid, token = sys.argv[1:]
context = ssl.create_default_context(cafile=cert)
conn = http.client.HTTPSConnection("localhost", int(port), context=context)
auth = base64.b64encode(f"{sid}:{token}".encode()).decode()
conn.request("GET", f"/2012-04-24/Accounts/{sid}.json", headers={"Authorization": "Basic " + auth})
status = conn.getresponse().status
der = conn.sock.getpeercert(binary_form=True)
digest = hashlib.sha256(der).hexdigest().upper()
print(status, ":".join(digest[i:i + 2] for i in range(0, 64, 2)), conn.sock.version())
PY
)
[ "$seen" = "200 $fingerprint TLSv1.3" ] && result ok "python ssl: $seen" || result no "python ssl: '$seen', wanted 200 $fingerprint"

for addr in "$https" "$sip_tls"; do
  for version in tls1_2 tls1_3; do
    out=$(openssl s_client -connect "$addr" -"$version" -CAfile "$cert" -servername localhost </dev/null 2>&1 || true)
    protocol=$(sed -n 's/^New, \(TLSv[0-9.]*\), .*/\1/p' <<<"$out" | head -1)
    if grep -q 'Verify return code: 0 (ok)' <<<"$out"; then
      result ok "openssl s_client -$version $addr: $protocol, verified"
    else
      result no "openssl s_client -$version $addr: $(grep -m1 -iE 'error|verify' <<<"$out")"
    fi
  done
  for version in tls1 tls1_1; do
    # The client's own policy forbids these: lift it, so that any refusal is the server's.
    out=$(openssl s_client -connect "$addr" -"$version" -cipher 'DEFAULT:@SECLEVEL=0' </dev/null 2>&1 || true)
    if grep -qE 'alert (protocol version|handshake failure)|Cipher is \(NONE\)' <<<"$out" &&
      ! grep -q 'no protocols available' <<<"$out"; then
      result ok "openssl s_client -$version $addr: refused by the server"
    else
      result no "openssl s_client -$version $addr: $(head -3 <<<"$out")"
    fi
  done
done
kill "$server_pid"; wait "$server_pid" 2>/dev/null || true

# A local CA and a certificate from it, as an administrator installs a real one.
ca=$work/ca
mkdir -p "$ca"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 730 \
  -keyout "$ca/ca.key" -out "$ca/ca.pem" -subj "/CN=edgecomm CI CA" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$ca/box.key" \
  -out "$ca/box.csr" -subj "/CN=localhost" 2>/dev/null
printf '%s\n' "subjectAltName=DNS:localhost,IP:127.0.0.1" "basicConstraints=CA:FALSE" \
  "keyUsage=digitalSignature" "extendedKeyUsage=serverAuth" \
  "crlDistributionPoints=URI:http://localhost/ca.crl" >"$ca/ext"
openssl x509 -req -in "$ca/box.csr" -CA "$ca/ca.pem" -CAkey "$ca/ca.key" -CAcreateserial \
  -days 365 -extfile "$ca/ext" -out "$ca/box.pem" 2>/dev/null
cat "$ca/box.pem" "$ca/ca.pem" >"$ca/chain.pem"
serve "$work/installed/data" --tls-cert-file "$ca/chain.pem" --tls-key-file "$ca/box.key"
https=$(sed -E 's/.*https=([^ ]+).*/\1/' "$work/installed/ready")
started=$(date +%s)
testssl --quiet --color 0 --warnings off --add-ca "$ca/ca.pem" --jsonfile "$work/testssl.json" \
  "https://localhost:${https##*:}" >"$work/testssl.out" 2>&1 || true
report=$(python3 - "$work/testssl.json" <<'PY'
import collections, json, sys
findings = json.load(open(sys.argv[1]))
counts = collections.Counter(f["severity"] for f in findings)
bad = [f for f in findings if f["severity"] in ("HIGH", "CRITICAL")]
old = [f["id"] for f in findings if f["id"] in ("SSLv2", "SSLv3", "TLS1", "TLS1_1")
       and f["finding"] != "not offered"]
print(" ".join(f"{k}={v}" for k, v in sorted(counts.items())))
for f in bad:
    print(f"  {f['severity']} {f['id']}: {f['finding']}")
for name in old:
    print(f"  offered: {name}")
sys.exit(1 if bad or old else 0)
PY
) && status=ok || status=no
result "$status" "testssl.sh ($(($(date +%s) - started)) s): $(head -1 <<<"$report"); SSLv2, SSLv3, TLS 1.0, 1.1 not offered"
tail -n +2 <<<"$report"
[ "$fail" = 0 ] && echo "TLS: every check passed" || { echo "TLS: FAILED (logs in $work)"; exit 1; }
