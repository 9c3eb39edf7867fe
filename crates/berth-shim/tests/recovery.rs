//! The shim outlives its spawner and the daemon; a shim that dies is told apart and cleaned up.

mod common;

use berth_shim_protocol::{Request, Response, Status};
use common::*;
use std::time::Duration;

#[test]
fn survives_the_daemon_and_a_new_client_reconnects() {
    require_root!();
    let env = TestEnv::new("survive");
    let spot = env.spot(&env.config(&["sh", "-c", "while true; do echo tick; sleep 0.05; done"]));
    std::fs::create_dir_all(&spot.state_dir).unwrap();
    let report = spot.state_dir.join("report");
    // The "daemon": spawns the shim, then lives on until we kill it with SIGKILL.
    let mut args = env.shim_args(&spot, &["--sync-fd", "3"]);
    args.insert(0, shim_bin());
    let script = r#"report=$1; shift; "$@" 3>"$report"; exec sleep 1000"#;
    let mut daemon = std::process::Command::new("/bin/sh")
        .args(["-c", script, "sh", &report.display().to_string()])
        .args(&args)
        .env("BERTH_TEST_TAG", &env.tag)
        .spawn()
        .unwrap();
    let line = wait_for(TIMEOUT, || {
        std::fs::read_to_string(&report)
            .ok()
            .filter(|t| t.ends_with('\n'))
    })
    .expect("spawn report");
    let Ok(berth_shim_protocol::SpawnReport::Created { shim_pid, init_pid }) =
        serde_json::from_str(line.trim())
    else {
        panic!("report: {line}")
    };
    let shim = Shim {
        dir: spot.state_dir.clone(),
        shim_pid,
        init_pid,
    };
    shim.ok(Request::Start);
    let mut a = shim.client();
    a.call(&Request::Attach {
        stdin: false,
        stdout: true,
        stderr: true,
        close_stdin_on_eof: false,
    });
    a.read_frames_until(|o, _| o.contains("tick"));
    // The daemon dies with its attach connection open.
    daemon.kill().unwrap();
    daemon.wait().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert!(pid_alive(shim_pid), "the shim outlives the daemon");
    let ppid = std::fs::read_to_string(format!("/proc/{shim_pid}/stat")).unwrap();
    let ppid: i32 = ppid
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert_ne!(ppid, daemon.id() as i32, "reparented away from the spawner");
    let sid = unsafe { libc::getsid(shim_pid) };
    assert_eq!(sid, shim_pid, "a session of its own");
    let before = log_lines(&spot.log).len();
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        log_lines(&spot.log).len() > before,
        "still logging while no daemon is there"
    );
    // A new daemon sees the same container.
    let state = shim.state();
    assert_eq!(
        (state.status, state.init_pid, state.shim_pid),
        (Status::Running, init_pid, shim_pid)
    );
    assert!(state.started_at.is_some());
    shim.ok(Request::Kill {
        signal: libc::SIGKILL,
        all: false,
    });
    assert_eq!(shim.wait().exit_code, 137);
    shim.delete();
    env.assert_nothing_left(&spot);
}

#[test]
fn a_killed_shim_is_told_apart_and_cleaned_up() {
    require_root!();
    let env = TestEnv::new("shimkill");
    let spot = env.spot(&env.config(&["sleep", "1000"]));
    let shim = env.spawn_ok(&spot, &[]);
    shim.ok(Request::Start);
    unsafe { libc::kill(shim.shim_pid, libc::SIGKILL) };
    assert!(wait_pid_gone(shim.shim_pid, TIMEOUT));
    // What a restarted daemon sees: a socket nobody answers, no exit record.
    let sock = spot.state_dir.join(berth_shim_protocol::CONTROL_SOCKET);
    let err = std::os::unix::net::UnixStream::connect(&sock).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ECONNREFUSED), "{err}");
    assert!(!spot.state_dir.join(berth_shim_protocol::EXIT_FILE).exists());
    // Nothing in the kernel ties the init to the shim: the daemon's cleanup kills it.
    let out = std::process::Command::new(shim_bin())
        .args([
            "cleanup",
            "--state-dir",
            &spot.state_dir.display().to_string(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cleanup: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let exit: berth_shim_protocol::Exit = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        exit.shim_lost && exit.signal == Some(libc::SIGKILL),
        "{exit:?}"
    );
    assert!(wait_pid_gone(shim.init_pid, TIMEOUT), "the init is killed");
    assert_eq!(shim.exit_file(), exit);
    env.assert_nothing_left(&spot);
    // Cleaning twice is harmless.
    let again = std::process::Command::new(shim_bin())
        .args([
            "cleanup",
            "--state-dir",
            &spot.state_dir.display().to_string(),
        ])
        .output()
        .unwrap();
    assert!(again.status.success());
    // A live shim is never cleaned behind its back.
    let spot2 = env.spot(&env.config(&["sleep", "1000"]));
    let live = env.spawn_ok(&spot2, &[]);
    let refused = std::process::Command::new(shim_bin())
        .args([
            "cleanup",
            "--state-dir",
            &spot2.state_dir.display().to_string(),
        ])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(matches!(
        live.client().call(&Request::State),
        Response::State(_)
    ));
    live.ok(Request::Kill {
        signal: libc::SIGKILL,
        all: false,
    });
    live.wait();
    live.delete();
    env.assert_nothing_left(&spot2);
}
