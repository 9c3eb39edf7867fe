//! The container's terminal: a pty made inside the container's devpts, whose master is sent to the
//! caller's console socket with SCM_RIGHTS (the name of the pty as the message), as runc does.

use crate::channel::InitFailure;
use crate::sys;
use rustix::fs::{Mode, OFlags};
use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags};
use std::io::IoSlice;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};

/// Makes a pty, sends its master over `socket` and makes the slave our controlling terminal and
/// stdio. The container's init also binds it to /dev/console; an exec'd process does not.
pub fn setup_console(socket: &OwnedFd, bind_dev_console: bool) -> Result<(), InitFailure> {
    let err = |step: &str| {
        let step = step.to_string();
        move |e: rustix::io::Errno| InitFailure::os(format!("process.terminal: {step}"), &e.into())
    };
    let master = rustix::pty::openpt(
        rustix::pty::OpenptFlags::RDWR
            | rustix::pty::OpenptFlags::NOCTTY
            | rustix::pty::OpenptFlags::CLOEXEC,
    )
    .map_err(err("open /dev/ptmx"))?;
    rustix::pty::grantpt(&master).map_err(err("grantpt"))?;
    rustix::pty::unlockpt(&master).map_err(err("unlockpt"))?;
    let name = rustix::pty::ptsname(&master, Vec::new()).map_err(err("ptsname"))?;
    let slave = rustix::fs::open(
        name.as_c_str(),
        OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(err("open pty slave"))?;

    let fds = [master.as_fd()];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    control.push(SendAncillaryMessage::ScmRights(&fds));
    rustix::net::sendmsg(
        socket,
        &[IoSlice::new(name.as_bytes())],
        &mut control,
        SendFlags::empty(),
    )
    .map_err(err("send the pty master to --console-socket"))?;
    drop(master);

    if bind_dev_console {
        bind_to_dev_console(&name)?;
    }
    sys::setsid().map_err(|e| InitFailure::os("process.terminal: setsid", &e))?;
    sys::set_controlling_tty(slave.as_fd())
        .map_err(|e| InitFailure::os("process.terminal: TIOCSCTTY", &e))?;
    for fd in 0..3 {
        sys::dup2(slave.as_fd(), fd).map_err(|e| InitFailure::os("process.terminal: dup2", &e))?;
    }
    Ok(())
}

fn bind_to_dev_console(name: &std::ffi::CStr) -> Result<(), InitFailure> {
    let err = |step: &str| {
        let step = step.to_string();
        move |e: rustix::io::Errno| InitFailure::os(format!("process.terminal: {step}"), &e.into())
    };
    match rustix::fs::open(
        "/dev/console",
        OFlags::CREATE | OFlags::WRONLY | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o600),
    ) {
        Ok(_) => {
            sys::mount(Some(name), c"/dev/console", None, libc::MS_BIND, None).map_err(|e| {
                InitFailure::os("process.terminal: bind the pty to /dev/console", &e)
            })?;
        }
        // A read-only /dev: the console is still usable through stdio.
        Err(rustix::io::Errno::ROFS) => {}
        Err(e) => return Err(err("create /dev/console")(e)),
    }
    Ok(())
}
