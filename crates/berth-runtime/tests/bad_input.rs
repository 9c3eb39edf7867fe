//! Bad input: each case fails with exit status 1, an error naming the field or
//! object, and leaves nothing behind (no state dir, no mount, no process).

mod common;

use common::*;
use serde_json::{Value, json};
use std::fs;
use std::path::Path;
use std::time::Duration;

/// Nothing left of a refused container, and nothing else under --root either.
#[track_caller]
fn assert_nothing_left(env: &TestEnv, id: &str, bundle: &Path) {
    env.assert_nothing_left(id, bundle);
    assert!(
        env.root_entries().is_empty(),
        "--root not empty: {:?}",
        env.root_entries()
    );
}

/// `create` (and `run`) of `bundle` under a fresh id fails, names one of
/// `words`, leaves nothing. Returns both outputs.
#[track_caller]
fn expect_refused(env: &TestEnv, bundle: &Path, words: &[&str]) -> Vec<Out> {
    let mut outs = vec![];
    for cmd in ["create", "run"] {
        let id = env.id(cmd);
        let o = env.rt([cmd, "-b", bundle.to_str().unwrap(), id.as_str()]);
        o.assert_fail();
        assert_eq!(o.code(), 1, "{cmd}: exit status: {}", o.describe());
        assert_stderr_names(&o, words);
        assert_nothing_left(env, &id, bundle);
        outs.push(o);
    }
    outs
}

#[test]
fn malformed_json() {
    require_root!();
    let env = TestEnv::new("bad_json");
    let b = env.bundle_raw("{\"ociVersion\": \"1.0.2\", \"process\": {");
    expect_refused(&env, &b, &["config.json"]);
}

#[test]
fn missing_config_json() {
    require_root!();
    let env = TestEnv::new("bad_noconfig");
    let b = env.bundle(&env.config(&["true"]));
    fs::remove_file(b.join("config.json")).unwrap();
    expect_refused(&env, &b, &["config.json"]);
}

#[test]
fn missing_root() {
    require_root!();
    let env = TestEnv::new("bad_noroot");
    let mut cfg = env.config(&["true"]);
    cfg.as_object_mut().unwrap().remove("root");
    let b = env.bundle(&cfg);
    expect_refused(&env, &b, &["root"]);
}

#[test]
fn missing_rootfs_dir() {
    require_root!();
    let env = TestEnv::new("bad_norootfs");
    let mut cfg = env.config(&["true"]);
    cfg["root"]["path"] = json!("no-such-rootfs");
    let b = env.bundle(&cfg);
    expect_refused(&env, &b, &["no-such-rootfs", "root.path"]);
}

#[test]
fn missing_process_args() {
    require_root!();
    let env = TestEnv::new("bad_noargs");
    let mut cfg = env.config(&["true"]);
    cfg["process"]["args"] = json!([]);
    let b = env.bundle(&cfg);
    expect_refused(&env, &b, &["args"]);
}

#[test]
fn executable_not_found() {
    require_root!();
    let env = TestEnv::new("bad_noexec");
    let b = env.bundle(&env.config(&["/bin/no-such-program"]));
    // `run` fails; whatever `create` does, nothing may remain after it fails.
    let id = env.id("noexec");
    let o = env.run(&b, &id);
    assert_ne!(o.code(), 0, "{}", o.describe());
    assert_stderr_names(&o, &["no-such-program"]);
    let _ = env.delete_force(&id);
    assert_nothing_left(&env, &id, &b);
}

