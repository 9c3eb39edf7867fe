//! Rootfs, mounts, devices and process settings.

mod common;

use common::*;
use serde_json::{Value, json};
use std::fs;
use std::process::Command;

fn add_mount(cfg: &mut Value, m: Value) {
    cfg["mounts"].as_array_mut().unwrap().push(m);
}

/// The mount options (per-mount field 6) and super options (last field) of
/// the mountinfo line for `mnt`.
fn opts(mountinfo: &str, mnt: &str) -> (Vec<String>, Vec<String>) {
    let line =
        mountinfo_line(mountinfo, mnt).unwrap_or_else(|| panic!("{mnt} not mounted:\n{mountinfo}"));
    let f: Vec<&str> = line.split(' ').collect();
    let per: Vec<String> = f[5].split(',').map(String::from).collect();
    let sup: Vec<String> = f.last().unwrap().split(',').map(String::from).collect();
    (per, sup)
}

#[test]
fn bind_mount_ro_nosuid_nodev_noexec() {
    require_root!();
    let env = TestEnv::new("mnt_bind_ro");
    let host = env.scratch("hostdir");
    fs::write(host.join("hello"), "from-host\n").unwrap();
    let mut cfg = env.config(&[
        "sh",
        "-c",
        "cat /mnt/ro/hello; cat /proc/self/mountinfo; echo ---; touch /mnt/ro/new 2>&1; echo rc=$?",
    ]);
    add_mount(
        &mut cfg,
        json!({"destination": "/mnt/ro", "type": "bind", "source": host.to_str().unwrap(),
               "options": ["bind", "ro", "nosuid", "nodev", "noexec"]}),
    );
    let o = env.run_config(&cfg);
    o.assert_ok();
    let (info, rest) = o.stdout.split_once("---").expect("output");
    assert!(info.starts_with("from-host\n"), "{}", o.describe());
    let (per, _) = opts(info, "/mnt/ro");
    for f in ["ro", "nosuid", "nodev", "noexec"] {
        assert!(per.iter().any(|p| p == f), "/mnt/ro lacks {f}: {per:?}");
    }
    assert!(
        rest.contains("Read-only file system"),
        "write did not fail with EROFS: {rest}"
    );
    assert!(!rest.contains("rc=0"));
    assert!(!host.join("new").exists());
}

#[test]
fn bind_mount_rw_writes_reach_host() {
    require_root!();
    let env = TestEnv::new("mnt_bind_rw");
    let host = env.scratch("hostdir");
    let mut cfg = env.config(&["sh", "-c", "echo written-inside > /data/f"]);
    add_mount(
        &mut cfg,
        json!({"destination": "/data", "type": "none", "source": host.to_str().unwrap(), "options": ["rbind", "rw"]}),
    );
    env.run_config(&cfg).assert_ok();
    assert_eq!(
        fs::read_to_string(host.join("f")).unwrap(),
        "written-inside\n"
    );
}

#[test]
fn rbind_includes_submounts_bind_does_not() {
    require_root!();
    let env = TestEnv::new("mnt_rbind");
    let host = env.scratch("hostdir");
    let sub = host.join("sub");
    fs::create_dir(&sub).unwrap();
    let st = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "berthsub"])
        .arg(&sub)
        .status()
        .unwrap();
    assert!(st.success(), "mount tmpfs on {sub:?}");
    fs::write(sub.join("marker"), "in-submount\n").unwrap();

    let script = "cat /mnt/r/sub/marker 2>/dev/null || echo r-missing; \
                  cat /mnt/b/sub/marker 2>/dev/null || echo b-missing";
    let mut cfg = env.config(&["sh", "-c", script]);
    add_mount(
        &mut cfg,
        json!({"destination": "/mnt/r", "type": "bind", "source": host.to_str().unwrap(), "options": ["rbind"]}),
    );
    add_mount(
        &mut cfg,
        json!({"destination": "/mnt/b", "type": "bind", "source": host.to_str().unwrap(), "options": ["bind"]}),
    );
    let o = env.run_config(&cfg);
    o.assert_ok();
    assert_eq!(o.stdout, "in-submount\nb-missing\n", "{}", o.describe());
    unmount_under(&env.base);
}

