//! The process's execution domain and scheduling: `linux.personality`, `process.ioPriority`,
//! `process.scheduler`, `linux.memoryPolicy` and `process.execCPUAffinity`. The `check_*`
//! functions refuse at create what the kernel would refuse later and less clearly; the `apply_*`
//! functions run in the process about to exec (the container's init, or a process exec'd into the
//! container), while it still has the privileges to raise priorities. execCPUAffinity is for
//! exec'd processes only (the spec: "not applicable to the container's init process").

use crate::channel::InitFailure;
use crate::config::Invalid;
use crate::sys;
use oci_spec::runtime::{
    ExecCPUAffinity, IOPriorityClass, LinuxMemoryPolicy, LinuxPersonality, LinuxPersonalityDomain,
    LinuxSchedulerFlag, LinuxSchedulerPolicy, MemoryPolicyFlagType, MemoryPolicyModeType, Process,
    Scheduler, Spec,
};

type Step<T = ()> = Result<T, InitFailure>;

const PER_LINUX: u64 = 0x0000;
const PER_LINUX32: u64 = 0x0008;

/// The personality flags of the kernel's <linux/personality.h>, by name.
fn personality_flag(name: &str) -> Option<u64> {
    Some(match name {
        "UNAME26" => 0x002_0000,
        "ADDR_NO_RANDOMIZE" => 0x004_0000,
        "FDPIC_FUNCPTRS" => 0x008_0000,
        "MMAP_PAGE_ZERO" => 0x010_0000,
        "ADDR_COMPAT_LAYOUT" => 0x020_0000,
        "READ_IMPLIES_EXEC" => 0x040_0000,
        "ADDR_LIMIT_32BIT" => 0x080_0000,
        "SHORT_INODE" => 0x100_0000,
        "WHOLE_SECONDS" => 0x200_0000,
        "STICKY_TIMEOUTS" => 0x400_0000,
        "ADDR_LIMIT_3GB" => 0x800_0000,
        _ => return None,
    })
}

fn persona(personality: &LinuxPersonality) -> Result<u64, Invalid> {
    let domain = match personality.domain() {
        LinuxPersonalityDomain::PerLinux => PER_LINUX,
        LinuxPersonalityDomain::PerLinux32 => PER_LINUX32,
    };
    let mut value = domain;
    for (i, name) in personality.flags().iter().flatten().enumerate() {
        value |= personality_flag(name).ok_or_else(|| {
            Invalid::new(
                format!("linux.personality.flags[{i}]"),
                format!("unknown personality flag {name:?}"),
            )
        })?;
    }
    Ok(value)
}

fn personality_of(spec: &Spec) -> Option<&LinuxPersonality> {
    spec.linux().as_ref()?.personality().as_ref()
}

pub fn check_personality(spec: &Spec) -> Result<(), Invalid> {
    personality_of(spec).map(persona).transpose().map(drop)
}

/// personality(2) with the spec's domain and flags; nothing when the spec has none.
pub fn apply_personality(spec: &Spec) -> Step {
    let Some(personality) = personality_of(spec) else {
        return Ok(());
    };
    let value = persona(personality).map_err(Invalid::into_failure)?;
    sys::set_personality(value as libc::c_ulong).map_err(|e| {
        InitFailure::os(
            format!(
                "linux.personality: set domain {} (0x{value:x})",
                personality.domain()
            ),
            &e,
        )
    })
}

const IOPRIO_CLASS_RT: u32 = 1;
const IOPRIO_CLASS_BE: u32 = 2;
const IOPRIO_CLASS_IDLE: u32 = 3;

fn io_priority_of(process: &Process) -> Result<Option<(u32, u32)>, Invalid> {
    let Some(io) = process.io_priority() else {
        return Ok(None);
    };
    let class = match io.class() {
        IOPriorityClass::IoprioClassRt => IOPRIO_CLASS_RT,
        IOPriorityClass::IoprioClassBe => IOPRIO_CLASS_BE,
        IOPriorityClass::IoprioClassIdle => IOPRIO_CLASS_IDLE,
    };
    let level = io.priority();
    if !(0..=7).contains(&level) {
        return Err(Invalid::new(
            "process.ioPriority.priority",
            format!("{level} is outside 0..7"),
        ));
    }
    Ok(Some((class, level as u32)))
}

pub fn check_io_priority(process: &Process) -> Result<(), Invalid> {
    io_priority_of(process).map(drop)
}

