#!/usr/bin/env bash
# Cluster benchmark: 3 supervisor-daemon processes on loopback; placing and starting 100 containers across
# them at once, removing them, and live migrations of a counter container split into their phases.
# Needs root, `make build` and `make rootfs`. NODES, CONTAINERS and MIGRATIONS override the defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build bench/ClusterBench/ClusterBench.csproj -c Release -nologo -v quiet
exec dotnet bench/ClusterBench/bin/Release/net10.0/ClusterBench.dll \
    --nodes "${NODES:-3}" --containers "${CONTAINERS:-100}" --migrations "${MIGRATIONS:-5}"
