//! Containers through their life: run, create/start, attach, signals, pause, restart, rename,
//! wait, inspect, ps, logs, prune.

use crate::common::*;
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

#[test]
fn run_rm_echo_prints_and_exits_zero() {
    let d = Daemon::start("run_echo").with_busybox();
    let o = d
        .client()
        .cmd(&["run", "--rm", "busybox", "echo", "hello", "world"]);
    o.assert_ok();
    assert_eq!(o.stdout, "hello world\n", "{}", o.describe());
}

#[test]
fn exit_code_propagates() {
    let d = Daemon::start("exit_code").with_busybox();
    let c = d.client();
    assert_eq!(
        c.cmd(&["run", "--rm", "busybox", "sh", "-c", "exit 3"])
            .code(),
        3
    );
    assert_eq!(c.cmd(&["run", "--rm", "busybox", "false"]).code(), 1);
    // A command that does not exist: Docker's 127.
    let o = c.cmd(&["run", "--rm", "busybox", "/no/such/binary"]);
    assert_eq!(o.code(), 127, "{}", o.describe());
}

#[test]
fn run_options_env_workdir_user_entrypoint_hostname() {
    let d = Daemon::start("run_opts").with_busybox();
    let c = d.client();
    let env_file = d.base.join("env.list");
    std::fs::write(&env_file, "FROM_FILE=file-value\n# a comment\nSECOND=2\n").unwrap();
    let o = c.cmd(&[
        "run",
        "--rm",
        "-e",
        "FOO=bar",
        "--env-file",
        env_file.to_str().unwrap(),
        "busybox",
        "sh",
        "-c",
        "echo $FOO $FROM_FILE $SECOND",
    ]);
    o.assert_ok();
    assert_eq!(o.stdout, "bar file-value 2\n", "{}", o.describe());

    let o = c.cmd(&["run", "--rm", "-w", "/tmp/made/here", "busybox", "pwd"]);
    o.assert_ok();
    assert_eq!(
        o.stdout,
        "/tmp/made/here\n",
        "-w creates and enters the dir: {}",
        o.describe()
    );

    let o = c.cmd(&["run", "--rm", "-u", "1000:1000", "busybox", "id"]);
    o.assert_ok();
    assert!(
        o.stdout.starts_with("uid=1000(e2e) gid=1000(e2e)"),
        "{}",
        o.describe()
    );
    let o = c.cmd(&["run", "--rm", "-u", "e2e", "busybox", "id", "-u"]);
    assert_eq!(
        o.trimmed(),
        "1000",
        "-u NAME from /etc/passwd: {}",
        o.describe()
    );
    let o = c.cmd(&[
        "run",
        "--rm",
        "-u",
        "nobody",
        "busybox",
        "sh",
        "-c",
        "touch /root/x",
    ]);
    assert_ne!(o.code(), 0, "nobody may not write /root: {}", o.describe());

    let o = c.cmd(&[
        "run",
        "--rm",
        "--entrypoint",
        "echo",
        "busybox",
        "from",
        "entrypoint",
    ]);
    assert_eq!(o.stdout, "from entrypoint\n", "{}", o.describe());

    let o = c.cmd(&[
        "run",
        "--rm",
        "-h",
        "box-e2e",
        "busybox",
        "sh",
        "-c",
        "hostname; cat /etc/hostname",
    ]);
    assert_eq!(o.stdout, "box-e2e\nbox-e2e\n", "{}", o.describe());
}