#[test]
fn tmpfs_size_and_mode() {
    require_root!();
    let env = TestEnv::new("mnt_tmpfs");
    let mut cfg = env.config(&["sh", "-c", "stat -c %a /mnt/t; cat /proc/self/mountinfo"]);
    add_mount(
        &mut cfg,
        json!({"destination": "/mnt/t", "type": "tmpfs", "source": "tmpfs",
               "options": ["size=1m", "mode=0710", "nosuid"]}),
    );
    let o = env.run_config(&cfg);
    o.assert_ok();
    let (mode, info) = o.stdout.split_once('\n').unwrap();
    assert_eq!(mode, "710", "{}", o.describe());
    let (per, sup) = opts(info, "/mnt/t");
    assert!(per.contains(&"nosuid".to_string()), "{per:?}");
    assert!(sup.contains(&"size=1024k".to_string()), "{sup:?}");
    assert!(sup.contains(&"mode=710".to_string()), "{sup:?}");
}

#[test]
fn default_mounts_present() {
    require_root!();
    let env = TestEnv::new("mnt_defaults");
    let o = env.run_args(&["cat", "/proc/self/mountinfo"]);
    o.assert_ok();
    let fstype = |m: &str| {
        mountinfo_line(&o.stdout, m)
            .and_then(|l| l.split(" - ").nth(1))
            .and_then(|r| r.split(' ').next())
            .map(String::from)
    };
    assert_eq!(fstype("/proc").as_deref(), Some("proc"), "{}", o.stdout);
    assert_eq!(fstype("/dev").as_deref(), Some("tmpfs"));
    assert_eq!(fstype("/dev/pts").as_deref(), Some("devpts"));
    assert_eq!(fstype("/dev/shm").as_deref(), Some("tmpfs"));
    assert_eq!(fstype("/dev/mqueue").as_deref(), Some("mqueue"));
    assert_eq!(fstype("/sys").as_deref(), Some("sysfs"));
    assert!(opts(&o.stdout, "/sys").0.contains(&"ro".to_string()));
    let (per, _) = opts(&o.stdout, "/dev/shm");
    for f in ["nosuid", "nodev", "noexec"] {
        assert!(per.contains(&f.to_string()), "/dev/shm lacks {f}");
    }
}

#[test]
fn readonly_root() {
    require_root!();
    let env = TestEnv::new("mnt_ro_root");
    let mut cfg = env.config(&[
        "sh",
        "-c",
        "touch /newfile 2>&1; echo rc=$?; touch /dev/shm/ok && echo shm-ok",
    ]);
    cfg["root"]["readonly"] = json!(true);
    let b = env.bundle(&cfg);
    let o = env.run(&b, &env.id("ro"));
    o.assert_ok();
    assert!(
        o.stdout.contains("Read-only file system"),
        "{}",
        o.describe()
    );
    assert!(
        o.stdout.contains("shm-ok"),
        "other mounts must stay writable: {}",
        o.describe()
    );
    assert!(!b.join("rootfs/newfile").exists());
}

#[test]
fn standard_devices() {
    require_root!();
    let env = TestEnv::new("mnt_devices");
    let script = "for d in null zero full random urandom tty; do stat -c '%n %F %t:%T' /dev/$d; done; \
                  test -e /dev/ptmx && echo ptmx-ok; \
                  for l in fd stdin stdout stderr; do echo $l=$(readlink /dev/$l); done; \
                  echo x > /dev/null && echo null-write-ok; head -c 4 /dev/zero | wc -c; \
                  echo x > /dev/full 2>/dev/null || echo full-enospc";
    let o = env.run_args(&["sh", "-c", script]);
    o.assert_ok();
    for (d, mm) in [
        ("null", "1:3"),
        ("zero", "1:5"),
        ("full", "1:7"),
        ("random", "1:8"),
        ("urandom", "1:9"),
        ("tty", "5:0"),
    ] {
        let want = format!("/dev/{d} character special file {mm}");
        assert!(
            o.stdout.lines().any(|l| l == want),
            "missing `{want}`: {}",
            o.describe()
        );
    }
    for want in [
        "ptmx-ok",
        "fd=/proc/self/fd",
        "stdin=/proc/self/fd/0",
        "stdout=/proc/self/fd/1",
        "stderr=/proc/self/fd/2",
        "null-write-ok",
        "4",
        "full-enospc",
    ] {
        assert!(
            o.stdout.lines().any(|l| l.trim() == want),
            "missing `{want}`: {}",
            o.describe()
        );
    }
}

