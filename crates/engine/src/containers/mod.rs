//! Containers: records, config.json generation, shims, lifecycle, recovery.
//!
//! The contract the image service relies on:
//! * [`Containers::image_users`] — IDs of the containers (any state) whose image is `image_id`;
//!   `rmi` refuses an image that has users unless forced.

pub mod options;
pub mod spec;

use crate::config::EngineConfig;
use crate::error::Result;
use crate::images::Images;
use crate::store::Store;
use std::sync::Arc;

pub struct Containers {
    #[allow(dead_code)]
    store: Store,
    #[allow(dead_code)]
    images: Arc<Images>,
}

impl Containers {
    pub fn open(_config: &EngineConfig, store: Store, images: Arc<Images>) -> Result<Self> {
        Ok(Containers { store, images })
    }

    /// Containers created from `image_id` (`sha256:<hex>`).
    pub fn image_users(&self, _image_id: &str) -> Result<Vec<String>> {
        Ok(Vec::new())
    }
}