#[test]
fn detached_container_ps_logs_stop_rm() {
    let d = Daemon::start("detached").with_busybox();
    let c = d.client();
    let id = c.ok(&[
        "run",
        "-d",
        "--name",
        "sleeper",
        "busybox",
        "sh",
        "-c",
        "echo started; exec sleep 1000",
    ]);
    assert!(
        id.len() == 64 && id.chars().all(|ch| ch.is_ascii_hexdigit()),
        "run -d prints the id: {id:?}"
    );
    let ps = c.ok(&["ps", "--format", "{{.Names}} {{.Status}}"]);
    assert!(ps.starts_with("sleeper Up"), "ps: {ps:?}");
    let logs = wait_for(T, || {
        let o = c.cmd(&["logs", "sleeper"]);
        (o.stdout == "started\n").then_some(o)
    });
    assert!(
        logs.is_some(),
        "logs: {}",
        c.cmd(&["logs", "sleeper"]).describe()
    );
    let pid = c.pid_of("sleeper");
    assert!(pid_alive(pid));
    c.ok(&["stop", "-t", "1", "sleeper"]);
    let code = c.inspect("sleeper", "{{.State.ExitCode}}");
    // sleep as PID 1 ignores SIGTERM: killed after the timeout.
    assert!(
        code == "137" || code == "143",
        "exit code after stop: {code}"
    );
    assert_eq!(c.inspect("sleeper", "{{.State.Status}}"), "exited");
    assert!(!pid_alive(pid), "init {pid} still alive after stop");
    c.ok(&["rm", "sleeper"]);
    assert!(c.ok(&["ps", "-aq"]).is_empty());
    let o = c.cmd(&["inspect", "sleeper"]);
    o.assert_fail();
    assert!(
        o.stderr.to_lowercase().contains("no such"),
        "{}",
        o.describe()
    );
}

#[test]
fn create_then_start_attached() {
    let d = Daemon::start("create_start").with_busybox();
    let c = d.client();
    let id = c.ok(&[
        "create",
        "--name",
        "later",
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 5",
    ]);
    assert_eq!(c.inspect(&id, "{{.State.Status}}"), "created");
    let o = c.cmd(&["start", "-a", "later"]);
    assert_eq!(o.code(), 5, "{}", o.describe());
    assert_eq!(o.stdout, "out\n", "{}", o.describe());
    assert_eq!(o.stderr, "err\n", "{}", o.describe());
    assert_eq!(c.inspect("later", "{{.State.ExitCode}}"), "5");
}

#[test]
fn stdin_is_piped_with_i() {
    let d = Daemon::start("stdin").with_busybox();
    let o = d.client().cmd_stdin(
        &[
            "run",
            "--rm",
            "-i",
            "busybox",
            "sh",
            "-c",
            "tr a-z A-Z; echo done",
        ],
        b"piped text\n",
    );
    o.assert_ok();
    assert_eq!(o.stdout, "PIPED TEXT\ndone\n", "{}", o.describe());
}

#[test]
fn tty_has_the_clients_size() {
    let d = Daemon::start("tty").with_busybox();
    let mut p = d.client().pty(&["run", "--rm", "-t", "busybox", "sh", "-c",
        // The client sets the size right after start: wait until it is there.
        "for i in $(seq 100); do s=$(stty size 2>/dev/null); [ \"$s\" != '' ] && [ \"$s\" != '0 0' ] && break; sleep 0.05; done; echo size=$s; tty"], 37, 101);
    let (code, _) = p.wait(T);
    assert_eq!(code, Some(0), "output: {:?}", p.output);
    assert!(
        p.output.contains("size=37 101"),
        "stty size inside: {:?}",
        p.output
    );
    assert!(p.output.contains("/dev/pts/"), "tty inside: {:?}", p.output);
}

#[test]
fn attach_then_detach_with_ctrl_p_ctrl_q() {
    let d = Daemon::start("attach").with_busybox();
    let c = d.client();
    c.ok(&["run", "-dit", "--name", "shell", "busybox", "sh"]);
    let mut p = c.pty(&["attach", "shell"], 24, 80);
    p.send(b"echo attached-$((6*7))\r");
    assert!(
        p.expect("attached-42", T),
        "no echo through attach: {:?}",
        p.output
    );
    p.send(b"\x10\x11");
    let (code, timed_out) = p.wait(T);
    assert!(
        !timed_out,
        "attach did not detach on ctrl-p ctrl-q: {:?}",
        p.output
    );
    // docker CLI 28 reports the detach as "read escape sequence" with status 1.
    assert!(
        code == Some(0) || p.output.contains("read escape sequence"),
        "attach after detach: {code:?} {:?}",
        p.output
    );
    assert_eq!(
        c.inspect("shell", "{{.State.Status}}"),
        "running",
        "detach must not stop it"
    );
    // Attach again: the same shell is there.
    let mut p = c.pty(&["attach", "shell"], 24, 80);
    p.send(b"echo again-$((1+1))\r");
    assert!(p.expect("again-2", T), "second attach: {:?}", p.output);
    p.send(b"exit\r");
    p.wait(T);
    c.wait_status("shell", "exited");
}

