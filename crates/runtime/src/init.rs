//! The container's init: what the child does between clone() and exec of the user's process.
//! Each step reports a typed failure to the runtime over the channel until the container is ready;
//! after that the runtime may be gone, so late failures go to the container's stderr.

use crate::channel::{Channel, InitFailure, InitMessage, RuntimeMessage};
use crate::hooks::{self, HookKind};
use crate::namespaces::{MountNamespace, NamespacePlan, clone_flag};
use crate::rootfs::{self, RootfsSetup};
use crate::seccomp::{Compiled, LoadPoint};
use crate::{lsm, scheduling, security, sys, terminal};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::cell::Cell;
use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

type Step<T = ()> = Result<T, InitFailure>;

pub struct InitContext<'a> {
    pub id: &'a str,
    pub spec: &'a Spec,
    pub bundle: &'a Path,
    pub rootfs: &'a Path,
    pub plan: &'a NamespacePlan,
    pub channel: Channel,
    /// O_PATH descriptor of the exec fifo; opening it for writing blocks until `start`.
    pub exec_fifo: &'a OwnedFd,
    pub console_socket: Option<&'a OwnedFd>,
    pub preserve_fds: u32,
    pub no_pivot: bool,
    pub new_keyring: bool,
    /// The signal mask to restore before exec (the runtime blocks signals it forwards).
    pub original_sigmask: libc::sigset_t,
    /// The container's state lock: the child must not hold it (flocks follow the open file).
    pub state_lock_fd: std::os::fd::RawFd,
    /// The runtime places the child in the container's cgroup and then says Proceed.
    pub cgroup_wait: CgroupWait,
    /// The container's cgroup.
    pub cgroup: &'a berth_cgroups::Cgroup,
    /// Id-mapped mounts the runtime prepared, to attach in place of plain binds.
    pub idmapped: &'a [crate::idmap::IdmappedMount],
    /// `linux.seccomp`, compiled by the runtime before the fork.
    pub seccomp: Option<&'a Compiled>,
}

fn os(step: impl Into<String>) -> impl FnOnce(io::Error) -> InitFailure {
    let step = step.into();
    move |e| InitFailure::os(step, &e)
}

/// Runs in the cloned child; never returns.
pub fn child_main(ctx: InitContext<'_>) -> ! {
    sys::close_inherited(ctx.state_lock_fd);
    match setup(&ctx) {
        Ok(program) => {
            let code = wait_for_start_and_exec(&ctx, program);
            sys::exit_now(code)
        }
        Err(failure) => {
            let _ = ctx.channel.send(&InitMessage::Failed(failure));
            sys::exit_now(1)
        }
    }
}

pub(crate) struct Program {
    path: CString,
    argv: Vec<CString>,
    envp: Vec<CString>,
}

/// When the init waits for the runtime to have moved it into its cgroup.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum CgroupWait {
    /// Before anything: a cgroup namespace (rooted where the init is when it is made), a second
    /// fork (the new init must be born inside) or the id-map exchange follow.
    First,
    /// Only before reporting ready: the first migration into a cgroup can block the runtime for a
    /// kernel grace period (milliseconds), and the setup meanwhile does not depend on it.
    BeforeReady,
}

/// Waits for the runtime's Proceed: the process is in its cgroup.
pub(crate) fn wait_for_cgroup(channel: &Channel) -> Step {
    match channel.recv::<RuntimeMessage>() {
        Ok(Some(RuntimeMessage::Proceed)) => Ok(()),
        Ok(_) => Err(InitFailure::msg(
            "wait for cgroup placement",
            "the runtime went away",
        )),
        Err(e) => Err(InitFailure::os("wait for cgroup placement", &e)),
    }
}

