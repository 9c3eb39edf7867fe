//! The OCI `linux.seccomp` section. libseccomp compiles it to a BPF program once, in the runtime
//! before the fork (this is also where the section is validated); the container's init then only
//! makes one seccomp(2) call, at the point [`LoadPoint`] picks.
//!
//! Like runc: syscall names libseccomp does not know are skipped (profiles name syscalls newer
//! than the library or the kernel), rules whose action is the default action are skipped
//! (libseccomp refuses them), errnoRet defaults to EPERM, and several conditions on the same
//! argument become separate rules, any of which matches. Unlike runc, the filter is not patched
//! to answer ENOSYS for syscalls newer than the profile.

mod cache;

use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use oci_spec::runtime::{
    LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompFilterFlag,
    LinuxSeccompOperator, LinuxSyscall,
};
use serde_json::{Value, json};
use std::io::{self, Read, Seek};
use std::os::fd::{BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

/// A spec field of the seccomp section that cannot be used, with the reason.
#[derive(Debug, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct SeccompError {
    pub field: String,
    pub reason: String,
}

fn refuse(field: impl Into<String>, reason: impl Into<String>) -> SeccompError {
    SeccompError {
        field: field.into(),
        reason: reason.into(),
    }
}

/// Where the init loads the filter; every syscall after that point must pass it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadPoint {
    /// During setup, before the init reports ready: the notify listener fd must reach the runtime
    /// (and through it the seccomp agent) while the runtime still waits for the init.
    BeforeReady,
    /// After `start`, before the init becomes the container's user: without no_new_privs, loading
    /// a filter needs CAP_SYS_ADMIN, which the user's capabilities may lack (as runc does; the
    /// filter must then allow setresuid, setgroups, capset and prctl).
    BeforeUser,
    /// Right before execve: as few syscalls as possible run under the filter.
    BeforeExec,
}

/// Linux syscalls have at most 6 arguments.
const SYSCALL_MAX_ARGS: usize = 6;
/// The kernel refuses longer programs.
const BPF_MAX_INSTRUCTIONS: usize = 4096;
/// Size of one `struct sock_filter`.
const BPF_INSTRUCTION_SIZE: usize = 8;
/// The init passes the listener fd to the runtime with sendmsg: were it notified, the init would
/// wait for an agent that can only get the fd once that very call has returned.
const NOTIFY_FORBIDDEN: [&str; 1] = ["sendmsg"];

/// A filter compiled from the spec, ready to load with one syscall.
pub struct Compiled {
    program: Vec<libc::sock_filter>,
    /// SECCOMP_FILTER_FLAG_* for seccomp(2), without NEW_LISTENER.
    flags: libc::c_ulong,
    uses_notify: bool,
    listener_path: Option<PathBuf>,
    listener_metadata: String,
}

impl std::fmt::Debug for Compiled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compiled")
            .field("instructions", &self.program.len())
            .field("flags", &self.flags)
            .field("uses_notify", &self.uses_notify)
            .field("listener_path", &self.listener_path)
            .finish()
    }
}

impl Compiled {
    /// `linux.seccomp` of the spec compiled, or None without that section.
    pub fn from_linux(linux: &oci_spec::runtime::Linux) -> Result<Option<Self>, SeccompError> {
        linux.seccomp().as_ref().map(Self::from_spec).transpose()
    }

    /// Like [`Compiled::from_linux`], reusing a program compiled earlier from exactly the same
    /// section (by the same runtime, libseccomp and kernel) from `cache_dir`: libseccomp takes
    /// milliseconds for a profile like Docker's, on every container start otherwise.
    pub fn from_linux_cached(
        linux: &oci_spec::runtime::Linux,
        cache_dir: &Path,
    ) -> Result<Option<Self>, SeccompError> {
        let Some(seccomp) = linux.seccomp().as_ref() else {
            return Ok(None);
        };
        let cache = cache::Entry::for_section(cache_dir, seccomp);
        if let Some((program, uses_notify)) = cache.as_ref().and_then(cache::Entry::read) {
            let flags = filter_flags(seccomp.flags().as_deref().unwrap_or_default(), uses_notify)?;
            return Ok(Some(Compiled {
                program,
                flags,
                uses_notify,
                listener_path: seccomp.listener_path().clone(),
                listener_metadata: seccomp.listener_metadata().clone().unwrap_or_default(),
            }));
        }
        let compiled = Self::from_spec(seccomp)?;
        if let Some(cache) = cache {
            // A cache that cannot be written only costs the next start the compile.
            let _ = cache.write(&compiled.program, compiled.uses_notify);
        }
        Ok(Some(compiled))
    }

