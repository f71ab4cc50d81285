#!/bin/sh
# Installs CRIU 4.1.1 from Debian 13 (trixie) into a private prefix.
#
# Debian 12's criu 3.17.1 cannot checkpoint on the 6.x kernels of our machines ("vdso: Unexpected rt
# vDSO area bounds"). 4.1.1 works but needs glibc 2.38, which cannot be installed over bookworm's libc.
# So the trixie packages are only downloaded with a private apt configuration, unpacked with dpkg -x
# into PREFIX, and criu is run through PREFIX's own dynamic loader (see PREFIX/bin/criu). The system's
# apt sources and libc are never touched.
set -eu
PREFIX=${1:?usage: install-criu.sh PREFIX}
VERSION=4.1.1-1
if [ -x "$PREFIX/bin/criu" ] && "$PREFIX/bin/criu" --version 2>/dev/null | grep -q '^Version: 4\.1\.1'; then
    exit 0
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/lists/partial" "$WORK/archives/partial" "$WORK/cache"
echo "deb http://deb.debian.org/debian trixie main" > "$WORK/sources.list"
APT="-o Dir::Etc::sourcelist=$WORK/sources.list -o Dir::Etc::sourceparts=- \
 -o Dir::State::Lists=$WORK/lists -o Dir::Cache=$WORK/cache -o Dir::Cache::archives=$WORK/archives \
 -o Dir::State::status=/dev/null -o APT::Get::List-Cleanup=0 -o Debug::NoLocking=1"
# shellcheck disable=SC2086
apt-get $APT -qq update
PKGS="criu=$VERSION libcompel1 libc6 libgnutls30t64 libhogweed6t64 libnettle8t64 libp11-kit0 \
 libunistring5 libzstd1 libgmp10 libgcc-s1 libstdc++6 libprotobuf-c1 libnl-3-200 libnet1 libbsd0 \
 libmd0 libnftables1 libmnl0 libnftnl11 libjansson4 libxtables12 libidn2-0 libtasn1-6 libffi8 libuuid1 \
 libcap2 libedit2 libtinfo6 libbpf1 libelf1t64 zlib1g libxxhash0 libtirpc3t64 libgssapi-krb5-2 \
 libkrb5-3 libk5crypto3 libcom-err2 libkrb5support0 libkeyutils1 libssl3t64"
# shellcheck disable=SC2086
apt-get $APT -qq download $(echo $PKGS) 2>/dev/null || (cd "$WORK/archives" && apt-get $APT -qq download $PKGS)
mkdir -p "$PREFIX"
for deb in "$WORK"/*.deb "$WORK"/archives/*.deb; do
    [ -f "$deb" ] && dpkg -x "$deb" "$PREFIX/root"
done
mkdir -p "$PREFIX/bin"
cat > "$PREFIX/bin/criu" <<WRAP
#!/bin/sh
R="$PREFIX/root"
exec "\$R/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" --library-path "\$R/usr/lib/x86_64-linux-gnu:\$R/lib/x86_64-linux-gnu" "\$R/usr/sbin/criu" "\$@"
WRAP
chmod 755 "$PREFIX/bin/criu"
"$PREFIX/bin/criu" --version
