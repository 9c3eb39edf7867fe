//! The volume service through the engine: what a crash or a failed create leaves, the
//! in-use check, and volumes with mount options left mounted by an earlier run.

#[macro_use]
mod common;

use berth_engine::ErrorKind;
use berth_engine::containers::WaitCondition;
use berth_engine::containers::options::Empty;
use berth_engine::volumes::CreateOptions;
use common::*;
use std::fs;
use std::path::{Path, PathBuf};

fn volumes_dir(env: &TestEnv) -> PathBuf {
    env.config.data_root.join("volumes")
}

fn create(engine: &berth_engine::Engine, name: &str, options: &[(&str, &str)]) {
    engine
        .volumes
        .create(CreateOptions {
            name: name.into(),
            driver_opts: options
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..CreateOptions::default()
        })
        .unwrap();
}

fn is_mounted(path: &Path) -> bool {
    let path = path.display().to_string();
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| l.split(' ').nth(4) == Some(path.as_str()))
}

#[test]
fn a_crash_leaves_each_volume_whole_or_absent() {
    require_root!();
    let env = TestEnv::new("vol-crash");
    {
        let engine = env.open();
        create(&engine, "kept", &[]);
        fs::write(volumes_dir(&env).join("kept/_data/file"), b"data").unwrap();
        // A create that made its directories and died before its record.
        fs::create_dir_all(volumes_dir(&env).join("half/_data")).unwrap();
        fs::write(volumes_dir(&env).join("half/_data/file"), b"x").unwrap();
    }
    let engine = env.open();
    assert!(!volumes_dir(&env).join("half").exists());
    let kept = engine.volumes.inspect("kept").unwrap();
    assert_eq!(kept["Name"], "kept");
    assert_eq!(
        fs::read(volumes_dir(&env).join("kept/_data/file")).unwrap(),
        b"data"
    );
    let err = engine.volumes.inspect("half").unwrap_err();
    assert_eq!(
        (err.kind, err.message.as_str()),
        (ErrorKind::NotFound, "get half: no such volume")
    );
}

#[test]
fn a_create_that_fails_makes_no_volume() {
    require_root!();
    let env = TestEnv::new("vol-failed");
    let engine = env.open();
    let image = env.busybox(&engine);
    let mut body = env.body(&["true"]);
    body.host_config.binds = vec!["newvol:/x".into()];
    body.config.volumes = [("/anon".to_string(), Empty {})].into();
    body.host_config.cap_add = vec!["BOGUS".into()];
    let err = engine
        .containers
        .create_from_image(None, body, image)
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidArgument, "{}", err.message);
    let listed = engine.volumes.list(None).unwrap();
    assert_eq!(listed["Volumes"], serde_json::json!([]));
    assert!(
        env.entries(&volumes_dir(&env)).is_empty(),
        "{:?}",
        env.entries(&volumes_dir(&env))
    );
}

#[test]
fn a_used_volume_is_refused_removal_and_rm_v_takes_only_anonymous_ones() {
    require_root!();
    let env = TestEnv::new("vol-use");
    let engine = env.open();
    let image = env.busybox(&engine);
    let mut body = env.body(&["true"]);
    body.host_config.binds = vec!["named:/n".into(), "/anon".into()];
    let (id, _) = engine
        .containers
        .create_from_image(None, body, image)
        .unwrap();
    let err = engine.volumes.remove("named", false).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Conflict);
    assert_eq!(
        err.message,
        format!("remove named: volume is in use - [{id}]")
    );
    let (deleted, _) = engine.volumes.prune(None).unwrap();
    assert!(deleted.is_empty(), "{deleted:?}");
    engine.containers.remove(&id, false, true).unwrap();
    let names: Vec<String> = engine.volumes.list(None).unwrap()["Volumes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["Name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["named"]);
    engine.volumes.remove("named", false).unwrap();
    assert!(env.entries(&volumes_dir(&env)).is_empty());
}

#[test]
fn a_tmpfs_volume_is_mounted_for_its_containers_and_not_left_mounted_by_a_crash() {
    require_root!();
    let env = TestEnv::new("vol-tmpfs");
    let data = volumes_dir(&env).join("tv/_data");
    {
        let engine = env.open();
        let image = env.busybox(&engine);
        create(
            &engine,
            "tv",
            &[("type", "tmpfs"), ("device", "tmpfs"), ("o", "size=1m")],
        );
        let mut body = env.body(&["sh", "-c", "grep ' /data ' /proc/mounts"]);
        body.host_config.binds = vec!["tv:/data".into()];
        let c = &engine.containers;
        let (id, _) = c.create_from_image(None, body, image).unwrap();
        let waiter = c.wait_handle(&id, WaitCondition::NextExit).unwrap();
        c.start(&id).unwrap();
        assert_eq!(runtime().block_on(waiter.wait()).status_code, 0);
        assert!(!is_mounted(&data), "unmounted at the exit");
        // What a crash while a container held it leaves behind.
        rustix::mount::mount(
            "tmpfs",
            &data,
            "tmpfs",
            rustix::mount::MountFlags::empty(),
            None,
        )
        .unwrap();
    }
    // The exit's thread may still hold the first engine for a moment after the exit.
    let _engine = eventually("the first engine to let go of the store", || {
        berth_engine::Engine::open(env.config.clone()).ok()
    });
    assert!(
        !is_mounted(&data),
        "no running container holds it: unmounted at open"
    );
}