    /// Validates and compiles the section; errors name the field (`linux.seccomp.syscalls[3].args[0].index`).
    pub fn from_spec(seccomp: &LinuxSeccomp) -> Result<Self, SeccompError> {
        let default_action = to_action(
            seccomp.default_action(),
            seccomp.default_errno_ret(),
            "linux.seccomp.defaultErrnoRet",
        )?;
        if default_action == ScmpAction::Notify {
            return Err(refuse(
                "linux.seccomp.defaultAction",
                "SCMP_ACT_NOTIFY cannot be the default action (the init's own syscalls would wait for an agent that has no fd yet)",
            ));
        }
        let mut filter = ScmpFilterContext::new(default_action).map_err(|e| {
            refuse(
                "linux.seccomp.defaultAction",
                format!("libseccomp refused it: {e}"),
            )
        })?;
        for (i, arch) in seccomp.architectures().iter().flatten().enumerate() {
            let field = format!("linux.seccomp.architectures[{i}]");
            let parsed: ScmpArch = arch
                .to_string()
                .parse()
                .map_err(|_| refuse(&field, format!("{arch} is not known to libseccomp")))?;
            filter.add_arch(parsed).map_err(|e| {
                refuse(
                    &field,
                    format!(
                        "libseccomp {} cannot add {arch} to a filter on this machine: {e}",
                        library_version()
                    ),
                )
            })?;
        }
        let syscalls = seccomp.syscalls().as_deref().unwrap_or_default();
        if syscalls.len() > 32 {
            // A binary tree instead of a linear list of comparisons: long profiles (Docker's has
            // ~360 names) cost each syscall far fewer instructions. runc uses the same threshold.
            filter
                .set_ctl_optimize(2)
                .map_err(|e| refuse("linux.seccomp", format!("libseccomp optimizer: {e}")))?;
        }
        let mut uses_notify = false;
        for (i, syscall) in syscalls.iter().enumerate() {
            uses_notify |= add_rules(&mut filter, i, syscall, default_action)?;
        }
        if uses_notify && seccomp.listener_path().is_none() {
            return Err(refuse(
                "linux.seccomp.listenerPath",
                "SCMP_ACT_NOTIFY needs a listener socket to send the notify fd to",
            ));
        }
        let flags = filter_flags(seccomp.flags().as_deref().unwrap_or_default(), uses_notify)?;
        let program = export(&filter)?;
        Ok(Compiled {
            program,
            flags,
            uses_notify,
            listener_path: seccomp.listener_path().clone(),
            listener_metadata: seccomp.listener_metadata().clone().unwrap_or_default(),
        })
    }

    /// Whether a rule notifies a seccomp agent (the load then yields a listener fd).
    pub fn uses_notify(&self) -> bool {
        self.uses_notify
    }

    pub fn listener_path(&self) -> Option<&Path> {
        self.listener_path.as_deref()
    }

    pub fn listener_metadata(&self) -> &str {
        &self.listener_metadata
    }

    /// Number of BPF instructions.
    pub fn len(&self) -> usize {
        self.program.len()
    }

    pub fn is_empty(&self) -> bool {
        self.program.is_empty()
    }

    /// Where a process with this noNewPrivileges setting loads the filter.
    pub fn load_point(&self, no_new_privileges: bool) -> LoadPoint {
        if self.uses_notify {
            LoadPoint::BeforeReady
        } else if no_new_privileges {
            LoadPoint::BeforeExec
        } else {
            LoadPoint::BeforeUser
        }
    }

    /// Attaches the filter to the calling thread; returns the notify listener fd if a rule notifies.
    /// Needs no_new_privs or CAP_SYS_ADMIN.
    pub fn load(&self) -> io::Result<Option<OwnedFd>> {
        let flags = if self.uses_notify {
            self.flags | libc::SECCOMP_FILTER_FLAG_NEW_LISTENER
        } else {
            self.flags
        };
        crate::sys::seccomp_set_mode_filter(&self.program, flags)
    }

