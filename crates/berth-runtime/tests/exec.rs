//! `exec`: a new process in a running container, in its namespaces and cgroup, with its security
//! settings unless overridden; and terminals in the foreground (`exec -t`, `run -t`).

mod common;

use common::*;
use serde_json::json;
use std::io::Read;
use std::os::unix::net::UnixListener;
use std::process::Command;
use std::time::{Duration, Instant};

const NAMESPACES: [&str; 6] = ["pid", "mnt", "net", "ipc", "uts", "cgroup"];

fn sleeping_container(env: &TestEnv, mut cfg: serde_json::Value) -> (String, i32) {
    cfg["process"]["args"] = json!(["sleep", "1000"]);
    let (id, _, _) = env.start_container(&cfg);
    let pid = env.state_pid(&id);
    (id, pid)
}

fn exec(env: &TestEnv, args: &[&str]) -> Out {
    let mut all = vec!["exec"];
    all.extend_from_slice(args);
    env.rt(all)
}

/// `exec -d --pid-file F [flags] ID ARGS...`; returns the pid the file names.
#[track_caller]
fn exec_detached(env: &TestEnv, flags: &[&str], id: &str, args: &[&str]) -> i32 {
    let pid_file = env.base.join(format!("exec-{}.pid", unique()));
    let mut all = vec!["-d", "--pid-file", pid_file.to_str().unwrap()];
    all.extend_from_slice(flags);
    all.push(id);
    all.extend_from_slice(args);
    exec(env, &all).assert_ok();
    std::fs::read_to_string(&pid_file)
        .expect("pid file written")
        .trim()
        .parse()
        .expect("pid file holds a number")
}

fn cgroup_of(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap()
}

fn status_line(status: &str, key: &str) -> String {
    status
        .lines()
        .find(|l| l.starts_with(key))
        .unwrap_or_default()
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string()
}

#[test]
fn exec_joins_every_namespace_and_the_cgroup() {
    require_root!();
    let env = TestEnv::new("exec_ns");
    let mut cfg = env.config(&[]);
    add_ns(&mut cfg, "cgroup", None);
    let (id, init) = sleeping_container(&env, cfg);
    let script = NAMESPACES
        .map(|ns| format!("readlink /proc/self/ns/{ns}"))
        .join("; ");
    let o = exec(&env, &[&id, "sh", "-c", &script]);
    o.assert_ok();
    let seen: Vec<&str> = o.stdout.lines().collect();
    for (ns, line) in NAMESPACES.iter().zip(&seen) {
        assert_eq!(
            *line,
            ns_link(&init.to_string(), ns),
            "exec'd process is not in the container's {ns} namespace"
        );
    }
    assert_eq!(seen.len(), NAMESPACES.len(), "{}", o.describe());

    // A detached process: its pid file names a process in the container's cgroup.
    let pid = exec_detached(&env, &[], &id, &["sleep", "1000"]);
    assert_eq!(
        cgroup_of(pid),
        cgroup_of(init),
        "exec'd process is in another cgroup"
    );
    assert!(
        cmdline(pid).contains(&"sleep".to_string()),
        "pid file names {pid}, not the sleep"
    );
    let in_container = exec(&env, &[&id, "ps", "-o", "pid,args"]);
    assert!(
        in_container.stdout.matches("sleep 1000").count() == 2,
        "both sleeps should be visible in the container's PID namespace:\n{}",
        in_container.stdout
    );
}

#[test]
fn exec_reports_the_exit_code_and_output() {
    require_root!();
    let env = TestEnv::new("exec_code");
    let (id, _) = sleeping_container(&env, env.config(&[]));
    let o = exec(&env, &[&id, "sh", "-c", "echo out; echo err >&2; exit 42"]);
    assert_eq!(o.code(), 42, "{}", o.describe());
    assert_eq!(o.stdout.trim(), "out");
    assert!(o.stderr.contains("err"), "{}", o.describe());
    let missing = exec(&env, &[&id, "no-such-program"]);
    missing.assert_fail();
    assert!(
        missing.stderr.contains("no-such-program"),
        "{}",
        missing.describe()
    );
}

