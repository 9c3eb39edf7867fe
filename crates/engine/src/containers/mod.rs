//! Containers: records, config.json generation, shims, lifecycle, supervision, recovery.
//!
//! The contract the image service relies on:
//! * [`Containers::image_users`] — IDs of the containers (any state) whose image is `image_id`;
//!   `rmi` refuses an image that has users unless forced.
//!
//! And what it relies on of the volume service: a create's volumes are made under a
//! [`crate::volumes::Volumes`] claim and committed with the record; a start mounts the
//! volumes that need it (`mount_for`), an exit releases them; `rm -v` removes the anonymous
//! ones no other container uses (`remove_unused`). The volume service reads which containers
//! use a volume from the records (`record::volume_users_in`).
//!
//! Layout of one container `ID`:
//! * `<data-root>/containers/ID/`: `ID-json.log`, hostname, hosts, resolv.conf.
//! * `<exec-root>/containers/ID/`: the bundle (`config.json`, `rootfs/` where the snapshot is
//!   mounted while the container runs).
//! * `<exec-root>/shims/ID16/`: the shim's state dir (docs/shim.md), named by the first 16
//!   hex digits of the ID because its sockets' paths must fit in 108 bytes.
//! * `<exec-root>/runtime/NAME/`: the runtime root of each runtime.
//!
//! Every change of state is one store transaction. Operations on one container are serialized
//! by its slot's lock; a supervisor thread per running container waits for the exit through the
//! shim and records it.

mod attach;
mod exec;
mod files;
mod lifecycle;
pub mod logs;
pub mod mount_points;
mod names;
mod observe;
pub mod options;
pub(crate) mod record;
mod recovery;
mod shim;
pub mod signal;
pub mod spec;
pub mod timefmt;
mod view;

pub use attach::{AttachOptions, AttachStream, DEFAULT_DETACH_KEYS, parse_detach_keys};
pub use berth_image::snapshot::{Change, ChangeKind};
pub use exec::{ExecStream, start_failure_bytes};
pub use files::{CommitOptions, PathStat};
pub use observe::StatsSample;
pub use record::{ContainerRecord, State};
pub use view::{ListOptions, parse_filters};

use crate::config::EngineConfig;
use crate::error::{Error, Result};
use crate::images::{ImageRecord, Images};
use crate::store::Store;
use crate::volumes::Volumes;
use options::{CreateBody, ExecConfig};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use tokio::sync::watch;

pub struct Containers {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    this: Weak<Inner>,
    config: EngineConfig,
    store: Store,
    images: Arc<Images>,
    volumes: Arc<Volumes>,
    slots: Mutex<HashMap<String, Arc<Slot>>>,
    shim: shim::Launcher,
    execs: exec::Execs,
}

/// The in-memory side of one container: its operation lock, what waiters watch, and the
/// attach requests that wait for its next start.
pub(crate) struct Slot {
    op: Mutex<()>,
    wait: watch::Sender<WaitState>,
    pending_attaches: Mutex<Vec<attach::Pending>>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct WaitState {
    /// Exits seen since the engine opened.
    exits: u64,
    running: bool,
    removed: bool,
    exit_code: i32,
    error: Option<String>,
}

/// `POST /containers/{id}/wait?condition=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitCondition {
    NotRunning,
    NextExit,
    Removed,
}

impl WaitCondition {
    pub fn parse(text: &str) -> Result<Self> {
        match text {
            "" | "not-running" => Ok(WaitCondition::NotRunning),
            "next-exit" => Ok(WaitCondition::NextExit),
            "removed" => Ok(WaitCondition::Removed),
            other => Err(Error::invalid(format!("invalid condition: \"{other}\""))),
        }
    }
}

/// What `wait` answers: the exit code and, if the container could not run, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitResult {
    pub status_code: i32,
    pub error: Option<String>,
}

