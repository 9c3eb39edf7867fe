//! Cgroup helpers shared by the cgroup test files: the host's hierarchies, reading a container's
//! cgroup files on v1 or v2, and bundles with a cgroup below the test's parent.

use super::*;
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const MIB: i64 = 1024 * 1024;

/// Pure cgroup v2 (unified) host.
pub fn is_v2() -> bool {
    Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

pub const V1_CONTROLLERS: &[&str] = &[
    "cpuset",
    "cpu",
    "cpuacct",
    "blkio",
    "memory",
    "devices",
    "freezer",
    "net_cls",
    "perf_event",
    "net_prio",
    "hugetlb",
    "pids",
    "rdma",
    "misc",
];

/// One mounted cgroup hierarchy: mount point, fs type, controllers (v1).
#[derive(Debug, Clone)]
pub struct Hierarchy {
    pub mnt: PathBuf,
    pub fstype: String,
    pub controllers: Vec<String>,
}

pub fn hierarchies() -> Vec<Hierarchy> {
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut out = vec![];
    for l in info.lines() {
        let Some((pre, post)) = l.split_once(" - ") else {
            continue;
        };
        let mnt = pre.split(' ').nth(4).unwrap_or("");
        let mut post = post.split(' ');
        let fstype = post.next().unwrap_or("");
        let _src = post.next();
        let opts = post.next().unwrap_or("");
        if fstype != "cgroup" && fstype != "cgroup2" {
            continue;
        }
        let controllers = opts
            .split(',')
            .filter(|o| V1_CONTROLLERS.contains(o))
            .map(String::from)
            .collect();
        out.push(Hierarchy {
            mnt: PathBuf::from(mnt),
            fstype: fstype.to_string(),
            controllers,
        });
    }
    out
}

/// Every existing dir named `rel` in any mounted cgroup hierarchy.
pub fn cg_dirs_existing(rel: &str) -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> = hierarchies().into_iter().map(|h| h.mnt).collect();
    roots.push(PathBuf::from("/sys/fs/cgroup"));
    roots.sort();
    roots.dedup();
    roots
        .into_iter()
        .map(|r| r.join(rel))
        .filter(|p| p.is_dir())
        .collect()
}

/// Inside vm-run's emulated VM (10-40x slower than the host).
pub fn in_slow_vm() -> bool {
    std::env::var_os("VM_RUN").is_some()
}

/// `secs` on the host, 20x that in the emulated VM.
pub fn scaled(secs: u64) -> Duration {
    Duration::from_secs(if in_slow_vm() { secs * 20 } else { secs })
}

/// A config running `args` whose cgroupsPath is `/<parent>/<leaf>`; returns
/// the config and the relative cgroup path `<parent>/<leaf>`.
pub fn cg_config(env: &TestEnv, args: &[&str], leaf: &str, resources: Value) -> (Value, String) {
    let mut cfg = env.config(args);
    let rel = format!("{}/{leaf}", env.cgroup_parent());
    cfg["linux"]["cgroupsPath"] = json!(format!("/{rel}"));
    if !resources.is_null() {
        cfg["linux"]["resources"] = resources;
    }
    (cfg, rel)
}
