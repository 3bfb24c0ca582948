#!/usr/bin/env bash
# The README's test command: installs what the tests need where it is
# missing, then runs every test.
#
#   scripts/test.sh [cargo test --release arguments]
#
# The dashboard's test drives Debian's chromium, the alert rules' tests
# run Debian's prometheus and its promtool, and inspect's tests run
# python3, node and ip; each is installed with apt-get when absent (as root, or
# through sudo).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v prometheus >/dev/null && command -v promtool >/dev/null || missing+=(prometheus)
# inspect's and the switches' tests: Python and Node programs that leak or
# not, network namespaces, and curl from inside one.
command -v python3 >/dev/null || missing+=(python3)
command -v node >/dev/null || missing+=(nodejs)
command -v ip >/dev/null || missing+=(iproute2)
command -v curl >/dev/null || missing+=(curl)
# The fleet's checks (scripts/fleet.sh): the image is built by buildah.
command -v buildah >/dev/null || missing+=(buildah)
if [ ${#missing[@]} -gt 0 ]; then
    as_root=()
    [ "$(id -u)" = 0 ] || as_root=(sudo)
    "${as_root[@]}" apt-get update -qq
    "${as_root[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The manifests are validated by kubernetes-validate, from PyPI, which
# bundles Kubernetes' schemas.
if ! command -v kubernetes-validate >/dev/null; then
    python3 -m pip install --quiet kubernetes-validate ||
        python3 -m pip install --quiet --break-system-packages kubernetes-validate ||
        echo "test.sh: kubernetes-validate cannot be installed; fleet.sh skips Kubernetes' schemas"
fi

# The alert rules: their syntax, and their own tests (prometheus/).
promtool check config prometheus/prometheus.yml
promtool check rules prometheus/alerts.yml
promtool test rules prometheus/alerts_test.yml
promtool check rules prometheus/any_service.yml
promtool test rules prometheus/any_service_test.yml

# What a fleet deploys: the static binary in an empty root, the image,
# the manifests (a mount namespace and chroot need root).
if [ "$(id -u)" = 0 ]; then
    scripts/fleet.sh
else
    echo "test.sh: skipped scripts/fleet.sh: an empty root needs root"
fi

# Most tests wait, on servers, browsers and clocks, far more than they
# compute: the whole suite takes about 40 s of CPU. So they run 16 at a
# time, not one per core, unless RUST_TEST_THREADS says otherwise.
export RUST_TEST_THREADS="${RUST_TEST_THREADS:-16}"

# The release profile: the demo's build (cargo run --release -- demo)
# serves the tests too, and the walkthrough's servers after them.
cargo test --release "$@"
