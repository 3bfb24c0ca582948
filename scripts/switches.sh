#!/usr/bin/env bash
# What each fix does when switched on a pair that already leaked, as Go
# would: for every scenario that sets something, a fresh pair, 200 leaking
# requests, the switch, the counts in the 2 s after it, then 200 more
# requests and the counts 3 s after them.
#
#   scripts/switches.sh
#
# Each cell is server 2 / server 1 tasks (each with the asking
# connection's task) and, after the comma, the clients server 2 holds.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/lib/servers.sh
source scripts/lib/servers.sh
require curl

cell() { counts | awk '{printf "%s / %s, %s", $1, $2, $3}'; }
loop() { scripts/load.sh "$1" "http://$server2/forward" >/dev/null; }

printf '%-44s | %-14s | %-14s | %-14s | %-14s | %-14s | %s\n' "switch (after 200 leaked)" \
    before "0 s after" "1 s after" "2 s after" "200 more" "3 s idle"
while IFS=$'\t' read -r _name side setting _expectation; do
    [ "$setting" = - ] && continue
    start_pair
    loop 200
    before=$(cell)
    path=/settings
    [ "$side" = server1 ] && path=/upstream/settings
    switch "http://$server2$path" "$setting"
    at0=$(cell)
    sleep 1
    at1=$(cell)
    sleep 1
    at2=$(cell)
    loop 200
    more=$(cell)
    sleep 3
    idle=$(cell)
    where=""
    [ "$side" = server1 ] && where=" (server 1)"
    printf '%-44s | %-14s | %-14s | %-14s | %-14s | %-14s | %s\n' "$setting$where" \
        "$before" "$at0" "$at1" "$at2" "$more" "$idle"
    stop "$server2_pid" "$server1_pid"
done < <(scenarios)