/// A registered waiter; resolve it with [`WaitHandle::wait`] (async; no engine lock is held).
pub struct WaitHandle {
    rx: watch::Receiver<WaitState>,
    condition: WaitCondition,
    start: WaitState,
}

impl WaitHandle {
    pub async fn wait(mut self) -> WaitResult {
        let start = self.start.clone();
        let condition = self.condition;
        let done = move |s: &WaitState| match condition {
            WaitCondition::NotRunning => !s.running,
            WaitCondition::NextExit => s.exits > start.exits || s.removed,
            WaitCondition::Removed => s.removed,
        };
        let found = self.rx.wait_for(done).await.map(|s| s.clone());
        // An error means the slot went away: the container was removed.
        let state = found.unwrap_or_else(|_| self.rx.borrow().clone());
        WaitResult {
            status_code: state.exit_code,
            error: state.error,
        }
    }
}

/// Where one container's files are.
pub(crate) struct Paths {
    pub container_dir: PathBuf,
    pub log: PathBuf,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub state_dir: PathBuf,
}

/// Length of the ID prefix that names a shim's state dir; unique among containers (create
/// draws another ID on a clash).
pub(crate) const SHIM_DIR_LEN: usize = 16;

pub(crate) fn shim_dir_name(id: &str) -> &str {
    &id[..SHIM_DIR_LEN.min(id.len())]
}

impl Inner {
    pub(crate) fn paths(&self, id: &str) -> Paths {
        let container_dir = self.config.data_root.join("containers").join(id);
        let bundle = self.config.exec_root.join("containers").join(id);
        Paths {
            log: container_dir.join(format!("{id}-json.log")),
            container_dir,
            rootfs: bundle.join("rootfs"),
            bundle,
            state_dir: self.config.exec_root.join("shims").join(shim_dir_name(id)),
        }
    }

    pub(crate) fn runtime_root(&self, runtime: &str) -> PathBuf {
        self.config.exec_root.join("runtime").join(runtime)
    }

    pub(crate) fn slot(&self, id: &str) -> Arc<Slot> {
        let mut slots = lock(&self.slots);
        slots
            .entry(id.to_string())
            .or_insert_with(|| Arc::new(Slot::new(WaitState::default())))
            .clone()
    }

    pub(crate) fn drop_slot(&self, id: &str) {
        lock(&self.slots).remove(id);
    }

    pub(crate) fn lookup(&self, reference: &str) -> Result<String> {
        record::lookup(&self.store, reference)
    }

    pub(crate) fn load(&self, id: &str) -> Result<ContainerRecord> {
        record::load(&self.store, id)?
            .ok_or_else(|| Error::not_found(format!("No such container: {id}")))
    }
}

impl Slot {
    fn new(state: WaitState) -> Self {
        Slot {
            op: Mutex::new(()),
            wait: watch::Sender::new(state),
            pending_attaches: Mutex::new(Vec::new()),
        }
    }
    pub(crate) fn lock(&self) -> MutexGuard<'_, ()> {
        lock(&self.op)
    }
}

