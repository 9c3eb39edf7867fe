//! Container lifecycle: create/start/state/kill/delete/run/list/ps.

mod common;

use common::*;
use serde_json::Value;
use std::fs;
use std::time::{Duration, Instant};

/// Script that waits until the host creates `rootfs/tmp/go`.
const WAIT_GO: &str = "while [ ! -e /tmp/go ]; do sleep 0.05; done; echo user-process-done";

#[test]
fn create_start_state_stop_delete() {
    require_root!();
    let env = TestEnv::new("lifecycle_basic");
    let b = env.bundle(&env.config(&["sh", "-c", WAIT_GO]));
    let id = env.id("basic");

    let c = env.create(&b, &id);
    c.assert_ok();
    let st = env.state(&id);
    assert_eq!(st["status"], "created", "state after create: {st}");
    assert_eq!(st["id"], id.as_str());
    assert!(st["ociVersion"].is_string(), "state lacks ociVersion: {st}");
    let bundle_in_state = st["bundle"].as_str().unwrap_or("");
    assert_eq!(
        fs::canonicalize(bundle_in_state).ok(),
        fs::canonicalize(&b).ok(),
        "state bundle: {st}"
    );
    let pid = st["pid"].as_i64().expect("pid in state") as i32;
    assert!(
        pid > 0 && pid_alive(pid),
        "init pid {pid} should exist: {st}"
    );
    let cl = cmdline(pid);
    assert!(
        !cl.iter().any(|a| a.contains("user-process-done")),
        "user process already exec'd before start: {cl:?}"
    );
    assert!(!c.stdout_now().contains("user-process-done"));

    env.start(&id).assert_ok();
    assert_eq!(env.state_status(&id), "running");
    // The init pid now runs the user's args.
    let cl = wait_for(Duration::from_secs(3), || {
        let cl = cmdline(pid);
        cl.iter()
            .any(|a| a.contains("user-process-done"))
            .then_some(cl)
    });
    assert!(
        cl.is_some(),
        "pid {pid} does not run the user process: {:?}",
        cmdline(pid)
    );
    assert_eq!(env.state_pid(&id), pid, "pid changed after start");

    fs::write(b.join("rootfs/tmp/go"), "").unwrap();
    env.wait_status(&id, "stopped", Duration::from_secs(5));
    assert!(
        wait_for(Duration::from_secs(2), || c
            .stdout_now()
            .contains("user-process-done")
            .then_some(()))
        .is_some(),
        "container output missing: {:?}",
        c.stdout_now()
    );

    env.delete(&id).assert_ok();
    assert!(
        !env.root.join(&id).exists(),
        "state dir still present after delete"
    );
    env.rt(["state", id.as_str()]).assert_fail();
    assert!(
        env.tagged_pids().is_empty(),
        "processes left: {:?}",
        env.tagged_pids()
    );
}

#[test]
fn delete_running_needs_force() {
    require_root!();
    let env = TestEnv::new("lifecycle_delete_force");
    let (id, _b, _) = env.start_container(&env.config(&["sleep", "100"]));
    let pid = env.state_pid(&id);

    let d = env.delete(&id);
    d.assert_fail();
    assert!(pid_alive(pid), "delete without -f killed the container");
    assert_eq!(env.state_status(&id), "running");

    env.delete_force(&id).assert_ok();
    assert!(
        wait_pid_gone(pid, Duration::from_secs(5)),
        "pid {pid} survives delete -f"
    );
    assert!(
        !env.root.join(&id).exists(),
        "state dir still present after delete -f"
    );
}

#[test]
fn run_returns_exit_code() {
    require_root!();
    let env = TestEnv::new("lifecycle_exit_code");
    let o = env.run_args(&["sh", "-c", "echo out-line; echo err-line >&2; exit 3"]);
    assert_eq!(o.code(), 3, "{}", o.describe());
    assert!(o.stdout.contains("out-line"), "{}", o.describe());
    assert!(o.stderr.contains("err-line"), "{}", o.describe());

    let o = env.run_args(&["true"]);
    assert_eq!(o.code(), 0, "{}", o.describe());
    let o = env.run_args(&["false"]);
    assert_eq!(o.code(), 1, "{}", o.describe());
}

#[test]
fn run_reports_signal_as_128_plus_n() {
    require_root!();
    let env = TestEnv::new("lifecycle_signal_code");
    // Without a pid namespace the shell is not an init and can kill itself.
    let mut cfg = env.config(&["sh", "-c", "kill -9 $$; echo not-reached"]);
    remove_ns(&mut cfg, "pid");
    let o = env.run_config(&cfg);
    assert_eq!(o.code(), 137, "{}", o.describe());
    assert!(!o.stdout.contains("not-reached"));

    // PID 1 of a pid namespace killed from the host.
    let b = env.bundle(&env.config(&["sleep", "100"]));
    let id = env.id("sig");
    env.track(&id);
    let (child, so, se, args) = env.spawn(["run", "-b", b.to_str().unwrap(), id.as_str()]);
    let pid = wait_for(Duration::from_secs(5), || {
        let o = env.rt(["state", id.as_str()]);
        let v: Value = serde_json::from_str(&o.stdout).ok()?;
        (v["status"] == "running").then(|| v["pid"].as_i64().unwrap() as i32)
    })
    .expect("container never running");
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let o = finish(child, so, se, args, Duration::from_secs(5));
    assert_eq!(o.code(), 128 + 9, "{}", o.describe());
}

