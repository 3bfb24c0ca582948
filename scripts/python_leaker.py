#!/usr/bin/env python3
"""A leak in a program that is not ours: a new http.client connection per
request, each kept referenced and never closed, as a service that builds a
client per request and holds on to it would.

    scripts/python_leaker.py URL [REQUESTS] [SECONDS]

Sends REQUESTS (default 30) GET requests to URL, one connection each,
prints "ready" with its PID, then keeps every connection open for SECONDS
(default 600) and exits. `reqwest-connection-leak inspect PID` reads leaks.
"""
import http.client
import os
import sys
import time
import urllib.parse

url = urllib.parse.urlsplit(sys.argv[1])
requests = int(sys.argv[2]) if len(sys.argv) > 2 else 30
seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 600

kept = []
for _ in range(requests):
    connection = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=10)
    connection.request("GET", url.path or "/")
    connection.getresponse().read()
    kept.append(connection)

print(f"ready {os.getpid()}", flush=True)
time.sleep(seconds)
