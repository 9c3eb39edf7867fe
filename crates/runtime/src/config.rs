//! Loading a bundle's config.json and refusing, before anything is created, what cannot work.

use crate::error::{Error, Result};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};

/// A spec field the runtime refuses, and why (checks outside this module report through it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub field: String,
    pub reason: String,
}

impl Invalid {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The same refusal reported from inside the container's init (or an exec'd process).
    pub fn into_failure(self) -> crate::channel::InitFailure {
        crate::channel::InitFailure::msg(self.field, self.reason)
    }
}

pub struct Bundle {
    pub dir: PathBuf,
    pub config_path: PathBuf,
    pub rootfs: PathBuf,
    pub spec: Spec,
    /// `linux.seccomp`, compiled (and so validated) before anything is created.
    pub seccomp: Option<crate::seccomp::Compiled>,
}

/// Container IDs become directory names: only `[A-Za-z0-9_+.-]`, and never `.` or `..`.
pub fn validate_id(id: &str) -> Result<()> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "_+-.".contains(c);
    if id.is_empty() || id == "." || id == ".." || !id.chars().all(allowed) || id.len() > 1024 {
        return Err(Error::Usage(format!(
            "invalid container ID {id:?}: use 1 to 1024 of the characters A-Z a-z 0-9 _ + - . (not \".\" or \"..\")"
        )));
    }
    Ok(())
}

/// Loads and validates a bundle; its seccomp section is compiled, through `seccomp_cache` when given.
pub fn load_bundle(dir: &Path, seccomp_cache: Option<&Path>) -> Result<Bundle> {
    let dir = std::fs::canonicalize(dir)
        .map_err(|e| Error::Usage(format!("bundle {}: {e}", dir.display())))?;
    let config_path = dir.join("config.json");
    load_config(dir, config_path, seccomp_cache)
}

/// A bundle whose config is read from `config_path` (for `exec`, the copy saved at create: the
/// process runs with the settings the container was made with, whatever became of the bundle's).
pub fn load_config(
    dir: PathBuf,
    config_path: PathBuf,
    seccomp_cache: Option<&Path>,
) -> Result<Bundle> {
    let text = std::fs::read(&config_path)
        .map_err(|e| Error::config(&config_path, "(file)", e.to_string()))?;
    let mut de = serde_json::Deserializer::from_slice(&text);
    let spec: Spec = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let field = e.path().to_string();
        let field = if field == "." {
            "(document)".to_string()
        } else {
            field
        };
        Error::config(&config_path, field, e.into_inner().to_string())
    })?;
    let rootfs = validate(&spec, &dir, &config_path)?;
    let seccomp = spec
        .linux()
        .as_ref()
        .map(|linux| match seccomp_cache {
            Some(cache) => crate::seccomp::Compiled::from_linux_cached(linux, cache),
            None => crate::seccomp::Compiled::from_linux(linux),
        })
        .transpose()
        .map_err(|e| Error::config(&config_path, e.field, e.reason))?
        .flatten();
    Ok(Bundle {
        dir,
        config_path,
        rootfs,
        spec,
        seccomp,
    })
}

