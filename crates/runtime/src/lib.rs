//! berth's OCI runtime library: namespaces, the container's init, its root filesystem, state.
//! The `berth-runtime` binary is a runc-compatible command line over it.

pub mod cgroup;
pub mod channel;
pub mod config;
pub mod console;
pub mod container;
pub mod control;
pub mod defaults;
pub mod error;
pub mod exec;
pub mod foreground;
pub mod hooks;
pub mod idmap;
pub mod init;
pub mod lsm;
pub mod namespaces;
pub mod netdev;
pub mod process_info;
pub mod protected_exe;
pub mod rootfs;
pub mod scheduling;
pub mod seccomp;
pub mod security;
pub mod state;
pub mod sys;
pub mod terminal;

pub use error::{Error, Result};
