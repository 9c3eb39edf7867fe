//! The container lifecycle as the runtime's commands drive it: create, start, state, kill, delete, run.

use crate::channel::{self, InitMessage, RuntimeMessage};
use crate::config::{self, Bundle};
use crate::error::{Context, Error, Result};
use crate::hooks::{self, HookKind};
use crate::init::{self, InitContext};
use crate::namespaces::NamespacePlan;
use crate::process_info;
use crate::state::{self, ContainerRecord, LockedContainer, StateRoot, Status};
use crate::sys;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub struct CreateOptions {
    pub id: String,
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub no_pivot: bool,
    pub preserve_fds: u32,
    pub no_new_keyring: bool,
}

/// Signals `run` forwards to the container.
pub(crate) const FORWARDED: [libc::c_int; 7] = [
    libc::SIGINT,
    libc::SIGTERM,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
];

/// A created container whose init waits for `start`.
pub struct Created {
    pub container: LockedContainer,
    pub record: ContainerRecord,
    /// The pty master of a foreground terminal (`run -t` without --console-socket).
    pub console: Option<OwnedFd>,
}

/// Creates a container. `foreground` (a `run` that stays attached) may give the container a
/// terminal without --console-socket: the runtime then holds the pty itself.
pub fn create(root: &StateRoot, opts: &CreateOptions, foreground: bool) -> Result<Created> {
    config::validate_id(&opts.id)?;
    let bundle = config::load_bundle(&opts.bundle, Some(&root.seccomp_cache_dir()))?;
    let process = bundle
        .spec
        .process()
        .as_ref()
        .ok_or_else(|| Error::config(&bundle.config_path, "process", "missing"))?;
    let foreground_terminal = process.terminal().unwrap_or(false) && opts.console_socket.is_none();
    if foreground_terminal && !foreground {
        return Err(Error::config(
            &bundle.config_path,
            "process.terminal",
            "a detached container's terminal needs --console-socket",
        ));
    }
    let linux = bundle
        .spec
        .linux()
        .as_ref()
        .ok_or_else(|| Error::config(&bundle.config_path, "linux", "missing"))?;
    let mut plan = NamespacePlan::from_spec(linux.namespaces().as_deref().unwrap_or_default())?;
    plan.new_cgroup_namespace_after_placement();
    let cgroup_config = crate::cgroup::CgroupConfig::from_spec(&opts.id, linux)
        .map_err(|e| Error::config(&bundle.config_path, e.field, e.reason))?;
    let (console, console_ours) =
        console_socket(opts.console_socket.as_deref(), foreground_terminal)?;

    crate::netdev::check_host(&bundle.spec)
        .map_err(|e| Error::config(&bundle.config_path, e.field, e.reason))?;
    let idmapped = crate::idmap::prepare(&bundle.spec, &bundle.dir, &bundle.config_path)?;
    let container = root.create_container(&opts.id)?;
    // A failed create is a container destroyed: its poststop hooks run, as after a delete.
    let run_poststop = || {
        let state = hooks::state(
            &opts.id,
            Status::Stopped.as_str(),
            0,
            &bundle.dir,
            &bundle.spec.annotations().clone().unwrap_or_default(),
        );
        hooks::run_warning_on_failure(bundle.spec.hooks().as_ref(), HookKind::Poststop, &state);
    };
    let cgroup = match cgroup_config.create() {
        Ok(cgroup) => cgroup,
        Err(e) => {
            let _ = container.remove();
            run_poststop();
            return Err(Error::Other(e.to_string()));
        }
    };
    let prepared = Prepared {
        console: console.as_ref(),
        cgroup: &cgroup,
        idmapped: &idmapped,
    };
    let spawned = spawn_init(&container, &bundle, &plan, opts, &prepared, foreground);
    let spawned = spawned.and_then(|(record, net_devices)| {
        let master = console_ours
            .map(|socket| crate::console::receive_master(&socket))
            .transpose()
            .context(|| "receive the container's terminal".into());
        match master {
            Ok(master) => Ok((record, master)),
            Err(e) => {
                if let Some(moved) = net_devices {
                    moved.restore();
                }
                kill_and_reap(record.pid, record.pid);
                Err(e)
            }
        }
    });
    match spawned {
        Ok((record, console)) => Ok(Created {
            container,
            record,
            console,
        }),
        Err(e) => {
            cgroup.destroy_with_parents();
            let _ = container.remove();
            run_poststop();
            Err(e)
        }
    }
}

