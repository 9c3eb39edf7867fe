//! cgroup v1: one directory per controller hierarchy.

use crate::files::{read, set, write};
use crate::resources::{Limit, Resources};
use crate::stats::Stats;
use crate::{Cgroup, Error, Result};
use std::path::Path;
use std::time::{Duration, Instant};

fn read_u64(dir: &Path, file: &str) -> u64 {
    read(dir, file).parse().unwrap_or(0)
}

pub fn inherit_cpuset(parent: &Path, dir: &Path) -> Result<()> {
    for file in ["cpuset.cpus", "cpuset.mems"] {
        if read(dir, file).is_empty() {
            write(dir, file, &read(parent, file))?;
        }
    }
    Ok(())
}

fn need(cg: &Cgroup, controller: &str, field: &str) -> Result<std::path::PathBuf> {
    cg.v1_dir(controller).ok_or_else(|| {
        Error::Unsupported(format!(
            "linux.resources.{field}: the {controller} controller is not mounted on this host"
        ))
    })
}

pub fn apply(cg: &Cgroup, r: &Resources) -> Result<()> {
    let memory_set = r.memory_limit.is_some()
        || r.memory_reservation.is_some()
        || r.memory_swap.is_some()
        || r.swappiness.is_some()
        || r.kernel_tcp.is_some()
        || r.disable_oom_killer;
    if memory_set {
        let dir = need(cg, "memory", "memory")?;
        if r.check_before_update {
            if let Some(Limit::Value(limit)) = r.memory_limit {
                let usage = read_u64(&dir, "memory.usage_in_bytes");
                if limit < usage {
                    return Err(Error::Unsupported(format!(
                        "linux.resources.memory.limit: {limit} is below the current usage {usage}"
                    )));
                }
            }
        }
        set_memory_limits(&dir, r.memory_limit, r.memory_swap)?;
        if let Some(v) = r.memory_reservation {
            set(
                &dir,
                "memory.reservation",
                "memory.soft_limit_in_bytes",
                &v.v1(),
            )?;
        }
        if let Some(s) = r.swappiness {
            set(
                &dir,
                "memory.swappiness",
                "memory.swappiness",
                &s.to_string(),
            )?;
        }
        if let Some(v) = r.kernel_tcp {
            set(
                &dir,
                "memory.kernelTCP",
                "memory.kmem.tcp.limit_in_bytes",
                &v.v1(),
            )?;
        }
        if r.disable_oom_killer {
            set(&dir, "memory.disableOOMKiller", "memory.oom_control", "1")?;
        }
    }
    let cpu_set = r.cpu_shares.is_some()
        || r.cpu_quota.is_some()
        || r.cpu_period.is_some()
        || r.cpu_burst.is_some()
        || r.cpu_rt_runtime.is_some()
        || r.cpu_rt_period.is_some()
        || r.cpu_idle.is_some();
    if cpu_set {
        let dir = need(cg, "cpu", "cpu")?;
        if let Some(s) = r.cpu_shares {
            set(&dir, "cpu.shares", "cpu.shares", &s.to_string())?;
        }
        // The period first: a quota is checked against the period in force.
        if let Some(p) = r.cpu_period {
            set(&dir, "cpu.period", "cpu.cfs_period_us", &p.to_string())?;
        }
        if let Some(q) = r.cpu_quota {
            set(&dir, "cpu.quota", "cpu.cfs_quota_us", &q.v1())?;
        }
        if let Some(b) = r.cpu_burst {
            set(&dir, "cpu.burst", "cpu.cfs_burst_us", &b.to_string())?;
        }
        if let Some(p) = r.cpu_rt_period {
            set(
                &dir,
                "cpu.realtimePeriod",
                "cpu.rt_period_us",
                &p.to_string(),
            )?;
        }
        if let Some(rt) = r.cpu_rt_runtime {
            set(
                &dir,
                "cpu.realtimeRuntime",
                "cpu.rt_runtime_us",
                &rt.to_string(),
            )?;
        }
        if let Some(idle) = r.cpu_idle {
            set(&dir, "cpu.idle", "cpu.idle", &idle.to_string())?;
        }
    }
    if r.cpus.is_some() || r.mems.is_some() {
        let dir = need(cg, "cpuset", "cpu.cpus")?;
        if let Some(cpus) = &r.cpus {
            set(&dir, "cpu.cpus", "cpuset.cpus", cpus)?;
        }
        if let Some(mems) = &r.mems {
            set(&dir, "cpu.mems", "cpuset.mems", mems)?;
        }
    }
    if let Some(limit) = r.pids_limit {
        set(
            &need(cg, "pids", "pids")?,
            "pids.limit",
            "pids.max",
            &limit.v2(),
        )?;
    }
    if !r.block_io.is_empty() {
        let dir = need(cg, "blkio", "blockIO")?;
        let b = &r.block_io;
        // Kernels with the BFQ scheduler only offer the bfq.* weight files.
        let weight_file = if dir.join("blkio.weight").exists() {
            "blkio.weight"
        } else {
            "blkio.bfq.weight"
        };
        if let Some(w) = b.weight {
            set(&dir, "blockIO.weight", weight_file, &w.to_string())?;
        }
        if let Some(w) = b.leaf_weight {
            set(
                &dir,
                "blockIO.leafWeight",
                "blkio.leaf_weight",
                &w.to_string(),
            )?;
        }
        let device_file = if dir.join("blkio.weight_device").exists() {
            "blkio.weight_device"
        } else {
            "blkio.bfq.weight_device"
        };
        for d in &b.weight_device {
            set(
                &dir,
                "blockIO.weightDevice",
                device_file,
                &format!("{}:{} {}", d.major, d.minor, d.value),
            )?;
        }
        for (field, file, list) in [
            (
                "blockIO.throttleReadBpsDevice",
                "blkio.throttle.read_bps_device",
                &b.read_bps,
            ),
            (
                "blockIO.throttleWriteBpsDevice",
                "blkio.throttle.write_bps_device",
                &b.write_bps,
            ),
            (
                "blockIO.throttleReadIOPSDevice",
                "blkio.throttle.read_iops_device",
                &b.read_iops,
            ),
            (
                "blockIO.throttleWriteIOPSDevice",
                "blkio.throttle.write_iops_device",
                &b.write_iops,
            ),
        ] {
            for d in list {
                set(
                    &dir,
                    field,
                    file,
                    &format!("{}:{} {}", d.major, d.minor, d.value),
                )?;
            }
        }
    }
    if !r.hugepages.is_empty() {
        hugepages(cg, r)?;
    }
    if let Some(id) = r.net_class_id {
        set(
            &need(cg, "net_cls", "network.classID")?,
            "network.classID",
            "net_cls.classid",
            &id.to_string(),
        )?;
    }
    if !r.net_priorities.is_empty() {
        let dir = need(cg, "net_prio", "network.priorities")?;
        for (name, priority) in &r.net_priorities {
            set(
                &dir,
                "network.priorities",
                "net_prio.ifpriomap",
                &format!("{name} {priority}"),
            )?;
        }
    }
    if !r.rdma.is_empty() {
        let dir = need(cg, "rdma", "rdma")?;
        for (device, limits) in &r.rdma {
            set(&dir, "rdma", "rdma.max", &format!("{device} {limits}"))?;
        }
    }
    if !r.unified.is_empty() {
        return Err(Error::Unsupported(
            "linux.resources.unified: needs a cgroup v2 host".into(),
        ));
    }
    if !r.devices.is_empty() {
        let dir = need(cg, "devices", "devices")?;
        for rule in &r.devices {
            let file = if rule.allow {
                "devices.allow"
            } else {
                "devices.deny"
            };
            set(&dir, "devices", file, &rule.v1_line())?;
        }
    }
    Ok(())
}

