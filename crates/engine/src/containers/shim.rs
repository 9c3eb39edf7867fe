//! Talking to berth-shim: spawning one (docs/shim.md "Command line"), its control socket, and
//! `berth-shim cleanup` for a shim that died.

use crate::error::{Error, Result};
use berth_shim_protocol::{self as proto, Exit, Request, Response, SpawnReport};
use std::io::{BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// How berthd executes the shim: through a read-only clone of its directory's mount where the
/// kernel allows one (the shim then runs at once instead of re-executing itself from a protected
/// copy, a millisecond per container start), by its path otherwise.
pub(crate) struct Launcher {
    program: PathBuf,
    _clone: Option<std::os::fd::OwnedFd>,
}

impl Launcher {
    pub(crate) fn new(binary: &Path) -> Launcher {
        use std::os::fd::AsRawFd;
        let cloned = match (binary.parent(), binary.file_name()) {
            (Some(dir), Some(name)) => {
                berth_runtime_core::protected_exe::read_only_clone_of(dir, name)
                    .map_err(|e| tracing::debug!("read-only clone of {}: {e}", binary.display()))
                    .ok()
            }
            _ => None,
        };
        match cloned {
            Some(fd) => Launcher {
                // The child resolves this path during execve, while it still has the descriptor.
                program: PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd())),
                _clone: Some(fd),
            },
            None => Launcher {
                program: binary.to_owned(),
                _clone: None,
            },
        }
    }

    pub(crate) fn program(&self) -> &Path {
        &self.program
    }
}

/// How long an ordinary request may take (the shim runs the runtime in helpers; a kill or
/// start of a runc container takes milliseconds, a slow disk a few seconds).
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

pub struct SpawnOptions<'a> {
    pub id: &'a str,
    pub bundle: &'a Path,
    pub state_dir: &'a Path,
    pub runtime_root: &'a Path,
    /// A runc-compatible binary, or None for the library inside the shim.
    pub runtime: Option<&'a Path>,
    pub stdin: bool,
    pub tty: bool,
    pub log_path: Option<&'a Path>,
}

#[derive(Debug)]
pub struct Spawned {
    pub shim_pid: i32,
    pub init_pid: i32,
}

/// Why a spawn failed: the runtime's own words for `create`, ours otherwise.
#[derive(Debug)]
pub struct SpawnFailure {
    pub create_stage: bool,
    pub message: String,
}

/// A shim started whose spawn report has not been read: the container is being created
/// meanwhile (which takes milliseconds: namespaces, mounts, a cgroup migration).
pub struct Spawning {
    child: std::process::Child,
    id: String,
}

fn setup_failure(message: String) -> SpawnFailure {
    SpawnFailure {
        create_stage: false,
        message,
    }
}

/// Starts the shim; [`Spawning::report`] waits until the container is created or failed.
pub fn spawn(shim_binary: &Path, opts: &SpawnOptions<'_>) -> Result<Spawning, SpawnFailure> {
    let mut cmd = Command::new(shim_binary);
    cmd.arg("--id")
        .arg(opts.id)
        .arg("--bundle")
        .arg(opts.bundle)
        .arg("--state-dir")
        .arg(opts.state_dir)
        .arg("--runtime-root")
        .arg(opts.runtime_root);
    if let Some(runtime) = opts.runtime {
        cmd.arg("--runtime").arg(runtime);
    }
    if opts.stdin {
        cmd.arg("-i");
    }
    if opts.tty {
        cmd.arg("-t");
    }
    match opts.log_path {
        Some(path) => cmd
            .arg("--log-driver")
            .arg("json-file")
            .arg("--log-path")
            .arg(path),
        None => cmd.arg("--log-driver").arg("none"),
    };
    cmd.arg("--shim-log").arg(opts.state_dir.join("shim.log"));
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let child = cmd
        .spawn()
        .map_err(|e| setup_failure(format!("start the shim {}: {e}", shim_binary.display())))?;
    Ok(Spawning {
        child,
        id: opts.id.to_owned(),
    })
}

impl Spawning {
    pub fn report(mut self) -> Result<Spawned, SpawnFailure> {
        let report = match self.child.stdout.take() {
            Some(out) => proto::read_message::<SpawnReport>(&mut BufReader::new(out)),
            None => Ok(None),
        };
        // The process we started exits as soon as it has forked the shim.
        let status = self.child.wait();
        match report {
            Ok(Some(SpawnReport::Created { shim_pid, init_pid })) => {
                Ok(Spawned { shim_pid, init_pid })
            }
            Ok(Some(SpawnReport::Failed { stage, message })) => Err(SpawnFailure {
                create_stage: stage == proto::FailedStage::Create,
                message,
            }),
            Ok(None) => Err(setup_failure(format!(
                "the shim for {} exited ({}) without a report",
                self.id,
                status
                    .map(|s| s.to_string())
                    .unwrap_or_else(|e| e.to_string())
            ))),
            Err(e) => Err(setup_failure(format!(
                "read the shim's report for {}: {e}",
                self.id
            ))),
        }
    }
}

pub fn socket_path(state_dir: &Path) -> PathBuf {
    state_dir.join(proto::CONTROL_SOCKET)
}

