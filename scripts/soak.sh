#!/usr/bin/env bash
# Bounded load and soak on loopback, printing figures:
#  1. each fixed mode under `wrk -c64` for SECONDS: errors, tasks before and
#     after (3 s idle), RSS before and after;
#  2. LEAKS sequential leaking requests: tasks and RSS every 1,000.
#
#   scripts/soak.sh [SECONDS] [LEAKS]    defaults: 10 5000
#
# Needs wrk (Debian: apt-get install wrk) and curl.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-10}
leaks=${2:-5000}
# shellcheck source=scripts/lib/servers.sh
source scripts/lib/servers.sh
require wrk curl
# Every leaked connection holds a descriptor on each side.
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((leaks + 100)) ]; then
    ulimit -n $((leaks + 100)) 2>/dev/null || {
        echo "soak.sh: $leaks leaks need $((leaks + 100)) descriptors; ulimit -Hn is $(ulimit -Hn)" >&2
        exit 2
    }
fi

rss_mib() { awk -v kib="$(rss_kib "$1")" 'BEGIN {printf "%.1f", kib / 1024}'; }
tasks() { curl -sf "http://$1/hello" | grep -o '"goRoutines":[0-9]*' | cut -d: -f2; }

echo "Machine: $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo); release builds, loopback"
echo
echo "Load: wrk -t2 -c64 -d${seconds}s on server 2's /forward; tasks are /hello's count (it includes its own connection); after = 3 s idle"
echo
echo "| mode | requests/s | non-2xx | socket errors | tasks s2/s1 before | after | RSS s2/s1 before (MiB) | after |"
echo "|---|---|---|---|---|---|---|---|"
# Every scenario but the leak itself, from the binary's own registry.
while IFS=$'\t' read -r _name side flag expectation; do
    [ "$expectation" = leaks ] && continue
    start_pair "$side" "$flag"
    curl -sf "http://$server2/forward" >/dev/null
    before="$(tasks "$server2") / $(tasks "$server1")"
    rss_before="$(rss_mib "$server2_pid") / $(rss_mib "$server1_pid")"
    out=$(wrk -t2 -c64 -d"${seconds}s" "http://$server2/forward")
    rate=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' <<<"$out")
    non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
    socket_errors=$(awk '/Socket errors/ {print $0}' <<<"$out" | sed 's/^ *Socket errors: //')
    sleep 3
    after="$(tasks "$server2") / $(tasks "$server1")"
    rss_after="$(rss_mib "$server2_pid") / $(rss_mib "$server1_pid")"
    label=$flag
    [ "$side" = server1 ] && label="$flag (server 1)"
    echo "| $label | $rate | ${non2xx:-0} | ${socket_errors:-0} | $before | $after | $rss_before | $rss_after |"
    stop "$server1_pid" "$server2_pid"
done < <(scenarios)

echo
echo "Soak: $leaks sequential leaking requests (defaults); figures every 1,000"
echo
echo "| requests | tasks s2 / s1 | tasks per request s2 / s1 | RSS s2 / s1 (MiB) | KB per request s2 / s1 |"
echo "|---|---|---|---|---|"
start_pair
curl -sf "http://$server2/forward" >/dev/null
base2=$(rss_kib "$server2_pid")
base1=$(rss_kib "$server1_pid")
for ((done_requests = 1000; done_requests <= leaks; done_requests += 1000)); do
    for _ in $(seq 1000); do answer=$(curl -sf "http://$server2/forward"); done
    t2=$(grep -o '^{"goRoutines":[0-9]*' <<<"$answer" | cut -d: -f2)
    t1=$(grep -o '"server1Response":{"msg":"Hello World","goRoutines":[0-9]*' <<<"$answer" | grep -o '[0-9]*$')
    r2=$(rss_kib "$server2_pid")
    r1=$(rss_kib "$server1_pid")
    awk -v n="$done_requests" -v t2="$t2" -v t1="$t1" -v r2="$r2" -v r1="$r1" -v b2="$base2" -v b1="$base1" 'BEGIN {
        printf "| %d | %d / %d | %.3f / %.3f | %.1f / %.1f | %.1f / %.1f |\n",
            n, t2, t1, t2 / (n + 1), t1 / (n + 1), r2 / 1024, r1 / 1024,
            (r2 - b2) * 1.024 / n, (r1 - b1) * 1.024 / n }'
done