/// Checks what the runtime needs of the spec and returns the absolute rootfs path.
fn validate(spec: &Spec, bundle: &Path, file: &Path) -> Result<PathBuf> {
    let bad = |field: &str, reason: String| Error::config(file, field, reason);

    if !spec.version().starts_with("1.") {
        return Err(bad(
            "ociVersion",
            format!("{:?} is not a 1.x runtime spec version", spec.version()),
        ));
    }
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| bad("root", "missing".into()))?;
    if root.path().as_os_str().is_empty() {
        return Err(bad("root.path", "empty".into()));
    }
    let rootfs = bundle.join(root.path());
    let meta = std::fs::metadata(&rootfs)
        .map_err(|e| bad("root.path", format!("{}: {e}", rootfs.display())))?;
    if !meta.is_dir() {
        return Err(bad(
            "root.path",
            format!("{} is not a directory", rootfs.display()),
        ));
    }
    let rootfs = std::fs::canonicalize(&rootfs)
        .map_err(|e| bad("root.path", format!("{}: {e}", rootfs.display())))?;

    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| bad("process", "missing".into()))?;
    match process.args() {
        Some(args) if !args.is_empty() && !args[0].is_empty() => {}
        _ => return Err(bad("process.args", "must name the program to run".into())),
    }
    if !process.cwd().is_absolute() {
        return Err(bad(
            "process.cwd",
            format!("{:?} must be an absolute path", process.cwd()),
        ));
    }
    if let Some(adj) = process.oom_score_adj()
        && !(-1000..=1000).contains(&adj)
    {
        return Err(bad(
            "process.oomScoreAdj",
            format!("{adj} is outside -1000..1000"),
        ));
    }
    for (i, var) in process.env().iter().flatten().enumerate() {
        if !var.contains('=') || var.contains('\0') {
            return Err(bad(
                &format!("process.env[{i}]"),
                format!("{var:?} is not NAME=VALUE"),
            ));
        }
    }

    let linux = spec
        .linux()
        .as_ref()
        .ok_or_else(|| bad("linux", "missing".into()))?;
    let namespaces = linux.namespaces().as_deref().unwrap_or_default();
    let mut seen = HashSet::new();
    for (i, ns) in namespaces.iter().enumerate() {
        if !seen.insert(ns.typ()) {
            return Err(bad(
                &format!("linux.namespaces[{i}]"),
                format!("{} namespace listed twice", ns.typ()),
            ));
        }
        if let Some(path) = ns.path() {
            if !path.is_absolute() {
                return Err(bad(
                    &format!("linux.namespaces[{i}].path"),
                    format!("{path:?} must be absolute"),
                ));
            }
            if let Err(e) = std::fs::metadata(path) {
                return Err(bad(
                    &format!("linux.namespaces[{i}].path"),
                    format!("{}: {e}", path.display()),
                ));
            }
        }
    }
    let has = |t: LinuxNamespaceType| namespaces.iter().any(|ns| ns.typ() == t);
    let is_new = |t: LinuxNamespaceType| {
        namespaces
            .iter()
            .any(|ns| ns.typ() == t && ns.path().is_none())
    };
    if spec.hostname().as_deref().is_some_and(|h| !h.is_empty()) && !has(LinuxNamespaceType::Uts) {
        return Err(bad(
            "hostname",
            "setting the hostname needs a uts namespace".into(),
        ));
    }
    if spec.domainname().as_deref().is_some_and(|h| !h.is_empty()) && !has(LinuxNamespaceType::Uts)
    {
        return Err(bad(
            "domainname",
            "setting the domainname needs a uts namespace".into(),
        ));
    }
    let maps_given = linux.uid_mappings().as_ref().is_some_and(|m| !m.is_empty())
        || linux.gid_mappings().as_ref().is_some_and(|m| !m.is_empty());
    if is_new(LinuxNamespaceType::User) {
        if linux.uid_mappings().as_ref().is_none_or(|m| m.is_empty()) {
            return Err(bad(
                "linux.uidMappings",
                "a new user namespace needs uid mappings".into(),
            ));
        }
        if linux.gid_mappings().as_ref().is_none_or(|m| m.is_empty()) {
            return Err(bad(
                "linux.gidMappings",
                "a new user namespace needs gid mappings".into(),
            ));
        }
    } else if maps_given {
        return Err(bad(
            "linux.uidMappings",
            "mappings need a new user namespace".into(),
        ));
    }
    if linux.time_offsets().as_ref().is_some_and(|t| !t.is_empty()) {
        if !is_new(LinuxNamespaceType::Time) {
            return Err(bad(
                "linux.timeOffsets",
                "time offsets need a new time namespace".into(),
            ));
        }
        for clock in linux.time_offsets().iter().flatten().map(|(k, _)| k) {
            if clock != "monotonic" && clock != "boottime" {
                return Err(bad(
                    "linux.timeOffsets",
                    format!("unknown clock {clock:?} (monotonic or boottime)"),
                ));
            }
        }
    }
    for key in linux.sysctl().iter().flat_map(|m| m.keys()) {
        let field = format!("linux.sysctl.{key}");
        if key.is_empty() || key.contains('/') || key.split('.').any(|p| p.is_empty() || p == "..")
        {
            return Err(bad(&field, "not a valid sysctl name".into()));
        }
        if key.starts_with("net.") && !has(LinuxNamespaceType::Network) {
            return Err(bad(&field, "net.* sysctls need a network namespace".into()));
        }
        if (key.starts_with("kernel.hostname") || key.starts_with("kernel.domainname"))
            && !has(LinuxNamespaceType::Uts)
        {
            return Err(bad(&field, "needs a uts namespace".into()));
        }
    }
    if let Some(prop) = linux.rootfs_propagation()
        && !prop.is_empty()
        && crate::rootfs::options::propagation_flag(prop).is_none()
    {
        return Err(bad(
            "linux.rootfsPropagation",
            format!("{prop:?} is not a propagation mode"),
        ));
    }
    for (i, dev) in linux.devices().iter().flatten().enumerate() {
        if !dev.path().is_absolute() || escapes(dev.path()) {
            return Err(bad(
                &format!("linux.devices[{i}].path"),
                format!(
                    "{:?} must be absolute and stay inside the rootfs",
                    dev.path()
                ),
            ));
        }
    }
    for (i, mount) in spec.mounts().iter().flatten().enumerate() {
        let dest = mount.destination();
        if !dest.is_absolute() {
            return Err(bad(
                &format!("mounts[{i}].destination"),
                format!("{dest:?} must be an absolute path"),
            ));
        }
        if escapes(dest) {
            return Err(bad(
                &format!("mounts[{i}].destination"),
                format!("{dest:?} escapes the root filesystem through \"..\""),
            ));
        }
        let typ = mount.typ().as_deref().unwrap_or("");
        let options = mount.options().as_deref().unwrap_or_default();
        let is_bind = typ == "bind" || options.iter().any(|o| o == "bind" || o == "rbind");
        if is_bind && mount.source().is_none() {
            return Err(bad(
                &format!("mounts[{i}].source"),
                "a bind mount needs a source".into(),
            ));
        }
        if !is_bind && typ.is_empty() {
            return Err(bad(
                &format!("mounts[{i}].type"),
                "missing (and not a bind mount)".into(),
            ));
        }
    }
    check_features(spec).map_err(|e| bad(&e.field, e.reason))?;
    Ok(rootfs)
}

