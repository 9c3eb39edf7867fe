//! From the command line to a created container: detach from the spawner, make the control
//! socket, the log and the container's stdio, create the container (in a helper), tell the
//! spawner, hand over to the monitor.

use crate::args::Config;
use crate::logfile::JsonLog;
use crate::monitor::{Monitor, Parts};
use crate::stdio::{ChildStdio, Streams};
use crate::{files, helper, ops, sys, timefmt};
use berth_shim_protocol::{self as proto, FailedStage, ShimRecord, SpawnReport};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

const CONSOLE_SOCKET: &str = "console.sock";

/// The spawn report channel: `--sync-fd N`, or our stdout as inherited.
pub fn sync_channel(sync_fd: Option<i32>) -> std::io::Result<OwnedFd> {
    match sync_fd {
        Some(n) => sys::take_inherited_fd(n),
        None => rustix::io::fcntl_dupfd_cloexec(rustix::stdio::stdout(), 3).map_err(Into::into),
    }
}

pub fn report(sync: &OwnedFd, report: &SpawnReport) {
    let Ok(mut line) = serde_json::to_vec(report) else {
        return;
    };
    line.push(b'\n');
    let mut rest = &line[..];
    while !rest.is_empty() {
        match rustix::io::write(sync, rest) {
            Ok(n) => rest = &rest[n..],
            Err(rustix::io::Errno::INTR) => continue,
            // The spawner is gone: nobody to tell.
            Err(_) => return,
        }
    }
}

pub fn failed(stage: FailedStage, message: String) -> SpawnReport {
    SpawnReport::Failed { stage, message }
}

/// Becomes the detached shim and runs it; never returns.
pub fn spawn(cfg: Config, sync: OwnedFd) -> ! {
    // The spawner waits for the process it started: that one exits at once, and the shim, its
    // child, is reparented (to the nearest subreaper or init) and outlives the spawner.
    match sys::fork() {
        Err(e) => {
            report(
                &sync,
                &failed(FailedStage::Setup, format!("fork the shim: {e}")),
            );
            berth_runtime_core::sys::exit_now(1)
        }
        Ok(0) => {}
        Ok(_) => berth_runtime_core::sys::exit_now(0),
    }
    let outcome = detach(&cfg).and_then(|()| setup(&cfg));
    match outcome {
        Ok(parts) => {
            let shim_pid = rustix::process::getpid().as_raw_nonzero().get();
            report(
                &sync,
                &SpawnReport::Created {
                    shim_pid,
                    init_pid: parts.init_pid,
                },
            );
            drop(sync);
            Monitor::new(cfg, parts).run();
            berth_runtime_core::sys::exit_now(0)
        }
        Err(failure) => {
            report(&sync, &failure);
            berth_runtime_core::sys::exit_now(1)
        }
    }
}

/// A session of our own, stdio away from the spawner's, no directory kept busy.
fn detach(cfg: &Config) -> Result<(), SpawnReport> {
    let fail = |what: &str, e: std::io::Error| failed(FailedStage::Setup, format!("{what}: {e}"));
    let _ = rustix::process::setsid();
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map_err(|e| fail("open /dev/null", e))?;
    let err: OwnedFd = match &cfg.shim_log {
        Some(path) => std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| fail(&format!("--shim-log {}", path.display()), e))?
            .into(),
        None => null
            .try_clone()
            .map_err(|e| fail("dup /dev/null", e))?
            .into(),
    };
    for (fd, number) in [(null.as_fd(), 0), (null.as_fd(), 1), (err.as_fd(), 2)] {
        berth_runtime_core::sys::dup2(fd, number)
            .map_err(|e| fail("redirect the shim's stdio", e))?;
    }
    rustix::process::chdir("/").map_err(|e| fail("chdir /", e.into()))?;
    // Our sockets and records are for root only; helpers restore 022 for what they make.
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    Ok(())
}

/// Files made so far, removed if the spawn fails.
struct Made(Vec<PathBuf>);

impl Drop for Made {
    fn drop(&mut self) {
        for path in &self.0 {
            files::remove(path);
        }
    }
}