/// ioprio_set(2) with the spec's class and level; nothing when the spec has none.
pub fn apply_io_priority(process: &Process) -> Step {
    let Some((class, level)) = io_priority_of(process).map_err(Invalid::into_failure)? else {
        return Ok(());
    };
    sys::set_io_priority(class, level).map_err(|e| {
        let hint = if class == IOPRIO_CLASS_RT && e.raw_os_error() == Some(libc::EPERM) {
            " (the realtime class needs CAP_SYS_ADMIN)"
        } else {
            ""
        };
        InitFailure::os(
            format!("process.ioPriority: set class {class} level {level}{hint}"),
            &e,
        )
    })
}

fn policy_number(policy: LinuxSchedulerPolicy) -> Result<u32, Invalid> {
    Ok(match policy {
        LinuxSchedulerPolicy::SchedOther => 0,
        LinuxSchedulerPolicy::SchedFifo => 1,
        LinuxSchedulerPolicy::SchedRr => 2,
        LinuxSchedulerPolicy::SchedBatch => 3,
        LinuxSchedulerPolicy::SchedIdle => 5,
        LinuxSchedulerPolicy::SchedDeadline => 6,
        LinuxSchedulerPolicy::SchedIso => {
            return Err(Invalid::new(
                "process.scheduler.policy",
                "SCHED_ISO is not implemented by Linux",
            ));
        }
    })
}

fn flag_bit(flag: LinuxSchedulerFlag) -> u64 {
    match flag {
        LinuxSchedulerFlag::SchedResetOnFork => 0x01,
        LinuxSchedulerFlag::SchedFlagReclaim => 0x02,
        LinuxSchedulerFlag::SchedFlagDLOverrun => 0x04,
        LinuxSchedulerFlag::SchedFlagKeepPolicy => 0x08,
        LinuxSchedulerFlag::SchedFlagKeepParams => 0x10,
        LinuxSchedulerFlag::SchedFlagUtilClampMin => 0x20,
        LinuxSchedulerFlag::SchedFlagUtilClampMax => 0x40,
    }
}

/// The sched_attr for the spec's scheduler, refusing combinations the policy does not take.
fn sched_attr(scheduler: &Scheduler) -> Result<sys::SchedAttr, Invalid> {
    let policy = *scheduler.policy();
    let number = policy_number(policy)?;
    let realtime = matches!(
        policy,
        LinuxSchedulerPolicy::SchedFifo | LinuxSchedulerPolicy::SchedRr
    );
    let deadline = policy == LinuxSchedulerPolicy::SchedDeadline;
    let nice = scheduler.nice().unwrap_or(0);
    if !(-20..=19).contains(&nice) {
        return Err(Invalid::new(
            "process.scheduler.nice",
            format!("{nice} is outside -20..19"),
        ));
    }
    let priority = scheduler.priority().unwrap_or(0);
    if realtime && !(1..=99).contains(&priority) {
        return Err(Invalid::new(
            "process.scheduler.priority",
            format!("{priority} is outside 1..99 (SCHED_FIFO and SCHED_RR need a priority)"),
        ));
    }
    if !realtime && priority != 0 {
        return Err(Invalid::new(
            "process.scheduler.priority",
            format!("{policy} takes no priority (only SCHED_FIFO and SCHED_RR do)"),
        ));
    }
    let (runtime, dl, period) = (
        scheduler.runtime().unwrap_or(0),
        scheduler.deadline().unwrap_or(0),
        scheduler.period().unwrap_or(0),
    );
    if !deadline && (runtime != 0 || dl != 0 || period != 0) {
        return Err(Invalid::new(
            "process.scheduler.runtime",
            format!("runtime, deadline and period are for SCHED_DEADLINE, not {policy}"),
        ));
    }
    let flags = scheduler
        .flags()
        .iter()
        .flatten()
        .fold(0, |acc, flag| acc | flag_bit(*flag));
    Ok(sys::SchedAttr {
        sched_policy: number,
        sched_flags: flags,
        sched_nice: nice,
        sched_priority: priority as u32,
        sched_runtime: runtime,
        sched_deadline: dl,
        sched_period: period,
        ..sys::SchedAttr::default()
    })
}

pub fn check_scheduler(process: &Process) -> Result<(), Invalid> {
    process
        .scheduler()
        .as_ref()
        .map(sched_attr)
        .transpose()
        .map(drop)
}

