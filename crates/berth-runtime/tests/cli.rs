//! CLI odds and ends: spec, features, kill --all, ps table.

mod common;

use common::*;
use serde_json::Value;
use std::fs;
use std::time::Duration;

#[test]
fn spec_writes_runnable_config_and_refuses_overwrite() {
    require_root!();
    let env = TestEnv::new("cli_spec");
    let dir = env.scratch("specdir");
    let o = env.rt(["spec", "-b", dir.to_str().unwrap()]);
    o.assert_ok();
    let text = fs::read_to_string(dir.join("config.json")).expect("config.json written");
    let v: Value = serde_json::from_str(&text).expect("spec output is JSON");
    assert!(v["ociVersion"].is_string(), "{v}");
    assert!(v["process"]["args"].is_array(), "{v}");
    assert_eq!(v["root"]["path"], "rootfs");
    let ns: Vec<&str> = v["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["type"].as_str())
        .collect();
    for want in ["pid", "mount", "ipc", "uts", "network"] {
        assert!(ns.contains(&want), "spec namespaces {ns:?}");
    }
    // refuses to overwrite
    fs::write(dir.join("config.json"), "{\"keep\": true}").unwrap();
    let o = env.rt(["spec", "-b", dir.to_str().unwrap()]);
    o.assert_fail();
    assert_stderr_names(&o, &["config.json"]);
    assert_eq!(
        fs::read_to_string(dir.join("config.json")).unwrap(),
        "{\"keep\": true}"
    );

    // the generated config runs with a busybox rootfs (terminal off, args set)
    let mut v = v;
    v["process"]["terminal"] = serde_json::json!(false);
    v["process"]["args"] = serde_json::json!(["sh", "-c", "echo spec-ok"]);
    v["root"]["readonly"] = serde_json::json!(false);
    let o = env.run_config(&v);
    o.assert_ok();
    assert_eq!(o.stdout, "spec-ok\n", "{}", o.describe());
}

#[test]
fn features_json() {
    require_root!();
    let env = TestEnv::new("cli_features");
    let o = env.rt(["features"]);
    o.assert_ok();
    let v: Value = serde_json::from_str(&o.stdout).expect("features is JSON");
    assert!(
        v["ociVersionMin"].is_string() && v["ociVersionMax"].is_string(),
        "{v}"
    );
    let ns: Vec<&str> = v["linux"]["namespaces"]
        .as_array()
        .expect("linux.namespaces")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for want in ["pid", "mount", "ipc", "uts", "network", "user", "cgroup"] {
        assert!(ns.contains(&want), "features namespaces {ns:?}");
    }
    assert!(
        v["mountOptions"]
            .as_array()
            .is_some_and(|a| a.iter().any(|o| o == "nosuid")),
        "{v}"
    );
}

#[test]
fn kill_all_reaches_every_process() {
    require_root!();
    let env = TestEnv::new("cli_kill_all");
    // no pid namespace: `kill --all` must signal every process of the container
    let mut cfg = env.config(&[
        "sh",
        "-c",
        "sleep 100 & sleep 100 & echo started > /tmp/ready; wait",
    ]);
    remove_ns(&mut cfg, "pid");
    let (id, b, _) = env.start_container(&cfg);
    assert!(
        wait_for(Duration::from_secs(5), || b
            .join("rootfs/tmp/ready")
            .exists()
            .then_some(()))
        .is_some()
    );
    let pids = wait_for(Duration::from_secs(3), || {
        let o = env.rt(["ps", "-f", "json", id.as_str()]);
        let v: Value = serde_json::from_str(&o.stdout).ok()?;
        let p: Vec<i32> = v
            .as_array()?
            .iter()
            .filter_map(|p| p.as_i64().map(|x| x as i32))
            .collect();
        (p.len() >= 3).then_some(p)
    })
    .unwrap_or_else(|| {
        panic!(
            "ps should list the shell and both sleeps: {}",
            env.rt(["ps", "-f", "json", id.as_str()]).describe()
        )
    });
    env.rt(["kill", "--all", id.as_str(), "KILL"]).assert_ok();
    for p in &pids {
        assert!(
            wait_pid_gone(*p, Duration::from_secs(5)),
            "pid {p} survived kill --all"
        );
    }
    env.wait_status(&id, "stopped", Duration::from_secs(5));
}

#[test]
fn ps_table_default() {
    require_root!();
    let env = TestEnv::new("cli_ps_table");
    let (id, _b, _) = env.start_container(&env.config(&["sleep", "100"]));
    let pid = env.state_pid(&id);
    let o = env.rt(["ps", id.as_str()]);
    o.assert_ok();
    let mut lines = o.stdout.lines();
    assert!(
        lines.next().is_some_and(|h| h.contains("PID")),
        "{}",
        o.describe()
    );
    assert!(
        lines.any(|l| l.split_whitespace().any(|f| f == pid.to_string())),
        "ps table lacks pid {pid}: {}",
        o.describe()
    );
}

#[test]
fn state_has_contract_fields() {
    require_root!();
    let env = TestEnv::new("cli_state_fields");
    let b = env.bundle(&env.config(&["sleep", "100"]));
    let id = env.id("fields");
    env.create(&b, &id).assert_ok();
    let st = env.state(&id);
    for k in [
        "ociVersion",
        "id",
        "status",
        "pid",
        "bundle",
        "rootfs",
        "created",
        "owner",
    ] {
        assert!(st.get(k).is_some(), "state lacks {k}: {st}");
    }
    assert_eq!(
        fs::canonicalize(st["rootfs"].as_str().unwrap()).ok(),
        fs::canonicalize(b.join("rootfs")).ok(),
        "{st}"
    );
}

#[test]
fn checkpoint_and_restore_are_refused_clearly() {
    require_root!();
    if is_reference_runtime() {
        return;
    }
    let env = TestEnv::new("cli_criu");
    for command in ["checkpoint", "restore"] {
        let o = env.rt([command, "some-id"]);
        o.assert_fail();
        assert!(
            o.stderr.contains(command) && o.stderr.contains("not supported"),
            "{}",
            o.describe()
        );
    }
}
