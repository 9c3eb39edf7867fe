//! Test roots: a unique dir under /run (on a filesystem overlay takes as an upper dir: tmpfs,
//! ext4, xfs) or, inside vm-run (`VM_RUN=1`), under /mnt (pass `--tmpfs /mnt`, since the
//! guest's shares are 9p). Removed on drop.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let base = if std::env::var_os("VM_RUN").is_some() {
            "/mnt"
        } else {
            "/run"
        };
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = PathBuf::from(format!(
            "{base}/berth-test-{}-{n}-{name}",
            std::process::id()
        ));
        std::fs::create_dir_all(&path).unwrap();
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Unmounts everything on `target` when dropped, so a failing test leaves no mount behind.
pub struct MountGuard {
    target: PathBuf,
}

impl MountGuard {
    pub fn mount(mounts: &[crate::mount::Mount], target: &Path) -> MountGuard {
        std::fs::create_dir_all(target).unwrap();
        crate::mount::mount_all(mounts, target).unwrap();
        MountGuard {
            target: target.to_owned(),
        }
    }

    /// Takes over a mount made some other way.
    pub fn adopt(target: &Path) -> MountGuard {
        MountGuard {
            target: target.to_owned(),
        }
    }
}

impl Drop for MountGuard {
    fn drop(&mut self) {
        let _ = crate::mount::unmount(&self.target);
    }
}

/// Lines of /proc/self/mountinfo that mention `path`.
pub fn mounts_under(path: &Path) -> Vec<String> {
    let needle = path.to_string_lossy().into_owned();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains(&needle))
        .map(str::to_owned)
        .collect()
}

/// A tar built entry by entry with plain headers.
pub struct Tar {
    builder: tar::Builder<Vec<u8>>,
}

impl Tar {
    pub fn new() -> Tar {
        Tar {
            builder: tar::Builder::new(Vec::new()),
        }
    }

    fn header(kind: tar::EntryType, mode: u32, size: usize) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(size as u64);
        h.set_mtime(1_600_000_000);
        h.set_uid(0);
        h.set_gid(0);
        h
    }

    pub fn dir(mut self, path: &str) -> Tar {
        let mut h = Tar::header(tar::EntryType::Directory, 0o755, 0);
        self.builder.append_data(&mut h, path, &[][..]).unwrap();
        self
    }

    pub fn file(mut self, path: &str, data: &[u8]) -> Tar {
        let mut h = Tar::header(tar::EntryType::Regular, 0o644, data.len());
        self.builder.append_data(&mut h, path, data).unwrap();
        self
    }

    pub fn owned_file(mut self, path: &str, data: &[u8], uid: u64, xattr: (&str, &[u8])) -> Tar {
        let key = format!("SCHILY.xattr.{}", xattr.0);
        self.builder
            .append_pax_extensions([(key.as_str(), xattr.1)])
            .unwrap();
        let mut h = Tar::header(tar::EntryType::Regular, 0o4750, data.len());
        h.set_uid(uid);
        self.builder.append_data(&mut h, path, data).unwrap();
        self
    }

    pub fn hardlink(mut self, path: &str, target: &str) -> Tar {
        let mut h = Tar::header(tar::EntryType::Link, 0o644, 0);
        self.builder.append_link(&mut h, path, target).unwrap();
        self
    }

    pub fn symlink(mut self, path: &str, target: &str) -> Tar {
        let mut h = Tar::header(tar::EntryType::Symlink, 0o777, 0);
        self.builder.append_link(&mut h, path, target).unwrap();
        self
    }

    pub fn node(mut self, path: &str, kind: tar::EntryType, major: u32, minor: u32) -> Tar {
        let mut h = Tar::header(kind, 0o620, 0);
        h.set_device_major(major).unwrap();
        h.set_device_minor(minor).unwrap();
        self.builder.append_data(&mut h, path, &[][..]).unwrap();
        self
    }

    /// An entry whose name (and link) go into the header as given: `..` and absolute names,
    /// which the tar crate refuses to write, are what escape tests need.
    pub fn raw(mut self, kind: tar::EntryType, name: &str, link: &str, data: &[u8]) -> Tar {
        let mut h = Tar::header(kind, 0o644, data.len());
        let old = h.as_old_mut();
        old.name[..name.len()].copy_from_slice(name.as_bytes());
        old.linkname[..link.len()].copy_from_slice(link.as_bytes());
        h.set_cksum();
        self.builder.append(&h, data).unwrap();
        self
    }

    pub fn bytes(self) -> Vec<u8> {
        self.builder.into_inner().unwrap()
    }
}
