#!/usr/bin/env bash
# Remote control plane latency on loopback (bench/README.md):
#   1. the start-up of the client (`supervisor remote --help`: the runtime alone, no connection);
#   2. a whole `supervisor remote state ID` call: process start, ActorSystem, mutual TLS, one signed
#      GetState round trip, shutdown (what a shell script pays per call); median of N calls;
#   3. GetState round trips on one established connection (supervisor-remote bench): the protocol's own
#      cost (signature, certificate checks in the gateway, the supervisor's answer);
#   4. where a whole call's time goes: N more calls with SUPERVISOR_TIMING=1 (the client's phase marks on
#      stderr, with wall-clock times), each phase's median from the previous mark (the first from the
#      shell's clock just before the exec, the last up to the process's end).
# Needs root (it runs a busybox container), make build and make rootfs. Uses its own CA, state root and port.
#
#   bench/remote-latency.sh            N=20 calls, 2000 round trips
#   N=50 COUNT=5000 bench/remote-latency.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=${SUPERVISOR_BIN:-$ROOT/artifacts/bin}
N=${N:-20}
COUNT=${COUNT:-2000}
PORT=${PORT:-4253}
work=$(mktemp -d /tmp/sv-remote-bench.XXXXXX)
state=/run/sv-remote-bench-$$
daemon_pid=""

cleanup() {
    if [[ -n $daemon_pid ]]; then kill "$daemon_pid" 2>/dev/null || true; wait "$daemon_pid" 2>/dev/null || true; fi
    "$BIN/supervisor" --root "$state" delete --force bench >/dev/null 2>&1 || true
    rm -rf "$work" "$state" "$state-bundles"
}
trap cleanup EXIT

scripts/make-certs.sh "$work/certs" >/dev/null
[[ -x $ROOT/artifacts/rootfs/bin/busybox ]] || scripts/make-rootfs.sh "$ROOT/artifacts/rootfs" >/dev/null
mkdir -p "$work/bundle"
cp -a "$ROOT/artifacts/rootfs" "$work/bundle/rootfs"
(cd "$work/bundle" && "$BIN/supervisor" spec && sed -i 's/"terminal": true/"terminal": false/; s#"sh"#"/bin/sleep", "100000"#' config.json)

sed -e "s#artifacts/certs#$work/certs#g" -e "s#port = 4053#port = $PORT#" -e "s#/run/supervisor-remote-dev#$state#" \
    config/remote-dev.conf > "$work/daemon.conf"
"$BIN/supervisor-daemon" --config "$work/daemon.conf" > "$work/daemon.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 1 300); do grep -q "control: listening" "$work/daemon.log" && break; sleep 0.1; done
grep -q "control: listening" "$work/daemon.log" || { cat "$work/daemon.log"; exit 1; }

remote() { "$BIN/supervisor" remote --address 127.0.0.1:$PORT --cert "$work/certs/admin.crt" --key "$work/certs/admin.key" --ca "$work/certs/ca.crt" "$@"; }
remote run bench --bundle "$work/bundle" >/dev/null

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
ms() { local s e; s=$(date +%s%N); "$@" >/dev/null; e=$(date +%s%N); echo $(( (e - s) / 1000 )) | awk '{printf "%.1f\n", $1/1000}'; }

help_ms=$(for _ in $(seq 1 "$N"); do ms "$BIN/supervisor" remote --help; done | median)
# The daemon's first connections and requests run its own code on the JIT's first tier (TLS server, endpoint
# actors, the gateway); a script talks to a daemon that has been up for a while, so the round trips (which
# also warm the daemon) come before the whole calls.
for _ in 1 2 3; do remote state bench >/dev/null; done
rt=$(remote bench bench --count "$COUNT")
call_ms=$(for _ in $(seq 1 "$N"); do ms remote state bench; done | median)

# Phase marks: "[timing] <ms since Main> ms  wall <Unix ms>  jit <n> methods <ms> ms  <phase>".
phases() {
    for _ in $(seq 1 "$N"); do
        local t0 t1 err
        t0=$(date +%s%N)
        err=$(SUPERVISOR_TIMING=1 remote state bench 2>&1 >/dev/null)
        t1=$(date +%s%N)
        printf '%s\n' "$err" | awk -v t0="$t0" -v t1="$t1" '
            /^\[timing\]/ {
                wall = $5; name = $0; sub(/.*methods [0-9]+ ms +/, "", name)
                prev = (n == 0) ? t0 / 1e6 : last
                printf "%02d %s\t%.1f\n", n, (n == 0 ? "process start" : lastname) " -> " name, wall - prev
                last = wall; lastname = name; n++
            }
            END { printf "%02d %s\t%.1f\n", n, lastname " -> process end", t1 / 1e6 - last }'
    done | sort -s -t$'\t' -k1,1 | awk -F'\t' '
        $1 != key { if (key != "") out(); key = $1; c = 0 }
        { v[++c] = $2 }
        function out(   i, j, t) {
            for (i = 2; i <= c; i++) { t = v[i]; for (j = i - 1; j > 0 && v[j] > t; j--) v[j + 1] = v[j]; v[j + 1] = t }
            printf "  %-62s %8.1f ms\n", substr(key, 4), (c % 2 ? v[(c + 1) / 2] : (v[c / 2] + v[c / 2 + 1]) / 2)
        }
        END { out() }'
}
phase_table=$(phases)

echo "client start-up (supervisor remote --help), median of $N: $help_ms ms"
echo "whole call (supervisor remote state), median of $N: $call_ms ms"
echo "GetState on one connection: $rt"
echo "where a whole call goes (median of $N, load average $(cut -d' ' -f1 /proc/loadavg)):"
echo "$phase_table"
{
    echo
    echo "## remote-latency.sh $(date -u +%Y-%m-%dT%H:%MZ) (N=$N, COUNT=$COUNT)"
    echo "- client start-up: $help_ms ms"
    echo "- whole \`supervisor remote state\` call: $call_ms ms"
    echo "- GetState round trips: $rt"
    echo "- phases of a whole call (median of $N, load average $(cut -d' ' -f1 /proc/loadavg)):"
    echo '```'
    echo "$phase_table"
    echo '```'
} >> bench/results.md
