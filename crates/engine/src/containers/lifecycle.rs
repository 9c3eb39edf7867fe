//! create, start, stop, kill, pause, rm, prune, and what happens at a container's exit.

use super::mount_points::{self, MountPoint};
use super::options::{Config, CreateBody};
use super::record::{self, ContainerRecord, State};
use super::shim::{self, SpawnOptions};
use super::spec::{self, SpecInput};
use super::{Inner, Paths, Slot, names, signal, timefmt};
use crate::config::BUILTIN_RUNTIME;
use crate::error::{Error, ErrorKind, Result};
use crate::images::ImageRecord;
use crate::volumes;
use berth_shim_protocol::{Exit, Request};
use oci_spec::runtime::{LinuxNamespace, LinuxNamespaceType, Spec};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// How long after a SIGKILL we wait for the shim to report the exit before giving up on it.
const KILL_GRACE: Duration = Duration::from_secs(30);

/// The network a container gets until networking has its own issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Network {
    None,
    Host,
}

fn network_of(mode: &str) -> Result<Network> {
    match mode {
        "" | "default" | "none" => Ok(Network::None),
        "host" => Ok(Network::Host),
        other => Err(Error::invalid(format!(
            "network mode \"{other}\" is not supported yet: berth has only --network none \
             (the default) and --network host for now"
        ))),
    }
}

/// The image's config under the request's: what the container actually runs with.
fn merged_config(body: &Config, image: &ImageRecord) -> Config {
    let img = &image.config.config;
    let mut merged = body.clone();
    let mut env = img.env.clone();
    for var in &body.env {
        let key = var.split('=').next().unwrap_or(var);
        env.retain(|e| e.split('=').next() != Some(key));
        env.push(var.clone());
    }
    merged.env = env;
    if merged.entrypoint.is_none() {
        merged.entrypoint = img.entrypoint.clone();
        if merged.cmd.is_none() {
            merged.cmd = img.cmd.clone();
        }
    } else if merged
        .entrypoint
        .as_ref()
        .is_some_and(|e| e.iter().all(String::is_empty))
    {
        merged.entrypoint = None;
    }
    if merged.working_dir.is_empty() {
        merged.working_dir = img.working_dir.clone().unwrap_or_default();
    }
    if merged.user.is_empty() {
        merged.user = img.user.clone().unwrap_or_default();
    }
    if merged.stop_signal.is_empty() {
        merged.stop_signal = img.stop_signal.clone().unwrap_or_default();
    }
    let mut labels = img.labels.clone();
    labels.extend(body.labels.clone());
    merged.labels = labels;
    for port in img.exposed_ports.keys() {
        merged.exposed_ports.entry(port.clone()).or_default();
    }
    for vol in img.volumes.keys() {
        merged.volumes.entry(vol.clone()).or_default();
    }
    merged
}

/// Exit code Docker's CLI derives for a start that failed with `message`.
pub(super) fn start_failure_code(message: &str) -> i32 {
    let m = message.to_ascii_lowercase();
    if m.contains("not found") || m.contains("no such file") {
        127
    } else if m.contains("permission denied") {
        126
    } else {
        128
    }
}

fn io_context(what: impl std::fmt::Display) -> impl FnOnce(std::io::Error) -> Error {
    move |e| Error::context(what, e)
}

/// Whether something (the container's overlay, left by create) is mounted on `dir`: a mount
/// has a mount ID (or, on kernels before 5.8, a device) of its own, unlike the directory
/// `parent` it sits in. A bind of a directory on the same filesystem has the same device.
pub(super) fn is_mount_point(dir: &Path, parent: &Path) -> Result<bool> {
    use rustix::fs::{AtFlags, StatxFlags};
    let id = |p: &Path| {
        rustix::fs::statx(
            rustix::fs::CWD,
            p,
            AtFlags::empty(),
            StatxFlags::MNT_ID | StatxFlags::BASIC_STATS,
        )
        .map_err(|e| Error::context(format!("stat {}", p.display()), e))
    };
    let (inner, outer) = (id(dir)?, id(parent)?);
    if inner.stx_mask & StatxFlags::MNT_ID.bits() != 0 {
        return Ok(inner.stx_mnt_id != outer.stx_mnt_id);
    }
    Ok((inner.stx_dev_major, inner.stx_dev_minor) != (outer.stx_dev_major, outer.stx_dev_minor))
}

