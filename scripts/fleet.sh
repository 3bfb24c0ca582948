#!/usr/bin/env bash
# What a fleet deploys, checked: the static binary (scripts/release.sh) in
# an empty root, a new mount namespace whose root holds only the binary
# and a /proc; the image (deploy/Containerfile) built, its configuration
# read, and its exported root put through the same checks; and the
# manifests (deploy/kubernetes/) validated against Kubernetes' schemas,
# the PrometheusRule held equal to prometheus/any_service.yml and checked
# by promtool. scripts/test.sh runs it, as root.
#
#   scripts/fleet.sh
#
# In each root: `--version`; server 1 answering /hello; and `inspect --all`
# finding a leaking Python program that runs outside the root. A tool
# that cannot be had (buildah, kubernetes-validate) skips its part with a
# line saying so.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "fleet: $*"; }
fail() {
    echo "fleet: FAILED: $*" >&2
    exit 1
}

work=$(mktemp -d)
started=()
cleanup() {
    [ ${#started[@]} -eq 0 ] || kill "${started[@]}" 2>/dev/null || true
    if [ -n "${namespace:-}" ]; then ip netns delete "$namespace" 2>/dev/null || true; fi
    if [ -n "${container:-}" ]; then buildah --storage-driver vfs rm "$container" >/dev/null 2>&1 || true; fi
    if [ -n "${image:-}" ]; then buildah --storage-driver vfs rmi "$image" >/dev/null 2>&1 || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

# Waits, ten seconds at most, for a line starting with $2 in the file $1,
# and prints it.
line_in() {
    for _ in $(seq 100); do
        if grep -q "^$2" "$1" 2>/dev/null; then
            grep -m1 "^$2" "$1"
            return
        fi
        sleep 0.1
    done
    fail "no line '$2' in $1: $(cat "$1" 2>/dev/null)"
}

binary=$(scripts/release.sh | sed -n 's/: [0-9]* bytes, statically linked$//p')
[ -x "$binary" ] || fail "scripts/release.sh made no binary"
say "the static binary: $(stat -c %s "$binary") bytes"
version=$("$binary" --version)

# A keep-alive server, and a Python program that leaks a connection to it
# per client, 30 of them, each used once; both outside every root.
python3 tests/programs/http_server.py 127.0.0.1 >"$work/server" &
started+=($!)
port=$(line_in "$work/server" ready | cut -d' ' -f3)
python3 scripts/python_leaker.py "http://127.0.0.1:$port/hello" --count 30 --rate 20 >"$work/leaker" &
started+=($!)
leaker=$(line_in "$work/leaker" ready | cut -d' ' -f2)
line_in "$work/leaker" sent >/dev/null

# In a new mount namespace: the host's processes on $root/proc, then $root
# as / for the command after it.
enter_root='root=$1; shift; mount -t proc proc "$root/proc" && exec chroot "$root" "$@"'

# Runs the command "$2..." in the root $1.
in_root() {
    unshare --mount --propagation private sh -c "$enter_root" sh "$@"
}

# The three checks, in the root $1, which must hold the binary at
# /reqwest-connection-leak and nothing else but an empty /proc.
checks_in() {
    local root=$1 where=$2
    [ "$(in_root "$root" /reqwest-connection-leak --version)" = "$version" ] ||
        fail "$where: --version"
    # Each exec keeps the PID: $! is server 1's own.
    BIND_ADDRESS=127.0.0.1:0 RUST_LOG=warn unshare --mount --propagation private \
        sh -c "$enter_root" sh "$root" /reqwest-connection-leak >"$work/server1" 2>&1 &
    local server1=$!
    started+=($server1)
    local address
    address=$(line_in "$work/server1" 127.0.0.1)
    curl --silent --max-time 10 "http://$address/hello" | grep -q '"msg":"Hello World"' ||
        fail "$where: server 1's /hello"
    kill "$server1"
    wait "$server1" 2>/dev/null || true
    local status=0
    in_root "$root" /reqwest-connection-leak inspect --all --json --for 2s --interval 500ms --idle 1s \
        >"$work/inspect" || status=$?
    [ "$status" = 1 ] || fail "$where: inspect --all exited $status, not 1 (a leak)"
    tail -n1 "$work/inspect" | python3 -c '
import json, sys
pid = int(sys.argv[1])
rows = json.loads(sys.stdin.read())["rows"]
assert any(row["pid"] == pid and row["verdict"] == "leaks" for row in rows), rows
' "$leaker" || fail "$where: inspect --all did not read the leaker, PID $leaker, as leaking"
    say "$where: --version, server 1's /hello, and inspect --all reading PID $leaker as leaking"
}

root=$work/root
mkdir -p "$root/proc"
cp "$binary" "$root/reqwest-connection-leak"
checks_in "$root" "the empty root"

# The image, built as it is published; this sandbox cannot run a
# container, so its root is exported and checked as the binary's was.
if command -v buildah >/dev/null; then
    context=$work/context
    mkdir -p "$context"
    cp "$binary" "$context/reqwest-connection-leak"
    image=localhost/reqwest-connection-leak:fleet-check-$$
    buildah --storage-driver vfs bud --quiet --isolation chroot \
        -f deploy/Containerfile -t "$image" "$context" >/dev/null
    buildah --storage-driver vfs inspect --type image "$image" | python3 -c '
import json, sys
config = json.load(sys.stdin)["OCIv1"]["config"]
expected = ["/reqwest-connection-leak", "inspect", "--all", "--quiet", "--metrics", ":9464"]
assert config["Entrypoint"] == expected, config["Entrypoint"]
assert "9464/tcp" in config["ExposedPorts"], config["ExposedPorts"]
assert config["User"] == "0:0", config["User"]
labels = config["Labels"]
version = sys.argv[1].split()[-1]
assert labels["org.opencontainers.image.version"] == version, labels
for name in ("title", "description", "licenses"):
    assert labels.get("org.opencontainers.image." + name), name
' "$version" || fail "the image's configuration"
    container=$(buildah --storage-driver vfs from "$image")
    exported=$work/exported
    mkdir -p "$exported"
    mounted=$(buildah --storage-driver vfs mount "$container")
    cp -a "$mounted/." "$exported/"
    buildah --storage-driver vfs umount "$container" >/dev/null
    [ "$(ls -A "$exported")" = "reqwest-connection-leak" ] ||
        fail "the image holds more than the binary: $(ls -A "$exported")"
    mkdir "$exported/proc"
    checks_in "$exported" "the image's root"
else
    say "skipped the image: buildah cannot be installed here (Debian: apt-get install buildah)"
fi

# The manifests, against Kubernetes' own schemas (the CRDs' kinds have
# none there: their parts are checked below).
if command -v kubernetes-validate >/dev/null; then
    kubernetes-validate --strict --quiet deploy/kubernetes/daemonset.yaml deploy/kubernetes/service.yaml ||
        fail "the manifests"
    say "the DaemonSet and the Service validate against Kubernetes' schemas"
else
    say "skipped Kubernetes' schemas: kubernetes-validate cannot be installed here (pip install kubernetes-validate)"
fi
# The DaemonSet's capabilities are the fewest that read a process of
# another user in a network namespace of its own: with them all, inspect
# --all reads it; without any one, it does not.
capabilities() {
    python3 -c '
import sys, yaml
container = yaml.safe_load(open("deploy/kubernetes/daemonset.yaml"))["spec"]["template"]["spec"]["containers"][0]
print(" ".join(container["securityContext"]["capabilities"]["add"]))'
}
# Rows of PID $1 in one sample of inspect --all with only the capabilities
# "$2..." (root's, as in the DaemonSet).
rows_with() {
    local pid=$1
    shift
    local bounding=-all
    for capability in "$@"; do bounding+=",+${capability,,}"; done
    setpriv --bounding-set "$bounding" "$binary" inspect --all --once --json |
        python3 -c 'import json, sys; print(sum(row["pid"] == int(sys.argv[1]) for row in json.load(sys.stdin)["rows"]))' "$pid"
}
if python3 -c "import yaml" 2>/dev/null && [ -x /usr/bin/python3 ] && command -v ip >/dev/null; then
    namespace=fleet-capabilities-$$
    ip netns add "$namespace"
    ip -n "$namespace" link set lo up
    chmod 755 "$work"
    cp tests/programs/changing_process.py "$work/"
    ip netns exec "$namespace" setpriv --reuid=65534 --regid=65534 --clear-groups \
        /usr/bin/python3 "$work/changing_process.py" 6f74686572 >"$work/other" 2>&1 &
    started+=($!)
    other=$(line_in "$work/other" ready | cut -d' ' -f2)
    read -r -a granted <<<"$(capabilities)"
    [ "$(rows_with "$other" "${granted[@]}")" -gt 0 ] ||
        fail "with ${granted[*]}, inspect --all does not read PID $other (nobody's, another namespace)"
    for left_out in "${granted[@]}"; do
        fewer=()
        for capability in "${granted[@]}"; do
            [ "$capability" = "$left_out" ] || fewer+=("$capability")
        done
        [ "$(rows_with "$other" "${fewer[@]}")" = 0 ] ||
            fail "inspect --all reads PID $other without $left_out: the DaemonSet need not add it"
    done
    kill "$other"
    say "the DaemonSet's capabilities, ${granted[*]}, are each needed to read another user's process in another network namespace"
else
    say "skipped the capabilities' check: it needs PyYAML, Debian's /usr/bin/python3 and ip"
fi

if ! python3 -c "import yaml" 2>/dev/null; then
    say "skipped the manifests' parts: no PyYAML (pip install pyyaml)"
    exit 0
fi
python3 - "$work/rules.yml" <<'PY' || fail "the manifests' parts"
import sys, yaml
def load(path):
    with open(path) as file:
        return yaml.safe_load(file)
daemonset = load("deploy/kubernetes/daemonset.yaml")
labels = daemonset["spec"]["template"]["metadata"]["labels"]
assert daemonset["spec"]["selector"]["matchLabels"] == labels
ports = {port["name"] for port in daemonset["spec"]["template"]["spec"]["containers"][0]["ports"]}
service = load("deploy/kubernetes/service.yaml")
assert service["spec"]["selector"] == labels, "the Service selects the DaemonSet's pods"
assert all(port["targetPort"] in ports for port in service["spec"]["ports"])
monitor = load("deploy/kubernetes/podmonitor.yaml")
assert monitor["spec"]["selector"]["matchLabels"] == labels, "the PodMonitor selects them"
assert all(end["port"] in ports for end in monitor["spec"]["podMetricsEndpoints"])
rule = load("deploy/kubernetes/prometheusrule.yaml")
assert rule["kind"] == "PrometheusRule"
assert rule["spec"]["groups"] == load("prometheus/any_service.yml")["groups"], \
    "the PrometheusRule's groups differ from prometheus/any_service.yml's"
with open(sys.argv[1], "w") as out:
    yaml.safe_dump({"groups": rule["spec"]["groups"]}, out)
PY
promtool check rules "$work/rules.yml" >/dev/null || fail "promtool check rules on the PrometheusRule"
say "the PodMonitor and the Service select the DaemonSet's pods and port; the PrometheusRule is prometheus/any_service.yml's, and promtool passes it"
