//! Reading members of an archive on disk without extracting it: one pass indexes the tar,
//! then each member is read where it lies.

use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

pub(super) struct Archive {
    path: PathBuf,
    /// Member name (without a leading `./`) → (data offset, size).
    members: BTreeMap<String, (u64, u64)>,
    /// Symlinked members (some writers link shared layers): name → target member name.
    links: BTreeMap<String, String>,
}

fn clean(name: &str) -> String {
    name.trim_start_matches("./")
        .trim_start_matches('/')
        .to_string()
}

impl Archive {
    pub fn open(path: &Path) -> Result<Archive> {
        let bad = |e: std::io::Error| {
            Error::invalid(format!("invalid archive: not a readable tar file: {e}"))
        };
        let file =
            File::open(path).map_err(|e| Error::context(format!("open {}", path.display()), e))?;
        let mut tar = tar::Archive::new(file);
        let mut members = BTreeMap::new();
        let mut links = BTreeMap::new();
        for entry in tar.entries().map_err(bad)? {
            let entry = entry.map_err(bad)?;
            let name = clean(&String::from_utf8_lossy(&entry.path_bytes()));
            match entry.header().entry_type() {
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    members.insert(name, (entry.raw_file_position(), entry.size()));
                }
                tar::EntryType::Symlink | tar::EntryType::Link => {
                    if let Some(target) = entry.link_name_bytes() {
                        let target = String::from_utf8_lossy(&target).into_owned();
                        let target = if entry.header().entry_type() == tar::EntryType::Symlink {
                            resolve_relative(&name, &target)
                        } else {
                            clean(&target)
                        };
                        links.insert(name, target);
                    }
                }
                _ => {}
            }
        }
        Ok(Archive {
            path: path.to_owned(),
            members,
            links,
        })
    }

    fn locate(&self, name: &str) -> Option<(u64, u64)> {
        let mut name = clean(name);
        for _ in 0..8 {
            if let Some(found) = self.members.get(&name) {
                return Some(*found);
            }
            name = self.links.get(&name)?.clone();
        }
        None
    }

    pub fn contains(&self, name: &str) -> bool {
        self.locate(name).is_some()
    }

    /// A reader of one member's content.
    pub fn open_member(&self, name: &str) -> Result<(std::io::Take<File>, u64)> {
        let (offset, size) = self.locate(name).ok_or_else(|| {
            Error::invalid(format!(
                "invalid archive: {name} is missing from the archive"
            ))
        })?;
        let mut file = File::open(&self.path)
            .map_err(|e| Error::context(format!("open {}", self.path.display()), e))?;
        file.seek(SeekFrom::Start(offset))
            .map_err(|e| Error::context(format!("read {name} in the archive"), e))?;
        Ok((file.take(size), size))
    }

    /// A small member (JSON) whole; at most 64 MiB.
    pub fn read_member(&self, name: &str) -> Result<Vec<u8>> {
        let (mut reader, size) = self.open_member(name)?;
        if size > 64 << 20 {
            return Err(Error::invalid(format!(
                "invalid archive: {name} is {size} bytes, too large for JSON"
            )));
        }
        let mut data = Vec::with_capacity(size as usize);
        reader
            .read_to_end(&mut data)
            .map_err(|e| Error::context(format!("read {name} in the archive"), e))?;
        Ok(data)
    }
}

/// `a/b/layer.tar` → `../c/layer.tar` is `a/c/layer.tar`.
fn resolve_relative(name: &str, target: &str) -> String {
    if target.starts_with('/') {
        return clean(target);
    }
    let mut parts: Vec<&str> = name.split('/').collect();
    parts.pop();
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}
