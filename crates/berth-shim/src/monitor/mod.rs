//! The monitor: one poll loop over the container's output and input, its execs' (see
//! `execs`), SIGCHLD, the control socket and its clients, until the container has exited and
//! been deleted.

mod execs;

use crate::args::Config;
use crate::conn::{Attach, Conn, Read};
use crate::helper::{self, Helper};
use crate::logfile::{JsonLog, Stream};
use crate::stdio::{Proc, ProcIo};
use crate::{files, ops, sys, timefmt};
use berth_shim_protocol::{
    self as proto, ErrorKind, Exit, Request, Response, STREAM_STDERR, STREAM_STDOUT, State, Status,
};
use rustix::event::{PollFd, PollFlags};
use std::collections::VecDeque;
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

/// After a process exited, how long its output may take to reach end of file (processes left
/// without a PID namespace of their own can hold the pipes open).
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);
const MAX_CLIENTS: usize = 256;
/// Quiet time after which the code pages that handling events mapped are given back (see trim).
const IDLE_TRIM: Duration = Duration::from_secs(2);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    Created,
    Running,
    /// The init was reaped; the output is being drained.
    Exiting,
    Stopped,
}

#[derive(Clone, Copy, Debug)]
enum Job {
    Start,
    Kill { signal: i32, all: bool },
    Pids,
    Delete,
    Exec { serial: u64 },
}

/// What `setup` made for the monitor.
pub struct Parts {
    pub listener: OwnedFd,
    pub signals: OwnedFd,
    pub init_pid: i32,
    pub created_at: String,
    /// The container's stdio.
    pub io: ProcIo,
    pub log: JsonLog,
}

pub struct Monitor {
    cfg: Config,
    listener: OwnedFd,
    signals: OwnedFd,
    init_pid: i32,
    shim_pid: i32,
    phase: Phase,
    created_at: String,
    started_at: Option<String>,
    exit: Option<Exit>,
    drain_deadline: Option<Instant>,
    delete_deadline: Option<Instant>,
    init: ProcIo,
    log: JsonLog,
    execs: execs::Execs,
    conns: Vec<Conn>,
    next_conn: u64,
    jobs: VecDeque<(Option<u64>, Job)>,
    running: Option<(Helper, Option<u64>, Job)>,
    done: bool,
    /// Events were handled since the last trim.
    touched: bool,
    /// Give back the code pages right before the next wait (see trim): what runs between
    /// the trim and the wait faults its pages in again.
    trim_before_wait: bool,
}

#[derive(Clone, Copy)]
enum Slot {
    Listener,
    Signals,
    Output(Proc, usize),
    Input(Proc),
    Conn(u64),
}

impl Monitor {
    pub fn new(cfg: Config, parts: Parts) -> Monitor {
        Monitor {
            cfg,
            listener: parts.listener,
            signals: parts.signals,
            init_pid: parts.init_pid,
            shim_pid: rustix::process::getpid().as_raw_nonzero().get(),
            phase: Phase::Created,
            created_at: parts.created_at,
            started_at: None,
            exit: None,
            drain_deadline: None,
            delete_deadline: None,
            init: parts.io,
            log: parts.log,
            execs: execs::Execs::default(),
            conns: Vec::new(),
            next_conn: 1,
            jobs: VecDeque::new(),
            running: None,
            done: false,
            touched: false,
            trim_before_wait: true,
        }
    }

    /// Runs until the container is deleted.
    pub fn run(mut self) {
        while !self.done {
            let ready = self.poll_once();
            if ready.is_empty() && self.touched && self.next_deadline().is_none() {
                self.trim_before_wait = true;
                self.touched = false;
            }
            self.touched |= !ready.is_empty();
            for (slot, revents) in ready {
                self.handle(slot, revents);
            }
            self.after_events();
        }
    }

