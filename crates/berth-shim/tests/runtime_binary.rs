//! `--runtime PATH`: the container made by a runc-compatible binary (runc, crun), the shim its
//! subreaper; the same protocol on top.

mod common;

use berth_shim_protocol::{Request, SpawnReport, Status};
use common::*;
use std::io::Write;
use std::path::Path;

fn lifecycle_with(binary: &str, runtime_args: &[&str], via: &[&str]) -> Result<(), String> {
    let env = TestEnv::new(&format!(
        "rt-{}",
        Path::new(binary).file_name().unwrap().to_string_lossy()
    ));
    let spot = env.spot(&env.config(&["sh", "-c", "echo via-runtime; echo to-err >&2; exec cat"]));
    let mut extra = vec!["--runtime", binary, "-i"];
    for a in runtime_args {
        extra.extend(["--runtime-arg", a]);
    }
    let shim = match env.spawn_via(via, &spot, &extra) {
        SpawnReport::Created { shim_pid, init_pid } => Shim {
            dir: spot.state_dir.clone(),
            shim_pid,
            init_pid,
        },
        SpawnReport::Failed { message, .. } => {
            env.assert_nothing_left(&spot);
            return Err(message);
        }
    };
    assert_eq!(shim.state().status, Status::Created);
    let mut a = shim.client();
    a.call(&Request::Attach {
        stdin: true,
        stdout: true,
        stderr: true,
        close_stdin_on_eof: false,
    });
    shim.ok(Request::Start);
    let (out, err) = a.read_frames_until(|o, e| o.contains("via-runtime") && e.contains("to-err"));
    assert_eq!((out.as_str(), err.as_str()), ("via-runtime\n", "to-err\n"));
    a.stream.write_all(b"ping\n").unwrap();
    a.read_frames_until(|o, _| o.contains("ping"));
    let state = shim.state();
    assert_eq!(state.status, Status::Running);
    assert!(
        state.pids.contains(&shim.init_pid),
        "{binary} ps: {state:?}"
    );
    shim.ok(Request::Kill {
        signal: libc::SIGKILL,
        all: true,
    });
    let exit = shim.wait();
    assert_eq!(
        (exit.exit_code, exit.signal),
        (137, Some(libc::SIGKILL)),
        "the subreaper saw the init's status"
    );
    let lines = log_lines(&spot.log);
    assert!(
        lines.contains(&("stdout".into(), "ping\n".into())),
        "{lines:?}"
    );
    shim.delete();
    env.assert_nothing_left(&spot);
    Ok(())
}

#[test]
fn runc_create_start_kill_wait_delete() {
    require_root!();
    if !Path::new("/usr/sbin/runc").exists() {
        eprintln!("SKIP: /usr/sbin/runc is not installed");
        return;
    }
    lifecycle_with("/usr/sbin/runc", &[], &[]).unwrap_or_else(|e| panic!("runc: {e}"));
}

#[test]
fn crun_create_start_kill_wait_delete() {
    require_root!();
    if !Path::new("/usr/bin/crun").exists() {
        eprintln!("SKIP: /usr/bin/crun is not installed");
        return;
    }
    // crun refuses a hybrid cgroup layout ("cgroups in hybrid mode not supported"), even with
    // --cgroup-manager=disabled: the shim (and so crun) runs in a private mount namespace in
    // which the cgroup2 mount is hidden, as bench/lifecycle.py does.
    let hidden = "umount /sys/fs/cgroup/unified 2>/dev/null; exec \"$0\" \"$@\"";
    let via = [
        "/usr/bin/unshare",
        "--mount",
        "--propagation",
        "private",
        "/bin/sh",
        "-c",
        hidden,
    ];
    let direct = lifecycle_with("/usr/bin/crun", &[], &[]);
    if let Err(reason) = direct {
        eprintln!("crun on the host's cgroup layout: {reason}");
        if let Err(reason) = lifecycle_with("/usr/bin/crun", &[], &via) {
            eprintln!(
                "SKIP: crun refused the container with the cgroup2 mount hidden too: {reason}"
            );
        }
    }
}
