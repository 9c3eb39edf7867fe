//! `linux.resources`, checked before any process starts: values in range, CPUs and memory nodes that
//! exist, and fields this version cannot apply refused by name rather than silently ignored.

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType, LinuxResources};

#[derive(Debug, thiserror::Error)]
#[error("linux.resources.{field}: {reason}")]
pub struct ResourcesError {
    pub field: String,
    pub reason: String,
}

fn bad(field: &str, reason: impl Into<String>) -> ResourcesError {
    ResourcesError {
        field: field.to_string(),
        reason: reason.into(),
    }
}

/// A limit: a number of bytes (or tasks), or no limit at all ("max", -1 in the spec).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Max,
    Value(u64),
}

impl Limit {
    fn from_spec(field: &str, value: i64) -> Result<Self, ResourcesError> {
        match value {
            -1 => Ok(Limit::Max),
            v if v < 0 => Err(bad(field, format!("{v} is negative (use -1 for no limit)"))),
            v => Ok(Limit::Value(v as u64)),
        }
    }

    /// As v2 files spell it.
    pub fn v2(self) -> String {
        match self {
            Limit::Max => "max".into(),
            Limit::Value(v) => v.to_string(),
        }
    }

    /// As v1 files spell it.
    pub fn v1(self) -> String {
        match self {
            Limit::Max => "-1".into(),
            Limit::Value(v) => v.to_string(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    pub memory_limit: Option<Limit>,
    pub memory_reservation: Option<Limit>,
    /// Memory plus swap, as the spec (and v1's memsw) counts it.
    pub memory_swap: Option<Limit>,
    pub swappiness: Option<u64>,
    /// v1's kernel TCP buffer limit (memory.kmem.tcp.limit_in_bytes); 0 in the spec means unset.
    pub kernel_tcp: Option<Limit>,
    pub disable_oom_killer: bool,
    pub check_before_update: bool,
    pub cpu_shares: Option<u64>,
    pub cpu_quota: Option<Limit>,
    pub cpu_period: Option<u64>,
    pub cpu_burst: Option<u64>,
    pub cpu_rt_runtime: Option<i64>,
    pub cpu_rt_period: Option<u64>,
    pub cpu_idle: Option<i64>,
    pub cpus: Option<String>,
    pub mems: Option<String>,
    pub pids_limit: Option<Limit>,
    pub devices: Vec<DeviceRule>,
    pub block_io: BlockIo,
    /// (page size as the kernel names it, e.g. "2MB"; limit in bytes).
    pub hugepages: Vec<(String, Limit)>,
    pub net_class_id: Option<u32>,
    /// (interface, priority).
    pub net_priorities: Vec<(String, u32)>,
    /// (device, "hca_handle=N hca_object=M").
    pub rdma: Vec<(String, String)>,
    /// cgroup v2 files to write as given (file name, value).
    pub unified: Vec<(String, String)>,
}

/// A device's numbers and a value for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceValue {
    pub major: i64,
    pub minor: i64,
    pub value: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlockIo {
    /// v1 blkio weight, 10..1000.
    pub weight: Option<u16>,
    pub leaf_weight: Option<u16>,
    pub weight_device: Vec<DeviceValue>,
    pub read_bps: Vec<DeviceValue>,
    pub write_bps: Vec<DeviceValue>,
    pub read_iops: Vec<DeviceValue>,
    pub write_iops: Vec<DeviceValue>,
}

impl BlockIo {
    pub fn is_empty(&self) -> bool {
        *self == BlockIo::default()
    }
}

/// Converts a v1 blkio weight (10..1000) to a v2 io.weight (1..10000) as runc does.
pub fn blkio_weight_to_io_weight(weight: u16) -> u64 {
    1 + (u64::from(weight.clamp(10, 1000)) - 10) * 9999 / 990
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRule {
    pub allow: bool,
    /// 'a', 'c' or 'b'.
    pub kind: char,
    pub major: Option<i64>,
    pub minor: Option<i64>,
    pub access: String,
}

impl DeviceRule {
    /// The v1 devices.allow / devices.deny line: "c 1:3 rwm".
    pub fn v1_line(&self) -> String {
        let num = |n: Option<i64>| {
            n.filter(|n| *n >= 0)
                .map_or("*".to_string(), |n| n.to_string())
        };
        if self.kind == 'a' && self.major.is_none() && self.minor.is_none() {
            return "a".into();
        }
        format!(
            "{} {}:{} {}",
            self.kind,
            num(self.major),
            num(self.minor),
            self.access
        )
    }
}

/// Converts v1 cpu.shares to v2 cpu.weight the way runc and crun do.
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 100;
    }
    1 + (shares.clamp(2, 262_144) - 2) * 9999 / 262_142
}

/// Parses a cpuset list ("0-3,5") and refuses ids at or above `available`.
fn check_cpuset(field: &str, list: &str, available: usize) -> Result<(), ResourcesError> {
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (lo, hi) = part.split_once('-').unwrap_or((part, part));
        let parse = |s: &str| {
            s.trim()
                .parse::<usize>()
                .map_err(|_| bad(field, format!("{list:?} is not a list like \"0-3,5\"")))
        };
        let (lo, hi) = (parse(lo)?, parse(hi)?);
        if lo > hi {
            return Err(bad(field, format!("range {part:?} is reversed")));
        }
        if hi >= available {
            return Err(bad(
                field,
                format!(
                    "{list:?} names {hi}, but this host has only 0-{}",
                    available.saturating_sub(1)
                ),
            ));
        }
    }
    Ok(())
}

fn count_of(list_file: &str) -> usize {
    let text = std::fs::read_to_string(list_file).unwrap_or_default();
    text.trim()
        .split(',')
        .filter_map(|p| p.split('-').next_back()?.trim().parse::<usize>().ok())
        .max()
        .map_or(1, |m| m + 1)
}

impl Resources {
    pub fn from_spec(spec: &LinuxResources) -> Result<Self, ResourcesError> {
        let mut r = Resources::default();
        if let Some(m) = spec.memory() {
            r.memory_limit = m
                .limit()
                .map(|v| Limit::from_spec("memory.limit", v))
                .transpose()?;
            r.memory_reservation = m
                .reservation()
                .map(|v| Limit::from_spec("memory.reservation", v))
                .transpose()?;
            r.memory_swap = m
                .swap()
                .map(|v| Limit::from_spec("memory.swap", v))
                .transpose()?;
            if let (Some(Limit::Value(swap)), Some(Limit::Value(limit))) =
                (r.memory_swap, r.memory_limit)
            {
                if swap < limit {
                    return Err(bad(
                        "memory.swap",
                        format!(
                            "{swap} is below memory.limit {limit} (swap counts memory plus swap)"
                        ),
                    ));
                }
            }
            if let Some(s) = m.swappiness() {
                if s > 100 {
                    return Err(bad("memory.swappiness", format!("{s} is outside 0..100")));
                }
                r.swappiness = Some(s);
            }
            // 0 leaves it alone, as runc and crun read it.
            r.kernel_tcp = m
                .kernel_tcp()
                .filter(|v| *v != 0)
                .map(|v| Limit::from_spec("memory.kernelTCP", v))
                .transpose()?;
            r.disable_oom_killer = m.disable_oom_killer().unwrap_or(false);
            r.check_before_update = m.check_before_update().unwrap_or(false);
        }
        if let Some(c) = spec.cpu() {
            r.cpu_shares = c.shares().filter(|s| *s != 0);
            r.cpu_quota = c.quota().filter(|q| *q != 0).map(|q| {
                if q < 0 {
                    Limit::Max
                } else {
                    Limit::Value(q as u64)
                }
            });
            r.cpu_period = c.period().filter(|p| *p != 0);
            if let Some(p) = r.cpu_period {
                if !(1000..=1_000_000).contains(&p) {
                    return Err(bad(
                        "cpu.period",
                        format!("{p} is outside 1000..1000000 microseconds"),
                    ));
                }
            }
            if let Some(Limit::Value(q)) = r.cpu_quota {
                if q < 1000 {
                    return Err(bad(
                        "cpu.quota",
                        format!("{q} is below the kernel's minimum of 1000 microseconds"),
                    ));
                }
            }
            r.cpu_burst = c.burst();
            r.cpu_rt_runtime = c.realtime_runtime();
            r.cpu_rt_period = c.realtime_period();
            r.cpu_idle = c.idle();
            let cpus = c.cpus().clone().filter(|s| !s.is_empty());
            if let Some(list) = &cpus {
                check_cpuset(
                    "cpu.cpus",
                    list,
                    count_of("/sys/devices/system/cpu/possible"),
                )?;
            }
            let mems = c.mems().clone().filter(|s| !s.is_empty());
            if let Some(list) = &mems {
                check_cpuset(
                    "cpu.mems",
                    list,
                    count_of("/sys/devices/system/node/possible"),
                )?;
            }
            r.cpus = cpus;
            r.mems = mems;
        }
        if let Some(p) = spec.pids() {
            // 0 leaves the limit alone (as runc); -1 means no limit; other negatives are mistakes.
            r.pids_limit = match p.limit() {
                0 => None,
                l => Some(Limit::from_spec("pids.limit", l)?),
            };
        }
        for (i, d) in spec.devices().iter().flatten().enumerate() {
            r.devices.push(device_rule(i, d)?);
        }
        if let Some(b) = spec.block_io() {
            // 0 means "not set" (docker sends it in every config), as runc reads it.
            let weight_ok = |field: &str, w: Option<u16>| match w {
                Some(0) => Ok(None),
                Some(w) if !(10..=1000).contains(&w) => {
                    Err(bad(field, format!("{w} is outside 10..1000")))
                }
                _ => Ok(w),
            };
            r.block_io.weight = weight_ok("blockIO.weight", b.weight())?;
            r.block_io.leaf_weight = weight_ok("blockIO.leafWeight", b.leaf_weight())?;
            for (i, d) in b.weight_device().iter().flatten().enumerate() {
                if let Some(w) =
                    weight_ok(&format!("blockIO.weightDevice[{i}].weight"), d.weight())?
                {
                    r.block_io.weight_device.push(DeviceValue {
                        major: d.major(),
                        minor: d.minor(),
                        value: w.into(),
                    });
                }
            }
            let throttles = |list: &Option<Vec<oci_spec::runtime::LinuxThrottleDevice>>| {
                list.iter()
                    .flatten()
                    .map(|d| DeviceValue {
                        major: d.major(),
                        minor: d.minor(),
                        value: d.rate(),
                    })
                    .collect::<Vec<_>>()
            };
            r.block_io.read_bps = throttles(b.throttle_read_bps_device());
            r.block_io.write_bps = throttles(b.throttle_write_bps_device());
            r.block_io.read_iops = throttles(b.throttle_read_iops_device());
            r.block_io.write_iops = throttles(b.throttle_write_iops_device());
        }
        for (i, h) in spec.hugepage_limits().iter().flatten().enumerate() {
            let size = h.page_size();
            let valid = size.len() > 2
                && size.ends_with('B')
                && size[..size.len() - 2].chars().all(|c| c.is_ascii_digit());
            if !valid {
                return Err(bad(
                    &format!("hugepageLimits[{i}].pageSize"),
                    format!("{size:?} is not a size like 2MB or 1GB"),
                ));
            }
            r.hugepages.push((
                size.clone(),
                Limit::from_spec(&format!("hugepageLimits[{i}].limit"), h.limit())?,
            ));
        }
        if let Some(n) = spec.network() {
            r.net_class_id = n.class_id();
            r.net_priorities = n
                .priorities()
                .iter()
                .flatten()
                .map(|p| (p.name().clone(), p.priority()))
                .collect();
        }
        for (device, limits) in spec.rdma().iter().flatten() {
            let mut parts = Vec::new();
            if let Some(h) = limits.hca_handles() {
                parts.push(format!("hca_handle={h}"));
            }
            if let Some(o) = limits.hca_objects() {
                parts.push(format!("hca_object={o}"));
            }
            if !parts.is_empty() {
                r.rdma.push((device.clone(), parts.join(" ")));
            }
        }
        for (key, value) in spec.unified().iter().flatten() {
            let safe = !key.is_empty()
                && !key.contains('/')
                && key != "."
                && key != ".."
                && key.contains('.');
            if !safe || key.starts_with("cgroup.") {
                return Err(bad(
                    &format!("unified.{key}"),
                    "not a controller file of the container's cgroup",
                ));
            }
            r.unified.push((key.clone(), value.clone()));
        }
        r.unified.sort();
        Ok(r)
    }
}

fn device_rule(index: usize, d: &LinuxDeviceCgroup) -> Result<DeviceRule, ResourcesError> {
    let field = format!("devices[{index}]");
    let kind = match d.typ() {
        None | Some(LinuxDeviceType::A) => 'a',
        Some(LinuxDeviceType::C) | Some(LinuxDeviceType::U) => 'c',
        Some(LinuxDeviceType::B) => 'b',
        Some(LinuxDeviceType::P) => {
            return Err(bad(&field, "type \"p\" (fifo) has no device cgroup rule"))
        }
    };
    let access = d.access().clone().unwrap_or_else(|| "rwm".into());
    if access.is_empty() || !access.chars().all(|c| "rwm".contains(c)) {
        return Err(bad(
            &format!("{field}.access"),
            format!("{access:?} is not a combination of r, w and m"),
        ));
    }
    Ok(DeviceRule {
        allow: d.allow(),
        kind,
        major: d.major(),
        minor: d.minor(),
        access,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weight_conversion_matches_runc() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262_144), 10_000);
    }

    #[test]
    fn cpusets() {
        assert!(check_cpuset("cpu.cpus", "0-1", 2).is_ok());
        assert!(check_cpuset("cpu.cpus", "64-127", 2).is_err());
        assert!(check_cpuset("cpu.cpus", "x", 2).is_err());
    }

    #[test]
    fn device_lines() {
        let rule = DeviceRule {
            allow: true,
            kind: 'c',
            major: Some(1),
            minor: None,
            access: "rwm".into(),
        };
        assert_eq!(rule.v1_line(), "c 1:* rwm");
    }
}
