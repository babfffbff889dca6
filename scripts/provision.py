#!/usr/bin/env python3
"""Create N SIP clients through edgecomm's REST API (one keep-alive connection).

    provision.py HTTP_ADDR SID TOKEN N CSV_OUT

Clients are user0000.. with password s3cret0000.. (the account policy wants 8+ characters
with two classes, so the Kamailio harness's s3cret0..s3cret9 would be refused). Writes the
SIPp injection file (SEQUENTIAL, user;password) to CSV_OUT and prints the create rate.
"""
import base64
import http.client
import sys
import time

addr, sid, token, n, out = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
host, port = addr.rsplit(":", 1)
auth = "Basic " + base64.b64encode(f"{sid}:{token}".encode()).decode()
conn = http.client.HTTPConnection(host, int(port), timeout=30)
width = max(4, len(str(n - 1)))
users = [(f"user{i:0{width}d}", f"s3cret{i:0{width}d}") for i in range(n)]
start = time.monotonic()
for login, password in users:
    body = f"Login={login}&Password={password}"
    conn.request("POST", f"/2012-04-24/Accounts/{sid}/Clients.json", body,
                 {"Authorization": auth, "Content-Type": "application/x-www-form-urlencoded"})
    res = conn.getresponse()
    data = res.read()
    if res.status != 200:
        sys.exit(f"creating {login}: HTTP {res.status}: {data[:200]!r}")
elapsed = time.monotonic() - start
with open(out, "w") as f:
    f.write("SEQUENTIAL\n")
    for login, password in users:
        f.write(f"{login};{password}\n")
print(f"created {n} clients in {elapsed:.1f} s ({n / elapsed:.0f} creates/s, flush per create)")
