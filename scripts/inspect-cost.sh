#!/usr/bin/env bash
# What one sample of `inspect` costs on a process holding many loopback
# connections, beside `ss -tni`'s own dump of the same sockets and `find`
# reading each descriptor's link; then what one sample of `inspect --all`
# costs with five more holders of 2,000 connections each, beside
# `ss -tnpi`, which reads every process's descriptor links too: CPU time
# (user and system) of each command as a whole, the median of RUNS runs.
#
#   scripts/inspect-cost.sh [CONNECTIONS] [RUNS]    defaults: 10000 5
#
# A holder is a Python program that connects to itself, so CONNECTIONS
# sockets (both ends) are held by one process. Release build.
set -euo pipefail
cd "$(dirname "$0")/.."

connections=${1:-10000}
runs=${2:-5}
pairs=$((connections / 2))
ulimit -n $((connections + 200)) 2>/dev/null || {
    echo "inspect-cost.sh: $connections connections need $((connections + 200)) descriptors; ulimit -Hn is $(ulimit -Hn)" >&2
    exit 2
}
command -v ss >/dev/null || { echo "inspect-cost.sh: needs ss (Debian: apt-get install iproute2)" >&2; exit 2; }
cargo build --release --quiet
binary=target/release/reqwest-connection-leak

# The holder: $pairs connections to its own listener, both ends kept, for
# ten minutes at most (it is killed when this script ends).
holder_code=$(cat <<'PY'
import os, socket, sys, time
pairs = int(sys.argv[1])
listener = socket.create_server(("127.0.0.1", 0), backlog=4096)
kept = []
for _ in range(pairs):
    client = socket.create_connection(listener.getsockname())
    server, _ = listener.accept()
    client.sendall(b"x"); server.recv(1); server.sendall(b"y"); client.recv(1)
    kept += [client, server]
print(os.getpid(), flush=True)
time.sleep(600)
PY
)
# Starts a holder of $1 pairs; its PID goes to $2 once it is ready.
holders=()
trap 'kill "${holders[@]}" 2>/dev/null; rm -f "${TMPDIR:-/tmp}"/inspect-cost.$$.*' EXIT
start_holder() {
    python3 -c "$holder_code" "$1" >"$2" &
    holders+=($!)
}
wait_ready() {
    for _ in $(seq 600); do
        [ -s "$1" ] && return
        sleep 0.1
    done
    echo "inspect-cost.sh: a holder did not get ready" >&2
    exit 1
}
start_holder "$pairs" "${TMPDIR:-/tmp}/inspect-cost.$$.0"
wait_ready "${TMPDIR:-/tmp}/inspect-cost.$$.0"
holder=$(cat "${TMPDIR:-/tmp}/inspect-cost.$$.0")

echo "Machine: $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo); kernel $(uname -r)"
echo "Holder: PID $holder with $((pairs * 2)) established loopback connections"
echo
# Each command's CPU time from the kernel's account of its children. The
# floor is what any such look costs the kernel: the dump alone (ss's system
# time) and reading each descriptor's link once (find -lname).
measure_code=$(cat <<'PY'
import resource, statistics, subprocess, sys
runs, binary, pid, part = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]

def cost(command):
    user, system, peak = [], [], 0
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(command, stdout=subprocess.DEVNULL, check=False)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        user.append((after.ru_utime - before.ru_utime) * 1000)
        system.append((after.ru_stime - before.ru_stime) * 1000)
        peak = max(peak, after.ru_maxrss)
    total = [u + s for u, s in zip(user, system)]
    return statistics.median(total), statistics.median(user), statistics.median(system), peak / 1024

def table(rows):
    print("| command | CPU ms (median) | user | system |")
    print("|---|---|---|---|")
    figures = []
    for name, command in rows:
        figures.append(cost(command))
        total, user, system, _ = figures[-1]
        print(f"| {name} | {total:.1f} | {user:.1f} | {system:.1f} |")
    print()
    return figures

if part == "one":
    ss, links, inspect = table([
        ("ss -tni (every socket, with tcp_info)", ["ss", "-tni"]),
        ("find /proc/PID/fd -lname 'socket:*' (each descriptor's link)",
         ["find", f"/proc/{pid}/fd", "-mindepth", "1", "-lname", "socket:*"]),
        (f"inspect --once {pid}", [binary, "inspect", "--once", "--json", pid]),
    ])
    print(f"inspect / ss -tni: {inspect[0] / ss[0]:.2f}x")
    print(f"the kernel's floor (ss's system time + the links'): {ss[2] + links[2]:.1f} ms; "
          f"inspect's system time {inspect[2]:.1f} ms, its own work (user) {inspect[1]:.1f} ms")
    print(f"the largest resident set of any of these commands: {inspect[3]:.1f} MiB")
else:
    ss, inspect = table([
        ("ss -tnpi (every socket, with tcp_info and its processes)", ["ss", "-tnpi"]),
        ("inspect --all --once (every process)", [binary, "inspect", "--all", "--once", "--json"]),
    ])
    print(f"inspect --all / ss -tnpi: {inspect[0] / ss[0]:.2f}x; "
          f"the largest resident set: {inspect[3]:.1f} MiB")
PY
)
python3 -c "$measure_code" "$runs" "$binary" "$holder" one
echo
for n in 1 2 3 4 5; do
    start_holder 1000 "${TMPDIR:-/tmp}/inspect-cost.$$.$n"
done
for n in 1 2 3 4 5; do
    wait_ready "${TMPDIR:-/tmp}/inspect-cost.$$.$n"
done
echo "Five more holders of 2,000 connections each: every process of the machine"
echo
python3 -c "$measure_code" "$runs" "$binary" - all
