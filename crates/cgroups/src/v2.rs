//! cgroup v2: one directory in the unified hierarchy.

use crate::files::{read, set, write};
use crate::resources::{blkio_weight_to_io_weight, shares_to_weight, Limit, Resources};
use crate::stats::Stats;
use crate::{io_err, Error, Result};
use std::path::Path;
use std::time::{Duration, Instant};

fn keyed(dir: &Path, file: &str, key: &str) -> u64 {
    read(dir, file)
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or(0)
}

/// Processes the kernel's OOM killer ended in this cgroup since it was made.
pub fn oom_kills(dir: &Path) -> u64 {
    keyed(dir, "memory.events", "oom_kill")
}

/// Enables every available controller from the root down to the cgroup's parent, so the leaf gets them.
pub fn enable_controllers(root: &Path, path: &Path) -> Result<()> {
    let mut dir = root.to_path_buf();
    let mut parts: Vec<_> = path.components().collect();
    parts.pop();
    for part in std::iter::once(None).chain(parts.into_iter().map(Some)) {
        if let Some(part) = part {
            dir.push(part);
        }
        let available = read(&dir, "cgroup.controllers");
        let enabled = read(&dir, "cgroup.subtree_control");
        for controller in available
            .split_whitespace()
            .filter(|c| !enabled.split_whitespace().any(|e| e == *c))
        {
            // A controller the parent cannot delegate (e.g. cpuset without cpus) is skipped, not fatal.
            let _ = std::fs::write(dir.join("cgroup.subtree_control"), format!("+{controller}"));
        }
    }
    Ok(())
}

fn refuse(field: &str, what: &str) -> Error {
    Error::Unsupported(format!(
        "linux.resources.{field}: {what} is not available on cgroup v2"
    ))
}

pub fn apply(dir: &Path, r: &Resources) -> Result<()> {
    if r.swappiness.is_some() {
        return Err(refuse("memory.swappiness", "swappiness"));
    }
    if r.disable_oom_killer {
        return Err(refuse(
            "memory.disableOOMKiller",
            "disabling the OOM killer",
        ));
    }
    if r.kernel_tcp.is_some() {
        return Err(refuse("memory.kernelTCP", "a kernel TCP buffer limit"));
    }
    if r.cpu_rt_runtime.is_some() || r.cpu_rt_period.is_some() {
        return Err(refuse(
            "cpu.realtimeRuntime",
            "realtime scheduling bandwidth",
        ));
    }
    if let Some(limit) = r.memory_limit {
        if r.check_before_update {
            let usage: u64 = read(dir, "memory.current").parse().unwrap_or(0);
            if let Limit::Value(v) = limit {
                if v < usage {
                    return Err(Error::Unsupported(format!(
                        "linux.resources.memory.limit: {v} is below the current usage {usage}"
                    )));
                }
            }
        }
        set(dir, "memory.limit", "memory.max", &limit.v2())?;
    }
    if let Some(v) = r.memory_reservation {
        set(dir, "memory.reservation", "memory.low", &v.v2())?;
    }
    if let Some(swap) = r.memory_swap {
        // The spec counts memory plus swap; v2's swap.max counts swap alone.
        let swap_only = match (swap, r.memory_limit) {
            (Limit::Max, _) => Limit::Max,
            (Limit::Value(s), Some(Limit::Value(l))) => Limit::Value(s.saturating_sub(l)),
            (Limit::Value(_), _) => {
                return Err(Error::Unsupported(
                    "linux.resources.memory.swap: a swap limit needs memory.limit on cgroup v2"
                        .into(),
                ))
            }
        };
        if dir.join("memory.swap.max").exists() {
            set(dir, "memory.swap", "memory.swap.max", &swap_only.v2())?;
        } else if swap_only != Limit::Max && swap_only != Limit::Value(0) {
            return Err(Error::Unsupported(
                "linux.resources.memory.swap: swap accounting is off on this host".into(),
            ));
        }
    }
    if let Some(shares) = r.cpu_shares {
        set(
            dir,
            "cpu.shares",
            "cpu.weight",
            &shares_to_weight(shares).to_string(),
        )?;
    }
    if r.cpu_quota.is_some() || r.cpu_period.is_some() {
        let current = read(dir, "cpu.max");
        let mut fields = current.split_whitespace();
        let (old_quota, old_period) = (
            fields.next().unwrap_or("max").to_string(),
            fields.next().unwrap_or("100000").to_string(),
        );
        let quota = r.cpu_quota.map_or(old_quota, |q| q.v2());
        let period = r.cpu_period.map_or(old_period, |p| p.to_string());
        let field = if r.cpu_quota.is_some() {
            "cpu.quota"
        } else {
            "cpu.period"
        };
        set(dir, field, "cpu.max", &format!("{quota} {period}"))?;
    }
    if let Some(b) = r.cpu_burst {
        set(dir, "cpu.burst", "cpu.max.burst", &b.to_string())?;
    }
    if let Some(idle) = r.cpu_idle {
        set(dir, "cpu.idle", "cpu.idle", &idle.to_string())?;
    }
    if let Some(cpus) = &r.cpus {
        set(dir, "cpu.cpus", "cpuset.cpus", cpus)?;
    }
    if let Some(mems) = &r.mems {
        set(dir, "cpu.mems", "cpuset.mems", mems)?;
    }
    if let Some(limit) = r.pids_limit {
        set(dir, "pids.limit", "pids.max", &limit.v2())?;
    }
    let b = &r.block_io;
    if b.leaf_weight.is_some() {
        return Err(refuse("blockIO.leafWeight", "a leaf weight"));
    }
    // io.weight where the kernel has it, else BFQ's io.bfq.weight (which takes the v1 range as is).
    let bfq = !dir.join("io.weight").exists() && dir.join("io.bfq.weight").exists();
    let weight_value = |w: u64| {
        if bfq {
            w
        } else {
            blkio_weight_to_io_weight(w as u16)
        }
    };
    let weight_file = if bfq { "io.bfq.weight" } else { "io.weight" };
    if let Some(w) = b.weight {
        set(
            dir,
            "blockIO.weight",
            weight_file,
            &format!("default {}", weight_value(w.into())),
        )?;
    }
    for d in &b.weight_device {
        set(
            dir,
            "blockIO.weightDevice",
            weight_file,
            &format!("{}:{} {}", d.major, d.minor, weight_value(d.value)),
        )?;
    }
    for (field, key, list) in [
        ("blockIO.throttleReadBpsDevice", "rbps", &b.read_bps),
        ("blockIO.throttleWriteBpsDevice", "wbps", &b.write_bps),
        ("blockIO.throttleReadIOPSDevice", "riops", &b.read_iops),
        ("blockIO.throttleWriteIOPSDevice", "wiops", &b.write_iops),
    ] {
        for d in list {
            let value = if d.value == 0 {
                "max".to_string()
            } else {
                d.value.to_string()
            };
            set(
                dir,
                field,
                "io.max",
                &format!("{}:{} {key}={value}", d.major, d.minor),
            )?;
        }
    }
    for (size, limit) in &r.hugepages {
        set(
            dir,
            "hugepageLimits",
            &format!("hugetlb.{size}.max"),
            &limit.v2(),
        )?;
    }
    if r.net_class_id.is_some() || !r.net_priorities.is_empty() {
        return Err(refuse(
            "network",
            "net_cls/net_prio (use the network namespace or eBPF instead)",
        ));
    }
    for (device, limits) in &r.rdma {
        set(dir, "rdma", "rdma.max", &format!("{device} {limits}"))?;
    }
    for (file, value) in &r.unified {
        set(dir, &format!("unified.{file}"), file, value)?;
    }
    if !r.devices.is_empty() {
        crate::devices_bpf::attach(dir, &r.devices)
            .map_err(io_err(dir, "attach the device rules program"))?;
    }
    Ok(())
}

