//! Work that runs much code — the runtime library, a runtime binary — happens in a forked helper
//! process. The pages it touches die with it, so the long-lived monitor stays a few hundred KiB;
//! and the monitor's loop never blocks on it: the helper's exit arrives as SIGCHLD, its answer
//! waits in a pipe.

use crate::sys;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd, RawFd};

/// The helper's answer pipe, at a fixed number so that everything above it can be closed.
const RESULT_FD: RawFd = 3;
/// Answers are one line of text; longer ones are cut (an error message never needs more).
const MAX_ANSWER: usize = 16 * 1024;

pub struct Helper {
    pub pid: libc::pid_t,
    result: OwnedFd,
}

/// Forks a helper that runs `work` and exits. `stdio`: the descriptors for its 0, 1 and 2 (the
/// container's stdio, which the runtime hands to the init); None keeps the shim's /dev/null.
pub fn spawn(
    stdio: Option<[BorrowedFd<'_>; 3]>,
    work: impl FnOnce() -> Result<String, String>,
) -> io::Result<Helper> {
    let (read, write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
    let pid = sys::fork()?;
    if pid == 0 {
        child(stdio, write, work);
    }
    drop(write);
    sys::set_nonblocking(read.as_fd())?;
    Ok(Helper { pid, result: read })
}

fn child(
    stdio: Option<[BorrowedFd<'_>; 3]>,
    write: OwnedFd,
    work: impl FnOnce() -> Result<String, String>,
) -> ! {
    sys::reset_signals_for_child();
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o022));
    let placed = (|| -> io::Result<()> {
        if let Some(fds) = stdio {
            for (number, fd) in fds.iter().enumerate() {
                sys::dup_to(*fd, number as RawFd)?;
            }
        }
        sys::dup_to(write.as_fd(), RESULT_FD)?;
        Ok(())
    })();
    std::mem::forget(write);
    // The monitor's sockets and pipes stay with the monitor: a container init cloned from this
    // process must not keep the control socket reachable once the shim is gone.
    sys::close_from(RESULT_FD + 1);
    // SAFETY: RESULT_FD was just made a copy of the pipe's write end and nothing else uses it.
    let result = unsafe { BorrowedFd::borrow_raw(RESULT_FD) };
    let _ = sys::set_cloexec(result);
    let outcome = match placed {
        Ok(()) => work(),
        Err(e) => Err(format!("helper: set up its descriptors: {e}")),
    };
    let (code, text) = match outcome {
        Ok(text) => (0, format!("O{text}")),
        Err(text) => (1, format!("E{}", text.replace('\n', "\\n"))),
    };
    let bytes = text.as_bytes();
    let _ = rustix::io::write(result, &bytes[..bytes.len().min(MAX_ANSWER)]);
    berth_runtime_core::sys::exit_now(code)
}

impl Helper {
    /// The helper's answer, once it was reaped with wait status `status`.
    pub fn answer(&self, status: libc::c_int) -> Result<String, String> {
        let mut text = Vec::new();
        let mut buf = [0u8; 4096];
        while text.len() < MAX_ANSWER {
            match rustix::io::read(&self.result, &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => text.extend_from_slice(&buf[..n]),
            }
        }
        let text = String::from_utf8_lossy(&text);
        match text.split_at_checked(1) {
            Some(("O", rest)) => Ok(rest.to_string()),
            Some(("E", rest)) => Err(rest.to_string()),
            _ => Err(format!(
                "shim helper {} ended (status {}) without an answer",
                self.pid,
                berth_runtime_core::sys::exit_code(status)
            )),
        }
    }
}

/// Runs `work` in a helper and waits for it (only before the monitor's loop starts).
pub fn run_blocking(
    stdio: Option<[BorrowedFd<'_>; 3]>,
    work: impl FnOnce() -> Result<String, String>,
) -> Result<String, String> {
    let helper = spawn(stdio, work).map_err(|e| format!("fork a shim helper: {e}"))?;
    let status = berth_runtime_core::sys::waitpid(helper.pid)
        .map_err(|e| format!("wait for shim helper {}: {e}", helper.pid))?;
    helper.answer(status)
}
