//! Reading and writing a cgroup's control files.

use crate::{io_err, Error, Result};
use std::io::{self, Write};
use std::path::Path;

/// Writes a control file that must exist. Opened without O_CREAT, as runc opens them: cgroupfs
/// refuses to create a file with EACCES, which would read as a permission problem.
pub fn write(dir: &Path, file: &str, value: &str) -> Result<()> {
    write_raw(dir, file, value).map_err(io_err(dir, format!("write {value:?} to {file}")))
}

fn write_raw(dir: &Path, file: &str, value: &str) -> io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.join(file))?;
    f.write_all(value.as_bytes())
}

/// Writes a resource knob: `field` is the `linux.resources` field it applies. A file this cgroup
/// lacks is reported as that field not being supported by the kernel (or, on cgroup v2, as its
/// controller not being enabled there), naming the file.
pub fn set(dir: &Path, field: &str, file: &str, value: &str) -> Result<()> {
    match write_raw(dir, file, value) {
        Err(e) if e.kind() == io::ErrorKind::NotFound && dir.is_dir() => {
            Err(missing(dir, field, file))
        }
        other => other.map_err(io_err(dir, format!("write {value:?} to {file}"))),
    }
}

/// Why `dir` has no `file`: on cgroup v2 the file's controller may just not be enabled there.
fn missing(dir: &Path, field: &str, file: &str) -> Error {
    let controller = file.split('.').next().unwrap_or(file);
    if let Ok(enabled) = std::fs::read_to_string(dir.join("cgroup.controllers")) {
        if controller != "cgroup" && !enabled.split_whitespace().any(|c| c == controller) {
            return Error::Unsupported(format!(
                "linux.resources.{field}: the {controller} controller is not enabled in {} (for {file})",
                dir.display()
            ));
        }
    }
    Error::NotSupported {
        field: field.to_string(),
        path: dir.join(file),
    }
}

/// A control file's content, trimmed; empty when the file is missing or unreadable.
pub fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file))
        .unwrap_or_default()
        .trim()
        .to_string()
}