#[test]
fn kill_with_a_signal_reaches_the_trap() {
    let d = Daemon::start("kill_sig").with_busybox();
    let c = d.client();
    c.ok(&[
        "run",
        "-d",
        "--name",
        "trapper",
        "busybox",
        "sh",
        "-c",
        "trap 'echo got-usr1' USR1; echo ready; while true; do sleep 0.1; done",
    ]);
    assert!(
        wait_for(T, || c
            .cmd(&["logs", "trapper"])
            .stdout
            .contains("ready")
            .then_some(()))
        .is_some()
    );
    c.ok(&["kill", "-s", "USR1", "trapper"]);
    let seen = wait_for(T, || {
        c.cmd(&["logs", "trapper"])
            .stdout
            .contains("got-usr1")
            .then_some(())
    });
    assert!(
        seen.is_some(),
        "trap output: {}",
        c.cmd(&["logs", "trapper"]).describe()
    );
    assert_eq!(c.inspect("trapper", "{{.State.Status}}"), "running");
    c.ok(&["kill", "trapper"]);
    c.wait_status("trapper", "exited");
    assert_eq!(c.inspect("trapper", "{{.State.ExitCode}}"), "137");
}

fn frozen(pid: i32) -> bool {
    if is_cgroup_v2() {
        std::fs::read_to_string(cgroup_dir(pid, "").join("cgroup.events"))
            .unwrap_or_default()
            .lines()
            .any(|l| l == "frozen 1")
    } else {
        read_trim(cgroup_dir(pid, "freezer").join("freezer.state")) == "FROZEN"
    }
}

#[test]
fn pause_and_unpause() {
    let d = Daemon::start("pause").with_busybox();
    let c = d.client();
    c.ok(&["run", "-d", "--name", "pz", "busybox", "sleep", "1000"]);
    let pid = c.pid_of("pz");
    c.ok(&["pause", "pz"]);
    assert_eq!(c.inspect("pz", "{{.State.Status}}"), "paused");
    assert!(
        c.ok(&["ps", "--format", "{{.Status}}"])
            .contains("(Paused)")
    );
    assert!(frozen(pid), "freezer of {pid} after pause");
    c.ok(&["unpause", "pz"]);
    assert_eq!(c.inspect("pz", "{{.State.Status}}"), "running");
    assert!(!frozen(pid), "freezer of {pid} after unpause");
    c.ok(&["rm", "-f", "pz"]);
}

#[test]
fn restart_rename_and_wait() {
    let d = Daemon::start("restart").with_busybox();
    let c = d.client();
    c.ok(&[
        "run",
        "-d",
        "--name",
        "r1",
        "busybox",
        "sh",
        "-c",
        "echo boot; exec sleep 1000",
    ]);
    let pid1 = c.pid_of("r1");
    c.ok(&["restart", "-t", "1", "r1"]);
    let pid2 = c.pid_of("r1");
    assert_ne!(pid1, pid2, "restart gives a new init");
    assert!(!pid_alive(pid1));
    assert_eq!(c.inspect("r1", "{{.State.Status}}"), "running");
    let two = wait_for(T, || {
        (c.cmd(&["logs", "r1"]).stdout == "boot\nboot\n").then_some(())
    });
    assert!(
        two.is_some(),
        "both boots logged: {}",
        c.cmd(&["logs", "r1"]).describe()
    );

    c.ok(&["rename", "r1", "r2"]);
    assert_eq!(c.inspect("r2", "{{.Name}}"), "/r2");
    c.cmd(&["inspect", "r1"]).assert_fail();
    c.ok(&["run", "-d", "--name", "other", "busybox", "sleep", "1000"]);
    let o = c.cmd(&["rename", "other", "r2"]);
    o.assert_fail();
    assert!(
        o.stderr.contains("already in use") || o.stderr.contains("onflict"),
        "{}",
        o.describe()
    );

    c.ok(&[
        "run",
        "-d",
        "--name",
        "waiter",
        "busybox",
        "sh",
        "-c",
        "sleep 1; exit 9",
    ]);
    let o = c.cmd(&["wait", "waiter"]);
    o.assert_ok();
    assert_eq!(o.trimmed(), "9", "{}", o.describe());
}

