//! Images: content store, snapshots, metadata (image records and tags), load/save/import.
//!
//! The contract the container service relies on:
//! * [`Images::resolve`] — a reference (`name[:tag]`, `name@digest`, full or short image ID) to
//!   its [`ImageRecord`], or `NotFound` "No such image: REF".
//! * [`Images::snapshotter`] — the snapshotter whose committed snapshots are keyed by chain ID;
//!   a container prepares its writable layer on `record.top_layer()` under its own key.
//!
//! On disk: blobs (configs and layer blobs as they came) in `<data-root>/content`, unpacked
//! layers in `<data-root>/snapshots` keyed by chain ID, upload temp files in
//! `<data-root>/tmp/images`. Records in the store: `images` (ID → [`ImageRecord`]) and `tags`
//! (familiar `name:tag` → ID), changed together in one transaction.
//!
//! Every mutation writes files first (blobs, committed snapshots), then makes them visible in
//! one store transaction; removal does the reverse (records first, then files nothing else
//! references). What a crash leaves between the two steps is unreferenced, and [`Images::open`]
//! removes it.
//!
//! The rest of the API (all blocking): [`Images::load`], [`Images::save_plan`] +
//! [`Images::save`], [`Images::import`], [`Images::list`], [`Images::history`],
//! [`Images::tag`], [`Images::remove`], [`Images::prune`], [`Images::disk_usage`],
//! [`Images::collect_garbage`]; `remove`, `prune` and `disk_usage` take the container
//! service's `image_users` as a closure (the image service does not know containers).
//!
//! Modules: [`reference`](mod@reference) (parsing and the shared tag normalization), `records` (tables,
//! resolve, tag), `layers` (a blob into its chain-ID snapshot), `archive` (reading tar
//! members), `load`, `save`, `import` with `changes`, `commit` (a container's layer on top of
//! its image), `remove` (rmi, prune, garbage
//! collection), `list` (images/json, history, disk usage), `time` (RFC 3339).

mod archive;
mod changes;
mod commit;
mod import;
mod layers;
mod list;
mod load;
mod records;
pub mod reference;
mod remove;
mod save;
mod time;

pub(crate) use changes::apply_changes;
pub use commit::CommitImage;
pub use import::ImportOptions;
pub use list::{DiskUsage, HistoryEntry, ImageUsage, ListFilters, ListedImage};
pub use load::{LoadEvent, LoadedImage};
pub use remove::{Deleted, ImageUsers, PruneReport};
pub use save::SaveItem;

use crate::config::EngineConfig;
use crate::error::{Error, Result};
use crate::store::Store;
use berth_image::content::ContentStore;
use berth_image::manifest::ImageConfig;
use berth_image::snapshot::Snapshotter;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::RwLock;

/// What the engine knows of one image; stored as JSON in the `images` table keyed by `id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageRecord {
    /// `sha256:<hex>` of the config blob.
    pub id: String,
    /// `name:tag` references pointing at it (normalized: `busybox:latest`), sorted.
    pub repo_tags: Vec<String>,
    /// `name@sha256:...` of the manifests it came with.
    pub repo_digests: Vec<String>,
    /// The parsed config blob.
    pub config: ImageConfig,
    /// Chain IDs, base first (`sha256:...`), the keys of its committed snapshots.
    pub chain_ids: Vec<String>,
    /// Sum of unpacked layer sizes (bytes of file content, as dockerd counts them).
    pub size: u64,
    /// Unix seconds the image was stored here (for `images` when `config.created` is absent).
    pub stored_at: i64,
    /// The layer blobs, base first, in step with `chain_ids` (`save` writes them back).
    #[serde(default)]
    pub layers: Vec<LayerInfo>,
    /// RFC 3339 time a tag was last set on it (inspect's `Metadata.LastTagTime`).
    #[serde(default)]
    pub last_tag_time: Option<String>,
}

/// One layer of an image as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerInfo {
    /// Digest of the blob in the content store (compressed as it came).
    pub blob: String,
    /// sha256 of the uncompressed tar.
    pub diff_id: String,
    /// Length of the uncompressed tar.
    pub tar_size: u64,
    /// Bytes of regular-file content in the layer.
    pub size: u64,
}

impl ImageRecord {
    /// The snapshot a container's writable layer sits on (None for an image without layers).
    pub fn top_layer(&self) -> Option<&str> {
        self.chain_ids.last().map(String::as_str)
    }

