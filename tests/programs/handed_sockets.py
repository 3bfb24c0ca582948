"""Servers whose accepted connections are held by a process that does not
listen: what inspect must read as inbound, from the namespace's listener.

    python3 handed_sockets.py hand COUNT   # the listener hands each accepted
                                           # socket to one worker (SCM_RIGHTS)
    python3 handed_sockets.py fork COUNT   # a child per connection, which
                                           # closes the listener (sshd, inetd)

A client process of its own makes COUNT connections, one exchange each,
and keeps them. Prints "ready LISTENER_PID PORT", then "holders PID...":
the processes that hold the accepted sockets. Each process ends when its
parent does, or after ten minutes.
"""

import os
import signal
import socket
import sys
import time

LIFETIME = 600


def die_with_parent():
    """Ends this process when its parent does (Linux's PR_SET_PDEATHSIG)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)


def answer(connection):
    connection.recv(1)
    connection.sendall(b"y")


def client(port, count):
    kept = []
    for _ in range(count):
        connection = socket.create_connection(("127.0.0.1", port))
        connection.sendall(b"x")
        connection.recv(1)
        kept.append(connection)
    time.sleep(LIFETIME)


def hand(listener, count):
    parent_end, worker_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    worker = os.fork()
    if worker == 0:
        die_with_parent()
        listener.close()
        kept = []
        for _ in range(count):
            _, fds, _, _ = socket.recv_fds(worker_end, 1, 1)
            connection = socket.socket(fileno=fds[0])
            answer(connection)
            kept.append(connection)
        worker_end.sendall(b"k")
        time.sleep(LIFETIME)
        os._exit(0)
    for _ in range(count):
        connection, _ = listener.accept()
        socket.send_fds(parent_end, [b"c"], [connection.fileno()])
        connection.close()
    parent_end.recv(1)
    return [worker]


def fork_each(listener, count):
    holders = []
    for _ in range(count):
        connection, _ = listener.accept()
        child = os.fork()
        if child == 0:
            die_with_parent()
            listener.close()
            answer(connection)
            time.sleep(LIFETIME)
            os._exit(0)
        connection.close()
        holders.append(child)
    return holders


def main():
    mode, count = sys.argv[1], int(sys.argv[2])
    listener = socket.create_server(("127.0.0.1", 0), backlog=count + 16)
    port = listener.getsockname()[1]
    clients = os.fork()
    if clients == 0:
        die_with_parent()
        listener.close()
        client(port, count)
        os._exit(0)
    holders = {"hand": hand, "fork": fork_each}[mode](listener, count)
    print(f"ready {os.getpid()} {port}", flush=True)
    print("holders " + " ".join(map(str, holders)), flush=True)
    time.sleep(LIFETIME)


main()
