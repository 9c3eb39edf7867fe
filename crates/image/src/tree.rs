//! Whole directory trees copied and measured through file descriptors, never following a
//! symlink: the copying snapshotter's layer copies, and the engine's volume copy-up (image
//! content into a new volume), where the source is a container's root made from an image and
//! the destination a directory a running container may also write to.
//!
//! Every object is reached from the fd of its parent by a single name; directories are
//! entered with `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`, files are opened `O_NOFOLLOW`, and
//! the calls without an fd form (xattrs, chmod of a node) go through `/proc/self/fd`.

use std::collections::HashMap;
use std::ffi::{CStr, OsStr};
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use rustix::fs::{AtFlags, FileType, Mode, OFlags, Stat, Timespec, Timestamps, XattrFlags};
use rustix::io::Errno;

use crate::fsutil::{child_names, open_dir_beneath, proc_path};

/// What failed, on which path (relative to the tree's top), and why.
#[derive(Debug, thiserror::Error)]
#[error("{op} {}: {source}", display_path(.path))]
pub struct TreeError {
    pub op: &'static str,
    pub path: PathBuf,
    pub source: Errno,
}

fn display_path(path: &std::path::Path) -> String {
    if path.as_os_str().is_empty() {
        ".".into()
    } else {
        path.display().to_string()
    }
}

/// Copies everything inside the directory `src` into the directory `dst`, which must be
/// empty, then gives `dst` the owner, mode, xattrs and times of `src`. Owners, modes, times,
/// xattrs (where the target filesystem has them), device numbers and hard links are kept;
/// symlinks are copied as links. Both fds must be directories opened for reading.
pub fn copy_dir(src: BorrowedFd<'_>, dst: BorrowedFd<'_>) -> Result<(), TreeError> {
    let mut copy = Copy {
        dst_root: dst,
        links: HashMap::new(),
        path: Vec::new(),
    };
    copy.contents(src, dst)?;
    let stat = rustix::fs::fstat(src).map_err(|e| copy.err("stat", e))?;
    copy.apply_to_fd(src, dst, &stat)
}

/// Removes everything inside the directory `dir` (opened for reading), keeping `dir`: what a
/// copy that failed half-way leaves.
pub fn remove_contents(dir: BorrowedFd<'_>) -> Result<(), TreeError> {
    crate::fsutil::clear_dir(dir).map_err(|source| TreeError {
        op: "emptying",
        path: PathBuf::new(),
        source,
    })
}

/// The bytes of everything in `dir` that is not a directory, each hard-linked file once (the
/// apparent sizes, as dockerd reports a volume's size). `dir` must be opened for reading.
pub fn apparent_size(dir: BorrowedFd<'_>) -> Result<u64, TreeError> {
    let mut seen = std::collections::HashSet::new();
    let mut path = Vec::new();
    size_of(dir, &mut path, &mut seen)
}

fn size_of(
    dir: BorrowedFd<'_>,
    path: &mut Vec<u8>,
    seen: &mut std::collections::HashSet<(u64, u64)>,
) -> Result<u64, TreeError> {
    let err = |op, path: &[u8], source| TreeError {
        op,
        path: PathBuf::from(OsStr::from_bytes(path)),
        source,
    };
    let mut total = 0;
    for name in child_names(dir).map_err(|e| err("listing", path, e))? {
        let len = push(path, &name);
        let stat = match rustix::fs::statat(dir, &name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) => stat,
            // Removed while we walked: it no longer takes room.
            Err(Errno::NOENT) => {
                path.truncate(len);
                continue;
            }
            Err(e) => return Err(err("stat", path, e)),
        };
        if FileType::from_raw_mode(stat.st_mode) == FileType::Directory {
            match open_dir_beneath(dir, name.to_bytes(), OFlags::RDONLY) {
                Ok(child) => total += size_of(child.as_fd(), path, seen)?,
                Err(Errno::NOENT) | Err(Errno::NOTDIR) | Err(Errno::LOOP) => {}
                Err(e) => return Err(err("opening", path, e)),
            }
        } else if stat.st_nlink <= 1 || seen.insert((stat.st_dev, stat.st_ino)) {
            total += u64::try_from(stat.st_size).unwrap_or(0);
        }
        path.truncate(len);
    }
    Ok(total)
}

