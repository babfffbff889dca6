#!/usr/bin/env python3
"""The console in a real browser: headless Chromium driven by selenium (both from Debian).

    console-check.py HTTPS_PORT SIP_PORT EMAIL PASSWORD SID TOKEN PIN TLS_DIR OUT_DIR HTTP_PORT

Signs in by keyboard, creates a sub-account and, under it, a Client named with an XSS payload,
registers a SIP phone (a digest REGISTER over UDP from this script) and waits for it in the
live registrations, disables the Client and waits for the registration to go, pages through
1,000 Clients, checks that no secret is in the page's storage, saves screenshots at 1280x800
and 390x844, posts a form to the API from another origin, and signs out. Every step prints
`ok` or `FAIL` with what it measured; the exit status is 1 when any step failed.
"""
import base64
import hashlib
import http.server
import json
import os
import re
import socket
import ssl
import sys
import threading
import time
import urllib.request
import uuid

from selenium import webdriver
from selenium.common.exceptions import (NoAlertPresentException, StaleElementReferenceException,
                                        TimeoutException)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

HTTPS_PORT, SIP_PORT, EMAIL, PASSWORD, SID, TOKEN, PIN, TLS_DIR, OUT, HTTP_PORT = sys.argv[1:11]
BASE = f"https://localhost:{HTTPS_PORT}"
XSS = "<img src=x onerror=alert(1)>"
failed = []


def result(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        failed.append(what)


# ---- the API, for what the browser is checked against ------------------------------------

TLS = ssl.create_default_context()
TLS.check_hostname = False
TLS.verify_mode = ssl.CERT_NONE  # the pin is checked by the browser's flag; this is a probe


def api(method, path, form=None, auth=(SID, TOKEN), headers=None):
    data = urllib.parse.urlencode(form).encode() if form else None
    req = urllib.request.Request(BASE + path, data=data, method=method, headers=headers or {})
    if auth:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        req.add_header("Authorization", "Basic " + token)
    try:
        with urllib.request.urlopen(req, context=TLS, timeout=20) as res:
            return res.status, json.loads(res.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


# ---- a SIP phone -------------------------------------------------------------------------

def register(login, password, expires=300):
    """A digest REGISTER over UDP, as a phone sends it; returns the final status code."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(5)
    sock.connect(("127.0.0.1", int(SIP_PORT)))
    local = sock.getsockname()
    call_id, tag = uuid.uuid4().hex, uuid.uuid4().hex[:8]
    uri = f"sip:127.0.0.1:{SIP_PORT}"

    def send(cseq, auth=""):
        branch = "z9hG4bK" + uuid.uuid4().hex[:12]
        msg = (f"REGISTER {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {local[0]}:{local[1]};branch={branch};rport\r\n"
               f"Max-Forwards: 70\r\nFrom: <sip:{login}@127.0.0.1>;tag={tag}\r\nTo: <sip:{login}@127.0.0.1>\r\n"
               f"Call-ID: {call_id}\r\nCSeq: {cseq} REGISTER\r\n"
               f"Contact: <sip:{login}@{local[0]}:{local[1]}>;expires={expires}\r\n"
               f"User-Agent: console-check phone\r\n{auth}Content-Length: 0\r\n\r\n")
        sock.send(msg.encode())
        while True:
            text = sock.recv(65535).decode(errors="replace")
            code = int(text.split(" ", 2)[1])
            if code >= 200:
                return code, text

    code, text = send(1)
    if code != 401:
        return code
    challenges = re.findall(r"^WWW-Authenticate: *Digest (.*)$", text, re.M | re.I)
    chosen = next((c for c in challenges if "SHA-256" not in c.upper()), challenges[0])
    params = dict(re.findall(r'(\w+)="?([^",]*)"?', chosen))
    ha1 = hashlib.md5(f"{login}:{params['realm']}:{password}".encode()).hexdigest()
    ha2 = hashlib.md5(f"REGISTER:{uri}".encode()).hexdigest()
    cnonce, nc = uuid.uuid4().hex[:8], "00000001"
    if "qop" in params:
        response = hashlib.md5(f"{ha1}:{params['nonce']}:{nc}:{cnonce}:auth:{ha2}".encode()).hexdigest()
        extra = f', qop=auth, nc={nc}, cnonce="{cnonce}"'
    else:
        response = hashlib.md5(f"{ha1}:{params['nonce']}:{ha2}".encode()).hexdigest()
        extra = ""
    header = (f'Authorization: Digest username="{login}", realm="{params["realm"]}", nonce="{params["nonce"]}", '
              f'uri="{uri}", response="{response}", algorithm=MD5{extra}\r\n')
    return send(2, header)[0]


# ---- the browser -------------------------------------------------------------------------

def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,800", "--no-first-run", "--disable-extensions",
                # Trust exactly the box's key, as an administrator who checked the pin would.
                "--ignore-certificate-errors-spki-list=" + PIN.removeprefix("sha256//")]:
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def wait(driver, what, condition, secs=10):
    try:
        return WebDriverWait(driver, secs, poll_frequency=0.05).until(lambda d: condition(d))
    except TimeoutException:
        result(False, f"{what}: not within {secs} s")
        raise


def visible(driver, element_id):
    return driver.find_element(By.ID, element_id).is_displayed()


def row_with(driver, table, text):
    """The row of `table` holding `text`; a refresh may replace rows while they are read."""
    for _ in range(20):
        try:
            for row in driver.find_elements(By.CSS_SELECTOR, f"#{table} tbody tr"):
                if text in row.text:
                    return row
            return None
        except StaleElementReferenceException:
            time.sleep(0.02)
    return None


def press_in_row(driver, table, text, label):
    """Presses a row's button by keyboard, finding it again if a refresh replaced the row."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            row = row_with(driver, table, text)
            buttons = row.find_elements(By.XPATH, f".//button[text()='{label}']") if row else []
            if buttons:
                buttons[0].send_keys(Keys.ENTER)
                return
        except StaleElementReferenceException:
            pass
        time.sleep(0.05)
    raise TimeoutException(f"no {label} button in the row of {text} of {table}")


def errors_in_log(driver):
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def screenshot(driver, name, width, height):
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})
    driver.execute_script("document.activeElement.blur(); window.scrollTo(0, 0)")
    time.sleep(0.4)
    path = os.path.join(OUT, name + ".png")
    driver.save_screenshot(path)
    driver.execute_script("document.getElementById('registrations').scrollIntoView()")
    time.sleep(0.2)
    driver.save_screenshot(os.path.join(OUT, name + "-registrations.png"))
    overflow = driver.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
    result(overflow <= 0, f"{name}: {width}x{height} saved, horizontal overflow {overflow} px")


