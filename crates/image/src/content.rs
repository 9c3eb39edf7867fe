//! The content store: immutable blobs addressed by digest, at `<root>/blobs/sha256/<hex>`.
//!
//! A blob becomes visible only whole and verified: it is written to a temp file in the same
//! directory while its digest and size are computed, fsynced, then renamed into place (and the
//! directory fsynced). A wrong digest or size removes the temp file, so a failed or crashed write
//! never leaves a blob under its final name. Temp files of a crashed writer are removed by
//! [`ContentStore::open`].

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::digest::{Digest, Digester};

const TEMP_PREFIX: &str = ".tmp-";

/// The store's root; cheap to clone, safe to share between threads.
#[derive(Debug, Clone)]
pub struct ContentStore {
    blobs: PathBuf,
}

/// What the store knows about a blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobInfo {
    pub digest: Digest,
    pub size: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    #[error("blob {digest} is not in the content store")]
    NotFound { digest: Digest },
    #[error("content written for {expected} has digest {actual}; the blob was not stored")]
    DigestMismatch { expected: Digest, actual: Digest },
    #[error(
        "content written for {digest} is {actual} bytes, expected {expected}; the blob was not stored"
    )]
    SizeMismatch {
        digest: Digest,
        expected: u64,
        actual: u64,
    },
    #[error("blob {digest} at {path} is corrupt: its content hashes to {actual}")]
    Corrupt {
        digest: Digest,
        path: PathBuf,
        actual: Digest,
    },
    #[error("content store: {op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("content store: reading the content for {digest}: {source}")]
    Source { digest: Digest, source: io::Error },
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> ContentError + 'a {
    move |source| ContentError::Io {
        op,
        path: path.to_owned(),
        source,
    }
}

