//! exec: more processes in a running container (`docker exec`), run by the container's shim
//! (docs/shim.md "Exec"). As with dockerd, execs live in memory only: a restarted berthd
//! forgets them (their processes run on under the shim, which keeps their exits for a while).
//!
//! An exec is created (its environment, user and working dir fixed from the container's
//! config), started once (its process JSON built from the container's config.json and handed
//! to the shim, which runs it and streams it), resized, inspected, and its exit learned from
//! the shim when its stream ends, when it is inspected, or when its container stops.

mod process;

use super::options::ExecConfig;
use super::record::{ContainerRecord, State};
use super::{Inner, attach, lock, shim, spec};
use crate::error::{Error, ErrorKind, Result};
use berth_shim_protocol::{self as proto, Request, Response};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long an ended exec stays inspectable (dockerd's exec GC runs every 5 minutes).
const KEEP_ENDED: Duration = Duration::from_secs(5 * 60);
/// dockerd's exit code for an exec that could not be started.
const START_FAILED: i32 = 126;

/// What `start` hands the API for an attached exec.
pub struct ExecStream {
    pub tty: bool,
    /// Stdin is attached: the client's input goes to the process.
    pub stdin: bool,
    /// The keys that end the session without ending the process (with a terminal only).
    pub detach_keys: Vec<u8>,
    /// The shim's stream of the exec; None when no stream was asked for.
    pub conn: Option<UnixStream>,
}

/// The exec registry: every exec by ID.
#[derive(Default)]
pub(crate) struct Execs {
    by_id: Mutex<HashMap<String, Arc<Entry>>>,
}

/// One exec as created: fixed from then on.
struct Entry {
    id: String,
    container_id: String,
    entrypoint: String,
    args: Vec<String>,
    /// The exec's `-u`, else the container's user ("" for the config's own).
    user: String,
    privileged: bool,
    tty: bool,
    console_size: Option<(u16, u16)>,
    open_stdin: bool,
    open_stdout: bool,
    open_stderr: bool,
    detach_keys: Vec<u8>,
    env: Vec<String>,
    working_dir: String,
    run: Mutex<Run>,
}

#[derive(Default)]
struct Run {
    phase: Phase,
    pid: i32,
    exit_code: Option<i32>,
    ended_at: Option<Instant>,
    /// A resize that came before the start.
    pending_size: Option<(u16, u16)>,
}

#[derive(Default, Clone, Copy, PartialEq, Eq)]
enum Phase {
    #[default]
    Created,
    Running,
    Ended,
}

impl Run {
    fn end(&mut self, exit_code: Option<i32>) {
        self.phase = Phase::Ended;
        self.exit_code = exit_code;
        self.ended_at = Some(Instant::now());
    }
}

fn no_such_exec(id: &str) -> Error {
    Error::not_found(format!("No such exec instance: {id}"))
}

/// dockerd's refusals for a container that cannot take an exec; `name` as the client gave it.
fn check_runnable(record: &ContainerRecord, name: &str) -> Result<()> {
    match record.state {
        State::Running | State::Starting => Ok(()),
        State::Paused => Err(Error::conflict(format!(
            "Container {name} is paused, unpause the container before exec"
        ))),
        _ => Err(Error::conflict(format!(
            "Container {} is not running",
            record.id
        ))),
    }
}

impl Execs {
    fn get(&self, id: &str) -> Result<Arc<Entry>> {
        lock(&self.by_id)
            .get(id)
            .cloned()
            .ok_or_else(|| no_such_exec(id))
    }

    fn of_container(&self, container_id: &str) -> Vec<Arc<Entry>> {
        let mut list: Vec<Arc<Entry>> = lock(&self.by_id)
            .values()
            .filter(|e| e.container_id == container_id)
            .cloned()
            .collect();
        list.sort_by(|a, b| a.id.cmp(&b.id));
        list
    }

    fn remove(&self, id: &str) {
        lock(&self.by_id).remove(id);
    }

    /// Forgets the execs that ended long enough ago.
    fn sweep(&self) {
        let now = Instant::now();
        lock(&self.by_id).retain(|_, e| {
            let run = lock(&e.run);
            run.ended_at
                .is_none_or(|at| now.duration_since(at) <= KEEP_ENDED)
        });
    }
}

impl Inner {
    /// `POST /containers/{id}/exec`: the new exec's ID.
    pub(crate) fn exec_create(&self, reference: &str, body: ExecConfig) -> Result<String> {
        let Some((entrypoint, args)) = body.cmd.split_first() else {
            return Err(Error::invalid("No exec command specified"));
        };
        let container_id = self.lookup(reference)?;
        let record = self.load(&container_id)?;
        check_runnable(&record, reference)?;
        let detach_keys = match body.detach_keys.as_str() {
            "" => Vec::new(),
            text => attach::parse_detach_keys(text)
                .ok_or_else(|| Error::invalid(format!("Invalid escape keys ({text}) provided")))?,
        };
        let env = self.exec_env(&record, body.tty, &body.env)?;
        let pick =
            |own: &str, container: &str| if own.is_empty() { container } else { own }.to_string();
        let console_size = match body.console_size[..] {
            [rows, cols] if rows > 0 && cols > 0 => Some((rows, cols)),
            _ => None,
        };
        let entry = Entry {
            id: crate::random_hex(64),
            container_id,
            entrypoint: entrypoint.clone(),
            args: args.to_vec(),
            user: pick(&body.user, &record.config.user),
            privileged: body.privileged,
            tty: body.tty,
            console_size,
            open_stdin: body.attach_stdin,
            open_stdout: body.attach_stdout,
            open_stderr: body.attach_stderr,
            detach_keys,
            env,
            working_dir: pick(&body.working_dir, &record.config.working_dir),
            run: Mutex::new(Run::default()),
        };
        let id = entry.id.clone();
        self.execs.sweep();
        lock(&self.execs.by_id).insert(id.clone(), Arc::new(entry));
        Ok(id)
    }

    /// The exec's environment: the container's, as dockerd derives it for the exec's terminal
    /// setting, under the exec's `-e`.
    fn exec_env(&self, record: &ContainerRecord, tty: bool, env: &[String]) -> Result<Vec<String>> {
        let image = self.image_of(record)?;
        let paths = self.paths(&record.id);
        let mut config = record.body.config.clone();
        config.tty = tty;
        let input = spec::SpecInput {
            id: &record.id,
            image: &image,
            config: &config,
            host_config: &record.body.host_config,
            rootfs: &paths.rootfs,
            container_dir: &paths.container_dir,
            init_binary: self.config.init_binary.as_deref(),
            // The environment does not depend on them.
            mounts: &[],
        };
        Ok(spec::exec_environment(&input, env))
    }

    /// `POST /exec/{id}/start`. The outer error refuses the start (dockerd answers it before
    /// any stream); the inner one is a start that failed (exit code 126, as dockerd records).
    pub(crate) fn exec_start(
        &self,
        id: &str,
        detach: bool,
    ) -> Result<std::result::Result<ExecStream, Error>> {
        let entry = self.execs.get(id)?;
        let mut run = lock(&entry.run);
        match run.phase {
            Phase::Created => {}
            Phase::Running => {
                return Err(Error::conflict(format!(
                    "Error: Exec command {id} is already running"
                )));
            }
            Phase::Ended => {
                return Err(Error::conflict(format!(
                    "Error: Exec command {id} has already run"
                )));
            }
        }
        let record = self
            .load(&entry.container_id)
            .map_err(|_| no_such_exec(id))?;
        check_runnable(&record, &record.id)?;
        match self.run_in_shim(&entry, &record, detach) {
            Ok((pid, conn)) => {
                run.phase = Phase::Running;
                run.pid = pid;
                if let Some((rows, cols)) = run.pending_size.take() {
                    let _ = self.resize_in_shim(&entry, rows, cols);
                }
                Ok(Ok(ExecStream {
                    tty: entry.tty,
                    stdin: entry.open_stdin,
                    detach_keys: self.session_keys(&entry),
                    conn,
                }))
            }
            Err(e) => {
                run.end(Some(START_FAILED));
                Ok(Err(e))
            }
        }
    }

    /// Docker reads the detach keys only from a terminal's input.
    fn session_keys(&self, entry: &Entry) -> Vec<u8> {
        match (entry.tty, entry.detach_keys.is_empty()) {
            (false, _) => Vec::new(),
            (true, false) => entry.detach_keys.clone(),
            (true, true) => {
                attach::parse_detach_keys(attach::DEFAULT_DETACH_KEYS).unwrap_or_default()
            }
        }
    }

    /// Writes the exec's process JSON and has the shim run it: its pid, and the stream's
    /// connection if one was asked for.
    fn run_in_shim(
        &self,
        entry: &Entry,
        record: &ContainerRecord,
        detach: bool,
    ) -> Result<(i32, Option<UnixStream>)> {
        let paths = self.paths(&record.id);
        let process = process::build(entry, record, &paths)?;
        let file = paths.state_dir.join(format!("exec-{}.json", entry.id));
        let bytes = serde_json::to_vec(&process)
            .map_err(|e| Error::context(format!("encode the process of exec {}", entry.id), e))?;
        std::fs::write(&file, bytes)
            .map_err(|e| Error::context(format!("write {}", file.display()), e))?;
        let streams = !detach && (entry.open_stdin || entry.open_stdout || entry.open_stderr);
        let request = Request::Exec {
            exec_id: entry.id.clone(),
            process: file.display().to_string(),
            tty: entry.tty,
            stdin: streams && entry.open_stdin,
            stdout: streams && entry.open_stdout,
            stderr: streams && entry.open_stderr,
        };
        let answer = shim::connect(&paths.state_dir)
            .map_err(|e| Error::context("connect to the container's shim", e))
            .and_then(|mut conn| {
                conn.set_read_timeout(Some(shim::REQUEST_TIMEOUT))
                    .map_err(|e| Error::context("the container's shim", e))?;
                let answer = shim::exchange(&mut conn, &request)
                    .map_err(|e| Error::context("exec through the container's shim", e))?;
                Ok((conn, answer))
            });
        let _ = std::fs::remove_file(&file);
        let (conn, answer) = answer?;
        match answer {
            Response::ExecStarted { pid } => {
                if streams {
                    conn.set_read_timeout(None)
                        .map_err(|e| Error::context("the exec's stream", e))?;
                }
                Ok((pid, streams.then_some(conn)))
            }
            Response::Error { message, .. } => {
                let message = format!("OCI runtime exec failed: {message}: unknown");
                let kind = match super::lifecycle::start_failure_code(&message) {
                    126 | 127 => ErrorKind::InvalidArgument,
                    _ => ErrorKind::Internal,
                };
                Err(Error::new(kind, message))
            }
            other => Err(Error::internal(format!(
                "unexpected answer to exec: {other:?}"
            ))),
        }
    }

    fn resize_in_shim(&self, entry: &Entry, rows: u16, cols: u16) -> Result<()> {
        let paths = self.paths(&entry.container_id);
        let request = Request::Resize {
            rows,
            cols,
            exec_id: Some(entry.id.clone()),
        };
        shim::request(&paths.state_dir, &entry.container_id, &request).map(drop)
    }

    /// `POST /exec/{id}/resize`: before the start it is kept for the start.
    pub(crate) fn exec_resize(&self, id: &str, rows: u16, cols: u16) -> Result<()> {
        let entry = self.execs.get(id)?;
        let record = self
            .load(&entry.container_id)
            .map_err(|_| no_such_exec(id))?;
        check_runnable(&record, &record.id)?;
        let mut run = lock(&entry.run);
        match run.phase {
            Phase::Created => {
                run.pending_size = Some((rows, cols));
                Ok(())
            }
            Phase::Running if entry.tty => self.resize_in_shim(&entry, rows, cols),
            _ => Ok(()),
        }
    }

    /// Asks the shim whether a running exec has ended, and records its exit if so. False when
    /// the shim could not tell (it is gone, or forgot the exec).
    fn refresh(&self, entry: &Entry, run: &mut Run) -> bool {
        if run.phase != Phase::Running {
            return true;
        }
        let paths = self.paths(&entry.container_id);
        let request = Request::ExecState {
            exec_id: entry.id.clone(),
        };
        match shim::request(&paths.state_dir, &entry.container_id, &request) {
            Ok(Response::ExecState(proto::ExecState {
                running: false,
                exit,
                ..
            })) => {
                run.end(exit.map(|e| e.exit_code));
                true
            }
            Ok(Response::ExecState(_)) => true,
            _ => false,
        }
    }

    /// The stream of an exec ended: record its exit before the client hears of the end (the
    /// docker CLI inspects the exec right after, for its exit code).
    pub(crate) fn exec_stream_ended(&self, id: &str) {
        if let Ok(entry) = self.execs.get(id) {
            let mut run = lock(&entry.run);
            self.refresh(&entry, &mut run);
        }
    }

    /// `GET /exec/{id}/json`.
    pub(crate) fn exec_inspect(&self, id: &str) -> Result<Value> {
        let entry = self.execs.get(id)?;
        let mut run = lock(&entry.run);
        self.refresh(&entry, &mut run);
        let mut process_config = json!({
            "tty": entry.tty,
            "entrypoint": entry.entrypoint,
            "arguments": entry.args,
            "privileged": entry.privileged,
        });
        if !entry.user.is_empty() {
            process_config["user"] = json!(entry.user);
        }
        Ok(json!({
            "ID": entry.id,
            "Running": run.phase == Phase::Running,
            "ExitCode": run.exit_code,
            "ProcessConfig": process_config,
            "OpenStdin": entry.open_stdin,
            "OpenStderr": entry.open_stderr,
            "OpenStdout": entry.open_stdout,
            "CanRemove": false,
            "ContainerID": entry.container_id,
            "DetachKeys": base64_of(&entry.detach_keys),
            "Pid": run.pid,
        }))
    }

    /// A container's `ExecIDs`: its execs not yet ended (null when there are none, as dockerd).
    pub(crate) fn exec_ids(&self, container_id: &str) -> Value {
        let ids: Vec<String> = self
            .execs
            .of_container(container_id)
            .into_iter()
            .filter(|entry| {
                let mut run = lock(&entry.run);
                self.refresh(entry, &mut run);
                run.phase != Phase::Ended
            })
            .map(|entry| entry.id.clone())
            .collect();
        if ids.is_empty() {
            Value::Null
        } else {
            json!(ids)
        }
    }

    /// The container has exited and its shim is about to be deleted: the exits its execs had
    /// are recorded; execs never started or whose end is unknown go, as with dockerd.
    pub(crate) fn execs_container_ended(&self, container_id: &str) {
        for entry in self.execs.of_container(container_id) {
            let mut run = lock(&entry.run);
            let known = self.refresh(&entry, &mut run) && run.phase == Phase::Ended;
            drop(run);
            if !known {
                self.execs.remove(&entry.id);
            }
        }
    }

    /// The container is removed: its execs with it.
    pub(crate) fn execs_container_removed(&self, container_id: &str) {
        for entry in self.execs.of_container(container_id) {
            self.execs.remove(&entry.id);
        }
    }
}

/// What dockerd writes into an exec's stream when its start failed: the message and `\r\n`,
/// in a stdout frame without a terminal.
pub fn start_failure_bytes(error: &Error, tty: bool) -> Vec<u8> {
    let text = format!("{}\r\n", error.message);
    if tty {
        return text.into_bytes();
    }
    let mut out = proto::frame_header(proto::STREAM_STDOUT, text.len()).to_vec();
    out.extend_from_slice(text.as_bytes());
    out
}

/// Standard base64, as Go encodes a `[]byte` in JSON.
fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
