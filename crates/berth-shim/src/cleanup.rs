//! `berth-shim cleanup --state-dir DIR`: what berthd runs when a container's shim is gone
//! without an exit record (it was killed): kill what is left of the container, remove its
//! runtime state and cgroup, and record an exit marked `shim_lost`.

use crate::args::Config;
use crate::{files, ops, timefmt};
use berth_shim_protocol::{self as proto, Exit, ShimRecord};
use std::os::unix::net::UnixStream;
use std::path::Path;

/// Prints the exit record on stdout; returns the process's exit code.
pub fn run(dir: &Path) -> i32 {
    match clean(dir) {
        Ok(exit) => {
            println!("{}", serde_json::to_string(&exit).unwrap_or_default());
            0
        }
        Err(message) => {
            eprintln!("berth-shim cleanup {}: {message}", dir.display());
            1
        }
    }
}

fn clean(dir: &Path) -> Result<Exit, String> {
    let socket = dir.join(proto::CONTROL_SOCKET);
    if UnixStream::connect(&socket).is_ok() {
        return Err(format!(
            "the shim is alive ({} answers): ask it to delete",
            socket.display()
        ));
    }
    let exit_path = dir.join(proto::EXIT_FILE);
    let record_path = dir.join(proto::SHIM_FILE);
    let record: ShimRecord = match std::fs::read(&record_path) {
        Ok(bytes) => {
            serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", record_path.display()))?
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // Deleted already, or never created: nothing of the container is left to remove.
            return read_exit(&exit_path).ok_or_else(|| {
                format!(
                    "no {} and no {}: nothing to clean",
                    proto::SHIM_FILE,
                    proto::EXIT_FILE
                )
            });
        }
        Err(e) => return Err(format!("{}: {e}", record_path.display())),
    };
    // A shim frozen or stuck, not dead: it must not act on the container behind our back.
    if berth_runtime_core::process_info::is_same_process(record.shim_pid, record.shim_start_time)
        && let Some(pid) = rustix::process::Pid::from_raw(record.shim_pid)
    {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
    }
    let cfg = Config {
        id: record.id.clone(),
        bundle: record.bundle.clone().into(),
        state_dir: dir.to_path_buf(),
        runtime_root: record.runtime_root.clone().into(),
        runtime: record.runtime.clone().map(Into::into),
        runtime_args: record.runtime_args.clone(),
        stdin: record.stdin,
        tty: record.tty,
        log_path: None,
        sync_fd: None,
        shim_log: None,
        exit_timeout: None,
    };
    if let Err(e) = ops::delete(&cfg, true) {
        let gone = ["does not exist", "not found", "No such"]
            .iter()
            .any(|s| e.contains(s));
        if !gone {
            return Err(e);
        }
    }
    let exit = match read_exit(&exit_path) {
        Some(exit) => exit,
        None => {
            let exit = Exit {
                exit_code: 128 + libc::SIGKILL,
                signal: Some(libc::SIGKILL),
                started_at: None,
                finished_at: timefmt::now(),
                shim_lost: true,
            };
            files::write_json_atomic(dir, proto::EXIT_FILE, &exit)
                .map_err(|e| format!("write {}: {e}", exit_path.display()))?;
            exit
        }
    };
    files::remove(&socket);
    files::remove(&record_path);
    Ok(exit)
}

fn read_exit(path: &Path) -> Option<Exit> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}