fn remove_dir(path: &Path) -> Result<()> {
    match std::fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::context(format!("remove {}", path.display()), e)),
    }
}

impl Inner {
    pub(crate) fn create(
        &self,
        name: Option<&str>,
        body: CreateBody,
        image: ImageRecord,
    ) -> Result<(String, Vec<String>)> {
        let name = match name.filter(|n| !n.is_empty()) {
            Some(n) => names::validate(n)?,
            None => self.generate_name()?,
        };
        network_of(&body.host_config.network_mode)?;
        let runtime = self.runtime_name(&body)?;
        if !body.host_config.log_config.r#type.is_empty()
            && !matches!(
                body.host_config.log_config.r#type.as_str(),
                "json-file" | "none"
            )
        {
            return Err(Error::invalid(format!(
                "logging driver \"{}\" is not supported: berth has json-file and none",
                body.host_config.log_config.r#type
            )));
        }
        let config = merged_config(&body.config, &image);
        let roots = [self.config.data_root.as_path(), &self.config.exec_root];
        let mut resolved = mount_points::resolve(
            &body,
            &config.volumes,
            &|reference| {
                let id = self
                    .lookup(reference)
                    .map_err(|e| Error::invalid(e.message))?;
                Ok(self.load(&id)?.mount_points())
            },
            &roots,
        )?;
        // Held until the record commits: the volumes made for this container are not
        // pruned or removed before it holds them, and go again if the create fails.
        let claim = if resolved.volumes.is_empty() {
            None
        } else {
            Some(self.volumes.claim(&mut resolved)?)
        };
        let points = resolved.points;
        let id = self.new_id()?;
        let paths = self.paths(&id);
        let snapshots = self.images.snapshotter();
        let mounts = snapshots
            .prepare(&id, image.top_layer())
            .map_err(|e| Error::context(format!("prepare the writable layer of {id}"), e))?;
        let undo = |paths: &Paths| {
            let _ = berth_image::mount::unmount(&paths.rootfs);
            let _ = self.images.snapshotter().remove(&id);
            let _ = remove_dir(&paths.container_dir);
            let _ = remove_dir(&paths.bundle);
        };
        // Build the spec once now so that bad options fail the create, as with dockerd. It
        // reads the image's /etc/passwd and makes WORKDIR, so the root is mounted for it, and
        // stays mounted for the start that usually follows (the exit or rm unmounts it).
        // Empty volumes then get the image's content at their destination (copy-up).
        let checked = [&paths.container_dir, &paths.rootfs]
            .into_iter()
            .try_for_each(|dir| {
                std::fs::create_dir_all(dir)
                    .map_err(io_context(format!("create {}", dir.display())))
            })
            .and_then(|()| {
                berth_image::mount::mount_all(&mounts, &paths.rootfs)
                    .map_err(|e| Error::context(format!("mount the root of {id}"), e))
            })
            .and_then(|()| {
                self.build_config(&id, &body, &image, &paths, &points)
                    .map(|_| ())
            })
            .and_then(|()| {
                points
                    .iter()
                    .filter(|p| p.is_volume() && p.copy_data)
                    .try_for_each(|p| {
                        volumes::copy_up(&paths.rootfs, &p.destination, &p.name, p.source.as_ref())
                    })
            });
        if let Err(e) = checked {
            undo(&paths);
            return Err(e);
        }
        let record = ContainerRecord {
            id: id.clone(),
            name,
            created: timefmt::now(),
            image_ref: body.config.image.clone(),
            image_id: image.id.clone(),
            body,
            config,
            state: State::Created,
            pid: 0,
            shim_pid: 0,
            exit_code: 0,
            error: String::new(),
            started_at: None,
            finished_at: None,
            runtime,
            restart_count: 0,
            generation: 0,
            oom_killed: false,
            mounts: Some(points),
            removing_volumes: false,
        };
        let new_volumes = claim.as_ref().map(|c| c.new_records()).unwrap_or_default();
        if let Err(e) = record::insert(&self.store, &record, |txn| {
            volumes::record::put_new(txn, new_volumes)
        }) {
            undo(&paths);
            return Err(e);
        }
        if let Some(claim) = claim {
            claim.keep();
        }
        self.slot(&id);
        Ok((id, Vec::new()))
    }

