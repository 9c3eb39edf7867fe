//! Execs: more processes in the running container (docs/shim.md "Exec"). A runtime helper
//! starts each, as it does the container's own operations; once the helper has exited, the
//! process is our child (we are the subreaper), so its exit arrives as SIGCHLD like the init's.
//! Its stdio is a [`ProcIo`] like the container's, streamed to the client that asked for it
//! (never logged). Its exit is kept until berthd asks for it once.

use super::{DRAIN_TIMEOUT, Job, Monitor, Phase, broadcast, error, resize, stream_of, wrong_state};
use crate::conn::Attach;
use crate::helper::{self, Helper};
use crate::stdio::{ChildStdio, Proc, ProcIo, Streams};
use crate::{ops, timefmt};
use berth_shim_protocol::{ErrorKind, ExecState, Exit, Response};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Execs starting or running at once; each holds a few descriptors.
const MAX_LIVE: usize = 256;
/// Exits nobody has asked for (berthd restarted, say) kept before the oldest is dropped.
const MAX_UNCLAIMED: usize = 64;
/// Exits reaped while an exec's helper runs, before its pid is known (bounded: a container
/// without a PID namespace hands us its orphans too).
const MAX_EARLY_EXITS: usize = 1024;

enum ExecPhase {
    /// Its helper is queued or running; the process's stdio waits in here.
    Starting(ChildStdio),
    Running,
    /// Reaped; the output is drained until this deadline.
    Exiting(Instant),
    Exited,
}

struct Exec {
    serial: u64,
    id: String,
    process: PathBuf,
    streams: Streams,
    phase: ExecPhase,
    pid: i32,
    io: Option<ProcIo>,
    started_at: Option<String>,
    exit: Option<Exit>,
}

impl Exec {
    fn process_alive(&self) -> bool {
        self.pid > 0 && self.exit.is_none()
    }
}

#[derive(Default)]
pub(super) struct Execs {
    list: Vec<Exec>,
    next_serial: u64,
    early_exits: Vec<(libc::pid_t, libc::c_int)>,
}

impl Execs {
    fn get(&self, serial: u64) -> Option<&Exec> {
        self.list.iter().find(|e| e.serial == serial)
    }

    fn get_mut(&mut self, serial: u64) -> Option<&mut Exec> {
        self.list.iter_mut().find(|e| e.serial == serial)
    }

    pub(super) fn io(&self, serial: u64) -> Option<&ProcIo> {
        self.get(serial)?.io.as_ref()
    }

    pub(super) fn io_mut(&mut self, serial: u64) -> Option<&mut ProcIo> {
        self.get_mut(serial)?.io.as_mut()
    }

    /// The stdio of every exec whose output is still read.
    pub(super) fn ios(&self) -> impl Iterator<Item = (Proc, &ProcIo)> {
        self.list
            .iter()
            .filter_map(|e| Some((Proc::Exec(e.serial), e.io.as_ref()?)))
    }

    pub(super) fn deadline(&self) -> Option<Instant> {
        self.list
            .iter()
            .filter_map(|e| match e.phase {
                ExecPhase::Exiting(at) => Some(at),
                _ => None,
            })
            .min()
    }

    pub(super) fn any_process_alive(&self) -> bool {
        self.list.iter().any(Exec::process_alive)
    }

    /// SIGKILLs every exec's process: the container has ended. Each is our child and not yet
    /// reaped, so its pid cannot have been reused.
    pub(super) fn kill_all(&self) {
        for exec in self.list.iter().filter(|e| e.process_alive()) {
            kill(exec.pid);
        }
    }

    fn live(&self) -> usize {
        self.list
            .iter()
            .filter(|e| !matches!(e.phase, ExecPhase::Exited))
            .count()
    }

    /// Keeps the newest [`MAX_UNCLAIMED`] exits nobody asked for.
    fn drop_old_exits(&mut self) {
        let exited = self
            .list
            .iter()
            .filter(|e| matches!(e.phase, ExecPhase::Exited))
            .count();
        let mut extra = exited.saturating_sub(MAX_UNCLAIMED);
        self.list.retain(|e| {
            let drop = extra > 0 && matches!(e.phase, ExecPhase::Exited);
            extra -= usize::from(drop);
            !drop
        });
    }
}

fn kill(pid: i32) {
    if let Some(pid) = rustix::process::Pid::from_raw(pid) {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
    }
}