pub fn connect(state_dir: &Path) -> std::io::Result<UnixStream> {
    UnixStream::connect(socket_path(state_dir))
}

/// Sends one request on a fresh connection and returns the answer; a shim error becomes
/// an engine error with the shim's text.
pub fn request(state_dir: &Path, id: &str, req: &Request) -> Result<Response> {
    send(state_dir, id, req)?.answer()
}

/// A request sent whose answer has not been read yet: other work can go on while the shim works.
pub struct Sent {
    conn: UnixStream,
    what: String,
}

/// Sends one request on a fresh connection; [`Sent::answer`] reads the answer.
pub fn send(state_dir: &Path, id: &str, req: &Request) -> Result<Sent> {
    let what = format!("shim of container {id}");
    let mut conn =
        connect(state_dir).map_err(|e| Error::context(format!("connect to the {what}"), e))?;
    conn.set_read_timeout(Some(REQUEST_TIMEOUT))
        .and_then(|()| conn.set_write_timeout(Some(REQUEST_TIMEOUT)))
        .and_then(|()| proto::write_message(&mut conn, req))
        .and_then(|()| conn.flush())
        .map_err(|e| Error::context(&what, e))?;
    Ok(Sent { conn, what })
}

impl Sent {
    pub fn answer(self) -> Result<Response> {
        let answer = read_answer(&self.conn).map_err(|e| Error::context(&self.what, e))?;
        match answer {
            Response::Error { kind, message } => Err(match kind {
                proto::ErrorKind::WrongState => Error::conflict(message),
                proto::ErrorKind::NotSupported | proto::ErrorKind::BadRequest => {
                    Error::invalid(message)
                }
                proto::ErrorKind::Failed => Error::internal(message),
                proto::ErrorKind::NotFound => Error::not_found(message),
            }),
            other => Ok(other),
        }
    }
}

/// Sends a request and reads its answer, and not a byte more: after `attached` or
/// `exec_started` the connection carries a stream whose first bytes may already be queued.
pub fn exchange(conn: &mut UnixStream, req: &Request) -> std::io::Result<Response> {
    proto::write_message(conn, req)?;
    conn.flush()?;
    read_answer(conn)
}

/// One answer, without reading past it (see [`exchange`]).
fn read_answer(conn: &UnixStream) -> std::io::Result<Response> {
    let line = read_line(conn)?;
    serde_json::from_slice(&line).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("bad shim message: {e}"),
        )
    })
}

/// One answer line: peeks for its end, then reads exactly up to it.
fn read_line(mut conn: &UnixStream) -> std::io::Result<Vec<u8>> {
    let mut line = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        let (seen, _) = rustix::net::recv(conn, &mut buf, rustix::net::RecvFlags::PEEK)?;
        if seen == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the shim closed the connection",
            ));
        }
        let end = buf[..seen].iter().position(|b| *b == b'\n');
        let take = end.map_or(seen, |i| i + 1);
        let start = line.len();
        line.resize(start + take, 0);
        conn.read_exact(&mut line[start..])?;
        if end.is_some() {
            return Ok(line);
        }
        if line.len() > proto::MAX_LINE {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "the shim's answer is longer than a line may be",
            ));
        }
    }
}

/// Sends `wait` and blocks until the exit, or until `timeout`: Ok(None) on timeout.
pub fn wait_exit(state_dir: &Path, timeout: Option<Duration>) -> std::io::Result<Option<Exit>> {
    let mut conn = connect(state_dir)?;
    // A zero timeout (`stop -t 0`) means "do not wait", which a socket cannot be told.
    conn.set_read_timeout(timeout.map(|t| t.max(Duration::from_millis(1))))?;
    match exchange(&mut conn, &Request::Wait) {
        Ok(Response::Exited(exit)) => Ok(Some(exit)),
        Ok(other) => Err(std::io::Error::other(format!(
            "unexpected answer to wait: {other:?}"
        ))),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// The exit the shim recorded, if it wrote one.
pub fn read_exit_file(state_dir: &Path) -> Option<Exit> {
    let bytes = std::fs::read(state_dir.join(proto::EXIT_FILE)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// `berth-shim cleanup`: kills what is left of a container whose shim died and records its
/// end; returns the exit it recorded.
pub fn cleanup(shim_binary: &Path, state_dir: &Path) -> Result<Exit> {
    let out = Command::new(shim_binary)
        .arg("cleanup")
        .arg("--state-dir")
        .arg(state_dir)
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| Error::context(format!("run {} cleanup", shim_binary.display()), e))?;
    if !out.status.success() {
        if let Some(exit) = read_exit_file(state_dir) {
            return Ok(exit);
        }
        return Err(Error::internal(format!(
            "berth-shim cleanup --state-dir {}: {}",
            state_dir.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    serde_json::from_slice::<Exit>(out.stdout.trim_ascii())
        .ok()
        .or_else(|| read_exit_file(state_dir))
        .ok_or_else(|| {
            Error::internal(format!(
                "berth-shim cleanup --state-dir {} recorded no exit",
                state_dir.display()
            ))
        })
}