#[test]
fn inspect_templates() {
    let d = Daemon::start("inspect").with_busybox();
    let c = d.client();
    let id = c.ok(&[
        "create", "--name", "insp", "-e", "A=1", "-l", "team=e2e", "-w", "/tmp", "busybox", "echo",
        "x",
    ]);
    assert_eq!(c.inspect("insp", "{{.Id}}"), id);
    assert_eq!(c.inspect("insp", "{{.Name}}"), "/insp");
    assert_eq!(c.inspect("insp", "{{.Config.Image}}"), "busybox");
    assert_eq!(c.inspect("insp", "{{.Config.WorkingDir}}"), "/tmp");
    assert_eq!(
        c.inspect("insp", "{{index .Config.Labels \"team\"}}"),
        "e2e"
    );
    assert_eq!(
        c.inspect("insp", "{{json .Config.Cmd}}"),
        "[\"echo\",\"x\"]"
    );
    assert!(
        c.inspect("insp", "{{range .Config.Env}}{{.}},{{end}}")
            .contains("A=1,")
    );
    assert_eq!(
        c.inspect("insp", "{{.State.Running}} {{.State.Status}}"),
        "false created"
    );
    let json: serde_json::Value = serde_json::from_str(&c.ok(&["inspect", "insp"])).unwrap();
    assert_eq!(json[0]["Id"], serde_json::Value::String(id.clone()));
    assert!(
        json[0]["Image"]
            .as_str()
            .is_some_and(|s| s.starts_with("sha256:")),
        "{json}"
    );
}

#[test]
fn ps_all_quiet_filter_format() {
    let d = Daemon::start("ps").with_busybox();
    let c = d.client();
    let up = c.ok(&[
        "run", "-d", "--name", "up1", "-l", "role=web", "busybox", "sleep", "1000",
    ]);
    c.ok(&[
        "run", "--name", "done1", "-l", "role=job", "busybox", "true",
    ]);
    let created = c.ok(&["create", "--name", "new1", "busybox", "true"]);
    assert_eq!(c.ok(&["ps", "-q"]), up[..12]);
    let all = c.ok(&["ps", "-aq", "--no-trunc"]);
    assert_eq!(all.lines().count(), 3, "{all}");
    assert!(all.contains(&created));
    let names = |args: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = c.ok(args).lines().map(|s| s.to_string()).collect();
        v.sort();
        v
    };
    assert_eq!(
        names(&[
            "ps",
            "-a",
            "--filter",
            "status=exited",
            "--format",
            "{{.Names}}"
        ]),
        ["done1"]
    );
    assert_eq!(
        names(&[
            "ps",
            "-a",
            "--filter",
            "status=created",
            "--format",
            "{{.Names}}"
        ]),
        ["new1"]
    );
    assert_eq!(
        names(&[
            "ps",
            "-a",
            "--filter",
            "label=role=web",
            "--format",
            "{{.Names}}"
        ]),
        ["up1"]
    );
    assert_eq!(
        names(&[
            "ps",
            "-a",
            "--filter",
            "name=done",
            "--format",
            "{{.Names}}"
        ]),
        ["done1"]
    );
    assert_eq!(
        names(&["ps", "-a", "--filter", "exited=0", "--format", "{{.Names}}"]),
        ["done1"]
    );
    assert_eq!(
        names(&["ps", "-a", "--format", "{{.Names}}"]),
        ["done1", "new1", "up1"]
    );
    assert_eq!(
        c.ok(&["ps", "-a", "-n", "1", "--format", "{{.Names}}"]),
        "new1",
        "-n 1 is the newest"
    );
    let table = c.ok(&["ps", "-a"]);
    let header = table.lines().next().unwrap_or("");
    for col in [
        "CONTAINER ID",
        "IMAGE",
        "COMMAND",
        "CREATED",
        "STATUS",
        "PORTS",
        "NAMES",
    ] {
        assert!(header.contains(col), "ps header {header:?} lacks {col}");
    }
    let status = c.ok(&[
        "ps",
        "-a",
        "--filter",
        "name=done1",
        "--format",
        "{{.Status}}",
    ]);
    assert!(status.starts_with("Exited (0)"), "{status}");
}

