//! The `mounts` list as dockerd's WithMounts makes it: its defaults (proc, /dev, devpts, sysfs,
//! cgroup, mqueue, /dev/shm), then the container's own mounts sorted by depth (its mount
//! points: volumes, binds, `--mount` tmpfs; /etc/resolv.conf, /etc/hostname, /etc/hosts, the
//! host's /dev/shm for `--ipc host`, `--tmpfs`); plus masked and read-only paths.

use super::namespaces::{Ipc, Modes};
use super::process::clean_path;
use super::{CONTAINER_INIT_PATH, SpecInput, etc_file};
use crate::containers::mount_points::{DEFAULT_PROPAGATION, MountKind, MountPoint};
use crate::containers::options::HostConfig;
use crate::error::{Error, Result};
use serde_json::{Value, json};

pub const DEFAULT_MASKED_PATHS: [&str; 11] = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

pub const DEFAULT_READONLY_PATHS: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// 64 MiB, dockerd's default `--shm-size`.
pub const DEFAULT_SHM_SIZE: i64 = 64 << 20;

pub fn masked_and_readonly_paths(hc: &HostConfig) -> (Vec<String>, Vec<String>) {
    let defaults = |list: &[&str]| {
        if hc.privileged {
            Vec::new()
        } else {
            list.iter().map(|s| s.to_string()).collect()
        }
    };
    (
        hc.masked_paths
            .clone()
            .unwrap_or_else(|| defaults(&DEFAULT_MASKED_PATHS)),
        hc.readonly_paths
            .clone()
            .unwrap_or_else(|| defaults(&DEFAULT_READONLY_PATHS)),
    )
}

fn mount(destination: &str, kind: &str, source: &str, options: &[&str]) -> Value {
    json!({"destination": destination, "type": kind, "source": source, "options": options})
}

fn default_mounts() -> Vec<Value> {
    vec![
        mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"]),
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        ),
        mount(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        ),
        mount(
            "/sys",
            "sysfs",
            "sysfs",
            &["nosuid", "noexec", "nodev", "ro"],
        ),
        mount(
            "/sys/fs/cgroup",
            "cgroup",
            "cgroup",
            &["ro", "nosuid", "noexec", "nodev"],
        ),
        mount(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        ),
        mount(
            "/dev/shm",
            "tmpfs",
            "shm",
            &["nosuid", "noexec", "nodev", "mode=1777"],
        ),
    ]
}

/// A mount the container asked for (or dockerd adds for it), before it becomes a spec entry.
enum UserMount {
    Bind {
        source: String,
        destination: String,
        writable: bool,
        /// "" for a volume: no propagation option at all.
        propagation: String,
        recursive: bool,
    },
    Tmpfs {
        destination: String,
        data: String,
    },
}

impl UserMount {
    fn destination(&self) -> &str {
        match self {
            UserMount::Bind { destination, .. } | UserMount::Tmpfs { destination, .. } => {
                destination
            }
        }
    }
}

pub struct Mounts {
    pub list: Vec<Value>,
    /// `linux.rootfsPropagation` when a shared or slave bind needs it.
    pub rootfs_propagation: Option<&'static str>,
}

fn parse_tmpfs(destination: &str, data: &str) -> Result<UserMount> {
    if destination.is_empty() {
        return Err(Error::invalid("destination can't be empty"));
    }
    if !destination.starts_with('/') {
        return Err(Error::invalid(format!(
            "invalid mount path: '{destination}' mount path must be absolute"
        )));
    }
    if clean_path(destination) == "/" {
        return Err(Error::invalid("destination can't be '/'"));
    }
    Ok(UserMount::Tmpfs {
        destination: clean_path(destination),
        data: data.to_string(),
    })
}

/// The flag words mount(8) knows, keyed by the flag they set or clear, so that a later word of
/// the same flag (`exec` after `noexec`) replaces the earlier one, as moby's MergeTmpfsOptions.
const FLAG_WORDS: [(&str, &str); 28] = [
    ("ro", "rdonly"),
    ("rw", "rdonly"),
    ("suid", "nosuid"),
    ("nosuid", "nosuid"),
    ("dev", "nodev"),
    ("nodev", "nodev"),
    ("exec", "noexec"),
    ("noexec", "noexec"),
    ("sync", "sync"),
    ("async", "sync"),
    ("dirsync", "dirsync"),
    ("remount", "remount"),
    ("mand", "mand"),
    ("nomand", "mand"),
    ("atime", "noatime"),
    ("noatime", "noatime"),
    ("diratime", "nodiratime"),
    ("nodiratime", "nodiratime"),
    ("relatime", "relatime"),
    ("norelatime", "relatime"),
    ("strictatime", "strictatime"),
    ("nostrictatime", "strictatime"),
    ("private", "propagation"),
    ("rprivate", "propagation"),
    ("shared", "propagation"),
    ("rshared", "propagation"),
    ("slave", "propagation"),
    ("rslave", "propagation"),
];

