//! Spawns that fail are reported to the spawner with the reason and leave nothing behind.

mod common;

use berth_shim_protocol::{FailedStage, Request, SpawnReport};
use common::*;

#[track_caller]
fn expect_failure(report: SpawnReport, stage: FailedStage, needle: &str) -> String {
    match report {
        SpawnReport::Failed {
            stage: got,
            message,
        } => {
            assert_eq!(got, stage, "{message}");
            assert!(message.contains(needle), "{needle:?} not in {message:?}");
            message
        }
        other => panic!("spawn should fail: {other:?}"),
    }
}

#[test]
fn missing_program_is_reported_and_leaves_nothing() {
    require_root!();
    let env = TestEnv::new("noprog");
    let spot = env.spot(&env.config(&["/no/such-program", "x"]));
    let message = expect_failure(
        env.spawn(&spot, &["-i"]),
        FailedStage::Create,
        "such-program",
    );
    eprintln!("reported: {message}");
    env.assert_nothing_left(&spot);
    assert!(
        !spot.log.exists(),
        "no log file for a container that never was"
    );
}

#[test]
fn bad_config_is_reported_and_leaves_nothing() {
    require_root!();
    let env = TestEnv::new("badcfg");
    let spot = env.spot(&env.config(&["true"]));
    std::fs::write(
        spot.bundle.join("config.json"),
        "{\"ociVersion\": \"1.0.2\", \"process\": 7}",
    )
    .unwrap();
    let message = expect_failure(env.spawn(&spot, &[]), FailedStage::Create, "config.json");
    eprintln!("reported: {message}");
    env.assert_nothing_left(&spot);
    // A cgroups path the runtime refuses (outside any berth-test parent nothing is made).
    let mut config = env.config(&["true"]);
    config["linux"]["namespaces"] = serde_json::json!([{"type": "pid"}, {"type": "bogus"}]);
    let spot = env.spot(&config);
    let message = expect_failure(env.spawn(&spot, &[]), FailedStage::Create, "bogus");
    eprintln!("reported: {message}");
    env.assert_nothing_left(&spot);
}

#[test]
fn usage_and_setup_errors_are_typed() {
    require_root!();
    let env = TestEnv::new("usage");
    let spot = env.spot(&env.config(&["sleep", "100"]));
    let mut args = env.shim_args(&spot, &["--log-driver", "gelf"]);
    args.extend(["--sync-fd".into(), "3".into()]);
    let (read, write) = pipe();
    let mut cmd = std::process::Command::new(shim_bin());
    cmd.args(&args).stderr(std::process::Stdio::null());
    let w = std::os::fd::AsRawFd::as_raw_fd(&write);
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, move || {
            libc::dup2(w, 3);
            Ok(())
        });
    }
    let status = cmd.status().unwrap();
    drop(write);
    assert_eq!(status.code(), Some(2));
    expect_failure(read_report(read), FailedStage::Usage, "gelf");
    // A second shim on a state dir whose shim is alive is refused before anything is made.
    let shim = env.spawn_ok(&spot, &[]);
    let other = Spot {
        id: format!("{}-2", spot.id),
        ..spot.clone()
    };
    expect_failure(env.spawn(&other, &[]), FailedStage::Setup, "another shim");
    assert!(!env.runtime_root.join(&other.id).exists());
    assert_eq!(
        shim.state().status,
        berth_shim_protocol::Status::Created,
        "the first shim is untouched"
    );
    shim.ok(Request::Kill {
        signal: libc::SIGKILL,
        all: false,
    });
    shim.wait();
    shim.delete();
    env.assert_nothing_left(&spot);
}
