//! `docker diff`: the container's writable layer against its image.

use crate::containers::Inner;
use crate::error::{Error, Result};
use berth_image::snapshot::Change;

/// Mount points the runtime creates in the root when the image lacks them (dockerd keeps these
/// in a hidden "init" layer, so they are never a container's change): left out of `diff` and
/// `commit`. Nothing the container writes lands under them, which are all mounted over.
pub(super) const ENGINE_MOUNT_POINTS: &[&[u8]] = &[
    b".dockerenv",
    b"dev",
    b"etc/hostname",
    b"etc/hosts",
    b"etc/mtab",
    b"etc/resolv.conf",
    b"proc",
    b"sys",
];

impl Inner {
    /// `GET /containers/{id}/changes`.
    pub(crate) fn changes(&self, reference: &str) -> Result<Vec<Change>> {
        self.with_container(reference, |record| {
            self.images
                .snapshotter()
                .changes(&record.id, ENGINE_MOUNT_POINTS)
                .map_err(|e| Error::context(format!("compare the layer of {}", record.id), e))
        })
    }
}
