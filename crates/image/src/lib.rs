//! berth-image: images on disk for the berth engine.
pub mod content;
pub mod digest;

#[cfg(test)]
mod testutil;
