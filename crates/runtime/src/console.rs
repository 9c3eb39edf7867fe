//! A terminal in the foreground (`run -t`, `exec -t` without --console-socket): the runtime
//! receives the pty master the container sent over an internal socket and joins it to its own
//! stdin and stdout until the container's process exits.

use rustix::event::{PollFd, PollFlags};
use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
use rustix::termios::{OptionalActions, Termios};
use std::io::{self, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

/// Receives the pty master the container's process sent with SCM_RIGHTS.
pub fn receive_master(socket: &OwnedFd) -> io::Result<OwnedFd> {
    let mut name = [0u8; 4096];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    rustix::net::recvmsg(
        socket,
        &mut [IoSliceMut::new(&mut name)],
        &mut control,
        RecvFlags::CMSG_CLOEXEC,
    )?;
    for message in control.drain() {
        if let RecvAncillaryMessage::ScmRights(mut fds) = message
            && let Some(fd) = fds.next()
        {
            return Ok(fd);
        }
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidData,
        "the container sent no pty master",
    ))
}

/// Our stdin in raw mode while the container owns the terminal; restored on drop.
struct RawStdin {
    saved: Termios,
}

impl RawStdin {
    fn enter() -> Option<RawStdin> {
        let stdin = rustix::stdio::stdin();
        let saved = rustix::termios::tcgetattr(stdin).ok()?;
        let mut raw = saved.clone();
        raw.make_raw();
        rustix::termios::tcsetattr(stdin, OptionalActions::Now, &raw).ok()?;
        Some(RawStdin { saved })
    }
}

impl Drop for RawStdin {
    fn drop(&mut self) {
        let _ =
            rustix::termios::tcsetattr(rustix::stdio::stdin(), OptionalActions::Now, &self.saved);
    }
}

/// Copies between our stdio and the container's pty.
pub struct ConsoleProxy {
    master: OwnedFd,
    stdin_open: bool,
    master_open: bool,
    _raw: Option<RawStdin>,
}

impl ConsoleProxy {
    pub fn new(master: OwnedFd) -> ConsoleProxy {
        let raw = RawStdin::enter();
        let proxy = ConsoleProxy {
            master,
            stdin_open: true,
            master_open: true,
            _raw: raw,
        };
        proxy.copy_window_size();
        proxy
    }

    /// Gives the pty our terminal's size; the kernel then signals the container's foreground group.
    pub fn copy_window_size(&self) {
        if let Ok(size) = rustix::termios::tcgetwinsize(rustix::stdio::stdin()) {
            let _ = rustix::termios::tcsetwinsize(&self.master, size);
        }
    }

    /// The descriptors to poll: stdin while it is open, the master while the pty has a writer.
    pub fn poll_fds(&self) -> Vec<PollFd<'_>> {
        let mut fds = Vec::with_capacity(2);
        if self.master_open {
            fds.push(PollFd::new(&self.master, PollFlags::IN));
        }
        if self.stdin_open {
            fds.push(PollFd::from_borrowed_fd(
                rustix::stdio::stdin(),
                PollFlags::IN,
            ));
        }
        fds
    }

    /// Moves whatever is ready; `ready` holds the revents of `poll_fds` in the same order.
    pub fn pump(&mut self, ready: &[bool]) {
        let mut index = 0;
        if self.master_open {
            if ready.get(index).copied().unwrap_or(false) {
                self.master_open = copy_once(self.master.as_fd(), rustix::stdio::stdout());
            }
            index += 1;
        }
        if self.stdin_open && ready.get(index).copied().unwrap_or(false) {
            self.stdin_open = copy_once(rustix::stdio::stdin(), self.master.as_fd());
        }
    }

    /// After the process exited: what it wrote last is still in the pty.
    pub fn drain(&mut self) {
        let _ = rustix::fs::fcntl_setfl(&self.master, rustix::fs::OFlags::NONBLOCK);
        while self.master_open {
            self.master_open = copy_once(self.master.as_fd(), rustix::stdio::stdout());
        }
    }
}

/// One read and a full write; false once the source is finished (end, hang-up, EIO or EAGAIN).
fn copy_once(from: BorrowedFd<'_>, to: BorrowedFd<'_>) -> bool {
    let mut buf = [0u8; 8192];
    let n = loop {
        match rustix::io::read(from, &mut buf) {
            Err(rustix::io::Errno::INTR) => continue,
            Ok(0) | Err(_) => return false,
            Ok(n) => break n,
        }
    };
    let mut rest = &buf[..n];
    while !rest.is_empty() {
        match rustix::io::write(to, rest) {
            Ok(written) => rest = &rest[written..],
            Err(rustix::io::Errno::INTR) => continue,
            // Nobody reads our output any more: keep draining the pty so the container is not blocked.
            Err(_) => break,
        }
    }
    true
}
