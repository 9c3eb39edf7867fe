//! Unpacking a tar stream into a directory: image layers ([`unpack`], maybe gzip- or
//! zstd-compressed) and every other tar berth extracts ([`extract`]: `docker cp` into a
//! container, and out of one on the client's side). This is the one place that writes a tar's
//! entries to disk.
//!
//! Every entry is created relative to a directory fd of the target, with its parent opened by
//! `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`: a name with a `..` that climbs out is
//! refused, and so is a parent that is a symlink (from this tar or already on disk), so no
//! entry can write outside the target. Hard links must point inside the target too.
//!
//! Whiteouts are either kept as overlayfs markers ([`Whiteouts::Overlay`], for a layer unpacked
//! into its own upper dir), carried out ([`Whiteouts::Apply`], for a layer unpacked on top of
//! a copy of its parent), or plain names ([`Whiteouts::Literal`], for copies). The diffID, the
//! sha256 of the uncompressed tar stream including its end-of-archive padding, is computed on
//! the way and returned for the caller to check against the image config. On error the target
//! is left half-written; the caller removes it (for a snapshot:
//! [`crate::snapshot::Snapshotter::remove`]).

mod attrs;
mod entry;
mod path;

use std::cell::Cell;
use std::ffi::CString;
use std::io::{self, BufRead, BufReader, Read};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

use crate::digest::{Digest, DigestingReader};

/// How a layer blob is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    /// Recognizes gzip and zstd by their magic bytes; anything else is taken as plain tar.
    pub fn sniff(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }
}

/// What to do with `.wh.` entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Whiteouts {
    /// `.wh.NAME` becomes a 0/0 character device `NAME`, `.wh..wh..opq` sets
    /// `trusted.overlay.opaque=y` on its directory: the target is an overlay upper/lower dir.
    Overlay,
    /// `.wh.NAME` removes `NAME`, `.wh..wh..opq` empties its directory of everything not from
    /// this layer: the target holds the parent's files already.
    Apply,
    /// `.wh.` names are ordinary files: the tar is a copy, not a layer.
    Literal,
}

/// Whose the extracted objects are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// The uid and gid in each entry's header.
    FromArchive,
    /// These for every entry.
    Fixed { uid: u32, gid: u32 },
    /// Left to the extracting process (no chown), as `tar --no-same-owner` does.
    Caller,
}

/// How [`extract`] treats a tar's entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractOptions {
    pub whiteouts: Whiteouts,
    pub owner: Owner,
    /// Refuse to replace an existing directory with a non-directory and the other way round
    /// (Docker's `noOverwriteDirNonDir`); otherwise the old object is removed first.
    pub no_overwrite_dir_non_dir: bool,
    /// Whether character and block device entries may be made.
    pub devices: bool,
    /// Whether an entry naming the target itself (`./`) sets its owner, mode and times.
    pub root_metadata: bool,
    /// Whether absolute names are taken relative to the target (as tar does) or refused.
    pub absolute_names: bool,
    /// Renames the first path component `.0` of every entry (and hard link target) to `.1`,
    /// as `docker cp` does to give a copy the name of its destination. `.0 == "/"` prefixes.
    pub rebase: Option<(Vec<u8>, Vec<u8>)>,
}

impl ExtractOptions {
    /// A copy into an existing directory (`docker cp`): plain names, no devices, the target's
    /// own metadata kept, absolute and climbing names refused.
    pub fn copy(owner: Owner, no_overwrite_dir_non_dir: bool) -> ExtractOptions {
        ExtractOptions {
            whiteouts: Whiteouts::Literal,
            owner,
            no_overwrite_dir_non_dir,
            devices: false,
            root_metadata: false,
            absolute_names: false,
            rebase: None,
        }
    }

    fn layer(whiteouts: Whiteouts) -> ExtractOptions {
        ExtractOptions {
            whiteouts,
            owner: Owner::FromArchive,
            no_overwrite_dir_non_dir: false,
            devices: true,
            root_metadata: true,
            absolute_names: false,
            rebase: None,
        }
    }
}

/// What unpacking produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unpacked {
    /// sha256 of the uncompressed tar stream.
    pub diff_id: Digest,
    /// Length of the uncompressed tar stream.
    pub size: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    #[error("cannot open layer target {path}: {source}")]
    Target { path: PathBuf, source: Errno },
    #[error("reading the layer stream for {path}: {source}")]
    Stream { path: PathBuf, source: io::Error },
    #[error("tar entry {entry:?}: {reason}")]
    Entry { entry: String, reason: EntryError },
    #[error("syncing the unpacked layer {path}: {source}")]
    Sync { path: PathBuf, source: Errno },
}

