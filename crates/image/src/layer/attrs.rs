//! An entry's owner, mode, times and xattrs: read from its tar headers, applied after the
//! object exists.

use std::ffi::{CStr, CString};
use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd};

use rustix::fs::{AtFlags, Gid, Mode, Timespec, Timestamps, Uid, XattrFlags};
use rustix::io::Errno;

use super::{EntryError, cstring};
use crate::fsutil::proc_path;

/// Owner, permissions, times and xattrs of an entry, with PAX overrides applied.
pub(super) struct Metadata {
    /// None: leave the owner to the extracting process.
    pub owner: Option<(Uid, Gid)>,
    pub mode: Mode,
    pub times: Timestamps,
    pub xattrs: Vec<(CString, Vec<u8>)>,
}

pub(super) fn metadata<R: Read>(item: &mut tar::Entry<'_, R>) -> Result<Metadata, EntryError> {
    let header = item.header();
    let field = |op| move |source| EntryError::Io { op, source };
    let uid = id(header.uid().map_err(field("reading the uid"))?)?;
    let gid = id(header.gid().map_err(field("reading the gid"))?)?;
    let mode = header.mode().map_err(field("reading the mode"))? & 0o7777;
    let mtime = header.mtime().map_err(field("reading the mtime"))?;
    let mut modified = Timespec {
        tv_sec: i64::try_from(mtime).unwrap_or(i64::MAX),
        tv_nsec: 0,
    };
    let mut accessed = header
        .as_gnu()
        .and_then(|gnu| gnu.atime().ok())
        .filter(|&t| t != 0)
        .map(|t| Timespec {
            tv_sec: i64::try_from(t).unwrap_or(i64::MAX),
            tv_nsec: 0,
        });
    let mut xattrs = Vec::new();
    if let Some(extensions) = item
        .pax_extensions()
        .map_err(field("reading the PAX header"))?
    {
        for extension in extensions {
            let extension = extension.map_err(field("reading the PAX header"))?;
            let key = extension.key_bytes();
            if key == b"mtime" {
                modified = pax_time(extension.value_bytes()).unwrap_or(modified);
            } else if key == b"atime" {
                accessed = pax_time(extension.value_bytes()).or(accessed);
            } else if let Some(name) = key.strip_prefix(b"SCHILY.xattr.") {
                // overlayfs reads its own trusted.overlay.* xattrs as instructions (opaque,
                // redirect, metacopy); only whiteout entries may produce them.
                if !name.starts_with(b"trusted.overlay.") {
                    xattrs.push((cstring(name)?, extension.value_bytes().to_vec()));
                }
            }
        }
    }
    Ok(Metadata {
        owner: Some((Uid::from_raw_unchecked(uid), Gid::from_raw_unchecked(gid))),
        mode: Mode::from_raw_mode(mode),
        times: Timestamps {
            last_access: accessed.unwrap_or(modified),
            last_modification: modified,
        },
        xattrs,
    })
}

/// A uid or gid that fits the kernel's type and is not the "unchanged" value -1.
pub(super) fn id(raw: u64) -> Result<u32, EntryError> {
    u32::try_from(raw)
        .ok()
        .filter(|&v| v != u32::MAX)
        .ok_or(EntryError::Sys {
            op: "uid/gid out of range",
            source: Errno::OVERFLOW,
        })
}

/// PAX times are decimal seconds with an optional fraction: `1700000000.123456789`.
fn pax_time(value: &[u8]) -> Option<Timespec> {
    let text = std::str::from_utf8(value).ok()?;
    let (secs, frac) = text.split_once('.').unwrap_or((text, ""));
    let tv_sec: i64 = secs.parse().ok()?;
    let digits: String = frac.chars().take(9).collect();
    let tv_nsec = if digits.is_empty() {
        0
    } else {
        format!("{digits:0<9}").parse().ok()?
    };
    Some(Timespec { tv_sec, tv_nsec })
}

/// Owner, mode, xattrs and (for non-directories) times, through an fd of the new object.
pub(super) fn apply_to_fd(
    fd: &impl AsFd,
    meta: &Metadata,
    with_times: bool,
) -> Result<(), EntryError> {
    if let Some((uid, gid)) = meta.owner {
        rustix::fs::fchown(fd, Some(uid), Some(gid))
            .map_err(EntryError::sys("setting the owner"))?;
    }
    // chown clears the setuid/setgid bits, so the mode comes after it.
    rustix::fs::fchmod(fd, meta.mode).map_err(EntryError::sys("setting the mode"))?;
    for (name, value) in &meta.xattrs {
        set_xattr(rustix::fs::fsetxattr(
            fd,
            name.as_c_str(),
            value,
            XattrFlags::empty(),
        ))?;
    }
    if with_times {
        rustix::fs::futimens(fd, &meta.times).map_err(EntryError::sys("setting the times"))?;
    }
    Ok(())
}

/// The same for objects that cannot be opened for this (symlinks, devices, fifos).
pub(super) fn apply_at(
    parent: BorrowedFd<'_>,
    name: &CStr,
    meta: &Metadata,
    with_mode: bool,
) -> Result<(), EntryError> {
    if let Some((uid, gid)) = meta.owner {
        rustix::fs::chownat(
            parent,
            name,
            Some(uid),
            Some(gid),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(EntryError::sys("setting the owner"))?;
    }
    if with_mode {
        // chmodat cannot refuse a symlink before fchmodat2 (6.6); the name was just made as
        // a node in a directory nobody else writes to.
        rustix::fs::chmodat(parent, name, meta.mode, AtFlags::empty())
            .map_err(EntryError::sys("setting the mode"))?;
    }
    let path = proc_path(parent, name);
    for (xattr, value) in &meta.xattrs {
        set_xattr(rustix::fs::lsetxattr(
            path.as_c_str(),
            xattr.as_c_str(),
            value,
            XattrFlags::empty(),
        ))?;
    }
    rustix::fs::utimensat(parent, name, &meta.times, AtFlags::SYMLINK_NOFOLLOW)
        .map_err(EntryError::sys("setting the times"))
}

/// A filesystem without xattr support cannot hold them; that is not the layer's fault.
fn set_xattr(result: Result<(), Errno>) -> Result<(), EntryError> {
    match result {
        Ok(()) | Err(Errno::NOTSUP) => Ok(()),
        Err(source) => Err(EntryError::Sys {
            op: "setting an xattr",
            source,
        }),
    }
}
