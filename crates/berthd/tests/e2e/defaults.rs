//! Docker's defaults seen from inside the container (capabilities, seccomp, masked and read-only
//! paths), the options that change them, resource limits in the cgroup, and `--rm` leaving
//! nothing behind.

use crate::common::*;
use std::time::Duration;

/// Docker's default capability set as /proc/PID/status shows it.
pub const DOCKER_CAPS: &str = "00000000a80425fb";

fn status_field(c: &Client, opts: &[&str], field: &str) -> String {
    let mut args = vec!["run", "--rm"];
    args.extend_from_slice(opts);
    args.push("busybox");
    status_value(c, &args, field)
}

/// The value of `field` in /proc/self/status of the process `prefix` (a client command up to
/// the program) starts.
#[track_caller]
pub fn status_value(c: &Client, prefix: &[&str], field: &str) -> String {
    let mut args = prefix.to_vec();
    args.extend_from_slice(&["grep", field, "/proc/self/status"]);
    let o = c.cmd(&args);
    o.assert_ok();
    o.trimmed()
        .split_whitespace()
        .nth(1)
        .unwrap_or("")
        .to_string()
}

/// Every capability this host lets us have: the test process's own bounding set.
pub fn all_caps() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .unwrap_or("")
        .trim()
        .to_string()
}

#[test]
fn default_capabilities_and_seccomp() {
    let d = Daemon::start("caps").with_busybox();
    let c = d.client();
    assert_eq!(status_field(&c, &[], "CapEff"), DOCKER_CAPS);
    assert_eq!(status_field(&c, &[], "CapBnd"), DOCKER_CAPS);
    assert_eq!(
        status_field(&c, &[], "Seccomp:"),
        "2",
        "seccomp filter mode"
    );
    assert_eq!(status_field(&c, &[], "NoNewPrivs"), "0");
    assert_eq!(
        status_field(&c, &["--security-opt", "no-new-privileges"], "NoNewPrivs"),
        "1"
    );
    assert_eq!(
        status_field(&c, &["--security-opt", "seccomp=unconfined"], "Seccomp:"),
        "0"
    );
    // The default profile refuses what it should: unshare of a user namespace needs
    // CAP_SYS_ADMIN in Docker's profile.
    let o = c.cmd(&["run", "--rm", "busybox", "unshare", "-U", "true"]);
    assert_ne!(
        o.code(),
        0,
        "unshare -U under the default profile: {}",
        o.describe()
    );
}

#[test]
fn privileged_and_cap_drop_and_cap_add() {
    let d = Daemon::start("priv").with_busybox();
    let c = d.client();
    // dockerd 20.10 asks for every capability the kernel knows, which runc cannot apply where
    // this test runs with a smaller bounding set (marked: berthd must give all it can).
    let privileged = c.cmd(&["run", "--rm", "--privileged", "busybox", "true"]);
    if !(is_dockerd() && privileged.stderr.contains("unable to apply caps")) {
        assert_eq!(status_field(&c, &["--privileged"], "CapEff"), all_caps());
        assert_eq!(status_field(&c, &["--privileged"], "Seccomp:"), "0");
    }
    // NET_RAW is bit 13.
    assert_eq!(
        status_field(&c, &["--cap-drop", "NET_RAW"], "CapEff"),
        "00000000a80405fb"
    );
    assert_eq!(
        status_field(&c, &["--cap-drop", "ALL"], "CapEff"),
        "0000000000000000"
    );
    // SYS_ADMIN is bit 21.
    assert_eq!(
        status_field(&c, &["--cap-add", "SYS_ADMIN"], "CapEff"),
        "00000000a82425fb"
    );
    let o = c.cmd(&[
        "run",
        "--rm",
        "--cap-drop",
        "CHOWN",
        "busybox",
        "chown",
        "1000",
        "/tmp",
    ]);
    assert_ne!(o.code(), 0, "chown without CAP_CHOWN: {}", o.describe());
}