/// The socket a terminal's pty master goes to: the caller's --console-socket, or for a foreground
/// terminal one end of a pair whose other end (returned second) the runtime keeps.
pub(crate) fn console_socket(
    path: Option<&Path>,
    foreground_terminal: bool,
) -> Result<(Option<OwnedFd>, Option<OwnedFd>)> {
    if let Some(path) = path {
        let socket = UnixStream::connect(path)
            .map(OwnedFd::from)
            .context(|| format!("--console-socket {}", path.display()))?;
        return Ok((Some(socket), None));
    }
    if !foreground_terminal {
        return Ok((None, None));
    }
    let (theirs, ours) =
        UnixStream::pair().context(|| "socketpair for the foreground terminal".into())?;
    Ok((Some(theirs.into()), Some(ours.into())))
}

fn time_offsets(bundle: &Bundle) -> String {
    let offsets = bundle
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.time_offsets().as_ref());
    offsets
        .iter()
        .flat_map(|m| m.iter())
        .map(|(clock, o)| {
            format!(
                "{clock} {} {}\n",
                o.secs().unwrap_or(0),
                o.nanosecs().unwrap_or(0)
            )
        })
        .collect()
}

/// What the runtime made for the init before it exists.
struct Prepared<'a> {
    console: Option<&'a OwnedFd>,
    cgroup: &'a berth_cgroups::Cgroup,
    idmapped: &'a [crate::idmap::IdmappedMount],
}

