//! Layer blobs into committed snapshots: each unpacked once under its chain ID, a bad layer
//! leaving no snapshot behind.

use super::Images;
use crate::error::{Error, Result};
use berth_image::digest::{Digest, Digester};
use berth_image::layer::{Compression, LayerError, Unpacked};
use berth_image::snapshot::SnapshotError;
use std::io::{BufRead, BufReader, Read};
use std::sync::atomic::{AtomicU64, Ordering};

/// Keys and temp names no other call of this process (or an earlier run) uses.
pub(crate) fn unique_suffix() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let (secs, nanos) = super::time::now();
    format!(
        "{}-{secs}{nanos:09}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Prefix of the active snapshots a layer is unpacked into before it is committed.
pub(super) const EXTRACT_PREFIX: &str = "extract-";

pub(super) fn digest(s: &str) -> Result<Digest> {
    s.parse()
        .map_err(|e| Error::invalid(format!("invalid digest {s:?}: {e}")))
}

/// The digest and length of a stream.
pub(super) fn digest_of(mut source: impl Read, what: &str) -> Result<(Digest, u64)> {
    let mut digester = Digester::new();
    std::io::copy(&mut source, &mut digester)
        .map_err(|e| Error::invalid(format!("read {what}: {e}")))?;
    let size = digester.len();
    Ok((digester.finish(), size))
}

/// A layer stream decompressed (`None`: sniffed from its first bytes).
pub(super) fn decompressed<'a>(
    source: impl Read + 'a,
    compression: Option<Compression>,
) -> std::io::Result<Box<dyn Read + 'a>> {
    let mut buffered = BufReader::with_capacity(64 * 1024, source);
    let compression = match compression {
        Some(c) => c,
        None => Compression::sniff(buffered.fill_buf()?),
    };
    Ok(match compression {
        Compression::None => Box::new(buffered),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(buffered)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(buffered)?),
    })
}

/// Bytes of regular-file content in a layer tar, as dockerd sizes a layer.
pub(super) fn content_size(source: impl Read, compression: Option<Compression>) -> Result<u64> {
    let bad = |e: std::io::Error| Error::invalid(format!("read layer: {e}"));
    let mut archive = tar::Archive::new(decompressed(source, compression).map_err(bad)?);
    let mut total = 0u64;
    for entry in archive.entries().map_err(bad)? {
        let entry = entry.map_err(bad)?;
        let name = entry.path_bytes();
        let whiteout = name
            .rsplit(|b| *b == b'/')
            .next()
            .is_some_and(|base| base.starts_with(b".wh."));
        if entry.header().entry_type().is_file() && !whiteout {
            total += entry.size();
        }
    }
    Ok(total)
}

/// What unpacking one layer gave.
pub(super) struct LayerOutcome {
    pub unpacked: Unpacked,
    /// False when the snapshot was there already (another image has the layer).
    pub created: bool,
}

fn layer_error(what: &str, e: SnapshotError) -> Error {
    match e {
        SnapshotError::Layer { source, .. } => match source {
            LayerError::Entry { .. } | LayerError::Stream { .. } => {
                Error::invalid(format!("{what}: {source}"))
            }
            other => Error::context(what, other),
        },
        other => Error::context(what, other),
    }
}

impl Images {
    /// Unpacks blob `blob` over the committed snapshot `parent` into a fresh active snapshot,
    /// asks `key_for` (which may refuse, e.g. on a diffID mismatch) for the committed key,
    /// and commits it there. On any error the active snapshot is removed.
    pub(super) fn unpack_layer(
        &self,
        parent: Option<&str>,
        blob: &Digest,
        compression: Option<Compression>,
        what: &str,
        key_for: impl FnOnce(&Unpacked) -> Result<String>,
    ) -> Result<LayerOutcome> {
        let extract = format!("{EXTRACT_PREFIX}{}", unique_suffix());
        self.snapshots
            .prepare(&extract, parent)
            .map_err(|e| Error::context(format!("{what}: prepare snapshot"), e))?;
        let result = self.unpack_and_commit(&extract, blob, compression, what, key_for);
        if !matches!(result, Ok(LayerOutcome { created: true, .. }))
            && let Err(e) = self.snapshots.remove(&extract)
        {
            tracing::warn!("remove snapshot {extract} of a failed or duplicate unpack: {e}");
        }
        result
    }

    fn unpack_and_commit(
        &self,
        extract: &str,
        blob: &Digest,
        compression: Option<Compression>,
        what: &str,
        key_for: impl FnOnce(&Unpacked) -> Result<String>,
    ) -> Result<LayerOutcome> {
        let mut source = self
            .content
            .open_blob(blob)
            .map_err(|e| Error::context(format!("{what}: open blob"), e))?;
        let unpacked = self
            .snapshots
            .unpack(extract, &mut source, compression)
            .map_err(|e| layer_error(what, e))?;
        let key = key_for(&unpacked)?;
        if self.snapshots.stat(&key).is_ok() {
            return Ok(LayerOutcome {
                unpacked,
                created: false,
            });
        }
        match self.snapshots.commit(&key, extract) {
            Ok(()) => Ok(LayerOutcome {
                unpacked,
                created: true,
            }),
            // Another load committed the same layer meanwhile.
            Err(SnapshotError::AlreadyExists { .. }) => Ok(LayerOutcome {
                unpacked,
                created: false,
            }),
            Err(e) => Err(Error::context(format!("{what}: commit snapshot {key}"), e)),
        }
    }
}