#[test]
fn linux_devices_created_with_mode_and_owner() {
    require_root!();
    let env = TestEnv::new("mnt_linux_devices");
    let mut cfg = env.config(&[
        "sh",
        "-c",
        "stat -c '%F %t:%T %a %u %g' /dev/testdev; echo hi > /dev/testdev && echo write-ok",
    ]);
    cfg["linux"]["devices"] = json!([
        {"path": "/dev/testdev", "type": "c", "major": 1, "minor": 3, "fileMode": 0o640, "uid": 1000, "gid": 1001}
    ]);
    let o = env.run_config(&cfg);
    o.assert_ok();
    assert_eq!(
        o.stdout,
        "character special file 1:3 640 1000 1001\nwrite-ok\n",
        "{}",
        o.describe()
    );
}

#[test]
fn host_root_not_visible() {
    require_root!();
    let env = TestEnv::new("mnt_pivot");
    let marker = format!("/tmp/berth-marker-{}", env.tag);
    fs::write(&marker, "x").unwrap();
    let script = format!(
        "test -e {marker} && echo marker-visible || echo marker-hidden; \
         test -e {base} && echo base-visible || echo base-hidden; ls /; \
         echo ---; cat /proc/self/mountinfo",
        base = env.base.display()
    );
    let o = env.run_args(&["sh", "-c", &script]);
    let _ = fs::remove_file(&marker);
    o.assert_ok();
    assert!(o.stdout.contains("marker-hidden"), "{}", o.describe());
    assert!(o.stdout.contains("base-hidden"), "{}", o.describe());
    let (ls, info) = o.stdout.split_once("---").unwrap();
    let mut entries: Vec<&str> = ls.lines().skip(2).collect();
    entries.sort();
    assert_eq!(
        entries,
        [
            "bin", "dev", "etc", "mnt", "proc", "root", "sbin", "sys", "tmp", "usr", "var"
        ]
    );
    // The root mount is the bundle's rootfs, not the host's /.
    let root_line = mountinfo_line(info, "/").expect("/ in mountinfo");
    let root_of_mount = root_line.split(' ').nth(3).unwrap();
    assert!(
        root_of_mount.ends_with("/rootfs"),
        "root mount: {root_line}"
    );
    // Mount points outside the container's root are not listed.
    let base = env.base.display().to_string();
    let outside: Vec<&str> = info
        .lines()
        .filter(|l| {
            l.split(' ')
                .nth(4)
                .is_some_and(|m| m.starts_with(&base) || m == "/run" || m == "/home")
        })
        .collect();
    assert!(outside.is_empty(), "host mount points visible: {outside:?}");
}

#[test]
fn no_pivot_also_isolates_root() {
    require_root!();
    let env = TestEnv::new("mnt_no_pivot");
    let marker = format!("/tmp/berth-marker-{}", env.tag);
    fs::write(&marker, "x").unwrap();
    let cfg = env.config(&[
        "sh",
        "-c",
        &format!("test -e {marker} && echo visible || echo hidden; ls /bin/busybox"),
    ]);
    let b = env.bundle(&cfg);
    let id = env.id("nopivot");
    let o = env.rt(["run", "--no-pivot", "-b", b.to_str().unwrap(), id.as_str()]);
    let _ = fs::remove_file(&marker);
    o.assert_ok();
    assert_eq!(o.stdout, "hidden\n/bin/busybox\n", "{}", o.describe());
}

