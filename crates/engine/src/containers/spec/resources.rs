//! `linux.resources` (memory, CPU, block I/O, pids), `linux.sysctl` and `linux.cgroupsPath`,
//! with dockerd's checks (verifyPlatformContainerResources) and runc's sysctl rules.

use super::namespaces::{Ipc, Modes};
use super::process::clean_path;
use crate::containers::options::HostConfig;
use crate::error::{Error, Result};
use serde_json::{Map, Value, json};

/// dockerd's floor for `--memory` and `--memory-reservation`.
const MIN_MEMORY: i64 = 6 << 20;

/// `--memory-swap` after dockerd's adjustment: twice `--memory` when only that is set.
fn effective_swap(hc: &HostConfig) -> i64 {
    if hc.memory > 0 && hc.memory_swap == 0 {
        hc.memory * 2
    } else {
        hc.memory_swap
    }
}

fn swappiness(hc: &HostConfig) -> Option<i64> {
    hc.memory_swappiness.filter(|&s| s != -1)
}

fn online_cpus() -> Option<String> {
    std::fs::read_to_string("/sys/devices/system/cpu/online")
        .ok()
        .map(|s| s.trim().to_string())
}

fn online_mems() -> Option<String> {
    std::fs::read_to_string("/sys/devices/system/node/online")
        .ok()
        .map(|s| s.trim().to_string())
}

/// "0-3,5" → [0, 1, 2, 3, 5]; None if malformed.
fn parse_list(list: &str) -> Option<Vec<u32>> {
    let mut ids = Vec::new();
    for part in list.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (a.parse().ok()?, b.parse().ok()?);
                if a > b || b - a > 65536 {
                    return None;
                }
                ids.extend(a..=b);
            }
            None => ids.push(part.parse().ok()?),
        }
    }
    Some(ids)
}

fn check_cpuset(requested: &str, available: Option<String>, what: &str, noun: &str) -> Result<()> {
    if requested.is_empty() {
        return Ok(());
    }
    let wanted = parse_list(requested).ok_or_else(|| {
        Error::invalid(format!(
            "Invalid value {requested} for cpuset {what}: invalid format: {requested}"
        ))
    })?;
    if let Some(available) = available
        && let Some(have) = parse_list(&available)
        && wanted.iter().any(|id| !have.contains(id))
    {
        return Err(Error::invalid(format!(
            "Requested {noun} are not available - requested {requested}, available: {available}"
        )));
    }
    Ok(())
}

/// dockerd's refusals of resource values, with its messages.
pub fn validate(hc: &HostConfig) -> Result<()> {
    let swap = effective_swap(hc);
    if hc.memory != 0 && hc.memory < MIN_MEMORY {
        return Err(Error::invalid("Minimum memory limit allowed is 6MB"));
    }
    if hc.memory > 0 && swap > 0 && swap < hc.memory {
        return Err(Error::invalid(
            "Minimum memoryswap limit should be larger than memory limit, see usage",
        ));
    }
    if hc.memory == 0 && swap > 0 {
        return Err(Error::invalid(
            "You should always set the Memory limit when using Memoryswap limit, see usage",
        ));
    }
    if let Some(s) = swappiness(hc)
        && !(0..=100).contains(&s)
    {
        return Err(Error::invalid(format!(
            "Invalid value: {s}, valid memory swappiness range is 0-100"
        )));
    }
    if hc.memory_reservation > 0 && hc.memory_reservation < MIN_MEMORY {
        return Err(Error::invalid("Minimum memory reservation allowed is 6MB"));
    }
    if hc.memory > 0 && hc.memory_reservation > 0 && hc.memory < hc.memory_reservation {
        return Err(Error::invalid(
            "Minimum memory limit can not be less than memory reservation limit, see usage",
        ));
    }
    if hc.nano_cpus > 0 && hc.cpu_period > 0 {
        return Err(Error::invalid(
            "Conflicting options: Nano CPUs and CPU Period cannot both be set",
        ));
    }
    if hc.nano_cpus > 0 && hc.cpu_quota > 0 {
        return Err(Error::invalid(
            "Conflicting options: Nano CPUs and CPU Quota cannot both be set",
        ));
    }
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as i64;
    if hc.nano_cpus < 0 || hc.nano_cpus > cpus * 1_000_000_000 {
        return Err(Error::invalid(format!(
            "Range of CPUs is from 0.01 to {cpus}.00, as there are only {cpus} CPUs available"
        )));
    }
    if hc.cpu_shares < 0 {
        return Err(Error::invalid("shares: invalid argument"));
    }
    if hc.cpu_period != 0 && !(1000..=1_000_000).contains(&hc.cpu_period) {
        return Err(Error::invalid(
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)",
        ));
    }
    if hc.cpu_quota > 0 && hc.cpu_quota < 1000 {
        return Err(Error::invalid(
            "CPU cfs quota can not be less than 1ms (i.e. 1000)",
        ));
    }
    check_cpuset(&hc.cpuset_cpus, online_cpus(), "cpus", "CPUs")?;
    check_cpuset(&hc.cpuset_mems, online_mems(), "mems", "memory nodes")?;
    if hc.blkio_weight > 0 && !(10..=1000).contains(&hc.blkio_weight) {
        return Err(Error::invalid("Range of blkio weight is from 10 to 1000"));
    }
    Ok(())
}

