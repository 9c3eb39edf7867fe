//! Applying one tar entry at a time under the target directory's fd.

use std::collections::HashSet;
use std::ffi::CStr;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::{AtFlags, FileType, Gid, Mode, OFlags, Timestamps, Uid, XattrFlags};
use rustix::io::Errno;
use tar::EntryType;

use super::attrs::{apply_at, apply_to_fd, id, metadata};
use super::path::{self, EntryPath};
use super::{EntryError, ExtractOptions, Owner, Whiteouts, cstring, display};
use crate::fsutil::{self, child_names, file_type_at, join, open_dir_beneath, remove_all_at};

const WHITEOUT_PREFIX: &[u8] = b".wh.";
const OPAQUE_MARKER: &[u8] = b".wh..opq";
const OPAQUE_XATTR: &str = "trusted.overlay.opaque";

pub(super) struct Unpacker<'r> {
    root: BorrowedFd<'r>,
    options: &'r ExtractOptions,
    /// Directory times are set last: creating entries inside a directory changes its mtime.
    dir_times: Vec<(EntryPath, Timestamps)>,
    /// Paths this layer made (with their ancestors); an opaque dir keeps only these.
    created: HashSet<Vec<u8>>,
}

impl<'r> Unpacker<'r> {
    pub fn new(root: BorrowedFd<'r>, options: &'r ExtractOptions) -> Self {
        Unpacker {
            root,
            options,
            dir_times: Vec::new(),
            created: HashSet::new(),
        }
    }