pub fn freeze(dir: &Path, frozen: bool) -> Result<()> {
    write(dir, "cgroup.freeze", if frozen { "1" } else { "0" })?;
    let want = if frozen { 1 } else { 0 };
    let deadline = Instant::now() + Duration::from_secs(5);
    while keyed(dir, "cgroup.events", "frozen") != want {
        if Instant::now() > deadline {
            return Err(Error::Unsupported(format!(
                "{}: cgroup did not reach frozen {want}",
                dir.display()
            )));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    Ok(())
}

pub fn is_frozen(dir: &Path) -> bool {
    keyed(dir, "cgroup.events", "frozen") == 1
}

pub fn stats(dir: &Path) -> Stats {
    let max = |file: &str| read(dir, file).parse::<u64>().unwrap_or(u64::MAX);
    Stats {
        cpu_total_ns: keyed(dir, "cpu.stat", "usage_usec") * 1000,
        cpu_user_ns: keyed(dir, "cpu.stat", "user_usec") * 1000,
        cpu_kernel_ns: keyed(dir, "cpu.stat", "system_usec") * 1000,
        cpu_percpu_ns: Vec::new(),
        throttle_periods: keyed(dir, "cpu.stat", "nr_periods"),
        throttled_periods: keyed(dir, "cpu.stat", "nr_throttled"),
        throttled_ns: keyed(dir, "cpu.stat", "throttled_usec") * 1000,
        memory_usage: read(dir, "memory.current").parse().unwrap_or(0),
        memory_max_usage: read(dir, "memory.peak").parse().unwrap_or(0),
        memory_limit: max("memory.max"),
        memory_failcnt: keyed(dir, "memory.events", "max"),
        memory_cache: keyed(dir, "memory.stat", "file"),
        memory_stat: crate::stats::parse_memory_stat(&read(dir, "memory.stat")),
        swap_usage: read(dir, "memory.swap.current").parse().unwrap_or(0),
        swap_limit: max("memory.swap.max"),
        oom_kills: oom_kills(dir),
        pids_current: read(dir, "pids.current").parse().unwrap_or(0),
        pids_limit: read(dir, "pids.max").parse().unwrap_or(0),
        io_bytes: io_stat(&read(dir, "io.stat"), "rbytes", "wbytes"),
        io_ops: io_stat(&read(dir, "io.stat"), "rios", "wios"),
        hugetlb: crate::stats::hugepage_sizes()
            .into_iter()
            .map(|size| crate::stats::HugetlbStats {
                usage: read(dir, &format!("hugetlb.{size}.current"))
                    .parse()
                    .unwrap_or(0),
                max: 0,
                failcnt: keyed(dir, &format!("hugetlb.{size}.events"), "max"),
                size,
            })
            .collect(),
    }
}

/// io.stat's "8:0 rbytes=1 wbytes=2 rios=3 wios=4 ..." as (major, minor, Read/Write, value) entries.
fn io_stat(text: &str, read_key: &str, write_key: &str) -> Vec<(u64, u64, String, u64)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut parts = line.split_whitespace();
        let Some((major, minor)) = parts.next().and_then(|d| d.split_once(':')) else {
            continue;
        };
        let (Ok(major), Ok(minor)) = (major.parse::<u64>(), minor.parse::<u64>()) else {
            continue;
        };
        for field in parts {
            let Some((key, value)) = field.split_once('=') else {
                continue;
            };
            let op = if key == read_key {
                "Read"
            } else if key == write_key {
                "Write"
            } else {
                continue;
            };
            out.push((major, minor, op.to_string(), value.parse().unwrap_or(0)));
        }
    }
    out
}
