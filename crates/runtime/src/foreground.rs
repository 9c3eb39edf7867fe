//! `run` without `--detach`: the runtime stays with the container, forwards signals to it and,
//! for a terminal without a console socket, joins the container's pty to its own stdio.

use crate::console::ConsoleProxy;
use crate::container::{
    CreateOptions, FORWARDED, create, run_poststop_hooks, signal_container, start_locked, wait_gone,
};
use crate::error::{Context, Result};
use crate::state::StateRoot;
use crate::sys;
use std::os::fd::{AsFd, OwnedFd};
use std::time::Duration;

/// create + start + wait, forwarding signals; returns the container's exit code. With `detach`, returns 0 once started.
pub fn run(root: &StateRoot, opts: &CreateOptions, detach: bool, keep: bool) -> Result<i32> {
    let created = create(root, opts, !detach)?;
    let signals = if detach {
        None
    } else {
        Some(sys::signalfd(&sys::sigset_of(&FORWARDED)).context(|| "signalfd".into())?)
    };
    if let Err(e) = start_locked(&created.container, &created.record) {
        let _ = signal_container(&created.record, libc::SIGKILL, true);
        let _ = sys::waitpid(created.record.pid);
        if let Some(cgroup) = created.record.cgroup() {
            cgroup.destroy();
        }
        let _ = created.container.remove();
        run_poststop_hooks(&created.record);
        return Err(e);
    }
    let Some(signals) = signals else {
        return Ok(0);
    };
    let pid = created.record.pid;
    let mut console = created.console.map(ConsoleProxy::new);
    let code = wait_forwarding(pid, &signals, console.as_mut())?;
    drop(console);
    // `run` owns the container's whole life: remove it once its process is gone, as runc does.
    if created.record.own_pid_namespace {
        let _ = wait_gone(pid, Duration::from_secs(1));
    }
    if !keep {
        if let Some(cgroup) = created.record.cgroup() {
            cgroup.destroy();
        }
        created.container.remove()?;
        run_poststop_hooks(&created.record);
    }
    Ok(code)
}

/// Waits for `pid`, forwarding the signals that arrive on `signals` and, with a foreground
/// terminal, copying between our stdio and the container's pty. Returns the exit code.
pub(crate) fn wait_forwarding(
    pid: i32,
    signals: &OwnedFd,
    mut console: Option<&mut ConsoleProxy>,
) -> Result<i32> {
    let pidfd = sys::pidfd_open(pid).context(|| format!("pidfd of container init {pid}"))?;
    loop {
        let ready: Vec<bool> = {
            let mut fds = vec![
                rustix::event::PollFd::new(&pidfd, rustix::event::PollFlags::IN),
                rustix::event::PollFd::new(signals, rustix::event::PollFlags::IN),
            ];
            if let Some(proxy) = console.as_deref() {
                fds.extend(proxy.poll_fds());
            }
            match rustix::event::poll(&mut fds, None) {
                Err(rustix::io::Errno::INTR) => continue,
                other => other.context(|| "wait for the container".into())?,
            };
            fds.iter().map(|fd| !fd.revents().is_empty()).collect()
        };
        if ready[1]
            && let Ok(signal) = sys::read_signal(signals.as_fd())
        {
            match console.as_deref() {
                // The pty's resize signals the container's foreground process group itself.
                Some(proxy) if signal == libc::SIGWINCH => proxy.copy_window_size(),
                _ => {
                    let _ = sys::pidfd_send_signal(pidfd.as_fd(), signal);
                }
            }
        }
        if let Some(proxy) = console.as_deref_mut() {
            proxy.pump(&ready[2..]);
        }
        if ready[0] {
            if let Some(proxy) = console.as_deref_mut() {
                proxy.drain();
            }
            let status =
                sys::waitpid(pid).context(|| format!("wait for container process {pid}"))?;
            return Ok(sys::exit_code(status));
        }
    }
}
