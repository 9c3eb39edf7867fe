//! Acting on a live container through its cgroup: freeze and thaw, new limits, usage.

use crate::config;
use crate::container::wrong_state;
use crate::error::{Error, Result};
use crate::state::{self, LockedContainer, StateRoot, Status};

/// The cgroup of a container that still has processes.
fn live_cgroup(
    container: &LockedContainer,
    id: &str,
    allowed: &[Status],
    action: &str,
) -> Result<berth_cgroups::Cgroup> {
    let record = container
        .read()?
        .ok_or_else(|| wrong_state(id, Status::Creating, action))?;
    let status = state::status_of(&container.dir, &record);
    if !allowed.contains(&status) {
        return Err(wrong_state(id, status, action));
    }
    record
        .cgroup()
        .ok_or_else(|| Error::Other(format!("container {id:?} has no cgroup")))
}

fn cgroup_error(id: &str) -> impl FnOnce(berth_cgroups::Error) -> Error + '_ {
    move |e| Error::Other(format!("container {id:?}: {e}"))
}

/// Freezes every process of the container.
pub fn pause(root: &StateRoot, id: &str) -> Result<()> {
    config::validate_id(id)?;
    let container = root.lock(id)?;
    let cgroup = live_cgroup(
        &container,
        id,
        &[Status::Running, Status::Created],
        "only a running container can be paused",
    )?;
    cgroup.freeze(true).map_err(cgroup_error(id))
}

pub fn resume(root: &StateRoot, id: &str) -> Result<()> {
    config::validate_id(id)?;
    let container = root.lock(id)?;
    let cgroup = live_cgroup(
        &container,
        id,
        &[Status::Paused],
        "only a paused container can be resumed",
    )?;
    cgroup.freeze(false).map_err(cgroup_error(id))
}

/// Applies new resource limits to a live container.
pub fn update(
    root: &StateRoot,
    id: &str,
    resources: &oci_spec::runtime::LinuxResources,
) -> Result<()> {
    config::validate_id(id)?;
    let wanted =
        berth_cgroups::Resources::from_spec(resources).map_err(|e| Error::Usage(e.to_string()))?;
    let container = root.lock(id)?;
    let cgroup = live_cgroup(
        &container,
        id,
        &[Status::Created, Status::Running, Status::Paused],
        "cannot be updated",
    )?;
    cgroup.apply(&wanted).map_err(cgroup_error(id))
}

/// The container's resource usage as runc's `events --stats` data; None once it has stopped.
pub fn stats(root: &StateRoot, id: &str) -> Result<Option<serde_json::Value>> {
    config::validate_id(id)?;
    let Some(record) = root.read(id)? else {
        return Ok(None);
    };
    if state::status_of(&root.container_dir(id), &record) == Status::Stopped {
        return Ok(None);
    }
    Ok(record.cgroup().map(|c| c.stats().to_json()))
}
