//! berth-engine: what berthd does, without HTTP. Containers (config.json from image and run
//! options, one berth-shim each, supervision and recovery), images (load, save, import, tags,
//! removal, on top of berth-image), volumes (the local driver), and the metadata store they
//! share.
//!
//! Calls block (filesystem, store, shim sockets): the API layer runs them with
//! `tokio::task::spawn_blocking` unless a function is `async`.

pub mod config;
pub mod containers;
pub mod error;
pub mod images;
pub mod store;
pub mod time;
pub mod volumes;

pub use config::EngineConfig;
pub use error::{Error, ErrorKind, Result};

use std::sync::Arc;

pub struct Engine {
    pub config: EngineConfig,
    pub store: store::Store,
    pub images: Arc<images::Images>,
    pub volumes: Arc<volumes::Volumes>,
    pub containers: Arc<containers::Containers>,
}

/// How many containers (by state) and images there are, for `info`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counts {
    pub containers: usize,
    pub running: usize,
    pub paused: usize,
    pub images: usize,
}

impl Engine {
    /// Opens (creating if needed) the data root and exec root, the store, the image and
    /// volume services, then the container service, which finds the containers of an earlier
    /// run again.
    pub fn open(config: EngineConfig) -> Result<Arc<Self>> {
        config.create_dirs()?;
        let store = store::Store::open(&config.data_root.join("metadata.redb"))?;
        let images = Arc::new(images::Images::open(&config, store.clone())?);
        let volumes = Arc::new(volumes::Volumes::open(&config, store.clone())?);
        let containers = Arc::new(containers::Containers::open(
            &config,
            store.clone(),
            images.clone(),
            volumes.clone(),
        )?);
        Ok(Arc::new(Engine {
            config,
            store,
            images,
            volumes,
            containers,
        }))
    }

    pub fn counts(&self) -> Result<Counts> {
        use containers::record::State;
        let mut counts = Counts::default();
        for record in containers::record::list(&self.store)? {
            counts.containers += 1;
            match record.state {
                State::Running | State::Starting => counts.running += 1,
                State::Paused => counts.paused += 1,
                _ => {}
            }
        }
        counts.images = self.images.records()?.len();
        Ok(counts)
    }

    /// A stable ID for this daemon's data root, kept in `<data-root>/engine-id`.
    pub fn daemon_id(&self) -> String {
        let path = self.config.data_root.join("engine-id");
        if let Ok(id) = std::fs::read_to_string(&path) {
            return id.trim().to_string();
        }
        let id = random_hex(32);
        let _ = std::fs::write(&path, &id);
        id
    }
}

/// `n` random hex digits from the kernel's generator.
pub fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n.div_ceil(2)];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = std::io::Read::read_exact(&mut f, &mut bytes);
    }
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    hex[..n].to_string()
}
