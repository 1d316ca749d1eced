#!/usr/bin/env python3
"""Loopback TSA + CRL + OCSP responder for SigningTests, backed by the openssl CLI.

Usage: responder.py PKIDIR   (binds 127.0.0.1:0, prints the port on the first stdout line)
  POST /tsa          RFC 3161 (openssl ts -reply)
  POST /tsa-refuse   answers HTTP 500 (a failing TSA for fallback tests)
  POST /tsa-wrong    answers a time-stamp for a different digest
  GET  /crl/NAME     serves PKIDIR/crl/NAME
  POST /ocsp         RFC 6960 (openssl ocsp -index db-inter/index.txt)
Each request is counted in PKIDIR/hits-<path> so tests can check caching.
"""
import http.server, os, subprocess, sys, tempfile, threading

PKI = os.path.abspath(sys.argv[1])
LOCK = threading.Lock()

def count(path):
    name = os.path.join(PKI, "hits-" + path.strip("/").replace("/", "_"))
    with LOCK:
        n = int(open(name).read()) if os.path.exists(name) else 0
        open(name, "w").write(str(n + 1))

def run(args, data):
    with tempfile.TemporaryDirectory() as t:
        q, r = os.path.join(t, "q"), os.path.join(t, "r")
        open(q, "wb").write(data)
        args = [a.replace("@Q", q).replace("@R", r) for a in args]
        env = dict(os.environ, OPENSSL_CONF="/dev/null", CANAME="inter")
        with LOCK:
            p = subprocess.run(args, cwd=PKI, capture_output=True, env=env)
        if p.returncode != 0 or not os.path.exists(r):
            sys.stderr.write(p.stderr.decode(errors="replace"))
            return None
        return open(r, "rb").read()

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    def log_message(self, *a): pass
    def reply(self, code, body=b"", ctype="application/octet-stream"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        count(self.path)
        if self.path.startswith("/crl/"):
            f = os.path.join(PKI, "crl", os.path.basename(self.path))
            if os.path.exists(f):
                return self.reply(200, open(f, "rb").read(), "application/pkix-crl")
        self.reply(404)
    def do_POST(self):
        count(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path == "/tsa":
            out = run(["openssl", "ts", "-reply", "-config", "ca.cnf", "-section", "tsa_config", "-queryfile", "@Q", "-out", "@R"], body)
            return self.reply(200, out, "application/timestamp-reply") if out else self.reply(500)
        if self.path == "/tsa-wrong":
            # Answer with a token for another digest: rewrite the imprint by asking for a fresh query.
            with tempfile.TemporaryDirectory() as t:
                d = os.path.join(t, "d"); open(d, "wb").write(b"something else")
                q = subprocess.run(["openssl", "ts", "-query", "-data", d, "-sha256", "-cert"], capture_output=True,
                                   env=dict(os.environ, OPENSSL_CONF="/dev/null")).stdout
            out = run(["openssl", "ts", "-reply", "-config", "ca.cnf", "-section", "tsa_config", "-queryfile", "@Q", "-out", "@R"], q)
            return self.reply(200, out or b"", "application/timestamp-reply")
        if self.path == "/ocsp":
            out = run(["openssl", "ocsp", "-index", "db-inter/index.txt", "-rsigner", "ocsp.crt", "-rkey", "ocsp.key",
                       "-CA", "inter.crt", "-reqin", "@Q", "-respout", "@R", "-ndays", "7"], body)
            return self.reply(200, out, "application/ocsp-response") if out else self.reply(500)
        self.reply(500)

def watch_stdin():
    # Exit when the test process (our stdin's writer) goes away.
    try:
        while sys.stdin.buffer.read(1):
            pass
    finally:
        os._exit(0)

threading.Thread(target=watch_stdin, daemon=True).start()
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print(srv.server_address[1], flush=True)
srv.serve_forever()
