//! A failure is reported by the command that caused it, before it returns: every step of the init
//! that can fail (capabilities, user, cwd, rlimits, ...) happens before `create` exits 0, and
//! what can only fail later — the exec of the program — makes `start` fail with the reason.

mod common;

use common::*;
use serde_json::json;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

/// `create` run by a runtime whose own bounding set lacks CAP_SYS_TIME (so its permitted set does
/// too) for a config that asks for it: capset refuses, and create must say so. runc 1.1.5 too.
#[test]
fn a_refused_capset_fails_create() {
    require_root!();
    let env = TestEnv::new("late_capset");
    let mut cfg = env.config(&["true"]);
    for set in ["bounding", "effective", "permitted"] {
        let caps = cfg["process"]["capabilities"][set].as_array_mut().unwrap();
        caps.push(json!("CAP_SYS_TIME"));
    }
    let bundle = env.bundle(&cfg);
    let id = env.id("capset");
    env.track(&id);
    let mut c = Command::new("setpriv");
    c.args(["--bounding-set", "-sys_time", "--"]);
    c.arg(runtime_bin());
    c.args(extra_global_args());
    c.arg("--root").arg(&env.root);
    c.env("BERTH_TEST_TAG", &env.tag);
    let args = vec![
        "create".to_string(),
        "-b".into(),
        bundle.display().to_string(),
        id.clone(),
    ];
    c.args(&args);
    let o = env.rt_cmd(c, args, cmd_timeout());
    o.assert_fail();
    if !is_reference_runtime() {
        assert_stderr_names(&o, &["process.capabilities", "Operation not permitted"]);
    }
    env.assert_nothing_left(&id, &bundle);
}

/// The user and the cwd are set up before create returns: a cwd that is a file, or groups the
/// kernel refuses, fail create, not the container after start. runc 1.1.5 too.
#[test]
fn user_and_cwd_failures_fail_create() {
    require_root!();
    let env = TestEnv::new("late_user_cwd");
    let mut cfg = env.config(&["true"]);
    cfg["process"]["cwd"] = json!("/bin/busybox");
    let bundle = env.bundle(&cfg);
    let id = env.id("cwd");
    let o = env.create(&bundle, &id);
    o.assert_fail();
    if !is_reference_runtime() {
        assert_stderr_names(&o, &["process.cwd /bin/busybox", "Not a directory"]);
    }
    env.assert_nothing_left(&id, &bundle);

    // More supplementary groups than the kernel allows (NGROUPS_MAX is 65536).
    let mut cfg = env.config(&["true"]);
    cfg["process"]["user"]["additionalGids"] = json!((0..65537).collect::<Vec<u32>>());
    let bundle = env.bundle(&cfg);
    let id = env.id("groups");
    let o = env.create(&bundle, &id);
    o.assert_fail();
    if !is_reference_runtime() {
        assert_stderr_names(&o, &["process.user.additionalGids"]);
    }
    env.assert_nothing_left(&id, &bundle);
}

/// The program is looked up at create; if it cannot be executed by the time of `start`, start
/// fails with the reason and the container is stopped. Berth-only: runc 1.1.5 reports success
/// from start (its init signals start before the exec) and the failure only in its log.
#[test]
fn an_exec_failure_fails_start() {
    require_root!();
    if is_reference_runtime() {
        eprintln!("SKIP: berth-only (runc's start does not wait for the exec)");
        return;
    }
    let env = TestEnv::new("late_exec");
    for (case, break_it) in [
        (
            "removed",
            (|p: &std::path::Path| fs::remove_file(p).unwrap()) as fn(&std::path::Path),
        ),
        ("not executable", |p: &std::path::Path| {
            fs::set_permissions(p, fs::Permissions::from_mode(0o644)).unwrap()
        }),
    ] {
        let cfg = env.config(&["/prog"]);
        let bundle = env.bundle(&cfg);
        let program = bundle.join("rootfs/prog");
        fs::write(&program, "#!/bin/sh\necho ran\n").unwrap();
        fs::set_permissions(&program, fs::Permissions::from_mode(0o755)).unwrap();
        let id = env.id("exec");
        env.create(&bundle, &id).assert_ok();
        break_it(&program);
        let o = env.start(&id);
        o.assert_fail();
        assert_stderr_names(&o, &["exec /prog"]);
        env.wait_status(&id, "stopped", cmd_timeout());
        assert!(!o.stdout.contains("ran"), "{case}: {}", o.describe());
        env.delete(&id).assert_ok();
    }
}

/// A container whose program runs starts as before: `start` returns once the init has execed it
/// (the process is no longer the runtime's init). runc 1.1.5 returns a little earlier, just before
/// its exec, so the cmdline check is berth-only.
#[test]
fn start_returns_once_the_program_runs() {
    require_root!();
    let env = TestEnv::new("late_start_ok");
    let cfg = env.config(&["sh", "-c", "echo up > /up; sleep 1000"]);
    let (id, bundle, _) = env.start_container(&cfg);
    let pid = env.state_pid(&id);
    let cmdline = fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    if !is_reference_runtime() {
        assert!(
            !cmdline.is_empty() && !cmdline.contains("berth"),
            "start returned before the exec: {cmdline:?}"
        );
    }
    assert_eq!(env.state_status(&id), "running");
    let up = wait_for(cmd_timeout(), || {
        fs::read_to_string(bundle.join("rootfs/up")).ok()
    });
    assert_eq!(up.as_deref(), Some("up\n"));
}