#[test]
fn exec_flags_override_the_containers_process() {
    require_root!();
    let env = TestEnv::new("exec_flags");
    let (id, _) = sleeping_container(&env, env.config(&[]));
    let o = exec(
        &env,
        &[
            "--env",
            "GREETING=hello",
            "--cwd",
            "/tmp",
            "--user",
            "1000:1001",
            "--additional-gids",
            "7",
            &id,
            "sh",
            "-c",
            "echo $GREETING; pwd; id -u; id -g; id -G; echo $BERTH_TEST_TAG",
        ],
    );
    o.assert_ok();
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines[..5], ["hello", "/tmp", "1000", "1001", "1001 7"]);
    assert_eq!(
        lines[5], env.tag,
        "the container's environment is kept under --env"
    );
}

#[test]
fn exec_keeps_the_containers_security_unless_told() {
    require_root!();
    let env = TestEnv::new("exec_caps");
    let (id, init) = sleeping_container(&env, env.config(&[]));
    let init_status = std::fs::read_to_string(format!("/proc/{init}/status")).unwrap();
    let o = exec(&env, &[&id, "cat", "/proc/self/status"]);
    o.assert_ok();
    for key in ["CapBnd:", "CapEff:", "CapPrm:", "NoNewPrivs:"] {
        assert_eq!(
            status_line(&o.stdout, key),
            status_line(&init_status, key),
            "{key} differs between the init and an exec'd process"
        );
    }
    // --cap adds to the bounding, effective and permitted sets.
    let o = exec(
        &env,
        &[
            "--cap",
            "CAP_SYS_ADMIN",
            &id,
            "grep",
            "-E",
            "^Cap(Eff|Bnd)",
            "/proc/self/status",
        ],
    );
    o.assert_ok();
    let sys_admin = 1u64 << 21;
    for key in ["CapEff:", "CapBnd:"] {
        let bits = u64::from_str_radix(&status_line(&o.stdout, key), 16).unwrap();
        assert_ne!(
            bits & sys_admin,
            0,
            "{key} lacks CAP_SYS_ADMIN: {}",
            o.stdout
        );
    }
}

#[test]
fn exec_no_new_privs_flag_and_process_file() {
    require_root!();
    let env = TestEnv::new("exec_procfile");
    let mut cfg = env.config(&[]);
    cfg["process"]["noNewPrivileges"] = json!(false);
    let (id, _) = sleeping_container(&env, cfg.clone());
    let o = exec(
        &env,
        &[
            "--no-new-privs",
            &id,
            "grep",
            "NoNewPrivs",
            "/proc/self/status",
        ],
    );
    assert_eq!(
        status_line(&o.stdout, "NoNewPrivs:"),
        "1",
        "{}",
        o.describe()
    );

    let mut process = cfg["process"].clone();
    process["args"] = json!(["sh", "-c", "echo from-file $FROM; id -u; pwd"]);
    process["env"] = json!([PATH_ENV, "FROM=process.json"]);
    process["user"] = json!({"uid": 33, "gid": 33});
    process["cwd"] = json!("/bin");
    let file = env.base.join("process.json");
    std::fs::write(&file, process.to_string()).unwrap();
    let o = exec(&env, &["--process", file.to_str().unwrap(), &id]);
    o.assert_ok();
    assert_eq!(
        o.stdout.lines().collect::<Vec<_>>(),
        ["from-file process.json", "33", "/bin"]
    );
}

