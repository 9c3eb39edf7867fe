//! Runtime-spec 1.3 settings, asserted from inside the container: `linux.memoryPolicy` (as
//! /proc/self/numa_maps shows it), `process.execCPUAffinity` (Cpus_allowed_list of exec'd
//! processes), `linux.intelRdt` refused without resctrl, and what `features` and `state` report.
//!
//! runc 1.1 predates spec 1.3 (it ignores these fields): the tests of the fields themselves are
//! berth-only, marked with `is_reference_runtime()`.

mod common;

use common::cgroupfs::*;
use common::*;
use serde_json::{Value, json};
use std::fs;

/// `create` of `cfg` fails naming `field` and leaves nothing.
#[track_caller]
fn expect_refused(env: &TestEnv, cfg: &Value, field: &str) -> Out {
    let bundle = env.bundle(cfg);
    let id = env.id("refused");
    let o = env.create(&bundle, &id);
    o.assert_fail();
    assert_stderr_names(&o, &[field]);
    env.assert_nothing_left(&id, &bundle);
    o
}

/// The policy column of every line of a numa_maps (what follows the address).
fn policies(numa_maps: &str) -> Vec<String> {
    numa_maps
        .lines()
        .filter_map(|l| l.split_once(' ').map(|(_, rest)| rest.to_string()))
        .collect()
}

#[track_caller]
fn assert_policy(numa_maps: &str, want: &str, what: &str) {
    let all = policies(numa_maps);
    assert!(!all.is_empty(), "{what}: empty numa_maps");
    for line in &all {
        // "bind:0 file=/bin/busybox ...": the policy, then the mapping's other fields.
        let policy = line
            .strip_prefix(want)
            .filter(|rest| rest.is_empty() || rest.starts_with(' '));
        assert!(
            policy.is_some(),
            "{what}: a mapping without policy {want:?}: {line:?}\n{numa_maps}"
        );
    }
}

fn kernel_at_least(major: u32, minor: u32) -> bool {
    let release = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut parts = release
        .trim()
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|p| p.parse::<u32>().ok());
    let (have_major, have_minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (have_major, have_minor) >= (major, minor)
}

// ---------------------------------------------------------------------------
// linux.memoryPolicy

#[test]
fn memory_policy_is_set_for_the_process_and_exec() {
    require_root!();
    if is_reference_runtime() {
        return; // spec 1.3: runc 1.1 ignores linux.memoryPolicy
    }
    let env = TestEnv::new("spec13_mempolicy");
    // This host and the test VM have one NUMA node, 0.
    for (policy, want) in [
        (json!({"mode": "MPOL_BIND", "nodes": "0"}), "bind:0"),
        (
            json!({"mode": "MPOL_INTERLEAVE", "nodes": "0"}),
            "interleave:0",
        ),
        (json!({"mode": "MPOL_PREFERRED", "nodes": "0"}), "prefer:0"),
        (
            json!({"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES"]}),
            "bind=static:0",
        ),
        (json!({"mode": "MPOL_LOCAL"}), "local"),
    ] {
        let mut cfg = env.config(&["cat", "/proc/self/numa_maps"]);
        cfg["linux"]["memoryPolicy"] = policy.clone();
        let o = env.run_config(&cfg);
        o.assert_ok();
        assert_policy(&o.stdout, want, &policy.to_string());
    }

    // An exec'd process gets the container's policy too (as runc 1.3 applies it).
    let mut cfg = env.config(&["sleep", "1000"]);
    cfg["linux"]["memoryPolicy"] = json!({"mode": "MPOL_INTERLEAVE", "nodes": "0"});
    let (id, _, _) = env.start_container(&cfg);
    let o = env.rt(["exec", &id, "cat", "/proc/self/numa_maps"]);
    o.assert_ok();
    assert_policy(&o.stdout, "interleave:0", "exec'd process");
}

#[test]
fn weighted_interleave_needs_linux_6_9() {
    require_root!();
    if is_reference_runtime() {
        return; // spec 1.3: runc 1.1 ignores linux.memoryPolicy
    }
    let env = TestEnv::new("spec13_mpol_weighted");
    let mut cfg = env.config(&["cat", "/proc/self/numa_maps"]);
    cfg["linux"]["memoryPolicy"] = json!({"mode": "MPOL_WEIGHTED_INTERLEAVE", "nodes": "0"});
    if kernel_at_least(6, 9) {
        let o = env.run_config(&cfg);
        o.assert_ok();
        assert_policy(
            &o.stdout,
            "weighted interleave:0",
            "MPOL_WEIGHTED_INTERLEAVE",
        );
    } else {
        let o = expect_refused(&env, &cfg, "linux.memoryPolicy");
        assert!(o.stderr.contains("6.9"), "{}", o.describe());
    }
}

