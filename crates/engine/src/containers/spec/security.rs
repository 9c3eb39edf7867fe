//! Capabilities (`--cap-add`, `--cap-drop`, `--privileged`) and `--security-opt`, as dockerd's
//! oci/caps and parseSecurityOpt treat them.

use super::HostFacts;
use crate::containers::options::HostConfig;
use crate::error::{Error, Result};

/// Capability names by number (include/uapi/linux/capability.h).
const CAPABILITIES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

pub const LAST_KNOWN_CAP: u32 = CAPABILITIES.len() as u32 - 1;

/// Docker's default set (moby oci/caps/defaults.go), in its order.
pub const DEFAULT_CAPABILITIES: [&str; 14] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

fn available(host: &HostFacts, number: usize) -> bool {
    number <= host.cap_last_cap.min(LAST_KNOWN_CAP) as usize && host.bounding & (1 << number) != 0
}

/// Every capability this host's kernel and berth know and berthd itself may pass on.
pub(super) fn all_capabilities(host: &HostFacts) -> Vec<String> {
    CAPABILITIES
        .iter()
        .enumerate()
        .filter(|&(number, _)| available(host, number))
        .map(|(_, name)| name.to_string())
        .collect()
}

/// Upper-cases, adds `CAP_`, keeps `ALL`; an unknown name is dockerd's error.
fn normalize(names: &[String], host: &HostFacts) -> Result<Vec<String>> {
    let known: Vec<String> = CAPABILITIES
        .iter()
        .take(host.cap_last_cap.min(LAST_KNOWN_CAP) as usize + 1)
        .map(|c| c.to_string())
        .collect();
    names
        .iter()
        .map(|name| {
            let upper = name.to_ascii_uppercase();
            if upper == "ALL" {
                return Ok(upper);
            }
            let full = if upper.starts_with("CAP_") {
                upper
            } else {
                format!("CAP_{upper}")
            };
            if known.contains(&full) {
                Ok(full)
            } else {
                Err(Error::invalid(format!("unknown capability: {full:?}")))
            }
        })
        .collect()
}

/// The container's capability set (bounding; also effective and permitted for root).
pub fn capabilities(hc: &HostConfig, host: &HostFacts) -> Result<Vec<String>> {
    if hc.privileged {
        return Ok(all_capabilities(host));
    }
    let defaults = || DEFAULT_CAPABILITIES.iter().map(|c| c.to_string());
    if hc.cap_add.is_empty() && hc.cap_drop.is_empty() {
        return Ok(defaults().collect());
    }
    let drop = normalize(&hc.cap_drop, host)?;
    let add = normalize(&hc.cap_add, host)?;
    let grantable = all_capabilities(host);
    if let Some(missing) = add.iter().find(|c| *c != "ALL" && !grantable.contains(c)) {
        return Err(Error::invalid(format!(
            "capability {missing} cannot be granted: berthd itself does not have it in its bounding set"
        )));
    }
    let all = "ALL".to_string();
    let mut caps: Vec<String> = if add.contains(&all) {
        all_capabilities(host)
            .into_iter()
            .filter(|c| !drop.contains(c))
            .collect()
    } else if drop.contains(&all) {
        add
    } else {
        defaults()
            .filter(|c| !drop.contains(c))
            .chain(add)
            .collect()
    };
    let mut seen = std::collections::HashSet::new();
    caps.retain(|c| seen.insert(c.clone()));
    Ok(caps)
}

/// `--security-opt` values dockerd accepts.
#[derive(Debug, Default, Clone)]
pub struct SecurityOpts {
    pub no_new_privileges: bool,
    /// `seccomp=`: "unconfined", or a profile's JSON (the docker CLI sends the file's content).
    pub seccomp: Option<String>,
}

impl SecurityOpts {
    pub fn parse(opts: &[String]) -> Result<Self> {
        let mut parsed = SecurityOpts::default();
        for opt in opts {
            if opt == "no-new-privileges" {
                parsed.no_new_privileges = true;
                continue;
            }
            if opt == "disable" {
                continue;
            }
            let pair = opt.split_once('=').or_else(|| opt.split_once(':'));
            let Some((key, value)) = pair else {
                return Err(Error::invalid(format!("invalid --security-opt 1: {opt:?}")));
            };
            match key {
                // No LSM labels or AppArmor profiles in berth: accepted and not applied.
                "label" | "apparmor" => {}
                "seccomp" => parsed.seccomp = Some(value.to_string()),
                "no-new-privileges" => {
                    parsed.no_new_privileges = parse_go_bool(value).ok_or_else(|| {
                        Error::invalid(format!("invalid --security-opt 2: {opt:?}"))
                    })?;
                }
                _ => return Err(Error::invalid(format!("invalid --security-opt 2: {opt:?}"))),
            }
        }
        Ok(parsed)
    }
}

/// Go's strconv.ParseBool.
fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}
