//! berth-image: images on disk for the berth engine — the content store, image metadata,
//! layer unpacking, snapshots and the mounts that put them together. No networking: blobs
//! come in as `Read` streams from whoever fetched them.
//!
//! # Modules
//!
//! * [`digest`] — [`Digest`](digest::Digest), a validated `sha256:<64 lowercase hex>` (other
//!   algorithms are refused at parse time), and [`Digester`](digest::Digester) /
//!   [`DigestingReader`](digest::DigestingReader) to hash a stream as it passes.
//! * [`content`] — [`ContentStore`](content::ContentStore): blobs at
//!   `<root>/blobs/sha256/<hex>`, written through a temp file, verified (digest and size),
//!   fsynced and renamed into place. `write`, `write_bytes`, `read` (re-verified), `open_blob`,
//!   `stat`, `contains`, `list`, `delete`, `path`.
//! * [`manifest`] — [`parse_document`](manifest::parse_document) turns an OCI or Docker
//!   manifest / index / manifest list into a [`Document`](manifest::Document);
//!   [`Index::select`](manifest::Index::select) picks a platform
//!   ([`PlatformWanted::linux_amd64`](manifest::PlatformWanted::linux_amd64) or `::host()`,
//!   with arm/arm64/amd64 variant rules); [`ImageConfig::parse`](manifest::ImageConfig::parse)
//!   reads the config (process defaults, healthcheck, `rootfs.diff_ids`, history);
//!   [`chain_ids`](manifest::chain_ids), [`image_id`](manifest::image_id) and
//!   [`layer_compression`](manifest::layer_compression) (media type → compression; foreign
//!   layers refused).
//! * [`layer`] — [`unpack`](layer::unpack) applies a (plain, gzip or zstd) layer tar to a
//!   directory without ever writing outside it, and returns the diffID to check against the
//!   config. [`Whiteouts`](layer::Whiteouts) chooses overlay markers or applied deletions.
//!   [`extract`](layer::extract) is the same for other tars (copies), into a directory fd, with
//!   [`ExtractOptions`](layer::ExtractOptions) for ownership, devices and replacements.
//! * [`snapshot`] — the [`Snapshotter`](snapshot::Snapshotter) trait (`prepare`, `view`,
//!   `mounts`, `unpack`, `commit`, `remove`, `stat`, `list`, `usage`), implemented by
//!   [`OverlaySnapshotter`](snapshot::OverlaySnapshotter) and
//!   [`CopySnapshotter`](snapshot::CopySnapshotter); [`snapshot::open`] picks one by trying
//!   an overlay mount in the root. Metadata survives kill -9 at any instant.
//! * [`pack`] — [`Packer`](pack::Packer) writes files and trees as a tar stream through
//!   directory fds, never following a symlink (copies out of containers, export, commit).
//! * [`mount`] — [`Mount`](mount::Mount) (a bind or an overlay),
//!   [`mount_all`](mount::mount_all) and [`unmount`](mount::unmount). Overlays of any depth
//!   mount on 6.8+ (`lowerdir+`) and up to overlay's 500-layer limit on older kernels.
//! * [`tree`] — [`copy_dir`](tree::copy_dir) and [`apparent_size`](tree::apparent_size):
//!   whole trees copied (owners, modes, times, xattrs, links, nodes) and measured through fds,
//!   never following a symlink (the copying snapshotter; volume copy-up in the engine).
//!
//! # Pulling and running, in outline
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use berth_image::{content::ContentStore, manifest::*, mount, snapshot};
//! # let (manifest_type, manifest_bytes, config_bytes): (&str, Vec<u8>, Vec<u8>) = todo!();
//! let store = ContentStore::open("/var/lib/berth/content")?;
//! let snapshots = snapshot::open("/var/lib/berth/snap".as_ref())?;
//! // A fetcher stores every blob with store.write(&digest, Some(size), response_body)?.
//! let Document::Manifest(manifest) = parse_document(Some(manifest_type), &manifest_bytes)? else {
//!     unreachable!("an index: select a platform with Index::select, then fetch that manifest")
//! };
//! let config = ImageConfig::parse(&config_bytes)?;
//! let chain = config.chain_ids();
//! for (i, layer) in manifest.layers.iter().enumerate() {
//!     if snapshots.stat(&chain[i].to_string()).is_ok() {
//!         continue; // already unpacked by another image
//!     }
//!     let key = format!("extract-{}", chain[i]);
//!     let parent = i.checked_sub(1).map(|p| chain[p].to_string());
//!     snapshots.prepare(&key, parent.as_deref())?;
//!     let mut blob = store.open_blob(&layer.digest)?;
//!     let unpacked = snapshots.unpack(&key, &mut blob, Some(layer_compression(&layer.media_type)?));
//!     match unpacked {
//!         Ok(u) if u.diff_id == config.rootfs.diff_ids[i] => snapshots.commit(&chain[i].to_string(), &key)?,
//!         _ => snapshots.remove(&key)?, // a bad layer leaves nothing behind
//!     }
//! }
//! let top = chain.last().map(|c| c.to_string());
//! let mounts = snapshots.prepare("container-id", top.as_deref())?;
//! mount::mount_all(&mounts, "/run/berth/container-id/rootfs".as_ref())?;
//! # Ok(()) }
//! ```
//!
//! # Conventions
//!
//! Errors are typed per module and say which blob, entry, snapshot or path failed and why.
//! Everything here expects to run as root on Linux (ownership, device nodes, `trusted.*`
//! xattrs, mounts).

pub mod content;
pub mod digest;
pub mod layer;
pub mod manifest;
pub mod mount;
pub mod pack;
pub mod snapshot;
pub mod tree;

mod fsutil;
#[cfg(test)]
mod testutil;