    /// Connects to listenerPath and sends the agent the listener fd with the container process
    /// state document (see [`Compiled::listener_message`]) in one message, as runc does.
    pub fn send_to_agent(&self, pid: i32, state: Value, fd: BorrowedFd<'_>) -> io::Result<()> {
        let path = self.listener_path.as_deref().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                "linux.seccomp.listenerPath is not set",
            )
        })?;
        let agent = std::os::unix::net::UnixStream::connect(path)?;
        let bytes =
            serde_json::to_vec(&self.listener_message(pid, state)).map_err(io::Error::other)?;
        crate::channel::send_with_fd(&agent, &bytes, fd)
    }

    /// The document a seccomp agent receives on listenerPath with the fd, as runc sends it
    /// (runtime-spec `ContainerProcessState`); `state` is the container's OCI state.
    pub fn listener_message(&self, pid: i32, state: Value) -> Value {
        json!({
            "ociVersion": crate::defaults::OCI_VERSION,
            "fds": ["seccompFd"],
            "pid": pid,
            "metadata": self.listener_metadata,
            "state": state,
        })
    }
}

fn library_version() -> String {
    libseccomp::ScmpVersion::current()
        .map(|v| format!("{}.{}.{}", v.major, v.minor, v.micro))
        .unwrap_or_else(|_| "(unknown version)".into())
}

/// The action for a rule or the default; errnoRet only where the action returns one.
fn to_action(
    action: LinuxSeccompAction,
    errno_ret: Option<u32>,
    errno_field: &str,
) -> Result<ScmpAction, SeccompError> {
    let errno = || -> Result<u16, SeccompError> {
        match errno_ret {
            None => Ok(libc::EPERM as u16),
            Some(n) => u16::try_from(n)
                .map_err(|_| refuse(errno_field, format!("{n} does not fit in 16 bits"))),
        }
    };
    let returns_errno = matches!(
        action,
        LinuxSeccompAction::ScmpActErrno | LinuxSeccompAction::ScmpActTrace
    );
    if errno_ret.is_some() && !returns_errno {
        return Err(refuse(
            errno_field,
            format!("{action} returns no errno (only SCMP_ACT_ERRNO and SCMP_ACT_TRACE do)"),
        ));
    }
    Ok(match action {
        LinuxSeccompAction::ScmpActErrno => ScmpAction::Errno(errno()?.into()),
        LinuxSeccompAction::ScmpActTrace => ScmpAction::Trace(errno()?),
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            ScmpAction::KillThread
        }
        LinuxSeccompAction::ScmpActKillProcess => ScmpAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => ScmpAction::Trap,
        LinuxSeccompAction::ScmpActNotify => ScmpAction::Notify,
        LinuxSeccompAction::ScmpActLog => ScmpAction::Log,
        LinuxSeccompAction::ScmpActAllow => ScmpAction::Allow,
    })
}

