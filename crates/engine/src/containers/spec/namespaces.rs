//! Which namespaces the container gets (`--network`, `--pid`, `--ipc`, `--uts`, `--cgroupns`).

use super::HostFacts;
use crate::containers::options::HostConfig;
use crate::error::{Error, Result};
use serde_json::{Value, json};

/// The namespace choices of one container, validated.
#[derive(Debug, Clone, Copy)]
pub struct Modes {
    pub network_host: bool,
    pub pid_host: bool,
    pub ipc: Ipc,
    pub uts_host: bool,
    pub cgroupns_private: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ipc {
    /// Its own namespace and its own /dev/shm ("", "private", "shareable").
    Private,
    /// Its own namespace without /dev/shm.
    None,
    /// The host's namespace, and the host's /dev/shm bind-mounted.
    Host,
}

fn joining_unsupported(flag: &str, value: &str) -> Error {
    Error::not_implemented(format!(
        "{flag} {value}: joining another container's namespace is not supported yet"
    ))
}

impl Modes {
    pub fn from_host_config(hc: &HostConfig, host: &HostFacts) -> Result<Self> {
        let network_host = match hc.network_mode.as_str() {
            "" | "default" | "none" => false,
            "host" => true,
            "bridge" => {
                return Err(Error::not_implemented(
                    "network bridge is not supported yet: use --network none or --network host",
                ));
            }
            m if m.starts_with("container:") => return Err(joining_unsupported("--network", m)),
            name => return Err(Error::not_found(format!("network {name} not found"))),
        };
        let pid_host = match hc.pid_mode.as_str() {
            "" => false,
            "host" => true,
            m if m.starts_with("container:") => return Err(joining_unsupported("--pid", m)),
            m => return Err(Error::invalid(format!("invalid PID mode: {m}"))),
        };
        let ipc = match hc.ipc_mode.as_str() {
            "" | "private" | "shareable" => Ipc::Private,
            "none" => Ipc::None,
            "host" => Ipc::Host,
            m if m.starts_with("container:") => return Err(joining_unsupported("--ipc", m)),
            m => return Err(Error::invalid(format!("Invalid IPC mode: {m}"))),
        };
        let uts_host = match hc.uts_mode.as_str() {
            "" => false,
            "host" => true,
            m => return Err(Error::invalid(format!("invalid UTS mode: {m}"))),
        };
        // dockerd's default: private on a cgroup v2 host; the host's on v1 and for privileged
        // containers there.
        let cgroupns_private = match hc.cgroupns_mode.as_str() {
            "" => host.cgroup_unified,
            "private" => true,
            "host" => false,
            m => {
                return Err(Error::invalid(format!(
                    "invalid cgroup namespace mode: {m}"
                )));
            }
        };
        if !hc.userns_mode.is_empty() && hc.userns_mode != "host" {
            return Err(Error::invalid(format!(
                "invalid USER mode: {}",
                hc.userns_mode
            )));
        }
        Ok(Modes {
            network_host,
            pid_host,
            ipc,
            uts_host,
            cgroupns_private,
        })
    }

    /// A network namespace of its own (`none` and the default).
    pub fn network_private(&self) -> bool {
        !self.network_host
    }
}

/// In dockerd's order: mount, network, uts, pid, ipc, then cgroup.
pub fn namespaces(modes: &Modes) -> Value {
    let mut list = vec![json!({"type": "mount"})];
    if !modes.network_host {
        list.push(json!({"type": "network"}));
    }
    if !modes.uts_host {
        list.push(json!({"type": "uts"}));
    }
    if !modes.pid_host {
        list.push(json!({"type": "pid"}));
    }
    if modes.ipc != Ipc::Host {
        list.push(json!({"type": "ipc"}));
    }
    if modes.cgroupns_private {
        list.push(json!({"type": "cgroup"}));
    }
    Value::Array(list)
}
