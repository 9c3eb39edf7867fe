//! Namespaces: pid, uts, ipc, net, mount, cgroup, user, time, joining by path.

mod common;

use common::*;
use serde_json::json;
use std::collections::HashMap;
use std::fs;
use std::time::Duration;

const ALL_NS: &[&str] = &["pid", "mnt", "uts", "ipc", "net", "cgroup", "user", "time"];

/// Map of ns name -> link target as seen from inside the container.
fn ns_inside(stdout: &str) -> HashMap<String, String> {
    stdout
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

fn ns_script() -> String {
    ALL_NS
        .iter()
        .map(|n| format!("echo {n}=$(readlink /proc/self/ns/{n})"))
        .collect::<Vec<_>>()
        .join("; ")
}

#[test]
fn user_process_is_pid1() {
    require_root!();
    let env = TestEnv::new("ns_pid1");
    let o = env.run_args(&["sh", "-c", "echo $$; cat /proc/1/cmdline | tr '\\0' ' '"]);
    o.assert_ok();
    let mut lines = o.stdout.lines();
    assert_eq!(lines.next(), Some("1"), "{}", o.describe());
    assert_eq!(
        lines.next().map(str::trim),
        Some("sh -c echo $$; cat /proc/1/cmdline | tr '\\0' ' '")
    );
}

#[test]
fn hostname_and_domainname() {
    require_root!();
    let env = TestEnv::new("ns_uts");
    let host_hostname = fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let mut cfg = env.config(&["sh", "-c", "hostname; cat /proc/sys/kernel/domainname"]);
    cfg["hostname"] = json!("berth-box");
    cfg["domainname"] = json!("berth.example");
    let o = env.run_config(&cfg);
    o.assert_ok();
    assert_eq!(o.stdout, "berth-box\nberth.example\n", "{}", o.describe());
    assert_eq!(
        fs::read_to_string("/proc/sys/kernel/hostname").unwrap(),
        host_hostname
    );
}

#[test]
fn default_namespaces_differ_from_host_others_shared() {
    require_root!();
    let env = TestEnv::new("ns_inodes");
    let o = env.run_args(&["sh", "-c", &ns_script()]);
    o.assert_ok();
    let inside = ns_inside(&o.stdout);
    for ns in ["pid", "mnt", "uts", "ipc", "net"] {
        let host = ns_link("self", ns);
        let c = inside.get(ns).cloned().unwrap_or_default();
        assert!(
            c.starts_with(&format!("{ns}:[")),
            "{ns}: inside {c:?}: {}",
            o.describe()
        );
        assert_ne!(c, host, "{ns} namespace not unshared");
    }
    for ns in ["cgroup", "user", "time"] {
        let host = ns_link("self", ns);
        if host.is_empty() {
            continue; // kernel without that namespace
        }
        assert_eq!(
            inside.get(ns).cloned().unwrap_or_default(),
            host,
            "{ns} namespace should be the host's"
        );
    }
}

#[test]
fn no_namespaces_requested_shares_host() {
    require_root!();
    let env = TestEnv::new("ns_none");
    let mut cfg = env.config(&["sh", "-c", &ns_script()]);
    // Only a mount namespace (needed for the rootfs); everything else shared.
    cfg["linux"]["namespaces"] = json!([{"type": "mount"}]);
    cfg.as_object_mut().unwrap().remove("hostname");
    cfg["mounts"] = json!([{"destination": "/proc", "type": "proc", "source": "proc"}]);
    let o = env.run_config(&cfg);
    o.assert_ok();
    let inside = ns_inside(&o.stdout);
    for ns in ["pid", "uts", "ipc", "net", "cgroup", "user"] {
        assert_eq!(
            inside.get(ns).cloned().unwrap_or_default(),
            ns_link("self", ns),
            "{ns}: {}",
            o.describe()
        );
    }
    assert_ne!(
        inside.get("mnt").cloned().unwrap_or_default(),
        ns_link("self", "mnt")
    );
}

#[test]
fn cgroup_namespace() {
    require_root!();
    let env = TestEnv::new("ns_cgroup");
    let mut cfg = env.config(&[
        "sh",
        "-c",
        "readlink /proc/self/ns/cgroup; cat /proc/self/cgroup",
    ]);
    add_ns(&mut cfg, "cgroup", None);
    let o = env.run_config(&cfg);
    o.assert_ok();
    let mut lines = o.stdout.lines();
    let link = lines.next().unwrap_or("");
    assert!(link.starts_with("cgroup:["), "{}", o.describe());
    assert_ne!(link, ns_link("self", "cgroup"));
    // Inside a fresh cgroup namespace the process's own cgroups are roots.
    let rest: Vec<&str> = lines.collect();
    assert!(!rest.is_empty());
    for l in rest {
        assert!(
            l.ends_with(":/"),
            "cgroup path not namespaced: {l:?}\n{}",
            o.describe()
        );
    }
}

#[test]
fn user_namespace_with_mappings() {
    require_root!();
    let env = TestEnv::new("ns_user");
    let mut cfg = env.config(&[
        "sh",
        "-c",
        "cat /proc/self/uid_map; cat /proc/self/gid_map; id -u; id -g; readlink /proc/self/ns/user; touch /tmp/made-inside",
    ]);
    add_ns(&mut cfg, "user", None);
    cfg["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    cfg["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    let b = env.bundle(&cfg);
    let id = env.id("userns");
    // the container's root (host uid 100000) must be able to write its /tmp
    std::os::unix::fs::chown(b.join("rootfs/tmp"), Some(100000), Some(100000)).unwrap();
    let o = env.run(&b, &id);
    o.assert_ok();
    let lines: Vec<Vec<&str>> = o
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert!(lines.len() >= 5, "{}", o.describe());
    assert_eq!(
        lines[0],
        ["0", "100000", "65536"],
        "uid_map: {}",
        o.describe()
    );
    assert_eq!(
        lines[1],
        ["0", "100000", "65536"],
        "gid_map: {}",
        o.describe()
    );
    assert_eq!(lines[2], ["0"], "id -u");
    assert_eq!(lines[3], ["0"], "id -g");
    assert_ne!(
        lines[4][0],
        ns_link("self", "user"),
        "user namespace not unshared"
    );
    // A file created by container root belongs to host uid 100000.
    use std::os::unix::fs::MetadataExt;
    let md = fs::metadata(b.join("rootfs/tmp/made-inside")).expect("file created inside");
    assert_eq!((md.uid(), md.gid()), (100000, 100000));
}

#[test]
fn join_network_namespace_of_other_container() {
    require_root!();
    let env = TestEnv::new("ns_join_proc");
    let (id1, _b1, _) = env.start_container(&env.config(&["sleep", "100"]));
    let pid1 = env.state_pid(&id1);
    let target = ns_link(&pid1.to_string(), "net");
    assert!(!target.is_empty());
    assert_ne!(target, ns_link("self", "net"));

    let mut cfg = env.config(&["readlink", "/proc/self/ns/net"]);
    add_ns(&mut cfg, "network", Some(&format!("/proc/{pid1}/ns/net")));
    let o = env.run_config(&cfg);
    o.assert_ok();
    assert_eq!(o.stdout.trim(), target, "{}", o.describe());
    // joining did not disturb the first container
    assert_eq!(env.state_status(&id1), "running");
}

#[test]
fn join_network_namespace_by_bind_mounted_path() {
    require_root!();
    let env = TestEnv::new("ns_join_file");
    let nsfile = env.base.join("netns");
    fs::write(&nsfile, "").unwrap();
    // unshare(1) creates a persistent netns bound on nsfile; TestEnv's Drop
    // unmounts everything under its base dir.
    let st = std::process::Command::new("unshare")
        .arg(format!("--net={}", nsfile.display()))
        .arg("true")
        .status()
        .expect("run unshare");
    assert!(st.success(), "unshare --net failed");
    // the ns identity: the inode of the nsfs file bound on nsfile
    let want = {
        use std::os::unix::fs::MetadataExt;
        format!("net:[{}]", fs::metadata(&nsfile).unwrap().ino())
    };
    assert!(want.starts_with("net:["), "netns file: {want:?}");

    let mut cfg = env.config(&[
        "sh",
        "-c",
        "readlink /proc/self/ns/net; cat /proc/net/dev | wc -l",
    ]);
    add_ns(&mut cfg, "network", Some(nsfile.to_str().unwrap()));
    let o = env.run_config(&cfg);
    o.assert_ok();
    let mut lines = o.stdout.lines();
    assert_eq!(lines.next(), Some(want.as_str()), "{}", o.describe());
    // a fresh netns has only lo: 2 header lines + lo
    assert_eq!(lines.next().map(str::trim), Some("3"), "{}", o.describe());
    unmount_under(&env.base);
}

#[test]
fn join_missing_namespace_path_fails() {
    require_root!();
    let env = TestEnv::new("ns_join_missing");
    let mut cfg = env.config(&["true"]);
    let missing = env.base.join("no-such-netns");
    add_ns(&mut cfg, "network", Some(missing.to_str().unwrap()));
    let b = env.bundle(&cfg);
    let id = env.id("nsmiss");
    let o = env.run(&b, &id);
    o.assert_fail();
    assert_stderr_names(&o, &["no-such-netns", "namespace"]);
    assert!(!env.root.join(&id).exists(), "state dir left behind");
    assert!(
        wait_for(Duration::from_secs(3), || env
            .tagged_pids()
            .is_empty()
            .then_some(()))
        .is_some(),
        "processes left: {:?}",
        env.tagged_pids()
    );
}

#[test]
fn time_namespace_offsets() {
    require_root!();
    if ns_link("self", "time").is_empty() {
        eprintln!("SKIP: kernel without time namespaces");
        return;
    }
    let env = TestEnv::new("ns_time");
    const OFF: u64 = 86400 * 10;
    let mut cfg = env.config(&["sh", "-c", "cat /proc/uptime; readlink /proc/self/ns/time"]);
    add_ns(&mut cfg, "time", None);
    cfg["linux"]["timeOffsets"] = json!({
        "monotonic": {"secs": OFF, "nanosecs": 0},
        "boottime": {"secs": OFF, "nanosecs": 0}
    });
    let host_before: f64 = uptime(&fs::read_to_string("/proc/uptime").unwrap());
    let o = env.run_config(&cfg);
    o.assert_ok();
    let mut lines = o.stdout.lines();
    let inside = uptime(lines.next().unwrap_or(""));
    assert!(
        inside >= host_before + OFF as f64 - 1.0 && inside < host_before + OFF as f64 + 60.0,
        "uptime inside {inside}, host {host_before}: {}",
        o.describe()
    );
    assert_ne!(lines.next().unwrap_or(""), ns_link("self", "time"));
}

fn uptime(s: &str) -> f64 {
    s.split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// What a busybox rootfs of `build_rootfs` lists at its root.
const ROOTFS_ENTRIES: &str = "bin dev etc mnt proc root sbin sys tmp usr var";

/// A container script printing its mount namespace, its root's entries and /proc's filesystem.
const ROOT_SCRIPT: &str = "echo mnt=$(readlink /proc/self/ns/mnt); echo root=$(ls / | tr '\\n' ' '); \
                           echo proc=$(stat -f -c %T /proc)";

/// The value of the first `key=` line of `out`.
fn value<'a>(out: &'a str, key: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .map(str::trim)
        .unwrap_or("")
}

/// Runs `script` with `sh` in a private mount namespace of its own (`unshare --mount`), `"$@"`
/// being the runtime with its --root and global flags. That namespace is the caller's of a
/// container without one; it goes away with every mount in it when the script ends, so nothing
/// reaches the host's namespace (or, through its propagation, any other).
fn in_private_mount_namespace(env: &TestEnv, script: &str, runtime_calls: u32) -> Out {
    let mut c = std::process::Command::new("unshare");
    c.args([
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        script,
        "sh",
    ]);
    c.arg(runtime_bin())
        .args(extra_global_args())
        .arg("--root")
        .arg(&env.root);
    c.env("BERTH_TEST_TAG", &env.tag);
    let shown = vec!["unshare --mount sh -c".to_string(), script.to_string()];
    env.rt_cmd(c, shown, cmd_timeout() * runtime_calls)
}

/// A config without a mount namespace: the container is in the caller's mount namespace (the
/// runtime spec: unlisted namespaces are inherited), chrooted into the bundle's root with the
/// config's mounts made there, in the caller's namespace, where they stay after the container
/// (as runc and crun leave them). Those leftovers do not confuse the runtime: another container
/// starts in the same namespace.
#[test]
fn no_mount_namespace_uses_the_callers() {
    require_root!();
    let env = TestEnv::new("ns_mnt_inherit");
    let marker = env.base.join("host-marker");
    fs::write(&marker, "").unwrap();
    let mut cfg = env.config(&[
        "sh",
        "-c",
        &format!(
            "{ROOT_SCRIPT}; test -e {} && echo marker=visible || echo marker=hidden",
            marker.display()
        ),
    ]);
    remove_ns(&mut cfg, "mount");
    // runc refuses masked and read-only paths without a mount namespace of the container's own.
    for key in ["maskedPaths", "readonlyPaths"] {
        cfg["linux"].as_object_mut().unwrap().remove(key);
    }
    // Left in the caller's namespace, these cgroupfs mounts must not pass for its hierarchies.
    cfg["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
        "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]
    }));
    let b1 = env.bundle(&cfg);
    let b2 = env.bundle(&env.config(&["echo", "second-ok"]));
    let (id1, id2) = (env.id("inherit"), env.id("second"));
    let script = format!(
        "mount --make-shared / || exit 90; echo caller=$(readlink /proc/self/ns/mnt); \
         \"$@\" run -b {b1} {id1}; echo rc1=$?; echo ---; cat /proc/self/mountinfo; echo ---; \
         \"$@\" run -b {b2} {id2}; echo rc2=$?",
        b1 = b1.display(),
        b2 = b2.display()
    );
    let o = in_private_mount_namespace(&env, &script, 2);
    o.assert_ok();
    let caller = value(&o.stdout, "caller");
    assert!(caller.starts_with("mnt:["), "{}", o.describe());
    assert_ne!(
        caller,
        ns_link("self", "mnt"),
        "unshare --mount had no effect"
    );
    assert_eq!(value(&o.stdout, "rc1"), "0", "{}", o.describe());
    assert_eq!(value(&o.stdout, "mnt"), caller, "{}", o.describe());
    assert_eq!(value(&o.stdout, "root"), ROOTFS_ENTRIES, "{}", o.describe());
    assert_eq!(value(&o.stdout, "marker"), "hidden", "{}", o.describe());
    assert_eq!(value(&o.stdout, "proc"), "proc", "{}", o.describe());

    // The caller's namespace after the container: the config's mounts under the bundle's root.
    let info = o.stdout.split("---\n").nth(1).unwrap_or("");
    let rootfs = b1.join("rootfs");
    for (dest, fstype) in [("proc", "proc"), ("dev", "tmpfs"), ("sys", "sysfs")] {
        let at = rootfs.join(dest);
        let line = mountinfo_line(info, at.to_str().unwrap())
            .unwrap_or_else(|| panic!("{at:?} not mounted in the caller's namespace:\n{info}"));
        assert_eq!(
            line.split(" - ").nth(1).and_then(|r| r.split(' ').next()),
            Some(fstype)
        );
    }
    // The caller's / is not the runtime's to change (runc makes the caller's tree a slave).
    if !is_reference_runtime() {
        let root = mountinfo_line(info, "/").expect("/ in the caller's mountinfo");
        assert!(
            root.contains(" shared:"),
            "caller's / lost its propagation: {root}"
        );
    }
    assert_eq!(value(&o.stdout, "rc2"), "0", "{}", o.describe());
    assert!(o.stdout.contains("second-ok\n"), "{}", o.describe());
    let left = host_mount_lines(&env.base.display().to_string());
    assert!(
        left.is_empty(),
        "mounts reached the host's namespace: {left:?}"
    );
}

