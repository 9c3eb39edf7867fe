//! Volumes: the local driver's named and anonymous volumes, as dockerd 20.10 has them.
//!
//! On disk: `<data-root>/volumes/NAME/_data` (0701 above it, as dockerd); records in the
//! store's `volumes` table ([`record::VolumeRecord`]). A volume is made by creating its
//! directories and then committing its record (a container's new volumes commit in the
//! container's own create transaction); it is removed by deleting its record and then its
//! directories. What a crash leaves between the two steps is a directory without a record,
//! which [`Volumes::open`] removes: a volume is either whole or absent.
//!
//! Which containers use a volume is read from the container records themselves, in the
//! transaction that removes the volume. One lock serializes every change of volume state
//! (records, directories, mounts), including the part of a container create that makes
//! volumes and commits them, so a volume being made for a container cannot be pruned
//! before the container holds it.
//!
//! Volumes with mount options (`-o type=tmpfs,device=tmpfs,o=size=64m`) are mounted on
//! their data directory while a running container uses them: by the first start, until the
//! last of its containers stops ([`local`]).
//!
//! Modules: `record` (the record, names, API shape), `local` (driver options and mounts),
//! `copy_up` (image content into an empty volume), `filters` (`volume ls` and `prune`),
//! `containers` (what the container service asks: create claims, mounts at start and exit).

mod containers;
mod copy_up;
mod filters;
mod local;
pub mod record;

pub use copy_up::copy_up;
pub use record::VolumeRecord;

use crate::config::EngineConfig;
use crate::containers::record as container_records;
use crate::error::{Error, Result};
use crate::store::{self, Store};
use record::VOLUMES;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

/// The only volume driver.
pub const LOCAL_DRIVER: &str = "local";

/// Data directories under the volume's own directory have this name, as with dockerd.
const DATA_DIR: &str = "_data";

/// `POST /volumes/create`.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// "" for a random 64-hex name.
    pub name: String,
    /// "" or "local".
    pub driver: String,
    pub driver_opts: BTreeMap<String, String>,
    pub labels: Option<BTreeMap<String, String>>,
}

pub struct Volumes {
    root: PathBuf,
    store: Store,
    state: Mutex<Mounted>,
}

/// The containers that have each volume with mount options mounted (by volume name).
#[derive(Default)]
struct Mounted {
    users: HashMap<String, BTreeSet<String>>,
}

fn lock(m: &Mutex<Mounted>) -> MutexGuard<'_, Mounted> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn io_context(what: impl std::fmt::Display) -> impl FnOnce(std::io::Error) -> Error {
    move |e| Error::context(what, e)
}

fn unknown_driver(name: &str, driver: &str) -> Error {
    Error::not_found(format!(
        "create {name}: error looking up volume plugin {driver}: plugin \"{driver}\" not found"
    ))
}

fn check_driver(name: &str, driver: &str) -> Result<()> {
    if driver.is_empty() || driver == LOCAL_DRIVER {
        Ok(())
    } else {
        Err(unknown_driver(name, driver))
    }
}

/// Whether a mount sits on `path` itself (a bind of a directory on the same filesystem
/// included, which a device comparison would miss).
fn is_mount_point(path: &Path) -> bool {
    use rustix::fs::{AtFlags, StatxAttributes, StatxFlags};
    match rustix::fs::statx(
        rustix::fs::CWD,
        path,
        AtFlags::NO_AUTOMOUNT | AtFlags::SYMLINK_NOFOLLOW,
        StatxFlags::empty(),
    ) {
        Ok(s) if s.stx_attributes_mask.contains(StatxAttributes::MOUNT_ROOT) => {
            s.stx_attributes.contains(StatxAttributes::MOUNT_ROOT)
        }
        _ => {
            use std::os::unix::fs::MetadataExt;
            let dev = |p: &Path| std::fs::symlink_metadata(p).map(|m| m.dev()).ok();
            match (dev(path), path.parent().and_then(dev)) {
                (Some(a), Some(b)) => a != b,
                _ => false,
            }
        }
    }
}

