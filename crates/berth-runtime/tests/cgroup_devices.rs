//! `linux.resources.devices`: after a deny-all rule only the default devices and the spec's own
//! `linux.devices` stay usable — v1 through devices.allow/deny, v2 through an eBPF program.

mod common;

use common::*;
use serde_json::json;

#[test]
fn denied_device_cannot_be_opened_even_when_created() {
    require_root!();
    let env = TestEnv::new("cg_devices");
    // CAP_MKNOD lets the container make a node the rules do not allow; opening it must still fail.
    let mut cfg = env.config(&[
        "sh",
        "-c",
        "echo ok > /dev/null && echo null-ok; mknod /tmp/kmsg c 1 11 && head -c 1 /tmp/kmsg; echo rc=$?",
    ]);
    let caps = json!([
        "CAP_AUDIT_WRITE",
        "CAP_KILL",
        "CAP_NET_BIND_SERVICE",
        "CAP_MKNOD",
        "CAP_SYSLOG"
    ]);
    for set in ["bounding", "effective", "permitted"] {
        cfg["process"]["capabilities"][set] = caps.clone();
    }
    cfg["root"]["readonly"] = json!(false);
    cfg["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}));
    cfg["linux"]["resources"] = json!({"devices": [{"allow": false, "access": "rwm"}]});
    let o = env.run_config(&cfg);
    assert!(
        o.stdout.contains("null-ok"),
        "default device not usable: {}",
        o.describe()
    );
    assert!(
        o.stdout.contains("rc=1"),
        "denied device was readable: {}",
        o.describe()
    );
    assert!(
        o.stderr.contains("Operation not permitted"),
        "{}",
        o.describe()
    );
}

#[test]
fn spec_devices_stay_allowed() {
    require_root!();
    let env = TestEnv::new("cg_devices_spec");
    let mut cfg = env.config(&["sh", "-c", "head -c 1 /dev/kmsg >/dev/null; echo rc=$?"]);
    cfg["linux"]["devices"] =
        json!([{"path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11, "fileMode": 0o644}]);
    cfg["linux"]["resources"] = json!({"devices": [{"allow": false, "access": "rwm"}]});
    let caps = json!([
        "CAP_AUDIT_WRITE",
        "CAP_KILL",
        "CAP_NET_BIND_SERVICE",
        "CAP_SYSLOG"
    ]);
    for set in ["bounding", "effective", "permitted"] {
        cfg["process"]["capabilities"][set] = caps.clone();
    }
    let o = env.run_config(&cfg);
    assert!(
        !o.stderr.contains("Operation not permitted"),
        "{}",
        o.describe()
    );
}

/// A long rule list (docker sends dozens) still loads: on v2 the program grows with the rules,
/// and the kernel's verifier must not be asked for a log that cannot hold its report.
#[test]
fn long_device_rule_lists_load() {
    require_root!();
    let env = TestEnv::new("cg_devices_long");
    let mut cfg = env.config(&["sh", "-c", "echo ok > /dev/null && echo null-ok"]);
    let mut rules = vec![json!({"allow": false, "access": "rwm"})];
    for minor in 0..200 {
        rules.push(
            json!({"allow": true, "type": "c", "major": 240, "minor": minor, "access": "rwm"}),
        );
    }
    rules.push(json!({"allow": false, "type": "c", "major": 241, "access": "rwm"}));
    cfg["linux"]["resources"] = json!({ "devices": rules });
    let o = env.run_config(&cfg);
    o.assert_ok();
    assert!(o.stdout.contains("null-ok"), "{}", o.describe());
}
