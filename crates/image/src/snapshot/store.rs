//! Snapshot metadata and directories, shared by both snapshotters.
//!
//! Layout under the root: `metadata.json` (every snapshot: key, id, kind, parent), `lock`
//! (held with flock while a process has the store open) and `snapshots/<id>/` (one short
//! numeric dir per snapshot). Every change writes `metadata.json.tmp`, fsyncs it and renames it
//! over `metadata.json`, so a kill -9 at any instant leaves either the old or the new state.
//! A snapshot dir is made completely before its record is saved and removed only after its
//! record is gone; a dir without a record (a crash in between) is deleted at the next open.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

use super::{Info, Kind, SnapshotError};

const METADATA: &str = "metadata.json";
const METADATA_TEMP: &str = "metadata.json.tmp";

#[derive(Debug, Default, Serialize, Deserialize)]
struct Db {
    next_id: u64,
    snapshots: BTreeMap<String, Record>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    id: u64,
    kind: Kind,
    parent: Option<String>,
}

/// A snapshot as the snapshotters need it.
#[derive(Debug, Clone)]
pub(crate) struct Snap {
    pub info: Info,
    /// `snapshots/<id>`, holding `fs` (and `work` for overlay).
    pub dir: PathBuf,
    /// The `fs` dirs of its parent chain, nearest parent first.
    pub ancestors: Vec<PathBuf>,
}

pub(crate) struct Store {
    root: PathBuf,
    snapshots: PathBuf,
    db: Mutex<Db>,
    _lock: File,
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> SnapshotError + 'a {
    move |source| SnapshotError::Io {
        op,
        path: path.to_owned(),
        source,
    }
}

