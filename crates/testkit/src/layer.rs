//! One layer tar, entry by entry.

use crate::FIXED_MTIME;
use std::io::Write;
use tar::{EntryType, Header};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Dir,
    Symlink,
    Hardlink,
    Fifo,
    CharDevice,
    BlockDevice,
}

impl EntryKind {
    fn tar_type(self) -> EntryType {
        match self {
            EntryKind::File => EntryType::Regular,
            EntryKind::Dir => EntryType::Directory,
            EntryKind::Symlink => EntryType::Symlink,
            EntryKind::Hardlink => EntryType::Link,
            EntryKind::Fifo => EntryType::Fifo,
            EntryKind::CharDevice => EntryType::Char,
            EntryKind::BlockDevice => EntryType::Block,
        }
    }
}

/// One tar entry. `path` and `link` are written into the header as given (no normalization),
/// so hostile names can be crafted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub kind: EntryKind,
    pub path: String,
    pub link: String,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub mtime: u64,
    pub device: (u32, u32),
    pub data: Vec<u8>,
}

impl Entry {
    pub fn new(kind: EntryKind, path: &str) -> Entry {
        let mode = match kind {
            EntryKind::Dir => 0o755,
            EntryKind::Symlink => 0o777,
            _ => 0o644,
        };
        Entry {
            kind,
            path: path.to_string(),
            link: String::new(),
            mode,
            uid: 0,
            gid: 0,
            mtime: FIXED_MTIME,
            device: (0, 0),
            data: Vec::new(),
        }
    }
    pub fn file(path: &str, data: &[u8]) -> Entry {
        Entry {
            data: data.to_vec(),
            ..Entry::new(EntryKind::File, path)
        }
    }
    pub fn dir(path: &str) -> Entry {
        Entry::new(EntryKind::Dir, path)
    }
    pub fn symlink(path: &str, target: &str) -> Entry {
        Entry {
            link: target.to_string(),
            ..Entry::new(EntryKind::Symlink, path)
        }
    }
    pub fn hardlink(path: &str, target: &str) -> Entry {
        Entry {
            link: target.to_string(),
            ..Entry::new(EntryKind::Hardlink, path)
        }
    }
    pub fn mode(mut self, mode: u32) -> Entry {
        self.mode = mode;
        self
    }
    pub fn owner(mut self, uid: u64, gid: u64) -> Entry {
        self.uid = uid;
        self.gid = gid;
        self
    }
    pub fn mtime(mut self, mtime: u64) -> Entry {
        self.mtime = mtime;
        self
    }
}

/// A layer: entries in order, and how its blob is compressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    pub entries: Vec<Entry>,
    pub compression: Compression,
}

impl Default for Layer {
    fn default() -> Self {
        Layer::new()
    }
}

impl Layer {
    pub fn new() -> Layer {
        Layer {
            entries: Vec::new(),
            compression: Compression::None,
        }
    }

    /// Adds any entry as is (crafted names included).
    pub fn entry(mut self, entry: Entry) -> Layer {
        self.entries.push(entry);
        self
    }
    pub fn raw(self, entry: Entry) -> Layer {
        self.entry(entry)
    }
    pub fn file(self, path: &str, data: &[u8]) -> Layer {
        self.entry(Entry::file(path, data))
    }
    /// A file with its mode and owner.
    pub fn file_with(self, path: &str, data: &[u8], mode: u32, uid: u64, gid: u64) -> Layer {
        self.entry(Entry::file(path, data).mode(mode).owner(uid, gid))
    }
    pub fn dir(self, path: &str) -> Layer {
        self.entry(Entry::dir(path))
    }
    pub fn dir_with(self, path: &str, mode: u32, uid: u64, gid: u64) -> Layer {
        self.entry(Entry::dir(path).mode(mode).owner(uid, gid))
    }
    pub fn symlink(self, path: &str, target: &str) -> Layer {
        self.entry(Entry::symlink(path, target))
    }
    pub fn hardlink(self, path: &str, target: &str) -> Layer {
        self.entry(Entry::hardlink(path, target))
    }
    pub fn fifo(self, path: &str) -> Layer {
        self.entry(Entry::new(EntryKind::Fifo, path))
    }
    /// `.wh.NAME` next to `path`: deletes `path` of the layers below.
    pub fn whiteout(self, path: &str) -> Layer {
        let path = path.trim_end_matches('/');
        let (dir, name) = match path.rfind('/') {
            Some(i) => (&path[..=i], &path[i + 1..]),
            None => ("", path),
        };
        self.entry(Entry::file(&format!("{dir}.wh.{name}"), b""))
    }
    /// `DIR/.wh..wh..opq`: hides everything the layers below have in `dir`.
    pub fn opaque(self, dir: &str) -> Layer {
        let dir = dir.trim_end_matches('/');
        self.entry(Entry::file(&format!("{dir}/.wh..wh..opq"), b""))
    }
    pub fn gzip(mut self) -> Layer {
        self.compression = Compression::Gzip;
        self
    }
    pub fn zstd(mut self) -> Layer {
        self.compression = Compression::Zstd;
        self
    }
    pub fn compressed(mut self, compression: Compression) -> Layer {
        self.compression = compression;
        self
    }

