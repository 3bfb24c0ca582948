#!/usr/bin/env bash
# inspect as a sidecar under churn: CLIENTS clients from as many loopback
# addresses (127.1.x.y) call a keep-alive server once each and leave, 200 at
# a time, while `inspect --metrics` watches the server with its defaults and
# is scraped once a second. Prints, every ten seconds, inspect's resident
# memory, the size of /metrics and its series, then the same once the
# churn is over and --forget (1m) has passed.
#
#   scripts/inspect-churn.sh [CLIENTS]    default: 20000
set -euo pipefail
cd "$(dirname "$0")/.."

clients=${1:-20000}
cargo build --release --quiet
binary=target/release/reqwest-connection-leak
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$work"' EXIT

python3 tests/programs/http_server.py 127.0.0.1 >"$work/server" &
pids+=($!)
until [ -s "$work/server" ]; do sleep 0.1; done
read -r _ server port <"$work/server"
"$binary" inspect --metrics 127.0.0.1:0 --json "$server" >/dev/null 2>"$work/inspect" &
inspect=$!
pids+=($inspect)
until [ -s "$work/inspect" ]; do sleep 0.1; done
metrics=$(sed -n 's/^inspect: serving \/metrics on //p' "$work/inspect")

python3 tests/programs/waiting_clients.py churn 127.0.0.1 "$port" --count "$clients" >"$work/churn" &
pids+=($!)

figures() {
    local rss bytes series
    rss=$(awk '/VmRSS/ {print $2 / 1024}' "/proc/$inspect/status")
    curl -s "http://$metrics/metrics" >"$work/scrape"
    bytes=$(wc -c <"$work/scrape")
    series=$(grep -vc '^#' "$work/scrape" || true)
    printf '%-28s RSS %5.1f MiB  /metrics %8d bytes  %6d series\n' "$1" "$rss" "$bytes" "$series"
}

# Ten seconds of scrapes, one a second.
scrapes() {
    for _ in $(seq 10); do
        curl -s "http://$metrics/metrics" >/dev/null
        sleep 1
    done
}

started=$SECONDS
while ! grep -q '^left' "$work/churn"; do
    scrapes
    figures "churning, $((SECONDS - started)) s"
done
figures "churn over ($clients gone)"
for _ in $(seq 7); do
    scrapes
    figures "after, $((SECONDS - started)) s"
done
