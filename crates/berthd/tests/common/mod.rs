//! The e2e harness: a private daemon (berthd, or dockerd to validate the suite) on temp roots, a
//! client binary (docker CLI 28 or `berth`) pointed at it, and images made offline.
//!
//! Select with `BERTH_E2E_DAEMON=berthd|dockerd` (default berthd) and
//! `BERTH_E2E_CLIENT=docker|berth` (default docker). Everything a test makes lives under
//! `/tmp/berth-e2e/<tag>/`; [`Daemon`]'s `Drop` removes the containers, stops the daemon by PID,
//! kills by PID every process left that names the base dir (shims), unmounts what is left below
//! the base dir, removes the test's cgroups and the base dir.

#![allow(dead_code)]

pub mod images;
pub mod pty;

use std::fs;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DaemonKind {
    Berthd,
    Dockerd,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientKind {
    Docker,
    Berth,
}

pub fn daemon_kind() -> DaemonKind {
    match std::env::var("BERTH_E2E_DAEMON").as_deref() {
        Ok("dockerd") => DaemonKind::Dockerd,
        _ => DaemonKind::Berthd,
    }
}

pub fn client_kind() -> ClientKind {
    match std::env::var("BERTH_E2E_CLIENT").as_deref() {
        Ok("berth") => ClientKind::Berth,
        _ => ClientKind::Docker,
    }
}

/// True when the suite validates itself against dockerd: cases where the issue asks berthd for
/// something dockerd does differently are asserted only against berthd.
pub fn is_dockerd() -> bool {
    daemon_kind() == DaemonKind::Dockerd
}

/// target/<triple>/<profile>/, where cargo put berthd, berth and berth-shim (the test binary is in
/// its deps/ subdirectory).
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let deps = exe.parent().expect("test executable dir");
    if deps.file_name().is_some_and(|n| n == "deps") {
        deps.parent().expect("profile dir").to_path_buf()
    } else {
        deps.to_path_buf()
    }
}

pub fn bin(name: &str) -> PathBuf {
    bin_dir().join(name)
}

/// The docker CLI (28.x).
pub fn docker_cli() -> PathBuf {
    let p = PathBuf::from("/usr/local/bin/docker");
    if p.exists() {
        p
    } else {
        PathBuf::from("docker")
    }
}

pub fn unique() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// Time limit for one client command.
pub fn cmd_timeout() -> Duration {
    Duration::from_secs(60)
}

/// What a finished command did.
#[derive(Debug, Clone)]
pub struct Out {
    pub args: Vec<String>,
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
}

impl Out {
    pub fn ok(&self) -> bool {
        self.status == Some(0)
    }
    pub fn code(&self) -> i32 {
        self.status.unwrap_or(-1)
    }
    #[track_caller]
    pub fn assert_ok(&self) -> &Self {
        assert!(self.ok(), "command failed: {}", self.describe());
        self
    }
    #[track_caller]
    pub fn assert_fail(&self) -> &Self {
        assert!(
            !self.ok() && !self.timed_out,
            "command should have failed: {}",
            self.describe()
        );
        self
    }
    pub fn describe(&self) -> String {
        format!(
            "`{}` -> {:?}{}\nstdout: {}\nstderr: {}",
            self.args.join(" "),
            self.status,
            if self.timed_out {
                " (timed out, killed)"
            } else {
                ""
            },
            self.stdout,
            self.stderr
        )
    }
    pub fn trimmed(&self) -> String {
        self.stdout.trim().to_string()
    }
    pub fn lines(&self) -> Vec<String> {
        self.stdout
            .lines()
            .map(|l| l.to_string())
            .filter(|l| !l.is_empty())
            .collect()
    }
}

/// Run `c` with `input` on its stdin, killed (by PID) after `timeout`.
pub fn run_cmd(mut c: Command, input: Option<&[u8]>, timeout: Duration) -> Out {
    let args: Vec<String> = std::iter::once(c.get_program())
        .chain(c.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    c.stdin(if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap_or_else(|e| panic!("spawn {args:?}: {e}"));
    if let Some(data) = input {
        let mut stdin = child.stdin.take().expect("stdin pipe");
        let data = data.to_vec();
        std::thread::spawn(move || {
            let _ = stdin.write_all(&data);
        });
    }
    let out = reader(child.stdout.take());
    let err = reader(child.stderr.take());
    let (status, timed_out) = wait_child(&mut child, timeout);
    Out {
        args,
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        timed_out,
    }
}

fn reader<R: Read + Send + 'static>(r: Option<R>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = Vec::new();
        if let Some(mut r) = r {
            let _ = r.read_to_end(&mut s);
        }
        String::from_utf8_lossy(&s).into_owned()
    })
}

