//! The container operations, through the runtime library (the default) or a runc-compatible
//! binary (`--runtime`). Each runs inside a forked helper (see `helper`), never in the monitor.

use crate::args::Config;
use berth_runtime_core::container::{self, CreateOptions};
use berth_runtime_core::exec::{ExecOptions, ProcessRequest};
use berth_runtime_core::state::StateRoot;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Creates the container; its init waits for `start`. Runs in a helper whose stdio is the
/// container's. Returns the init's pid.
pub fn create(cfg: &Config, console_socket: Option<&Path>) -> Result<i32, String> {
    check_terminal(cfg)?;
    match &cfg.runtime {
        None => {
            let opts = CreateOptions {
                id: cfg.id.clone(),
                bundle: cfg.bundle.clone(),
                pid_file: None,
                console_socket: console_socket.map(Path::to_path_buf),
                no_pivot: false,
                preserve_fds: 0,
                no_new_keyring: false,
            };
            let created = container::create(&StateRoot::new(&cfg.runtime_root), &opts, false)
                .map_err(|e| format!("create {}: {e}", cfg.id))?;
            Ok(created.record.pid)
        }
        Some(binary) => {
            let mut args = vec![OsString::from("create"), "--bundle".into()];
            args.push(cfg.bundle.clone().into());
            run_detached(
                cfg,
                binary,
                args,
                console_socket,
                &cfg.state_dir.join("init.pid"),
                &cfg.state_dir.join("runtime-create.log"),
            )
        }
    }
}

/// Where an exec's process JSON is and where its helper may put its files.
pub struct ExecFiles<'a> {
    pub process: &'a Path,
    pub console_socket: Option<&'a Path>,
    /// Prefix of the pid file and the runtime's log, removed again before the helper ends.
    pub scratch: PathBuf,
}

/// Starts an exec's process in the running container and leaves it running; its pid. Runs in
/// a helper whose stdio is the process's; once the helper exits the process is our child.
pub fn exec(cfg: &Config, files: &ExecFiles<'_>) -> Result<i32, String> {
    let pid_file = files.scratch.with_extension("pid");
    match &cfg.runtime {
        None => {
            let opts = ExecOptions {
                id: cfg.id.clone(),
                request: ProcessRequest {
                    process_file: Some(files.process.to_path_buf()),
                    ..ProcessRequest::default()
                },
                detach: true,
                pid_file: Some(pid_file.clone()),
                console_socket: files.console_socket.map(Path::to_path_buf),
                preserve_fds: 0,
                ignore_paused: false,
            };
            let ran = berth_runtime_core::exec::exec(&root(cfg), &opts)
                .map_err(|e| format!("exec in {}: {e}", cfg.id));
            let pid = ran.and_then(|_| read_pid_file(&pid_file));
            let _ = std::fs::remove_file(&pid_file);
            pid
        }
        Some(binary) => {
            let mut args = vec![OsString::from("exec"), "--process".into()];
            args.extend([files.process.into(), "--detach".into()]);
            run_detached(
                cfg,
                binary,
                args,
                files.console_socket,
                &pid_file,
                &files.scratch.with_extension("log"),
            )
        }
    }
}

/// `create` or `exec --detach` through a runc-compatible binary, whose stdio (ours) the
/// process inherits: the pid it wrote, or the error from its JSON log.
fn run_detached(
    cfg: &Config,
    binary: &PathBuf,
    verb: Vec<OsString>,
    console_socket: Option<&Path>,
    pid_file: &Path,
    log: &Path,
) -> Result<i32, String> {
    let what = verb
        .first()
        .map(|v| v.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut cmd = runtime_command(cfg, binary);
    cmd.arg("--log").arg(log).args(["--log-format", "json"]);
    cmd.args(verb).arg("--pid-file").arg(pid_file);
    if let Some(socket) = console_socket {
        cmd.arg("--console-socket").arg(socket);
    }
    cmd.arg(&cfg.id);
    let status = cmd.status();
    let reason = runtime_error(log);
    let _ = std::fs::remove_file(log);
    let outcome = match status {
        Err(e) => Err(format!("run {}: {e}", binary.display())),
        Ok(status) if !status.success() => Err(format!(
            "{} {what} {}: {}",
            binary.display(),
            cfg.id,
            reason.unwrap_or_else(|| format!("failed ({status})"))
        )),
        Ok(_) => read_pid_file(pid_file),
    };
    let _ = std::fs::remove_file(pid_file);
    outcome
}

fn read_pid_file(path: &Path) -> Result<i32, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("read the runtime's pid file {}: {e}", path.display()))?;
    text.trim()
        .parse()
        .map_err(|_| format!("pid file {}: {text:?} is not a pid", path.display()))
}