/// A poisoned lock only means another thread panicked while holding it; the data it guards
/// is either `()` or plain collections, still usable.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Containers {
    /// Opens the service and finds the containers of an earlier run: reconnects to live
    /// shims, records the exits of dead ones, and cleans what a crash left half-made.
    pub fn open(
        config: &EngineConfig,
        store: Store,
        images: Arc<Images>,
        volumes: Arc<Volumes>,
    ) -> Result<Self> {
        let inner = Arc::new_cyclic(|this| Inner {
            this: this.clone(),
            config: config.clone(),
            store,
            images,
            volumes,
            slots: Mutex::new(HashMap::new()),
            shim: shim::Launcher::new(&config.shim_binary),
            execs: exec::Execs::default(),
        });
        recovery::recover(&inner)?;
        inner.volumes.settle_mounts()?;
        Ok(Containers { inner })
    }

    /// Containers created from `image_id` (`sha256:<hex>`).
    pub fn image_users(&self, image_id: &str) -> Result<Vec<String>> {
        Ok(record::list(&self.inner.store)?
            .into_iter()
            .filter(|r| r.image_id == image_id)
            .map(|r| r.id)
            .collect())
    }

    /// `POST /containers/create`: returns the new ID and warnings.
    pub fn create(&self, name: Option<&str>, body: CreateBody) -> Result<(String, Vec<String>)> {
        let image = self.inner.images.resolve(&body.config.image)?;
        self.create_from_image(name, body, image)
    }

    /// Create with an image record already at hand (tests, and `create` after `resolve`).
    pub fn create_from_image(
        &self,
        name: Option<&str>,
        body: CreateBody,
        image: ImageRecord,
    ) -> Result<(String, Vec<String>)> {
        self.inner.create(name, body, image)
    }

    pub fn start(&self, reference: &str) -> Result<()> {
        self.inner.start(reference)
    }

    /// `t`: seconds before SIGKILL (None: the container's StopTimeout, else 10; -1: forever).
    pub fn stop(&self, reference: &str, timeout: Option<i64>) -> Result<()> {
        self.inner.stop(reference, timeout)
    }

    pub fn restart(&self, reference: &str, timeout: Option<i64>) -> Result<()> {
        match self.inner.stop(reference, timeout) {
            Ok(()) => {}
            Err(e) if e.kind == crate::ErrorKind::NotModified => {}
            Err(e) => return Err(e),
        }
        self.inner.start(reference)
    }

    /// `signal`: a name or number; None is SIGKILL.
    pub fn kill(&self, reference: &str, signal: Option<&str>) -> Result<()> {
        let signal = match signal.filter(|s| !s.is_empty()) {
            Some(s) => signal::parse(s)?,
            None => signal::SIGKILL,
        };
        self.inner.kill(reference, signal)
    }

    pub fn pause(&self, reference: &str) -> Result<()> {
        self.inner.set_paused(reference, true)
    }

    pub fn unpause(&self, reference: &str) -> Result<()> {
        self.inner.set_paused(reference, false)
    }

    /// `remove_volumes` (`rm -v`): its anonymous volumes go too, unless another container
    /// uses them.
    pub fn remove(&self, reference: &str, force: bool, remove_volumes: bool) -> Result<()> {
        self.inner.remove(reference, force, remove_volumes)
    }

    pub fn rename(&self, reference: &str, new_name: &str) -> Result<()> {
        let id = self.inner.lookup(reference)?;
        let new_name = names::validate(new_name)?;
        record::rename(&self.inner.store, &id, &new_name)
    }

    /// Removes every stopped container: (IDs removed, bytes of their layers).
    pub fn prune(&self) -> Result<(Vec<String>, u64)> {
        self.inner.prune()
    }

    /// Registers a waiter now (so a `start` right after cannot be missed); await it later.
    pub fn wait_handle(&self, reference: &str, condition: WaitCondition) -> Result<WaitHandle> {
        let id = self.inner.lookup(reference)?;
        let slot = self.inner.slot(&id);
        let rx = slot.wait.subscribe();
        let start = rx.borrow().clone();
        Ok(WaitHandle {
            rx,
            condition,
            start,
        })
    }

    /// The record of one container.
    pub fn get(&self, reference: &str) -> Result<ContainerRecord> {
        let id = self.inner.lookup(reference)?;
        self.inner.load(&id)
    }

    /// `GET /containers/{id}/json`.
    pub fn inspect(&self, reference: &str, size: bool) -> Result<serde_json::Value> {
        let record = self.get(reference)?;
        Ok(self.inner.inspect_json(&record, size))
    }

    /// `GET /containers/json`.
    pub fn list(&self, opts: &ListOptions) -> Result<Vec<serde_json::Value>> {
        self.inner.list_json(opts)
    }

    /// `POST /containers/{id}/attach`: a stream to the container's stdio, now if it runs,
    /// or once its next start has made the shim.
    pub fn attach(&self, reference: &str, opts: AttachOptions) -> Result<AttachStream> {
        self.inner.attach(reference, opts)
    }

    pub fn resize(&self, reference: &str, rows: u16, cols: u16) -> Result<()> {
        self.inner.resize(reference, rows, cols)
    }

    /// `POST /containers/{id}/exec`: the new exec's ID.
    pub fn exec_create(&self, reference: &str, body: ExecConfig) -> Result<String> {
        self.inner.exec_create(reference, body)
    }

    /// `POST /exec/{id}/start`: Err refuses it (no stream follows); Ok(Err) is a start that
    /// failed, exit code 126 (dockerd writes that message into the stream).
    pub fn exec_start(&self, id: &str, detach: bool) -> Result<Result<ExecStream>> {
        self.inner.exec_start(id, detach)
    }

    /// To call once an exec's stream has ended, before the client is told: records its exit.
    pub fn exec_stream_ended(&self, id: &str) {
        self.inner.exec_stream_ended(id)
    }

    pub fn exec_resize(&self, id: &str, rows: u16, cols: u16) -> Result<()> {
        self.inner.exec_resize(id, rows, cols)
    }

    /// `GET /exec/{id}/json`.
    pub fn exec_inspect(&self, id: &str) -> Result<serde_json::Value> {
        self.inner.exec_inspect(id)
    }

    /// The json-file log of a container, and whether it has a terminal.
    pub fn log_path(&self, reference: &str) -> Result<(String, PathBuf, bool)> {
        let record = self.get(reference)?;
        if record.body.host_config.log_config.r#type == "none" {
            return Err(Error::invalid(
                "configured logging driver does not support reading",
            ));
        }
        let paths = self.inner.paths(&record.id);
        Ok((record.id, paths.log, record.body.config.tty))
    }

    /// `HEAD /containers/{id}/archive?path=`.
    pub fn stat_path(&self, reference: &str, path: &str) -> Result<PathStat> {
        self.inner.stat_path(reference, path)
    }

    /// `GET /containers/{id}/archive?path=`: `ready` gets the stat once the path is found
    /// (an error before that is the request's answer), then the tar goes to `out`.
    pub fn archive_path(
        &self,
        reference: &str,
        path: &str,
        ready: &mut dyn FnMut(&PathStat),
        out: &mut dyn std::io::Write,
    ) -> Result<()> {
        self.inner.archive_path(reference, path, ready, out)
    }

    /// `PUT /containers/{id}/archive?path=`.
    pub fn extract_to_dir(
        &self,
        reference: &str,
        path: &str,
        copy_uid_gid: bool,
        no_overwrite_dir_non_dir: bool,
        content: &mut dyn std::io::Read,
    ) -> Result<()> {
        self.inner.extract_to_dir(
            reference,
            path,
            copy_uid_gid,
            no_overwrite_dir_non_dir,
            content,
        )
    }

    /// `GET /containers/{id}/export`: `ready` is called before the tar goes to `out`.
    pub fn export(
        &self,
        reference: &str,
        ready: &mut dyn FnMut(),
        out: &mut dyn std::io::Write,
    ) -> Result<()> {
        self.inner.export(reference, ready, out)
    }

    /// `GET /containers/{id}/changes`.
    pub fn changes(&self, reference: &str) -> Result<Vec<Change>> {
        self.inner.changes(reference)
    }

    /// `POST /commit`: the new image's ID.
    pub fn commit(&self, reference: &str, options: &CommitOptions) -> Result<String> {
        self.inner.commit(reference, options)
    }

    /// True while the container may still produce output.
    pub fn is_running(&self, id: &str) -> bool {
        let slot = lock(&self.inner.slots).get(id).cloned();
        slot.is_some_and(|s| s.wait.borrow().running)
    }
}
