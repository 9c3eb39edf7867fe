//! Writing files and directory trees as a tar stream, through directory fds: `docker cp` out of
//! a container, `docker export`, the layer `docker commit` makes, and the client side of
//! `docker cp` into one. Nothing is followed: a symlink is archived as a symlink, every object
//! is reached from the base directory with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`, and
//! a regular file is read through the fd it was checked on, so a tree that changes while it is
//! archived (a running container) cannot make this read anything outside it.
//!
//! Entries are GNU tar headers (long names as `././@LongLink` entries), directories named with
//! a trailing `/`, hard links within one stream written as links to the first name, and the
//! `security.capability` xattr of regular files as a PAX `SCHILY.xattr.` record, as dockerd's
//! archives carry it. Sockets cannot be archived and are skipped.

use std::collections::HashMap;
use std::ffi::{CStr, CString, OsStr};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;
use tar::{EntryType, Header};

use crate::fsutil::{child_names, join, open_dir_beneath};

/// The only xattr archives carry (file capabilities); others are host or overlay bookkeeping.
const CAPABILITY_XATTR: &str = "security.capability";
const NAME_FIELD: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum PackError {
    #[error("{op} {path:?}: {source}")]
    Sys {
        op: &'static str,
        path: String,
        source: Errno,
    },
    #[error("reading {path:?}: {source}")]
    Read { path: String, source: io::Error },
    #[error("writing the tar stream: {0}")]
    Write(io::Error),
}

impl PackError {
    /// The errno of a failed lookup (ENOENT for a path that is not there), if that was it.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            PackError::Sys { source, .. } => Some(*source),
            _ => None,
        }
    }
}

/// What one object is, read with `statat(AT_SYMLINK_NOFOLLOW)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectStat {
    pub file_type: FileType,
    /// Permission bits with setuid, setgid and sticky.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub mtime: i64,
    pub mtime_nsec: u32,
    pub rdev: u64,
    pub nlink: u64,
    pub dev: u64,
    pub ino: u64,
}

/// Stats `name` in `dir` without following a symlink.
pub fn stat_at(dir: BorrowedFd<'_>, name: &CStr) -> Result<ObjectStat, Errno> {
    let st = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)?;
    Ok(ObjectStat {
        file_type: FileType::from_raw_mode(st.st_mode),
        mode: st.st_mode & 0o7777,
        uid: st.st_uid,
        gid: st.st_gid,
        size: u64::try_from(st.st_size).unwrap_or(0),
        mtime: st.st_mtime,
        mtime_nsec: u32::try_from(st.st_mtime_nsec).unwrap_or(0),
        rdev: st.st_rdev,
        nlink: st.st_nlink,
        dev: st.st_dev,
        ino: st.st_ino,
    })
}

/// A tar stream being written.
pub struct Packer<W: Write> {
    out: tar::Builder<W>,
    /// (dev, ino) of files with more than one link → the name they were first archived as.
    links: HashMap<(u64, u64), Vec<u8>>,
}

impl<W: Write> Packer<W> {
    pub fn new(out: W) -> Self {
        Packer {
            out: tar::Builder::new(out),
            links: HashMap::new(),
        }
    }

    /// Archives the object at `rel` under `base` (`rel` empty: `base` itself) as
    /// `archive_name`, and with `recursive` everything under it when it is a directory (in
    /// name order, each directory before its contents).
    pub fn append(
        &mut self,
        base: BorrowedFd<'_>,
        rel: &[u8],
        archive_name: &[u8],
        recursive: bool,
    ) -> Result<(), PackError> {
        self.walk(
            base,
            vec![(rel.to_vec(), archive_name.to_vec())],
            recursive,
            true,
        )
    }

    /// Archives everything under the directory `rel` (not the directory itself), named
    /// `prefix` + the path below it (`prefix` empty: `bin/`, `bin/sh`, ...).
    pub fn append_children(
        &mut self,
        base: BorrowedFd<'_>,
        rel: &[u8],
        prefix: &[u8],
    ) -> Result<(), PackError> {
        let mut children = children(base, rel, prefix)?;
        children.reverse();
        self.walk(base, children, true, false)
    }