/// A bundle on a shared mount (the default for / on systemd hosts) works with
/// the default config (no rootfsPropagation), and the host mount keeps its
/// propagation.
#[test]
fn rootfs_on_shared_mount() {
    require_root!();
    let env = TestEnv::new("mnt_shared_host");
    let shared = env.scratch("shared");
    for args in [
        vec!["--bind", shared.to_str().unwrap(), shared.to_str().unwrap()],
        vec!["--make-shared", shared.to_str().unwrap()],
    ] {
        assert!(
            Command::new("mount")
                .args(&args)
                .status()
                .unwrap()
                .success(),
            "mount {args:?}"
        );
    }
    let mut cfg = env.config(&["sh", "-c", "echo on-shared"]);
    cfg["linux"]["cgroupsPath"] = json!(format!("/{}/shared", env.cgroup_parent()));
    let b = shared.join("b");
    build_rootfs(&b.join("rootfs"));
    write_config(&b, &cfg);
    let o = env.run(&b, &env.id("shared"));
    o.assert_ok();
    assert_eq!(o.stdout, "on-shared\n", "{}", o.describe());
    let host = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let l = mountinfo_line(&host, shared.to_str().unwrap()).expect("shared mount");
    assert!(
        l.contains("shared:"),
        "host mount lost its propagation: {l}"
    );
    unmount_under(&env.base);
}

