#!/usr/bin/env bash
# The curl loop of the walkthrough: N sequential requests to server 2's
# /forward, printing each answer.
#
#   scripts/load.sh [N] [URL]    defaults: 400 http://localhost:9090/forward
set -euo pipefail

count=${1:-400}
url=${2:-http://localhost:9090/forward}

if ! [[ $count =~ ^[0-9]+$ ]]; then
    echo "load.sh: N must be a whole number, got '$count'" >&2
    exit 2
fi
if ! command -v curl >/dev/null; then
    echo "load.sh: curl is needed (Debian: apt-get install curl)" >&2
    exit 2
fi

for ((i = 1; i <= count; i++)); do
    # -f is left out on purpose: a 502 from /forward carries a JSON error
    # worth printing. Only "nothing answered" stops the loop.
    if ! curl --silent --show-error --max-time 10 "$url"; then
        echo "load.sh: no answer from $url (request $i of $count)." >&2
        echo "Is server 2 running? Start it with: BIND_ADDRESS=:9090 cargo run --release" >&2
        exit 1
    fi
    echo ""
done
