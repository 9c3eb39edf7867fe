//! `rmi`, `image prune`, and the garbage collection of blobs and snapshots no image records.
//!
//! Records go first (one transaction), files after; a crash in between leaves unreferenced
//! files, which the next [`Images::open`] removes. A snapshot that a container's layer (or any
//! other snapshot) is made on is kept: the snapshotter refuses to remove it.

use super::layers::EXTRACT_PREFIX;
use super::load::poisoned;
use super::records::{IMAGES, TAGS, all_in, remove_tag};
use super::reference;
use super::{ImageRecord, Images};
use crate::error::{Error, Result};
use crate::store;
use berth_image::snapshot::{Kind, SnapshotError};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// One line of `DELETE /images/{name}`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Deleted {
    Untagged(String),
    Deleted(String),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PruneReport {
    pub deleted: Vec<Deleted>,
    pub space_reclaimed: u64,
}

/// Who uses an image: the container IDs created from it (`Containers::image_users`).
pub type ImageUsers<'a> = &'a dyn Fn(&str) -> Result<Vec<String>>;

fn short(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(12)]
}

/// dockerd's `isImageIDPrefix`: the reference is (a prefix of) the ID, not a name.
fn is_id_prefix(id: &str, reference: &str) -> bool {
    id.starts_with(reference) || id.trim_start_matches("sha256:").starts_with(reference)
}

fn in_use_conflict(id: &str, container: &str) -> Error {
    Error::conflict(format!(
        "conflict: unable to delete {} (must be forced) - image is being used by stopped container {}",
        short(id),
        short(container)
    ))
}

impl Images {
    /// `docker rmi [-f] REF` as dockerd 20.10 answers it: a name untags (and deletes the image
    /// when no tag is left); an ID deletes, untagging its only tag, or all tags with `force`.
    /// `no_prune` is accepted for the API; images have no parent images here.
    pub fn remove(
        &self,
        reference: &str,
        force: bool,
        _no_prune: bool,
        users: ImageUsers<'_>,
    ) -> Result<Vec<Deleted>> {
        let image = self.resolve(reference)?;
        let mut out = Vec::new();
        let by_name = !is_id_prefix(&image.id, reference);
        let refs = image.repo_tags.len() + image.repo_digests.len();
        let single = image.repo_tags.len() <= 1 && refs >= 1;
        let mut quiet = false;
        if by_name {
            let named = reference::parse_named(reference)?;
            if !force
                && single
                && let Some(container) = users(&image.id)?.first()
            {
                return Err(Error::conflict(format!(
                    "conflict: unable to remove repository reference {reference:?} (must \
                         force) - container {} is using its referenced image {}",
                    short(container),
                    short(&image.id)
                )));
            }
            let removed = match named.digested() {
                Some(digested) => {
                    self.remove_digest(&image.id, &digested)?;
                    digested
                }
                None => {
                    let tag = named.tagged();
                    self.store.write(|txn| remove_tag(txn, &tag))?;
                    tag
                }
            };
            out.push(Deleted::Untagged(removed));
            let left = self.get(&image.id)?;
            if left
                .as_ref()
                .is_some_and(|r| !r.repo_tags.is_empty() || !r.repo_digests.is_empty())
            {
                return Ok(out);
            }
            quiet = true;
        } else if single
            && !force
            && let Some(container) = users(&image.id)?.first()
        {
            return Err(in_use_conflict(&image.id, container));
        }
        let image = self.get(&image.id)?.unwrap_or(image);
        if !force {
            // dockerd's order: references before stopped containers.
            let referenced = !image.repo_tags.is_empty() && !single;
            if referenced && !quiet {
                return Err(Error::conflict(format!(
                    "conflict: unable to delete {} (must be forced) - image is referenced in \
                     multiple repositories",
                    short(&image.id)
                )));
            }
            if let Some(container) = users(&image.id)?.first() {
                if quiet {
                    return Ok(out);
                }
                return Err(in_use_conflict(&image.id, container));
            }
        } else if quiet && !users(&image.id)?.is_empty() {
            return Ok(out);
        }
        out.extend(self.delete_image(&image)?.0);
        Ok(out)
    }

