//! The end-to-end suite: a private daemon driven by a client binary, asserting what a user sees
//! (output, exit codes) and what the kernel and the file system show. See tests/common/mod.rs for
//! how the daemon and the client are chosen (BERTH_E2E_DAEMON, BERTH_E2E_CLIENT).

#[path = "../common/mod.rs"]
mod common;

mod containers;
mod crash;
mod defaults;
mod exec;
mod files;
mod images;
mod observe;
mod robustness;
mod runtimes;
mod volumes;