def sign_in(driver):
    driver.get(BASE + "/")
    wait(driver, "sign-in form", lambda d: visible(d, "sign-in-view"))
    user = driver.find_element(By.ID, "sign-in-user")
    user.clear()
    user.send_keys(EMAIL + Keys.TAB + PASSWORD + Keys.ENTER)  # the keyboard alone
    wait(driver, "signed in", lambda d: visible(d, "app"))
    first = driver.execute_script("""
        const entries = performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'));
        return entries.map(e => [e.name, e.transferSize]);""")
    total = sum(size for _, size in first)
    result(total <= 100 * 1024, f"first load transferred {total} bytes in {len(first)} requests (at most 102400)")
    stored = driver.execute_script("return [localStorage.length, sessionStorage.length, document.cookie]")
    result(stored == [0, 0, ""], f"no secret in the page's storage: localStorage {stored[0]}, "
                                 f"sessionStorage {stored[1]}, script-visible cookies {stored[2]!r}")
    cookie = next(c for c in driver.get_cookies() if c["name"] == "edgecomm_session")
    result(cookie["httpOnly"] and cookie["secure"] and cookie.get("sameSite") == "Strict",
           f"session cookie: httpOnly={cookie['httpOnly']} secure={cookie['secure']} sameSite={cookie.get('sameSite')}")
    unlabelled = driver.execute_script("""
        return [...document.querySelectorAll('input, select')]
          .filter(f => f.type !== 'hidden' && f.labels.length === 0).map(f => f.id);""")
    result(unlabelled == [], f"every field has a label (unlabelled: {unlabelled})")
    return cookie


