//! A container's mount points: what `-v`, `--mount`, `--volumes-from` and the image's (and
//! `-v /path`'s) `Config.Volumes` ask for, resolved once at create as dockerd's
//! registerMountPoints does and kept in the container record. Later sources win per
//! destination: volumes of other containers, then binds, then mounts; `Config.Volumes` only
//! fill destinations nothing else covers, with anonymous volumes.
//!
//! Volumes are named here (a random 64-hex name for an anonymous one); the volume service
//! creates the missing ones and fills in where their data lives (`Source`).

mod parse;
#[cfg(test)]
mod tests;

pub use parse::{DEFAULT_PROPAGATION, parse_bind, parse_mount, parse_volumes_from};

use super::options::{CreateBody, Empty};
use super::spec::clean_path;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MountKind {
    #[default]
    Bind,
    Volume,
    Tmpfs,
}

impl MountKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MountKind::Bind => "bind",
            MountKind::Volume => "volume",
            MountKind::Tmpfs => "tmpfs",
        }
    }
}

/// One mount of a container, as stored in its record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MountPoint {
    pub kind: MountKind,
    /// The volume's name ("" for a bind or tmpfs).
    pub name: String,
    /// The host path mounted: a bind's source, a volume's data directory.
    pub source: String,
    pub destination: String,
    /// "local" for a volume.
    pub driver: String,
    /// The mode words as the client gave them (`ro,z`); "z" for a named local volume without.
    pub mode: String,
    pub rw: bool,
    /// A bind's propagation ("rprivate" unless asked); "" for volumes, which get none.
    pub propagation: String,
    /// The request named the volume (`-v NAME:/x`, `--mount src=NAME`): `rm -v` keeps it.
    pub named: bool,
    /// Copy the image's content at the destination into the volume while the volume is empty.
    pub copy_data: bool,
    /// A `-v` bind: a missing source directory is created (a `--mount` bind must exist).
    pub create_source: bool,
    /// `bind-nonrecursive`: `bind` rather than `rbind`.
    pub non_recursive: bool,
    /// A `--mount type=tmpfs`'s mount data (`size=1m,mode=1770`).
    pub tmpfs_data: String,
}

impl MountPoint {
    pub fn is_volume(&self) -> bool {
        self.kind == MountKind::Volume
    }

    /// As inspect and `containers/json` show it (API 1.41 `MountPoint`).
    pub fn to_api(&self) -> Value {
        let mut v = json!({
            "Type": self.kind.as_str(),
            "Source": self.source,
            "Destination": self.destination,
            "Mode": self.mode,
            "RW": self.rw,
            "Propagation": self.propagation,
        });
        if !self.name.is_empty() {
            v["Name"] = json!(self.name);
        }
        if !self.driver.is_empty() {
            v["Driver"] = json!(self.driver);
        }
        v
    }
}

/// A volume a container's mounts need, with what to create it with if it does not exist
/// (`--mount`'s `volume-driver`, `volume-opt` and `volume-label`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WantedVolume {
    pub name: String,
    pub driver: String,
    pub options: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
}

/// The mount points of a new container and the volumes they need.
#[derive(Debug, Default)]
pub struct Resolved {
    /// Sorted by destination.
    pub points: Vec<MountPoint>,
    pub volumes: Vec<WantedVolume>,
}

fn duplicate(destination: &str) -> Error {
    Error::invalid(format!("Duplicate mount point: {destination}"))
}

fn is_local(driver: &str) -> bool {
    driver.is_empty() || driver == crate::volumes::LOCAL_DRIVER
}

/// A bind of (or over) the engine's own directories gets `rslave` unless it asks for a
/// propagation, which must then be `rslave` or `rshared`, as dockerd's
/// validateBindDaemonRoot has it: a private copy of the mounts below them (containers' roots,
/// mounted volumes) would pin them in the container.
fn check_daemon_roots(point: &mut MountPoint, explicit: bool, roots: &[&Path]) -> Result<()> {
    let source = Path::new(&point.source);
    let Some(root) = roots
        .iter()
        .find(|root| source.starts_with(root) || root.starts_with(source))
    else {
        return Ok(());
    };
    if !explicit {
        point.propagation = "rslave".into();
        return Ok(());
    }
    if matches!(point.propagation.as_str(), "rslave" | "rshared") {
        return Ok(());
    }
    Err(Error::invalid(format!(
        "invalid mount config: must use either propagation mode \"rslave\" or \"rshared\" when \
         mount source is within the daemon root, daemon root: {:?}, bind mount source: {:?}, \
         propagation: {:?}",
        root.display().to_string(),
        point.source,
        point.propagation
    )))
}