/// Hooks, scheduling, memory policy, CPU affinity and security labels: each checked by the module
/// that applies it.
fn check_features(spec: &Spec) -> Result<(), Invalid> {
    crate::hooks::check(spec)?;
    crate::scheduling::check_personality(spec)?;
    crate::scheduling::check_memory_policy(spec)?;
    crate::netdev::check(spec)?;
    check_intel_rdt(spec)?;
    if let Some(process) = spec.process() {
        crate::scheduling::check_io_priority(process)?;
        crate::scheduling::check_scheduler(process)?;
        crate::scheduling::check_exec_cpu_affinity(process)?;
        crate::lsm::check(process)?;
    }
    crate::lsm::check_mount_label(spec)
}

/// `linux.intelRdt`: berth does not manage resctrl groups, so it is refused, and where no resctrl
/// filesystem is mounted the spec requires that error anyway. Read only when the config asks.
fn check_intel_rdt(spec: &Spec) -> Result<(), Invalid> {
    if spec
        .linux()
        .as_ref()
        .and_then(|l| l.intel_rdt().as_ref())
        .is_none()
    {
        return Ok(());
    }
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let resctrl = mountinfo.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        (right.split(' ').next() == Some("resctrl")).then(|| left.split(' ').nth(4))?
    });
    Err(Invalid::new(
        "linux.intelRdt",
        match resctrl {
            None => "no resctrl filesystem is mounted in the runtime's mount namespace (Intel RDT needs one, e.g. at /sys/fs/resctrl)".to_string(),
            Some(at) => format!("not supported by berth-runtime (resctrl is mounted at {at}, but berth does not manage RDT groups)"),
        },
    ))
}

/// True when a path climbs above its starting point through `..` (lexically).
pub fn escapes(path: &Path) -> bool {
    let mut depth = 0i32;
    for component in path.components() {
        match component {
            Component::ParentDir => {
                depth -= 1;
                if depth < 0 {
                    return true;
                }
            }
            Component::Normal(_) => depth += 1,
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(validate_id("abc-1.2_x+y").is_ok());
        for bad in ["", ".", "..", "a/b", "../x", "a b", "a\0"] {
            assert!(validate_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn escape_detection() {
        assert!(escapes(Path::new("/../etc")));
        assert!(escapes(Path::new("/a/../../etc")));
        assert!(!escapes(Path::new("/a/../b")));
        assert!(!escapes(Path::new("/a/b")));
    }
}