/// Makes the init and waits until it is ready; also returns the `linux.netDevices` it was given,
/// to move back should the create still fail.
fn spawn_init(
    container: &LockedContainer,
    bundle: &Bundle,
    plan: &NamespacePlan,
    opts: &CreateOptions,
    prepared: &Prepared<'_>,
    for_run: bool,
) -> Result<(ContainerRecord, Option<crate::netdev::Moved>)> {
    let Prepared {
        console,
        cgroup,
        idmapped,
    } = *prepared;
    let fifo_path = container.fifo_path();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &fifo_path,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .context(|| format!("make exec fifo {}", fifo_path.display()))?;
    // The init opens it once it is the container's user, who may be anyone: writable by all, as
    // runc makes it; only root can reach it through the state directory.
    rustix::fs::chmod(&fifo_path, rustix::fs::Mode::from_raw_mode(0o622))
        .context(|| format!("make exec fifo {} writable", fifo_path.display()))?;
    let exec_fifo = rustix::fs::open(
        &fifo_path,
        rustix::fs::OFlags::PATH | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .context(|| format!("open exec fifo {}", fifo_path.display()))?;
    plan.enter_in_parent(&time_offsets(bundle))?;
    if for_run && plan.second_fork {
        // The init will be our grandchild; after the intermediate exits it must come back to us to be reaped.
        sys::set_child_subreaper().context(|| "prctl(PR_SET_CHILD_SUBREAPER)".into())?;
    }
    let (runtime_end, init_end) =
        channel::pair().context(|| "socketpair for the init channel".into())?;
    // Forwarded signals stay blocked from here: one that arrives before the init exists is
    // delivered to the signalfd of `run` later, never lost, and never kills us half-way.
    let original_sigmask = sys::sigprocmask(libc::SIG_BLOCK, &sys::sigset_of(&FORWARDED))
        .context(|| "block signals".into())?;

    let leaf = cgroup.unified_leaf().filter(|_| !plan.second_fork);
    let (child, placed) =
        clone_into_leaf(plan.clone_flags, leaf).context(|| "clone the container init".into())?;
    if child == 0 {
        drop(runtime_end);
        init::child_main(InitContext {
            id: &opts.id,
            spec: &bundle.spec,
            bundle: &bundle.dir,
            rootfs: &bundle.rootfs,
            plan,
            channel: init_end,
            exec_fifo: &exec_fifo,
            console_socket: console,
            preserve_fds: opts.preserve_fds,
            no_pivot: opts.no_pivot,
            new_keyring: !opts.no_new_keyring,
            original_sigmask,
            state_lock_fd: container.lock_raw_fd(),
            // The id-map exchange shares the channel, so a new user namespace also waits first.
            cgroup_wait: if plan.new_cgroup || plan.second_fork || plan.new_user {
                init::CgroupWait::First
            } else {
                init::CgroupWait::BeforeReady
            },
            cgroup,
            idmapped,
            seccomp: bundle.seccomp.as_ref(),
        });
    }
    drop(init_end);
    let mut init_pid = child;
    let mut net_devices = None;
    let outcome = (|| -> Result<()> {
        if !placed && let Err(e) = cgroup.add_process(child) {
            // An init that failed at once has exited before we could move it: its report says why.
            // Killing it first means the read below returns at once (the report, or end of file).
            if let Some(pid) = rustix::process::Pid::from_raw(child) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
            if let Ok(Some(InitMessage::Failed(failure))) = runtime_end.recv::<InitMessage>() {
                return Err(Error::Init(failure));
            }
            return Err(Error::Other(e.to_string()));
        }
        // If the init already failed and left, its report is waiting below: the send's EPIPE is not the story.
        let _ = runtime_end.send(&RuntimeMessage::Proceed);
        loop {
            let (message, fds) = match runtime_end
                .recv_with_fds::<InitMessage>()
                .context(|| "read from container init".into())?
            {
                Some((message, fds)) => (Some(message), fds),
                None => (None, Vec::new()),
            };
            match message {
                Some(InitMessage::NeedIdMaps { pid }) => {
                    write_id_maps(bundle, if pid == 0 { child } else { pid })?;
                    runtime_end
                        .send(&RuntimeMessage::IdMapsWritten)
                        .context(|| "tell init the maps are written".into())?;
                }
                Some(InitMessage::InitPid { pid }) => {
                    init_pid = pid;
                    let _ = sys::waitpid(child);
                }
                Some(InitMessage::RunCreateRuntimeHooks) => {
                    let state = hooks::state(
                        &opts.id,
                        Status::Creating.as_str(),
                        init_pid,
                        &bundle.dir,
                        &bundle.spec.annotations().clone().unwrap_or_default(),
                    );
                    let spec_hooks = bundle.spec.hooks().as_ref();
                    hooks::run(spec_hooks, HookKind::Prestart, &state)?;
                    hooks::run(spec_hooks, HookKind::CreateRuntime, &state)?;
                    runtime_end
                        .send(&RuntimeMessage::CreateRuntimeHooksDone)
                        .context(|| "tell init the createRuntime hooks ran".into())?;
                }
                Some(InitMessage::SeccompListener) => {
                    forward_seccomp_listener(bundle, &opts.id, init_pid, Status::Creating, fds)?
                }
                Some(InitMessage::MoveNetDevices) => {
                    let netns = fds.into_iter().next().ok_or_else(|| {
                        Error::Other(
                            "container init: net devices request without its namespace".into(),
                        )
                    })?;
                    net_devices = Some(crate::netdev::move_all(&bundle.spec, netns)?);
                    runtime_end
                        .send(&RuntimeMessage::NetDevicesMoved)
                        .context(|| "tell init the net devices are moved".into())?;
                }
                Some(InitMessage::Ready) => return Ok(()),
                Some(InitMessage::Failed(failure)) => return Err(Error::Init(failure)),
                None => {
                    let status = sys::waitpid(child).map(sys::exit_code).unwrap_or(-1);
                    return Err(Error::Other(format!(
                        "container init exited during setup (status {status})"
                    )));
                }
            }
        }
    })();
    if let Err(e) = outcome {
        if let Some(moved) = net_devices {
            moved.restore();
        }
        kill_and_reap(init_pid, child);
        return Err(e);
    }
    let Some(pid_start_time) = process_info::start_time(init_pid) else {
        if let Some(moved) = net_devices {
            moved.restore();
        }
        return Err(Error::Other(format!(
            "container init (pid {init_pid}) vanished right after setup"
        )));
    };
    let record = ContainerRecord {
        id: opts.id.clone(),
        pid: init_pid,
        pid_start_time,
        bundle: bundle.dir.clone(),
        rootfs: bundle.rootfs.clone(),
        created: state::now_rfc3339(),
        owner: "root".into(),
        annotations: bundle.spec.annotations().clone().unwrap_or_default(),
        own_pid_namespace: plan.new_pid,
        cgroup: Some(state::CgroupRecord {
            path: cgroup.path.clone(),
            created: cgroup.created.clone(),
        }),
        hooks: bundle.spec.hooks().clone(),
    };
    let saved_config = container.saved_config_path();
    let saved = std::fs::copy(&bundle.config_path, &saved_config)
        .context(|| format!("save the config as {}", saved_config.display()))
        .and_then(|_| container.save(&record))
        .and_then(|()| match &opts.pid_file {
            Some(path) => write_pid_file(path, init_pid),
            None => Ok(()),
        });
    if let Err(e) = saved {
        if let Some(moved) = net_devices {
            moved.restore();
        }
        kill_and_reap(init_pid, child);
        return Err(e);
    }
    Ok((record, net_devices))
}

/// Hands a process's seccomp notify fd to the agent at listenerPath with the container's state
/// (status "creating" for the init, as in runc; "running" for an exec'd process).
pub(crate) fn forward_seccomp_listener(
    bundle: &Bundle,
    id: &str,
    pid: i32,
    status: Status,
    fds: Vec<OwnedFd>,
) -> Result<()> {
    let (Some(filter), Some(fd)) = (bundle.seccomp.as_ref(), fds.first()) else {
        return Err(Error::Other(
            "container init: seccomp listener message without a filter or fd".into(),
        ));
    };
    let state = hooks::state(
        id,
        status.as_str(),
        pid,
        &bundle.dir,
        &bundle.spec.annotations().clone().unwrap_or_default(),
    );
    filter.send_to_agent(pid, state, fd.as_fd()).context(|| {
        format!(
            "linux.seccomp.listenerPath {}: send the seccomp notify fd",
            filter.listener_path().unwrap_or(Path::new("")).display()
        )
    })
}

/// Clones a child. On cgroup v2 (`leaf` is the cgroup's directory there) it is born in its
/// cgroup: no migration later, which can stall for a kernel grace period. Elsewhere, or on
/// kernels without clone3, the caller moves it; the second value says whether it is in place.
pub(crate) fn clone_into_leaf(
    flags: libc::c_int,
    leaf: Option<PathBuf>,
) -> std::io::Result<(libc::pid_t, bool)> {
    let leaf_fd = leaf.and_then(|dir| {
        let how =
            rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC;
        rustix::fs::open(&dir, how, rustix::fs::Mode::empty()).ok()
    });
    if let Some(fd) = &leaf_fd
        && let Ok(pid) = sys::clone_into_cgroup(flags, fd.as_fd())
    {
        return Ok((pid, true));
    }
    Ok((sys::clone_fork(flags)?, false))
}

pub(crate) fn kill_and_reap(init_pid: i32, child: i32) {
    if let Ok(fd) = sys::pidfd_open(init_pid) {
        let _ = sys::pidfd_send_signal(fd.as_fd(), libc::SIGKILL);
    }
    let _ = sys::waitpid(child);
    if init_pid != child {
        let _ = wait_gone(init_pid, Duration::from_secs(5));
    }
}

fn write_id_maps(bundle: &Bundle, pid: i32) -> Result<()> {
    let linux = bundle.spec.linux().as_ref();
    let format = |maps: Option<&Vec<oci_spec::runtime::LinuxIdMapping>>| -> String {
        maps.iter()
            .flat_map(|m| m.iter())
            .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
            .collect()
    };
    let uid_map = format(linux.and_then(|l| l.uid_mappings().as_ref()));
    let gid_map = format(linux.and_then(|l| l.gid_mappings().as_ref()));
    if !rustix::process::geteuid().is_root() {
        // An unprivileged writer may only map its own gid once setgroups is denied.
        std::fs::write(format!("/proc/{pid}/setgroups"), "deny")
            .context(|| "linux.gidMappings: deny setgroups".into())?;
    }
    std::fs::write(format!("/proc/{pid}/uid_map"), uid_map)
        .context(|| "linux.uidMappings: write uid_map".into())?;
    std::fs::write(format!("/proc/{pid}/gid_map"), gid_map)
        .context(|| "linux.gidMappings: write gid_map".into())
}

pub(crate) fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    let tmp = path.with_extension("berth-tmp");
    std::fs::write(&tmp, pid.to_string()).context(|| format!("--pid-file {}", path.display()))?;
    std::fs::rename(&tmp, path).context(|| format!("--pid-file {}", path.display()))
}