/// `linux.rootfsPropagation` is accepted for every value; `private` keeps the
/// container's / out of any peer group even when the bundle lives on a shared
/// mount. (runc 1.1 does not make / a slave/shared peer after pivot_root, so
/// only the private case is checked strictly.)
#[test]
fn rootfs_propagation() {
    require_root!();
    let env = TestEnv::new("mnt_propagation");
    let shared = env.scratch("shared");
    for args in [
        vec!["--bind", shared.to_str().unwrap(), shared.to_str().unwrap()],
        vec!["--make-shared", shared.to_str().unwrap()],
    ] {
        assert!(
            Command::new("mount")
                .args(&args)
                .status()
                .unwrap()
                .success(),
            "mount {args:?}"
        );
    }
    let mut failures = vec![];
    for prop in [
        "private", "rprivate", "slave", "rslave", "shared", "rshared",
    ] {
        let mut cfg = env.config(&["cat", "/proc/self/mountinfo"]);
        cfg["linux"]["rootfsPropagation"] = json!(prop);
        cfg["linux"]["cgroupsPath"] = json!(format!("/{}/{prop}", env.cgroup_parent()));
        let b = shared.join(prop);
        build_rootfs(&b.join("rootfs"));
        write_config(&b, &cfg);
        let o = env.run(&b, &env.id(prop));
        if !o.ok() {
            failures.push(format!("{prop}: {}", o.describe()));
            continue;
        }
        let line = mountinfo_line(&o.stdout, "/").expect("/ mounted");
        let optional: Vec<&str> = line
            .split(" - ")
            .next()
            .unwrap()
            .split(' ')
            .skip(6)
            .collect();
        if prop.ends_with("private")
            && optional
                .iter()
                .any(|f| f.starts_with("shared:") || f.starts_with("master:"))
        {
            failures.push(format!("{prop}: / is not private: {line}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // the host's shared mount is not changed by the containers
    let host_line = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let l = mountinfo_line(&host_line, shared.to_str().unwrap()).expect("shared mount");
    assert!(
        l.contains("shared:"),
        "host mount lost its propagation: {l}"
    );
    unmount_under(&env.base);
}

#[test]
fn env_and_cwd() {
    require_root!();
    let env = TestEnv::new("proc_env_cwd");
    let mut cfg = env.config(&["sh", "-c", "pwd; env"]);
    cfg["process"]["env"]
        .as_array_mut()
        .unwrap()
        .push(json!("BERTH_FOO=bar baz=qux"));
    cfg["process"]["cwd"] = json!("/tmp/work dir");
    let b = env.bundle(&cfg);
    fs::create_dir(b.join("rootfs/tmp/work dir")).unwrap();
    let o = env.run(&b, &env.id("env"));
    o.assert_ok();
    let mut lines = o.stdout.lines();
    assert_eq!(lines.next(), Some("/tmp/work dir"), "{}", o.describe());
    let envs: Vec<&str> = lines.collect();
    assert!(envs.contains(&"BERTH_FOO=bar baz=qux"), "{envs:?}");
    assert!(envs.contains(&PATH_ENV), "{envs:?}");
    // the runtime's own environment does not leak in
    assert!(!envs.iter().any(|e| e.starts_with("CARGO")), "{envs:?}");
}

#[test]
fn missing_cwd_is_created() {
    require_root!();
    let env = TestEnv::new("proc_cwd_missing");
    let mut cfg = env.config(&["pwd"]);
    cfg["process"]["cwd"] = json!("/does/not/exist/yet");
    let o = env.run_config(&cfg);
    o.assert_ok();
    assert_eq!(o.stdout, "/does/not/exist/yet\n");
}

#[test]
fn user_groups_and_umask() {
    require_root!();
    let env = TestEnv::new("proc_user");
    let mut cfg = env.config(&[
        "sh",
        "-c",
        "id -u; id -g; id -G; umask; touch /tmp/f; stat -c %a /tmp/f",
    ]);
    cfg["process"]["user"] =
        json!({"uid": 1000, "gid": 1001, "additionalGids": [1002, 1003], "umask": 0o027});
    let o = env.run_config(&cfg);
    o.assert_ok();
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines.len(), 5, "{}", o.describe());
    assert_eq!(lines[0], "1000");
    assert_eq!(lines[1], "1001");
    let mut groups: Vec<&str> = lines[2].split_whitespace().collect();
    groups.sort();
    groups.dedup();
    assert!(
        groups.contains(&"1002") && groups.contains(&"1003"),
        "groups {groups:?}"
    );
    assert!(
        groups.iter().all(|g| ["1001", "1002", "1003"].contains(g)),
        "groups {groups:?}"
    );
    assert_eq!(lines[3], "0027");
    assert_eq!(lines[4], "640");
}

#[test]
fn sysctl_applied_in_container_only() {
    require_root!();
    let env = TestEnv::new("proc_sysctl");
    let host_before = fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    let want = if host_before.trim() == "1" { "0" } else { "1" };
    let mut cfg = env.config(&["cat", "/proc/sys/net/ipv4/ip_forward"]);
    cfg["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": want});
    let o = env.run_config(&cfg);
    o.assert_ok();
    assert_eq!(o.stdout.trim(), want, "{}", o.describe());
    assert_eq!(
        fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap(),
        host_before
    );
}

#[test]
fn oom_score_adj_positive() {
    require_root!();
    let env = TestEnv::new("proc_oom");
    let mut cfg = env.config(&["cat", "/proc/self/oom_score_adj"]);
    cfg["process"]["oomScoreAdj"] = json!(500);
    let o = env.run_config(&cfg);
    o.assert_ok();
    assert_eq!(o.stdout.trim(), "500", "{}", o.describe());
}

#[test]
fn rlimits_applied() {
    require_root!();
    let env = TestEnv::new("proc_rlimit");
    let mut cfg = env.config(&["sh", "-c", "ulimit -n; ulimit -Hn"]);
    cfg["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "hard": 777, "soft": 555}]);
    let o = env.run_config(&cfg);
    o.assert_ok();
    assert_eq!(o.stdout, "555\n777\n", "{}", o.describe());
}

/// The access-time state of a mount from its per-mount options: the mode, and nodiratime.
fn atime_state(per: &[String]) -> (&'static str, bool) {
    let has = |o: &str| per.iter().any(|p| p == o);
    let mode = if has("noatime") {
        "noatime"
    } else if has("relatime") {
        "relatime"
    } else {
        "strictatime"
    };
    (mode, has("nodiratime"))
}

/// The recursive atime options, which `features` lists, apply to a bind mount and its submount:
/// each case starts both mounts in another state and reads the result back from
/// /proc/self/mountinfo inside the container.
#[test]
fn recursive_atime_options() {
    require_root!();
    let env = TestEnv::new("mnt_ratime");
    // (option, host dir's start, submount's start, expected on both: mode, nodiratime).
    // rnodiratime/rdiratime leave each mount's mode as it was.
    type Case<'a> = (&'a str, &'a str, &'a str, Option<(&'a str, bool)>);
    let cases: Vec<Case> = vec![
        (
            "rnoatime",
            "relatime",
            "strictatime",
            Some(("noatime", false)),
        ),
        (
            "rstrictatime",
            "noatime",
            "relatime",
            Some(("strictatime", false)),
        ),
        (
            "rrelatime",
            "noatime",
            "strictatime",
            Some(("relatime", false)),
        ),
        ("ratime", "noatime", "noatime", Some(("relatime", false))),
        ("rnodiratime", "noatime", "strictatime", None),
        (
            "rdiratime",
            "noatime,nodiratime",
            "relatime,nodiratime",
            None,
        ),
    ];
    // runc 1.1.5 sends ratime as attr_clr=MOUNT_ATTR_NOATIME alone, which the kernel refuses
    // (EINVAL): berth-only. (crun 1.8.1 fails rnoatime the same way.)
    let cases: Vec<_> = cases
        .into_iter()
        .filter(|c| !(is_reference_runtime() && c.0 == "ratime"))
        .collect();
    let mount = |args: &[&str]| {
        let st = Command::new("mount").args(args).status().unwrap();
        assert!(st.success(), "mount {args:?}");
    };
    let mut cfg = env.config(&["cat", "/proc/self/mountinfo"]);
    for (option, top, sub, _) in &cases {
        let dir = env.scratch(&format!("src-{option}"));
        let d = dir.to_str().unwrap();
        mount(&["--bind", d, d]);
        mount(&["-o", &format!("remount,bind,{top}"), d]);
        let s = dir.join("sub");
        fs::create_dir(&s).unwrap();
        let s = s.to_str().unwrap();
        mount(&[
            "-t",
            "tmpfs",
            "-o",
            &format!("size=1m,{sub}"),
            "berth-atime",
            s,
        ]);
        add_mount(
            &mut cfg,
            json!({"destination": format!("/mnt/{option}"), "type": "bind", "source": d,
                   "options": ["rbind", option]}),
        );
    }
    // The host mounts start as the table says (and differ from what each option makes them).
    let host = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let start = |spec: &str| {
        (
            ["noatime", "relatime"]
                .into_iter()
                .find(|m| spec.contains(m))
                .unwrap_or("strictatime"),
            spec.contains("nodiratime"),
        )
    };
    for (option, top, sub, _) in &cases {
        let d = env.base.join(format!("src-{option}"));
        for (path, spec) in [(d.clone(), top), (d.join("sub"), sub)] {
            let (per, _) = opts(&host, path.to_str().unwrap());
            assert_eq!(atime_state(&per), start(spec), "host {path:?}: {per:?}");
        }
    }

    let o = env.run_config(&cfg);
    unmount_under(&env.base);
    o.assert_ok();
    let mut failures = vec![];
    for (option, top, sub, want) in &cases {
        for (mnt, spec) in [
            (format!("/mnt/{option}"), top),
            (format!("/mnt/{option}/sub"), sub),
        ] {
            let (per, _) = opts(&o.stdout, &mnt);
            let expected = match (option, want) {
                (_, Some(w)) => *w,
                (&"rnodiratime", None) => (start(spec).0, true),
                _ => (start(spec).0, false),
            };
            if atime_state(&per) != expected {
                failures.push(format!("{option}: {mnt}: {per:?}, want {expected:?}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{}\n{}",
        failures.join("\n"),
        o.describe()
    );
    assert!(
        host_mount_lines(&env.base.display().to_string()).is_empty(),
        "host mounts left"
    );
}
