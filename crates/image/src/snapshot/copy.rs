//! The copying snapshotter: every snapshot's `fs` is a whole tree, made by copying its parent.
//! Slow and large, but it needs nothing from the filesystem beyond what tar needs.

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::path::Path;

use rustix::fs::{Mode, OFlags};

use super::store::{Snap, Store};
use super::{
    Change, Info, Kind, SnapshotError, Snapshotter, Usage, changes_of, mkdir, sys_err, usage_of,
    write_changes_of,
};
use crate::layer::{self, Compression, Unpacked, Whiteouts};
use crate::mount::Mount;

pub struct CopySnapshotter {
    store: Store,
}

impl CopySnapshotter {
    pub fn open(root: &Path) -> Result<CopySnapshotter, SnapshotError> {
        Ok(CopySnapshotter {
            store: Store::open(root)?,
        })
    }

    fn mounts_of(snap: &Snap) -> Result<Vec<Mount>, SnapshotError> {
        let own = snap.dir.join("fs");
        match snap.info.kind {
            Kind::Committed => Err(SnapshotError::NotActive {
                key: snap.info.key.clone(),
                kind: Kind::Committed,
            }),
            Kind::Active => Ok(vec![Mount::Bind {
                source: own,
                readonly: false,
            }]),
            // A committed tree is complete and never changes, so a view binds it directly.
            Kind::View => {
                let source = snap.ancestors.first().cloned().unwrap_or(own);
                Ok(vec![Mount::Bind {
                    source,
                    readonly: true,
                }])
            }
        }
    }
}

impl Snapshotter for CopySnapshotter {
    fn driver_name(&self) -> &'static str {
        "copy"
    }

    fn prepare(&self, key: &str, parent: Option<&str>) -> Result<Vec<Mount>, SnapshotError> {
        let snap = self
            .store
            .create(key, parent, Kind::Active, |dir, parent| {
                let fs = dir.join("fs");
                match parent {
                    None => mkdir(&fs),
                    Some(parent) => copy_tree(&parent.dir.join("fs"), &fs),
                }
            })?;
        Self::mounts_of(&snap)
    }

    fn view(&self, key: &str, parent: Option<&str>) -> Result<Vec<Mount>, SnapshotError> {
        let snap = self
            .store
            .create(key, parent, Kind::View, |dir, _| mkdir(&dir.join("fs")))?;
        Self::mounts_of(&snap)
    }

    fn mounts(&self, key: &str) -> Result<Vec<Mount>, SnapshotError> {
        Self::mounts_of(&self.store.get(key)?)
    }

    fn unpack(
        &self,
        key: &str,
        layer: &mut dyn Read,
        compression: Option<Compression>,
    ) -> Result<Unpacked, SnapshotError> {
        let snap = self.store.get(key)?;
        if snap.info.kind != Kind::Active {
            return Err(SnapshotError::NotActive {
                key: key.to_owned(),
                kind: snap.info.kind,
            });
        }
        layer::unpack(layer, compression, &snap.dir.join("fs"), Whiteouts::Apply).map_err(
            |source| SnapshotError::Layer {
                key: key.to_owned(),
                source,
            },
        )
    }

    fn commit(&self, name: &str, key: &str) -> Result<(), SnapshotError> {
        self.store.commit(name, key)
    }

    fn remove(&self, key: &str) -> Result<(), SnapshotError> {
        self.store.remove(key)
    }

    fn stat(&self, key: &str) -> Result<Info, SnapshotError> {
        Ok(self.store.get(key)?.info)
    }

    fn list(&self) -> Result<Vec<Info>, SnapshotError> {
        Ok(self.store.list())
    }

    fn usage(&self, key: &str) -> Result<Usage, SnapshotError> {
        usage_of(&self.store.get(key)?.dir.join("fs"))
    }

    fn changes(&self, key: &str, ignore: &[&[u8]]) -> Result<Vec<Change>, SnapshotError> {
        changes_of(&self.store, key, false, ignore)
    }

    fn write_changes(
        &self,
        key: &str,
        changes: &[Change],
        out: &mut dyn Write,
    ) -> Result<(), SnapshotError> {
        write_changes_of(&self.store, key, changes, out)
    }
}

/// Makes `dst` a copy of the directory `src` (see [`crate::tree::copy_dir`]). Both are the
/// snapshotter's own trees.
fn copy_tree(src: &Path, dst: &Path) -> Result<(), SnapshotError> {
    mkdir(dst)?;
    let open = |path: &Path| {
        rustix::fs::open(
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(sys_err("opening", path))
    };
    let (from, to) = (open(src)?, open(dst)?);
    crate::tree::copy_dir(from.as_fd(), to.as_fd()).map_err(|e| SnapshotError::Io {
        op: "copying into",
        path: dst.to_owned(),
        source: std::io::Error::other(e),
    })
}
