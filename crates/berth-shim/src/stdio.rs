//! The stdio of one process the shim runs (the container's init, or an exec): first the ends
//! its runtime helper hands to the process ([`ChildStdio`]), then the shim's own ends, read and
//! written by the monitor's loop without blocking ([`ProcIo`]).

use crate::{files, sys};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One read of a process's output.
const READ_CHUNK: usize = 8192;
/// Reads of one output per wake-up, so one busy stream cannot starve the rest.
const READS_PER_WAKE: usize = 8;
/// Input queued for a process's stdin before attached clients are read no further.
pub const MAX_PENDING_INPUT: usize = 64 * 1024;

/// Whose stdio: the container's init, or an exec (by the shim's serial number for it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proc {
    Init,
    Exec(u64),
}

/// Which streams a process gets from the shim; the others are /dev/null.
#[derive(Debug, Clone, Copy)]
pub struct Streams {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    /// A terminal instead of pipes: the runtime makes it and sends its master on a socket.
    pub tty: bool,
}

/// The process's side, until its runtime helper has forked; and ours, until the process runs.
pub struct ChildStdio {
    /// What the process gets as 0, 1 and 2 (None once the helper has its copies).
    child: Option<[OwnedFd; 3]>,
    stdin: Option<OwnedFd>,
    stdout: Option<OwnedFd>,
    stderr: Option<OwnedFd>,
    /// With a terminal: the socket the runtime sends the pty master on. Removed on drop.
    console: Option<(UnixListener, PathBuf)>,
    stdin_open: bool,
}

fn fail(what: &str, e: impl std::fmt::Display) -> String {
    format!("{what}: {e}")
}

impl ChildStdio {
    /// Pipes for the streams asked for, or a console socket at `console_path` for a terminal.
    pub fn new(streams: Streams, console_path: &Path) -> Result<Self, String> {
        let null = || -> Result<OwnedFd, String> {
            std::fs::File::open("/dev/null")
                .map(OwnedFd::from)
                .map_err(|e| fail("open /dev/null", e))
        };
        let pipe = || -> Result<(OwnedFd, OwnedFd), String> {
            rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map_err(|e| fail("pipe", e))
        };
        if streams.tty {
            let _ = std::fs::remove_file(console_path);
            let listener = UnixListener::bind(console_path)
                .map_err(|e| fail(&format!("bind {}", console_path.display()), e))?;
            let console = Some((listener, console_path.to_path_buf()));
            let stdio = ChildStdio {
                child: Some([null()?, null()?, null()?]),
                stdin: None,
                stdout: None,
                stderr: None,
                console,
                stdin_open: streams.stdin,
            };
            if let Some((listener, _)) = &stdio.console {
                listener
                    .set_nonblocking(true)
                    .map_err(|e| fail("console socket", e))?;
            }
            return Ok(stdio);
        }
        let (in_child, stdin) = if streams.stdin {
            let (r, w) = pipe()?;
            (r, Some(w))
        } else {
            (null()?, None)
        };
        let output = |wanted: bool| -> Result<(OwnedFd, Option<OwnedFd>), String> {
            if wanted {
                let (r, w) = pipe()?;
                Ok((w, Some(r)))
            } else {
                Ok((null()?, None))
            }
        };
        let (out_child, stdout) = output(streams.stdout)?;
        let (err_child, stderr) = output(streams.stderr)?;
        Ok(ChildStdio {
            child: Some([in_child, out_child, err_child]),
            stdin,
            stdout,
            stderr,
            console: None,
            stdin_open: streams.stdin,
        })
    }

    /// The process's 0, 1 and 2, for the helper that runs the runtime.
    pub fn for_child(&self) -> Option<[BorrowedFd<'_>; 3]> {
        self.child
            .as_ref()
            .map(|[a, b, c]| [a.as_fd(), b.as_fd(), c.as_fd()])
    }

    pub fn console_path(&self) -> Option<&Path> {
        self.console.as_ref().map(|(_, path)| path.as_path())
    }

    /// Once the helper has its copies: end of file then comes when the process closes its own.
    pub fn close_child_ends(&mut self) {
        self.child = None;
    }

    /// Our ends, non-blocking, once the process exists (with a terminal: the master the
    /// runtime sent, already queued on the console socket).
    pub fn into_io(mut self) -> Result<ProcIo, String> {
        self.close_child_ends();
        if let Some((listener, path)) = self.console.take() {
            let master = receive_console(&listener).map_err(|e| fail("receive the terminal", e));
            files::remove(&path);
            let master = master?;
            sys::set_nonblocking(master.as_fd()).map_err(|e| fail("pty master", e))?;
            let reader = master
                .try_clone()
                .map_err(|e| fail("dup the pty master", e))?;
            return Ok(ProcIo::new(
                [Some(reader), None],
                Some(master),
                None,
                self.stdin_open,
            ));
        }
        for fd in [&self.stdout, &self.stderr, &self.stdin]
            .into_iter()
            .flatten()
        {
            sys::set_nonblocking(fd.as_fd()).map_err(|e| fail("stdio pipe", e))?;
        }
        Ok(ProcIo::new(
            [self.stdout.take(), self.stderr.take()],
            None,
            self.stdin.take(),
            self.stdin_open,
        ))
    }
}

impl Drop for ChildStdio {
    fn drop(&mut self) {
        if let Some((_, path)) = &self.console {
            files::remove(path);
        }
    }
}