impl Volumes {
    /// Opens the volume root and removes what a crash left of volumes without records.
    pub fn open(config: &EngineConfig, store: Store) -> Result<Self> {
        let root = config.data_root.join("volumes");
        make_dir(&root, 0o701)?;
        let volumes = Volumes {
            root,
            store,
            state: Mutex::new(Mounted::default()),
        };
        let known: BTreeSet<String> = volumes
            .store
            .list::<VolumeRecord>(VOLUMES)?
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        let entries = std::fs::read_dir(&volumes.root)
            .map_err(io_context(format!("list {}", volumes.root.display())))?;
        for entry in entries.flatten() {
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            if record::validate_name(&name).is_ok()
                && !known.contains(&name)
                && entry.file_type().is_ok_and(|t| t.is_dir())
                && let Err(e) = volumes.remove_files(&name)
            {
                tracing::warn!("remove the leftovers of volume {name}: {e}");
            }
        }
        Ok(volumes)
    }

    /// Where volume `name` keeps its data (its `Mountpoint`).
    pub fn data_dir(&self, name: &str) -> PathBuf {
        self.root.join(name).join(DATA_DIR)
    }

    fn api(&self, record: &VolumeRecord) -> Value {
        record.to_api(&self.data_dir(&record.name))
    }

    fn get(&self, name: &str) -> Result<VolumeRecord> {
        self.store
            .get::<VolumeRecord>(VOLUMES, name)?
            .ok_or_else(|| record::not_found(name))
    }

    /// A record for a volume that does not exist yet, its options checked.
    fn new_record(
        name: &str,
        options: &BTreeMap<String, String>,
        labels: Option<BTreeMap<String, String>>,
    ) -> Result<VolumeRecord> {
        record::validate_name(name)?;
        local::validate(name, options)?;
        Ok(VolumeRecord {
            name: name.to_string(),
            driver: LOCAL_DRIVER.to_string(),
            created_at: record::now_created_at(),
            labels,
            options: (!options.is_empty()).then(|| options.clone()),
        })
    }

    /// `<root>/NAME/_data`, fresh: anything a failed attempt left there goes first.
    fn make_dirs(&self, name: &str) -> Result<()> {
        self.remove_files(name)?;
        make_dir(&self.root.join(name), 0o701)?;
        make_dir(&self.data_dir(name), 0o755)
    }

