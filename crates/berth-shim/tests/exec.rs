//! exec: more processes in the running container, through the shim that monitors it: their
//! stream, stdin, terminal, namespaces, exit, and what is left when they or the container end.

mod common;

use berth_shim_protocol::{ErrorKind, ExecState, Request, Response};
use common::*;
use serde_json::{Value, json};
use std::io::Write;
use std::net::Shutdown;
use std::path::{Path, PathBuf};

/// The container's process with other args (and `terminal`), written where the shim can read it.
fn process_file(spot: &Spot, config: &Value, name: &str, args: &[&str], tty: bool) -> PathBuf {
    let mut process = config["process"].clone();
    process["args"] = json!(args);
    process["terminal"] = json!(tty);
    let path = spot.bundle.join(format!("{name}.json"));
    std::fs::write(&path, serde_json::to_vec(&process).unwrap()).unwrap();
    path
}

fn exec_request(id: &str, process: &Path, tty: bool, stdin: bool, streams: bool) -> Request {
    Request::Exec {
        exec_id: id.into(),
        process: process.display().to_string(),
        tty,
        stdin,
        stdout: streams,
        stderr: streams,
    }
}

#[track_caller]
fn started(r: Response) -> i32 {
    match r {
        Response::ExecStarted { pid } => pid,
        other => panic!("exec: {other:?}"),
    }
}

#[track_caller]
fn exec_state(shim: &Shim, id: &str) -> ExecState {
    match shim
        .client()
        .call(&Request::ExecState { exec_id: id.into() })
    {
        Response::ExecState(s) => s,
        other => panic!("exec_state {id}: {other:?}"),
    }
}

/// Exec files the shim makes for itself (console sockets, pid files) that must not outlive it.
fn exec_leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("exec-"))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn exec_streams_output_and_reports_its_exit_once() {
    require_root!();
    let env = TestEnv::new("exec");
    let config = env.config(&["sleep", "1000"]);
    let spot = env.spot(&config);
    let shim = env.spawn_ok(&spot, &[]);
    shim.ok(Request::Start);
    let p = process_file(
        &spot,
        &config,
        "p1",
        &["sh", "-c", "echo out; echo err >&2; exit 3"],
        false,
    );
    let mut c = shim.client();
    let pid = started(c.call(&exec_request("e1", &p, false, false, true)));
    assert!(pid > 0 && pid != shim.init_pid);
    let (out, err) = c.read_frames_until(|_, _| false);
    assert_eq!(
        (out.as_str(), err.as_str()),
        ("out\n", "err\n"),
        "the whole stream, then its end"
    );
    let state = exec_state(&shim, "e1");
    assert!(!state.running, "{state:?}");
    assert_eq!(state.pid, pid);
    assert_eq!(state.exit.as_ref().map(|e| e.exit_code), Some(3));
    // Answered once, then forgotten.
    let again = shim.client().call(&Request::ExecState {
        exec_id: "e1".into(),
    });
    assert!(
        matches!(
            again,
            Response::Error {
                kind: ErrorKind::NotFound,
                ..
            }
        ),
        "{again:?}"
    );
    // The container's log does not get an exec's output.
    let lines = log_lines(&spot.log);
    assert!(lines.is_empty(), "{lines:?}");
    assert!(
        exec_leftovers(&spot.state_dir).is_empty(),
        "{:?}",
        exec_leftovers(&spot.state_dir)
    );
    shim.ok(Request::Kill {
        signal: libc::SIGKILL,
        all: false,
    });
    shim.wait();
    shim.delete();
    env.assert_nothing_left(&spot);
}

