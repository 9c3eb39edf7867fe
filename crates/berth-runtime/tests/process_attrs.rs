//! Process attributes, asserted from inside the container: personality, I/O priority, scheduler,
//! security labels refused where no LSM is active, masked and read-only paths.

mod common;

use common::*;
use serde_json::{Value, json};
use std::os::unix::fs::symlink;
use std::path::Path;

/// Fields of /proc/PID/stat after the command name, numbered as in proc(5) (state is 3).
fn stat_field(stat: &str, number: usize) -> String {
    let (_, rest) = stat.rsplit_once(')').expect("stat has a command name");
    rest.split_whitespace()
        .nth(number - 3)
        .unwrap_or_else(|| panic!("no field {number} in {stat}"))
        .to_string()
}

/// `create` of `cfg` fails naming `field` and leaves nothing.
#[track_caller]
fn expect_refused(env: &TestEnv, cfg: &Value, field: &str) {
    let bundle = env.bundle(cfg);
    let id = env.id("refused");
    let o = env.create(&bundle, &id);
    o.assert_fail();
    assert_stderr_names(&o, &[field]);
    env.assert_nothing_left(&id, &bundle);
}

#[test]
fn linux32_personality_reports_i686() {
    require_root!();
    if is_reference_runtime() {
        return; // runc 1.1 predates linux.personality (runc 1.2)
    }
    let env = TestEnv::new("attr_personality");
    let mut cfg = env.config(&["uname", "-m"]);
    cfg["linux"]["personality"] = json!({"domain": "LINUX32"});
    let o = env.run_config(&cfg);
    o.assert_ok();
    assert_eq!(o.stdout.trim(), "i686", "{}", o.describe());
    let mut cfg = env.config(&["uname", "-m"]);
    cfg["linux"]["personality"] = json!({"domain": "LINUX"});
    let o = env.run_config(&cfg);
    o.assert_ok();
    assert_eq!(o.stdout.trim(), std::env::consts::ARCH, "{}", o.describe());
}

#[test]
fn unknown_personality_flag_is_refused() {
    require_root!();
    if is_reference_runtime() {
        return; // runc 1.1 predates linux.personality (runc 1.2)
    }
    let env = TestEnv::new("attr_personality_flag");
    let mut cfg = env.config(&["true"]);
    cfg["linux"]["personality"] = json!({"domain": "LINUX", "flags": ["NO_SUCH_FLAG"]});
    expect_refused(&env, &cfg, "linux.personality.flags[0]");
}

/// `ionice -p $$` inside a container with the given ioPriority (busybox has the applet).
fn ionice_output(env: &TestEnv, io_priority: Value) -> String {
    let mut cfg = env.config(&["sh", "-c", "ionice -p $$"]);
    cfg["process"]["ioPriority"] = io_priority;
    let bundle = env.bundle(&cfg);
    symlink("busybox", bundle.join("rootfs/bin/ionice")).unwrap();
    let id = env.id("io");
    let o = env.run(&bundle, &id);
    o.assert_ok();
    o.stdout.trim().to_string()
}

#[test]
fn io_priority_is_applied() {
    require_root!();
    if is_reference_runtime() {
        return; // runc 1.1 predates process.ioPriority (runc 1.2)
    }
    let env = TestEnv::new("attr_ioprio");
    assert_eq!(
        ionice_output(&env, json!({"class": "IOPRIO_CLASS_BE", "priority": 6})),
        "best-effort: prio 6"
    );
    assert_eq!(
        ionice_output(&env, json!({"class": "IOPRIO_CLASS_RT", "priority": 2})),
        "realtime: prio 2"
    );
    assert!(
        ionice_output(&env, json!({"class": "IOPRIO_CLASS_IDLE", "priority": 0}))
            .starts_with("idle"),
    );
}

#[test]
fn io_priority_out_of_range_is_refused() {
    require_root!();
    if is_reference_runtime() {
        return; // runc 1.1 predates process.ioPriority (runc 1.2)
    }
    let env = TestEnv::new("attr_ioprio_bad");
    let mut cfg = env.config(&["true"]);
    cfg["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_BE", "priority": 8});
    expect_refused(&env, &cfg, "process.ioPriority.priority");
}

/// /proc/self/stat of a process in a container with the given scheduler.
fn stat_under(env: &TestEnv, scheduler: Value) -> Out {
    let mut cfg = env.config(&["cat", "/proc/self/stat"]);
    cfg["process"]["scheduler"] = scheduler;
    env.run_config(&cfg)
}

#[test]
fn scheduler_policy_and_nice_are_applied() {
    require_root!();
    if is_reference_runtime() {
        return; // runc 1.1 predates process.scheduler (runc 1.2)
    }
    let env = TestEnv::new("attr_sched");
    let o = stat_under(&env, json!({"policy": "SCHED_BATCH", "nice": 7}));
    o.assert_ok();
    // proc(5): 19 nice, 41 policy (SCHED_BATCH is 3).
    assert_eq!(stat_field(&o.stdout, 19), "7", "{}", o.stdout);
    assert_eq!(stat_field(&o.stdout, 41), "3", "{}", o.stdout);
    let o = stat_under(&env, json!({"policy": "SCHED_IDLE"}));
    o.assert_ok();
    assert_eq!(stat_field(&o.stdout, 41), "5", "{}", o.stdout);
}

