//! Real clients for the runtime under test: a private containerd (driven with `ctr`) and a private
//! dockerd on top of it (driven with the `docker` CLI), both told to use [`runtime_bin()`].
//!
//! Everything lives under the test's own [`TestEnv`] base dir `/run/berth-test-<tag>/`: the
//! containerd config, root, state and sockets, dockerd's data root, exec root, pid file and API
//! socket, the docker CLI's config dir and the images. Container cgroups go under
//! `/berth-test-<tag>/`. dockerd runs without a bridge, iptables or masquerading and every
//! container with `--network none`, so no host interface or address is ever created.
//!
//! Teardown ([`Clients`]'s `Drop`, so it also runs when a test panics): remove the containers
//! through the clients, SIGTERM then SIGKILL dockerd and containerd by PID, then the `TestEnv`
//! kills every process left with the test's tag in its environment (shims inherit it from
//! containerd) or in its cgroups, lazily unmounts everything under the base dir (overlays, shm,
//! netns bind mounts), removes the cgroups and the base dir.
//!
//! Two host paths are hard-coded in these releases and cannot be moved into the base dir:
//! containerd 1.6 puts its shims' sockets in `/run/containerd/s/` and dockerd 20.10 creates
//! `/run/docker/plugins/`. When the last `Clients` of the test process goes, these directories are
//! removed again if they did not exist before the first one started (rmdir: only when empty).

use super::cgroupfs::{is_v2, scaled};
use super::*;
use serde_json::json;
use std::collections::BTreeMap;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::OnceLock;

/// Image name used for both clients (docker adds `docker.io/` itself; for containerd the name is
/// spelled out in the OCI index).
pub const DOCKER_IMAGE: &str = "berth-test/busybox:latest";
pub const CTR_IMAGE: &str = "docker.io/berth-test/busybox:latest";
/// Name the runtime under test is registered under in dockerd.
pub const DOCKER_RUNTIME: &str = "berth";
/// containerd namespace for `ctr`.
pub const CTR_NAMESPACE: &str = "berth-test";

/// Applets the client tests use beyond the fixture's default set.
const EXTRA_APPLETS: &[&str] = &["tty", "unshare", "reboot", "umount", "sleep"];

/// Docker's default effective capability set (docker 20.10, non-privileged).
pub const DOCKER_DEFAULT_CAPEFF: &str = "00000000a80425fb";

/// Time limit for one client command (docker, ctr): generous, as dockerd and containerd take the
/// runtime's time plus their own, and 20x that in the emulated VM.
pub fn client_timeout() -> Duration {
    scaled(60)
}

/// Why the real-client tests cannot run here, if they cannot.
pub fn skip_reason(need_docker: bool) -> Option<String> {
    if !is_root() {
        return Some("needs root".into());
    }
    if std::env::var_os("BERTH_SKIP_REAL_CLIENTS").is_some() {
        return Some("BERTH_SKIP_REAL_CLIENTS is set".into());
    }
    let mut tools = vec![
        "containerd",
        "ctr",
        "containerd-shim-runc-v2",
        "tar",
        "sha256sum",
    ];
    if need_docker {
        tools.extend(["dockerd", "docker"]);
    }
    let missing: Vec<&str> = tools
        .into_iter()
        .filter(|t| find_in_path(t).is_none())
        .collect();
    if !missing.is_empty() {
        return Some(format!(
            "not installed: {} (apt-get install docker.io containerd)",
            missing.join(", ")
        ));
    }
    None
}

/// Skip the test (return early, printing why) when the clients cannot run here.
#[macro_export]
macro_rules! require_clients {
    (docker) => {
        if let Some(reason) = $crate::common::clients::skip_reason(true) {
            eprintln!("SKIP: {}: {reason}", module_path!());
            return;
        }
    };
    (containerd) => {
        if let Some(reason) = $crate::common::clients::skip_reason(false) {
            eprintln!("SKIP: {}: {reason}", module_path!());
            return;
        }
    };
}

pub fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The host directories containerd and dockerd create outside the base dir, deepest first, and
/// the global bookkeeping that removes them after the last user (see the module docs).
const HOST_DIRS: &[&str] = &[
    "/run/containerd/s",
    "/run/containerd",
    "/run/docker/plugins",
    "/run/docker",
];
struct HostDirs {
    active: usize,
    preexisting: Vec<&'static str>,
}
fn host_dirs() -> &'static Mutex<HostDirs> {
    static HOST: OnceLock<Mutex<HostDirs>> = OnceLock::new();
    HOST.get_or_init(|| {
        Mutex::new(HostDirs {
            active: 0,
            preexisting: HOST_DIRS
                .iter()
                .copied()
                .filter(|d| Path::new(d).exists())
                .collect(),
        })
    })
}

