#!/usr/bin/env bash
# Throughput, latency and memory of release builds on loopback, in one run
# on one machine, so that every ratio compares figures measured together.
#
#   scripts/bench.sh [SECONDS]    seconds of load per row, default 5
#
# With GO_ORIGINAL set to the Go original's binary (built by
# ../shared/reference/build-go-original.sh), the memory a leaked request
# holds is measured on its pair too, in the same run; it listens on 8080
# and 9090, which must be free. Needs wrk (Debian: apt-get install wrk)
# and curl.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-5}
leaks=1000
# shellcheck source=scripts/lib/servers.sh
source scripts/lib/servers.sh
require wrk curl

# load LABEL CONNECTIONS URL [wrk args...]: one row of the table.
load() {
    local label=$1 connections=$2 url=$3
    shift 3
    local out
    out=$(wrk -t2 -c"$connections" -d"${seconds}s" --latency "$@" "$url")
    local rate p50 p99 errors
    rate=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    errors=$(awk '/Non-2xx|Socket errors/ {printf "%s ", $0}' <<<"$out")
    printf '| %-50s | %5s | %10s | %9s | %9s |%s\n' "$label" "$connections" "$rate" "$p50" "$p99" \
        "${errors:+ $errors}"
}

# The floor: the same /hello on the same stack with nothing else.
cargo build --release --quiet --example layers
target/release/examples/layers bare 127.0.0.1:0 >"$work/bare.address" &
pids+=("$!")
bare=$(address_in "$work/bare.address")

# Servers at the default RUST_LOG log every answer: to /dev/null here, as
# the Go original's log went in the comparison with it.
LOG=/dev/null start hello_info RUST_LOG=info
hello_info=$address
start server1
server1=$address
start no_keep_alives UPSTREAM_URL="http://$server1/hello" DISABLE_KEEP_ALIVES=true
forward_no_keep_alives=$address
no_keep_alives_pid=$pid
LOG=/dev/null start no_keep_alives_info UPSTREAM_URL="http://$server1/hello" DISABLE_KEEP_ALIVES=true RUST_LOG=info
forward_no_keep_alives_info=$address
start request UPSTREAM_URL="http://$server1/hello" CLIENT_LIFETIME=request
forward_request=$address
# The shared client keeps an idle connection for each of wrk's 8, so that
# its row is a /forward on connections reused (Go's default keeps 2 and
# opens the others anew each time).
start process UPSTREAM_URL="http://$server1/hello" CLIENT_LIFETIME=process MAX_IDLE_CONNS_PER_HOST=8
forward_process=$address

echo "Machine: $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
echo "Load: wrk -t2, ${seconds} s per row, loopback, release builds; RUST_LOG=warn unless the row says info"
echo
echo "| what | conns | requests/s | p50 | p99 |"
echo "|---|---|---|---|---|"
rows=$(mktemp -p "$work")
rss_before_no_keep_alives=$(rss_kib "$no_keep_alives_pid")
{
    # The three /hello rows whose ratios the goals name take turns, twice,
    # so that a noisy moment of the machine does not fall on one of them.
    for round in 1 2; do
        load "/hello, bare hyper (the floor), round $round" 32 "http://$bare/hello"
        load "/hello, RUST_LOG=info, round $round" 32 "http://$hello_info/hello"
        load "/hello, round $round" 32 "http://$server1/hello"
    done
    load "/hello, Connection: close (new connection each)" 8 "http://$server1/hello" -H "Connection: close"
    load "/forward, DISABLE_KEEP_ALIVES=true, RUST_LOG=info" 8 "http://$forward_no_keep_alives_info/forward"
    load "/forward, DISABLE_KEEP_ALIVES=true" 8 "http://$forward_no_keep_alives/forward"
    load "/forward, CLIENT_LIFETIME=request" 8 "http://$forward_request/forward"
    load "/forward, CLIENT_LIFETIME=process (shared, 8 idle kept)" 8 "http://$forward_process/forward"
} | tee "$rows"
rss_after_no_keep_alives=$(rss_kib "$no_keep_alives_pid")

