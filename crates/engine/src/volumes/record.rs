//! The volume record (`volumes` table, name → JSON), its name rules, and its API shape.

use crate::error::{Error, Result};
use crate::store::{self, Table};
use redb::{TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;

pub const VOLUMES: Table = TableDefinition::new("volumes");

/// What the engine keeps of a volume; its data is `<data-root>/volumes/NAME/_data`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeRecord {
    pub name: String,
    /// Always "local": the only driver.
    pub driver: String,
    /// RFC 3339 in seconds, as dockerd shows it.
    pub created_at: String,
    /// None when created without labels (the API shows `null`).
    pub labels: Option<BTreeMap<String, String>>,
    /// The local driver's options (`type`, `device`, `o`); None when created without.
    pub options: Option<BTreeMap<String, String>>,
}

impl VolumeRecord {
    pub fn labels(&self) -> BTreeMap<String, String> {
        self.labels.clone().unwrap_or_default()
    }

    pub fn has_options(&self) -> bool {
        self.options.as_ref().is_some_and(|o| !o.is_empty())
    }

    /// `GET /volumes/{name}`'s answer (API 1.41 `Volume`).
    pub fn to_api(&self, mountpoint: &Path) -> Value {
        json!({
            "CreatedAt": self.created_at,
            "Driver": self.driver,
            "Labels": self.labels,
            "Mountpoint": mountpoint,
            "Name": self.name,
            "Options": self.options,
            "Scope": "local",
        })
    }
}

/// dockerd's rule for local volume names (they name a directory): `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn validate_name(name: &str) -> Result<()> {
    if name.len() == 1 {
        return Err(Error::invalid(format!(
            "create {name}: volume name is too short, names should be at least two alphanumeric characters"
        )));
    }
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)) {
        return Err(Error::invalid(format!(
            "create {name}: \"{name}\" includes invalid characters for a local volume name, only \
             \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, \
             use absolute path"
        )));
    }
    Ok(())
}

pub fn not_found(name: &str) -> Error {
    Error::not_found(format!("get {name}: no such volume"))
}

pub fn get_in(txn: &WriteTransaction, name: &str) -> Result<Option<VolumeRecord>> {
    store::get(txn, VOLUMES, name)
}

/// Writes the records that are not there yet (another create may have made one meanwhile).
pub fn put_new(txn: &WriteTransaction, records: &[VolumeRecord]) -> Result<()> {
    for record in records {
        if get_in(txn, &record.name)?.is_none() {
            store::put(txn, VOLUMES, &record.name, record)?;
        }
    }
    Ok(())
}

/// "2026-12-03T15:28:25Z": dockerd's `CreatedAt` (RFC 3339 without fractions).
pub fn now_created_at() -> String {
    let full = crate::time::now_rfc3339();
    match full.split_once('.') {
        Some((seconds, _)) => format!("{seconds}Z"),
        None => full,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_dockers_rule_and_messages() {
        for ok in ["ab", "a1", "data_1.x-y", "0f8d7501774acdad"] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        assert_eq!(
            validate_name("a").unwrap_err().message,
            "create a: volume name is too short, names should be at least two alphanumeric characters"
        );
        for bad in ["bad name", "_ab", "/abs", "a/b", "..", "ab:c"] {
            let e = validate_name(bad).unwrap_err();
            assert_eq!(e.kind, crate::ErrorKind::InvalidArgument);
            assert!(
                e.message.starts_with(&format!(
                    "create {bad}: \"{bad}\" includes invalid characters for a local volume name"
                )),
                "{}",
                e.message
            );
        }
    }

    #[test]
    fn created_at_has_seconds_only() {
        let t = now_created_at();
        assert_eq!(t.len(), "2026-12-03T15:28:25Z".len(), "{t}");
        assert!(t.ends_with('Z'));
    }
}