/// sched_setattr(2) with the spec's policy and parameters; nothing when the spec has none.
pub fn apply_scheduler(process: &Process) -> Step {
    let Some(scheduler) = process.scheduler() else {
        return Ok(());
    };
    let attr = sched_attr(scheduler).map_err(Invalid::into_failure)?;
    sys::sched_setattr(&attr).map_err(|e| {
        InitFailure::os(
            format!(
                "process.scheduler: set policy {} (nice {}, priority {}, runtime {}, deadline {}, period {})",
                scheduler.policy(),
                attr.sched_nice,
                attr.sched_priority,
                attr.sched_runtime,
                attr.sched_deadline,
                attr.sched_period
            ),
            &e,
        )
    })
}

/// A list of ids like "0-3,7" (CPUs or NUMA nodes) as a bitmask in 64-bit words. Refuses ids at
/// or above `limit` (`what` names them in the error) and a list without members.
fn id_mask(field: &str, list: &str, what: &str, limit: usize) -> Result<Vec<u64>, Invalid> {
    let malformed = || Invalid::new(field, format!("{list:?} is not a list like \"0-3,7\""));
    let mut mask: Vec<u64> = Vec::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (lo, hi) = part.split_once('-').unwrap_or((part, part));
        let parse = |s: &str| s.trim().parse::<usize>().map_err(|_| malformed());
        let (lo, hi) = (parse(lo)?, parse(hi)?);
        if lo > hi {
            return Err(Invalid::new(
                field,
                format!("{list:?}: range {part:?} is reversed"),
            ));
        }
        if hi >= limit {
            let have = match limit {
                0 | 1 => format!("{what} 0"),
                n => format!("{what}s 0-{}", n - 1),
            };
            return Err(Invalid::new(
                field,
                format!("{list:?} names {what} {hi}, but this host has only {have}"),
            ));
        }
        if mask.len() <= hi / 64 {
            mask.resize(hi / 64 + 1, 0);
        }
        for id in lo..=hi {
            mask[id / 64] |= 1 << (id % 64);
        }
    }
    if mask.is_empty() {
        return Err(Invalid::new(field, format!("{list:?} names no {what}")));
    }
    Ok(mask)
}

/// How many ids a sysfs list file ("0-3") covers: its highest id plus one (1 when unreadable, as on
/// a kernel without NUMA, whose only node is 0).
fn ids_in(list_file: &str) -> usize {
    std::fs::read_to_string(list_file)
        .unwrap_or_default()
        .trim()
        .split(',')
        .filter_map(|p| p.split('-').next_back()?.trim().parse::<usize>().ok())
        .max()
        .map_or(1, |m| m + 1)
}

/// The highest node number set_mempolicy takes with MPOL_F_RELATIVE_NODES (node numbers are
/// relative to the allowed set there, so they may exceed the host's count).
const RELATIVE_NODES_LIMIT: usize = 1024;

const MPOL_DEFAULT: i32 = 0;
const MPOL_PREFERRED: i32 = 1;
const MPOL_BIND: i32 = 2;
const MPOL_INTERLEAVE: i32 = 3;
const MPOL_LOCAL: i32 = 4;
const MPOL_PREFERRED_MANY: i32 = 5;
const MPOL_WEIGHTED_INTERLEAVE: i32 = 6;
const MPOL_F_NUMA_BALANCING: i32 = 1 << 13;
const MPOL_F_RELATIVE_NODES: i32 = 1 << 14;
const MPOL_F_STATIC_NODES: i32 = 1 << 15;

/// The modes and flags `features` reports.
pub const MEMORY_POLICY_MODES: [&str; 7] = [
    "MPOL_DEFAULT",
    "MPOL_BIND",
    "MPOL_INTERLEAVE",
    "MPOL_WEIGHTED_INTERLEAVE",
    "MPOL_PREFERRED",
    "MPOL_PREFERRED_MANY",
    "MPOL_LOCAL",
];
pub const MEMORY_POLICY_FLAGS: [&str; 3] = [
    "MPOL_F_NUMA_BALANCING",
    "MPOL_F_RELATIVE_NODES",
    "MPOL_F_STATIC_NODES",
];

/// set_mempolicy's arguments for `linux.memoryPolicy`: the mode with its flags, and the nodemask.
struct MemoryPolicy {
    mode: i32,
    nodes: Vec<u64>,
}

