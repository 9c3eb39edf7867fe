//! The interface between berthd and one `berth-shim`: the spawn report on the inherited sync fd,
//! the control socket's requests and answers, the attach stream's framing and the files the shim
//! keeps in its state directory. docs/shim.md describes the same contract in prose.
//!
//! Every message is one line of compact JSON ended by `\n` (serde_json never writes a raw newline
//! inside a value), at most [`MAX_LINE`] bytes.

use serde::{Deserialize, Serialize};
use std::io::{self, BufRead, Read, Write};

/// The control socket, in the shim's state directory.
pub const CONTROL_SOCKET: &str = "control.sock";
/// The container's exit, written atomically once it exited and its output is drained.
pub const EXIT_FILE: &str = "exit.json";
/// The shim's own record ([`ShimRecord`]), present while the shim may be alive.
pub const SHIM_FILE: &str = "shim.json";
/// Longest request or answer line, newline included.
pub const MAX_LINE: usize = 64 * 1024;

/// Stream numbers of the attach framing (Docker's stdcopy header).
pub const STREAM_STDOUT: u8 = 1;
pub const STREAM_STDERR: u8 = 2;

/// What the shim writes on the sync fd once: the container exists (waiting for `start`), or why not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SpawnReport {
    Created { shim_pid: i32, init_pid: i32 },
    Failed { stage: FailedStage, message: String },
}

/// Where a spawn failed: `usage` (command line), `setup` (the shim's own files, sockets, fork),
/// `create` (the runtime refused or the init failed: the message is the runtime's text).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailedStage {
    Usage,
    Setup,
    Create,
}

/// A request on the control socket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// Let the created container's init exec its process.
    Start,
    /// Signal the init, or with `all` every process of the container.
    Kill {
        signal: i32,
        #[serde(default)]
        all: bool,
    },
    /// Set the terminal's size: the container's (a `-t` container only), or an exec's.
    Resize {
        rows: u16,
        cols: u16,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exec_id: Option<String>,
    },
    /// Close the container's stdin (a `-i` container): it reads end of file.
    CloseStdin,
    State,
    /// Answered once the container has exited and its output is drained.
    Wait,
    /// After the exit: remove the runtime state and the cgroup; the shim then exits.
    Delete,
    /// Turn this connection into a stream of the container's live output (and input).
    Attach {
        #[serde(default)]
        stdin: bool,
        #[serde(default)]
        stdout: bool,
        #[serde(default)]
        stderr: bool,
        /// When this client half-closes its side, close the container's stdin (Docker's StdinOnce).
        #[serde(default)]
        close_stdin_on_eof: bool,
    },
    /// Run another process in the running container, as the runtime's `exec` does. Answered
    /// `exec_started` once it runs; with any of `stdin`, `stdout`, `stderr` the connection then
    /// carries its stream (as after `attach`), until it has exited and its output is drained.
    Exec {
        /// berthd's name for it: unique among the shim's execs.
        exec_id: String,
        /// Absolute path of the OCI `process` JSON to run (the client writes and removes it).
        process: String,
        /// `process.terminal`: the shim receives the pty master.
        #[serde(default)]
        tty: bool,
        #[serde(default)]
        stdin: bool,
        #[serde(default)]
        stdout: bool,
        #[serde(default)]
        stderr: bool,
    },
    /// Whether an exec still runs, or how it ended. An exit is answered once: the shim then
    /// forgets the exec.
    ExecState {
        exec_id: String,
    },
}

/// An answer on the control socket; `Error` may answer any request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Response {
    Ok,
    State(State),
    Exited(Exit),
    /// The connection carries the attach stream from the next byte on.
    Attached {
        tty: bool,
    },
    /// The exec's process runs (host pid); with a stream asked for, it follows from the next byte.
    ExecStarted {
        pid: i32,
    },
    ExecState(ExecState),
    Error {
        kind: ErrorKind,
        message: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Not a request: bad JSON, unknown op, out-of-range field, over-long line.
    BadRequest,
    /// The container is not in a state that allows it (e.g. start twice, delete before exit).
    WrongState,
    /// Not available for this container (resize without a terminal, close-stdin without -i).
    NotSupported,
    /// The operation ran and failed; the message is the runtime's text.
    Failed,
    /// No such exec (never started here, or its exit was already answered).
    NotFound,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Created,
    Running,
    Stopped,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub id: String,
    pub status: Status,
    pub shim_pid: i32,
    pub init_pid: i32,
    /// Host pids of the container's processes (empty once stopped).
    pub pids: Vec<i32>,
    pub tty: bool,
    pub stdin_open: bool,
    /// RFC 3339 UTC times.
    pub created_at: String,
    pub started_at: Option<String>,
    pub exit: Option<Exit>,
}