    fn new_id(&self) -> Result<String> {
        let taken: Vec<String> = record::list(&self.store)?
            .into_iter()
            .map(|r| r.id)
            .collect();
        loop {
            let id = record::random_id()?;
            let prefix = super::shim_dir_name(&id);
            if !taken.iter().any(|t| t.starts_with(prefix)) {
                return Ok(id);
            }
        }
    }

    fn generate_name(&self) -> Result<String> {
        for attempt in 0..10 {
            let candidate = names::generate(attempt, record::random_u64()?);
            if self
                .store
                .get::<String>(record::NAMES, &candidate)?
                .is_none()
            {
                return Ok(candidate);
            }
        }
        Err(Error::internal("could not generate a free container name"))
    }

    fn runtime_name(&self, body: &CreateBody) -> Result<String> {
        let name = match body.host_config.runtime.as_str() {
            "" => self.config.default_runtime.clone(),
            n => n.to_string(),
        };
        if name == BUILTIN_RUNTIME || self.config.runtimes.contains_key(&name) {
            Ok(name)
        } else {
            Err(Error::invalid(format!("Unknown runtime specified {name}")))
        }
    }

    fn runtime_binary(&self, name: &str) -> Result<Option<PathBuf>> {
        if name == BUILTIN_RUNTIME {
            return Ok(None);
        }
        self.config
            .runtimes
            .get(name)
            .cloned()
            .map(Some)
            .ok_or_else(|| Error::invalid(format!("Unknown runtime specified {name}")))
    }

    /// The cgroup the container's runtime makes (relative to the hierarchy roots).
    pub(crate) fn cgroups_path(record_body: &CreateBody, id: &str) -> PathBuf {
        let parent = match record_body.host_config.cgroup_parent.trim_matches('/') {
            "" => berth_cgroups::PARENT,
            p => p,
        };
        PathBuf::from(format!("/{parent}/{id}"))
    }

    /// The config.json of a container, with the engine's own parts: cgroup and network.
    fn build_config(
        &self,
        id: &str,
        body: &CreateBody,
        image: &ImageRecord,
        paths: &Paths,
        mounts: &[MountPoint],
    ) -> Result<Spec> {
        let input = SpecInput {
            id,
            image,
            config: &body.config,
            host_config: &body.host_config,
            rootfs: &paths.rootfs,
            container_dir: &paths.container_dir,
            init_binary: self.config.init_binary.as_deref(),
            mounts,
        };
        let mut spec = spec::build_spec(&input)?;
        let network = network_of(&body.host_config.network_mode)?;
        let mut linux = spec.linux().clone().unwrap_or_default();
        if linux.cgroups_path().is_none() {
            linux.set_cgroups_path(Some(Self::cgroups_path(body, id)));
        }
        let mut namespaces = linux.namespaces().clone().unwrap_or_default();
        namespaces.retain(|ns| ns.typ() != LinuxNamespaceType::Network);
        if network == Network::None {
            let mut ns = LinuxNamespace::default();
            ns.set_typ(LinuxNamespaceType::Network);
            namespaces.push(ns);
        }
        linux.set_namespaces(Some(namespaces));
        spec.set_linux(Some(linux));
        Ok(spec)
    }

    pub(super) fn image_of(&self, record: &ContainerRecord) -> Result<ImageRecord> {
        self.images.resolve(&record.image_id).or_else(|_| {
            // The image may have been removed with -f: its part of the merged config stands in.
            let c = &record.config;
            Ok::<_, Error>(ImageRecord {
                id: record.image_id.clone(),
                repo_tags: Vec::new(),
                repo_digests: Vec::new(),
                config: serde_json::from_value(serde_json::json!({
                    "architecture": "amd64", "os": "linux",
                    "config": {"Env": c.env, "Entrypoint": c.entrypoint, "Cmd": c.cmd,
                               "WorkingDir": c.working_dir, "User": c.user},
                    "rootfs": {"type": "layers", "diff_ids": []}
                }))
                .map_err(|e| Error::context("stand-in image config", e))?,
                chain_ids: Vec::new(),
                size: 0,
                stored_at: 0,
                layers: Vec::new(),
                last_tag_time: None,
            })
        })
    }