/// A private containerd, optionally with a private dockerd on top. See the module docs.
pub struct Clients {
    pub env: TestEnv,
    /// The runtime binary the clients call (a wrapper adding `$BERTH_RUNTIME_ARGS` if set).
    pub runtime: PathBuf,
    pub containerd_sock: PathBuf,
    pub docker_sock: PathBuf,
    containerd: Option<Child>,
    dockerd: Option<Child>,
    ctr_containers: Mutex<Vec<String>>,
    /// Declared after `env`: dropped after it.
    _host_dirs: HostDirsUser,
}

impl Clients {
    /// containerd only (for `ctr`), with the busybox image imported.
    pub fn with_containerd(name: &str) -> Clients {
        let mut c = Clients::new(name);
        c.start_containerd();
        c.import_ctr_image();
        c
    }

    /// containerd + dockerd (the runtime under test registered as `berth`), with the busybox
    /// image imported into dockerd.
    pub fn with_docker(name: &str) -> Clients {
        let mut c = Clients::new(name);
        c.start_containerd();
        c.start_dockerd();
        c.import_docker_image();
        c
    }

    fn new(name: &str) -> Clients {
        let host_dirs = HostDirsUser::new();
        let env = TestEnv::new(name);
        let runtime = runtime_for_clients(&env);
        Clients {
            containerd_sock: env.base.join("containerd.sock"),
            docker_sock: env.base.join("docker.sock"),
            env,
            runtime,
            containerd: None,
            dockerd: None,
            ctr_containers: Mutex::new(Vec::new()),
            _host_dirs: host_dirs,
        }
    }

    /// Name of the cgroup parent all containers go under.
    pub fn cgroup_parent(&self) -> String {
        self.env.cgroup_parent()
    }

    fn log_file(&self, name: &str) -> fs::File {
        fs::File::create(self.env.base.join(name))
            .unwrap_or_else(|e| panic!("create log file {name}: {e}"))
    }

