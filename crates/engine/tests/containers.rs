//! The container lifecycle through a real berth-shim (as root): exit codes, logs, stop, kill,
//! pause, removal leaving nothing, start failures, and recovery after the engine goes away.

#[macro_use]
mod common;

use berth_engine::ErrorKind;
use berth_engine::containers::{State, WaitCondition};
use common::{TestEnv, eventually, runtime};
use std::fs;

fn log_text(env: &TestEnv, id: &str) -> String {
    fs::read_to_string(
        env.config
            .data_root
            .join("containers")
            .join(id)
            .join(format!("{id}-json.log")),
    )
    .unwrap_or_default()
}

#[test]
fn a_container_runs_logs_and_reports_its_exit_code() {
    require_root!();
    let env = TestEnv::new("exit");
    let engine = env.open();
    let image = env.busybox(&engine);
    let c = &engine.containers;
    let body = env.body(&["sh", "-c", "echo out; echo err >&2; exit 3"]);
    let (id, _) = c.create_from_image(Some("exiter"), body, image).unwrap();
    assert_eq!(c.get("exiter").unwrap().state, State::Created);
    assert_eq!(c.get(&id[..10]).unwrap().id, id);
    let waiter = c.wait_handle(&id, WaitCondition::NextExit).unwrap();
    c.start(&id).unwrap();
    let result = runtime().block_on(waiter.wait());
    assert_eq!(result.status_code, 3);
    let record = c.get(&id).unwrap();
    assert_eq!(record.state, State::Exited);
    assert_eq!(record.exit_code, 3);
    let log = log_text(&env, &id);
    assert!(log.contains(r#"{"log":"out\n","stream":"stdout""#), "{log}");
    assert!(log.contains(r#"{"log":"err\n","stream":"stderr""#), "{log}");
    let inspect = c.inspect(&id, false).unwrap();
    assert_eq!(inspect["State"]["Status"], "exited");
    assert_eq!(inspect["State"]["ExitCode"], 3);
    assert_eq!(inspect["Name"], "/exiter");
    assert_eq!(inspect["Path"], "sh");
    // Not running: no mount, no shim.
    assert!(env.mounts().is_empty(), "{:?}", env.mounts());
    assert!(env.shim_pids().is_empty());
    // Names are unique; a second start runs it again.
    let err = c
        .create_from_image(
            Some("exiter"),
            env.body(&["true"]),
            env_image(&env, &engine),
        )
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Conflict);
    assert!(
        err.message.contains("is already in use by container"),
        "{}",
        err.message
    );
    let waiter = c.wait_handle(&id, WaitCondition::NextExit).unwrap();
    c.start(&id).unwrap();
    assert_eq!(runtime().block_on(waiter.wait()).status_code, 3);
    assert_eq!(log_text(&env, &id).matches("out\\n").count(), 2);
    c.remove(&id, false, false).unwrap();
    assert_eq!(c.get(&id).unwrap_err().kind, ErrorKind::NotFound);
}

fn env_image(env: &TestEnv, engine: &berth_engine::Engine) -> berth_engine::images::ImageRecord {
    // The layer is already committed; only the record is needed again.
    let mut img = env.busybox_record_only(engine);
    img.repo_tags.clear();
    img
}

#[test]
fn stop_sends_sigterm_then_sigkill_after_the_timeout() {
    require_root!();
    let env = TestEnv::new("stop");
    let engine = env.open();
    let image = env.busybox(&engine);
    let c = &engine.containers;
    // PID 1 without a handler ignores SIGTERM.
    let (id, _) = c
        .create_from_image(None, env.body(&["sleep", "1000"]), image)
        .unwrap();
    c.start(&id).unwrap();
    assert_eq!(c.get(&id).unwrap().state, State::Running);
    assert_eq!(c.start(&id).unwrap_err().kind, ErrorKind::NotModified);
    c.stop(&id, Some(1)).unwrap();
    let record = c.get(&id).unwrap();
    assert_eq!(record.state, State::Exited);
    assert_eq!(record.exit_code, 137);
    assert_eq!(
        c.stop(&id, Some(1)).unwrap_err().kind,
        ErrorKind::NotModified
    );
    assert_eq!(c.kill(&id, None).unwrap_err().kind, ErrorKind::Conflict);
    c.remove(&id, false, false).unwrap();
}

#[test]
fn kill_with_a_signal_name_reaches_the_container() {
    require_root!();
    let env = TestEnv::new("kill");
    let engine = env.open();
    let image = env.busybox(&engine);
    let c = &engine.containers;
    let script = "trap 'exit 42' USR1; echo ready; while :; do sleep 0.1; done";
    let (id, _) = c
        .create_from_image(None, env.body(&["sh", "-c", script]), image)
        .unwrap();
    let waiter = c.wait_handle(&id, WaitCondition::NotRunning).unwrap();
    c.start(&id).unwrap();
    eventually("ready in the log", || {
        log_text(&env, &id).contains("ready").then_some(())
    });
    assert_eq!(
        c.kill(&id, Some("NOPE")).unwrap_err().kind,
        ErrorKind::InvalidArgument
    );
    c.kill(&id, Some("SIGUSR1")).unwrap();
    assert_eq!(runtime().block_on(waiter.wait()).status_code, 42);
    c.remove(&id, false, false).unwrap();
}

fn freezer_state(env: &TestEnv, id: &str) -> String {
    let v1 = format!(
        "/sys/fs/cgroup/freezer/{}/{id}/freezer.state",
        env.cgroup_parent()
    );
    if let Ok(s) = fs::read_to_string(&v1) {
        return s.trim().to_string();
    }
    let v2 = format!("/sys/fs/cgroup/{}/{id}/cgroup.events", env.cgroup_parent());
    let events = fs::read_to_string(&v2).unwrap_or_default();
    if events.contains("frozen 1") {
        "FROZEN".into()
    } else {
        "THAWED".into()
    }
}

#[test]
fn pause_freezes_the_cgroup_and_unpause_thaws_it() {
    require_root!();
    let env = TestEnv::new("pause");
    let engine = env.open();
    let image = env.busybox(&engine);
    let c = &engine.containers;
    let (id, _) = c
        .create_from_image(None, env.body(&["sleep", "1000"]), image)
        .unwrap();
    assert_eq!(c.pause(&id).unwrap_err().kind, ErrorKind::Conflict);
    c.start(&id).unwrap();
    c.pause(&id).unwrap();
    assert_eq!(freezer_state(&env, &id), "FROZEN");
    assert_eq!(c.inspect(&id, false).unwrap()["State"]["Paused"], true);
    assert_eq!(c.pause(&id).unwrap_err().kind, ErrorKind::Conflict);
    let err = c.remove(&id, false, false).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Conflict);
    c.unpause(&id).unwrap();
    assert_eq!(freezer_state(&env, &id), "THAWED");
    assert_eq!(c.get(&id).unwrap().state, State::Running);
    c.pause(&id).unwrap();
    // rm -f of a paused container works too.
    c.remove(&id, true, false).unwrap();
    assert!(env.cgroups().is_empty(), "{:?}", env.cgroups());
}

fn assert_nothing_left(env: &TestEnv) {
    let exec = env.exec_root();
    assert!(env.mounts().is_empty(), "mounts left: {:?}", env.mounts());
    assert!(
        env.shim_pids().is_empty(),
        "processes left: {:?}",
        env.shim_pids()
    );
    assert!(
        env.cgroups().is_empty(),
        "cgroups left: {:?}",
        env.cgroups()
    );
    for dir in [
        exec.join("containers"),
        exec.join("shims"),
        env.config.data_root.join("containers"),
    ] {
        assert!(
            env.entries(&dir).is_empty(),
            "{} has {:?}",
            dir.display(),
            env.entries(&dir)
        );
    }
}

#[test]
fn autoremove_and_rm_force_leave_nothing() {
    require_root!();
    let env = TestEnv::new("rm");
    let engine = env.open();
    let image = env.busybox(&engine);
    let c = &engine.containers;
    let mut body = env.body(&["sh", "-c", "echo bye"]);
    body.host_config.auto_remove = true;
    let (id, _) = c.create_from_image(None, body, image.clone()).unwrap();
    let waiter = c.wait_handle(&id, WaitCondition::Removed).unwrap();
    c.start(&id).unwrap();
    assert_eq!(runtime().block_on(waiter.wait()).status_code, 0);
    assert_eq!(c.get(&id).unwrap_err().kind, ErrorKind::NotFound);
    assert_nothing_left(&env);

    let (id, _) = c
        .create_from_image(Some("sleeper"), env.body(&["sleep", "1000"]), image)
        .unwrap();
    c.start("/sleeper").unwrap();
    let err = c.remove("sleeper", false, false).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Conflict);
    assert!(
        err.message
            .starts_with("You cannot remove a running container"),
        "{}",
        err.message
    );
    c.remove("sleeper", true, false).unwrap();
    assert_eq!(c.get(&id).unwrap_err().kind, ErrorKind::NotFound);
    assert_nothing_left(&env);
    let snapshots: Vec<String> = engine
        .images
        .snapshotter()
        .list()
        .unwrap()
        .into_iter()
        .map(|i| i.key)
        .collect();
    assert!(!snapshots.contains(&id), "{snapshots:?}");
}

#[test]
fn a_start_that_fails_leaves_the_container_created_with_nothing_running() {
    require_root!();
    let env = TestEnv::new("fail");
    let engine = env.open();
    let image = env.busybox(&engine);
    let c = &engine.containers;
    let (id, _) = c
        .create_from_image(None, env.body(&["/no/such/program"]), image.clone())
        .unwrap();
    let err = c.start(&id).unwrap_err();
    assert!(
        err.message.starts_with("OCI runtime create failed"),
        "{}",
        err.message
    );
    let record = c.get(&id).unwrap();
    assert_eq!(record.state, State::Created);
    assert!(!record.error.is_empty());
    assert!(env.mounts().is_empty(), "{:?}", env.mounts());
    assert!(env.shim_pids().is_empty());
    c.remove(&id, false, false).unwrap();
    // Bad options fail at create time.
    let mut body = env.body(&["true"]);
    body.host_config.network_mode = "bridge".into();
    let err = c.create_from_image(None, body, image.clone()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidArgument);
    let mut body = env.body(&["true"]);
    body.host_config.runtime = "nope".into();
    let err = c.create_from_image(None, body, image).unwrap_err();
    assert_eq!(err.message, "Unknown runtime specified nope");
    assert_nothing_left(&env);
}

#[test]
fn a_running_container_survives_the_engine_and_is_found_again() {
    require_root!();
    let env = TestEnv::new("recover");
    let (id, pid) = {
        let engine = env.open();
        let image = env.busybox(&engine);
        let body = env.body(&["sh", "-c", "while :; do echo tick; sleep 0.2; done"]);
        let (id, _) = engine
            .containers
            .create_from_image(None, body, image)
            .unwrap();
        engine.containers.start(&id).unwrap();
        (id.clone(), engine.containers.get(&id).unwrap().pid)
        // The engine is dropped here, as if berthd died.
    };
    let before = log_text(&env, &id).matches("tick").count();
    eventually("more ticks while no engine runs", || {
        (log_text(&env, &id).matches("tick").count() > before + 1).then_some(())
    });
    let engine = env.open();
    let c = &engine.containers;
    let record = c.get(&id).unwrap();
    assert_eq!(record.state, State::Running);
    assert_eq!(record.pid, pid);
    c.stop(&id, Some(1)).unwrap();
    assert_eq!(c.get(&id).unwrap().state, State::Exited);
    c.remove(&id, false, false).unwrap();
    assert_nothing_left(&env);
}

#[test]
fn a_container_whose_shim_is_killed_is_shown_exited() {
    require_root!();
    let env = TestEnv::new("shimkill");
    let engine = env.open();
    let image = env.busybox(&engine);
    let c = &engine.containers;
    let (id, _) = c
        .create_from_image(None, env.body(&["sleep", "1000"]), image)
        .unwrap();
    let waiter = c.wait_handle(&id, WaitCondition::NotRunning).unwrap();
    c.start(&id).unwrap();
    let shim_pid = c.get(&id).unwrap().shim_pid;
    unsafe { libc::kill(shim_pid, libc::SIGKILL) };
    let result = runtime().block_on(waiter.wait());
    assert_eq!(result.status_code, 137);
    let record = c.get(&id).unwrap();
    assert_eq!(record.state, State::Exited);
    assert!(!record.error.is_empty());
    c.remove(&id, false, false).unwrap();
    assert_nothing_left(&env);
}

#[test]
fn a_dead_shim_found_at_open_is_recorded_exited() {
    require_root!();
    let env = TestEnv::new("deadopen");
    let id = {
        let engine = env.open();
        let image = env.busybox(&engine);
        let (id, _) = engine
            .containers
            .create_from_image(None, env.body(&["sleep", "1000"]), image)
            .unwrap();
        engine.containers.start(&id).unwrap();
        id
    };
    // Both berthd and the shim die; the container is still there until recovery cleans it up.
    let shim_file = env
        .exec_root()
        .join("shims")
        .join(&id[..16])
        .join("shim.json");
    let shim: serde_json::Value = serde_json::from_slice(&fs::read(shim_file).unwrap()).unwrap();
    unsafe { libc::kill(shim["shim_pid"].as_i64().unwrap() as i32, libc::SIGKILL) };
    eventually("the shim to go", || {
        (!std::path::Path::new(&format!("/proc/{}", shim["shim_pid"])).exists()).then_some(())
    });
    let engine = env.open();
    let record = engine.containers.get(&id).unwrap();
    assert_eq!(record.state, State::Exited);
    assert_eq!(record.exit_code, 137);
    engine.containers.remove(&id, false, false).unwrap();
    assert_nothing_left(&env);
}

#[test]
fn list_filters_and_rename() {
    require_root!();
    let env = TestEnv::new("list");
    let engine = env.open();
    let image = env.busybox(&engine);
    let c = &engine.containers;
    let mut body = env.body(&["true"]);
    body.config.labels.insert("k".into(), "v".into());
    let (a, _) = c
        .create_from_image(Some("a1"), body, image.clone())
        .unwrap();
    let (b, _) = c
        .create_from_image(Some("b1"), env.body(&["true"]), image)
        .unwrap();
    let opts = |all: bool, filters: &str| berth_engine::containers::ListOptions {
        all,
        filters: (!filters.is_empty()).then(|| filters.to_string()),
        ..Default::default()
    };
    assert!(c.list(&opts(false, "")).unwrap().is_empty());
    let all = c.list(&opts(true, "")).unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0]["Status"], "Created");
    let labelled = c.list(&opts(true, r#"{"label":{"k=v":true}}"#)).unwrap();
    assert_eq!(labelled.len(), 1);
    assert_eq!(labelled[0]["Id"], a.as_str());
    let named = c.list(&opts(true, r#"{"name":["b1"]}"#)).unwrap();
    assert_eq!(named[0]["Names"][0], "/b1");
    c.rename("b1", "b2").unwrap();
    assert_eq!(c.get("b2").unwrap().id, b);
    assert_eq!(c.rename("b2", "a1").unwrap_err().kind, ErrorKind::Conflict);
    let (pruned, _) = c.prune().unwrap();
    assert_eq!(pruned.len(), 2);
    assert_nothing_left(&env);
}

/// Rewrites a record's state as a crash in the middle of an operation would leave it.
fn set_state(engine: &berth_engine::Engine, id: &str, state: &str) {
    const T: redb::TableDefinition<&str, &[u8]> = redb::TableDefinition::new("containers");
    engine
        .store
        .write(|txn| {
            let mut record: serde_json::Value =
                berth_engine::store::get(txn, T, id)?.expect("record");
            record["state"] = state.into();
            berth_engine::store::put(txn, T, id, &record)
        })
        .unwrap();
}

#[test]
fn open_settles_records_left_mid_operation_and_removes_orphans() {
    require_root!();
    let env = TestEnv::new("crash");
    let orphan = "ab".repeat(32);
    let (starting, removing) = {
        let engine = env.open();
        let image = env.busybox(&engine);
        let c = &engine.containers;
        let (a, _) = c
            .create_from_image(None, env.body(&["true"]), image.clone())
            .unwrap();
        let (b, _) = c
            .create_from_image(None, env.body(&["true"]), image.clone())
            .unwrap();
        set_state(&engine, &a, "starting");
        set_state(&engine, &b, "removing");
        // What a crash in create (layer and dirs, no record) or rm (record gone) leaves.
        engine
            .images
            .snapshotter()
            .prepare(&orphan, image.top_layer())
            .unwrap();
        for dir in [
            env.exec_root()
                .join("containers")
                .join(&orphan)
                .join("rootfs"),
            env.exec_root().join("shims").join(&orphan[..16]),
            env.config.data_root.join("containers").join(&orphan),
        ] {
            fs::create_dir_all(dir).unwrap();
        }
        (a, b)
    };
    let engine = env.open();
    let c = &engine.containers;
    assert_eq!(c.get(&starting).unwrap().state, State::Created);
    assert_eq!(c.get(&removing).unwrap_err().kind, ErrorKind::NotFound);
    let keys: Vec<String> = engine
        .images
        .snapshotter()
        .list()
        .unwrap()
        .into_iter()
        .map(|i| i.key)
        .collect();
    assert!(
        !keys.contains(&orphan) && !keys.contains(&removing),
        "{keys:?}"
    );
    // The one that was starting can run now.
    let waiter = c.wait_handle(&starting, WaitCondition::NextExit).unwrap();
    c.start(&starting).unwrap();
    assert_eq!(runtime().block_on(waiter.wait()).status_code, 0);
    c.remove(&starting, false, false).unwrap();
    assert_nothing_left(&env);
}

#[test]
fn an_added_runtime_runs_pauses_and_stops_a_container() {
    require_root!();
    if !std::path::Path::new("/usr/sbin/runc").exists() {
        eprintln!("SKIP: no runc");
        return;
    }
    let mut env = TestEnv::new("runc");
    env.config
        .runtimes
        .insert("runc".into(), "/usr/sbin/runc".into());
    let engine = env.open();
    let image = env.busybox(&engine);
    let c = &engine.containers;
    let mut body = env.body(&["sh", "-c", "echo via-runc; sleep 1000"]);
    body.host_config.runtime = "runc".into();
    let (id, _) = c.create_from_image(None, body, image).unwrap();
    c.start(&id).unwrap();
    eventually("output", || {
        log_text(&env, &id).contains("via-runc").then_some(())
    });
    c.pause(&id).unwrap();
    assert_eq!(freezer_state(&env, &id), "FROZEN");
    c.unpause(&id).unwrap();
    assert_eq!(freezer_state(&env, &id), "THAWED");
    c.stop(&id, Some(1)).unwrap();
    let record = c.get(&id).unwrap();
    assert_eq!((record.state, record.exit_code), (State::Exited, 137));
    assert_eq!(
        c.inspect(&id, false).unwrap()["HostConfig"]["Runtime"],
        "runc"
    );
    c.remove(&id, false, false).unwrap();
    assert_nothing_left(&env);
}