/// Wait for `child`; SIGKILL it after `timeout`. Returns the exit code (128+signal for a signal).
pub fn wait_child(child: &mut Child, timeout: Duration) -> (Option<i32>, bool) {
    use std::os::unix::process::ExitStatusExt;
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(st)) => return (st.code().or(st.signal().map(|s| 128 + s)), false),
            Ok(None) if start.elapsed() > timeout => {
                let _ = child.kill();
                let st = child.wait().ok();
                return (
                    st.and_then(|s| s.code().or(s.signal().map(|s| 128 + s))),
                    true,
                );
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(_) => return (None, false),
        }
    }
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
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn pid_alive(pid: i32) -> bool {
    // A zombie is gone for our purposes.
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => false,
    }
}

pub fn kill_pid(pid: i32, sig: i32) {
    if pid > 0 {
        // SAFETY: kill(2) on a PID this test started (or found naming its own base dir).
        unsafe {
            libc::kill(pid, sig);
        }
    }
}

pub fn parent_pid(pid: i32) -> Option<i32> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    s.rsplit(')')
        .next()?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

pub fn cmdline(pid: i32) -> String {
    fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

/// Every process whose command line or environment names `needle`.
pub fn pids_naming(needle: &str) -> Vec<i32> {
    let me = std::process::id() as i32;
    let mut pids = Vec::new();
    let Ok(dir) = fs::read_dir("/proc") else {
        return pids;
    };
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let environ = fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        if cmdline(pid).contains(needle) || String::from_utf8_lossy(&environ).contains(needle) {
            pids.push(pid);
        }
    }
    pids
}

/// Mount points in this mount namespace that contain `needle`.
pub fn mounts_naming(needle: &str) -> Vec<String> {
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| m.contains(needle))
        .map(|m| m.to_string())
        .collect()
}

pub fn unmount_under(dir: &Path) {
    let prefix = dir.display().to_string();
    let mut mounts = mounts_naming(&prefix);
    mounts.retain(|m| m.starts_with(&prefix));
    mounts.reverse();
    for m in mounts {
        let c = std::ffi::CString::new(m.replace("\\040", " ")).expect("mount path");
        // SAFETY: umount2(2) with a NUL-terminated path below our own base dir.
        unsafe {
            libc::umount2(c.as_ptr(), libc::MNT_DETACH);
        }
    }
}

/// Cgroup directories (in every hierarchy) whose path contains `needle`, deepest first, below
/// the parents this suite may use (`berth`, `berth-test-*`).
pub fn cgroups_naming(needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(hier) = fs::read_dir("/sys/fs/cgroup") else {
        return found;
    };
    let mut roots = vec![PathBuf::from("/sys/fs/cgroup")];
    roots.extend(hier.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
    for root in roots {
        let Ok(top) = fs::read_dir(&root) else {
            continue;
        };
        for t in top.flatten() {
            let name = t.file_name().to_string_lossy().into_owned();
            if (name == "berth" || name.starts_with("berth-test-")) && t.path().is_dir() {
                collect_dirs(&t.path(), &mut found);
                if name.contains(needle) {
                    found.push(t.path());
                }
            }
        }
    }
    found.retain(|p| p.to_string_lossy().contains(needle));
    found.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    found.dedup();
    found
}

fn collect_dirs(d: &Path, out: &mut Vec<PathBuf>) {
    if let Ok(rd) = fs::read_dir(d) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                collect_dirs(&e.path(), out);
                out.push(e.path());
            }
        }
    }
}

/// Every path below `dir` whose name contains `needle`.
pub fn paths_naming(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    fn walk(d: &Path, needle: &str, out: &mut Vec<PathBuf>, depth: usize) {
        if depth > 12 {
            return;
        }
        let Ok(rd) = fs::read_dir(d) else { return };
        for e in rd.flatten() {
            if e.file_name().to_string_lossy().contains(needle) {
                out.push(e.path());
            }
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                walk(&e.path(), needle, out, depth + 1);
            }
        }
    }
    walk(dir, needle, &mut out, 0);
    out
}

