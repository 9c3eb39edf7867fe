//! The copying snapshotter: every snapshot's `fs` is a whole tree, made by copying its parent.
//! Slow and large, but it needs nothing from the filesystem beyond what tar needs.

use std::collections::HashMap;
use std::ffi::{CString, OsStr};
use std::fs;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use rustix::fs::{AtFlags, FileType, Gid, Mode, Timespec, Timestamps, Uid, XattrFlags};

use super::store::{Snap, Store};
use super::{Info, Kind, SnapshotError, Snapshotter, Usage, mkdir, sys_err, usage_of};
use crate::layer::{self, Compression, Unpacked, Whiteouts};
use crate::mount::Mount;

pub struct CopySnapshotter {
    store: Store,
}

impl CopySnapshotter {
    pub fn open(root: &Path) -> Result<CopySnapshotter, SnapshotError> {
        Ok(CopySnapshotter {
            store: Store::open(root)?,
        })
    }

    fn mounts_of(snap: &Snap) -> Result<Vec<Mount>, SnapshotError> {
        let own = snap.dir.join("fs");
        match snap.info.kind {
            Kind::Committed => Err(SnapshotError::NotActive {
                key: snap.info.key.clone(),
                kind: Kind::Committed,
            }),
            Kind::Active => Ok(vec![Mount::Bind {
                source: own,
                readonly: false,
            }]),
            // A committed tree is complete and never changes, so a view binds it directly.
            Kind::View => {
                let source = snap.ancestors.first().cloned().unwrap_or(own);
                Ok(vec![Mount::Bind {
                    source,
                    readonly: true,
                }])
            }
        }
    }
}

impl Snapshotter for CopySnapshotter {
    fn driver_name(&self) -> &'static str {
        "copy"
    }

    fn prepare(&self, key: &str, parent: Option<&str>) -> Result<Vec<Mount>, SnapshotError> {
        let snap = self
            .store
            .create(key, parent, Kind::Active, |dir, parent| {
                let fs = dir.join("fs");
                match parent {
                    None => mkdir(&fs),
                    Some(parent) => copy_tree(&parent.dir.join("fs"), &fs, &mut HashMap::new()),
                }
            })?;
        Self::mounts_of(&snap)
    }

    fn view(&self, key: &str, parent: Option<&str>) -> Result<Vec<Mount>, SnapshotError> {
        let snap = self
            .store
            .create(key, parent, Kind::View, |dir, _| mkdir(&dir.join("fs")))?;
        Self::mounts_of(&snap)
    }

    fn mounts(&self, key: &str) -> Result<Vec<Mount>, SnapshotError> {
        Self::mounts_of(&self.store.get(key)?)
    }

    fn unpack(
        &self,
        key: &str,
        layer: &mut dyn Read,
        compression: Option<Compression>,
    ) -> Result<Unpacked, SnapshotError> {
        let snap = self.store.get(key)?;
        if snap.info.kind != Kind::Active {
            return Err(SnapshotError::NotActive {
                key: key.to_owned(),
                kind: snap.info.kind,
            });
        }
        layer::unpack(layer, compression, &snap.dir.join("fs"), Whiteouts::Apply).map_err(
            |source| SnapshotError::Layer {
                key: key.to_owned(),
                source,
            },
        )
    }

    fn commit(&self, name: &str, key: &str) -> Result<(), SnapshotError> {
        self.store.commit(name, key)
    }

    fn remove(&self, key: &str) -> Result<(), SnapshotError> {
        self.store.remove(key)
    }

    fn stat(&self, key: &str) -> Result<Info, SnapshotError> {
        Ok(self.store.get(key)?.info)
    }

    fn list(&self) -> Result<Vec<Info>, SnapshotError> {
        Ok(self.store.list())
    }

    fn usage(&self, key: &str) -> Result<Usage, SnapshotError> {
        usage_of(&self.store.get(key)?.dir.join("fs"))
    }
}