fn setup(ctx: &InitContext<'_>) -> Step<Program> {
    let plan = ctx.plan;
    if ctx.cgroup_wait == CgroupWait::First {
        wait_for_cgroup(&ctx.channel)?;
    }
    let cgroup_placed = Cell::new(ctx.cgroup_wait == CgroupWait::First);
    for target in &plan.child_join {
        sys::setns(target.fd.as_fd(), clone_flag(target.kind)).map_err(os(format!(
            "linux.namespaces: join {} namespace {}",
            target.kind,
            target.path.display()
        )))?;
    }
    if plan.child_new_user {
        sys::unshare(libc::CLONE_NEWUSER).map_err(os("linux.namespaces: new user namespace"))?;
    }
    if plan.new_user {
        request_id_maps(
            &ctx.channel,
            if plan.child_new_user {
                rustix::process::getpid().as_raw_nonzero().get()
            } else {
                0
            },
        )?;
        // Become the namespace's root (if mapped) so what the setup creates belongs to it.
        let _ = sys::setresgid(0);
        let _ = sys::setresuid(0);
    }
    if plan.child_unshare != 0 {
        sys::unshare(plan.child_unshare).map_err(os("linux.namespaces: unshare"))?;
    }
    if plan.new_cgroup {
        sys::unshare(libc::CLONE_NEWCGROUP)
            .map_err(os("linux.namespaces: new cgroup namespace"))?;
    }
    if plan.second_fork {
        let pid = sys::clone_fork(0).map_err(os("fork the container init"))?;
        if pid > 0 {
            let sent = ctx.channel.send(&InitMessage::InitPid { pid });
            sys::exit_now(if sent.is_ok() { 0 } else { 1 });
        }
    }
    if crate::netdev::wanted(ctx.spec) {
        // The runtime's Proceed is queued ahead of its answer to the request.
        if !cgroup_placed.get() {
            wait_for_cgroup(&ctx.channel)?;
            cgroup_placed.set(true);
        }
        crate::netdev::request_move(&ctx.channel)?;
    }
    sys::umask(0);
    if ctx.new_keyring {
        // Fails harmlessly where keyrings are unavailable (e.g. restricted in user namespaces).
        let name = CString::new(format!("_ses.{}", ctx.id)).unwrap_or_default();
        let _ = sys::join_session_keyring(&name);
    }
    let process = ctx
        .spec
        .process()
        .as_ref()
        .ok_or_else(|| InitFailure::msg("process", "missing"))?;
    if let Some(adj) = process.oom_score_adj() {
        std::fs::write("/proc/self/oom_score_adj", adj.to_string()).map_err(|e| {
            let hint =
                if adj < 0 && matches!(e.raw_os_error(), Some(libc::EPERM) | Some(libc::EACCES)) {
                    " (lowering the score needs CAP_SYS_RESOURCE)"
                } else {
                    ""
                };
            InitFailure::os(format!("process.oomScoreAdj: set {adj}{hint}"), &e)
        })?;
    }
    RootfsSetup {
        spec: ctx.spec,
        rootfs: ctx.rootfs,
        bundle: ctx.bundle,
        no_pivot: ctx.no_pivot,
        in_callers_mount_namespace: plan.mount == MountNamespace::Inherited,
        in_user_namespace: plan.new_user
            || plan
                .child_join
                .iter()
                .any(|t| t.kind == LinuxNamespaceType::User),
        new_cgroup_namespace: plan.new_cgroup,
        cgroup: ctx.cgroup,
        idmapped: ctx.idmapped,
    }
    .prepare_with(|| run_create_hooks(ctx, &cgroup_placed))?;
    if let Some(name) = ctx.spec.hostname().as_deref().filter(|h| !h.is_empty()) {
        sys::sethostname(name).map_err(os(format!("hostname: set {name:?}")))?;
    }
    if let Some(name) = ctx.spec.domainname().as_deref().filter(|h| !h.is_empty()) {
        sys::setdomainname(name).map_err(os(format!("domainname: set {name:?}")))?;
    }
    if process.terminal().unwrap_or(false) {
        let socket = ctx.console_socket.ok_or_else(|| {
            InitFailure::msg("process.terminal", "a terminal needs --console-socket")
        })?;
        terminal::setup_console(socket, true)?;
    } else {
        sys::setsid().map_err(os("setsid"))?;
    }
    if let Some(sysctls) = ctx.spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) {
        for (key, value) in sysctls {
            let path = format!("/proc/sys/{}", key.replace('.', "/"));
            std::fs::write(&path, value)
                .map_err(os(format!("linux.sysctl.{key}: write {path}")))?;
        }
    }
    rootfs::finalize(ctx.spec)?;
    let program = prepare_process(ctx.spec, process)?;
    if !cgroup_placed.get() {
        wait_for_cgroup(&ctx.channel)?;
    }
    become_process(&ctx.channel, process, ctx.seccomp, ctx.preserve_fds)?;
    ctx.channel
        .send(&InitMessage::Ready)
        .map_err(os("report ready"))?;
    Ok(program)
}

