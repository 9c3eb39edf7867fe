//! Drives berth-shim the way berthd will: spawn it with a sync pipe, read its report, talk to
//! its control socket with the protocol crate's types.
//!
//! Every test has a [`TestEnv`]: `/run/berth-test-<tag>/` with the runtime root, bundles and one
//! state dir per shim; cgroups under `berth-test-<tag>`. Its Drop kills (by PID) every process
//! carrying the test's tag (shims, containers), removes the runtime state with berth-runtime's
//! library, unmounts what is left under the base dir and removes the cgroups and the dir.
//! The rootfs and config helpers are copies of crates/berth-runtime/tests/common's.

#![allow(dead_code)]

use berth_shim_protocol::{self as proto, Request, Response, SpawnReport};
use serde_json::{Value, json};
use std::fs;
use std::io::{BufReader, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::{PermissionsExt, symlink};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The shim under test: `$BERTH_SHIM_BIN` (e.g. the release build, to measure it), else cargo's.
pub fn shim_bin() -> String {
    std::env::var("BERTH_SHIM_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_berth-shim").to_string())
}
pub const TIMEOUT: Duration = Duration::from_secs(20);

pub const APPLETS: &[&str] = &[
    "sh", "cat", "echo", "sleep", "true", "false", "kill", "stty", "seq", "printf", "head", "yes",
    "ls",
];
pub const PATH_ENV: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

#[macro_export]
macro_rules! require_root {
    () => {
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("SKIP: {} needs root", module_path!());
            return;
        }
    };
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub fn unique() -> String {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{:x}{:x}{}", std::process::id(), t, n)
}

pub struct TestEnv {
    pub tag: String,
    pub base: PathBuf,
    pub runtime_root: PathBuf,
    n: AtomicUsize,
}

/// One container's files as berthd would lay them out.
#[derive(Clone, Debug)]
pub struct Spot {
    pub id: String,
    pub bundle: PathBuf,
    pub state_dir: PathBuf,
    pub log: PathBuf,
    pub cgroup: String,
}

impl TestEnv {
    pub fn new(name: &str) -> TestEnv {
        let tag = format!("shim-{}-{}", name.replace('_', "-"), unique());
        let base = PathBuf::from(format!("/run/berth-test-{tag}"));
        fs::create_dir_all(&base).unwrap();
        fs::set_permissions(&base, fs::Permissions::from_mode(0o755)).unwrap();
        TestEnv {
            runtime_root: base.join("runtime"),
            tag,
            base,
            n: AtomicUsize::new(0),
        }
    }

    pub fn cgroup_parent(&self) -> String {
        format!("berth-test-{}", self.tag)
    }

    pub fn config(&self, args: &[&str]) -> Value {
        default_config(args, &self.tag)
    }

    /// A bundle with `config` (cgroupsPath under the test's parent) and a state dir for its shim.
    pub fn spot(&self, config: &Value) -> Spot {
        let n = self.n.fetch_add(1, Ordering::SeqCst);
        let bundle = self.base.join(format!("bundle-{n}"));
        build_rootfs(&bundle.join("rootfs"));
        let mut config = config.clone();
        let cgroup = format!("/{}/c{n}", self.cgroup_parent());
        if config["linux"].is_object() && config["linux"].get("cgroupsPath").is_none() {
            config["linux"]["cgroupsPath"] = json!(cgroup);
        }
        write_config(&bundle, &config);
        let state_dir = self.base.join(format!("shim-{n}"));
        Spot {
            id: format!("c{n}-{}", unique()),
            log: state_dir.join("container.log"),
            bundle,
            state_dir,
            cgroup,
        }
    }

