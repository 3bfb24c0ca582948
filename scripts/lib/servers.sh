# Sourced by the measuring scripts: release servers on free loopback ports,
# stopped when the script exits.
#
#   require TOOL...             exit 2 unless each tool is installed
#   start NAME [VAR=VALUE...]   start a server; sets $address and $pid. Its
#                               log goes to a file of the run, or to $LOG
#                               when set (LOG=/dev/null start ...)
#   start_pair [SIDE VAR=VALUE] server 1, then server 2 pointed at it, with
#                               the setting on SIDE (server1 or server2, as
#                               the binary's `scenarios` lists them); sets
#                               $server1 $server1_pid $server2 $server2_pid
#   stop PID...                 stop servers and wait for them
#   address_in FILE             the address a server wrote to FILE
#   rss_kib PID                 resident memory in KiB
#   scenarios                   the binary's scenarios, a line each:
#                               name, side, VAR=value, expectation (tabs)

require() {
    for tool in "$@"; do
        if ! command -v "$tool" >/dev/null; then
            echo "$(basename "$0"): $tool is needed (Debian: apt-get install $tool)" >&2
            exit 2
        fi
    done
}

cargo build --release --quiet
binary=target/release/reqwest-connection-leak
work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# Logging stays at warn: the figures are for the server, not for writing a
# line per answer. A server writes the address it listens on, and nothing
# else, as one line to standard output.
start() {
    local name=$1-${#pids[@]}
    shift
    local log=${LOG:-$work/$name.log}
    env BIND_ADDRESS=127.0.0.1:0 RUST_LOG=warn "$@" \
        "$binary" >"$work/$name.address" 2>"$log" &
    pid=$!
    pids+=("$pid")
    if ! address=$(address_in "$work/$name.address"); then
        echo "$(basename "$0"): $name did not start:" >&2
        cat "$log" >&2
        exit 1
    fi
}

# address_in FILE: the address a server wrote there, waiting up to 5 s.
address_in() {
    local address=""
    for _ in $(seq 100); do
        read -r address 2>/dev/null <"$1" || true
        [ -n "$address" ] && echo "$address" && return
        sleep 0.05
    done
    return 1
}

start_pair() {
    local side=${1:-} flag=${2:-}
    local server1_env=() server2_env=()
    [ "$side" = server1 ] && server1_env=("$flag")
    [ "$side" = server2 ] && server2_env=("$flag")
    start server1 "${server1_env[@]}"
    server1=$address
    server1_pid=$pid
    start server2 UPSTREAM_URL="http://$server1/hello" "${server2_env[@]}"
    server2=$address
    server2_pid=$pid
}

stop() {
    kill "$@" 2>/dev/null || true
    wait "$@" 2>/dev/null || true
}

scenarios() { "$binary" scenarios; }

rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

# switch URL VAR=VALUE...: PUT the settings to URL (a /settings, or server
# 2's /upstream/settings for server 1's); exits on a refusal.
switch() {
    local url=$1 body="" pair
    shift
    for pair in "$@"; do
        body+="${body:+,}\"${pair%%=*}\":\"${pair#*=}\""
    done
    curl --silent --show-error --fail-with-body -X PUT \
        -H 'Content-Type: application/json' -d "{$body}" "$url" >/dev/null
}

# counts: server 2's and server 1's /hello counts (each with the asking
# connection's task) and the clients server 2 holds, as "S2 S1 HELD".
counts() {
    local s2 s1 held
    s2=$(curl -s "http://$server2/hello" | sed 's/.*"goRoutines":\([0-9]*\).*/\1/')
    s1=$(curl -s "http://$server1/hello" | sed 's/.*"goRoutines":\([0-9]*\).*/\1/')
    held=$(curl -s "http://$server2/metrics" | awk '$1 == "forward_clients_held" {print $2}')
    echo "$s2 $s1 $held"
}
