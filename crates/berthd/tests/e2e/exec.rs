//! `exec`: a process in a running container, through the client under test and the raw API:
//! its output, exit code and inspect; each flag seen from inside (id, env, pwd, capabilities,
//! namespaces, cgroup, limits); a terminal's size and detach keys; Docker's errors; and what is
//! left when execs and their container end.

use crate::common::*;
use crate::defaults::{DOCKER_CAPS, all_caps, status_value};
use serde_json::{Value, json};
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

/// `POST /containers/{name}/exec` with `body`: the exec's ID.
fn exec_create(d: &Daemon, container: &str, body: Value) -> String {
    let (status, text) = d.http(
        "POST",
        &format!("/containers/{container}/exec"),
        Some(body.to_string().as_bytes()),
    );
    assert_eq!(status, 201, "exec create: {text}");
    let v: Value = serde_json::from_str(&text).expect("exec create answer");
    v["Id"].as_str().expect("Id").to_string()
}

/// The `message` of an error body.
fn message(body: &str) -> String {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{body:?}: {e}"));
    v["message"].as_str().unwrap_or_default().to_string()
}

fn exec_start_detached(d: &Daemon, id: &str) -> (u16, String) {
    d.http(
        "POST",
        &format!("/exec/{id}/start"),
        Some(br#"{"Detach":true,"Tty":false}"#),
    )
}

#[track_caller]
fn exec_inspect(d: &Daemon, id: &str) -> Value {
    let (status, text) = d.http("GET", &format!("/exec/{id}/json"), None);
    assert_eq!(status, 200, "exec inspect {id}: {text}");
    serde_json::from_str(&text).expect("exec inspect JSON")
}

/// Starts `cmd` detached through the API and returns (exec ID, its host pid).
fn exec_detached(d: &Daemon, container: &str, cmd: &[&str]) -> (String, i32) {
    let id = exec_create(d, container, json!({"Cmd": cmd}));
    let (status, body) = exec_start_detached(d, &id);
    assert_eq!((status, body.as_str()), (200, ""), "detached start");
    let pid = exec_inspect(d, &id)["Pid"].as_i64().unwrap_or(0) as i32;
    assert!(pid > 0, "the exec's Pid");
    (id, pid)
}

fn exec_ids(c: &Client, container: &str) -> Vec<String> {
    let text = c.inspect(container, "{{json .ExecIDs}}");
    serde_json::from_str::<Option<Vec<String>>>(&text)
        .unwrap_or_else(|e| panic!("ExecIDs {text:?}: {e}"))
        .unwrap_or_default()
}

#[track_caller]
fn status_of(c: &Client, container: &str, opts: &[&str], field: &str) -> String {
    let mut prefix = vec!["exec"];
    prefix.extend_from_slice(opts);
    prefix.push(container);
    status_value(c, &prefix, field)
}

/// Runs `exec -it [OPTS] box sh -c 'echo ready; exec sleep N'` on a terminal, types `keys`:
/// the client must leave as docker's does, the exec run on.
#[track_caller]
fn detach_from_exec(c: &Client, opts: &[&str], keys: &[u8], sleep: &str) {
    let script = format!("echo ready; exec sleep {sleep}");
    let mut args = vec!["exec", "-it"];
    args.extend_from_slice(opts);
    args.extend_from_slice(&["box", "sh", "-c", &script]);
    let mut p = c.pty(&args, 24, 80);
    assert!(p.expect("ready", T), "{:?}", p.output);
    p.send(keys);
    let (code, timed_out) = p.wait(T);
    assert!(!timed_out, "{keys:?} did not detach: {:?}", p.output);
    // docker CLI 28 reports the detach as "read escape sequence" with status 1.
    assert_eq!(code, Some(1), "{:?}", p.output);
    assert!(p.output.contains("read escape sequence"), "{:?}", p.output);
    assert!(
        c.ok(&["exec", "box", "ps"])
            .contains(&format!("sleep {sleep}")),
        "the exec runs on"
    );
}

#[test]
fn exec_output_exit_code_and_inspect() {
    let d = Daemon::start("exec_basic").with_busybox();
    let c = d.client();
    let cid = c.ok(&["run", "-d", "--name", "box", "busybox", "sleep", "1000"]);
    let o = c.cmd(&["exec", "box", "sh", "-c", "echo out; echo err >&2; exit 3"]);
    assert_eq!(o.code(), 3, "{}", o.describe());
    assert_eq!((o.stdout.as_str(), o.stderr.as_str()), ("out\n", "err\n"));
    assert_eq!(c.cmd(&["exec", "box", "true"]).code(), 0);
    let o = c.cmd_stdin(&["exec", "-i", "box", "tr", "a-z", "A-Z"], b"piped text\n");
    assert_eq!(o.stdout, "PIPED TEXT\n", "{}", o.describe());
    // A client that does not ask to upgrade gets the stream as a 200 body (as from dockerd).
    let plain = exec_create(
        &d,
        "box",
        json!({"Cmd": ["sh", "-c", "echo no-upgrade; exit 6"], "AttachStdout": true}),
    );
    let (status, body) = d.http(
        "POST",
        &format!("/exec/{plain}/start"),
        Some(br#"{"Detach":false,"Tty":false}"#),
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("no-upgrade\n"), "{body:?}");
    assert_eq!(exec_inspect(&d, &plain)["ExitCode"], 6);
    // Before its start.
    let id = exec_create(
        &d,
        "box",
        json!({"Cmd": ["sleep", "1000"], "AttachStdout": true, "DetachKeys": "ctrl-a,b", "User": "e2e"}),
    );
    let v = exec_inspect(&d, &id);
    assert_eq!(v["ID"], id);
    assert_eq!(v["Running"], false);
    assert_eq!(v["ExitCode"], Value::Null);
    assert_eq!(v["Pid"], 0);
    assert_eq!(v["ContainerID"], cid);
    assert_eq!(
        (&v["OpenStdin"], &v["OpenStdout"], &v["OpenStderr"]),
        (&json!(false), &json!(true), &json!(false))
    );
    assert_eq!(
        v["ProcessConfig"],
        json!({"tty": false, "entrypoint": "sleep", "arguments": ["1000"], "privileged": false, "user": "e2e"})
    );
    assert_eq!(
        v["DetachKeys"], "AWI=",
        "the keys' bytes, base64 as Go writes []byte"
    );
    assert_eq!(
        exec_ids(&c, "box"),
        vec![id.clone()],
        "a created exec is listed"
    );
    // Started detached: 200 at once, and it runs.
    let (status, body) = exec_start_detached(&d, &id);
    assert_eq!((status, body.as_str()), (200, ""));
    let v = exec_inspect(&d, &id);
    assert_eq!(v["Running"], true);
    let pid = v["Pid"].as_i64().unwrap_or(0) as i32;
    // dockerd may answer while runc's init is still becoming the process.
    let is_sleep = wait_for(T, || cmdline(pid).starts_with("sleep 1000").then_some(()));
    assert!(is_sleep.is_some(), "Pid {pid}: {:?}", cmdline(pid));
    let (status, body) = exec_start_detached(&d, &id);
    assert_eq!(status, 409, "{body}");
    assert!(
        body.contains(&format!("Exec command {id} is already running")),
        "{body}"
    );
    // One that ends: its exit code, and it leaves ExecIDs.
    let (done, _) = exec_detached(&d, "box", &["sh", "-c", "exit 4"]);
    let ended = wait_for(T, || {
        let v = exec_inspect(&d, &done);
        (v["Running"] == false).then_some(v)
    })
    .expect("the detached exec ended");
    assert_eq!(ended["ExitCode"], 4);
    assert_eq!(exec_ids(&c, "box"), vec![id.clone()]);
    let (status, body) = exec_start_detached(&d, &done);
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("has already run"), "{body}");
    c.ok(&["rm", "-f", "box"]);
}

#[test]
fn exec_user_env_and_workdir() {
    let d = Daemon::start("exec_flags").with_busybox();
    let c = d.client();
    c.ok(&[
        "run", "-d", "--name", "box", "-e", "FOO=orig", "-e", "BAR=b", "-w", "/srv", "busybox",
        "sleep", "1000",
    ]);
    assert_eq!(c.ok(&["exec", "box", "id", "-u"]), "0");
    assert_eq!(c.ok(&["exec", "-u", "1000", "box", "id", "-u"]), "1000");
    assert_eq!(c.ok(&["exec", "-u", "e2e", "box", "id", "-u"]), "1000");
    assert_eq!(
        c.ok(&["exec", "-u", "e2e:nogroup", "box", "id"]),
        "uid=1000(e2e) gid=65534(nogroup) groups=65534(nogroup)"
    );
    // The container's env is the base; -e and --env-file override it and add to it.
    let env_file = d.base.join("exec.env");
    std::fs::write(&env_file, "FROM_FILE=f\n# comment\nBAR=from-file\n").unwrap();
    let o = c.cmd(&[
        "exec",
        "--env-file",
        env_file.to_str().unwrap(),
        "-e",
        "FOO=new",
        "box",
        "sh",
        "-c",
        "echo $FOO $BAR $FROM_FILE",
    ]);
    assert_eq!(o.stdout, "new from-file f\n", "{}", o.describe());
    assert_eq!(
        c.ok(&["exec", "box", "sh", "-c", "echo $FOO $BAR"]),
        "orig b"
    );
    // KEY alone (not set here) unsets it, as dockerd's ReplaceOrAppendEnvValues.
    let env = c.ok(&["exec", "-e", "HOSTNAME", "box", "env"]);
    assert!(!env.contains("HOSTNAME="), "{env}");
    assert!(env.contains(PATH_ENV_LINE), "{env}");
    assert!(
        !c.ok(&["exec", "box", "env"]).contains("TERM="),
        "no TERM without -t"
    );
    let o = c.cmd(&["exec", "-t", "box", "env"]);
    assert!(o.stdout.contains("TERM=xterm\r\n"), "{}", o.describe());
    // The container's working directory, unless -w.
    assert_eq!(c.ok(&["exec", "box", "pwd"]), "/srv");
    assert_eq!(c.ok(&["exec", "-w", "/tmp", "box", "pwd"]), "/tmp");
    // A container with a user of its own: execs run as it, unless -u.
    c.ok(&[
        "run", "-d", "--name", "asuser", "-u", "e2e", "busybox", "sleep", "1000",
    ]);
    assert_eq!(c.ok(&["exec", "asuser", "id", "-u"]), "1000");
    assert_eq!(c.ok(&["exec", "-u", "root", "asuser", "id", "-u"]), "0");
    c.ok(&["rm", "-f", "box", "asuser"]);
}

const PATH_ENV_LINE: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

#[test]
fn exec_joins_the_containers_namespaces_cgroup_and_security() {
    let d = Daemon::start("exec_ns").with_busybox();
    let c = d.client();
    c.ok(&[
        "run",
        "-d",
        "--name",
        "box",
        "--ulimit",
        "nofile=512:512",
        "busybox",
        "sleep",
        "1000",
    ]);
    let init = c.pid_of("box");
    let (_, pid) = exec_detached(&d, "box", &["sleep", "1000"]);
    for ns in ["cgroup", "ipc", "mnt", "net", "pid", "user", "uts"] {
        let link = |p: i32| std::fs::read_link(format!("/proc/{p}/ns/{ns}")).ok();
        assert_eq!(
            link(pid),
            link(init),
            "{ns} namespace of exec {pid} and init {init}"
        );
    }
    assert_eq!(
        read_trim(format!("/proc/{pid}/cgroup")),
        read_trim(format!("/proc/{init}/cgroup")),
        "the container's cgroup"
    );
    // Inside: PID namespace, the container's capabilities, seccomp and limits.
    assert_ne!(
        c.ok(&["exec", "box", "sh", "-c", "echo $$"]),
        pid.to_string()
    );
    assert_eq!(status_of(&c, "box", &[], "CapEff"), DOCKER_CAPS);
    assert_eq!(status_of(&c, "box", &[], "CapBnd"), DOCKER_CAPS);
    assert_eq!(status_of(&c, "box", &[], "Seccomp:"), "2");
    assert_eq!(status_of(&c, "box", &[], "NoNewPrivs"), "0");
    assert_eq!(c.ok(&["exec", "box", "sh", "-c", "ulimit -n"]), "512");
    // A non-root user keeps no effective capability across its exec, as with runc.
    assert_eq!(
        status_of(&c, "box", &["-u", "1000"], "CapEff"),
        "0000000000000000"
    );
    // dockerd 20.10 asks runc for every capability the kernel knows, which fails where this
    // test runs with a smaller bounding set: berthd gives all it can.
    let privileged = c.cmd(&["exec", "--privileged", "box", "true"]);
    if !(is_dockerd() && privileged.stdout.contains("unable to apply caps")) {
        assert_eq!(
            status_of(&c, "box", &["--privileged"], "CapEff"),
            all_caps()
        );
        assert_eq!(
            status_of(&c, "box", &["--privileged"], "CapBnd"),
            all_caps()
        );
        assert_eq!(
            status_of(&c, "box", &["--privileged"], "Seccomp:"),
            "2",
            "seccomp stays"
        );
    }
    c.ok(&[
        "run",
        "-d",
        "--name",
        "nnp",
        "--security-opt",
        "no-new-privileges",
        "busybox",
        "sleep",
        "1000",
    ]);
    assert_eq!(status_of(&c, "nnp", &[], "NoNewPrivs"), "1");
    c.ok(&["rm", "-f", "box", "nnp"]);
}

#[test]
fn exec_terminal_size_resize_and_detach_keys() {
    let d = Daemon::start("exec_tty").with_busybox();
    let c = d.client();
    c.ok(&["run", "-d", "--name", "box", "busybox", "sleep", "1000"]);
    let mut p = c.pty(&["exec", "-it", "box", "sh"], 30, 100);
    p.send(b"stty size; tty\r");
    assert!(p.expect("30 100", T), "initial size: {:?}", p.output);
    assert!(
        p.expect("/dev/pts/", T),
        "a terminal inside: {:?}",
        p.output
    );
    p.resize(45, 132);
    // The client sends the new size when it gets SIGWINCH: ask until the shell sees it.
    let resized = wait_for(T, || {
        p.send(b"stty size\r");
        p.expect("45 132", Duration::from_millis(300)).then_some(())
    });
    assert!(resized.is_some(), "resize: {:?}", p.output);
    p.send(b"exit 5\r");
    let (code, timed_out) = p.wait(T);
    assert!(!timed_out, "{:?}", p.output);
    assert_eq!(code, Some(5), "the exec's exit code: {:?}", p.output);
    // ctrl-p ctrl-q leaves the exec running; so do other keys.
    detach_from_exec(&c, &[], b"\x10\x11", "2001");
    detach_from_exec(&c, &["--detach-keys", "ctrl-x,y"], b"\x18y", "2002");
    c.ok(&["rm", "-f", "box"]);
}

#[test]
fn exec_errors_are_dockers() {
    let d = Daemon::start("exec_errors").with_busybox();
    let c = d.client();
    let cid = c.ok(&["run", "-d", "--name", "box", "busybox", "sleep", "1000"]);
    // Start failures: the message in the stream, exit code 126 (dockerd 20.10's).
    let o = c.cmd(&["exec", "-u", "nosuch", "box", "true"]);
    assert_eq!(o.code(), 126, "{}", o.describe());
    assert_eq!(
        o.stdout,
        "unable to find user nosuch: no matching entries in passwd file\r\n"
    );
    let o = c.cmd(&["exec", "box", "/no/such"]);
    assert_eq!(o.code(), 126, "{}", o.describe());
    assert!(
        o.stdout.starts_with("OCI runtime exec failed: "),
        "{}",
        o.describe()
    );
    assert!(o.stdout.contains("/no/such"), "{}", o.describe());
    let o = c.cmd(&["exec", "-d", "box", "/no/such"]);
    assert_ne!(o.code(), 0, "{}", o.describe());
    assert!(
        o.stderr.contains("OCI runtime exec failed"),
        "{}",
        o.describe()
    );
    // Unknown container and exec.
    let o = c.cmd(&["exec", "nosuch", "true"]);
    assert_ne!(o.code(), 0);
    assert!(
        o.stderr.contains("No such container: nosuch"),
        "{}",
        o.describe()
    );
    for (method, path) in [
        ("GET", "/exec/abc/json"),
        ("POST", "/exec/abc/resize?h=1&w=1"),
    ] {
        let (status, body) = d.http(method, path, None);
        assert_eq!(
            (status, message(&body)),
            (404, "No such exec instance: abc".to_string()),
            "{method} {path}"
        );
    }
    let (status, body) = exec_start_detached(&d, "abc");
    assert_eq!(
        (status, message(&body)),
        (404, "No such exec instance: abc".to_string())
    );
    let (status, body) = d.http("POST", "/containers/box/exec", Some(b"{\"Cmd\":[]}"));
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("No exec command specified"), "{body}");
    // Paused, then stopped.
    c.ok(&["pause", "box"]);
    let o = c.cmd(&["exec", "box", "true"]);
    assert_ne!(o.code(), 0);
    assert!(
        o.stderr
            .contains("Container box is paused, unpause the container before exec"),
        "{}",
        o.describe()
    );
    let (status, body) = d.http(
        "POST",
        "/containers/box/exec",
        Some(b"{\"Cmd\":[\"true\"]}"),
    );
    assert_eq!(status, 409, "{body}");
    c.ok(&["unpause", "box"]);
    let never_started = exec_create(&d, "box", json!({"Cmd": ["true"]}));
    c.ok(&["stop", "-t", "0", "box"]);
    let o = c.cmd(&["exec", "box", "true"]);
    assert_ne!(o.code(), 0);
    assert!(
        o.stderr
            .contains(&format!("Container {cid} is not running")),
        "{}",
        o.describe()
    );
    let (status, body) = d.http(
        "POST",
        "/containers/box/exec",
        Some(b"{\"Cmd\":[\"true\"]}"),
    );
    assert_eq!(
        (status, message(&body)),
        (409, format!("Container {cid} is not running"))
    );
    // An exec never started goes with its container's stop.
    let (status, _) = exec_start_detached(&d, &never_started);
    assert_eq!(status, 404);
    c.ok(&["rm", "box"]);
}

