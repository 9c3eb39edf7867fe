//! A container with a terminal: the pty master comes to the shim, attach is raw, resize works.

mod common;

use berth_shim_protocol::{ErrorKind, Request, Response};
use common::*;
use std::io::Write;

#[test]
fn tty_attach_and_resize() {
    require_root!();
    let env = TestEnv::new("tty");
    let mut config = env.config(&["sh", "-c", "stty size; read x; stty size; echo got-$x"]);
    config["process"]["terminal"] = serde_json::json!(true);
    let spot = env.spot(&config);
    let shim = env.spawn_ok(&spot, &["-t", "-i"]);
    // The size berthd sets between create and start (Docker's ConsoleSize).
    shim.ok(Request::Resize {
        rows: 30,
        cols: 100,
        exec_id: None,
    });
    let mut a = shim.client();
    let r = a.call(&Request::Attach {
        stdin: true,
        stdout: true,
        stderr: true,
        close_stdin_on_eof: false,
    });
    assert_eq!(r, Response::Attached { tty: true });
    shim.ok(Request::Start);
    let text = a.read_raw_until(|t| t.contains("30 100"));
    assert!(
        text.contains("30 100\r\n"),
        "first size, raw terminal output: {text:?}"
    );
    shim.ok(Request::Resize {
        rows: 40,
        cols: 120,
        exec_id: None,
    });
    a.stream.write_all(b"yes\r").unwrap();
    let text = a.read_raw_until(|t| t.contains("got-yes"));
    assert!(text.contains("40 120"), "size after resize: {text:?}");
    assert_eq!(shim.wait().exit_code, 0);
    let logged: String = log_lines(&spot.log)
        .into_iter()
        .map(|(s, l)| {
            assert_eq!(s, "stdout", "a terminal has one stream");
            l
        })
        .collect();
    assert!(
        logged.contains("30 100\r\n") && logged.contains("40 120\r\n"),
        "{logged:?}"
    );
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
        "after exit: {r:?}"
    );
    shim.delete();
    env.assert_nothing_left(&spot);
}

#[test]
fn terminal_and_tty_flag_must_agree() {
    require_root!();
    let env = TestEnv::new("ttymismatch");
    let mut config = env.config(&["true"]);
    config["process"]["terminal"] = serde_json::json!(true);
    let spot = env.spot(&config);
    match env.spawn(&spot, &[]) {
        berth_shim_protocol::SpawnReport::Failed { stage, message } => {
            assert_eq!(stage, berth_shim_protocol::FailedStage::Create);
            assert!(message.contains("process.terminal"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    env.assert_nothing_left(&spot);
}
