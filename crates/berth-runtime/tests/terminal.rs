//! `process.terminal` with `--console-socket`: the pty master reaches the caller over the socket
//! (SCM_RIGHTS, the pty's name as the message, as runc sends it) and is the container's stdio.

mod common;

use common::*;
use serde_json::json;
use std::io::Read;
use std::os::unix::net::UnixListener;
use std::time::{Duration, Instant};

#[test]
fn console_socket_receives_the_pty_master() {
    require_root!();
    let env = TestEnv::new("tty_console");
    let mut cfg = env.config(&[
        "sh",
        "-c",
        "tty; stat -c %t:%T /dev/console; echo hello-from-tty",
    ]);
    cfg["process"]["terminal"] = json!(true);
    let b = env.bundle(&cfg);
    let id = env.id("tty");
    let socket_path = env.base.join("console.sock");
    let listener = UnixListener::bind(&socket_path).unwrap();
    let socket_arg = socket_path.to_str().unwrap().to_string();
    let creator = std::thread::spawn({
        let env_root = env.root.clone();
        let b = b.clone();
        let id = id.clone();
        move || {
            std::process::Command::new(runtime_bin())
                .args(extra_global_args())
                .arg("--root")
                .arg(env_root)
                .args([
                    "create",
                    "--bundle",
                    b.to_str().unwrap(),
                    "--console-socket",
                    &socket_arg,
                    &id,
                ])
                .status()
                .unwrap()
        }
    });
    env.track(&id);
    let (stream, _) = listener.accept().unwrap();
    let (name, master) = receive_fd(&stream);
    assert!(creator.join().unwrap().success(), "create failed");
    assert!(
        name.starts_with("/dev/pts/"),
        "message {name:?} is not the pty's name"
    );
    env.start(&id).assert_ok();

    let mut master = std::fs::File::from(master);
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut buf = [0u8; 512];
    while Instant::now() < deadline && !String::from_utf8_lossy(&out).contains("hello-from-tty") {
        match master.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&out);
    assert!(text.contains(&name), "tty inside is not {name}: {text:?}");
    // /dev/console is the same pty (major 136 = unix98 pty slaves).
    assert!(
        text.contains("88:"),
        "/dev/console is not a pty slave: {text:?}"
    );
    assert!(text.contains("hello-from-tty"), "{text:?}");
}

#[test]
fn terminal_without_console_socket_is_refused() {
    require_root!();
    let env = TestEnv::new("tty_nosock");
    let mut cfg = env.config(&["true"]);
    cfg["process"]["terminal"] = json!(true);
    let b = env.bundle(&cfg);
    let id = env.id("nosock");
    let o = env.create(&b, &id);
    o.assert_fail();
    assert_stderr_names(&o, &["process.terminal", "console-socket"]);
    assert!(
        env.root_entries().is_empty(),
        "state left behind: {:?}",
        env.root_entries()
    );
}