#[test]
fn bad_memory_policy_is_refused() {
    require_root!();
    if is_reference_runtime() {
        return; // spec 1.3: runc 1.1 ignores linux.memoryPolicy
    }
    let env = TestEnv::new("spec13_mpol_bad");
    for (policy, field, says) in [
        (
            json!({"mode": "MPOL_NOPE"}),
            "linux.memoryPolicy.mode",
            "MPOL_NOPE",
        ),
        (
            json!({"mode": "MPOL_BIND"}),
            "linux.memoryPolicy.nodes",
            "at least one node",
        ),
        (
            json!({"mode": "MPOL_BIND", "nodes": "0-x"}),
            "linux.memoryPolicy.nodes",
            "0-x",
        ),
        (
            json!({"mode": "MPOL_BIND", "nodes": "3-1"}),
            "linux.memoryPolicy.nodes",
            "reversed",
        ),
        (
            json!({"mode": "MPOL_BIND", "nodes": "4095"}),
            "linux.memoryPolicy.nodes",
            "4095",
        ),
        (
            json!({"mode": "MPOL_DEFAULT", "nodes": "0"}),
            "linux.memoryPolicy.nodes",
            "no nodes",
        ),
        (
            json!({"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES", "MPOL_F_RELATIVE_NODES"]}),
            "linux.memoryPolicy.flags",
            "exclude",
        ),
        (
            json!({"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_NOPE"]}),
            "linux.memoryPolicy.flags",
            "MPOL_F_NOPE",
        ),
    ] {
        let mut cfg = env.config(&["true"]);
        cfg["linux"]["memoryPolicy"] = policy.clone();
        let o = expect_refused(&env, &cfg, field);
        assert!(o.stderr.contains(says), "{policy}: {}", o.describe());
    }
}

// ---------------------------------------------------------------------------
// process.execCPUAffinity