#[test]
fn exec_stdin_and_the_containers_namespaces() {
    require_root!();
    let env = TestEnv::new("exec-ns");
    let config = env.config(&["sleep", "1000"]);
    let spot = env.spot(&config);
    let shim = env.spawn_ok(&spot, &[]);
    shim.ok(Request::Start);
    let p = process_file(
        &spot,
        &config,
        "cat",
        &["sh", "-c", "read line; echo got:$line; exec sleep 1000"],
        false,
    );
    let mut c = shim.client();
    let pid = started(c.call(&exec_request("cat", &p, false, true, true)));
    c.stream.write_all(b"hello\n").unwrap();
    let (out, _) = c.read_frames_until(|o, _| o.contains("got:hello"));
    assert_eq!(out, "got:hello\n");
    for ns in ["pid", "mnt", "net", "ipc", "uts", "cgroup", "user"] {
        let link = |p: i32| std::fs::read_link(format!("/proc/{p}/ns/{ns}")).unwrap();
        assert_eq!(link(pid), link(shim.init_pid), "{ns} namespace of the exec");
    }
    let cgroup = |p: i32| std::fs::read_to_string(format!("/proc/{p}/cgroup")).unwrap();
    assert_eq!(cgroup(pid), cgroup(shim.init_pid), "the container's cgroup");
    assert!(exec_state(&shim, "cat").running);
    // The container ends: so does the exec, and its exit is there before the container's.
    shim.ok(Request::Kill {
        signal: libc::SIGKILL,
        all: false,
    });
    shim.wait();
    let state = exec_state(&shim, "cat");
    assert_eq!(
        state.exit.map(|e| e.exit_code),
        Some(137),
        "killed with its container"
    );
    c.stream.shutdown(Shutdown::Write).unwrap();
    shim.delete();
    env.assert_nothing_left(&spot);
}

#[test]
fn exec_with_a_terminal_and_resize() {
    require_root!();
    let env = TestEnv::new("exec-tty");
    let config = env.config(&["sleep", "1000"]);
    let spot = env.spot(&config);
    let shim = env.spawn_ok(&spot, &[]);
    shim.ok(Request::Start);
    let p = process_file(
        &spot,
        &config,
        "tty",
        &["sh", "-c", "read x; stty size; exit 4"],
        true,
    );
    let mut c = shim.client();
    started(c.call(&exec_request("t1", &p, true, true, true)));
    shim.ok(Request::Resize {
        rows: 33,
        cols: 77,
        exec_id: Some("t1".into()),
    });
    c.stream.write_all(b"go\r").unwrap();
    let text = c.read_raw_until(|_| false);
    assert!(text.contains("33 77\r\n"), "raw terminal output: {text:?}");
    assert_eq!(exec_state(&shim, "t1").exit.map(|e| e.exit_code), Some(4));
    // A resize of the container itself is refused: it has no terminal.
    let r = shim.client().call(&Request::Resize {
        rows: 1,
        cols: 1,
        exec_id: None,
    });
    assert!(
        matches!(
            r,
            Response::Error {
                kind: ErrorKind::NotSupported,
                ..
            }
        ),
        "{r:?}"
    );
    assert!(
        exec_leftovers(&spot.state_dir).is_empty(),
        "{:?}",
        exec_leftovers(&spot.state_dir)
    );
    shim.ok(Request::Kill {
        signal: libc::SIGKILL,
        all: false,
    });
    shim.wait();
    shim.delete();
    env.assert_nothing_left(&spot);
}

