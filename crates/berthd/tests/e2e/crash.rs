//! `kill -9` of the daemon with containers running and in the middle of create/start/rm, and a
//! shim killed under its container. dockerd runs these with --live-restore (berthd's containers
//! always outlive it).

use crate::common::*;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const T: Duration = Duration::from_secs(30);

#[test]
fn containers_outlive_a_killed_daemon_and_are_found_again() {
    let mut d = Daemon::start_surviving("kill9_running").with_busybox();
    {
        let c = d.client();
        c.ok(&[
            "run",
            "-d",
            "--name",
            "ticker",
            "busybox",
            "sh",
            "-c",
            "i=0; while true; do echo tick$i; i=$((i+1)); sleep 0.2; done",
        ]);
        assert_eq!(
            c.cmd(&["run", "--name", "seven", "busybox", "sh", "-c", "exit 7"])
                .code(),
            7
        );
        c.ok(&["run", "-dit", "--name", "shell", "busybox", "sh"]);
    }
    let pid = d.client().pid_of("ticker");
    let log_path = d.client().inspect("ticker", "{{.LogPath}}");
    assert!(
        wait_for(T, || d
            .client()
            .cmd(&["logs", "ticker"])
            .stdout
            .contains("tick3")
            .then_some(()))
        .is_some()
    );
    d.kill9();
    assert!(pid_alive(pid), "the container died with the daemon");
    // berthd's shim writes the log itself; dockerd's fifo only buffers until it is back.
    if !is_dockerd() {
        let size = std::fs::metadata(&log_path).map(|m| m.len()).unwrap_or(0);
        let grew = wait_for(T, || {
            (std::fs::metadata(&log_path).map(|m| m.len()).unwrap_or(0) > size).then_some(())
        });
        assert!(
            grew.is_some(),
            "{log_path} did not grow while the daemon was down"
        );
    }
    std::thread::sleep(Duration::from_millis(600));
    d.restart();
    let c = d.client();
    assert_eq!(c.inspect("ticker", "{{.State.Status}}"), "running");
    assert_eq!(c.pid_of("ticker"), pid);
    assert_eq!(
        c.inspect("seven", "{{.State.Status}} {{.State.ExitCode}}"),
        "exited 7"
    );
    let before = c.cmd(&["logs", "ticker"]).stdout.lines().count();
    let more = wait_for(T, || {
        (c.cmd(&["logs", "ticker"]).stdout.lines().count() > before + 2).then_some(())
    });
    assert!(more.is_some(), "logging goes on after the restart");
    // Numbers are consecutive: nothing lost while the daemon was down.
    let logs = c.cmd(&["logs", "ticker"]).stdout;
    for (i, l) in logs.lines().enumerate() {
        assert_eq!(l, format!("tick{i}"), "log line {i}");
    }
    // attach still works.
    let mut p = c.pty(&["attach", "shell"], 24, 80);
    p.send(b"echo back-$((2+3))\r");
    assert!(
        p.expect("back-5", T),
        "attach after restart: {:?}",
        p.output
    );
    p.send(b"\x10\x11");
    p.wait(T);
    c.ok(&["stop", "-t", "1", "ticker"]);
    assert!(!pid_alive(pid));
    c.ok(&["rm", "-f", "ticker", "seven", "shell"]);
    assert_eq!(c.ok(&["ps", "-aq"]), "");
}

fn random_ms(max: u64) -> u64 {
    let n = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(7) as u64;
    (n / 1000) % max
}

#[test]
fn kill9_during_create_start_rm_leaves_everything_whole_or_gone() {
    let mut d = Daemon::start_surviving("kill9_ops").with_busybox();
    for round in 0..8 {
        let name = format!("op{round}");
        let ops: Vec<Vec<String>> = vec![
            vec![
                "run".into(),
                "-d".into(),
                "--name".into(),
                name.clone(),
                "busybox".into(),
                "sleep".into(),
                "1000".into(),
            ],
            vec![
                "create".into(),
                "--name".into(),
                format!("{name}c"),
                "busybox".into(),
                "true".into(),
            ],
        ];
        let existing = d.container_ids();
        let mut children = Vec::new();
        for op in &ops {
            let mut cmd = d.client().command();
            cmd.args(
                d.client()
                    .args(&op.iter().map(|s| s.as_str()).collect::<Vec<_>>()),
            );
            cmd.stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null());
            children.push(cmd.spawn().unwrap());
        }
        for id in existing.iter().take(2) {
            let mut cmd = d.client().command();
            cmd.args(["rm", "-f", id]);
            cmd.stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null());
            children.push(cmd.spawn().unwrap());
        }
        std::thread::sleep(Duration::from_millis(random_ms(400)));
        d.kill9();
        for mut ch in children {
            wait_child(&mut ch, T);
        }
        d.restart();
        check_consistent(&d);
    }
    let c = d.client();
    for id in d.container_ids() {
        c.ok(&["rm", "-f", &id]);
    }
    assert_eq!(c.ok(&["ps", "-aq"]), "");
    // Names are free again.
    c.ok(&["create", "--name", "op0", "busybox", "true"]);
}

/// Every container the daemon lists is whole: inspectable, in a real state, running only with a
/// live init; its name is taken; a name not listed is free.
fn check_consistent(d: &Daemon) {
    let c = d.client();
    for id in d.container_ids() {
        let o = c.cmd(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.Pid}} {{.Name}}",
            &id,
        ]);
        o.assert_ok();
        let out = o.trimmed();
        let parts: Vec<&str> = out.split(' ').collect();
        assert!(
            matches!(parts[0], "created" | "running" | "exited" | "dead"),
            "{id}: state {out}"
        );
        if parts[0] == "running" {
            let pid: i32 = parts[1].parse().unwrap_or(0);
            assert!(pid_alive(pid), "{id} running with a dead init {pid}");
        }
        assert!(parts[2].starts_with('/'), "{id}: name {out}");
    }
}

#[test]
fn a_container_whose_shim_died_shows_exited() {
    let d = Daemon::start("shim_killed").with_busybox();
    let c = d.client();
    c.ok(&["run", "-d", "--name", "orphan", "busybox", "sleep", "1000"]);
    let pid = c.pid_of("orphan");
    let shim = parent_pid(pid).unwrap_or(0);
    assert!(shim > 1 && pid_alive(shim), "init {pid} has a shim parent");
    kill_pid(shim, libc::SIGKILL);
    c.wait_status("orphan", "exited");
    assert!(
        wait_for(T, || (!pid_alive(pid)).then_some(())).is_some(),
        "init {pid} still alive"
    );
    c.ok(&["rm", "orphan"]);
}
