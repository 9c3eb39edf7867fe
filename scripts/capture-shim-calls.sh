#!/usr/bin/env bash
# Record what a real dockerd + containerd (containerd-shim-runc-v2) ask of an OCI runtime: a logging
# wrapper around runc is registered as a docker runtime, a few docker commands are run, and every
# runtime command line (plus the bundle's config.json and exec's process.json) is saved under OUT.
# Everything is private (own containerd, dockerd, sockets, data dirs, cgroup parent, no bridge) and
# torn down on exit. Usage (root): scripts/capture-shim-calls.sh OUT_DIR
set -euo pipefail
out=$(realpath -m "${1:?usage: $0 OUT_DIR}")
mkdir -p "$out"
tag="capture-$$"
S="/run/berth-test-$tag"
mkdir -p "$S"
CG="berth-test-$tag"
export DOCKER_CONFIG="$S/cli-config" DOCKER_HOST="unix://$S/docker.sock"
cpid= dpid=

teardown() {
  set +e
  for c in $(timeout 20 docker ps -aq 2>/dev/null); do timeout 30 docker rm -f "$c" >/dev/null 2>&1; done
  for p in $dpid $cpid; do kill -TERM "$p" 2>/dev/null; done
  for p in $dpid $cpid; do for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done; kill -KILL "$p" 2>/dev/null; done
  # container processes and shims left: every process in our cgroup or with our tag in its environment
  for pid in $(grep -l "BERTH_TEST_TAG=$tag" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3); do kill -KILL "$pid" 2>/dev/null; done
  for pid in $(grep -l "/$CG/" /proc/[0-9]*/cgroup 2>/dev/null | cut -d/ -f3); do kill -KILL "$pid" 2>/dev/null; done
  sleep 0.5
  grep -F " $S" /proc/self/mountinfo | awk '{print $5}' | sort -r | while read -r m; do umount -l "$m"; done
  find /sys/fs/cgroup/*/"$CG" /sys/fs/cgroup/"$CG" -depth -type d -exec rmdir {} \; 2>/dev/null
  rm -rf "$S"
  # fixed paths of containerd 1.6 (shim sockets) and dockerd 20.10 (plugins): only if we made them
  for d in $made_host_dirs; do rmdir "$d" 2>/dev/null; done
}
made_host_dirs=
for d in /run/containerd/s /run/containerd /run/docker/plugins /run/docker; do
  [ -e "$d" ] || made_host_dirs="$made_host_dirs $d"
done
trap teardown EXIT

# The logging wrapper: argv, cwd and (for create) the bundle's config.json / (for exec) process.json.
cat > "$S/runc-log" <<W
#!/bin/sh
log="$out/calls.log"
n=\$(date +%s%N)
printf '%s\t%s\n' "\$n" "\$*" >> "\$log"
prev=
for a in "\$@"; do
  case "\$prev" in
    --bundle|-b) [ -f "\$a/config.json" ] && cp "\$a/config.json" "$out/config-\$n.json" ;;
    --process|-p) [ -f "\$a" ] && cp "\$a" "$out/process-\$n.json" ;;
    -r|--resources)
      if [ "\$a" = - ]; then
        # the resources come on stdin: keep a copy and hand the same bytes to runc
        cat > "$out/resources-\$n.json"
        exec /usr/sbin/runc "\$@" < "$out/resources-\$n.json"
      fi
      cp "\$a" "$out/resources-\$n.json" ;;
  esac
  prev="\$a"
done
exec /usr/sbin/runc "\$@"
W
chmod 755 "$S/runc-log"

cat > "$S/containerd.toml" <<C
version = 2
root = "$S/containerd/root"
state = "$S/containerd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.internal.v1.opt"]
[grpc]
  address = "$S/containerd.sock"
[ttrpc]
  address = "$S/containerd.sock.ttrpc"
[debug]
  address = "$S/containerd-debug.sock"
C
BERTH_TEST_TAG=$tag containerd --config "$S/containerd.toml" > "$S/containerd.log" 2>&1 &
cpid=$!
for _ in $(seq 100); do [ -S "$S/containerd.sock" ] && break; sleep 0.1; done
# Own config file: keeps /etc/docker/daemon.json out and the trust key out of /etc/docker.
printf '{"deprecated-key-path": "%s"}\n' "$S/docker-key.json" > "$S/daemon.json"
BERTH_TEST_TAG=$tag dockerd --config-file "$S/daemon.json" --data-root "$S/docker-data" --exec-root "$S/docker-exec" --pidfile "$S/docker.pid" \
  -H "unix://$S/docker.sock" --containerd "$S/containerd.sock" --cgroup-parent "/$CG" \
  --exec-opt native.cgroupdriver=cgroupfs --storage-driver overlay2 \
  --bridge=none --iptables=false --ip6tables=false --ip-masq=false \
  --add-runtime "logrunc=$S/runc-log" > "$S/dockerd.log" 2>&1 &
dpid=$!
for _ in $(seq 150); do timeout 5 docker version >/dev/null 2>&1 && break; sleep 0.2; done
timeout 5 docker version

# busybox image
mkdir -p "$S/rootfs/bin" "$S/rootfs/etc" "$S/rootfs/tmp"
cp /bin/busybox "$S/rootfs/bin/"
for a in sh cat echo sleep ls tty true id grep mount; do ln -s busybox "$S/rootfs/bin/$a"; done
tar -C "$S/rootfs" -c . | timeout 60 docker import - berth-test/busybox:latest

R="--runtime logrunc --network none"
run() { echo "== $*" | tee -a "$out/calls.log"; "$@"; }
run timeout 60 docker run --rm $R berth-test/busybox echo hi
run timeout 60 script -qec "docker run --rm -t $R berth-test/busybox tty" /dev/null
run timeout 60 docker run -d --name c1 $R berth-test/busybox sleep 1000
run timeout 60 docker exec c1 echo from-exec
run timeout 60 script -qec "docker exec -t c1 tty" /dev/null
run timeout 60 docker top c1
run timeout 60 docker pause c1
run timeout 60 docker unpause c1
run timeout 60 docker stats --no-stream c1
run timeout 60 docker update --memory 64m --memory-swap 128m c1
run timeout 60 docker logs c1
run timeout 60 docker stop -t 2 c1
run timeout 60 docker rm c1

# containerd's own client: the same image, imported from docker's archive
C="ctr -a $S/containerd.sock -n berth-test"
CR="--runc-binary $S/runc-log --runc-root $S/ctr-runc --fifo-dir $S/ctr-fifo"
timeout 60 docker save berth-test/busybox:latest > "$S/image.tar"
timeout 60 $C images import "$S/image.tar"
img=docker.io/berth-test/busybox:latest
run timeout 60 $C run --rm $CR --cgroup "/$CG/ctr1" $img ctr1 echo hi-from-ctr
run timeout 60 script -qec "$C run --rm -t $CR --cgroup /$CG/ctr2 $img ctr2 tty" /dev/null
run timeout 60 $C run -d $CR --cgroup "/$CG/ctr3" $img ctr3 sleep 1000
run timeout 60 $C task exec --fifo-dir "$S/ctr-fifo" --exec-id e1 ctr3 echo exec-from-ctr
run timeout 60 $C task ps ctr3
run timeout 60 $C task pause ctr3
run timeout 60 $C task resume ctr3
run timeout 60 $C task metrics ctr3
run timeout 60 $C task kill -s SIGKILL ctr3
sleep 1
run timeout 60 $C task delete ctr3
run timeout 60 $C container delete ctr3
cp "$S/dockerd.log" "$S/containerd.log" "$out/" || true
