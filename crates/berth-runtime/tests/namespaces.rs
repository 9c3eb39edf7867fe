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
