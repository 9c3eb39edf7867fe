//! The container's cgroup as `create` makes it: path and resources from the spec, checked up front.

use berth_cgroups::{Cgroup, Hierarchies, Resources};
use oci_spec::runtime::Linux;
use std::path::PathBuf;

pub struct CgroupConfig {
    pub path: PathBuf,
    pub resources: Resources,
}

/// A spec field that cannot be used, with the reason.
pub struct FieldError {
    pub field: String,
    pub reason: String,
}

/// Devices every container may use once the spec restricts devices (runc and crun allow the same).
const DEFAULT_ALLOWED_DEVICES: [&str; 11] = [
    "c *:* m",
    "b *:* m",
    "c 1:3 rwm",
    "c 1:5 rwm",
    "c 1:7 rwm",
    "c 1:8 rwm",
    "c 1:9 rwm",
    "c 5:0 rwm",
    "c 5:1 rwm",
    "c 5:2 rwm",
    "c 136:* rwm",
];

impl CgroupConfig {
    pub fn from_spec(id: &str, linux: &Linux) -> Result<Self, FieldError> {
        let path =
            berth_cgroups::resolve_path(linux.cgroups_path().as_deref(), id).map_err(|e| {
                FieldError {
                    field: "linux.cgroupsPath".into(),
                    reason: e
                        .to_string()
                        .trim_start_matches("linux.cgroupsPath: ")
                        .to_string(),
                }
            })?;
        let mut resources = match linux.resources() {
            Some(r) => Resources::from_spec(r).map_err(|e| FieldError {
                field: format!("linux.resources.{}", e.field),
                reason: e.reason,
            })?,
            None => Resources::default(),
        };
        if !resources.devices.is_empty() {
            // The spec's own device nodes and the defaults stay usable after a deny-all rule.
            for line in DEFAULT_ALLOWED_DEVICES {
                resources.devices.push(parse_rule(line));
            }
            for device in linux.devices().iter().flatten() {
                let kind = match device.typ() {
                    oci_spec::runtime::LinuxDeviceType::B => 'b',
                    oci_spec::runtime::LinuxDeviceType::P => continue,
                    _ => 'c',
                };
                resources.devices.push(berth_cgroups::DeviceRule {
                    allow: true,
                    kind,
                    major: Some(device.major()),
                    minor: Some(device.minor()),
                    access: "rwm".into(),
                });
            }
        }
        Ok(CgroupConfig { path, resources })
    }

    /// Makes the cgroup and applies the resources; on failure nothing of it is left.
    pub fn create(&self) -> berth_cgroups::Result<Cgroup> {
        let cgroup = Cgroup::create(Hierarchies::detect()?, self.path.clone())?;
        if let Err(e) = cgroup.apply(&self.resources) {
            cgroup.destroy_with_parents();
            return Err(e);
        }
        Ok(cgroup)
    }
}

fn parse_rule(line: &str) -> berth_cgroups::DeviceRule {
    let mut parts = line.split(' ');
    let kind = parts.next().and_then(|k| k.chars().next()).unwrap_or('a');
    let numbers = parts.next().unwrap_or("*:*");
    let access = parts.next().unwrap_or("rwm").to_string();
    let (major, minor) = numbers.split_once(':').unwrap_or(("*", "*"));
    let number = |n: &str| n.parse::<i64>().ok();
    berth_cgroups::DeviceRule {
        allow: true,
        kind,
        major: number(major),
        minor: number(minor),
        access,
    }
}
