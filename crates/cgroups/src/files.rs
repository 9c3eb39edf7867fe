//! Reading and writing a cgroup's control files.

use crate::{io_err, Result};
use std::path::Path;

pub fn write(dir: &Path, file: &str, value: &str) -> Result<()> {
    std::fs::write(dir.join(file), value).map_err(io_err(dir, format!("write {value:?} to {file}")))
}

/// A control file's content, trimmed; empty when the file is missing or unreadable.
pub fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file))
        .unwrap_or_default()
        .trim()
        .to_string()
}
