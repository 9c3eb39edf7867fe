//! One client of the control socket: a line-framed request/answer connection, which `attach`
//! turns into a stream. Every read and write is non-blocking; a client that stops reading has
//! at most [`MAX_PENDING_OUTPUT`] bytes queued before it is dropped.

use crate::stdio::Proc;
use berth_shim_protocol::{MAX_LINE, Response};
use rustix::net::{RecvFlags, SendFlags};
use std::os::fd::OwnedFd;

/// Output queued for one attached client that does not keep up; beyond it the client is
/// disconnected (it can read what it missed from the log). The container never waits for it.
pub const MAX_PENDING_OUTPUT: usize = 256 * 1024;
/// Buffers grown beyond this are given back once empty.
const KEEP_CAPACITY: usize = 16 * 1024;

#[derive(Debug, Clone, Copy)]
pub struct Attach {
    /// Whose stream: the container's, or an exec's.
    pub target: Proc,
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub close_stdin_on_eof: bool,
}

pub struct Conn {
    pub id: u64,
    pub fd: OwnedFd,
    pub inbuf: Vec<u8>,
    outbuf: Vec<u8>,
    pub attach: Option<Attach>,
    /// A request is being answered (a helper runs for it, or it is a `wait`): no further
    /// request is read until then, so answers come in request order.
    pub busy: bool,
    pub waiting: bool,
    pub read_closed: bool,
    pub close_after_flush: bool,
    pub dead: bool,
}

pub enum Read {
    Data(usize),
    Eof,
    Again,
}

impl Conn {
    pub fn new(id: u64, fd: OwnedFd) -> Self {
        Conn {
            id,
            fd,
            inbuf: Vec::new(),
            outbuf: Vec::new(),
            attach: None,
            busy: false,
            waiting: false,
            read_closed: false,
            close_after_flush: false,
            dead: false,
        }
    }

    pub fn has_output(&self) -> bool {
        !self.outbuf.is_empty()
    }

    pub fn read(&mut self, buf: &mut [u8]) -> Read {
        match rustix::net::recv(&self.fd, buf, RecvFlags::DONTWAIT) {
            Ok((0, _)) => {
                self.read_closed = true;
                Read::Eof
            }
            Ok((n, _)) => Read::Data(n),
            Err(rustix::io::Errno::AGAIN | rustix::io::Errno::INTR) => Read::Again,
            Err(_) => {
                self.dead = true;
                Read::Eof
            }
        }
    }

    pub fn answer(&mut self, response: &Response) {
        match serde_json::to_vec(response) {
            Ok(mut line) => {
                line.push(b'\n');
                self.send(&line);
            }
            // Our own types always serialise; should one not, the client must not hang on it.
            Err(_) => self.dead = true,
        }
        self.busy = false;
    }

    /// Queues bytes and writes what the socket takes now.
    pub fn send(&mut self, bytes: &[u8]) {
        if self.dead {
            return;
        }
        if self.outbuf.len() + bytes.len() > MAX_PENDING_OUTPUT {
            eprintln!(
                "berth-shim: client {} does not read its output: disconnected",
                self.id
            );
            self.dead = true;
            return;
        }
        self.outbuf.extend_from_slice(bytes);
        self.flush();
    }

    pub fn flush(&mut self) {
        while !self.outbuf.is_empty() && !self.dead {
            match rustix::net::send(
                &self.fd,
                &self.outbuf,
                SendFlags::DONTWAIT | SendFlags::NOSIGNAL,
            ) {
                Ok(n) => {
                    self.outbuf.drain(..n);
                }
                Err(rustix::io::Errno::AGAIN) => break,
                Err(rustix::io::Errno::INTR) => continue,
                Err(_) => self.dead = true,
            }
        }
        if self.outbuf.is_empty() {
            if self.outbuf.capacity() > KEEP_CAPACITY {
                self.outbuf = Vec::new();
            }
            if self.close_after_flush {
                self.dead = true;
            }
        }
    }

    /// Writes everything queued, waiting if need be (the last answer before the shim exits).
    pub fn flush_blocking(&mut self) {
        let _ = crate::sys::set_blocking(std::os::fd::AsFd::as_fd(&self.fd));
        while !self.outbuf.is_empty() {
            match rustix::net::send(&self.fd, &self.outbuf, SendFlags::NOSIGNAL) {
                Ok(n) => {
                    self.outbuf.drain(..n);
                }
                Err(rustix::io::Errno::INTR) => continue,
                Err(_) => break,
            }
        }
    }

    /// The next complete request line, if one is buffered. An over-long line is an error.
    pub fn next_line(&mut self) -> Option<Result<Vec<u8>, ()>> {
        match self.inbuf.iter().position(|b| *b == b'\n') {
            Some(i) => {
                let line: Vec<u8> = self.inbuf.drain(..=i).collect();
                if self.inbuf.is_empty() && self.inbuf.capacity() > KEEP_CAPACITY {
                    self.inbuf = Vec::new();
                }
                Some(Ok(line))
            }
            None if self.inbuf.len() >= MAX_LINE => Some(Err(())),
            None => None,
        }
    }
}