impl ContentStore {
    /// Opens (creating if needed) the store under `root` and removes temp files left by writers
    /// that crashed. Only one process should write to a store at a time.
    pub fn open(root: impl AsRef<Path>) -> Result<ContentStore, ContentError> {
        let blobs = root.as_ref().join("blobs").join("sha256");
        fs::create_dir_all(&blobs).map_err(io_err("creating", &blobs))?;
        for entry in fs::read_dir(&blobs).map_err(io_err("listing", &blobs))? {
            let entry = entry.map_err(io_err("listing", &blobs))?;
            if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
                let path = entry.path();
                fs::remove_file(&path).map_err(io_err("removing stale temp file", &path))?;
            }
        }
        Ok(ContentStore { blobs })
    }

    /// Where the blob `digest` lives (whether or not it is there).
    pub fn path(&self, digest: &Digest) -> PathBuf {
        self.blobs.join(digest.hex())
    }

    /// Stores the content read from `source` as blob `digest`, verifying its digest and, when
    /// given, its size (reading stops as soon as the content is longer than `size`). If the blob
    /// is already stored nothing is read: blobs are immutable and were verified when written.
    pub fn write(
        &self,
        digest: &Digest,
        size: Option<u64>,
        mut source: impl Read,
    ) -> Result<BlobInfo, ContentError> {
        if let Ok(info) = self.stat(digest) {
            return Ok(info);
        }
        let temp = self.temp_path(digest);
        let result = self.write_temp(&temp, digest, size, &mut source);
        if result.is_err() {
            let _ = fs::remove_file(&temp);
        }
        result
    }

    /// Stores `data`, whose digest is computed here, and returns its info.
    pub fn write_bytes(&self, data: &[u8]) -> Result<BlobInfo, ContentError> {
        let digest = Digest::of(data);
        self.write(&digest, Some(data.len() as u64), data)
    }

    fn write_temp(
        &self,
        temp: &Path,
        digest: &Digest,
        size: Option<u64>,
        source: &mut dyn Read,
    ) -> Result<BlobInfo, ContentError> {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o444)
            .open(temp)
            .map_err(io_err("creating", temp))?;
        let mut digester = Digester::new();
        let mut buf = vec![0u8; 64 * 1024];
        // Reading one byte past the expected size is enough to know it is too long.
        let mut limited = source.take(size.map_or(u64::MAX, |s| s.saturating_add(1)));
        loop {
            let n = match limited.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(ContentError::Source {
                        digest: digest.clone(),
                        source,
                    });
                }
            };
            digester.update(&buf[..n]);
            file.write_all(&buf[..n]).map_err(io_err("writing", temp))?;
        }
        let actual_size = digester.len();
        if let Some(expected) = size.filter(|&s| s != actual_size) {
            return Err(ContentError::SizeMismatch {
                digest: digest.clone(),
                expected,
                actual: actual_size,
            });
        }
        let actual = digester.finish();
        if &actual != digest {
            return Err(ContentError::DigestMismatch {
                expected: digest.clone(),
                actual,
            });
        }
        file.sync_all().map_err(io_err("syncing", temp))?;
        drop(file);
        let target = self.path(digest);
        fs::rename(temp, &target).map_err(io_err("renaming into place", &target))?;
        File::open(&self.blobs)
            .and_then(|dir| dir.sync_all())
            .map_err(io_err("syncing", &self.blobs))?;
        Ok(BlobInfo {
            digest: digest.clone(),
            size: actual_size,
        })
    }

    fn temp_path(&self, digest: &Digest) -> PathBuf {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        self.blobs.join(format!(
            "{TEMP_PREFIX}{}-{}-{n}",
            digest.hex(),
            std::process::id()
        ))
    }

    /// Opens the blob for reading (the reader is not verified; [`ContentStore::read`] is).
    pub fn open_blob(&self, digest: &Digest) -> Result<File, ContentError> {
        let path = self.path(digest);
        File::open(&path).map_err(|source| self.classify(digest, "opening", &path, source))
    }

    /// Reads the whole blob and checks that it still hashes to its digest.
    pub fn read(&self, digest: &Digest) -> Result<Vec<u8>, ContentError> {
        let path = self.path(digest);
        let data =
            fs::read(&path).map_err(|source| self.classify(digest, "reading", &path, source))?;
        let actual = Digest::of(&data);
        if &actual != digest {
            return Err(ContentError::Corrupt {
                digest: digest.clone(),
                path,
                actual,
            });
        }
        Ok(data)
    }

    pub fn stat(&self, digest: &Digest) -> Result<BlobInfo, ContentError> {
        let path = self.path(digest);
        let meta =
            fs::metadata(&path).map_err(|source| self.classify(digest, "stat", &path, source))?;
        Ok(BlobInfo {
            digest: digest.clone(),
            size: meta.len(),
        })
    }

    pub fn contains(&self, digest: &Digest) -> bool {
        self.path(digest).is_file()
    }

    /// Every stored blob, in digest order. Temp files and foreign names are skipped.
    pub fn list(&self) -> Result<Vec<BlobInfo>, ContentError> {
        let mut blobs = Vec::new();
        for entry in fs::read_dir(&self.blobs).map_err(io_err("listing", &self.blobs))? {
            let entry = entry.map_err(io_err("listing", &self.blobs))?;
            let name = entry.file_name();
            let Some(digest) = name
                .to_str()
                .and_then(|hex| format!("sha256:{hex}").parse().ok())
            else {
                continue;
            };
            let path = entry.path();
            let meta = entry.metadata().map_err(io_err("stat", &path))?;
            blobs.push(BlobInfo {
                digest,
                size: meta.len(),
            });
        }
        blobs.sort_by(|a, b| a.digest.cmp(&b.digest));
        Ok(blobs)
    }

    pub fn delete(&self, digest: &Digest) -> Result<(), ContentError> {
        let path = self.path(digest);
        fs::remove_file(&path).map_err(|source| self.classify(digest, "removing", &path, source))
    }

    fn classify(
        &self,
        digest: &Digest,
        op: &'static str,
        path: &Path,
        source: io::Error,
    ) -> ContentError {
        if source.kind() == io::ErrorKind::NotFound {
            ContentError::NotFound {
                digest: digest.clone(),
            }
        } else {
            ContentError::Io {
                op,
                path: path.to_owned(),
                source,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;

    fn names_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn write_then_read_stat_list_delete() {
        let tmp = TempDir::new("content");
        let store = ContentStore::open(tmp.path()).unwrap();
        let info = store.write_bytes(b"hello").unwrap();
        assert_eq!(info.size, 5);
        let path = tmp.path().join("blobs/sha256").join(info.digest.hex());
        assert_eq!(fs::read(&path).unwrap(), b"hello");
        assert_eq!(store.read(&info.digest).unwrap(), b"hello");
        let mut opened = String::new();
        store
            .open_blob(&info.digest)
            .unwrap()
            .read_to_string(&mut opened)
            .unwrap();
        assert_eq!(opened, "hello");
        assert_eq!(store.stat(&info.digest).unwrap(), info);
        assert_eq!(store.list().unwrap(), vec![info.clone()]);
        assert_eq!(
            names_in(&tmp.path().join("blobs/sha256")),
            vec![info.digest.hex().to_owned()]
        );

        store.delete(&info.digest).unwrap();
        assert!(!path.exists());
        assert!(matches!(
            store.stat(&info.digest),
            Err(ContentError::NotFound { .. })
        ));
        assert!(matches!(
            store.delete(&info.digest),
            Err(ContentError::NotFound { .. })
        ));
        assert!(store.list().unwrap().is_empty());
    }

    #[test]
    fn wrong_digest_or_size_is_refused_and_leaves_nothing() {
        let tmp = TempDir::new("content-bad");
        let store = ContentStore::open(tmp.path()).unwrap();
        let other = Digest::of(b"other");
        let err = store.write(&other, None, &b"hello"[..]).unwrap_err();
        assert!(
            matches!(&err, ContentError::DigestMismatch { expected, actual }
            if expected == &other && actual == &Digest::of(b"hello")),
            "{err}"
        );
        assert!(err.to_string().contains(&other.to_string()));

        let right = Digest::of(b"hello");
        let short = store.write(&right, Some(4), &b"hello"[..]).unwrap_err();
        assert!(
            matches!(
                short,
                ContentError::SizeMismatch {
                    expected: 4,
                    actual: 5,
                    ..
                }
            ),
            "{short}"
        );
        let long = store.write(&right, Some(9), &b"hello"[..]).unwrap_err();
        assert!(
            matches!(
                long,
                ContentError::SizeMismatch {
                    expected: 9,
                    actual: 5,
                    ..
                }
            ),
            "{long}"
        );

        assert!(names_in(&tmp.path().join("blobs/sha256")).is_empty());
        assert!(!store.contains(&right));
    }

    #[test]
    fn a_failing_source_leaves_nothing() {
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("network went away"))
            }
        }
        let tmp = TempDir::new("content-fail");
        let store = ContentStore::open(tmp.path()).unwrap();
        let err = store.write(&Digest::of(b"x"), None, Failing).unwrap_err();
        assert!(err.to_string().contains("network went away"), "{err}");
        assert!(names_in(&tmp.path().join("blobs/sha256")).is_empty());
    }

    #[test]
    fn rewriting_is_idempotent_and_open_removes_stale_temp_files() {
        let tmp = TempDir::new("content-idem");
        let store = ContentStore::open(tmp.path()).unwrap();
        let first = store.write_bytes(b"layer").unwrap();
        let again = store.write(&first.digest, Some(5), &b"layer"[..]).unwrap();
        assert_eq!(first, again);
        assert_eq!(store.list().unwrap().len(), 1);

        let stale = tmp.path().join("blobs/sha256/.tmp-deadbeef-1-0");
        fs::write(&stale, b"half").unwrap();
        let store = ContentStore::open(tmp.path()).unwrap();
        assert!(!stale.exists());
        assert_eq!(store.list().unwrap(), vec![first]);
    }

    #[test]
    fn concurrent_writers_of_one_blob_all_succeed_and_store_it_once() {
        let tmp = TempDir::new("content-race");
        let store = ContentStore::open(tmp.path()).unwrap();
        let data = vec![42u8; 1 << 20];
        let digest = Digest::of(&data);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    store
                        .write(&digest, Some(data.len() as u64), &data[..])
                        .unwrap()
                });
            }
        });
        assert_eq!(
            names_in(&tmp.path().join("blobs/sha256")),
            vec![digest.hex().to_owned()]
        );
        assert_eq!(store.read(&digest).unwrap(), data);
    }

    #[test]
    fn read_detects_a_corrupted_blob() {
        let tmp = TempDir::new("content-corrupt");
        let store = ContentStore::open(tmp.path()).unwrap();
        let info = store.write_bytes(b"good").unwrap();
        let path = store.path(&info.digest);
        fs::remove_file(&path).unwrap();
        fs::write(&path, b"evil").unwrap();
        let err = store.read(&info.digest).unwrap_err();
        assert!(matches!(err, ContentError::Corrupt { .. }), "{err}");
    }
}
