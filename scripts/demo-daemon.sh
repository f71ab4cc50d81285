#!/usr/bin/env bash
# make demo: the supervisor daemon with config/demo.conf.
#   DURATION (first argument, seconds; default 30) is how long the daemon runs before it gets SIGTERM.
# Three busybox bundles are built under artifacts/demo: a service (restart always, checkpointed with CRIU
# every 10 s while it keeps running), a crasher that exits 3 every two seconds (on-failure:3, Docker's
# backoff: 100 ms, 200 ms, 400 ms, then it is left stopped) and an allocator over a 16 MiB memory limit that
# the kernel OOM-kills (on-failure:1). Half-way through, the service's init is killed with SIGKILL and the
# daemon restarts it. The daemon prints its events as they happen and, every 3 s, a table of the containers
# (id, status, pid, restarts, last exit, memory, cpu). On SIGTERM the daemon stops every container
# (shutdown-policy = stop in demo.conf), and everything is removed at the end.
set -euo pipefail
source "$(dirname "$0")/demo-common.sh"
cd "$ROOT"
DURATION=${1:-30}
daemon_pid=""

cleanup() {
    if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
        kill -TERM "$daemon_pid" 2>/dev/null || true
        wait "$daemon_pid" 2>/dev/null || true
    fi
    delete_all
    rm -rf "$STATE/.supervisor"
}
trap cleanup EXIT INT TERM

cleanup
bundle service '.hostname = "demo-svc" | .process.args = ["/bin/sh", "-c", "while true; do date +%T; sleep 1; done"] | .linux.resources.memory = {"limit": 67108864} | .linux.resources.pids = {"limit": 32}' >/dev/null
bundle crasher '.process.args = ["/bin/sh", "-c", "echo crashing in 2s; sleep 2; exit 3"]' >/dev/null
bundle hog '.process.args = ["/bin/sh", "-c", "sleep 1; x=$(head -c 67108864 /dev/zero | tr \"\\\\0\" a)"] | .linux.resources.memory = {"limit": 16777216, "swap": 16777216}' >/dev/null

CRIU=/opt/supervisor/criu/bin/criu
if [ -x "$CRIU" ] && "$CRIU" check >/dev/null 2>&1; then
    echo "== criu check: looks good; demo-service is checkpointed every 10 s"
else
    echo "== criu check failed (or no $CRIU: run make deps): the periodic checkpoints of demo-service will fail and be reported"
fi
rm -rf "$DEMO/checkpoints"
echo "== supervisor daemon --config config/demo.conf (for ${DURATION}s)"
"$SV" --root "$STATE" daemon --config "$ROOT/config/demo.conf" &
daemon_pid=$!

half=$((DURATION / 2))
sleep "$half"
echo; echo "== supervisor list (from another process, same --root)"
sv list
pid=$(sv state demo-service | jq -r .pid)
if [ "$pid" -gt 0 ]; then
    echo; echo "== kill -9 of the service's init ($pid): the daemon restarts it"
    kill -9 "$pid"
fi
sleep $((DURATION - half))
echo; echo "== supervisor state demo-service / demo-crasher (the OCI state plus the daemon's restart record)"
sv state demo-service | jq -c '{id, status, pid, restartCount, restartPolicy, lastExitCode}'
sv state demo-crasher | jq -c '{id, status, pid, restartCount, restartPolicy, lastExitCode}'
if [ -f "$DEMO/checkpoints/demo-service/descriptors.json" ]; then
    echo "== the last checkpoint of demo-service: $(du -sh "$DEMO/checkpoints/demo-service" | cut -f1) in artifacts/demo/checkpoints/demo-service"
fi
echo; echo "== SIGTERM to the daemon: it stops the containers and exits"
kill -TERM "$daemon_pid"
wait "$daemon_pid" || true
daemon_pid=""
sv list
