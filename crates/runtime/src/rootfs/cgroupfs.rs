//! Mounting the cgroup filesystem inside the container: the cgroup2 hierarchy on a unified host, and
//! on a v1 or hybrid host a tmpfs holding one mount per hierarchy, as runc lays it out. With a cgroup
//! namespace the filesystems are mounted afresh (they show the namespace's root); without one the
//! container's own cgroup directories are bind-mounted.

use super::options::MountOptions;
use super::resolve::{open_in_root, Create};
use super::unescape_mountinfo;
use crate::channel::InitFailure;
use crate::sys;
use std::collections::BTreeSet;
use std::ffi::CString;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

struct Hierarchy {
    mount_point: PathBuf,
    /// "cgroup" (v1) or "cgroup2".
    fstype: String,
    /// v1: the controllers and name= options from the superblock ("cpu", "name=systemd").
    subsystems: Vec<String>,
}

fn os(step: impl Into<String>) -> impl FnOnce(std::io::Error) -> InitFailure {
    let step = step.into();
    move |e| InitFailure::os(step, &e)
}

fn host_hierarchies() -> Result<Vec<Hierarchy>, InitFailure> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").map_err(os("read /proc/self/mountinfo"))?;
    let mut found = Vec::new();
    for line in info.lines() {
        let Some((left, right)) = line.split_once(" - ") else { continue };
        let mut right = right.split(' ');
        let fstype = right.next().unwrap_or("");
        let _source = right.next();
        let super_options = right.next().unwrap_or("");
        if fstype != "cgroup" && fstype != "cgroup2" {
            continue;
        }
        let Some(mount_point) = left.split(' ').nth(4) else { continue };
        let subsystems = super_options
            .split(',')
            .filter(|o| !matches!(*o, "rw" | "ro") && !o.contains("release_agent") && (fstype == "cgroup"))
            .filter(|o| *o != "xattr" && *o != "noprefix" && *o != "clone_children" && *o != "cpuset_v2_mode")
            .map(str::to_string)
            .collect();
        found.push(Hierarchy {
            mount_point: unescape_mountinfo(mount_point),
            fstype: fstype.to_string(),
            subsystems,
        });
    }
    Ok(found)
}

/// This process's cgroup path in the hierarchy with these subsystems (v1) or in the unified one.
fn own_cgroup(hierarchy: &Hierarchy) -> Option<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let wanted: BTreeSet<&str> = hierarchy.subsystems.iter().map(String::as_str).collect();
    text.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let have: BTreeSet<&str> = controllers.split(',').filter(|c| !c.is_empty()).collect();
        let matches = if hierarchy.fstype == "cgroup2" { controllers.is_empty() } else { have == wanted };
        matches.then(|| PathBuf::from(path.trim_start_matches('/')))
    })
}

pub fn mount(root: &OwnedFd, destination: &Path, typ: &str, opts: &MountOptions, cgroup_ns: bool) -> Result<(), InitFailure> {
    let hierarchies = host_hierarchies()?;
    let flags = opts.flags & !(libc::MS_REMOUNT | libc::MS_BIND | libc::MS_REC);
    let unified_host = hierarchies.iter().any(|h| h.fstype == "cgroup2" && h.mount_point == Path::new("/sys/fs/cgroup"));
    if typ == "cgroup2" || unified_host {
        let unified = hierarchies.iter().find(|h| h.fstype == "cgroup2");
        return mount_hierarchy(root, destination, unified, "cgroup2", flags, cgroup_ns);
    }
    let target = open_in_root(root, destination, Create::Directory).map_err(|e| InitFailure::msg("destination", e.to_string()))?;
    sys::mount(Some(c"cgroup"), &sys::fd_path(target.as_fd()), Some(c"tmpfs"), libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC, Some(c"mode=755"))
        .map_err(os("tmpfs for cgroup hierarchies"))?;
    for hierarchy in &hierarchies {
        let Some(name) = hierarchy.mount_point.file_name() else { continue };
        mount_hierarchy(root, &destination.join(name), Some(hierarchy), &hierarchy.fstype, flags, cgroup_ns)?;
        // Co-mounted controllers ("cpu,cpuacct") are also reachable under each name.
        let name = name.to_string_lossy();
        if name.contains(',') {
            let dir = open_in_root(root, destination, Create::Nothing).map_err(|e| InitFailure::msg("reopen", e.to_string()))?;
            let dir = rustix::fs::openat(&dir, ".", rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC, rustix::fs::Mode::empty())
                .map_err(|e| InitFailure::os("open cgroup tmpfs", &e.into()))?;
            for part in name.split(',') {
                let _ = rustix::fs::symlinkat(name.as_ref(), &dir, part);
            }
        }
    }
    if flags & libc::MS_RDONLY != 0 {
        let fd = open_in_root(root, destination, Create::Nothing).map_err(|e| InitFailure::msg("reopen", e.to_string()))?;
        sys::mount(None, &sys::fd_path(fd.as_fd()), None, libc::MS_REMOUNT | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC | libc::MS_RDONLY, Some(c"mode=755"))
            .map_err(os("remount cgroup tmpfs read-only"))?;
    }
    Ok(())
}

fn mount_hierarchy(
    root: &OwnedFd,
    destination: &Path,
    hierarchy: Option<&Hierarchy>,
    fstype: &str,
    flags: libc::c_ulong,
    cgroup_ns: bool,
) -> Result<(), InitFailure> {
    let target = open_in_root(root, destination, Create::Directory)
        .map_err(|e| InitFailure::msg(destination.display().to_string(), e.to_string()))?;
    let target_path = sys::fd_path(target.as_fd());
    let data = hierarchy.map(|h| h.subsystems.join(",")).filter(|d| !d.is_empty());
    let data = data.map(|d| CString::new(d).unwrap_or_default());
    let fstype_c = CString::new(fstype).unwrap_or_default();
    if cgroup_ns {
        match sys::mount(Some(&fstype_c), &target_path, Some(&fstype_c), flags, data.as_deref()) {
            Ok(()) => return Ok(()),
            // Not permitted (a user namespace cannot mount v1 hierarchies): bind instead.
            Err(e) if matches!(e.raw_os_error(), Some(libc::EPERM) | Some(libc::EBUSY)) => {}
            Err(e) => return Err(InitFailure::os(format!("mount {fstype} {}", data.as_deref().map(|d| d.to_string_lossy().into_owned()).unwrap_or_default()), &e)),
        }
    }
    let Some(hierarchy) = hierarchy else {
        return Err(InitFailure::msg("mount cgroup2", "the host has no cgroup2 hierarchy to bind"));
    };
    let mut source = hierarchy.mount_point.clone();
    if let Some(own) = own_cgroup(hierarchy) {
        if source.join(&own).is_dir() {
            source = source.join(own);
        }
    }
    let source_c = sys::path_cstr(&source).map_err(|e| InitFailure::os("path", &e))?;
    sys::mount(Some(&source_c), &target_path, None, libc::MS_BIND | libc::MS_REC, None)
        .map_err(os(format!("bind {}", source.display())))?;
    if flags != 0 {
        // The old descriptor names the directory under the bind; re-open to reach the bind itself.
        let bound = open_in_root(root, destination, Create::Nothing)
            .map_err(|e| InitFailure::msg(destination.display().to_string(), e.to_string()))?;
        sys::mount(None, &sys::fd_path(bound.as_fd()), None, libc::MS_BIND | libc::MS_REMOUNT | flags, None)
            .map_err(os(format!("remount {}", source.display())))?;
    }
    Ok(())
}