fn memory_policy(policy: &LinuxMemoryPolicy) -> Result<MemoryPolicy, Invalid> {
    let mode_type = policy.mode();
    let mode = match mode_type {
        MemoryPolicyModeType::MpolDefault => MPOL_DEFAULT,
        MemoryPolicyModeType::MpolPreferred => MPOL_PREFERRED,
        MemoryPolicyModeType::MpolBind => MPOL_BIND,
        MemoryPolicyModeType::MpolInterleave => MPOL_INTERLEAVE,
        MemoryPolicyModeType::MpolLocal => MPOL_LOCAL,
        MemoryPolicyModeType::MpolPreferredMany => MPOL_PREFERRED_MANY,
        MemoryPolicyModeType::MpolWeightedInterleave => MPOL_WEIGHTED_INTERLEAVE,
    };
    let mut flags = 0;
    for flag in policy.flags().iter().flatten() {
        flags |= match flag {
            MemoryPolicyFlagType::MpolFNumaBalancing => MPOL_F_NUMA_BALANCING,
            MemoryPolicyFlagType::MpolFRelativeNodes => MPOL_F_RELATIVE_NODES,
            MemoryPolicyFlagType::MpolFStaticNodes => MPOL_F_STATIC_NODES,
        };
    }
    if flags & MPOL_F_RELATIVE_NODES != 0 && flags & MPOL_F_STATIC_NODES != 0 {
        return Err(Invalid::new(
            "linux.memoryPolicy.flags",
            "MPOL_F_RELATIVE_NODES and MPOL_F_STATIC_NODES exclude each other",
        ));
    }
    if flags & MPOL_F_NUMA_BALANCING != 0 && mode != MPOL_BIND && mode != MPOL_PREFERRED_MANY {
        return Err(Invalid::new(
            "linux.memoryPolicy.flags",
            format!(
                "MPOL_F_NUMA_BALANCING needs MPOL_BIND or MPOL_PREFERRED_MANY, not {mode_type}"
            ),
        ));
    }
    let list = policy.nodes().as_deref().unwrap_or("").trim();
    let nodes = if list.is_empty() {
        Vec::new()
    } else {
        let limit = if flags & MPOL_F_RELATIVE_NODES != 0 {
            RELATIVE_NODES_LIMIT
        } else {
            ids_in("/sys/devices/system/node/possible")
        };
        id_mask("linux.memoryPolicy.nodes", list, "node", limit)?
    };
    match mode {
        MPOL_DEFAULT | MPOL_LOCAL if !nodes.is_empty() => Err(Invalid::new(
            "linux.memoryPolicy.nodes",
            format!("{mode_type} takes no nodes, got {list:?}"),
        )),
        MPOL_DEFAULT | MPOL_LOCAL if flags & (MPOL_F_RELATIVE_NODES | MPOL_F_STATIC_NODES) != 0 => {
            Err(Invalid::new(
                "linux.memoryPolicy.flags",
                format!("{mode_type} takes no node flags"),
            ))
        }
        MPOL_BIND | MPOL_INTERLEAVE | MPOL_PREFERRED_MANY | MPOL_WEIGHTED_INTERLEAVE
            if nodes.is_empty() =>
        {
            Err(Invalid::new(
                "linux.memoryPolicy.nodes",
                format!("{mode_type} needs at least one node"),
            ))
        }
        _ => Ok(MemoryPolicy {
            mode: mode | flags,
            nodes,
        }),
    }
}

fn memory_policy_of(spec: &Spec) -> Option<&LinuxMemoryPolicy> {
    spec.linux().as_ref()?.memory_policy().as_ref()
}

pub fn check_memory_policy(spec: &Spec) -> Result<(), Invalid> {
    memory_policy_of(spec)
        .map(memory_policy)
        .transpose()
        .map(drop)
}