fn cpus_allowed(status: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn two_cpus() -> bool {
    let online = fs::read_to_string("/sys/devices/system/cpu/online").unwrap_or_default();
    let ours = cpus_allowed(&fs::read_to_string("/proc/self/status").unwrap_or_default());
    online.trim() == "0-1" && ours == "0-1"
}

/// `exec` of `grep Cpus_allowed_list /proc/self/status`, optionally from a --process file.
fn exec_cpus(env: &TestEnv, id: &str, process: Option<Value>) -> Out {
    let args = ["grep", "Cpus_allowed_list", "/proc/self/status"];
    match process {
        None => {
            let mut all = vec!["exec", id];
            all.extend(args);
            env.rt(all)
        }
        Some(mut process) => {
            process["args"] = json!(args);
            let file = env.base.join(format!("process-{}.json", unique()));
            fs::write(&file, process.to_string()).unwrap();
            env.rt(["exec", "--process", file.to_str().unwrap(), id])
        }
    }
}

#[test]
fn exec_cpu_affinity_is_for_exec_not_the_init() {
    require_root!();
    if is_reference_runtime() {
        return; // spec 1.3: runc 1.1 ignores process.execCPUAffinity
    }
    if !two_cpus() {
        eprintln!("SKIP: needs CPUs 0-1 online and allowed");
        return;
    }
    let env = TestEnv::new("spec13_affinity");
    let mut cfg = env.config(&["sleep", "1000"]);
    cfg["process"]["execCPUAffinity"] = json!({"initial": "0", "final": "1"});
    let (id, _, _) = env.start_container(&cfg);
    // "This setting is not applicable to the container's init process."
    let init = env.state_pid(&id);
    let status = fs::read_to_string(format!("/proc/{init}/status")).unwrap();
    assert_eq!(cpus_allowed(&status), "0-1", "the init's affinity changed");

    let o = exec_cpus(&env, &id, None);
    o.assert_ok();
    assert_eq!(cpus_allowed(&o.stdout), "1", "{}", o.describe());

    // A process.json with its own affinity; one without takes the container's (as runc).
    let mut process = cfg["process"].clone();
    process["execCPUAffinity"] = json!({"final": "0"});
    let o = exec_cpus(&env, &id, Some(process.clone()));
    o.assert_ok();
    assert_eq!(cpus_allowed(&o.stdout), "0", "{}", o.describe());
    process.as_object_mut().unwrap().remove("execCPUAffinity");
    let o = exec_cpus(&env, &id, Some(process));
    o.assert_ok();
    assert_eq!(cpus_allowed(&o.stdout), "1", "{}", o.describe());
}

/// `initial` applies before the process joins the container's cgroup, `final` after: with a cpuset
/// of CPU 1 only, an initial CPU 0 works (it would be refused inside the cpuset), a final CPU 0 is
/// refused.
#[test]
fn exec_cpu_affinity_initial_before_the_cgroup_final_in_it() {
    require_root!();
    if is_reference_runtime() {
        return; // spec 1.3: runc 1.1 ignores process.execCPUAffinity
    }
    if !two_cpus() {
        eprintln!("SKIP: needs CPUs 0-1 online and allowed");
        return;
    }
    let env = TestEnv::new("spec13_affinity_cg");
    let (mut cfg, _rel) = cg_config(
        &env,
        &["sleep", "1000"],
        "aff",
        json!({"cpu": {"cpus": "1"}}),
    );
    cfg["process"]["execCPUAffinity"] = json!({"initial": "0", "final": "1"});
    let (id, _, _) = env.start_container(&cfg);
    let o = exec_cpus(&env, &id, None);
    o.assert_ok();
    assert_eq!(cpus_allowed(&o.stdout), "1", "{}", o.describe());

    let mut process = cfg["process"].clone();
    process["execCPUAffinity"] = json!({"initial": "0", "final": "0"});
    let o = exec_cpus(&env, &id, Some(process));
    o.assert_fail();
    assert_stderr_names(&o, &["process.execCPUAffinity.final"]);
    assert_eq!(env.state_status(&id), "running");
}

#[test]
fn bad_exec_cpu_affinity_is_refused() {
    require_root!();
    if is_reference_runtime() {
        return; // spec 1.3: runc 1.1 ignores process.execCPUAffinity
    }
    let env = TestEnv::new("spec13_affinity_bad");
    for (affinity, field, says) in [
        (
            json!({"initial": "0-4095"}),
            "process.execCPUAffinity.initial",
            "4095",
        ),
        (
            json!({"final": "1-0"}),
            "process.execCPUAffinity.final",
            "reversed",
        ),
        (
            json!({"final": "0,x"}),
            "process.execCPUAffinity.final",
            "0,x",
        ),
    ] {
        let mut cfg = env.config(&["true"]);
        cfg["process"]["execCPUAffinity"] = affinity.clone();
        let o = expect_refused(&env, &cfg, field);
        assert!(o.stderr.contains(says), "{affinity}: {}", o.describe());
    }
    // The same from an exec's process.json, into a running container that stays as it was.
    let cfg = env.config(&["sleep", "1000"]);
    let (id, _, _) = env.start_container(&cfg);
    let mut process = cfg["process"].clone();
    process["execCPUAffinity"] = json!({"final": "0-4095"});
    let o = exec_cpus(&env, &id, Some(process));
    o.assert_fail();
    assert_stderr_names(&o, &["execCPUAffinity.final"]);
    assert_eq!(env.state_status(&id), "running");
}

// ---------------------------------------------------------------------------
// linux.intelRdt, features, state

fn resctrl_mounted() -> bool {
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .any(|l| {
            l.split_once(" - ")
                .is_some_and(|(_, r)| r.starts_with("resctrl "))
        })
}

#[test]
fn intel_rdt_without_resctrl_is_refused() {
    require_root!();
    if resctrl_mounted() {
        eprintln!("SKIP: a resctrl filesystem is mounted here");
        return;
    }
    let env = TestEnv::new("spec13_rdt");
    let mut cfg = env.config(&["true"]);
    cfg["linux"]["intelRdt"] = json!({"closID": "berth-test", "l3CacheSchema": "L3:0=f"});
    // runc refuses it too, with its own words.
    let o = expect_refused(&env, &cfg, "linux.intelRdt");
    if !is_reference_runtime() {
        assert!(o.stderr.contains("resctrl"), "{}", o.describe());
    }
}

#[test]
fn features_report_spec_1_3() {
    require_root!();
    if is_reference_runtime() {
        return; // spec 1.3: runc 1.1's features document predates these fields
    }
    let env = TestEnv::new("spec13_features");
    let o = env.rt(["features"]);
    o.assert_ok();
    let v: Value = serde_json::from_str(&o.stdout).expect("features is JSON");
    assert_eq!(v["ociVersionMax"], "1.3.0", "{v}");
    let linux = &v["linux"];
    let names = |value: &Value| -> Vec<String> {
        value
            .as_array()
            .unwrap_or_else(|| panic!("not a list: {value}"))
            .iter()
            .filter_map(|s| s.as_str().map(String::from))
            .collect()
    };
    let mut modes = names(&linux["memoryPolicy"]["modes"]);
    modes.sort();
    assert_eq!(
        modes,
        [
            "MPOL_BIND",
            "MPOL_DEFAULT",
            "MPOL_INTERLEAVE",
            "MPOL_LOCAL",
            "MPOL_PREFERRED",
            "MPOL_PREFERRED_MANY",
            "MPOL_WEIGHTED_INTERLEAVE"
        ]
    );
    let mut flags = names(&linux["memoryPolicy"]["flags"]);
    flags.sort();
    assert_eq!(
        flags,
        [
            "MPOL_F_NUMA_BALANCING",
            "MPOL_F_RELATIVE_NODES",
            "MPOL_F_STATIC_NODES"
        ]
    );
    assert_eq!(linux["netDevices"]["enabled"], true, "{v}");
    // berth manages no resctrl groups; the features schema has no execCPUAffinity entry.
    assert_eq!(linux["intelRdt"]["enabled"], false, "{v}");
    assert!(!o.stdout.contains("ffinity"), "{v}");
}

#[test]
fn state_reports_spec_1_3() {
    require_root!();
    if is_reference_runtime() {
        return; // runc reports the config's ociVersion
    }
    let env = TestEnv::new("spec13_state");
    let bundle = env.bundle(&env.config(&["sleep", "1000"]));
    let id = env.id("c");
    env.create(&bundle, &id).assert_ok();
    assert_eq!(env.state(&id)["ociVersion"], "1.3.0");
}