    fn poll_once(&mut self) -> Vec<(Slot, PollFlags)> {
        let mut slots = Vec::with_capacity(4 + self.conns.len());
        let mut fds = Vec::with_capacity(4 + self.conns.len());
        slots.push(Slot::Listener);
        fds.push(PollFd::new(&self.listener, PollFlags::IN));
        slots.push(Slot::Signals);
        fds.push(PollFd::new(&self.signals, PollFlags::IN));
        for (target, io) in std::iter::once((Proc::Init, &self.init)).chain(self.execs.ios()) {
            for index in 0..2 {
                if let Some(fd) = io.output(index) {
                    slots.push(Slot::Output(target, index));
                    fds.push(PollFd::new(fd, PollFlags::IN));
                }
            }
            if io.has_queued_input()
                && let Some(fd) = io.input_target()
            {
                slots.push(Slot::Input(target));
                fds.push(PollFd::from_borrowed_fd(fd, PollFlags::OUT));
            }
        }
        for conn in &self.conns {
            let mut events = PollFlags::empty();
            if self.wants_input(conn) {
                events |= PollFlags::IN;
            }
            if conn.has_output() {
                events |= PollFlags::OUT;
            }
            slots.push(Slot::Conn(conn.id));
            fds.push(PollFd::new(&conn.fd, events));
        }
        let idle = self.touched.then(|| Instant::now() + IDLE_TRIM);
        let deadline = match (self.next_deadline(), idle) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let timeout = deadline.map(|at| {
            let left = at.saturating_duration_since(Instant::now());
            rustix::event::Timespec {
                tv_sec: left.as_secs() as i64,
                tv_nsec: i64::from(left.subsec_nanos()),
            }
        });
        if std::mem::take(&mut self.trim_before_wait) {
            crate::trim::drop_setup_pages();
        }
        match rustix::event::poll(&mut fds, timeout.as_ref()) {
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => return Vec::new(),
            Err(e) => {
                // Nothing here can make poll fail but a kernel out of memory: wait and retry.
                eprintln!("berth-shim: poll: {e}");
                std::thread::sleep(Duration::from_millis(100));
                return Vec::new();
            }
        }
        slots
            .into_iter()
            .zip(fds.iter().map(PollFd::revents))
            .filter(|(_, r)| !r.is_empty())
            .collect()
    }

