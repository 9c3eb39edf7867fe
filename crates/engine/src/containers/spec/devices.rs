//! `linux.devices` and the device cgroup rules (`--device`, `--device-cgroup-rule`,
//! `--privileged`) as dockerd's WithDevices. The runtime adds the standard nodes (null, zero,
//! full, random, urandom, tty, ptmx) and runc's allow list (`c *:* m`, `b *:* m`, pts, ptmx…)
//! itself, as runc does; the rules here are Docker's own defaults.

use crate::containers::options::{DeviceMapping, HostConfig};
use crate::error::{Error, Result};
use serde_json::{Value, json};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

pub struct Devices {
    /// `linux.devices`.
    pub nodes: Value,
    /// `linux.resources.devices`.
    pub rules: Value,
}

/// moby oci/defaults.go: deny all; allow zero, null, urandom, random, tty, console; deny fuse.
fn default_rules() -> Vec<Value> {
    let mut rules = vec![json!({"allow": false, "access": "rwm"})];
    for (major, minor) in [(1, 5), (1, 3), (1, 9), (1, 8), (5, 0), (5, 1)] {
        rules.push(
            json!({"allow": true, "type": "c", "major": major, "minor": minor, "access": "rwm"}),
        );
    }
    rules.push(json!({"allow": false, "type": "c", "major": 10, "minor": 229, "access": "rwm"}));
    rules
}

struct Node {
    path: PathBuf,
    kind: &'static str,
    major: u64,
    minor: u64,
    file_mode: u32,
    uid: u32,
    gid: u32,
}

impl Node {
    fn spec(&self) -> Value {
        json!({"path": self.path, "type": self.kind, "major": self.major, "minor": self.minor,
            "fileMode": self.file_mode, "uid": self.uid, "gid": self.gid})
    }
    fn rule(&self, access: &str) -> Value {
        json!({"allow": true, "type": self.kind, "major": self.major, "minor": self.minor, "access": access})
    }
}

/// The node at `path` (not following a final symlink), or None if it is no device.
fn node_at(path: &Path) -> std::io::Result<Option<Node>> {
    let meta = std::fs::symlink_metadata(path)?;
    let kind = match meta.file_type() {
        t if t.is_char_device() => "c",
        t if t.is_block_device() => "b",
        t if t.is_fifo() => "p",
        _ => return Ok(None),
    };
    let rdev = meta.rdev();
    Ok(Some(Node {
        path: path.to_path_buf(),
        kind,
        major: rustix::fs::major(rdev) as u64,
        minor: rustix::fs::minor(rdev) as u64,
        file_mode: meta.mode() & 0o7777,
        uid: meta.uid(),
        gid: meta.gid(),
    }))
}

/// runc's HostDevices: every device node under /dev except pts, shm, mqueue and console.
fn host_devices(dir: &Path, found: &mut Vec<Node>) -> Result<()> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Error::context(format!("list host devices in {}", dir.display()), e))?;
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            let skipped = ["pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"];
            if !skipped.iter().any(|s| name == *s) {
                host_devices(&path, found)?;
            }
            continue;
        }
        if name == "console" {
            continue;
        }
        if let Ok(Some(node)) = node_at(&path)
            && node.kind != "p"
        {
            found.push(node);
        }
    }
    Ok(())
}

