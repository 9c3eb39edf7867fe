//! Mounting the cgroup filesystem inside the container: the cgroup2 hierarchy on a unified host, and
//! on a v1 or hybrid host a tmpfs holding one mount per hierarchy, as runc lays it out. With a cgroup
//! namespace the filesystems are mounted afresh (they show the namespace's root); without one the
//! container's own cgroup directories are bind-mounted.

use super::options::MountOptions;
use super::resolve::{Create, open_in_root};
use crate::channel::InitFailure;
use crate::sys;
use berth_cgroups::Cgroup;
use rustix::fs::{Mode, OFlags};
use std::ffi::CString;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

/// One hierarchy as it is mounted into the container.
struct Hierarchy<'a> {
    mount_point: &'a Path,
    /// "cgroup" (v1) or "cgroup2".
    fstype: &'static str,
    /// v1: the controllers and name= options to mount ("cpu", "name=systemd").
    subsystems: String,
}

fn os(step: impl Into<String>) -> impl FnOnce(std::io::Error) -> InitFailure {
    let step = step.into();
    move |e| InitFailure::os(step, &e)
}

/// The host's hierarchies, as the runtime detected them for the container's cgroup.
fn hierarchies_of(cgroup: &Cgroup) -> Vec<Hierarchy<'_>> {
    let v1 = cgroup.hierarchies.v1.iter().map(|h| Hierarchy {
        mount_point: &h.mount_point,
        fstype: "cgroup",
        subsystems: h.controllers.join(","),
    });
    let unified = cgroup.hierarchies.unified.iter().map(|u| Hierarchy {
        mount_point: u,
        fstype: "cgroup2",
        subsystems: String::new(),
    });
    v1.chain(unified).collect()
}

pub fn mount(
    root: &OwnedFd,
    destination: &Path,
    typ: &str,
    opts: &MountOptions,
    cgroup_ns: bool,
    cgroup: &Cgroup,
) -> Result<(), InitFailure> {
    let hierarchies = hierarchies_of(cgroup);
    let flags = opts.flags & !(libc::MS_REMOUNT | libc::MS_BIND | libc::MS_REC);
    let unified_host = hierarchies
        .iter()
        .any(|h| h.fstype == "cgroup2" && h.mount_point == Path::new("/sys/fs/cgroup"));
    // The runtime knows the container's cgroup path; /proc/self/cgroup would only be right once
    // the runtime has finished moving us there, which may still be under way.
    let own = cgroup.path.as_path();
    let target = open_in_root(root, destination, Create::Directory)
        .map_err(|e| InitFailure::msg("destination", e.to_string()))?;
    if typ == "cgroup2" || unified_host {
        let unified = hierarchies.iter().find(|h| h.fstype == "cgroup2");
        let reopen = || {
            open_in_root(root, destination, Create::Nothing)
                .map_err(|e| InitFailure::msg("reopen", e.to_string()))
        };
        return mount_hierarchy(&target, reopen, unified, "cgroup2", flags, cgroup_ns, own);
    }
    let target_path = sys::fd_path(target.as_fd());
    sys::mount(
        Some(c"cgroup"),
        &target_path,
        Some(c"tmpfs"),
        libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
        Some(c"mode=755"),
    )
    .map_err(os("tmpfs for cgroup hierarchies"))?;
    // Our fresh tmpfs: nothing in it can be a symlink, so plain *at calls relative to it are safe.
    let tmpfs = open_in_root(root, destination, Create::Nothing)
        .map_err(|e| InitFailure::msg("reopen", e.to_string()))?;
    let tmpfs = rustix::fs::openat(
        &tmpfs,
        ".",
        OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| InitFailure::os("open cgroup tmpfs", &e.into()))?;
    for hierarchy in &hierarchies {
        let Some(name) = hierarchy.mount_point.file_name() else {
            continue;
        };
        let open_sub = || {
            rustix::fs::openat(
                &tmpfs,
                name,
                OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| InitFailure::os(format!("open {}", name.to_string_lossy()), &e.into()))
        };
        rustix::fs::mkdirat(&tmpfs, name, Mode::from_raw_mode(0o755))
            .map_err(|e| InitFailure::os(format!("mkdir {}", name.to_string_lossy()), &e.into()))?;
        mount_hierarchy(
            &open_sub()?,
            open_sub,
            Some(hierarchy),
            hierarchy.fstype,
            flags,
            cgroup_ns,
            own,
        )?;
        // Co-mounted controllers ("cpu,cpuacct") are also reachable under each name.
        let name = name.to_string_lossy();
        if name.contains(',') {
            for part in name.split(',') {
                let _ = rustix::fs::symlinkat(name.as_ref(), &tmpfs, part);
            }
        }
    }
    if flags & libc::MS_RDONLY != 0 {
        let tmpfs_mount = open_in_root(root, destination, Create::Nothing)
            .map_err(|e| InitFailure::msg("reopen", e.to_string()))?;
        sys::mount(
            None,
            &sys::fd_path(tmpfs_mount.as_fd()),
            None,
            libc::MS_REMOUNT | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC | libc::MS_RDONLY,
            Some(c"mode=755"),
        )
        .map_err(os("remount cgroup tmpfs read-only"))?;
    }
    Ok(())
}

