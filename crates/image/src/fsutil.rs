//! Directory-fd helpers that never follow symlinks, shared by layer unpacking and snapshots.

use std::ffi::{CStr, CString, OsStr};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

/// Resolution that stays under the starting dir and refuses every symlink on the way.
pub(crate) const BENEATH_NO_SYMLINKS: ResolveFlags = ResolveFlags::BENEATH
    .union(ResolveFlags::NO_SYMLINKS)
    .union(ResolveFlags::NO_MAGICLINKS);

/// Opens the directory `path` (relative, already cleaned) under `dir` without following any
/// symlink. `O_PATH` fds are enough as the dirfd of the *at calls.
pub(crate) fn open_dir_beneath(
    dir: BorrowedFd<'_>,
    path: &[u8],
    flags: OFlags,
) -> Result<OwnedFd, Errno> {
    let path: &OsStr = if path.is_empty() {
        OsStr::new(".")
    } else {
        OsStr::from_bytes(path)
    };
    rustix::fs::openat2(
        dir,
        path,
        flags | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
        BENEATH_NO_SYMLINKS,
    )
}

/// Removes `name` in `dir` and, if it is a directory, everything under it, never following a
/// symlink. A missing `name` is not an error.
pub(crate) fn remove_all_at(dir: BorrowedFd<'_>, name: &CStr) -> Result<(), Errno> {
    match rustix::fs::unlinkat(dir, name, AtFlags::empty()) {
        Ok(()) | Err(Errno::NOENT) => return Ok(()),
        Err(Errno::ISDIR) => {}
        Err(e) => return Err(e),
    }
    let child = open_dir_beneath(dir, name.to_bytes(), OFlags::RDONLY)?;
    clear_dir(child.as_fd())?;
    match rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR) {
        Ok(()) | Err(Errno::NOENT) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Removes everything inside the directory `dir` (opened for reading), keeping `dir` itself.
pub(crate) fn clear_dir(dir: BorrowedFd<'_>) -> Result<(), Errno> {
    for name in child_names(dir)? {
        remove_all_at(dir, &name)?;
    }
    Ok(())
}

/// The names in a directory, without `.` and `..`.
pub(crate) fn child_names(dir: BorrowedFd<'_>) -> Result<Vec<CString>, Errno> {
    let mut names = Vec::new();
    let mut entries = Dir::read_from(dir)?;
    while let Some(entry) = entries.read() {
        let entry = entry?;
        let name = entry.file_name();
        if name.to_bytes() != b"." && name.to_bytes() != b".." {
            names.push(name.to_owned());
        }
    }
    Ok(names)
}

/// The type of `name` in `dir`, not following a symlink; `None` if it does not exist.
pub(crate) fn file_type_at(dir: BorrowedFd<'_>, name: &CStr) -> Result<Option<FileType>, Errno> {
    match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(stat) => Ok(Some(FileType::from_raw_mode(stat.st_mode))),
        Err(Errno::NOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A path naming `name` inside the directory open as `dir`, for the calls that have no *at
/// form (l*xattr). The kernel resolves the `/proc/self/fd` magic link to that very directory.
pub(crate) fn proc_path(dir: BorrowedFd<'_>, name: &CStr) -> CString {
    use std::os::fd::AsRawFd;
    let mut path = format!("/proc/self/fd/{}/", dir.as_raw_fd()).into_bytes();
    path.extend_from_slice(name.to_bytes());
    // `name` came from a CStr and the prefix has no NUL, so this cannot fail; fall back to a
    // path that names nothing rather than panicking.
    CString::new(path).unwrap_or_default()
}

/// `prefix/name` of two relative paths (`name` alone when `prefix` is empty).
pub(crate) fn join(prefix: &[u8], name: &[u8]) -> Vec<u8> {
    if prefix.is_empty() {
        return name.to_vec();
    }
    let mut out = prefix.to_vec();
    out.push(b'/');
    out.extend_from_slice(name);
    out
}