/// Before pivot_root: the runtime runs the prestart and createRuntime hooks (it is asked only when
/// there are some), then the init runs the createContainer hooks in the container's namespaces.
fn run_create_hooks(ctx: &InitContext<'_>, cgroup_placed: &Cell<bool>) -> Step {
    let spec_hooks = ctx.spec.hooks().as_ref();
    if hooks::has(spec_hooks, HookKind::Prestart) || hooks::has(spec_hooks, HookKind::CreateRuntime)
    {
        if !cgroup_placed.get() {
            // The runtime's Proceed is queued ahead of its answer to the request below.
            wait_for_cgroup(&ctx.channel)?;
            cgroup_placed.set(true);
        }
        ctx.channel
            .send(&InitMessage::RunCreateRuntimeHooks)
            .map_err(os("ask the runtime to run the createRuntime hooks"))?;
        match ctx.channel.recv::<RuntimeMessage>() {
            Ok(Some(RuntimeMessage::CreateRuntimeHooksDone)) => {}
            Ok(_) => {
                return Err(InitFailure::msg(
                    "wait for the createRuntime hooks",
                    "the runtime went away",
                ));
            }
            Err(e) => return Err(InitFailure::os("wait for the createRuntime hooks", &e)),
        }
    }
    if hooks::has(spec_hooks, HookKind::CreateContainer) {
        let state = init_state(ctx, "creating");
        hooks::run_in_container(
            spec_hooks,
            HookKind::CreateContainer,
            &state,
            process_env(ctx),
        )?;
    }
    Ok(())
}

/// The environment the hooks the init runs inherit when they list none: the container's, as the
/// init has it in runc; never the caller's.
fn process_env<'s>(ctx: &InitContext<'s>) -> &'s [String] {
    let process = ctx.spec.process().as_ref();
    process.and_then(|p| p.env().as_deref()).unwrap_or_default()
}

/// The state given to the hooks the init runs: the pid as the container sees it.
fn init_state(ctx: &InitContext<'_>, status: &str) -> serde_json::Value {
    hooks::state(
        ctx.id,
        status,
        rustix::process::getpid().as_raw_nonzero().get(),
        ctx.bundle,
        &ctx.spec.annotations().clone().unwrap_or_default(),
    )
}

fn request_id_maps(channel: &Channel, pid: i32) -> Step {
    channel
        .send(&InitMessage::NeedIdMaps { pid })
        .map_err(os("ask for uid/gid maps"))?;
    match channel.recv::<RuntimeMessage>() {
        Ok(Some(RuntimeMessage::IdMapsWritten)) => Ok(()),
        Ok(Some(other)) => Err(InitFailure::msg(
            "wait for uid/gid maps",
            format!("unexpected message {other:?}"),
        )),
        Ok(None) => Err(InitFailure::msg(
            "wait for uid/gid maps",
            "the runtime went away",
        )),
        Err(e) => Err(InitFailure::os("wait for uid/gid maps", &e)),
    }
}

/// The process's own settings, for the init and exec'd processes alike: rlimits, personality,
/// scheduler, I/O priority, NUMA memory policy, LSM exec labels; then the program to exec.
pub(crate) fn prepare_process(spec: &Spec, process: &oci_spec::runtime::Process) -> Step<Program> {
    security::apply_rlimits(process)?;
    scheduling::apply_personality(spec)?;
    scheduling::apply_scheduler(process)?;
    scheduling::apply_io_priority(process)?;
    scheduling::apply_memory_policy(spec)?;
    lsm::apply_exec_labels(process)?;
    resolve_program(process)
}

