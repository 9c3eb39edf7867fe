//! OCI lifecycle hooks: programs the spec asks to run at points of the container's life, each given
//! the container's state on stdin. Who runs them and where (see container.rs and init.rs):
//! - prestart, createRuntime: the runtime, once the init has its namespaces and mounts, before pivot_root;
//! - createContainer: the init, in the container's namespaces, before pivot_root;
//! - startContainer: the init, in the container, after `start`, before exec of the process;
//! - poststart: the runtime, once the process runs (a failure stops the container and fails
//!   `start`, as runtime-spec 1.3 says; until 1.2 it was a warning);
//! - poststop: the runtime, once the container is deleted (failures are warnings).

use crate::config::Invalid;
use crate::sys;
use oci_spec::runtime::{Hook, Hooks, Spec};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookKind {
    Prestart,
    CreateRuntime,
    CreateContainer,
    StartContainer,
    Poststart,
    Poststop,
}

impl HookKind {
    pub const ALL: [HookKind; 6] = [
        HookKind::Prestart,
        HookKind::CreateRuntime,
        HookKind::CreateContainer,
        HookKind::StartContainer,
        HookKind::Poststart,
        HookKind::Poststop,
    ];

    /// The name of the hook list in config.json.
    pub fn name(self) -> &'static str {
        match self {
            HookKind::Prestart => "prestart",
            HookKind::CreateRuntime => "createRuntime",
            HookKind::CreateContainer => "createContainer",
            HookKind::StartContainer => "startContainer",
            HookKind::Poststart => "poststart",
            HookKind::Poststop => "poststop",
        }
    }

    #[allow(deprecated)] // prestart is deprecated by the spec, and still run by runtimes.
    fn list(self, hooks: &Hooks) -> &[Hook] {
        let list = match self {
            HookKind::Prestart => hooks.prestart(),
            HookKind::CreateRuntime => hooks.create_runtime(),
            HookKind::CreateContainer => hooks.create_container(),
            HookKind::StartContainer => hooks.start_container(),
            HookKind::Poststart => hooks.poststart(),
            HookKind::Poststop => hooks.poststop(),
        };
        list.as_deref().unwrap_or_default()
    }
}

/// The hooks of one kind in a spec's (or a container record's) hook lists.
pub fn of_kind(hooks: Option<&Hooks>, kind: HookKind) -> &[Hook] {
    hooks.map(|h| kind.list(h)).unwrap_or_default()
}

pub fn has(hooks: Option<&Hooks>, kind: HookKind) -> bool {
    !of_kind(hooks, kind).is_empty()
}

/// A hook that failed: which one (`hooks.createRuntime[0] /path`) and how.
#[derive(Debug, Clone)]
pub struct HookFailure {
    pub hook: String,
    pub reason: String,
}

impl std::fmt::Display for HookFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.hook, self.reason)
    }
}

impl From<HookFailure> for crate::channel::InitFailure {
    fn from(failure: HookFailure) -> Self {
        crate::channel::InitFailure::msg(failure.hook, failure.reason)
    }
}

impl From<HookFailure> for crate::Error {
    fn from(failure: HookFailure) -> Self {
        crate::Error::Other(failure.to_string())
    }
}

/// The OCI state document given to hooks on stdin.
pub fn state(
    id: &str,
    status: &str,
    pid: i32,
    bundle: &Path,
    annotations: &HashMap<String, String>,
) -> Value {
    json!({
        "ociVersion": crate::defaults::OCI_VERSION,
        "id": id,
        "status": status,
        "pid": pid,
        "bundle": bundle,
        "annotations": annotations,
    })
}

/// Refuses hooks the runtime could not run: a relative path, a timeout that is not positive,
/// an environment entry that is not NAME=VALUE.
pub fn check(spec: &Spec) -> Result<(), Invalid> {
    for kind in HookKind::ALL {
        for (i, hook) in of_kind(spec.hooks().as_ref(), kind).iter().enumerate() {
            let field = format!("hooks.{}[{i}]", kind.name());
            if !hook.path().is_absolute() {
                return Err(Invalid::new(
                    format!("{field}.path"),
                    format!("{:?} must be an absolute path", hook.path()),
                ));
            }
            if let Some(timeout) = hook.timeout()
                && timeout <= 0
            {
                return Err(Invalid::new(
                    format!("{field}.timeout"),
                    format!("{timeout} must be greater than zero"),
                ));
            }
            for (j, var) in hook.env().iter().flatten().enumerate() {
                if !var.contains('=') || var.contains('\0') {
                    return Err(Invalid::new(
                        format!("{field}.env[{j}]"),
                        format!("{var:?} is not NAME=VALUE"),
                    ));
                }
            }
            if hook.args().iter().flatten().any(|a| a.contains('\0')) {
                return Err(Invalid::new(
                    format!("{field}.args"),
                    "an argument contains a NUL byte",
                ));
            }
        }
    }
    Ok(())
}

/// Runs the hooks of one kind in order; the first failure stops the rest and is returned.
pub fn run(hooks: Option<&Hooks>, kind: HookKind, state: &Value) -> Result<(), HookFailure> {
    run_each(hooks, kind, state, None)
}

/// Runs the hooks of a kind the init runs inside the container (createContainer, startContainer):
/// one without an `env` list gets the container's `process_env`, never the caller's environment.
pub fn run_in_container(
    hooks: Option<&Hooks>,
    kind: HookKind,
    state: &Value,
    process_env: &[String],
) -> Result<(), HookFailure> {
    run_each(hooks, kind, state, Some(process_env))
}