/// Lets a created container's init exec its process.
pub fn start(root: &StateRoot, id: &str) -> Result<()> {
    config::validate_id(id)?;
    let container = root.lock(id)?;
    let record = container
        .read()?
        .ok_or_else(|| wrong_state(id, Status::Creating, "cannot start"))?;
    start_locked(&container, &record)
}

pub(crate) fn start_locked(container: &LockedContainer, record: &ContainerRecord) -> Result<()> {
    let status = state::status_of(&container.dir, record);
    if status != Status::Created {
        return Err(wrong_state(
            &record.id,
            status,
            "only a created container can be started",
        ));
    }
    // The pidfd first: once the fifo has a reader the init may exec, finish and be reaped (by a
    // subreaper such as containerd's shim) before we could open it.
    let pidfd = sys::pidfd_open(record.pid).map_err(|e| match e.raw_os_error() {
        Some(libc::ESRCH) => Error::Other(format!(
            "container {:?}: init exited before start",
            record.id
        )),
        _ => Error::Sys {
            what: format!("pidfd of container init {}", record.pid),
            source: e,
        },
    })?;
    let fifo_path = container.fifo_path();
    // Non-blocking open: a reader must not hang if the init died meanwhile.
    let fifo = rustix::fs::open(
        &fifo_path,
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .context(|| format!("open exec fifo {}", fifo_path.display()))?;
    // The init opens the fifo, runs the startContainer hooks and execs: the fifo then reaches end
    // of file with nothing written, or holds "E" and the reason when a step failed.
    let mut report = Vec::new();
    loop {
        let mut fds = [
            rustix::event::PollFd::new(&fifo, rustix::event::PollFlags::IN),
            rustix::event::PollFd::new(&pidfd, rustix::event::PollFlags::IN),
        ];
        match rustix::event::poll(&mut fds, None) {
            Err(rustix::io::Errno::INTR) => continue,
            other => other.context(|| "wait for the container init".into())?,
        };
        let fifo_ready = !fds[0].revents().is_empty();
        let init_gone = !fds[1].revents().is_empty();
        if fifo_ready {
            let mut buf = [0u8; libc::PIPE_BUF];
            match rustix::io::read(&fifo, &mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    report.extend_from_slice(&buf[..n]);
                    continue;
                }
                Err(rustix::io::Errno::AGAIN | rustix::io::Errno::INTR) => continue,
                Err(e) => {
                    return Err(Error::Sys {
                        what: format!("read exec fifo {}", fifo_path.display()),
                        source: e.into(),
                    });
                }
            }
        }
        if init_gone {
            return Err(Error::Other(format!(
                "container {:?}: init exited before start",
                record.id
            )));
        }
    }
    if let Some(reason) = report.strip_prefix(b"E") {
        let _ = std::fs::remove_file(&fifo_path);
        return Err(Error::Other(format!(
            "container {:?}: {}",
            record.id,
            String::from_utf8_lossy(reason)
        )));
    }
    std::fs::remove_file(&fifo_path)
        .context(|| format!("remove exec fifo {}", fifo_path.display()))?;
    // runtime-spec 1.3: a failed poststart hook is an error, and the container is stopped (the
    // hooks after it do not run); `delete` then destroys it, running the poststop hooks.
    if hooks::has(record.hooks.as_ref(), HookKind::Poststart) {
        let state = hook_state(record, Status::Running);
        if let Err(failure) = hooks::run(record.hooks.as_ref(), HookKind::Poststart, &state) {
            let _ = signal_container(record, libc::SIGKILL, true);
            let stopped = wait_gone(record.pid, Duration::from_secs(10));
            return Err(Error::Other(format!(
                "container {:?}: {failure}; the container {}",
                record.id,
                if stopped {
                    "was stopped"
                } else {
                    "did not stop after SIGKILL"
                }
            )));
        }
    }
    Ok(())
}

