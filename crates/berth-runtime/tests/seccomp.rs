//! Seccomp: errno actions and their defaults, argument conditions, kill/trap/log actions, flags
//! and architectures, the load point without no_new_privs, notify with a listener, Docker's
//! default profile, and refused input.
//!
//! `fixtures/docker-seccomp.json` is Docker's default profile (moby `profiles/seccomp/default.json`)
//! in the OCI form dockerd sends for amd64 and Docker's default capabilities: the arch map
//! becomes `architectures`, `includes`/`excludes` by capability and arch are resolved (no
//! CAP_SYS_ADMIN, CAP_SYS_BOOT or CAP_SYS_PTRACE; CAP_SYS_CHROOT kept), comments dropped.

mod common;

use common::*;
use serde_json::{Value, json};
use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::time::Duration;

/// The default config running `sh -c script` under `seccomp`.
fn config_with(env: &TestEnv, script: &str, seccomp: Value) -> Value {
    let mut cfg = env.config(&["sh", "-c", script]);
    cfg["linux"]["seccomp"] = seccomp;
    cfg
}

fn docker_profile() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/docker-seccomp.json");
    let text = std::fs::read_to_string(&path).expect("read the Docker profile fixture");
    serde_json::from_str(&text).expect("the Docker profile fixture is JSON")
}

#[test]
fn errno_of_a_rule_and_the_eperm_default() {
    require_root!();
    let env = TestEnv::new("seccomp_errno");
    let seccomp = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::EOPNOTSUPP},
            {"names": ["rmdir"], "action": "SCMP_ACT_ERRNO"}
        ]
    });
    let script = "mkdir /tmp/d 2>&1; echo mkdir=$?; test -d /tmp/d || echo no-dir; \
                  rmdir /mnt 2>&1; echo rmdir=$?; grep -E '^Seccomp' /proc/self/status";
    let o = env.run_config(&config_with(&env, script, seccomp));
    o.assert_ok();
    let out = o.stdout.to_lowercase();
    assert!(out.contains("not supported"), "{}", o.describe());
    assert!(
        out.contains("mkdir=1") && out.contains("no-dir"),
        "{}",
        o.describe()
    );
    assert!(out.contains("operation not permitted"), "{}", o.describe());
    assert!(out.contains("rmdir=1"), "{}", o.describe());
    assert!(
        out.contains("seccomp:\t2"),
        "no filter mode: {}",
        o.describe()
    );
}

#[test]
fn default_errno_ret() {
    require_root!();
    let env = TestEnv::new("seccomp_default_errno");
    let mut seccomp = docker_profile();
    seccomp["defaultErrnoRet"] = json!(libc::EOPNOTSUPP);
    // unshare is outside the profile without CAP_SYS_ADMIN: the default action answers.
    let script = "unshare -U true 2>&1; echo unshare=$?; echo still-here";
    let o = env.run_config(&config_with(&env, script, seccomp));
    o.assert_ok();
    let out = o.stdout.to_lowercase();
    assert!(out.contains("not supported"), "{}", o.describe());
    assert!(
        out.contains("unshare=1") && out.contains("still-here"),
        "{}",
        o.describe()
    );
}

#[test]
fn argument_conditions() {
    require_root!();
    let env = TestEnv::new("seccomp_args");
    let seccomp = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            // personality(PER_LINUX32) is refused, personality(PER_LINUX) is not.
            {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::EACCES,
             "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
            // Two conditions on one argument: either matches (AF_INET or AF_INET6).
            {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::EPROTONOSUPPORT,
             "args": [{"index": 0, "value": libc::AF_INET, "op": "SCMP_CMP_EQ"},
                      {"index": 0, "value": libc::AF_INET6, "op": "SCMP_CMP_EQ"}]},
            // Masked: making a file world-writable is refused (chmod's mode is argument 1,
            // fchmodat's argument 2).
            {"names": ["chmod"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::EROFS,
             "args": [{"index": 1, "value": 0o002, "valueTwo": 0o002, "op": "SCMP_CMP_MASKED_EQ"}]},
            {"names": ["fchmodat"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::EROFS,
             "args": [{"index": 2, "value": 0o002, "valueTwo": 0o002, "op": "SCMP_CMP_MASKED_EQ"}]},
        ]
    });
    let script = "linux32 true 2>&1; echo linux32=$?; linux64 true 2>&1; echo linux64=$?; \
                  nc -w 1 127.0.0.1 9 2>&1; nc -w 1 ::1 9 2>&1; \
                  touch /tmp/f; chmod 777 /tmp/f 2>&1; echo open=$?; chmod 755 /tmp/f; echo closed=$?";
    let o = env.run_config(&config_with(&env, script, seccomp));
    o.assert_ok();
    let out = o.stdout.to_lowercase();
    assert!(
        out.contains("permission denied") && out.contains("linux32=1"),
        "{}",
        o.describe()
    );
    assert!(out.contains("linux64=0"), "{}", o.describe());
    assert_eq!(
        out.matches("protocol not supported").count(),
        2,
        "{}",
        o.describe()
    );
    assert!(
        out.contains("read-only file system") && out.contains("open=1"),
        "{}",
        o.describe()
    );
    assert!(out.contains("closed=0"), "{}", o.describe());
}