/// Adds the rules of `syscalls[i]`; true when they notify.
fn add_rules(
    filter: &mut ScmpFilterContext,
    i: usize,
    syscall: &LinuxSyscall,
    default_action: ScmpAction,
) -> Result<bool, SeccompError> {
    let field = format!("linux.seccomp.syscalls[{i}]");
    let action = to_action(
        syscall.action(),
        syscall.errno_ret(),
        &format!("{field}.errnoRet"),
    )?;
    if syscall.names().is_empty() {
        return Err(refuse(format!("{field}.names"), "names no syscall"));
    }
    let args = syscall.args().as_deref().unwrap_or_default();
    let conditions = args
        .iter()
        .enumerate()
        .map(|(j, arg)| to_condition(&format!("{field}.args[{j}]"), arg))
        .collect::<Result<Vec<_>, _>>()?;
    let notifies = action == ScmpAction::Notify;
    for (j, name) in syscall.names().iter().enumerate() {
        if name.is_empty() {
            return Err(refuse(format!("{field}.names[{j}]"), "empty syscall name"));
        }
        if notifies && NOTIFY_FORBIDDEN.contains(&name.as_str()) {
            return Err(refuse(
                format!("{field}.names[{j}]"),
                format!(
                    "SCMP_ACT_NOTIFY cannot be used for {name} (the init passes the notify fd to the runtime with it)"
                ),
            ));
        }
    }
    if action == default_action {
        return Ok(false);
    }
    // Conditions on distinct arguments all have to hold (one rule); libseccomp cannot AND two
    // conditions on the same argument, so then each becomes a rule of its own, as in runc.
    let mut seen = [0usize; SYSCALL_MAX_ARGS];
    for arg in args {
        seen[arg.index()] += 1;
    }
    let one_rule_each = seen.iter().any(|&n| n > 1);
    for (j, name) in syscall.names().iter().enumerate() {
        let Ok(number) = ScmpSyscall::from_name(name) else {
            continue; // unknown to libseccomp: newer than it, or not a syscall on any arch
        };
        let added = if conditions.is_empty() {
            filter.add_rule(action, number).map(drop)
        } else if one_rule_each {
            conditions
                .iter()
                .try_for_each(|c| filter.add_rule_conditional(action, number, &[*c]).map(drop))
        } else {
            filter
                .add_rule_conditional(action, number, &conditions)
                .map(drop)
        };
        added.map_err(|e| {
            refuse(
                format!("{field}.names[{j}]"),
                format!("libseccomp refused the rule for {name}: {e}"),
            )
        })?;
    }
    Ok(notifies)
}

fn to_condition(field: &str, arg: &LinuxSeccompArg) -> Result<ScmpArgCompare, SeccompError> {
    let index = arg.index();
    if index >= SYSCALL_MAX_ARGS {
        return Err(refuse(
            format!("{field}.index"),
            format!("{index} is not an argument index (0 to 5)"),
        ));
    }
    let value = arg.value();
    let (op, datum) = match arg.op() {
        LinuxSeccompOperator::ScmpCmpNe => (ScmpCompareOp::NotEqual, value),
        LinuxSeccompOperator::ScmpCmpLt => (ScmpCompareOp::Less, value),
        LinuxSeccompOperator::ScmpCmpLe => (ScmpCompareOp::LessOrEqual, value),
        LinuxSeccompOperator::ScmpCmpEq => (ScmpCompareOp::Equal, value),
        LinuxSeccompOperator::ScmpCmpGe => (ScmpCompareOp::GreaterEqual, value),
        LinuxSeccompOperator::ScmpCmpGt => (ScmpCompareOp::Greater, value),
        // value is the mask, valueTwo what the masked argument must equal.
        LinuxSeccompOperator::ScmpCmpMaskedEq => (
            ScmpCompareOp::MaskedEqual(value),
            arg.value_two().unwrap_or(0),
        ),
    };
    Ok(ScmpArgCompare::new(index as u32, op, datum))
}

/// The flags for seccomp(2). TSYNC is accepted and not passed, as in runc: the init is single
/// threaded, and the kernel refuses TSYNC with a listener. WAIT_KILLABLE_RECV only means
/// something with a listener (the kernel refuses it without one), so it is passed only then.
fn filter_flags(
    flags: &[LinuxSeccompFilterFlag],
    uses_notify: bool,
) -> Result<libc::c_ulong, SeccompError> {
    let mut bits = 0;
    for (i, flag) in flags.iter().enumerate() {
        let field = format!("linux.seccomp.flags[{i}]");
        let (bit, probe) = match flag {
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => (0, libc::SECCOMP_FILTER_FLAG_TSYNC),
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => {
                (libc::SECCOMP_FILTER_FLAG_LOG, libc::SECCOMP_FILTER_FLAG_LOG)
            }
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => (
                libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW,
                libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW,
            ),
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => (
                if uses_notify {
                    libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
                } else {
                    0
                },
                WAIT_KILLABLE_PROBE,
            ),
        };
        if !crate::sys::seccomp_filter_flags_known(probe) {
            return Err(refuse(
                field,
                format!("{flag} is not supported by this kernel"),
            ));
        }
        bits |= bit;
    }
    Ok(bits)
}

/// The kernel only accepts WAIT_KILLABLE_RECV together with NEW_LISTENER.
const WAIT_KILLABLE_PROBE: libc::c_ulong =
    libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV | libc::SECCOMP_FILTER_FLAG_NEW_LISTENER;

