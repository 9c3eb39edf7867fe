//! A container's life through its shim: create, start, output in the log, wait, exit.json, delete.

mod common;

use berth_shim_protocol::{Request, Response, Status};
use common::*;

#[test]
fn logs_both_streams_then_delete_leaves_nothing() {
    require_root!();
    let env = TestEnv::new("logs");
    let spot = env.spot(&env.config(&[
        "sh",
        "-c",
        "echo out1; echo err1 >&2; printf 'a<b>&\"c\\n'; echo out2",
    ]));
    let shim = env.spawn_ok(&spot, &[]);
    assert!(pid_alive(shim.shim_pid) && pid_alive(shim.init_pid));
    let state = shim.state();
    assert_eq!(state.status, Status::Created);
    assert_eq!(state.init_pid, shim.init_pid);
    assert!(state.pids.contains(&shim.init_pid), "{state:?}");
    shim.ok(Request::Start);
    let exit = shim.wait();
    assert_eq!(
        (exit.exit_code, exit.signal, exit.shim_lost),
        (0, None, false)
    );
    assert!(exit.started_at.is_some());
    assert_eq!(shim.exit_file(), exit, "exit.json holds what wait answered");
    let lines = log_lines(&spot.log);
    let want = [
        ("stdout", "out1\n"),
        ("stderr", "err1\n"),
        ("stdout", "a<b>&\"c\n"),
        ("stdout", "out2\n"),
    ];
    let stdout: Vec<_> = lines
        .iter()
        .filter(|(s, _)| s == "stdout")
        .cloned()
        .collect();
    let want_out: Vec<_> = want
        .iter()
        .filter(|(s, _)| *s == "stdout")
        .map(|(s, l)| (s.to_string(), l.to_string()))
        .collect();
    assert_eq!(stdout, want_out, "stdout entries in order");
    assert!(
        lines.contains(&("stderr".into(), "err1\n".into())),
        "{lines:?}"
    );
    // Docker's own bytes: HTML characters escaped, RFC3339Nano UTC time.
    let raw = std::fs::read_to_string(&spot.log).unwrap();
    assert!(
        raw.contains(r#"{"log":"a\u003cb\u003e\u0026\"c\n","stream":"stdout","time":""#),
        "{raw}"
    );
    for e in log_entries(&spot.log) {
        let t = e["time"].as_str().unwrap();
        assert!(
            t.starts_with("20") && t.ends_with('Z') && t.len() <= 30 && t.as_bytes()[10] == b'T',
            "{t}"
        );
    }
    let state = shim.state();
    assert_eq!((state.status, state.pids.len()), (Status::Stopped, 0));
    assert_eq!(state.exit, Some(exit));
    shim.delete();
    env.assert_nothing_left(&spot);
    assert!(
        spot.state_dir.join("exit.json").exists(),
        "exit.json stays for a restarted daemon"
    );
    assert!(spot.log.exists(), "the log stays for docker logs");
}

#[test]
fn kill_term_and_kill_report_the_signal() {
    require_root!();
    let env = TestEnv::new("kill");
    // Without a PID namespace of its own, sleep is no namespace init and SIGTERM kills it.
    let mut config = env.config(&["sleep", "1000"]);
    remove_ns(&mut config, "pid");
    let term = env.spot(&config);
    let kill = env.spot(&env.config(&["sleep", "1000"]));
    for (spot, signal) in [(&term, libc::SIGTERM), (&kill, libc::SIGKILL)] {
        let shim = env.spawn_ok(spot, &[]);
        shim.ok(Request::Start);
        assert_eq!(shim.state().status, Status::Running);
        // A client waiting before the kill is answered at the exit.
        let mut waiter = shim.client();
        waiter.send(&Request::Wait);
        shim.ok(Request::Kill { signal, all: false });
        let Response::Exited(exit) = waiter.recv() else {
            panic!("wait answer")
        };
        assert_eq!((exit.exit_code, exit.signal), (128 + signal, Some(signal)));
        assert_eq!(shim.exit_file(), exit);
        let again = shim.client().call(&Request::Kill { signal, all: false });
        assert!(
            matches!(again, Response::Error { .. }),
            "kill after exit: {again:?}"
        );
        shim.delete();
        env.assert_nothing_left(spot);
    }
}