#[test]
fn exec_in_a_user_namespace_container() {
    require_root!();
    let env = TestEnv::new("exec_userns");
    let mut cfg = env.config(&[]);
    add_ns(&mut cfg, "user", None);
    cfg["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    cfg["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    cfg["process"]["args"] = json!(["sleep", "1000"]);
    let b = env.bundle(&cfg);
    let id = env.id("userns");
    env.create(&b, &id).assert_ok();
    env.start(&id).assert_ok();
    let init = env.state_pid(&id);
    let o = exec(
        &env,
        &[
            &id,
            "sh",
            "-c",
            "readlink /proc/self/ns/user; id -u; cat /proc/self/uid_map",
        ],
    );
    o.assert_ok();
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines[0], ns_link(&init.to_string(), "user"));
    assert_eq!(lines[1], "0");
    assert!(
        lines[2].split_whitespace().collect::<Vec<_>>() == ["0", "100000", "65536"],
        "{}",
        o.stdout
    );
    // Seen from the host, the exec'd process runs as the mapped uid.
    let pid = exec_detached(&env, &[], &id, &["sleep", "1000"]);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert_eq!(status_line(&status, "Uid:"), "100000");
}

#[test]
fn exec_refuses_stopped_paused_and_unknown_containers() {
    require_root!();
    let env = TestEnv::new("exec_refuse");
    let (id, _) = sleeping_container(&env, env.config(&[]));
    env.rt(["pause", &id]).assert_ok();
    let o = exec(&env, &[&id, "true"]);
    o.assert_fail();
    assert_stderr_names(&o, &[&id, "paused"]);
    env.rt(["resume", &id]).assert_ok();

    let bad_user = exec(&env, &["--user", "nobody", &id, "true"]);
    bad_user.assert_fail();
    assert_stderr_names(&bad_user, &["--user", "nobody"]);
    let no_args = exec(&env, &[&id]);
    no_args.assert_fail();

    env.kill(&id, "KILL").assert_ok();
    env.wait_status(&id, "stopped", Duration::from_secs(5));
    let o = exec(&env, &[&id, "true"]);
    o.assert_fail();
    assert_stderr_names(&o, &[&id, "stopped"]);
    let o = exec(&env, &["no-such-container", "true"]);
    o.assert_fail();
    assert_stderr_names(&o, &["no-such-container"]);
}

#[test]
fn exec_preserves_extra_descriptors() {
    require_root!();
    let env = TestEnv::new("exec_fds");
    let (id, _) = sleeping_container(&env, env.config(&[]));
    let path = env.base.join("fd-data");
    std::fs::write(&path, "passed-through\n").unwrap();
    let file = std::fs::File::open(&path).unwrap();
    let mut c = env.command();
    with_extra_fd(&mut c, &file, 3);
    let args: Vec<String> = ["exec", "--preserve-fds", "1", &id, "cat", "/proc/self/fd/3"]
        .map(String::from)
        .to_vec();
    c.args(&args);
    let o = env.rt_cmd(c, args, CMD_TIMEOUT);
    o.assert_ok();
    assert_eq!(o.stdout.trim(), "passed-through");
}

#[test]
fn exec_tty_sends_the_pty_to_the_console_socket() {
    require_root!();
    let env = TestEnv::new("exec_tty_sock");
    let (id, _) = sleeping_container(&env, env.config(&[]));
    let socket_path = env.base.join("exec-console.sock");
    let listener = UnixListener::bind(&socket_path).unwrap();
    let out = exec(
        &env,
        &[
            "-d",
            "-t",
            "--console-socket",
            socket_path.to_str().unwrap(),
            &id,
            "sh",
            "-c",
            "tty; echo exec-tty-ok; sleep 1",
        ],
    );
    out.assert_ok();
    let (stream, _) = listener.accept().unwrap();
    let (name, master) = receive_fd(&stream);
    // runc names the master "/dev/ptmx" here; containerd ignores the name.
    assert!(name.starts_with("/dev/"), "{name:?}");
    let text = read_until(std::fs::File::from(master), "exec-tty-ok");
    assert!(text.contains("/dev/pts/"), "no pty inside: {text:?}");
}

