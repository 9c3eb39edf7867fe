#!/usr/bin/env bash
# Record what podman (and conmon, which podman starts per container) ask of an OCI runtime: a
# logging wrapper around runc is podman's runtime, a few podman commands are run, and every runtime
# command line (plus each bundle's config.json, each exec's process file and each update's
# resources file) is saved under OUT. podman is private as in tests/common/clients.rs (Podman): own
# store, run root, tmp dir and config files under /run/berth-test-<tag>/, vfs, cgroupfs, file
# locks and events, --network none, containers under /berth-test-<tag>/, conmon left in place
# (--cgroups=no-conmon). Everything is torn down on exit. Usage (root): scripts/capture-podman-calls.sh OUT_DIR
set -euo pipefail
out=$(realpath -m "${1:?usage: $0 OUT_DIR}")
mkdir -p "$out"
tag="pcap-$$"
S="/run/berth-test-$tag"
P="$S/p"
CG="berth-test-$tag"
mkdir -p "$P"/{root,rr,tmp,hooks.d,net,runtime-root,home/.config/containers,rootfs/bin,rootfs/etc,rootfs/tmp}

teardown() {
  set +e
  timeout 60 pod rm --all --force --time 0 >/dev/null 2>&1
  # conmon and podman's cleanup processes carry the tag (conmon_env_vars)
  for pid in $(grep -l "BERTH_TEST_TAG=$tag" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3); do kill -KILL "$pid" 2>/dev/null; done
  for pid in $(grep -l "/$CG/" /proc/[0-9]*/cgroup 2>/dev/null | cut -d/ -f3); do kill -KILL "$pid" 2>/dev/null; done
  sleep 0.5
  grep -F " $S" /proc/self/mountinfo | awk '{print $5}' | sort -r | while read -r m; do umount -l "$m"; done
  find /sys/fs/cgroup/*/"$CG" /sys/fs/cgroup/"$CG" -depth -type d -exec rmdir {} \; 2>/dev/null
  rm -rf "$S"
}
trap teardown EXIT

# The logging wrapper: the caller's name and argv as podman/conmon pass it, then runc with a
# private --root.
cat > "$P/berth-runtime" <<W
#!/bin/sh
log="$out/calls.log"
n=\$(date +%s%N)
# who called: conmon (create, exec) or podman itself
printf '%s\t%s\t%s\n' "\$n" "\$(cat /proc/\$PPID/comm 2>/dev/null)" "\$*" >> "\$log"
prev=
for a in "\$@"; do
  case "\$prev" in
    --bundle|-b) [ -f "\$a/config.json" ] && cp "\$a/config.json" "$out/config-\$n.json" ;;
    --process|-p) [ -f "\$a" ] && cp "\$a" "$out/process-\$n.json" ;;
  esac
  case "\$a" in
    --resources=*) f="\${a#--resources=}"; [ -f "\$f" ] && cp "\$f" "$out/resources-\$n.json" ;;
  esac
  prev="\$a"
done
exec /usr/sbin/runc --root "$P/runtime-root" "\$@"
W
chmod 755 "$P/berth-runtime"

: > "$P/mounts.conf"
cat > "$P/containers.conf" <<C
[containers]
default_mounts_file = "$P/mounts.conf"
log_driver = "k8s-file"
netns = "none"
[engine]
cgroup_manager = "cgroupfs"
conmon_env_vars = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "BERTH_TEST_TAG=$tag"]
events_logger = "file"
events_logfile_path = "$P/events.log"
hooks_dir = ["$P/hooks.d"]
image_copy_tmp_dir = "$P/tmp"
lock_type = "file"
runtime = "berth-runtime"
runtime_supports_json = ["berth-runtime"]
static_dir = "$P/root/libpod"
tmp_dir = "$P/tmp"
volume_path = "$P/root/volumes"
[engine.runtimes]
berth-runtime = ["$P/berth-runtime"]
[network]
network_config_dir = "$P/net"
C
printf '[storage]\ndriver = "vfs"\nrunroot = "%s"\ngraphroot = "%s"\n' "$P/rr" "$P/root" > "$P/storage.conf"
echo 'unqualified-search-registries = []' > "$P/registries.conf"
echo '{"default":[{"type":"insecureAcceptAnything"}]}' > "$P/home/.config/containers/policy.json"

# podman with everything private: a script, so that timeout and script(1) can run it.
cat > "$P/pod" <<W
#!/bin/sh
CONTAINERS_CONF="$P/containers.conf" CONTAINERS_STORAGE_CONF="$P/storage.conf" \\
  CONTAINERS_REGISTRIES_CONF="$P/registries.conf" HOME="$P/home" XDG_CONFIG_HOME="$P/home/.config" \\
  TMPDIR="$P/tmp" BERTH_TEST_TAG="$tag" \\
  exec podman --root "$P/root" --runroot "$P/rr" --tmpdir "$P/tmp" --storage-driver vfs \\
  --cgroup-manager cgroupfs --events-backend file --runtime "$P/berth-runtime" "\$@"
W
chmod 755 "$P/pod"
pod() { "$P/pod" "$@"; }

# busybox image; c/image writes its blob info cache to /var/lib/containers/cache for root: a
# private tmpfs on /var/lib keeps it away from the host.
cp /bin/busybox "$P/rootfs/bin/"
for a in sh cat echo sleep ls tty true id grep mount; do ln -s busybox "$P/rootfs/bin/$a"; done
tar -C "$P/rootfs" -cf "$P/rootfs.tar" .
timeout 60 unshare --mount --propagation private -- sh -c \
  'mount -t tmpfs -o size=4m,mode=0755 berth-test-podman /var/lib && exec "$@"' sh \
  "$P/pod" import "$P/rootfs.tar" localhost/berth-test/busybox:latest

IMG=localhost/berth-test/busybox:latest
R="--network none --cgroup-parent /$CG --cgroups=no-conmon --ulimit nofile=1024:1024 --ulimit nproc=4096:4096"
run() { echo "== $*" | tee -a "$out/calls.log"; "$@" || echo "(exit $?)"; }
run timeout 60 "$P/pod" run --rm $R $IMG echo hi
run timeout 60 "$P/pod" run --rm $R $IMG no-such-program
run timeout 60 script -qec "$P/pod run --rm -t $R $IMG tty" /dev/null
run timeout 60 "$P/pod" run -d --name c1 $R $IMG sleep 1000
run timeout 60 "$P/pod" exec c1 echo from-exec
run timeout 60 script -qec "$P/pod exec -t c1 tty" /dev/null
run timeout 60 "$P/pod" top c1
run timeout 60 "$P/pod" pause c1
run timeout 60 "$P/pod" unpause c1
run timeout 60 "$P/pod" stats --no-stream c1
run timeout 60 "$P/pod" update --memory 64m c1
run timeout 60 "$P/pod" logs c1
run timeout 60 "$P/pod" stop -t 2 c1
run timeout 60 "$P/pod" rm c1
run timeout 60 "$P/pod" run -d --name c2 $R $IMG sleep 1000
run timeout 60 "$P/pod" kill c2
run timeout 60 "$P/pod" rm c2
run timeout 60 "$P/pod" run -d --name c3 $R $IMG sleep 1000
run timeout 60 "$P/pod" rm -f -t 0 c3
# podman's default limits for root (RLIMIT_NOFILE/NPROC 1048576) need CAP_SYS_RESOURCE
run timeout 60 "$P/pod" run --rm --network none --cgroup-parent /$CG --cgroups=no-conmon $IMG true