/// The state a hook run by the runtime gets for a recorded container.
fn hook_state(record: &ContainerRecord, status: Status) -> serde_json::Value {
    let pid = if status == Status::Stopped {
        0
    } else {
        record.pid
    };
    hooks::state(
        &record.id,
        status.as_str(),
        pid,
        &record.bundle,
        &record.annotations,
    )
}

/// Poststop hooks, once the container is gone.
pub(crate) fn run_poststop_hooks(record: &ContainerRecord) {
    if hooks::has(record.hooks.as_ref(), HookKind::Poststop) {
        let state = hook_state(record, Status::Stopped);
        hooks::run_warning_on_failure(record.hooks.as_ref(), HookKind::Poststop, &state);
    }
}

pub(crate) fn wrong_state(id: &str, status: Status, reason: &str) -> Error {
    Error::WrongState {
        id: id.to_string(),
        status: status.to_string(),
        reason: reason.to_string(),
    }
}

/// The OCI state document of a container.
pub fn state(root: &StateRoot, id: &str) -> Result<serde_json::Value> {
    config::validate_id(id)?;
    let dir = root.container_dir(id);
    let Some(record) = root.read(id)? else {
        return Ok(
            serde_json::json!({"ociVersion": crate::defaults::OCI_VERSION, "id": id, "status": "creating", "pid": 0, "bundle": ""}),
        );
    };
    Ok(state_json(&record, state::status_of(&dir, &record)))
}