    /// A volume's directories; its data directory is unmounted first and never removed
    /// while something is still mounted on it.
    fn remove_files(&self, name: &str) -> Result<()> {
        let dir = self.root.join(name);
        let data = self.data_dir(name);
        if !dir.exists() {
            return Ok(());
        }
        if data.exists() {
            berth_image::mount::unmount(&data)
                .map_err(|e| Error::context(format!("unmount volume {name}"), e))?;
            if is_mount_point(&data) {
                return Err(Error::internal(format!(
                    "remove volume {name}: {} is still a mount point",
                    data.display()
                )));
            }
        }
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::context(format!("remove volume {name}"), e)),
        }
    }

    /// `POST /volumes/create`: the new volume, or the one of that name that exists.
    pub fn create(&self, opts: CreateOptions) -> Result<Value> {
        let name = if opts.name.is_empty() {
            container_records::random_id()?
        } else {
            opts.name.clone()
        };
        check_driver(&name, &opts.driver)?;
        let _state = lock(&self.state);
        if let Some(existing) = self.store.get::<VolumeRecord>(VOLUMES, &name)? {
            return Ok(self.api(&existing));
        }
        let record = Self::new_record(&name, &opts.driver_opts, opts.labels)?;
        self.make_dirs(&name)?;
        if let Err(e) = self
            .store
            .write(|txn| store::put(txn, VOLUMES, &name, &record))
        {
            let _ = self.remove_files(&name);
            return Err(e);
        }
        Ok(self.api(&record))
    }

    /// `GET /volumes/{name}`.
    pub fn inspect(&self, name: &str) -> Result<Value> {
        Ok(self.api(&self.get(name)?))
    }

    /// `GET /volumes?filters=`: `{"Volumes": [...], "Warnings": null}`.
    pub fn list(&self, filters: Option<&str>) -> Result<Value> {
        let filter = filters::ListFilter::parse(filters.unwrap_or(""))?;
        let users = container_records::volume_use_counts(&self.store)?;
        let volumes: Vec<Value> = self
            .store
            .list::<VolumeRecord>(VOLUMES)?
            .into_iter()
            .map(|(_, r)| r)
            .filter(|r| filter.matches(r, users.get(&r.name).copied().unwrap_or(0) > 0))
            .map(|r| self.api(&r))
            .collect();
        Ok(json!({"Volumes": volumes, "Warnings": null}))
    }

    /// `DELETE /volumes/{name}`: refused (409) while any container uses it; `force` makes a
    /// missing volume no error.
    pub fn remove(&self, name: &str, force: bool) -> Result<()> {
        let _state = lock(&self.state);
        let removed = self.store.write(|txn| {
            if record::get_in(txn, name)?.is_none() {
                return if force {
                    Ok(false)
                } else {
                    Err(record::not_found(name))
                };
            }
            let users = container_records::volume_users_in(txn, name)?;
            if !users.is_empty() {
                return Err(Error::conflict(format!(
                    "remove {name}: volume is in use - [{}]",
                    users.join(", ")
                )));
            }
            store::remove(txn, VOLUMES, name)
        })?;
        if removed {
            self.remove_files(name)?;
        }
        Ok(())
    }

    /// `POST /volumes/prune`: removes every local volume without mount options that no
    /// container uses and that the label filters select; (names, bytes reclaimed).
    pub fn prune(&self, filters: Option<&str>) -> Result<(Vec<String>, u64)> {
        let filter = filters::PruneFilter::parse(filters.unwrap_or(""))?;
        let _state = lock(&self.state);
        let candidates: Vec<VolumeRecord> = self
            .store
            .list::<VolumeRecord>(VOLUMES)?
            .into_iter()
            .map(|(_, r)| r)
            .filter(|r| r.driver == LOCAL_DRIVER && !r.has_options() && filter.matches(r))
            .collect();
        let sizes: HashMap<String, u64> = candidates
            .iter()
            .map(|r| (r.name.clone(), self.size_of(&r.name).unwrap_or(0)))
            .collect();
        let removed = self.store.write(|txn| {
            let mut removed = Vec::new();
            for r in &candidates {
                if container_records::volume_users_in(txn, &r.name)?.is_empty() {
                    store::remove(txn, VOLUMES, &r.name)?;
                    removed.push(r.name.clone());
                }
            }
            Ok(removed)
        })?;
        let mut reclaimed = 0;
        for name in &removed {
            if let Err(e) = self.remove_files(name) {
                tracing::warn!("prune volume {name}: {e}");
            }
            reclaimed += sizes.get(name).copied().unwrap_or(0);
        }
        Ok((removed, reclaimed))
    }

    /// The local volumes without mount options, with `UsageData` (`system df`).
    pub fn disk_usage(&self) -> Result<Vec<Value>> {
        let users = container_records::volume_use_counts(&self.store)?;
        Ok(self
            .store
            .list::<VolumeRecord>(VOLUMES)?
            .into_iter()
            .map(|(_, r)| r)
            .filter(|r| r.driver == LOCAL_DRIVER && !r.has_options())
            .map(|r| {
                let size = self.size_of(&r.name).map(|s| s as i64).unwrap_or(-1);
                let mut v = self.api(&r);
                v["UsageData"] = json!({
                    "RefCount": users.get(&r.name).copied().unwrap_or(0),
                    "Size": size,
                });
                v
            })
            .collect())
    }

    fn size_of(&self, name: &str) -> Result<u64> {
        let data = self.data_dir(name);
        let dir = rustix::fs::open(
            &data,
            rustix::fs::OFlags::RDONLY
                | rustix::fs::OFlags::DIRECTORY
                | rustix::fs::OFlags::NOFOLLOW
                | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .map_err(|e| Error::context(format!("open volume {name}"), e))?;
        berth_image::tree::apparent_size(dir.as_fd())
            .map_err(|e| Error::context(format!("measure volume {name}"), e))
    }
}

fn make_dir(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::create_dir(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && path.is_dir() => {}
        Err(e) => return Err(Error::context(format!("create {}", path.display()), e)),
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(io_context(format!("set the mode of {}", path.display())))
}
