//! The shim's records in its state directory, written so that a reader never sees half of one
//! and a crash right after the write does not lose it: temporary file, fsync, rename, fsync of
//! the directory.

use serde::Serialize;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

pub fn write_json_atomic<T: Serialize>(dir: &Path, name: &str, value: &T) -> io::Result<()> {
    let mut bytes = serde_json::to_vec(value).map_err(io::Error::other)?;
    bytes.push(b'\n');
    let tmp = dir.join(format!(".{name}.tmp"));
    let target = dir.join(name);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(&bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, &target)?;
    std::fs::File::open(dir)?.sync_all()
}

/// Removes a file the shim made; a missing one is fine.
pub fn remove(path: &Path) {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            eprintln!("berth-shim: remove {}: {e}", path.display())
        }
        _ => {}
    }
}
