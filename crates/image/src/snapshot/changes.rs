//! What a writable snapshot changed compared with the image under it (`docker diff`), and that
//! change written as a layer tar (`docker commit`).
//!
//! The new side is the snapshot's own `fs`: an overlay upper dir (only what the container
//! touched, deletions as whiteout devices, replaced directories opaque) or, for the copying
//! snapshotter, a whole tree. The old side is the parent chain, looked up through its layers as
//! overlay stacks them (a whiteout or a non-directory hides what is below it, an opaque
//! directory hides the layers under it). Every lookup is made through directory fds without
//! following a symlink: both sides hold whatever the container or its image put there.
//!
//! The list is in path order, each directory before what is under it, and, as dockerd's naive
//! differ does it, every directory above a change is listed as modified too, so that the layer
//! made from the list carries those directories' owners and modes.

use std::collections::BTreeSet;
use std::ffi::CString;
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{FileType, Mode, OFlags};
use rustix::io::Errno;

use super::SnapshotError;
use crate::fsutil::{child_names, join, open_dir_beneath};
use crate::pack::{ObjectStat, Packer, stat_at};

const OPAQUE_XATTR: &str = "trusted.overlay.opaque";
const REDIRECT_XATTR: &str = "trusted.overlay.redirect";

/// Docker's change kinds, numbered as the API sends them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Modified = 0,
    Added = 1,
    Deleted = 2,
}

/// One changed path, relative to the root (`etc/passwd`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub path: Vec<u8>,
    pub kind: ChangeKind,
}

impl Change {
    /// The path as the container sees it: `/etc/passwd`.
    pub fn absolute(&self) -> String {
        format!("/{}", String::from_utf8_lossy(&self.path))
    }
}

/// The two sides of a comparison.
pub(super) struct Sides<'a> {
    /// The snapshot's own `fs`.
    pub new: &'a Path,
    /// The parent chain's `fs` dirs, nearest first.
    pub lower: &'a [PathBuf],
    /// `new` is an overlay upper dir over `lower` (whiteouts, opaque dirs; presence in it means
    /// changed), rather than a complete tree compared object by object with `lower[0]`.
    pub overlay: bool,
}

/// One step of the walk: a path on the new side to compare, or a path only the old side has.
enum Step {
    Visit(Vec<u8>),
    Gone(Vec<u8>),
}

/// What the old side has at a path.
enum Old {
    Found(ObjectStat),
    /// Whited out or shadowed by a non-directory above it.
    Hidden,
    /// Not in this layer; `opaque`: an opaque directory above it hides the layers below.
    Absent {
        opaque: bool,
    },
}

pub(super) fn compute(sides: &Sides<'_>, ignore: &[&[u8]]) -> Result<Vec<Change>, SnapshotError> {
    let new = open_root(sides.new)?;
    let lower = sides
        .lower
        .iter()
        .take(if sides.overlay { usize::MAX } else { 1 })
        .map(|p| open_root(p))
        .collect::<Result<Vec<_>, _>>()?;
    let walk = Walk {
        sides,
        new,
        lower,
        ignore,
    };
    let mut raw = Vec::new();
    let root_old_is_dir = !walk.lower.is_empty();
    let mut pending: Vec<Step> = walk
        .children_steps(b"", root_old_is_dir)?
        .into_iter()
        .rev()
        .collect();
    while let Some(step) = pending.pop() {
        match step {
            Step::Gone(path) => raw.push(Change {
                path,
                kind: ChangeKind::Deleted,
            }),
            Step::Visit(path) => {
                let (change, descend) = walk.visit(&path)?;
                if let Some(kind) = change {
                    raw.push(Change {
                        path: path.clone(),
                        kind,
                    });
                }
                if let Some(old_is_dir) = descend {
                    let children = walk.children_steps(&path, old_is_dir)?;
                    pending.extend(children.into_iter().rev());
                }
            }
        }
    }
    Ok(with_parents(raw))
}