#[test]
fn unknown_namespace_type() {
    require_root!();
    let env = TestEnv::new("bad_ns");
    let mut cfg = env.config(&["true"]);
    cfg["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "foo"}));
    let b = env.bundle(&cfg);
    expect_refused(&env, &b, &["namespaces", "foo"]);
}

#[test]
fn bad_ids() {
    require_root!();
    let env = TestEnv::new("bad_ids");
    let b = env.bundle(&env.config(&["true"]));
    let before: Vec<_> = fs::read_dir(&env.base)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    for id in ["a/b", "..", ".", "", "../escape", "x\ny"] {
        env.track(id);
        let o = env.rt(["create", "-b", b.to_str().unwrap(), id]);
        o.assert_fail();
        assert_stderr_names(&o, &["id"]);
        assert!(
            env.root_entries().is_empty(),
            "id {id:?}: --root not empty: {:?}",
            env.root_entries()
        );
        let after: Vec<_> = fs::read_dir(&env.base)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        let mut after_no_out: Vec<_> = after
            .into_iter()
            .filter(|n| n != "out" && n != "state")
            .collect();
        let mut before_no_out: Vec<_> = before
            .iter()
            .filter(|n| *n != "out" && *n != "state")
            .cloned()
            .collect();
        after_no_out.sort();
        before_no_out.sort();
        assert_eq!(
            after_no_out, before_no_out,
            "id {id:?} touched the parent of --root"
        );
        assert!(!env.base.join("escape").exists());
        assert!(
            wait_for(Duration::from_secs(3), || env
                .tagged_pids()
                .is_empty()
                .then_some(()))
            .is_some()
        );
    }
}

/// A mount destination that climbs out of the rootfs with `..`. It must never
/// create or mount anything outside the rootfs. The runtime either refuses
/// it (error naming the mount's destination), or, like runc, resolves it
/// inside the rootfs.
#[test]
fn mount_destination_dotdot_escape() {
    require_root!();
    let env = TestEnv::new("bad_mnt_dotdot");
    let name = format!("evil-{}", env.tag);
    let mut cfg = env.config(&[
        "sh",
        "-c",
        &format!("grep -c ' /etc/{name} ' /proc/self/mountinfo"),
    ]);
    cfg["mounts"].as_array_mut().unwrap().push(
        json!({"destination": format!("/../../etc/{name}"), "type": "tmpfs", "source": "tmpfs"}),
    );
    check_escape(
        &env,
        &cfg,
        &name,
        &[
            env.base.join("etc").join(&name),
            Path::new("/etc").join(&name),
        ],
        &format!("etc/{name}"),
    );
}

/// A mount destination through a symlink in the rootfs pointing outside it.
#[test]
fn mount_destination_symlink_escape() {
    require_root!();
    let env = TestEnv::new("bad_mnt_symlink");
    let name = format!("evil-{}", env.tag);
    let mut cfg = env.config(&[
        "sh",
        "-c",
        &format!("grep -c '/{name} ' /proc/self/mountinfo"),
    ]);
    cfg["mounts"].as_array_mut().unwrap().push(
        json!({"destination": format!("/escape/{name}"), "type": "tmpfs", "source": "tmpfs"}),
    );
    // rootfs is BASE/bundle-N/rootfs, so rootfs/escape -> ../.. is BASE, and
    // also an absolute link to BASE: neither may be followed out of the rootfs.
    for (i, target) in ["../..".to_string(), env.base.display().to_string()]
        .iter()
        .enumerate()
    {
        let b = env.bundle(&cfg);
        std::os::unix::fs::symlink(target, b.join("rootfs/escape")).unwrap();
        // confined resolution of the absolute link: rootfs/BASE/name
        let inside = if i == 0 {
            name.clone()
        } else {
            format!("{}/{name}", env.base.strip_prefix("/").unwrap().display())
        };
        check_escape_bundle(&env, &b, &name, &[env.base.join(&name)], &inside, i);
    }
}

/// A proc or sysfs mount goes only on an ordinary directory: a destination that is a symlink
/// (absolute or relative, to a directory that exists) or a file is refused at create, naming the
/// mount and its destination, and the link is not followed (the class of CVE-2023-28642; runc 1.1.5
/// refuses these too).
#[test]
fn proc_and_sysfs_only_on_ordinary_directories() {
    require_root!();
    let env = TestEnv::new("bad_proc_dest");
    let mut cfg = env.config(&["sh", "-c", "echo container-ran"]);
    cfg["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": "/mnt/p", "type": "proc", "source": "proc"}));
    let extra = cfg["mounts"].as_array().unwrap().len() - 1;
    // (mount index, destination, what replaces it in the rootfs, the symlink's target)
    let cases: [(usize, &str, &str, Option<&str>); 5] = [
        (0, "/proc", "symbolic link", Some("/tmp/x")),
        (5, "/sys", "symbolic link", Some("/tmp/x")),
        (extra, "/mnt/p", "symbolic link", Some("../tmp/x")),
        (0, "/proc", "regular file", None),
        (5, "/sys", "regular file", None),
    ];
    for (index, dest, what, link) in cases {
        assert_eq!(
            cfg["mounts"][index]["destination"], dest,
            "case table out of step with the config"
        );
        let b = env.bundle(&cfg);
        let rootfs = b.join("rootfs");
        let at = rootfs.join(dest.trim_start_matches('/'));
        let _ = fs::remove_dir(&at);
        fs::create_dir_all(rootfs.join("tmp/x")).unwrap();
        match link {
            Some(target) => std::os::unix::fs::symlink(target, &at).unwrap(),
            None => fs::write(&at, "").unwrap(),
        }
        let field = format!("mounts[{index}] ({dest})");
        for o in expect_refused(&env, &b, &[&field]) {
            assert!(!o.stdout.contains("container-ran"), "{}", o.describe());
            if !is_reference_runtime() {
                assert_stderr_names(&o, &[what]);
                assert_stderr_names(&o, &["not an ordinary directory"]);
            }
        }
        // Nothing was made through the link, and it is still there as it was.
        assert_eq!(fs::read_dir(rootfs.join("tmp/x")).unwrap().count(), 0);
        let meta = fs::symlink_metadata(&at).unwrap();
        assert_eq!(meta.file_type().is_symlink(), link.is_some(), "{dest}");
    }
}

