//! The container operations, through the runtime library (the default) or a runc-compatible
//! binary (`--runtime`). Each runs inside a forked helper (see `helper`), never in the monitor.

use crate::args::Config;
use berth_runtime_core::container::{self, CreateOptions};
use berth_runtime_core::state::StateRoot;
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
            let pid_file = cfg.state_dir.join("init.pid");
            let log = cfg.state_dir.join("runtime-create.log");
            let mut cmd = runtime_command(cfg, binary);
            cmd.arg("--log")
                .arg(&log)
                .args(["--log-format", "json", "create", "--bundle"]);
            cmd.arg(&cfg.bundle).arg("--pid-file").arg(&pid_file);
            if let Some(socket) = console_socket {
                cmd.arg("--console-socket").arg(socket);
            }
            cmd.arg(&cfg.id);
            // The runtime's own stdio is the container's: its init inherits it.
            let status = cmd.status();
            let reason = runtime_error(&log);
            let _ = std::fs::remove_file(&log);
            let status = status.map_err(|e| format!("run {}: {e}", binary.display()))?;
            if !status.success() {
                let _ = std::fs::remove_file(&pid_file);
                return Err(format!(
                    "{} create {}: {}",
                    binary.display(),
                    cfg.id,
                    reason.unwrap_or_else(|| format!("failed ({status})"))
                ));
            }
            let text = std::fs::read_to_string(&pid_file)
                .map_err(|e| format!("read the runtime's pid file {}: {e}", pid_file.display()));
            let _ = std::fs::remove_file(&pid_file);
            let text = text?;
            text.trim()
                .parse()
                .map_err(|_| format!("pid file {}: {text:?} is not a pid", pid_file.display()))
        }
    }
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
