//! The `images` and `tags` tables: resolving references, tagging, committing new images.

use super::reference::{self, ImageRef};
use super::{ImageRecord, Images, time};
use crate::error::{Error, Result};
use crate::store::{self, Table};
use redb::{ReadableTable, TableDefinition, WriteTransaction};

/// Image ID → [`ImageRecord`] JSON.
pub(super) const IMAGES: Table = TableDefinition::new("images");
/// Familiar `name:tag` → image ID (a JSON string).
pub(super) const TAGS: Table = TableDefinition::new("tags");

/// A tag that moved to a new image during a commit: `(tag, previous image ID)`.
pub type MovedTag = (String, String);

impl Images {
    pub fn get(&self, id: &str) -> Result<Option<ImageRecord>> {
        self.store.get(IMAGES, id)
    }

    pub fn records(&self) -> Result<Vec<ImageRecord>> {
        Ok(self
            .store
            .list::<ImageRecord>(IMAGES)?
            .into_iter()
            .map(|(_, r)| r)
            .collect())
    }

    /// A reference as dockerd resolves it: a full ID; else a tag (`busybox` is
    /// `busybox:latest`) or a digest among the images' `RepoDigests`; else a unique ID prefix.
    pub fn resolve(&self, reference: &str) -> Result<ImageRecord> {
        let not_found = || Error::not_found(format!("No such image: {reference}"));
        let named = match reference::parse_any(reference) {
            Ok(ImageRef::Id(id)) => return self.get(&id)?.ok_or_else(not_found),
            Ok(ImageRef::Named(named)) => Some(named),
            // `7D2D` is no valid name, but neither can it be an ID.
            Err(e) if reference::id_prefix(reference).is_none() => return Err(e),
            Err(_) => None,
        };
        if let Some(named) = &named {
            if let Some(digested) = named.digested() {
                let found = self
                    .records()?
                    .into_iter()
                    .find(|r| r.repo_digests.contains(&digested));
                return found.ok_or_else(not_found);
            }
            if let Some(id) = self.store.get::<String>(TAGS, &named.tagged())? {
                return self.get(&id)?.ok_or_else(not_found);
            }
        }
        self.by_id_prefix(reference)?.ok_or_else(not_found)
    }

    /// The one image whose ID starts with `prefix` (hex, optionally `sha256:`).
    fn by_id_prefix(&self, prefix: &str) -> Result<Option<ImageRecord>> {
        let Some(hex) = reference::id_prefix(prefix) else {
            return Ok(None);
        };
        let mut matches = self
            .records()?
            .into_iter()
            .filter(|r| r.id.trim_start_matches("sha256:").starts_with(hex));
        match (matches.next(), matches.next()) {
            (Some(one), None) => Ok(Some(one)),
            _ => Ok(None),
        }
    }

    /// `docker tag SOURCE REPO[:TAG]`.
    pub fn tag(&self, source: &str, repo: &str, tag: Option<&str>) -> Result<String> {
        let image = self.resolve(source)?;
        let key = reference::tag_key(repo, tag)?;
        self.store.write(|txn| {
            let now = time::now_rfc3339();
            set_tag(txn, &key, &image.id, Some(&now))?;
            Ok(())
        })?;
        Ok(key)
    }

    /// Makes `record` visible with `tags` (familiar `name:tag`), merging with a record of the
    /// same ID already there, in one transaction. Returns the tags taken from other images.
    pub(super) fn commit_record(
        &self,
        txn: &WriteTransaction,
        record: &ImageRecord,
        tags: &[String],
    ) -> Result<Vec<MovedTag>> {
        let mut merged = match store::get::<ImageRecord>(txn, IMAGES, &record.id)? {
            Some(old) => ImageRecord {
                repo_tags: old.repo_tags,
                repo_digests: merge(old.repo_digests, &record.repo_digests),
                last_tag_time: old.last_tag_time,
                stored_at: old.stored_at,
                ..record.clone()
            },
            None => ImageRecord {
                repo_tags: Vec::new(),
                ..record.clone()
            },
        };
        merged.repo_digests.sort();
        store::put(txn, IMAGES, &record.id, &merged)?;
        let mut moved = Vec::new();
        for tag in tags {
            // dockerd keeps LastTagTime for `docker tag`; loaded tags leave it unset.
            if let Some(previous) = set_tag(txn, tag, &record.id, None)? {
                moved.push((tag.clone(), previous));
            }
        }
        Ok(moved)
    }
}

fn merge(mut a: Vec<String>, b: &[String]) -> Vec<String> {
    for item in b {
        if !a.contains(item) {
            a.push(item.clone());
        }
    }
    a
}

/// Points `tag` at `id`, keeping both records' `repo_tags` in step; returns the image it
/// was taken from, if another.
pub(super) fn set_tag(
    txn: &WriteTransaction,
    tag: &str,
    id: &str,
    tagged_at: Option<&str>,
) -> Result<Option<String>> {
    let previous: Option<String> = store::get(txn, TAGS, tag)?;
    let mut record: ImageRecord = store::get(txn, IMAGES, id)?
        .ok_or_else(|| Error::not_found(format!("No such image: {id}")))?;
    let moved_from = match previous {
        Some(old) if old != id => {
            if let Some(mut old_record) = store::get::<ImageRecord>(txn, IMAGES, &old)? {
                old_record.repo_tags.retain(|t| t != tag);
                store::put(txn, IMAGES, &old, &old_record)?;
            }
            Some(old)
        }
        _ => None,
    };
    if !record.repo_tags.iter().any(|t| t == tag) {
        record.repo_tags.push(tag.to_string());
        record.repo_tags.sort();
    }
    if let Some(at) = tagged_at {
        record.last_tag_time = Some(at.to_string());
    }
    store::put(txn, IMAGES, id, &record)?;
    store::put(txn, TAGS, tag, &id.to_string())?;
    Ok(moved_from)
}

/// Removes `tag` from the `tags` table and from its image's record.
pub(super) fn remove_tag(txn: &WriteTransaction, tag: &str) -> Result<()> {
    let Some(id) = store::get::<String>(txn, TAGS, tag)? else {
        return Ok(());
    };
    store::remove(txn, TAGS, tag)?;
    if let Some(mut record) = store::get::<ImageRecord>(txn, IMAGES, &id)? {
        record.repo_tags.retain(|t| t != tag);
        store::put(txn, IMAGES, &id, &record)?;
    }
    Ok(())
}

/// Every record, read inside a write transaction (for decisions that must not race).
pub(super) fn all_in(txn: &WriteTransaction) -> Result<Vec<ImageRecord>> {
    let table = txn
        .open_table(IMAGES)
        .map_err(|e| Error::context("open table images", e))?;
    let mut out = Vec::new();
    for row in table
        .iter()
        .map_err(|e| Error::context("read table images", e))?
    {
        let (key, value) = row.map_err(|e| Error::context("read table images", e))?;
        let record: ImageRecord = serde_json::from_slice(value.value())
            .map_err(|e| Error::context(format!("decode images record {:?}", key.value()), e))?;
        out.push(record);
    }
    Ok(out)
}
