//! The container record (`containers` table, id → JSON) and the name index (`names` table,
//! name → id), always changed together in one transaction.

use super::mount_points::{self, MountPoint};
use super::options::{Config, CreateBody};
use crate::error::{Error, Result};
use crate::store::{self, Store, Table};
use redb::{TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

pub const CONTAINERS: Table = TableDefinition::new("containers");
pub const NAMES: Table = TableDefinition::new("names");

/// Where a container is in its life. `Starting` and `Removing` are transitional: a record left
/// in one of them by a crash is completed or rolled back when the engine opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Created,
    Starting,
    Running,
    Paused,
    Exited,
    Removing,
}

impl State {
    /// Docker's `State.Status`.
    pub fn docker_status(self) -> &'static str {
        match self {
            State::Created => "created",
            State::Starting | State::Running => "running",
            State::Paused => "paused",
            State::Exited => "exited",
            State::Removing => "removing",
        }
    }
    /// A shim is (or may be) monitoring a process.
    pub fn is_live(self) -> bool {
        matches!(self, State::Starting | State::Running | State::Paused)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerRecord {
    /// 64 hex digits.
    pub id: String,
    /// Without the leading `/`.
    pub name: String,
    /// RFC 3339.
    pub created: String,
    /// The reference the client gave (`Config.Image`).
    pub image_ref: String,
    /// `sha256:...`.
    pub image_id: String,
    /// The create request as received.
    pub body: CreateBody,
    /// `body.config` merged with the image's config: what inspect shows as `Config`.
    pub config: Config,
    pub state: State,
    /// The container's init on the host (0 when none).
    pub pid: i32,
    pub shim_pid: i32,
    pub exit_code: i32,
    /// Why the last start failed or how the container ended abnormally; "" if none.
    pub error: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// Runtime name: "berth" or one of `--add-runtime`.
    pub runtime: String,
    pub restart_count: u64,
    /// Times started through the engine; supervisors of older runs ignore newer ones.
    #[serde(default)]
    pub generation: u64,
    /// The kernel's OOM killer ended a process of the last run (read from the memory cgroup).
    #[serde(default)]
    pub oom_killed: bool,
    /// Volumes, binds and `--mount` tmpfs, resolved at create; None in records made before
    /// berth kept them (see [`ContainerRecord::mount_points`]).
    #[serde(default)]
    pub mounts: Option<Vec<MountPoint>>,
    /// Set with `Removing` when the removal takes the anonymous volumes too, so that one a
    /// crash interrupted finishes as asked.
    #[serde(default)]
    pub removing_volumes: bool,
}

impl ContainerRecord {
    pub fn short_id(&self) -> &str {
        &self.id[..12]
    }

    /// The container's mount points; for a record from before they were kept, its binds.
    pub fn mount_points(&self) -> Vec<MountPoint> {
        match &self.mounts {
            Some(points) => points.clone(),
            None => mount_points::from_binds(&self.body.host_config.binds),
        }
    }

    fn uses_volume(&self, name: &str) -> bool {
        self.mounts
            .iter()
            .flatten()
            .any(|p| p.is_volume() && p.name == name)
    }
}

pub fn load(store: &Store, id: &str) -> Result<Option<ContainerRecord>> {
    store.get(CONTAINERS, id)
}

pub fn list(store: &Store) -> Result<Vec<ContainerRecord>> {
    Ok(store
        .list::<ContainerRecord>(CONTAINERS)?
        .into_iter()
        .map(|(_, r)| r)
        .collect())
}

/// Stores a new record and claims its name, or 409 if the name is taken; `with` writes what
/// must commit together with it (the volumes made for it).
pub fn insert(
    store: &Store,
    record: &ContainerRecord,
    with: impl FnOnce(&WriteTransaction) -> Result<()>,
) -> Result<()> {
    store.write(|txn| {
        if let Some(owner) = store::get::<String>(txn, NAMES, &record.name)? {
            return Err(name_conflict(&record.name, &owner));
        }
        store::put(txn, NAMES, &record.name, &record.id)?;
        store::put(txn, CONTAINERS, &record.id, record)?;
        with(txn)
    })
}

/// IDs of the containers (in any state) whose mounts use volume `name`, as the transaction
/// sees them.
pub fn volume_users_in(txn: &WriteTransaction, name: &str) -> Result<Vec<String>> {
    Ok(store::list_in::<ContainerRecord>(txn, CONTAINERS)?
        .into_iter()
        .map(|(_, r)| r)
        .filter(|r| r.uses_volume(name))
        .map(|r| r.id)
        .collect())
}

/// Volume name → how many containers use it.
pub fn volume_use_counts(store: &Store) -> Result<HashMap<String, usize>> {
    let mut counts = HashMap::new();
    for record in list(store)? {
        let mut names: Vec<&str> = record
            .mounts
            .iter()
            .flatten()
            .filter(|p| p.is_volume())
            .map(|p| p.name.as_str())
            .collect();
        names.sort_unstable();
        names.dedup();
        for name in names {
            *counts.entry(name.to_string()).or_insert(0) += 1;
        }
    }
    Ok(counts)
}

pub fn name_conflict(name: &str, owner: &str) -> Error {
    Error::conflict(format!(
        "Conflict. The container name \"/{name}\" is already in use by container \"{owner}\". \
         You have to remove (or rename) that container to be able to reuse that name."
    ))
}

/// Reads, changes and writes back one record in one transaction; NotFound if it is gone.
pub fn update<T>(
    store: &Store,
    id: &str,
    f: impl FnOnce(&mut ContainerRecord) -> Result<T>,
) -> Result<(T, ContainerRecord)> {
    store.write(|txn| {
        let mut record: ContainerRecord = store::get(txn, CONTAINERS, id)?
            .ok_or_else(|| Error::not_found(format!("No such container: {id}")))?;
        let out = f(&mut record)?;
        store::put(txn, CONTAINERS, id, &record)?;
        Ok((out, record))
    })
}

/// Renames, or 409 if `new_name` belongs to another container.
pub fn rename(store: &Store, id: &str, new_name: &str) -> Result<()> {
    store.write(|txn| {
        let mut record: ContainerRecord = store::get(txn, CONTAINERS, id)?
            .ok_or_else(|| Error::not_found(format!("No such container: {id}")))?;
        if let Some(owner) = store::get::<String>(txn, NAMES, new_name)? {
            if owner == id {
                return Err(Error::invalid(
                    "Renaming a container with the same name as its current name",
                ));
            }
            return Err(name_conflict(new_name, &owner));
        }
        store::remove(txn, NAMES, &record.name)?;
        store::put(txn, NAMES, new_name, &record.id)?;
        record.name = new_name.to_string();
        store::put(txn, CONTAINERS, id, &record)
    })
}

/// Removes the record and its name.
pub fn delete(store: &Store, id: &str) -> Result<()> {
    store.write(|txn| {
        if let Some(record) = store::get::<ContainerRecord>(txn, CONTAINERS, id)? {
            if store::get::<String>(txn, NAMES, &record.name)?.as_deref() == Some(id) {
                store::remove(txn, NAMES, &record.name)?;
            }
            store::remove(txn, CONTAINERS, id)?;
        }
        Ok(())
    })
}

/// A full ID, a name (with or without `/`), or a unique ID prefix → the full ID.
pub fn lookup(store: &Store, reference: &str) -> Result<String> {
    let not_found = || Error::not_found(format!("No such container: {reference}"));
    if reference.is_empty() {
        return Err(not_found());
    }
    if reference.len() == 64
        && store
            .get::<ContainerRecord>(CONTAINERS, reference)?
            .is_some()
    {
        return Ok(reference.to_string());
    }
    let bare = reference.strip_prefix('/').unwrap_or(reference);
    if let Some(id) = store.get::<String>(NAMES, bare)? {
        return Ok(id);
    }
    if !reference.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(not_found());
    }
    let ids: Vec<String> = store
        .list::<serde_json::Value>(CONTAINERS)?
        .into_iter()
        .map(|(k, _)| k)
        .filter(|k| k.starts_with(reference))
        .collect();
    match ids.len() {
        0 => Err(not_found()),
        1 => Ok(ids.into_iter().next().unwrap_or_default()),
        _ => Err(Error::invalid(format!(
            "Multiple IDs found with provided prefix: {reference}"
        ))),
    }
}

/// 64 random hex digits from the kernel's generator.
pub fn random_id() -> Result<String> {
    let mut bytes = [0u8; 32];
    random_bytes(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

pub fn random_u64() -> Result<u64> {
    let mut bytes = [0u8; 8];
    random_bytes(&mut bytes)?;
    Ok(u64::from_le_bytes(bytes))
}

fn random_bytes(buf: &mut [u8]) -> Result<()> {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(buf))
        .map_err(|e| Error::context("read /dev/urandom", e))
}