/// hugetlb as a v1 controller, or on a hybrid host in the cgroup2 hierarchy when the controller is
/// delegated to our cgroup there (we never enable controllers in cgroups we did not create).
fn hugepages(cg: &Cgroup, r: &Resources) -> Result<()> {
    if let Some(dir) = cg.v1_dir("hugetlb") {
        for (size, limit) in &r.hugepages {
            let file = format!("hugetlb.{size}.limit_in_bytes");
            set(&dir, "hugepageLimits", &file, &limit.v1())?;
        }
        return Ok(());
    }
    let unified = cg.hierarchies.unified.as_ref().map(|u| u.join(&cg.path));
    for (size, limit) in &r.hugepages {
        let file = format!("hugetlb.{size}.max");
        match &unified {
            Some(dir) if dir.join(&file).exists() => {
                set(dir, "hugepageLimits", &file, &limit.v2())?
            }
            _ => {
                return Err(Error::Unsupported(format!(
                    "linux.resources.hugepageLimits: no hugetlb controller for {size} pages is available to berth's cgroups on this host"
                )))
            }
        }
    }
    Ok(())
}

/// memory.memsw.limit_in_bytes must stay at or above memory.limit_in_bytes at every step, so the
/// order of the two writes depends on whether the limits grow or shrink.
fn set_memory_limits(dir: &Path, limit: Option<Limit>, swap: Option<Limit>) -> Result<()> {
    let has_memsw = dir.join("memory.memsw.limit_in_bytes").exists();
    let swap = match swap {
        Some(s) if !has_memsw => {
            if s != Limit::Max && Some(s) != limit {
                return Err(Error::Unsupported(
                    "linux.resources.memory.swap: swap accounting is off on this host".into(),
                ));
            }
            None
        }
        other => other,
    };
    let grows = match swap {
        Some(Limit::Max) => true,
        Some(Limit::Value(v)) => {
            let current = read(dir, "memory.memsw.limit_in_bytes")
                .parse::<u64>()
                .unwrap_or(u64::MAX);
            v > current || current == u64::MAX
        }
        None => false,
    };
    let write_swap = || {
        swap.map_or(Ok(()), |s| {
            set(dir, "memory.swap", "memory.memsw.limit_in_bytes", &s.v1())
        })
    };
    let write_limit = || {
        limit.map_or(Ok(()), |l| {
            set(dir, "memory.limit", "memory.limit_in_bytes", &l.v1())
        })
    };
    if grows {
        write_swap()?;
        write_limit()
    } else {
        write_limit()?;
        write_swap()
    }
}

