//! CLI odds and ends: spec, features, kill --all, ps table.

mod common;

use common::*;
use serde_json::Value;
use std::fs;
use std::time::Duration;

#[test]
fn spec_writes_runnable_config_and_refuses_overwrite() {
    require_root!();
    let env = TestEnv::new("cli_spec");
    let dir = env.scratch("specdir");
    let o = env.rt(["spec", "-b", dir.to_str().unwrap()]);
    o.assert_ok();
    let text = fs::read_to_string(dir.join("config.json")).expect("config.json written");
    let v: Value = serde_json::from_str(&text).expect("spec output is JSON");
    assert!(v["ociVersion"].is_string(), "{v}");
    assert!(v["process"]["args"].is_array(), "{v}");
    assert_eq!(v["root"]["path"], "rootfs");
    let ns: Vec<&str> = v["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["type"].as_str())
        .collect();
    for want in ["pid", "mount", "ipc", "uts", "network"] {
        assert!(ns.contains(&want), "spec namespaces {ns:?}");
    }
    // refuses to overwrite
    fs::write(dir.join("config.json"), "{\"keep\": true}").unwrap();
    let o = env.rt(["spec", "-b", dir.to_str().unwrap()]);
    o.assert_fail();
    assert_stderr_names(&o, &["config.json"]);
    assert_eq!(
        fs::read_to_string(dir.join("config.json")).unwrap(),
        "{\"keep\": true}"
    );

    // the generated config runs with a busybox rootfs (terminal off, args set)
    let mut v = v;
    v["process"]["terminal"] = serde_json::json!(false);
    v["process"]["args"] = serde_json::json!(["sh", "-c", "echo spec-ok"]);
    v["root"]["readonly"] = serde_json::json!(false);
    let o = env.run_config(&v);
    o.assert_ok();
    assert_eq!(o.stdout, "spec-ok\n", "{}", o.describe());
}

#[test]
fn features_json() {
    require_root!();
    let env = TestEnv::new("cli_features");
    let o = env.rt(["features"]);
    o.assert_ok();
    let v: Value = serde_json::from_str(&o.stdout).expect("features is JSON");
    assert!(
        v["ociVersionMin"].is_string() && v["ociVersionMax"].is_string(),
        "{v}"
    );
    let ns: Vec<&str> = v["linux"]["namespaces"]
        .as_array()
        .expect("linux.namespaces")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for want in ["pid", "mount", "ipc", "uts", "network", "user", "cgroup"] {
        assert!(ns.contains(&want), "features namespaces {ns:?}");
    }
    assert!(
        v["mountOptions"]
            .as_array()
            .is_some_and(|a| a.iter().any(|o| o == "nosuid")),
        "{v}"
    );
}

#[test]
fn kill_all_reaches_every_process() {
    require_root!();
    let env = TestEnv::new("cli_kill_all");
    // no pid namespace: `kill --all` must signal every process of the container
    let mut cfg = env.config(&[
        "sh",
        "-c",
        "sleep 100 & sleep 100 & echo started > /tmp/ready; wait",
    ]);
    remove_ns(&mut cfg, "pid");
    let (id, b, _) = env.start_container(&cfg);
    assert!(
        wait_for(Duration::from_secs(5), || b
            .join("rootfs/tmp/ready")
            .exists()
            .then_some(()))
        .is_some()
    );
    let pids = wait_for(Duration::from_secs(3), || {
        let o = env.rt(["ps", "-f", "json", id.as_str()]);
        let v: Value = serde_json::from_str(&o.stdout).ok()?;
        let p: Vec<i32> = v
            .as_array()?
            .iter()
            .filter_map(|p| p.as_i64().map(|x| x as i32))
            .collect();
        (p.len() >= 3).then_some(p)
    })
    .unwrap_or_else(|| {
        panic!(
            "ps should list the shell and both sleeps: {}",
            env.rt(["ps", "-f", "json", id.as_str()]).describe()
        )
    });
    env.rt(["kill", "--all", id.as_str(), "KILL"]).assert_ok();
    for p in &pids {
        assert!(
            wait_pid_gone(*p, Duration::from_secs(5)),
            "pid {p} survived kill --all"
        );
    }
    env.wait_status(&id, "stopped", Duration::from_secs(5));
}

#[test]
fn ps_table_default() {
    require_root!();
    let env = TestEnv::new("cli_ps_table");
    let (id, _b, _) = env.start_container(&env.config(&["sleep", "100"]));
    let pid = env.state_pid(&id);
    let o = env.rt(["ps", id.as_str()]);
    o.assert_ok();
    let mut lines = o.stdout.lines();
    assert!(
        lines.next().is_some_and(|h| h.contains("PID")),
        "{}",
        o.describe()
    );
    assert!(
        lines.any(|l| l.split_whitespace().any(|f| f == pid.to_string())),
        "ps table lacks pid {pid}: {}",
        o.describe()
    );
}

#[test]
fn state_has_contract_fields() {
    require_root!();
    let env = TestEnv::new("cli_state_fields");
    let b = env.bundle(&env.config(&["sleep", "100"]));
    let id = env.id("fields");
    env.create(&b, &id).assert_ok();
    let st = env.state(&id);
    for k in [
        "ociVersion",
        "id",
        "status",
        "pid",
        "bundle",
        "rootfs",
        "created",
        "owner",
    ] {
        assert!(st.get(k).is_some(), "state lacks {k}: {st}");
    }
    assert_eq!(
        fs::canonicalize(st["rootfs"].as_str().unwrap()).ok(),
        fs::canonicalize(b.join("rootfs")).ok(),
        "{st}"
    );
}

#[test]
fn checkpoint_and_restore_are_refused_clearly() {
    require_root!();
    if is_reference_runtime() {
        return;
    }
    let env = TestEnv::new("cli_criu");
    for command in ["checkpoint", "restore"] {
        let o = env.rt([command, "some-id"]);
        o.assert_fail();
        assert!(
            o.stderr.contains(command) && o.stderr.contains("not supported"),
            "{}",
            o.describe()
        );
    }
}

/// What runc 1.1 writes for a failing command, and so berth-runtime, because clients read it:
/// without `--log`, one logrus line on stderr, `time="<RFC 3339>" level=error msg="<message>"`.
#[test]
fn error_without_log_is_a_logrus_line_on_stderr() {
    require_root!();
    let env = TestEnv::new("cli_err_stderr");
    let o = env.rt(["state", "no-such-container"]);
    o.assert_fail();
    assert_eq!(o.code(), 1, "{}", o.describe());
    let last = o.stderr.lines().last().unwrap_or_default();
    let line = parse_logrus_line(last)
        .unwrap_or_else(|| panic!("stderr's last line is not a logrus line: {}", o.describe()));
    assert_eq!(line.level, "error", "{line:?}");
    assert!(is_rfc3339_seconds(&line.time), "time {:?}", line.time);
    assert!(line.msg.contains("does not exist"), "{line:?}");
    assert!(
        last.starts_with("time=\"") && last.contains("\" level=error msg="),
        "{last:?}"
    );

    // --log-format json without --log: the JSON object goes to stderr instead.
    let o = env.rt(["--log-format", "json", "state", "no-such-container"]);
    o.assert_fail();
    let v = json_log_line(o.stderr.lines().last().unwrap_or_default());
    assert!(
        v["msg"]
            .as_str()
            .is_some_and(|m| m.contains("does not exist")),
        "{v}"
    );
}

/// Parses one line of a JSON log and checks it is exactly logrus's object: `level`, `msg`, `time`
/// in that order, time RFC 3339 in whole seconds.
#[track_caller]
fn json_log_line(line: &str) -> Value {
    assert!(
        line.starts_with("{\"level\":") && line.ends_with('}'),
        "not a JSON log line: {line:?}"
    );
    let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
    let obj = v.as_object().expect("a JSON object");
    let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    assert_eq!(keys, ["level", "msg", "time"], "{line}");
    let (msg_at, time_at) = (line.find("\"msg\":"), line.find("\"time\":"));
    assert!(msg_at < time_at, "keys out of runc's order: {line}");
    assert!(
        v["time"].as_str().is_some_and(is_rfc3339_seconds),
        "time is not RFC 3339 in seconds: {line}"
    );
    v
}

/// The lines of a log file (it must exist).
fn log_lines(path: &std::path::Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .lines()
        .map(String::from)
        .collect()
}

/// `--log FILE --log-format json`: each failure is one line `{"level":"error","msg":...,"time":...}`
/// appended to FILE (containerd's shim shows the last one; podman decodes a fresh file as one
/// object), and stderr has the bare message.
#[test]
fn error_with_json_log_is_one_line_in_the_file() {
    require_root!();
    let env = TestEnv::new("cli_err_json");
    let log = env.base.join("log.json");
    let log_arg = log.display().to_string();
    let o = env.rt([
        "--log",
        log_arg.as_str(),
        "--log-format",
        "json",
        "state",
        "no-such-container",
    ]);
    o.assert_fail();
    assert_eq!(o.code(), 1, "{}", o.describe());
    let lines = log_lines(&log);
    assert_eq!(lines.len(), 1, "one line per failure: {lines:?}");
    let v = json_log_line(&lines[0]);
    assert_eq!(v["level"], "error");
    let msg = v["msg"].as_str().unwrap_or_default();
    assert!(msg.contains("does not exist"), "{v}");
    assert_eq!(o.stderr, format!("{msg}\n"), "stderr is the bare message");

    // A create that fails (a relative process.cwd) is logged the same way, appended.
    let mut cfg = env.config(&["true"]);
    cfg["process"]["cwd"] = serde_json::json!("relative/dir");
    let b = env.bundle(&cfg);
    let id = env.id("badcwd");
    let b_arg = b.display().to_string();
    let o = env.rt([
        "--log",
        log_arg.as_str(),
        "--log-format",
        "json",
        "create",
        "--bundle",
        b_arg.as_str(),
        id.as_str(),
    ]);
    o.assert_fail();
    let lines = log_lines(&log);
    assert_eq!(lines.len(), 2, "appended: {lines:?}");
    let v = json_log_line(&lines[1]);
    assert_eq!(v["level"], "error");
    assert!(
        v["msg"]
            .as_str()
            .is_some_and(|m| m.to_lowercase().contains("cwd")),
        "the create failure names cwd: {v}"
    );

    // A command line the parser refuses is logged too (runc: `"state" requires exactly 1 argument`).
    let o = env.rt(["--log", log_arg.as_str(), "--log-format", "json", "state"]);
    o.assert_fail();
    assert_eq!(o.code(), 1, "{}", o.describe());
    let lines = log_lines(&log);
    assert_eq!(lines.len(), 3, "usage error logged: {lines:?}");
    assert_eq!(json_log_line(&lines[2])["level"], "error");
}

/// `--log FILE` in the text format: the logrus text line goes to FILE.
#[test]
fn error_with_text_log_is_a_logrus_line_in_the_file() {
    require_root!();
    let env = TestEnv::new("cli_err_text");
    let log = env.base.join("log.txt");
    let log_arg = log.display().to_string();
    for format in [None, Some("text")] {
        let mut args = vec!["--log", log_arg.as_str()];
        if let Some(f) = format {
            args.extend(["--log-format", f]);
        }
        args.extend(["kill", "no-such-container", "9"]);
        let o = env.rt(&args);
        o.assert_fail();
        assert!(
            !o.stderr.contains("level="),
            "stderr is the bare message: {}",
            o.describe()
        );
    }
    let lines = log_lines(&log);
    assert_eq!(lines.len(), 2, "{lines:?}");
    for l in &lines {
        let line = parse_logrus_line(l).unwrap_or_else(|| panic!("not a logrus line: {l:?}"));
        assert_eq!(line.level, "error");
        assert!(is_rfc3339_seconds(&line.time), "{l}");
        assert!(line.msg.contains("does not exist"), "{l}");
    }
}

/// A `--log` file that cannot be opened is itself an error (exit 1, the path named on stderr).
#[test]
fn unopenable_log_file_fails_the_command() {
    require_root!();
    let env = TestEnv::new("cli_err_logfile");
    let log = env.base.join("no-such-dir/log.json");
    let log_arg = log.display().to_string();
    let o = env.rt(["--log", log_arg.as_str(), "state", "x"]);
    o.assert_fail();
    assert_eq!(o.code(), 1, "{}", o.describe());
    assert!(
        error_messages(&o.stderr)
            .iter()
            .any(|m| m.contains(&log_arg)),
        "{}",
        o.describe()
    );
}

/// Messages are escaped as Go writes JSON (HTML-safe), so the line is one line whatever the ID.
#[test]
fn json_log_escapes_like_go() {
    require_root!();
    if is_reference_runtime() {
        return; // runc names no ID in "container does not exist"
    }
    let env = TestEnv::new("cli_err_escape");
    let log = env.base.join("log.json");
    let log_arg = log.display().to_string();
    let o = env.rt([
        "--log",
        log_arg.as_str(),
        "--log-format",
        "json",
        "state",
        "a<b>&c",
    ]);
    o.assert_fail();
    let lines = log_lines(&log);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains("\\u003c")
            && lines[0].contains("\\u003e")
            && lines[0].contains("\\u0026"),
        "<, > and & as Go escapes them: {}",
        lines[0]
    );
    let v = json_log_line(&lines[0]);
    assert!(
        v["msg"].as_str().is_some_and(|m| m.contains("a<b>&c")),
        "{v}"
    );
}
