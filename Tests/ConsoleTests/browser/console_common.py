"""Helpers shared by the console's browser and HTTP tests: plain HTTP with a cookie jar, log-in, waiting."""
import http.client
import json
import os
import re
import time
import urllib.parse

URL = os.environ["CONSOLE_URL"].rstrip("/")
PASSWORDS = dict(kv.split("=", 1) for kv in os.environ["PASSWORDS"].split(","))
_u = urllib.parse.urlparse(URL)
HOST, PORT = _u.hostname, _u.port

failures = []
checks = 0


def check(cond, what):
    global checks
    checks += 1
    if cond:
        print("ok   " + what)
    else:
        print("FAIL " + what)
        failures.append(what)


def finish():
    print(f"{checks - len(failures)} passed, {len(failures)} failed")
    raise SystemExit(1 if failures else 0)


def wait_for(cond, timeout=10.0, step=0.02):
    """Polls `cond` until it returns something truthy or `timeout` passes (never a fixed sleep)."""
    end = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > end:
            return v
        time.sleep(step)


class Client:
    """A tiny HTTP client with one cookie jar (no redirects followed)."""

    def __init__(self):
        self.cookies = {}

    def request(self, method, path, body=None, headers=None, cookies=None):
        h = dict(headers or {})
        jar = self.cookies if cookies is None else cookies
        if jar:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items())
        c = http.client.HTTPConnection(HOST, PORT, timeout=30)
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        for k, v in r.getheaders():
            if k.lower() == "set-cookie":
                name, _, rest = v.partition("=")
                value = rest.split(";", 1)[0]
                if cookies is None:
                    if value == "" or "Max-Age=0" in v:
                        self.cookies.pop(name, None)
                    else:
                        self.cookies[name] = value
        c.close()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data, r.getheaders()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post_form(self, path, fields, **kw):
        body = urllib.parse.urlencode(fields)
        h = {"Content-Type": "application/x-www-form-urlencoded"}
        h.update(kw.pop("headers", {}))
        return self.request("POST", path, body=body, headers=h, **kw)

    def csrf(self, path="/"):
        s, _, d, _ = self.get(path)
        m = re.search(rb'name="csrf" value="([0-9a-f]+)"', d) or re.search(rb'<meta name="csrf" content="([0-9a-f]+)"', d)
        return m.group(1).decode() if m else None

    def login(self, user, password=None):
        token = self.csrf("/login")
        s, h, d, _ = self.post_form("/login", {"csrf": token, "user": user, "password": password or PASSWORDS[user]})
        return s, h, d