    fn wants_input(&self, conn: &Conn) -> bool {
        if conn.read_closed || conn.dead {
            return false;
        }
        match conn.attach {
            None => !conn.busy,
            Some(a) if a.stdin => match self.io(a.target) {
                Some(io) if io.stdin_open() => io.input_room(),
                _ => true,
            },
            // Read and dropped: only to notice the client going away.
            Some(_) => true,
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        [
            self.drain_deadline,
            self.delete_deadline,
            self.execs.deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn io(&self, target: Proc) -> Option<&ProcIo> {
        match target {
            Proc::Init => Some(&self.init),
            Proc::Exec(serial) => self.execs.io(serial),
        }
    }

    fn io_mut(&mut self, target: Proc) -> Option<&mut ProcIo> {
        match target {
            Proc::Init => Some(&mut self.init),
            Proc::Exec(serial) => self.execs.io_mut(serial),
        }
    }

    fn handle(&mut self, slot: Slot, revents: PollFlags) {
        match slot {
            Slot::Listener => self.accept(),
            Slot::Signals => self.reap(),
            Slot::Output(Proc::Init, i) => self.read_output(i),
            Slot::Output(Proc::Exec(serial), i) => self.exec_read_output(serial, i),
            Slot::Input(target) => {
                if let Some(io) = self.io_mut(target) {
                    io.flush_input();
                }
            }
            Slot::Conn(id) => self.conn_event(id, revents),
        }
    }

    fn after_events(&mut self) {
        let now = Instant::now();
        // A short-lived container can exit before its start's answer is read: wait for that
        // answer, so the exit record has the start time.
        let starting = matches!(self.running, Some((_, _, Job::Start)));
        let drain_over = self.drain_deadline.is_some_and(|d| now >= d);
        // Its execs were killed with it: their exits are recorded before the container's, so
        // whoever learns of the container's end can ask for theirs.
        if self.phase == Phase::Exiting
            && !starting
            && (self.init.drained() || drain_over)
            && (!self.execs.any_process_alive() || drain_over)
        {
            self.finalize();
        }
        self.execs_after_events(now);
        if self.delete_deadline.is_some_and(|d| now >= d)
            && self.running.is_none()
            && self.jobs.is_empty()
        {
            self.delete_deadline = None;
            eprintln!(
                "berth-shim: {}: no delete within --exit-timeout: deleting",
                self.cfg.id
            );
            self.jobs.push_back((None, Job::Delete));
        }
        self.conns.retain(|c| !c.dead);
        self.next_job();
    }

    // --- the container's side ---

    fn read_output(&mut self, index: usize) {
        let stream = stream_of(index);
        let tty = self.cfg.tty;
        let (log, conns) = (&mut self.log, &mut self.conns);
        let ended = self.init.read_output(index, |data| {
            log.write(stream, data);
            broadcast(conns, Proc::Init, tty, stream, data);
        });
        if ended {
            self.log.finish(stream);
        }
    }

    fn reap(&mut self) {
        while berth_runtime_core::sys::read_signal(self.signals.as_fd()).is_ok() {}
        while let Some((pid, status)) = sys::reap_one() {
            if pid == self.init_pid && self.exit.is_none() {
                self.init_exited(status);
            } else if self.running.as_ref().is_some_and(|(h, _, _)| h.pid == pid)
                && let Some((helper, conn, job)) = self.running.take()
            {
                let answer = helper.answer(status);
                self.job_done(conn, job, answer);
            } else {
                // An exec's process; else an orphan of the container that came to us as its
                // subreaper.
                self.exec_reaped(pid, status);
            }
        }
    }

    fn init_exited(&mut self, status: libc::c_int) {
        let signal = libc::WIFSIGNALED(status).then(|| libc::WTERMSIG(status));
        self.exit = Some(Exit {
            exit_code: berth_runtime_core::sys::exit_code(status),
            signal,
            started_at: self.started_at.clone(),
            finished_at: timefmt::now(),
            shim_lost: false,
        });
        self.phase = Phase::Exiting;
        self.drain_deadline = Some(Instant::now() + DRAIN_TIMEOUT);
        self.init.close_input_now();
        // Without a PID namespace of its own nothing else ends them.
        self.execs.kill_all();
    }

    /// The container exited and its output is drained: record it, answer the waiters, end the
    /// attach streams.
    fn finalize(&mut self) {
        let tty = self.cfg.tty;
        let (log, conns) = (&mut self.log, &mut self.conns);
        self.init.finish(|index, data| {
            log.write(stream_of(index), data);
            broadcast(conns, Proc::Init, tty, stream_of(index), data);
        });
        self.log.finish(Stream::Stdout);
        self.log.finish(Stream::Stderr);
        self.phase = Phase::Stopped;
        self.drain_deadline = None;
        let Some(exit) = self.exit.clone() else {
            return;
        };
        if let Err(e) = files::write_json_atomic(&self.cfg.state_dir, proto::EXIT_FILE, &exit) {
            eprintln!(
                "berth-shim: write {}: {e}",
                self.cfg.state_dir.join(proto::EXIT_FILE).display()
            );
        }
        for conn in &mut self.conns {
            if conn.waiting {
                conn.waiting = false;
                conn.answer(&Response::Exited(exit.clone()));
            }
            if conn.attach.is_some_and(|a| a.target == Proc::Init) {
                conn.close_after_flush = true;
                conn.flush();
            }
        }
        self.delete_deadline = self.cfg.exit_timeout.map(|t| Instant::now() + t);
    }

    // --- clients ---

    fn accept(&mut self) {
        loop {
            let fd = match rustix::net::accept_with(
                &self.listener,
                rustix::net::SocketFlags::NONBLOCK | rustix::net::SocketFlags::CLOEXEC,
            ) {
                Ok(fd) => fd,
                Err(rustix::io::Errno::INTR) => continue,
                Err(_) => return,
            };
            if self.conns.len() >= MAX_CLIENTS {
                eprintln!("berth-shim: {MAX_CLIENTS} clients connected: refusing another");
                continue;
            }
            let id = self.next_conn;
            self.next_conn += 1;
            self.conns.push(Conn::new(id, fd));
        }
    }

    fn conn_index(&self, id: u64) -> Option<usize> {
        self.conns.iter().position(|c| c.id == id)
    }

    fn conn_event(&mut self, id: u64, revents: PollFlags) {
        let Some(i) = self.conn_index(id) else {
            return;
        };
        if revents.contains(PollFlags::OUT) {
            self.conns[i].flush();
        }
        let reading = self.wants_input(&self.conns[i]);
        if revents.intersects(PollFlags::IN | PollFlags::HUP | PollFlags::ERR) && reading {
            self.conn_read(i);
        } else if revents.intersects(PollFlags::HUP | PollFlags::ERR) {
            self.conns[i].dead = true;
        }
    }

    fn conn_read(&mut self, i: usize) {
        let mut buf = [0u8; 4096];
        let n = match self.conns[i].read(&mut buf) {
            Read::Again => return,
            Read::Eof => {
                let (attach, busy) = (self.conns[i].attach, self.conns[i].busy);
                if let Some(a) = attach.filter(|a| a.stdin && a.close_stdin_on_eof)
                    && let Some(io) = self.io_mut(a.target)
                    && io.stdin_open()
                {
                    io.request_input_close();
                }
                if attach.is_none() && !busy {
                    // A control client that said all it had to say and has no answer pending.
                    self.conns[i].close_after_flush = true;
                    self.conns[i].flush();
                }
                return;
            }
            Read::Data(n) => n,
        };
        match self.conns[i].attach {
            Some(a) => {
                if a.stdin
                    && let Some(io) = self.io_mut(a.target)
                {
                    io.queue_input(&buf[..n]);
                }
            }
            None => {
                self.conns[i].inbuf.extend_from_slice(&buf[..n]);
                self.process_requests(i);
            }
        }
    }

    fn process_requests(&mut self, i: usize) {
        while !self.conns[i].busy && self.conns[i].attach.is_none() && !self.conns[i].dead {
            let line = match self.conns[i].next_line() {
                None => return,
                Some(Ok(line)) => line,
                Some(Err(())) => {
                    let conn = &mut self.conns[i];
                    conn.inbuf = Vec::new();
                    conn.close_after_flush = true;
                    let message = format!("request longer than {} bytes", proto::MAX_LINE);
                    conn.answer(&error(ErrorKind::BadRequest, message));
                    return;
                }
            };
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match serde_json::from_slice::<Request>(&line) {
                Ok(request) => self.request(i, request),
                Err(e) => self.conns[i]
                    .answer(&error(ErrorKind::BadRequest, format!("not a request: {e}"))),
            }
        }
        self.forward_early_input(i);
    }

    /// Bytes after an `attach` (or `exec`) line are the client's first input.
    fn forward_early_input(&mut self, i: usize) {
        let Some(a) = self.conns[i].attach else {
            return;
        };
        if self.conns[i].inbuf.is_empty() {
            return;
        }
        let early = std::mem::take(&mut self.conns[i].inbuf);
        if a.stdin
            && let Some(io) = self.io_mut(a.target)
        {
            io.queue_input(&early);
        }
    }

    fn request(&mut self, i: usize, request: Request) {
        let id = self.conns[i].id;
        let stopped = self.phase == Phase::Stopped;
        let answer = match request {
            Request::Start if self.phase != Phase::Created => wrong_state(format!(
                "container is {}: only a created container starts",
                self.status_name()
            )),
            Request::Kill { signal, .. } if !(1..=64).contains(&signal) => error(
                ErrorKind::BadRequest,
                format!("signal {signal}: not a signal number (1-64)"),
            ),
            Request::Kill { .. }
                if self.phase != Phase::Created && self.phase != Phase::Running =>
            {
                wrong_state(format!(
                    "container is {}: nothing to signal",
                    self.status_name()
                ))
            }
            Request::Start => return self.queue(id, Job::Start),
            Request::Kill { signal, all } => return self.queue(id, Job::Kill { signal, all }),
            Request::State if !stopped => return self.queue(id, Job::Pids),
            Request::State => Response::State(self.state(Vec::new())),
            Request::Delete if !stopped => wrong_state(format!(
                "container is {}: kill it and wait for its exit first",
                self.status_name()
            )),
            Request::Delete => return self.queue(id, Job::Delete),
            Request::Wait => match &self.exit {
                Some(exit) if stopped => Response::Exited(exit.clone()),
                _ => {
                    self.conns[i].busy = true;
                    self.conns[i].waiting = true;
                    return;
                }
            },
            Request::Resize {
                rows,
                cols,
                exec_id: None,
            } => resize(&self.init, "the container", rows, cols),
            Request::Resize {
                rows,
                cols,
                exec_id: Some(exec_id),
            } => self.exec_resize(&exec_id, rows, cols),
            Request::CloseStdin => {
                if !self.cfg.stdin {
                    error(
                        ErrorKind::NotSupported,
                        "the container has no stdin (-i)".into(),
                    )
                } else {
                    self.init.request_input_close();
                    Response::Ok
                }
            }
            Request::Exec {
                exec_id,
                process,
                tty,
                stdin,
                stdout,
                stderr,
            } => {
                let streams = crate::stdio::Streams {
                    stdin,
                    stdout,
                    stderr,
                    tty,
                };
                match self.exec_request(id, exec_id, process, streams) {
                    Some(refused) => refused,
                    None => return,
                }
            }
            Request::ExecState { exec_id } => self.exec_state(&exec_id),
            Request::Attach {
                stdin,
                stdout,
                stderr,
                close_stdin_on_eof,
            } => {
                if stopped {
                    wrong_state("container has exited: its output is in the log".into())
                } else if stdin && !self.cfg.stdin {
                    error(
                        ErrorKind::NotSupported,
                        "stdin: the container has no stdin (-i)".into(),
                    )
                } else {
                    let conn = &mut self.conns[i];
                    conn.answer(&Response::Attached { tty: self.cfg.tty });
                    conn.attach = Some(Attach {
                        target: Proc::Init,
                        stdin,
                        stdout,
                        stderr,
                        close_stdin_on_eof,
                    });
                    return;
                }
            }
        };
        self.conns[i].answer(&answer);
    }

    fn status(&self) -> Status {
        match self.phase {
            Phase::Created => Status::Created,
            Phase::Exiting if self.started_at.is_none() => Status::Created,
            Phase::Running | Phase::Exiting => Status::Running,
            Phase::Stopped => Status::Stopped,
        }
    }

    fn status_name(&self) -> &'static str {
        match self.status() {
            Status::Created => "created",
            Status::Running => "running",
            Status::Stopped => "stopped",
        }
    }

    fn state(&self, pids: Vec<i32>) -> State {
        State {
            id: self.cfg.id.clone(),
            status: self.status(),
            shim_pid: self.shim_pid,
            init_pid: self.init_pid,
            pids,
            tty: self.cfg.tty,
            stdin_open: self.init.stdin_open(),
            created_at: self.created_at.clone(),
            started_at: self.started_at.clone(),
            exit: if self.phase == Phase::Stopped {
                self.exit.clone()
            } else {
                None
            },
        }
    }

    // --- jobs: operations run by a helper, one at a time, in request order ---

    fn queue(&mut self, conn: u64, job: Job) {
        if let Some(i) = self.conn_index(conn) {
            self.conns[i].busy = true;
        }
        self.jobs.push_back((Some(conn), job));
    }

    fn next_job(&mut self) {
        if self.running.is_some() {
            return;
        }
        let Some((conn, job)) = self.jobs.pop_front() else {
            return;
        };
        let cfg = &self.cfg;
        let spawned = match job {
            Job::Exec { serial } => self.spawn_exec(serial),
            Job::Start => helper::spawn(None, || ops::start(cfg).map(|()| String::new())),
            Job::Kill { signal, all } => {
                helper::spawn(None, || ops::kill(cfg, signal, all).map(|()| String::new()))
            }
            Job::Pids => helper::spawn(None, || ops::pids(cfg)),
            Job::Delete => helper::spawn(None, || ops::delete(cfg, false).map(|()| String::new())),
        };
        match spawned {
            Ok(helper) => self.running = Some((helper, conn, job)),
            Err(e) => self.job_done(conn, job, Err(format!("fork a shim helper: {e}"))),
        }
    }

    fn job_done(&mut self, conn: Option<u64>, job: Job, answer: Result<String, String>) {
        let response = match (job, answer) {
            (Job::Start, Ok(_)) => {
                if self.phase == Phase::Created {
                    self.phase = Phase::Running;
                }
                let started = self.started_at.get_or_insert_with(timefmt::now).clone();
                if let Some(exit) = self.exit.as_mut() {
                    exit.started_at.get_or_insert(started);
                }
                Response::Ok
            }
            (Job::Kill { .. }, Ok(_)) => Response::Ok,
            (Job::Pids, answer) => {
                let pids = answer
                    .map_err(|e| eprintln!("berth-shim: {e}"))
                    .ok()
                    .and_then(|text| serde_json::from_str(&text).ok())
                    .unwrap_or_default();
                Response::State(self.state(pids))
            }
            (Job::Delete, Ok(_)) => return self.deleted(conn),
            (Job::Exec { serial }, answer) => return self.exec_job_done(conn, serial, answer),
            (_, Err(message)) => error(ErrorKind::Failed, message),
        };
        if let Some(i) = conn.and_then(|c| self.conn_index(c)) {
            self.conns[i].answer(&response);
        }
    }

    /// The runtime's state and the cgroup are gone: remove our sockets, answer, and exit.
    fn deleted(&mut self, conn: Option<u64>) {
        files::remove(&self.cfg.state_dir.join(proto::CONTROL_SOCKET));
        files::remove(&self.cfg.state_dir.join(proto::SHIM_FILE));
        if let Some(i) = conn.and_then(|c| self.conn_index(c)) {
            self.conns[i].answer(&Response::Ok);
            self.conns[i].flush_blocking();
        }
        self.done = true;
    }
}

fn stream_of(index: usize) -> Stream {
    if index == 0 {
        Stream::Stdout
    } else {
        Stream::Stderr
    }
}

/// Sends a process's output to the clients attached to it: as is with a terminal, else in
/// Docker's frames.
fn broadcast(conns: &mut [Conn], target: Proc, tty: bool, stream: Stream, data: &[u8]) {
    let number = match stream {
        Stream::Stdout => STREAM_STDOUT,
        Stream::Stderr => STREAM_STDERR,
    };
    let mut frame = Vec::new();
    for conn in conns {
        let Some(a) = conn.attach.filter(|a| a.target == target) else {
            continue;
        };
        let wanted = if number == STREAM_STDOUT {
            a.stdout
        } else {
            a.stderr
        };
        if !wanted || conn.close_after_flush {
            continue;
        }
        if tty {
            conn.send(data);
        } else {
            if frame.is_empty() {
                frame.reserve(8 + data.len());
                frame.extend_from_slice(&proto::frame_header(number, data.len()));
                frame.extend_from_slice(data);
            }
            conn.send(&frame);
        }
    }
}

fn resize(io: &ProcIo, whose: &str, rows: u16, cols: u16) -> Response {
    if !io.has_terminal() {
        return error(
            ErrorKind::NotSupported,
            format!("{whose} has no terminal (-t)"),
        );
    }
    match io.resize(rows, cols) {
        Ok(()) => Response::Ok,
        Err(message) => error(ErrorKind::Failed, message),
    }
}

fn error(kind: ErrorKind, message: String) -> Response {
    Response::Error { kind, message }
}

fn wrong_state(message: String) -> Response {
    error(ErrorKind::WrongState, message)
}
