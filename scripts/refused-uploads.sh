#!/usr/bin/env bash
# What refused switches cost a server: COUNT peers that are not loopback
# (from a network namespace of their own) each send SIZE bytes to
# `PUT /settings` at once, under the default SWITCHES=loopback. The server's
# resident memory before, at its peak while they send, and 5 s after.
#
#   scripts/refused-uploads.sh [COUNT] [SIZE]    defaults: 100 2000000
#
# Needs root (two network namespaces linked by a virtual cable, fixed
# private addresses inside them only, removed at the end), ip and python3.
set -euo pipefail
cd "$(dirname "$0")/.."

count=${1:-100}
size=${2:-2000000}
[ "$(id -u)" = 0 ] || { echo "refused-uploads.sh: needs root for its network namespaces" >&2; exit 2; }
# shellcheck source=scripts/lib/servers.sh
source scripts/lib/servers.sh
require ip python3

server_ns="leak-uploads-server-$$"
peer_ns="leak-uploads-peer-$$"
remove_namespaces() {
    ip netns delete "$server_ns" 2>/dev/null || true
    ip netns delete "$peer_ns" 2>/dev/null || true
}
trap 'cleanup; remove_namespaces' EXIT
ip netns add "$server_ns"
ip netns add "$peer_ns"
ip link add eth0 netns "$server_ns" type veth peer name eth0 netns "$peer_ns"
ip -n "$server_ns" addr add 10.250.0.1/24 dev eth0
ip -n "$peer_ns" addr add 10.250.0.2/24 dev eth0
for ns in "$server_ns" "$peer_ns"; do
    ip -n "$ns" link set lo up
    ip -n "$ns" link set eth0 up
done

ip netns exec "$server_ns" env BIND_ADDRESS=10.250.0.1:0 RUST_LOG=warn "$binary" \
    >"$work/address" 2>"$work/log" &
pid=$!
pids+=("$pid")
address=$(address_in "$work/address")

peak=0
before=$(rss_kib "$pid")
ip netns exec "$peer_ns" python3 - "$address" "$count" "$size" >"$work/uploads" <<'PY' &
import socket, sys, threading
host, port = sys.argv[1].rsplit(":", 1)
count, size = int(sys.argv[2]), int(sys.argv[3])
answers = []
def upload():
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(f"PUT /settings HTTP/1.1\r\nHost: {sys.argv[1]}\r\n"
                  f"Content-Type: application/json\r\nContent-Length: {size}\r\n\r\n".encode())
        try:
            chunk = b"x" * 65536
            for _ in range(size // len(chunk)):
                s.sendall(chunk)
        except OSError:
            pass  # refused and closed: the rest is not wanted
        try:
            answers.append(s.recv(64).split(b" ")[1].decode())
        except (OSError, IndexError):
            answers.append("none")
threads = [threading.Thread(target=upload) for _ in range(count)]
for t in threads: t.start()
for t in threads: t.join()
print(" ".join(sorted(set(answers))), answers.count("403"))
PY
uploads=$!
while kill -0 "$uploads" 2>/dev/null; do
    now=$(rss_kib "$pid")
    [ "$now" -gt "$peak" ] && peak=$now
    sleep 0.05
done
read -r statuses refused <"$work/uploads"
sleep 5
after=$(rss_kib "$pid")
mib() { awk -v kib="$1" 'BEGIN {printf "%.1f", kib / 1024}'; }
echo "$count peers not on loopback, $size bytes each to PUT /settings (SWITCHES=loopback)"
echo "answers: $statuses ($refused of $count got 403)"
echo "server RSS: before $(mib "$before") MiB, peak $(mib "$peak") MiB, 5 s after $(mib "$after") MiB; growth at the peak $(mib $((peak - before))) MiB"
