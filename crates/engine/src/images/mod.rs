//! Images: content store, snapshots, metadata (image records and tags), load/save/import.

use crate::config::EngineConfig;
use crate::error::Result;
use crate::store::Store;

pub struct Images {
    #[allow(dead_code)]
    store: Store,
}

impl Images {
    pub fn open(_config: &EngineConfig, store: Store) -> Result<Self> {
        Ok(Images { store })
    }
}
