//! `-v` specs (`HostConfig.Binds`), `--mount` objects (`HostConfig.Mounts`) and `--volumes-from`
//! specs into mount points, with dockerd's checks and messages (moby's volume/mounts linux
//! parser).

use super::{MountKind, MountPoint, WantedVolume};
use crate::containers::options::{BindOptions, Mount, VolumeOptions};
use crate::containers::spec::clean_path;
use crate::error::{Error, Result};

const PROPAGATIONS: [&str; 6] = [
    "private", "rprivate", "shared", "rshared", "slave", "rslave",
];

/// dockerd's default propagation of a bind.
pub const DEFAULT_PROPAGATION: &str = "rprivate";

fn invalid_spec(raw: &str) -> Error {
    Error::invalid(format!("invalid volume specification: '{raw}'"))
}

fn invalid_mode(mode: &str) -> Error {
    Error::invalid(format!("invalid mode: {mode}"))
}

/// The words a `-v` mode may have, at most one of each kind: ro|rw, z|Z, a propagation,
/// nocopy, a consistency.
fn valid_mode(mode: &str) -> bool {
    if mode.is_empty() {
        return true;
    }
    let mut counts = [0u8; 5];
    for word in mode.split(',') {
        let kind = match word {
            "ro" | "rw" => 0,
            "z" | "Z" => 1,
            p if PROPAGATIONS.contains(&p) => 2,
            "nocopy" => 3,
            "consistent" | "cached" | "delegated" => 4,
            _ => return false,
        };
        counts[kind] += 1;
    }
    counts.iter().all(|&n| n <= 1)
}

fn has_word(mode: &str, pred: impl Fn(&str) -> bool) -> Option<&str> {
    mode.split(',').find(|w| pred(w))
}

/// Whether a `-v` mode names a propagation.
pub fn has_propagation(mode: &str) -> bool {
    has_word(mode, |w| PROPAGATIONS.contains(&w)).is_some()
}

/// A `HostConfig.Binds` entry: `DST`, `SRC:DST` or `SRC:DST:MODE`; SRC absolute is a bind,
/// anything else names a volume.
pub fn parse_bind(raw: &str) -> Result<(MountPoint, Option<WantedVolume>)> {
    if raw.matches(':').count() > 2 {
        return Err(invalid_spec(raw));
    }
    let parts: Vec<&str> = raw.splitn(3, ':').collect();
    if parts[0].is_empty() {
        return Err(invalid_spec(raw));
    }
    let mut spec = Mount::default();
    let mode = match parts[..] {
        [target] => {
            spec.target = target.to_string();
            ""
        }
        [source, target] => {
            // `/foo:rw` is a destination with a mode, which a volume cannot have.
            if valid_mode(target) {
                return Err(invalid_spec(raw));
            }
            spec.source = source.to_string();
            spec.target = target.to_string();
            ""
        }
        [source, target, mode] => {
            spec.source = source.to_string();
            spec.target = target.to_string();
            mode
        }
        _ => return Err(invalid_spec(raw)),
    };
    if !valid_mode(mode) {
        return Err(invalid_mode(mode));
    }
    spec.r#type = if spec.source.starts_with('/') {
        "bind"
    } else {
        "volume"
    }
    .to_string();
    spec.read_only = mode.split(',').any(|w| w == "ro");
    if has_word(mode, |w| w == "nocopy").is_some() {
        spec.volume_options = Some(VolumeOptions {
            no_copy: true,
            ..VolumeOptions::default()
        });
    }
    if let Some(propagation) = has_word(mode, |w| PROPAGATIONS.contains(&w)) {
        spec.bind_options = Some(BindOptions {
            propagation: propagation.to_string(),
            non_recursive: false,
        });
    }
    let (mut point, wanted) = from_spec(&spec, false).map_err(|e| {
        Error::new(
            e.kind,
            format!("invalid volume specification: '{raw}': {}", e.message),
        )
    })?;
    point.mode = mode.to_string();
    point.create_source = point.kind == MountKind::Bind;
    Ok((point, wanted))
}

/// A `HostConfig.Mounts` entry; a bind's source must exist.
pub fn parse_mount(spec: &Mount) -> Result<(MountPoint, Option<WantedVolume>)> {
    from_spec(spec, true)
}

fn mount_config_error(spec: &Mount, why: impl std::fmt::Display) -> Error {
    Error::invalid(format!(
        "invalid mount config for type \"{}\": {why}",
        spec.r#type
    ))
}

fn check_absolute(path: &str) -> std::result::Result<(), String> {
    if path.starts_with('/') {
        Ok(())
    } else {
        Err(format!(
            "invalid mount path: '{path}' mount path must be absolute"
        ))
    }
}