/// The host directories dockerd 20.10 and its containerd create outside their roots; removed
/// again (only if empty and absent before) when the last dockerd of this process goes.
const HOST_DIRS: &[&str] = &[
    "/run/containerd/s",
    "/run/containerd",
    "/run/docker/plugins",
    "/run/docker",
];
static HOST_DIR_USERS: Mutex<(usize, Vec<&'static str>)> = Mutex::new((0, Vec::new()));

fn host_dirs_enter() {
    let mut g = HOST_DIR_USERS.lock().unwrap_or_else(|p| p.into_inner());
    if g.0 == 0 {
        g.1 = HOST_DIRS
            .iter()
            .copied()
            .filter(|d| Path::new(d).exists())
            .collect();
    }
    g.0 += 1;
}

fn host_dirs_leave() {
    let mut g = HOST_DIR_USERS.lock().unwrap_or_else(|p| p.into_inner());
    g.0 = g.0.saturating_sub(1);
    if g.0 == 0 {
        for d in HOST_DIRS {
            if !g.1.contains(d) {
                let _ = fs::remove_dir(d);
            }
        }
    }
}

/// A private daemon on its own socket, data root and exec root. See the module docs.
pub struct Daemon {
    pub kind: DaemonKind,
    pub tag: String,
    pub base: PathBuf,
    pub socket: PathBuf,
    pub data_root: PathBuf,
    pub exec_root: PathBuf,
    child: Option<Child>,
    /// dockerd's containerd, a process of its own so that `kill -9` of dockerd leaves it be.
    containerd: Option<Child>,
    starts: usize,
    /// Every container ID a client printed: what teardown looks for.
    seen_ids: Mutex<std::collections::BTreeSet<String>>,
    live_restore: bool,
    dockerd_host_dirs: bool,
    /// More daemon flags, given to berthd and dockerd alike (both take e.g. `--add-runtime`).
    extra_args: Vec<String>,
}

impl Daemon {
    /// The daemon the suite is configured for (see [`daemon_kind`]).
    pub fn start(name: &str) -> Daemon {
        Daemon::start_kind(name, daemon_kind(), false)
    }

    /// Like [`Daemon::start`]; dockerd gets `--live-restore` so that containers outlive it, as
    /// berthd's always do (the crash tests).
    pub fn start_surviving(name: &str) -> Daemon {
        Daemon::start_kind(name, daemon_kind(), true)
    }

    /// Like [`Daemon::start`], with more daemon flags.
    pub fn start_with_args(name: &str, args: &[&str]) -> Daemon {
        Daemon::start_full(name, daemon_kind(), false, args)
    }

    pub fn start_kind(name: &str, kind: DaemonKind, live_restore: bool) -> Daemon {
        Daemon::start_full(name, kind, live_restore, &[])
    }

    fn start_full(name: &str, kind: DaemonKind, live_restore: bool, args: &[&str]) -> Daemon {
        let tag = format!("{}-{}", name.replace('_', "-"), unique());
        let base = PathBuf::from("/tmp/berth-e2e").join(&tag);
        let _ = fs::remove_dir_all(&base);
        fs::create_dir_all(base.join("docker-cli")).expect("create base dir");
        let mut d = Daemon {
            kind,
            socket: base.join("daemon.sock"),
            data_root: base.join("data"),
            exec_root: base.join("exec"),
            base,
            tag,
            child: None,
            containerd: None,
            starts: 0,
            seen_ids: Mutex::new(Default::default()),
            live_restore,
            dockerd_host_dirs: false,
            extra_args: args.iter().map(|a| a.to_string()).collect(),
        };
        if kind == DaemonKind::Dockerd {
            host_dirs_enter();
            d.dockerd_host_dirs = true;
        }
        d.spawn();
        d
    }

    pub fn cgroup_parent(&self) -> String {
        format!("berth-test-{}", self.tag)
    }

    fn log_file(&self) -> fs::File {
        fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.base.join("daemon.log"))
            .expect("open daemon.log")
    }

    pub fn log_tail(&self, n: usize) -> String {
        let s = fs::read_to_string(self.base.join("daemon.log")).unwrap_or_default();
        let lines: Vec<&str> = s.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    fn spawn(&mut self) {
        let mut c = match self.kind {
            DaemonKind::Berthd => {
                // cargo builds berthd for its own tests, not the shim: say so plainly.
                assert!(
                    bin("berth-shim").exists(),
                    "{} missing: run `cargo build -p berth-shim` first (or BERTH_E2E_DAEMON=dockerd)",
                    bin("berth-shim").display()
                );
                let mut c = Command::new(bin("berthd"));
                c.arg("-H")
                    .arg(format!("unix://{}", self.socket.display()))
                    .arg("--data-root")
                    .arg(&self.data_root)
                    .arg("--exec-root")
                    .arg(&self.exec_root)
                    .env("BERTH_SHIM", bin("berth-shim"));
                c
            }
            DaemonKind::Dockerd => {
                if self.containerd.is_none() {
                    self.start_containerd();
                }
                let config = self.base.join("daemon.json");
                let json = serde_json::json!({
                    "deprecated-key-path": self.base.join("docker-key.json"),
                    "live-restore": self.live_restore,
                });
                fs::write(&config, json.to_string()).expect("write daemon.json");
                let mut c = Command::new("dockerd");
                c.arg("--config-file")
                    .arg(&config)
                    .arg("--host")
                    .arg(format!("unix://{}", self.socket.display()))
                    .arg("--data-root")
                    .arg(&self.data_root)
                    .arg("--exec-root")
                    .arg(&self.exec_root)
                    .arg("--pidfile")
                    .arg(self.base.join("docker.pid"))
                    .arg("--containerd")
                    .arg(self.containerd_socket())
                    .arg("--cgroup-parent")
                    .arg(format!("/{}", self.cgroup_parent()))
                    .args([
                        "--exec-opt",
                        "native.cgroupdriver=cgroupfs",
                        "--storage-driver",
                        "overlay2",
                    ])
                    .args([
                        "--bridge=none",
                        "--iptables=false",
                        "--ip6tables=false",
                        "--ip-masq=false",
                    ]);
                c
            }
        };
        c.args(&self.extra_args);
        c.env("BERTH_E2E_TAG", &self.tag)
            .stdin(Stdio::null())
            .stdout(self.log_file())
            .stderr(self.log_file());
        let child = c
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {:?}: {e}", self.kind));
        self.child = Some(child);
        self.starts += 1;
        let up = wait_for(Duration::from_secs(60), || {
            if !self.alive() {
                return Some(false);
            }
            (self.http("GET", "/_ping", None).0 == 200).then_some(true)
        });
        assert_eq!(
            up,
            Some(true),
            "{:?} did not come up; daemon.log:\n{}",
            self.kind,
            self.log_tail(40)
        );
    }

    fn containerd_socket(&self) -> PathBuf {
        self.base.join("containerd.sock")
    }

    fn start_containerd(&mut self) {
        let b = &self.base;
        let config = format!(
            "version = 2\nroot = \"{root}\"\nstate = \"{state}\"\n\
             disabled_plugins = [\"io.containerd.grpc.v1.cri\", \"io.containerd.internal.v1.opt\"]\n\
             [grpc]\n  address = \"{sock}\"\n[ttrpc]\n  address = \"{sock}.ttrpc\"\n\
             [debug]\n  address = \"{base}/containerd-debug.sock\"\n",
            root = b.join("containerd/root").display(),
            state = b.join("containerd/state").display(),
            sock = self.containerd_socket().display(),
            base = b.display(),
        );
        let path = b.join("containerd.toml");
        fs::write(&path, config).expect("write containerd.toml");
        let mut c = Command::new("containerd");
        c.arg("--config")
            .arg(&path)
            .env("BERTH_E2E_TAG", &self.tag)
            .stdin(Stdio::null())
            .stdout(self.log_file())
            .stderr(self.log_file());
        self.containerd = Some(c.spawn().expect("spawn containerd"));
        let sock = self.containerd_socket();
        let up = wait_for(Duration::from_secs(30), || sock.exists().then_some(()));
        assert!(
            up.is_some(),
            "containerd did not come up:\n{}",
            self.log_tail(30)
        );
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().map(|c| c.id() as i32).unwrap_or(0)
    }

    pub fn alive(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// SIGTERM, then SIGKILL after 20 s; waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_pid(child.id() as i32, libc::SIGTERM);
            let (_, timed_out) = wait_child(&mut child, Duration::from_secs(20));
            assert!(!timed_out, "{:?} ignored SIGTERM for 20 s", self.kind);
        }
    }

    /// `kill -9` of the daemon (and nothing else).
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_pid(child.id() as i32, libc::SIGKILL);
            let _ = child.wait();
        }
    }

    /// Start it again on the same socket and roots.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "restart of a daemon still running");
        self.spawn();
    }

    /// The client binary under test, on this daemon.
    pub fn client(&self) -> Client<'_> {
        Client {
            daemon: self,
            kind: client_kind(),
        }
    }

    /// The docker CLI on this daemon, for commands `berth` may not have.
    pub fn docker(&self) -> Client<'_> {
        Client {
            daemon: self,
            kind: ClientKind::Docker,
        }
    }

    /// One HTTP/1.1 request on the daemon's socket: (status, body). Status 0 when the
    /// connection failed.
    pub fn http(&self, method: &str, path: &str, body: Option<&[u8]>) -> (u16, String) {
        http_request(&self.socket, method, path, body)
    }

    /// Every container ID, running or not.
    pub fn container_ids(&self) -> Vec<String> {
        self.docker().cmd(&["ps", "-aq", "--no-trunc"]).lines()
    }

    fn note_ids(&self, text: &str) {
        let mut seen = self.seen_ids.lock().unwrap_or_else(|p| p.into_inner());
        for w in text.split(|c: char| !c.is_ascii_hexdigit()) {
            if w.len() == 64 {
                seen.insert(w.to_string());
            }
        }
    }

    /// containerd 1.6 names a shim's socket /run/containerd/s/hex(sha256(ADDRESS/NS/ID)) and
    /// leaves it when the shim is killed: remove ours.
    fn remove_shim_sockets(&self) {
        let seen = self.seen_ids.lock().unwrap_or_else(|p| p.into_inner());
        for id in seen.iter() {
            let key = format!("{}/moby/{id}", self.containerd_socket().display());
            let _ = fs::remove_file(format!(
                "/run/containerd/s/{}",
                images::sha256_hex(key.as_bytes())
            ));
        }
    }

    /// The busybox image (tag `busybox:latest`), made offline and imported.
    pub fn with_busybox(self) -> Daemon {
        images::import_busybox(&self);
        self
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let mut ids = Vec::new();
        if self.alive() {
            ids = self.container_ids();
            self.note_ids(&ids.join(" "));
            for id in &ids {
                let _ = self
                    .docker()
                    .cmd_timeout(&["rm", "-f", id], Duration::from_secs(30));
            }
            if let Some(mut child) = self.child.take() {
                kill_pid(child.id() as i32, libc::SIGTERM);
                let (_, t) = wait_child(&mut child, Duration::from_secs(20));
                if t {
                    eprintln!("daemon {} ignored SIGTERM; killed", self.tag);
                }
            }
        }
        if let Some(mut child) = self.containerd.take() {
            kill_pid(child.id() as i32, libc::SIGTERM);
            let _ = wait_child(&mut child, Duration::from_secs(20));
        }
        // What outlived the daemon (shims, containerd and its shims): by PID, found by our base
        // dir in their command line or environment (the tag is in the daemon's environment).
        for _ in 0..3 {
            let pids: Vec<i32> = pids_naming(&self.base.display().to_string())
                .into_iter()
                .chain(pids_naming(&format!("BERTH_E2E_TAG={}", self.tag)))
                .collect();
            if pids.is_empty() {
                break;
            }
            for p in pids {
                kill_pid(p, libc::SIGKILL);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        unmount_under(&self.base);
        for cg in cgroups_naming(&self.cgroup_parent()) {
            let _ = fs::remove_dir(cg);
        }
        for id in &ids {
            for cg in cgroups_naming(id) {
                let _ = fs::remove_dir(cg);
            }
        }
        if std::env::var_os("BERTH_E2E_KEEP").is_none() {
            let _ = fs::remove_dir_all(&self.base);
        }
        if self.dockerd_host_dirs {
            self.remove_shim_sockets();
            host_dirs_leave();
        }
    }
}

/// A client binary (docker CLI or `berth`) talking to one daemon.
pub struct Client<'a> {
    pub daemon: &'a Daemon,
    pub kind: ClientKind,
}

