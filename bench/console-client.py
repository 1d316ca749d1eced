#!/usr/bin/env python3
"""Client side of bench/console.sh (standard library only: http.client, sockets, threads).

  console-client.py requests URL PASSFILE N SHA SEAL          -> JSON {name: {p50, p95, max, n}} in ms
  console-client.py sse URL PASSFILE CLIENTS READYFILE OUTFILE -> waits for one `use` event on every client
  console-client.py watch URL PASSFILE CLIENTS READYFILE        -> keeps CLIENTS SSE streams open until killed

PASSFILE (owner-only) holds `user=password` lines; passwords never go on a command line. Time per request is
measured by the client on loopback (the console sends no server-timing header): connect, request, whole body."""
import http.client
import json
import re
import socket
import sys
import threading
import time
import urllib.parse


def passwords(path):
    return dict(line.strip().split("=", 1) for line in open(path) if "=" in line)


def login(host, port, user, password):
    """GET /login (pre-session cookie + CSRF), POST /login; returns the session cookie value."""
    c = http.client.HTTPConnection(host, port, timeout=60)
    c.request("GET", "/login")
    r = c.getresponse(); body = r.read()
    cookie = None
    for k, v in r.getheaders():
        if k.lower() == "set-cookie" and v.startswith("sb_session="):
            cookie = v.split(";", 1)[0].split("=", 1)[1]
    csrf = re.search(rb'name="csrf" value="([0-9a-f]+)"', body).group(1).decode()
    form = urllib.parse.urlencode({"csrf": csrf, "user": user, "password": password})
    c.request("POST", "/login", body=form, headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": f"sb_session={cookie}"})
    r = c.getresponse(); r.read()
    new = None
    for k, v in r.getheaders():
        if k.lower() == "set-cookie" and v.startswith("sb_session="):
            new = v.split(";", 1)[0].split("=", 1)[1]
    c.close()
    if r.status != 303 or not new:
        raise SystemExit(f"login of {user} failed: HTTP {r.status}")
    return new


def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return None
    k = max(0, min(len(xs) - 1, int(round(p / 100 * len(xs) + 0.4999)) - 1))  # nearest-rank
    return xs[k]


def requests_bench(url, pwfile, n, sha, seal):
    u = urllib.parse.urlparse(url); host, port = u.hostname, u.port
    pw = passwords(pwfile)
    cookies = {who: login(host, port, who, pw[who]) for who in ("sadmin", "clerk")}
    today = time.strftime("%Y-%m-%d", time.gmtime())
    week = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 7 * 86400))
    cases = [
        ("dashboard page (seal admin)", "sadmin", "/"),
        ("dashboard page (seal user)", "clerk", "/"),
        ("dashboard JSON (seal admin)", "sadmin", "/api/dashboard"),
        ("audit page, no filter", "sadmin", "/audit"),
        ("audit by seal", "sadmin", f"/audit?seal={seal}"),
        ("audit by user", "sadmin", "/audit?user=clerk"),
        ("audit by document hash", "sadmin", f"/audit?sha256={sha}"),
        ("audit by time range (7 days)", "sadmin", f"/audit?since={week}&until={today}"),
        ("audit by outcome refused", "sadmin", "/audit?outcome=refused"),
        ("audit JSON by document hash", "sadmin", f"/api/audit?sha256={sha}"),
    ]
    out = {}
    for name, who, path in cases:
        times = []
        status = None
        budget = time.monotonic() + 60   # a slow page still gets >= 5 timed requests, not an hour of them
        for i in range(n + 1):
            if i > 5 and time.monotonic() > budget:
                break
            t0 = time.perf_counter()
            c = http.client.HTTPConnection(host, port, timeout=300)
            c.request("GET", path, headers={"Cookie": f"sb_session={cookies[who]}"})
            r = c.getresponse(); r.read(); c.close()
            dt = (time.perf_counter() - t0) * 1000
            status = r.status
            if r.status != 200:
                raise SystemExit(f"{path}: HTTP {r.status}")
            if i > 0:  # the first request warms the connection pool and SQLite's page cache
                times.append(dt)
        out[name] = {"path": path, "n": len(times), "p50": pct(times, 50), "p95": pct(times, 95), "max": max(times), "status": status}
        print(f"  {name:34s} p50 {out[name]['p50']:8.1f} ms  p95 {out[name]['p95']:8.1f} ms  max {out[name]['max']:8.1f} ms", file=sys.stderr, flush=True)
    print(json.dumps(out))


class Stream(threading.Thread):
    """One SSE client on a plain socket: records the wall-clock time of the first `use` event and its seq."""

    def __init__(self, host, port, cookie, ready):
        super().__init__(daemon=True)
        self.host, self.port, self.cookie, self.ready = host, port, cookie, ready
        self.got = None   # (receipt time.time(), seq)
        self.error = None

    def run(self):
        try:
            s = socket.create_connection((self.host, self.port), timeout=120)
            s.sendall(f"GET /events HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nAccept: text/event-stream\r\nCookie: sb_session={self.cookie}\r\n\r\n".encode())
            buf = b""
            connected = False
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    self.error = "closed"; break
                now = time.time()
                buf += chunk
                if not connected and b": connected" in buf:
                    connected = True; self.ready.release()
                m = re.search(rb'event: use\ndata: (\{.*?\})\n', buf, re.S)
                if m and self.got is None:
                    self.got = (now, json.loads(m.group(1))["seq"])
                    if not self.keep:
                        break
                if len(buf) > 1 << 20:
                    buf = buf[-4096:]
            s.close()
        except Exception as e:  # reported, never swallowed
            self.error = repr(e)
            self.ready.release()

    keep = False


def open_streams(url, pwfile, count):
    u = urllib.parse.urlparse(url); host, port = u.hostname, u.port
    pw = passwords(pwfile)
    # Logging in 50 times would meet the login rate limit (30/min per address): the 50 streams share two
    # sessions (seal admin, who sees every use of the organisation, and the seal user, who sees their own).
    cookies = [login(host, port, "sadmin", pw["sadmin"]), login(host, port, "clerk", pw["clerk"])]
    ready = threading.Semaphore(0)
    streams = [Stream(host, port, cookies[i % 2], ready) for i in range(count)]
    for s in streams:
        s.start()
    for _ in streams:
        ready.acquire(timeout=120)
    return streams


def sse_bench(url, pwfile, count, readyfile, outfile):
    streams = open_streams(url, pwfile, count)
    errors = [s.error for s in streams if s.error]
    open(readyfile, "w").write(f"{count - len(errors)} connected\n")
    end = time.monotonic() + 300
    while time.monotonic() < end and any(s.got is None and s.error is None for s in streams):
        time.sleep(0.01)
    json.dump({"received": [s.got for s in streams], "errors": [s.error for s in streams]}, open(outfile, "w"))


def watch(url, pwfile, count, readyfile):
    Stream.keep = True
    streams = open_streams(url, pwfile, count)
    open(readyfile, "w").write(f"{sum(1 for s in streams if not s.error)} connected\n")
    while True:
        time.sleep(1)


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "requests":
        requests_bench(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], sys.argv[6])
    elif cmd == "sse":
        sse_bench(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], sys.argv[6])
    elif cmd == "watch":
        watch(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
    else:
        raise SystemExit("usage: see the docstring")
