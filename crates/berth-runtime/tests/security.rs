//! Security: fd leaks, --preserve-fds, the sealed runtime binary, masked and
//! read-only paths, capabilities and no_new_privs.

mod common;

use common::*;
use serde_json::json;
use std::fs;
use std::time::Duration;

/// The fds of the container's shell, sorted.
fn fds(stdout: &str) -> Vec<i32> {
    let mut v: Vec<i32> = stdout
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect();
    v.sort();
    v
}

#[test]
fn only_stdio_fds_inside() {
    require_root!();
    let env = TestEnv::new("sec_fds");
    // (the trailing `true` stops busybox sh from exec'ing ls in its place)
    let o = env.run_args(&["sh", "-c", "ls /proc/$$/fd; true"]);
    o.assert_ok();
    assert_eq!(fds(&o.stdout), [0, 1, 2], "leaked fds: {}", o.describe());
    // also for create/start
    let (id, _b, c) = env.start_container(&env.config(&["sh", "-c", "ls /proc/$$/fd; true"]));
    env.wait_status(&id, "stopped", Duration::from_secs(5));
    let out = wait_for(Duration::from_secs(2), || {
        Some(c.stdout_now()).filter(|s| !s.is_empty())
    })
    .unwrap_or_default();
    assert_eq!(fds(&out), [0, 1, 2], "leaked fds after create/start: {out}");
}

fn run_with_fd3(env: &TestEnv, preserve: Option<&str>) -> Out {
    let payload = env.base.join("payload");
    fs::write(&payload, "fd3-payload\n").unwrap();
    let f = fs::File::open(&payload).unwrap();
    let b = env.bundle(&env.config(&[
        "sh",
        "-c",
        "ls /proc/$$/fd; cat /proc/self/fd/3 2>/dev/null || echo no-fd3",
    ]));
    let id = env.id("fd");
    env.track(&id);
    let mut c = env.command();
    let mut args: Vec<String> = vec!["run".into(), "-b".into(), b.display().to_string()];
    if let Some(n) = preserve {
        args.push("--preserve-fds".into());
        args.push(n.into());
    }
    args.push(id.clone());
    c.args(&args);
    with_extra_fd(&mut c, &f, 3);
    let o = env.rt_cmd(c, args, CMD_TIMEOUT);
    drop(f);
    o
}

#[test]
fn preserve_fds_passes_fd3() {
    require_root!();
    let env = TestEnv::new("sec_preserve");
    let o = run_with_fd3(&env, Some("1"));
    o.assert_ok();
    let (ls, rest) = o
        .stdout
        .split_once("fd3-payload")
        .unwrap_or_else(|| panic!("fd 3 not readable: {}", o.describe()));
    assert_eq!(fds(ls), [0, 1, 2, 3], "{}", o.describe());
    assert!(!rest.contains("no-fd3"));

    let o = run_with_fd3(&env, None);
    o.assert_ok();
    assert!(
        o.stdout.contains("no-fd3"),
        "fd 3 leaked without --preserve-fds: {}",
        o.describe()
    );
    assert_eq!(
        fds(o.stdout.split("no-fd3").next().unwrap()),
        [0, 1, 2],
        "{}",
        o.describe()
    );
}

