#!/usr/bin/env bash
# The project's tests, as root: unit and integration tests on this host (cgroup v1 or hybrid), then the
# integration tests again inside a pure cgroup v2 VM (../shared/tools/vm-run) when that tool is there.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --workspace --release
echo "== tests on this host"
cargo test --workspace

vm_run="$PWD/../shared/tools/vm-run"
if [ -x "$vm_run" ]; then
  echo "== integration tests in a pure cgroup v2 VM"
  # The guest hides the host's /tmp except its working directory: share the whole checkout.
  CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER="$vm_run --timeout 900 --bind $PWD --" cargo test -p berth-runtime --tests
  echo "== image tests in the VM (kernel 6.1: overlay without lowerdir+, a 9p root for the copying snapshotter)"
  # Overlay upper dirs must be on a tmpfs there; --lib: rustdoc's doctest binaries sit in the host's hidden /tmp.
  CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER="$vm_run --timeout 900 --tmpfs /mnt --bind $PWD --" cargo test -p berth-image --lib
  echo "== engine tests in the VM: cgroup v2 defaults and limits, OOM, runc and crun through --add-runtime"
  # berthd's roots sit under the guest's /tmp, a tmpfs, where overlay upper dirs work.
  CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER="$vm_run --timeout 900 --bind $PWD --" cargo test -p berthd --test e2e -- defaults runtimes
else
  echo "== skipped: pure cgroup v2 run ($vm_run not found)"
fi