    /// The shim's command line for `spot`, plus `extra` flags.
    pub fn shim_args(&self, spot: &Spot, extra: &[&str]) -> Vec<String> {
        let mut args: Vec<String> = vec![
            "--id".into(),
            spot.id.clone(),
            "--bundle".into(),
            spot.bundle.display().to_string(),
            "--state-dir".into(),
            spot.state_dir.display().to_string(),
            "--runtime-root".into(),
            self.runtime_root.display().to_string(),
            "--log-path".into(),
            spot.log.display().to_string(),
            "--shim-log".into(),
            self.base.join("shim-stderr.log").display().to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    }

    /// Spawns a shim as berthd does (sync pipe on fd 3) and returns its report.
    pub fn spawn(&self, spot: &Spot, extra: &[&str]) -> SpawnReport {
        self.spawn_via(&[], spot, extra)
    }

    /// Spawns the shim through `prefix` (a command that execs its arguments, e.g. `unshare`).
    pub fn spawn_via(&self, prefix: &[&str], spot: &Spot, extra: &[&str]) -> SpawnReport {
        let mut args: Vec<String> = prefix.iter().map(|s| s.to_string()).collect();
        args.push(shim_bin());
        args.extend(self.shim_args(spot, extra));
        args.extend(["--sync-fd".into(), "3".into()]);
        let (read, write) = pipe();
        let mut cmd = Command::new(&args[0]);
        cmd.args(&args[1..]).env("BERTH_TEST_TAG", &self.tag);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        let w = write.as_raw_fd();
        unsafe {
            cmd.pre_exec(move || {
                if libc::dup2(w, 3) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn().expect("spawn berth-shim");
        drop(write);
        // The process we started leaves at once; the shim it forked reports.
        let status = child.wait().unwrap();
        assert!(
            status.success() || status.code() == Some(2),
            "berth-shim exited {status}"
        );
        read_report(read)
    }

    /// Spawns and expects success.
    #[track_caller]
    pub fn spawn_ok(&self, spot: &Spot, extra: &[&str]) -> Shim {
        match self.spawn(spot, extra) {
            SpawnReport::Created { shim_pid, init_pid } => Shim {
                dir: spot.state_dir.clone(),
                shim_pid,
                init_pid,
            },
            other => panic!("spawn failed: {other:?}\nshim log:\n{}", self.shim_log()),
        }
    }

    pub fn shim_log(&self) -> String {
        fs::read_to_string(self.base.join("shim-stderr.log")).unwrap_or_default()
    }

    pub fn tagged_pids(&self) -> Vec<i32> {
        let mut v = tagged_pids(&self.tag);
        for p in pids_in_cgroup(&self.cgroup_parent()) {
            if !v.contains(&p) {
                v.push(p);
            }
        }
        v
    }

    /// After a delete or a failed spawn: nothing of the container or its shim is left.
    #[track_caller]
    pub fn assert_nothing_left(&self, spot: &Spot) {
        let gone = wait_for(Duration::from_secs(5), || {
            self.tagged_pids().is_empty().then_some(())
        });
        assert!(gone.is_some(), "processes left: {:?}", self.tagged_pids());
        for name in [
            proto::CONTROL_SOCKET,
            proto::SHIM_FILE,
            "console.sock",
            "init.pid",
        ] {
            let p = spot.state_dir.join(name);
            assert!(!p.exists(), "{} left", p.display());
        }
        assert!(
            !self.runtime_root.join(&spot.id).exists(),
            "runtime state left for {}",
            spot.id
        );
        let b = spot.bundle.display().to_string();
        assert!(
            host_mount_lines(&b).is_empty(),
            "mounts left: {:?}",
            host_mount_lines(&b)
        );
        let cgroups = cgroup_dirs(&spot.cgroup);
        assert!(cgroups.is_empty(), "cgroups left: {cgroups:?}");
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
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
        // Runtime state of containers whose shim was killed: their dirs and cgroups.
        if let Ok(rd) = fs::read_dir(&self.runtime_root) {
            for e in rd.flatten() {
                let id = e.file_name().to_string_lossy().into_owned();
                if id.starts_with('@') {
                    continue;
                }
                let _ = Command::new("/usr/sbin/runc")
                    .arg("--root")
                    .arg(&self.runtime_root)
                    .args(["delete", "--force", &id])
                    .stderr(Stdio::null())
                    .status();
            }
        }
        unmount_under(&self.base);
        remove_cgroups(&self.cgroup_parent());
        if std::env::var_os("BERTH_TEST_KEEP").is_none() {
            let _ = fs::remove_dir_all(&self.base);
        }
    }
}

pub fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

/// Reads the spawn report: one line, then end of file.
pub fn read_report(read: OwnedFd) -> SpawnReport {
    let mut text = String::new();
    fs::File::from(read).read_to_string(&mut text).unwrap();
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("spawn report {text:?}: {e}"))
}

/// A running shim, as berthd knows it.
pub struct Shim {
    pub dir: PathBuf,
    pub shim_pid: i32,
    pub init_pid: i32,
}

/// A control connection.
pub struct Client {
    pub stream: UnixStream,
    reader: BufReader<UnixStream>,
}

impl Client {
    pub fn connect(dir: &Path) -> Client {
        let stream =
            UnixStream::connect(dir.join(proto::CONTROL_SOCKET)).expect("connect to the shim");
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        let reader = BufReader::new(stream.try_clone().unwrap());
        Client { stream, reader }
    }

    pub fn send(&mut self, request: &Request) {
        proto::write_message(&mut self.stream, request).unwrap();
    }

    pub fn recv(&mut self) -> Response {
        proto::read_message(&mut self.reader)
            .unwrap()
            .expect("the shim closed the connection")
    }

    pub fn call(&mut self, request: &Request) -> Response {
        self.send(request);
        self.recv()
    }

    /// The rest of the stream after an `attached` answer, raw.
    pub fn read_some(&mut self, buf: &mut [u8]) -> usize {
        self.reader.read(buf).unwrap_or(0)
    }

    /// Reads framed output until `pred` holds for (stdout, stderr) or the stream ends.
    pub fn read_frames_until(
        &mut self,
        mut pred: impl FnMut(&str, &str) -> bool,
    ) -> (String, String) {
        let (mut raw, mut out, mut err) = (Vec::new(), String::new(), String::new());
        let start = Instant::now();
        let mut buf = [0u8; 4096];
        while !pred(&out, &err) && start.elapsed() < TIMEOUT {
            let n = self.read_some(&mut buf);
            if n == 0 {
                break;
            }
            raw.extend_from_slice(&buf[..n]);
            while let Some((stream, payload, used)) = proto::parse_frame(&raw) {
                let text = String::from_utf8_lossy(payload).into_owned();
                match stream {
                    proto::STREAM_STDOUT => out.push_str(&text),
                    proto::STREAM_STDERR => err.push_str(&text),
                    s => panic!("unknown stream {s}"),
                }
                raw.drain(..used);
            }
        }
        (out, err)
    }

    /// Reads raw (terminal) output until `pred` holds or the stream ends.
    pub fn read_raw_until(&mut self, mut pred: impl FnMut(&str) -> bool) -> String {
        let mut text = String::new();
        let start = Instant::now();
        let mut buf = [0u8; 4096];
        while !pred(&text) && start.elapsed() < TIMEOUT {
            let n = self.read_some(&mut buf);
            if n == 0 {
                break;
            }
            text.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        text
    }
}

impl Shim {
    pub fn client(&self) -> Client {
        Client::connect(&self.dir)
    }

    #[track_caller]
    pub fn ok(&self, request: Request) {
        let r = self.client().call(&request);
        assert_eq!(r, Response::Ok, "{request:?}");
    }

    #[track_caller]
    pub fn state(&self) -> proto::State {
        match self.client().call(&Request::State) {
            Response::State(s) => s,
            other => panic!("state: {other:?}"),
        }
    }

    #[track_caller]
    pub fn wait(&self) -> proto::Exit {
        match self.client().call(&Request::Wait) {
            Response::Exited(e) => e,
            other => panic!("wait: {other:?}"),
        }
    }

    /// Deletes and waits until the shim process is gone.
    #[track_caller]
    pub fn delete(&self) {
        self.ok(Request::Delete);
        assert!(
            wait_pid_gone(self.shim_pid, TIMEOUT),
            "shim {} still alive after delete",
            self.shim_pid
        );
    }

    pub fn exit_file(&self) -> proto::Exit {
        let text = fs::read_to_string(self.dir.join(proto::EXIT_FILE)).expect("exit.json");
        serde_json::from_str(&text).unwrap()
    }
}

/// The entries of a json-file log.
pub fn log_entries(path: &Path) -> Vec<Value> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("log line {l:?}: {e}")))
        .collect()
}

/// (stream, log) of each entry.
pub fn log_lines(path: &Path) -> Vec<(String, String)> {
    log_entries(path)
        .iter()
        .map(|e| {
            (
                e["stream"].as_str().unwrap().to_string(),
                e["log"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

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
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
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
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]}
        ],
        "linux": {
            "namespaces": [
                {"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}
            ],
            "maskedPaths": ["/proc/kcore", "/proc/keys", "/sys/firmware"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
        }
    })
}

pub fn write_config(bundle: &Path, config: &Value) {
    fs::create_dir_all(bundle).unwrap();
    let mut f = fs::File::create(bundle.join("config.json")).unwrap();
    f.write_all(serde_json::to_string_pretty(config).unwrap().as_bytes())
        .unwrap();
}

/// A busybox rootfs: a copy of the static /bin/busybox, applet links, the usual empty dirs.
pub fn build_rootfs(rootfs: &Path) {
    for d in ["bin", "proc", "sys", "dev", "tmp", "etc", "root"] {
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
    fs::write(rootfs.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
}

pub fn remove_ns(cfg: &mut Value, ns: &str) {
    cfg["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n["type"] != ns);
}

/// Live processes whose environment holds `BERTH_TEST_TAG=<tag>`.
pub fn tagged_pids(tag: &str) -> Vec<i32> {
    let needle = format!("BERTH_TEST_TAG={tag}");
    let me = std::process::id() as i32;
    let mut out = vec![];
    for e in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(env) = fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        if env.split(|b| *b == 0).any(|v| v == needle.as_bytes()) && pid_alive(pid) {
            out.push(pid);
        }
    }
    out
}

pub fn pids_in_cgroup(parent: &str) -> Vec<i32> {
    let needle = format!("/{parent}/");
    let mut out = vec![];
    for e in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(cg) = fs::read_to_string(format!("/proc/{pid}/cgroup")) else {
            continue;
        };
        if cg.lines().any(|l| l.contains(&needle)) && pid_alive(pid) {
            out.push(pid);
        }
    }
    out
}

fn cgroup_roots() -> Vec<PathBuf> {
    let mut roots = vec![PathBuf::from("/sys/fs/cgroup")];
    if let Ok(rd) = fs::read_dir("/sys/fs/cgroup") {
        roots.extend(rd.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
    }
    roots
}

/// Existing cgroup directories at `path` (below the root) in any hierarchy.
pub fn cgroup_dirs(path: &str) -> Vec<PathBuf> {
    let rel = path.trim_start_matches('/');
    cgroup_roots()
        .into_iter()
        .map(|r| r.join(rel))
        .filter(|d| d.is_dir())
        .collect()
}

/// rmdir (never rm -r: cgroupfs) every cgroup dir under `parent`, deepest first.
pub fn remove_cgroups(parent: &str) {
    assert!(parent.starts_with("berth-test-"));
    for r in cgroup_roots() {
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

pub fn pid_alive(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => {
            let st = s
                .rsplit_once(')')
                .and_then(|(_, r)| r.trim_start().chars().next());
            !matches!(st, Some('Z') | Some('X') | None)
        }
        Err(_) => false,
    }
}

pub fn wait_pid_gone(pid: i32, timeout: Duration) -> bool {
    wait_for(timeout, || (!pid_alive(pid)).then_some(())).is_some()
}

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

pub fn host_mount_lines(needle: &str) -> Vec<String> {
    fs::read_to_string("/proc/self/mounts")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(needle))
        .map(String::from)
        .collect()
}

pub fn unmount_under(dir: &Path) {
    let prefix = dir.to_string_lossy().into_owned();
    for _ in 0..5 {
        let info = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let mut targets: Vec<String> = info
            .lines()
            .filter_map(|l| l.split(' ').nth(4).map(String::from))
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

/// (RSS, PSS) in KiB from /proc/PID/smaps_rollup.
pub fn rss_pss_kib(pid: i32) -> (u64, u64) {
    let text = fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap();
    let field = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("Rss:"), field("Pss:"))
}
