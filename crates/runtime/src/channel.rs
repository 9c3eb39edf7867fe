//! A typed message channel between the runtime and the container's init, over a SEQPACKET socketpair:
//! one message per packet, serialised as JSON, so that failures cross the fork as structured values.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::io::{self, IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixDatagram;

/// What the init (or the intermediate process that forks it) tells the runtime.
#[derive(Debug, Serialize, Deserialize)]
pub enum InitMessage {
    /// The process is in its new user namespace and waits for its uid/gid maps.
    NeedIdMaps {
        pid: i32,
    },
    /// The intermediate process forked the container's init (pid as seen from the runtime).
    InitPid {
        pid: i32,
    },
    /// The mounts are made and the init waits, before pivot_root, for the runtime to run the
    /// prestart and createRuntime hooks. Sent only when the spec has such hooks.
    RunCreateRuntimeHooks,
    /// The init's namespaces exist: the runtime may move `linux.netDevices` into its network
    /// namespace, whose descriptor comes with this message (SCM_RIGHTS). Sent only when there are some.
    MoveNetDevices,
    /// The seccomp filter is loaded; its notify listener fd comes with this message (SCM_RIGHTS)
    /// for the runtime to pass on to the seccomp agent at `linux.seccomp.listenerPath`.
    SeccompListener,
    /// The container is set up and the init waits for `start`.
    Ready,
    Failed(InitFailure),
}

/// What the runtime tells the init.
#[derive(Debug, Serialize, Deserialize)]
pub enum RuntimeMessage {
    IdMapsWritten,
    /// The init is in its cgroup: it may go on (and make its cgroup namespace there).
    Proceed,
    /// The prestart and createRuntime hooks succeeded: the init may pivot_root.
    CreateRuntimeHooksDone,
    /// `linux.netDevices` are in the init's network namespace.
    NetDevicesMoved,
}

/// A failure inside the container's init: which step, on which object, and the OS error if any.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InitFailure {
    pub step: String,
    pub errno: Option<i32>,
    pub detail: String,
}

impl std::fmt::Display for InitFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.step)?;
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        if let Some(errno) = self.errno {
            write!(f, ": {}", io::Error::from_raw_os_error(errno))?;
        }
        Ok(())
    }
}

impl InitFailure {
    pub fn os(step: impl Into<String>, err: &io::Error) -> Self {
        InitFailure {
            step: step.into(),
            errno: err.raw_os_error(),
            detail: if err.raw_os_error().is_some() {
                String::new()
            } else {
                err.to_string()
            },
        }
    }

    pub fn msg(step: impl Into<String>, detail: impl Into<String>) -> Self {
        InitFailure {
            step: step.into(),
            errno: None,
            detail: detail.into(),
        }
    }
}

/// One end of the channel. Both ends are close-on-exec, so neither reaches the container's process.
pub struct Channel {
    socket: UnixDatagram,
}

pub fn pair() -> io::Result<(Channel, Channel)> {
    let (a, b) = rustix::net::socketpair(
        rustix::net::AddressFamily::UNIX,
        rustix::net::SocketType::SEQPACKET,
        rustix::net::SocketFlags::CLOEXEC,
        None,
    )?;
    Ok((Channel::from_fd(a), Channel::from_fd(b)))
}

impl Channel {
    fn from_fd(fd: OwnedFd) -> Self {
        Channel {
            socket: UnixDatagram::from(fd),
        }
    }

    pub fn send<T: Serialize>(&self, message: &T) -> io::Result<()> {
        let bytes = serde_json::to_vec(message).map_err(io::Error::other)?;
        self.socket.send(&bytes).map(drop)
    }

    /// Sends one message with a descriptor attached.
    pub fn send_with_fd<T: Serialize>(&self, message: &T, fd: BorrowedFd<'_>) -> io::Result<()> {
        let bytes = serde_json::to_vec(message).map_err(io::Error::other)?;
        send_with_fd(&self.socket, &bytes, fd)
    }

    /// Receives one message; `Ok(None)` when the other end closed without sending one.
    pub fn recv<T: DeserializeOwned>(&self) -> io::Result<Option<T>> {
        Ok(self.recv_with_fds()?.map(|(message, _fds)| message))
    }

    /// Receives one message and the descriptors that came with it.
    pub fn recv_with_fds<T: DeserializeOwned>(&self) -> io::Result<Option<(T, Vec<OwnedFd>)>> {
        let mut buf = vec![0u8; 64 * 1024];
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
        let mut control = rustix::net::RecvAncillaryBuffer::new(&mut space);
        let mut reset_seen = false;
        let received = loop {
            match rustix::net::recvmsg(
                &self.socket,
                &mut [IoSliceMut::new(&mut buf)],
                &mut control,
                rustix::net::RecvFlags::CMSG_CLOEXEC,
            ) {
                Err(rustix::io::Errno::INTR) => continue,
                // A peer that exits with a message of ours unread resets the connection, and the
                // kernel may report that before the message the peer sent last (its failure
                // report). The error is reported once: the next receive returns that message, or
                // end of file.
                Err(rustix::io::Errno::CONNRESET) if !reset_seen => {
                    reset_seen = true;
                    continue;
                }
                other => break other?,
            }
        };
        let fds: Vec<OwnedFd> = control
            .drain()
            .flat_map(|message| match message {
                rustix::net::RecvAncillaryMessage::ScmRights(fds) => fds.collect(),
                _ => Vec::new(),
            })
            .collect();
        if received.bytes == 0 {
            return Ok(None);
        }
        let message = serde_json::from_slice(&buf[..received.bytes])
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        Ok(Some((message, fds)))
    }
}

/// Descriptors one message may carry.
const MAX_FDS: usize = 4;

/// Sends `bytes` in one message with `fd` as SCM_RIGHTS ancillary data (a seccomp agent's
/// socket gets the notify fd this way too).
pub fn send_with_fd(socket: impl AsFd, bytes: &[u8], fd: BorrowedFd<'_>) -> io::Result<()> {
    let fds = [fd];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = rustix::net::SendAncillaryBuffer::new(&mut space);
    if !control.push(rustix::net::SendAncillaryMessage::ScmRights(&fds)) {
        return Err(io::Error::other("SCM_RIGHTS control message does not fit"));
    }
    loop {
        match rustix::net::sendmsg(
            &socket,
            &[IoSlice::new(bytes)],
            &mut control,
            rustix::net::SendFlags::NOSIGNAL,
        ) {
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
            Ok(n) if n < bytes.len() => {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    format!("sent {n} of {} bytes", bytes.len()),
                ));
            }
            Ok(_) => return Ok(()),
        }
    }
}
