"""HTTP-level security tests of `sealbatch serve`: session fixation, CSRF, path traversal in downloads,
oversized and non-PDF uploads, HTML injection through file names and user names."""
import json
import os
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
from console_common import Client, check, finish, URL  # noqa: E402

PIPELINE_ROOT = os.environ["PIPELINE_ROOT"]
SAMPLE = open(os.environ["SAMPLE_PDF"], "rb").read()

# --- session fixation: the id a visitor had before logging in is never the logged-in session
c = Client()
c.get("/login")
before = c.cookies.get("sb_session")
check(before is not None, "the login page sets a pre-login session cookie")
s, h, _ = c.login("sadmin")
after = c.cookies.get("sb_session")
check(s == 303 and h.get("location") == "/", f"sadmin logs in (status {s})")
check(after and after != before, "login issues a fresh session id")
s, h, _, _ = c.get("/", cookies={"sb_session": before})
check(s == 303 and h.get("location") == "/login", "the pre-login session id is not logged in")
s, _, _, raw = c.get("/login")
set_cookie = [v for k, v in Client().get("/login")[3] if k.lower() == "set-cookie"]
check(any("HttpOnly" in v and "SameSite=Strict" in v for v in set_cookie), f"session cookie is HttpOnly and SameSite=Strict: {set_cookie}")
# a session id chosen by an attacker is ignored: logging in with it gives another id
a = Client()
a.cookies["sb_session"] = "0" * 64
a.get("/login")
planted = a.cookies.get("sb_session")
check(planted != "0" * 64, "an unknown session id is replaced")
s, _, _ = a.login("clerk")
check(a.cookies.get("sb_session") not in ("0" * 64, planted), "the logged-in id is neither the planted nor the pre-login one")

# --- CSRF: every POST needs the session's token; a cross-site Origin is refused even with it
token = c.csrf("/seals")
s, _, d, _ = c.post_form("/seals/status", {"seal": "acme-contract", "status": "suspended"})
check(s == 403, f"POST without a CSRF token is refused ({s})")
s, _, d, _ = c.post_form("/seals/status", {"seal": "acme-contract", "status": "suspended", "csrf": "ab" * 32})
check(s == 403, f"POST with a wrong CSRF token is refused ({s})")
s, _, d, _ = c.post_form("/seals/status", {"seal": "acme-contract", "status": "suspended", "csrf": token},
                         headers={"Origin": "http://evil.example"})
check(s == 403, f"POST from another origin is refused even with the token ({s})")
s, _, d, _ = c.get("/api/seals")
check(json.loads(d)[0]["status"] == "active", "the seal is still active after the forged POSTs")
s, _, _, _ = c.request("POST", "/verify", body=SAMPLE, headers={"Content-Type": "application/octet-stream"})
check(s == 403, f"an upload without X-CSRF-Token is refused ({s})")
s, _, _, _ = Client().post_form("/seals/status", {"seal": "acme-contract", "status": "revoked"})
check(s == 401, f"POST without a session is refused ({s})")
s, _, _ = Client().post_form("/login", {"user": "sadmin", "password": "sadmin-pw-1"})[:3]
check(s == 403, f"a login POST without the login form's CSRF token is refused ({s})")

# --- path traversal in downloads: only plain names directly inside the quarantine folder
q = os.path.join(PIPELINE_ROOT, "quarantine")
open(os.path.join(q, "bad.pdf"), "wb").write(b"%PDF-1.4 quarantined\n")
open(os.path.join(PIPELINE_ROOT, "secret.txt"), "w").write("top secret")
s, h, d, _ = c.get("/quarantine/download?pipeline=console-test&name=bad.pdf")
check(s == 200 and d.startswith(b"%PDF") and "attachment" in h.get("content-disposition", ""), f"a quarantined original downloads ({s})")
for name in ["../secret.txt", "..%2Fsecret.txt", "%2e%2e%2fsecret.txt", "/etc/passwd", "..\\secret.txt", "....//secret.txt",
             "../../registry.sqlite", "bad.pdf%00.txt", ".", ""]:
    s, h, d, _ = c.get("/quarantine/download?pipeline=console-test&name=" + (name if "%" in name else urllib.parse.quote(name)))
    check(s == 404 and b"top secret" not in d and b"root:" not in d and b"SQLite" not in d, f"traversal {name!r} refused ({s})")