pub fn freeze(dir: &Path, frozen: bool) -> Result<()> {
    let want = if frozen { "FROZEN" } else { "THAWED" };
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        write(dir, "freezer.state", want)?;
        if read(dir, "freezer.state") == want {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(Error::Unsupported(format!(
                "{}: freezer did not reach {want}",
                dir.display()
            )));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

pub fn is_frozen(dir: &Path) -> bool {
    read(dir, "freezer.state") == "FROZEN"
}

pub fn stats(cg: &Cgroup) -> Stats {
    let mut s = Stats::default();
    if let Some(dir) = cg.v1_dir("cpuacct") {
        s.cpu_total_ns = read_u64(&dir, "cpuacct.usage");
        s.cpu_percpu_ns = read(&dir, "cpuacct.usage_percpu")
            .split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect();
        // cpuacct.stat counts USER_HZ ticks (100 per second).
        for line in read(&dir, "cpuacct.stat").lines() {
            match line.split_once(' ') {
                Some(("user", v)) => s.cpu_user_ns = v.parse::<u64>().unwrap_or(0) * 10_000_000,
                Some(("system", v)) => s.cpu_kernel_ns = v.parse::<u64>().unwrap_or(0) * 10_000_000,
                _ => {}
            }
        }
    }
    if let Some(dir) = cg.v1_dir("cpu") {
        for line in read(&dir, "cpu.stat").lines() {
            match line.split_once(' ') {
                Some(("nr_periods", v)) => s.throttle_periods = v.parse().unwrap_or(0),
                Some(("nr_throttled", v)) => s.throttled_periods = v.parse().unwrap_or(0),
                Some(("throttled_time", v)) => s.throttled_ns = v.parse().unwrap_or(0),
                _ => {}
            }
        }
    }
    if let Some(dir) = cg.v1_dir("memory") {
        s.memory_usage = read_u64(&dir, "memory.usage_in_bytes");
        s.memory_max_usage = read_u64(&dir, "memory.max_usage_in_bytes");
        s.memory_limit = read_u64(&dir, "memory.limit_in_bytes");
        s.memory_failcnt = read_u64(&dir, "memory.failcnt");
        s.swap_usage = read_u64(&dir, "memory.memsw.usage_in_bytes");
        s.swap_limit = read_u64(&dir, "memory.memsw.limit_in_bytes");
        s.oom_kills = oom_kills(&dir);
        s.memory_stat = crate::stats::parse_memory_stat(&read(&dir, "memory.stat"));
        s.memory_cache = stat_value(&s.memory_stat, "cache");
    }
    if let Some(dir) = cg.v1_dir("pids") {
        s.pids_current = read_u64(&dir, "pids.current");
        s.pids_limit = read(&dir, "pids.max").parse().unwrap_or(0);
    }
    if let Some(dir) = cg.v1_dir("blkio") {
        s.io_bytes = blkio_entries(&read(&dir, "blkio.throttle.io_service_bytes_recursive"));
        s.io_ops = blkio_entries(&read(&dir, "blkio.throttle.io_serviced_recursive"));
    }
    if let Some(dir) = cg.v1_dir("hugetlb") {
        for size in crate::stats::hugepage_sizes() {
            s.hugetlb.push(crate::stats::HugetlbStats {
                usage: read_u64(&dir, &format!("hugetlb.{size}.usage_in_bytes")),
                max: read_u64(&dir, &format!("hugetlb.{size}.max_usage_in_bytes")),
                failcnt: read_u64(&dir, &format!("hugetlb.{size}.failcnt")),
                size,
            });
        }
    }
    s
}

/// "8:0 Read 4096" lines (the "Total" line and other operations left out).
fn blkio_entries(text: &str) -> Vec<(u64, u64, String, u64)> {
    text.lines()
        .filter_map(|line| {
            let mut parts = line.split_whitespace();
            let (device, op, value) = (parts.next()?, parts.next()?, parts.next()?);
            let (major, minor) = device.split_once(':')?;
            matches!(op, "Read" | "Write").then_some(())?;
            Some((
                major.parse().ok()?,
                minor.parse().ok()?,
                op.to_string(),
                value.parse().ok()?,
            ))
        })
        .collect()
}

/// Processes the kernel's OOM killer ended in this memory cgroup (`oom_kill` of
/// memory.oom_control, kernel 4.13 and later).
pub fn oom_kills(memory_dir: &Path) -> u64 {
    read(memory_dir, "memory.oom_control")
        .lines()
        .find_map(|l| l.strip_prefix("oom_kill ")?.trim().parse().ok())
        .unwrap_or(0)
}

fn stat_value(stat: &[(String, u64)], key: &str) -> u64 {
    stat.iter().find(|(k, _)| k == key).map_or(0, |(_, v)| *v)
}