    fn remove_digest(&self, id: &str, digested: &str) -> Result<()> {
        self.store.write(|txn| {
            if let Some(mut record) = store::get::<ImageRecord>(txn, IMAGES, id)? {
                record.repo_digests.retain(|d| d != digested);
                store::put(txn, IMAGES, id, &record)?;
            }
            Ok(())
        })
    }

    /// Removes an image's record and tags, then the files nothing else references. Returns
    /// the lines (`Untagged` per tag, `Deleted` for the image and each removed layer) and the
    /// bytes of the layers removed.
    fn delete_image(&self, image: &ImageRecord) -> Result<(Vec<Deleted>, u64)> {
        let exclusive = self.gc_lock.write().map_err(|_| poisoned())?;
        let (record, remaining) = self.store.write(|txn| {
            let Some(record) = store::get::<ImageRecord>(txn, IMAGES, &image.id)? else {
                return Err(Error::not_found(format!("No such image: {}", image.id)));
            };
            for tag in &record.repo_tags {
                store::remove(txn, TAGS, tag)?;
            }
            store::remove(txn, IMAGES, &record.id)?;
            Ok((record, all_in(txn)?))
        })?;
        let mut out: Vec<Deleted> = record
            .repo_tags
            .iter()
            .map(|t| Deleted::Untagged(t.clone()))
            .collect();
        out.extend(
            record
                .repo_digests
                .iter()
                .map(|d| Deleted::Untagged(d.clone())),
        );
        out.push(Deleted::Deleted(record.id.clone()));
        let (removed, bytes) = self.remove_unreferenced_files(&[record], &remaining);
        drop(exclusive);
        out.extend(removed.into_iter().map(Deleted::Deleted));
        Ok((out, bytes))
    }

    /// Removes the snapshots (top first) and blobs of `deleted` that no record of `remaining`
    /// uses; returns the chain IDs removed and their layers' bytes. Failures are logged: what
    /// stays is unreferenced and the next open retries.
    fn remove_unreferenced_files(
        &self,
        deleted: &[ImageRecord],
        remaining: &[ImageRecord],
    ) -> (Vec<String>, u64) {
        let chains: BTreeSet<&str> = remaining
            .iter()
            .flat_map(|r| r.chain_ids.iter().map(String::as_str))
            .collect();
        let blobs: BTreeSet<&str> = remaining
            .iter()
            .flat_map(|r| {
                std::iter::once(r.id.as_str()).chain(r.layers.iter().map(|l| l.blob.as_str()))
            })
            .collect();
        let mut removed = Vec::new();
        let mut bytes = 0;
        for record in deleted {
            for (i, chain_id) in record.chain_ids.iter().enumerate().rev() {
                if chains.contains(chain_id.as_str()) || removed.contains(chain_id) {
                    continue;
                }
                match self.snapshots.remove(chain_id) {
                    Ok(()) => {
                        removed.push(chain_id.clone());
                        bytes += record.layers.get(i).map_or(0, |l| l.size);
                    }
                    // A container's layer (or another snapshot) is made on it: keep it and
                    // therefore its parents.
                    Err(SnapshotError::HasChildren { .. }) => break,
                    Err(SnapshotError::NotFound { .. }) => {}
                    Err(e) => {
                        tracing::warn!("remove snapshot {chain_id}: {e}");
                        break;
                    }
                }
            }
            let own = std::iter::once(record.id.as_str())
                .chain(record.layers.iter().map(|l| l.blob.as_str()));
            for blob in own.filter(|b| !blobs.contains(b)) {
                if let Ok(digest) = blob.parse()
                    && let Err(e) = self.content.delete(&digest)
                {
                    tracing::debug!("remove blob {blob}: {e}");
                }
            }
        }
        (removed, bytes)
    }

    /// Removes layers and blobs no image references any more, e.g. those of a force-removed
    /// image once the last container on it is gone (call it after removing a container).
    pub fn collect_garbage(&self) -> Result<()> {
        self.collect_unreferenced()
    }

