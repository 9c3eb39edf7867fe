//! The shim's records in its state directory, written so that a reader never sees half of one:
//! temporary file, then rename. No fsync: the state directory lives under berthd's exec-root and
//! describes processes, which a power loss ends anyway; a crash of the shim or of berthd keeps
//! the page cache, so a renamed record is there for whoever reads it next. (The fsyncs cost
//! about a millisecond per container start and per exit on the critical path.)

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
    drop(file);
    std::fs::rename(&tmp, &target)
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