fn setup(cfg: &Config) -> Result<Parts, SpawnReport> {
    let fail = |what: String, e: std::io::Error| failed(FailedStage::Setup, format!("{what}: {e}"));
    let dir = &cfg.state_dir;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| fail(format!("state directory {}", dir.display()), e))?;
    berth_runtime_core::sys::set_child_subreaper()
        .map_err(|e| fail("prctl(PR_SET_CHILD_SUBREAPER)".into(), e))?;
    let sigchld = berth_runtime_core::sys::sigset_of(&[libc::SIGCHLD]);
    berth_runtime_core::sys::sigprocmask(libc::SIG_BLOCK, &sigchld)
        .map_err(|e| fail("block SIGCHLD".into(), e))?;
    let signals =
        berth_runtime_core::sys::signalfd(&sigchld).map_err(|e| fail("signalfd".into(), e))?;
    sys::set_nonblocking(signals.as_fd()).map_err(|e| fail("signalfd".into(), e))?;

    let mut made = Made(Vec::new());
    let listener = bind_control(dir, &mut made)?;
    let log = open_log(cfg, &mut made)?;
    let streams = Streams {
        stdin: cfg.stdin,
        stdout: true,
        stderr: true,
        tty: cfg.tty,
    };
    let mut stdio = ChildStdio::new(streams, &dir.join(CONSOLE_SOCKET))
        .map_err(|m| failed(FailedStage::Setup, m))?;
    let console_path = stdio.console_path().map(Path::to_path_buf);
    let created = helper::run_blocking(stdio.for_child(), || {
        ops::create(cfg, console_path.as_deref()).map(|pid| pid.to_string())
    });
    stdio.close_child_ends();
    let init_pid: i32 = created
        .map_err(|m| failed(FailedStage::Create, m))?
        .parse()
        .map_err(|_| {
            failed(
                FailedStage::Setup,
                "create: the helper's answer is not a pid".into(),
            )
        })?;
    let created_at = timefmt::now();
    let finish = (|| -> Result<Parts, SpawnReport> {
        let io = stdio
            .into_io()
            .map_err(|m| failed(FailedStage::Setup, format!("the container's stdio: {m}")))?;
        write_record(cfg, init_pid, &created_at)?;
        Ok(Parts {
            listener: listener.into(),
            signals,
            init_pid,
            created_at: created_at.clone(),
            io,
            log: JsonLog::new(log),
        })
    })();
    match finish {
        Ok(parts) => {
            made.0.clear();
            Ok(parts)
        }
        Err(failure) => {
            // The container exists: it must not outlive the failed spawn.
            if let Err(e) =
                helper::run_blocking(None, || ops::delete(cfg, true).map(|()| String::new()))
            {
                eprintln!("berth-shim: remove the container after a failed spawn: {e}");
            }
            made.0.push(dir.join(proto::SHIM_FILE));
            Err(failure)
        }
    }
}

fn bind_control(dir: &Path, made: &mut Made) -> Result<UnixListener, SpawnReport> {
    let path = dir.join(proto::CONTROL_SOCKET);
    if UnixStream::connect(&path).is_ok() {
        return Err(failed(
            FailedStage::Setup,
            format!("{}: another shim is serving it", path.display()),
        ));
    }
    // A socket left by a shim that died: nobody listens on it.
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path)
        .map_err(|e| failed(FailedStage::Setup, format!("bind {}: {e}", path.display())))?;
    made.0.push(path.clone());
    listener
        .set_nonblocking(true)
        .map_err(|e| failed(FailedStage::Setup, format!("{}: {e}", path.display())))?;
    Ok(listener)
}

fn open_log(cfg: &Config, made: &mut Made) -> Result<Option<std::fs::File>, SpawnReport> {
    let Some(path) = &cfg.log_path else {
        return Ok(None);
    };
    let existed = path.exists();
    let file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o640)
        .open(path)
        .map_err(|e| {
            failed(
                FailedStage::Setup,
                format!("--log-path {}: {e}", path.display()),
            )
        })?;
    if !existed {
        made.0.push(path.clone());
        // Docker's mode for container logs; our umask (077) took the group bit off.
        use std::os::unix::fs::PermissionsExt;
        let _ = file.set_permissions(std::fs::Permissions::from_mode(0o640));
    }
    Ok(Some(file))
}

fn write_record(cfg: &Config, init_pid: i32, created_at: &str) -> Result<(), SpawnReport> {
    let shim_pid = rustix::process::getpid().as_raw_nonzero().get();
    let text = |p: &Path| p.display().to_string();
    let record = ShimRecord {
        id: cfg.id.clone(),
        shim_pid,
        shim_start_time: berth_runtime_core::process_info::start_time(shim_pid).unwrap_or(0),
        init_pid,
        bundle: text(&cfg.bundle),
        runtime_root: text(&cfg.runtime_root),
        runtime: cfg.runtime.as_deref().map(text),
        runtime_args: cfg.runtime_args.clone(),
        tty: cfg.tty,
        stdin: cfg.stdin,
        log_path: cfg.log_path.as_deref().map(text),
        created_at: created_at.to_string(),
    };
    files::write_json_atomic(&cfg.state_dir, proto::SHIM_FILE, &record).map_err(|e| {
        failed(
            FailedStage::Setup,
            format!(
                "write {}: {e}",
                cfg.state_dir.join(proto::SHIM_FILE).display()
            ),
        )
    })
}