/// Copies `src` to the new path `dst` with owners, modes, times, xattrs, device numbers and
/// hard links (`links` maps an inode already copied to its copy). Symlinks are copied, never
/// followed. Both trees are the snapshotter's own, so paths are safe to use here.
fn copy_tree(
    src: &Path,
    dst: &Path,
    links: &mut HashMap<(u64, u64), std::path::PathBuf>,
) -> Result<(), SnapshotError> {
    let io = |op, path: &Path| {
        let path = path.to_owned();
        move |source| SnapshotError::Io { op, path, source }
    };
    let meta = fs::symlink_metadata(src).map_err(io("stat", src))?;
    let file_type = meta.file_type();
    if file_type.is_dir() {
        mkdir(dst)?;
        for entry in fs::read_dir(src).map_err(io("listing", src))? {
            let entry = entry.map_err(io("listing", src))?;
            copy_tree(&entry.path(), &dst.join(entry.file_name()), links)?;
        }
    } else if meta.nlink() > 1
        && let Some(first) = links.get(&(meta.dev(), meta.ino()))
    {
        return fs::hard_link(first, dst).map_err(io("hard-linking", dst));
    } else if file_type.is_file() {
        fs::copy(src, dst).map_err(io("copying", src))?;
    } else if file_type.is_symlink() {
        let target = fs::read_link(src).map_err(io("reading the symlink", src))?;
        std::os::unix::fs::symlink(target, dst).map_err(io("creating the symlink", dst))?;
    } else {
        let kind = FileType::from_raw_mode(meta.mode());
        rustix::fs::mknodat(
            rustix::fs::CWD,
            dst,
            kind,
            Mode::from_raw_mode(0o600),
            meta.rdev(),
        )
        .map_err(sys_err("creating the node", dst))?;
    }
    if meta.nlink() > 1 && !file_type.is_dir() {
        links.insert((meta.dev(), meta.ino()), dst.to_owned());
    }
    copy_metadata(src, dst, &meta)
}

fn copy_metadata(src: &Path, dst: &Path, meta: &fs::Metadata) -> Result<(), SnapshotError> {
    let uid = Uid::from_raw_unchecked(meta.uid());
    let gid = Gid::from_raw_unchecked(meta.gid());
    rustix::fs::chownat(
        rustix::fs::CWD,
        dst,
        Some(uid),
        Some(gid),
        AtFlags::SYMLINK_NOFOLLOW,
    )
    .map_err(sys_err("setting the owner of", dst))?;
    let is_symlink = meta.file_type().is_symlink();
    if !is_symlink {
        // After chown, which clears setuid/setgid.
        fs::set_permissions(dst, fs::Permissions::from_mode(meta.mode() & 0o7777)).map_err(
            |source| SnapshotError::Io {
                op: "setting the mode of",
                path: dst.to_owned(),
                source,
            },
        )?;
    }
    copy_xattrs(src, dst)?;
    let times = Timestamps {
        last_access: Timespec {
            tv_sec: meta.atime(),
            tv_nsec: meta.atime_nsec(),
        },
        last_modification: Timespec {
            tv_sec: meta.mtime(),
            tv_nsec: meta.mtime_nsec(),
        },
    };
    rustix::fs::utimensat(rustix::fs::CWD, dst, &times, AtFlags::SYMLINK_NOFOLLOW)
        .map_err(sys_err("setting the times of", dst))
}

fn copy_xattrs(src: &Path, dst: &Path) -> Result<(), SnapshotError> {
    let size = match rustix::fs::llistxattr_query(src) {
        Ok(0) | Err(rustix::io::Errno::NOTSUP) => return Ok(()),
        Ok(size) => size,
        Err(e) => return Err(sys_err("listing the xattrs of", src)(e)),
    };
    let mut names = vec![0u8; size];
    let len = rustix::fs::llistxattr(src, &mut names[..])
        .map_err(sys_err("listing the xattrs of", src))?;
    for name in names[..len].split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let name = OsStr::from_bytes(name);
        let value_len =
            rustix::fs::lgetxattr_query(src, name).map_err(sys_err("reading an xattr of", src))?;
        let mut value = vec![0u8; value_len];
        let n = rustix::fs::lgetxattr(src, name, &mut value[..])
            .map_err(sys_err("reading an xattr of", src))?;
        let name = CString::new(name.as_bytes()).unwrap_or_default();
        rustix::fs::lsetxattr(dst, name.as_c_str(), &value[..n], XattrFlags::empty())
            .map_err(sys_err("setting an xattr of", dst))?;
    }
    Ok(())
}
