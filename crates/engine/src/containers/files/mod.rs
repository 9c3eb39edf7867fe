//! A container's files from the outside: stat and copies out and in (`docker cp`, the archive
//! API), `docker diff`, `docker export` and `docker commit`.
//!
//! Each operation holds the container's operation lock from start to end, as dockerd holds a
//! container's lock until its archive has been read: the root cannot be unmounted, and the
//! container cannot be started or removed, while its files are read or written. A container
//! whose root is not mounted (it exited) gets it mounted for the operation and unmounted after;
//! one whose root is mounted (running, or created and not yet started) keeps it.
//!
//! Paths inside the container are resolved by the kernel with `openat2(RESOLVE_IN_ROOT)` on a
//! directory fd of the root (see `spec::in_root`), and everything is then read and written
//! through fds, so no symlink, `..` or concurrent rename in the container can lead outside it.

mod archive;
mod changes;
mod commit;
mod export;
mod path;

pub use archive::PathStat;
pub use commit::CommitOptions;

use super::Inner;
use super::lifecycle::is_mount_point;
use super::record::{ContainerRecord, State};
use super::spec::in_root;
use crate::error::{Error, Result};
use std::os::fd::OwnedFd;
use std::path::PathBuf;

/// A container's root, mounted and open, for the length of one operation.
pub(crate) struct Root {
    /// An O_PATH fd of the mounted root. Declared before `_mount` so that it is closed before
    /// the unmount (an open fd would keep the mount busy).
    pub fd: OwnedFd,
    pub rootfs: PathBuf,
    _mount: Unmount,
}

/// Unmounts the root when dropped, if this operation mounted it.
struct Unmount {
    rootfs: PathBuf,
    armed: bool,
}

impl Drop for Unmount {
    fn drop(&mut self) {
        if self.armed
            && let Err(e) = berth_image::mount::unmount(&self.rootfs)
        {
            tracing::warn!(
                "unmount {} after a file operation: {e}",
                self.rootfs.display()
            );
        }
    }
}

impl Inner {
    /// Runs `f` on the container `reference` with its operation lock held.
    pub(crate) fn with_container<T>(
        &self,
        reference: &str,
        f: impl FnOnce(&ContainerRecord) -> Result<T>,
    ) -> Result<T> {
        let id = self.lookup(reference)?;
        let slot = self.slot(&id);
        let _guard = slot.lock();
        let record = self.load(&id)?;
        if record.state == State::Removing {
            return Err(Error::conflict(format!(
                "container {id} is marked for removal"
            )));
        }
        f(&record)
    }

    /// Runs `f` on the container's mounted root, with its operation lock held.
    pub(crate) fn with_root<T>(
        &self,
        reference: &str,
        f: impl FnOnce(&ContainerRecord, &Root) -> Result<T>,
    ) -> Result<T> {
        self.with_container(reference, |record| {
            let root = self.mount_root(record)?;
            f(record, &root)
        })
    }

    fn mount_root(&self, record: &ContainerRecord) -> Result<Root> {
        let paths = self.paths(&record.id);
        std::fs::create_dir_all(&paths.rootfs)
            .map_err(|e| Error::context(format!("create {}", paths.rootfs.display()), e))?;
        let mut mount = Unmount {
            rootfs: paths.rootfs.clone(),
            armed: false,
        };
        if !is_mount_point(&paths.rootfs, &paths.bundle)? {
            let mounts =
                self.images.snapshotter().mounts(&record.id).map_err(|e| {
                    Error::context(format!("the writable layer of {}", record.id), e)
                })?;
            berth_image::mount::mount_all(&mounts, &paths.rootfs)
                .map_err(|e| Error::context(format!("mount the root of {}", record.id), e))?;
            mount.armed = true;
        }
        Ok(Root {
            fd: in_root::open_root(&paths.rootfs)?,
            rootfs: paths.rootfs,
            _mount: mount,
        })
    }
}