    /// The uncompressed tar (its sha256 is the diffID).
    pub fn tar(&self) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for entry in &self.entries {
            append(&mut builder, entry);
        }
        builder.into_inner().expect("finish an in-memory tar")
    }

    /// The blob as stored: the tar compressed as asked.
    pub fn blob(&self) -> Vec<u8> {
        compress(&self.tar(), self.compression)
    }

    pub fn diff_id(&self) -> String {
        crate::sha256_digest(&self.tar())
    }

    /// OCI media type of the blob.
    pub fn oci_media_type(&self) -> &'static str {
        match self.compression {
            Compression::None => "application/vnd.oci.image.layer.v1.tar",
            Compression::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
            Compression::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
        }
    }
}

pub fn compress(data: &[u8], compression: Compression) -> Vec<u8> {
    match compression {
        Compression::None => data.to_vec(),
        Compression::Gzip => {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(data).expect("gzip into memory");
            enc.finish().expect("gzip into memory")
        }
        Compression::Zstd => zstd::encode_all(data, 3).expect("zstd into memory"),
    }
}

fn append(builder: &mut tar::Builder<Vec<u8>>, e: &Entry) {
    let mut header = Header::new_gnu();
    header.set_entry_type(e.kind.tar_type());
    header.set_mode(e.mode);
    header.set_uid(e.uid);
    header.set_gid(e.gid);
    header.set_mtime(e.mtime);
    header.set_size(e.data.len() as u64);
    if matches!(e.kind, EntryKind::CharDevice | EntryKind::BlockDevice) {
        header
            .set_device_major(e.device.0)
            .expect("gnu header has device fields");
        header
            .set_device_minor(e.device.1)
            .expect("gnu header has device fields");
    }
    if e.path.len() <= 100 && e.link.len() <= 100 {
        // Straight into the header: the tar crate would refuse `..` and absolute names.
        let old = header.as_old_mut();
        old.name[..e.path.len()].copy_from_slice(e.path.as_bytes());
        old.linkname[..e.link.len()].copy_from_slice(e.link.as_bytes());
        header.set_cksum();
        builder
            .append(&header, e.data.as_slice())
            .expect("append to an in-memory tar");
    } else if matches!(e.kind, EntryKind::Symlink | EntryKind::Hardlink) {
        builder
            .append_link(&mut header, &e.path, &e.link)
            .expect("append a long link");
    } else {
        builder
            .append_data(&mut header, &e.path, e.data.as_slice())
            .expect("append a long name");
    }
}

/// A tar of whole files (for archive members): name → content, in order.
pub(crate) fn archive_tar(members: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut dirs_done = std::collections::BTreeSet::new();
    for (name, data) in members {
        // Parent dirs first, as docker save writes them.
        let mut prefix = String::new();
        for part in name
            .split('/')
            .collect::<Vec<_>>()
            .iter()
            .rev()
            .skip(1)
            .rev()
        {
            prefix.push_str(part);
            prefix.push('/');
            if dirs_done.insert(prefix.clone()) {
                append(&mut builder, &Entry::dir(&prefix));
            }
        }
        append(&mut builder, &Entry::file(name, data));
    }
    builder.into_inner().expect("finish an in-memory tar")
}
