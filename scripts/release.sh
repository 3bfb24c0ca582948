#!/usr/bin/env bash
# One statically linked x86_64 Linux binary of the whole program (the
# release profile, jemalloc and tls), for hosts with no Rust toolchain and
# for the image (Containerfile): no shared library, not even glibc's, is
# needed at run time. Prints where it is and its size.
#
#   scripts/release.sh
#
# The gnu target with glibc linked statically (`+crt-static`), which the
# toolchain here has; naming the target keeps the flag off build scripts
# and procedural macros, which must stay dynamic. Static glibc resolves
# host names without its NSS plugins (files and DNS still work); nothing
# inspect does resolves any.
set -euo pipefail
cd "$(dirname "$0")/.."

target=x86_64-unknown-linux-gnu
RUSTFLAGS="-C target-feature=+crt-static" \
    cargo build --release --quiet --features tls --target "$target"
binary=target/$target/release/reqwest-connection-leak
# ldd says so of a static binary (a static PIE included), and lists the
# libraries of any other.
case "$(ldd "$binary" 2>&1)" in
    *"statically linked"* | *"not a dynamic executable"*) ;;
    *)
        echo "release.sh: $binary is not static:" >&2
        ldd "$binary" >&2
        exit 1
        ;;
esac
echo "$binary: $(stat -c %s "$binary") bytes, statically linked"