fn check_escape(
    env: &TestEnv,
    cfg: &Value,
    name: &str,
    outside: &[std::path::PathBuf],
    inside_rel: &str,
) {
    let b = env.bundle(cfg);
    check_escape_bundle(env, &b, name, outside, inside_rel, 0);
}

#[track_caller]
fn check_escape_bundle(
    env: &TestEnv,
    b: &Path,
    _name: &str,
    outside: &[std::path::PathBuf],
    inside_rel: &str,
    n: usize,
) {
    let id = env.id(&format!("esc{n}"));
    let o = env.run(b, &id);
    for p in outside {
        assert!(
            !p.exists(),
            "mount destination escaped the rootfs: {p:?} exists\n{}",
            o.describe()
        );
    }
    if o.ok() {
        // resolved inside the rootfs: the mount is at the in-rootfs path
        assert_eq!(
            o.stdout.trim(),
            "1",
            "mount not found inside: {}",
            o.describe()
        );
        assert!(
            b.join("rootfs").join(inside_rel).exists(),
            "mount point not inside rootfs"
        );
        let _ = env.delete_force(&id);
    } else {
        assert_eq!(o.code(), 1, "{}", o.describe());
        assert_stderr_names(&o, &["destination", "mounts["]);
    }
    assert_nothing_left(env, &id, b);
}

#[test]
fn negative_oom_score_adj() {
    require_root!();
    let env = TestEnv::new("bad_oom");
    let mut cfg = env.config(&["cat", "/proc/self/oom_score_adj"]);
    cfg["process"]["oomScoreAdj"] = json!(-500);
    let b = env.bundle(&cfg);
    let id = env.id("oom");
    let o = env.run(&b, &id);
    // Lowering oom_score_adj needs CAP_SYS_RESOURCE; decide the expected outcome from ours.
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let cap_eff = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .unwrap()
        .trim();
    let has_sys_resource = u64::from_str_radix(cap_eff, 16).unwrap() & (1 << 24) != 0;
    if has_sys_resource {
        assert!(o.ok(), "{}", o.describe());
        assert_eq!(o.stdout.trim(), "-500", "{}", o.describe());
        env.delete_force(&id);
    } else {
        assert_eq!(o.code(), 1, "{}", o.describe());
        assert_stderr_names(&o, &["oomScoreAdj"]);
        if !is_reference_runtime() {
            assert_stderr_names(&o, &["CAP_SYS_RESOURCE"]);
        }
        assert!(
            !o.stdout.contains("500"),
            "user process ran: {}",
            o.describe()
        );
    }
    assert_nothing_left(&env, &id, &b);
}

#[test]
fn bad_mount_source() {
    require_root!();
    let env = TestEnv::new("bad_mnt_src");
    let mut cfg = env.config(&["true"]);
    let missing = env.base.join("no-such-source-dir");
    cfg["mounts"].as_array_mut().unwrap().push(
        json!({"destination": "/mnt/x", "type": "bind", "source": missing.to_str().unwrap(), "options": ["rbind"]}),
    );
    let b = env.bundle(&cfg);
    expect_refused(&env, &b, &["no-such-source-dir", "mounts["]);
}

#[test]
fn unsupported_global_flags_refused_clearly() {
    require_root!();
    if is_reference_runtime() {
        eprintln!("SKIP: berth-specific contract");
        return;
    }
    let env = TestEnv::new("bad_flags");
    let b = env.bundle(&env.config(&["true"]));
    let id = env.id("flags");
    let o = env.rt([
        "--systemd-cgroup",
        "run",
        "-b",
        b.to_str().unwrap(),
        id.as_str(),
    ]);
    // Either supported (then it must work) or refused naming the flag.
    if !o.ok() {
        assert_stderr_names(&o, &["systemd-cgroup", "systemd"]);
        assert_nothing_left(&env, &id, &b);
    }
}
