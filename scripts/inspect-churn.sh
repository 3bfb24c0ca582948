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
# shellcheck source=scripts/lib/servers.sh
source scripts/lib/servers.sh
require python3 curl

python3 tests/programs/http_server.py 127.0.0.1 >"$work/server" &
pids+=($!)
read -r _ server port <<<"$(address_in "$work/server")"
"$binary" inspect --metrics 127.0.0.1:0 --json "$server" >/dev/null 2>"$work/inspect" &
inspect=$!
pids+=($inspect)
metrics=$(address_in "$work/inspect" | sed -n 's/^inspect: serving \/metrics on //p')

python3 tests/programs/waiting_clients.py churn 127.0.0.1 "$port" --count "$clients" >"$work/churn" &
churn=$!
pids+=($churn)

figures() {
    local rss bytes series
    rss=$(awk -v kib="$(rss_kib "$inspect")" 'BEGIN {print kib / 1024}')
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
# Until the churn says it is over, or is gone without saying so.
while ! grep -q '^left' "$work/churn" && kill -0 "$churn" 2>/dev/null; do
    scrapes
    figures "churning, $((SECONDS - started)) s"
done
figures "churn over ($clients gone)"
for _ in $(seq 7); do
    scrapes
    figures "after, $((SECONDS - started)) s"
done