#[test]
fn run_forwards_sigterm() {
    require_root!();
    let env = TestEnv::new("lifecycle_sigterm");
    let cfg = env.config(&[
        "sh",
        "-c",
        "trap 'echo got-term; exit 42' TERM; echo ready; sleep 100 & wait $!",
    ]);
    let b = env.bundle(&cfg);
    let id = env.id("term");
    env.track(&id);
    let (child, so, se, args) = env.spawn(["run", "-b", b.to_str().unwrap(), id.as_str()]);
    let rpid = child.id() as i32;
    let ready = wait_for(Duration::from_secs(5), || {
        fs::read_to_string(&so)
            .ok()?
            .contains("ready")
            .then_some(())
    });
    assert!(
        ready.is_some(),
        "container never ready: {}",
        fs::read_to_string(&se).unwrap_or_default()
    );
    let t = Instant::now();
    unsafe { libc::kill(rpid, libc::SIGTERM) };
    let o = finish(child, so, se, args, Duration::from_secs(5));
    assert!(t.elapsed() < Duration::from_secs(5));
    assert!(
        o.stdout.contains("got-term"),
        "SIGTERM not delivered to the container: {}",
        o.describe()
    );
    assert_eq!(o.code(), 42, "{}", o.describe());
}

#[test]
fn kill_accepts_names_and_numbers() {
    require_root!();
    let env = TestEnv::new("lifecycle_kill");
    // A container that records which signal it got (PID 1 only receives
    // signals it handles, apart from SIGKILL).
    let script = "trap 'echo TERM > /tmp/sig; exit 0' TERM; trap 'echo USR1 > /tmp/sig; exit 0' USR1; \
                  echo ready > /tmp/ready; while true; do sleep 0.05; done";
    let cases: &[(&str, Option<&str>)] = &[
        ("KILL", None),
        ("SIGKILL", None),
        ("9", None),
        ("SIGTERM", Some("TERM")),
        ("TERM", Some("TERM")),
        ("15", Some("TERM")),
        ("USR1", Some("USR1")),
        ("", Some("TERM")), // default signal
    ];
    for (sig, want) in cases {
        let (id, b, _) = env.start_container(&env.config(&["sh", "-c", script]));
        let pid = env.state_pid(&id);
        assert!(
            wait_for(Duration::from_secs(5), || b
                .join("rootfs/tmp/ready")
                .exists()
                .then_some(()))
            .is_some(),
            "container not ready"
        );
        let o = if sig.is_empty() {
            env.rt(["kill", id.as_str()])
        } else {
            env.kill(&id, sig)
        };
        o.assert_ok();
        env.wait_status(&id, "stopped", Duration::from_secs(5));
        assert!(
            wait_pid_gone(pid, Duration::from_secs(2)),
            "signal {sig:?}: pid {pid} still alive"
        );
        let got = fs::read_to_string(b.join("rootfs/tmp/sig")).ok();
        assert_eq!(got.as_deref().map(str::trim), *want, "signal {sig:?}");
        env.delete(&id).assert_ok();
    }
}

#[test]
fn kill_unknown_signal_fails() {
    require_root!();
    let env = TestEnv::new("lifecycle_kill_bad");
    let (id, _b, _) = env.start_container(&env.config(&["sleep", "100"]));
    let o = env.kill(&id, "SIGNOTASIGNAL");
    o.assert_fail();
    assert_eq!(env.state_status(&id), "running");
}

#[test]
fn pid_file_matches_state() {
    require_root!();
    let env = TestEnv::new("lifecycle_pidfile");
    let b = env.bundle(&env.config(&["sleep", "100"]));
    let id = env.id("pf");
    let pf = env.base.join("pidfile");
    env.create_with(&b, &id, &["--pid-file", pf.to_str().unwrap()])
        .assert_ok();
    let content = fs::read_to_string(&pf).expect("pid file written");
    let pid: i32 = content
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("pid file content {content:?}"));
    assert_eq!(pid, env.state_pid(&id));
    assert!(pid_alive(pid));
}