#[test]
fn masked_and_read_only_paths() {
    let d = Daemon::start("masked").with_busybox();
    let c = d.client();
    for p in [
        "/proc/kcore",
        "/proc/keys",
        "/proc/timer_list",
        "/proc/sched_debug",
    ] {
        let o = c.cmd(&[
            "run",
            "--rm",
            "busybox",
            "sh",
            "-c",
            &format!("test -e {p} || {{ echo 0; exit 0; }}; cat {p} 2>/dev/null | wc -c"),
        ]);
        assert_eq!(
            o.trimmed(),
            "0",
            "{p} must be empty or unreadable: {}",
            o.describe()
        );
    }
    let o = c.cmd(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "ls -A /sys/firmware | wc -l",
    ]);
    assert_eq!(o.trimmed(), "0", "/sys/firmware masked: {}", o.describe());
    let o = c.cmd(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo 1 > /proc/sysrq-trigger",
    ]);
    assert_ne!(
        o.code(),
        0,
        "/proc/sysrq-trigger read-only: {}",
        o.describe()
    );
    let o = c.cmd(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo x > /proc/sys/kernel/domainname",
    ]);
    assert_ne!(o.code(), 0, "/proc/sys read-only: {}", o.describe());
    // The files Docker writes into every container.
    let o = c.cmd(&["run", "--rm", "-h", "hst", "busybox", "sh", "-c", "cat /etc/hostname; grep -q localhost /etc/hosts && echo hosts; test -f /etc/resolv.conf && echo resolv; df /dev/shm | tail -1"]);
    o.assert_ok();
    let lines = o.lines();
    assert_eq!(lines[..3], ["hst", "hosts", "resolv"], "{}", o.describe());
    assert!(
        lines[3].contains("65536"),
        "/dev/shm is 64 MiB: {}",
        o.describe()
    );
    let o = c.cmd(&[
        "run",
        "--rm",
        "--shm-size",
        "8m",
        "busybox",
        "sh",
        "-c",
        "df /dev/shm | tail -1",
    ]);
    assert!(o.stdout.contains("8192"), "--shm-size 8m: {}", o.describe());
}

#[test]
fn read_only_root_refuses_writes() {
    let d = Daemon::start("readonly").with_busybox();
    let c = d.client();
    let o = c.cmd(&["run", "--rm", "--read-only", "busybox", "touch", "/newfile"]);
    assert_ne!(o.code(), 0, "{}", o.describe());
    assert!(
        o.stderr.contains("Read-only file system"),
        "{}",
        o.describe()
    );
    let o = c.cmd(&[
        "run",
        "--rm",
        "--read-only",
        "--tmpfs",
        "/tmp",
        "busybox",
        "sh",
        "-c",
        "echo ok > /tmp/f && cat /tmp/f",
    ]);
    assert_eq!(
        o.trimmed(),
        "ok",
        "--tmpfs stays writable: {}",
        o.describe()
    );
    let host = d.base.join("bind");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("in"), "from-host\n").unwrap();
    let vol = format!("{}:/mnt", host.display());
    let o = c.cmd(&[
        "run",
        "--rm",
        "-v",
        &vol,
        "busybox",
        "sh",
        "-c",
        "cat /mnt/in; echo back > /mnt/out",
    ]);
    assert_eq!(o.trimmed(), "from-host", "{}", o.describe());
    assert_eq!(read_trim(host.join("out")), "back");
    let o = c.cmd(&[
        "run",
        "--rm",
        "-v",
        &format!("{vol}:ro"),
        "busybox",
        "touch",
        "/mnt/x",
    ]);
    assert_ne!(o.code(), 0, ":ro bind: {}", o.describe());
}