impl Client<'_> {
    pub fn command(&self) -> Command {
        let mut c = match self.kind {
            ClientKind::Docker => Command::new(docker_cli()),
            ClientKind::Berth => {
                assert!(
                    bin("berth").exists(),
                    "{} missing: run `cargo build -p berth` first",
                    bin("berth").display()
                );
                Command::new(bin("berth"))
            }
        };
        let host = format!("unix://{}", self.daemon.socket.display());
        c.env("DOCKER_HOST", &host)
            .env("BERTH_HOST", &host)
            .env("DOCKER_CONFIG", self.daemon.base.join("docker-cli"))
            .env_remove("DOCKER_CONTEXT")
            .env_remove("DOCKER_TLS_VERIFY")
            .env_remove("DOCKER_CERT_PATH")
            .env("BERTH_E2E_TAG", &self.daemon.tag);
        c
    }

    /// Arguments with `--network none` added after `run`/`create` for dockerd (started without
    /// a bridge; berthd gives `none` by default, the behaviour under test).
    pub fn args(&self, args: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        if self.daemon.kind == DaemonKind::Dockerd
            && matches!(args.first(), Some(&"run") | Some(&"create"))
            && !args.contains(&"--network")
        {
            v.insert(1, "--network".into());
            v.insert(2, "none".into());
        }
        v
    }

    pub fn cmd(&self, args: &[&str]) -> Out {
        self.cmd_timeout(args, cmd_timeout())
    }

    pub fn cmd_timeout(&self, args: &[&str], timeout: Duration) -> Out {
        let mut c = self.command();
        c.args(self.args(args));
        let o = run_cmd(c, None, timeout);
        self.daemon.note_ids(&o.stdout);
        o
    }

    pub fn cmd_stdin(&self, args: &[&str], input: &[u8]) -> Out {
        let mut c = self.command();
        c.args(self.args(args));
        let o = run_cmd(c, Some(input), cmd_timeout());
        self.daemon.note_ids(&o.stdout);
        o
    }

    /// `ARGS` that must succeed; its stdout, trimmed.
    #[track_caller]
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.cmd(args);
        o.assert_ok();
        o.trimmed()
    }

    /// `inspect -f FORMAT OBJ`, trimmed.
    #[track_caller]
    pub fn inspect(&self, obj: &str, format: &str) -> String {
        self.ok(&["inspect", "-f", format, obj])
    }

    pub fn pid_of(&self, container: &str) -> i32 {
        let p = self.inspect(container, "{{.State.Pid}}");
        p.parse()
            .unwrap_or_else(|_| panic!("State.Pid of {container}: {p:?}"))
    }

    /// Waits (up to 30 s) until `inspect -f {{.State.Status}}` says `want`.
    #[track_caller]
    pub fn wait_status(&self, container: &str, want: &str) {
        let got = wait_for(Duration::from_secs(30), || {
            let o = self.cmd(&["inspect", "-f", "{{.State.Status}}", container]);
            (o.trimmed() == want).then_some(())
        });
        assert!(
            got.is_some(),
            "{container} never reached {want}: {}",
            self.cmd(&["inspect", "-f", "{{.State.Status}}", container])
                .describe()
        );
    }

    pub fn pty(&self, args: &[&str], rows: u16, cols: u16) -> pty::PtyChild {
        let mut c = self.command();
        c.args(self.args(args));
        pty::PtyChild::spawn(c, rows, cols)
    }
}

