//! A container's resource usage, in the shape of runc's `events --stats` data.

use serde_json::{json, Value};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub cpu_total_ns: u64,
    pub cpu_percpu_ns: Vec<u64>,
    pub cpu_user_ns: u64,
    pub cpu_kernel_ns: u64,
    pub throttle_periods: u64,
    pub throttled_periods: u64,
    pub throttled_ns: u64,
    pub memory_usage: u64,
    pub memory_max_usage: u64,
    pub memory_limit: u64,
    pub memory_failcnt: u64,
    pub memory_cache: u64,
    /// memory.stat as the kernel wrote it (v1: cache, rss, total_inactive_file...; v2: anon,
    /// file, inactive_file...): Docker's `memory_stats.stats`.
    pub memory_stat: Vec<(String, u64)>,
    pub swap_usage: u64,
    pub swap_limit: u64,
    pub oom_kills: u64,
    pub pids_current: u64,
    /// 0 when unlimited, as runc reports it.
    pub pids_limit: u64,
    /// (major, minor, "Read" | "Write", bytes).
    pub io_bytes: Vec<(u64, u64, String, u64)>,
    /// (major, minor, "Read" | "Write", operations).
    pub io_ops: Vec<(u64, u64, String, u64)>,
    pub hugetlb: Vec<HugetlbStats>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HugetlbStats {
    /// "2MB", "1GB".
    pub size: String,
    pub usage: u64,
    pub max: u64,
    pub failcnt: u64,
}

/// The huge page sizes of this machine as cgroup file names spell them ("2MB", "1GB").
pub fn hugepage_sizes() -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/sys/kernel/mm/hugepages") else {
        return Vec::new();
    };
    let mut sizes: Vec<u64> = entries
        .filter_map(|e| {
            e.ok()?
                .file_name()
                .to_str()?
                .strip_prefix("hugepages-")?
                .strip_suffix("kB")?
                .parse()
                .ok()
        })
        .collect();
    sizes.sort_unstable();
    sizes
        .into_iter()
        .map(|kb| match kb {
            kb if kb >= 1 << 20 => format!("{}GB", kb >> 20),
            kb if kb >= 1 << 10 => format!("{}MB", kb >> 10),
            kb => format!("{kb}KB"),
        })
        .collect()
}

impl Stats {
    pub fn to_json(&self) -> Value {
        json!({
            "cpu": {
                "usage": {
                    "total": self.cpu_total_ns,
                    "percpu": self.cpu_percpu_ns,
                    "kernel": self.cpu_kernel_ns,
                    "user": self.cpu_user_ns,
                },
                "throttling": {
                    "periods": self.throttle_periods,
                    "throttledPeriods": self.throttled_periods,
                    "throttledTime": self.throttled_ns,
                },
            },
            "memory": {
                "cache": self.memory_cache,
                "usage": {
                    "limit": self.memory_limit,
                    "usage": self.memory_usage,
                    "max": self.memory_max_usage,
                    "failcnt": self.memory_failcnt,
                },
                "swap": {"limit": self.swap_limit, "usage": self.swap_usage},
                "oomKills": self.oom_kills,
            },
            "pids": {"current": self.pids_current, "limit": self.pids_limit},
            "blkio": {
                "ioServiceBytesRecursive": io_entries(&self.io_bytes),
                "ioServicedRecursive": io_entries(&self.io_ops),
            },
            "hugetlb": self.hugetlb.iter().map(|h| {
                (h.size.clone(), json!({"usage": h.usage, "max": h.max, "failcnt": h.failcnt}))
            }).collect::<serde_json::Map<String, Value>>(),
        })
    }
}

fn io_entries(list: &[(u64, u64, String, u64)]) -> Vec<Value> {
    list.iter()
        .map(|(major, minor, op, value)| json!({"major": major, "minor": minor, "op": op, "value": value}))
        .collect()
}

/// The `key value` lines of a memory.stat file.
pub(crate) fn parse_memory_stat(text: &str) -> Vec<(String, u64)> {
    text.lines()
        .filter_map(|line| {
            let (key, value) = line.split_once(' ')?;
            Some((key.to_owned(), value.trim().parse().ok()?))
        })
        .collect()
}