fn run_each(
    hooks: Option<&Hooks>,
    kind: HookKind,
    state: &Value,
    default_env: Option<&[String]>,
) -> Result<(), HookFailure> {
    let list = of_kind(hooks, kind);
    if list.is_empty() {
        return Ok(());
    }
    let input = state.to_string();
    for (i, hook) in list.iter().enumerate() {
        run_one(hook, input.as_bytes(), default_env).map_err(|reason| HookFailure {
            hook: format!("hooks.{}[{i}] {}", kind.name(), hook.path().display()),
            reason,
        })?;
    }
    Ok(())
}

/// Runs every hook of one kind; a failure is printed as a warning and the next hook still runs
/// (the spec's rule for poststop).
pub fn run_warning_on_failure(hooks: Option<&Hooks>, kind: HookKind, state: &Value) {
    let input = state.to_string();
    for (i, hook) in of_kind(hooks, kind).iter().enumerate() {
        if let Err(reason) = run_one(hook, input.as_bytes(), None) {
            eprintln!(
                "berth-runtime: warning: hooks.{}[{i}] {}: {reason}",
                kind.name(),
                hook.path().display()
            );
        }
    }
}

/// An anonymous in-memory file: the hook's stdin, stdout or stderr. A file, not a pipe, so that
/// neither a hook that does not read its stdin nor a background child of it that keeps its
/// output open can block the runtime.
fn memory_file(name: &std::ffi::CStr) -> io::Result<File> {
    sys::memfd_create(name, libc::MFD_CLOEXEC).map(File::from)
}

const OUTPUT_EXCERPT: usize = 1024;

/// Runs one hook to completion (or its timeout); the error says what went wrong. A hook without
/// an `env` list gets `default_env`, or without one inherits ours.
fn run_one(hook: &Hook, input: &[u8], default_env: Option<&[String]>) -> Result<(), String> {
    fn io_error(what: &'static str) -> impl FnOnce(io::Error) -> String {
        move |e| format!("{what}: {e}")
    }
    let mut stdin = memory_file(c"berth-hook-stdin").map_err(io_error("stdin"))?;
    stdin.write_all(input).map_err(io_error("stdin"))?;
    // The child gets a dup sharing our file offset: rewind it to the start of the state.
    std::io::Seek::rewind(&mut stdin).map_err(io_error("stdin"))?;
    let stdout = memory_file(c"berth-hook-stdout").map_err(io_error("stdout"))?;
    let stderr = memory_file(c"berth-hook-stderr").map_err(io_error("stderr"))?;

    let mut command = Command::new(hook.path());
    if let Some((first, rest)) = hook.args().as_deref().and_then(<[String]>::split_first) {
        command.arg0(first).args(rest);
    }
    // A hook with an `env` list gets exactly that. std resets the signal mask and dispositions in
    // the child, so the signals the runtime blocks reach the hook.
    if let Some(vars) = hook.env().as_deref().or(default_env) {
        command
            .env_clear()
            .envs(vars.iter().filter_map(|var| var.split_once('=')));
    }
    command
        .stdin(Stdio::from(stdin))
        .stdout(Stdio::from(stdout.try_clone().map_err(io_error("stdout"))?))
        .stderr(Stdio::from(stderr.try_clone().map_err(io_error("stderr"))?));
    let mut child = command.spawn().map_err(io_error("start"))?;
    let timeout = hook
        .timeout()
        .map(|seconds| Duration::from_secs(seconds.max(1) as u64));
    let status = match wait(&mut child, timeout).map_err(io_error("wait"))? {
        Some(status) => status,
        None => {
            // Our own unreaped child: its pid cannot have been reused.
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "did not finish within its timeout of {}s (killed)",
                timeout.unwrap_or_default().as_secs()
            ));
        }
    };
    if status.success() {
        return Ok(());
    }
    let how = match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        (None, None) => format!("ended with wait status {}", status.into_raw()),
    };
    let excerpt = excerpt(&stderr).or_else(|| excerpt(&stdout));
    Err(match excerpt {
        Some(text) => format!("{how}: {text}"),
        None => how,
    })
}

/// The start of what a hook wrote, trimmed, on one line.
fn excerpt(file: &File) -> Option<String> {
    let mut buf = vec![0u8; OUTPUT_EXCERPT];
    let n = file.read_at(&mut buf, 0).ok()?;
    let text = String::from_utf8_lossy(&buf[..n]);
    let text = text.trim();
    (!text.is_empty()).then(|| text.replace('\n', "; "))
}

/// Waits for the child; `None` when the timeout passed first.
fn wait(child: &mut Child, timeout: Option<Duration>) -> io::Result<Option<ExitStatus>> {
    let Some(timeout) = timeout else {
        return child.wait().map(Some);
    };
    let pidfd = sys::pidfd_open(child.id() as libc::pid_t)?;
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let wait_for = rustix::event::Timespec {
            tv_sec: left.as_secs() as i64,
            tv_nsec: i64::from(left.subsec_nanos()),
        };
        let mut fds = [rustix::event::PollFd::new(
            &pidfd,
            rustix::event::PollFlags::IN,
        )];
        match rustix::event::poll(&mut fds, Some(&wait_for)) {
            Ok(n) if n > 0 => return child.wait().map(Some),
            Ok(_) if left.is_zero() => return Ok(None),
            Ok(_) | Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}
