#!/usr/bin/env bash
# The allocator and the release profile, chosen by measurement: builds
# this commit once per variant, each from nothing in a target folder of
# its own (the crates already downloaded), timing the build; then, in one
# run, measures every variant's /hello and fresh-client /forward
# throughput (rounds taken in turn) and the memory each leaked request
# holds on either side.
#
#   scripts/allocators.sh [SECONDS]   seconds of load per row, default 5
#
# A variant is an allocator (system, jemalloc or mimalloc) and a release
# profile. Needs wrk, curl, python3 and git; the variants' crates are
# fetched with cargo add, from the registry or its local cache.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-5}
leaks=1000
# name allocator profile (the [profile.release] lines, ; between them)
variants=(
    "jemalloc-lto-s jemalloc lto=true;codegen-units=1;opt-level=\"s\""
    "system-lto-s system lto=true;codegen-units=1;opt-level=\"s\""
    "mimalloc-lto-s mimalloc lto=true;codegen-units=1;opt-level=\"s\""
    "mimalloc-s mimalloc opt-level=\"s\""
    "mimalloc-default mimalloc opt-level=3"
)
# shellcheck source=scripts/lib/servers.sh
source scripts/lib/servers.sh
require wrk curl python3 git

# variant DIR ALLOCATOR PROFILE: this commit in DIR with that allocator
# and that release profile.
variant() {
    local dir=$1 allocator=$2 profile=$3
    git worktree add --quiet --detach "$dir" HEAD
    python3 - "$dir" "$allocator" "$profile" <<'EOF'
import re, sys
dir, allocator, profile = sys.argv[1:]
statics = {
    "jemalloc": "static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;",
    "mimalloc": "static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;",
    "system": "",
}
main = open(f"{dir}/src/main.rs").read()
block = re.compile(r"#\[cfg\([^\n]*\)\]\n#\[global_allocator\]\nstatic ALLOCATOR[^\n]*\n")
assert block.search(main), "src/main.rs names no allocator"
wanted = statics[allocator]
main = block.sub(f'#[cfg(not(target_env = "msvc"))]\n#[global_allocator]\n{wanted}\n' if wanted else "", main)
open(f"{dir}/src/main.rs", "w").write(main)
manifest = open(f"{dir}/Cargo.toml").read()
manifest = re.sub(r"(?m)^(tikv-jemallocator|mimalloc|default|jemalloc) = .*\n", "", manifest)
manifest = manifest[: manifest.index("[profile.release]")]
manifest += "[profile.release]\n" + "\n".join(profile.split(";")) + "\n"
open(f"{dir}/Cargo.toml", "w").write(manifest)
EOF
    local crate
    case $allocator in
        jemalloc) crate=tikv-jemallocator@0.7 ;;
        mimalloc) crate=mimalloc@0.1 ;;
        system) crate="" ;;
    esac
    if [ -n "$crate" ]; then
        (cd "$dir" && cargo add --quiet --target 'cfg(not(target_env = "msvc"))' "$crate")
    fi
}

names=()
declare -A built_in binaries
trap 'for n in "${names[@]}"; do git worktree remove --force "$work/$n" 2>/dev/null || true; done; cleanup' EXIT
for entry in "${variants[@]}"; do
    read -r name allocator profile <<<"$entry"
    dir=$work/$name
    names+=("$name")
    variant "$dir" "$allocator" "$profile"
    began=$(date +%s.%N)
    (cd "$dir" && CARGO_TARGET_DIR=$dir/target cargo build --release --quiet)
    built_in[$name]=$(awk -v a="$began" -v b="$(date +%s.%N)" 'BEGIN {printf "%.0f", b - a}')
    binaries[$name]=$dir/target/release/reqwest-connection-leak
    echo "$name: built in ${built_in[$name]} s" >&2
done

# rate URL CONNECTIONS: requests a second of one wrk row.
rate() {
    wrk -t2 -c"$2" -d"${seconds}s" "$1" | awk '/^Requests\/sec:/ {printf "%.0f", $2}'
}

declare -A hello forward hello_at forward_at
for name in "${names[@]}"; do
    binary=${binaries[$name]}
    start server1
    hello_at[$name]=$address
    start no_keep_alives UPSTREAM_URL="http://$address/hello" DISABLE_KEEP_ALIVES=true
    forward_at[$name]=$address
done
# The rows take turns, twice, so that a noisy moment of the machine does
# not fall on one variant.
for round in 1 2; do
    for name in "${names[@]}"; do
        hello[$name]+="$(rate "http://${hello_at[$name]}/hello" 32) "
        forward[$name]+="$(rate "http://${forward_at[$name]}/forward" 8) "
    done
done

echo "Machine: $(nproc) cores; wrk -t2, ${seconds} s a row, two rounds; RSS after $leaks leaked requests on a fresh pair"
echo
echo "| variant | release profile | build from nothing | /hello req/s | fresh-client /forward req/s | KB per leaked request, server 2 / server 1 | baseline RSS, server 2 / server 1 |"
echo "|---|---|---|---|---|---|---|"
for entry in "${variants[@]}"; do
    read -r name allocator profile <<<"$entry"
    binary=${binaries[$name]}
    start_pair
    curl -sf "http://$server2/forward" >/dev/null
    base2=$(rss_kib "$server2_pid")
    base1=$(rss_kib "$server1_pid")
    for _ in $(seq "$leaks"); do curl -sf "http://$server2/forward" >/dev/null; done
    per2=$(awk -v a="$base2" -v b="$(rss_kib "$server2_pid")" -v n="$leaks" 'BEGIN {printf "%.1f", (b - a) * 1.024 / n}')
    per1=$(awk -v a="$base1" -v b="$(rss_kib "$server1_pid")" -v n="$leaks" 'BEGIN {printf "%.1f", (b - a) * 1.024 / n}')
    stop "$server1_pid" "$server2_pid"
    printf '| %s | `%s` | %s s | %s| %s| %s / %s | %s / %s MiB |\n' "$allocator" "${profile//;/ }" \
        "${built_in[$name]}" "${hello[$name]}" "${forward[$name]}" "$per2" "$per1" \
        "$(awk -v k="$base2" 'BEGIN {printf "%.1f", k / 1024}')" "$(awk -v k="$base1" 'BEGIN {printf "%.1f", k / 1024}')"
done
