#!/usr/bin/env python3
"""A keep-alive HTTP/1.1 server for inspect's cases, on Python's standard
library: it never closes a connection its client keeps.

    http_server.py [--tls CERT KEY] HOST [HOST...]

Listens on each HOST at one port (the first picks it) and prints
"ready PID PORT". Its routes, one per shape of a real service:
  GET  /hello      a short answer
  GET  /bytes/N    an answer of N bytes
  POST /upload     reads the body, answers "ok"
  GET  /events     server-sent events: one event, then silence
  GET  /poll       a long poll: no answer
  GET  /socket     a websocket: the upgrade answered, then silence
"""
import argparse
import base64
import hashlib
import http.server
import os
import ssl
import threading

WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
forever = threading.Event()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, body, content_type="text/plain"):
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/hello":
            self.answer(b"hello\n")
        elif self.path.startswith("/bytes/"):
            self.answer(b"x" * int(self.path.split("/")[2]))
        elif self.path == "/events":
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            self.wfile.write(b"data: hello\n\n")
            self.wfile.flush()
            forever.wait()
        elif self.path == "/poll":
            forever.wait()
        elif self.path == "/socket":
            key = self.headers["Sec-WebSocket-Key"] + WEBSOCKET_GUID
            accept = base64.b64encode(hashlib.sha1(key.encode()).digest()).decode()
            self.send_response(101)
            self.send_header("Upgrade", "websocket")
            self.send_header("Connection", "Upgrade")
            self.send_header("Sec-WebSocket-Accept", accept)
            self.end_headers()
            self.wfile.flush()
            forever.wait()
        else:
            self.send_error(404)

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.answer(b"ok\n")


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024


parser = argparse.ArgumentParser()
parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
parser.add_argument("hosts", nargs="+")
args = parser.parse_args()

port = 0
servers = []
for host in args.hosts:
    server = Server((host, port), Handler)
    port = server.server_address[1]
    if args.tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*args.tls)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    servers.append(server)
for server in servers:
    threading.Thread(target=server.serve_forever, daemon=True).start()
print(f"ready {os.getpid()} {port}", flush=True)
forever.wait()
