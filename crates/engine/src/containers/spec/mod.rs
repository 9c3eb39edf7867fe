//! The OCI runtime config (config.json) of a container, made from its image and run options
//! with the defaults dockerd 20.10 gives the same `docker run` flags (moby's oci/defaults.go and
//! daemon/oci_linux.go), and the files it bind-mounts (/etc/hostname, /etc/hosts,
//! /etc/resolv.conf).
//!
//! The spec is assembled as JSON in runtime-spec field names and read back into
//! [`oci_spec::runtime::Spec`], so each part below reads like the config.json it produces.

mod devices;
mod etc_files;
pub(crate) mod in_root;
mod mounts;
mod namespaces;
pub(crate) mod process;
mod resources;
mod seccomp;
mod security;
pub(crate) mod user;

#[cfg(test)]
mod tests;

use super::mount_points::MountPoint;
use super::options::{Config, HostConfig};
use crate::error::{Error, Result};
use crate::images::ImageRecord;
use oci_spec::runtime::Spec;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

pub use etc_files::write_etc_files;
pub use process::clean_path;
pub use user::{ProcessUser, resolve_user};

/// Everything the config.json of one container depends on.
pub struct SpecInput<'a> {
    /// The full 64-hex container ID.
    pub id: &'a str,
    pub image: &'a ImageRecord,
    pub config: &'a Config,
    pub host_config: &'a HostConfig,
    /// Where the container's root is mounted (the overlay of its image and its writable layer).
    /// /etc/passwd and /etc/group are read from it and WORKDIR is created in it.
    pub rootfs: &'a Path,
    /// The container's own directory in the data root, holding hostname, hosts, resolv.conf.
    pub container_dir: &'a Path,
    /// The `--init` binary to bind-mount as the container's PID 1 (`/sbin/docker-init`).
    pub init_binary: Option<&'a Path>,
    /// Volumes, binds and `--mount` tmpfs (resolved at create, volume sources filled in).
    pub mounts: &'a [MountPoint],
}

/// Where `--init`'s binary appears in the container, as with dockerd.
pub const CONTAINER_INIT_PATH: &str = "/sbin/docker-init";

/// Files written by [`write_etc_files`], bind-mounted by [`build_spec`].
pub fn etc_file(container_dir: &Path, name: &str) -> PathBuf {
    container_dir.join(name)
}

/// The container's hostname as dockerd chooses it: `--hostname`, else the host's own with
/// `--network host`, else the first 12 characters of the ID.
pub fn hostname(input: &SpecInput<'_>) -> String {
    if !input.config.hostname.is_empty() {
        return input.config.hostname.clone();
    }
    if input.host_config.network_mode == "host"
        && let Ok(name) = std::fs::read_to_string("/proc/sys/kernel/hostname")
    {
        return name.trim().to_string();
    }
    input.id.chars().take(12).collect()
}

/// What build_spec needs to know about this host; detected once per call, fixed in tests.
#[derive(Debug, Clone)]
pub(crate) struct HostFacts {
    /// cgroup v2 only (the cgroup namespace is then private by default).
    pub cgroup_unified: bool,
    /// (major, minor) of the running kernel, for the seccomp profile's `minKernel`.
    pub kernel: (u64, u64),
    /// The highest capability number the kernel knows.
    pub cap_last_cap: u32,
    /// berthd's own bounding set (CapBnd): a container cannot get more, so `--privileged` and
    /// `--cap-add ALL` mean the capabilities both in it and known to the kernel.
    pub bounding: u64,
}

impl HostFacts {
    pub fn detect() -> Result<Self> {
        let cgroup_unified = berth_cgroups::Hierarchies::detect()
            .map(|h| h.layout == berth_cgroups::Layout::Unified)
            .map_err(|e| Error::context("detect the host's cgroup layout", e))?;
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map_err(|e| Error::context("read /proc/sys/kernel/osrelease", e))?;
        let kernel = seccomp::parse_kernel_release(release.trim()).ok_or_else(|| {
            Error::internal(format!("kernel release {:?} is not N.N…", release.trim()))
        })?;
        let cap_last_cap = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(security::LAST_KNOWN_CAP);
        let bounding = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|status| {
                let line = status.lines().find(|l| l.starts_with("CapBnd:"))?;
                u64::from_str_radix(line.trim_start_matches("CapBnd:").trim(), 16).ok()
            })
            .unwrap_or(u64::MAX);
        Ok(HostFacts {
            cgroup_unified,
            kernel,
            cap_last_cap,
            bounding,
        })
    }
}

/// The environment of an exec in the container: dockerd's defaults for the exec's terminal
/// (`input.config.tty` is the exec's) under the container's env, then the exec's own `-e`.
pub fn exec_environment(input: &SpecInput<'_>, overrides: &[String]) -> Vec<String> {
    let mut env = process::environment(input, &hostname(input));
    process::replace_or_append(&mut env, overrides);
    env
}

/// The capabilities of a `--privileged` exec: what a `--privileged` container gets.
pub fn privileged_capabilities() -> Result<Vec<String>> {
    Ok(security::all_capabilities(&HostFacts::detect()?))
}

/// The config.json for `input`, or InvalidArgument with dockerd's message for bad options.
/// Side effects, as dockerd has them: WORKDIR is created in the rootfs, a missing `-v` host
/// directory is created.
pub fn build_spec(input: &SpecInput<'_>) -> Result<Spec> {
    build_spec_on(input, &HostFacts::detect()?)
}

pub(crate) fn build_spec_on(input: &SpecInput<'_>, host: &HostFacts) -> Result<Spec> {
    let hc = input.host_config;
    let modes = namespaces::Modes::from_host_config(hc, host)?;
    resources::validate(hc)?;
    let hostname = hostname(input);

    let user = user::resolve(input)?;
    let caps = security::capabilities(hc, host)?;
    let opts = security::SecurityOpts::parse(&hc.security_opt)?;
    let process = process::process(input, &hostname, &user, &caps, &opts, &modes)?;

    let mut linux = json!({
        "namespaces": namespaces::namespaces(&modes),
        "resources": resources::resources(hc)?,
        "cgroupsPath": resources::cgroups_path(input.id, &hc.cgroup_parent),
        "sysctl": resources::sysctls(hc, &modes)?,
        "devices": [],
    });
    let devices = devices::devices(hc)?;
    linux["devices"] = devices.nodes;
    linux["resources"]["devices"] = devices.rules;
    let (masked, readonly) = mounts::masked_and_readonly_paths(hc);
    linux["maskedPaths"] = json!(masked);
    linux["readonlyPaths"] = json!(readonly);
    if let Some(profile) = seccomp::for_container(&opts, hc, &caps, host)? {
        linux["seccomp"] = profile;
    }
    let mounts = mounts::mounts(input, &modes)?;
    if let Some(propagation) = mounts.rootfs_propagation {
        linux["rootfsPropagation"] = json!(propagation);
    }

    let mut spec = json!({
        "ociVersion": "1.0.2-dev",
        "process": process,
        "root": {"path": input.rootfs, "readonly": hc.readonly_rootfs},
        "mounts": mounts.list,
        "linux": linux,
    });
    if !modes.uts_host {
        spec["hostname"] = json!(hostname);
        if !input.config.domainname.is_empty() {
            spec["domainname"] = json!(input.config.domainname);
        }
    }
    from_json(spec)
}

fn from_json(spec: Value) -> Result<Spec> {
    serde_json::from_value(spec)
        .map_err(|e| Error::invalid(format!("the container's config.json is not valid: {e}")))
}
