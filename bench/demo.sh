#!/usr/bin/env bash
# Demo on a fresh Debian 12 machine, as root, offline: builds berth (release), starts a private
# berthd, makes a busybox image from Debian's busybox-static, runs a container that prints a line,
# stops berthd and removes everything it made.
#   ./bench/demo.sh
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)

if [ "$(id -u)" -ne 0 ]; then
  echo "demo.sh: run as root (containers need namespaces, mounts and cgroups)" >&2
  exit 1
fi
if [ ! -x /bin/busybox ]; then
  echo "== installing busybox-static"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends busybox-static
fi
if ! command -v cargo >/dev/null; then
  echo "demo.sh: cargo not found (install a Rust toolchain, e.g. with rustup)" >&2
  exit 1
fi

echo "== building berthd, berth-shim, berth-init and berth (release)"
(cd "$repo" && cargo build --release -p berthd -p berth-shim -p berth-init -p berth)
bin="${CARGO_TARGET_DIR:-$repo/target}/x86_64-unknown-linux-gnu/release"

work=$(mktemp -d /tmp/berth-demo.XXXXXX)
sock="$work/berth.sock"
daemon_pid=""
cleanup() {
  if [ -n "$daemon_pid" ]; then
    "$bin/berth" -H "unix://$sock" rm -f demo >/dev/null 2>&1 || true
    kill "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
  fi
  umount -R "$work/exec" 2>/dev/null || true
  rm -rf "$work"
  # Containers' cgroups were berth/<id>; the shared parent stays after them (as runc's does).
  # The demo leaves nothing: remove it where it is empty.
  for dir in /sys/fs/cgroup/berth /sys/fs/cgroup/*/berth; do rmdir "$dir" 2>/dev/null || true; done
}
trap cleanup EXIT

echo "== starting berthd on unix://$sock"
"$bin/berthd" -H "unix://$sock" --data-root "$work/data" --exec-root "$work/exec" \
  >"$work/berthd.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 100); do
  "$bin/berth" -H "unix://$sock" version >/dev/null 2>&1 && break
  sleep 0.05
done
berth() { "$bin/berth" -H "unix://$sock" "$@"; }

echo "== berth import: a busybox image from /bin/busybox"
"$repo/scripts/make-busybox-rootfs.sh" | berth import --change 'CMD ["sh"]' - busybox:latest
berth images

echo "== berth run --rm busybox"
status=0
berth run --rm --name demo busybox sh -c \
  'echo "hello from a berth container: hostname $(hostname), pid $$, uid $(id -u)"' || status=$?
echo "== container exited with status $status"
exit "$status"
