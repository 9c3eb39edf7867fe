//! The metadata store: one redb database (`<data-root>/metadata.redb`) for containers, images,
//! tags and names. redb commits are atomic and durable (fsync before the commit is visible),
//! so a `kill -9` at any instant leaves either the old or the new state of every transaction.
//!
//! Each module defines its own tables (`TableDefinition<&str, &[u8]>` with JSON values) and
//! does all the changes of one operation in one `write` closure, so that related records
//! (a container and its name, an image and its tags) change together or not at all.

use crate::error::{Error, Result};
use redb::{
    Database, ReadTransaction, ReadableDatabase, ReadableTable, TableDefinition, TableHandle,
    WriteTransaction,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::Path;
use std::sync::Arc;

pub type Table = TableDefinition<'static, &'static str, &'static [u8]>;

#[derive(Clone)]
pub struct Store {
    db: Arc<Database>,
}

impl Store {
    pub fn open(path: &Path) -> Result<Self> {
        let db = Database::create(path)
            .map_err(|e| Error::context(format!("open metadata store {}", path.display()), e))?;
        Ok(Store { db: Arc::new(db) })
    }

    /// Runs `f` in one write transaction and commits it; an error from `f` aborts everything it did.
    pub fn write<T>(&self, f: impl FnOnce(&WriteTransaction) -> Result<T>) -> Result<T> {
        let txn = self
            .db
            .begin_write()
            .map_err(|e| Error::context("begin metadata transaction", e))?;
        let out = f(&txn)?;
        txn.commit()
            .map_err(|e| Error::context("commit metadata transaction", e))?;
        Ok(out)
    }

    pub fn read<T>(&self, f: impl FnOnce(&ReadTransaction) -> Result<T>) -> Result<T> {
        let txn = self
            .db
            .begin_read()
            .map_err(|e| Error::context("begin metadata read", e))?;
        f(&txn)
    }

    pub fn get<T: DeserializeOwned>(&self, table: Table, key: &str) -> Result<Option<T>> {
        self.read(|txn| get_in_read(txn, table, key))
    }

    pub fn list<T: DeserializeOwned>(&self, table: Table) -> Result<Vec<(String, T)>> {
        self.read(|txn| match txn.open_table(table) {
            Ok(t) => rows(table, &t),
            Err(redb::TableError::TableDoesNotExist(_)) => Ok(Vec::new()),
            Err(e) => Err(Error::context(format!("open table {}", table.name()), e)),
        })
    }
}

fn decode<T: DeserializeOwned>(table: Table, key: &str, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes)
        .map_err(|e| Error::context(format!("decode {} record {key:?}", table.name()), e))
}

fn get_in_read<T: DeserializeOwned>(
    txn: &ReadTransaction,
    table: Table,
    key: &str,
) -> Result<Option<T>> {
    let t = match txn.open_table(table) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
        Err(e) => return Err(Error::context(format!("open table {}", table.name()), e)),
    };
    let v = t
        .get(key)
        .map_err(|e| Error::context(format!("read {} record {key:?}", table.name()), e))?;
    v.map(|v| decode(table, key, v.value())).transpose()
}

/// Record access inside a `Store::write` closure.
pub fn put<T: Serialize>(txn: &WriteTransaction, table: Table, key: &str, value: &T) -> Result<()> {
    let bytes = serde_json::to_vec(value)
        .map_err(|e| Error::context(format!("encode {} record {key:?}", table.name()), e))?;
    let mut t = txn
        .open_table(table)
        .map_err(|e| Error::context(format!("open table {}", table.name()), e))?;
    t.insert(key, bytes.as_slice())
        .map_err(|e| Error::context(format!("write {} record {key:?}", table.name()), e))?;
    Ok(())
}

pub fn get<T: DeserializeOwned>(
    txn: &WriteTransaction,
    table: Table,
    key: &str,
) -> Result<Option<T>> {
    let t = txn
        .open_table(table)
        .map_err(|e| Error::context(format!("open table {}", table.name()), e))?;
    let v = t
        .get(key)
        .map_err(|e| Error::context(format!("read {} record {key:?}", table.name()), e))?;
    v.map(|v| decode(table, key, v.value())).transpose()
}

/// Every record of `table`, inside a `Store::write` closure (what the transaction sees).
pub fn list_in<T: DeserializeOwned>(
    txn: &WriteTransaction,
    table: Table,
) -> Result<Vec<(String, T)>> {
    let t = txn
        .open_table(table)
        .map_err(|e| Error::context(format!("open table {}", table.name()), e))?;
    rows(table, &t)
}

fn rows<T: DeserializeOwned>(
    table: Table,
    t: &impl ReadableTable<&'static str, &'static [u8]>,
) -> Result<Vec<(String, T)>> {
    let read_err =
        |e: redb::StorageError| Error::context(format!("read table {}", table.name()), e);
    let mut out = Vec::new();
    for row in t.iter().map_err(read_err)? {
        let (k, v) = row.map_err(read_err)?;
        out.push((k.value().to_string(), decode(table, k.value(), v.value())?));
    }
    Ok(out)
}

/// Removes a record; true if it was there.
pub fn remove(txn: &WriteTransaction, table: Table, key: &str) -> Result<bool> {
    let mut t = txn
        .open_table(table)
        .map_err(|e| Error::context(format!("open table {}", table.name()), e))?;
    let old = t
        .remove(key)
        .map_err(|e| Error::context(format!("remove {} record {key:?}", table.name()), e))?;
    Ok(old.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Table = TableDefinition::new("test");

    #[test]
    fn a_failed_write_leaves_nothing_and_a_committed_one_survives_reopen() {
        let dir = std::env::temp_dir().join(format!("berth-store-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("m.redb");
        {
            let s = Store::open(&path).expect("open");
            s.write(|t| put(t, T, "a", &1u32)).expect("write");
            let r: Result<()> = s.write(|t| {
                put(t, T, "b", &2u32)?;
                Err(Error::invalid("no"))
            });
            assert!(r.is_err());
            assert_eq!(s.get::<u32>(T, "b").expect("get"), None);
        }
        let s = Store::open(&path).expect("reopen");
        assert_eq!(s.get::<u32>(T, "a").expect("get"), Some(1));
        assert_eq!(s.list::<u32>(T).expect("list").len(), 1);
        std::fs::remove_dir_all(&dir).expect("clean");
    }
}
