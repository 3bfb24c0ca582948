#!/usr/bin/env python3
"""A leak in a program that is not ours: a new http.client connection per
client, each kept referenced and never closed, as a service that builds a
client per request and holds on to it would.

    scripts/python_leaker.py URL [URL...] [--count N] [--rate R] [--calls C]
                             [--upload BYTES] [--cafile PEM] [--hold SECONDS]

Prints "ready PID" at once, then makes COUNT clients (default 30), RATE a
second (default 20; 0 for as fast as answered), each calling the next URL
in turn CALLS times (default 1) on its own connection: a GET, or a POST of
BYTES when --upload is given. Prints "sent N" when done, then keeps every
connection open for SECONDS (default 600) and exits.
`reqwest-connection-leak inspect PID` reads leaks.
"""
import argparse
import http.client
import os
import ssl
import time
import urllib.parse

parser = argparse.ArgumentParser()
parser.add_argument("urls", nargs="+")
parser.add_argument("--count", type=int, default=30)
parser.add_argument("--rate", type=float, default=20)
parser.add_argument("--calls", type=int, default=1)
parser.add_argument("--upload", type=int, default=0)
parser.add_argument("--cafile")
parser.add_argument("--hold", type=float, default=600)
args = parser.parse_args()

print(f"ready {os.getpid()}", flush=True)

tls = ssl.create_default_context(cafile=args.cafile) if args.cafile else None
body = b"x" * args.upload
kept = []
started = time.monotonic()
for n in range(args.count):
    if args.rate > 0:
        time.sleep(max(0.0, started + n / args.rate - time.monotonic()))
    url = urllib.parse.urlsplit(args.urls[n % len(args.urls)])
    if url.scheme == "https":
        connection = http.client.HTTPSConnection(
            url.hostname, url.port or 443, timeout=10, context=tls
        )
    else:
        connection = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=10)
    for _ in range(args.calls):
        if args.upload:
            connection.request("POST", url.path or "/", body)
        else:
            connection.request("GET", url.path or "/")
        connection.getresponse().read()
    kept.append(connection)

print(f"sent {len(kept)}", flush=True)
time.sleep(args.hold)