impl Monitor {
    /// An `exec` request from client `conn`: queued (None), or refused with the answer.
    pub(super) fn exec_request(
        &mut self,
        conn: u64,
        exec_id: String,
        process: String,
        streams: Streams,
    ) -> Option<Response> {
        if self.phase != Phase::Running {
            return Some(wrong_state(format!(
                "container is {}: exec needs it running",
                self.status_name()
            )));
        }
        if !Path::new(&process).is_absolute() {
            return Some(error(
                ErrorKind::BadRequest,
                format!("process {process:?}: must be an absolute path"),
            ));
        }
        if self.execs.list.iter().any(|e| e.id == exec_id) {
            return Some(error(
                ErrorKind::BadRequest,
                format!("exec {exec_id} exists already"),
            ));
        }
        if self.execs.live() >= MAX_LIVE {
            return Some(error(
                ErrorKind::Failed,
                format!("{MAX_LIVE} execs run in this container already"),
            ));
        }
        let serial = self.execs.next_serial;
        self.execs.next_serial += 1;
        let console = self.cfg.state_dir.join(format!("exec-{serial}.sock"));
        let stdio = match ChildStdio::new(streams, &console) {
            Ok(stdio) => stdio,
            Err(message) => {
                return Some(error(
                    ErrorKind::Failed,
                    format!("exec {exec_id}: {message}"),
                ));
            }
        };
        self.execs.list.push(Exec {
            serial,
            id: exec_id,
            process: PathBuf::from(process),
            streams,
            phase: ExecPhase::Starting(stdio),
            pid: 0,
            io: None,
            started_at: None,
            exit: None,
        });
        self.queue(conn, Job::Exec { serial });
        None
    }

    pub(super) fn spawn_exec(&mut self, serial: u64) -> std::io::Result<Helper> {
        let (cfg, execs) = (&self.cfg, &mut self.execs);
        let Some(exec) = execs.get_mut(serial) else {
            return Err(std::io::Error::other("the exec is gone"));
        };
        let ExecPhase::Starting(stdio) = &mut exec.phase else {
            return Err(std::io::Error::other("the exec has started already"));
        };
        let files = ops::ExecFiles {
            process: &exec.process,
            console_socket: stdio.console_path(),
            scratch: cfg.state_dir.join(format!("exec-{serial}")),
        };
        let spawned = helper::spawn(stdio.for_child(), || {
            ops::exec(cfg, &files).map(|pid| pid.to_string())
        });
        stdio.close_child_ends();
        spawned
    }

    /// The exec's helper ended: the process runs (answer, and stream if asked), or it failed.
    pub(super) fn exec_job_done(
        &mut self,
        conn: Option<u64>,
        serial: u64,
        answer: Result<String, String>,
    ) {
        let started = self.start_exec(serial, answer);
        let early = std::mem::take(&mut self.execs.early_exits);
        let i = conn.and_then(|c| self.conn_index(c));
        let (response, attach) = match started {
            Ok(pid) => {
                if let Some(&(_, status)) = early.iter().find(|(p, _)| *p == pid) {
                    self.exec_exited(serial, status);
                }
                // The container ended while the helper ran.
                if self.phase != Phase::Running {
                    kill(pid);
                }
                let streams = self.execs.get(serial).map(|e| e.streams);
                let attach = streams
                    .filter(|s| s.stdin || s.stdout || s.stderr)
                    .map(|s| Attach {
                        target: Proc::Exec(serial),
                        stdin: s.stdin,
                        stdout: s.stdout,
                        stderr: s.stderr,
                        close_stdin_on_eof: true,
                    });
                (Response::ExecStarted { pid }, attach)
            }
            Err(message) => (error(ErrorKind::Failed, message), None),
        };
        if let Some(i) = i {
            self.conns[i].answer(&response);
            if attach.is_some() {
                self.conns[i].attach = attach;
                self.forward_early_input(i);
            }
        }
    }

    /// Takes the process's stdio over from the starting exec; its pid. A failed exec is gone.
    fn start_exec(&mut self, serial: u64, answer: Result<String, String>) -> Result<i32, String> {
        let Some(pos) = self.execs.list.iter().position(|e| e.serial == serial) else {
            return Err("the exec is gone".into());
        };
        let exec = &mut self.execs.list[pos];
        let stdio = match std::mem::replace(&mut exec.phase, ExecPhase::Running) {
            ExecPhase::Starting(stdio) => stdio,
            other => {
                exec.phase = other;
                return Err("the exec has started already".into());
            }
        };
        let started = answer.and_then(|text| {
            let pid: i32 = text
                .parse()
                .map_err(|_| format!("exec: the helper's answer {text:?} is not a pid"))?;
            match stdio.into_io() {
                Ok(io) => Ok((pid, io)),
                Err(message) => {
                    // Nobody could see its output or give it input.
                    kill(pid);
                    Err(format!("exec {}: {message}", exec.id))
                }
            }
        });
        match started {
            Ok((pid, io)) => {
                exec.pid = pid;
                exec.io = Some(io);
                exec.started_at = Some(timefmt::now());
                Ok(pid)
            }
            Err(message) => {
                self.execs.list.remove(pos);
                Err(message)
            }
        }
    }