/// Raw `struct sock_filter` bytes as instructions.
fn decode(bytes: &[u8]) -> Vec<libc::sock_filter> {
    bytes
        .chunks_exact(BPF_INSTRUCTION_SIZE)
        .map(|b| libc::sock_filter {
            code: u16::from_ne_bytes([b[0], b[1]]),
            jt: b[2],
            jf: b[3],
            k: u32::from_ne_bytes([b[4], b[5], b[6], b[7]]),
        })
        .collect()
}

/// The filter as BPF instructions, through a memfd (libseccomp 2.5 exports only to an fd).
fn export(filter: &ScmpFilterContext) -> Result<Vec<libc::sock_filter>, SeccompError> {
    let fail = |what: &str, e: &dyn std::fmt::Display| {
        refuse(
            "linux.seccomp",
            format!("export the compiled filter: {what}: {e}"),
        )
    };
    let memfd = crate::sys::memfd_create(c"berth-seccomp", libc::MFD_CLOEXEC)
        .map_err(|e| fail("memfd_create", &e))?;
    let mut file = std::fs::File::from(memfd);
    filter
        .export_bpf(&file)
        .map_err(|e| fail("libseccomp", &e))?;
    let mut bytes = Vec::new();
    file.rewind()
        .and_then(|()| file.read_to_end(&mut bytes))
        .map_err(|e| fail("read back", &e))?;
    if bytes.len() % BPF_INSTRUCTION_SIZE != 0 {
        return Err(fail(
            "read back",
            &format!("{} bytes is not whole instructions", bytes.len()),
        ));
    }
    let program: Vec<libc::sock_filter> = decode(&bytes);
    if program.len() > BPF_MAX_INSTRUCTIONS {
        return Err(refuse(
            "linux.seccomp",
            format!(
                "the compiled filter has {} instructions; the kernel takes at most {BPF_MAX_INSTRUCTIONS}",
                program.len()
            ),
        ));
    }
    Ok(program)
}

const ACTIONS: [&str; 9] = [
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_LOG",
    "SCMP_ACT_NOTIFY",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_TRAP",
];

const OPERATORS: [&str; 7] = [
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_LE",
    "SCMP_CMP_LT",
    "SCMP_CMP_MASKED_EQ",
    "SCMP_CMP_NE",
];

const ARCHES: [&str; 22] = [
    "SCMP_ARCH_AARCH64",
    "SCMP_ARCH_ARM",
    "SCMP_ARCH_LOONGARCH64",
    "SCMP_ARCH_M68K",
    "SCMP_ARCH_MIPS",
    "SCMP_ARCH_MIPS64",
    "SCMP_ARCH_MIPS64N32",
    "SCMP_ARCH_MIPSEL",
    "SCMP_ARCH_MIPSEL64",
    "SCMP_ARCH_MIPSEL64N32",
    "SCMP_ARCH_PARISC",
    "SCMP_ARCH_PARISC64",
    "SCMP_ARCH_PPC",
    "SCMP_ARCH_PPC64",
    "SCMP_ARCH_PPC64LE",
    "SCMP_ARCH_RISCV64",
    "SCMP_ARCH_S390",
    "SCMP_ARCH_S390X",
    "SCMP_ARCH_SH",
    "SCMP_ARCH_SHEB",
    "SCMP_ARCH_X32",
    "SCMP_ARCH_X86",
];

const FLAGS: [(&str, libc::c_ulong); 4] = [
    ("SECCOMP_FILTER_FLAG_TSYNC", libc::SECCOMP_FILTER_FLAG_TSYNC),
    (
        "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
        libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW,
    ),
    ("SECCOMP_FILTER_FLAG_LOG", libc::SECCOMP_FILTER_FLAG_LOG),
    (
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
        WAIT_KILLABLE_PROBE,
    ),
];

