#!/usr/bin/env bash
# The README's test command: installs what the tests need where it is
# missing, then runs every test.
#
#   scripts/test.sh [cargo test arguments]
#
# The dashboard's test drives Debian's chromium; it is installed with
# apt-get when absent (as root, or through sudo).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null; then
    as_root=()
    [ "$(id -u)" = 0 ] || as_root=(sudo)
    "${as_root[@]}" apt-get update -qq
    "${as_root[@]}" apt-get install -y -qq chromium >/dev/null
fi

cargo test "$@"
