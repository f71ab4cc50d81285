#!/usr/bin/env bash
# make demo: a short tour of the runtime on busybox containers.
#   DURATION (first argument, seconds; default 20) is how long the service container is watched.
# It creates bundles under artifacts/demo, runs a service in the background, a one-shot job, a
# resource-limited allocator that the kernel OOM-kills, pauses and resumes the service, and removes
# everything at the end (also on Ctrl-C).
set -euo pipefail
source "$(dirname "$0")/demo-common.sh"
cd "$ROOT"
DURATION=${1:-20}

trap delete_all EXIT INT TERM

echo "== a job: what the process sees inside its namespaces"
job=$(bundle job '.hostname = "demo-job" | .process.args = ["/bin/sh", "-c", "echo \"pid=$$ host=$(hostname) user=$(id -u)\"; ls /; grep -E \"^Cap(Eff|Bnd)\" /proc/self/status"]')
sv run -b "$job" demo-job

echo; echo "== a service in the background, with a 64 MiB memory and 32-task limit"
svc=$(bundle service '.hostname = "demo-svc" | .process.args = ["/bin/sh", "-c", "while true; do date +%T; sleep 1; done"] | .linux.resources.memory = {"limit": 67108864} | .linux.resources.pids = {"limit": 32}')
sv run -d -b "$svc" demo-service </dev/null >"$DEMO/service.log" 2>&1
sv list

echo; echo "== an allocator over a 16 MiB limit: the kernel OOM-kills it (exit 137)"
hog=$(bundle hog '.process.args = ["/bin/sh", "-c", "x=$(head -c 67108864 /dev/zero | tr \"\\\\0\" a)"] | .linux.resources.memory = {"limit": 16777216, "swap": 16777216}')
set +e; sv run -b "$hog" demo-hog; echo "exit code: $?"; set -e

echo; echo "== pause and resume the service"
sv pause demo-service && sv state demo-service | jq -c '{id, status, pid}'
sleep 2
sv resume demo-service && sv state demo-service | jq -c '{id, status, pid}'
sv ps demo-service

echo; echo "== watching the service for ${DURATION}s (its output goes to artifacts/demo/service.log)"
end=$((SECONDS + DURATION))
while [ $SECONDS -lt $end ]; do
    printf '\r%s  last line: %s' "$(sv state demo-service | jq -r '"\(.id) \(.status) pid \(.pid)"')" "$(tail -n1 "$DEMO/service.log")"
    sleep 1
done
echo; echo "== removing everything"