#[test]
fn detached_exec_and_refusals() {
    require_root!();
    let env = TestEnv::new("exec-refused");
    let config = env.config(&["sleep", "1000"]);
    let spot = env.spot(&config);
    let shim = env.spawn_ok(&spot, &[]);
    let p = process_file(&spot, &config, "true", &["true"], false);
    // Not started yet.
    let r = shim
        .client()
        .call(&exec_request("early", &p, false, false, false));
    assert!(
        matches!(
            r,
            Response::Error {
                kind: ErrorKind::WrongState,
                ..
            }
        ),
        "{r:?}"
    );
    shim.ok(Request::Start);
    // Detached: the connection stays a control connection.
    let mut c = shim.client();
    started(c.call(&exec_request("d1", &p, false, false, false)));
    let gone = wait_for(TIMEOUT, || (!exec_state_peek(&shim, "d1")).then_some(()));
    assert!(gone.is_some(), "the detached exec never ended");
    assert!(matches!(c.call(&Request::State), Response::State(_)));
    // A name taken, a relative path, a program that is not there.
    started(
        shim.client()
            .call(&exec_request("dup", &p, false, false, false)),
    );
    let r = shim
        .client()
        .call(&exec_request("dup", &p, false, false, false));
    assert!(
        matches!(
            r,
            Response::Error {
                kind: ErrorKind::BadRequest,
                ..
            }
        ),
        "{r:?}"
    );
    let r = shim.client().call(&exec_request(
        "rel",
        Path::new("p.json"),
        false,
        false,
        false,
    ));
    assert!(
        matches!(
            r,
            Response::Error {
                kind: ErrorKind::BadRequest,
                ..
            }
        ),
        "{r:?}"
    );
    let missing = process_file(&spot, &config, "missing", &["/no/such/program"], false);
    let r = shim
        .client()
        .call(&exec_request("m", &missing, false, false, true));
    match r {
        Response::Error {
            kind: ErrorKind::Failed,
            message,
        } => {
            assert!(message.contains("/no/such/program"), "{message}")
        }
        other => panic!("missing program: {other:?}"),
    }
    let r = shim.client().call(&Request::ExecState {
        exec_id: "m".into(),
    });
    assert!(
        matches!(
            r,
            Response::Error {
                kind: ErrorKind::NotFound,
                ..
            }
        ),
        "{r:?}"
    );
    assert!(
        exec_leftovers(&spot.state_dir).is_empty(),
        "{:?}",
        exec_leftovers(&spot.state_dir)
    );
    shim.ok(Request::Kill {
        signal: libc::SIGKILL,
        all: false,
    });
    shim.wait();
    let r = shim
        .client()
        .call(&exec_request("late", &p, false, false, false));
    assert!(
        matches!(
            r,
            Response::Error {
                kind: ErrorKind::WrongState,
                ..
            }
        ),
        "{r:?}"
    );
    shim.delete();
    env.assert_nothing_left(&spot);
}

/// True while the exec runs; its exit is consumed once it has one.
fn exec_state_peek(shim: &Shim, id: &str) -> bool {
    exec_state(shim, id).running
}

#[test]
fn exec_through_runc() {
    require_root!();
    if !Path::new("/usr/sbin/runc").exists() {
        eprintln!("SKIP: no /usr/sbin/runc");
        return;
    }
    let env = TestEnv::new("exec-runc");
    let config = env.config(&["sleep", "1000"]);
    let spot = env.spot(&config);
    let shim = env.spawn_ok(&spot, &["--runtime", "/usr/sbin/runc"]);
    shim.ok(Request::Start);
    let p = process_file(
        &spot,
        &config,
        "p",
        &["sh", "-c", "echo via-runc; exit 5"],
        false,
    );
    let mut c = shim.client();
    let pid = started(c.call(&exec_request("r1", &p, false, false, true)));
    assert!(pid > 0);
    let (out, _) = c.read_frames_until(|_, _| false);
    assert_eq!(out, "via-runc\n");
    assert_eq!(exec_state(&shim, "r1").exit.map(|e| e.exit_code), Some(5));
    let missing = process_file(&spot, &config, "missing", &["/no/such/program"], false);
    let r = shim
        .client()
        .call(&exec_request("m", &missing, false, false, true));
    assert!(
        matches!(
            r,
            Response::Error {
                kind: ErrorKind::Failed,
                ..
            }
        ),
        "{r:?}"
    );
    assert!(
        exec_leftovers(&spot.state_dir).is_empty(),
        "{:?}",
        exec_leftovers(&spot.state_dir)
    );
    shim.ok(Request::Kill {
        signal: libc::SIGKILL,
        all: true,
    });
    shim.wait();
    shim.delete();
    env.assert_nothing_left(&spot);
}
