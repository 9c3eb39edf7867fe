//! berth-image: images on disk for the berth engine.
pub mod content;
pub mod digest;
pub mod layer;
pub mod manifest;
pub mod mount;
pub mod snapshot;

mod fsutil;
#[cfg(test)]
mod testutil;
