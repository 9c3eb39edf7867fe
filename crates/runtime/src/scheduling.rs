//! The process's execution domain and scheduling: `linux.personality`, `process.ioPriority` and
//! `process.scheduler`. The `check_*` functions refuse at create what the kernel would refuse later
//! and less clearly; the `apply_*` functions run in the process about to exec (the container's init,
//! or a process exec'd into the container), while it still has the privileges to raise priorities.

use crate::channel::InitFailure;
use crate::config::Invalid;
use crate::sys;
use oci_spec::runtime::{
    IOPriorityClass, LinuxPersonality, LinuxPersonalityDomain, LinuxSchedulerFlag,
    LinuxSchedulerPolicy, Process, Scheduler, Spec,
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
