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
    pub swap_usage: u64,
    pub swap_limit: u64,
    pub oom_kills: u64,
    pub pids_current: u64,
    /// 0 when unlimited, as runc reports it.
    pub pids_limit: u64,
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
        })
    }
}
