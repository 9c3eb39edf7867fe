#!/usr/bin/env bash
# Demo: build berth-runtime and run one busybox container that prints a line.
# Fresh Debian 12 machine, as root: ./bench/runtime-demo.sh
# Installs busybox-static with apt if /bin/busybox is missing, builds the release binary,
# makes a bundle in a temp dir (`berth-runtime spec` + args/terminal edited), runs it, cleans up.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)

if [ "$(id -u)" -ne 0 ]; then
  echo "demo.sh: run as root (containers need namespaces and mounts)" >&2
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

echo "== building berth-runtime (release)"
(cd "$repo" && cargo build --release -p berth-runtime)
berth="${CARGO_TARGET_DIR:-$repo/target}/x86_64-unknown-linux-gnu/release/berth-runtime"

work=$(mktemp -d /tmp/berth-demo.XXXXXX)
root="$work/state"
id="demo-$$"
cleanup() {
  "$berth" --root "$root" delete --force "$id" >/dev/null 2>&1 || true
  rm -rf "$work"
  # The container used the default cgroup berth/<id>; the shared parent stays after delete (as with
  # runc). The demo leaves nothing: remove it where it is empty.
  for dir in /sys/fs/cgroup/berth /sys/fs/cgroup/*/berth; do rmdir "$dir" 2>/dev/null || true; done
}
trap cleanup EXIT

bundle="$work/bundle"
mkdir -p "$bundle/rootfs/bin"
cp /bin/busybox "$bundle/rootfs/bin/busybox"
for applet in sh echo hostname id ls cat; do
  ln -s busybox "$bundle/rootfs/bin/$applet"
done
"$berth" spec --bundle "$bundle"
python3 - "$bundle/config.json" <<'PY'
import json, sys
path = sys.argv[1]
with open(path) as f:
    config = json.load(f)
config["process"]["terminal"] = False
config["process"]["args"] = [
    "/bin/sh", "-c",
    'echo "hello from a berth-runtime container: hostname $(hostname), pid $$, uid $(id -u)"; echo "/:" $(ls /)',
]
with open(path, "w") as f:
    json.dump(config, f, indent=2)
PY

echo "== berth-runtime run $id"
status=0
"$berth" --root "$root" run --bundle "$bundle" "$id" || status=$?
echo "== container exited with status $status"
exit "$status"