/// set_mempolicy(2) with `linux.memoryPolicy` for the process about to exec (the policy survives
/// execve); nothing when the spec has none.
pub fn apply_memory_policy(spec: &Spec) -> Step {
    let Some(policy) = memory_policy_of(spec) else {
        return Ok(());
    };
    let MemoryPolicy { mode, nodes } = memory_policy(policy).map_err(Invalid::into_failure)?;
    sys::set_mempolicy(mode, &nodes).map_err(|e| {
        let hint = match (policy.mode(), e.raw_os_error()) {
            (MemoryPolicyModeType::MpolWeightedInterleave, Some(libc::EINVAL)) => {
                " (MPOL_WEIGHTED_INTERLEAVE needs Linux 6.9)"
            }
            (MemoryPolicyModeType::MpolPreferredMany, Some(libc::EINVAL)) => {
                " (MPOL_PREFERRED_MANY needs Linux 5.15)"
            }
            (_, Some(libc::EINVAL)) => " (are the nodes in the container's cpuset.mems?)",
            _ => "",
        };
        let flags: Vec<String> = policy
            .flags()
            .iter()
            .flatten()
            .map(ToString::to_string)
            .collect();
        InitFailure::os(
            format!(
                "linux.memoryPolicy: set_mempolicy {} nodes {:?} flags [{}]{hint}",
                policy.mode(),
                policy.nodes().as_deref().unwrap_or(""),
                flags.join(", ")
            ),
            &e,
        )
    })
}

/// The CPU masks of an exec'd process's `execCPUAffinity`: (initial, final).
type AffinityMasks = (Option<Vec<u64>>, Option<Vec<u64>>);

fn affinity_masks(affinity: &ExecCPUAffinity) -> Result<AffinityMasks, Invalid> {
    let cpus = ids_in("/sys/devices/system/cpu/possible");
    let mask = |field: &str, list: &Option<String>| {
        list.as_deref()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|l| id_mask(field, l, "CPU", cpus))
            .transpose()
    };
    Ok((
        mask("process.execCPUAffinity.initial", affinity.initial())?,
        mask(
            "process.execCPUAffinity.final",
            affinity.cpu_affinity_final(),
        )?,
    ))
}

pub fn check_exec_cpu_affinity(process: &Process) -> Result<(), Invalid> {
    process
        .exec_cpu_affinity()
        .as_ref()
        .map(affinity_masks)
        .transpose()
        .map(drop)
}

/// An exec'd process's `execCPUAffinity`: its own, else the container's (as runc takes it).
pub fn exec_cpu_affinity<'a>(process: &'a Process, spec: &'a Spec) -> Option<&'a ExecCPUAffinity> {
    process.exec_cpu_affinity().as_ref().or_else(|| {
        spec.process()
            .as_ref()
            .and_then(|p| p.exec_cpu_affinity().as_ref())
    })
}

/// Whether the exec'd process must be placed in its cgroup after birth, on the `initial` CPUs.
pub fn has_initial_cpu_affinity(process: &Process, spec: &Spec) -> bool {
    exec_cpu_affinity(process, spec)
        .and_then(|a| a.initial().as_deref())
        .is_some_and(|l| !l.trim().is_empty())
}

/// `execCPUAffinity.initial`, set by the runtime on the exec'd process `pid` before it joins the
/// container's cgroup; nothing when unset.
pub fn apply_initial_cpu_affinity(
    pid: libc::pid_t,
    process: &Process,
    spec: &Spec,
) -> Result<(), crate::Error> {
    let Some(affinity) = exec_cpu_affinity(process, spec) else {
        return Ok(());
    };
    let invalid = |i: Invalid| crate::Error::Usage(format!("{}: {}", i.field, i.reason));
    let (Some(initial), _) = affinity_masks(affinity).map_err(invalid)? else {
        return Ok(());
    };
    sys::sched_setaffinity(pid, &initial).map_err(|source| crate::Error::Sys {
        what: format!(
            "process.execCPUAffinity.initial: set CPUs {:?} of the exec'd process {pid}",
            affinity.initial().as_deref().unwrap_or("")
        ),
        source,
    })
}