#[test]
fn kill_and_trap_actions_end_the_process_with_sigsys() {
    require_root!();
    let env = TestEnv::new("seccomp_kill");
    for action in [
        "SCMP_ACT_KILL_PROCESS",
        "SCMP_ACT_KILL",
        "SCMP_ACT_KILL_THREAD",
        "SCMP_ACT_TRAP",
    ] {
        let mut cfg = env.config(&["mkdir", "/tmp/x"]);
        cfg["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": action}]
        });
        let o = env.run_config(&cfg);
        assert_eq!(
            o.code(),
            128 + libc::SIGSYS,
            "{action}: expected death by SIGSYS: {}",
            o.describe()
        );
    }
}

#[test]
fn log_action_allows_and_flags_are_accepted() {
    require_root!();
    let env = TestEnv::new("seccomp_log");
    let mut seccomp = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_LOG"},
            {"names": ["rmdir"], "action": "SCMP_ACT_ERRNO"}
        ]
    });
    // (runc 1.1, the reference here, refuses every flag)
    if !is_reference_runtime() {
        seccomp["flags"] = json!([
            "SECCOMP_FILTER_FLAG_LOG",
            "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
            "SECCOMP_FILTER_FLAG_TSYNC"
        ]);
    }
    let script = "mkdir /tmp/logged && echo made; rmdir /tmp/logged 2>&1; echo rmdir=$?; \
                  grep -E '^Seccomp' /proc/self/status";
    let o = env.run_config(&config_with(&env, script, seccomp));
    o.assert_ok();
    let out = o.stdout.to_lowercase();
    assert!(out.contains("made"), "{}", o.describe());
    assert!(out.contains("rmdir=1"), "{}", o.describe());
    assert!(out.contains("seccomp_filters:\t1"), "{}", o.describe());
}

#[test]
fn architectures_cover_the_compat_abis() {
    require_root!();
    let env = TestEnv::new("seccomp_arch");
    let seccomp = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]
    });
    let o = env.run_config(&config_with(
        &env,
        "mkdir /tmp/d 2>&1; echo mkdir=$?",
        seccomp,
    ));
    o.assert_ok();
    assert!(o.stdout.contains("mkdir=1"), "{}", o.describe());
}

#[test]
fn without_no_new_privs_the_filter_is_loaded_before_dropping_privileges() {
    require_root!();
    let env = TestEnv::new("seccomp_nnp");
    let mut cfg = config_with(
        &env,
        "id -u; mkdir /tmp/d 2>&1; echo mkdir=$?",
        json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::EOPNOTSUPP}]
        }),
    );
    // A user without CAP_SYS_ADMIN could not load a filter without no_new_privs.
    cfg["process"]["noNewPrivileges"] = json!(false);
    cfg["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    let o = env.run_config(&cfg);
    o.assert_ok();
    assert!(o.stdout.starts_with("1000\n"), "{}", o.describe());
    assert!(
        o.stdout.to_lowercase().contains("not supported") && o.stdout.contains("mkdir=1"),
        "{}",
        o.describe()
    );
}

