//! Shared fixtures for the berth-runtime integration tests.
//!
//! Every test builds its own [`TestEnv`]: a private base directory
//! `/run/berth-test-<tag>/` holding the `--root` state dir, bundles and
//! scratch files. Its `Drop` force-deletes every container the test created,
//! kills (by PID) any process still carrying the test's tag, unmounts anything
//! left under the base dir and removes it, so a failing test leaves nothing
//! behind.
//!
//! The binary under test is `$BERTH_RUNTIME_BIN` if set (e.g. `/usr/sbin/runc`
//! to validate the tests themselves), else the cargo-built `berth-runtime`;
//! `$BERTH_RUNTIME_ARGS` adds global flags (e.g. for crun on a hybrid cgroup
//! host: `BERTH_RUNTIME_BIN=/usr/bin/crun BERTH_RUNTIME_ARGS=--cgroup-manager=disabled`).

#![allow(dead_code)]

pub mod cgroupfs;
pub mod clients;

use serde_json::{Value, json};
use std::ffi::OsStr;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Default time limit for one runtime invocation.
pub const CMD_TIMEOUT: Duration = Duration::from_secs(10);

/// CMD_TIMEOUT, allowing for the emulated test VM (many times slower, sometimes busy).
pub fn cmd_timeout() -> Duration {
    cgroupfs::scaled(CMD_TIMEOUT.as_secs())
}

/// Applets linked into every rootfs.
pub const APPLETS: &[&str] = &[
    "sh", "ash", "cat", "echo", "id", "ls", "pwd", "hostname", "env", "sleep", "usleep", "true",
    "false", "kill", "readlink", "stat", "mount", "grep", "wc", "touch", "mkdir", "ps", "test",
    "[", "head", "tail", "cut", "tr", "sed", "awk", "uname", "printf", "rm", "ln", "mknod", "dd",
    "timeout", "nproc", "seq",
];

pub const PATH_ENV: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Skip the test (return early) when not run as root.
#[macro_export]
macro_rules! require_root {
    () => {
        if !$crate::common::is_root() {
            eprintln!("SKIP: {} needs root", module_path!());
            return;
        }
    };
}

pub fn is_root() -> bool {
    unsafe { libc::geteuid() == 0 }
}

/// Path of the runtime binary under test.
pub fn runtime_bin() -> PathBuf {
    match std::env::var_os("BERTH_RUNTIME_BIN") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(env!("CARGO_BIN_EXE_berth-runtime")),
    }
}

/// True when the binary under test is not berth-runtime (e.g. runc, used to
/// validate the tests). Only the berth-specific error-message format is
/// relaxed for it.
pub fn is_reference_runtime() -> bool {
    runtime_bin()
        .file_name()
        .map(|n| n != "berth-runtime")
        .unwrap_or(false)
}

