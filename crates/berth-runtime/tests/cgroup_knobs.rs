//! Cgroup resource knobs not covered by cgroups.rs: blockIO weight and
//! throttling, hugepageLimits, unified, memory.swappiness /
//! disableOOMKiller / checkBeforeUpdate / kernelTCP, cpu.idle / burst /
//! realtime, network.classID, the v1 devices list, and a knob the kernel
//! lacks.
//!
//! Each test creates a container with the knob set in `linux.resources` and
//! `linux.cgroupsPath` under the test's `berth-test-*` parent, then reads the
//! kernel file from the host. Works on a v1 / hybrid host and on a pure v2
//! host (detected at run time); a knob the layout cannot offer is either
//! expected to be refused by name (leaving nothing behind) or skipped with a
//! printed reason.

mod common;

use common::cgroupfs::*;
use common::*;
use serde_json::{Value, json};
use std::fs;
use std::path::{Path, PathBuf};

/// Mount point of the v1 hierarchy carrying `ctrl`, if mounted.
fn v1_mount(ctrl: &str) -> Option<PathBuf> {
    hierarchies()
        .into_iter()
        .find(|h| h.fstype == "cgroup" && h.controllers.iter().any(|c| c == ctrl))
        .map(|h| h.mnt)
}

/// Mount point of the cgroup2 hierarchy (pure v2: /sys/fs/cgroup; hybrid:
/// e.g. /sys/fs/cgroup/unified).
fn v2_mount() -> Option<PathBuf> {
    hierarchies()
        .into_iter()
        .find(|h| h.fstype == "cgroup2")
        .map(|h| h.mnt)
}

/// Directory of cgroup `rel` for v1 controller `ctrl`, or in the unified
/// hierarchy on a pure v2 host.
fn cg_dir(ctrl: &str, rel: &str) -> PathBuf {
    if is_v2() {
        return Path::new("/sys/fs/cgroup").join(rel);
    }
    v1_mount(ctrl)
        .unwrap_or_else(|| panic!("no v1 hierarchy with controller {ctrl} mounted"))
        .join(rel)
}

/// Runtime `create` with a time limit scaled for the VM.
fn create_slow(env: &TestEnv, b: &Path, id: &str) -> Out {
    env.track(id);
    let mut c = env.command();
    let args: Vec<String> = vec![
        "create".into(),
        "-b".into(),
        b.display().to_string(),
        id.to_string(),
    ];
    c.args(&args);
    env.rt_cmd(c, args, scaled(10))
}

/// Create a container for `cfg`; returns (id, output).
fn create_cfg(env: &TestEnv, cfg: &Value) -> (String, Out) {
    let b = env.bundle(cfg);
    let id = env.id("k");
    let o = create_slow(env, &b, &id);
    (id, o)
}

/// Create must succeed; returns the id.
#[track_caller]
fn create_ok(env: &TestEnv, cfg: &Value) -> String {
    let (id, o) = create_cfg(env, cfg);
    o.assert_ok();
    id
}

/// After a refused create: no state dir, --root empty, no process, no cgroup.
#[track_caller]
fn assert_nothing_left(env: &TestEnv, id: &str, rel: &str) {
    assert!(!env.root.join(id).exists(), "state dir left for {id}");
    assert!(
        env.root_entries().is_empty(),
        "--root not empty: {:?}",
        env.root_entries()
    );
    let gone = wait_for(scaled(3), || env.tagged_pids().is_empty().then_some(()));
    assert!(gone.is_some(), "processes left: {:?}", env.tagged_pids());
    let left = wait_for(scaled(3), || cg_dirs_existing(rel).is_empty().then_some(()));
    assert!(
        left.is_some(),
        "cgroup dirs left: {:?}",
        cg_dirs_existing(rel)
    );
}

/// `create` of `cfg` fails, stderr names one of `words`, nothing is left.
#[track_caller]
fn expect_refused(env: &TestEnv, cfg: &Value, rel: &str, words: &[&str]) -> Out {
    let (id, o) = create_cfg(env, cfg);
    o.assert_fail();
    assert_stderr_names(&o, words);
    assert_nothing_left(env, &id, rel);
    o
}

/// A real (non-virtual) block disk's "major:minor", from /sys/block/*/dev.
fn real_disk() -> Option<String> {
    let mut names: Vec<String> = fs::read_dir("/sys/block")
        .ok()?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| {
            !n.starts_with("loop")
                && !n.starts_with("ram")
                && !n.starts_with("zram")
                && !n.starts_with("dm-")
                && !n.starts_with("md")
                && !n.starts_with("nbd")
        })
        .filter(|n| Path::new("/sys/block").join(n).join("device").exists())
        .collect();
    names.sort();
    let n = names.first()?;
    Some(
        fs::read_to_string(format!("/sys/block/{n}/dev"))
            .ok()?
            .trim()
            .to_string(),
    )
}

