//! Docker's copy-up: the first time an empty volume is mounted into a container, what the
//! image has at the mount's destination is copied into it (owners, modes, times, xattrs).
//! The destination is resolved inside the container's root (`RESOLVE_IN_ROOT`: the image's
//! symlinks cannot lead out of it), and the copy goes through fds (`berth_image::tree`).

use crate::error::{Error, Result};
use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::io::Errno;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

fn open_dir(path: &Path, flags: OFlags) -> rustix::io::Result<OwnedFd> {
    rustix::fs::open(
        path,
        flags | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

fn is_empty(dir: &OwnedFd) -> rustix::io::Result<bool> {
    let mut entries = rustix::fs::Dir::read_from(dir)?;
    while let Some(entry) = entries.read() {
        let name = entry?.file_name().to_bytes().to_vec();
        if name != b"." && name != b".." {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Copies the image's `destination` (in `rootfs`) into volume `volume`'s `data_dir` if that
/// is empty. Nothing at the destination is nothing to copy; a file there is an error (for an
/// empty volume, as with dockerd). A copy that fails leaves the volume empty again.
pub fn copy_up(rootfs: &Path, destination: &str, volume: &str, data_dir: &Path) -> Result<()> {
    let what = || format!("copy the image's {destination} into volume {volume}");
    let target = open_dir(data_dir, OFlags::RDONLY).map_err(|e| Error::context(what(), e))?;
    if !is_empty(&target).map_err(|e| Error::context(what(), e))? {
        return Ok(());
    }
    let root = open_dir(rootfs, OFlags::PATH).map_err(|e| {
        Error::context(format!("open the container's root {}", rootfs.display()), e)
    })?;
    let relative = destination.trim_start_matches('/');
    let relative = if relative.is_empty() { "." } else { relative };
    let source = loop {
        match rustix::fs::openat2(
            &root,
            relative,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
        ) {
            Err(Errno::AGAIN) | Err(Errno::INTR) => continue,
            Err(Errno::NOENT) => return Ok(()),
            Err(Errno::NOTDIR) => {
                return Err(Error::invalid(format!(
                    "cannot mount volume over existing file, file exists {destination}"
                )));
            }
            Err(e) => {
                return Err(Error::context(
                    format!("open {destination} in the container"),
                    e,
                ));
            }
            Ok(fd) => break fd,
        }
    };
    if let Err(e) = berth_image::tree::copy_dir(source.as_fd(), target.as_fd()) {
        let _ = berth_image::tree::remove_contents(target.as_fd());
        return Err(Error::context(what(), e));
    }
    Ok(())
}
