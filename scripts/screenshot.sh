#!/usr/bin/env bash
# Takes docs/dashboard.png: server 2's dashboard, in headless Chromium,
# while the curl loop runs against a leaking pair on loopback.
#
#   scripts/screenshot.sh [PNG]    default: docs/dashboard.png
#
# Needs chromium (Debian: apt-get install chromium), Node.js 20 or later,
# and curl.
set -euo pipefail
cd "$(dirname "$0")/.."

png=${1:-docs/dashboard.png}
# shellcheck source=scripts/lib/servers.sh
source scripts/lib/servers.sh
require chromium node curl

start_pair
# The loop at its own pace, for about as long as the page watches.
scripts/load.sh 2000 "http://$server2/forward" >/dev/null 2>&1 &
pids+=("$!")
seconds=12
node --experimental-websocket --no-warnings scripts/lib/screenshot.mjs \
    "http://$server2/" "$png" "$seconds" 1400 1250 "$work/chromium"
echo "$png: server 2's dashboard after $seconds s of the curl loop"