/// `-t` and the config's `process.terminal` must agree: the runtime would otherwise wait for a
/// console socket nobody gives, or send a pty master nobody receives.
fn check_terminal(cfg: &Config) -> Result<(), String> {
    let path = cfg.bundle.join("config.json");
    let text = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let config: serde_json::Value =
        serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let terminal = config["process"]["terminal"].as_bool().unwrap_or(false);
    match (terminal, cfg.tty) {
        (true, false) => Err(format!(
            "{}: process.terminal is true: the shim needs -t for it",
            path.display()
        )),
        (false, true) => Err(format!(
            "{}: -t needs process.terminal true in the config",
            path.display()
        )),
        _ => Ok(()),
    }
}

pub fn start(cfg: &Config) -> Result<(), String> {
    match &cfg.runtime {
        None => container::start(&root(cfg), &cfg.id).map_err(|e| format!("start {}: {e}", cfg.id)),
        Some(binary) => run(cfg, binary, &["start", &cfg.id]).map(drop),
    }
}

pub fn kill(cfg: &Config, signal: i32, all: bool) -> Result<(), String> {
    match &cfg.runtime {
        None => container::kill(&root(cfg), &cfg.id, signal, all)
            .map_err(|e| format!("kill {}: {e}", cfg.id)),
        Some(binary) => {
            let signal = signal.to_string();
            let mut args = vec!["kill"];
            if all {
                args.push("--all");
            }
            args.extend([cfg.id.as_str(), signal.as_str()]);
            run(cfg, binary, &args).map(drop)
        }
    }
}

/// Removes the runtime's state and the cgroup of a container whose processes are gone; `force`
/// kills what is left first (cleanup after the shim died).
pub fn delete(cfg: &Config, force: bool) -> Result<(), String> {
    match &cfg.runtime {
        None => container::delete(&root(cfg), &cfg.id, force)
            .map_err(|e| format!("delete {}: {e}", cfg.id)),
        Some(binary) => {
            let mut args = vec!["delete"];
            if force {
                args.push("--force");
            }
            args.push(&cfg.id);
            run(cfg, binary, &args).map(drop)
        }
    }
}

/// The container's processes, as a JSON array of host pids.
pub fn pids(cfg: &Config) -> Result<String, String> {
    let pids = match &cfg.runtime {
        None => container::pids(&root(cfg), &cfg.id).map_err(|e| format!("ps {}: {e}", cfg.id))?,
        Some(binary) => {
            let out = run(cfg, binary, &["ps", "--format", "json", &cfg.id])?;
            serde_json::from_str::<Vec<i32>>(out.trim())
                .map_err(|e| format!("{} ps: unexpected output {out:?}: {e}", binary.display()))?
        }
    };
    serde_json::to_string(&pids).map_err(|e| e.to_string())
}

fn root(cfg: &Config) -> StateRoot {
    StateRoot::new(&cfg.runtime_root)
}

fn runtime_command(cfg: &Config, binary: &PathBuf) -> Command {
    let mut cmd = Command::new(binary);
    cmd.args(&cfg.runtime_args)
        .arg("--root")
        .arg(&cfg.runtime_root);
    cmd
}

/// Runs a short runtime command (not the container's create): its output, or its error text.
fn run(cfg: &Config, binary: &PathBuf, args: &[&str]) -> Result<String, String> {
    let out = runtime_command(cfg, binary)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("run {}: {e}", binary.display()))?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let reason = stderr.trim();
    Err(format!(
        "{} {}: {}",
        binary.display(),
        args.join(" "),
        if reason.is_empty() {
            format!("failed ({})", out.status)
        } else {
            reason.replace('\n', "; ")
        }
    ))
}

/// The last error a runtime wrote to its `--log-format json` log.
fn runtime_error(log: &Path) -> Option<String> {
    let text = std::fs::read_to_string(log).ok()?;
    text.lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["level"] == "error" || v["level"] == "fatal")
        .find_map(|v| v["msg"].as_str().map(String::from))
}