/// moby's DevicesFromPath: a device node, or every node in a directory of them.
fn devices_from_path(mapping: &DeviceMapping) -> Result<Vec<Node>> {
    let host = Path::new(&mapping.path_on_host);
    let in_container = if mapping.path_in_container.is_empty() {
        host
    } else {
        Path::new(&mapping.path_in_container)
    };
    let gathering = |reason: String| {
        Error::invalid(format!(
            "error gathering device information while adding custom device {:?}: {reason}",
            mapping.path_on_host
        ))
    };
    let resolved = std::fs::canonicalize(host).unwrap_or_else(|_| host.to_path_buf());
    match node_at(&resolved) {
        Ok(Some(mut node)) => {
            node.path = in_container.to_path_buf();
            return Ok(vec![node]);
        }
        Ok(None) => {}
        Err(e) => return Err(gathering(io_reason(&e))),
    }
    let mut found = Vec::new();
    if resolved.is_dir() {
        walk_nodes(&resolved, &mut found);
    }
    for node in &mut found {
        let relative = node.path.strip_prefix(&resolved).unwrap_or(&node.path);
        node.path = in_container.join(relative);
    }
    if found.is_empty() {
        return Err(gathering("not a device node".into()));
    }
    Ok(found)
}

fn walk_nodes(dir: &Path, found: &mut Vec<Node>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(t) if t.is_dir() => walk_nodes(&path, found),
            _ => {
                if let Ok(Some(node)) = node_at(&path) {
                    found.push(node);
                }
            }
        }
    }
}

/// Go's error text for the common cases ("no such file or directory").
fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

fn check_access(mapping: &DeviceMapping) -> Result<String> {
    let access = if mapping.cgroup_permissions.is_empty() {
        "rwm"
    } else {
        mapping.cgroup_permissions.as_str()
    };
    let valid = !access.is_empty()
        && access.len() <= 3
        && access.chars().all(|c| matches!(c, 'r' | 'w' | 'm'));
    if !valid {
        return Err(Error::invalid(format!("invalid device mode: {access}")));
    }
    Ok(access.to_string())
}

/// `--device-cgroup-rule 'c 1:3 rwm'` (moby's AppendDevicePermissionsFromCgroupRules).
fn parse_cgroup_rule(rule: &str) -> Result<Value> {
    let invalid = || Error::invalid(format!("invalid device cgroup rule format: '{rule}'"));
    let fields: Vec<&str> = rule.split(' ').collect();
    let [kind, numbers, access] = fields[..] else {
        return Err(invalid());
    };
    if !matches!(kind, "a" | "b" | "c") {
        return Err(invalid());
    }
    let (major, minor) = numbers.split_once(':').ok_or_else(invalid)?;
    let number = |s: &str| -> Result<Option<i64>> {
        if s == "*" {
            Ok(None)
        } else if !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()) {
            s.parse().map(Some).map_err(|_| invalid())
        } else {
            Err(invalid())
        }
    };
    let (major, minor) = (number(major)?, number(minor)?);
    if access.is_empty()
        || access.len() > 3
        || !access.chars().all(|c| matches!(c, 'r' | 'w' | 'm'))
    {
        return Err(invalid());
    }
    let mut value = json!({"allow": true, "type": kind, "access": access});
    if let Some(m) = major {
        value["major"] = json!(m);
    }
    if let Some(m) = minor {
        value["minor"] = json!(m);
    }
    Ok(value)
}

pub fn devices(hc: &HostConfig) -> Result<Devices> {
    let mut nodes: Vec<Node> = Vec::new();
    let mut rules = default_rules();
    if hc.privileged {
        host_devices(Path::new("/dev"), &mut nodes)?;
        for mapping in &hc.devices {
            if mapping.path_in_container.is_empty()
                || mapping.path_in_container == mapping.path_on_host
            {
                continue;
            }
            nodes.extend(devices_from_path(mapping)?);
        }
        rules = vec![json!({"allow": true, "access": "rwm"})];
    } else {
        for mapping in &hc.devices {
            let access = check_access(mapping)?;
            for node in devices_from_path(mapping)? {
                rules.push(node.rule(&access));
                nodes.push(node);
            }
        }
        for rule in &hc.device_cgroup_rules {
            rules.push(parse_cgroup_rule(rule)?);
        }
    }
    Ok(Devices {
        nodes: Value::Array(nodes.iter().map(Node::spec).collect()),
        rules: Value::Array(rules),
    })
}