    pub(crate) fn start(&self, reference: &str) -> Result<()> {
        let id = self.lookup(reference)?;
        let slot = self.slot(&id);
        let _guard = slot.lock();
        let record = self.load(&id)?;
        match record.state {
            State::Created | State::Exited => {}
            State::Running | State::Starting | State::Paused => {
                return Err(Error::not_modified("container already started"));
            }
            State::Removing => {
                return Err(Error::conflict(format!(
                    "container {id} is marked for removal and cannot be started"
                )));
            }
        }
        let previous = record.state;
        match self.start_locked(&slot, record) {
            Ok(()) => Ok(()),
            Err(e) => {
                // Attaches waiting for this start get nothing: their senders drop here.
                super::lock(&slot.pending_attaches).clear();
                let code = start_failure_code(&e.message);
                let message = e.message.clone();
                let updated = record::update(&self.store, &id, |r| {
                    r.state = previous;
                    r.error = message.clone();
                    r.exit_code = code;
                    r.pid = 0;
                    r.shim_pid = 0;
                    Ok(r.body.host_config.auto_remove)
                });
                slot.wait.send_modify(|w| w.exit_code = code);
                if let Ok((true, _)) = updated {
                    let _ = self.remove_locked(&slot, &id, true);
                }
                Err(e)
            }
        }
    }

    fn start_locked(&self, slot: &Arc<Slot>, record: ContainerRecord) -> Result<()> {
        let id = record.id.clone();
        let paths = self.paths(&id);
        let runtime = self.runtime_binary(&record.runtime)?;
        let runtime_root = self.runtime_root(&record.runtime);
        remove_dir(&paths.state_dir)?;
        for dir in [
            &paths.state_dir,
            &paths.rootfs,
            &runtime_root,
            &paths.container_dir,
        ] {
            std::fs::create_dir_all(dir)
                .map_err(io_context(format!("create {}", dir.display())))?;
        }
        let image = self.image_of(&record)?;
        if !is_mount_point(&paths.rootfs, &paths.bundle)? {
            let mounts = self
                .images
                .snapshotter()
                .mounts(&id)
                .map_err(|e| Error::context(format!("the writable layer of {id}"), e))?;
            berth_image::mount::mount_all(&mounts, &paths.rootfs)
                .map_err(|e| Error::context(format!("mount the root of {id}"), e))?;
        }
        let points = record.mount_points();
        self.volumes.mount_for(&id, &points).inspect_err(|_| {
            let _ = berth_image::mount::unmount(&paths.rootfs);
        })?;
        let unmount = || {
            let _ = berth_image::mount::unmount(&paths.rootfs);
            self.volumes.release(&id, &points);
        };
        let spec = match self.write_bundle(&record, &image, &paths, &points) {
            Ok(spec) => spec,
            Err(e) => {
                unmount();
                return Err(e);
            }
        };
        let tty = record.body.config.tty;
        let log_none = record.body.host_config.log_config.r#type == "none";
        let spawning = shim::spawn(
            self.shim.program(),
            &SpawnOptions {
                id: &id,
                bundle: &paths.bundle,
                state_dir: &paths.state_dir,
                runtime_root: &runtime_root,
                runtime: runtime.as_deref(),
                stdin: record.body.config.open_stdin,
                tty,
                log_path: (!log_none).then_some(paths.log.as_path()),
            },
        );
        // Recorded while the shim creates the container. A crash before this commit leaves a
        // `created` record with a shim, which recovery kills.
        let starting = record::update(&self.store, &id, |r| {
            r.state = State::Starting;
            r.generation += 1;
            Ok(())
        });
        let spawned = spawning.and_then(shim::Spawning::report);
        let record = match starting {
            Ok((_, record)) => record,
            Err(e) => {
                if spawned.is_ok() {
                    self.abandon_shim(&id, &paths);
                }
                unmount();
                let _ = remove_dir(&paths.state_dir);
                return Err(e);
            }
        };
        let spawned = match spawned {
            Ok(s) => s,
            Err(failure) => {
                unmount();
                let _ = remove_dir(&paths.state_dir);
                return Err(if failure.create_stage {
                    let status = if start_failure_code(&failure.message) == 128 {
                        ErrorKind::Internal
                    } else {
                        ErrorKind::InvalidArgument
                    };
                    Error::new(
                        status,
                        format!("OCI runtime create failed: {}: unknown", failure.message),
                    )
                } else {
                    Error::internal(format!("start the shim of {id}: {}", failure.message))
                });
            }
        };
        drop(spec);
        self.connect_pending_attaches(slot, &id, &paths);
        if let (true, &[rows, cols]) = (tty, &record.body.host_config.console_size[..])
            && rows > 0
            && cols > 0
        {
            let _ = shim::request(
                &paths.state_dir,
                &id,
                &Request::Resize {
                    rows,
                    cols,
                    exec_id: None,
                },
            );
        }
        if let Err(e) = shim::request(&paths.state_dir, &id, &Request::Start) {
            self.abandon_shim(&id, &paths);
            unmount();
            return Err(Error::new(
                e.kind,
                format!("OCI runtime start failed: {}: unknown", e.message),
            ));
        }
        let generation = record.generation;
        let started_at = timefmt::now();
        record::update(&self.store, &id, |r| {
            r.state = State::Running;
            r.pid = spawned.init_pid;
            r.shim_pid = spawned.shim_pid;
            r.started_at = Some(started_at.clone());
            r.finished_at = None;
            r.exit_code = 0;
            r.error.clear();
            r.oom_killed = false;
            Ok(())
        })?;
        slot.wait.send_modify(|w| {
            w.running = true;
            w.error = None;
        });
        self.supervise(&id, generation);
        Ok(())
    }