#[test]
fn list_shows_containers() {
    require_root!();
    let env = TestEnv::new("lifecycle_list");
    let b1 = env.bundle(&env.config(&["sleep", "100"]));
    let b2 = env.bundle(&env.config(&["sleep", "100"]));
    let id1 = env.id("l1");
    let id2 = env.id("l2");
    env.create(&b1, &id1).assert_ok();
    env.create(&b2, &id2).assert_ok();
    env.start(&id2).assert_ok();

    let t = env.rt(["list"]);
    t.assert_ok();
    let line1 = t
        .stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some(id1.as_str()));
    let line2 = t
        .stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some(id2.as_str()));
    assert!(
        line1.is_some_and(|l| l.contains("created")),
        "list table: {}",
        t.stdout
    );
    assert!(
        line2.is_some_and(|l| l.contains("running")),
        "list table: {}",
        t.stdout
    );
    assert!(
        t.stdout.lines().next().unwrap_or("").contains("ID"),
        "table header: {}",
        t.stdout
    );

    let j = env.rt(["list", "--format", "json"]);
    j.assert_ok();
    let v: Value =
        serde_json::from_str(&j.stdout).unwrap_or_else(|e| panic!("list json {e}: {}", j.stdout));
    let arr = v.as_array().expect("list json is an array");
    assert_eq!(arr.len(), 2, "{}", j.stdout);
    let find = |id: &str| {
        arr.iter()
            .find(|c| c["id"] == id)
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(find(&id1)["status"], "created", "{}", j.stdout);
    assert_eq!(find(&id2)["status"], "running", "{}", j.stdout);
    assert_eq!(
        find(&id2)["pid"].as_i64().map(|p| p as i32),
        Some(env.state_pid(&id2))
    );

    let q = env.rt(["list", "-q"]);
    q.assert_ok();
    let mut ids: Vec<&str> = q
        .stdout
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    ids.sort();
    let mut want = vec![id1.as_str(), id2.as_str()];
    want.sort();
    assert_eq!(ids, want);
}

#[test]
fn ps_json_lists_init_pid() {
    require_root!();
    let env = TestEnv::new("lifecycle_ps");
    let (id, _b, _) = env.start_container(&env.config(&["sh", "-c", "sleep 100 & sleep 100"]));
    let pid = env.state_pid(&id);
    // wait for the child sleep
    let o = wait_for(Duration::from_secs(3), || {
        let o = env.rt(["ps", "--format", "json", id.as_str()]);
        let v: Value = serde_json::from_str(&o.stdout).ok()?;
        (v.as_array()?.len() >= 2).then_some(v)
    });
    let v = o.unwrap_or_else(|| {
        panic!(
            "ps json: {}",
            env.rt(["ps", "-f", "json", id.as_str()]).describe()
        )
    });
    let pids: Vec<i64> = v
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_i64)
        .collect();
    assert!(
        pids.contains(&(pid as i64)),
        "ps {pids:?} lacks init pid {pid}"
    );
    for p in &pids {
        assert!(pid_alive(*p as i32), "ps lists dead pid {p}");
    }
}

#[test]
fn duplicate_id_refused() {
    require_root!();
    let env = TestEnv::new("lifecycle_dup");
    let b1 = env.bundle(&env.config(&["sleep", "100"]));
    let b2 = env.bundle(&env.config(&["sleep", "100"]));
    let id = env.id("dup");
    env.create(&b1, &id).assert_ok();
    let st1 = env.state(&id);
    let o = env.create(&b2, &id);
    o.assert_fail();
    assert_stderr_names(&o, &[&id]);
    let st2 = env.state(&id);
    assert_eq!(st1["pid"], st2["pid"]);
    assert_eq!(st2["status"], "created");
    assert_eq!(
        fs::canonicalize(st2["bundle"].as_str().unwrap()).ok(),
        fs::canonicalize(&b1).ok()
    );
    assert!(pid_alive(st2["pid"].as_i64().unwrap() as i32));
    env.start(&id).assert_ok();
    assert_eq!(env.state_status(&id), "running");
}

#[test]
fn run_detach_returns_at_once() {
    require_root!();
    let env = TestEnv::new("lifecycle_detach");
    let b = env.bundle(&env.config(&["sh", "-c", "echo detached-out; sleep 100"]));
    let id = env.id("det");
    let t = Instant::now();
    let o = env.rt(["run", "-d", "-b", b.to_str().unwrap(), id.as_str()]);
    o.assert_ok();
    assert!(
        t.elapsed() < common::cgroupfs::scaled(5),
        "run -d took {:?}",
        t.elapsed()
    );
    let st = env.state(&id);
    assert_eq!(st["status"], "running");
    let pid = st["pid"].as_i64().unwrap() as i32;
    std::thread::sleep(Duration::from_millis(300));
    assert!(pid_alive(pid));
    assert_eq!(env.state_status(&id), "running");
    assert!(
        wait_for(Duration::from_secs(2), || o
            .stdout_now()
            .contains("detached-out")
            .then_some(()))
        .is_some(),
        "detached container output not on the runtime's stdout"
    );
}

#[test]
fn start_twice_fails_and_state_of_unknown_fails() {
    require_root!();
    let env = TestEnv::new("lifecycle_misc");
    let (id, _b, _) = env.start_container(&env.config(&["sleep", "100"]));
    env.start(&id).assert_fail();
    assert_eq!(env.state_status(&id), "running");
    let o = env.rt(["state", "bt-does-not-exist"]);
    o.assert_fail();
    assert_stderr_names(&o, &["bt-does-not-exist"]);
}