s, h, d, _ = c.get("/quarantine/download?pipeline=..%2F..&name=bad.pdf")
check(s == 404, f"an unknown pipeline is refused ({s})")
os.symlink(os.path.join(PIPELINE_ROOT, "secret.txt"), os.path.join(q, "link.pdf"))
s, h, d, _ = c.get("/quarantine/download?pipeline=console-test&name=link.pdf")
check(s == 404 and b"top secret" not in d, f"a symbolic link out of the quarantine folder is refused ({s})")

# --- uploads: size limit with a clear error, a non-PDF refused
def upload(client, path, body, name="x.pdf"):
    t = client.csrf("/verify")
    return client.request("POST", path, body=body, headers={"Content-Type": "application/octet-stream", "X-CSRF-Token": t,
                                                             "X-File-Name": urllib.parse.quote(name)})

s, h, d, _ = upload(c, "/verify", b"%PDF-1.4\n" + b"0" * (2 << 20))
check(s == 413 and b"larger than the upload limit" in d, f"an oversized upload is refused with a clear message ({s}: {d[:120]!r})")
s, h, d, _ = upload(c, "/verify", b"MZ\x90\x00 this is an executable, not a PDF" * 10, name="invoice.pdf")
check(s == 415 and b"not a PDF" in d, f"a non-PDF upload is refused ({s}: {d[:100]!r})")
s, h, d, _ = upload(c, "/verify", SAMPLE, name="sample.pdf")
check(s == 200 and json.loads(d)["text"], f"a PDF upload is verified ({s})")

# --- HTML injection: file names and user names come out escaped
evil = '<img src=x onerror="alert(1)">.pdf'
s, h, d, _ = upload(a, "/stamp/upload", SAMPLE, name=evil)
check(s == 200, f"clerk uploads a PDF with an HTML file name ({s})")
rid = json.loads(d)["id"]
s, h, d, _ = a.get(f"/stamp/r/{rid}")
check(s == 200 and b"<img src=x" not in d and b"&lt;img src=x onerror=&quot;alert(1)&quot;&gt;.pdf" in d,
      "the file name is escaped on the request page")
s, h, d, _ = a.get("/stamp")
check(b"<img src=x" not in d and b"&lt;img" in d, "the file name is escaped in the request list")
s, h, d, _ = upload(c, "/verify", SAMPLE, name='<script>alert(2)</script>.pdf')
check(s == 200 and "<script>" in json.loads(d)["text"] and h.get("content-type", "").startswith("application/json"),
      "the verify report names the file as JSON data (the page shows it with textContent)")
open(os.path.join(q, '<svg onload=alert(3)>.pdf'), "wb").write(b"%PDF-1.4\n")
open(os.path.join(q, '<svg onload=alert(3)>.pdf.reason.json'), "w").write(json.dumps({
    "code": "not-approved", "message": "<script>alert(4)</script>", "stage": "approval", "time": "2026-12-03T00:00:00Z",
    "next-step": "<b>approve</b>", "document": "<svg onload=alert(3)>.pdf", "document-id": "1", "pipeline": "console-test"}))
s, h, d, _ = c.get("/quarantine")
check(s == 200 and b"<svg onload" not in d and b"<script>alert(4)" not in d and b"&lt;svg onload=alert(3)&gt;.pdf" in d,
      "quarantine names and reasons are escaped")
sys_ = Client()
sys_.login("sys")
s, h, d, _ = sys_.get("/users")
check(s == 200 and b'<img src=x onerror' not in d and b"&lt;img src=x onerror=&quot;window.__injected=1&quot;&gt;" in d,
      "a user's display name is escaped on the users page")
s, h, d, _ = c.get("/audit?user=%3Cscript%3E")
check(b"<script>" not in d.replace(b'<script src="/static/console.js" defer></script>', b""), "an audit filter value is escaped")
check("default-src 'self'" in h.get("content-security-policy", ""), "pages carry a Content-Security-Policy")
finish()