impl Store {
    pub fn open(root: &Path) -> Result<Store, SnapshotError> {
        let snapshots = root.join("snapshots");
        fs::create_dir_all(&snapshots).map_err(io_err("creating", &snapshots))?;
        let lock_path = root.join("lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_err("opening", &lock_path))?;
        rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive).map_err(
            |_| SnapshotError::InUse {
                root: root.to_owned(),
            },
        )?;

        let metadata = root.join(METADATA);
        let db = match fs::read(&metadata) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|source| SnapshotError::Metadata {
                    path: metadata.clone(),
                    source,
                })?
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Db::default(),
            Err(e) => return Err(io_err("reading", &metadata)(e)),
        };
        let store = Store {
            root: root.to_owned(),
            snapshots,
            db: Mutex::new(db),
            _lock: lock,
        };
        store.remove_leftovers()?;
        Ok(store)
    }

    /// Deletes what a crash left behind: the temp metadata file and snapshot dirs that no
    /// record names (half made, or half removed).
    fn remove_leftovers(&self) -> Result<(), SnapshotError> {
        let temp = self.root.join(METADATA_TEMP);
        match fs::remove_file(&temp) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("removing", &temp)(e)),
        }
        let db = self.lock();
        let known: Vec<String> = db.snapshots.values().map(|r| r.id.to_string()).collect();
        for entry in fs::read_dir(&self.snapshots).map_err(io_err("listing", &self.snapshots))? {
            let entry = entry.map_err(io_err("listing", &self.snapshots))?;
            if !known.iter().any(|k| k.as_str() == entry.file_name()) {
                let path = entry.path();
                remove_tree(&path)?;
            }
        }
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, Db> {
        // A panic while holding the lock cannot leave `Db` half-changed on disk (changes are
        // saved whole); the in-memory copy is still what was last saved or about to be.
        self.db
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Creates snapshot `key` over `parent` (which must be committed): `fill` makes the
    /// contents of its new dir, given the parent's `Snap`; the record is saved only after.
    pub fn create(
        &self,
        key: &str,
        parent: Option<&str>,
        kind: Kind,
        fill: impl FnOnce(&Path, Option<&Snap>) -> Result<(), SnapshotError>,
    ) -> Result<Snap, SnapshotError> {
        let mut db = self.lock();
        if db.snapshots.contains_key(key) {
            return Err(SnapshotError::AlreadyExists {
                key: key.to_owned(),
            });
        }
        let parent_snap = match parent {
            None => None,
            Some(p) => {
                let snap = self.snap(&db, p)?;
                if snap.info.kind != Kind::Committed {
                    return Err(SnapshotError::ParentNotCommitted {
                        key: key.to_owned(),
                        parent: p.to_owned(),
                    });
                }
                Some(snap)
            }
        };
        let id = db.next_id;
        let dir = self.snapshots.join(id.to_string());
        // A leftover of a crashed attempt with this id would be in the way.
        remove_tree(&dir)?;
        fs::create_dir(&dir).map_err(io_err("creating", &dir))?;
        // The record must not reach the disk before the dir it names (a power cut, not a
        // crash, could otherwise leave a record without its dir).
        let made = fill(&dir, parent_snap.as_ref())
            .and_then(|()| sync_dir(&dir))
            .and_then(|()| sync_dir(&self.snapshots));
        if let Err(e) = made {
            let _ = remove_tree(&dir);
            return Err(e);
        }
        db.next_id += 1;
        db.snapshots.insert(
            key.to_owned(),
            Record {
                id,
                kind,
                parent: parent.map(str::to_owned),
            },
        );
        if let Err(e) = self.save(&db) {
            db.snapshots.remove(key);
            let _ = remove_tree(&dir);
            return Err(e);
        }
        self.snap(&db, key)
    }

    /// Turns the active snapshot `key` into the committed snapshot `name`.
    pub fn commit(&self, name: &str, key: &str) -> Result<(), SnapshotError> {
        let mut db = self.lock();
        let record = db
            .snapshots
            .get(key)
            .cloned()
            .ok_or_else(|| SnapshotError::NotFound {
                key: key.to_owned(),
            })?;
        if record.kind != Kind::Active {
            return Err(SnapshotError::NotActive {
                key: key.to_owned(),
                kind: record.kind,
            });
        }
        if db.snapshots.contains_key(name) {
            return Err(SnapshotError::AlreadyExists {
                key: name.to_owned(),
            });
        }
        db.snapshots.remove(key);
        db.snapshots.insert(
            name.to_owned(),
            Record {
                kind: Kind::Committed,
                ..record.clone()
            },
        );
        if let Err(e) = self.save(&db) {
            db.snapshots.remove(name);
            db.snapshots.insert(key.to_owned(), record);
            return Err(e);
        }
        Ok(())
    }

    /// Removes `key` (refused while other snapshots are made on it) and its dir.
    pub fn remove(&self, key: &str) -> Result<(), SnapshotError> {
        let mut db = self.lock();
        let record = db
            .snapshots
            .get(key)
            .cloned()
            .ok_or_else(|| SnapshotError::NotFound {
                key: key.to_owned(),
            })?;
        let children: Vec<String> = db
            .snapshots
            .iter()
            .filter(|(_, r)| r.parent.as_deref() == Some(key))
            .map(|(k, _)| k.clone())
            .collect();
        if !children.is_empty() {
            return Err(SnapshotError::HasChildren {
                key: key.to_owned(),
                children,
            });
        }
        db.snapshots.remove(key);
        if let Err(e) = self.save(&db) {
            db.snapshots.insert(key.to_owned(), record);
            return Err(e);
        }
        // The record is gone, so a failure here leaves an orphan that the next open removes.
        remove_tree(&self.snapshots.join(record.id.to_string()))
    }

    pub fn get(&self, key: &str) -> Result<Snap, SnapshotError> {
        let db = self.lock();
        self.snap(&db, key)
    }

    pub fn list(&self) -> Vec<Info> {
        let db = self.lock();
        db.snapshots.iter().map(|(key, r)| info(key, r)).collect()
    }

    fn snap(&self, db: &Db, key: &str) -> Result<Snap, SnapshotError> {
        let record = db
            .snapshots
            .get(key)
            .ok_or_else(|| SnapshotError::NotFound {
                key: key.to_owned(),
            })?;
        let mut ancestors = Vec::new();
        let mut next = record.parent.as_deref();
        while let Some(parent) = next {
            let r = db
                .snapshots
                .get(parent)
                .ok_or_else(|| SnapshotError::NotFound {
                    key: parent.to_owned(),
                })?;
            // Parents are always older, so a chain longer than the store is a corrupt loop.
            if ancestors.len() > db.snapshots.len() {
                return Err(SnapshotError::CorruptChain {
                    key: key.to_owned(),
                });
            }
            ancestors.push(self.snapshots.join(r.id.to_string()).join("fs"));
            next = r.parent.as_deref();
        }
        Ok(Snap {
            info: info(key, record),
            dir: self.snapshots.join(record.id.to_string()),
            ancestors,
        })
    }

    fn save(&self, db: &Db) -> Result<(), SnapshotError> {
        let temp = self.root.join(METADATA_TEMP);
        let target = self.root.join(METADATA);
        let json = serde_json::to_vec_pretty(db).map_err(|source| SnapshotError::Metadata {
            path: target.clone(),
            source,
        })?;
        let mut file = File::create(&temp).map_err(io_err("creating", &temp))?;
        file.write_all(&json).map_err(io_err("writing", &temp))?;
        file.sync_all().map_err(io_err("syncing", &temp))?;
        drop(file);
        fs::rename(&temp, &target).map_err(io_err("renaming into place", &target))?;
        sync_dir(&self.root)
    }
}

fn info(key: &str, record: &Record) -> Info {
    Info {
        key: key.to_owned(),
        kind: record.kind,
        parent: record.parent.clone(),
    }
}

fn sync_dir(path: &Path) -> Result<(), SnapshotError> {
    File::open(path)
        .and_then(|d| d.sync_all())
        .map_err(io_err("syncing", path))
}

/// Removes a snapshot dir and everything in it, not following symlinks; missing is fine.
pub(crate) fn remove_tree(path: &Path) -> Result<(), SnapshotError> {
    match fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err("removing", path)(e)),
    }
}
