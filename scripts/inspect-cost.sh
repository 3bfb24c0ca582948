#!/usr/bin/env bash
# What one sample of `inspect` costs on a process holding many loopback
# connections, beside `ss -tni`'s own dump of the same sockets and `find`
# reading each descriptor's link; then what one sample of `inspect --all`
# costs beside `ss -tnpi`, which reads every process's descriptor links
# too, on three shapes of a host: five more holders of 2,000 connections
# each; 3,000 more processes, 2,000 of them each holding one accepted
# connection without its listener (a server forking per connection); and
# 300 more processes sharing every descriptor of 150 connections (children
# that inherited them). CPU time (user and system) of each command as a
# whole, the median of RUNS runs, and its largest resident set.
#
#   scripts/inspect-cost.sh [CONNECTIONS] [RUNS]    defaults: 10000 5
#
# A holder is a Python program that connects to itself, so CONNECTIONS
# sockets (both ends) are held by one process; the other processes are
# `sleep`s handed their descriptors. Release build.
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
[ -x /usr/bin/time ] || { echo "inspect-cost.sh: needs GNU time (Debian: apt-get install time)" >&2; exit 2; }
cargo build --release --quiet
binary=target/release/reqwest-connection-leak

# The hosts, one Python program: `holder N` keeps N connections to its own
# listener, both ends; `forked N` hands N accepted connections to as many
# `sleep`s and starts N/2 idle ones; `shared N` starts N `sleep`s that each
# hold every descriptor of N/2 connections. It prints its PID when ready,
# ends its children with it, and lives ten minutes at most (this script
# kills it at its end). Each socket closes with a reset (SO_LINGER 0), so
# that no TIME_WAIT is left to weigh on the next shape's figures.
host_code=$(cat <<'PY'
import os, signal, socket, struct, subprocess, sys, time
shape, count = sys.argv[1], int(sys.argv[2])
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
listener = socket.create_server(("127.0.0.1", 0), backlog=4096)
kept, children = [], []
def pair():
    client = socket.create_connection(listener.getsockname())
    server, _ = listener.accept()
    client.sendall(b"x"); server.recv(1); server.sendall(b"y"); client.recv(1)
    for end in (client, server):
        end.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    return client, server
try:
    if shape == "holder":
        for _ in range(count):
            kept += pair()
    elif shape == "forked":
        for _ in range(count):
            client, server = pair()
            kept.append(client)
            children.append(subprocess.Popen(["sleep", "600"], pass_fds=[server.fileno()]))
            server.close()
        children += [subprocess.Popen(["sleep", "600"]) for _ in range(count // 2)]
    else:
        for _ in range(count // 2):
            kept += pair()
        descriptors = [socket.fileno() for socket in kept]
        children = [subprocess.Popen(["sleep", "600"], pass_fds=descriptors) for _ in range(count)]
    print(os.getpid(), flush=True)
    time.sleep(600)
finally:
    for child in children:
        child.kill()
PY
)
# Starts a holder of $1 pairs; its PID goes to $2 once it is ready.
holders=()
trap '[ ${#holders[@]} -eq 0 ] || kill "${holders[@]}" 2>/dev/null; rm -f "${TMPDIR:-/tmp}"/inspect-cost.$$.*' EXIT
start_holder() {
    python3 -c "$host_code" holder "$1" >"$2" &
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
import os, statistics, subprocess, sys, tempfile
runs, binary, pid, part = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]

def cost(command):
    """Each run's own account: CPU from wait4 (GNU time's own few
    microseconds with it), the largest resident set from GNU time (a child
    of Python's would carry Python's own as its largest)."""
    user, system, peak = [], [], 0
    for _ in range(runs):
        with tempfile.NamedTemporaryFile("r") as account:
            timed = subprocess.Popen(["/usr/bin/time", "-f", "%M", "-o", account.name] + command,
                                     stdout=subprocess.DEVNULL)
            _, _, usage = os.wait4(timed.pid, 0)
            kib = account.read().split()[-1]
        user.append(usage.ru_utime * 1000)
        system.append(usage.ru_stime * 1000)
        peak = max(peak, int(kib))
    total = [u + s for u, s in zip(user, system)]
    return statistics.median(total), statistics.median(user), statistics.median(system), peak / 1024

def table(rows):
    print("| command | CPU ms (median) | user | system | largest RSS MiB |")
    print("|---|---|---|---|---|")
    figures = []
    for name, command in rows:
        figures.append(cost(command))
        total, user, system, peak = figures[-1]
        print(f"| {name} | {total:.1f} | {user:.1f} | {system:.1f} | {peak:.1f} |")
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
else:
    ss, inspect = table([
        ("ss -tnpi (every socket, with tcp_info and its processes)", ["ss", "-tnpi"]),
        ("inspect --all --once (every process)", [binary, "inspect", "--all", "--once", "--json"]),
    ])
    print(f"inspect --all / ss -tnpi: CPU {inspect[0] / ss[0]:.2f}x, "
          f"largest resident set {inspect[3] / ss[3]:.2f}x")
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
kill "${holders[@]}" 2>/dev/null
holders=()

for shape in "forked 2000" "shared 300"; do
    set -- $shape
    python3 -c "$host_code" "$1" "$2" >"${TMPDIR:-/tmp}/inspect-cost.$$.$1" &
    holders+=($!)
    wait_ready "${TMPDIR:-/tmp}/inspect-cost.$$.$1"
    case $1 in
        forked) echo "3,000 more processes, 2,000 each holding one accepted connection: $(ls /proc | grep -c '^[0-9]') in all" ;;
        shared) echo "300 more processes, each holding all 300 sockets of 150 connections: $(ls /proc | grep -c '^[0-9]') in all" ;;
    esac
    echo
    python3 -c "$measure_code" "$runs" "$binary" - all
    kill "${holders[@]}" 2>/dev/null
    wait "${holders[@]}" 2>/dev/null || true
    holders=()
done