/// Finds args[0] the way execvp would, with the container's PATH, inside the new root.
fn resolve_program(process: &oci_spec::runtime::Process) -> Step<Program> {
    let args = process.args().as_deref().unwrap_or_default();
    let env: Vec<&String> = process.env().iter().flatten().collect();
    let argv = args
        .iter()
        .map(|a| CString::new(a.as_bytes()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| InitFailure::msg("process.args", "contains a NUL byte"))?;
    let envp = env
        .iter()
        .map(|a| CString::new(a.as_bytes()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| InitFailure::msg("process.env", "contains a NUL byte"))?;
    let name = args.first().map(String::as_str).unwrap_or_default();
    let path = if name.contains('/') {
        let p = PathBuf::from(name);
        let p = if p.is_relative() {
            process.cwd().join(p)
        } else {
            p
        };
        is_executable(&p).then_some(p)
    } else {
        let search = env
            .iter()
            .find_map(|e| e.strip_prefix("PATH="))
            .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        search
            .split(':')
            .map(|dir| Path::new(if dir.is_empty() { "." } else { dir }).join(name))
            .find(|p| is_executable(p))
    };
    let path = path.ok_or_else(|| {
        InitFailure::msg(
            "process.args[0]",
            format!("{name:?}: executable file not found in the container (searched $PATH)"),
        )
    })?;
    let path = sys::cstr(path.as_os_str()).map_err(os("process.args[0]"))?;
    Ok(Program { path, argv, envp })
}

fn is_executable(path: &Path) -> bool {
    rustix::fs::access(path, rustix::fs::Access::EXEC_OK).is_ok() && path.is_file()
}

/// Waits for `start` on the exec fifo, runs the startContainer hooks and execs; returns an exit code
/// on failure. `start` reads the fifo until end of file: nothing comes when the exec succeeds (the
/// descriptor closes with it), "E" and the reason when anything failed.
fn wait_for_start_and_exec(ctx: &InitContext<'_>, program: Program) -> i32 {
    let fifo_path = sys::fd_path(ctx.exec_fifo.as_fd());
    let fifo = match rustix::fs::open(
        fifo_path.as_c_str(),
        rustix::fs::OFlags::WRONLY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(e) => {
            let e = io::Error::from(e);
            eprintln!("berth-runtime: container init: open exec fifo (is /proc mounted?): {e}");
            return shell_exit_code(&e);
        }
    };
    let report = |failure: &InitFailure| {
        let text = format!("E{failure}");
        // One write of at most PIPE_BUF bytes reaches the reader whole.
        let text = &text.as_bytes()[..text.len().min(libc::PIPE_BUF)];
        if rustix::io::write(&fifo, text).is_err() {
            eprintln!("berth-runtime: container init: {failure}");
        }
    };
    let Some(process) = ctx.spec.process().as_ref() else {
        return 1;
    };
    let spec_hooks = ctx.spec.hooks().as_ref();
    // startContainer hooks run as the container's process is about to: as its user, in its cwd.
    if hooks::has(spec_hooks, HookKind::StartContainer) {
        let state = init_state(ctx, "created");
        let ran = hooks::run_in_container(
            spec_hooks,
            HookKind::StartContainer,
            &state,
            process_env(ctx),
        );
        if let Err(failure) = ran {
            report(&failure.into());
            return 1;
        }
    }
    let (failure, code) = exec_program(process, &program, &ctx.original_sigmask, ctx.seccomp);
    report(&failure);
    code
}

/// The exit status a shell gives when it cannot run a program: 127 not found, 126 not executable.
fn shell_exit_code(e: &io::Error) -> i32 {
    match e.raw_os_error() {
        Some(libc::ENOENT) => 127,
        Some(libc::EACCES) | Some(libc::ENOEXEC) => 126,
        _ => 1,
    }
}

/// The last setup steps of the init and of exec'd processes, before they report ready: descriptors
/// close-on-exec, signal dispositions, the cwd, a seccomp filter that must load while privileged
/// (no no_new_privs) or while the runtime listens (notify), then the user, groups and capabilities.
/// What can come before the filter does, so a profile without close_range or getcwd (older Docker
/// and Kubernetes profiles) cannot break it; whatever fails here reaches a caller that still waits.
pub(crate) fn become_process(
    channel: &Channel,
    process: &oci_spec::runtime::Process,
    seccomp: Option<&Compiled>,
    preserve_fds: u32,
) -> Step {
    sys::cloexec_from(3 + preserve_fds).map_err(os("mark descriptors close-on-exec"))?;
    sys::reset_signal_dispositions();
    let cwd = process.cwd();
    let cwd_failed = |e: io::Error| InitFailure::os(format!("process.cwd {}", cwd.display()), &e);
    // As runc: entered as root first; a directory only the user may enter, once we are the user.
    let entered = match enter_cwd(cwd, false) {
        Ok(()) => true,
        Err(e) if matches!(e.raw_os_error(), Some(libc::EACCES | libc::EPERM)) => false,
        Err(e) => return Err(cwd_failed(e)),
    };
    load_seccomp_before_ready(channel, seccomp, process)?;
    load_seccomp_at(seccomp, process, LoadPoint::BeforeUser)?;
    security::become_user(process, || {
        if entered {
            return Ok(());
        }
        // A filter may be loaded by now: check the cwd only where it allows getcwd.
        enter_cwd(cwd, true).map_err(cwd_failed)
    })?;
    sys::umask(process.user().umask().unwrap_or(0o022) as libc::mode_t);
    Ok(())
}

/// The program's own exec, after [`become_process`]: the signal mask, a filter loaded last, execve.
/// Returns only on failure, with the exit code a shell would give (127 not found, 126 not
/// executable).
pub(crate) fn exec_program(
    process: &oci_spec::runtime::Process,
    program: &Program,
    sigmask: &libc::sigset_t,
    seccomp: Option<&Compiled>,
) -> (InitFailure, i32) {
    let _ = sys::sigprocmask(libc::SIG_SETMASK, sigmask);
    if let Err(f) = load_seccomp_at(seccomp, process, LoadPoint::BeforeExec) {
        return (f, 1);
    }
    let err = sys::execve(&program.path, &program.argv, &program.envp);
    let code = shell_exit_code(&err);
    (
        InitFailure::os(format!("exec {}", program.path.to_string_lossy()), &err),
        code,
    )
}

/// Loads a filter with notify rules before Ready, so that its listener fd reaches the runtime (and
/// through it the seccomp agent) while the runtime still listens.
fn load_seccomp_before_ready(
    channel: &Channel,
    seccomp: Option<&Compiled>,
    process: &oci_spec::runtime::Process,
) -> Step {
    if let Some(fd) = load_filter(seccomp, process, LoadPoint::BeforeReady)? {
        channel
            .send_with_fd(&InitMessage::SeccompListener, fd.as_fd())
            .map_err(os("linux.seccomp: pass the notify fd to the runtime"))?;
    }
    Ok(())
}

/// Loads the filter at a point after the runtime stopped listening (only filters without notify
/// rules load there).
fn load_seccomp_at(
    seccomp: Option<&Compiled>,
    process: &oci_spec::runtime::Process,
    point: LoadPoint,
) -> Step {
    match load_filter(seccomp, process, point)? {
        None => Ok(()),
        Some(_) => Err(InitFailure::msg(
            "linux.seccomp",
            "a notify listener appeared after setup",
        )),
    }
}

fn load_filter(
    seccomp: Option<&Compiled>,
    process: &oci_spec::runtime::Process,
    point: LoadPoint,
) -> Step<Option<OwnedFd>> {
    let no_new_privileges = process.no_new_privileges().unwrap_or(false);
    let Some(filter) = seccomp.filter(|f| f.load_point(no_new_privileges) == point) else {
        return Ok(None);
    };
    filter.load().map_err(os("linux.seccomp: load the filter"))
}

/// chdir, then make sure the directory is inside the container's root: a cwd reached through a
/// leaked host descriptor (CVE-2024-21626) has no path from our root, and getcwd fails with ENOENT.
/// With `filtered` a seccomp filter that refuses getcwd leaves the check out: the directory was
/// one the runtime's root could not enter, which no leaked descriptor of ours is.
fn enter_cwd(cwd: &Path, filtered: bool) -> io::Result<()> {
    std::env::set_current_dir(cwd)?;
    let now = match std::env::current_dir() {
        Ok(now) => now,
        Err(e) if filtered && matches!(e.raw_os_error(), Some(libc::EPERM | libc::ENOSYS)) => {
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    if !now.as_os_str().as_bytes().starts_with(b"/") {
        return Err(io::Error::from_raw_os_error(libc::ENOENT));
    }
    Ok(())
}