#[test]
fn memory_and_pids_limits_in_the_cgroup() {
    let d = Daemon::start("limits").with_busybox();
    let c = d.client();
    c.ok(&[
        "run",
        "-d",
        "--name",
        "lim",
        "--memory",
        "64m",
        "--pids-limit",
        "20",
        "--cpu-shares",
        "512",
        "busybox",
        "sleep",
        "1000",
    ]);
    let pid = c.pid_of("lim");
    let (mem, pids) = if is_cgroup_v2() {
        (
            cgroup_dir(pid, "").join("memory.max"),
            cgroup_dir(pid, "").join("pids.max"),
        )
    } else {
        (
            cgroup_dir(pid, "memory").join("memory.limit_in_bytes"),
            cgroup_dir(pid, "pids").join("pids.max"),
        )
    };
    assert_eq!(read_trim(&mem), "67108864", "{}", mem.display());
    assert_eq!(read_trim(&pids), "20", "{}", pids.display());
    if !is_cgroup_v2() {
        assert_eq!(read_trim(cgroup_dir(pid, "cpu").join("cpu.shares")), "512");
        // Inside, the container sees its own cgroup.
        let o = c.cmd(&[
            "run",
            "--rm",
            "--memory",
            "32m",
            "busybox",
            "cat",
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
        ]);
        assert_eq!(o.trimmed(), "33554432", "{}", o.describe());
    }
    // The limit holds: more than 20 processes cannot be made.
    let o = c.cmd(&[
        "run",
        "--rm",
        "--pids-limit",
        "10",
        "busybox",
        "sh",
        "-c",
        "for i in $(seq 30); do sleep 5 & done; wait",
    ]);
    assert!(
        o.stderr.contains("can't fork") || o.stderr.contains("Resource temporarily unavailable"),
        "{}",
        o.describe()
    );
    c.ok(&["rm", "-f", "lim"]);
}

#[test]
fn rm_leaves_nothing_behind() {
    let d = Daemon::start("rm_clean").with_busybox();
    let c = d.client();
    let id = c.ok(&["run", "-d", "--rm", "busybox", "sh", "-c", "sleep 2"]);
    let pid = c.pid_of(&id);
    let shim = parent_pid(pid).unwrap_or(0);
    assert!(shim > 1, "the init has a shim parent");
    let gone = wait_for(Duration::from_secs(30), || {
        let o = c.cmd(&["inspect", &id]);
        (!o.ok()).then_some(())
    });
    assert!(gone.is_some(), "--rm container {id} still there");
    let clean = wait_for(Duration::from_secs(10), || (!pid_alive(shim)).then_some(()));
    assert!(
        clean.is_some(),
        "shim {shim} ({}) outlived its --rm container",
        cmdline(shim)
    );
    assert!(!pid_alive(pid));
    assert_eq!(mounts_naming(&id), Vec::<String>::new(), "mounts left");
    assert_eq!(
        mounts_naming(&d.exec_root.display().to_string())
            .iter()
            .filter(|m| m.contains(&id[..12]))
            .count(),
        0
    );
    assert_eq!(
        cgroups_naming(&id),
        Vec::<std::path::PathBuf>::new(),
        "cgroups left"
    );
    let mut paths = paths_naming(&d.data_root, &id);
    paths.extend(paths_naming(&d.exec_root, &id));
    assert_eq!(paths, Vec::<std::path::PathBuf>::new(), "files left");
    assert!(
        !pids_naming(&id).into_iter().any(pid_alive),
        "a process still names {id}"
    );
    assert_eq!(c.ok(&["ps", "-aq"]), "", "a record left in ps -a");
}

/// A container the kernel's OOM killer ends shows OOMKilled (with 137); a clean run of the same
/// container clears it again.
#[test]
fn oom_kill_is_reported_in_inspect() {
    let d = Daemon::start("oom").with_busybox();
    let c = d.client();
    // tail keeps every byte of a file without newlines: it grows until the limit.
    let o = c.cmd(&[
        "run",
        "--name",
        "oom",
        "--memory",
        "16m",
        "busybox",
        "tail",
        "/dev/zero",
    ]);
    assert_eq!(o.status, Some(137), "{}", o.describe());
    let state = c.ok(&[
        "inspect",
        "-f",
        "{{.State.OOMKilled}} {{.State.ExitCode}}",
        "oom",
    ]);
    assert_eq!(state.trim(), "true 137");
    let o = c.cmd(&[
        "run", "--name", "fine", "--memory", "16m", "busybox", "true",
    ]);
    assert!(o.ok(), "{}", o.describe());
    let state = c.ok(&[
        "inspect",
        "-f",
        "{{.State.OOMKilled}} {{.State.ExitCode}}",
        "fine",
    ]);
    assert_eq!(state.trim(), "false 0");
    c.ok(&["rm", "-f", "oom", "fine"]);
}