    /// Writes hostname/hosts/resolv.conf and config.json into the bundle.
    fn write_bundle(
        &self,
        record: &ContainerRecord,
        image: &ImageRecord,
        paths: &Paths,
        mounts: &[MountPoint],
    ) -> Result<Spec> {
        let input = SpecInput {
            id: &record.id,
            image,
            config: &record.body.config,
            host_config: &record.body.host_config,
            rootfs: &paths.rootfs,
            container_dir: &paths.container_dir,
            init_binary: self.config.init_binary.as_deref(),
            mounts,
        };
        spec::write_etc_files(&input)?;
        let spec = self.build_config(&record.id, &record.body, image, paths, mounts)?;
        let json = serde_json::to_vec_pretty(&spec)
            .map_err(|e| Error::context(format!("encode config.json of {}", record.id), e))?;
        let path = paths.bundle.join("config.json");
        std::fs::write(&path, json).map_err(io_context(format!("write {}", path.display())))?;
        Ok(spec)
    }

    /// Kills what a shim runs and makes it go away, for a start that failed half-way.
    fn abandon_shim(&self, id: &str, paths: &Paths) {
        let _ = shim::request(
            &paths.state_dir,
            id,
            &Request::Kill {
                signal: 9,
                all: true,
            },
        );
        let _ = shim::wait_exit(&paths.state_dir, Some(KILL_GRACE));
        let _ = shim::request(&paths.state_dir, id, &Request::Delete);
        let _ = remove_dir(&paths.state_dir);
    }

    /// One thread per running container: waits for the exit through the shim, then records it.
    /// It holds the engine weakly: once the engine is dropped (berthd going away), an exit is
    /// left for the next engine to find.
    pub(crate) fn supervise(&self, id: &str, generation: u64) {
        let engine = self.this.clone();
        let name = format!("supervise-{}", &id[..12.min(id.len())]);
        let state_dir = self.paths(id).state_dir;
        let id = id.to_string();
        let spawned = std::thread::Builder::new()
            .name(name)
            .stack_size(256 * 1024)
            .spawn(move || {
                let answer = shim::wait_exit(&state_dir, None);
                let Some(inner) = engine.upgrade() else {
                    return;
                };
                let exit = match answer {
                    Ok(Some(exit)) => exit,
                    _ => inner.lost_shim_exit(&id, &inner.paths(&id)),
                };
                inner.on_exit(&id, generation, exit);
            });
        if let Err(e) = spawned {
            tracing::error!("start a supervisor thread: {e}");
        }
    }

    /// The container's exit through its shim; if the shim is gone, from exit.json or by
    /// `berth-shim cleanup`. None only on timeout.
    pub(crate) fn wait_for_exit(&self, id: &str, timeout: Option<Duration>) -> Option<Exit> {
        let paths = self.paths(id);
        match shim::wait_exit(&paths.state_dir, timeout) {
            Ok(Some(exit)) => Some(exit),
            Ok(None) => None,
            Err(_) => Some(self.lost_shim_exit(id, &paths)),
        }
    }

