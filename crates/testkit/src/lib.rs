//! berth-testkit: builds image tars for tests, offline and deterministic.
//!
//! * [`Layer`] — a layer tar from entries: files (content, mode, uid/gid), dirs, symlinks,
//!   hardlinks, whiteouts (`.wh.NAME`), opaque markers (`.wh..wh..opq`), and raw entries whose
//!   names go into the header unchecked (`../x`, `/abs`) for escape tests; plain, gzip or zstd.
//! * [`ImageBuilder`] — layers plus the image config (Cmd, Entrypoint, Env, WorkingDir, User,
//!   Labels, ExposedPorts, Volumes, history); gives the config JSON and the image ID.
//! * [`docker_archive`] (classic `docker save` layout: `<id>/layer.tar`, `<id>.json`),
//!   [`docker_archive_blobs`] (Docker 25+ layout under `blobs/sha256`), [`oci_layout`] and
//!   [`oci_layout_multi_platform`] (an index inside `index.json`) write whole archives.
//! * [`busybox_layer`], [`busybox_rootfs_tar`], [`busybox_image`], [`busybox_docker_archive`]
//!   — a runnable image made from the host's `/bin/busybox`.
//!
//! Everything has fixed mtimes, so the same builder always gives the same bytes and IDs.

mod archive;
mod busybox;
mod image;
mod layer;

pub use archive::{docker_archive, docker_archive_blobs, oci_layout, oci_layout_multi_platform};
pub use busybox::{busybox_docker_archive, busybox_image, busybox_layer, busybox_rootfs_tar};
pub use image::ImageBuilder;
pub use layer::{Compression, Entry, EntryKind, Layer};

/// The mtime every entry gets unless told otherwise (2020-09-13).
pub const FIXED_MTIME: u64 = 1_600_000_000;

/// `sha256:<hex>` of `data`.
pub fn sha256_digest(data: &[u8]) -> String {
    use sha2::Digest as _;
    let hash = sha2::Sha256::digest(data);
    let mut out = String::with_capacity(71);
    out.push_str("sha256:");
    for byte in hash.iter() {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}