/// The runtime connected and sent the master before its command returned: it is queued.
fn receive_console(listener: &UnixListener) -> std::io::Result<OwnedFd> {
    let (stream, _) = listener.accept().map_err(|e| match e.kind() {
        std::io::ErrorKind::WouldBlock => {
            std::io::Error::other("the runtime never connected to the console socket")
        }
        _ => e,
    })?;
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    berth_runtime_core::console::receive_master(&OwnedFd::from(stream))
}

/// The shim's ends of a running process's stdio.
pub struct ProcIo {
    /// Read ends of stdout and stderr; with a terminal, the pty master as stdout.
    outputs: [Option<OwnedFd>; 2],
    pty: Option<OwnedFd>,
    /// Write end of the stdin pipe (stdin without a terminal).
    stdin: Option<OwnedFd>,
    stdin_open: bool,
    stdin_buf: Vec<u8>,
    stdin_close_pending: bool,
}

impl ProcIo {
    pub fn new(
        outputs: [Option<OwnedFd>; 2],
        pty: Option<OwnedFd>,
        stdin: Option<OwnedFd>,
        stdin_open: bool,
    ) -> Self {
        ProcIo {
            outputs,
            pty,
            stdin,
            stdin_open,
            stdin_buf: Vec::new(),
            stdin_close_pending: false,
        }
    }

    pub fn output(&self, index: usize) -> Option<&OwnedFd> {
        self.outputs[index].as_ref()
    }

    /// Every output reached end of file (or was dropped).
    pub fn drained(&self) -> bool {
        self.outputs.iter().all(Option::is_none)
    }

    pub fn stdin_open(&self) -> bool {
        self.stdin_open
    }

    /// Where queued input goes: the stdin pipe, or the terminal.
    pub fn input_target(&self) -> Option<BorrowedFd<'_>> {
        if !self.stdin_open {
            return None;
        }
        self.stdin.as_ref().or(self.pty.as_ref()).map(AsFd::as_fd)
    }

    pub fn has_queued_input(&self) -> bool {
        !self.stdin_buf.is_empty()
    }

    pub fn input_room(&self) -> bool {
        self.stdin_buf.len() < MAX_PENDING_INPUT
    }

    /// Queues a client's input and writes what the process takes now.
    pub fn queue_input(&mut self, data: &[u8]) {
        if self.stdin_open {
            self.stdin_buf.extend_from_slice(data);
            self.flush_input();
        }
    }

    pub fn flush_input(&mut self) {
        while !self.stdin_buf.is_empty() {
            let Some(fd) = self.input_target() else {
                self.stdin_buf.clear();
                break;
            };
            match rustix::io::write(fd, &self.stdin_buf) {
                Ok(n) => {
                    self.stdin_buf.drain(..n);
                }
                Err(rustix::io::Errno::AGAIN) => return,
                Err(rustix::io::Errno::INTR) => continue,
                // EPIPE: the process closed its stdin.
                Err(_) => {
                    self.close_input_now();
                    return;
                }
            }
        }
        self.stdin_buf = Vec::new();
        if self.stdin_close_pending {
            self.close_input_now();
        }
    }

    pub fn close_input_now(&mut self) {
        self.stdin_open = false;
        self.stdin_close_pending = false;
        self.stdin = None;
        self.stdin_buf = Vec::new();
    }

    /// End of input once what is queued is written. A terminal cannot be half-closed: input
    /// just stops being forwarded.
    pub fn request_input_close(&mut self) {
        if self.stdin.is_none() {
            self.close_input_now();
            return;
        }
        self.stdin_close_pending = true;
        self.flush_input();
    }

    /// Reads what output `index` has now and hands it to `sink`; None the output once it ends.
    /// True when it ended.
    pub fn read_output(&mut self, index: usize, mut sink: impl FnMut(&[u8])) -> bool {
        let mut buf = [0u8; READ_CHUNK];
        for _ in 0..READS_PER_WAKE {
            let Some(fd) = &self.outputs[index] else {
                return true;
            };
            match rustix::io::read(fd, &mut buf) {
                Ok(0) => {}
                Ok(n) => {
                    sink(&buf[..n]);
                    continue;
                }
                Err(rustix::io::Errno::AGAIN) => return false,
                Err(rustix::io::Errno::INTR) => continue,
                // EIO: the pty's last slave descriptor closed. Anything else ends the stream too.
                Err(_) => {}
            }
            self.outputs[index] = None;
            return true;
        }
        false
    }

    /// The process has exited: what is already in the pipes still counts, a writer left
    /// behind does not. `sink` gets (output index, bytes).
    pub fn finish(&mut self, mut sink: impl FnMut(usize, &[u8])) {
        for index in 0..2 {
            if self.outputs[index].is_some() {
                self.read_output(index, |data| sink(index, data));
                self.outputs[index] = None;
            }
        }
        self.pty = None;
        self.close_input_now();
    }

    pub fn has_terminal(&self) -> bool {
        self.pty.is_some()
    }

    pub fn resize(&self, rows: u16, cols: u16) -> Result<(), String> {
        let Some(pty) = &self.pty else {
            return Err("no terminal".into());
        };
        let size = rustix::termios::Winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        rustix::termios::tcsetwinsize(pty, size)
            .map_err(|e| format!("set the terminal size to {rows}x{cols}: {e}"))
    }
}