def create_tenant(driver):
    driver.find_element(By.CSS_SELECTOR, "#new-account-box summary").send_keys(Keys.ENTER)
    driver.find_element(By.ID, "new-account-email").send_keys("tenant@example.com")
    driver.find_element(By.ID, "new-account-name").send_keys("Tenant office")
    driver.find_element(By.ID, "new-account-password").send_keys("tenant-pass1")
    driver.find_element(By.ID, "new-account-role").send_keys("Administrator")
    driver.find_element(By.CSS_SELECTOR, "#new-account button[type=submit]").send_keys(Keys.ENTER)
    wait(driver, "sub-account in the tree", lambda d: row_with(d, "account-tree", "tenant@example.com"))
    result(True, "sub-account tenant@example.com created and shown in the tree")
    press_in_row(driver, "account-tree", "tenant@example.com", "Show")
    wait(driver, "tenant selected", lambda d: "tenant@example.com" in d.find_element(By.ID, "clients-title").text)


def api_error_shown(driver):
    """A refused create shows the API's own message and leaves the form as it was."""
    field = driver.find_element(By.ID, "new-client-password")
    generated = field.get_attribute("value")
    driver.find_element(By.ID, "new-client-login").send_keys("bob")
    field.clear()
    field.send_keys("onlyletters" + Keys.ENTER)
    wait(driver, "the API's message", lambda d: "at least two of" in d.find_element(By.ID, "notice").text)
    status = api("GET", "/2012-04-24/Accounts/tenant@example.com/Clients.json?Login=bob")
    result(status[1] == [], "a weak password shows the API's message: "
                            f"{driver.find_element(By.ID, 'notice').text!r}; nothing was made")
    # Chromium logs the refused request itself as an error; that one was expected, no other.
    logged = [e["message"] for e in errors_in_log(driver)]
    result(len(logged) == 1 and "Clients.json" in logged[0] and "400" in logged[0],
           f"the browser logged only the expected 400 ({logged})")
    driver.find_element(By.ID, "new-client-login").clear()
    field.clear()
    field.send_keys(generated)


def create_client(driver):
    api_error_shown(driver)
    driver.find_element(By.ID, "new-client-login").send_keys("alice")
    driver.find_element(By.ID, "new-client-name").send_keys(XSS)
    password = driver.find_element(By.ID, "new-client-password").get_attribute("value")
    driver.find_element(By.ID, "new-client-password").send_keys(Keys.ENTER)
    wait(driver, "phone settings", lambda d: visible(d, "issued"))
    settings = driver.find_element(By.ID, "issued-text").text
    result(f"Password: {password}" in settings and "User name (login): alice" in settings
           and f"port {SIP_PORT}" in settings,
           f"client created; generated password ({len(password)} characters) and phone settings shown once")
    wait(driver, "client in the list", lambda d: row_with(d, "client-list", "alice"))
    name_cell = row_with(driver, "client-list", "alice").find_elements(By.TAG_NAME, "td")[1]
    images = driver.find_elements(By.CSS_SELECTOR, "img")
    try:
        driver.switch_to.alert
        alerted = True
    except NoAlertPresentException:
        alerted = False
    result(name_cell.text == XSS and not images and not alerted,
           f"the FriendlyName {XSS} shows as text ({name_cell.text!r}; img elements {len(images)}, alert {alerted})")
    return password