    /// The last `n` lines of a daemon log under the base dir (for failure messages).
    pub fn log_tail(&self, name: &str, n: usize) -> String {
        let text = fs::read_to_string(self.env.base.join(name)).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    fn start_containerd(&mut self) {
        let b = &self.env.base;
        let config = format!(
            r#"version = 2
root = "{root}"
state = "{state}"
# No CRI (it would want CNI and a network); "opt" would write to /var/lib/containerd/opt.
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.internal.v1.opt"]
[grpc]
  address = "{sock}"
[ttrpc]
  address = "{sock}.ttrpc"
[debug]
  address = "{base}/containerd-debug.sock"
"#,
            root = b.join("containerd/root").display(),
            state = b.join("containerd/state").display(),
            sock = self.containerd_sock.display(),
            base = b.display(),
        );
        let config_path = b.join("containerd.toml");
        fs::write(&config_path, config).expect("write containerd.toml");
        let mut c = Command::new("containerd");
        c.arg("--config").arg(&config_path);
        // Shims inherit containerd's environment: the tag lets TestEnv find them.
        c.env("BERTH_TEST_TAG", &self.env.tag)
            .stdin(Stdio::null())
            .stdout(self.log_file("containerd.log"))
            .stderr(self.log_file("containerd.log"));
        self.containerd = Some(c.spawn().expect("spawn containerd"));
        let up = wait_for(scaled(30), || {
            if !self.daemon_alive(true) {
                return Some(false);
            }
            (self.containerd_sock.exists() && self.ctr(&["version"]).ok()).then_some(true)
        });
        assert!(
            up == Some(true),
            "containerd did not come up; containerd.log:\n{}",
            self.log_tail("containerd.log", 30)
        );
    }

    fn start_dockerd(&mut self) {
        let b = self.env.base.clone();
        // A config file of our own: the runtime (with its global args, if any) and the trust key
        // (else written to /etc/docker/key.json); it also keeps /etc/docker/daemon.json out.
        let daemon_json = json!({
            "runtimes": {DOCKER_RUNTIME: {"path": self.runtime}},
            "deprecated-key-path": b.join("docker-key.json"),
        });
        let config_path = b.join("daemon.json");
        fs::write(&config_path, daemon_json.to_string()).expect("write daemon.json");
        let mut c = Command::new("dockerd");
        c.arg("--config-file")
            .arg(&config_path)
            .arg("--data-root")
            .arg(b.join("docker-data"))
            .arg("--exec-root")
            .arg(b.join("docker-exec"))
            .arg("--pidfile")
            .arg(b.join("docker.pid"))
            .arg("-H")
            .arg(format!("unix://{}", self.docker_sock.display()))
            .arg("--containerd")
            .arg(&self.containerd_sock)
            .arg("--cgroup-parent")
            // Absolute: a relative parent would be taken relative to the shim's own cgroup.
            .arg(format!("/{}", self.cgroup_parent()))
            .args(["--exec-opt", "native.cgroupdriver=cgroupfs"])
            .args(["--storage-driver", "overlay2"])
            // No docker0 (it would take 172.17.0.0/16), no iptables rules, no NAT.
            .args([
                "--bridge=none",
                "--iptables=false",
                "--ip6tables=false",
                "--ip-masq=false",
            ])
            .env("BERTH_TEST_TAG", &self.env.tag)
            .stdin(Stdio::null())
            .stdout(self.log_file("dockerd.log"))
            .stderr(self.log_file("dockerd.log"));
        self.dockerd = Some(c.spawn().expect("spawn dockerd"));
        let up = wait_for(scaled(60), || {
            if !self.daemon_alive(false) {
                return Some(false);
            }
            let v = self
                .docker_with_timeout(&["version", "--format", "{{.Server.Version}}"], scaled(10));
            v.ok().then_some(true)
        });
        assert!(
            up == Some(true),
            "dockerd did not come up; dockerd.log:\n{}",
            self.log_tail("dockerd.log", 30)
        );
    }

    /// The daemon (containerd or dockerd) has not exited.
    fn daemon_alive(&mut self, containerd: bool) -> bool {
        let child = if containerd {
            self.containerd.as_mut()
        } else {
            self.dockerd.as_mut()
        };
        match child {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    fn rootfs_tar(&self) -> PathBuf {
        rootfs_tar(&self.env)
    }

    fn import_docker_image(&self) {
        let tar = self.rootfs_tar();
        let tar = tar.display().to_string();
        let o = self.docker(&["import", &tar, DOCKER_IMAGE]);
        o.assert_ok();
    }

    /// An OCI image archive made by hand (one uncompressed layer), imported with `ctr`.
    fn import_ctr_image(&self) {
        let layer = self.rootfs_tar();
        let layout = self.env.scratch("oci-layout");
        let blobs = layout.join("blobs/sha256");
        fs::create_dir_all(&blobs).expect("create blobs dir");
        let layer_digest = self.sha256(&layer);
        let layer_size = file_size(&layer);
        fs::rename(&layer, blobs.join(&layer_digest)).expect("move layer blob");
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            other => other,
        };
        let config = json!({
            "architecture": arch,
            "os": "linux",
            "config": {"Env": [PATH_ENV], "Cmd": ["sh"]},
            "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{layer_digest}")]},
        });
        let (config_digest, config_size) = write_blob(&blobs, &config);
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": format!("sha256:{config_digest}"),
                "size": config_size,
            },
            "layers": [{
                "mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": format!("sha256:{layer_digest}"),
                "size": layer_size,
            }],
        });
        let (manifest_digest, manifest_size) = write_blob(&blobs, &manifest);
        let index = json!({
            "schemaVersion": 2,
            "manifests": [{
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": format!("sha256:{manifest_digest}"),
                "size": manifest_size,
                "annotations": {
                    "io.containerd.image.name": CTR_IMAGE,
                    "org.opencontainers.image.ref.name": "latest",
                },
            }],
        });
        fs::write(layout.join("index.json"), index.to_string()).expect("write index.json");
        fs::write(
            layout.join("oci-layout"),
            r#"{"imageLayoutVersion":"1.0.0"}"#,
        )
        .expect("write oci-layout");
        let archive = self.env.base.join("image-oci.tar");
        let mut c = Command::new("tar");
        c.arg("-C").arg(&layout).arg("-cf").arg(&archive).arg(".");
        self.host_cmd(c, scaled(30)).assert_ok();
        let archive = archive.display().to_string();
        self.ctr(&["images", "import", &archive]).assert_ok();
        let images = self.ctr(&["images", "ls", "-q"]);
        assert!(
            images.stdout.lines().any(|l| l == CTR_IMAGE),
            "{CTR_IMAGE} not among the imported images: {}",
            images.describe()
        );
    }

    fn sha256(&self, file: &Path) -> String {
        let mut c = Command::new("sha256sum");
        c.arg(file);
        let o = self.host_cmd(c, scaled(30));
        o.assert_ok();
        o.stdout
            .split_whitespace()
            .next()
            .expect("sha256sum prints a digest")
            .to_string()
    }

    /// Run a host command (stdin null, output to files) with a time limit.
    pub fn host_cmd(&self, c: Command, timeout: Duration) -> Out {
        let args = describe_command(&c);
        self.env.rt_cmd(c, args, timeout)
    }

    fn docker_command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("docker");
        c.args(args);
        self.docker_env(&mut c);
        c
    }

    /// The docker CLI's environment: our daemon, a private CLI config dir, no contexts.
    fn docker_env(&self, c: &mut Command) {
        c.env(
            "DOCKER_HOST",
            format!("unix://{}", self.docker_sock.display()),
        )
        .env("DOCKER_CONFIG", self.env.base.join("docker-cli"))
        .env_remove("DOCKER_CONTEXT")
        .env_remove("DOCKER_TLS_VERIFY")
        .env_remove("DOCKER_CERT_PATH")
        .env("BERTH_TEST_TAG", &self.env.tag);
    }

    /// `docker ARGS` against the private dockerd, bounded by [`client_timeout`].
    pub fn docker(&self, args: &[&str]) -> Out {
        self.docker_with_timeout(args, client_timeout())
    }

    pub fn docker_with_timeout(&self, args: &[&str], timeout: Duration) -> Out {
        let c = self.docker_command(args);
        self.host_cmd(c, timeout)
    }

    /// `docker inspect -f FORMAT C`, trimmed; panics (naming the container) when it fails.
    #[track_caller]
    pub fn docker_inspect(&self, container: &str, format: &str) -> String {
        let o = self.docker(&["inspect", "-f", format, container]);
        o.assert_ok();
        o.stdout.trim().to_string()
    }

    /// The first arguments of every `docker run` in these tests: the runtime under test, no network.
    pub fn docker_run_args(&self) -> Vec<String> {
        vec![
            "run".into(),
            "--runtime".into(),
            DOCKER_RUNTIME.into(),
            "--network".into(),
            "none".into(),
        ]
    }

    fn ctr_command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("ctr");
        c.arg("-a")
            .arg(&self.containerd_sock)
            .arg("-n")
            .arg(CTR_NAMESPACE)
            .args(args)
            .env("BERTH_TEST_TAG", &self.env.tag);
        c
    }

    /// `ctr -a SOCK -n berth-test ARGS`, bounded by [`client_timeout`].
    pub fn ctr(&self, args: &[&str]) -> Out {
        let c = self.ctr_command(args);
        self.host_cmd(c, client_timeout())
    }

    /// `ctr run` options that point the shim at the runtime under test and keep its state, FIFOs
    /// and the container's cgroup private (defaults: /run/containerd/runc, /run/containerd/fifo,
    /// /berth-test/<id>).
    pub fn ctr_run_args(&self, id: &str) -> Vec<String> {
        self.ctr_containers
            .lock()
            .expect("ctr container list")
            .push(id.to_string());
        vec![
            "--runc-binary".into(),
            self.runtime.display().to_string(),
            "--runc-root".into(),
            self.env.base.join("ctr-runc").display().to_string(),
            "--fifo-dir".into(),
            self.fifo_dir(),
            "--cgroup".into(),
            format!("/{}/{id}", self.cgroup_parent()),
        ]
    }

    pub fn fifo_dir(&self) -> String {
        self.env.base.join("ctr-fifo").display().to_string()
    }

    /// Run `args` (a docker or ctr command line; the program is looked up in PATH) with a pty as
    /// its stdin, stdout and stderr and controlling terminal, as an interactive shell would.
    pub fn pty_docker(&self, args: &[&str]) -> PtyOut {
        run_in_pty(self.docker_command(args), client_timeout())
    }

    pub fn pty_ctr(&self, args: &[&str]) -> PtyOut {
        run_in_pty(self.ctr_command(args), client_timeout())
    }

    /// Host PID of a docker container's init.
    pub fn docker_pid(&self, container: &str) -> i32 {
        let pid = self.docker_inspect(container, "{{.State.Pid}}");
        pid.parse()
            .unwrap_or_else(|_| panic!("docker inspect .State.Pid of {container}: {pid:?}"))
    }

    fn teardown_clients(&mut self) {
        let short = scaled(20);
        if self.daemon_alive(false) {
            let ps = self.docker_with_timeout(&["ps", "-aq"], short);
            for id in ps.stdout.split_whitespace() {
                let _ = self.docker_with_timeout(&["rm", "-f", id], short);
            }
        }
        if self.daemon_alive(true) {
            let ids: Vec<String> = self
                .ctr_containers
                .lock()
                .map(|v| v.clone())
                .unwrap_or_default();
            for id in &ids {
                let c = self.ctr_command(&["task", "kill", "-s", "SIGKILL", id]);
                let _ = self.host_cmd(c, short);
                let c = self.ctr_command(&["task", "delete", "-f", id]);
                let _ = self.host_cmd(c, short);
                let c = self.ctr_command(&["container", "delete", id]);
                let _ = self.host_cmd(c, short);
            }
        }
        for child in [self.dockerd.take(), self.containerd.take()]
            .into_iter()
            .flatten()
        {
            stop_daemon(child, scaled(15));
        }
    }
}