#[test]
fn execs_end_with_their_container_and_leave_nothing() {
    let d = Daemon::start("exec_end").with_busybox();
    let c = d.client();
    let cid = c.ok(&["run", "-d", "--name", "box", "busybox", "sleep", "1000"]);
    let shim = parent_pid(c.pid_of("box")).unwrap_or(0);
    for _ in 0..5 {
        c.ok(&["exec", "box", "true"]);
    }
    let (id, pid) = exec_detached(&d, "box", &["sleep", "1000"]);
    assert!(exec_ids(&c, "box").contains(&id));
    c.ok(&["stop", "-t", "1", "box"]);
    assert!(!pid_alive(pid), "exec {pid} outlived its container");
    let v = exec_inspect(&d, &id);
    assert_eq!(
        (&v["Running"], &v["ExitCode"]),
        (&json!(false), &json!(137))
    );
    if !is_dockerd() {
        // The shim is the exec's subreaper; it went with the stop, and left no exec file.
        assert!(!pid_alive(shim), "shim {shim} left");
        let left: Vec<_> = paths_naming(&d.exec_root, "exec-");
        assert!(left.is_empty(), "exec files left: {left:?}");
    }
    c.ok(&["rm", "box"]);
    assert_eq!(
        d.http("GET", &format!("/exec/{id}/json"), None).0,
        404,
        "an exec goes with its container"
    );
    assert!(
        !pids_naming(&cid).into_iter().any(pid_alive),
        "a process names {cid}"
    );
}

/// berthd forgets execs when it restarts, as dockerd does; their processes run on in the
/// container (berthd's containers always outlive it), and new execs work.
#[test]
fn a_restarted_daemon_forgets_execs_but_not_their_processes() {
    if is_dockerd() {
        return;
    }
    let mut d = Daemon::start("exec_restart").with_busybox();
    d.client()
        .ok(&["run", "-d", "--name", "box", "busybox", "sleep", "1000"]);
    let (id, pid) = exec_detached(&d, "box", &["sleep", "1000"]);
    d.kill9();
    d.restart();
    assert!(pid_alive(pid), "the exec's process died with the daemon");
    assert_eq!(d.http("GET", &format!("/exec/{id}/json"), None).0, 404);
    assert_eq!(exec_ids(&d.client(), "box"), Vec::<String>::new());
    assert_eq!(d.client().ok(&["exec", "box", "echo", "again"]), "again");
    d.client().ok(&["rm", "-f", "box"]);
    assert!(!pid_alive(pid), "the exec's process outlived its container");
}