    pub fn apply<R: Read>(&mut self, item: &mut tar::Entry<'_, R>) -> Result<(), EntryError> {
        let kind = item.header().entry_type();
        if kind == EntryType::XGlobalHeader {
            return Ok(());
        }
        let raw_path = self.rebased(&item.path_bytes());
        let path = path::clean(&raw_path)?;
        // Image tools and docker cp write relative names; an absolute one is crafted or broken.
        // "/" alone (the root's own entry) is harmless.
        if raw_path.starts_with(b"/") && !path.is_root() && !self.options.absolute_names {
            return Err(EntryError::AbsolutePath);
        }
        if self.options.whiteouts != Whiteouts::Literal
            && let Some(hidden) = path.name.as_bytes().strip_prefix(WHITEOUT_PREFIX)
        {
            return self.whiteout(&path, hidden, item.header());
        }
        let mut meta = metadata(item)?;
        meta.owner = match self.options.owner {
            Owner::FromArchive => meta.owner,
            Owner::Fixed { uid, gid } => {
                Some((Uid::from_raw_unchecked(uid), Gid::from_raw_unchecked(gid)))
            }
            Owner::Caller => None,
        };
        if path.is_root() {
            if !kind.is_dir() {
                return Err(EntryError::ReplacesRoot {
                    kind: kind_name(kind),
                });
            }
            if !self.options.root_metadata {
                return Ok(());
            }
            let dir = open_dir_beneath(self.root, b"", OFlags::RDONLY)
                .map_err(EntryError::sys("opening the target directory"))?;
            apply_to_fd(&dir, &meta, false)?;
            self.dir_times.push((path, meta.times));
            return Ok(());
        }
        if self.options.whiteouts == Whiteouts::Apply {
            self.remember(&path);
        }
        let parent = self.open_parent(&path.parent)?;
        let parent = parent.as_fd();
        match kind {
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                self.make_room(parent, &path, false)?;
                let fd = rustix::fs::openat(
                    parent,
                    &path.name,
                    OFlags::WRONLY
                        | OFlags::CREATE
                        | OFlags::EXCL
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o600),
                )
                .map_err(EntryError::sys("creating the file"))?;
                let mut file = File::from(fd);
                let expected = item.size();
                let copied = io::copy(item, &mut file).map_err(|source| EntryError::Io {
                    op: "writing the file's data",
                    source,
                })?;
                // The tar reader ends an entry quietly at the end of the stream.
                if copied != expected {
                    return Err(EntryError::Truncated { expected, copied });
                }
                // After the data: a write drops security.capability and the setuid bits.
                apply_to_fd(&file, &meta, true)
            }
            EntryType::Directory => {
                if !self.make_room(parent, &path, true)? {
                    rustix::fs::mkdirat(parent, &path.name, Mode::from_raw_mode(0o700))
                        .map_err(EntryError::sys("creating the directory"))?;
                }
                let dir = open_dir_beneath(parent, path.name.as_bytes(), OFlags::RDONLY)
                    .map_err(EntryError::sys("opening the new directory"))?;
                apply_to_fd(&dir, &meta, false)?;
                self.dir_times.push((path, meta.times));
                Ok(())
            }
            EntryType::Symlink => {
                let target = item.link_name_bytes().ok_or(EntryError::Sys {
                    op: "reading the symlink target",
                    source: Errno::INVAL,
                })?;
                self.make_room(parent, &path, false)?;
                rustix::fs::symlinkat(cstring(&target)?.as_c_str(), parent, &path.name)
                    .map_err(EntryError::sys("creating the symlink"))?;
                apply_at(parent, &path.name, &meta, false)
            }
            EntryType::Link => {
                let target = item.link_name_bytes().ok_or(EntryError::Sys {
                    op: "reading the hard link target",
                    source: Errno::INVAL,
                })?;
                let target = self.rebased(&target);
                self.hard_link(parent, &path, &target)
            }
            EntryType::Char | EntryType::Block if !self.options.devices => {
                Err(EntryError::DeviceRefused)
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                let file_type = match kind {
                    EntryType::Char => FileType::CharacterDevice,
                    EntryType::Block => FileType::BlockDevice,
                    _ => FileType::Fifo,
                };
                let header = item.header();
                let major = header.device_major().ok().flatten().unwrap_or(0);
                let minor = header.device_minor().ok().flatten().unwrap_or(0);
                self.make_room(parent, &path, false)?;
                rustix::fs::mknodat(
                    parent,
                    &path.name,
                    file_type,
                    meta.mode,
                    rustix::fs::makedev(major, minor),
                )
                .map_err(EntryError::sys("creating the device node or fifo"))?;
                apply_at(parent, &path.name, &meta, true)
            }
            other => Err(EntryError::UnsupportedType(char::from(other.as_byte()))),
        }
    }

    fn hard_link(
        &mut self,
        parent: BorrowedFd<'_>,
        path: &EntryPath,
        raw_target: &[u8],
    ) -> Result<(), EntryError> {
        let shown = display(raw_target);
        let target = match path::clean(raw_target) {
            Err(EntryError::EscapesRoot) => {
                return Err(EntryError::LinkEscapesRoot { target: shown });
            }
            Err(e) => return Err(e),
            Ok(t) if t.is_root() => {
                return Err(EntryError::LinkTarget {
                    target: shown,
                    source: Errno::ISDIR,
                });
            }
            Ok(t) => t,
        };
        if target.full() == path.full() {
            return Ok(());
        }
        let link_err = |source| EntryError::LinkTarget {
            target: shown.clone(),
            source,
        };
        let target_parent = match open_dir_beneath(self.root, &target.parent, OFlags::PATH) {
            Ok(fd) => fd,
            Err(e) => {
                return Err(match parent_error(self.root, e, &target.parent) {
                    EntryError::SymlinkInParent { parent } => EntryError::LinkThroughSymlink {
                        target: shown,
                        parent,
                    },
                    _ => link_err(e),
                });
            }
        };
        self.make_room(parent, path, false)?;
        // Without AT_SYMLINK_FOLLOW a symlink target is linked as the symlink itself, so a link
        // "to" an escaping symlink makes another copy of that harmless symlink.
        rustix::fs::linkat(
            &target_parent,
            &target.name,
            parent,
            &path.name,
            AtFlags::empty(),
        )
        .map_err(link_err)
    }

    fn whiteout(
        &mut self,
        path: &EntryPath,
        hidden: &[u8],
        header: &tar::Header,
    ) -> Result<(), EntryError> {
        if hidden == OPAQUE_MARKER {
            let dir = self.open_parent(&path.parent)?;
            let dir = open_dir_beneath(dir.as_fd(), b"", OFlags::RDONLY)
                .map_err(EntryError::sys("opening the opaque directory"))?;
            return match self.options.whiteouts {
                Whiteouts::Overlay => {
                    rustix::fs::fsetxattr(&dir, OPAQUE_XATTR, b"y", XattrFlags::empty())
                        .map_err(EntryError::sys("setting trusted.overlay.opaque"))
                }
                Whiteouts::Apply => self.remove_not_created(dir.as_fd(), &path.parent),
                Whiteouts::Literal => Ok(()),
            };
        }
        if hidden.starts_with(WHITEOUT_PREFIX) || hidden.is_empty() {
            // Other `.wh..wh.` names are aufs bookkeeping (hard link dirs, plinks): not content.
            return Ok(());
        }
        let parent = self.open_parent(&path.parent)?;
        let name = cstring(hidden)?;
        match self.options.whiteouts {
            Whiteouts::Overlay => {
                make_room(parent.as_fd(), &name, false)?;
                rustix::fs::mknodat(
                    &parent,
                    &name,
                    FileType::CharacterDevice,
                    Mode::empty(),
                    rustix::fs::makedev(0, 0),
                )
                .map_err(EntryError::sys("creating the whiteout device"))?;
                let (uid, gid) = (header.uid().unwrap_or(0), header.gid().unwrap_or(0));
                rustix::fs::chownat(
                    &parent,
                    &name,
                    Some(Uid::from_raw_unchecked(id(uid)?)),
                    Some(Gid::from_raw_unchecked(id(gid)?)),
                    AtFlags::SYMLINK_NOFOLLOW,
                )
                .map_err(EntryError::sys("setting the whiteout's owner"))
            }
            Whiteouts::Apply => remove_all_at(parent.as_fd(), &name)
                .map_err(EntryError::sys("removing the whited-out path")),
            Whiteouts::Literal => Ok(()),
        }
    }

    /// The entry's name (or hard link target) with `ExtractOptions::rebase` applied.
    fn rebased(&self, raw: &[u8]) -> Vec<u8> {
        let Some((old, new)) = &self.options.rebase else {
            return raw.to_vec();
        };
        if old.as_slice() == b"/" {
            let mut out = new.clone();
            if !raw.starts_with(b"/") {
                out.push(b'/');
            }
            out.extend_from_slice(raw);
            return out;
        }
        match raw.strip_prefix(old.as_slice()) {
            Some(rest) if rest.is_empty() || rest.starts_with(b"/") => {
                let mut out = new.clone();
                out.extend_from_slice(rest);
                out
            }
            _ => raw.to_vec(),
        }
    }

    /// [`make_room`], refusing first what `no_overwrite_dir_non_dir` forbids.
    fn make_room(
        &self,
        parent: BorrowedFd<'_>,
        path: &EntryPath,
        is_dir: bool,
    ) -> Result<bool, EntryError> {
        if self.options.no_overwrite_dir_non_dir {
            let existing = file_type_at(parent, &path.name)
                .map_err(EntryError::sys("stat of the existing path"))?;
            let shown = || display(&path.full());
            match existing {
                Some(FileType::Directory) if !is_dir => {
                    return Err(EntryError::WouldReplaceDir { path: shown() });
                }
                Some(t) if is_dir && t != FileType::Directory => {
                    return Err(EntryError::WouldReplaceNonDir { path: shown() });
                }
                _ => {}
            }
        }
        make_room(parent, &path.name, is_dir)
    }

    /// Empties `dir` (at `prefix`) of everything this layer did not create, recursively.
    fn remove_not_created(&self, dir: BorrowedFd<'_>, prefix: &[u8]) -> Result<(), EntryError> {
        for name in child_names(dir).map_err(EntryError::sys("listing the opaque directory"))? {
            let full = join(prefix, name.as_bytes());
            if !self.created.contains(&full) {
                remove_all_at(dir, &name)
                    .map_err(EntryError::sys("emptying the opaque directory"))?;
            } else if file_type_at(dir, &name)
                .map_err(EntryError::sys("stat in the opaque directory"))?
                == Some(FileType::Directory)
            {
                let child = open_dir_beneath(dir, name.as_bytes(), OFlags::RDONLY).map_err(
                    EntryError::sys("opening a directory in the opaque directory"),
                )?;
                self.remove_not_created(child.as_fd(), &full)?;
            }
        }
        Ok(())
    }

    fn remember(&mut self, path: &EntryPath) {
        let full = path.full();
        for (i, &b) in full.iter().enumerate() {
            if b == b'/' {
                self.created.insert(full[..i].to_vec());
            }
        }
        self.created.insert(full);
    }

    /// Opens the entry's parent (an `O_PATH` fd), creating missing directories as root-owned
    /// 0755 as tar does, and refusing to pass through a symlink.
    fn open_parent(&self, parent: &[u8]) -> Result<OwnedFd, EntryError> {
        match open_dir_beneath(self.root, parent, OFlags::PATH) {
            Ok(fd) => return Ok(fd),
            Err(Errno::NOENT) => {}
            Err(e) => return Err(parent_error(self.root, e, parent)),
        }
        let mut dir = open_dir_beneath(self.root, b"", OFlags::PATH)
            .map_err(EntryError::sys("opening the target directory"))?;
        let mut walked = Vec::new();
        for part in parent.split(|&b| b == b'/') {
            walked = join(&walked, part);
            let name = cstring(part)?;
            let next = match open_dir_beneath(dir.as_fd(), part, OFlags::PATH) {
                Err(Errno::NOENT) => {
                    match rustix::fs::mkdirat(&dir, &name, Mode::from_raw_mode(0o755)) {
                        Ok(()) | Err(Errno::EXIST) => {}
                        Err(e) => {
                            return Err(EntryError::Sys {
                                op: "creating a missing parent directory",
                                source: e,
                            });
                        }
                    }
                    open_dir_beneath(dir.as_fd(), part, OFlags::PATH)
                }
                other => other,
            };
            dir = next.map_err(|e| parent_error(self.root, e, &walked))?;
        }
        Ok(dir)
    }

    /// Sets the directories' times, deepest last-seen first. A directory that a later entry
    /// replaced is skipped: its recorded times belong to something no longer there.
    pub fn finish(self) -> Result<(), (String, EntryError)> {
        for (path, times) in self.dir_times.iter().rev() {
            let named = |e| (display(&path.full()), e);
            let Ok(parent) = open_dir_beneath(self.root, &path.parent, OFlags::PATH) else {
                continue;
            };
            let name: &CStr = if path.is_root() { c"." } else { &path.name };
            match rustix::fs::utimensat(&parent, name, times, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(()) | Err(Errno::NOENT) => {}
                Err(e) => {
                    return Err(named(EntryError::Sys {
                        op: "setting the directory's times",
                        source: e,
                    }));
                }
            }
        }
        Ok(())
    }
}

