//! `exec`: a new process inside a running container, in all its namespaces and its cgroup, with
//! the container's security settings unless the caller overrides them.
//!
//! The runtime enters the container's PID (and time) namespace for its children only, so the
//! process is born inside them; on cgroup v2 it is also born in the container's cgroup. The child
//! joins the remaining namespaces at once through a pidfd of the container's init.

use crate::channel::{self, Channel, InitFailure, InitMessage, RuntimeMessage};
use crate::config;
use crate::console::ConsoleProxy;
use crate::container::{
    FORWARDED, clone_into_leaf, console_socket, forward_seccomp_listener, kill_and_reap,
    write_pid_file,
};
use crate::error::{Context, Error, Result};
use crate::foreground::wait_forwarding;
use crate::init::{self, Program};
use crate::state::{self, StateRoot, Status};
use crate::{process_info, sys, terminal};
use oci_spec::runtime::{Process, Spec};
use serde_json::json;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

/// How the caller describes the process: a whole `process.json`, or changes to the container's own.
#[derive(Default)]
pub struct ProcessRequest {
    pub process_file: Option<PathBuf>,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: Option<PathBuf>,
    /// "UID[:GID]".
    pub user: Option<String>,
    pub additional_gids: Vec<u32>,
    pub caps: Vec<String>,
    pub tty: bool,
    pub no_new_privs: bool,
    pub apparmor: Option<String>,
    pub process_label: Option<String>,
}

pub struct ExecOptions {
    pub id: String,
    pub request: ProcessRequest,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub preserve_fds: u32,
    pub ignore_paused: bool,
}

