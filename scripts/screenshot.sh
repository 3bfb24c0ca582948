#!/usr/bin/env bash
# Takes a screenshot of server 2's dashboard, in headless Chromium, while
# the curl loop runs against a leaking pair on loopback.
#
#   scripts/screenshot.sh [PNG]    default: target/dashboard.png
#
# (scripts/story.sh takes the one the README opens with.)
#
# Needs chromium (Debian: apt-get install chromium), Node.js 20 or later,
# and curl.
set -euo pipefail
cd "$(dirname "$0")/.."

png=${1:-target/dashboard.png}
mkdir -p "$(dirname "$png")"
# shellcheck source=scripts/lib/servers.sh
source scripts/lib/servers.sh
require chromium node curl

start_pair
# The loop at its own pace, for about as long as the page watches.
scripts/load.sh 2000 "http://$server2/forward" >/dev/null 2>&1 &
pids+=("$!")
seconds=12
node --experimental-websocket --no-warnings scripts/lib/drive.mjs "http://$server2/" \
    --wait "$seconds" --png "$png" --profile "$work/chromium" >/dev/null
echo "$png: server 2's dashboard after $seconds s of the curl loop"
