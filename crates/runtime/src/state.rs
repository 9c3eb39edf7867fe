//! Container state on disk: one directory per container under the runtime's root, holding
//! `state.json` (written atomically) and, until `start`, the `exec.fifo` the init waits on.
//! An flock on the directory serialises commands on one container; different containers never contend.

use crate::error::{Context, Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

pub const STATE_FILE: &str = "state.json";
pub const EXEC_FIFO: &str = "exec.fifo";

/// What the runtime remembers about a container between commands.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerRecord {
    pub id: String,
    pub pid: i32,
    /// The init's start time (clock ticks since boot) so that a reused pid is never mistaken for it.
    pub pid_start_time: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub owner: String,
    #[serde(default)]
    pub annotations: HashMap<String, String>,
    /// Whether the container has a PID namespace of its own (then `kill --all` can find its processes).
    pub own_pid_namespace: bool,
    /// The container's cgroup: its path below each hierarchy and the directories we made for it.
    #[serde(default)]
    pub cgroup: Option<CgroupRecord>,
    /// The spec's hooks: poststart runs at `start` and poststop at `delete`, when the bundle's
    /// config.json may have changed or be gone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hooks: Option<oci_spec::runtime::Hooks>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CgroupRecord {
    pub path: PathBuf,
    pub created: Vec<PathBuf>,
}

impl ContainerRecord {
    /// The container's cgroup, on the hierarchies mounted now.
    pub fn cgroup(&self) -> Option<berth_cgroups::Cgroup> {
        let record = self.cgroup.as_ref()?;
        let hierarchies = berth_cgroups::Hierarchies::detect().ok()?;
        Some(berth_cgroups::Cgroup::open(
            hierarchies,
            record.path.clone(),
            record.created.clone(),
        ))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

pub struct StateRoot {
    pub path: PathBuf,
}

/// A container directory held under an flock; the lock is released when this is dropped.
pub struct LockedContainer {
    pub id: String,
    pub dir: PathBuf,
    _lock: OwnedFd,
}

impl StateRoot {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        StateRoot { path: path.into() }
    }

    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.path.join(id)
    }

    /// Makes the directory for a new container; refuses an ID that exists.
    pub fn create_container(&self, id: &str) -> Result<LockedContainer> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.path)
            .context(|| format!("state root {}", self.path.display()))?;
        let dir = self.container_dir(id);
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(Error::AlreadyExists(id.to_string()));
            }
            other => other.context(|| format!("create state directory {}", dir.display()))?,
        }
        let lock = lock_dir(&dir, rustix::fs::FlockOperation::LockExclusive)?;
        Ok(LockedContainer {
            id: id.to_string(),
            dir,
            _lock: lock,
        })
    }

    /// Takes the container's lock exclusively (waiting for other commands on it).
    pub fn lock(&self, id: &str) -> Result<LockedContainer> {
        let dir = self.container_dir(id);
        let lock = match lock_dir(&dir, rustix::fs::FlockOperation::LockExclusive) {
            Err(Error::Sys { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NotFound(id.to_string()));
            }
            other => other?,
        };
        if !dir.exists() {
            // Deleted while we waited for the lock.
            return Err(Error::NotFound(id.to_string()));
        }
        Ok(LockedContainer {
            id: id.to_string(),
            dir,
            _lock: lock,
        })
    }

    /// Reads a container's record without locking; `Ok(None)` while it is still being created.
    pub fn read(&self, id: &str) -> Result<Option<ContainerRecord>> {
        let dir = self.container_dir(id);
        if !dir.is_dir() {
            return Err(Error::NotFound(id.to_string()));
        }
        read_record(&dir)
    }

    /// Where compiled seccomp programs are kept; "@" is not allowed in container IDs.
    pub fn seccomp_cache_dir(&self) -> PathBuf {
        self.path.join("@seccomp-cache")
    }

    pub fn ids(&self) -> Result<Vec<String>> {
        let entries = match std::fs::read_dir(&self.path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            other => other.context(|| format!("read state root {}", self.path.display()))?,
        };
        let mut ids: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_dir())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|name| crate::config::validate_id(name).is_ok())
            .collect();
        ids.sort();
        Ok(ids)
    }
}

fn lock_dir(dir: &Path, op: rustix::fs::FlockOperation) -> Result<OwnedFd> {
    let fd = rustix::fs::open(
        dir,
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .context(|| format!("open state directory {}", dir.display()))?;
    rustix::fs::flock(&fd, op).context(|| format!("lock state directory {}", dir.display()))?;
    Ok(fd)
}

pub fn read_record(dir: &Path) -> Result<Option<ContainerRecord>> {
    let file = dir.join(STATE_FILE);
    let text = match std::fs::read(&file) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        other => other.context(|| format!("read {}", file.display()))?,
    };
    serde_json::from_slice(&text)
        .map(Some)
        .map_err(|e| Error::Other(format!("{}: corrupt state: {e}", file.display())))
}

impl LockedContainer {
    pub fn read(&self) -> Result<Option<ContainerRecord>> {
        read_record(&self.dir)
    }

    /// Writes the record to a temporary file and renames it into place, so readers never see half of it.
    pub fn save(&self, record: &ContainerRecord) -> Result<()> {
        let file = self.dir.join(STATE_FILE);
        let tmp = self.dir.join(".state.json.tmp");
        let bytes =
            serde_json::to_vec(record).map_err(|e| Error::Other(format!("encode state: {e}")))?;
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .context(|| format!("write {}", tmp.display()))?;
        out.write_all(&bytes)
            .context(|| format!("write {}", tmp.display()))?;
        std::fs::rename(&tmp, &file).context(|| format!("rename into {}", file.display()))
    }

    /// The lock's descriptor number, for a forked child to close its inherited copy.
    pub fn lock_raw_fd(&self) -> std::os::fd::RawFd {
        std::os::fd::AsRawFd::as_raw_fd(&self._lock)
    }

    pub fn fifo_path(&self) -> PathBuf {
        self.dir.join(EXEC_FIFO)
    }

    /// Removes the container's directory; the caller has made sure no process of it remains.
    /// The copy of the bundle's config.json taken at create.
    pub fn saved_config_path(&self) -> PathBuf {
        self.dir.join(SAVED_CONFIG)
    }

    pub fn remove(self) -> Result<()> {
        std::fs::remove_dir_all(&self.dir)
            .context(|| format!("remove state directory {}", self.dir.display()))
    }
}

const SAVED_CONFIG: &str = "config.json";

/// The live status of a recorded container, from the kernel's view of its init.
pub fn status_of(dir: &Path, record: &ContainerRecord) -> Status {
    if !crate::process_info::is_same_process(record.pid, record.pid_start_time) {
        return Status::Stopped;
    }
    if dir.join(EXEC_FIFO).exists() {
        Status::Created
    } else if record.cgroup().is_some_and(|c| c.is_frozen()) {
        Status::Paused
    } else {
        Status::Running
    }
}

/// The current time as RFC 3339 in UTC with nanoseconds, as runc writes `created`.
pub fn now_rfc3339() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil-from-days (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        now.subsec_nanos()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_shape() {
        let t = now_rfc3339();
        assert_eq!(t.len(), 30, "{t}");
        assert!(t.starts_with("20") && t.ends_with('Z'));
    }
}