/// The class of CVE-2019-5736: a container process opens /proc/<init>/exe while the init still runs
/// the runtime binary, waits until no runtime process executes it any more, then reopens it for
/// writing to overwrite the host's binary. The runtime must run its init from something that can
/// never be written: a read-only mount or a sealed memfd copy.
#[test]
fn runtime_binary_cannot_be_overwritten_through_proc_exe() {
    require_root!();
    let env = TestEnv::new("sec_exe");
    // A private copy of the runtime: no other test executes it, so ETXTBSY cannot mask the result.
    let private_bin = env.base.join("berth-runtime-under-test");
    fs::copy(runtime_bin(), &private_bin).unwrap();
    let b = env.bundle(&env.config(&["sleep", "100"]));
    let id = env.id("exe");
    let mut c = std::process::Command::new(&private_bin);
    c.args(extra_global_args()).arg("--root").arg(&env.root);
    c.env("BERTH_TEST_TAG", &env.tag);
    let args: Vec<String> = ["create", "--bundle", b.to_str().unwrap(), id.as_str()]
        .iter()
        .map(|s| s.to_string())
        .collect();
    c.args(&args);
    env.track(&id);
    env.rt_cmd(c, args, Duration::from_secs(10)).assert_ok();
    let pid = env.state_pid(&id);

    // What an attacker inside the container would hold: an O_PATH descriptor of the init's exe.
    use std::os::unix::fs::OpenOptionsExt;
    let exe = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH)
        .open(format!("/proc/{pid}/exe"))
        .expect("open /proc/PID/exe");
    env.delete_force(&id).assert_ok();
    assert!(
        wait_pid_gone(pid, Duration::from_secs(5)),
        "init {pid} did not exit"
    );

    use std::os::fd::AsRawFd;
    let reopened = fs::OpenOptions::new()
        .write(true)
        .open(format!("/proc/self/fd/{}", exe.as_raw_fd()));
    match reopened {
        Err(e) => assert!(
            matches!(
                e.raw_os_error(),
                Some(libc::EROFS) | Some(libc::EPERM) | Some(libc::EACCES)
            ),
            "reopening the init's exe for writing failed for the wrong reason: {e}"
        ),
        Ok(file) => {
            // Only a sealed memfd may be opened for writing; a write of the unchanged first byte must fail.
            use std::os::unix::fs::FileExt;
            let reader = fs::File::open(format!("/proc/self/fd/{}", exe.as_raw_fd())).unwrap();
            let mut first = [0u8; 1];
            reader.read_exact_at(&mut first, 0).unwrap();
            let written = file.write_at(&first, 0);
            assert!(
                written.is_err(),
                "the init's exe could be written: the host binary is exposed"
            );
        }
    }
    let on_disk = fs::read(&private_bin).unwrap();
    assert_eq!(
        on_disk,
        fs::read(runtime_bin()).unwrap(),
        "the runtime binary changed"
    );
}

#[test]
fn masked_and_readonly_paths() {
    require_root!();
    let env = TestEnv::new("sec_masked");
    // masked paths that exist on this kernel: files read empty, dirs list empty
    let masked: Vec<&str> = [
        "/proc/kcore",
        "/proc/keys",
        "/proc/timer_list",
        "/proc/sched_debug",
        "/proc/latency_stats",
        "/sys/firmware",
        "/proc/acpi",
        "/proc/scsi",
    ]
    .into_iter()
    .filter(|p| std::path::Path::new(p).exists())
    .collect();
    assert!(!masked.is_empty());
    let script = masked
        .iter()
        .map(|p| format!("if [ -d {p} ]; then echo {p}=$(ls -A {p} | wc -l); else echo {p}=$(cat {p} | wc -c); fi"))
        .collect::<Vec<_>>()
        .join("; ")
        + "; echo ---; cat /proc/self/mountinfo";
    let o = env.run_args(&["sh", "-c", &script]);
    o.assert_ok();
    let (sizes, info) = o.stdout.split_once("---\n").unwrap();
    for p in &masked {
        assert!(
            sizes.lines().any(|l| l == format!("{p}=0")),
            "{p} not masked: {sizes}\n{}",
            o.stderr
        );
    }
    for p in [
        "/proc/sys",
        "/proc/sysrq-trigger",
        "/proc/bus",
        "/proc/fs",
        "/proc/irq",
    ] {
        if !std::path::Path::new(p).exists() {
            continue;
        }
        let l = mountinfo_line(info, p)
            .unwrap_or_else(|| panic!("{p} not remounted read-only:\n{info}"));
        let per: Vec<&str> = l.split(' ').nth(5).unwrap().split(',').collect();
        assert!(per.contains(&"ro"), "{p} not read-only: {l}");
    }
}

