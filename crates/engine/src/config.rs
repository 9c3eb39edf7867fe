//! Where the engine keeps things, and which runtimes it knows.

use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Persistent state: metadata.redb, content/, snapshots/, containers/<id>/ (logs, config).
    pub data_root: PathBuf,
    /// Run-time state that a reboot clears: shim state dirs, runtime root, rootfs mounts.
    pub exec_root: PathBuf,
    /// `--add-runtime NAME=PATH`: runc-compatible binaries the shim can create containers with.
    pub runtimes: BTreeMap<String, PathBuf>,
    /// `--default-runtime`: "berth" (the library inside the shim) or a name from `runtimes`.
    pub default_runtime: String,
    /// The berth-shim binary.
    pub shim_binary: PathBuf,
    /// berth-init, bind-mounted as /sbin/docker-init for `--init`; None when not found.
    pub init_binary: Option<PathBuf>,
}

/// The runtime that lives inside the shim itself.
pub const BUILTIN_RUNTIME: &str = "berth";

impl EngineConfig {
    pub fn new(data_root: PathBuf, exec_root: PathBuf, shim_binary: PathBuf) -> Self {
        EngineConfig {
            data_root,
            exec_root,
            runtimes: BTreeMap::new(),
            default_runtime: BUILTIN_RUNTIME.to_string(),
            shim_binary,
            init_binary: None,
        }
    }

    pub fn create_dirs(&self) -> Result<()> {
        for dir in [&self.data_root, &self.exec_root] {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::context(format!("create {}", dir.display()), e))?;
        }
        Ok(())
    }
}