/// Extra global flags from `$BERTH_RUNTIME_ARGS` (whitespace separated), e.g.
/// `--cgroup-manager=disabled` when validating the tests against crun.
pub fn extra_global_args() -> Vec<String> {
    std::env::var("BERTH_RUNTIME_ARGS")
        .unwrap_or_default()
        .split_whitespace()
        .map(String::from)
        .collect()
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A short unique token: pid, time, counter.
pub fn unique() -> String {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{:x}{:x}{}", std::process::id(), t, n)
}

/// Result of one runtime invocation.
#[derive(Debug)]
pub struct Out {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// Files holding the runtime's (and so the container's) stdout/stderr; a
    /// detached container may keep writing to them after the runtime exits.
    pub stdout_path: PathBuf,
    pub stderr_path: PathBuf,
    pub args: Vec<String>,
}

impl Out {
    pub fn ok(&self) -> bool {
        self.status.success()
    }
    /// Exit code, or 128+N when the runtime itself died of signal N.
    pub fn code(&self) -> i32 {
        self.status
            .code()
            .unwrap_or_else(|| 128 + self.status.signal().unwrap_or(0))
    }
    #[track_caller]
    pub fn assert_ok(&self) -> &Self {
        assert!(
            self.ok(),
            "command {:?} failed: {}",
            self.args,
            self.describe()
        );
        self
    }
    #[track_caller]
    pub fn assert_fail(&self) -> &Self {
        assert!(
            !self.ok(),
            "command {:?} unexpectedly succeeded: {}",
            self.args,
            self.describe()
        );
        self
    }
    pub fn describe(&self) -> String {
        format!(
            "status={:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status, self.stdout, self.stderr
        )
    }
    /// Re-read the stdout file (for output written after the runtime exited).
    pub fn stdout_now(&self) -> String {
        fs::read_to_string(&self.stdout_path).unwrap_or_default()
    }
}

/// Per-test environment. See the module docs.
pub struct TestEnv {
    pub name: String,
    pub tag: String,
    pub base: PathBuf,
    pub root: PathBuf,
    ids: Mutex<Vec<String>>,
    bundles: AtomicUsize,
    outs: AtomicUsize,
    /// Extra cleanup commands run in Drop (before unmounting), e.g. killing helpers.
    pub extra_pids: Mutex<Vec<i32>>,
}

impl TestEnv {
    pub fn new(name: &str) -> TestEnv {
        let tag = format!("{}-{}", name.replace('_', "-"), unique());
        let base = PathBuf::from(format!("/run/berth-test-{tag}"));
        fs::create_dir_all(&base).unwrap();
        fs::set_permissions(&base, fs::Permissions::from_mode(0o755)).unwrap();
        let root = base.join("state");
        TestEnv {
            name: name.to_string(),
            tag,
            base,
            root,
            ids: Mutex::new(Vec::new()),
            bundles: AtomicUsize::new(0),
            outs: AtomicUsize::new(0),
            extra_pids: Mutex::new(Vec::new()),
        }
    }

    /// A container ID unique to this test.
    pub fn id(&self, suffix: &str) -> String {
        let id = format!("bt-{}-{}", suffix, unique());
        self.track(&id);
        id
    }

    /// Remember `id` for `delete -f` in Drop.
    pub fn track(&self, id: &str) {
        let mut ids = self.ids.lock().unwrap();
        if !ids.iter().any(|i| i == id) {
            ids.push(id.to_string());
        }
    }

    /// The default config (runc-spec-like, terminal false) running `args`.
    pub fn config(&self, args: &[&str]) -> Value {
        default_config(args, &self.tag)
    }

    /// Build a new bundle (busybox rootfs + the given config) and return its dir.
    /// Unless the config sets `linux.cgroupsPath`, it is set to
    /// `/berth-test-<tag>/bundle-N`, so any cgroup a runtime creates lies under
    /// a `berth-test-*` parent, which Drop removes.
    pub fn bundle(&self, config: &Value) -> PathBuf {
        let n = self.bundles.fetch_add(1, Ordering::SeqCst);
        let dir = self.base.join(format!("bundle-{n}"));
        build_rootfs(&dir.join("rootfs"));
        let mut config = config.clone();
        if config["linux"].is_object() && config["linux"].get("cgroupsPath").is_none() {
            config["linux"]["cgroupsPath"] = json!(format!("/{}/bundle-{n}", self.cgroup_parent()));
        }
        write_config(&dir, &config);
        dir
    }

    /// Name of this test's cgroup parent (`berth-test-<tag>`).
    pub fn cgroup_parent(&self) -> String {
        format!("berth-test-{}", self.tag)
    }

    /// A bundle whose config.json content is given verbatim (for bad input).
    pub fn bundle_raw(&self, config_text: &str) -> PathBuf {
        let n = self.bundles.fetch_add(1, Ordering::SeqCst);
        let dir = self.base.join(format!("bundle-{n}"));
        build_rootfs(&dir.join("rootfs"));
        fs::write(dir.join("config.json"), config_text).unwrap();
        dir
    }

    /// A scratch dir under the base dir (mode 0755).
    pub fn scratch(&self, name: &str) -> PathBuf {
        let d = self.base.join(name);
        fs::create_dir_all(&d).unwrap();
        fs::set_permissions(&d, fs::Permissions::from_mode(0o755)).unwrap();
        d
    }

    /// A Command for the runtime with `--root` set, the test tag in its env.
    pub fn command(&self) -> Command {
        let mut c = Command::new(runtime_bin());
        c.args(extra_global_args());
        c.arg("--root").arg(&self.root);
        c.env("BERTH_TEST_TAG", &self.tag);
        c
    }

    fn out_paths(&self) -> (PathBuf, PathBuf) {
        let n = self.outs.fetch_add(1, Ordering::SeqCst);
        let d = self.base.join("out");
        fs::create_dir_all(&d).unwrap();
        (d.join(format!("{n}.stdout")), d.join(format!("{n}.stderr")))
    }

    /// Spawn `runtime --root R <args>` with stdin null and stdout/stderr to
    /// files (never pipes: a container holding a pipe would block EOF).
    pub fn spawn<I, S>(&self, args: I) -> (Child, PathBuf, PathBuf, Vec<String>)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut c = self.command();
        let args: Vec<String> = args
            .into_iter()
            .map(|a| a.as_ref().to_string_lossy().into_owned())
            .collect();
        c.args(&args);
        self.spawn_cmd(c, args)
    }

    pub fn spawn_cmd(
        &self,
        mut c: Command,
        args: Vec<String>,
    ) -> (Child, PathBuf, PathBuf, Vec<String>) {
        let (o, e) = self.out_paths();
        c.stdin(Stdio::null())
            .stdout(fs::File::create(&o).unwrap())
            .stderr(fs::File::create(&e).unwrap());
        let child = c
            .spawn()
            .unwrap_or_else(|err| panic!("spawn {:?}: {err}", runtime_bin()));
        (child, o, e, args)
    }

    /// Run the runtime with `args` and wait (at most `CMD_TIMEOUT`).
    pub fn rt<I, S>(&self, args: I) -> Out
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let (child, o, e, args) = self.spawn(args);
        finish(child, o, e, args, cmd_timeout())
    }

    pub fn rt_cmd(&self, c: Command, args: Vec<String>, timeout: Duration) -> Out {
        let (child, o, e, args) = self.spawn_cmd(c, args);
        finish(child, o, e, args, timeout)
    }

    /// `run -b BUNDLE ID` in the foreground.
    pub fn run(&self, bundle: &Path, id: &str) -> Out {
        self.track(id);
        self.rt([
            "run".to_string(),
            "-b".into(),
            bundle.display().to_string(),
            id.to_string(),
        ])
    }

    /// Build a bundle from `config` and `run` it under a fresh ID.
    pub fn run_config(&self, config: &Value) -> Out {
        let b = self.bundle(config);
        let id = self.id("run");
        self.run(&b, &id)
    }

    /// `run` with `args` under the default config.
    pub fn run_args(&self, args: &[&str]) -> Out {
        self.run_config(&self.config(args))
    }

    pub fn create(&self, bundle: &Path, id: &str) -> Out {
        self.create_with(bundle, id, &[])
    }

    pub fn create_with(&self, bundle: &Path, id: &str, extra: &[&str]) -> Out {
        self.track(id);
        let mut args: Vec<String> =
            vec!["create".into(), "-b".into(), bundle.display().to_string()];
        args.extend(extra.iter().map(|s| s.to_string()));
        args.push(id.to_string());
        self.rt(args)
    }

    pub fn start(&self, id: &str) -> Out {
        self.rt(["start", id])
    }

    pub fn kill(&self, id: &str, sig: &str) -> Out {
        self.rt(["kill", id, sig])
    }

    pub fn delete(&self, id: &str) -> Out {
        self.rt(["delete", id])
    }

    pub fn delete_force(&self, id: &str) -> Out {
        self.rt(["delete", "-f", id])
    }

    /// `state ID` parsed; panics with the output when it fails.
    #[track_caller]
    pub fn state(&self, id: &str) -> Value {
        let o = self.rt(["state", id]);
        o.assert_ok();
        serde_json::from_str(&o.stdout)
            .unwrap_or_else(|e| panic!("state output is not JSON ({e}): {}", o.stdout))
    }

    pub fn state_status(&self, id: &str) -> String {
        self.state(id)["status"].as_str().unwrap_or("").to_string()
    }

    #[track_caller]
    pub fn state_pid(&self, id: &str) -> i32 {
        let s = self.state(id);
        s["pid"]
            .as_i64()
            .unwrap_or_else(|| panic!("no pid in state: {s}")) as i32
    }

    /// Poll `state` until its status is `want` (or time out and panic).
    #[track_caller]
    pub fn wait_status(&self, id: &str, want: &str, timeout: Duration) {
        let start = Instant::now();
        loop {
            let st = self.state_status(id);
            if st == want {
                return;
            }
            if start.elapsed() > timeout {
                panic!("container {id}: status {st:?}, waited {timeout:?} for {want:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// create + start a container running `args`; returns (id, bundle, create output).
    pub fn start_container(&self, config: &Value) -> (String, PathBuf, Out) {
        let b = self.bundle(config);
        let id = self.id("c");
        let c = self.create(&b, &id);
        c.assert_ok();
        self.start(&id).assert_ok();
        (id, b, c)
    }

    /// PIDs of live (non-zombie) processes carrying this test's tag in their
    /// environment (the runtime's helpers and the container processes).
    /// Also counts processes in this test's cgroups (a runtime's own init
    /// helper may not inherit the environment).
    pub fn tagged_pids(&self) -> Vec<i32> {
        let mut v = tagged_pids(&self.tag);
        for p in pids_in_cgroup(&self.cgroup_parent()) {
            if !v.contains(&p) {
                v.push(p);
            }
        }
        v
    }

    /// State dir entries under --root (should be empty after cleanup).
    /// After a refused create or run of `bundle` as `id`: no state dir, no mount under the
    /// bundle, no process of this test, no cgroup at the bundle's default cgroupsPath.
    #[track_caller]
    pub fn assert_nothing_left(&self, id: &str, bundle: &Path) {
        assert!(!self.root.join(id).exists(), "state dir left for {id}");
        let b = bundle.display().to_string();
        assert!(
            host_mount_lines(&b).is_empty(),
            "mounts left: {:?}",
            host_mount_lines(&b)
        );
        let gone = wait_for(cgroupfs::scaled(3), || {
            self.tagged_pids().is_empty().then_some(())
        });
        assert!(gone.is_some(), "processes left: {:?}", self.tagged_pids());
        let leaf = bundle.file_name().unwrap().to_string_lossy().into_owned();
        let cgroups = cgroupfs::cg_dirs_existing(&format!("{}/{leaf}", self.cgroup_parent()));
        assert!(cgroups.is_empty(), "cgroups left: {cgroups:?}");
    }

    /// Container state under --root; berth's compiled-seccomp cache is not a container's state.
    pub fn root_entries(&self) -> Vec<String> {
        match fs::read_dir(&self.root) {
            Ok(rd) => rd
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|name| name != "@seccomp-cache")
                .collect(),
            Err(_) => vec![],
        }
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        let ids: Vec<String> = self.ids.lock().unwrap().clone();
        for id in &ids {
            let mut c = Command::new(runtime_bin());
            c.args(extra_global_args());
            c.arg("--root").arg(&self.root).args(["delete", "-f", id]);
            c.stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            if let Ok(child) = c.spawn() {
                let _ = wait_timeout(child, Duration::from_secs(10));
            }
        }
        for pid in self.extra_pids.lock().unwrap().iter() {
            unsafe { libc::kill(*pid, libc::SIGKILL) };
        }
        // Anything the runtime or a container left running under our tag.
        for _ in 0..20 {
            let left = self.tagged_pids();
            if left.is_empty() {
                break;
            }
            for pid in left {
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        unmount_under(&self.base);
        remove_cgroups(&self.cgroup_parent());
        if std::env::var_os("BERTH_TEST_KEEP").is_none() {
            let _ = fs::remove_dir_all(&self.base);
        }
    }
}

/// Wait for `child` at most `timeout`; on timeout kill it (SIGKILL) and reap.
pub fn wait_timeout(mut child: Child, timeout: Duration) -> (ExitStatus, bool) {
    let start = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return (st, false);
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            return (child.wait().unwrap(), true);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub fn finish(child: Child, o: PathBuf, e: PathBuf, args: Vec<String>, timeout: Duration) -> Out {
    let (status, timed_out) = wait_timeout(child, timeout);
    let stdout = fs::read_to_string(&o).unwrap_or_default();
    let mut stderr = fs::read_to_string(&e).unwrap_or_default();
    if timed_out {
        stderr.push_str(&format!(
            "\n[test harness: killed after {timeout:?} timeout]"
        ));
    }
    Out {
        status,
        stdout,
        stderr,
        stdout_path: o,
        stderr_path: e,
        args,
    }
}

/// The default config.json: like `runc spec` but terminal false, a writable
/// root, `args` as given and the test tag in the environment.
pub fn default_config(args: &[&str], tag: &str) -> Value {
    let caps = json!([
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_FSETID",
        "CAP_FOWNER",
        "CAP_MKNOD",
        "CAP_NET_RAW",
        "CAP_SETGID",
        "CAP_SETUID",
        "CAP_SETFCAP",
        "CAP_SETPCAP",
        "CAP_NET_BIND_SERVICE",
        "CAP_SYS_CHROOT",
        "CAP_KILL",
        "CAP_AUDIT_WRITE"
    ]);
    json!({
        "ociVersion": "1.0.2-dev",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": args,
            "env": [PATH_ENV, "TERM=xterm", format!("BERTH_TEST_TAG={tag}")],
            "cwd": "/",
            "capabilities": {
                "bounding": caps, "effective": caps, "permitted": caps
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": false},
        "hostname": "berth",
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
             "options": ["nosuid", "noexec", "nodev", "ro"]}
        ],
        "linux": {
            "namespaces": [
                {"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}
            ],
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"
            ],
            "readonlyPaths": [
                "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"
            ]
        }
    })
}

pub fn write_config(bundle: &Path, config: &Value) {
    fs::create_dir_all(bundle).unwrap();
    let mut f = fs::File::create(bundle.join("config.json")).unwrap();
    f.write_all(serde_json::to_string_pretty(config).unwrap().as_bytes())
        .unwrap();
}

/// A busybox rootfs: a private copy of the static /bin/busybox (a copy, not a
/// hard link, so a container cannot modify the host's file), applet symlinks
/// and the usual empty dirs. All dirs are 0755 so user-namespaced and
/// non-root container users can traverse them.
pub fn build_rootfs(rootfs: &Path) {
    for d in [
        "bin", "proc", "sys", "dev", "tmp", "etc", "mnt", "root", "usr", "var",
    ] {
        fs::create_dir_all(rootfs.join(d)).unwrap();
    }
    for p in [rootfs.parent().unwrap(), rootfs] {
        fs::set_permissions(p, fs::Permissions::from_mode(0o755)).unwrap();
    }
    fs::set_permissions(rootfs.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
    fs::copy("/bin/busybox", rootfs.join("bin/busybox")).expect("copy /bin/busybox");
    fs::set_permissions(
        rootfs.join("bin/busybox"),
        fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    for a in APPLETS {
        symlink("busybox", rootfs.join("bin").join(a)).unwrap();
    }
    symlink("bin", rootfs.join("sbin")).unwrap();
    fs::write(rootfs.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
    fs::write(rootfs.join("etc/group"), "root:x:0:\n").unwrap();
}

/// Live (non-zombie) processes whose environment holds `BERTH_TEST_TAG=<tag>`.
pub fn tagged_pids(tag: &str) -> Vec<i32> {
    let needle = format!("BERTH_TEST_TAG={tag}");
    let me = std::process::id() as i32;
    let mut out = vec![];
    let Ok(rd) = fs::read_dir("/proc") else {
        return out;
    };
    for e in rd.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(env) = fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        let hit = env.split(|b| *b == 0).any(|v| v == needle.as_bytes());
        if hit && pid_alive(pid) {
            out.push(pid);
        }
    }
    out
}

/// Live processes whose /proc/PID/cgroup mentions `/<parent>/`.
pub fn pids_in_cgroup(parent: &str) -> Vec<i32> {
    let needle = format!("/{parent}/");
    let me = std::process::id() as i32;
    let mut out = vec![];
    let Ok(rd) = fs::read_dir("/proc") else {
        return out;
    };
    for e in rd.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(cg) = fs::read_to_string(format!("/proc/{pid}/cgroup")) else {
            continue;
        };
        if cg.lines().any(|l| l.contains(&needle)) && pid_alive(pid) {
            out.push(pid);
        }
    }
    out
}

/// rmdir (never rm -r: cgroupfs) every cgroup dir named `parent` directly
/// under a hierarchy of /sys/fs/cgroup, deepest first.
pub fn remove_cgroups(parent: &str) {
    assert!(parent.starts_with("berth-test-"));
    let mut roots = vec![PathBuf::from("/sys/fs/cgroup")];
    if let Ok(rd) = fs::read_dir("/sys/fs/cgroup") {
        roots.extend(rd.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
    }
    for r in roots {
        let top = r.join(parent);
        if !top.is_dir() {
            continue;
        }
        let mut dirs = vec![];
        collect_dirs(&top, &mut dirs);
        dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        for d in dirs {
            for _ in 0..20 {
                if fs::remove_dir(&d).is_ok() || !d.exists() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

fn collect_dirs(d: &Path, out: &mut Vec<PathBuf>) {
    out.push(d.to_path_buf());
    if let Ok(rd) = fs::read_dir(d) {
        for e in rd.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                collect_dirs(&e.path(), out);
            }
        }
    }
}

/// The process exists and is not a zombie.
pub fn pid_alive(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => {
            // state is the field after the ")" that closes comm
            let st = s
                .rsplit_once(')')
                .and_then(|(_, r)| r.trim_start().chars().next());
            !matches!(st, Some('Z') | Some('X') | None)
        }
        Err(_) => false,
    }
}

/// Poll until `pid` is gone (or a zombie); returns whether it went.
pub fn wait_pid_gone(pid: i32, timeout: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if !pid_alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    !pid_alive(pid)
}

/// Poll `f` until it returns Some or the timeout passes.
pub fn wait_for<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if start.elapsed() > timeout {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// /proc/PID/cmdline as a list of args.
pub fn cmdline(pid: i32) -> Vec<String> {
    fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            b.split(|c| *c == 0)
                .filter(|s| !s.is_empty())
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Lines of the host's /proc/self/mounts mentioning `needle`.
pub fn host_mount_lines(needle: &str) -> Vec<String> {
    fs::read_to_string("/proc/self/mounts")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(needle))
        .map(String::from)
        .collect()
}

/// Unmount (lazily, deepest first) every mount of this process's mount
/// namespace that lies under `dir`.
pub fn unmount_under(dir: &Path) {
    let prefix = dir.to_string_lossy().into_owned();
    for _ in 0..5 {
        let info = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let mut targets: Vec<String> = info
            .lines()
            .filter_map(|l| l.split(' ').nth(4).map(unescape_mount))
            .filter(|m| m == &prefix || m.starts_with(&format!("{prefix}/")))
            .collect();
        if targets.is_empty() {
            return;
        }
        targets.sort_by_key(|t| std::cmp::Reverse(t.len()));
        for t in targets {
            let c = std::ffi::CString::new(t).unwrap();
            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        }
    }
}

fn unescape_mount(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

/// Namespace link of a host process, e.g. ns_link("self", "net") -> "net:[4026531840]".
pub fn ns_link(pid: &str, ns: &str) -> String {
    fs::read_link(format!("/proc/{pid}/ns/{ns}"))
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The lines of /proc/self/mountinfo (from inside) whose mount point is `mnt`.
pub fn mountinfo_line<'a>(mountinfo: &'a str, mnt: &str) -> Option<&'a str> {
    mountinfo
        .lines()
        .rfind(|l| l.split(' ').nth(4) == Some(mnt))
}

/// Assert a failed command's error follows the CLI contract (runc's): without `--log`, an error
/// is a logrus line on stderr, `time="<RFC 3339>" level=error msg="<message>"`, whose message names
/// at least one of `words` (case-insensitive). The wording is berth's own, so when the binary under
/// test is a reference runtime (runc) only a non-empty stderr is required.
#[track_caller]
pub fn assert_stderr_names(o: &Out, words: &[&str]) {
    assert!(
        !o.stderr.trim().is_empty(),
        "empty stderr: {}",
        o.describe()
    );
    if is_reference_runtime() {
        return;
    }
    let ok = error_messages(&o.stderr).iter().any(|m| {
        let m = m.to_lowercase();
        words.iter().any(|w| m.contains(&w.to_lowercase()))
    });
    assert!(
        ok,
        "stderr should have a line `time=\"...\" level=error msg=\"...\"` naming one of {words:?}: {}",
        o.describe()
    );
}

/// The messages of the `level=error` logrus lines in `text` (stderr, or a `--log` file in the
/// text format).
pub fn error_messages(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(parse_logrus_line)
        .filter(|l| l.level == "error")
        .map(|l| l.msg)
        .collect()
}

/// One line of logrus's text format, `time="T" level=L msg="M"`, as runc writes it.
#[derive(Debug)]
pub struct LogrusLine {
    pub time: String,
    pub level: String,
    pub msg: String,
}

pub fn parse_logrus_line(line: &str) -> Option<LogrusLine> {
    let rest = line.strip_prefix("time=")?;
    let (time, rest) = logfmt_value(rest)?;
    let rest = rest.strip_prefix(" level=")?;
    let (level, rest) = logfmt_value(rest)?;
    let rest = rest.strip_prefix(" msg=")?;
    let (msg, rest) = logfmt_value(rest)?;
    rest.is_empty().then_some(LogrusLine { time, level, msg })
}

/// A logfmt value at the start of `s` (bare, or Go-quoted as by `%q`) and the rest of `s`.
fn logfmt_value(s: &str) -> Option<(String, &str)> {
    let Some(quoted) = s.strip_prefix('"') else {
        let end = s.find(' ').unwrap_or(s.len());
        return Some((s[..end].to_string(), &s[end..]));
    };
    let mut out = String::new();
    let mut chars = quoted.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &quoted[i + 1..])),
            '\\' => {
                let (_, e) = chars.next()?;
                match e {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    'a' => out.push('\x07'),
                    'b' => out.push('\x08'),
                    'f' => out.push('\x0c'),
                    'v' => out.push('\x0b'),
                    'x' | 'u' | 'U' => {
                        let n = match e {
                            'x' => 2,
                            'u' => 4,
                            _ => 8,
                        };
                        let hex: String = (0..n)
                            .filter_map(|_| chars.next().map(|(_, h)| h))
                            .collect();
                        out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                    }
                    other => out.push(other),
                }
            }
            c => out.push(c),
        }
    }
    None
}

/// An RFC 3339 time in whole seconds as runc's logs have it: `2026-12-02T18:17:46Z` (or with a
/// `+hh:mm` offset).
pub fn is_rfc3339_seconds(t: &str) -> bool {
    let b = t.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| r.clone().all(|i| b.get(i).is_some_and(u8::is_ascii_digit));
    let zone = &t[t.len().min(19)..];
    b.len() >= 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && (zone == "Z"
            || (zone.len() == 6
                && (zone.starts_with('+') || zone.starts_with('-'))
                && zone.as_bytes()[3] == b':'))
}

/// Remove namespace `ns` from the config.
pub fn remove_ns(cfg: &mut Value, ns: &str) {
    cfg["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n["type"] != ns);
}

/// Add namespace `ns` (optionally joined by path) to the config.
pub fn add_ns(cfg: &mut Value, ns: &str, path: Option<&str>) {
    remove_ns(cfg, ns);
    let mut n = json!({"type": ns});
    if let Some(p) = path {
        n["path"] = json!(p);
    }
    cfg["linux"]["namespaces"].as_array_mut().unwrap().push(n);
}

/// Spawn a `Command` in which `fd` of the child is a dup of `file` (for
/// --preserve-fds tests).
pub fn with_extra_fd(c: &mut Command, file: &fs::File, target: i32) {
    use std::os::fd::AsRawFd;
    let src = file.as_raw_fd();
    unsafe {
        c.pre_exec(move || {
            if src == target {
                let fl = libc::fcntl(target, libc::F_GETFD);
                libc::fcntl(target, libc::F_SETFD, fl & !libc::FD_CLOEXEC);
            } else if libc::dup2(src, target) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Receives one descriptor and the message sent with it.
pub fn receive_fd(stream: &std::os::unix::net::UnixStream) -> (String, std::os::fd::OwnedFd) {
    let mut data = [0u8; 256];
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: data.len(),
    };
    let mut control = [0u8; 64];
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = control.len();
    let n = unsafe { libc::recvmsg(std::os::fd::AsRawFd::as_raw_fd(stream), &mut msg, 0) };
    assert!(n > 0, "recvmsg: {}", std::io::Error::last_os_error());
    let cmsg = unsafe { libc::CMSG_FIRSTHDR(&msg) };
    assert!(!cmsg.is_null(), "no control message (no descriptor sent)");
    let (level, kind) = unsafe { ((*cmsg).cmsg_level, (*cmsg).cmsg_type) };
    assert_eq!((level, kind), (libc::SOL_SOCKET, libc::SCM_RIGHTS));
    let fd = unsafe { std::ptr::read_unaligned(libc::CMSG_DATA(cmsg) as *const libc::c_int) };
    let name = String::from_utf8_lossy(&data[..n as usize]).into_owned();
    (name, unsafe {
        <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd)
    })
}
