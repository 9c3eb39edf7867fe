//! Snapshots: the filesystems of image layers and containers, in the shape of containerd's.
//!
//! A committed snapshot is one unpacked layer on top of its parent chain, keyed by the chain
//! ID; it is read-only by convention. An active snapshot is a writable layer over a committed
//! parent (a container's rootfs, or a layer being unpacked); a view is a read-only one. Each
//! snapshot lives in its own numeric dir `snapshots/<id>/` so that the paths of a deep chain
//! stay short (see [`crate::mount`] for why that matters on older kernels).
//!
//! Two snapshotters implement [`Snapshotter`]: [`OverlaySnapshotter`] stacks the chain with
//! overlayfs; [`CopySnapshotter`] copies the parent's tree into each new snapshot, for roots on
//! filesystems where overlay cannot have its upper dir (overlay itself, 9p, ...). [`open`]
//! picks one by trying an overlay mount in the root.

mod changes;
mod copy;
mod overlay;
mod store;

use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rustix::io::Errno;
use serde::{Deserialize, Serialize};

pub use changes::{Change, ChangeKind};
pub use copy::CopySnapshotter;
pub use overlay::OverlaySnapshotter;

use crate::layer::{Compression, LayerError, Unpacked};
use crate::mount::{Mount, MountError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Writable, for a container or an unpacking layer; can be committed.
    Active,
    /// Read-only view of a committed snapshot.
    View,
    /// Immutable; can be a parent.
    Committed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    pub key: String,
    pub kind: Kind,
    pub parent: Option<String>,
}

/// Disk used by one snapshot's own layer (not its parents); hard links count once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    pub bytes: u64,
    pub inodes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("snapshot {key:?} does not exist")]
    NotFound { key: String },
    #[error("snapshot {key:?} already exists")]
    AlreadyExists { key: String },
    #[error("cannot make snapshot {key:?} on {parent:?}: a parent must be committed")]
    ParentNotCommitted { key: String, parent: String },
    #[error("snapshot {key:?} is {kind:?}; this needs an active snapshot")]
    NotActive { key: String, kind: Kind },
    #[error("snapshot {key:?} cannot be removed: snapshots {children:?} are made on it")]
    HasChildren { key: String, children: Vec<String> },
    #[error("snapshot {key:?} has a parent chain that loops; the metadata is corrupt")]
    CorruptChain { key: String },
    #[error("snapshot root {root} is in use by another process")]
    InUse { root: PathBuf },
    #[error("snapshot metadata {path}: {source}")]
    Metadata {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("snapshot database {path}: {source}")]
    Store { path: PathBuf, source: redb::Error },
    #[error("snapshots: {op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("unpacking a layer into snapshot {key:?}: {source}")]
    Layer { key: String, source: LayerError },
    #[error(transparent)]
    Mount(#[from] MountError),
}

/// What the engine asks of a snapshotter. Keys are free-form strings: chain IDs for
/// committed layers, container IDs or `extract-...` names for active ones.
pub trait Snapshotter: Send + Sync {
    /// "overlay" or "copy": the storage driver `info` and `inspect` report.
    fn driver_name(&self) -> &'static str;
    /// Makes a writable snapshot over `parent` and returns how to mount it.
    fn prepare(&self, key: &str, parent: Option<&str>) -> Result<Vec<Mount>, SnapshotError>;
    /// Makes a read-only view of `parent` and returns how to mount it.
    fn view(&self, key: &str, parent: Option<&str>) -> Result<Vec<Mount>, SnapshotError>;
    /// How to mount an active snapshot or a view.
    fn mounts(&self, key: &str) -> Result<Vec<Mount>, SnapshotError>;
    /// Unpacks a layer into the active snapshot `key` in the form this snapshotter stacks
    /// (overlay whiteouts, or whiteouts applied to the copy). On error the snapshot holds a
    /// partial layer: remove it.
    fn unpack(
        &self,
        key: &str,
        layer: &mut dyn Read,
        compression: Option<Compression>,
    ) -> Result<Unpacked, SnapshotError>;
    /// Turns the active snapshot `key` into the committed snapshot `name`.
    fn commit(&self, name: &str, key: &str) -> Result<(), SnapshotError>;
    /// Removes a snapshot and its files; refused while others are made on it.
    fn remove(&self, key: &str) -> Result<(), SnapshotError>;
    fn stat(&self, key: &str) -> Result<Info, SnapshotError>;
    fn list(&self) -> Result<Vec<Info>, SnapshotError>;
    fn usage(&self, key: &str) -> Result<Usage, SnapshotError>;
    /// What the active snapshot `key` changed compared with its parent chain (see
    /// [`Change`] for the order). `ignore` lists relative paths (`etc/hosts`) left out with
    /// whatever is under them: mount points the engine made, not the container's changes.
    fn changes(&self, key: &str, ignore: &[&[u8]]) -> Result<Vec<Change>, SnapshotError>;
    /// Writes `changes` (from [`Snapshotter::changes`] of the same `key`) to `out` as a layer
    /// tar: deletions as `.wh.` markers.
    fn write_changes(
        &self,
        key: &str,
        changes: &[Change],
        out: &mut dyn Write,
    ) -> Result<(), SnapshotError>;
}

/// The active snapshot's dir and parent chain, for the change functions of both snapshotters.
fn active(store: &store::Store, key: &str) -> Result<store::Snap, SnapshotError> {
    let snap = store.get(key)?;
    if snap.info.kind != Kind::Active {
        return Err(SnapshotError::NotActive {
            key: key.to_owned(),
            kind: snap.info.kind,
        });
    }
    Ok(snap)
}

