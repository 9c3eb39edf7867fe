//! `docker import`: a rootfs tar (plain, gzip or zstd) becomes a one-layer image.

use super::changes::apply_changes;
use super::layers::{self, digest_of};
use super::load::poisoned;
use super::reference;
use super::{ImageRecord, Images, LayerInfo, time};
use crate::error::{Error, Result};
use berth_image::manifest::ContainerConfig;
use serde_json::json;
use std::path::Path;

#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// `repo` of the query; empty: untagged.
    pub repo: Option<String>,
    pub tag: Option<String>,
    /// `message`: the history comment.
    pub message: String,
    /// `changes`: Dockerfile lines.
    pub changes: Vec<String>,
}

/// Go's name of the architecture we run on.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

impl Images {
    /// Imports the rootfs tar at `path`; returns the new image ID.
    pub fn import(&self, path: &Path, options: &ImportOptions) -> Result<String> {
        let mut container_config = ContainerConfig::default();
        apply_changes(&mut container_config, &options.changes)?;
        let tag = match options.repo.as_deref().filter(|r| !r.is_empty()) {
            Some(repo) => Some(reference::tag_key(repo, options.tag.as_deref())?),
            None => None,
        };
        let shared = self.gc_lock.read().map_err(|_| poisoned())?;
        let what = "imported layer";
        let file = std::fs::File::open(path)
            .map_err(|e| Error::context(format!("open {}", path.display()), e))?;
        let (blob, size) = digest_of(file, what)?;
        let file = std::fs::File::open(path)
            .map_err(|e| Error::context(format!("open {}", path.display()), e))?;
        self.content
            .write(&blob, Some(size), file)
            .map_err(|e| Error::context(format!("store the {what}"), e))?;
        let outcome = self.unpack_layer(None, &blob, None, what, |u| Ok(u.diff_id.to_string()));
        let outcome = match outcome {
            Ok(o) => o,
            Err(e) => {
                drop(shared);
                let _ = self.collect_unreferenced();
                return Err(e);
            }
        };
        let diff_id = outcome.unpacked.diff_id.clone();
        let blob_file = self
            .content
            .open_blob(&blob)
            .map_err(|e| Error::context(format!("{what}: open blob"), e))?;
        let content_size = layers::content_size(blob_file, None)?;
        let created = time::now_rfc3339();
        let mut config_json = json!({
            "architecture": go_arch(),
            "config": container_config,
            "container_config": {},
            "created": created,
            "docker_version": "berth",
            "history": [{"created": created}],
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [diff_id.to_string()]},
        });
        if !options.message.is_empty() {
            config_json["comment"] = json!(options.message);
            config_json["history"][0]["comment"] = json!(options.message);
        }
        let (id, config) = self.store_config(&config_json, "imported")?;
        let record = ImageRecord {
            id: id.clone(),
            repo_tags: Vec::new(),
            repo_digests: Vec::new(),
            chain_ids: vec![diff_id.to_string()],
            size: content_size,
            config,
            stored_at: time::now_unix(),
            layers: vec![LayerInfo {
                blob: blob.to_string(),
                diff_id: diff_id.to_string(),
                tar_size: outcome.unpacked.size,
                size: content_size,
            }],
            last_tag_time: None,
        };
        let tags: Vec<String> = tag.into_iter().collect();
        self.store
            .write(|txn| self.commit_record(txn, &record, &tags))?;
        drop(shared);
        Ok(id)
    }
}