    pub(crate) fn lost_shim_exit(&self, id: &str, paths: &Paths) -> Exit {
        if let Some(exit) = shim::read_exit_file(&paths.state_dir) {
            return exit;
        }
        match shim::cleanup(&self.config.shim_binary, &paths.state_dir) {
            Ok(exit) => exit,
            Err(e) => {
                tracing::warn!("container {id}: {e}");
                Exit {
                    exit_code: 255,
                    signal: None,
                    started_at: None,
                    finished_at: timefmt::now(),
                    shim_lost: true,
                }
            }
        }
    }

    pub(crate) fn on_exit(&self, id: &str, generation: u64, exit: Exit) {
        let slot = self.slot(id);
        let _guard = slot.lock();
        if let Err(e) = self.finish_locked(&slot, id, generation, &exit) {
            tracing::warn!("record the exit of {id}: {e}");
        }
    }

    /// Records an exit once: deletes the shim, unmounts, marks the record exited, wakes
    /// waiters, and removes an AutoRemove container.
    pub(crate) fn finish_locked(
        &self,
        slot: &Arc<Slot>,
        id: &str,
        generation: u64,
        exit: &Exit,
    ) -> Result<()> {
        let Some(record) = record::load(&self.store, id)? else {
            return Ok(());
        };
        if !record.state.is_live() || record.generation != generation {
            return Ok(());
        }
        let paths = self.paths(id);
        // Read before the shim's delete removes the cgroup.
        let oom_killed = self
            .cgroup_of(&record)
            .is_ok_and(|cgroup| cgroup.oom_kills() > 0);
        // Before the delete: the shim knows its execs' exits until it goes.
        self.execs_container_ended(id);
        // The shim removes the runtime's state and cgroups while we unmount and record the exit.
        let delete = shim::send(&paths.state_dir, id, &Request::Delete);
        let _ = berth_image::mount::unmount(&paths.rootfs);
        self.volumes.release(id, &record.mount_points());
        let error = if exit.shim_lost {
            "the container's shim died; the container was killed".to_string()
        } else {
            String::new()
        };
        // An AutoRemove container goes straight to `removing` (one commit less per `run --rm`).
        let (auto_remove, _) = record::update(&self.store, id, |r| {
            r.state = if r.body.host_config.auto_remove {
                r.removing_volumes = true;
                State::Removing
            } else {
                State::Exited
            };
            r.exit_code = exit.exit_code;
            r.finished_at = Some(exit.finished_at.clone());
            if r.started_at.is_none() {
                r.started_at = exit.started_at.clone();
            }
            r.pid = 0;
            r.shim_pid = 0;
            r.error = error.clone();
            r.oom_killed = oom_killed;
            Ok(r.body.host_config.auto_remove)
        })?;
        let _ = delete.and_then(|sent| sent.answer());
        let _ = remove_dir(&paths.state_dir);
        slot.wait.send_modify(|w| {
            w.exits += 1;
            w.running = false;
            w.exit_code = exit.exit_code;
            w.error = (!error.is_empty()).then(|| error.clone());
        });
        if auto_remove {
            self.remove_locked(slot, id, true)?;
        }
        Ok(())
    }

    pub(crate) fn stop(&self, reference: &str, timeout: Option<i64>) -> Result<()> {
        let id = self.lookup(reference)?;
        let slot = self.slot(&id);
        let _guard = slot.lock();
        let record = self.load(&id)?;
        if !record.state.is_live() {
            return Err(Error::not_modified("container already stopped"));
        }
        let signal = match record.config.stop_signal.as_str() {
            "" => signal::SIGTERM,
            s => signal::parse(s).unwrap_or(signal::SIGTERM),
        };
        let seconds = timeout.or(record.body.config.stop_timeout).unwrap_or(10);
        let paths = self.paths(&id);
        let _ = shim::request(&paths.state_dir, &id, &Request::Kill { signal, all: false });
        if record.state == State::Paused {
            self.freeze(&record, false)?;
        }
        let grace = (seconds >= 0).then(|| Duration::from_secs(seconds as u64));
        let exit = match self.wait_for_exit(&id, grace) {
            Some(exit) => exit,
            None => self.kill_and_wait(&id, &paths),
        };
        self.finish_locked(&slot, &id, record.generation, &exit)
    }