/// Runs the process; returns its exit code, or 0 once it runs with `detach`.
pub fn exec(root: &StateRoot, opts: &ExecOptions) -> Result<i32> {
    config::validate_id(&opts.id)?;
    let container = root.lock(&opts.id)?;
    let record = container.read()?.ok_or_else(|| Error::WrongState {
        id: opts.id.clone(),
        status: Status::Creating.to_string(),
        reason: "cannot exec in a container that is being created".into(),
    })?;
    let status = state::status_of(&container.dir, &record);
    let refuse = |reason: &str| Error::WrongState {
        id: opts.id.clone(),
        status: status.to_string(),
        reason: reason.into(),
    };
    match status {
        Status::Stopped => return Err(refuse("cannot exec in a stopped container")),
        Status::Paused if !opts.ignore_paused => {
            return Err(refuse(
                "cannot exec in a paused container (resume it or use --ignore-paused)",
            ));
        }
        _ => {}
    }
    let saved = container.saved_config_path();
    let bundle = config::load_config(
        record.bundle.clone(),
        saved,
        Some(&root.seccomp_cache_dir()),
    )?;
    let process = build_process(&bundle.spec, &opts.request)?;
    let terminal = process.terminal().unwrap_or(false);
    let foreground_terminal = terminal && opts.console_socket.is_none();
    if foreground_terminal && opts.detach {
        return Err(Error::Usage(
            "a detached process's terminal needs --console-socket".into(),
        ));
    }
    let (console, console_ours) =
        console_socket(opts.console_socket.as_deref(), foreground_terminal)?;

    // A pidfd pins the init: what we join cannot be a new process that reused its pid.
    let init = sys::pidfd_open(record.pid)
        .context(|| format!("pidfd of container init {}", record.pid))?;
    if !process_info::is_same_process(record.pid, record.pid_start_time) {
        return Err(refuse("its init is gone"));
    }
    let namespaces = joined_namespaces(&bundle.spec);
    // Without a mount namespace of its own the container's root is its init's chroot, which
    // joining namespaces does not give (runc and crun leave such a process on the host's root).
    let init_root = (namespaces & libc::CLONE_NEWNS == 0)
        .then(|| {
            let path = format!("/proc/{}/root", record.pid);
            rustix::fs::open(
                path.as_str(),
                rustix::fs::OFlags::PATH
                    | rustix::fs::OFlags::DIRECTORY
                    | rustix::fs::OFlags::CLOEXEC,
                rustix::fs::Mode::empty(),
            )
            .context(|| format!("open the root of container {} ({path})", opts.id))
        })
        .transpose()?;
    let for_children = namespaces & (libc::CLONE_NEWPID | libc::CLONE_NEWTIME);
    if for_children != 0 {
        sys::setns(init.as_fd(), for_children)
            .context(|| format!("enter the PID/time namespaces of container {}", opts.id))?;
    }
    let cgroup = record.cgroup();
    let signals = if opts.detach {
        None
    } else {
        Some(sys::signalfd(&sys::sigset_of(&FORWARDED)).context(|| "signalfd".into())?)
    };
    let (runtime_end, child_end) =
        channel::pair().context(|| "socketpair for the exec channel".into())?;
    let original_sigmask = sys::sigprocmask(libc::SIG_BLOCK, &sys::sigset_of(&FORWARDED))
        .context(|| "block signals".into())?;

    // A frozen cgroup would freeze the process before it reports: into a paused container it
    // moves only once it is ready, and freezes there (before or after its exec).
    let join_paused = status == Status::Paused;
    // With an initial CPU affinity the process runs on those CPUs before it joins the cgroup.
    let initial_affinity = crate::scheduling::has_initial_cpu_affinity(&process, &bundle.spec);
    let leaf = cgroup
        .as_ref()
        .filter(|_| !join_paused && !initial_affinity)
        .and_then(|c| c.unified_leaf());
    let (child, placed) = clone_into_leaf(0, leaf).context(|| "fork the exec'd process".into())?;
    if child == 0 {
        drop(runtime_end);
        child_main(ExecChild {
            channel: child_end,
            init: &init,
            init_root: init_root.as_ref(),
            namespaces: namespaces & !for_children,
            spec: &bundle.spec,
            process: &process,
            console: console.as_ref(),
            wait_for_cgroup: !placed && cgroup.is_some() && !join_paused,
            wait_after_ready: join_paused,
            preserve_fds: opts.preserve_fds,
            original_sigmask,
            state_lock_fd: container.lock_raw_fd(),
            seccomp: bundle.seccomp.as_ref(),
        });
    }
    drop(child_end);
    drop(console);
    let place = |cgroup: &berth_cgroups::Cgroup| {
        cgroup
            .add_process(child)
            .map_err(|e| Error::Other(format!("container {:?}: {e}", opts.id)))
    };
    let started = (|| -> Result<()> {
        if initial_affinity {
            crate::scheduling::apply_initial_cpu_affinity(child, &process, &bundle.spec)?;
        }
        if !placed
            && !join_paused
            && let Some(cgroup) = &cgroup
        {
            place(cgroup)?;
            runtime_end
                .send(&RuntimeMessage::Proceed)
                .context(|| "tell the exec'd process to go on".into())?;
        }
        wait_until_executed(&runtime_end, join_paused, |fds| {
            forward_seccomp_listener(&bundle, &opts.id, child, Status::Running, fds)
        })?;
        if join_paused {
            if let Some(cgroup) = &cgroup {
                place(cgroup)?;
            }
            runtime_end
                .send(&RuntimeMessage::Proceed)
                .context(|| "tell the exec'd process to go on".into())?;
        }
        Ok(())
    })();
    if let Err(e) = started {
        kill_and_reap(child, child);
        return Err(e);
    }
    let master = console_ours
        .map(|socket| crate::console::receive_master(&socket))
        .transpose()
        .context(|| "receive the exec'd process's terminal".into())?;
    if let Some(path) = &opts.pid_file {
        write_pid_file(path, child)?;
    }
    drop(container);
    let Some(signals) = signals else {
        return Ok(0);
    };
    let mut proxy = master.map(ConsoleProxy::new);
    wait_forwarding(child, &signals, proxy.as_mut())
}

/// The setup reports Ready, then the process execs: the channel (close-on-exec) then reaches
/// end of file. A failure after Ready (e.g. the exec itself) still arrives as a message.
/// With `ready_is_enough` (a process about to be frozen) Ready ends the wait.
fn wait_until_executed(
    channel: &Channel,
    ready_is_enough: bool,
    mut forward_listener: impl FnMut(Vec<OwnedFd>) -> Result<()>,
) -> Result<()> {
    let mut ready = false;
    loop {
        let received = channel
            .recv_with_fds::<InitMessage>()
            .context(|| "read from the exec'd process".into())?;
        let (message, fds) = match received {
            Some((message, fds)) => (Some(message), fds),
            None => (None, Vec::new()),
        };
        match message {
            Some(InitMessage::SeccompListener) => forward_listener(fds)?,
            Some(InitMessage::Ready) if ready_is_enough => return Ok(()),
            Some(InitMessage::Ready) => ready = true,
            Some(InitMessage::Failed(failure)) => return Err(Error::Exec(failure)),
            Some(other) => {
                return Err(Error::Other(format!(
                    "exec'd process sent an unexpected {other:?}"
                )));
            }
            None if ready => return Ok(()),
            None => {
                return Err(Error::Other(
                    "the exec'd process exited during setup".into(),
                ));
            }
        }
    }
}