    /// A reaped child that may be an exec's process (true if it was one, or may be).
    pub(super) fn exec_reaped(&mut self, pid: libc::pid_t, status: libc::c_int) {
        let serial = self
            .execs
            .list
            .iter()
            .find(|e| e.pid == pid && e.exit.is_none())
            .map(|e| e.serial);
        if let Some(serial) = serial {
            self.exec_exited(serial, status);
        } else if matches!(self.running, Some((_, _, Job::Exec { .. }))) {
            // Perhaps the process of the exec being started, which can end before its helper.
            let early = &mut self.execs.early_exits;
            if early.len() >= MAX_EARLY_EXITS {
                early.remove(0);
            }
            early.push((pid, status));
        }
    }

    fn exec_exited(&mut self, serial: u64, status: libc::c_int) {
        let Some(exec) = self.execs.get_mut(serial) else {
            return;
        };
        exec.exit = Some(Exit {
            exit_code: berth_runtime_core::sys::exit_code(status),
            signal: libc::WIFSIGNALED(status).then(|| libc::WTERMSIG(status)),
            started_at: exec.started_at.clone(),
            finished_at: timefmt::now(),
            shim_lost: false,
        });
        exec.phase = ExecPhase::Exiting(Instant::now() + DRAIN_TIMEOUT);
        if let Some(io) = exec.io.as_mut() {
            io.close_input_now();
        }
    }

    pub(super) fn exec_read_output(&mut self, serial: u64, index: usize) {
        let conns = &mut self.conns;
        if let Some(exec) = self.execs.get_mut(serial)
            && let Some(io) = exec.io.as_mut()
        {
            let tty = exec.streams.tty;
            io.read_output(index, |data| {
                broadcast(conns, Proc::Exec(serial), tty, stream_of(index), data)
            });
        }
    }

    /// Ends the execs whose process was reaped and whose output is drained (or overdue).
    pub(super) fn execs_after_events(&mut self, now: Instant) {
        let done: Vec<u64> = self
            .execs
            .list
            .iter()
            .filter(|e| match e.phase {
                ExecPhase::Exiting(deadline) => {
                    now >= deadline || e.io.as_ref().is_none_or(ProcIo::drained)
                }
                _ => false,
            })
            .map(|e| e.serial)
            .collect();
        for serial in done {
            self.finalize_exec(serial);
        }
    }

    fn finalize_exec(&mut self, serial: u64) {
        let conns = &mut self.conns;
        let Some(exec) = self.execs.get_mut(serial) else {
            return;
        };
        let tty = exec.streams.tty;
        if let Some(mut io) = exec.io.take() {
            io.finish(|index, data| {
                broadcast(conns, Proc::Exec(serial), tty, stream_of(index), data)
            });
        }
        exec.phase = ExecPhase::Exited;
        for conn in conns.iter_mut() {
            if conn.attach.is_some_and(|a| a.target == Proc::Exec(serial)) {
                conn.close_after_flush = true;
                conn.flush();
            }
        }
        self.execs.drop_old_exits();
    }

    /// `exec_state`: an exit is answered once, and the exec is then forgotten.
    pub(super) fn exec_state(&mut self, exec_id: &str) -> Response {
        let Some(pos) = self.execs.list.iter().position(|e| e.id == exec_id) else {
            return no_such_exec(exec_id);
        };
        let exec = &self.execs.list[pos];
        let exited = matches!(exec.phase, ExecPhase::Exited);
        let state = ExecState {
            exec_id: exec.id.clone(),
            pid: exec.pid,
            running: !exited,
            exit: if exited { exec.exit.clone() } else { None },
        };
        if exited {
            self.execs.list.remove(pos);
        }
        Response::ExecState(state)
    }

    pub(super) fn exec_resize(&self, exec_id: &str, rows: u16, cols: u16) -> Response {
        match self.execs.list.iter().find(|e| e.id == exec_id) {
            None => no_such_exec(exec_id),
            Some(exec) => match &exec.io {
                Some(io) => resize(io, &format!("exec {exec_id}"), rows, cols),
                None => wrong_state(format!("exec {exec_id} is not running")),
            },
        }
    }
}

fn no_such_exec(exec_id: &str) -> Response {
    error(ErrorKind::NotFound, format!("no exec {exec_id} here"))
}
