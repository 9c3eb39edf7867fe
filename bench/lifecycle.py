#!/usr/bin/env python3
"""Container lifecycle benchmark: `RUNTIME run ID` of /bin/true in a busybox bundle.

Runs berth-runtime, runc and crun side by side (whichever are present), interleaved run by
run (A B C A B C ...) after a few warm-up runs, in three modes:

  with cgroups   runc's default config (terminal false, args ["/bin/true"]) plus, like crun's
                 own benchmark bundle, linux.cgroupsPath=/berth-bench/b<N> (unique per run) and
                 linux.resources.devices=[{"allow":false,"access":"rwm"}]
  no resources   the same bundle without linux.resources (see NOTE below on cgroupsPath)
  docker profile "with cgroups" plus the seccomp profile and capability sets dockerd 20.10 sends
                 for a default `docker run` (bench/fixtures/docker-default-config.json)

The container gets new pid, mount, uts, ipc and network namespaces. For each runtime and mode it
prints the median and p90 wall time of the `run` process, its peak RSS (ru_maxrss from
os.wait4, which covers the runtime process and the children it reaped; read in separate
untimed runs, see spawn_for_rss), and the ratios of the
medians against crun and runc, as a Markdown table, with the machine, kernel and versions.

crun refuses a hybrid cgroup layout (cgroup v1 controllers plus cgroup2 at
/sys/fs/cgroup/unified), so by default this process moves itself into a private mount namespace
in which /sys/fs/cgroup/unified is unmounted, and every runtime runs there. --no-hide-unified
skips that (crun is then skipped on a hybrid host).

NOTE on "no resources": runc and crun create a cgroup for every container whatever the config
says; without linux.cgroupsPath they would put it outside berth-bench (crun at /<id>, runc under
the caller's own cgroup). To keep every cgroup this benchmark causes under /berth-bench, the
"no resources" mode keeps a unique cgroupsPath and drops only linux.resources.

Cleanup: each runtime gets its own fresh --root; a container still present after `run` is
deleted (outside the timed part); at the end the berth-bench subtree is removed from each
cgroup hierarchy (rmdir, deepest first) and nothing else is touched.

Python 3 standard library only. Must run as root.
"""

import argparse
import ctypes
import datetime
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

CGROUP_ROOT = "/sys/fs/cgroup"
UNIFIED = "/sys/fs/cgroup/unified"
CGROUP_PARENT = "berth-bench"
NOT_COUNTED = "(berth: cgroups not yet implemented — does not count)"

CLONE_NEWNS = 0x00020000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
MNT_DETACH = 2
PR_SET_CHILD_SUBREAPER = 36

WARMUP = 5
RSS_RUNS = 20  # untimed runs per runtime and mode that read ru_maxrss
DEVNULL_FD = None


def default_config():
    """runc 1.1's `runc spec` default, with terminal false and args ["/bin/true"]."""
    caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    return {
        "ociVersion": "1.0.2-dev",
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0},
            "args": ["/bin/true"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {k: list(caps) for k in ("bounding", "effective", "permitted", "ambient")},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "bench",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
        ],
        "linux": {
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
            "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                            "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
                            "/proc/scsi"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
        },
    }


MODES = ("with cgroups", "no resources", "docker profile")
DOCKER_FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "docker-default-config.json")


def docker_security():
    """The seccomp profile and capabilities dockerd 20.10 sends for a default `docker run`."""
    with open(DOCKER_FIXTURE) as f:
        docker = json.load(f)
    return docker["process"]["capabilities"], docker["linux"]["seccomp"]


def mode_config(mode, cgroup_path, rootfs):
    config = default_config()
    config["root"]["path"] = rootfs
    config["linux"]["cgroupsPath"] = cgroup_path
    if mode == "no resources":
        del config["linux"]["resources"]
    if mode == "docker profile":
        config["process"]["capabilities"], config["linux"]["seccomp"] = docker_security()
    return config


# ---------------------------------------------------------------------------------------------
# mounts and cgroups


def mountinfo():
    """(mount point, fs type) of every mount in this mount namespace, in mountinfo order."""
    mounts = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            point = left.split()[4].replace("\\040", " ")
            mounts.append((point, right.split()[0]))
    return mounts


def fs_type(path):
    """Type of the file system that holds path (the last-mounted, longest matching mount point)."""
    best, kind = "", None
    for point, fstype in mountinfo():
        if (path == point or path.startswith(point.rstrip("/") + "/")) and len(point) >= len(best):
            best, kind = point, fstype
    return kind


