//! Attach: a connection to the shim that carries the container's stdio (docs/shim.md
//! "Attach stream"). `docker run` attaches before `start`, so an attach to a container that is
//! not running waits for its next start, which connects it before the container runs.

use super::record::State;
use super::{Inner, Paths, Slot, lock, shim};
use crate::error::{Error, Result};
use berth_shim_protocol::{Request, Response};
use std::os::unix::net::UnixStream;
use tokio::sync::oneshot;

/// What ends an attach session (or an exec's with a terminal) when typed, unless the client
/// names other keys.
pub const DEFAULT_DETACH_KEYS: &str = "ctrl-p,ctrl-q";

/// Docker's detach-key syntax: comma-separated `ctrl-X` or single characters; None if invalid.
pub fn parse_detach_keys(text: &str) -> Option<Vec<u8>> {
    text.split(',')
        .map(|key| {
            let lower = key.to_ascii_lowercase();
            match lower.strip_prefix("ctrl-").map(str::as_bytes) {
                Some([c @ b'a'..=b'z']) => Some(c - b'a' + 1),
                Some([b'@']) => Some(0),
                Some([b'[']) => Some(27),
                Some([b'\\']) => Some(28),
                Some([b']']) => Some(29),
                Some([b'^']) => Some(30),
                Some([b'_']) => Some(31),
                Some(_) => None,
                None if key.len() == 1 => Some(key.as_bytes()[0]),
                None => None,
            }
        })
        .collect()
}

#[derive(Debug, Clone, Copy, Default)]
pub struct AttachOptions {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
}

/// The shim connection, once the shim exists. Without a terminal the shim already frames the
/// output with Docker's 8-byte headers, so it can be copied to the client as is.
pub struct AttachStream {
    pub tty: bool,
    /// The container was created with `StdinOnce`: a client's end of input closes its stdin.
    pub stdin_once: bool,
    pub stdin_open: bool,
    pub conn: oneshot::Receiver<UnixStream>,
}

pub(crate) struct Pending {
    opts: AttachOptions,
    stdin_once: bool,
    tx: oneshot::Sender<UnixStream>,
}

fn open_attach(paths: &Paths, opts: AttachOptions, stdin_once: bool) -> Result<UnixStream> {
    let mut conn = shim::connect(&paths.state_dir)
        .map_err(|e| Error::context("connect to the container's shim", e))?;
    let req = Request::Attach {
        stdin: opts.stdin,
        stdout: opts.stdout,
        stderr: opts.stderr,
        close_stdin_on_eof: stdin_once,
    };
    match shim::exchange(&mut conn, &req) {
        Ok(Response::Attached { .. }) => Ok(conn),
        Ok(Response::Error { message, .. }) => Err(Error::conflict(message)),
        Ok(other) => Err(Error::internal(format!(
            "unexpected answer to attach: {other:?}"
        ))),
        Err(e) => Err(Error::context("attach to the container's shim", e)),
    }
}

impl Inner {
    pub(crate) fn attach(&self, reference: &str, opts: AttachOptions) -> Result<AttachStream> {
        let id = self.lookup(reference)?;
        let slot = self.slot(&id);
        let _guard = slot.lock();
        let record = self.load(&id)?;
        let (tx, rx) = oneshot::channel();
        let stdin_once = record.body.config.stdin_once;
        let stream = AttachStream {
            tty: record.body.config.tty,
            stdin_once,
            stdin_open: record.body.config.open_stdin,
            conn: rx,
        };
        match record.state {
            State::Running | State::Paused => {
                let conn = open_attach(&self.paths(&id), opts, stdin_once)?;
                let _ = tx.send(conn);
            }
            State::Created | State::Exited | State::Starting => {
                lock(&slot.pending_attaches).push(Pending {
                    opts,
                    stdin_once,
                    tx,
                });
            }
            State::Removing => {
                return Err(Error::conflict(format!(
                    "container {id} is marked for removal"
                )));
            }
        }
        Ok(stream)
    }

    /// Called by `start` between the shim's spawn and the container's start.
    pub(crate) fn connect_pending_attaches(&self, slot: &Slot, id: &str, paths: &Paths) {
        let pending: Vec<Pending> = std::mem::take(&mut *lock(&slot.pending_attaches));
        for p in pending {
            if p.tx.is_closed() {
                continue;
            }
            match open_attach(paths, p.opts, p.stdin_once) {
                Ok(conn) => {
                    let _ = p.tx.send(conn);
                }
                Err(e) => tracing::warn!("attach to {id} at its start: {e}"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn detach_keys() {
        use super::parse_detach_keys as parse;
        assert_eq!(parse("ctrl-p,ctrl-q"), Some(vec![16, 17]));
        assert_eq!(parse("a,ctrl-@,ctrl-\\"), Some(vec![b'a', 0, 28]));
        assert_eq!(parse("ctrl-pp"), None);
        assert_eq!(parse("ab"), None);
    }
}