# rate LABEL: the requests/s of the row labelled LABEL, or the sum over
# its rounds.
rate() {
    awk -F'|' -v label="$1" '
        {l = $2; gsub(/^ +| +$/, "", l); sub(/, round [0-9]+$/, "", l)}
        l == label {gsub(/ /, "", $4); sum += $4}
        END {print sum}' "$rows"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
floor=$(rate "/hello, bare hyper (the floor)")
hello_info_rate=$(rate "/hello, RUST_LOG=info")
hello_warn_rate=$(rate "/hello")
close_rate=$(rate "/hello, Connection: close (new connection each)")
fresh_info=$(rate "/forward, DISABLE_KEEP_ALIVES=true, RUST_LOG=info")
fresh_warn=$(rate "/forward, DISABLE_KEEP_ALIVES=true")
shared=$(rate "/forward, CLIENT_LIFETIME=process (shared, 8 idle kept)")
# A fresh-client /forward is a shared-client /forward plus a new
# connection: its rate is at most one over the sum of their costs.
bound=$(awk -v s="$shared" -v c="$close_rate" 'BEGIN {printf "%.0f", 1 / (1 / s + 1 / c)}')
echo
echo "/hello, RUST_LOG=info: $(ratio "$hello_info_rate" "$floor") of bare hyper"
echo "/hello, RUST_LOG=warn: $(ratio "$hello_warn_rate" "$floor") of bare hyper"
echo "fresh-client /forward, RUST_LOG=info: $(ratio "$fresh_info" "$fresh_warn") of its RUST_LOG=warn rate, $(ratio "$fresh_info" "$bound") of its bound ($bound requests/s: 1 / (1/shared + 1/new connection))"
echo "fresh-client /forward, RUST_LOG=warn: $(ratio "$fresh_warn" "$bound") of its bound"

echo
echo "DISABLE_KEEP_ALIVES=true server 2 RSS across its load: $((rss_before_no_keep_alives / 1024)) MiB -> $((rss_after_no_keep_alives / 1024)) MiB"

# Memory: a fresh leaking pair, one request to warm it, then $leaks more.
declare -A base_of
# leak URL PID...: one request to warm the pair, each PID's RSS then, and
# $leaks more requests.
leak() {
    local url=$1
    curl -sf "$url" >/dev/null
    for pid in "${@:2}"; do base_of[$pid]=$(rss_kib "$pid"); done
    for _ in $(seq "$leaks"); do curl -sf "$url" >/dev/null; done
}
# kb_per_leak PID: the RSS added per leaked request since leak began.
kb_per_leak() {
    awk -v before="${base_of[$1]}" -v after="$(rss_kib "$1")" -v n="$leaks" \
        'BEGIN {printf "%.1f KB", (after - before) * 1024 / n / 1000}'
}
mib() { awk -v kib="$1" 'BEGIN {printf "%.1f MiB", kib / 1024}'; }
start_pair
leak "http://$server2/forward" "$server2_pid" "$server1_pid"
echo
echo "| memory | server 2 | server 1 |"
echo "|---|---|---|"
echo "| baseline RSS | $(mib "${base_of[$server2_pid]}") | $(mib "${base_of[$server1_pid]}") |"
echo "| RSS added per leaked request ($leaks requests) | $(kb_per_leak "$server2_pid") | $(kb_per_leak "$server1_pid") |"
if [ -n "${GO_ORIGINAL:-}" ]; then
    # Its /forward calls localhost:8080, so its server 1 must listen there.
    BIND_ADDRESS=:8080 "$GO_ORIGINAL" >/dev/null 2>&1 &
    go1=$!
    pids+=("$go1")
    BIND_ADDRESS=:9090 "$GO_ORIGINAL" >/dev/null 2>&1 &
    go2=$!
    pids+=("$go2")
    for _ in $(seq 100); do
        curl -sf http://127.0.0.1:9090/hello >/dev/null && break
        sleep 0.05
    done
    leak http://127.0.0.1:9090/forward "$go2" "$go1"
    echo "| the Go original, same run: baseline RSS | $(mib "${base_of[$go2]}") | $(mib "${base_of[$go1]}") |"
    echo "| the Go original, same run: RSS added per leaked request | $(kb_per_leak "$go2") | $(kb_per_leak "$go1") |"
fi