def hybrid_layout():
    return CGROUP_ROOT in {p for p, t in mountinfo() if t == "tmpfs"} and \
        UNIFIED in {p for p, t in mountinfo() if t == "cgroup2"}


def hide_unified():
    """unshare(CLONE_NEWNS), make every mount private, lazily unmount /sys/fs/cgroup/unified."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]
    libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
    if libc.unshare(CLONE_NEWNS) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS)")
    if libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        raise OSError(ctypes.get_errno(), "mount / MS_REC|MS_PRIVATE")
    if libc.umount2(UNIFIED.encode(), MNT_DETACH) != 0:
        raise OSError(ctypes.get_errno(), f"umount2 {UNIFIED} MNT_DETACH")


def bench_cgroup_dirs():
    """The berth-bench directory of every hierarchy under /sys/fs/cgroup that has one."""
    dirs = []
    if fs_type(CGROUP_ROOT) == "cgroup2":
        candidates = [os.path.join(CGROUP_ROOT, CGROUP_PARENT)]
    else:
        candidates = [os.path.join(CGROUP_ROOT, name, CGROUP_PARENT) for name in sorted(os.listdir(CGROUP_ROOT))]
    for path in candidates:
        if os.path.isdir(path) and not os.path.islink(path):
            dirs.append(path)
    return dirs


def remove_bench_cgroups(unified_hidden):
    """rmdir the berth-bench subtree, deepest first, in each hierarchy. Returns what was left."""
    left = []
    for top in bench_cgroup_dirs():
        kind = fs_type(top)
        if kind in ("cgroup", "cgroup2"):
            for dirpath, _dirs, _files in os.walk(top, topdown=False):
                try:
                    os.rmdir(dirpath)
                except OSError as e:
                    left.append(f"{dirpath}: {e.strerror}")
        elif unified_hidden and kind == "tmpfs" and top.startswith(UNIFIED + "/"):
            # With cgroup2 unmounted, runc and crun still "join" /sys/fs/cgroup/unified/<path> and
            # so leave plain directories and cgroup.procs files on the /sys/fs/cgroup tmpfs, hidden
            # under the cgroup2 mount outside this namespace. They are not cgroups: remove them.
            shutil.rmtree(top, ignore_errors=True)
            if os.path.exists(top):
                left.append(f"{top}: could not remove (tmpfs)")
        else:
            left.append(f"{top}: on {kind}, not a cgroup file system: left alone")
    return left


# ---------------------------------------------------------------------------------------------
# runtimes


class Runtime:
    def __init__(self, name, path, version):
        self.name = name
        self.path = path
        self.version = version
        self.root = tempfile.mkdtemp(prefix=f"berth-bench-{name}-root-")
        self.skipped = {}  # mode -> reason
        self.times = {m: [] for m in MODES}
        self.rss = {m: [] for m in MODES}
        self.failures = {m: 0 for m in MODES}
        self.cgroups = None  # berth only: does `features` say linux.cgroup.v1?


def first_line(cmd):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
        text = (out.stdout or out.stderr).strip().splitlines()
        return text[0] if text else "?"
    except (OSError, subprocess.SubprocessError) as e:
        return f"? ({e})"


def berth_has_cgroups_v1(path):
    """Read `berth-runtime features`: True only if linux.cgroup.v1 is true."""
    try:
        out = subprocess.run([path, "features"], capture_output=True, text=True, timeout=20)
        features = json.loads(out.stdout)
        return features.get("linux", {}).get("cgroup", {}).get("v1") is True
    except (OSError, subprocess.SubprocessError, ValueError, AttributeError):
        return False


def spawn_and_wait(argv, err_path):
    """Run argv with stdin/stdout on /dev/null and stderr to err_path; time it.

    Returns (exit status, wall seconds)."""
    err_fd = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        actions = [
            (os.POSIX_SPAWN_DUP2, DEVNULL_FD, 0),
            (os.POSIX_SPAWN_DUP2, DEVNULL_FD, 1),
            (os.POSIX_SPAWN_DUP2, err_fd, 2),
        ]
        start = time.perf_counter()
        pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=actions)
        _, status, _ = os.wait4(pid, 0)
        elapsed = time.perf_counter() - start
    finally:
        os.close(err_fd)
    reap_strays()
    return os.waitstatus_to_exitcode(status), elapsed


def spawn_for_rss(argv, err_path):
    """Run argv as a child of a small /bin/sh that exits at once, and wait4 it here.

    ru_maxrss survives execve: a process spawned straight from this Python process starts with
    Python's own peak RSS (~13 MiB) as its ru_maxrss, which would hide crun's and berth's. So the
    runtime is forked by sh (whose memory is small), sh exits, and the runtime is reparented to
    this process (a child subreaper), whose wait4 then reads the runtime's own ru_maxrss (with
    the children it reaped). Returns (exit status, ru_maxrss KiB). Not timed."""
    script = '"$@" </dev/null >/dev/null 2>"$0" & echo $!'
    read_fd, write_fd = os.pipe()
    try:
        actions = [
            (os.POSIX_SPAWN_DUP2, DEVNULL_FD, 0),
            (os.POSIX_SPAWN_DUP2, write_fd, 1),
            (os.POSIX_SPAWN_DUP2, DEVNULL_FD, 2),
            (os.POSIX_SPAWN_CLOSE, read_fd),
        ]
        sh = os.posix_spawn("/bin/sh", ["/bin/sh", "-c", script, err_path] + argv, os.environ,
                            file_actions=actions)
        os.close(write_fd)
        write_fd = None
        with os.fdopen(read_fd, "rb") as f:
            read_fd = None
            out = f.read().decode().strip()
        os.waitpid(sh, 0)
    finally:
        for fd in (read_fd, write_fd):
            if fd is not None:
                os.close(fd)
    pid = int(out)
    _, status, rusage = os.wait4(pid, 0)
    reap_strays()
    return os.waitstatus_to_exitcode(status), rusage.ru_maxrss


def reap_strays():
    """Reap any orphan reparented to this subreaper (none expected)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def drain_children(timeout):
    """After an interruption: wait up to timeout seconds for children still running."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.05)


def on_sigterm(_signum, _frame):
    raise KeyboardInterrupt


def become_subreaper():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def read_err(err_path):
    try:
        with open(err_path, errors="replace") as f:
            return f.read().strip()
    except OSError:
        return ""


class Bench:
    def __init__(self, workdir):
        self.workdir = workdir
        self.counter = 0
        self.bundles = {}
        self.err_path = os.path.join(workdir, "stderr")
        rootfs = self.rootfs = os.path.join(workdir, "rootfs")
        os.makedirs(os.path.join(rootfs, "bin"))
        shutil.copy2("/bin/busybox", os.path.join(rootfs, "bin", "busybox"))
        os.symlink("busybox", os.path.join(rootfs, "bin", "true"))
        for mode in MODES:
            bundle = os.path.join(workdir, mode.replace(" ", "-"))
            os.makedirs(bundle)
            self.bundles[mode] = bundle

    def run_once(self, rt, mode, rss=False):
        """One `run` (timed, or for RSS), then (untimed) delete if the container is still there.

        Returns (exit code, seconds or ru_maxrss KiB, stderr text on failure)."""
        self.counter += 1
        n = self.counter
        cid = f"{rt.name}-{n}"
        bundle = self.bundles[mode]
        with open(os.path.join(bundle, "config.json"), "w") as f:
            json.dump(mode_config(mode, f"/{CGROUP_PARENT}/b{n}", self.rootfs), f)
        argv = [rt.path, "--root", rt.root, "run", "--bundle", bundle, cid]
        if rss:
            code, value = spawn_for_rss(argv, self.err_path)
        else:
            code, value = spawn_and_wait(argv, self.err_path)
        err = read_err(self.err_path) if code != 0 else ""
        # runc, crun and berth remove a container that `run` waited for; delete anything left.
        if os.path.exists(os.path.join(rt.root, cid)):
            subprocess.run([rt.path, "--root", rt.root, "delete", "--force", cid],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return code, value, err


def percentile(values, q):
    s = sorted(values)
    if not s:
        return float("nan")
    k = (len(s) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def machine_lines(runtimes, args, unified_note):
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    distro = "?"
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    distro = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    lines = [
        f"- date: {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {distro}, kernel {platform.release()}, {os.cpu_count()} CPUs ({cpu})",
        f"- cgroups: {unified_note}",
        f"- runs: {args.runs} per runtime and mode, after {WARMUP} warm-up runs each, interleaved run by run",
    ]
    for rt in runtimes:
        lines.append(f"- {rt.name}: `{rt.path}`: {rt.version}")
    return lines


def fmt_ratio(a, b):
    if a is None or b is None or b == 0:
        return "–"
    return f"{a / b:.2f}"


def main():
    global DEVNULL_FD
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--berth", default=None,
                        help="berth-runtime binary (default: target/x86_64-unknown-linux-gnu/release/berth-runtime of this workspace)")
    parser.add_argument("--runs", type=int, default=200, help="timed runs per runtime and mode (default 200)")
    parser.add_argument("--no-hide-unified", action="store_true",
                        help="do not unmount /sys/fs/cgroup/unified in a private mount namespace (crun is then "
                             "skipped on a hybrid cgroup host)")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if os.geteuid() != 0:
        sys.exit("bench/lifecycle.py: must run as root (it creates namespaces and cgroups)")
    if not os.path.isfile("/bin/busybox"):
        sys.exit("bench/lifecycle.py: /bin/busybox is missing (apt-get install busybox-static)")

    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    berth_path = args.berth or os.path.join(repo, "target", "x86_64-unknown-linux-gnu", "release", "berth-runtime")

    notes = []
    hybrid = hybrid_layout()
    unified_hidden = False
    if hybrid and not args.no_hide_unified:
        hide_unified()
        unified_hidden = True
        unified_note = ("hybrid host (v1 controllers + cgroup2 at /sys/fs/cgroup/unified); ALL runtimes ran in one "
                        "private mount namespace with /sys/fs/cgroup/unified unmounted (crun refuses the hybrid "
                        "layout), so all see the same cgroup v1 layout")
    elif hybrid:
        unified_note = "hybrid host, /sys/fs/cgroup/unified left mounted (--no-hide-unified): crun skipped"
    else:
        unified_note = f"{fs_type(CGROUP_ROOT) or '?'} at /sys/fs/cgroup, not hybrid: nothing hidden"

    candidates = []
    if os.access(berth_path, os.X_OK):
        candidates.append(("berth", os.path.abspath(berth_path), [berth_path, "--version"]))
    else:
        notes.append(f"berth skipped: {berth_path} not found (build it: cargo build --release -p berth-runtime)")
    for name in ("runc", "crun"):
        path = shutil.which(name)
        if path is None:
            notes.append(f"{name} skipped: not installed")
        elif name == "crun" and hybrid and not unified_hidden:
            notes.append("crun skipped: it refuses a hybrid cgroup layout and --no-hide-unified was given")
        else:
            candidates.append((name, path, [path, "--version"]))

    DEVNULL_FD = os.open(os.devnull, os.O_RDWR)
    become_subreaper()
    signal.signal(signal.SIGTERM, on_sigterm)
    workdir = tempfile.mkdtemp(prefix="berth-bench-")
    runtimes = []
    left = []
    interrupted = False
    try:
        for name, path, version_cmd in candidates:
            rt = Runtime(name, path, first_line(version_cmd))
            if name == "berth":
                rt.cgroups = berth_has_cgroups_v1(path)
            runtimes.append(rt)
        bench = Bench(workdir)
        total = len(MODES) * args.runs * len(runtimes)
        done = 0
        for mode in MODES:
            # warm-up; a runtime whose warm-up fails is skipped in this mode
            for _ in range(WARMUP):
                for rt in runtimes:
                    if mode in rt.skipped:
                        continue
                    code, _, err = bench.run_once(rt, mode)
                    if code != 0:
                        rt.skipped[mode] = f"exit {code}: {err.splitlines()[-1] if err else '(no stderr)'}"
            active = [rt for rt in runtimes if mode not in rt.skipped]
            rss_every = max(1, args.runs // RSS_RUNS)
            for i in range(args.runs):
                for rt in active:
                    code, seconds, err = bench.run_once(rt, mode)
                    if code == 0:
                        rt.times[mode].append(seconds * 1000.0)
                    else:
                        rt.failures[mode] += 1
                        if rt.failures[mode] == 1:
                            print(f"  {rt.name} ({mode}) run failed, exit {code}: {err[-300:]}", file=sys.stderr)
                    done += 1
                if i % rss_every == 0:
                    for rt in active:
                        code, maxrss, _ = bench.run_once(rt, mode, rss=True)
                        if code == 0:
                            rt.rss[mode].append(maxrss)
                if sys.stderr.isatty():
                    print(f"\r  {mode}: {i + 1}/{args.runs}  ({done}/{total})", end="", file=sys.stderr, flush=True)
            if sys.stderr.isatty():
                print(file=sys.stderr)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if interrupted:
            drain_children(5)
        os.close(DEVNULL_FD)
        for rt in runtimes:
            # containers left by an interrupted run
            if os.path.isdir(rt.root):
                for cid in os.listdir(rt.root):
                    if os.path.isdir(os.path.join(rt.root, cid)) and cid.startswith(rt.name + "-"):
                        subprocess.run([rt.path, "--root", rt.root, "delete", "--force", cid],
                                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
            shutil.rmtree(rt.root, ignore_errors=True)
        shutil.rmtree(workdir, ignore_errors=True)
        left = remove_bench_cgroups(unified_hidden)
    if interrupted:
        sys.exit("interrupted; cleaned up")

    # ---- report
    print("## Lifecycle benchmark: `RUNTIME run ID` of /bin/true (busybox bundle; new pid, mount, uts, ipc, "
          "network namespaces)")
    print()
    for line in machine_lines(runtimes, args, unified_note):
        print(line)
    for note in notes:
        print(f"- {note}")
    print()
    print("| mode | runtime | median (ms) | p90 (ms) | peak RSS (KiB) | ÷ crun | ÷ runc | runs ok |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for mode in MODES:
        medians = {rt.name: statistics.median(rt.times[mode]) for rt in runtimes if rt.times[mode]}
        for rt in runtimes:
            label = rt.name
            if rt.name == "berth" and mode == "with cgroups" and not rt.cgroups:
                label = NOT_COUNTED
            if mode in rt.skipped:
                print(f"| {mode} | {label} | failed: {rt.skipped[mode].replace('|', '/')[:160]} | | | | | 0 |")
                continue
            if not rt.times[mode]:
                print(f"| {mode} | {label} | – | – | – | – | – | 0/{args.runs} |")
                continue
            med = medians[rt.name]
            p90 = percentile(rt.times[mode], 0.9)
            rss = int(statistics.median(rt.rss[mode])) if rt.rss[mode] else 0
            rss_max = max(rt.rss[mode], default=0)
            vs_crun = fmt_ratio(med, medians.get("crun")) if rt.name != "crun" else "1.00"
            vs_runc = fmt_ratio(med, medians.get("runc")) if rt.name != "runc" else "1.00"
            ok = len(rt.times[mode])
            print(f"| {mode} | {label} | {med:.2f} | {p90:.2f} | {rss} (max {rss_max}) | {vs_crun} | {vs_runc} "
                  f"| {ok}/{args.runs} |")
    print()
    print("Wall time of the whole `run` process (create + start + wait for /bin/true + exit), measured by the "
          "parent around posix_spawn/wait4. Peak RSS is wait4's ru_maxrss: the largest RSS of the runtime "
          "process and of the children it reaped, read in separate untimed runs in which the runtime is "
          "forked by a small sh (ru_maxrss survives execve, so a runtime spawned straight from Python would "
          "report Python's own RSS); median over those runs, max in brackets. ÷ crun and ÷ runc are "
          "ratios of the medians (berth/crun, berth/runc). The no resources mode drops linux.resources but "
          "keeps a cgroupsPath under /berth-bench, since runc and crun make a cgroup per container anyway.")
    for mode in MODES:
        b = next((rt for rt in runtimes if rt.name == "berth"), None)
        if b and b.times[mode]:
            med = statistics.median(b.times[mode])
            parts = []
            for other in ("crun", "runc"):
                o = next((rt for rt in runtimes if rt.name == other and rt.times[mode]), None)
                if o:
                    parts.append(f"berth/{other} = {med / statistics.median(o.times[mode]):.2f}")
            suffix = f" {NOT_COUNTED}" if mode == "with cgroups" and not b.cgroups else ""
            if parts:
                print(f"\n{mode}: " + ", ".join(parts) + suffix)
    if left:
        print("\nWARNING: could not remove: " + "; ".join(left), file=sys.stderr)
    failed = [f"{rt.name} ({m}): {rt.failures[m]}" for rt in runtimes for m in MODES if rt.failures[m]]
    if failed:
        print("\nfailed runs (not counted): " + ", ".join(failed))


if __name__ == "__main__":
    main()
