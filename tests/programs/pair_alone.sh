#!/usr/bin/env bash
# A pair of this project's servers, paced requests through it, and
# `inspect --all` beside them, in a PID namespace of their own, so that
# --all sees these processes alone. Run as root:
#
#   unshare --pid --fork --mount-proc tests/programs/pair_alone.sh BINARY CLIENT_LIFETIME
#
# Prints inspect's JSON samples; exits with inspect's status.
set -euo pipefail
binary=$1
lifetime=$2

exec 3< <(exec env -i RUST_LOG=warn BIND_ADDRESS=127.0.0.1:0 "$binary")
read -r server1 <&3
exec 4< <(exec env -i RUST_LOG=warn BIND_ADDRESS=127.0.0.1:0 \
    UPSTREAM_URL="http://$server1/hello" CLIENT_LIFETIME="$lifetime" "$binary")
read -r server2 <&4
for _ in $(seq 30); do
    curl --silent --max-time 10 "http://$server2/forward" >/dev/null
    sleep 0.05
done
status=0
"$binary" inspect --all --json --for 4s --interval 250ms --idle 1s || status=$?
exit "$status"