#[test]
fn capabilities_and_no_new_privs() {
    require_root!();
    let env = TestEnv::new("sec_caps");
    let mut cfg = env.config(&[
        "grep",
        "-E",
        "^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs):",
        "/proc/self/status",
    ]);
    let caps = json!(["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE"]);
    cfg["process"]["capabilities"] = json!({
        "bounding": caps, "effective": caps, "permitted": caps, "ambient": caps, "inheritable": caps
    });
    let o = env.run_config(&cfg);
    o.assert_ok();
    let want = "0000000020000420"; // KILL(5) | NET_BIND_SERVICE(10) | AUDIT_WRITE(29)
    for f in ["CapPrm", "CapEff", "CapBnd", "CapAmb", "CapInh"] {
        let line = o
            .stdout
            .lines()
            .find(|l| l.starts_with(f))
            .unwrap_or_else(|| panic!("{f}: {}", o.describe()));
        assert_eq!(line.split_whitespace().nth(1), Some(want), "{line}");
    }
    assert!(
        o.stdout
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["NoNewPrivs:", "1"]),
        "{}",
        o.describe()
    );
}

#[test]
fn no_new_privileges_false() {
    require_root!();
    let env = TestEnv::new("sec_nnp_off");
    let mut cfg = env.config(&["grep", "NoNewPrivs", "/proc/self/status"]);
    cfg["process"]["noNewPrivileges"] = json!(false);
    let o = env.run_config(&cfg);
    o.assert_ok();
    assert_eq!(
        o.stdout.split_whitespace().collect::<Vec<_>>(),
        ["NoNewPrivs:", "0"]
    );
}

#[test]
fn non_root_user_has_no_capabilities() {
    require_root!();
    let env = TestEnv::new("sec_nonroot");
    let mut cfg = env.config(&[
        "sh",
        "-c",
        "grep CapEff /proc/self/status; touch /etc/x 2>&1; echo rc=$?",
    ]);
    cfg["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    cfg["process"]["capabilities"] = json!({"bounding": ["CAP_KILL"]});
    let o = env.run_config(&cfg);
    o.assert_ok();
    assert!(
        o.stdout.contains("CapEff:\t0000000000000000"),
        "{}",
        o.describe()
    );
    assert!(o.stdout.contains("Permission denied"), "{}", o.describe());
}

/// Each of the five capability sets is set as the spec says, independently; a non-root user
/// keeps what ambient grants across exec.
#[test]
fn capability_sets_are_independent() {
    require_root!();
    let env = TestEnv::new("sec_capsets");
    let mut cfg = env.config(&[
        "grep",
        "-E",
        "^(CapInh|CapPrm|CapEff|CapBnd|CapAmb):",
        "/proc/self/status",
    ]);
    cfg["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    cfg["process"]["capabilities"] = json!({
        "bounding": ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE", "CAP_CHOWN"],
        "permitted": ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE"],
        "inheritable": ["CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE"],
        "effective": ["CAP_KILL"],
        "ambient": ["CAP_NET_BIND_SERVICE"]
    });
    cfg["process"]["noNewPrivileges"] = json!(false);
    let o = env.run_config(&cfg);
    o.assert_ok();
    let field = |name: &str| {
        o.stdout
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .map(|v| u64::from_str_radix(v, 16).unwrap())
            .unwrap_or_else(|| panic!("{name}: {}", o.describe()))
    };
    let (chown, kill, bind, audit) = (1u64 << 0, 1u64 << 5, 1u64 << 10, 1u64 << 29);
    assert_eq!(field("CapBnd:"), chown | kill | bind | audit);
    assert_eq!(field("CapInh:"), bind | audit);
    assert_eq!(field("CapAmb:"), bind);
    // After exec as uid 1000, permitted and effective are exactly the ambient set.
    assert_eq!(field("CapPrm:"), bind);
    assert_eq!(field("CapEff:"), bind);
}
