//! What the container service asks of volumes: a create's new volumes under the volume lock
//! ([`Claim`]), the mounts of volumes with mount options at start and exit (with recovery's
//! view of who holds them), and `rm -v`'s removal of anonymous volumes.

use super::{
    Mounted, VOLUMES, VolumeRecord, Volumes, check_driver, is_mount_point, local, lock, record,
};
use crate::containers::mount_points::{MountPoint, Resolved};
use crate::containers::record as container_records;
use crate::error::{Error, Result};
use crate::store;
use std::collections::HashMap;
use std::sync::MutexGuard;

impl Volumes {
    /// For a container create: makes the volumes its mounts need that do not exist yet and
    /// fills in the mounts' sources. The returned claim holds the volume lock until it is
    /// dropped; unless [`Claim::keep`] was called (after the container's record, with
    /// [`Claim::new_records`], committed), the volumes it made are removed again.
    pub(crate) fn claim(&self, resolved: &mut Resolved) -> Result<Claim<'_>> {
        let state = lock(&self.state);
        let mut claim = Claim {
            volumes: self,
            state,
            new: Vec::new(),
            kept: false,
        };
        let mut known: HashMap<String, VolumeRecord> = HashMap::new();
        for wanted in &resolved.volumes {
            check_driver(&wanted.name, &wanted.driver)?;
            let record = match self.store.get::<VolumeRecord>(VOLUMES, &wanted.name)? {
                Some(existing) => existing,
                None => {
                    let labels = (!wanted.labels.is_empty()).then(|| wanted.labels.clone());
                    let record = Self::new_record(&wanted.name, &wanted.options, labels)?;
                    self.make_dirs(&wanted.name)?;
                    claim.new.push(record.clone());
                    record
                }
            };
            known.insert(wanted.name.clone(), record);
        }
        for point in resolved.points.iter_mut().filter(|p| p.is_volume()) {
            let Some(record) = known.get(&point.name) else {
                continue;
            };
            point.source = self.data_dir(&point.name).display().to_string();
            point.driver = record.driver.clone();
            // A mounted volume's content exists only while it is mounted: copying into it
            // now would be lost when it is mounted at start, as with dockerd.
            if local::needs_mount(record.options.as_ref())
                && claim
                    .state
                    .users
                    .get(&point.name)
                    .is_none_or(|u| u.is_empty())
            {
                point.copy_data = false;
            }
        }
        Ok(claim)
    }

    /// The records of the volumes with mount options among `points`.
    fn mounted_kind(&self, points: &[MountPoint]) -> Result<Vec<VolumeRecord>> {
        let mut out = Vec::new();
        for point in points.iter().filter(|p| p.is_volume()) {
            if let Some(r) = self.store.get::<VolumeRecord>(VOLUMES, &point.name)?
                && local::needs_mount(r.options.as_ref())
                && !out.iter().any(|o: &VolumeRecord| o.name == r.name)
            {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// At a container's start: mounts its volumes that have mount options and are not
    /// mounted yet, and counts it as their user.
    pub(crate) fn mount_for(&self, container: &str, points: &[MountPoint]) -> Result<()> {
        let records = self.mounted_kind(points)?;
        if records.is_empty() {
            return Ok(());
        }
        let mut state = lock(&self.state);
        let mut mounted_now: Vec<&VolumeRecord> = Vec::new();
        for r in &records {
            let data = self.data_dir(&r.name);
            if !is_mount_point(&data) {
                let options = r.options.clone().unwrap_or_default();
                if let Err(e) = local::mount(&r.name, &options, &data) {
                    for done in mounted_now {
                        let _ = berth_image::mount::unmount(&self.data_dir(&done.name));
                        if let Some(users) = state.users.get_mut(&done.name) {
                            users.remove(container);
                        }
                    }
                    return Err(e);
                }
                mounted_now.push(r);
            }
            state
                .users
                .entry(r.name.clone())
                .or_default()
                .insert(container.to_string());
        }
        Ok(())
    }

    /// At a container's exit: it no longer uses its mounted volumes; those without another
    /// user are unmounted.
    pub(crate) fn release(&self, container: &str, points: &[MountPoint]) {
        let records = match self.mounted_kind(points) {
            Ok(r) if r.is_empty() => return,
            Ok(r) => r,
            Err(e) => {
                tracing::warn!("release the volumes of {container}: {e}");
                return;
            }
        };
        let mut state = lock(&self.state);
        for r in &records {
            let users = state.users.entry(r.name.clone()).or_default();
            users.remove(container);
            if users.is_empty() {
                state.users.remove(&r.name);
                if let Err(e) = berth_image::mount::unmount(&self.data_dir(&r.name)) {
                    tracing::warn!("unmount volume {}: {e}", r.name);
                }
            }
        }
    }

    /// At recovery, for a container found running: it holds its mounted volumes.
    pub(crate) fn adopt(&self, container: &str, points: &[MountPoint]) {
        let records = match self.mounted_kind(points) {
            Ok(r) if !r.is_empty() => r,
            _ => return,
        };
        let mut state = lock(&self.state);
        for r in &records {
            state
                .users
                .entry(r.name.clone())
                .or_default()
                .insert(container.to_string());
        }
    }

    /// After recovery: unmounts the volumes an earlier run left mounted that no running
    /// container holds.
    pub(crate) fn settle_mounts(&self) -> Result<()> {
        let state = lock(&self.state);
        for (_, r) in self.store.list::<VolumeRecord>(VOLUMES)? {
            let data = self.data_dir(&r.name);
            if local::needs_mount(r.options.as_ref())
                && state.users.get(&r.name).is_none_or(|u| u.is_empty())
                && is_mount_point(&data)
                && let Err(e) = berth_image::mount::unmount(&data)
            {
                tracing::warn!("unmount volume {}: {e}", r.name);
            }
        }
        Ok(())
    }

    /// After a container's record is gone (`rm -v`, `--rm`): removes the given anonymous
    /// volumes that no other container uses (another may hold one through `--volumes-from`).
    pub(crate) fn remove_unused(&self, names: &[String]) -> Result<()> {
        if names.is_empty() {
            return Ok(());
        }
        let _state = lock(&self.state);
        let removed = self.store.write(|txn| {
            let mut removed = Vec::new();
            for name in names {
                if record::get_in(txn, name)?.is_some()
                    && container_records::volume_users_in(txn, name)?.is_empty()
                {
                    store::remove(txn, VOLUMES, name)?;
                    removed.push(name.clone());
                }
            }
            Ok(removed)
        })?;
        let mut failed = Vec::new();
        for name in &removed {
            if let Err(e) = self.remove_files(name) {
                failed.push(e.message);
            }
        }
        if failed.is_empty() {
            Ok(())
        } else {
            Err(Error::internal(format!(
                "Error removing volumes:\n{}",
                failed.join("\n")
            )))
        }
    }
}

/// The volume lock held for a container create, and the volumes made for it so far.
pub(crate) struct Claim<'a> {
    volumes: &'a Volumes,
    state: MutexGuard<'a, Mounted>,
    new: Vec<VolumeRecord>,
    kept: bool,
}

impl Claim<'_> {
    /// The records to commit with the container's.
    pub fn new_records(&self) -> &[VolumeRecord] {
        &self.new
    }

    /// The container's record (with [`Claim::new_records`]) is committed: the volumes stay.
    pub fn keep(mut self) {
        self.kept = true;
    }
}

impl Drop for Claim<'_> {
    /// Runs before the fields drop: the volume lock is still held while the volumes go.
    fn drop(&mut self) {
        if self.kept {
            return;
        }
        for r in &self.new {
            if let Err(e) = self.volumes.remove_files(&r.name) {
                tracing::warn!("remove volume {} of a failed create: {e}", r.name);
            }
        }
    }
}
