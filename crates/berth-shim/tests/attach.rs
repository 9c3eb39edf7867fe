//! attach: live output to several clients, stdin from one, and clients that misbehave.

mod common;

use berth_shim_protocol::{ErrorKind, Request, Response, Status};
use common::*;
use std::io::Write;
use std::net::Shutdown;

fn attach_all(shim: &Shim, stdin: bool) -> Client {
    let mut c = shim.client();
    let r = c.call(&Request::Attach {
        stdin,
        stdout: true,
        stderr: true,
        close_stdin_on_eof: stdin,
    });
    assert_eq!(r, Response::Attached { tty: false });
    c
}

#[test]
fn attach_streams_output_and_carries_stdin() {
    require_root!();
    let env = TestEnv::new("attach");
    let spot = env.spot(&env.config(&["sh", "-c", "echo ready; echo warm >&2; cat; echo bye >&2"]));
    let shim = env.spawn_ok(&spot, &["-i"]);
    // Attached before start, as `docker run` does: nothing is missed.
    let mut a = attach_all(&shim, true);
    let mut b = attach_all(&shim, false);
    shim.ok(Request::Start);
    let (out, err) = a.read_frames_until(|o, e| o.contains("ready") && e.contains("warm"));
    assert_eq!((out.as_str(), err.as_str()), ("ready\n", "warm\n"));
    a.stream.write_all(b"hello shim\n").unwrap();
    let (out, _) = a.read_frames_until(|o, _| o.contains("hello shim"));
    assert_eq!(out, "hello shim\n", "cat echoes stdin");
    // The second client sees the same output, in the same frames.
    let (out, err) = b.read_frames_until(|o, _| o.contains("hello shim"));
    assert_eq!(
        (out.as_str(), err.as_str()),
        ("ready\nhello shim\n", "warm\n")
    );
    // Half-closing the stdin client is end of file for cat (close_stdin_on_eof).
    a.stream.shutdown(Shutdown::Write).unwrap();
    let (_, err) = a.read_frames_until(|_, _| false);
    assert_eq!(err, "bye\n", "the stream ends after the last output");
    assert_eq!(shim.wait().exit_code, 0);
    let lines = log_lines(&spot.log);
    assert!(
        lines.contains(&("stdout".into(), "hello shim\n".into())),
        "{lines:?}"
    );
    assert!(
        lines.contains(&("stderr".into(), "bye\n".into())),
        "{lines:?}"
    );
    let late = shim.client().call(&Request::Attach {
        stdin: false,
        stdout: true,
        stderr: true,
        close_stdin_on_eof: false,
    });
    assert!(
        matches!(
            late,
            Response::Error {
                kind: ErrorKind::WrongState,
                ..
            }
        ),
        "{late:?}"
    );
    shim.delete();
    env.assert_nothing_left(&spot);
}

#[test]
fn close_stdin_request_ends_input() {
    require_root!();
    let env = TestEnv::new("closestdin");
    let spot = env.spot(&env.config(&["sh", "-c", "cat; echo eof-seen"]));
    let shim = env.spawn_ok(&spot, &["-i"]);
    let mut a = shim.client();
    let r = a.call(&Request::Attach {
        stdin: true,
        stdout: true,
        stderr: false,
        close_stdin_on_eof: false,
    });
    assert_eq!(r, Response::Attached { tty: false });
    shim.ok(Request::Start);
    a.stream.write_all(b"x\n").unwrap();
    a.read_frames_until(|o, _| o.contains("x\n"));
    shim.ok(Request::CloseStdin);
    let (out, _) = a.read_frames_until(|o, _| o.contains("eof-seen"));
    assert!(out.contains("eof-seen"), "{out:?}");
    assert_eq!(shim.wait().exit_code, 0);
    shim.delete();
    env.assert_nothing_left(&spot);
}

#[test]
fn garbage_and_vanishing_clients_do_not_hurt() {
    require_root!();
    let env = TestEnv::new("garbage");
    let spot = env.spot(&env.config(&["sh", "-c", "while true; do echo tick; sleep 0.05; done"]));
    let shim = env.spawn_ok(&spot, &["-i"]);
    shim.ok(Request::Start);
    let mut c = shim.client();
    for junk in [
        "hello\n",
        "{\"op\":\"explode\"}\n",
        "{\"op\":\"kill\",\"signal\":999}\n",
        "[1,2\n",
        "\u{0}\u{1}\n",
    ] {
        c.stream.write_all(junk.as_bytes()).unwrap();
        let r = c.recv();
        assert!(
            matches!(
                r,
                Response::Error {
                    kind: ErrorKind::BadRequest,
                    ..
                }
            ),
            "{junk:?}: {r:?}"
        );
    }
    // The same connection still works after the errors.
    assert!(matches!(c.call(&Request::State), Response::State(_)));
    let r = c.call(&Request::Resize {
        rows: 10,
        cols: 10,
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
    // An endless line is refused and the connection closed.
    let mut long = shim.client();
    long.stream.write_all(&vec![b'x'; 70 * 1024]).unwrap();
    let r = long.recv();
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
    // Clients that vanish: mid-attach, mid-wait, with a half-written request, without reading.
    for _ in 0..5 {
        let mut a = shim.client();
        a.send(&Request::Attach {
            stdin: true,
            stdout: true,
            stderr: true,
            close_stdin_on_eof: false,
        });
        drop(a);
        let mut w = shim.client();
        w.send(&Request::Wait);
        drop(w);
        let mut h = shim.client();
        h.stream.write_all(b"{\"op\":\"sta").unwrap();
        drop(h);
    }
    let mut silent = shim.client();
    silent.send(&Request::Attach {
        stdin: false,
        stdout: true,
        stderr: true,
        close_stdin_on_eof: false,
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    let state = shim.state();
    assert_eq!(state.status, Status::Running);
    assert_eq!(state.shim_pid, shim.shim_pid);
    drop(silent);
    shim.ok(Request::Kill {
        signal: libc::SIGKILL,
        all: true,
    });
    assert_eq!(shim.wait().signal, Some(libc::SIGKILL));
    assert!(
        log_lines(&spot.log)
            .iter()
            .filter(|(_, l)| l == "tick\n")
            .count()
            > 2
    );
    shim.delete();
    env.assert_nothing_left(&spot);
}
