//! Security: fd leaks, --preserve-fds, the sealed runtime binary, masked and
//! read-only paths, capabilities and no_new_privs.

mod common;

use common::*;
use serde_json::json;
use std::fs;
use std::os::unix::fs::MetadataExt;
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

#[test]
fn init_exe_is_not_the_host_binary() {
    require_root!();
    let env = TestEnv::new("sec_exe");
    let b = env.bundle(&env.config(&["sleep", "100"]));
    let id = env.id("exe");
    env.create(&b, &id).assert_ok();
    let pid = env.state_pid(&id);
    let bin = fs::canonicalize(runtime_bin()).unwrap();
    let link = fs::read_link(format!("/proc/{pid}/exe")).expect("read /proc/PID/exe");
    let link_s = link.to_string_lossy().into_owned();
    assert!(
        !link_s.starts_with(&bin.to_string_lossy().into_owned()),
        "init of a created container executes the on-disk runtime binary {link_s}"
    );
    // The file behind the link is not the on-disk binary's inode (a sealed
    // memfd copy, like runc >= 1.2 and crun). runc 1.1 instead execs the
    // on-disk inode through a detached read-only bind mount, which is only
    // accepted for the reference runtime.
    let exe_md = fs::metadata(format!("/proc/{pid}/exe")).unwrap();
    let bin_md = fs::metadata(&bin).unwrap();
    let same_inode = (exe_md.dev(), exe_md.ino()) == (bin_md.dev(), bin_md.ino());
    assert!(
        !same_inode || is_reference_runtime(),
        "init's exe ({link_s}) is the on-disk binary {bin:?}, not a sealed copy"
    );
    let w = fs::OpenOptions::new()
        .write(true)
        .open(format!("/proc/{pid}/exe"));
    assert!(
        w.is_err(),
        "init's exe ({link_s}) can be opened for writing"
    );
    if !same_inode && !is_reference_runtime() {
        // a sealed memfd: its seals forbid writes and growth
        let fd = fs::File::open(format!("/proc/{pid}/exe")).unwrap();
        use std::os::fd::AsRawFd;
        let seals = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GET_SEALS) };
        if link_s.starts_with("/memfd:") {
            assert!(
                seals >= 0 && seals & libc::F_SEAL_WRITE != 0,
                "memfd {link_s} not write-sealed (seals {seals:#x})"
            );
        }
    }
    // The container still starts normally.
    env.start(&id).assert_ok();
    assert_eq!(env.state_status(&id), "running");
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
        let l = mountinfo_line(&info, p)
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
