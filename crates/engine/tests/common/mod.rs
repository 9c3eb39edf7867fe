//! A private engine per test: data and exec roots under `/run/berth-test-ctr-<tag>/`, cgroups
//! under `berth-test-ctr-<tag>`, a busybox image unpacked through the engine's snapshotter.
//! Drop kills what is left (by PID), unmounts, removes the cgroups and the directory.
#![allow(dead_code)]

use berth_engine::containers::options::CreateBody;
use berth_engine::images::ImageRecord;
use berth_engine::{Engine, EngineConfig};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Returns from a test that needs root, saying so.
macro_rules! require_root {
    () => {
        if !$crate::common::is_root() {
            eprintln!("SKIP: needs root");
            return;
        }
    };
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub fn shim_binary() -> PathBuf {
    // tests run from target/<triple>/debug/deps/; the shim is built to target/<triple>/debug/.
    let exe = std::env::current_exe().unwrap();
    let shim = exe.parent().unwrap().parent().unwrap().join("berth-shim");
    assert!(
        shim.exists(),
        "{} is missing: run `cargo build -p berth-shim` first",
        shim.display()
    );
    shim
}

pub fn is_root() -> bool {
    unsafe { libc::geteuid() == 0 }
}

pub struct TestEnv {
    pub tag: String,
    pub base: PathBuf,
    pub config: EngineConfig,
}

impl TestEnv {
    pub fn new(name: &str) -> TestEnv {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let tag = format!("ctr-{name}-{}-{n}", std::process::id());
        let base = PathBuf::from(format!("/run/berth-test-{tag}"));
        fs::create_dir_all(&base).unwrap();
        let config = EngineConfig::new(base.join("data"), base.join("exec"), shim_binary());
        TestEnv { tag, base, config }
    }

    pub fn cgroup_parent(&self) -> String {
        format!("berth-test-{}", self.tag)
    }

    pub fn open(&self) -> Arc<Engine> {
        Engine::open(self.config.clone()).unwrap()
    }

    /// The busybox layer unpacked and committed under its chain ID.
    /// The busybox image, loaded through the image service as `docker load` would.
    pub fn busybox(&self, engine: &Engine) -> ImageRecord {
        let archive = self.base.join("busybox.tar");
        fs::write(
            &archive,
            berth_testkit::busybox_docker_archive("busybox:latest"),
        )
        .unwrap();
        engine.images.load(&archive, &mut |_| {}).unwrap();
        fs::remove_file(&archive).unwrap();
        engine.images.resolve("busybox:latest").unwrap()
    }

    /// The busybox image loaded earlier (after a reopen).
    pub fn busybox_record_only(&self, engine: &Engine) -> ImageRecord {
        engine.images.resolve("busybox:latest").unwrap()
    }

    /// A create body for `cmd` in this test's cgroup parent.
    pub fn body(&self, cmd: &[&str]) -> CreateBody {
        let mut body = CreateBody::default();
        body.config.image = "busybox".into();
        body.config.cmd = Some(cmd.iter().map(|s| s.to_string()).collect());
        body.host_config.cgroup_parent = self.cgroup_parent();
        body.host_config.network_mode = "default".into();
        body
    }

    pub fn exec_root(&self) -> &Path {
        &self.config.exec_root
    }

    /// Mounts under this test's directory.
    pub fn mounts(&self) -> Vec<String> {
        let base = self.base.display().to_string();
        fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
            .filter(|m| m.starts_with(&base))
            .collect()
    }

    /// Processes whose command line mentions this test's directory (shims and their children).
    pub fn shim_pids(&self) -> Vec<i32> {
        let needle = self.base.display().to_string();
        let mut out = Vec::new();
        for e in fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            if let Ok(cmd) = fs::read(format!("/proc/{pid}/cmdline"))
                && String::from_utf8_lossy(&cmd).contains(&needle)
            {
                out.push(pid);
            }
        }
        out
    }

    /// Cgroup directories this test's containers made, in any hierarchy.
    pub fn cgroups(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for h in fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
            let dir = h.path().join(self.cgroup_parent());
            if let Ok(rd) = fs::read_dir(&dir) {
                for e in rd.flatten() {
                    if e.path().is_dir() {
                        out.push(e.path());
                    }
                }
            }
        }
        out
    }

    pub fn entries(&self, dir: &Path) -> Vec<String> {
        fs::read_dir(dir)
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        for _ in 0..20 {
            let left = self.shim_pids();
            if left.is_empty() {
                break;
            }
            for pid in left {
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        for h in fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
            let parent = h.path().join(self.cgroup_parent());
            if let Ok(rd) = fs::read_dir(&parent) {
                for e in rd.flatten().filter(|e| e.path().is_dir()) {
                    if let Ok(procs) = fs::read_to_string(e.path().join("cgroup.procs")) {
                        for pid in procs.lines().filter_map(|l| l.parse::<i32>().ok()) {
                            unsafe { libc::kill(pid, libc::SIGKILL) };
                        }
                    }
                    let _ = fs::write(e.path().join("freezer.state"), "THAWED");
                    for _ in 0..50 {
                        if fs::remove_dir(e.path()).is_ok() {
                            break;
                        }
                        std::thread::sleep(Duration::from_millis(20));
                    }
                }
            }
            let _ = fs::remove_dir(&parent);
        }
        let mut mounts = self.mounts();
        mounts.sort();
        for m in mounts.iter().rev() {
            let c = std::ffi::CString::new(m.as_str()).unwrap();
            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        }
        if std::env::var_os("BERTH_TEST_KEEP").is_none() {
            let _ = fs::remove_dir_all(&self.base);
        }
    }
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Polls `f` until it gives Some, for at most 20 s.
pub fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