/// Explains why `parent` could not be opened: names the first component that is a symlink or
/// not a directory.
fn parent_error(root: BorrowedFd<'_>, e: Errno, parent: &[u8]) -> EntryError {
    if !matches!(e, Errno::LOOP | Errno::XDEV | Errno::NOTDIR) {
        return EntryError::Sys {
            op: "opening the parent directory",
            source: e,
        };
    }
    let mut walked = Vec::new();
    for part in parent.split(|&b| b == b'/') {
        walked = join(&walked, part);
        let Ok(name) = cstring(&walked) else { break };
        match file_type_at(root, &name) {
            Ok(Some(FileType::Directory)) => continue,
            Ok(Some(FileType::Symlink)) | Err(Errno::LOOP) => {
                return EntryError::SymlinkInParent {
                    parent: display(&walked),
                };
            }
            _ => {
                return EntryError::ParentNotDir {
                    parent: display(&walked),
                };
            }
        }
    }
    // The path changed under us; report what the kernel said.
    EntryError::SymlinkInParent {
        parent: display(parent),
    }
}

/// Clears the way for a new entry; returns true when an existing directory is kept because
/// the new entry is a directory too (a directory merges, anything else replaces).
fn make_room(parent: BorrowedFd<'_>, name: &CStr, keep_dir: bool) -> Result<bool, EntryError> {
    match file_type_at(parent, name).map_err(EntryError::sys("stat of the existing path"))? {
        None => Ok(false),
        Some(FileType::Directory) if keep_dir => Ok(true),
        Some(_) => {
            fsutil::remove_all_at(parent, name)
                .map_err(EntryError::sys("removing the existing path"))?;
            Ok(false)
        }
    }
}

fn kind_name(kind: EntryType) -> &'static str {
    match kind {
        EntryType::Regular | EntryType::Continuous => "regular file",
        EntryType::Symlink => "symlink",
        EntryType::Link => "hard link",
        EntryType::Char => "character device",
        EntryType::Block => "block device",
        EntryType::Fifo => "fifo",
        _ => "non-directory",
    }
}
