//! Paths inside the container's rootfs, resolved as if the rootfs were `/`: an image's symlinks
//! (`/etc/passwd -> /../../host/file`, absolute links) never lead outside it.

use crate::error::{Error, Result};
use rustix::fs::{Mode, OFlags, ResolveFlags};
use std::fs::File;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::path::{Component, Path};

const IN_ROOT: ResolveFlags = ResolveFlags::IN_ROOT.union(ResolveFlags::NO_MAGICLINKS);

pub(crate) fn open_root(rootfs: &Path) -> Result<OwnedFd> {
    rustix::fs::open(
        rootfs,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| {
        Error::context(
            format!("open the container's rootfs {}", rootfs.display()),
            e,
        )
    })
}

pub(crate) fn open_at(root: &OwnedFd, path: &Path, flags: OFlags) -> rustix::io::Result<OwnedFd> {
    let relative = path.strip_prefix("/").unwrap_or(path);
    let relative = if relative.as_os_str().is_empty() {
        Path::new(".")
    } else {
        relative
    };
    loop {
        match rustix::fs::openat2(
            root,
            relative,
            flags | OFlags::CLOEXEC,
            Mode::empty(),
            IN_ROOT,
        ) {
            Err(rustix::io::Errno::AGAIN) | Err(rustix::io::Errno::INTR) => continue,
            other => return other,
        }
    }
}

/// The contents of the regular file at `path` in the rootfs; None when it does not exist.
pub fn read_file(rootfs: &Path, path: &str) -> Result<Option<String>> {
    let root = open_root(rootfs)?;
    let fd = match open_at(&root, Path::new(path), OFlags::RDONLY | OFlags::NOFOLLOW) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT) | Err(rustix::io::Errno::LOOP) => return Ok(None),
        Err(e) => return Err(Error::context(format!("open {path} in the container"), e)),
    };
    let mut file = File::from(fd);
    let meta = file
        .metadata()
        .map_err(|e| Error::context(format!("stat {path} in the container"), e))?;
    if !meta.is_file() {
        return Ok(None);
    }
    let mut text = String::new();
    // Bounded: a huge or endless file in an image must not exhaust the daemon.
    (&mut file)
        .take(16 << 20)
        .read_to_string(&mut text)
        .map_err(|e| Error::context(format!("read {path} in the container"), e))?;
    Ok(Some(text))
}

/// `mkdir -p` of the absolute `path` inside the rootfs; new directories are 0755 and owned by
/// root, as dockerd makes WORKDIR. An existing non-directory is an error.
pub fn create_dir_all(rootfs: &Path, path: &str) -> Result<()> {
    let root = open_root(rootfs)?;
    let mut so_far = std::path::PathBuf::from("/");
    for component in Path::new(path).components() {
        let name = match component {
            Component::Normal(name) => name,
            Component::ParentDir => {
                so_far.pop();
                continue;
            }
            _ => continue,
        };
        let parent = open_at(&root, &so_far, OFlags::PATH | OFlags::DIRECTORY).map_err(|e| {
            Error::context(format!("open {} in the container", so_far.display()), e)
        })?;
        so_far.push(name);
        let opened = match open_at(&root, &so_far, OFlags::PATH) {
            Err(rustix::io::Errno::NOENT) => {
                match rustix::fs::mkdirat(&parent, name, Mode::from_raw_mode(0o755)) {
                    Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                    Err(e) => {
                        return Err(Error::context(
                            format!("create {} in the container", so_far.display()),
                            e,
                        ));
                    }
                }
                open_at(&root, &so_far, OFlags::PATH)
            }
            other => other,
        };
        let fd = opened.map_err(|e| {
            Error::context(format!("open {} in the container", so_far.display()), e)
        })?;
        let stat = rustix::fs::fstat(&fd).map_err(|e| {
            Error::context(format!("stat {} in the container", so_far.display()), e)
        })?;
        if rustix::fs::FileType::from_raw_mode(stat.st_mode) != rustix::fs::FileType::Directory {
            return Err(Error::invalid(format!(
                "Cannot mkdir: {} is not a directory",
                so_far.display()
            )));
        }
    }
    Ok(())
}