#[test]
fn docker_default_profile() {
    require_root!();
    let env = TestEnv::new("seccomp_docker");
    let script = "echo hello; ls / >/dev/null && echo ls-ok; mkdir /tmp/d && echo mkdir-ok; \
                  (sleep 0; echo subshell-ok); \
                  mount -t tmpfs none /mnt 2>&1; echo mount=$?; \
                  unshare -U true 2>&1; echo unshare=$?; \
                  reboot -f 2>&1; echo reboot=$?; \
                  grep -E '^Seccomp:' /proc/self/status";
    let mut cfg = config_with(&env, script, docker_profile());
    // As Docker runs containers by default.
    cfg["process"]["noNewPrivileges"] = json!(false);
    let o = env.run_config(&cfg);
    o.assert_ok();
    let out = &o.stdout;
    for ok in ["hello", "ls-ok", "mkdir-ok", "subshell-ok", "Seccomp:\t2"] {
        assert!(out.contains(ok), "missing {ok:?}: {}", o.describe());
    }
    for refused in ["mount=", "unshare=", "reboot="] {
        let code = out
            .lines()
            .find_map(|l| l.strip_prefix(refused))
            .unwrap_or_else(|| panic!("no {refused}: {}", o.describe()));
        assert_ne!(code, "0", "{refused} succeeded: {}", o.describe());
    }
    assert!(
        out.contains("Operation not permitted"),
        "expected EPERM from the profile: {}",
        o.describe()
    );
}

/// What the seccomp agent received: the JSON document and the notify fd.
fn receive_from_runtime(listener: &UnixListener) -> (Value, OwnedFd) {
    listener.set_nonblocking(false).expect("blocking listener");
    let (stream, _) = accept_with_timeout(listener, Duration::from_secs(10));
    let mut buf = vec![0u8; 64 * 1024];
    let mut control = [0u8; 64];
    let mut iov = [IoSliceMut::new(&mut buf)];
    // SAFETY (test): msghdr points at live buffers of the given sizes.
    let (n, fd) = unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = iov.as_mut_ptr().cast();
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = control.len();
        let n = libc::recvmsg(stream.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC);
        assert!(n > 0, "recvmsg: {}", std::io::Error::last_os_error());
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        assert!(!cmsg.is_null(), "no control message with the fd");
        assert_eq!((*cmsg).cmsg_level, libc::SOL_SOCKET);
        assert_eq!((*cmsg).cmsg_type, libc::SCM_RIGHTS);
        let fd = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg) as *const libc::c_int);
        (n as usize, OwnedFd::from_raw_fd(fd))
    };
    let doc = serde_json::from_slice(&buf[..n]).expect("the agent message is JSON");
    (doc, fd)
}

fn accept_with_timeout(
    listener: &UnixListener,
    timeout: Duration,
) -> (UnixStream, std::os::unix::net::SocketAddr) {
    listener
        .set_nonblocking(true)
        .expect("nonblocking listener");
    let got = wait_for(timeout, || listener.accept().ok());
    let (stream, addr) = got.expect("the runtime never connected to listenerPath");
    stream.set_nonblocking(false).expect("blocking stream");
    (stream, addr)
}

/// Waits for one notification on `fd` and answers it with `-errno`; returns the syscall number.
fn answer_one_notification(fd: &OwnedFd, errno: i32) -> i32 {
    let mut poll = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY (test): one valid pollfd.
    let ready = unsafe { libc::poll(&mut poll, 1, 10_000) };
    assert_eq!(ready, 1, "no seccomp notification within 10 s");
    // SAFETY (test): the kernel fills a zeroed seccomp_notif of the size the ioctl encodes.
    let mut notif: libc::seccomp_notif = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_RECV, &mut notif) };
    assert_eq!(rc, 0, "NOTIF_RECV: {}", std::io::Error::last_os_error());
    let mut resp = libc::seccomp_notif_resp {
        id: notif.id,
        val: 0,
        error: -errno,
        flags: 0,
    };
    // SAFETY (test): a valid response for the notification just received.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_SEND, &mut resp) };
    assert_eq!(rc, 0, "NOTIF_SEND: {}", std::io::Error::last_os_error());
    notif.data.nr
}