/// `exec` in a container without a mount namespace runs in the container's root (its init's
/// chroot), not the runtime's. Berth-only: runc 1.1.5 and crun 1.8.1 leave the exec'd process
/// on the runtime's root (it sees the host's /).
#[test]
fn exec_without_mount_namespace_enters_the_containers_root() {
    require_root!();
    if is_reference_runtime() {
        eprintln!("SKIP: runc and crun exec such a process on the host's root");
        return;
    }
    let env = TestEnv::new("ns_mnt_inherit_exec");
    let mut cfg = env.config(&["sleep", "100"]);
    remove_ns(&mut cfg, "mount");
    let b = env.bundle(&cfg);
    fs::write(
        b.join("rootfs/root/show.sh"),
        format!("{ROOT_SCRIPT}; echo cwd=$(pwd)\n"),
    )
    .unwrap();
    let id = env.id("inherit-exec");
    let script = format!(
        "\"$@\" run -d -b {b} {id}; echo rc-run=$?; \
         \"$@\" exec {id} sh /root/show.sh; echo rc-exec=$?; \
         \"$@\" delete -f {id}; echo rc-delete=$?",
        b = b.display()
    );
    let o = in_private_mount_namespace(&env, &script, 3);
    o.assert_ok();
    for step in ["rc-run", "rc-exec", "rc-delete"] {
        assert_eq!(value(&o.stdout, step), "0", "{step}: {}", o.describe());
    }
    assert_eq!(value(&o.stdout, "root"), ROOTFS_ENTRIES, "{}", o.describe());
    assert_eq!(value(&o.stdout, "proc"), "proc", "{}", o.describe());
    assert_eq!(value(&o.stdout, "cwd"), "/", "{}", o.describe());
    let left = host_mount_lines(&env.base.display().to_string());
    assert!(
        left.is_empty(),
        "mounts reached the host's namespace: {left:?}"
    );
}

