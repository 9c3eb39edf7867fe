//! The overlayfs snapshotter: each snapshot's `fs` is one layer, stacked at mount time.

use std::io::{Read, Write};
use std::path::Path;

use super::store::{Snap, Store};
use super::{
    Change, Info, Kind, SnapshotError, Snapshotter, Usage, changes_of, mkdir, usage_of,
    write_changes_of,
};
use crate::layer::{self, Compression, Unpacked, Whiteouts};
use crate::mount::Mount;

pub struct OverlaySnapshotter {
    pub(super) store: Store,
}

impl OverlaySnapshotter {
    /// Opens the snapshots under `root` (see [`super::open`] to check overlay works there).
    pub fn open(root: &Path) -> Result<OverlaySnapshotter, SnapshotError> {
        Ok(OverlaySnapshotter {
            store: Store::open(root)?,
        })
    }

    fn mounts_of(snap: &Snap) -> Result<Vec<Mount>, SnapshotError> {
        let fs = snap.dir.join("fs");
        match (snap.info.kind, snap.ancestors.as_slice()) {
            (Kind::Committed, _) => Err(SnapshotError::NotActive {
                key: snap.info.key.clone(),
                kind: Kind::Committed,
            }),
            (Kind::Active, []) => Ok(vec![Mount::Bind {
                source: fs,
                readonly: false,
            }]),
            (Kind::Active, lower) => Ok(vec![Mount::Overlay {
                lower: lower.to_vec(),
                upper: Some(fs),
                work: Some(snap.dir.join("work")),
            }]),
            (Kind::View, []) => Ok(vec![Mount::Bind {
                source: fs,
                readonly: true,
            }]),
            (Kind::View, [only]) => Ok(vec![Mount::Bind {
                source: only.clone(),
                readonly: true,
            }]),
            (Kind::View, lower) => Ok(vec![Mount::Overlay {
                lower: lower.to_vec(),
                upper: None,
                work: None,
            }]),
        }
    }
}

impl Snapshotter for OverlaySnapshotter {
    fn driver_name(&self) -> &'static str {
        "overlay"
    }

    fn prepare(&self, key: &str, parent: Option<&str>) -> Result<Vec<Mount>, SnapshotError> {
        let snap = self.store.create(key, parent, Kind::Active, |dir, _| {
            mkdir(&dir.join("fs"))?;
            mkdir(&dir.join("work"))
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
        layer::unpack(layer, compression, &snap.dir.join("fs"), Whiteouts::Overlay).map_err(
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
        changes_of(&self.store, key, true, ignore)
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
