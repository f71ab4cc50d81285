#!/usr/bin/env bash
# Side-by-side start-up benchmark: `supervisor run` vs `runc run` (and `crun run` where it works) of
# /bin/true in the same busybox bundle. The runtimes alternate within one loop so that both see the same
# machine state; the script prints the median wall time of each and the ratio to runc, and appends a
# dated row to bench/results.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
N=${N:-40}
SUPERVISOR=${SUPERVISOR:-$ROOT/artifacts/bin/supervisor}
RUNC=${RUNC:-$(command -v runc || true)}
CRUN=${CRUN:-$(command -v crun || true)}
ROOTFS=${ROOTFS:-$ROOT/artifacts/rootfs}
WORK=$(mktemp -d /tmp/sv-bench.XXXXXX)
# State roots live on a tmpfs, as /run does on a normal host (runc's and our default roots are under
# /run). On a disk, the fsyncs that make our state writes crash-safe cost a journal commit each, which
# runc skips; STATE_ON_DISK=1 measures that case instead.
STATE="$WORK/state"
mkdir -p "$STATE"
if [ "${STATE_ON_DISK:-0}" != 1 ]; then mount -t tmpfs -o size=64m tmpfs "$STATE"; fi
trap 'umount "$STATE" 2>/dev/null; rm -rf "$WORK"' EXIT

[ -x "$SUPERVISOR" ] || { echo "build first: make build" >&2; exit 1; }
[ -n "$RUNC" ] || { echo "runc not found: make deps installs it" >&2; exit 1; }
scripts/make-rootfs.sh "$ROOTFS"
mkdir -p "$WORK/bundle"
cp -a "$ROOTFS" "$WORK/bundle/rootfs"
(cd "$WORK/bundle" && "$SUPERVISOR" spec)
# Same config for every runtime: no terminal, /bin/true.
jq '.process.terminal = false | .process.args = ["/bin/true"]' "$WORK/bundle/config.json" > "$WORK/c.json"
mv "$WORK/c.json" "$WORK/bundle/config.json"

now_ns() { date +%s%N; }
run_once() { # runtime-name binary state-root id
    local t0 t1
    t0=$(now_ns)
    "$2" --root "$3" run -b "$WORK/bundle" "$4" >/dev/null 2>"$WORK/err" || { echo "$1 failed: $(cat "$WORK/err")" >&2; return 1; }
    t1=$(now_ns)
    echo $(( (t1 - t0) / 1000 ))
}

crun_ok=0
if [ -n "$CRUN" ] && "$CRUN" --root "$WORK/crun-probe" run -b "$WORK/bundle" probe >/dev/null 2>"$WORK/crun-err"; then
    crun_ok=1
else
    crun_note="crun not runnable here: $(head -n1 "$WORK/crun-err" 2>/dev/null || echo 'not installed')"
fi

: > "$WORK/sv"; : > "$WORK/runc"; : > "$WORK/crun"
# Warm-up: page cache, first cgroup creation.
run_once supervisor "$SUPERVISOR" "$STATE/sv-root" warm >/dev/null
run_once runc "$RUNC" "$STATE/runc-root" warm >/dev/null
for i in $(seq 1 "$N"); do
    run_once supervisor "$SUPERVISOR" "$STATE/sv-root" "b$i" >> "$WORK/sv"
    run_once runc "$RUNC" "$STATE/runc-root" "b$i" >> "$WORK/runc"
    if [ "$crun_ok" = 1 ]; then run_once crun "$CRUN" "$STATE/crun-root" "b$i" >> "$WORK/crun"; fi
done

median() { sort -n "$1" | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print int((a[NR/2]+a[NR/2+1])/2)}'; }
sv=$(median "$WORK/sv"); rc=$(median "$WORK/runc")
ratio=$(awk -v a="$sv" -v b="$rc" 'BEGIN {printf "%.2f", a/b}')
printf 'runs per runtime: %d (alternating)\n' "$N"
printf 'supervisor run: median %.1f ms\n' "$(awk -v x="$sv" 'BEGIN{print x/1000}')"
printf 'runc run:       median %.1f ms\n' "$(awk -v x="$rc" 'BEGIN{print x/1000}')"
where=tmpfs; [ "${STATE_ON_DISK:-0}" = 1 ] && where=disk
line="| $(date -u +%Y-%m-%d) | run /bin/true, state on $where | supervisor $(awk -v x="$sv" 'BEGIN{printf "%.1f", x/1000}') ms | runc $(awk -v x="$rc" 'BEGIN{printf "%.1f", x/1000}') ms | ratio $ratio |"
if [ "$crun_ok" = 1 ]; then
    cr=$(median "$WORK/crun")
    printf 'crun run:       median %.1f ms (supervisor/crun %.2f)\n' "$(awk -v x="$cr" 'BEGIN{print x/1000}')" "$(awk -v a="$sv" -v b="$cr" 'BEGIN{print a/b}')"
    line="$line crun $(awk -v x="$cr" 'BEGIN{printf "%.1f", x/1000}') ms |"
else
    echo "$crun_note"
    line="$line crun: n/a |"
fi
printf 'ratio supervisor/runc: %s\n' "$ratio"
echo "$line" >> bench/results.md
