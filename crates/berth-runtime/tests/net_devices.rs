//! `linux.netDevices` (runtime-spec 1.3): a device of the runtime's network namespace moved into
//! the container's at create, renamed, with its permanent global addresses, and up; never moved
//! out again by the runtime (the spec: "MUST NOT attempt to move the interface out of the
//! namespace before deletion"); moved back only when the create fails.
//!
//! Real host interfaces are never touched: each test makes its own network namespace
//! (`ip netns add berth-test-...`, removed by a guard even when the test fails), makes a virtual
//! device in it (dummy, or ifb where the kernel has no dummy driver) and runs the runtime inside it
//! with `nsenter --net` (not `ip netns exec`, which remounts /sys and so hides the cgroup
//! hierarchies). Addresses come from 198.18.0.0/15.
//!
//! runc 1.1 predates spec 1.3 (it ignores netDevices): these tests are berth-only, marked with
//! `is_reference_runtime()`.

mod common;

use common::*;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// A network namespace made for one test, deleted when dropped.
struct Netns {
    name: String,
}

impl Netns {
    fn new() -> Netns {
        let name = format!("berth-test-nd-{}", unique());
        let o = Command::new("ip")
            .args(["netns", "add", &name])
            .output()
            .expect("run ip netns add");
        assert!(
            o.status.success(),
            "ip netns add {name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        Netns { name }
    }

    fn path(&self) -> PathBuf {
        PathBuf::from("/run/netns").join(&self.name)
    }

    /// `ip -n NAME ARGS...`: (success, stdout + stderr).
    fn ip(&self, args: &[&str]) -> (bool, String) {
        let o = Command::new("ip")
            .arg("-n")
            .arg(&self.name)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run ip");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        (o.status.success(), text)
    }

    #[track_caller]
    fn ip_ok(&self, args: &[&str]) -> String {
        let (ok, text) = self.ip(args);
        assert!(ok, "ip -n {} {args:?}: {text}", self.name);
        text
    }

    /// A virtual device `name` here, with `address` and up (or down).
    #[track_caller]
    fn add_device(&self, name: &str, address: &str, up: bool) {
        let made = ["dummy", "ifb"]
            .iter()
            .any(|kind| self.ip(&["link", "add", name, "type", kind]).0);
        assert!(made, "could not make a dummy or ifb device {name}");
        self.ip_ok(&["addr", "add", address, "dev", name]);
        if up {
            self.ip_ok(&["link", "set", name, "up"]);
        }
    }

    /// `ip -o addr show dev NAME`, or None when there is no such device.
    fn device(&self, name: &str) -> Option<String> {
        let (ok, text) = self.ip(&["-o", "addr", "show", "dev", name]);
        ok.then_some(text)
    }

    fn is_up(&self, name: &str) -> bool {
        let (_, text) = self.ip(&["-o", "link", "show", "dev", name]);
        // "2: bt-nd0: <BROADCAST,NOARP,UP,LOWER_UP> ..."
        text.split_once('<')
            .and_then(|(_, r)| r.split_once('>'))
            .is_some_and(|(flags, _)| flags.split(',').any(|f| f == "UP"))
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// The runtime with `args`, its network namespace that of `ns` (the devices' home).
fn rt_in(env: &TestEnv, ns: &Netns, args: &[&str]) -> Out {
    let mut c = Command::new("nsenter");
    c.arg(format!("--net={}", ns.path().display()))
        .arg(runtime_bin())
        .args(extra_global_args())
        .arg("--root")
        .arg(&env.root)
        .args(args)
        .env("BERTH_TEST_TAG", &env.tag);
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    env.rt_cmd(c, args, cmd_timeout())
}

fn config_with(env: &TestEnv, args: &[&str], devices: Value) -> Value {
    let mut cfg = env.config(args);
    cfg["linux"]["netDevices"] = devices;
    cfg
}

#[track_caller]
fn assert_home(ns: &Netns, name: &str, address: &str) {
    let addr = ns.device(name);
    assert!(
        addr.as_deref().is_some_and(|a| a.contains(address)),
        "{name} is not back in its namespace with {address}: {addr:?}"
    );
}

#[test]
fn device_moves_in_renamed_with_its_address_and_up() {
    require_root!();
    if is_reference_runtime() {
        return; // spec 1.3: runc 1.1 ignores linux.netDevices
    }
    let ns = Netns::new();
    let env = TestEnv::new("netdev_move");
    ns.add_device("bt-nd0", "198.18.0.1/24", false);
    // Read from inside, without ip: sysfs (mounted in the container's namespace) and fib_trie.
    let script =
        "ls /sys/class/net; cat /sys/class/net/ctr0/flags; grep -c 198.18.0.1 /proc/net/fib_trie";
    let cfg = config_with(
        &env,
        &["sh", "-c", script],
        json!({"bt-nd0": {"name": "ctr0"}}),
    );
    let bundle = env.bundle(&cfg);
    let id = env.id("c");
    let o = rt_in(&env, &ns, &["run", "-b", bundle.to_str().unwrap(), &id]);
    o.assert_ok();
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert!(lines.contains(&"ctr0"), "no ctr0 inside: {}", o.describe());
    assert!(!lines.contains(&"bt-nd0"), "{}", o.describe());
    let flags = lines
        .iter()
        .find_map(|l| l.strip_prefix("0x"))
        .and_then(|hex| u32::from_str_radix(hex, 16).ok())
        .unwrap_or_else(|| panic!("no flags line: {}", o.describe()));
    assert!(flags & 1 != 0, "ctr0 is not up inside: {}", o.describe());
    let count: u32 = lines.last().and_then(|l| l.parse().ok()).unwrap_or(0);
    assert!(
        count > 0,
        "198.18.0.1 is not on ctr0 inside: {}",
        o.describe()
    );
    // Not moved back at delete (a virtual device goes with the container's namespace).
    assert!(
        ns.device("bt-nd0").is_none() && ns.device("ctr0").is_none(),
        "the device came back: {}",
        ns.ip_ok(&["-o", "link"])
    );
    env.assert_nothing_left(&id, &bundle);
}

#[test]
fn device_stays_in_a_joined_namespace_after_delete() {
    require_root!();
    if is_reference_runtime() {
        return; // spec 1.3: runc 1.1 ignores linux.netDevices
    }
    let home = Netns::new();
    let theirs = Netns::new();
    let env = TestEnv::new("netdev_joined");
    home.add_device("bt-nd1", "198.18.1.1/24", true);
    // A "%d" template: the kernel picks the name.
    let mut cfg = config_with(
        &env,
        &["sleep", "1000"],
        json!({"bt-nd1": {"name": "eth%d"}}),
    );
    add_ns(&mut cfg, "network", Some(theirs.path().to_str().unwrap()));
    let bundle = env.bundle(&cfg);
    let id = env.id("c");
    rt_in(
        &env,
        &home,
        &["create", "-b", bundle.to_str().unwrap(), &id],
    )
    .assert_ok();
    assert!(
        home.device("bt-nd1").is_none(),
        "still in the runtime's namespace"
    );
    assert_home(&theirs, "eth0", "198.18.1.1/24");
    assert!(theirs.is_up("eth0"), "eth0 is not up");
    env.start(&id).assert_ok();
    env.delete_force(&id).assert_ok();
    // The namespace's owner keeps it: the runtime does not move it out.
    assert_home(&theirs, "eth0", "198.18.1.1/24");
    assert!(home.device("bt-nd1").is_none(), "moved back at delete");
    env.assert_nothing_left(&id, &bundle);
}

/// A container with its own user namespace: the namespaces' owner is the container's user, the
/// runtime (host root) still moves the device in.
#[test]
fn device_moves_into_a_user_namespaced_container() {
    require_root!();
    if is_reference_runtime() {
        return; // spec 1.3: runc 1.1 ignores linux.netDevices
    }
    let ns = Netns::new();
    let env = TestEnv::new("netdev_userns");
    ns.add_device("bt-nd4", "198.18.4.1/24", true);
    let mut cfg = config_with(
        &env,
        &[
            "sh",
            "-c",
            "ls /sys/class/net; grep -c 198.18.4.1 /proc/net/fib_trie",
        ],
        json!({"bt-nd4": {"name": "ctr0"}}),
    );
    add_ns(&mut cfg, "user", None);
    cfg["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    cfg["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    let bundle = env.bundle(&cfg);
    let id = env.id("c");
    let o = rt_in(&env, &ns, &["run", "-b", bundle.to_str().unwrap(), &id]);
    o.assert_ok();
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert!(lines.contains(&"ctr0"), "no ctr0 inside: {}", o.describe());
    let count: u32 = lines.last().and_then(|l| l.parse().ok()).unwrap_or(0);
    assert!(
        count > 0,
        "198.18.4.1 is not on ctr0 inside: {}",
        o.describe()
    );
    env.assert_nothing_left(&id, &bundle);
}

#[test]
fn failed_create_moves_the_device_back() {
    require_root!();
    if is_reference_runtime() {
        return; // spec 1.3: runc 1.1 ignores linux.netDevices
    }
    let ns = Netns::new();
    let env = TestEnv::new("netdev_undo");
    ns.add_device("bt-nd2", "198.18.2.1/24", true);
    // Fails in the init after the move: the program does not exist.
    let cfg = config_with(
        &env,
        &["/no/such/program"],
        json!({"bt-nd2": {"name": "ctr0"}}),
    );
    let bundle = env.bundle(&cfg);
    let id = env.id("c");
    let o = rt_in(&env, &ns, &["create", "-b", bundle.to_str().unwrap(), &id]);
    o.assert_fail();
    assert_stderr_names(&o, &["process.args"]);
    assert_home(&ns, "bt-nd2", "198.18.2.1/24");
    assert!(ns.is_up("bt-nd2"), "bt-nd2 is no longer up");
    env.assert_nothing_left(&id, &bundle);
}

#[test]
fn bad_net_devices_are_refused_and_nothing_moves() {
    require_root!();
    if is_reference_runtime() {
        return; // spec 1.3: runc 1.1 ignores linux.netDevices
    }
    let ns = Netns::new();
    let env = TestEnv::new("netdev_bad");
    ns.add_device("bt-nd3", "198.18.3.1/24", true);
    let mut no_netns = config_with(&env, &["true"], json!({"bt-nd3": {}}));
    remove_ns(&mut no_netns, "network");
    let mut own_netns = config_with(&env, &["true"], json!({"bt-nd3": {}}));
    add_ns(&mut own_netns, "network", Some(ns.path().to_str().unwrap()));
    for (cfg, field, says) in [
        (no_netns, "linux.netDevices", "network namespace"),
        (own_netns, "linux.netDevices", "own network namespace"),
        (
            config_with(&env, &["true"], json!({"bt-nothere": {}})),
            "linux.netDevices.bt-nothere",
            "no network device",
        ),
        (
            config_with(&env, &["true"], json!({"bt-nd3": {"name": "a/b"}})),
            "linux.netDevices.bt-nd3.name",
            "a/b",
        ),
        (
            config_with(
                &env,
                &["true"],
                json!({"bt-nd3": {"name": "name-of-16-bytes"}}),
            ),
            "linux.netDevices.bt-nd3.name",
            "15 bytes",
        ),
        (
            config_with(&env, &["true"], json!({"bt-nd3": {"name": "lo"}})),
            "linux.netDevices.bt-nd3",
            "already has a device",
        ),
    ] {
        let bundle = env.bundle(&cfg);
        let id = env.id("bad");
        let o = rt_in(&env, &ns, &["create", "-b", bundle.to_str().unwrap(), &id]);
        o.assert_fail();
        assert_stderr_names(&o, &[field]);
        assert!(o.stderr.contains(says), "{field}: {}", o.describe());
        env.assert_nothing_left(&id, &bundle);
        assert_home(&ns, "bt-nd3", "198.18.3.1/24");
        assert!(ns.is_up("bt-nd3"), "bt-nd3 is no longer up");
    }
}
