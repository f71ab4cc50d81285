#!/bin/sh
# make-rootfs.sh DIR: a minimal busybox root filesystem for tests, benchmarks and the demo.
#
# Built only from Debian's busybox-static (a statically linked binary), so nothing is downloaded and the
# rootfs works whatever libc the host has. Idempotent: an existing, complete DIR is left alone.
set -eu
DIR=${1:?usage: make-rootfs.sh DIR}
BB=${BUSYBOX:-/bin/busybox}
if [ ! -x "$BB" ]; then
    echo "make-rootfs.sh: $BB not found; install busybox-static (make deps)" >&2
    exit 1
fi
if [ -x "$DIR/bin/busybox" ] && [ -f "$DIR/etc/passwd" ] && cmp -s "$BB" "$DIR/bin/busybox"; then
    exit 0
fi
TMP="$DIR.tmp.$$"
rm -rf "$TMP"
mkdir -p "$TMP"
cd "$TMP"
mkdir -p bin sbin usr/bin usr/sbin etc proc sys dev tmp root home/user1 var/run run mnt
chmod 1777 tmp
cp "$BB" bin/busybox
for app in $(bin/busybox --list); do
    [ "$app" = busybox ] || ln -sf busybox "bin/$app"
done
cat > etc/passwd <<'PW'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
user1:x:1000:1000:User One:/home/user1:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PW
cat > etc/group <<'GR'
root:x:0:
daemon:x:1:
audio:x:29:user1
video:x:44:user1,nobody
user1:x:1000:
extra:x:2000:user1
nogroup:x:65534:
GR
echo "127.0.0.1 localhost" > etc/hosts
: > etc/resolv.conf
chown -R 1000:1000 home/user1
cd - >/dev/null
rm -rf "$DIR"
mv "$TMP" "$DIR"