    /// `pending` is a stack: the last item is archived first. With `first_required`, the
    /// first item must exist; anything else that vanishes while the tree is archived (a
    /// running container deleting files) is left out, as dockerd leaves it out.
    fn walk(
        &mut self,
        base: BorrowedFd<'_>,
        mut pending: Vec<Item>,
        recursive: bool,
        first_required: bool,
    ) -> Result<(), PackError> {
        let mut required = first_required;
        let vanished = |e: &PackError, required: bool| !required && e.errno() == Some(Errno::NOENT);
        while let Some((rel, name)) = pending.pop() {
            let is_dir = match self.append_one(base, &rel, &name) {
                Ok(is_dir) => is_dir,
                Err(e) if vanished(&e, required) => continue,
                Err(e) => return Err(e),
            };
            required = false;
            if recursive && is_dir {
                match children(base, &rel, &dir_name(&name)) {
                    Ok(children) => pending.extend(children.into_iter().rev()),
                    Err(e) if vanished(&e, false) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }

    /// Archives an empty `.wh.NAME` marker: `archive_name` is the path of the removed object.
    pub fn append_whiteout(&mut self, archive_name: &[u8]) -> Result<(), PackError> {
        let (parent, base) = match archive_name.iter().rposition(|&b| b == b'/') {
            Some(i) => (&archive_name[..=i], &archive_name[i + 1..]),
            None => (&b""[..], archive_name),
        };
        let mut name = parent.to_vec();
        name.extend_from_slice(b".wh.");
        name.extend_from_slice(base);
        let mut header = Header::new_gnu();
        header.set_entry_type(EntryType::Regular);
        header.set_mode(0o644);
        header.set_size(0);
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        self.put(&mut header, &name, None, io::empty())
    }

    /// Ends the stream (two zero blocks) and returns the writer.
    pub fn finish(self) -> Result<W, PackError> {
        self.out.into_inner().map_err(PackError::Write)
    }

    /// Writes one object's entry; true when it is a directory.
    fn append_one(
        &mut self,
        base: BorrowedFd<'_>,
        rel: &[u8],
        archive_name: &[u8],
    ) -> Result<bool, PackError> {
        let (parent, name) = split(rel);
        let parent_fd: OwnedFd =
            open_dir_beneath(base, parent, OFlags::PATH).map_err(sys("opening", parent))?;
        let name = CString::new(name).map_err(|_| PackError::Sys {
            op: "naming",
            path: shown(rel),
            source: Errno::INVAL,
        })?;
        let stat = stat_at(parent_fd.as_fd(), &name).map_err(sys("stat", rel))?;
        let mut header = Header::new_gnu();
        header.set_mode(stat.mode);
        header.set_uid(stat.uid.into());
        header.set_gid(stat.gid.into());
        header.set_mtime(u64::try_from(stat.mtime).unwrap_or(0));
        header.set_size(0);
        match stat.file_type {
            FileType::Directory => {
                header.set_entry_type(EntryType::Directory);
                self.put(&mut header, &dir_name(archive_name), None, io::empty())?;
                return Ok(true);
            }
            FileType::RegularFile => {
                let key = (stat.dev, stat.ino);
                if stat.nlink > 1 {
                    if let Some(first) = self.links.get(&key).cloned() {
                        header.set_entry_type(EntryType::Link);
                        self.put(&mut header, archive_name, Some(&first), io::empty())?;
                        return Ok(false);
                    }
                    self.links.insert(key, archive_name.to_vec());
                }
                self.regular(parent_fd.as_fd(), &name, rel, archive_name, header, stat)?;
            }
            FileType::Symlink => {
                let target = rustix::fs::readlinkat(parent_fd.as_fd(), &name, Vec::new())
                    .map_err(sys("reading the symlink", rel))?;
                header.set_entry_type(EntryType::Symlink);
                self.put(
                    &mut header,
                    archive_name,
                    Some(target.as_bytes()),
                    io::empty(),
                )?;
            }
            FileType::CharacterDevice | FileType::BlockDevice => {
                header.set_entry_type(if stat.file_type == FileType::CharacterDevice {
                    EntryType::Char
                } else {
                    EntryType::Block
                });
                let (major, minor) = (rustix::fs::major(stat.rdev), rustix::fs::minor(stat.rdev));
                header
                    .set_device_major(major)
                    .and_then(|()| header.set_device_minor(minor))
                    .map_err(PackError::Write)?;
                self.put(&mut header, archive_name, None, io::empty())?;
            }
            FileType::Fifo => {
                header.set_entry_type(EntryType::Fifo);
                self.put(&mut header, archive_name, None, io::empty())?;
            }
            _ => {}
        }
        Ok(false)
    }

    fn regular(
        &mut self,
        parent: BorrowedFd<'_>,
        name: &CStr,
        rel: &[u8],
        archive_name: &[u8],
        mut header: Header,
        stat: ObjectStat,
    ) -> Result<(), PackError> {
        // O_NONBLOCK: if a fifo took the file's place since the stat, the open must not hang.
        let fd = rustix::fs::openat(
            parent,
            name,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(sys("opening", rel))?;
        let now = rustix::fs::fstat(&fd).map_err(sys("stat", rel))?;
        if FileType::from_raw_mode(now.st_mode) != FileType::RegularFile || now.st_ino != stat.ino {
            return Err(PackError::Sys {
                op: "archiving (it changed while being read)",
                path: shown(rel),
                source: Errno::AGAIN,
            });
        }
        let mut capability = vec![0u8; 1024];
        match rustix::fs::fgetxattr(&fd, CAPABILITY_XATTR, &mut capability[..]) {
            Ok(n) => {
                let key = format!("SCHILY.xattr.{CAPABILITY_XATTR}");
                self.out
                    .append_pax_extensions([(key.as_str(), &capability[..n])])
                    .map_err(PackError::Write)?;
            }
            Err(Errno::NODATA) | Err(Errno::NOTSUP) | Err(Errno::RANGE) => {}
            Err(e) => return Err(sys("reading the xattrs of", rel)(e)),
        }
        header.set_entry_type(EntryType::Regular);
        header.set_size(stat.size);
        // A file that shrinks while it is read (a running container writing it) is padded
        // with zeros to the size in its header, one that grows is cut there: the stream
        // stays a valid tar either way.
        let data = ReadOrFail {
            inner: File::from(fd),
            path: rel,
        };
        let mut data = data.take(stat.size).chain(io::repeat(0)).take(stat.size);
        self.put(&mut header, archive_name, None, &mut data)?;
        Ok(())
    }

    /// Writes `header` named `name` (and linking to `link`), with GNU long-name entries first
    /// for names the header cannot hold.
    fn put(
        &mut self,
        header: &mut Header,
        name: &[u8],
        link: Option<&[u8]>,
        data: impl Read,
    ) -> Result<(), PackError> {
        if name.len() > NAME_FIELD {
            self.long(EntryType::GNULongName, name)?;
        }
        if let Some(link) = link.filter(|l| l.len() > NAME_FIELD) {
            self.long(EntryType::GNULongLink, link)?;
        }
        let old = header.as_old_mut();
        old.name = [0; NAME_FIELD];
        let n = name.len().min(NAME_FIELD);
        old.name[..n].copy_from_slice(&name[..n]);
        if let Some(link) = link {
            old.linkname = [0; NAME_FIELD];
            let n = link.len().min(NAME_FIELD);
            old.linkname[..n].copy_from_slice(&link[..n]);
        }
        header.set_cksum();
        self.out.append(header, data).map_err(|e| match e.kind() {
            // ReadOrFail's error came through the builder's copy: report it as a read.
            io::ErrorKind::Other if e.to_string().starts_with(READ_FAILED) => PackError::Read {
                path: shown(name),
                source: e,
            },
            _ => PackError::Write(e),
        })
    }

    fn long(&mut self, kind: EntryType, value: &[u8]) -> Result<(), PackError> {
        let mut header = Header::new_gnu();
        header.set_entry_type(kind);
        header.set_mode(0o644);
        let mut data = value.to_vec();
        data.push(0);
        header.set_size(data.len() as u64);
        let old = header.as_old_mut();
        old.name = [0; NAME_FIELD];
        old.name[..13].copy_from_slice(b"././@LongLink");
        header.set_cksum();
        self.out
            .append(&header, &data[..])
            .map_err(PackError::Write)
    }
}

const READ_FAILED: &str = "read failed: ";

/// A file reader whose errors are marked as reads, so that `put` tells them from writes.
struct ReadOrFail<'a> {
    inner: File,
    path: &'a [u8],
}

impl Read for ReadOrFail<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner
            .read(buf)
            .map_err(|e| io::Error::other(format!("{READ_FAILED}{}: {e}", shown(self.path))))
    }
}

/// An object to archive: its path under the base directory and its name in the archive.
type Item = (Vec<u8>, Vec<u8>);

/// The items in the directory `rel`, by name; `prefix` is the directory's archive name with
/// its trailing `/` (or empty).
fn children(base: BorrowedFd<'_>, rel: &[u8], prefix: &[u8]) -> Result<Vec<Item>, PackError> {
    let dir = open_dir_beneath(base, rel, OFlags::RDONLY).map_err(sys("opening", rel))?;
    let mut names = child_names(dir.as_fd()).map_err(sys("listing", rel))?;
    names.sort();
    Ok(names
        .iter()
        .map(|child| {
            let mut name = prefix.to_vec();
            name.extend_from_slice(child.to_bytes());
            (join(rel, child.to_bytes()), name)
        })
        .collect())
}

/// A directory's archive name: with one trailing `/` (`d/`, `./`, `/`).
fn dir_name(name: &[u8]) -> Vec<u8> {
    let mut out = name.to_vec();
    if !out.ends_with(b"/") {
        out.push(b'/');
    }
    out
}

fn split(rel: &[u8]) -> (&[u8], &[u8]) {
    if rel.is_empty() {
        return (b"", b".");
    }
    match rel.iter().rposition(|&b| b == b'/') {
        Some(i) => (&rel[..i], &rel[i + 1..]),
        None => (b"", rel),
    }
}

fn shown(path: &[u8]) -> String {
    let path = OsStr::from_bytes(path);
    format!("/{}", path.to_string_lossy().trim_start_matches('/'))
}

fn sys<'a>(op: &'static str, path: &'a [u8]) -> impl FnOnce(Errno) -> PackError + 'a {
    move |source| PackError::Sys {
        op,
        path: shown(path),
        source,
    }
}

#[cfg(test)]
mod tests;