pub fn state_json(record: &ContainerRecord, status: Status) -> serde_json::Value {
    serde_json::json!({
        "ociVersion": crate::defaults::OCI_VERSION,
        "id": record.id,
        "status": status.as_str(),
        "pid": if status == Status::Stopped { 0 } else { record.pid },
        "bundle": record.bundle,
        "rootfs": record.rootfs,
        "created": record.created,
        "owner": record.owner,
        "annotations": record.annotations,
    })
}

/// Sends a signal to the init, or with `all` to every process of the container.
pub fn kill(root: &StateRoot, id: &str, signal: libc::c_int, all: bool) -> Result<()> {
    config::validate_id(id)?;
    let container = root.lock(id)?;
    let record = container
        .read()?
        .ok_or_else(|| wrong_state(id, Status::Creating, "cannot be signalled yet"))?;
    let status = state::status_of(&container.dir, &record);
    if status == Status::Stopped {
        // "container not running" as runc says it: containerd's shim matches those words and
        // takes the kill as done (the process already finished).
        return Err(wrong_state(
            id,
            status,
            "container not running (no process to signal)",
        ));
    }
    signal_container(&record, signal, all)
}

pub(crate) fn signal_container(
    record: &ContainerRecord,
    signal: libc::c_int,
    all: bool,
) -> Result<()> {
    // A pidfd pins the process: the signal cannot reach a new process that reused the pid.
    let pidfd = match sys::pidfd_open(record.pid) {
        // Exited and reaped since its status was read: nothing left to signal.
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return Ok(()),
        other => other.context(|| format!("pidfd of container init {}", record.pid))?,
    };
    if !process_info::is_same_process(record.pid, record.pid_start_time) {
        return Ok(());
    }
    if all
        && signal == libc::SIGKILL
        && let Some(cgroup) = record.cgroup()
        && cgroup.kill_all().map_err(|e| Error::Other(e.to_string()))?
    {
        return Ok(());
    }
    if all {
        for pid in container_processes(record) {
            if pid != record.pid
                && let Ok(fd) = sys::pidfd_open(pid)
            {
                let _ = sys::pidfd_send_signal(fd.as_fd(), signal);
            }
        }
    }
    sys::pidfd_send_signal(pidfd.as_fd(), signal)
        .context(|| format!("send signal {signal} to pid {}", record.pid))
}