/// Mounts one hierarchy on `target`; `reopen` gives the destination again once something is mounted on it.
fn mount_hierarchy(
    target: &OwnedFd,
    reopen: impl Fn() -> Result<OwnedFd, InitFailure>,
    hierarchy: Option<&Hierarchy>,
    fstype: &str,
    flags: libc::c_ulong,
    cgroup_ns: bool,
    own: &Path,
) -> Result<(), InitFailure> {
    let target_path = sys::fd_path(target.as_fd());
    let data = hierarchy
        .map(|h| h.subsystems.clone())
        .filter(|d| !d.is_empty());
    let data = data.map(|d| CString::new(d).unwrap_or_default());
    let fstype_c = CString::new(fstype).unwrap_or_default();
    if cgroup_ns {
        match sys::mount(
            Some(&fstype_c),
            &target_path,
            Some(&fstype_c),
            flags,
            data.as_deref(),
        ) {
            Ok(()) => return Ok(()),
            // Not permitted (a user namespace cannot mount v1 hierarchies): bind instead.
            Err(e) if matches!(e.raw_os_error(), Some(libc::EPERM) | Some(libc::EBUSY)) => {}
            Err(e) => {
                return Err(InitFailure::os(
                    format!(
                        "mount {fstype} {}",
                        data.as_deref()
                            .map(|d| d.to_string_lossy().into_owned())
                            .unwrap_or_default()
                    ),
                    &e,
                ));
            }
        }
    }
    let Some(hierarchy) = hierarchy else {
        return Err(InitFailure::msg(
            "mount cgroup2",
            "the host has no cgroup2 hierarchy to bind",
        ));
    };
    // The container's own cgroup in this hierarchy, or the hierarchy's root if it has none there.
    let own_dir = hierarchy.mount_point.join(own);
    let source = if own_dir.is_dir() {
        own_dir
    } else {
        hierarchy.mount_point.to_path_buf()
    };
    let source_c = sys::path_cstr(&source).map_err(|e| InitFailure::os("path", &e))?;
    sys::mount(
        Some(&source_c),
        &target_path,
        None,
        libc::MS_BIND | libc::MS_REC,
        None,
    )
    .map_err(os(format!("bind {}", source.display())))?;
    if flags != 0 {
        // The old descriptor names the directory under the bind; re-open to reach the bind itself.
        let bound = reopen()?;
        sys::mount(
            None,
            &sys::fd_path(bound.as_fd()),
            None,
            libc::MS_BIND | libc::MS_REMOUNT | flags,
            None,
        )
        .map_err(os(format!("remount {}", source.display())))?;
    }
    Ok(())
}
