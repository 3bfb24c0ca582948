#!/usr/bin/env python3
"""Healthy clients that keep connections open on purpose, on Python's
standard library, for inspect's cases.

    waiting_clients.py SHAPE HOST PORT [--count N]

Prints "ready PID", opens COUNT connections (default 25) at once in the
given SHAPE, prints "open N" once each has its first answer (or has sent
its request, for a long poll), and holds them until killed:
  events     server-sent events: each stream reads its first event
  poll       long polls: each waits for an answer that does not come
  socket     websockets: each upgraded, then idle
  addresses  one client per source address (127.0.3.1, 127.0.3.2, ...),
             each calling /hello on its own connection every two seconds
  churn      COUNT clients from as many addresses (127.1.0.1 on), 200 at a
             time, each calling /hello once and leaving half a second later;
             prints "left N" when the last has gone
  undumpable one connection, used once; on SIGUSR1 the process makes
             itself non-dumpable (its /proc/PID/fd closed to its own user)
             and prints "undumpable"
"""
import argparse
import base64
import ctypes
import http.client
import os
import signal
import socket
import threading
import time

parser = argparse.ArgumentParser()
parser.add_argument(
    "shape", choices=["events", "poll", "socket", "addresses", "churn", "undumpable"]
)
parser.add_argument("host")
parser.add_argument("port", type=int)
parser.add_argument("--count", type=int, default=25)
args = parser.parse_args()

print(f"ready {os.getpid()}", flush=True)
opened = threading.Semaphore(0)
forever = threading.Event()


def stream():
    connection = http.client.HTTPConnection(args.host, args.port)
    connection.request("GET", "/events")
    answer = connection.getresponse()
    answer.fp.readline()
    opened.release()
    forever.wait()


def poll():
    connection = http.client.HTTPConnection(args.host, args.port)
    connection.request("GET", "/poll")
    opened.release()
    connection.getresponse()


def websocket():
    connection = socket.create_connection((args.host, args.port))
    key = base64.b64encode(os.urandom(16)).decode()
    connection.sendall(
        (
            f"GET /socket HTTP/1.1\r\nHost: {args.host}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += connection.recv(4096)
    opened.release()
    forever.wait()


def from_address(n):
    source = (f"127.0.3.{n + 1}", 0)
    connection = http.client.HTTPConnection(args.host, args.port, source_address=source)
    while True:
        connection.request("GET", "/hello")
        connection.getresponse().read()
        if n >= 0:
            opened.release()
            n = -1
        time.sleep(2)


def churn():
    for start in range(0, args.count, 200):
        batch = []
        for n in range(start, min(start + 200, args.count)):
            source = (f"127.1.{n // 250}.{n % 250 + 1}", 0)
            connection = http.client.HTTPConnection(args.host, args.port, source_address=source)
            connection.request("GET", "/hello")
            connection.getresponse().read()
            batch.append(connection)
        time.sleep(0.5)
        for connection in batch:
            connection.close()
    print(f"left {args.count}", flush=True)


def undumpable():
    connection = http.client.HTTPConnection(args.host, args.port)
    connection.request("GET", "/hello")
    connection.getresponse().read()
    PR_SET_DUMPABLE = 4

    def hide(*_):
        ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
        print("undumpable", flush=True)

    signal.signal(signal.SIGUSR1, hide)
    print("open 1", flush=True)
    forever.wait()


if args.shape in ("churn", "undumpable"):
    {"churn": churn, "undumpable": undumpable}[args.shape]()
    forever.wait()

shapes = {"events": stream, "poll": poll, "socket": websocket}
for n in range(args.count):
    if args.shape == "addresses":
        thread = threading.Thread(target=from_address, args=(n,), daemon=True)
    else:
        thread = threading.Thread(target=shapes[args.shape], daemon=True)
    thread.start()
for _ in range(args.count):
    opened.acquire()
print(f"open {args.count}", flush=True)
forever.wait()