const TMPFS_DATA_KEYS: [&str; 7] = [
    "size",
    "mode",
    "uid",
    "gid",
    "nr_inodes",
    "nr_blocks",
    "mpol",
];

fn merge_tmpfs_options(options: &[String]) -> Result<Vec<String>> {
    let mut seen: Vec<&str> = Vec::new();
    let mut merged: Vec<String> = Vec::new();
    for option in options.iter().rev() {
        if option == "defaults" {
            continue;
        }
        let group = if let Some((_, group)) = FLAG_WORDS.iter().find(|(w, _)| w == option) {
            *group
        } else {
            let data_key = option
                .split_once('=')
                .and_then(|(k, _)| TMPFS_DATA_KEYS.iter().copied().find(|d| *d == k));
            data_key.ok_or_else(|| Error::invalid(format!("Invalid tmpfs option {option:?}")))?
        };
        if !seen.contains(&group) {
            seen.push(group);
            merged.insert(0, option.clone());
        }
    }
    Ok(merged)
}

fn depth(destination: &str) -> usize {
    clean_path(destination).split('/').count()
}

/// The optional fields ("shared:N master:M") of the mount holding `path`.
fn propagation_of(path: &str) -> Result<String> {
    let real = std::fs::canonicalize(path)
        .map_err(|e| Error::invalid(format!("resolve bind source {path}: {e}")))?;
    let info = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| Error::context("read /proc/self/mountinfo", e))?;
    let mut best: Option<(usize, String)> = None;
    for line in info.lines() {
        let Some((left, _)) = line.split_once(" - ") else {
            continue;
        };
        let fields: Vec<&str> = left.split(' ').collect();
        let Some(point) = fields.get(4) else {
            continue;
        };
        if real.starts_with(point) && best.as_ref().is_none_or(|(len, _)| point.len() >= *len) {
            best = Some((point.len(), fields[6..].join(" ")));
        }
    }
    Ok(best.map(|(_, optional)| optional).unwrap_or_default())
}

/// A `-v` bind's missing host directory is created, as dockerd does at each start.
fn create_bind_source(source: &str) -> Result<()> {
    if std::fs::symlink_metadata(source).is_err() {
        std::fs::create_dir_all(source).map_err(|e| {
            Error::invalid(format!(
                "error while creating mount source path '{source}': {e}"
            ))
        })?;
    }
    Ok(())
}

fn user_mount(point: &MountPoint) -> Result<UserMount> {
    if point.kind == MountKind::Tmpfs {
        return parse_tmpfs(&point.destination, &point.tmpfs_data);
    }
    if point.create_source {
        create_bind_source(&point.source)?;
    }
    Ok(UserMount::Bind {
        source: point.source.clone(),
        destination: point.destination.clone(),
        writable: point.rw,
        propagation: point.propagation.clone(),
        recursive: !point.non_recursive,
    })
}

fn etc_bind(source: String, destination: &str, writable: bool) -> UserMount {
    UserMount::Bind {
        source,
        destination: destination.into(),
        writable,
        propagation: DEFAULT_PROPAGATION.into(),
        recursive: true,
    }
}

