//! An attached session: the hijacked stream of a container (run, start -a, attach) or an exec,
//! the local terminal in raw mode, window size changes and (for a container) signals passed on.

use std::io;
use std::sync::Arc;

use crate::api::{self, CliError, Client, Result, path_escape};
use crate::http::{Body, Endpoint, Hijacked};
use crate::stream::{self, StdinEnd};
use crate::term;

const DEFAULT_DETACH_KEYS: &str = "ctrl-p,ctrl-q";

/// What a session is attached to; its API path is `/containers/ID` or `/exec/ID`.
#[derive(Clone, Copy)]
pub enum Target<'a> {
    Container(&'a str),
    Exec(&'a str),
}

impl Target<'_> {
    pub fn path(&self) -> String {
        match self {
            Target::Container(id) => format!("/containers/{}", path_escape(id)),
            Target::Exec(id) => format!("/exec/{}", path_escape(id)),
        }
    }
}

/// Sends the local terminal's size to the daemon (nothing when there is no terminal).
pub fn resize(endpoint: &Endpoint, version: &str, target: Target<'_>) {
    resize_at(endpoint, version, &target.path());
}

/// `base`: the target's path.
fn resize_at(endpoint: &Endpoint, version: &str, base: &str) {
    let Some((rows, cols)) = term::window_size(0).or_else(|| term::window_size(1)) else {
        return;
    };
    if let Ok(mut conn) = endpoint.connect() {
        let path = format!("/v{version}{base}/resize?h={rows}&w={cols}");
        if let Ok(mut r) = conn.request("POST", &path, &[], Body::Empty) {
            r.body_bytes().ok();
        }
    }
}

fn kill_signal(endpoint: &Endpoint, version: &str, id: &str, signal: i32) {
    if let Ok(mut conn) = endpoint.connect() {
        let path = format!(
            "/v{version}/containers/{}/kill?signal={signal}",
            path_escape(id)
        );
        if let Ok(mut r) = conn.request("POST", &path, &[], Body::Empty) {
            r.body_bytes().ok();
        }
    }
}

/// Options for streaming an attached container or exec.
pub struct Session<'a> {
    pub target: Target<'a>,
    pub tty: bool,
    pub stdin: bool,
    /// Forward our signals to the container (never to an exec: docker has no such option).
    pub sig_proxy: bool,
    pub detach_keys: Vec<u8>,
}

pub enum Ended {
    Output,
    Detached,
}

/// Sets up raw mode and signal forwarding, pumps the hijacked stream, and restores the terminal.
pub fn stream(client: &Client, session: &Session<'_>, hijacked: Hijacked) -> Result<Ended> {
    let endpoint = Arc::new(client.endpoint().clone());
    let version: Arc<str> = Arc::from(client.version());
    let base = session.target.path();
    let raw = if session.tty && session.stdin && term::is_tty(0) {
        Some(term::RawMode::enable(0)?)
    } else {
        None
    };
    let mut signals = Vec::new();
    if session.tty {
        signals.push(libc::SIGWINCH);
    }
    let proxied_to = match session.target {
        Target::Container(id) if session.sig_proxy && !session.tty => Some(id.to_string()),
        _ => None,
    };
    if proxied_to.is_some() {
        signals.extend_from_slice(&term::PROXIED);
    }
    if !signals.is_empty() {
        let (endpoint, version) = (endpoint.clone(), version.clone());
        term::spawn_signal_thread(&signals, move |signal| {
            if signal == libc::SIGWINCH {
                resize_at(&endpoint, &version, &base);
            } else if let Some(id) = &proxied_to {
                kill_signal(&endpoint, &version, id, signal);
            }
        })?;
    }

    let (done_tx, done_rx) = std::sync::mpsc::channel::<Ended>();
    if session.stdin {
        let socket = hijacked.stream.try_clone()?;
        let keys = session.detach_keys.clone();
        let tx = done_tx.clone();
        std::thread::Builder::new()
            .name("stdin".into())
            .spawn(move || {
                if let Ok(StdinEnd::Detached) =
                    stream::pump_stdin(io::stdin().lock(), &socket, &keys)
                {
                    // Told before the shutdown: the output copy ends on it and must find it.
                    tx.send(Ended::Detached).ok();
                    socket.shutdown(std::net::Shutdown::Both).ok();
                }
            })?;
    } else {
        hijacked.stream.shutdown(std::net::Shutdown::Write).ok();
    }

    let reader = hijacked.reader()?;
    let mut stdout = io::stdout().lock();
    let copied = if session.tty {
        stream::copy_raw(reader, &mut stdout)
    } else {
        let mut stderr = io::stderr().lock();
        stream::demux(reader, &mut stdout, &mut stderr)
    };
    drop(raw);
    if let Ok(Ended::Detached) = done_rx.try_recv() {
        return Ok(Ended::Detached);
    }
    match copied {
        Ok(()) => Ok(Ended::Output),
        Err(_) if matches!(done_rx.try_recv(), Ok(Ended::Detached)) => Ok(Ended::Detached),
        Err(e) => Err(e.into()),
    }
}

pub fn detach_keys(spec: Option<&str>) -> Result<Vec<u8>> {
    stream::parse_detach_keys(spec.unwrap_or(DEFAULT_DETACH_KEYS)).map_err(CliError::msg)
}

/// POST with `Upgrade: tcp` on a fresh connection; a daemon error status as docker prints it.
pub fn hijack(client: &Client, path: &str, body: Option<Vec<u8>>) -> Result<Hijacked> {
    let conn = client.open()?;
    conn.hijack("POST", path, body).map_err(|e| {
        match e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<crate::http::HttpStatusError>())
        {
            Some(status) => CliError::Daemon {
                status: status.status,
                message: api::error_message(status.body.as_bytes()),
            },
            None => CliError::from(e),
        }
    })
}
