//! `docker commit`, the image side: a container's changes (a layer tar already written) on top
//! of its image become a new image, with the container's config and one more history entry.

use super::layers::{self, digest_of};
use super::load::poisoned;
use super::reference;
use super::{ImageRecord, Images, LayerInfo, time};
use crate::error::{Error, Result};
use berth_image::layer::Compression;
use serde_json::{Value, json};
use std::path::Path;

/// What the new image is made of, besides its parent.
pub struct CommitImage<'a> {
    pub parent: &'a ImageRecord,
    /// The container's changes as an uncompressed layer tar; None when there are none (the
    /// history entry is then an empty layer, as dockerd records it).
    pub layer: Option<&'a Path>,
    /// The image config's `config` (the container's config with `--change` applied) and
    /// `container_config` (the container's, unchanged).
    pub config: Value,
    pub container_config: Value,
    pub container_id: &'a str,
    pub author: &'a str,
    pub comment: &'a str,
    /// The history entry's `created_by`: the container's command.
    pub created_by: String,
    /// `repo` and `tag` of the request (no repo: untagged).
    pub repo: Option<&'a str>,
    pub tag: Option<&'a str>,
}

impl Images {
    /// Stores the layer (as its own blob, uncompressed), unpacks it over the parent's top
    /// layer, and records the image with its tag in one transaction. Returns the new ID.
    pub fn commit(&self, c: &CommitImage<'_>) -> Result<String> {
        let tag = match c.repo.filter(|r| !r.is_empty()) {
            Some(repo) => Some(reference::tag_key(repo, c.tag.filter(|t| !t.is_empty()))?),
            None => None,
        };
        let shared = self.gc_lock.read().map_err(|_| poisoned())?;
        let result = self.commit_locked(c, tag);
        drop(shared);
        if result.is_err()
            && let Err(e) = self.collect_unreferenced()
        {
            tracing::warn!("clean up after a failed commit: {e}");
        }
        result
    }

    fn commit_locked(&self, c: &CommitImage<'_>, tag: Option<String>) -> Result<String> {
        let parent = c.parent;
        let mut chain_ids = parent.chain_ids.clone();
        let mut infos = parent.layers.clone();
        let mut diff_ids: Vec<String> = parent
            .config
            .rootfs
            .diff_ids
            .iter()
            .map(ToString::to_string)
            .collect();
        if let Some(path) = c.layer {
            let what = format!("the layer committed from container {}", c.container_id);
            let open = || {
                std::fs::File::open(path)
                    .map_err(|e| Error::context(format!("open {}", path.display()), e))
            };
            let (blob, tar_size) = digest_of(open()?, &what)?;
            self.content
                .write(&blob, Some(tar_size), open()?)
                .map_err(|e| Error::context(format!("store {what}"), e))?;
            let chain_key = match chain_ids.last() {
                Some(top) => berth_image::digest::Digest::of(format!("{top} {blob}").as_bytes()),
                None => blob.clone(),
            }
            .to_string();
            let top = chain_ids.last().cloned();
            let key = chain_key.clone();
            self.unpack_layer(top.as_deref(), &blob, Some(Compression::None), &what, |u| {
                if u.diff_id == blob {
                    Ok(key)
                } else {
                    Err(Error::internal(format!(
                        "{what}: it read back as {}, not {blob}",
                        u.diff_id
                    )))
                }
            })?;
            let size = layers::content_size(open()?, Some(Compression::None))?;
            chain_ids.push(chain_key);
            diff_ids.push(blob.to_string());
            infos.push(LayerInfo {
                blob: blob.to_string(),
                diff_id: blob.to_string(),
                tar_size,
                size,
            });
        }
        let created = time::now_rfc3339();
        let mut history: Vec<Value> = parent
            .config
            .history
            .iter()
            .map(|h| serde_json::to_value(h).unwrap_or(Value::Null))
            .collect();
        let mut entry = json!({"created": created, "created_by": c.created_by});
        let mut config = json!({
            "architecture": parent.config.architecture,
            "config": c.config,
            "container": c.container_id,
            "container_config": c.container_config,
            "created": created,
            "docker_version": "berth",
            "os": parent.config.os,
            "parent": parent.id,
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        });
        if let Some(variant) = &parent.config.variant {
            config["variant"] = json!(variant);
        }
        for (key, value) in [("author", c.author), ("comment", c.comment)] {
            if !value.is_empty() {
                config[key] = json!(value);
                entry[key] = json!(value);
            }
        }
        if c.layer.is_none() {
            entry["empty_layer"] = json!(true);
        }
        history.push(entry);
        config["history"] = Value::Array(history);
        let (id, parsed) = self.store_config(&config, "committed")?;
        let record = ImageRecord {
            id: id.clone(),
            repo_tags: Vec::new(),
            repo_digests: Vec::new(),
            config: parsed,
            chain_ids,
            size: infos.iter().map(|l| l.size).sum(),
            stored_at: time::now_unix(),
            layers: infos,
            last_tag_time: None,
        };
        let tags: Vec<String> = tag.into_iter().collect();
        self.store
            .write(|txn| self.commit_record(txn, &record, &tags))?;
        Ok(id)
    }
}