#[test]
fn invalid_scheduler_combinations_are_refused() {
    require_root!();
    if is_reference_runtime() {
        return; // runc 1.1 predates process.scheduler (runc 1.2)
    }
    let env = TestEnv::new("attr_sched_bad");
    for (scheduler, field) in [
        (
            json!({"policy": "SCHED_OTHER", "priority": 5}),
            "process.scheduler.priority",
        ),
        (
            json!({"policy": "SCHED_FIFO"}),
            "process.scheduler.priority",
        ),
        (
            json!({"policy": "SCHED_OTHER", "nice": 25}),
            "process.scheduler.nice",
        ),
        (
            json!({"policy": "SCHED_BATCH", "runtime": 1000000}),
            "process.scheduler.runtime",
        ),
    ] {
        let mut cfg = env.config(&["true"]);
        cfg["process"]["scheduler"] = scheduler;
        expect_refused(&env, &cfg, field);
    }
}

#[test]
fn scheduler_the_kernel_refuses_fails_create_naming_the_field() {
    require_root!();
    if is_reference_runtime() {
        return; // runc 1.1 predates process.scheduler (runc 1.2)
    }
    let env = TestEnv::new("attr_sched_kernel");
    let mut cfg = env.config(&["true"]);
    // A runtime longer than its deadline: sched_setattr says EINVAL.
    cfg["process"]["scheduler"] = json!({
        "policy": "SCHED_DEADLINE", "runtime": 2000000, "deadline": 1000000, "period": 1000000
    });
    expect_refused(&env, &cfg, "process.scheduler");
}

#[test]
fn security_labels_are_refused_without_their_lsm() {
    require_root!();
    let env = TestEnv::new("attr_lsm");
    let apparmor = std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|v| v.starts_with('Y'));
    let selinux = Path::new("/sys/fs/selinux/enforce").exists();
    if !apparmor && !is_reference_runtime() {
        // runc ignores an AppArmor profile on a host without AppArmor.
        let mut cfg = env.config(&["true"]);
        cfg["process"]["apparmorProfile"] = json!("berth-test-profile");
        expect_refused(&env, &cfg, "process.apparmorProfile");
    }
    if !selinux {
        let mut cfg = env.config(&["true"]);
        cfg["process"]["selinuxLabel"] = json!("system_u:system_r:container_t:s0");
        expect_refused(&env, &cfg, "process.selinuxLabel");
        if !is_reference_runtime() {
            let mut cfg = env.config(&["true"]);
            cfg["linux"]["mountLabel"] = json!("system_u:object_r:container_file_t:s0");
            expect_refused(&env, &cfg, "linux.mountLabel");
        }
    }
}

#[test]
fn masked_and_readonly_paths_from_inside() {
    require_root!();
    let env = TestEnv::new("attr_masked");
    let script = "cat /etc/secret | wc -c; ls -A /secrets | wc -l; \
                  touch /data/new 2>&1; echo written > /secrets/x 2>&1; \
                  echo more >> /etc/secret 2>&1; echo done";
    let mut cfg = env.config(&["sh", "-c", script]);
    cfg["linux"]["maskedPaths"] = json!(["/etc/secret", "/secrets"]);
    cfg["linux"]["readonlyPaths"] = json!(["/data"]);
    let bundle = env.bundle(&cfg);
    let rootfs = bundle.join("rootfs");
    std::fs::write(rootfs.join("etc/secret"), "top secret\n").unwrap();
    std::fs::create_dir_all(rootfs.join("secrets")).unwrap();
    std::fs::write(rootfs.join("secrets/key"), "key\n").unwrap();
    std::fs::create_dir_all(rootfs.join("data")).unwrap();
    let id = env.id("masked");
    let o = env.run(&bundle, &id);
    o.assert_ok();
    let lines: Vec<&str> = o.stdout.lines().map(str::trim).collect();
    assert_eq!(
        lines.first(),
        Some(&"0"),
        "a masked file reads empty: {}",
        o.describe()
    );
    assert_eq!(
        lines.get(1),
        Some(&"0"),
        "a masked dir lists empty: {}",
        o.describe()
    );
    assert!(
        o.stdout.contains("touch: /data/new: Read-only file system"),
        "a read-only path refuses writes with EROFS: {}",
        o.describe()
    );
    assert!(
        o.stdout.contains("Read-only file system") && o.stdout.contains("done"),
        "{}",
        o.describe()
    );
    assert!(!rootfs.join("data/new").exists());
    assert!(
        !rootfs.join("secrets/x").exists(),
        "a masked dir took a write"
    );
    assert_eq!(
        std::fs::read_to_string(rootfs.join("etc/secret")).unwrap(),
        "top secret\n"
    );
}
