#!/usr/bin/env bash
# Side-by-side checkpoint/restore benchmark: `supervisor checkpoint` + `supervisor restore` vs
# `runc checkpoint` + `runc restore`, both driving the same CRIU binary (runc gets it through --criu).
# Each round runs a busybox counter loop detached, dumps it (images on a tmpfs) and restores it
# detached; the runtimes alternate within one loop. Prints the median wall time of each step and the
# ratios to runc, and appends a dated row to bench/results.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
N=${N:-10}
SUPERVISOR=${SUPERVISOR:-$ROOT/artifacts/bin/supervisor}
RUNC=${RUNC:-$(command -v runc || echo /usr/sbin/runc)}
CRIU=${CRIU:-/opt/supervisor/criu/bin/criu}
ROOTFS=${ROOTFS:-$ROOT/artifacts/rootfs}
WORK=$(mktemp -d /tmp/sv-cbench.XXXXXX)
STATE="$WORK/state"
mkdir -p "$STATE"
mount -t tmpfs -o size=256m tmpfs "$STATE"
cleanup() {
    for d in "$STATE"/sv-root/*/; do [ -d "$d" ] && "$SUPERVISOR" --root "$STATE/sv-root" delete -f "$(basename "$d")" >/dev/null 2>&1 || true; done
    for id in $("$RUNC" --root "$STATE/runc-root" list -q 2>/dev/null); do "$RUNC" --root "$STATE/runc-root" delete -f "$id" >/dev/null 2>&1 || true; done
    umount "$STATE" 2>/dev/null || true
    rm -rf "$WORK"
}
[ "${KEEP:-0}" = 1 ] || trap cleanup EXIT

[ -x "$SUPERVISOR" ] || { echo "build first: make build" >&2; exit 1; }
[ -x "$RUNC" ] || { echo "runc not found: make deps installs it" >&2; exit 1; }
"$CRIU" check >/dev/null 2>&1 || { echo "criu check fails with $CRIU: make deps" >&2; exit 1; }
scripts/make-rootfs.sh "$ROOTFS"
mkdir -p "$WORK/bundle"
cp -a "$ROOTFS" "$WORK/bundle/rootfs"
(cd "$WORK/bundle" && "$SUPERVISOR" spec)
# No network namespace: runc 1.1.5 always locks a dumped network namespace with iptables-restore, which
# these machines lack (supervisor falls back to CRIU's "skip" lock); without one both dump the same tree.
jq '.process.terminal = false | .root.readonly = false
    | .linux.namespaces |= map(select(.type != "network"))
    | .process.args = ["/bin/sh", "-c", "i=0; while true; do i=$((i+1)); sleep 0.1; done"]' \
    "$WORK/bundle/config.json" > "$WORK/c.json"
mv "$WORK/c.json" "$WORK/bundle/config.json"

now_ns() { date +%s%N; }
timed() { # out-file command...
    local out=$1 t0 t1; shift
    t0=$(now_ns)
    # The container's stdio must be something CRIU can dump and reconnect: /dev/null for all three (a
    # restore's stdio becomes the restored container's). On failure CRIU's log in the images says why.
    "$@" </dev/null >/dev/null 2>/dev/null || { echo "failed: $*" >&2; return 1; }
    t1=$(now_ns)
    echo $(( (t1 - t0) / 1000 )) >> "$out"
}

round() { # name binary state-root id
    local name=$1 bin=$2 root=$3 id=$4 img="$STATE/img-$1-$4" extra=()
    [ "$name" = runc ] && extra=(--criu "$CRIU")
    "$bin" --root "$root" "${extra[@]}" run -d -b "$WORK/bundle" "$id" </dev/null >/dev/null 2>/dev/null \
        || { echo "$name run failed (rerun it by hand to see why)" >&2; return 1; }
    sleep 0.3
    if [ "$name" = runc ]; then
        timed "$WORK/$name-dump" "$bin" --root "$root" --criu "$CRIU" checkpoint --image-path "$img" "$id"
        timed "$WORK/$name-restore" "$bin" --root "$root" --criu "$CRIU" restore -d -b "$WORK/bundle" --image-path "$img" "$id"
        "$bin" --root "$root" delete -f "$id" >/dev/null 2>&1
    else
        timed "$WORK/$name-dump" "$bin" --root "$root" --criu "$CRIU" checkpoint --image-path "$img" "$id"
        timed "$WORK/$name-restore" "$bin" --root "$root" --criu "$CRIU" restore -d --image-path "$img" "$id"
        "$bin" --root "$root" delete -f "$id" >/dev/null 2>&1
    fi
    rm -rf "$img"
}

: > "$WORK/sv-dump"; : > "$WORK/sv-restore"; : > "$WORK/runc-dump"; : > "$WORK/runc-restore"
round sv "$SUPERVISOR" "$STATE/sv-root" warm
round runc "$RUNC" "$STATE/runc-root" warm
: > "$WORK/sv-dump"; : > "$WORK/sv-restore"; : > "$WORK/runc-dump"; : > "$WORK/runc-restore"
for i in $(seq 1 "$N"); do
    round sv "$SUPERVISOR" "$STATE/sv-root" "c$i"
    round runc "$RUNC" "$STATE/runc-root" "c$i"
done

median() { sort -n "$1" | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print int((a[NR/2]+a[NR/2+1])/2)}'; }
ms() { awk -v x="$1" 'BEGIN{printf "%.1f", x/1000}'; }
svd=$(median "$WORK/sv-dump"); svr=$(median "$WORK/sv-restore")
rcd=$(median "$WORK/runc-dump"); rcr=$(median "$WORK/runc-restore")
rd=$(awk -v a="$svd" -v b="$rcd" 'BEGIN {printf "%.2f", a/b}')
rr=$(awk -v a="$svr" -v b="$rcr" 'BEGIN {printf "%.2f", a/b}')
printf 'rounds per runtime: %d (alternating), criu %s\n' "$N" "$("$CRIU" --version | head -n1)"
printf 'checkpoint: supervisor %s ms, runc %s ms, ratio %s\n' "$(ms "$svd")" "$(ms "$rcd")" "$rd"
printf 'restore:    supervisor %s ms, runc %s ms, ratio %s\n' "$(ms "$svr")" "$(ms "$rcr")" "$rr"
echo "| $(date -u +%Y-%m-%d) | checkpoint (counter loop, images on tmpfs) | supervisor $(ms "$svd") ms | runc $(ms "$rcd") ms | ratio $rd | |" >> bench/results.md
echo "| $(date -u +%Y-%m-%d) | restore -d of the same | supervisor $(ms "$svr") ms | runc $(ms "$rcr") ms | ratio $rr | |" >> bench/results.md