def registration_appears_and_goes(driver, password):
    code = register("alice", password)
    start = time.monotonic()
    result(code == 200, f"a SIP phone registered alice over UDP: {code}")
    wait(driver, "registration shown", lambda d: row_with(d, "registration-list", "console-check phone"))
    result(True, f"the registration appeared in the console {time.monotonic() - start:.2f} s after the 200")
    shown = driver.find_element(By.ID, "registration-list").text
    result("UDP" in shown and "127.0.0.1" in shown, f"registration row: {shown.splitlines()[-1]!r}")
    screenshot(driver, "console-1280x800", 1280, 800)
    screenshot(driver, "console-390x844", 390, 844)
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    button = driver.find_element(By.CSS_SELECTOR, "button[aria-label='Disable alice']")
    button.send_keys(Keys.ENTER)
    start = time.monotonic()
    wait(driver, "registration gone", lambda d: row_with(d, "registration-list", "console-check phone") is None)
    result(True, f"client disabled; its registration left the console {time.monotonic() - start:.2f} s later")
    code = register("alice", password)
    result(code == 403, f"the disabled client's next REGISTER: {code}")


def long_list(driver, tenant_sid):
    for n in range(1000):
        status, _ = api("POST", f"/2012-04-24/Accounts/{tenant_sid}/Clients.json",
                        {"Login": f"desk{n:04}", "Password": f"desk-pass{n}"})
        if status != 200:
            result(False, f"provisioning client {n}: {status}")
            return
    driver.refresh()
    wait(driver, "signed in again after reload", lambda d: visible(d, "app"))
    wait(driver, "tenant row", lambda d: row_with(d, "account-tree", "tenant@example.com"))
    start = time.monotonic()
    press_in_row(driver, "account-tree", "tenant@example.com", "Show")
    wait(driver, "first page", lambda d: "of 1001" in d.find_element(By.ID, "clients-range").text)
    first = time.monotonic() - start
    start = time.monotonic()
    driver.find_element(By.ID, "clients-next").send_keys(Keys.ENTER)
    wait(driver, "second page", lambda d: d.find_element(By.ID, "clients-range").text.startswith("51–100"))
    second = time.monotonic() - start
    rows = len(driver.find_elements(By.CSS_SELECTOR, "#client-list tbody tr"))
    result(rows == 50 and first < 3 and second < 3,
           f"1,001 clients page by 50: first page in {first:.2f} s, next page in {second:.2f} s, {rows} rows shown")


ATTACK = """<!doctype html><title>attack</title>
<form method="POST" action="{base}/2012-04-24/Accounts.json">
<input name="EmailAddress" value="evil@example.com"><input name="Password" value="evil-pass1">
</form><script>
fetch("{base}/2012-04-24/Accounts.json", {{method: "POST", mode: "no-cors", credentials: "include",
  body: new URLSearchParams({{EmailAddress: "evil2@example.com", Password: "evil-pass1"}})}})
  .finally(() => document.forms[0].submit());
</script>"""


def attack_server(secure):
    """A page of another origin that posts to the API: plain HTTP on 127.0.0.1 (another site),
    or HTTPS on localhost with another port (the same site, so the browser sends the cookie;
    it serves the box's own certificate, which the browser trusts by its pin)."""
    page = ATTACK.format(base=BASE).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    url = f"http://127.0.0.1:{server.server_port}/"
    if secure:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(os.path.join(TLS_DIR, "cert.pem"), os.path.join(TLS_DIR, "key.pem"))
        server.socket = context.wrap_socket(server.socket, server_side=True)
        url = f"https://localhost:{server.server_port}/"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, url


def cross_origin_post(driver, secure):
    server, url = attack_server(secure)
    driver.get_log("performance")  # start from here
    driver.get(url)
    wait(driver, "the form's answer", lambda d: d.current_url.startswith(BASE))
    time.sleep(0.5)
    answers = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.responseReceived":
            response = message["params"]["response"]
            if "/Accounts.json" in response["url"]:
                answers.append((message["params"]["type"], response["status"]))
    made = [email for email in ("evil@example.com", "evil2@example.com")
            if api("GET", f"/2012-04-24/Accounts/{email}.json")[0] != 404]
    wanted = (403,) if secure else (401, 403)
    refused = len(answers) == 2 and all(status in wanted for _, status in answers)
    result(refused and not made,
           f"a form post and a fetch from {url} were refused: {answers}; accounts made: {made}")
    server.shutdown()