fn changes_of(
    store: &store::Store,
    key: &str,
    overlay: bool,
    ignore: &[&[u8]],
) -> Result<Vec<Change>, SnapshotError> {
    let snap = active(store, key)?;
    let new = snap.dir.join("fs");
    changes::compute(
        &changes::Sides {
            new: &new,
            lower: &snap.ancestors,
            overlay,
        },
        ignore,
    )
}

fn write_changes_of(
    store: &store::Store,
    key: &str,
    changes: &[Change],
    out: &mut dyn Write,
) -> Result<(), SnapshotError> {
    let snap = active(store, key)?;
    changes::write_layer(&snap.dir.join("fs"), changes, out).map(drop)
}

/// Opens the snapshots under `root` with overlay if it works there, else by copying.
pub fn open(root: &Path) -> Result<Box<dyn Snapshotter>, SnapshotError> {
    fs::create_dir_all(root).map_err(|source| SnapshotError::Io {
        op: "creating",
        path: root.to_owned(),
        source,
    })?;
    if overlay_works_in(root)? {
        Ok(Box::new(OverlaySnapshotter::open(root)?))
    } else {
        Ok(Box::new(CopySnapshotter::open(root)?))
    }
}

/// Whether an overlay with its upper dir in `dir` can be mounted (not on overlay, 9p, ...).
pub fn overlay_works_in(dir: &Path) -> Result<bool, SnapshotError> {
    let probe = dir.join(format!(".overlay-probe-{}", std::process::id()));
    let result = try_overlay(&probe);
    store::remove_tree(&probe)?;
    result
}

/// Mounts a tiny stack the way the overlay snapshotter makes them: the upper dir must take an
/// opaque xattr and a whiteout device (as unpacked layers carry them), overlay must honour both,
/// and a write through the mount must land in the upper dir. Some filesystems (9p) mount as an
/// upper dir but cannot hold the xattr.
fn try_overlay(probe: &Path) -> Result<bool, SnapshotError> {
    let dirs = [
        "lower/opaque",
        "lower/gone",
        "upper/opaque",
        "work",
        "merged",
    ]
    .map(|d| probe.join(d));
    for d in &dirs {
        fs::create_dir_all(d).map_err(|source| SnapshotError::Io {
            op: "creating",
            path: d.clone(),
            source,
        })?;
    }
    let [lower_opaque, _, upper_opaque, work, merged] = dirs;
    let hidden = lower_opaque.join("hidden");
    fs::write(&hidden, b"").map_err(|source| SnapshotError::Io {
        op: "creating",
        path: hidden,
        source,
    })?;
    let (lower, upper) = (probe.join("lower"), probe.join("upper"));
    let opaque = rustix::fs::setxattr(
        &upper_opaque,
        "trusted.overlay.opaque",
        b"y",
        rustix::fs::XattrFlags::empty(),
    );
    let whiteout = rustix::fs::mknodat(
        rustix::fs::CWD,
        upper.join("gone"),
        rustix::fs::FileType::CharacterDevice,
        rustix::fs::Mode::empty(),
        rustix::fs::makedev(0, 0),
    );
    if opaque.is_err() || whiteout.is_err() {
        return Ok(false);
    }
    let overlay = Mount::Overlay {
        lower: vec![lower],
        upper: Some(upper.clone()),
        work: Some(work),
    };
    if crate::mount::mount_all(&[overlay], &merged).is_err() {
        return Ok(false);
    }
    let honoured = fs::read_dir(merged.join("opaque"))
        .map(|mut d| d.next().is_none())
        .unwrap_or(false)
        && fs::symlink_metadata(merged.join("gone")).is_err();
    let wrote = fs::write(merged.join("probe"), b"").is_ok() && upper.join("probe").is_file();
    crate::mount::unmount(&merged)?;
    Ok(honoured && wrote)
}

/// Walks `dir` without following symlinks, counting blocks and inodes once per inode.
fn usage_of(dir: &Path) -> Result<Usage, SnapshotError> {
    let mut seen = std::collections::HashSet::new();
    let mut usage = Usage::default();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(path) = pending.pop() {
        let meta = fs::symlink_metadata(&path).map_err(|source| SnapshotError::Io {
            op: "stat",
            path: path.clone(),
            source,
        })?;
        if meta.nlink() > 1 && !meta.is_dir() && !seen.insert((meta.dev(), meta.ino())) {
            continue;
        }
        usage.inodes += 1;
        usage.bytes += meta.blocks() * 512;
        if meta.is_dir() {
            for entry in fs::read_dir(&path).map_err(|source| SnapshotError::Io {
                op: "listing",
                path: path.clone(),
                source,
            })? {
                let entry = entry.map_err(|source| SnapshotError::Io {
                    op: "listing",
                    path: path.clone(),
                    source,
                })?;
                pending.push(entry.path());
            }
        }
    }
    Ok(usage)
}

fn mkdir(path: &Path) -> Result<(), SnapshotError> {
    fs::create_dir(path).map_err(|source| SnapshotError::Io {
        op: "creating",
        path: path.to_owned(),
        source,
    })
}

pub(crate) fn sys_err<'a>(
    op: &'static str,
    path: &'a Path,
) -> impl FnOnce(Errno) -> SnapshotError + 'a {
    move |e| SnapshotError::Io {
        op,
        path: path.to_owned(),
        source: e.into(),
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_changes;
