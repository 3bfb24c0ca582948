#!/usr/bin/env bash
# What each layer of the request path costs /hello: the answer built up
# from the bare floor, each layer a row, every row as a share of the floor,
# all in one run on one machine.
#
#   scripts/layers.sh [SECONDS] [ROUNDS]    default 5 s a row, 6 rounds
#
# The rows take turns, ROUNDS times, and each row's rate is its median
# round: this machine is shared, and one 5 s round of a row can be a sixth
# off its others. The first
# three are examples/layers.rs; the last three the server itself. With
# GO_ORIGINAL set to the Go original's binary (built by
# ../shared/reference/build-go-original.sh), a last row measures it too,
# logging every answer to /dev/null as the server at info does.
# Needs wrk (Debian: apt-get install wrk).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-5}
rounds=${2:-6}
# shellcheck source=scripts/lib/servers.sh
source scripts/lib/servers.sh
require wrk

cargo build --release --quiet --example layers
# layer NAME: examples/layers.rs serving that layer; its address in
# $address.
layer() {
    target/release/examples/layers "$1" 127.0.0.1:0 >"$work/layer-$1.address" 2>/dev/null &
    pids+=("$!")
    address=$(address_in "$work/layer-$1.address")
}

labels=(
    "bare hyper (the floor)"
    "+ axum's router and /hello's handler"
    "+ the connection's wrapper and deadlines"
    "+ the accept loop's counting: the server, RUST_LOG=off"
    "the server, RUST_LOG=warn"
    "+ a log line per answer: the server, RUST_LOG=info"
)
addresses=()
for name in bare routes wrapped; do
    layer "$name"
    addresses+=("$address")
done
start off RUST_LOG=off
addresses+=("$address")
start warn RUST_LOG=warn
addresses+=("$address")
# The log goes to /dev/null, as the Go original's did when compared.
LOG=/dev/null start info RUST_LOG=info
addresses+=("$address")
go_label="the Go original, logging every answer (not a layer)"
if [ -n "${GO_ORIGINAL:-}" ]; then
    require curl python3
    # It listens where BIND_ADDRESS says and does not say where: a free
    # port is found first (a race a measuring script can live with).
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    BIND_ADDRESS="127.0.0.1:$port" "$GO_ORIGINAL" >/dev/null 2>&1 &
    pids+=("$!")
    for _ in $(seq 100); do
        curl -sf "http://127.0.0.1:$port/hello" >/dev/null && break
        sleep 0.05
    done
    labels+=("$go_label")
    addresses+=("127.0.0.1:$port")
fi

declare -A rates
for _ in $(seq "$rounds"); do
    for i in "${!labels[@]}"; do
        rate=$(wrk -t2 -c32 -d"${seconds}s" "http://${addresses[$i]}/hello" |
            awk '/^Requests\/sec:/ {printf "%.0f", $2}')
        rates[$i]="${rates[$i]:-} $rate"
    done
done
declare -A total
for i in "${!labels[@]}"; do
    total[$i]=$(tr ' ' '\n' <<<"${rates[$i]}" | sed '/^$/d' | sort -n |
        awk '{rate[NR] = $1} END {print rate[int((NR + 1) / 2)]}')
done

echo "Machine: $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
echo "Load: wrk -t2 -c32, ${seconds} s per row, $rounds rounds in turns; each row's median round"
echo
echo "| layer | requests/s | of the floor | of the row above |"
echo "|---|---|---|---|"
for i in "${!labels[@]}"; do
    above=${total[$(( i > 0 ? i - 1 : 0 ))]}
    [ "${labels[$i]}" = "$go_label" ] && above=${total[$i]}
    awk -v label="${labels[$i]}" -v rate="${total[$i]}" -v floor="${total[0]}" -v above="$above" \
        'BEGIN {printf "| %s | %d | %.2f | %.2f |\n", label, rate, rate / floor, rate / above}'
done
if [ -n "${GO_ORIGINAL:-}" ]; then
    last=$(( ${#labels[@]} - 1 ))
    echo
    awk -v info="${total[$(( last - 1 ))]}" -v go="${total[$last]}" \
        'BEGIN {printf "the server at RUST_LOG=info: %.2fx the Go original\n", info / go}'
fi