const SLEEP: &[&str] = &["sleep", "100"];

// ---------------------------------------------------------------------------
// blockIO

#[test]
fn blkio_weight_file() {
    require_root!();
    let env = TestEnv::new("knob_blkio_w");
    // Pre-create the parent (the fixture removes it) to see which weight
    // file a child of it offers on this kernel.
    let parent_dir = if is_v2() {
        PathBuf::from("/sys/fs/cgroup").join(env.cgroup_parent())
    } else {
        let Some(m) = v1_mount("blkio") else {
            eprintln!("SKIP: blkio controller not mounted");
            return;
        };
        m.join(env.cgroup_parent())
    };
    fs::create_dir_all(&parent_dir).unwrap();
    let files: &[&str] = if is_v2() {
        &["io.weight", "io.bfq.weight"]
    } else {
        &["blkio.weight", "blkio.bfq.weight"]
    };
    let Some(file) = files.iter().find(|f| parent_dir.join(f).exists()) else {
        eprintln!(
            "SKIP: no {files:?} in {} (no weight-capable IO scheduler)",
            parent_dir.display()
        );
        return;
    };
    let res = json!({"blockIO": {"weight": 500}});
    let (cfg, rel) = cg_config(&env, SLEEP, "blkw", res);
    let _id = create_ok(&env, &cfg);
    let got = cg_read("blkio", &rel, file);
    match *file {
        // 1 + (500-10)*9999/990 = 4950
        "io.weight" => assert!(got.lines().any(|l| l == "default 4950"), "{file}: {got:?}"),
        "io.bfq.weight" => assert!(got.lines().any(|l| l == "default 500"), "{file}: {got:?}"),
        _ => assert_eq!(got, "500", "{file}"),
    }
}

