//! `docker export`: the container's whole root as a tar (what it sees, image and writable
//! layer together), entries named relative to the root as dockerd names them.

use super::archive::pack_error;
use crate::containers::Inner;
use crate::error::Result;
use berth_image::pack::Packer;
use std::io::Write;
use std::os::fd::AsFd;

impl Inner {
    /// Calls `ready` once the container is found and its root mounted, then writes the tar.
    pub(crate) fn export(
        &self,
        reference: &str,
        ready: &mut dyn FnMut(),
        out: &mut dyn Write,
    ) -> Result<()> {
        self.with_root(reference, |_, root| {
            ready();
            let mut packer = Packer::new(out);
            packer
                .append_children(root.fd.as_fd(), b"", b"")
                .and_then(|()| packer.finish().map(drop))
                .map_err(|e| pack_error("/", e))
        })
    }
}