/// Why one tar entry was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum EntryError {
    #[error("its path climbs out of the directory it is extracted into with \"..\"")]
    EscapesRoot,
    #[error("its path is absolute (entries are relative to the directory they are extracted into)")]
    AbsolutePath,
    #[error("a name of {len} bytes is longer than the {max} allowed")]
    NameTooLong { len: usize, max: usize },
    #[error("its name contains a NUL byte")]
    NulInName,
    #[error("parent directory {parent:?} is a symlink or crosses one; symlinks are not followed")]
    SymlinkInParent { parent: String },
    #[error("parent {parent:?} is not a directory")]
    ParentNotDir { parent: String },
    #[error("hard link target {target:?} climbs out of the directory it is extracted into")]
    LinkEscapesRoot { target: String },
    #[error(
        "hard link target {target:?} passes through the symlink {parent:?}; symlinks are not followed"
    )]
    LinkThroughSymlink { target: String, parent: String },
    #[error("hard link target {target:?}: {source}")]
    LinkTarget { target: String, source: Errno },
    #[error("a {kind} entry cannot replace the directory it is extracted into")]
    ReplacesRoot { kind: &'static str },
    #[error("cannot overwrite directory {path:?} with a non-directory")]
    WouldReplaceDir { path: String },
    #[error("cannot overwrite non-directory {path:?} with a directory")]
    WouldReplaceNonDir { path: String },
    #[error("device nodes are not allowed here")]
    DeviceRefused,
    #[error("the layer stream ends inside the file: {copied} of its {expected} bytes")]
    Truncated { expected: u64, copied: u64 },
    #[error("unsupported tar entry type {0:?}")]
    UnsupportedType(char),
    #[error("{op}: {source}")]
    Sys { op: &'static str, source: Errno },
    #[error("{op}: {source}")]
    Io { op: &'static str, source: io::Error },
}

impl EntryError {
    fn sys(op: &'static str) -> impl FnOnce(Errno) -> EntryError {
        move |source| EntryError::Sys { op, source }
    }
}

/// Unpacks the layer read from `source` into the existing directory `target`.
/// `compression: None` sniffs the stream's magic bytes.
pub fn unpack(
    source: impl Read,
    compression: Option<Compression>,
    target: &Path,
    whiteouts: Whiteouts,
) -> Result<Unpacked, LayerError> {
    let root = rustix::fs::open(
        target,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|source| LayerError::Target {
        path: target.to_owned(),
        source,
    })?;
    let decompressed = decompress(source, compression).map_err(|source| LayerError::Stream {
        path: target.to_owned(),
        source,
    })?;
    let unpacked = apply_all(
        decompressed,
        root.as_fd(),
        target,
        &ExtractOptions::layer(whiteouts),
    )?;
    // A committed snapshot must survive a power loss, not only a crash of berth.
    rustix::fs::syncfs(&root).map_err(|source| LayerError::Sync {
        path: target.to_owned(),
        source,
    })?;
    Ok(unpacked)
}

/// Extracts the plain tar read from `source` into the directory open as `target` (`shown` is
/// how messages name it). Returns the length of the tar stream.
pub fn extract(
    source: impl Read,
    target: BorrowedFd<'_>,
    shown: &Path,
    options: &ExtractOptions,
) -> Result<u64, LayerError> {
    apply_all(source, target, shown, options).map(|u| u.size)
}

fn apply_all(
    source: impl Read,
    root: BorrowedFd<'_>,
    shown: &Path,
    options: &ExtractOptions,
) -> Result<Unpacked, LayerError> {
    let stream_err = |source| LayerError::Stream {
        path: shown.to_owned(),
        source,
    };
    let budget = HeaderBudget::default();
    let tar = DigestingReader::new(budget.wrap(source));
    let mut archive = tar::Archive::new(tar);
    let mut unpacker = entry::Unpacker::new(root, options);
    let mut entries = archive.entries().map_err(stream_err)?;
    loop {
        budget.limit(MAX_HEADER_BYTES);
        let Some(item) = entries.next() else { break };
        let mut item = item.map_err(stream_err)?;
        budget.limit(u64::MAX);
        let name = String::from_utf8_lossy(&item.path_bytes()).into_owned();
        let entry_err = |reason| LayerError::Entry {
            entry: name.clone(),
            reason,
        };
        unpacker.apply(&mut item).map_err(entry_err)?;
        // Data of entries that were skipped (whiteouts, aufs metadata) is read here, inside
        // the entry's unlimited budget, rather than by the next header read.
        io::copy(&mut item, &mut io::sink()).map_err(|source| {
            entry_err(EntryError::Io {
                op: "skipping the entry's data",
                source,
            })
        })?;
    }
    budget.limit(u64::MAX);
    unpacker
        .finish()
        .map_err(|(entry, reason)| LayerError::Entry { entry, reason })?;
    let (diff_id, size) = archive.into_inner().finish_to_end().map_err(stream_err)?;
    Ok(Unpacked { diff_id, size })
}

/// The tar reader holds each GNU long name, long link name and PAX header whole in memory, and
/// a layer can claim gigabytes for one. This is the most it may read from the end of one
/// entry's data to the start of the next's: headers, extension records, padding.
const MAX_HEADER_BYTES: u64 = 1 << 20;

/// Counts down the bytes the tar reader may still take; shared with the reader it wraps.
#[derive(Default, Clone)]
struct HeaderBudget {
    remaining: Rc<Cell<u64>>,
}

impl HeaderBudget {
    fn limit(&self, bytes: u64) {
        self.remaining.set(bytes);
    }

    fn wrap<R: Read>(&self, inner: R) -> Budgeted<R> {
        Budgeted {
            inner,
            budget: self.clone(),
        }
    }
}

struct Budgeted<R> {
    inner: R,
    budget: HeaderBudget,
}

impl<R: Read> Read for Budgeted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let remaining = self.budget.remaining.get();
        if n as u64 > remaining {
            return Err(io::Error::other(format!(
                "more than {MAX_HEADER_BYTES} bytes of tar headers before one entry \
                 (an oversized GNU long name or PAX header)"
            )));
        }
        self.budget.remaining.set(remaining - n as u64);
        Ok(n)
    }
}

fn decompress<'a>(
    source: impl Read + 'a,
    compression: Option<Compression>,
) -> io::Result<Box<dyn Read + 'a>> {
    let mut buffered = BufReader::with_capacity(64 * 1024, source);
    let compression = match compression {
        Some(c) => c,
        None => Compression::sniff(buffered.fill_buf()?),
    };
    Ok(match compression {
        Compression::None => Box::new(buffered),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(buffered)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(buffered)?),
    })
}

/// The entry's name as written, for messages.
fn display(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn cstring(bytes: &[u8]) -> Result<CString, EntryError> {
    CString::new(bytes).map_err(|_| EntryError::NulInName)
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_extract;