    fn kill_and_wait(&self, id: &str, paths: &Paths) -> Exit {
        let _ = shim::request(
            &paths.state_dir,
            id,
            &Request::Kill {
                signal: 9,
                all: true,
            },
        );
        match self.wait_for_exit(id, Some(KILL_GRACE)) {
            Some(exit) => exit,
            // A shim that does not report a SIGKILL within the grace is hung: clean it up.
            None => self.lost_shim_exit(id, paths),
        }
    }

    pub(crate) fn kill(&self, reference: &str, signal: i32) -> Result<()> {
        let id = self.lookup(reference)?;
        let slot = self.slot(&id);
        let _guard = slot.lock();
        let record = self.load(&id)?;
        if !record.state.is_live() {
            return Err(Error::conflict(format!("Container {id} is not running")));
        }
        let paths = self.paths(&id);
        if signal == signal::SIGKILL {
            if record.state == State::Paused {
                let _ = self.freeze(&record, false);
            }
            let exit = self.kill_and_wait(&id, &paths);
            return self.finish_locked(&slot, &id, record.generation, &exit);
        }
        shim::request(&paths.state_dir, &id, &Request::Kill { signal, all: false })
            .map(|_| ())
            .map_err(|e| {
                Error::new(
                    e.kind,
                    format!("Cannot kill container: {id}: {}", e.message),
                )
            })
    }

    pub(crate) fn set_paused(&self, reference: &str, paused: bool) -> Result<()> {
        let id = self.lookup(reference)?;
        let slot = self.slot(&id);
        let _guard = slot.lock();
        let record = self.load(&id)?;
        match (record.state, paused) {
            (State::Running, true) | (State::Paused, false) => {}
            (State::Paused, true) => {
                return Err(Error::conflict(format!("Container {id} is already paused")));
            }
            (State::Running | State::Starting, false) => {
                return Err(Error::conflict(format!("Container {id} is not paused")));
            }
            _ => return Err(Error::conflict(format!("Container {id} is not running"))),
        }
        self.freeze(&record, paused)?;
        record::update(&self.store, &id, |r| {
            r.state = if paused {
                State::Paused
            } else {
                State::Running
            };
            Ok(())
        })?;
        Ok(())
    }

    /// Freezes or thaws the container's cgroup: directly for the built-in runtime, through
    /// `pause`/`resume` of an `--add-runtime` binary.
    pub(crate) fn freeze(&self, record: &ContainerRecord, frozen: bool) -> Result<()> {
        let what = if frozen { "pause" } else { "unpause" };
        if let Some(binary) = self.runtime_binary(&record.runtime)? {
            let out = std::process::Command::new(&binary)
                .arg("--root")
                .arg(self.runtime_root(&record.runtime))
                .arg(if frozen { "pause" } else { "resume" })
                .arg(&record.id)
                .output()
                .map_err(io_context(format!("run {}", binary.display())))?;
            if !out.status.success() {
                return Err(Error::internal(format!(
                    "Cannot {what} container {}: {}",
                    record.id,
                    String::from_utf8_lossy(&out.stderr).trim()
                )));
            }
            return Ok(());
        }
        let fail = |e: berth_cgroups::Error| {
            Error::internal(format!("Cannot {what} container {}: {e}", record.id))
        };
        self.cgroup_of(record)
            .and_then(|cgroup| cgroup.freeze(frozen))
            .map_err(fail)
    }

    /// The container's cgroup, as its config.json names it.
    pub(crate) fn cgroup_of(
        &self,
        record: &ContainerRecord,
    ) -> std::result::Result<berth_cgroups::Cgroup, berth_cgroups::Error> {
        let path = Self::cgroups_path(&record.body, &record.id);
        let path = berth_cgroups::resolve_path(Some(&path), &record.id)?;
        let hierarchies = berth_cgroups::Hierarchies::detect()?;
        Ok(berth_cgroups::Cgroup::open(hierarchies, path, Vec::new()))
    }