/// The `linux.seccomp` part of `features`, as runc reports it: what the linked libseccomp knows
/// (an architecture of the other byte order cannot share a filter with the native one, though)
/// and the flags this kernel accepts.
pub fn features() -> Value {
    let mut archs: Vec<&str> = ARCHES
        .iter()
        .copied()
        .chain(["SCMP_ARCH_X86_64"])
        .filter(|name| arch_supported(name))
        .collect();
    archs.sort_unstable();
    let supported: Vec<&str> = FLAGS
        .iter()
        .filter(|(_, bits)| crate::sys::seccomp_filter_flags_known(*bits))
        .map(|(name, _)| *name)
        .collect();
    json!({
        "enabled": true,
        "actions": ACTIONS,
        "operators": OPERATORS,
        "archs": archs,
        "knownFlags": FLAGS.iter().map(|(name, _)| *name).collect::<Vec<_>>(),
        "supportedFlags": supported,
    })
}

/// Whether the linked libseccomp knows this architecture (it resolves syscall names for it).
fn arch_supported(name: &str) -> bool {
    name.parse::<ScmpArch>()
        .is_ok_and(|arch| ScmpSyscall::from_name_by_arch("read", arch).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile(value: Value) -> Result<Compiled, SeccompError> {
        let spec: LinuxSeccomp = serde_json::from_value(value).expect("valid LinuxSeccomp JSON");
        Compiled::from_spec(&spec)
    }

    #[test]
    fn compiles_rules_and_skips_unknown_names() {
        let c = compile(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
            "syscalls": [
                {"names": ["mkdir", "mkdirat", "no_such_syscall_xyz"], "action": "SCMP_ACT_ERRNO", "errnoRet": 95},
                {"names": ["getpid"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["socket"], "action": "SCMP_ACT_ERRNO",
                 "args": [{"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}, {"index": 0, "value": 10, "op": "SCMP_CMP_EQ"}]},
                {"names": ["clone"], "action": "SCMP_ACT_ERRNO",
                 "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]}
            ]
        }))
        .expect("compiles");
        assert!(!c.is_empty());
        assert!(!c.uses_notify());
        assert_eq!(c.load_point(true), LoadPoint::BeforeExec);
        assert_eq!(c.load_point(false), LoadPoint::BeforeUser);
    }

    #[test]
    fn refusals_name_the_field() {
        let cases = [
            (
                json!({"defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": "/x"}),
                "linux.seccomp.defaultAction",
            ),
            (
                json!({"defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": 1}),
                "linux.seccomp.defaultErrnoRet",
            ),
            (
                json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                    {"names": ["mkdir"], "action": "SCMP_ACT_KILL", "errnoRet": 1}]}),
                "linux.seccomp.syscalls[0].errnoRet",
            ),
            (
                json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                    {"names": ["read"], "action": "SCMP_ACT_ERRNO"},
                    {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO",
                     "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]}),
                "linux.seccomp.syscalls[1].args[0].index",
            ),
            (
                json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                    {"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}),
                "linux.seccomp.listenerPath",
            ),
            (
                json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/x", "syscalls": [
                    {"names": ["sendmsg"], "action": "SCMP_ACT_NOTIFY"}]}),
                "linux.seccomp.syscalls[0].names[0]",
            ),
            (
                json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                    {"names": [], "action": "SCMP_ACT_ERRNO"}]}),
                "linux.seccomp.syscalls[0].names",
            ),
            (
                json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 70000}),
                "linux.seccomp.defaultErrnoRet",
            ),
        ];
        for (value, field) in cases {
            let e = compile(value.clone()).expect_err(&format!("{value} must be refused"));
            assert_eq!(e.field, field, "{value}: {e}");
        }
    }

    #[test]
    fn notify_loads_before_ready() {
        let c = compile(json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/agent.sock",
            "listenerMetadata": "meta", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}))
        .expect("compiles");
        assert!(c.uses_notify());
        assert_eq!(c.load_point(true), LoadPoint::BeforeReady);
        let doc = c.listener_message(42, json!({"id": "x"}));
        assert_eq!(doc["fds"], json!(["seccompFd"]));
        assert_eq!(doc["pid"], 42);
        assert_eq!(doc["metadata"], "meta");
    }

    #[test]
    fn features_list_what_is_supported() {
        let f = features();
        assert_eq!(f["enabled"], true);
        let archs = f["archs"].as_array().expect("archs");
        assert!(archs.contains(&json!("SCMP_ARCH_X86_64")));
        assert_eq!(f["actions"].as_array().map(Vec::len), Some(9));
    }
}