/// Writes `changes` as a layer tar: the new side's object for an addition or modification
/// (a directory's entry alone; what is under it has changes of its own), a `.wh.` marker for
/// a deletion. Returns the writer.
pub(super) fn write_layer<W: Write>(
    new: &Path,
    changes: &[Change],
    out: W,
) -> Result<W, SnapshotError> {
    let root = open_root(new)?;
    let mut packer = Packer::new(out);
    let pack_err = |e: crate::pack::PackError| SnapshotError::Io {
        op: "archiving the changes of",
        path: new.to_owned(),
        source: std::io::Error::other(e.to_string()),
    };
    for change in changes {
        match change.kind {
            ChangeKind::Deleted => packer.append_whiteout(&change.path),
            ChangeKind::Added | ChangeKind::Modified => {
                packer.append(root.as_fd(), &change.path, &change.path, false)
            }
        }
        .map_err(pack_err)?;
    }
    packer.finish().map_err(pack_err)
}

struct Walk<'a> {
    sides: &'a Sides<'a>,
    new: OwnedFd,
    lower: Vec<OwnedFd>,
    ignore: &'a [&'a [u8]],
}

impl Walk<'_> {
    fn err(&self, op: &'static str, rel: &[u8]) -> impl FnOnce(Errno) -> SnapshotError + '_ {
        let path = self.sides.new.join(String::from_utf8_lossy(rel).as_ref());
        move |e| SnapshotError::Io {
            op,
            path,
            source: e.into(),
        }
    }

    /// The change at `rel` (None: unchanged) and, for a directory to walk into, whether the
    /// old side has a directory there too.
    fn visit(&self, rel: &[u8]) -> Result<(Option<ChangeKind>, Option<bool>), SnapshotError> {
        let (parent, name) = split(rel);
        let parent_fd = open_dir_beneath(self.new.as_fd(), parent, OFlags::PATH)
            .map_err(self.err("opening", parent))?;
        let new = stat_at(parent_fd.as_fd(), &name).map_err(self.err("stat", rel))?;
        if self.sides.overlay && is_whiteout(&new) {
            return Ok((Some(ChangeKind::Deleted), None));
        }
        let old = self.lookup(rel)?;
        let new_is_dir = new.file_type == FileType::Directory;
        let old_is_dir = old.is_some_and(|o| o.file_type == FileType::Directory);
        let kind = match old {
            None => Some(ChangeKind::Added),
            Some(old) if new_is_dir && old_is_dir => {
                let opaque = self.sides.overlay && self.is_opaque(rel)?;
                let owner_or_mode = (new.mode, new.uid, new.gid) != (old.mode, old.uid, old.gid);
                let mtime = (new.mtime, new.mtime_nsec) != (old.mtime, old.mtime_nsec);
                // Mount points the engine made in a directory change its mtime and nothing else.
                let only_stubs = mtime && self.holds_ignored(rel);
                (opaque || owner_or_mode || (mtime && !only_stubs)).then_some(ChangeKind::Modified)
            }
            // In an upper dir a non-directory is there only because it was written, chmod-ed
            // or replaced.
            Some(_) if self.sides.overlay => Some(ChangeKind::Modified),
            Some(old) => (!same_object(&new, &old) || self.symlink_differs(rel, &new)?)
                .then_some(ChangeKind::Modified),
        };
        Ok((kind, new_is_dir.then_some(old_is_dir)))
    }

    /// The steps for what is under the directory `rel`: its entries on the new side, and the
    /// old side's entries it no longer has (a complete tree, or an opaque upper dir), in name
    /// order. `old_is_dir`: the old side has a directory there.
    fn children_steps(&self, rel: &[u8], old_is_dir: bool) -> Result<Vec<Step>, SnapshotError> {
        let dir = open_dir_beneath(self.new.as_fd(), rel, OFlags::RDONLY)
            .map_err(self.err("opening", rel))?;
        if self.sides.overlay && has_xattr(dir.as_fd(), REDIRECT_XATTR) {
            return Err(SnapshotError::Io {
                op: "comparing (overlay redirect_dir is in use; mount with redirect_dir=off)",
                path: self.sides.new.join(String::from_utf8_lossy(rel).as_ref()),
                source: Errno::NOTSUP.into(),
            });
        }
        let present: BTreeSet<Vec<u8>> = child_names(dir.as_fd())
            .map_err(self.err("listing", rel))?
            .into_iter()
            .map(|n| n.into_bytes())
            .collect();
        let complete_here = !self.sides.overlay || (!rel.is_empty() && self.is_opaque(rel)?);
        let gone: BTreeSet<Vec<u8>> = if complete_here && old_is_dir {
            self.old_children(rel)?
                .into_iter()
                .filter(|n| !present.contains(n))
                .collect()
        } else {
            BTreeSet::new()
        };
        let mut names: Vec<(Vec<u8>, bool)> = present
            .into_iter()
            .map(|n| (n, true))
            .chain(gone.into_iter().map(|n| (n, false)))
            .collect();
        names.sort();
        Ok(names
            .into_iter()
            .map(|(name, present)| (join(rel, &name), present))
            .filter(|(path, _)| !self.ignore.contains(&path.as_slice()))
            .map(|(path, present)| {
                if present {
                    Step::Visit(path)
                } else {
                    Step::Gone(path)
                }
            })
            .collect())
    }

    fn exists_new(&self, rel: &[u8]) -> bool {
        let (parent, name) = split(rel);
        open_dir_beneath(self.new.as_fd(), parent, OFlags::PATH)
            .ok()
            .is_some_and(|p| stat_at(p.as_fd(), &name).is_ok())
    }

    /// Whether an ignored path (an engine-made mount point) is directly in `rel`.
    fn holds_ignored(&self, rel: &[u8]) -> bool {
        self.ignore
            .iter()
            .any(|i| split(i).0 == rel && self.exists_new(i))
    }

    fn is_opaque(&self, rel: &[u8]) -> Result<bool, SnapshotError> {
        let dir = open_dir_beneath(self.new.as_fd(), rel, OFlags::RDONLY)
            .map_err(self.err("opening", rel))?;
        Ok(xattr_is_y(dir.as_fd(), OPAQUE_XATTR))
    }

    fn symlink_differs(&self, rel: &[u8], new: &ObjectStat) -> Result<bool, SnapshotError> {
        if new.file_type != FileType::Symlink {
            return Ok(false);
        }
        let read = |root: BorrowedFd<'_>| -> Result<Vec<u8>, Errno> {
            let (parent, name) = split(rel);
            let parent = open_dir_beneath(root, parent, OFlags::PATH)?;
            Ok(rustix::fs::readlinkat(&parent, &name, Vec::new())?.into_bytes())
        };
        let Some(old_root) = self.lower.first() else {
            return Ok(true);
        };
        let new_target = read(self.new.as_fd()).map_err(self.err("reading the symlink", rel))?;
        Ok(read(old_root.as_fd()).ok() != Some(new_target))
    }

    /// The old side's object at `rel`, through the layers as overlay stacks them.
    fn lookup(&self, rel: &[u8]) -> Result<Option<ObjectStat>, SnapshotError> {
        for layer in &self.lower {
            match self.in_layer(layer.as_fd(), rel)? {
                Old::Found(stat) => return Ok(Some(stat)),
                Old::Hidden | Old::Absent { opaque: true } => return Ok(None),
                Old::Absent { opaque: false } => {}
            }
        }
        Ok(None)
    }

    /// The names the old side shows in the directory `rel`.
    fn old_children(&self, rel: &[u8]) -> Result<BTreeSet<Vec<u8>>, SnapshotError> {
        let mut seen = BTreeSet::new();
        let mut visible = BTreeSet::new();
        for layer in &self.lower {
            match self.in_layer(layer.as_fd(), rel)? {
                Old::Found(stat) if stat.file_type == FileType::Directory => {
                    let dir = open_dir_beneath(layer.as_fd(), rel, OFlags::RDONLY)
                        .map_err(self.err("opening the parent's", rel))?;
                    for name in child_names(dir.as_fd()).map_err(self.err("listing", rel))? {
                        let bytes = name.to_bytes().to_vec();
                        if !seen.insert(bytes.clone()) {
                            continue;
                        }
                        let whiteout = self.sides.overlay
                            && stat_at(dir.as_fd(), &name).is_ok_and(|s| is_whiteout(&s));
                        if !whiteout {
                            visible.insert(bytes);
                        }
                    }
                    if !self.sides.overlay || xattr_is_y(dir.as_fd(), OPAQUE_XATTR) {
                        break;
                    }
                }
                Old::Found(_) | Old::Hidden | Old::Absent { opaque: true } => break,
                Old::Absent { opaque: false } => {}
            }
        }
        Ok(visible)
    }

    /// What one layer holds at `rel`, walking down from its root one directory at a time.
    fn in_layer(&self, root: BorrowedFd<'_>, rel: &[u8]) -> Result<Old, SnapshotError> {
        if rel.is_empty() {
            let stat = stat_at(root, c".").map_err(self.err("stat of the parent's", rel))?;
            return Ok(Old::Found(stat));
        }
        let parts: Vec<&[u8]> = rel.split(|&b| b == b'/').collect();
        let mut dir = open_dir_beneath(root, b"", OFlags::PATH)
            .map_err(self.err("opening the parent's", b""))?;
        let mut opaque = false;
        for (i, part) in parts.iter().enumerate() {
            let name = cstring(part);
            let stat = match stat_at(dir.as_fd(), &name) {
                Ok(s) => s,
                Err(Errno::NOENT) => return Ok(Old::Absent { opaque }),
                Err(e) => return Err(self.err("stat in the parent's", rel)(e)),
            };
            if self.sides.overlay && is_whiteout(&stat) {
                return Ok(Old::Hidden);
            }
            if i + 1 == parts.len() {
                return Ok(Old::Found(stat));
            }
            if stat.file_type != FileType::Directory {
                return Ok(Old::Hidden);
            }
            let next = open_dir_beneath(dir.as_fd(), part, OFlags::RDONLY)
                .map_err(self.err("opening the parent's", rel))?;
            opaque |= self.sides.overlay && xattr_is_y(next.as_fd(), OPAQUE_XATTR);
            dir = next;
        }
        Ok(Old::Absent { opaque })
    }
}