def answer_dialog(driver, confirm=True, value=None):
    """Answers the console's confirmation dialog by keyboard: Enter on OK, Escape to cancel."""
    wait(driver, "the dialog", lambda d: d.find_element(By.ID, "ask").get_attribute("open") is not None)
    if value is not None:
        field = driver.find_element(By.ID, "ask-input")
        field.clear()
        field.send_keys(value)
    target = driver.find_element(By.ID, "ask-ok") if confirm else driver.switch_to.active_element
    target.send_keys(Keys.ENTER if confirm else Keys.ESCAPE)
    wait(driver, "the dialog closed", lambda d: d.find_element(By.ID, "ask").get_attribute("open") is None)


def status_of(driver, email):
    try:
        row = row_with(driver, "account-tree", email)
        return row.find_elements(By.TAG_NAME, "td")[2].text if row else None
    except StaleElementReferenceException:
        return None


def account_actions(driver, client_password):
    """Suspend, re-activate and close a sub-account; a new client password and a delete."""
    press_in_row(driver, "account-tree", "tenant@example.com", "Suspend")
    wait(driver, "suspended", lambda d: status_of(d, "tenant@example.com") == "suspended")
    status = api("GET", "/2012-04-24/Accounts/tenant@example.com.json")[1]["status"]
    press_in_row(driver, "account-tree", "tenant@example.com", "Activate")
    wait(driver, "re-activated", lambda d: status_of(d, "tenant@example.com") == "active")
    result(status == "suspended", f"sub-account suspended (the API says {status}) and re-activated")
    press_in_row(driver, "account-tree", "tenant@example.com", "Show")
    wait(driver, "alice listed", lambda d: row_with(d, "client-list", "alice"))
    press_in_row(driver, "client-list", "alice", "New password")
    answer_dialog(driver, value="fresh-pass42")
    wait(driver, "new settings", lambda d: "Password: fresh-pass42" in d.find_element(By.ID, "issued-text").text)
    code = register("alice", "fresh-pass42")
    old = register("alice", client_password)
    result(old != 200, f"client password set from the console: the old one gets {old}, the new one "
                       f"{code} (alice is still disabled)")
    press_in_row(driver, "client-list", "alice", "Delete")
    answer_dialog(driver, confirm=False)
    result(row_with(driver, "client-list", "alice") is not None, "Escape on the delete dialog keeps the client")
    press_in_row(driver, "client-list", "alice", "Delete")
    answer_dialog(driver)
    wait(driver, "alice deleted", lambda d: row_with(d, "client-list", "alice") is None)
    result(True, "client deleted after its confirmation")


def close_tenant(driver):
    press_in_row(driver, "account-tree", "tenant@example.com", "Close")
    answer_dialog(driver)
    wait(driver, "closed", lambda d: status_of(d, "tenant@example.com") == "closed")
    status = api("GET", "/2012-04-24/Accounts/tenant@example.com.json")[1]["status"]
    result(status == "closed", f"sub-account closed after its confirmation (the API says {status})")


def change_own_password(driver):
    new = "changed-pass7"
    driver.find_element(By.ID, "password-new").send_keys(new)
    driver.find_element(By.ID, "password-again").send_keys(new + Keys.ENTER)
    wait(driver, "password changed", lambda d: "password is changed" in d.find_element(By.ID, "notice").text)
    still = visible(driver, "app")
    old = api("GET", "/2012-04-24/Box.json", auth=(EMAIL, PASSWORD))[0]
    fresh = api("GET", "/2012-04-24/Box.json", auth=(EMAIL, new))[0]
    result(still and old == 401 and fresh == 200,
           f"own password changed and still signed in: the old password now {old}, the new {fresh}")
    return new


