//! berth-engine: what berthd does, without HTTP. Containers (config.json from image and run
//! options, one berth-shim each, supervision and recovery), images (load, save, import, tags,
//! removal, on top of berth-image), and the metadata store they share.
//!
//! Calls block (filesystem, store, shim sockets): the API layer runs them with
//! `tokio::task::spawn_blocking` unless a function is `async`.

pub mod config;
pub mod containers;
pub mod error;
pub mod images;
pub mod store;

pub use config::EngineConfig;
pub use error::{Error, ErrorKind, Result};

use std::sync::Arc;

pub struct Engine {
    pub config: EngineConfig,
    pub store: store::Store,
    pub images: Arc<images::Images>,
    pub containers: Arc<containers::Containers>,
}

impl Engine {
    /// Opens (creating if needed) the data root and exec root, the store, the image service,
    /// then the container service, which finds the containers of an earlier run again.
    pub fn open(config: EngineConfig) -> Result<Arc<Self>> {
        config.create_dirs()?;
        let store = store::Store::open(&config.data_root.join("metadata.redb"))?;
        let images = Arc::new(images::Images::open(&config, store.clone())?);
        let containers = Arc::new(containers::Containers::open(
            &config,
            store.clone(),
            images.clone(),
        )?);
        Ok(Arc::new(Engine {
            config,
            store,
            images,
            containers,
        }))
    }
}