/// Lists every directory above a change as modified, right before the first change under it
/// (the walk's order is a pre-order, so that is where the directory itself would be).
fn with_parents(raw: Vec<Change>) -> Vec<Change> {
    let mut listed: BTreeSet<Vec<u8>> = BTreeSet::new();
    let mut out = Vec::with_capacity(raw.len());
    for change in raw {
        let mut ancestors = Vec::new();
        let mut at = change.path.as_slice();
        while let Some(i) = at.iter().rposition(|&b| b == b'/') {
            at = &at[..i];
            ancestors.push(at.to_vec());
        }
        for ancestor in ancestors.into_iter().rev() {
            if listed.insert(ancestor.clone()) {
                out.push(Change {
                    path: ancestor,
                    kind: ChangeKind::Modified,
                });
            }
        }
        if listed.insert(change.path.clone()) {
            out.push(change);
        }
    }
    out
}

fn same_object(new: &ObjectStat, old: &ObjectStat) -> bool {
    new.file_type == old.file_type
        && new.mode == old.mode
        && new.uid == old.uid
        && new.gid == old.gid
        && new.rdev == old.rdev
        && (new.size == old.size || new.file_type == FileType::Directory)
        && (new.mtime, new.mtime_nsec) == (old.mtime, old.mtime_nsec)
}

fn is_whiteout(stat: &ObjectStat) -> bool {
    stat.file_type == FileType::CharacterDevice && stat.rdev == 0
}

fn xattr_is_y(fd: BorrowedFd<'_>, name: &str) -> bool {
    let mut value = [0u8; 2];
    matches!(rustix::fs::fgetxattr(fd, name, &mut value[..]), Ok(1) if value[0] == b'y')
}

fn has_xattr(fd: BorrowedFd<'_>, name: &str) -> bool {
    let mut value = [0u8; 256];
    rustix::fs::fgetxattr(fd, name, &mut value[..]).is_ok()
}

fn open_root(path: &Path) -> Result<OwnedFd, SnapshotError> {
    rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(super::sys_err("opening", path))
}

fn split(rel: &[u8]) -> (&[u8], CString) {
    match rel.iter().rposition(|&b| b == b'/') {
        Some(i) => (&rel[..i], cstring(&rel[i + 1..])),
        None => (b"", cstring(rel)),
    }
}

/// Names come from directory listings and never hold a NUL; one that did would name nothing.
fn cstring(bytes: &[u8]) -> CString {
    CString::new(bytes).unwrap_or_default()
}