#[test]
fn notify_sends_the_listener_fd_to_the_agent() {
    require_root!();
    let env = TestEnv::new("seccomp_notify");
    let socket_path = env.base.join("agent.sock");
    let listener = UnixListener::bind(&socket_path).expect("bind the agent socket");
    let mut seccomp = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": socket_path,
        "listenerMetadata": "berth-test-metadata",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]
    });
    if !is_reference_runtime() {
        seccomp["flags"] = json!(["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]);
    }
    let script = "mkdir /tmp/a 2>&1; echo first=$?; mkdir /tmp/b 2>&1; echo second=$?";
    let bundle = env.bundle(&config_with(&env, script, seccomp));
    let id = env.id("notify");
    let created = env.create(&bundle, &id);
    created.assert_ok();
    let pid = env.state_pid(&id);

    let (doc, notify_fd) = receive_from_runtime(&listener);
    assert_eq!(doc["fds"], json!(["seccompFd"]), "{doc}");
    assert_eq!(doc["pid"], json!(pid), "{doc}");
    assert_eq!(doc["metadata"], json!("berth-test-metadata"), "{doc}");
    assert!(doc["ociVersion"].is_string(), "{doc}");
    assert_eq!(doc["state"]["id"], json!(id), "{doc}");
    assert_eq!(doc["state"]["status"], json!("creating"), "{doc}");
    assert_eq!(doc["state"]["pid"], json!(pid), "{doc}");
    let bundle_dir = std::fs::canonicalize(&bundle).expect("bundle path");
    assert_eq!(doc["state"]["bundle"], json!(bundle_dir), "{doc}");

    env.start(&id).assert_ok();
    let nr = answer_one_notification(&notify_fd, libc::EDQUOT);
    assert!(
        nr == libc::SYS_mkdir as i32 || nr == libc::SYS_mkdirat as i32,
        "notified syscall {nr}"
    );
    // Without an agent the kernel fails the notified syscall with ENOSYS.
    drop(notify_fd);
    drop(listener);
    env.wait_status(&id, "stopped", Duration::from_secs(10));
    let out = created.stdout_now().to_lowercase();
    assert!(
        out.contains("disk quota exceeded") && out.contains("first=1"),
        "agent's answer not seen: {out}"
    );
    assert!(
        out.contains("function not implemented") && out.contains("second=1"),
        "closing the fd should give ENOSYS: {out}"
    );
    env.delete(&id).assert_ok();
}

#[test]
fn notify_with_an_absent_agent_fails_create_and_leaves_nothing() {
    require_root!();
    let env = TestEnv::new("seccomp_no_agent");
    let seccomp = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": env.base.join("nobody-listens.sock"),
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]
    });
    let bundle = env.bundle(&config_with(&env, "true", seccomp));
    expect_refused(&env, &bundle, &["listenerPath", "seccomp"]);
}

const SLOW_CMD_TIMEOUT: Duration = Duration::from_secs(60);

#[track_caller]
fn expect_refused(env: &TestEnv, bundle: &Path, words: &[&str]) {
    for cmd in ["create", "run"] {
        let id = env.id(cmd);
        let args: Vec<String> = vec![
            cmd.into(),
            "-b".into(),
            bundle.display().to_string(),
            id.clone(),
        ];
        let mut command = env.command();
        command.args(&args);
        // A refusal that comes after the init started (no agent) is slow under the VM's emulation.
        let o = env.rt_cmd(command, args, SLOW_CMD_TIMEOUT);
        o.assert_fail();
        assert_stderr_names(&o, words);
        env.assert_nothing_left(&id, bundle);
    }
}