/// One HTTP/1.1 request over a Unix socket: (status, body). Status 0 when the connection failed.
pub fn http_request(socket: &Path, method: &str, path: &str, body: Option<&[u8]>) -> (u16, String) {
    let Ok(mut s) = UnixStream::connect(socket) else {
        return (0, String::new());
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    if let Some(b) = body {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    req.push_str("\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return (0, String::new());
    }
    if let Some(b) = body {
        // The daemon may answer and close before it has read a large body.
        let _ = s.write_all(b);
    }
    let mut resp = Vec::new();
    let _ = s.read_to_end(&mut resp);
    let text = String::from_utf8_lossy(&resp).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

pub fn is_cgroup_v2() -> bool {
    Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

/// The directory of `pid`'s cgroup in `controller` ("" for the v2 hierarchy).
pub fn cgroup_dir(pid: i32, controller: &str) -> PathBuf {
    let text = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, ctrls, path) = (
            parts.next(),
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
        );
        let hit = if controller.is_empty() {
            ctrls.is_empty()
        } else {
            ctrls.split(',').any(|c| c == controller)
        };
        if hit {
            let root = if controller.is_empty() {
                if is_cgroup_v2() {
                    "/sys/fs/cgroup".to_string()
                } else {
                    "/sys/fs/cgroup/unified".to_string()
                }
            } else {
                format!("/sys/fs/cgroup/{controller}")
            };
            return PathBuf::from(root).join(path.trim_start_matches('/'));
        }
    }
    PathBuf::from("/nonexistent-cgroup")
}

pub fn read_trim(p: impl AsRef<Path>) -> String {
    fs::read_to_string(p.as_ref())
        .unwrap_or_default()
        .trim()
        .to_string()
}
