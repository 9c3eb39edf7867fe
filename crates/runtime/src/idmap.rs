//! Id-mapped bind mounts (`mounts[].uidMappings`/`gidMappings`): files owned by host ids appear
//! owned by the mapped ids, so a container whose root is an unprivileged host uid can use a
//! rootfs or volume that belongs to host root.
//!
//! The runtime makes them on the host before the init exists, as detached mounts (open_tree +
//! mount_setattr with a user namespace carrying the mount's mapping): only the initial user
//! namespace may id-map a filesystem. The init inherits the descriptors and attaches them in the
//! container's mount namespace with move_mount.

use crate::error::{Context, Error, Result};
use crate::rootfs::options;
use crate::sys;
use oci_spec::runtime::{LinuxIdMapping, Spec};
use rustix::mount::OpenTreeFlags;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

/// A detached, id-mapped copy of `mounts[index]`'s source.
pub struct IdmappedMount {
    pub index: usize,
    pub tree: OwnedFd,
}

pub fn prepare(spec: &Spec, bundle_dir: &Path, config_path: &Path) -> Result<Vec<IdmappedMount>> {
    let mut made = Vec::new();
    let mut namespaces: Vec<(String, OwnedFd)> = Vec::new();
    for (index, mount) in spec.mounts().iter().flatten().enumerate() {
        let field = |name: &str| format!("mounts[{index}].{name}");
        let (uids, gids) = match (mount.uid_mappings(), mount.gid_mappings()) {
            (None, None) => continue,
            (Some(uids), Some(gids)) if !uids.is_empty() && !gids.is_empty() => (uids, gids),
            _ => {
                return Err(Error::config(
                    config_path,
                    field("uidMappings"),
                    "an id-mapped mount needs both uidMappings and gidMappings, each non-empty",
                ));
            }
        };
        let opts = options::parse(mount.options().as_deref().unwrap_or_default());
        if !(opts.is_bind() || mount.typ().as_deref() == Some("bind")) {
            return Err(Error::config(
                config_path,
                field("type"),
                "only bind mounts can be id-mapped",
            ));
        }
        let source = mount.source().clone().unwrap_or_default();
        let source = bundle_dir.join(source);
        let recursive = opts.idmap_recursive || opts.flags & libc::MS_REC != 0;
        let key = format!("{}|{}", map_text(uids), map_text(gids));
        let userns = match namespaces.iter().position(|(k, _)| *k == key) {
            Some(at) => at,
            None => {
                let fd = user_namespace_with(uids, gids).context(|| {
                    format!(
                        "{}: make a user namespace for the mapping",
                        field("uidMappings")
                    )
                })?;
                namespaces.push((key, fd));
                namespaces.len() - 1
            }
        };
        let mut flags = OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC;
        if recursive {
            flags |= OpenTreeFlags::AT_RECURSIVE;
        }
        let tree = rustix::mount::open_tree(rustix::fs::CWD, &source, flags)
            .map_err(std::io::Error::from)
            .context(|| format!("{}: clone {}", field("source"), source.display()))?;
        sys::mount_setattr_idmap(tree.as_fd(), namespaces[userns].1.as_fd(), recursive).map_err(
            |e| {
                let why = if e.raw_os_error() == Some(libc::EINVAL) {
                    " (this filesystem or kernel does not support id-mapped mounts)"
                } else {
                    ""
                };
                Error::Sys {
                    what: format!("{}: id-map {}{why}", field("uidMappings"), source.display()),
                    source: e,
                }
            },
        )?;
        made.push(IdmappedMount { index, tree });
    }
    Ok(made)
}

fn map_text(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

/// A user namespace with the given maps, held by a descriptor: a short-lived child makes it and
/// waits until we have written its maps and opened its namespace.
fn user_namespace_with(
    uids: &[LinuxIdMapping],
    gids: &[LinuxIdMapping],
) -> std::io::Result<OwnedFd> {
    let (hold_read, hold_write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
    let pid = sys::clone_fork(libc::CLONE_NEWUSER)?;
    if pid == 0 {
        drop(hold_write);
        let mut byte = [0u8; 1];
        // Returns at end of file: the parent is done with us (or gone).
        let _ = rustix::io::read(&hold_read, &mut byte);
        sys::exit_now(0);
    }
    drop(hold_read);
    let opened = (|| {
        std::fs::write(format!("/proc/{pid}/uid_map"), map_text(uids))?;
        std::fs::write(format!("/proc/{pid}/gid_map"), map_text(gids))?;
        let ns = rustix::fs::open(
            format!("/proc/{pid}/ns/user"),
            rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )?;
        Ok(ns)
    })();
    drop(hold_write);
    let _ = sys::waitpid(pid);
    opened
}