/// `execCPUAffinity.final`, set by the exec'd process on itself once in the container's cgroup,
/// right before exec; nothing when unset.
pub fn apply_final_cpu_affinity(process: &Process, spec: &Spec) -> Step {
    let Some(affinity) = exec_cpu_affinity(process, spec) else {
        return Ok(());
    };
    let (_, Some(cpus)) = affinity_masks(affinity).map_err(Invalid::into_failure)? else {
        return Ok(());
    };
    sys::sched_setaffinity(0, &cpus).map_err(|e| {
        let hint = if e.raw_os_error() == Some(libc::EINVAL) {
            " (none of them in the container's cpuset?)"
        } else {
            ""
        };
        InitFailure::os(
            format!(
                "process.execCPUAffinity.final: set CPUs {:?}{hint}",
                affinity.cpu_affinity_final().as_deref().unwrap_or("")
            ),
            &e,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scheduler(json: serde_json::Value) -> Scheduler {
        serde_json::from_value(json).expect("scheduler json")
    }

    #[test]
    fn scheduler_combinations() {
        let ok = scheduler(serde_json::json!({"policy": "SCHED_BATCH", "nice": 5}));
        let attr = sched_attr(&ok).expect("valid");
        assert_eq!((attr.sched_policy, attr.sched_nice), (3, 5));
        let fifo = scheduler(
            serde_json::json!({"policy": "SCHED_FIFO", "priority": 10, "flags": ["SCHED_RESET_ON_FORK"]}),
        );
        let attr = sched_attr(&fifo).expect("valid");
        assert_eq!((attr.sched_priority, attr.sched_flags), (10, 1));
        for (bad, field) in [
            (
                serde_json::json!({"policy": "SCHED_OTHER", "priority": 3}),
                "process.scheduler.priority",
            ),
            (
                serde_json::json!({"policy": "SCHED_RR"}),
                "process.scheduler.priority",
            ),
            (
                serde_json::json!({"policy": "SCHED_OTHER", "nice": 20}),
                "process.scheduler.nice",
            ),
            (
                serde_json::json!({"policy": "SCHED_BATCH", "runtime": 1000}),
                "process.scheduler.runtime",
            ),
            (
                serde_json::json!({"policy": "SCHED_ISO"}),
                "process.scheduler.policy",
            ),
        ] {
            let err = sched_attr(&scheduler(bad.clone())).expect_err(&bad.to_string());
            assert_eq!(err.field, field, "{bad}");
        }
    }

    #[test]
    fn id_lists() {
        assert_eq!(
            id_mask("f", "0-1,3", "node", 4).expect("valid"),
            vec![0b1011]
        );
        assert_eq!(
            id_mask("f", " 70 ,", "CPU", 128).expect("valid"),
            vec![0, 1 << 6]
        );
        for bad in ["", "x", "2-1", "0-4", "1,,-"] {
            assert!(id_mask("f", bad, "node", 4).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn memory_policies() {
        let policy = |json: serde_json::Value| -> LinuxMemoryPolicy {
            serde_json::from_value(json).expect("memory policy json")
        };
        let bind = memory_policy(&policy(
            serde_json::json!({"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES"]}),
        ))
        .expect("valid");
        assert_eq!(
            (bind.mode, bind.nodes),
            (MPOL_BIND | MPOL_F_STATIC_NODES, vec![1])
        );
        let local =
            memory_policy(&policy(serde_json::json!({"mode": "MPOL_LOCAL"}))).expect("valid");
        assert_eq!((local.mode, local.nodes.len()), (MPOL_LOCAL, 0));
        for (bad, field) in [
            (
                serde_json::json!({"mode": "MPOL_BIND"}),
                "linux.memoryPolicy.nodes",
            ),
            (
                serde_json::json!({"mode": "MPOL_DEFAULT", "nodes": "0"}),
                "linux.memoryPolicy.nodes",
            ),
            (
                serde_json::json!({"mode": "MPOL_BIND", "nodes": "0-1x"}),
                "linux.memoryPolicy.nodes",
            ),
            (
                serde_json::json!({"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES", "MPOL_F_RELATIVE_NODES"]}),
                "linux.memoryPolicy.flags",
            ),
            (
                serde_json::json!({"mode": "MPOL_INTERLEAVE", "nodes": "0", "flags": ["MPOL_F_NUMA_BALANCING"]}),
                "linux.memoryPolicy.flags",
            ),
        ] {
            let Err(err) = memory_policy(&policy(bad.clone())) else {
                panic!("accepted: {bad}");
            };
            assert_eq!(err.field, field, "{bad}");
        }
    }

    #[test]
    fn personality_values() {
        let p: LinuxPersonality = serde_json::from_value(
            serde_json::json!({"domain": "LINUX32", "flags": ["ADDR_NO_RANDOMIZE"]}),
        )
        .expect("personality json");
        assert_eq!(persona(&p).expect("valid"), 0x8 | 0x4_0000);
        let bad: LinuxPersonality =
            serde_json::from_value(serde_json::json!({"domain": "LINUX", "flags": ["NOPE"]}))
                .expect("personality json");
        assert_eq!(
            persona(&bad).expect_err("unknown flag").field,
            "linux.personality.flags[0]"
        );
    }
}