/// The clone flags of every namespace the container's init is in beyond the host's: the
/// namespaces the config lists (made or joined by path alike).
fn joined_namespaces(spec: &Spec) -> libc::c_int {
    let namespaces = spec.linux().as_ref().and_then(|l| l.namespaces().as_ref());
    namespaces
        .into_iter()
        .flatten()
        .map(|ns| crate::namespaces::clone_flag(ns.typ()))
        .fold(0, |acc, flag| acc | flag)
}

/// The process to run: the caller's process.json as is, or the container's process with the
/// caller's args, env, cwd, user and capabilities.
pub fn build_process(spec: &Spec, request: &ProcessRequest) -> Result<Process> {
    if let Some(path) = &request.process_file {
        let text =
            std::fs::read_to_string(path).context(|| format!("--process {}", path.display()))?;
        let mut de = serde_json::Deserializer::from_str(&text);
        let process: Process = serde_path_to_error::deserialize(&mut de)
            .map_err(|e| Error::config(path, e.path().to_string(), e.inner().to_string()))?;
        validate_process(&process, path)?;
        return Ok(process);
    }
    let base = spec
        .process()
        .as_ref()
        .ok_or_else(|| Error::Usage("the container's config has no process".into()))?;
    let mut value = serde_json::to_value(base).map_err(|e| Error::Other(e.to_string()))?;
    if request.args.is_empty() {
        return Err(Error::Usage(
            "exec needs a command (arguments after the container id) or --process".into(),
        ));
    }
    value["args"] = json!(request.args);
    value["terminal"] = json!(request.tty);
    value.as_object_mut().map(|p| p.remove("consoleSize"));
    let mut env: Vec<String> = serde_json::from_value(value["env"].take()).unwrap_or_default();
    for entry in &request.env {
        let key = entry.split('=').next().unwrap_or_default();
        env.retain(|e| e.split('=').next() != Some(key));
        env.push(entry.clone());
    }
    value["env"] = json!(env);
    if let Some(cwd) = &request.cwd {
        value["cwd"] = json!(cwd);
    }
    if let Some(user) = &request.user {
        let (uid, gid) = parse_user(user)?;
        value["user"]["uid"] = json!(uid);
        if let Some(gid) = gid {
            value["user"]["gid"] = json!(gid);
        }
    }
    if !request.additional_gids.is_empty() {
        value["user"]["additionalGids"] = json!(request.additional_gids);
    }
    if !request.caps.is_empty() {
        let caps = &mut value["capabilities"];
        // Never inheritable or ambient: those would pass the capability on across an exec of a
        // program without file capabilities (the class of CVE-2022-29162); --process can ask.
        for set in ["bounding", "effective", "permitted"] {
            let mut names: Vec<String> =
                serde_json::from_value(caps[set].take()).unwrap_or_default();
            for cap in &request.caps {
                let name = if cap.starts_with("CAP_") {
                    cap.clone()
                } else {
                    format!("CAP_{cap}")
                };
                if !names.contains(&name) {
                    names.push(name);
                }
            }
            caps[set] = json!(names);
        }
    }
    if request.no_new_privs {
        value["noNewPrivileges"] = json!(true);
    }
    if let Some(profile) = &request.apparmor {
        value["apparmorProfile"] = json!(profile);
    }
    if let Some(label) = &request.process_label {
        value["selinuxLabel"] = json!(label);
    }
    let process: Process = serde_path_to_error::deserialize(value)
        .map_err(|e| Error::Usage(format!("exec: {}: {}", e.path(), e.inner())))?;
    validate_process(&process, Path::new("exec arguments"))?;
    Ok(process)
}

