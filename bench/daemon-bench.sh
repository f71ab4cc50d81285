#!/usr/bin/env bash
# The supervisor daemon's benchmarks (bench/README.md), run by bench/Supervisor.Bench: an in-process host
# of the same ContainerSupervisor as supervisor-daemon, warm, over the real runtime.
#   startstop  Create + Start + exit of /bin/true + Delete through the actors, alternating with `runc run`
#   restart    kill -9 of a running init until its restart runs, minus the backoff delay
#   idle       PSS (smaps_rollup) of the host process and of the shims per idle supervised container
#   stats      CPU of 1 Hz stats polling (and statsoff: the same containers unpolled, the baseline)
# N (default 40) start/stops, COUNT (default 200) containers for idle and stats, SECS (default 30).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
N=${N:-40}
COUNT=${COUNT:-200}
SECS=${SECS:-30}
RUNC=${RUNC:-$(command -v runc || true)}
WORK=$(mktemp -d /tmp/sv-dbench.XXXXXX)
STATE=$WORK/state
mkdir -p "$STATE"
# State on a tmpfs, as /run is on a normal host.
mount -t tmpfs -o size=256m tmpfs "$STATE"
cleanup() {
    for r in "$STATE"/*/; do
        for d in "$r"*/; do
            [ -f "$d/state.json" ] && "$ROOT/artifacts/bin/supervisor" --root "$r" delete -f "$(basename "$d")" >/dev/null 2>&1 || true
        done
    done
    umount "$STATE" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

[ -x artifacts/bin/supervisor-shim ] || { echo "build first: make build" >&2; exit 1; }
scripts/make-rootfs.sh artifacts/rootfs >/dev/null
dotnet build bench/Supervisor.Bench/Supervisor.Bench.csproj -c Release -nologo -v quiet >/dev/null
BENCH="$ROOT/bench/Supervisor.Bench/bin/Release/net10.0/supervisor-bench"
export SUPERVISOR_SHIM="$ROOT/artifacts/bin/supervisor-shim"

bundle() { # dir, args (jq array)
    mkdir -p "$1"
    cp -a artifacts/rootfs "$1/rootfs"
    (cd "$1" && "$ROOT/artifacts/bin/supervisor" spec)
    jq ".process.terminal = false | .process.args = $2" "$1/config.json" > "$1/c" && mv "$1/c" "$1/config.json"
}
bundle "$WORK/true" '["/bin/true"]'
bundle "$WORK/idle" '["/bin/sleep", "100000"]'

run() { echo "== $*"; BENCH_ROOT="$STATE/$1" "$BENCH" "$@"; }
for b in ${BENCHES:-startstop restart idle stats}; do
    case $b in
        startstop) RUNC="$RUNC" run startstop "$WORK/true" "$N" ;;
        restart) run restart "$WORK/idle" 20 ;;
        idle) run idle "$WORK/idle" "$COUNT" ;;
        stats) run stats "$WORK/idle" "$COUNT" "$SECS"; run statsoff "$WORK/idle" "$COUNT" "$SECS" ;;
    esac
done
