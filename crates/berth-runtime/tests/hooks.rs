//! OCI hooks: each kind runs at its point of the lifecycle, in the right namespaces, with the
//! container's state on stdin; a failing hook fails its operation and leaves nothing behind.

mod common;

use common::cgroupfs::scaled;
use common::*;
use serde_json::{Value, json};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where the container sees the test's scratch dir.
const OUT_IN_CONTAINER: &str = "/hookout";

/// A scratch dir bind-mounted into the container at /hookout, for hooks on either side.
fn with_out_mount(cfg: &mut Value, out: &Path) {
    cfg["mounts"].as_array_mut().unwrap().push(json!({
        "destination": OUT_IN_CONTAINER, "type": "bind", "source": out, "options": ["rbind", "rw"]
    }));
}

fn write_script(path: &Path, body: &str) {
    fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

/// A host script that records, for the hook kind in $1: its stdin (the state), its mount
/// namespace, whether the container's rootfs is still reachable at its host path (no
/// pivot_root yet), and its place in the order file.
fn host_recorder(out: &Path) -> PathBuf {
    let script = out.join("record.sh");
    write_script(
        &script,
        &format!(
            r#"out={out}
cat > "$out/$1.state"
readlink /proc/self/ns/mnt > "$out/$1.mnt"
if [ -n "$ROOTFS" ] && [ -e "$ROOTFS/bin/busybox" ]; then echo yes; else echo no; fi > "$out/$1.hostroot"
if [ -n "$STATE_DIR" ] && [ -e "$STATE_DIR" ]; then echo yes; else echo no; fi > "$out/$1.statedir"
echo "$1" >> "$out/order""#,
            out = out.display()
        ),
    );
    script
}

fn hook(path: &Path, kind: &str, env: &[String]) -> Value {
    json!({"path": path, "args": ["record.sh", kind], "env": env})
}

fn read(out: &Path, name: &str) -> String {
    fs::read_to_string(out.join(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .trim()
        .to_string()
}

fn state_of(out: &Path, kind: &str) -> Value {
    let text = read(out, &format!("{kind}.state"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{kind} stdin is not JSON ({e}): {text}"))
}

/// The hooks (and process) in the order they ran. runc 1.1 runs poststart at create, against the
/// spec (fixed in runc 1.2): for it, poststart is left out.
fn order(out: &Path) -> Vec<String> {
    fs::read_to_string(out.join("order"))
        .unwrap_or_default()
        .lines()
        .filter(|kind| !(is_reference_runtime() && *kind == "poststart"))
        .map(String::from)
        .collect()
}

/// A config with every kind of hook: the runtime's from the host recorder, startContainer from a
/// script inside the rootfs (its path resolves in the container) writing to /hookout.
fn all_hooks_config(env: &TestEnv, out: &Path, args: &[&str], id: &str) -> Value {
    let recorder = host_recorder(out);
    let mut cfg = env.config(args);
    with_out_mount(&mut cfg, out);
    cfg["annotations"] = json!({"org.example.hooks": "yes"});
    let state_dir = format!("STATE_DIR={}", env.root.join(id).display());
    let vars = vec![state_dir];
    cfg["hooks"] = json!({
        "prestart": [hook(&recorder, "prestart", &vars)],
        "createRuntime": [hook(&recorder, "createRuntime", &vars)],
        "createContainer": [hook(&recorder, "createContainer", &vars)],
        "startContainer": [{"path": "/bin/starthook", "args": ["starthook"]}],
        "poststart": [hook(&recorder, "poststart", &vars)],
        "poststop": [hook(&recorder, "poststop", &vars)],
    });
    cfg
}

/// Completes a bundle for `all_hooks_config`: the in-container startContainer script, and the
/// rootfs path for the recorder (to tell whether pivot_root happened yet).
fn finish_bundle(bundle: &Path) {
    let rootfs = bundle.join("rootfs");
    write_script(
        &rootfs.join("bin/starthook"),
        &format!(
            r#"out={OUT_IN_CONTAINER}
cat > "$out/startContainer.state"
readlink /proc/self/ns/mnt > "$out/startContainer.mnt"
echo startContainer >> "$out/order""#
        ),
    );
    let config_path = bundle.join("config.json");
    let mut cfg: Value = serde_json::from_str(&fs::read_to_string(&config_path).unwrap()).unwrap();
    let rootfs_var = json!(format!("ROOTFS={}", rootfs.display()));
    for kind in [
        "prestart",
        "createRuntime",
        "createContainer",
        "poststart",
        "poststop",
    ] {
        cfg["hooks"][kind][0]["env"]
            .as_array_mut()
            .unwrap()
            .push(rootfs_var.clone());
    }
    write_config(bundle, &cfg);
}

#[test]
fn each_hook_runs_at_its_point_of_the_lifecycle() {
    require_root!();
    let env = TestEnv::new("hooks_lifecycle");
    let out = env.scratch("out");
    let id = env.id("hooks");
    let cfg = all_hooks_config(&env, &out, &["sleep", "1000"], &id);
    let bundle = env.bundle(&cfg);
    finish_bundle(&bundle);
    let bundle = fs::canonicalize(&bundle).unwrap();

    env.create(&bundle, &id).assert_ok();
    assert_eq!(
        order(&out),
        ["prestart", "createRuntime", "createContainer"]
    );
    let pid = env.state_pid(&id);
    let host_mnt = ns_link("self", "mnt");
    let container_mnt = ns_link(&pid.to_string(), "mnt");
    assert_ne!(host_mnt, container_mnt);
    for kind in ["prestart", "createRuntime"] {
        let state = state_of(&out, kind);
        assert_eq!(state["status"], "creating", "{kind}: {state}");
        assert_eq!(state["id"], id.as_str(), "{kind}: {state}");
        assert_eq!(
            state["pid"], pid,
            "{kind}: pid as the runtime sees it: {state}"
        );
        assert_eq!(state["bundle"], bundle.to_str().unwrap(), "{kind}: {state}");
        assert_eq!(
            state["annotations"]["org.example.hooks"], "yes",
            "{kind}: {state}"
        );
        assert_eq!(
            read(&out, &format!("{kind}.mnt")),
            host_mnt,
            "{kind} runs in the runtime's mount namespace"
        );
        assert_eq!(
            read(&out, &format!("{kind}.hostroot")),
            "yes",
            "{kind} runs before pivot_root"
        );
    }
    let state = state_of(&out, "createContainer");
    assert_eq!(state["status"], "creating", "{state}");
    assert_eq!(
        state["pid"], 1,
        "createContainer gets the pid as the container sees it: {state}"
    );
    assert_eq!(
        read(&out, "createContainer.mnt"),
        container_mnt,
        "createContainer runs in the container's mount namespace"
    );
    assert_eq!(
        read(&out, "createContainer.hostroot"),
        "yes",
        "createContainer runs before pivot_root"
    );
    assert!(
        !out.join("startContainer.state").exists(),
        "startContainer ran at create"
    );

    env.rt(["start", &id]).assert_ok();
    // startContainer has run once `start` returns (runc: by the time the process runs).
    let ran = wait_for(Duration::from_secs(5), || {
        out.join("poststart.state").exists().then_some(())
    });
    assert!(ran.is_some(), "poststart did not run: {:?}", order(&out));
    let expected = [
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
    ];
    let expected = if is_reference_runtime() {
        &expected[..4]
    } else {
        &expected[..]
    };
    assert_eq!(order(&out), expected);
    let state = state_of(&out, "startContainer");
    assert_eq!(state["status"], "created", "{state}");
    assert_eq!(
        read(&out, "startContainer.mnt"),
        container_mnt,
        "startContainer runs in the container"
    );
    if !is_reference_runtime() {
        let state = state_of(&out, "poststart");
        assert_eq!(state["status"], "running", "{state}");
        assert_eq!(state["pid"], pid, "{state}");
        assert_eq!(read(&out, "poststart.mnt"), host_mnt);
    }

    env.rt(["kill", &id, "KILL"]).assert_ok();
    assert!(wait_pid_gone(pid, Duration::from_secs(5)));
    assert!(
        !out.join("poststop.state").exists(),
        "poststop ran before delete"
    );
    env.rt(["delete", &id]).assert_ok();
    assert_eq!(order(&out).last().map(String::as_str), Some("poststop"));
    let state = state_of(&out, "poststop");
    assert_eq!(state["status"], "stopped", "{state}");
    assert_eq!(state["id"], id.as_str(), "{state}");
    assert_eq!(
        read(&out, "poststop.statedir"),
        "no",
        "poststop runs after the container is removed"
    );
}

#[test]
fn run_runs_every_hook_in_order() {
    require_root!();
    let env = TestEnv::new("hooks_run");
    let out = env.scratch("out");
    let id = env.id("run");
    let cfg = all_hooks_config(
        &env,
        &out,
        &["sh", "-c", "echo process >> /hookout/order"],
        &id,
    );
    let bundle = env.bundle(&cfg);
    finish_bundle(&bundle);
    let o = env.run(&bundle, &id);
    o.assert_ok();
    let mut seen = order(&out);
    // The process and poststart race (poststart runs once the process started); the rest is ordered.
    let process_at = seen
        .iter()
        .position(|k| k == "process")
        .expect("process ran");
    seen.remove(process_at);
    let mut expected = vec![
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
        "poststop",
    ];
    expected.retain(|kind| !(is_reference_runtime() && *kind == "poststart"));
    assert_eq!(seen, expected, "{}", o.describe());
    assert!(
        process_at > 3,
        "the process ran before startContainer: {:?}",
        order(&out)
    );
    assert!(env.root_entries().is_empty());
}

#[test]
fn hook_gets_its_args_and_only_its_env() {
    require_root!();
    let env = TestEnv::new("hooks_args_env");
    let out = env.scratch("out");
    let mut cfg = env.config(&["true"]);
    let script = format!(
        "echo \"$0 $1 $2\" > {out}/args; env > {out}/env; cat > {out}/stdin",
        out = out.display()
    );
    cfg["hooks"] = json!({"createRuntime": [{
        "path": "/bin/sh",
        "args": ["zeroth", "-c", script, "first", "second"],
        "env": ["FOO=bar baz", "PATH=/usr/bin:/bin"]
    }, {
        "path": "/bin/sh",
        "args": ["sh", "-c", format!("env > {}/inherited", out.display())]
    }]});
    let o = env.run_config(&cfg);
    o.assert_ok();
    assert_eq!(read(&out, "args"), "first second");
    let vars = read(&out, "env");
    assert!(vars.lines().any(|l| l == "FOO=bar baz"), "{vars}");
    assert!(
        !vars.contains("BERTH_TEST_TAG"),
        "the runtime's environment leaked into the hook: {vars}"
    );
    // Without an `env` list a hook inherits the runtime's environment (runc: Go's exec.Cmd).
    let inherited = read(&out, "inherited");
    assert!(
        inherited.contains(&format!("BERTH_TEST_TAG={}", env.tag)),
        "{inherited}"
    );
    let state: Value = serde_json::from_str(&read(&out, "stdin")).unwrap();
    assert_eq!(state["status"], "creating");
}

fn failing(exit: i32) -> Value {
    json!({"path": "/bin/sh", "args": ["sh", "-c", format!("echo hook said no >&2; exit {exit}")]})
}

#[test]
fn failing_create_hooks_fail_create_and_leave_nothing() {
    require_root!();
    let env = TestEnv::new("hooks_fail_create");
    let out = env.scratch("out");
    let recorder = host_recorder(&out);
    for kind in ["prestart", "createRuntime", "createContainer"] {
        let mut cfg = env.config(&["true"]);
        cfg["hooks"] = json!({kind: [failing(3)], "poststop": [hook(&recorder, "poststop", &[])]});
        let bundle = env.bundle(&cfg);
        let id = env.id(kind);
        let o = env.create(&bundle, &id);
        o.assert_fail();
        assert_stderr_names(
            &o,
            &[&format!(
                "hooks.{kind}[0] /bin/sh: exit status 3: hook said no"
            )],
        );
        env.assert_nothing_left(&id, &bundle);
        // runc too: a failed create destroys the container, which runs the poststop hooks.
        assert_eq!(state_of(&out, "poststop")["id"], id.as_str(), "{kind}");
        fs::remove_file(out.join("poststop.state")).unwrap();
    }
}

#[test]
fn failing_start_container_hook_stops_the_container() {
    require_root!();
    let env = TestEnv::new("hooks_fail_start");
    let out = env.scratch("out");
    let mut cfg = env.config(&["sh", "-c", "echo ran > /hookout/process"]);
    with_out_mount(&mut cfg, &out);
    cfg["hooks"] = json!({"startContainer": [failing(4)]});
    let bundle = env.bundle(&cfg);
    let id = env.id("c");
    env.create(&bundle, &id).assert_ok();
    let pid = env.state_pid(&id);
    let o = env.rt(["start", &id]);
    if !is_reference_runtime() {
        // runc's start returns before the hook runs; berth's reports the hook's failure.
        o.assert_fail();
        assert_stderr_names(
            &o,
            &["hooks.startContainer[0] /bin/sh: exit status 4: hook said no"],
        );
    }
    assert!(
        wait_pid_gone(pid, Duration::from_secs(5)),
        "container still runs"
    );
    assert_eq!(env.state_status(&id), "stopped");
    assert!(
        !out.join("process").exists(),
        "the process ran despite the failed hook"
    );
    env.rt(["delete", &id]).assert_ok();
}

#[test]
fn hook_past_its_timeout_is_killed_and_fails_create() {
    require_root!();
    let env = TestEnv::new("hooks_timeout");
    let out = env.scratch("out");
    let pid_file = out.join("hook.pid");
    let mut cfg = env.config(&["true"]);
    cfg["hooks"] = json!({"createRuntime": [{
        "path": "/bin/sh",
        "args": ["sh", "-c", format!("echo $$ > {}; exec sleep 60", pid_file.display())],
        "timeout": 1
    }]});
    let bundle = env.bundle(&cfg);
    let id = env.id("c");
    let started = std::time::Instant::now();
    env.track(&id);
    let args: Vec<String> = vec![
        "create".into(),
        "-b".into(),
        bundle.display().to_string(),
        id.clone(),
    ];
    let mut command = env.command();
    command.args(&args);
    // Not the harness's 10 s: the emulated VM, busy with the other tests, can take longer.
    let o = env.rt_cmd(command, args, scaled(10));
    o.assert_fail();
    assert!(
        started.elapsed() < scaled(8),
        "create took {:?}",
        started.elapsed()
    );
    assert_stderr_names(&o, &["hooks.createRuntime[0]"]);
    if !is_reference_runtime() {
        assert!(o.stderr.contains("timeout"), "{}", o.describe());
    }
    let hook_pid: i32 = read(&out, "hook.pid").parse().unwrap();
    assert!(
        wait_pid_gone(hook_pid, Duration::from_secs(5)),
        "the hook still runs"
    );
    env.assert_nothing_left(&id, &bundle);
}

/// runtime-spec 1.3: "If any poststart hook fails, the runtime MUST generate an error, stop the
/// container" (until 1.2 it was a warning). The hooks after it do not run; poststop failures
/// stay warnings.
#[test]
fn poststart_failure_fails_start_and_stops_the_container() {
    require_root!();
    if is_reference_runtime() {
        // spec 1.3 (runc 1.1 runs poststart at create, and fails delete on a poststop failure).
        return;
    }
    let env = TestEnv::new("hooks_post_fail");
    let out = env.scratch("out");
    let recorder = host_recorder(&out);
    let mut cfg = env.config(&["sleep", "1000"]);
    cfg["hooks"] = json!({
        "poststart": [failing(5), hook(&recorder, "poststart", &[])],
        "poststop": [failing(7), hook(&recorder, "poststop", &[])]
    });
    let bundle = env.bundle(&cfg);
    let id = env.id("c");
    env.create(&bundle, &id).assert_ok();
    let pid = env.state_pid(&id);
    let o = env.rt(["start", &id]);
    o.assert_fail();
    assert_stderr_names(
        &o,
        &["hooks.poststart[0] /bin/sh: exit status 5: hook said no"],
    );
    assert!(
        wait_pid_gone(pid, Duration::from_secs(5)),
        "the container still runs"
    );
    assert_eq!(env.state_status(&id), "stopped");
    assert!(
        !out.join("poststart.state").exists(),
        "the poststart hook after the failed one ran"
    );
    let o = env.rt(["delete", &id]);
    o.assert_ok();
    assert!(
        o.stderr
            .contains("warning: hooks.poststop[0] /bin/sh: exit status 7"),
        "{}",
        o.describe()
    );
    assert_eq!(state_of(&out, "poststop")["id"], id.as_str());
    assert!(env.root_entries().is_empty());

    // `run` fails the same way and leaves nothing.
    fs::remove_file(out.join("poststop.state")).unwrap();
    let id = env.id("run");
    let o = env.run(&bundle, &id);
    o.assert_fail();
    assert_stderr_names(&o, &["hooks.poststart[0]"]);
    assert_eq!(state_of(&out, "poststop")["id"], id.as_str());
    env.assert_nothing_left(&id, &bundle);
}

#[test]
fn invalid_hooks_are_refused_before_anything_is_made() {
    require_root!();
    let env = TestEnv::new("hooks_invalid");
    for (hooks, field) in [
        (
            json!({"prestart": [{"path": "bin/true"}]}),
            "hooks.prestart[0].path",
        ),
        (
            json!({"poststop": [{"path": "/bin/true", "timeout": 0}]}),
            "hooks.poststop[0].timeout",
        ),
        (
            json!({"createRuntime": [{"path": "/bin/true", "env": ["NOEQUALS"]}]}),
            "hooks.createRuntime[0].env[0]",
        ),
    ] {
        let mut cfg = env.config(&["true"]);
        cfg["hooks"] = hooks;
        let bundle = env.bundle(&cfg);
        let id = env.id("c");
        let o = env.create(&bundle, &id);
        if is_reference_runtime() && o.ok() {
            // runc does not check hooks at create; nothing more to compare.
            env.rt(["delete", "-f", &id]);
            continue;
        }
        o.assert_fail();
        assert_stderr_names(&o, &[field]);
        env.assert_nothing_left(&id, &bundle);
    }
}

#[test]
fn features_lists_every_hook() {
    require_root!();
    let env = TestEnv::new("hooks_features");
    let o = env.rt(["features"]);
    o.assert_ok();
    let features: Value = serde_json::from_str(&o.stdout).unwrap();
    for kind in [
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
        "poststop",
    ] {
        assert!(
            features["hooks"]
                .as_array()
                .unwrap()
                .iter()
                .any(|h| h == kind),
            "{kind} missing: {}",
            features["hooks"]
        );
    }
}

/// Hooks the init runs in the container (createContainer, startContainer) never see the caller's
/// environment: one without an `env` list gets the container's process.env (the init's own in
/// runc), one with a list exactly that. runc 1.1.5 too.
#[test]
fn container_hooks_get_the_containers_env_not_the_callers() {
    require_root!();
    let env = TestEnv::new("hooks_container_env");
    let out = env.scratch("out");
    let mut cfg = env.config(&["true"]);
    cfg["process"]["env"]
        .as_array_mut()
        .unwrap()
        .push(json!("CONTAINER_ONLY=yes"));
    cfg["hooks"] = json!({
        "createContainer": [
            {"path": "/bin/sh", "args": ["sh", "-c", format!("env > {}/create", out.display())]},
            {"path": "/bin/sh", "args": ["sh", "-c", format!("env > {}/create-listed", out.display())],
             "env": ["LISTED=1"]}
        ],
        "startContainer": [{"path": "/start-hook.sh"}]
    });
    let bundle = env.bundle(&cfg);
    let script = bundle.join("rootfs/start-hook.sh");
    fs::write(&script, "#!/bin/sh\nenv > /start-env\n").unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let id = env.id("run");
    env.track(&id);
    let mut c = env.command();
    c.env("BERTH_HOST_ONLY", "leaked");
    let args = vec![
        "run".to_string(),
        "-b".into(),
        bundle.display().to_string(),
        id,
    ];
    c.args(&args);
    env.rt_cmd(c, args, cmd_timeout()).assert_ok();
    let start = fs::read_to_string(bundle.join("rootfs/start-env")).unwrap();
    for (name, vars) in [
        ("createContainer", read(&out, "create")),
        ("startContainer", start),
    ] {
        assert!(
            !vars.contains("BERTH_HOST_ONLY"),
            "{name} saw the caller's env: {vars}"
        );
        assert!(
            vars.lines().any(|l| l == "CONTAINER_ONLY=yes"),
            "{name} lacks the container's env: {vars}"
        );
    }
    let listed = read(&out, "create-listed");
    assert!(listed.lines().any(|l| l == "LISTED=1"), "{listed}");
    assert!(
        !listed.contains("CONTAINER_ONLY") && !listed.contains("BERTH_HOST_ONLY"),
        "{listed}"
    );
}
