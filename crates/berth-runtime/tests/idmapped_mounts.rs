//! Id-mapped bind mounts: in a container whose root is host uid 100000, a host directory owned by
//! host root appears owned by the container's root and is writable, and what it writes lands on
//! the host owned by host root.

mod common;

use common::*;
use serde_json::json;
use std::os::unix::fs::MetadataExt;

const MAP: [u32; 3] = [0, 100000, 65536];

fn userns_config(env: &TestEnv, args: &[&str]) -> serde_json::Value {
    let mut cfg = env.config(args);
    add_ns(&mut cfg, "user", None);
    let map = json!([{"containerID": MAP[0], "hostID": MAP[1], "size": MAP[2]}]);
    cfg["linux"]["uidMappings"] = map.clone();
    cfg["linux"]["gidMappings"] = map;
    cfg
}

fn host_volume(env: &TestEnv) -> std::path::PathBuf {
    let dir = env.scratch("volume");
    std::fs::write(dir.join("from-host"), "host data\n").unwrap();
    dir
}

/// Kernels before 6.3 cannot id-map tmpfs (where the test VM keeps its files): berth says so.
fn unsupported_here(o: &Out) -> bool {
    let unsupported = !o.ok() && o.stderr.contains("does not support id-mapped mounts");
    if unsupported {
        eprintln!(
            "SKIP: id-mapped mounts unsupported on this filesystem: {}",
            o.stderr.trim()
        );
    }
    unsupported
}

/// The container's root cannot create /data in a rootfs owned by host root: make it beforehand.
fn run_with_data_dir(env: &TestEnv, cfg: &serde_json::Value) -> Out {
    let b = env.bundle(cfg);
    std::fs::create_dir(b.join("rootfs/data")).unwrap();
    let id = env.id("idmap");
    env.run(&b, &id)
}

#[test]
fn idmapped_bind_mount_is_owned_by_the_containers_root() {
    require_root!();
    let env = TestEnv::new("idmap_mount");
    let volume = host_volume(&env);
    let script =
        "stat -c '%u:%g' /data/from-host; echo made > /data/from-container && echo write-ok";
    let mut cfg = userns_config(&env, &["sh", "-c", script]);
    let map = json!([{"containerID": MAP[0], "hostID": MAP[1], "size": MAP[2]}]);
    cfg["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/data", "type": "bind", "source": volume,
        "options": ["bind", "idmap"], "uidMappings": map, "gidMappings": map
    }));
    let o = run_with_data_dir(&env, &cfg);
    if unsupported_here(&o) {
        return;
    }
    o.assert_ok();
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines, ["0:0", "write-ok"], "{}", o.describe());
    let made = std::fs::metadata(volume.join("from-container")).unwrap();
    assert_eq!(
        (made.uid(), made.gid()),
        (0, 0),
        "written through the id-mapped mount, the file belongs to host root"
    );
}

#[test]
fn without_idmap_the_same_mount_is_foreign() {
    require_root!();
    let env = TestEnv::new("idmap_plain");
    let volume = host_volume(&env);
    let script =
        "stat -c '%u' /data/from-host; echo x > /data/nope 2>/dev/null || echo write-refused";
    let mut cfg = userns_config(&env, &["sh", "-c", script]);
    cfg["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/data", "type": "bind", "source": volume, "options": ["bind"]
    }));
    let o = run_with_data_dir(&env, &cfg);
    o.assert_ok();
    assert_eq!(
        o.stdout.lines().collect::<Vec<_>>(),
        ["65534", "write-refused"],
        "{}",
        o.describe()
    );
}

#[test]
fn idmapped_mount_needs_both_maps_and_a_bind() {
    require_root!();
    let env = TestEnv::new("idmap_bad");
    let volume = host_volume(&env);
    let map = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    let mut cfg = userns_config(&env, &["true"]);
    cfg["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/data", "type": "bind", "source": volume,
        "options": ["bind", "idmap"], "uidMappings": map
    }));
    let o = env.run_config(&cfg);
    o.assert_fail();
    assert_stderr_names(&o, &["mounts[6]", "gidMappings"]);

    let mut cfg = userns_config(&env, &["true"]);
    cfg["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/data", "type": "tmpfs", "source": "tmpfs",
        "options": ["idmap"], "uidMappings": map, "gidMappings": map
    }));
    let o = env.run_config(&cfg);
    o.assert_fail();
    assert_stderr_names(&o, &["mounts[6]", "bind"]);
    assert!(env.root_entries().is_empty(), "state left behind");
}

#[test]
fn idmapped_rootfs_belongs_to_the_containers_root() {
    require_root!();
    let env = TestEnv::new("idmap_root");
    let script = "stat -c '%u:%g' /bin/busybox; touch /made-by-container && echo root-writable";
    let mut cfg = userns_config(&env, &["sh", "-c", script]);
    let map = json!([{"containerID": MAP[0], "hostID": MAP[1], "size": MAP[2]}]);
    // A bind of the rootfs at "/" with a mapping: berth mounts the root itself id-mapped.
    cfg["mounts"].as_array_mut().unwrap().insert(
        0,
        json!({
            "destination": "/", "type": "bind", "source": "rootfs",
            "options": ["rbind", "ridmap"], "uidMappings": map, "gidMappings": map
        }),
    );
    let b = env.bundle(&cfg);
    let id = env.id("idmap-root");
    let o = env.run(&b, &id);
    if unsupported_here(&o) {
        return;
    }
    o.assert_ok();
    assert_eq!(
        o.stdout.lines().collect::<Vec<_>>(),
        ["0:0", "root-writable"],
        "{}",
        o.describe()
    );
    let made = std::fs::metadata(b.join("rootfs/made-by-container")).unwrap();
    assert_eq!((made.uid(), made.gid()), (0, 0));
}
