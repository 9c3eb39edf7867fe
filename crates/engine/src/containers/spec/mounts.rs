//! The `mounts` list as dockerd's WithMounts makes it: its defaults (proc, /dev, devpts, sysfs,
//! cgroup, mqueue, /dev/shm), then the container's own mounts sorted by depth (`-v` binds,
//! /etc/resolv.conf, /etc/hostname, /etc/hosts, the host's /dev/shm for `--ipc host`,
//! `--tmpfs`); plus masked and read-only paths.

use super::namespaces::{Ipc, Modes};
use super::process::clean_path;
use super::{CONTAINER_INIT_PATH, SpecInput, etc_file};
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
        /// "" is rprivate, dockerd's default for binds.
        propagation: String,
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

const PROPAGATIONS: [&str; 6] = [
    "private", "rprivate", "shared", "rshared", "slave", "rslave",
];

fn invalid_spec(raw: &str) -> Error {
    Error::invalid(format!("invalid volume specification: '{raw}'"))
}

fn check_destination(raw: &str, destination: &str) -> Result<()> {
    if !destination.starts_with('/') {
        return Err(Error::invalid(format!(
            "invalid volume specification: '{raw}': invalid mount config for type \"bind\": invalid mount path: '{destination}' mount path must be absolute"
        )));
    }
    if clean_path(destination) == "/" {
        return Err(Error::invalid(
            "invalid specification: destination can't be '/'",
        ));
    }
    Ok(())
}

/// `SRC:DST[:MODE]` with MODE a comma list of ro|rw, z|Z, a propagation, nocopy.
fn parse_bind(raw: &str) -> Result<UserMount> {
    let parts: Vec<&str> = raw.split(':').collect();
    let (source, destination, mode) = match parts[..] {
        [dst] => {
            return Err(Error::not_implemented(format!(
                "anonymous volumes are not supported yet: {dst}"
            )));
        }
        [src, dst] => (src, dst, ""),
        [src, dst, mode] => (src, dst, mode),
        _ => return Err(invalid_spec(raw)),
    };
    if source.is_empty() || destination.is_empty() {
        return Err(invalid_spec(raw));
    }
    let (mut rw, mut label, mut propagation, mut copy) = (None, false, None, false);
    for token in mode.split(',').filter(|t| !t.is_empty()) {
        let repeated = match token {
            "ro" | "rw" => rw.replace(token == "rw").is_some(),
            "z" | "Z" => std::mem::replace(&mut label, true),
            "nocopy" => std::mem::replace(&mut copy, true),
            p if PROPAGATIONS.contains(&p) => propagation.replace(p).is_some(),
            _ => true,
        };
        if repeated {
            return Err(Error::invalid(format!("invalid mode: {mode}")));
        }
    }
    check_destination(raw, destination)?;
    if !source.starts_with('/') {
        return Err(Error::not_implemented(format!(
            "named volumes are not supported yet: {source}"
        )));
    }
    // dockerd creates a missing host directory for `-v` (not for `--mount`).
    if std::fs::symlink_metadata(source).is_err() {
        std::fs::create_dir_all(source).map_err(|e| {
            Error::invalid(format!(
                "error while creating mount source path '{source}': {e}"
            ))
        })?;
    }
    Ok(UserMount::Bind {
        source: clean_path(source),
        destination: clean_path(destination),
        writable: rw.unwrap_or(true),
        propagation: propagation.unwrap_or("").to_string(),
    })
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

pub fn mounts(input: &SpecInput<'_>, modes: &Modes) -> Result<Mounts> {
    let hc = input.host_config;
    let mut own: Vec<UserMount> = Vec::new();
    for raw in &hc.binds {
        own.push(parse_bind(raw)?);
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
            own.push(UserMount::Bind {
                source: source.to_string_lossy().into_owned(),
                destination: destination.into(),
                writable: etc_writable,
                propagation: String::new(),
            });
        }
    }
    if modes.ipc == Ipc::Host {
        own.push(UserMount::Bind {
            source: "/dev/shm".into(),
            destination: "/dev/shm".into(),
            writable: true,
            propagation: String::new(),
        });
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
            } => {
                let mut options = vec!["rbind".to_string()];
                if !writable {
                    options.push("ro".into());
                }
                let propagation = if propagation.is_empty() {
                    "rprivate"
                } else {
                    propagation
                };
                match propagation {
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
                options.push(propagation.to_string());
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