    /// Removes everything no record references: leftover `extract-` and `inspect-` snapshots,
    /// committed layer snapshots of no image (children first), and unreferenced blobs. Runs
    /// at open and after a failed load.
    pub(super) fn collect_unreferenced(&self) -> Result<()> {
        let _exclusive = self.gc_lock.write().map_err(|_| poisoned())?;
        let records = self.records()?;
        let chains: BTreeSet<&str> = records
            .iter()
            .flat_map(|r| r.chain_ids.iter().map(String::as_str))
            .collect();
        let list = self
            .snapshots
            .list()
            .map_err(|e| Error::context("list snapshots", e))?;
        for info in &list {
            let ours = info.key.starts_with(EXTRACT_PREFIX) || info.key.starts_with("inspect-");
            if ours
                && info.kind != Kind::Committed
                && let Err(e) = self.snapshots.remove(&info.key)
            {
                tracing::warn!("remove leftover snapshot {}: {e}", info.key);
            }
        }
        let mut pending: Vec<&str> = list
            .iter()
            .filter(|i| i.kind == Kind::Committed && i.key.starts_with("sha256:"))
            .map(|i| i.key.as_str())
            .filter(|k| !chains.contains(k))
            .collect();
        // Children before parents: retry while some removal succeeds.
        loop {
            let before = pending.len();
            pending.retain(|key| match self.snapshots.remove(key) {
                Ok(()) | Err(SnapshotError::NotFound { .. }) => false,
                Err(SnapshotError::HasChildren { .. }) => true,
                Err(e) => {
                    tracing::warn!("remove unreferenced snapshot {key}: {e}");
                    false
                }
            });
            if pending.is_empty() || pending.len() == before {
                break;
            }
        }
        let blobs: BTreeSet<&str> = records
            .iter()
            .flat_map(|r| {
                std::iter::once(r.id.as_str()).chain(r.layers.iter().map(|l| l.blob.as_str()))
            })
            .collect();
        let stored = self
            .content
            .list()
            .map_err(|e| Error::context("list the content store", e))?;
        for blob in stored {
            if !blobs.contains(blob.digest.to_string().as_str())
                && let Err(e) = self.content.delete(&blob.digest)
            {
                tracing::warn!("remove unreferenced blob {}: {e}", blob.digest);
            }
        }
        Ok(())
    }

    /// `docker image prune [-a]`: `filters` as Docker's JSON (`{"dangling":["false"]}` for
    /// `-a`, `label`, `label!`, `until`). Images a container uses are kept.
    pub fn prune(
        &self,
        filters: &BTreeMap<String, Vec<String>>,
        users: ImageUsers<'_>,
    ) -> Result<PruneReport> {
        let mut dangling_only = true;
        for (key, values) in filters {
            match key.as_str() {
                "dangling" => {
                    for v in values {
                        match v.as_str() {
                            "true" | "1" => {}
                            "false" | "0" => dangling_only = false,
                            other => {
                                return Err(Error::invalid(format!(
                                    "invalid filter 'dangling={other}'"
                                )));
                            }
                        }
                    }
                }
                "label" | "label!" | "until" => {}
                other => return Err(Error::invalid(format!("invalid filter '{other}'"))),
            }
        }
        let until = match filters.get("until").and_then(|v| v.first()) {
            Some(u) => Some(super::list::parse_timestamp(u)?),
            None => None,
        };
        let mut report = PruneReport::default();
        for image in self.records()? {
            let tagged = !image.repo_tags.is_empty() || !image.repo_digests.is_empty();
            if dangling_only && tagged {
                continue;
            }
            if !super::list::labels_match(&image, filters.get("label"), filters.get("label!")) {
                continue;
            }
            if until.is_some_and(|u| image.created_unix() >= u) {
                continue;
            }
            if !users(&image.id)?.is_empty() {
                continue;
            }
            let (lines, bytes) = self.delete_image(&image)?;
            report.deleted.extend(lines);
            report.space_reclaimed += bytes;
        }
        Ok(report)
    }
}