fn read_until(mut from: impl Read, needle: &str) -> String {
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = [0u8; 512];
    while Instant::now() < deadline && !String::from_utf8_lossy(&out).contains(needle) {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Runs `runtime <args>` with a pty as its stdio, through util-linux `script`.
fn with_pty(env: &TestEnv, args: &[&str]) -> Out {
    let mut runtime = vec![runtime_bin().display().to_string()];
    runtime.extend(extra_global_args());
    runtime.push("--root".into());
    runtime.push(env.root.display().to_string());
    runtime.extend(args.iter().map(|a| format!("'{a}'")));
    let mut c = Command::new("script");
    c.args(["-qec", &runtime.join(" "), "/dev/null"]);
    let (child, o, e, all) = env.spawn_cmd(c, args.iter().map(|a| a.to_string()).collect());
    // `script` and a pty add to the start-up; the emulated test VM is many times slower.
    finish(child, o, e, all, CMD_TIMEOUT * 3)
}

#[test]
fn exec_tty_in_the_foreground() {
    require_root!();
    let env = TestEnv::new("exec_tty_fg");
    let (id, _) = sleeping_container(&env, env.config(&[]));
    let o = with_pty(
        &env,
        &[
            "exec",
            "-t",
            &id,
            "sh",
            "-c",
            "tty; test -t 0 && echo stdin-is-tty; exit 3",
        ],
    );
    assert_eq!(o.code(), 3, "{}", o.describe());
    assert!(o.stdout.contains("/dev/pts/"), "{}", o.describe());
    assert!(o.stdout.contains("stdin-is-tty"), "{}", o.describe());
}

#[test]
fn run_tty_in_the_foreground() {
    require_root!();
    let env = TestEnv::new("run_tty_fg");
    let mut cfg = env.config(&["sh", "-c", "tty; readlink /dev/console; echo run-tty-ok"]);
    cfg["process"]["terminal"] = json!(true);
    let b = env.bundle(&cfg);
    let id = env.id("fg");
    let o = with_pty(&env, &["run", "-b", b.to_str().unwrap(), &id]);
    o.assert_ok();
    assert!(o.stdout.contains("run-tty-ok"), "{}", o.describe());
    assert!(o.stdout.contains("/dev/pts/0"), "{}", o.describe());
    assert!(env.root_entries().is_empty(), "run left its state behind");
}

#[test]
fn detached_terminal_without_console_socket_is_refused() {
    require_root!();
    let env = TestEnv::new("exec_tty_refuse");
    let (id, _) = sleeping_container(&env, env.config(&[]));
    let o = exec(&env, &["-d", "-t", &id, "true"]);
    o.assert_fail();
    assert_stderr_names(&o, &["console-socket"]);
}

#[test]
fn exec_runs_under_the_containers_seccomp_filter() {
    require_root!();
    let env = TestEnv::new("exec_seccomp");
    let mut cfg = env.config(&[]);
    cfg["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 95}]
    });
    let (id, _) = sleeping_container(&env, cfg);
    let o = exec(
        &env,
        &[
            &id,
            "sh",
            "-c",
            "grep ^Seccomp: /proc/self/status; mkdir /tmp/d 2>&1; true",
        ],
    );
    o.assert_ok();
    assert_eq!(status_line(&o.stdout, "Seccomp:"), "2", "{}", o.describe());
    assert!(
        o.stdout.contains("not supported"),
        "mkdir should fail with EOPNOTSUPP: {}",
        o.describe()
    );
}

#[test]
fn exec_into_a_paused_container_waits_for_resume() {
    require_root!();
    if is_reference_runtime() {
        return;
    }
    let env = TestEnv::new("exec_paused");
    let (id, init) = sleeping_container(&env, env.config(&[]));
    env.rt(["pause", &id]).assert_ok();
    let pid = exec_detached(
        &env,
        &["--ignore-paused"],
        &id,
        &["sh", "-c", "echo ran > /tmp/ran; sleep 100"],
    );
    assert_eq!(
        cgroup_of(pid),
        cgroup_of(init),
        "not in the container's cgroup"
    );
    let ran = |env: &TestEnv| exec(env, &[&id, "cat", "/tmp/ran"]).ok();
    let bundle = std::path::PathBuf::from(env.state(&id)["bundle"].as_str().unwrap());
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !bundle.join("rootfs/tmp/ran").exists(),
        "the process ran while its container was paused"
    );
    env.rt(["resume", &id]).assert_ok();
    assert!(
        wait_for(Duration::from_secs(10), || ran(&env).then_some(())).is_some(),
        "the process never ran after resume"
    );
}