fn validate(spec: &Mount, bind_source_must_exist: bool) -> std::result::Result<(), String> {
    let extra = |field: &str| Err(format!("field {field} must not be specified"));
    if spec.target.is_empty() {
        return Err("field Target must not be empty".into());
    }
    if clean_path(&spec.target) == "/" {
        return Err("invalid specification: destination can't be '/'".into());
    }
    check_absolute(&spec.target)?;
    match spec.r#type.as_str() {
        "bind" => {
            if spec.source.is_empty() {
                return Err("field Source must not be empty".into());
            }
            if let Some(bind) = &spec.bind_options
                && !bind.propagation.is_empty()
                && !PROPAGATIONS.contains(&bind.propagation.as_str())
            {
                return Err(format!("invalid propagation mode: {}", bind.propagation));
            }
            if spec.volume_options.is_some() {
                return extra("VolumeOptions");
            }
            check_absolute(&spec.source)?;
            if bind_source_must_exist && std::fs::symlink_metadata(&spec.source).is_err() {
                return Err(format!("bind source path does not exist: {}", spec.source));
            }
        }
        "volume" => {
            if spec.bind_options.is_some() {
                return extra("BindOptions");
            }
            if spec.source.is_empty() && spec.read_only {
                return Err("must not set ReadOnly mode when using anonymous volumes".into());
            }
        }
        "tmpfs" => {
            if spec.bind_options.is_some() {
                return extra("BindOptions");
            }
            if !spec.source.is_empty() {
                return extra("Source");
            }
        }
        _ => return Err("mount type unknown".into()),
    }
    Ok(())
}

fn from_spec(
    spec: &Mount,
    bind_source_must_exist: bool,
) -> Result<(MountPoint, Option<WantedVolume>)> {
    validate(spec, bind_source_must_exist).map_err(|why| mount_config_error(spec, why))?;
    let mut point = MountPoint {
        destination: clean_path(&spec.target),
        rw: !spec.read_only,
        ..MountPoint::default()
    };
    let mut wanted = None;
    match spec.r#type.as_str() {
        "volume" => {
            point.kind = MountKind::Volume;
            point.named = !spec.source.is_empty();
            point.name = if point.named {
                spec.source.clone()
            } else {
                crate::containers::record::random_id()?
            };
            let options = spec.volume_options.clone().unwrap_or_default();
            point.copy_data = !options.no_copy;
            let driver = options.driver_config.unwrap_or_default();
            point.driver = driver.name.clone();
            wanted = Some(WantedVolume {
                name: point.name.clone(),
                driver: driver.name,
                options: driver.options,
                labels: options.labels,
            });
        }
        "bind" => {
            point.kind = MountKind::Bind;
            point.source = clean_path(&spec.source);
            let bind = spec.bind_options.clone().unwrap_or_default();
            point.propagation = if bind.propagation.is_empty() {
                DEFAULT_PROPAGATION.to_string()
            } else {
                bind.propagation
            };
            point.non_recursive = bind.non_recursive;
        }
        _ => {
            point.kind = MountKind::Tmpfs;
            point.tmpfs_data = tmpfs_data(spec);
        }
    }
    Ok((point, wanted))
}

/// A `--mount type=tmpfs` as tmpfs mount data, as dockerd writes it: `ro`, `mode=` in octal,
/// `size=` with the largest unit that divides it.
fn tmpfs_data(spec: &Mount) -> String {
    let mut words = Vec::new();
    if spec.read_only {
        words.push("ro".to_string());
    }
    let options = spec.tmpfs_options.clone().unwrap_or_default();
    if options.mode != 0 {
        words.push(format!("mode={:o}", options.mode));
    }
    if options.size_bytes != 0 {
        let size = options.size_bytes;
        let sized = [("g", 1i64 << 30), ("m", 1 << 20), ("k", 1 << 10)]
            .iter()
            .find(|(_, unit)| size % unit == 0)
            .map(|(suffix, unit)| format!("size={}{suffix}", size / unit))
            .unwrap_or_else(|| format!("size={size}"));
        words.push(sized);
    }
    words.join(",")
}

/// `CONTAINER[:ro|rw]` → (container, read-write).
pub fn parse_volumes_from(spec: &str) -> Result<(&str, bool)> {
    if spec.is_empty() {
        return Err(Error::invalid(
            "volumes-from specification cannot be an empty string",
        ));
    }
    let (container, mode) = spec.split_once(':').unwrap_or((spec, "rw"));
    // A propagation or a copy mode belongs to the original mount, not to its import.
    if !valid_mode(mode) || has_word(mode, |w| PROPAGATIONS.contains(&w) || w == "nocopy").is_some()
    {
        return Err(invalid_mode(mode));
    }
    Ok((container, !mode.split(',').any(|w| w == "ro")))
}