/// The mount points of a create request. `config_volumes` is the merged config's
/// `Volumes` (the image's and `-v /path`'s); `volumes_from` gives another container's mount
/// points by reference; `roots` are the engine's data and exec roots.
pub fn resolve(
    body: &CreateBody,
    config_volumes: &BTreeMap<String, Empty>,
    volumes_from: &dyn Fn(&str) -> Result<Vec<MountPoint>>,
    roots: &[&Path],
) -> Result<Resolved> {
    let hc = &body.host_config;
    let mut points: BTreeMap<String, MountPoint> = BTreeMap::new();
    let mut wanted: BTreeMap<String, WantedVolume> = BTreeMap::new();
    // Destinations claimed by a bind or a mount: a second claim is an error.
    let mut claimed: Vec<String> = Vec::new();

    for spec in &hc.volumes_from {
        let (container, rw) = parse_volumes_from(spec)?;
        for theirs in volumes_from(container)? {
            let point = MountPoint {
                rw: theirs.rw && rw,
                mode: String::new(),
                copy_data: false,
                ..theirs
            };
            if point.is_volume() {
                wanted
                    .entry(point.name.clone())
                    .or_insert_with(|| WantedVolume {
                        name: point.name.clone(),
                        driver: point.driver.clone(),
                        ..WantedVolume::default()
                    });
            }
            points.insert(point.destination.clone(), point);
        }
    }
    let tmpfs: Vec<String> = hc.tmpfs.keys().map(|d| clean_path(d)).collect();
    for raw in &hc.binds {
        let (mut point, mut volume) = parse_bind(raw)?;
        if let Some(volume) = volume.as_mut().filter(|_| !hc.volume_driver.is_empty()) {
            volume.driver = hc.volume_driver.clone();
            point.driver = hc.volume_driver.clone();
        }
        if point.kind == MountKind::Bind {
            let explicit = parse::has_propagation(&point.mode);
            check_daemon_roots(&mut point, explicit, roots)?;
        }
        if claimed.contains(&point.destination) || tmpfs.contains(&point.destination) {
            return Err(duplicate(&point.destination));
        }
        claim(&mut points, &mut wanted, &mut claimed, point, volume);
    }
    for spec in &hc.mounts {
        let (mut point, volume) = parse_mount(spec)?;
        if point.kind == MountKind::Bind {
            let explicit = spec
                .bind_options
                .as_ref()
                .is_some_and(|b| !b.propagation.is_empty());
            check_daemon_roots(&mut point, explicit, roots)?;
        }
        if claimed.contains(&point.destination) || tmpfs.contains(&point.destination) {
            return Err(duplicate(&spec.target));
        }
        claim(&mut points, &mut wanted, &mut claimed, point, volume);
    }
    for destination in config_volumes.keys() {
        let destination = clean_path(destination);
        if destination == "/" {
            return Err(Error::invalid(
                "invalid specification: destination can't be '/'",
            ));
        }
        if points.contains_key(&destination) || tmpfs.contains(&destination) {
            continue;
        }
        let name = crate::containers::record::random_id()?;
        wanted.insert(
            name.clone(),
            WantedVolume {
                name: name.clone(),
                ..WantedVolume::default()
            },
        );
        points.insert(
            destination.clone(),
            MountPoint {
                kind: MountKind::Volume,
                name,
                destination,
                rw: true,
                copy_data: true,
                ..MountPoint::default()
            },
        );
    }
    // Volumes that lost their destination to a later source are not needed.
    let used: Vec<&str> = points
        .values()
        .filter(|p| p.is_volume())
        .map(|p| p.name.as_str())
        .collect();
    wanted.retain(|name, _| used.contains(&name.as_str()));
    Ok(Resolved {
        points: points.into_values().collect(),
        volumes: wanted.into_values().collect(),
    })
}

fn claim(
    points: &mut BTreeMap<String, MountPoint>,
    wanted: &mut BTreeMap<String, WantedVolume>,
    claimed: &mut Vec<String>,
    mut point: MountPoint,
    volume: Option<WantedVolume>,
) {
    if point.is_volume() && is_local(&point.driver) && point.mode.is_empty() {
        // dockerd's setBindModeIfNull for local volumes.
        point.mode = "z".into();
    }
    if let Some(volume) = volume {
        wanted.insert(volume.name.clone(), volume);
    }
    claimed.push(point.destination.clone());
    points.insert(point.destination.clone(), point);
}

/// The mount points of a record written before berth kept them: its binds (volumes were
/// refused then).
pub fn from_binds(binds: &[String]) -> Vec<MountPoint> {
    binds
        .iter()
        .filter_map(|raw| parse_bind(raw).ok())
        .map(|(point, _)| point)
        .filter(|p| p.kind == MountKind::Bind)
        .collect()
}
