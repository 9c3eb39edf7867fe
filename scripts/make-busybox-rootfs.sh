#!/usr/bin/env bash
# Writes a busybox rootfs tar (offline, from Debian's busybox-static) to stdout or to $1:
# /bin/busybox with a symlink for every applet, /etc/passwd and /etc/group, the usual top dirs.
# `berth import FILE busybox` (or `docker import`) turns it into an image.
set -euo pipefail
busybox=${BUSYBOX:-/bin/busybox}
if [ ! -x "$busybox" ]; then
  echo "make-busybox-rootfs.sh: $busybox not found (apt-get install busybox-static)" >&2
  exit 1
fi
dir=$(mktemp -d /tmp/berth-busybox-rootfs.XXXXXX)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir"/{bin,etc,dev,proc,sys,tmp,root,var,home,usr/bin,usr/sbin,sbin}
chmod 755 "$dir"
chmod 1777 "$dir/tmp"
chmod 700 "$dir/root"
cp "$busybox" "$dir/bin/busybox"
for applet in $("$busybox" --list); do
  [ "$applet" = busybox ] || ln -s busybox "$dir/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\nnobody:x:65534:65534:nobody:/home:/bin/false\n' > "$dir/etc/passwd"
printf 'root:x:0:\ndaemon:x:1:\nnogroup:x:65534:\n' > "$dir/etc/group"
out=${1:--}
tar --numeric-owner --owner=0 --group=0 -C "$dir" -cf "$out" .
