//! Containers: records, config.json generation, shims, lifecycle, recovery.

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
}