    pub(crate) fn remove(&self, reference: &str, force: bool, remove_volumes: bool) -> Result<()> {
        let id = self.lookup(reference)?;
        let slot = self.slot(&id);
        let _guard = slot.lock();
        let record = self.load(&id)?;
        if record.state.is_live() {
            if !force {
                let what = if record.state == State::Paused {
                    "paused"
                } else {
                    "running"
                };
                return Err(Error::conflict(format!(
                    "You cannot remove a {what} container {id}. Stop the container before \
                     attempting removal or force remove"
                )));
            }
            if record.state == State::Paused {
                let _ = self.freeze(&record, false);
            }
            let paths = self.paths(&id);
            let exit = self.kill_and_wait(&id, &paths);
            self.finish_locked(&slot, &id, record.generation, &exit)?;
        }
        self.remove_locked(&slot, &id, remove_volumes)
    }

    /// Removes a stopped container and everything it has: mounts, layer, dirs, record; with
    /// `remove_volumes` (or if a removal interrupted by a crash asked for it) also its
    /// anonymous volumes that no other container uses.
    pub(crate) fn remove_locked(
        &self,
        slot: &Arc<Slot>,
        id: &str,
        remove_volumes: bool,
    ) -> Result<()> {
        let record = match record::load(&self.store, id)? {
            None => return Ok(()),
            Some(r) if r.state == State::Removing => r,
            Some(_) => {
                record::update(&self.store, id, |r| {
                    r.state = State::Removing;
                    r.removing_volumes = remove_volumes;
                    Ok(())
                })?
                .1
            }
        };
        let image_id = record.image_id.clone();
        let anonymous: Vec<String> = if remove_volumes || record.removing_volumes {
            record
                .mount_points()
                .into_iter()
                .filter(|p| p.is_volume() && !p.named)
                .map(|p| p.name)
                .collect()
        } else {
            Vec::new()
        };
        self.remove_files(id)?;
        record::delete(&self.store, id)?;
        self.execs_container_removed(id);
        slot.wait.send_modify(|w| {
            w.removed = true;
            w.running = false;
        });
        self.drop_slot(id);
        self.volumes.remove_unused(&anonymous)?;
        // The image of a container may have been force-removed while it was in use: its
        // layers wait for their last container.
        if matches!(self.images.get(&image_id), Ok(None))
            && let Err(e) = self.images.collect_garbage()
        {
            tracing::warn!("remove the layers of removed image {image_id}: {e}");
        }
        Ok(())
    }

    /// Everything of a container but its record; each step tolerates an earlier partial run.
    pub(crate) fn remove_files(&self, id: &str) -> Result<()> {
        let paths = self.paths(id);
        if paths.rootfs.exists() {
            berth_image::mount::unmount(&paths.rootfs)
                .map_err(|e| Error::context(format!("unmount the root of {id}"), e))?;
        }
        match self.images.snapshotter().remove(id) {
            Ok(()) | Err(berth_image::snapshot::SnapshotError::NotFound { .. }) => {}
            Err(e) => return Err(Error::context(format!("remove the layer of {id}"), e)),
        }
        remove_dir(&paths.bundle)?;
        remove_dir(&paths.state_dir)?;
        remove_dir(&paths.container_dir)?;
        Ok(())
    }

    pub(crate) fn prune(&self) -> Result<(Vec<String>, u64)> {
        let mut removed = Vec::new();
        let mut reclaimed = 0;
        for record in record::list(&self.store)? {
            if !matches!(record.state, State::Exited | State::Created) {
                continue;
            }
            let slot = self.slot(&record.id);
            let _guard = slot.lock();
            match self.load(&record.id) {
                Ok(r) if matches!(r.state, State::Exited | State::Created) => {}
                _ => continue,
            }
            let size = self
                .images
                .snapshotter()
                .usage(&record.id)
                .map(|u| u.bytes)
                .unwrap_or(0);
            self.remove_locked(&slot, &record.id, false)?;
            reclaimed += size;
            removed.push(record.id);
        }
        Ok((removed, reclaimed))
    }

    pub(crate) fn resize(&self, reference: &str, rows: u16, cols: u16) -> Result<()> {
        let id = self.lookup(reference)?;
        let record = self.load(&id)?;
        if !record.state.is_live() {
            return Err(Error::conflict(format!("Container {id} is not running")));
        }
        if !record.body.config.tty {
            return Ok(());
        }
        let paths = self.paths(&id);
        shim::request(
            &paths.state_dir,
            &id,
            &Request::Resize {
                rows,
                cols,
                exec_id: None,
            },
        )
        .map(|_| ())
    }
}
