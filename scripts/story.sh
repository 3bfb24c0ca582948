#!/usr/bin/env bash
# The lesson on one running pair, in four acts, watched by the dashboard:
#
#   1. 200 requests on the defaults: both servers gain a task per request.
#   2. DISABLE_KEEP_ALIVES=true on server 2, then 200 more: growth stops,
#      and the 200 leaked stay (a client knob acts on clients built after).
#   3. SERVER_KEEP_ALIVES=false on server 1: the connections waiting are
#      closed at once, and both counts fall to a handful.
#   4. Back to the defaults, then 100 more: it leaks again.
#
# It prints the counts after each act, and takes server 2's dashboard at
# the end. The picture the README opens with is refreshed by naming it:
#
#   scripts/story.sh [PNG]    default: target/dashboard-story.png
#   scripts/story.sh docs/dashboard.png
#
# Needs chromium (Debian: apt-get install chromium), Node.js 20 or later,
# and curl.
set -euo pipefail
cd "$(dirname "$0")/.."

png=${1:-target/dashboard-story.png}
mkdir -p "$(dirname "$png")"
# shellcheck source=scripts/lib/servers.sh
source scripts/lib/servers.sh
require chromium node curl

start_pair
# The page watches the whole story, from a second before it starts, until
# it has seen all 500 of its requests answered, however long that takes.
all_seen="Number(document.querySelector(\`[data-server=\"server2\"][data-outcome=\"ok\"]\`).textContent) >= 500"
node --experimental-websocket --no-warnings scripts/lib/drive.mjs "http://$server2/" \
    --until "$all_seen" --deadline 180 --png "$png" --profile "$work/chromium" >"$work/page.json" &
page=$!
sleep 2

act() {
    printf '%-44s server 2 / server 1 tasks, held clients: %s\n' "$1" "$(counts)"
}
loop() { scripts/load.sh "$1" "http://$server2/forward" >/dev/null; }

act "at rest"
loop 200
act "1. 200 requests on the defaults"
sleep 1.5
switch "http://$server2/settings" DISABLE_KEEP_ALIVES=true
loop 200
act "2. DISABLE_KEEP_ALIVES=true, 200 more"
sleep 1.5
switch "http://$server2/upstream/settings" SERVER_KEEP_ALIVES=false
sleep 2
act "3. SERVER_KEEP_ALIVES=false on server 1, 2 s"
sleep 1.5
switch "http://$server2/settings" DISABLE_KEEP_ALIVES=false
switch "http://$server2/upstream/settings" SERVER_KEEP_ALIVES=true
loop 100
act "4. back to the defaults, 100 more"
wait "$page"
echo "$png: server 2's dashboard over the story; it shows $(cat "$work/page.json")"