/// The bundle's config may change (or go) after create: exec keeps to the config the container
/// was made with. runc 1.1 reads the bundle's current config.json for exec's default process,
/// so an edited bundle changes what an exec'd process may do; berth does not follow it there.
#[test]
fn exec_uses_the_config_from_create() {
    require_root!();
    if is_reference_runtime() {
        return;
    }
    let env = TestEnv::new("exec_saved_cfg");
    let (id, init) = sleeping_container(&env, env.config(&[]));
    let bundle = std::path::PathBuf::from(env.state(&id)["bundle"].as_str().unwrap());
    let mut changed: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(bundle.join("config.json")).unwrap())
            .unwrap();
    let all = json!(["CAP_SYS_ADMIN", "CAP_KILL"]);
    for set in ["bounding", "effective", "permitted"] {
        changed["process"]["capabilities"][set] = all.clone();
    }
    write_config(&bundle, &changed);
    let o = exec(&env, &[&id, "grep", "^CapEff", "/proc/self/status"]);
    o.assert_ok();
    let init_status = std::fs::read_to_string(format!("/proc/{init}/status")).unwrap();
    assert_eq!(
        status_line(&o.stdout, "CapEff:"),
        status_line(&init_status, "CapEff:"),
        "exec took the capabilities of the edited config"
    );
}

/// `exec --cap` grants the capability for this process only: never inheritable or ambient, which
/// would pass it on across an exec of an unprivileged program (the class of CVE-2022-29162), even
/// where the container has an inheritable set of its own. runc 1.1.5 behaves the same.
#[test]
fn exec_cap_never_grants_inheritable_or_ambient() {
    require_root!();
    let env = TestEnv::new("exec_cap_inh");
    let mut cfg = env.config(&[]);
    cfg["process"]["capabilities"]["inheritable"] = json!(["CAP_KILL"]);
    let (id, _) = sleeping_container(&env, cfg);
    let o = exec(
        &env,
        &[
            "--cap",
            "CAP_SYS_TIME",
            &id,
            "grep",
            "-E",
            "^Cap(Inh|Prm|Eff|Amb)",
            "/proc/self/status",
        ],
    );
    o.assert_ok();
    let bits = |key: &str| u64::from_str_radix(&status_line(&o.stdout, key), 16).unwrap();
    let (kill, sys_time) = (1u64 << 5, 1u64 << 25);
    assert_ne!(bits("CapEff:") & sys_time, 0, "{}", o.stdout);
    assert_ne!(bits("CapPrm:") & sys_time, 0, "{}", o.stdout);
    assert_eq!(
        bits("CapInh:"),
        kill,
        "only the container's own: {}",
        o.stdout
    );
    assert_eq!(bits("CapAmb:"), 0, "{}", o.stdout);

    // A container without an inheritable set: an exec'd process has none either.
    let (plain, _) = sleeping_container(&env, env.config(&[]));
    let o = exec(
        &env,
        &[
            "--cap",
            "CAP_SYS_TIME",
            &plain,
            "grep",
            "-E",
            "^Cap(Inh|Amb)",
            "/proc/self/status",
        ],
    );
    o.assert_ok();
    let bits = |key: &str| u64::from_str_radix(&status_line(&o.stdout, key), 16).unwrap();
    assert_eq!(bits("CapInh:"), 0, "{}", o.stdout);
    assert_eq!(bits("CapAmb:"), 0, "{}", o.stdout);
}