pub fn mounts(input: &SpecInput<'_>, modes: &Modes) -> Result<Mounts> {
    let hc = input.host_config;
    let mut own: Vec<UserMount> = Vec::new();
    for point in input.mounts {
        own.push(user_mount(point)?);
    }
    let etc_writable = !hc.readonly_rootfs;
    for (name, destination) in [
        ("resolv.conf", "/etc/resolv.conf"),
        ("hostname", "/etc/hostname"),
        ("hosts", "/etc/hosts"),
    ] {
        let source = etc_file(input.container_dir, name);
        // As dockerd: a file that was not written is not mounted; a `-v` of the same path wins.
        if source.exists() && !own.iter().any(|m| m.destination() == destination) {
            own.push(etc_bind(
                source.to_string_lossy().into_owned(),
                destination,
                etc_writable,
            ));
        }
    }
    if modes.ipc == Ipc::Host {
        own.push(etc_bind("/dev/shm".into(), "/dev/shm", true));
    }
    for (destination, data) in &hc.tmpfs {
        own.push(parse_tmpfs(destination, data)?);
    }
    for (i, m) in own.iter().enumerate() {
        if own[..i].iter().any(|o| o.destination() == m.destination()) {
            return Err(Error::invalid(format!(
                "Duplicate mount point: {}",
                m.destination()
            )));
        }
    }
    own.sort_by_key(|m| depth(m.destination()));

    let user_destinations: Vec<String> = own.iter().map(|m| m.destination().to_string()).collect();
    let user_dev = user_destinations.iter().any(|d| d == "/dev");
    let shm_size = if hc.shm_size < 0 {
        return Err(Error::invalid("SHM size can not be less than 0"));
    } else if hc.shm_size == 0 {
        DEFAULT_SHM_SIZE
    } else {
        hc.shm_size
    };

    let mut list = default_mounts();
    if hc.init == Some(true)
        && !modes.pid_host
        && let Some(init) = input.init_binary
    {
        list.push(json!({"destination": CONTAINER_INIT_PATH, "type": "bind",
                "source": init, "options": ["bind", "ro"]}));
    }
    list.retain(|m| {
        let destination = m["destination"].as_str().unwrap_or_default();
        !(user_destinations.iter().any(|d| d == destination)
            || (user_dev && destination.starts_with("/dev/"))
            || (destination == "/dev/shm" && modes.ipc == Ipc::None))
    });
    for m in &mut list {
        if m["destination"] == "/dev/shm" {
            push_option(m, &format!("size={shm_size}"));
        }
    }

    let mut rootfs_propagation = None;
    for m in &own {
        match m {
            UserMount::Tmpfs { destination, data } => {
                let mut options: Vec<String> = ["noexec", "nosuid", "nodev", "rprivate"]
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
                options.extend(
                    data.split(',')
                        .filter(|s| !s.is_empty())
                        .map(str::to_string),
                );
                list.push(
                    json!({"destination": destination, "type": "tmpfs", "source": "tmpfs",
                    "options": merge_tmpfs_options(&options)?}),
                );
            }
            UserMount::Bind {
                source,
                destination,
                writable,
                propagation,
                recursive,
            } => {
                let mut options = vec![if *recursive { "rbind" } else { "bind" }.to_string()];
                if !writable {
                    options.push("ro".into());
                }
                match propagation.as_str() {
                    "shared" | "rshared" => {
                        let optional = propagation_of(source)?;
                        if !optional.split(' ').any(|o| o.starts_with("shared:")) {
                            return Err(Error::invalid(format!(
                                "path {source} is mounted on a mount that is not a shared mount"
                            )));
                        }
                        rootfs_propagation = Some("shared");
                    }
                    "slave" | "rslave" => {
                        let optional = propagation_of(source)?;
                        if !optional
                            .split(' ')
                            .any(|o| o.starts_with("shared:") || o.starts_with("master:"))
                        {
                            return Err(Error::invalid(format!(
                                "path {source} is mounted on a mount that is not a shared or slave mount"
                            )));
                        }
                        if rootfs_propagation.is_none() {
                            rootfs_propagation = Some("rslave");
                        }
                    }
                    _ => {}
                }
                if !propagation.is_empty() {
                    options.push(propagation.clone());
                }
                list.push(json!({"destination": destination, "type": "bind",
                    "source": source, "options": options}));
            }
        }
    }

    if hc.readonly_rootfs {
        for m in &mut list {
            let destination = m["destination"].as_str().unwrap_or_default().to_string();
            let exempt = ["/proc", "/dev/pts", "/dev/shm", "/dev/mqueue", "/dev"];
            if !exempt.contains(&destination.as_str()) && !user_destinations.contains(&destination)
            {
                push_option(m, "ro");
            }
        }
    }
    if hc.privileged {
        for m in &mut list {
            if m["destination"] == "/sys" || m["type"] == "cgroup" {
                remove_option(m, "ro");
            }
        }
    }
    Ok(Mounts {
        list,
        rootfs_propagation,
    })
}

fn push_option(m: &mut Value, option: &str) {
    if let Some(options) = m["options"].as_array_mut()
        && !options.iter().any(|o| o == option)
    {
        options.push(json!(option));
    }
}

fn remove_option(m: &mut Value, option: &str) {
    if let Some(options) = m["options"].as_array_mut() {
        options.retain(|o| o != option);
    }
}