def developer_view(driver):
    status, _ = api("POST", "/2012-04-24/Accounts.json",
                    {"EmailAddress": "dev@example.com", "Password": "dev-pass12", "Role": "Developer"},
                    auth=(EMAIL, PASSWORD))  # the root's AuthToken changed with its password
    driver.find_element(By.ID, "sign-out").send_keys(Keys.ENTER)
    wait(driver, "signed out", lambda d: visible(d, "sign-in-view"))
    driver.find_element(By.ID, "sign-in-user").clear()
    driver.find_element(By.ID, "sign-in-user").send_keys("dev@example.com" + Keys.TAB + "dev-pass12" + Keys.ENTER)
    wait(driver, "developer signed in", lambda d: visible(d, "app") and row_with(d, "account-tree", "dev@example.com"))
    time.sleep(0.5)
    rows = len(driver.find_elements(By.CSS_SELECTOR, "#account-tree tbody tr"))
    forms = visible(driver, "new-account-box")
    actions = [b.text for b in driver.find_elements(By.CSS_SELECTOR, "#account-tree button")]
    failures = visible(driver, "failures-box")
    result(status == 200 and rows == 1 and not forms and actions == [] and not failures,
           f"a Developer sees its own account only ({rows} row), no sub-account form ({forms}), "
           f"no account actions ({actions}), no failed-login list ({failures})")


def loopback_http(driver, http_port):
    driver.get(f"http://127.0.0.1:{http_port}/")
    wait(driver, "sign-in over loopback HTTP", lambda d: visible(d, "sign-in-view") or visible(d, "app"))
    if visible(driver, "app"):
        driver.find_element(By.ID, "sign-out").send_keys(Keys.ENTER)
        wait(driver, "signed out", lambda d: visible(d, "sign-in-view"))
    driver.find_element(By.ID, "sign-in-user").clear()
    driver.find_element(By.ID, "sign-in-user").send_keys("dev@example.com" + Keys.TAB + "dev-pass12" + Keys.ENTER)
    wait(driver, "signed in over loopback HTTP", lambda d: visible(d, "app"))
    result(True, f"the console works on the loopback HTTP listener (127.0.0.1:{http_port}) too")
    driver.find_element(By.ID, "sign-out").send_keys(Keys.ENTER)
    wait(driver, "signed out", lambda d: visible(d, "sign-in-view"))


def sign_out(driver, cookie):
    driver.find_element(By.ID, "sign-out").send_keys(Keys.ENTER)
    wait(driver, "signed out", lambda d: visible(d, "sign-in-view"))
    status, body = api("GET", f"/2012-04-24/Box.json", auth=None,
                       headers={"Cookie": f"edgecomm_session={cookie['value']}", "X-CSRF-Token": "x"})
    result(status == 401, f"signed out; the old session cookie now gets {status}")


def main():
    driver = browser()
    try:
        sign_in(driver)
        create_tenant(driver)
        password = create_client(driver)
        registration_appears_and_goes(driver, password)
        tenant_sid = api("GET", "/2012-04-24/Accounts/tenant@example.com.json")[1]["sid"]
        long_list(driver, tenant_sid)
        logged = errors_in_log(driver)
        result(not logged, f"the browser's console log has no error ({logged})")
        cookie = next(c for c in driver.get_cookies() if c["name"] == "edgecomm_session")
        cross_origin_post(driver, secure=False)
        cross_origin_post(driver, secure=True)
        driver.get_log("browser")  # the refused posts' own errors, on the other sites' pages
        driver.get(BASE + "/")
        wait(driver, "signed in (the session survived the other sites)", lambda d: visible(d, "app"))
        account_actions(driver, password)
        close_tenant(driver)
        global PASSWORD
        PASSWORD = change_own_password(driver)
        cookie = next(c for c in driver.get_cookies() if c["name"] == "edgecomm_session")
        sign_out(driver, cookie)
        sign_in(driver)
        developer_view(driver)
        loopback_http(driver, HTTP_PORT)
        logged = errors_in_log(driver)
        result(not logged, f"and none after the account actions, sign-outs and sign-ins ({logged})")
    except Exception as err:  # a step that timed out has already said so
        result(False, f"stopped: {type(err).__name__}: {str(err)[:300]}")
        driver.save_screenshot(os.path.join(OUT, "failure.png"))
        print("the notice then: " + repr(driver.find_element(By.ID, "notice").text))
        print("the page when it stopped: " + os.path.join(OUT, "failure.png"))
    finally:
        driver.quit()
    print(f"{len(failed)} failed" if failed else "all console checks passed")
    sys.exit(1 if failed else 0)


main()