    /// Unix seconds of `config.created`, else when it was stored.
    pub fn created_unix(&self) -> i64 {
        self.config
            .created
            .as_deref()
            .and_then(time::parse_rfc3339)
            .unwrap_or(self.stored_at)
    }
}

pub struct Images {
    store: Store,
    content: ContentStore,
    snapshots: Box<dyn Snapshotter>,
    /// Upload and import temp files.
    temp_dir: PathBuf,
    /// Writers of new layers and images hold it shared; garbage collection holds it
    /// exclusively, so it never removes what a load has made and not yet recorded.
    gc_lock: RwLock<()>,
}

impl Images {
    pub fn open(config: &EngineConfig, store: Store) -> Result<Self> {
        let root = config.data_root.join("snapshots");
        std::fs::create_dir_all(&root)
            .map_err(|e| Error::context(format!("create {}", root.display()), e))?;
        let snapshots = berth_image::snapshot::open(&root)
            .map_err(|e| Error::context(format!("open snapshots in {}", root.display()), e))?;
        let content_root = config.data_root.join("content");
        let content = ContentStore::open(&content_root).map_err(|e| {
            Error::context(format!("open content store {}", content_root.display()), e)
        })?;
        let temp_dir = config.data_root.join("tmp").join("images");
        // Uploads of an earlier run that died mid-way.
        if temp_dir.exists() {
            std::fs::remove_dir_all(&temp_dir)
                .map_err(|e| Error::context(format!("clean {}", temp_dir.display()), e))?;
        }
        std::fs::create_dir_all(&temp_dir)
            .map_err(|e| Error::context(format!("create {}", temp_dir.display()), e))?;
        let images = Images {
            store,
            content,
            snapshots,
            temp_dir,
            gc_lock: RwLock::new(()),
        };
        images.collect_unreferenced()?;
        Ok(images)
    }

    pub fn snapshotter(&self) -> &dyn Snapshotter {
        self.snapshots.as_ref()
    }

    /// Where API uploads (load and import bodies) are spooled: inside the data root, so a
    /// large archive never sits in memory, and cleaned at the next open if we crash.
    pub fn temp_dir(&self) -> &std::path::Path {
        &self.temp_dir
    }

    /// A new unique path in [`Images::temp_dir`].
    pub fn temp_path(&self, what: &str) -> PathBuf {
        self.temp_dir
            .join(format!("{what}-{}", layers::unique_suffix()))
    }

    /// The raw config blob of an image (inspect reads fields the parsed config drops).
    pub fn config_blob(&self, record: &ImageRecord) -> Result<Vec<u8>> {
        let digest = layers::digest(&record.id)?;
        self.content
            .read(&digest)
            .map_err(|e| Error::context(format!("read the config of image {}", record.id), e))
    }

    /// Stores a new image's config blob; returns its ID (the blob's digest) and the config
    /// parsed back. `what` names the image in errors ("imported", "committed").
    pub(crate) fn store_config(
        &self,
        config: &serde_json::Value,
        what: &str,
    ) -> Result<(String, ImageConfig)> {
        let bytes = serde_json::to_vec(config)
            .map_err(|e| Error::context(format!("encode the {what} image config"), e))?;
        let parsed = ImageConfig::parse(&bytes)
            .map_err(|e| Error::context(format!("parse the {what} image config"), e))?;
        let id = self
            .content
            .write_bytes(&bytes)
            .map_err(|e| Error::context(format!("store the {what} image config"), e))?
            .digest
            .to_string();
        Ok((id, parsed))
    }

    /// The directories of an image's layers, top first (inspect's `GraphDriver.Data`).
    pub fn layer_dirs(&self, record: &ImageRecord) -> Vec<PathBuf> {
        let Some(top) = record.top_layer() else {
            return Vec::new();
        };
        let view = format!("inspect-{}", layers::unique_suffix());
        let dirs = match self.snapshots.view(&view, Some(top)) {
            Ok(mounts) => mounts
                .into_iter()
                .flat_map(|mount| match mount {
                    berth_image::mount::Mount::Bind { source, .. } => vec![source],
                    berth_image::mount::Mount::Overlay { lower, .. } => lower,
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        let _ = self.snapshots.remove(&view);
        dirs
    }
}

#[cfg(test)]
mod tests;
