//! berth-init: PID 1 of a container run with `--init` (mounted at /sbin/docker-init).
//!
//! `berth-init [--] COMMAND [ARG...]` starts COMMAND as its only direct child, in a process
//! group of its own that becomes the terminal's foreground group when stdin is a terminal.
//! Every signal that can be caught is forwarded to that child; every process that ends up as
//! a child of ours is reaped; berth-init exits with the child's status (128+N if signal N
//! killed it). Outside a PID namespace it makes itself a child subreaper so that orphans still
//! come to it.

use std::ffi::{CString, OsString};
use std::os::unix::ffi::OsStringExt;
use std::process::ExitCode;

/// Signals the kernel sends to the thread that faulted; blocking them would hang it.
const SYNCHRONOUS: [libc::c_int; 7] = [
    libc::SIGFPE,
    libc::SIGILL,
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGABRT,
    libc::SIGTRAP,
    libc::SIGSYS,
];

fn fail(message: &str) -> ExitCode {
    eprintln!("berth-init: {message}");
    ExitCode::from(127)
}

fn errno_text() -> String {
    std::io::Error::last_os_error().to_string()
}

fn main() -> ExitCode {
    let mut args: Vec<OsString> = std::env::args_os().skip(1).collect();
    if args.first().is_some_and(|a| a == "--") {
        args.remove(0);
    }
    if args.is_empty() {
        return fail("usage: berth-init [--] COMMAND [ARG...]");
    }
    let argv: Vec<CString> = match args
        .into_iter()
        .map(|a| CString::new(a.into_vec()))
        .collect::<Result<_, _>>()
    {
        Ok(v) => v,
        Err(_) => return fail("an argument contains a NUL byte"),
    };

    // SAFETY: plain syscall on our own process.
    if unsafe { libc::getpid() } != 1 {
        // SAFETY: prctl with integer arguments only.
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    }

    // SAFETY: sigset_t is plain data; sigfillset/sigdelset initialise it.
    let mut forwarded: libc::sigset_t = unsafe { std::mem::zeroed() };
    let mut original: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: both sets are valid, owned locals.
    unsafe {
        libc::sigfillset(&mut forwarded);
        for sig in SYNCHRONOUS {
            libc::sigdelset(&mut forwarded, sig);
        }
        if libc::sigprocmask(libc::SIG_SETMASK, &forwarded, &mut original) != 0 {
            return fail(&format!("block signals: {}", errno_text()));
        }
    }
    // A background process group touching the terminal gets these; we give the terminal away.
    // SAFETY: setting a disposition to SIG_IGN installs no handler code.
    let (old_ttin, old_ttou) = unsafe {
        (
            libc::signal(libc::SIGTTIN, libc::SIG_IGN),
            libc::signal(libc::SIGTTOU, libc::SIG_IGN),
        )
    };

    // SAFETY: single-threaded program; the child only makes async-signal-safe calls before exec.
    let child = unsafe { libc::fork() };
    if child < 0 {
        return fail(&format!("fork: {}", errno_text()));
    }
    if child == 0 {
        run_command(&argv, &original, old_ttin, old_ttou);
    }
    supervise(child, &forwarded)
}

/// In the forked child: own process group, the terminal's foreground, original signal state,
/// then exec. Never returns.
fn run_command(
    argv: &[CString],
    original: &libc::sigset_t,
    old_ttin: libc::sighandler_t,
    old_ttou: libc::sighandler_t,
) -> ! {
    let mut pointers: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    pointers.push(std::ptr::null());
    // SAFETY: async-signal-safe syscalls between fork and exec; pointers outlive execvp.
    unsafe {
        libc::setpgid(0, 0);
        if libc::isatty(libc::STDIN_FILENO) == 1 {
            libc::tcsetpgrp(libc::STDIN_FILENO, libc::getpgrp());
        }
        libc::signal(libc::SIGTTIN, old_ttin);
        libc::signal(libc::SIGTTOU, old_ttou);
        libc::sigprocmask(libc::SIG_SETMASK, original, std::ptr::null_mut());
        libc::execvp(pointers[0], pointers.as_ptr());
    }
    let error = std::io::Error::last_os_error();
    let code = if error.kind() == std::io::ErrorKind::NotFound {
        127
    } else {
        126
    };
    // Allocating here is fine: this process has a single thread, so no lock can be held.
    eprintln!("berth-init: exec {}: {error}", argv[0].to_string_lossy());
    // SAFETY: leaves the forked child without running the parent's exit handlers.
    unsafe { libc::_exit(code) }
}

/// 128+N for a signal, the exit code otherwise (the shell's convention, as tini).
fn exit_code(status: libc::c_int) -> u8 {
    if libc::WIFSIGNALED(status) {
        (128 + libc::WTERMSIG(status)) as u8
    } else {
        libc::WEXITSTATUS(status) as u8
    }
}

/// Reaps every child that has ended; the command's status once it is among them.
fn reap(command: libc::pid_t) -> Option<u8> {
    let mut result = None;
    loop {
        let mut status = 0;
        // SAFETY: status is a valid out pointer.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid <= 0 {
            return result;
        }
        if pid == command {
            result = Some(exit_code(status));
        }
    }
}

fn supervise(command: libc::pid_t, forwarded: &libc::sigset_t) -> ExitCode {
    loop {
        // SAFETY: info is plain data the kernel fills in.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: forwarded is an initialised set; all its signals are blocked.
        let sig = unsafe { libc::sigwaitinfo(forwarded, &mut info) };
        if sig < 0 {
            continue;
        }
        if sig != libc::SIGCHLD {
            // SAFETY: kill with our own child's pid; ESRCH (already gone) is harmless.
            unsafe { libc::kill(command, sig) };
            continue;
        }
        if let Some(code) = reap(command) {
            return ExitCode::from(code);
        }
    }
}