#[test]
fn blkio_throttle_read_bps_device() {
    require_root!();
    let env = TestEnv::new("knob_blkio_t");
    let Some(dev) = real_disk() else {
        eprintln!("SKIP: no real block disk under /sys/block");
        return;
    };
    if !is_v2() && v1_mount("blkio").is_none() {
        eprintln!("SKIP: blkio controller not mounted");
        return;
    }
    let (major, minor) = dev.split_once(':').unwrap();
    let (major, minor): (i64, i64) = (major.parse().unwrap(), minor.parse().unwrap());
    let res = json!({"blockIO": {"throttleReadBpsDevice": [
        {"major": major, "minor": minor, "rate": 1048576}
    ]}});
    let (cfg, rel) = cg_config(&env, SLEEP, "blkt", res);
    let _id = create_ok(&env, &cfg);
    if is_v2() {
        let got = cg_read("", &rel, "io.max");
        let line = got
            .lines()
            .find(|l| l.starts_with(&format!("{dev} ")))
            .unwrap_or_else(|| panic!("io.max has no {dev} line: {got:?}"));
        assert!(
            line.split_whitespace().any(|f| f == "rbps=1048576"),
            "io.max: {got:?}"
        );
    } else {
        let got = cg_read("blkio", &rel, "blkio.throttle.read_bps_device");
        assert!(
            got.lines().any(|l| l.trim() == format!("{dev} 1048576")),
            "blkio.throttle.read_bps_device: {got:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// hugepageLimits

#[test]
fn hugepage_limits_2mb() {
    require_root!();
    let env = TestEnv::new("knob_huge");
    if !Path::new("/sys/kernel/mm/hugepages/hugepages-2048kB").exists() {
        eprintln!("SKIP: no 2MB hugepages on this kernel");
        return;
    }
    let res = json!({"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]});
    let (cfg, rel) = cg_config(&env, SLEEP, "huge", res);
    if is_v2() {
        let ctrls = fs::read_to_string("/sys/fs/cgroup/cgroup.controllers").unwrap_or_default();
        if !ctrls.split_whitespace().any(|c| c == "hugetlb") {
            eprintln!("SKIP: hugetlb controller not available on this v2 host");
            return;
        }
        let _id = create_ok(&env, &cfg);
        assert_eq!(cg_read("", &rel, "hugetlb.2MB.max"), "4194304");
        return;
    }
    if let Some(m) = v1_mount("hugetlb") {
        let _id = create_ok(&env, &cfg);
        let got = fs::read_to_string(m.join(&rel).join("hugetlb.2MB.limit_in_bytes")).unwrap();
        assert_eq!(got.trim(), "4194304");
        return;
    }
    // Hybrid without a v1 hugetlb: usable only when the cgroup2 root
    // delegates hugetlb (berth never enables controllers there itself).
    let delegated = v2_mount()
        .and_then(|m| fs::read_to_string(m.join("cgroup.subtree_control")).ok())
        .is_some_and(|s| s.split_whitespace().any(|c| c == "hugetlb"));
    if delegated {
        let _id = create_ok(&env, &cfg);
        let got =
            fs::read_to_string(v2_mount().unwrap().join(&rel).join("hugetlb.2MB.max")).unwrap();
        assert_eq!(got.trim(), "4194304");
        return;
    }
    expect_refused(&env, &cfg, &rel, &["hugepageLimits"]);
}

// ---------------------------------------------------------------------------
// unified

#[test]
fn unified_memory_high() {
    require_root!();
    let env = TestEnv::new("knob_unified");
    let res = json!({"unified": {"memory.high": "100000000"}});
    let (cfg, rel) = cg_config(&env, SLEEP, "unif", res);
    if is_v2() {
        let _id = create_ok(&env, &cfg);
        // The kernel stores memory.high in pages: 100000000 rounded down.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64;
        let want = 100_000_000 / page * page;
        assert_eq!(cg_read("", &rel, "memory.high"), want.to_string());
    } else {
        expect_refused(&env, &cfg, &rel, &["unified"]);
    }
}

// ---------------------------------------------------------------------------
// memory

#[test]
fn memory_swappiness() {
    require_root!();
    let env = TestEnv::new("knob_swappiness");
    let res = json!({"memory": {"limit": 64 * MIB, "swappiness": 10}});
    let (cfg, rel) = cg_config(&env, SLEEP, "swp", res);
    if is_v2() {
        expect_refused(&env, &cfg, &rel, &["swappiness"]);
    } else {
        let _id = create_ok(&env, &cfg);
        assert_eq!(cg_read("memory", &rel, "memory.swappiness"), "10");
    }
}

#[test]
fn memory_kernel_tcp() {
    require_root!();
    if is_reference_runtime() {
        // runc (1.1 and later) ignores kernelTCP; crun writes it as berth does.
        return;
    }
    let env = TestEnv::new("knob_kmem_tcp");
    let res = json!({"memory": {"limit": 64 * MIB, "kernelTCP": 8 * MIB}});
    let (cfg, rel) = cg_config(&env, SLEEP, "ktcp", res);
    if is_v2() {
        // No such limit on cgroup v2: berth refuses it by name, as crun does.
        expect_refused(&env, &cfg, &rel, &["memory.kernelTCP"]);
        return;
    }
    let Some(m) = v1_mount("memory") else {
        eprintln!("SKIP: memory controller not mounted");
        return;
    };
    if !m.join("memory.kmem.tcp.limit_in_bytes").exists() {
        eprintln!("SKIP: this kernel has no memory.kmem.tcp.limit_in_bytes");
        return;
    }
    let _id = create_ok(&env, &cfg);
    assert_eq!(
        cg_read("memory", &rel, "memory.kmem.tcp.limit_in_bytes"),
        (8 * MIB).to_string()
    );
}

/// A knob whose file this kernel lacks is refused as not supported by the kernel, naming the
/// field and the file (not as the EACCES cgroupfs gives for creating a file), leaving nothing.
#[test]
fn knob_the_kernel_lacks_is_not_supported() {
    require_root!();
    let env = TestEnv::new("knob_missing");
    // (controller, file, resources, field): the first whose file a new cgroup here lacks.
    let candidates: Vec<(&str, &str, Value, &str)> = if is_v2() {
        vec![
            (
                "",
                "memory.zswap.writeback",
                json!({"unified": {"memory.zswap.writeback": "0"}}),
                "unified.memory.zswap.writeback",
            ),
            (
                "",
                "memory.berth_no_such_knob",
                json!({"unified": {"memory.berth_no_such_knob": "1"}}),
                "unified.memory.berth_no_such_knob",
            ),
        ]
    } else {
        vec![
            (
                "blkio",
                "blkio.leaf_weight",
                json!({"blockIO": {"leafWeight": 500}}),
                "blockIO.leafWeight",
            ),
            (
                "blkio",
                "blkio.bfq.weight",
                json!({"blockIO": {"weight": 500}}),
                "blockIO.weight",
            ),
        ]
    };
    let probe = if is_v2() {
        PathBuf::from("/sys/fs/cgroup").join(env.cgroup_parent())
    } else {
        let Some(m) = v1_mount("blkio") else {
            eprintln!("SKIP: blkio controller not mounted");
            return;
        };
        m.join(env.cgroup_parent())
    };
    // The fixture removes this parent at the end.
    fs::create_dir_all(&probe).unwrap();
    let missing = candidates.into_iter().find(|(_, file, _, _)| {
        // blkio.weight and blkio.bfq.weight are alternatives: both must be missing.
        let present = probe.join(file).exists();
        let alternative = *file == "blkio.bfq.weight" && probe.join("blkio.weight").exists();
        !present && !alternative
    });
    let Some((_, file, res, field)) = missing else {
        eprintln!("SKIP: every candidate knob exists in {}", probe.display());
        return;
    };
    let (cfg, rel) = cg_config(&env, SLEEP, "miss", res);
    let o = expect_refused(&env, &cfg, &rel, &[field]);
    if !is_reference_runtime() {
        let line = o
            .stderr
            .lines()
            .find(|l| l.contains(field))
            .unwrap_or_default();
        assert!(
            line.contains("not supported by this kernel") && line.contains(file),
            "expected `{field}: not supported by this kernel: .../{file}`: {}",
            o.describe()
        );
        assert!(
            !o.stderr.to_lowercase().contains("permission denied"),
            "{}",
            o.describe()
        );
    }
}

#[test]
fn memory_disable_oom_killer() {
    require_root!();
    let env = TestEnv::new("knob_oomkill");
    let res = json!({"memory": {"limit": 64 * MIB, "disableOOMKiller": true}});
    let (cfg, rel) = cg_config(&env, SLEEP, "oom", res);
    if is_v2() {
        expect_refused(&env, &cfg, &rel, &["disableOOMKiller"]);
    } else {
        let _id = create_ok(&env, &cfg);
        let got = cg_read("memory", &rel, "memory.oom_control");
        assert!(
            got.lines().any(|l| l.trim() == "oom_kill_disable 1"),
            "memory.oom_control: {got:?}"
        );
    }
}

#[test]
fn memory_check_before_update_refuses_limit_below_usage() {
    require_root!();
    let env = TestEnv::new("knob_checkupd");
    // Keeps ~2 MB in a shell variable.
    let script = "x=$(head -c 2000000 /dev/zero | tr '\\0' a); touch /tmp/ready; sleep 100";
    let res = json!({"memory": {"limit": 64 * MIB}});
    let (cfg, rel) = cg_config(&env, &["sh", "-c", script], "cbu", res);
    let b = env.bundle(&cfg);
    let id = env.id("cbu");
    create_slow(&env, &b, &id).assert_ok();
    env.start(&id).assert_ok();
    wait_for(scaled(10), || {
        b.join("rootfs/tmp/ready").exists().then_some(())
    })
    .expect("container never filled its memory");
    let (limit_file, usage_file) = if is_v2() {
        ("memory.max", "memory.current")
    } else {
        ("memory.limit_in_bytes", "memory.usage_in_bytes")
    };
    let usage: u64 = cg_read("memory", &rel, usage_file).parse().unwrap();
    assert!(usage > 4096, "{usage_file} = {usage}");
    let before = cg_read("memory", &rel, limit_file);
    assert_eq!(before, (64 * MIB).to_string());

    let rfile = env.scratch("upd").join("res.json");
    fs::write(
        &rfile,
        json!({"memory": {"limit": 4096, "checkBeforeUpdate": true}}).to_string(),
    )
    .unwrap();
    let o = env.rt(["update", "-r", rfile.to_str().unwrap(), id.as_str()]);
    o.assert_fail();
    assert_stderr_names(&o, &["memory.limit"]);
    if !is_reference_runtime() {
        assert!(
            o.stderr.contains("4096") && o.stderr.to_lowercase().contains("usage"),
            "stderr should name the limit 4096 and the current usage: {}",
            o.describe()
        );
    }
    assert_eq!(cg_read("memory", &rel, limit_file), before, "limit changed");
    assert_eq!(env.state_status(&id), "running");
}

// ---------------------------------------------------------------------------
// cpu

#[test]
fn cpu_idle() {
    require_root!();
    let env = TestEnv::new("knob_cpu_idle");
    let res = json!({"cpu": {"idle": 1}});
    let (cfg, rel) = cg_config(&env, SLEEP, "idle", res);
    if !is_v2() {
        let Some(m) = v1_mount("cpu") else {
            eprintln!("SKIP: cpu controller not mounted");
            return;
        };
        if !m.join("cpu.idle").exists() {
            // No cpu.idle on this kernel: berth cannot apply it.
            expect_refused(&env, &cfg, &rel, &["cpu.idle", "cpu"]);
            return;
        }
    }
    let (_id, o) = create_cfg(&env, &cfg);
    if is_v2() && !o.ok() && o.stderr.contains("cpu.idle") {
        eprintln!("SKIP: this v2 kernel has no cpu.idle: {}", o.stderr.trim());
        return;
    }
    o.assert_ok();
    assert_eq!(cg_read("cpu", &rel, "cpu.idle"), "1");
}

#[test]
fn cpu_burst() {
    require_root!();
    let env = TestEnv::new("knob_cpu_burst");
    let res = json!({"cpu": {"quota": 20000, "period": 100000, "burst": 1000}});
    let (cfg, rel) = cg_config(&env, SLEEP, "burst", res);
    let file = if is_v2() {
        "cpu.max.burst"
    } else {
        "cpu.cfs_burst_us"
    };
    let (_id, o) = create_cfg(&env, &cfg);
    if !o.ok() && o.stderr.contains(file) {
        eprintln!("SKIP: this kernel has no {file}: {}", o.stderr.trim());
        return;
    }
    o.assert_ok();
    assert_eq!(cg_read("cpu", &rel, file), "1000");
}

#[test]
fn cpu_realtime() {
    require_root!();
    let env = TestEnv::new("knob_cpu_rt");
    let res = json!({"cpu": {"realtimeRuntime": 10000, "realtimePeriod": 1000000}});
    let (cfg, rel) = cg_config(&env, SLEEP, "rt", res);
    if is_v2() {
        expect_refused(&env, &cfg, &rel, &["realtimeRuntime"]);
        return;
    }
    let Some(m) = v1_mount("cpu") else {
        eprintln!("SKIP: cpu controller not mounted");
        return;
    };
    if !m.join("cpu.rt_runtime_us").exists() {
        eprintln!("SKIP: kernel without RT group scheduling (no cpu.rt_runtime_us)");
        return;
    }
    let (id, o) = create_cfg(&env, &cfg);
    if o.ok() {
        assert_eq!(cg_read("cpu", &rel, "cpu.rt_period_us"), "1000000");
        assert_eq!(cg_read("cpu", &rel, "cpu.rt_runtime_us"), "10000");
    } else {
        // The new parent has 0 realtime runtime, so the kernel refuses a
        // child's share: a clear error naming the file is fine.
        eprintln!("NOTE: realtime refused: {}", o.stderr.trim());
        assert_stderr_names(&o, &["cpu.rt_runtime_us"]);
        assert_nothing_left(&env, &id, &rel);
    }
}

// ---------------------------------------------------------------------------
// network

#[test]
fn network_class_id() {
    require_root!();
    let env = TestEnv::new("knob_netcls");
    let res = json!({"network": {"classID": 1048577}});
    let (cfg, rel) = cg_config(&env, SLEEP, "netcls", res);
    if is_v2() {
        expect_refused(&env, &cfg, &rel, &["network"]);
    } else if v1_mount("net_cls").is_some() {
        let _id = create_ok(&env, &cfg);
        assert_eq!(cg_read("net_cls", &rel, "net_cls.classid"), "1048577");
    } else {
        expect_refused(&env, &cfg, &rel, &["network.classID"]);
    }
}

// ---------------------------------------------------------------------------
// devices

#[test]
fn devices_list_v1_deny_all_keeps_defaults() {
    require_root!();
    let env = TestEnv::new("knob_devices");
    if is_v2() {
        eprintln!("SKIP: devices.list is cgroup v1 only (v2 uses eBPF)");
        return;
    }
    if v1_mount("devices").is_none() {
        eprintln!("SKIP: devices controller not mounted");
        return;
    }
    let res = json!({"devices": [{"allow": false, "access": "rwm"}]});
    let (cfg, rel) = cg_config(&env, SLEEP, "dev", res);
    let _id = create_ok(&env, &cfg);
    let list = cg_read("devices", &rel, "devices.list");
    assert!(
        !list.lines().any(|l| l.trim() == "a *:* rwm"),
        "devices.list still allows everything: {list:?}"
    );
    assert!(
        list.lines().any(|l| l.trim() == "c 1:3 rwm"),
        "devices.list lacks /dev/null (c 1:3 rwm): {list:?}"
    );
}

fn cg_read(ctrl: &str, rel: &str, file: &str) -> String {
    let p = cg_dir(ctrl, rel).join(file);
    fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
        .trim()
        .to_string()
}