#[test]
fn logs_tail_timestamps_since_follow() {
    let d = Daemon::start("logs").with_busybox();
    let c = d.client();
    c.ok(&[
        "run",
        "--name",
        "lines",
        "busybox",
        "sh",
        "-c",
        "for i in 1 2 3 4 5; do echo line$i; done",
    ]);
    c.ok(&[
        "run",
        "--name",
        "errs",
        "busybox",
        "sh",
        "-c",
        "echo oops >&2",
    ]);
    let o = c.cmd(&["logs", "lines"]);
    assert_eq!(
        o.stdout,
        "line1\nline2\nline3\nline4\nline5\n",
        "{}",
        o.describe()
    );
    let o = c.cmd(&["logs", "errs"]);
    assert_eq!(
        (o.stdout.as_str(), o.stderr.as_str()),
        ("", "oops\n"),
        "stderr stays stderr: {}",
        o.describe()
    );
    let o = c.cmd(&["logs", "--tail", "2", "lines"]);
    assert_eq!(o.stdout, "line4\nline5\n", "{}", o.describe());
    let o = c.cmd(&["logs", "-t", "lines"]);
    let first = o.stdout.lines().next().unwrap_or("");
    let (ts, rest) = first.split_once(' ').unwrap_or(("", ""));
    assert_eq!(rest, "line1");
    assert!(
        ts.len() > 20 && ts.ends_with('Z') && ts.contains('T'),
        "RFC 3339 nano timestamp: {ts:?}"
    );
    let o = c.cmd(&["logs", "--since", "2099-01-01T00:00:00Z", "lines"]);
    assert_eq!(o.stdout, "", "{}", o.describe());
    let o = c.cmd(&["logs", "--since", "2000-01-01T00:00:00Z", "lines"]);
    assert_eq!(o.stdout.lines().count(), 5);

    c.ok(&[
        "run",
        "-d",
        "--name",
        "ticker",
        "busybox",
        "sh",
        "-c",
        "echo tick1; sleep 2; echo tick2; sleep 1000",
    ]);
    let mut follow = c.command();
    follow.args(["logs", "-f", "ticker"]);
    follow
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    let mut child = follow.spawn().unwrap();
    let mut out = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        use std::io::Read;
        let mut s = String::new();
        let mut buf = [0u8; 256];
        while !s.contains("tick2") {
            match out.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => s.push_str(&String::from_utf8_lossy(&buf[..n])),
            }
        }
        s
    });
    let got = wait_for(T, || reader.is_finished().then_some(()));
    let _ = child.kill();
    let _ = child.wait();
    assert!(got.is_some(), "logs -f never showed tick2");
    assert_eq!(reader.join().unwrap(), "tick1\ntick2\n");
}

#[test]
fn container_prune_removes_only_stopped() {
    let d = Daemon::start("prune").with_busybox();
    let c = d.client();
    c.ok(&["run", "-d", "--name", "keep", "busybox", "sleep", "1000"]);
    c.ok(&["run", "--name", "gone1", "busybox", "true"]);
    c.ok(&["create", "--name", "gone2", "busybox", "true"]);
    let o = c.cmd(&["container", "prune", "-f"]);
    o.assert_ok();
    assert!(
        o.stdout.contains("Total reclaimed space"),
        "{}",
        o.describe()
    );
    assert_eq!(c.ok(&["ps", "-a", "--format", "{{.Names}}"]), "keep");
}

/// `stop -t 0` kills at once: the container is exited (137) with nothing of it left running, and
/// it starts again.
#[test]
fn stop_with_no_grace_kills_and_the_container_starts_again() {
    let d = Daemon::start("stop-t0").with_busybox();
    let c = d.client();
    c.ok(&["run", "-d", "--name", "t0", "busybox", "sleep", "1000"]);
    let pid = c.pid_of("t0");
    c.ok(&["stop", "-t", "0", "t0"]);
    assert_eq!(
        c.inspect("t0", "{{.State.Status}} {{.State.ExitCode}}"),
        "exited 137"
    );
    assert!(
        !pid_alive(pid),
        "the container's process survived stop -t 0"
    );
    c.ok(&["start", "t0"]);
    assert_eq!(c.inspect("t0", "{{.State.Status}}"), "running");
    c.ok(&["rm", "-f", "t0"]);
}