/// A mount namespace joined by path (a bind-mounted namespace file, made by `unshare --mount=FILE`
/// on a private mount) gets the bundle's root set up inside it, as a new one does (runc and crun
/// do the same); the container's mounts stay in that namespace, none reach ours.
#[test]
fn joined_mount_namespace_gets_the_bundles_root() {
    require_root!();
    let env = TestEnv::new("ns_mnt_join");
    let mut cfg = env.config(&["sh", "-c", ROOT_SCRIPT]);
    let b = env.bundle(&cfg);
    // A namespace file is bound only on a private mount (else it could propagate into itself).
    let dir = env.scratch("nsdir");
    let d = dir.to_str().unwrap();
    for args in [vec!["--bind", d, d], vec!["--make-private", d]] {
        let st = std::process::Command::new("mount")
            .args(&args)
            .status()
            .unwrap();
        assert!(st.success(), "mount {args:?}");
    }
    let nsfile = dir.join("mnt");
    fs::write(&nsfile, "").unwrap();
    let st = std::process::Command::new("unshare")
        .arg(format!("--mount={}", nsfile.display()))
        .args(["--propagation", "private", "true"])
        .status()
        .expect("run unshare");
    assert!(st.success(), "unshare --mount={nsfile:?}");
    let want = {
        use std::os::unix::fs::MetadataExt;
        format!("mnt:[{}]", fs::metadata(&nsfile).unwrap().ino())
    };
    assert_ne!(want, ns_link("self", "mnt"));

    add_ns(&mut cfg, "mount", Some(nsfile.to_str().unwrap()));
    write_config(&b, &cfg);
    let o = env.run(&b, &env.id("join-mnt"));
    let in_ours = host_mount_lines(&b.display().to_string());
    unmount_under(&env.base);
    o.assert_ok();
    assert_eq!(value(&o.stdout, "mnt"), want, "{}", o.describe());
    assert_eq!(value(&o.stdout, "root"), ROOTFS_ENTRIES, "{}", o.describe());
    assert_eq!(value(&o.stdout, "proc"), "proc", "{}", o.describe());
    assert!(
        in_ours.is_empty(),
        "container mounts in our namespace: {in_ours:?}"
    );
    let left = host_mount_lines(&env.base.display().to_string());
    assert!(left.is_empty(), "mounts left: {left:?}");
}
