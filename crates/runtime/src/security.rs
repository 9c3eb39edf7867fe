//! The process's identity and privileges: user and groups, capabilities, no_new_privs, rlimits.

use crate::channel::InitFailure;
use crate::sys;
use caps::{CapSet, Capability, CapsHashSet};
use oci_spec::runtime::{Capabilities, Process};
use std::str::FromStr;

type Step<T = ()> = Result<T, InitFailure>;

fn rlimit_resource(name: &str) -> Option<libc::c_int> {
    Some(match name {
        "RLIMIT_CPU" => libc::RLIMIT_CPU,
        "RLIMIT_FSIZE" => libc::RLIMIT_FSIZE,
        "RLIMIT_DATA" => libc::RLIMIT_DATA,
        "RLIMIT_STACK" => libc::RLIMIT_STACK,
        "RLIMIT_CORE" => libc::RLIMIT_CORE,
        "RLIMIT_RSS" => libc::RLIMIT_RSS,
        "RLIMIT_NPROC" => libc::RLIMIT_NPROC,
        "RLIMIT_NOFILE" => libc::RLIMIT_NOFILE,
        "RLIMIT_MEMLOCK" => libc::RLIMIT_MEMLOCK,
        "RLIMIT_AS" => libc::RLIMIT_AS,
        "RLIMIT_LOCKS" => libc::RLIMIT_LOCKS,
        "RLIMIT_SIGPENDING" => libc::RLIMIT_SIGPENDING,
        "RLIMIT_MSGQUEUE" => libc::RLIMIT_MSGQUEUE,
        "RLIMIT_NICE" => libc::RLIMIT_NICE,
        "RLIMIT_RTPRIO" => libc::RLIMIT_RTPRIO,
        "RLIMIT_RTTIME" => libc::RLIMIT_RTTIME,
        _ => return None,
    } as libc::c_int)
}

/// The spec's enum spelled as in JSON ("RLIMIT_NOFILE", "CAP_KILL").
fn json_name<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

pub fn apply_rlimits(process: &Process) -> Step {
    for (i, limit) in process.rlimits().iter().flatten().enumerate() {
        let name = json_name(&limit.typ());
        let resource = rlimit_resource(&name).ok_or_else(|| {
            InitFailure::msg(
                format!("process.rlimits[{i}].type"),
                format!("unknown limit {name:?}"),
            )
        })?;
        sys::setrlimit(resource, limit.soft(), limit.hard()).map_err(|e| {
            InitFailure::os(
                format!(
                    "process.rlimits[{i}]: set {name} to {}/{}",
                    limit.soft(),
                    limit.hard()
                ),
                &e,
            )
        })?;
    }
    Ok(())
}

fn to_caps(field: &str, set: &Option<Capabilities>) -> Step<CapsHashSet> {
    let mut out = CapsHashSet::new();
    for cap in set.iter().flatten() {
        let name = json_name(cap);
        let parsed = Capability::from_str(&name).map_err(|_| {
            InitFailure::msg(field.to_string(), format!("unknown capability {name:?}"))
        })?;
        out.insert(parsed);
    }
    Ok(out)
}

/// Drops the bounding set, switches to the spec's user and groups, runs `as_user` (work that needs
/// the user's own access, before the capability sets narrow: runc enters such a cwd there), then
/// sets the capability sets and no_new_privs.
pub fn become_user(process: &Process, as_user: impl FnOnce() -> Step) -> Step {
    let user = process.user();
    let caps_spec = process.capabilities().as_ref();
    if let Some(spec) = caps_spec {
        let bounding = to_caps("process.capabilities.bounding", spec.bounding())?;
        for cap in caps::all() {
            if !bounding.contains(&cap) {
                match caps::drop(None, CapSet::Bounding, cap) {
                    Ok(()) => {}
                    // Capabilities newer than the running kernel do not exist in its bounding set.
                    Err(_) if !caps::has_cap(None, CapSet::Bounding, cap).unwrap_or(false) => {}
                    Err(e) => {
                        return Err(InitFailure::msg(
                            "process.capabilities.bounding",
                            format!("drop {cap}: {e}"),
                        ));
                    }
                }
            }
        }
    }
    let groups: Vec<libc::gid_t> = user.additional_gids().iter().flatten().copied().collect();
    match sys::setgroups(&groups) {
        Ok(()) => {}
        // With setgroups denied in a user namespace, an empty list is what we have anyway.
        Err(e) if groups.is_empty() && e.raw_os_error() == Some(libc::EPERM) => {}
        Err(e) => {
            return Err(InitFailure::os(
                "process.user.additionalGids: setgroups",
                &e,
            ));
        }
    }
    sys::set_keepcaps(true).map_err(|e| InitFailure::os("prctl(PR_SET_KEEPCAPS)", &e))?;
    sys::setresgid(user.gid())
        .map_err(|e| InitFailure::os(format!("process.user.gid: setresgid {}", user.gid()), &e))?;
    sys::setresuid(user.uid())
        .map_err(|e| InitFailure::os(format!("process.user.uid: setresuid {}", user.uid()), &e))?;
    as_user()?;
    sys::set_keepcaps(false).map_err(|e| InitFailure::os("prctl(PR_SET_KEEPCAPS)", &e))?;
    if let Some(spec) = caps_spec {
        let bits = |field: &str, value: &Option<Capabilities>| -> Step<u64> {
            Ok(to_caps(field, value)?
                .iter()
                .fold(0u64, |acc, cap| acc | (1u64 << cap.index())))
        };
        let effective = bits("process.capabilities.effective", spec.effective())?;
        let permitted = bits("process.capabilities.permitted", spec.permitted())?;
        let inheritable = bits("process.capabilities.inheritable", spec.inheritable())?;
        sys::capset(effective, permitted, inheritable).map_err(|e| {
            InitFailure::os(
                "process.capabilities: set effective, permitted and inheritable",
                &e,
            )
        })?;
        let ambient = to_caps("process.capabilities.ambient", spec.ambient())?;
        caps::clear(None, CapSet::Ambient)
            .map_err(|e| InitFailure::msg("process.capabilities.ambient", e.to_string()))?;
        for cap in ambient {
            // The kernel refuses ambient capabilities that are not permitted and inheritable; runc ignores those too.
            let _ = caps::raise(None, CapSet::Ambient, cap);
        }
    }
    if process.no_new_privileges().unwrap_or(false) {
        sys::set_no_new_privs().map_err(|e| InitFailure::os("process.noNewPrivileges", &e))?;
    }
    Ok(())
}
