//! Images: content store, snapshots, metadata (image records and tags), load/save/import.
//!
//! The contract the container service relies on (filled in by the image work):
//! * [`Images::resolve`] — a reference (`name[:tag]`, `name@digest`, full or short image ID) to
//!   its [`ImageRecord`], or `NotFound` "No such image: REF".
//! * [`Images::snapshotter`] — the snapshotter whose committed snapshots are keyed by chain ID;
//!   a container prepares its writable layer on `record.top_layer()` under its own key.

use crate::config::EngineConfig;
use crate::error::{Error, Result};
use crate::store::Store;
use berth_image::manifest::ImageConfig;
use berth_image::snapshot::Snapshotter;
use serde::{Deserialize, Serialize};

/// What the engine knows of one image; stored as JSON in the `images` table keyed by `id`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageRecord {
    /// `sha256:<hex>` of the config blob.
    pub id: String,
    /// `name:tag` references pointing at it (normalized: `busybox:latest`).
    pub repo_tags: Vec<String>,
    /// `name@sha256:...` of the manifests it came with.
    pub repo_digests: Vec<String>,
    /// The parsed config blob.
    pub config: ImageConfig,
    /// Chain IDs, base first (`sha256:...`), the keys of its committed snapshots.
    pub chain_ids: Vec<String>,
    /// Sum of unpacked layer sizes, bytes.
    pub size: u64,
    /// Unix seconds the image was stored here (for `images` when `config.created` is absent).
    pub stored_at: i64,
}

impl ImageRecord {
    /// The snapshot a container's writable layer sits on (None for an image without layers).
    pub fn top_layer(&self) -> Option<&str> {
        self.chain_ids.last().map(String::as_str)
    }
}

pub struct Images {
    #[allow(dead_code)]
    store: Store,
    snapshots: Box<dyn Snapshotter>,
}

impl Images {
    pub fn open(config: &EngineConfig, store: Store) -> Result<Self> {
        let root = config.data_root.join("snapshots");
        std::fs::create_dir_all(&root)
            .map_err(|e| Error::context(format!("create {}", root.display()), e))?;
        let snapshots = berth_image::snapshot::open(&root)
            .map_err(|e| Error::context(format!("open snapshots in {}", root.display()), e))?;
        Ok(Images { store, snapshots })
    }

    pub fn snapshotter(&self) -> &dyn Snapshotter {
        self.snapshots.as_ref()
    }

    pub fn resolve(&self, reference: &str) -> Result<ImageRecord> {
        Err(Error::not_found(format!("No such image: {reference}")))
    }
}