impl Drop for Clients {
    fn drop(&mut self) {
        // Then the fields drop in order: `env` (kills what is left, unmounts, removes the
        // cgroups and the base dir), then `_host_dirs`.
        self.teardown_clients();
    }
}

/// A busybox rootfs with the applets the client tests use, tarred under the base dir: the image's
/// single layer.
fn rootfs_tar(env: &TestEnv) -> PathBuf {
    let dir = env.base.join("image-rootfs");
    build_rootfs(&dir);
    for a in EXTRA_APPLETS {
        let link = dir.join("bin").join(a);
        if !link.exists() {
            std::os::unix::fs::symlink("busybox", &link)
                .unwrap_or_else(|e| panic!("symlink applet {a}: {e}"));
        }
    }
    let tar = env.base.join("rootfs.tar");
    let mut c = Command::new("tar");
    c.arg("-C").arg(&dir).arg("-cf").arg(&tar).arg(".");
    env.rt_cmd(c, vec!["tar".into()], scaled(30)).assert_ok();
    tar
}

/// One user of the shared host dirs; the last one to go removes those it created.
struct HostDirsUser;

impl HostDirsUser {
    fn new() -> HostDirsUser {
        lock_host_dirs().active += 1;
        HostDirsUser
    }
}

impl Drop for HostDirsUser {
    fn drop(&mut self) {
        let mut host = lock_host_dirs();
        host.active = host.active.saturating_sub(1);
        if host.active == 0 {
            for d in HOST_DIRS {
                if !host.preexisting.contains(d) {
                    let _ = fs::remove_dir(d);
                }
            }
        }
    }
}