/// Waits until the process is gone (or a zombie); false on timeout.
pub(crate) fn wait_gone(pid: i32, timeout: Duration) -> bool {
    let Ok(pidfd) = sys::pidfd_open(pid) else {
        return true;
    };
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ms = left.as_millis().min(i32::MAX as u128) as i32;
        let mut fds = [rustix::event::PollFd::new(
            &pidfd,
            rustix::event::PollFlags::IN,
        )];
        let ts = rustix::event::Timespec {
            tv_sec: (ms / 1000) as i64,
            tv_nsec: ((ms % 1000) * 1_000_000) as i64,
        };
        match rustix::event::poll(&mut fds, Some(&ts)) {
            Ok(n) if n > 0 => return true,
            Err(rustix::io::Errno::INTR) => continue,
            _ if Instant::now() >= deadline => return false,
            _ => continue,
        }
    }
}

/// Removes a container. A running one needs `force` (then it is killed first).
pub fn delete(root: &StateRoot, id: &str, force: bool) -> Result<()> {
    config::validate_id(id)?;
    let container = match root.lock(id) {
        Err(Error::NotFound(_)) if force => return Ok(()),
        other => other?,
    };
    let Some(record) = container.read()? else {
        // A create that died before writing its state: we hold the lock, so nobody is creating it.
        return container.remove();
    };
    let status = state::status_of(&container.dir, &record);
    if matches!(status, Status::Running | Status::Paused) && !force {
        return Err(wrong_state(
            id,
            status,
            "stop it first or use delete --force",
        ));
    }
    if status != Status::Stopped {
        signal_container(&record, libc::SIGKILL, true)?;
        if let Some(cgroup) = record.cgroup().filter(|c| c.is_frozen()) {
            // Frozen tasks act on SIGKILL only once thawed (cgroup v1).
            let _ = cgroup.freeze(false);
        }
        if !wait_gone(record.pid, Duration::from_secs(10)) {
            return Err(Error::Other(format!(
                "container {id:?}: init {} did not die after SIGKILL",
                record.pid
            )));
        }
    }
    if let Some(cgroup) = record.cgroup() {
        cgroup.destroy();
    }
    container.remove()?;
    run_poststop_hooks(&record);
    Ok(())
}

/// Host pids of the container's processes.
pub fn pids(root: &StateRoot, id: &str) -> Result<Vec<i32>> {
    config::validate_id(id)?;
    let record = root
        .read(id)?
        .ok_or_else(|| wrong_state(id, Status::Creating, "no processes yet"))?;
    let status = state::status_of(&root.container_dir(id), &record);
    if status == Status::Stopped {
        return Ok(Vec::new());
    }
    Ok(container_processes(&record))
}

/// The container's processes: its cgroup's members; for a record without a cgroup, its PID
/// namespace's members, or without one its init's descendants.
fn container_processes(record: &ContainerRecord) -> Vec<i32> {
    if let Some(cgroup) = record.cgroup() {
        return cgroup.procs();
    }
    if record.own_pid_namespace {
        process_info::processes_in_pid_namespace_of(record.pid)
    } else {
        process_info::process_tree_of(record.pid)
    }
}

/// Every container under the root with its live status.
pub fn list(root: &StateRoot) -> Result<Vec<(ContainerRecord, Status)>> {
    let mut out = Vec::new();
    for id in root.ids()? {
        if let Ok(Some(record)) = root.read(&id) {
            let status = state::status_of(&root.container_dir(&id), &record);
            out.push((record, status));
        }
    }
    Ok(out)
}