pub fn resources(hc: &HostConfig) -> Result<Value> {
    let mut memory = Map::new();
    if hc.memory > 0 {
        memory.insert("limit".into(), json!(hc.memory));
    }
    if hc.memory_reservation > 0 {
        memory.insert("reservation".into(), json!(hc.memory_reservation));
    }
    let swap = effective_swap(hc);
    if swap > 0 {
        memory.insert("swap".into(), json!(swap));
    }
    if let Some(s) = swappiness(hc) {
        memory.insert("swappiness".into(), json!(s));
    }
    if let Some(disable) = hc.oom_kill_disable {
        memory.insert("disableOOMKiller".into(), json!(disable));
    }
    let mut cpu = Map::new();
    if hc.cpu_shares > 0 {
        cpu.insert("shares".into(), json!(hc.cpu_shares));
    }
    if !hc.cpuset_cpus.is_empty() {
        cpu.insert("cpus".into(), json!(hc.cpuset_cpus));
    }
    if !hc.cpuset_mems.is_empty() {
        cpu.insert("mems".into(), json!(hc.cpuset_mems));
    }
    if hc.nano_cpus > 0 {
        let period: i64 = 100_000;
        cpu.insert("period".into(), json!(period));
        cpu.insert("quota".into(), json!(hc.nano_cpus * period / 1_000_000_000));
    }
    if hc.cpu_period != 0 {
        cpu.insert("period".into(), json!(hc.cpu_period));
    }
    if hc.cpu_quota != 0 {
        cpu.insert("quota".into(), json!(hc.cpu_quota));
    }
    let mut resources = json!({"memory": memory, "cpu": cpu});
    if hc.blkio_weight > 0 {
        resources["blockIO"] = json!({"weight": hc.blkio_weight});
    }
    // The API's 0 and negative values both mean "no limit"; runc wants -1 for that.
    if let Some(limit) = hc.pids_limit {
        resources["pids"] = json!({"limit": if limit <= 0 { -1 } else { limit }});
    }
    Ok(resources)
}

/// cgroupfs form: `/<CgroupParent or berth>/<id>`.
pub fn cgroups_path(id: &str, cgroup_parent: &str) -> String {
    let parent = if cgroup_parent.is_empty() {
        "berth"
    } else {
        cgroup_parent
    };
    clean_path(&format!("/{parent}/{id}"))
}

/// The IPC-namespaced sysctls runc accepts besides `fs.mqueue.*`.
const IPC_SYSCTLS: [&str; 8] = [
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

fn host_has_sysctl(name: &str) -> bool {
    std::path::Path::new("/proc/sys")
        .join(name.replace('.', "/"))
        .exists()
}

/// dockerd's defaults for a private network namespace (ping and low ports without
/// capabilities), then `--sysctl`, each checked against the namespaces as runc does.
pub fn sysctls(hc: &HostConfig, modes: &Modes) -> Result<Value> {
    let mut sysctls = Map::new();
    if modes.network_private() {
        for (name, value) in [
            ("net.ipv4.ping_group_range", "0 2147483647"),
            ("net.ipv4.ip_unprivileged_port_start", "0"),
        ] {
            if host_has_sysctl(name) {
                sysctls.insert(name.into(), json!(value));
            }
        }
    }
    for (name, value) in &hc.sysctls {
        if IPC_SYSCTLS.contains(&name.as_str()) || name.starts_with("fs.mqueue.") {
            if modes.ipc == Ipc::Host {
                return Err(Error::invalid(format!(
                    "sysctl {name:?} is not allowed in the hosts ipc namespace"
                )));
            }
        } else if name.starts_with("net.") {
            if !modes.network_private() {
                return Err(Error::invalid(format!(
                    "sysctl {name:?} is not allowed in the hosts network namespace"
                )));
            }
        } else if name == "kernel.domainname" && !modes.uts_host {
        } else if name == "kernel.hostname" && !modes.uts_host {
            return Err(Error::invalid(format!(
                "sysctl {name:?} is not allowed as it conflicts with the OCI \"hostname\" field"
            )));
        } else {
            return Err(Error::invalid(format!(
                "sysctl {name:?} is not in a separate kernel namespace"
            )));
        }
        sysctls.insert(name.clone(), json!(value));
    }
    Ok(Value::Object(sysctls))
}