/// The bookkeeping stays usable after a test panicked while holding it.
fn lock_host_dirs() -> std::sync::MutexGuard<'static, HostDirs> {
    match host_dirs().lock() {
        Ok(h) => h,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// SIGTERM, wait, then SIGKILL; always reaped.
fn stop_daemon(mut child: Child, grace: Duration) {
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let start = Instant::now();
    while start.elapsed() < grace {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The binary the clients get: the runtime under test itself, or (when `$BERTH_RUNTIME_ARGS` adds
/// global flags, which neither `ctr --runc-binary` nor a plain docker runtime path can carry) a
/// wrapper script that adds them.
fn runtime_for_clients(env: &TestEnv) -> PathBuf {
    let extra = extra_global_args();
    if extra.is_empty() {
        return runtime_bin();
    }
    let wrapper = env.base.join("runtime-wrapper");
    let quoted: Vec<String> = extra.iter().map(|a| shell_quote(a)).collect();
    fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nexec {} {} \"$@\"\n",
            shell_quote(&runtime_bin().display().to_string()),
            quoted.join(" ")
        ),
    )
    .expect("write runtime wrapper");
    fs::set_permissions(&wrapper, fs::Permissions::from_mode(0o755)).expect("chmod wrapper");
    wrapper
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn file_size(p: &Path) -> u64 {
    fs::metadata(p)
        .unwrap_or_else(|e| panic!("stat {}: {e}", p.display()))
        .len()
}

/// Write `value` as a blob named by its sha256 (computed in-process would need a crate; the
/// blob is written first, then hashed with sha256sum and renamed).
fn write_blob(blobs: &Path, value: &Value) -> (String, u64) {
    let tmp = blobs.join("tmp-blob");
    let bytes = value.to_string();
    fs::write(&tmp, &bytes).expect("write blob");
    let o = Command::new("sha256sum")
        .arg(&tmp)
        .stdin(Stdio::null())
        .output()
        .expect("run sha256sum");
    assert!(o.status.success(), "sha256sum {}", tmp.display());
    let digest = String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .next()
        .expect("sha256sum prints a digest")
        .to_string();
    fs::rename(&tmp, blobs.join(&digest)).expect("rename blob");
    (digest, bytes.len() as u64)
}

fn describe_command(c: &Command) -> Vec<String> {
    std::iter::once(c.get_program())
        .chain(c.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}

/// What a command run on a pty printed (stdout and stderr interleaved, CRs removed).
#[derive(Debug)]
pub struct PtyOut {
    pub status: Option<ExitStatus>,
    pub output: String,
    pub args: Vec<String>,
    pub timed_out: bool,
}

impl PtyOut {
    pub fn ok(&self) -> bool {
        !self.timed_out && self.status.map(|s| s.success()).unwrap_or(false)
    }
    #[track_caller]
    pub fn assert_ok(&self) -> &Self {
        assert!(
            self.ok(),
            "command {:?} on a pty failed: {self:?}",
            self.args
        );
        self
    }
}

/// Run `c` with a new pty as stdin/stdout/stderr and controlling terminal (its own session), and
/// collect what it writes until it exits and the pty is drained, or `timeout` passes (then it is
/// SIGKILLed).
pub fn run_in_pty(mut c: Command, timeout: Duration) -> PtyOut {
    let args = describe_command(&c);
    let (mut master, mut slave) = (-1, -1);
    let size = libc::winsize {
        ws_row: 24,
        ws_col: 80,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &size,
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    let master = unsafe { OwnedFd::from_raw_fd(master) };
    let slave = unsafe { OwnedFd::from_raw_fd(slave) };
    let dup = |fd: &OwnedFd| Stdio::from(fd.try_clone().expect("dup pty slave"));
    c.stdin(dup(&slave)).stdout(dup(&slave)).stderr(dup(&slave));
    let master_raw = master.as_raw_fd();
    unsafe {
        c.pre_exec(move || {
            libc::close(master_raw);
            if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = c
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {args:?} on a pty: {e}"));
    // Only the child holds the slave now, so reads hit EIO once it (and its children) are gone.
    drop(slave);
    let mut file = fs::File::from(master);
    let mut buf = Vec::new();
    let start = Instant::now();
    let mut timed_out = false;
    let mut exited_at: Option<Instant> = None;
    loop {
        let mut pfd = libc::pollfd {
            fd: file.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let n = unsafe { libc::poll(&mut pfd, 1, 100) };
        if n > 0 {
            let mut chunk = [0u8; 4096];
            match file.read(&mut chunk) {
                Ok(0) | Err(_) => break, // EIO: no slave left
                Ok(k) => buf.extend_from_slice(&chunk[..k]),
            }
        }
        if exited_at.is_none() && matches!(child.try_wait(), Ok(Some(_))) {
            exited_at = Some(Instant::now());
        }
        // A grandchild may keep the slave open: stop reading shortly after the child exited.
        if exited_at.is_some_and(|t| t.elapsed() > Duration::from_secs(2)) && n <= 0 {
            break;
        }
        if start.elapsed() > timeout {
            timed_out = true;
            break;
        }
    }
    // Reaps the child in every case (kills it first if it is still running); an exit status
    // already collected by try_wait is kept by `Child`.
    let (status, killed) = wait_timeout(child, Duration::from_secs(5));
    PtyOut {
        status: Some(status),
        output: String::from_utf8_lossy(&buf).replace('\r', ""),
        args,
        timed_out: timed_out || killed,
    }
}

/// Cgroup directories of a host process, keyed by v1 controller (or "" for the v2 unified
/// hierarchy), as absolute paths under /sys/fs/cgroup.
pub fn process_cgroup_dirs(pid: i32) -> BTreeMap<String, PathBuf> {
    let text = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, ctrls, path) = match (parts.next(), parts.next(), parts.next()) {
            (Some(a), Some(b), Some(c)) => (a, b, c),
            _ => continue,
        };
        let rel = path.trim_start_matches('/');
        if ctrls.is_empty() {
            let base = if is_v2() {
                PathBuf::from("/sys/fs/cgroup")
            } else {
                PathBuf::from("/sys/fs/cgroup/unified")
            };
            out.insert(String::new(), base.join(rel));
        } else {
            for ctrl in ctrls.split(',') {
                // v1 mounts are named after their controller(s), e.g. /sys/fs/cgroup/memory.
                let mnt = PathBuf::from("/sys/fs/cgroup").join(ctrl);
                out.insert(ctrl.to_string(), mnt.join(rel));
            }
        }
    }
    out
}

/// The cgroup directory holding `controller`'s files for `pid`: the v1 hierarchy on a v1/hybrid
/// host, the unified one on a pure v2 host.
pub fn controller_dir(pid: i32, controller: &str) -> PathBuf {
    let dirs = process_cgroup_dirs(pid);
    let key = if is_v2() { "" } else { controller };
    dirs.get(key)
        .cloned()
        .unwrap_or_else(|| panic!("pid {pid} has no {controller:?} cgroup: {dirs:?}"))
}

/// Image name for podman (imported with `podman import`).
pub const PODMAN_IMAGE: &str = "localhost/berth-test/busybox:latest";

/// Host paths a rootful podman uses by default (its store, run dir, SHM lock, CNI lock, the blob
/// info cache of `podman import`). The podman tests must create none of them.
pub const PODMAN_HOST_PATHS: &[&str] = &[
    "/var/lib/containers",
    "/run/containers",
    "/run/libpod",
    "/run/podman",
    "/dev/shm/libpod_lock",
    "/etc/cni/net.d/cni.lock",
    "/etc/containers/networks",
];

/// Why the podman tests cannot run here, if they cannot.
pub fn podman_skip_reason() -> Option<String> {
    if !is_root() {
        return Some("needs root".into());
    }
    if std::env::var_os("BERTH_SKIP_REAL_CLIENTS").is_some() {
        return Some("BERTH_SKIP_REAL_CLIENTS is set".into());
    }
    let missing: Vec<&str> = ["podman", "conmon", "tar", "unshare", "mount"]
        .into_iter()
        .filter(|t| find_in_path(t).is_none())
        .collect();
    if !missing.is_empty() {
        return Some(format!(
            "not installed: {} (apt-get install podman)",
            missing.join(", ")
        ));
    }
    None
}

/// Skip the test (return early, printing why) when podman cannot run here.
#[macro_export]
macro_rules! require_podman {
    () => {
        if let Some(reason) = $crate::common::clients::podman_skip_reason() {
            eprintln!("SKIP: {}: {reason}", module_path!());
            return;
        }
    };
}

/// A private podman (Debian's 4.3) told to use the runtime under test, with nothing of the host's
/// podman setup used or written:
///
/// * store, run root, tmp dir (locks, exit files, events) under `<base>/p/`: `--root`,
///   `--runroot`, `--tmpdir`, the vfs driver (no layer mounts to clean up);
/// * its own containers.conf, storage.conf and registries.conf through `CONTAINERS_CONF`,
///   `CONTAINERS_STORAGE_CONF`, `CONTAINERS_REGISTRIES_CONF` (file locks instead of the
///   `/dev/shm/libpod_lock` segment, the file events backend, CNI config dir, hooks dir and
///   mounts file of its own), `HOME` in the test dir (the signature policy for `import`);
/// * `--cgroup-manager cgroupfs`, every container with `--network none`, `--cgroup-parent
///   /berth-test-<tag>` and `--cgroups=no-conmon` (conmon stays where podman started it, no
///   process is moved into a cgroup but the containers');
/// * conmon carries the test's tag (`conmon_env_vars`), so the `TestEnv` finds every conmon and
///   `podman container cleanup` left.
///
/// podman calls `state` and `delete` without its `--runtime-flag`s, so a `--root` given that way
/// would not reach them: the runtime is a wrapper script `<base>/p/berth-runtime` that adds
/// `--root <base>/p/runtime-root` (and `$BERTH_RUNTIME_ARGS`) to every call. It is named
/// `berth-runtime` and listed in `runtime_supports_json`, so podman passes `--log FILE
/// --log-format json` as it does for runc and crun.
///
/// No podman command starts a service; nothing runs after teardown (`Drop`): `podman rm -af`,
/// then the `TestEnv` kills what is left with the tag or in the cgroups, unmounts everything
/// under the base dir (containers' shm) and removes it.
pub struct Podman {
    pub env: TestEnv,
    /// The wrapper podman runs as its OCI runtime.
    pub runtime: PathBuf,
    dir: PathBuf,
}

impl Podman {
    /// A private podman with the busybox image imported as [`PODMAN_IMAGE`].
    pub fn new(name: &str) -> Podman {
        let env = TestEnv::new(name);
        // podman refuses a --runroot longer than 50 characters: short names.
        let dir = env.scratch("p");
        for d in [
            "root",
            "rr",
            "tmp",
            "hooks.d",
            "net",
            "runtime-root",
            "home/.config/containers",
        ] {
            fs::create_dir_all(dir.join(d)).unwrap_or_else(|e| panic!("mkdir podman/{d}: {e}"));
        }
        let runtime = dir.join("berth-runtime");
        let mut args: Vec<String> = extra_global_args().iter().map(|a| shell_quote(a)).collect();
        args.push("--root".into());
        args.push(shell_quote(&dir.join("runtime-root").display().to_string()));
        fs::write(
            &runtime,
            format!(
                "#!/bin/sh\nexec {} {} \"$@\"\n",
                shell_quote(&runtime_bin().display().to_string()),
                args.join(" ")
            ),
        )
        .expect("write podman runtime wrapper");
        fs::set_permissions(&runtime, fs::Permissions::from_mode(0o755))
            .expect("chmod podman runtime wrapper");
        fs::write(dir.join("mounts.conf"), "").expect("write mounts.conf");
        let d = |p: &str| dir.join(p).display().to_string();
        let containers_conf = format!(
            r#"[containers]
default_mounts_file = "{mounts}"
log_driver = "k8s-file"
netns = "none"

[engine]
cgroup_manager = "cgroupfs"
conmon_env_vars = ["PATH={path}", "BERTH_TEST_TAG={tag}"]
events_logger = "file"
events_logfile_path = "{events}"
hooks_dir = ["{hooks}"]
image_copy_tmp_dir = "{tmp}"
lock_type = "file"
runtime = "berth-runtime"
runtime_supports_json = ["berth-runtime"]
static_dir = "{static_dir}"
tmp_dir = "{tmp}"
volume_path = "{volumes}"

[engine.runtimes]
berth-runtime = ["{runtime}"]

[network]
network_config_dir = "{net}"
"#,
            mounts = d("mounts.conf"),
            path = PATH_ENV.trim_start_matches("PATH="),
            tag = env.tag,
            events = d("events.log"),
            hooks = d("hooks.d"),
            tmp = d("tmp"),
            static_dir = d("root/libpod"),
            volumes = d("root/volumes"),
            runtime = runtime.display(),
            net = d("net"),
        );
        fs::write(dir.join("containers.conf"), containers_conf).expect("write containers.conf");
        let storage_conf = format!(
            "[storage]\ndriver = \"vfs\"\nrunroot = \"{}\"\ngraphroot = \"{}\"\n",
            d("rr"),
            d("root")
        );
        fs::write(dir.join("storage.conf"), storage_conf).expect("write storage.conf");
        fs::write(
            dir.join("registries.conf"),
            "unqualified-search-registries = []\n",
        )
        .expect("write registries.conf");
        // `podman import` checks the signature policy: $HOME/.config/containers/policy.json
        // comes before /etc/containers/policy.json.
        fs::write(
            dir.join("home/.config/containers/policy.json"),
            r#"{"default":[{"type":"insecureAcceptAnything"}]}"#,
        )
        .expect("write policy.json");
        let p = Podman { env, runtime, dir };
        p.import_image();
        p
    }

    /// `podman import` of the busybox rootfs. c/image 5.23 writes its blob info cache to
    /// /var/lib/containers/cache for root, whatever the store: the import runs in a private mount
    /// namespace with a tmpfs on /var/lib, so that cache goes away with it.
    fn import_image(&self) {
        let tar = rootfs_tar(&self.env);
        let mut c = Command::new("unshare");
        c.args(["--mount", "--propagation", "private", "--", "sh", "-c"])
            .arg("mount -t tmpfs -o size=4m,mode=0755 berth-test-podman /var/lib && exec \"$@\"")
            .arg("sh")
            .arg("podman");
        self.podman_env(&mut c);
        c.arg("import").arg(&tar).arg(PODMAN_IMAGE);
        let o = self
            .env
            .rt_cmd(c, vec!["podman import".into()], client_timeout());
        o.assert_ok();
        let images = self.podman(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
        assert!(
            images.stdout.lines().any(|l| l == PODMAN_IMAGE),
            "{PODMAN_IMAGE} not among podman's images: {}",
            images.describe()
        );
    }

    /// podman's environment and global flags: everything private (see the type's docs).
    fn podman_env(&self, c: &mut Command) {
        let d = &self.dir;
        c.env("CONTAINERS_CONF", d.join("containers.conf"))
            .env("CONTAINERS_STORAGE_CONF", d.join("storage.conf"))
            .env("CONTAINERS_REGISTRIES_CONF", d.join("registries.conf"))
            .env("HOME", d.join("home"))
            .env("XDG_CONFIG_HOME", d.join("home/.config"))
            .env("XDG_DATA_HOME", d.join("home/.local/share"))
            .env("TMPDIR", d.join("tmp"))
            .env_remove("XDG_RUNTIME_DIR")
            .env_remove("CONTAINER_HOST")
            .env_remove("CONTAINER_CONNECTION")
            .env_remove("CONTAINERS_STORAGE_CONF_OVERRIDE")
            .env("BERTH_TEST_TAG", &self.env.tag);
        c.arg("--root")
            .arg(d.join("root"))
            .arg("--runroot")
            .arg(d.join("rr"))
            .arg("--tmpdir")
            .arg(d.join("tmp"))
            .args(["--storage-driver", "vfs"])
            .args(["--cgroup-manager", "cgroupfs"])
            .args(["--events-backend", "file"])
            .arg("--runtime")
            .arg(&self.runtime);
    }

    fn podman_command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("podman");
        self.podman_env(&mut c);
        c.args(args);
        c
    }

    /// `podman ARGS` (private, see the type's docs), bounded by [`client_timeout`].
    pub fn podman(&self, args: &[&str]) -> Out {
        let c = self.podman_command(args);
        let described = describe_command(&c);
        self.env.rt_cmd(c, described, client_timeout())
    }

    /// `podman ARGS` on a pty (stdin, stdout, stderr and controlling terminal).
    pub fn pty_podman(&self, args: &[&str]) -> PtyOut {
        run_in_pty(self.podman_command(args), client_timeout())
    }

    /// The first arguments of every `podman run` here: no network, the test's cgroup parent,
    /// conmon left in place, and limits no higher than this host lets a process set. podman's
    /// default for root is RLIMIT_NOFILE and RLIMIT_NPROC of 1048576, which needs
    /// CAP_SYS_RESOURCE to raise a hard limit, and this machine's root does not have it.
    pub fn run_args(&self) -> Vec<String> {
        vec![
            "run".into(),
            "--network".into(),
            "none".into(),
            "--cgroup-parent".into(),
            format!("/{}", self.env.cgroup_parent()),
            "--cgroups=no-conmon".into(),
            "--ulimit".into(),
            "nofile=1024:1024".into(),
            "--ulimit".into(),
            "nproc=4096:4096".into(),
        ]
    }

    /// `podman inspect -f FORMAT C`, trimmed; panics (naming the container) when it fails.
    #[track_caller]
    pub fn inspect(&self, container: &str, format: &str) -> String {
        let o = self.podman(&["inspect", "-f", format, container]);
        o.assert_ok();
        o.stdout.trim().to_string()
    }

    /// The containers' state under the wrapper's `--root` (what the runtime still keeps).
    pub fn runtime_root_entries(&self) -> Vec<String> {
        match fs::read_dir(self.dir.join("runtime-root")) {
            Ok(rd) => rd
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|name| name != "@seccomp-cache")
                .collect(),
            Err(_) => vec![],
        }
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        // Then `env` drops: kills what is left (conmon carries the tag), unmounts, removes the
        // cgroups and the base dir.
        let c = self.podman_command(&["rm", "--all", "--force", "--time", "0"]);
        let described = describe_command(&c);
        let _ = self.env.rt_cmd(c, described, scaled(30));
    }
}

/// Which of [`PODMAN_HOST_PATHS`] exist now.
pub fn podman_host_paths_present() -> Vec<&'static str> {
    PODMAN_HOST_PATHS
        .iter()
        .copied()
        .filter(|p| Path::new(p).exists())
        .collect()
}