/// Appends `/name` (or `name` at the top) to `path`; returns the length to truncate back to.
fn push(path: &mut Vec<u8>, name: &CStr) -> usize {
    let len = path.len();
    if !path.is_empty() {
        path.push(b'/');
    }
    path.extend_from_slice(name.to_bytes());
    len
}

struct Copy<'a> {
    dst_root: BorrowedFd<'a>,
    /// (dev, ino) of a source file with several links → where its first copy is, relative to
    /// `dst_root`.
    links: HashMap<(u64, u64), Vec<u8>>,
    /// The entry being copied, relative to the tops of both trees.
    path: Vec<u8>,
}

impl Copy<'_> {
    fn err(&self, op: &'static str, source: Errno) -> TreeError {
        TreeError {
            op,
            path: PathBuf::from(OsStr::from_bytes(&self.path)),
            source,
        }
    }

    fn contents(&mut self, src: BorrowedFd<'_>, dst: BorrowedFd<'_>) -> Result<(), TreeError> {
        for name in child_names(src).map_err(|e| self.err("listing", e))? {
            let len = push(&mut self.path, &name);
            self.entry(src, dst, &name)?;
            self.path.truncate(len);
        }
        Ok(())
    }

    fn entry(
        &mut self,
        src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
        name: &CStr,
    ) -> Result<(), TreeError> {
        let stat = rustix::fs::statat(src, name, AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| self.err("stat", e))?;
        match FileType::from_raw_mode(stat.st_mode) {
            FileType::Directory => {
                let from = open_dir_beneath(src, name.to_bytes(), OFlags::RDONLY)
                    .map_err(|e| self.err("opening", e))?;
                rustix::fs::mkdirat(dst, name, Mode::from_raw_mode(0o700))
                    .map_err(|e| self.err("creating the directory", e))?;
                let to = open_dir_beneath(dst, name.to_bytes(), OFlags::RDONLY)
                    .map_err(|e| self.err("opening the new directory", e))?;
                self.contents(from.as_fd(), to.as_fd())?;
                // Times last: filling the directory changed its mtime.
                self.apply_to_fd(from.as_fd(), to.as_fd(), &stat)
            }
            FileType::RegularFile => {
                if stat.st_nlink > 1
                    && let Some(first) = self.links.get(&(stat.st_dev, stat.st_ino)).cloned()
                {
                    return self.hard_link(&first, dst, name);
                }
                self.file(src, dst, name, &stat)?;
                if stat.st_nlink > 1 {
                    self.links
                        .insert((stat.st_dev, stat.st_ino), self.path.clone());
                }
                Ok(())
            }
            FileType::Symlink => {
                let target = rustix::fs::readlinkat(src, name, Vec::new())
                    .map_err(|e| self.err("reading the symlink", e))?;
                rustix::fs::symlinkat(target.as_c_str(), dst, name)
                    .map_err(|e| self.err("creating the symlink", e))?;
                self.apply_at(src, dst, name, &stat, false)
            }
            kind => {
                rustix::fs::mknodat(dst, name, kind, Mode::from_raw_mode(0o600), stat.st_rdev)
                    .map_err(|e| self.err("creating the node", e))?;
                self.apply_at(src, dst, name, &stat, true)
            }
        }
    }

    fn file(
        &self,
        src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
        name: &CStr,
        stat: &Stat,
    ) -> Result<(), TreeError> {
        // O_NONBLOCK: should the name have become a fifo since the stat, the open must not hang.
        let from = rustix::fs::openat(
            src,
            name,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NOCTTY | OFlags::NONBLOCK | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| self.err("opening", e))?;
        let opened = rustix::fs::fstat(&from).map_err(|e| self.err("stat", e))?;
        if FileType::from_raw_mode(opened.st_mode) != FileType::RegularFile
            || opened.st_ino != stat.st_ino
        {
            return Err(self.err("opening", Errno::AGAIN));
        }
        let to = rustix::fs::openat(
            dst,
            name,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .map_err(|e| self.err("creating", e))?;
        let (mut from, mut to) = (File::from(from), File::from(to));
        std::io::copy(&mut from, &mut to)
            .map_err(|e| self.err("copying", Errno::from_io_error(&e).unwrap_or(Errno::IO)))?;
        self.apply_to_fd(from.as_fd(), to.as_fd(), stat)
    }

    fn hard_link(&self, first: &[u8], dst: BorrowedFd<'_>, name: &CStr) -> Result<(), TreeError> {
        let (parent, base) = match first.iter().rposition(|&b| b == b'/') {
            Some(i) => (&first[..i], &first[i + 1..]),
            None => (&first[..0], first),
        };
        let parent = open_dir_beneath(self.dst_root, parent, OFlags::PATH)
            .map_err(|e| self.err("opening the first link's directory", e))?;
        rustix::fs::linkat(
            &parent,
            OsStr::from_bytes(base),
            dst,
            name,
            AtFlags::empty(),
        )
        .map_err(|e| self.err("hard-linking", e))
    }

    /// Owner, mode, xattrs and times of `stat` (the object open as `from`) onto `to`.
    fn apply_to_fd(
        &self,
        from: BorrowedFd<'_>,
        to: BorrowedFd<'_>,
        stat: &Stat,
    ) -> Result<(), TreeError> {
        rustix::fs::fchown(to, Some(uid(stat)), Some(gid(stat)))
            .map_err(|e| self.err("setting the owner of", e))?;
        // After chown, which clears setuid/setgid.
        rustix::fs::fchmod(to, Mode::from_raw_mode(stat.st_mode & 0o7777))
            .map_err(|e| self.err("setting the mode of", e))?;
        self.xattrs(Obj::Fd(from), Obj::Fd(to))?;
        rustix::fs::futimens(to, &times(stat)).map_err(|e| self.err("setting the times of", e))
    }

    /// The same for a symlink or a node, by name in its directory.
    fn apply_at(
        &self,
        src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
        name: &CStr,
        stat: &Stat,
        with_mode: bool,
    ) -> Result<(), TreeError> {
        rustix::fs::chownat(
            dst,
            name,
            Some(uid(stat)),
            Some(gid(stat)),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(|e| self.err("setting the owner of", e))?;
        if with_mode {
            self.chmod_node(dst, name, stat)?;
        }
        let (from, to) = (proc_path(src, name), proc_path(dst, name));
        self.xattrs(Obj::Path(&from), Obj::Path(&to))?;
        rustix::fs::utimensat(dst, name, &times(stat), AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| self.err("setting the times of", e))
    }

    /// chmod of a device, fifo or socket just made, through an `O_PATH` fd of it: chmodat
    /// would follow a symlink put in its place.
    fn chmod_node(&self, dir: BorrowedFd<'_>, name: &CStr, stat: &Stat) -> Result<(), TreeError> {
        let node: OwnedFd = rustix::fs::openat(
            dir,
            name,
            OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| self.err("opening the new node", e))?;
        let made = rustix::fs::fstat(&node).map_err(|e| self.err("stat", e))?;
        if FileType::from_raw_mode(made.st_mode) == FileType::Symlink {
            return Err(self.err("setting the mode of", Errno::LOOP));
        }
        // The magic link of an O_PATH fd is the node itself.
        let path = format!("/proc/self/fd/{}", node.as_raw_fd());
        rustix::fs::chmod(path.as_str(), Mode::from_raw_mode(stat.st_mode & 0o7777))
            .map_err(|e| self.err("setting the mode of", e))
    }

    fn xattrs(&self, from: Obj<'_>, to: Obj<'_>) -> Result<(), TreeError> {
        let size = match from.list(&mut []) {
            Ok(0) | Err(Errno::NOTSUP) => return Ok(()),
            Ok(size) => size,
            Err(e) => return Err(self.err("listing the xattrs of", e)),
        };
        let mut names = vec![0u8; size];
        let len = from
            .list(&mut names)
            .map_err(|e| self.err("listing the xattrs of", e))?;
        for xattr in names[..len].split(|&b| b == 0).filter(|n| !n.is_empty()) {
            let xattr = OsStr::from_bytes(xattr);
            let value_len = match from.get(xattr, &mut []) {
                Ok(n) => n,
                // Listed but gone, or not readable here.
                Err(Errno::NODATA) | Err(Errno::NOTSUP) => continue,
                Err(e) => return Err(self.err("reading an xattr of", e)),
            };
            let mut value = vec![0u8; value_len];
            let n = from
                .get(xattr, &mut value)
                .map_err(|e| self.err("reading an xattr of", e))?;
            match to.set(xattr, &value[..n]) {
                // A filesystem without (these) xattrs cannot hold them; the copy goes on.
                Ok(()) | Err(Errno::NOTSUP) => {}
                Err(e) => return Err(self.err("setting an xattr of", e)),
            }
        }
        Ok(())
    }
}

/// An object whose xattrs are read or written: through its fd, or by a `/proc/self/fd`
/// path that names it without following it (symlinks and nodes cannot be opened for this).
#[derive(Clone, Copy)]
enum Obj<'a> {
    Fd(BorrowedFd<'a>),
    Path(&'a CStr),
}

impl Obj<'_> {
    /// With an empty buffer: the size the list needs.
    fn list(self, buf: &mut [u8]) -> Result<usize, Errno> {
        match (self, buf.is_empty()) {
            (Obj::Fd(fd), true) => rustix::fs::flistxattr_query(fd),
            (Obj::Fd(fd), false) => rustix::fs::flistxattr(fd, buf),
            (Obj::Path(p), true) => rustix::fs::llistxattr_query(p),
            (Obj::Path(p), false) => rustix::fs::llistxattr(p, buf),
        }
    }

    /// With an empty buffer: the size the value needs.
    fn get(self, name: &OsStr, buf: &mut [u8]) -> Result<usize, Errno> {
        match (self, buf.is_empty()) {
            (Obj::Fd(fd), true) => rustix::fs::fgetxattr_query(fd, name),
            (Obj::Fd(fd), false) => rustix::fs::fgetxattr(fd, name, buf),
            (Obj::Path(p), true) => rustix::fs::lgetxattr_query(p, name),
            (Obj::Path(p), false) => rustix::fs::lgetxattr(p, name, buf),
        }
    }

    fn set(self, name: &OsStr, value: &[u8]) -> Result<(), Errno> {
        match self {
            Obj::Fd(fd) => rustix::fs::fsetxattr(fd, name, value, XattrFlags::empty()),
            Obj::Path(p) => rustix::fs::lsetxattr(p, name, value, XattrFlags::empty()),
        }
    }
}

fn uid(stat: &Stat) -> rustix::fs::Uid {
    rustix::fs::Uid::from_raw_unchecked(stat.st_uid)
}

fn gid(stat: &Stat) -> rustix::fs::Gid {
    rustix::fs::Gid::from_raw_unchecked(stat.st_gid)
}

fn times(stat: &Stat) -> Timestamps {
    Timestamps {
        last_access: Timespec {
            tv_sec: stat.st_atime,
            tv_nsec: stat.st_atime_nsec as _,
        },
        last_modification: Timespec {
            tv_sec: stat.st_mtime,
            tv_nsec: stat.st_mtime_nsec as _,
        },
    }
}

#[cfg(test)]
mod tests;
