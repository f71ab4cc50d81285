# Sourced by scripts/demo.sh and scripts/demo-daemon.sh: paths, the `sv` wrapper and the bundle builder.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SV="$ROOT/artifacts/bin/supervisor"
STATE=/run/supervisor-demo
DEMO="$ROOT/artifacts/demo"
sv() { "$SV" --root "$STATE" "$@"; }

# Deletes every container of the demo's state root.
delete_all() {
    for id in $(sv list -q 2>/dev/null); do sv delete -f "$id" >/dev/null 2>&1 || true; done
}

# bundle NAME JQ-EDIT: a busybox bundle under artifacts/demo/NAME from `supervisor spec`, edited by jq
# (no terminal, read-only rootfs, then the edit); prints the bundle's path.
bundle() {
    local dir="$DEMO/$1"
    rm -rf "$dir" && mkdir -p "$dir"
    cp -a "$ROOT/artifacts/rootfs" "$dir/rootfs"
    (cd "$dir" && "$SV" spec)
    jq ".process.terminal = false | .root.readonly = true | $2" "$dir/config.json" > "$dir/c" && mv "$dir/c" "$dir/config.json"
    echo "$dir"
}
