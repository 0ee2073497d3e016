#!/usr/bin/env python3
"""A fault-injecting HTTP proxy on loopback in front of the real S3 server: the first
FAULTS requests get an S3 error (503 SlowDown by default; STATUS 0: no answer at all)
without reaching the server (STATUS -1 / -2: they reach it torn, with the full
Content-Length but none / half of the body before the connection closes, as from a client
that died mid-upload; half a second later the client gets 503 SlowDown);
every later one is forwarded unchanged (Host header included, so SigV4 still verifies) and
its answer relayed. Prints "PORT <n>" once listening; writes the number of requests seen to
stdout as "SEEN <n>" when stdin closes, then exits.

usage: fault_proxy.py UPSTREAM_URL FAULTS [STATUS CODE]   e.g. http://127.0.0.1:8333 2 503 SlowDown
       (STATUS -1, -2: torn bodies)
"""
import http.client
import http.server
import socket
import sys
import threading
import time
import urllib.parse

UPSTREAM = urllib.parse.urlsplit(sys.argv[1])
FAULTS = int(sys.argv[2])
STATUS = int(sys.argv[3]) if len(sys.argv) > 3 else 503
CODE = sys.argv[4] if len(sys.argv) > 4 else "SlowDown"
lock = threading.Lock()
seen = 0


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def handle_any(self):
        global seen
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        with lock:
            seen += 1
            fault = seen <= FAULTS
        if fault and STATUS in (-1, -2):
            self.send_torn(body[:0] if STATUS == -1 else body[:len(body) // 2])
        if fault and STATUS == 0:
            time.sleep(60)  # a server that accepted the request and went silent
            return
        if fault:
            status = 503 if STATUS < 0 else STATUS
            doc = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>%s</Code>"
                   "<Message>injected by fault_proxy.py</Message></Error>" % CODE).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(doc)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(doc)
            return
        conn = http.client.HTTPConnection(UPSTREAM.hostname, UPSTREAM.port, timeout=60)
        headers = {k: v for k, v in self.headers.items()}
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        conn.close()

    def send_torn(self, part):
        conn = http.client.HTTPConnection(UPSTREAM.hostname, UPSTREAM.port, timeout=60)
        conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
        for k, v in self.headers.items():
            conn.putheader(k, v)
        conn.endheaders()
        conn.send(part)
        conn.sock.shutdown(socket.SHUT_RDWR)
        conn.close()
        time.sleep(0.5)  # the server has seen the end of the stream before the client hears

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any


def main():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print("PORT %d" % server.server_address[1], flush=True)
    sys.stdin.read()  # until the test closes our stdin
    server.shutdown()
    print("SEEN %d" % seen, flush=True)


if __name__ == "__main__":
    main()
