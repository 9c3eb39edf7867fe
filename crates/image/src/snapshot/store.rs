//! Snapshot metadata and directories, shared by both snapshotters.
//!
//! Layout under the root: `snapshots.redb` (every snapshot: key, id, kind, parent; and the next
//! id), `lock` (held with flock while a process has the store open) and `snapshots/<id>/` (one
//! short numeric dir per snapshot). Every change is one redb transaction touching only the
//! records it changes (durable once committed), so a kill -9 at any instant leaves either the old
//! or the new state, and a change costs the same with ten snapshots or ten thousand. The records
//! are also kept in memory, where every read is served.
//! A snapshot dir is made completely before its record is saved and removed only after its
//! record is gone; a dir without a record (a crash in between) is deleted at the next open.
//! A `metadata.json` of earlier versions (the whole map, rewritten on each change) is imported
//! into the database once and then removed.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use super::{Info, Kind, SnapshotError};

const DATABASE: &str = "snapshots.redb";
const LEGACY_METADATA: &str = "metadata.json";
const LEGACY_METADATA_TEMP: &str = "metadata.json.tmp";
/// Snapshot key -> JSON [`Record`].
const RECORDS: TableDefinition<&str, &[u8]> = TableDefinition::new("snapshots");
/// "next_id" -> the id the next snapshot dir gets.
const COUNTERS: TableDefinition<&str, u64> = TableDefinition::new("counters");
const NEXT_ID: &str = "next_id";

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

/// One change of the records, applied to the database in one transaction.
enum Change<'a> {
    Put(&'a str, &'a Record),
    Delete(&'a str),
    NextId(u64),
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
    snapshots: PathBuf,
    database: Database,
    database_path: PathBuf,
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

        let database_path = root.join(DATABASE);
        let store_err = |source: redb::Error| SnapshotError::Store {
            path: database_path.clone(),
            source,
        };
        let database = Database::create(&database_path).map_err(|e| store_err(e.into()))?;
        let db = load(&database).map_err(store_err)?;
        let store = Store {
            snapshots,
            database,
            database_path: database_path.clone(),
            db: Mutex::new(db),
            _lock: lock,
        };
        store.import_legacy(root)?;
        store.remove_leftovers()?;
        Ok(store)
    }

    /// Moves the records of an earlier version's `metadata.json` into the database (once: the
    /// file is removed after the commit) and drops its temporary file.
    fn import_legacy(&self, root: &Path) -> Result<(), SnapshotError> {
        let temp = root.join(LEGACY_METADATA_TEMP);
        match fs::remove_file(&temp) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("removing", &temp)(e)),
        }
        let legacy_path = root.join(LEGACY_METADATA);
        let legacy: Db = match fs::read(&legacy_path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|source| SnapshotError::Metadata {
                    path: legacy_path.clone(),
                    source,
                })?
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_err("reading", &legacy_path)(e)),
        };
        let mut db = self.lock();
        let mut changes: Vec<Change<'_>> = legacy
            .snapshots
            .iter()
            .map(|(key, record)| Change::Put(key, record))
            .collect();
        let next_id = legacy.next_id.max(db.next_id);
        changes.push(Change::NextId(next_id));
        self.apply(&changes)?;
        db.next_id = next_id;
        db.snapshots.extend(legacy.snapshots.clone());
        drop(db);
        fs::remove_file(&legacy_path).map_err(io_err("removing", &legacy_path))
    }

    /// Deletes snapshot dirs that no record names (a crash while one was made or removed).
    fn remove_leftovers(&self) -> Result<(), SnapshotError> {
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
        let record = Record {
            id,
            kind,
            parent: parent.map(str::to_owned),
        };
        if let Err(e) = self.apply(&[Change::Put(key, &record), Change::NextId(id + 1)]) {
            let _ = remove_tree(&dir);
            return Err(e);
        }
        db.next_id = id + 1;
        db.snapshots.insert(key.to_owned(), record);
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
        let committed = Record {
            kind: Kind::Committed,
            ..record
        };
        self.apply(&[Change::Delete(key), Change::Put(name, &committed)])?;
        db.snapshots.remove(key);
        db.snapshots.insert(name.to_owned(), committed);
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
        self.apply(&[Change::Delete(key)])?;
        db.snapshots.remove(key);
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

    /// Commits `changes` in one transaction (durable when this returns Ok).
    fn apply(&self, changes: &[Change<'_>]) -> Result<(), SnapshotError> {
        let write = || -> Result<(), redb::Error> {
            let txn = self.database.begin_write()?;
            {
                let mut records = txn.open_table(RECORDS)?;
                let mut counters = txn.open_table(COUNTERS)?;
                for change in changes {
                    match change {
                        Change::Put(key, record) => {
                            let json = serde_json::to_vec(record).map_err(|e| {
                                redb::Error::Corrupted(format!("encode snapshot {key:?}: {e}"))
                            })?;
                            records.insert(*key, json.as_slice())?;
                        }
                        Change::Delete(key) => {
                            records.remove(*key)?;
                        }
                        Change::NextId(id) => {
                            counters.insert(NEXT_ID, *id)?;
                        }
                    }
                }
            }
            txn.commit()?;
            Ok(())
        };
        write().map_err(|source| SnapshotError::Store {
            path: self.database_path.clone(),
            source,
        })
    }
}

/// Every record and the next id, as the database has them.
fn load(database: &Database) -> Result<Db, redb::Error> {
    let txn = database.begin_read()?;
    let mut db = Db::default();
    match txn.open_table(COUNTERS) {
        Ok(counters) => {
            db.next_id = counters.get(NEXT_ID)?.map_or(0, |v| v.value());
        }
        Err(redb::TableError::TableDoesNotExist(_)) => {}
        Err(e) => return Err(e.into()),
    }
    let records = match txn.open_table(RECORDS) {
        Ok(records) => records,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(db),
        Err(e) => return Err(e.into()),
    };
    for row in records.iter()? {
        let (key, value) = row?;
        let record: Record = serde_json::from_slice(value.value()).map_err(|e| {
            redb::Error::Corrupted(format!("snapshot record {:?}: {e}", key.value()))
        })?;
        db.next_id = db.next_id.max(record.id + 1);
        db.snapshots.insert(key.value().to_owned(), record);
    }
    Ok(db)
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