fn validate_process(process: &Process, source: &Path) -> Result<()> {
    let checks = [
        crate::scheduling::check_io_priority(process),
        crate::scheduling::check_scheduler(process),
        crate::scheduling::check_exec_cpu_affinity(process),
        crate::lsm::check(process),
    ];
    for check in checks {
        check.map_err(|invalid| Error::config(source, invalid.field, invalid.reason))?;
    }
    if process.args().as_ref().is_none_or(|a| a.is_empty()) {
        return Err(Error::config(source, "args", "must name a program"));
    }
    if !process.cwd().is_absolute() {
        return Err(Error::config(
            source,
            "cwd",
            format!("{} is not an absolute path", process.cwd().display()),
        ));
    }
    Ok(())
}

fn parse_user(user: &str) -> Result<(u32, Option<u32>)> {
    let bad = || Error::Usage(format!("--user {user:?}: expected UID[:GID] (numbers)"));
    let (uid, gid) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let uid = uid.parse().map_err(|_| bad())?;
    let gid = gid.map(|g| g.parse().map_err(|_| bad())).transpose()?;
    Ok((uid, gid))
}

struct ExecChild<'a> {
    channel: Channel,
    init: &'a OwnedFd,
    /// The init's root, to chroot into when the container shares the runtime's mount namespace.
    init_root: Option<&'a OwnedFd>,
    namespaces: libc::c_int,
    spec: &'a Spec,
    process: &'a Process,
    console: Option<&'a OwnedFd>,
    wait_for_cgroup: bool,
    /// Into a paused container: wait, after Ready, until moved into the frozen cgroup.
    wait_after_ready: bool,
    preserve_fds: u32,
    original_sigmask: libc::sigset_t,
    state_lock_fd: std::os::fd::RawFd,
    seccomp: Option<&'a crate::seccomp::Compiled>,
}

fn child_main(child: ExecChild<'_>) -> ! {
    sys::close_inherited(child.state_lock_fd);
    let failure = match prepare(&child) {
        Ok(program) => {
            if child.channel.send(&InitMessage::Ready).is_err() {
                sys::exit_now(1);
            }
            if child.wait_after_ready && init::wait_for_cgroup(&child.channel).is_err() {
                sys::exit_now(1);
            }
            if let Err(failure) =
                crate::scheduling::apply_final_cpu_affinity(child.process, child.spec)
            {
                let _ = child.channel.send(&InitMessage::Failed(failure));
                sys::exit_now(1);
            }
            let (failure, code) = init::exec_program(
                child.process,
                &program,
                &child.original_sigmask,
                child.seccomp,
            );
            let _ = child.channel.send(&InitMessage::Failed(failure));
            sys::exit_now(code)
        }
        Err(failure) => failure,
    };
    let _ = child.channel.send(&InitMessage::Failed(failure));
    sys::exit_now(1)
}

fn prepare(child: &ExecChild<'_>) -> Result<Program, InitFailure> {
    if child.wait_for_cgroup {
        init::wait_for_cgroup(&child.channel)?;
    }
    if child.namespaces != 0 {
        sys::setns(child.init.as_fd(), child.namespaces)
            .map_err(|e| InitFailure::os("join the container's namespaces", &e))?;
    }
    // After setns: a chrooted process may not join a user namespace.
    if let Some(root) = child.init_root {
        rustix::process::fchdir(root)
            .and_then(|()| rustix::process::chroot("."))
            .map_err(|e| InitFailure::os("enter the container's root (chroot)", &e.into()))?;
    }
    let joined_user = child.namespaces & libc::CLONE_NEWUSER != 0;
    if joined_user {
        // Act as the namespace's root (when mapped) until the process's own user is set.
        let _ = sys::setresgid(0);
        let _ = sys::setresuid(0);
    }
    if child.process.terminal().unwrap_or(false) {
        let socket = child.console.ok_or_else(|| {
            InitFailure::msg("process.terminal", "a terminal needs --console-socket")
        })?;
        terminal::setup_console(socket, false)?;
    } else {
        sys::setsid().map_err(|e| InitFailure::os("setsid", &e))?;
    }
    let program = init::prepare_process(child.spec, child.process)?;
    init::become_process(
        &child.channel,
        child.process,
        child.seccomp,
        child.preserve_fds,
    )?;
    Ok(program)
}
