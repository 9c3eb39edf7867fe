//! The few system calls the shim makes that neither rustix nor the runtime library wraps.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// fork(2): 0 in the child, the child's pid in the parent. The shim is single-threaded.
pub fn fork() -> io::Result<libc::pid_t> {
    // SAFETY: the shim never starts threads, so the child gets a consistent copy of the process.
    check(unsafe { libc::fork() })
}

/// One exited child, if any is waiting to be reaped: (pid, wait status).
pub fn reap_one() -> Option<(libc::pid_t, libc::c_int)> {
    let mut status = 0;
    loop {
        // SAFETY: status is a valid out pointer.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG | libc::__WALL) };
        if pid > 0 {
            return Some((pid, status));
        }
        if pid < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
            continue;
        }
        return None;
    }
}

/// Takes ownership of an inherited descriptor number after checking that it is open.
pub fn take_inherited_fd(fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: F_GETFD only reads the descriptor's flags.
    check(unsafe { libc::fcntl(fd, libc::F_GETFD) })?;
    // SAFETY: the number is open and nothing else in this process owns it (it came from our
    // command line and is taken once, at start-up).
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    set_cloexec(owned.as_fd())?;
    Ok(owned)
}

pub fn set_cloexec(fd: BorrowedFd<'_>) -> io::Result<()> {
    rustix::io::fcntl_setfd(fd, rustix::io::FdFlags::CLOEXEC).map_err(io::Error::from)
}

pub fn set_nonblocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    let flags = rustix::fs::fcntl_getfl(fd)?;
    rustix::fs::fcntl_setfl(fd, flags | rustix::fs::OFlags::NONBLOCK).map_err(io::Error::from)
}

/// Closes every descriptor from `first` up (a forked helper dropping what it does not need).
pub fn close_from(first: RawFd) {
    // SAFETY: close_range only closes descriptors; the forked helper owns no Rust object that
    // would later use them (it exits through _exit).
    let ret = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first as libc::c_uint,
            libc::c_uint::MAX,
            0,
        )
    };
    if ret == 0 {
        return;
    }
    // Kernels before 5.9: close each open number found in /proc/self/fd.
    let fds: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")
        .map(|rd| {
            rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .filter(|fd| *fd >= first)
                .collect()
        })
        .unwrap_or_default();
    for fd in fds {
        berth_runtime_core::sys::close_inherited(fd);
    }
}

/// Moves `fd` to number `to` (dup2; the copy is not close-on-exec) and returns nothing: the
/// number is then owned by the forked helper's stdio or protocol slot.
pub fn dup_to(fd: BorrowedFd<'_>, to: RawFd) -> io::Result<()> {
    if fd.as_raw_fd() == to {
        // dup2 onto itself keeps close-on-exec: clear it, since the number is meant to be inherited.
        return rustix::io::fcntl_setfd(fd, rustix::io::FdFlags::empty()).map_err(io::Error::from);
    }
    berth_runtime_core::sys::dup2(fd, to)
}

/// The signal dispositions and mask a forked helper starts from: those of a fresh process, since
/// the container's init (a clone of the helper) and the runtimes it execs inherit them.
pub fn reset_signals_for_child() {
    berth_runtime_core::sys::reset_signal_dispositions();
    let empty = berth_runtime_core::sys::sigset_of(&[]);
    let _ = berth_runtime_core::sys::sigprocmask(libc::SIG_SETMASK, &empty);
}

/// Ignores SIGPIPE: a write to a closed pipe or socket then fails with EPIPE.
pub fn ignore_sigpipe() {
    // SAFETY: setting SIG_IGN has no handler code to run.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
}

pub fn set_blocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    let flags = rustix::fs::fcntl_getfl(fd)?;
    rustix::fs::fcntl_setfl(fd, flags - rustix::fs::OFlags::NONBLOCK).map_err(io::Error::from)
}