/// The container's end, as `wait` answers it and exit.json records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exit {
    /// The shell convention: the exit status, or 128+N for a death by signal N.
    pub exit_code: i32,
    /// The signal that killed the init, if one did.
    pub signal: Option<i32>,
    pub started_at: Option<String>,
    pub finished_at: String,
    /// True when `berth-shim cleanup` wrote it: the shim had died and the container was killed;
    /// the real status was not observed.
    #[serde(default)]
    pub shim_lost: bool,
}

/// An exec's state: `running` until it has exited and its output is drained; then `exit`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecState {
    pub exec_id: String,
    pub pid: i32,
    pub running: bool,
    pub exit: Option<Exit>,
}

/// `shim.json`: who the shim is and how to reach the container without it (`berth-shim cleanup`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShimRecord {
    pub id: String,
    pub shim_pid: i32,
    /// Start time of the shim (clock ticks since boot, /proc/PID/stat field 22): tells it from a reused pid.
    pub shim_start_time: u64,
    pub init_pid: i32,
    pub bundle: String,
    pub runtime_root: String,
    /// A runc-compatible binary, or None for the runtime library inside the shim.
    pub runtime: Option<String>,
    pub runtime_args: Vec<String>,
    pub tty: bool,
    pub stdin: bool,
    pub log_path: Option<String>,
    pub created_at: String,
}

/// Writes one message line.
pub fn write_message<T: Serialize>(out: &mut impl Write, message: &T) -> io::Result<()> {
    let mut line = serde_json::to_vec(message).map_err(io::Error::other)?;
    line.push(b'\n');
    out.write_all(&line)
}

/// Reads one message line; `Ok(None)` at end of stream.
pub fn read_message<T: for<'de> Deserialize<'de>>(
    input: &mut impl BufRead,
) -> io::Result<Option<T>> {
    let mut line = Vec::new();
    let n = Read::take(&mut *input, MAX_LINE as u64).read_until(b'\n', &mut line)?;
    if n == 0 {
        return Ok(None);
    }
    serde_json::from_slice(&line)
        .map(Some)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("bad shim message: {e}")))
}

/// The 8-byte header that precedes each attach chunk of a container without a terminal:
/// stream, three zero bytes, payload length as big-endian u32 (Docker's stdcopy format).
pub fn frame_header(stream: u8, len: usize) -> [u8; 8] {
    let n = (len as u32).to_be_bytes();
    [stream, 0, 0, 0, n[0], n[1], n[2], n[3]]
}

/// Splits one framed chunk off the front of `buf`: (stream, payload, bytes used), or None until complete.
pub fn parse_frame(buf: &[u8]) -> Option<(u8, &[u8], usize)> {
    let header = buf.get(..8)?;
    let len = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
    let payload = buf.get(8..8 + len)?;
    Some((header[0], payload, 8 + len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_shapes() {
        let r: Request = serde_json::from_str(r#"{"op":"kill","signal":15}"#).unwrap();
        assert_eq!(
            r,
            Request::Kill {
                signal: 15,
                all: false
            }
        );
        assert!(serde_json::from_str::<Request>(r#"{"op":"explode"}"#).is_err());
        let text = serde_json::to_string(&Response::Attached { tty: true }).unwrap();
        assert_eq!(text, r#"{"type":"attached","tty":true}"#);
        let r: Request = serde_json::from_str(r#"{"op":"resize","rows":2,"cols":3}"#).unwrap();
        assert_eq!(
            r,
            Request::Resize {
                rows: 2,
                cols: 3,
                exec_id: None
            }
        );
        let r: Request = serde_json::from_str(
            r#"{"op":"exec","exec_id":"e1","process":"/p.json","stdout":true}"#,
        )
        .unwrap();
        assert!(matches!(
            r,
            Request::Exec {
                stdout: true,
                stdin: false,
                tty: false,
                ..
            }
        ));
    }

    #[test]
    fn frames_round_trip() {
        let mut buf = frame_header(STREAM_STDERR, 3).to_vec();
        buf.extend_from_slice(b"abc");
        assert_eq!(parse_frame(&buf), Some((STREAM_STDERR, &b"abc"[..], 11)));
        assert_eq!(parse_frame(&buf[..10]), None);
    }
}
