//! Linux security module labels: `process.apparmorProfile`, `process.selinuxLabel` and
//! `linux.mountLabel`. A label asked for on a host whose LSM is not enabled is refused at create
//! (runc silently ignores an AppArmor profile there; a container would then run unconfined).
//! The exec labels are written to /proc/self/attr: the kernel applies them at the next execve.

use crate::channel::InitFailure;
use crate::config::Invalid;
use oci_spec::runtime::{Process, Spec};
use std::io;
use std::path::Path;

type Step<T = ()> = Result<T, InitFailure>;

pub fn apparmor_enabled() -> bool {
    std::fs::read("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|value| value.first() == Some(&b'Y'))
}

pub fn selinux_enabled() -> bool {
    // selinuxfs is mounted (with its enforce file) exactly when SELinux is active.
    Path::new("/sys/fs/selinux/enforce").exists()
}

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.is_empty())
}

pub fn check(process: &Process) -> Result<(), Invalid> {
    if non_empty(process.apparmor_profile()).is_some() && !apparmor_enabled() {
        return Err(Invalid::new(
            "process.apparmorProfile",
            "AppArmor is not enabled on this host",
        ));
    }
    if non_empty(process.selinux_label()).is_some() && !selinux_enabled() {
        return Err(Invalid::new(
            "process.selinuxLabel",
            "SELinux is not enabled on this host",
        ));
    }
    Ok(())
}

fn mount_label(spec: &Spec) -> Option<&str> {
    non_empty(spec.linux().as_ref()?.mount_label())
}

pub fn check_mount_label(spec: &Spec) -> Result<(), Invalid> {
    if mount_label(spec).is_some() && !selinux_enabled() {
        return Err(Invalid::new(
            "linux.mountLabel",
            "SELinux is not enabled on this host",
        ));
    }
    Ok(())
}

/// The mount data for a filesystem mounted in the container, with the spec's SELinux mount label
/// as runc adds it: not for proc, sysfs, mqueue and cgroup filesystems, which label themselves.
pub fn labelled_mount_data(spec: &Spec, fstype: &str, data: &str) -> String {
    match mount_label(spec) {
        Some(label) if !matches!(fstype, "proc" | "sysfs" | "mqueue" | "cgroup" | "cgroup2") => {
            let option = format!("context=\"{label}\"");
            if data.is_empty() {
                option
            } else {
                format!("{data},{option}")
            }
        }
        _ => data.to_string(),
    }
}

/// Sets the AppArmor profile and SELinux label the process gets at its execve.
pub fn apply_exec_labels(process: &Process) -> Step {
    if let Some(profile) = non_empty(process.apparmor_profile()) {
        let command = format!("exec {profile}");
        // Kernels with LSM stacking have a per-module directory; older ones only the shared file.
        match std::fs::write("/proc/self/attr/apparmor/exec", &command) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                std::fs::write("/proc/self/attr/exec", &command)
            }
            other => other,
        }
        .map_err(|e| {
            InitFailure::os(
                format!("process.apparmorProfile: set exec profile {profile:?}"),
                &e,
            )
        })?;
    }
    if let Some(label) = non_empty(process.selinux_label()) {
        std::fs::write("/proc/self/attr/exec", label).map_err(|e| {
            InitFailure::os(
                format!("process.selinuxLabel: set exec label {label:?}"),
                &e,
            )
        })?;
    }
    Ok(())
}
