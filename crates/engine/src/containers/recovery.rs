//! What `Containers::open` does with the state an earlier berthd left: every record is brought
//! to a settled state and every file, mount, layer or shim without a record is removed.
//!
//! | record state | shim answers | shim gone |
//! | --- | --- | --- |
//! | running / paused | supervise it again | exit.json, or `berth-shim cleanup` → exited |
//! | starting (crash in start) | started: adopt it; not yet: kill it, back to created | same as running |
//! | removing (crash in rm) | — | finish the removal (with the volumes if asked) |
//! | created / exited | kill a stray shim | unmount, remove a stale shim dir |

use super::record::{self, ContainerRecord, State};
use super::{Inner, WaitState, shim};
use crate::error::Result;
use berth_shim_protocol::{Request, Response, Status};
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

pub(crate) fn recover(inner: &Arc<Inner>) -> Result<()> {
    let records = record::list(&inner.store)?;
    let known: HashSet<String> = records.iter().map(|r| r.id.clone()).collect();
    for record in records {
        let id = record.id.clone();
        if let Err(e) = recover_one(inner, record) {
            tracing::warn!("recover container {id}: {e}");
        }
    }
    remove_orphans(inner, &known);
    Ok(())
}

fn shim_state(inner: &Inner, id: &str) -> Option<berth_shim_protocol::State> {
    let paths = inner.paths(id);
    match shim::request(&paths.state_dir, id, &Request::State) {
        Ok(Response::State(state)) => Some(state),
        _ => None,
    }
}

fn recover_one(inner: &Arc<Inner>, record: ContainerRecord) -> Result<()> {
    let id = record.id.clone();
    let paths = inner.paths(&id);
    let slot = inner.slot(&id);
    slot.wait.send_modify(|w| {
        *w = WaitState {
            exit_code: record.exit_code,
            running: record.state.is_live(),
            ..WaitState::default()
        }
    });
    let _guard = slot.lock();
    match record.state {
        State::Removing => inner.remove_locked(&slot, &id, false),
        State::Created | State::Exited => {
            if shim_state(inner, &id).is_some() {
                let _ = shim::request(
                    &paths.state_dir,
                    &id,
                    &Request::Kill {
                        signal: 9,
                        all: true,
                    },
                );
                let _ = shim::wait_exit(&paths.state_dir, Some(std::time::Duration::from_secs(10)));
                let _ = shim::request(&paths.state_dir, &id, &Request::Delete);
            } else if paths
                .state_dir
                .join(berth_shim_protocol::SHIM_FILE)
                .exists()
            {
                let _ = shim::cleanup(&inner.config.shim_binary, &paths.state_dir);
            }
            let _ = berth_image::mount::unmount(&paths.rootfs);
            let _ = std::fs::remove_dir_all(&paths.state_dir);
            Ok(())
        }
        State::Starting => match shim_state(inner, &id) {
            Some(state) if state.status == Status::Created => {
                // The crash came before `start` was sent: undo the start.
                let _ = shim::request(
                    &paths.state_dir,
                    &id,
                    &Request::Kill {
                        signal: 9,
                        all: true,
                    },
                );
                let _ = shim::wait_exit(&paths.state_dir, Some(std::time::Duration::from_secs(10)));
                let _ = shim::request(&paths.state_dir, &id, &Request::Delete);
                let _ = berth_image::mount::unmount(&paths.rootfs);
                let _ = std::fs::remove_dir_all(&paths.state_dir);
                let back = if record.finished_at.is_some() {
                    State::Exited
                } else {
                    State::Created
                };
                record::update(&inner.store, &id, |r| {
                    r.state = back;
                    Ok(())
                })?;
                slot.wait.send_modify(|w| w.running = false);
                Ok(())
            }
            Some(state) => {
                record::update(&inner.store, &id, |r| {
                    r.state = State::Running;
                    r.pid = state.init_pid;
                    r.shim_pid = state.shim_pid;
                    r.started_at = state.started_at.clone().or(r.started_at.take());
                    r.finished_at = None;
                    Ok(())
                })?;
                inner.volumes.adopt(&id, &record.mount_points());
                inner.supervise(&id, record.generation);
                Ok(())
            }
            None => settle_dead(inner, &slot, &record),
        },
        State::Running | State::Paused => {
            if shim_state(inner, &id).is_some() {
                inner.volumes.adopt(&id, &record.mount_points());
                inner.supervise(&id, record.generation);
                Ok(())
            } else {
                settle_dead(inner, &slot, &record)
            }
        }
    }
}

/// A live record whose shim does not answer: its exit from exit.json or from cleanup.
fn settle_dead(inner: &Inner, slot: &Arc<super::Slot>, record: &ContainerRecord) -> Result<()> {
    let paths = inner.paths(&record.id);
    if !paths.state_dir.exists() {
        // Nothing was ever spawned (a crash before the spawn) or it is all gone.
        let _ = berth_image::mount::unmount(&paths.rootfs);
        let back = if record.state == State::Starting && record.finished_at.is_none() {
            State::Created
        } else {
            State::Exited
        };
        record::update(&inner.store, &record.id, |r| {
            r.state = back;
            if back == State::Exited {
                r.exit_code = 255;
                r.error = "the container's shim was lost".into();
                r.finished_at.get_or_insert_with(super::timefmt::now);
            }
            Ok(())
        })?;
        slot.wait.send_modify(|w| {
            w.running = false;
            if back == State::Exited {
                w.exit_code = 255;
            }
        });
        return Ok(());
    }
    let exit = inner.lost_shim_exit(&record.id, &paths);
    inner.finish_locked(slot, &record.id, record.generation, &exit)
}

fn is_container_id(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Layers, bundles, shim dirs and container dirs of containers that have no record: a crash
/// during create (before the record) or rm (after it).
fn remove_orphans(inner: &Inner, known: &HashSet<String>) {
    let exec = &inner.config.exec_root;
    for name in entries(&exec.join("shims")) {
        let is_shim_dir =
            name.len() == super::SHIM_DIR_LEN && name.bytes().all(|b| b.is_ascii_hexdigit());
        if is_shim_dir && !known.iter().any(|k| k.starts_with(&name)) {
            let dir = exec.join("shims").join(&name);
            if shim_state(inner, &name).is_some() {
                let _ = shim::request(
                    &dir,
                    &name,
                    &Request::Kill {
                        signal: 9,
                        all: true,
                    },
                );
                let _ = shim::wait_exit(&dir, Some(std::time::Duration::from_secs(10)));
                let _ = shim::request(&dir, &name, &Request::Delete);
            } else if dir.join(berth_shim_protocol::SHIM_FILE).exists() {
                let _ = shim::cleanup(&inner.config.shim_binary, &dir);
            }
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    for name in entries(&exec.join("containers")) {
        if is_container_id(&name) && !known.contains(&name) {
            let paths = inner.paths(&name);
            if berth_image::mount::unmount(&paths.rootfs).is_ok() {
                let _ = std::fs::remove_dir_all(&paths.bundle);
            }
        }
    }
    for name in entries(&inner.config.data_root.join("containers")) {
        if is_container_id(&name) && !known.contains(&name) {
            let _ = std::fs::remove_dir_all(inner.config.data_root.join("containers").join(&name));
        }
    }
    if let Ok(snapshots) = inner.images.snapshotter().list() {
        for info in snapshots {
            if info.kind == berth_image::snapshot::Kind::Active
                && is_container_id(&info.key)
                && !known.contains(&info.key)
            {
                let _ = inner.images.snapshotter().remove(&info.key);
            }
        }
    }
}