#[test]
fn bad_input_is_refused_naming_the_field() {
    require_root!();
    let env = TestEnv::new("seccomp_bad");
    let allow = |syscalls: Value| json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": syscalls});
    // (seccomp section, words the error must name, berth-only)
    let cases: Vec<(Value, &[&str], bool)> = vec![
        (
            allow(json!([{"names": ["mkdir"], "action": "SCMP_ACT_BOGUS"}])),
            &["syscalls[0].action"],
            false,
        ),
        (
            json!({"defaultAction": "SCMP_ACT_BOGUS"}),
            &["defaultAction"],
            false,
        ),
        (
            allow(json!([{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO",
                        "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_BOGUS"}]}])),
            &["args[0].op"],
            false,
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_BOGUS"]}),
            &["architectures[0]"],
            false,
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_BOGUS"]}),
            &["flags[0]"],
            false,
        ),
        (
            allow(json!([{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}])),
            &["listenerPath"],
            false,
        ),
        (
            allow(json!([{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO",
                        "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}])),
            &["args[0].index"],
            true,
        ),
        (
            allow(json!([{"names": ["mkdir"], "action": "SCMP_ACT_KILL", "errnoRet": 1}])),
            &["syscalls[0].errnoRet"],
            true,
        ),
        (
            json!({"defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": "/nonexistent.sock"}),
            &["defaultAction"],
            false,
        ),
        (
            allow(json!([{"names": [], "action": "SCMP_ACT_ERRNO"}])),
            &["syscalls[0].names"],
            true,
        ),
    ];
    for (seccomp, words, berth_only) in cases {
        if berth_only && is_reference_runtime() {
            continue;
        }
        let bundle = env.bundle(&config_with(&env, "true", seccomp));
        expect_refused(&env, &bundle, words);
    }
}

/// A second start with the same section uses the program compiled by the first (berth keeps it
/// under --root), and the cached filter works the same.
#[test]
fn compiled_filters_are_reused() {
    require_root!();
    if is_reference_runtime() {
        return;
    }
    let env = TestEnv::new("seccomp_cache");
    let mut cfg = env.config(&["sh", "-c", "mkdir /tmp/x 2>&1; echo code=$?"]);
    cfg["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 95}]
    });
    let first = env.run_config(&cfg);
    first.assert_ok();
    let cache = env.root.join("@seccomp-cache");
    let entries: Vec<_> = std::fs::read_dir(&cache)
        .expect("berth keeps compiled filters under --root")
        .filter_map(|e| e.ok())
        .collect();
    assert_eq!(entries.len(), 1, "one section, one cached program");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&cache).unwrap().permissions());
    assert_eq!(mode & 0o077, 0, "the cache is private to root");
    let second = env.run_config(&cfg);
    second.assert_ok();
    for o in [&first, &second] {
        assert!(o.stdout.contains("code=1"), "{}", o.describe());
        assert!(
            o.stdout.contains("not supported"),
            "EOPNOTSUPP expected: {}",
            o.describe()
        );
    }
    // A damaged entry is ignored and replaced, never loaded.
    std::fs::write(entries[0].path(), b"garbage").unwrap();
    env.run_config(&cfg).assert_ok();
    assert_ne!(std::fs::read(entries[0].path()).unwrap(), b"garbage");
    let listed = env.rt(["list", "-q"]);
    listed.assert_ok();
    assert_eq!(
        listed.stdout.trim(),
        "",
        "the cache is not listed as a container"
    );
}

/// Docker's profile less every syscall newer than Linux 5.0 and getcwd, as in profiles written
/// before close_range existed (older Docker, Kubernetes and runtime-tools ones): the default
/// action refuses them with EPERM.
fn profile_before_close_range() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/seccomp-before-close-range.json");
    let text = std::fs::read_to_string(&path).expect("read the old-profile fixture");
    serde_json::from_str(&text).expect("the old-profile fixture is JSON")
}

/// Nothing the runtime does once the filter is loaded may need a syscall the profile lacks: the
/// init and exec'd processes start under a profile without close_range and getcwd, with and
/// without no_new_privileges (the filter loads before the user change without it). Berth-only:
/// Debian's runc 1.1.5 fails create here ("failed to verify if current working directory is
/// safe: operation not permitted": its getcwd check runs under the filter).
#[test]
fn a_profile_without_close_range_or_getcwd_still_starts_containers() {
    require_root!();
    if is_reference_runtime() {
        eprintln!("SKIP: berth-only (runc checks the cwd with getcwd under the filter)");
        return;
    }
    let env = TestEnv::new("seccomp_old_profile");
    for no_new_privileges in [true, false] {
        let mut cfg = config_with(
            &env,
            "echo started; sleep 1000",
            profile_before_close_range(),
        );
        cfg["process"]["noNewPrivileges"] = json!(no_new_privileges);
        cfg["process"]["cwd"] = json!("/tmp");
        let (id, _, _) = env.start_container(&cfg);
        let pid = env.state_pid(&id);
        let started = wait_for(cmd_timeout(), || {
            let out = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).ok()?;
            out.contains("sleep").then_some(())
        });
        assert!(
            started.is_some(),
            "noNewPrivileges={no_new_privileges}: the container did not run its program"
        );
        let o = env.rt([
            "exec",
            &id,
            "sh",
            "-c",
            "echo exec-ok; readlink /proc/self/cwd",
        ]);
        o.assert_ok();
        assert_eq!(
            o.stdout.trim(),
            "exec-ok\n/tmp",
            "noNewPrivileges={no_new_privileges}: {}",
            o.describe()
        );
        env.delete_force(&id).assert_ok();
    }
}
