//! Protection of the runtime binary against being overwritten from inside a container (the class of
//! CVE-2019-5736): before making a container, the runtime re-executes itself from a file that can never
//! be written, so /proc/<init>/exe leads nowhere writable.
//!
//! First choice, as crun does: a detached, read-only clone of the mount holding the binary
//! (open_tree + mount_setattr), which copies nothing. We clone the binary's directory rather than the
//! file, so /proc/<pid>/exe never names the clone's root and mount_setattr through it cannot make the
//! clone writable again. Fallback (no mount API, or no privilege for it): a sealed memfd copy.

use crate::error::Result;
use crate::sys;
use rustix::fs::{Mode, OFlags};
use std::ffi::{CString, OsStr};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::path::Path;

const SEALS: libc::c_int =
    libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;

fn open_own_exe() -> io::Result<OwnedFd> {
    rustix::fs::open(
        "/proc/self/exe",
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(io::Error::from)
}

/// True when the running executable cannot be written: a read-only mount or a sealed memfd.
pub fn is_protected() -> bool {
    let Ok(exe) = open_own_exe() else {
        return false;
    };
    if sys::get_seals(exe.as_fd()).is_ok_and(|seals| seals & SEALS == SEALS) {
        return true;
    }
    rustix::fs::fstatvfs(&exe)
        .is_ok_and(|vfs| vfs.f_flag.contains(rustix::fs::StatVfsMountFlags::RDONLY))
}

/// Re-executes the current command from a protected copy of the binary; returns only if already protected.
pub fn ensure_protected() -> Result<()> {
    if is_protected() {
        return Ok(());
    }
    let argv = c_strings(std::env::args_os().map(|a| a.into_vec()));
    let envp = c_strings(std::env::vars_os().map(|(k, v)| {
        let mut kv = k.into_vec();
        kv.push(b'=');
        kv.extend(v.into_vec());
        kv
    }));
    let read_only_err = match read_only_clone() {
        // Only returns on failure; fall back to the copy then.
        Ok(exe) => sys::fexecve(exe.as_fd(), &argv, &envp),
        Err(e) => e,
    };
    let memfd = sealed_copy().map_err(|e| crate::error::Error::Sys {
        what: format!("protect the runtime binary (read-only clone: {read_only_err}; sealed copy)"),
        source: e,
    })?;
    let err = sys::fexecve(memfd.as_fd(), &argv, &envp);
    Err(crate::error::Error::Sys {
        what: "re-execute from the sealed runtime copy".into(),
        source: err,
    })
}

fn c_strings(items: impl Iterator<Item = Vec<u8>>) -> Vec<CString> {
    items
        .map(|bytes| CString::new(bytes).unwrap_or_default())
        .collect()
}

/// An O_PATH descriptor of our binary inside a detached read-only clone of its directory's mount.
fn read_only_clone() -> io::Result<OwnedFd> {
    let path = std::fs::read_link("/proc/self/exe")?;
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "odd executable path",
        ));
    };
    let exe = read_only_clone_of(dir, name)?;
    // The path was read by name: make sure it still names the file we are running.
    let (ours, theirs) = (
        rustix::fs::fstat(open_own_exe()?)?,
        rustix::fs::fstat(&exe)?,
    );
    if (ours.st_dev, ours.st_ino) != (theirs.st_dev, theirs.st_ino) {
        return Err(io::Error::other("the binary was replaced while starting"));
    }
    Ok(exe)
}

/// An O_PATH descriptor of `dir/name` inside a detached, read-only (nosuid, nodev) clone of
/// `dir`'s mount. A program executed through `/proc/self/fd/N` of it runs from a file nobody can
/// write, and [`is_protected`] is true in it: berthd starts every shim that way, so the shim need
/// not re-execute itself first.
pub fn read_only_clone_of(dir: &Path, name: &OsStr) -> io::Result<OwnedFd> {
    let tree = rustix::mount::open_tree(
        rustix::fs::CWD,
        dir,
        rustix::mount::OpenTreeFlags::OPEN_TREE_CLONE
            | rustix::mount::OpenTreeFlags::OPEN_TREE_CLOEXEC,
    )?;
    sys::mount_setattr_fd(
        tree.as_fd(),
        sys::MOUNT_ATTR_RDONLY | sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV,
    )?;
    rustix::fs::openat(
        &tree,
        name,
        OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(io::Error::from)
}

fn sealed_copy() -> io::Result<OwnedFd> {
    let exe = std::fs::File::open("/proc/self/exe")?;
    let len = exe.metadata()?.len() as usize;
    let memfd = sys::memfd_create(
        c"berth-runtime",
        libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING,
    )?;
    sys::sendfile_all(memfd.as_fd(), exe.as_fd(), len)?;
    sys::add_seals(memfd.as_fd(), SEALS)?;
    Ok(memfd)
}
