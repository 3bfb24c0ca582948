"""A process that names itself, holds one connection, and on SIGUSR1
changes what inspect must follow: its name, and its network namespace.

    python3 changing_process.py NAME_HEX [NEW_NAME_HEX NETNS_PATH COUNT]

NAME_HEX: the bytes it names itself at start (prctl(PR_SET_NAME), at most
15 kept). On SIGUSR1, with the rest given, it names itself NEW_NAME_HEX,
joins the network namespace at NETNS_PATH (setns, as `ip netns exec` and
`nsenter` do; needs root) and makes COUNT connections there to a listener
of its own, one exchange each, kept. Prints "ready PID PORT" once its first
connection is made and "moved" once the COUNT are. Ends after ten minutes.
"""

import ctypes
import os
import signal
import socket
import sys
import time

PR_SET_NAME = 15
CLONE_NEWNET = 0x40000000
libc = ctypes.CDLL(None, use_errno=True)


def name_itself(hex_bytes):
    if libc.prctl(PR_SET_NAME, bytes.fromhex(hex_bytes)) != 0:
        raise OSError(ctypes.get_errno(), "prctl")


def connections(count):
    """COUNT connections to a listener of its own, one exchange each."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=count + 16)
    kept = [listener]
    for _ in range(count):
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
        client.sendall(b"x")
        server.recv(1)
        server.sendall(b"y")
        client.recv(1)
        kept += [client, server]
    return kept


def main():
    name_itself(sys.argv[1])
    kept = connections(1)
    moved = []

    def move(_signal, _frame):
        new_name, netns, count = sys.argv[2], sys.argv[3], int(sys.argv[4])
        name_itself(new_name)
        with open(netns) as namespace:
            if libc.setns(namespace.fileno(), CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns")
        moved.extend(connections(count))
        print("moved", flush=True)

    signal.signal(signal.SIGUSR1, move)
    print(f"ready {os.getpid()} {kept[0].getsockname()[1]}", flush=True)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        time.sleep(1)


main()
