#!/bin/sh
# install-criu.sh PREFIX: CRIU 4.1.1 from Debian 13 (trixie) in a private prefix.
#
# Debian 12's criu 3.17.1 cannot checkpoint on the 6.x kernels of our machines ("vdso: Unexpected rt
# vDSO area bounds"). 4.1.1 works but needs glibc >= 2.38, which cannot be installed over bookworm's
# libc. So the trixie packages (criu, its libraries and trixie's libc) are only *downloaded*, through a
# private apt configuration with an empty dpkg status so that apt fetches the whole dependency closure,
# unpacked with dpkg -x into PREFIX/root, and criu is started through that root's own dynamic loader
# (PREFIX/bin/criu). libcriu-dev comes along for rpc.proto, CRIU's own RPC schema. The system's apt
# sources and libc are never touched. Idempotent: an existing working install is kept.
set -eu
PREFIX=${1:?usage: install-criu.sh PREFIX}
VERSION=4.1.1-1
if [ -x "$PREFIX/bin/criu" ] && [ -f "$PREFIX/root/usr/include/criu/rpc.proto" ] \
    && "$PREFIX/bin/criu" --version 2>/dev/null | grep -q '^Version: 4\.1\.1'; then
    exit 0
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/lists/partial" "$WORK/archives/partial" "$WORK/cache"
: > "$WORK/status"
echo "deb http://deb.debian.org/debian trixie main" > "$WORK/sources.list"
set -- -o "Dir::Etc::sourcelist=$WORK/sources.list" -o Dir::Etc::sourceparts=- \
    -o "Dir::State::Lists=$WORK/lists" -o "Dir::Cache=$WORK/cache" -o "Dir::Cache::archives=$WORK/archives" \
    -o "Dir::State::status=$WORK/status" -o Debug::NoLocking=1 -o APT::Sandbox::User=root
apt-get "$@" -qq update
apt-get "$@" -y -qq --download-only --no-install-recommends install "criu=$VERSION" "libcriu-dev=$VERSION" >/dev/null
rm -rf "$PREFIX.tmp"
mkdir -p "$PREFIX.tmp/root" "$PREFIX.tmp/bin"
for deb in "$WORK"/archives/*.deb; do
    dpkg -x "$deb" "$PREFIX.tmp/root"
done
cat > "$PREFIX.tmp/bin/criu" <<WRAP
#!/bin/sh
# CRIU 4.1.1 run through its own glibc (see scripts/install-criu.sh in the Supervisor repo).
R="$PREFIX/root"
exec "\$R/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" --library-path "\$R/usr/lib/x86_64-linux-gnu" "\$R/usr/sbin/criu" "\$@"
WRAP
chmod 755 "$PREFIX.tmp/bin/criu"
rm -rf "$PREFIX"
mkdir -p "$(dirname "$PREFIX")"
mv "$PREFIX.tmp" "$PREFIX"
"$PREFIX/bin/criu" --version | head -n1
