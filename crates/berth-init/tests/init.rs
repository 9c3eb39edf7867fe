//! berth-init run directly on the host (as a child subreaper), asserting what its children see
//! and what it reports.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn init(script: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_berth-init"))
        .args(["--", "/bin/sh", "-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap()
}

fn read_line(child: &mut Child) -> String {
    let stdout = child.stdout.as_mut().unwrap();
    let mut line = String::new();
    let mut reader = BufReader::new(stdout);
    reader.read_line(&mut line).unwrap();
    line.trim().to_string()
}

fn signal(pid: u32, sig: libc::c_int) {
    assert_eq!(unsafe { libc::kill(pid as i32, sig) }, 0);
}

/// The parent PID in /proc/PID/stat, or None once the process is gone (reaped).
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 2..];
    after_name.split(' ').nth(1)?.parse().ok()
}

/// Polls `condition` until it holds; a generous deadline only stops a broken build from hanging.
fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !condition() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn exits_with_the_commands_code() {
    let status = init("exit 7").wait().unwrap();
    assert_eq!(status.code(), Some(7));
    let status = init("true").wait().unwrap();
    assert_eq!(status.code(), Some(0));
}

#[test]
fn a_command_killed_by_a_signal_gives_128_plus_n() {
    let status = init("kill -KILL $$").wait().unwrap();
    assert_eq!(status.code(), Some(128 + libc::SIGKILL));
}

#[test]
fn a_missing_command_gives_127() {
    let status = Command::new(env!("CARGO_BIN_EXE_berth-init"))
        .args(["--", "/nonexistent/command"])
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(status.status.code(), Some(127));
    assert!(String::from_utf8_lossy(&status.stderr).contains("/nonexistent/command"));
}

#[test]
fn signals_sent_to_init_reach_the_command() {
    let mut child = init(
        "trap 'echo got-usr1' USR1; trap 'echo got-hup' HUP; trap 'echo got-term; exit 3' TERM; \
         echo ready; while :; do sleep 0.05; done",
    );
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "ready");
    signal(child.id(), libc::SIGUSR1);
    assert_eq!(lines.next().unwrap().unwrap(), "got-usr1");
    signal(child.id(), libc::SIGHUP);
    assert_eq!(lines.next().unwrap().unwrap(), "got-hup");
    signal(child.id(), libc::SIGTERM);
    assert_eq!(lines.next().unwrap().unwrap(), "got-term");
    assert_eq!(child.wait().unwrap().code(), Some(3));
}

#[test]
fn an_untrapped_forwarded_signal_kills_the_command_and_init_reports_it() {
    let mut child = init("echo ready; while :; do sleep 0.05; done");
    assert_eq!(read_line(&mut child), "ready");
    signal(child.id(), libc::SIGTERM);
    assert_eq!(child.wait().unwrap().code(), Some(128 + libc::SIGTERM));
}

/// Kills a process the test made if the test stops before it is gone.
struct KillOnDrop(u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if parent_of(self.0).is_some() {
            unsafe { libc::kill(self.0 as i32, libc::SIGKILL) };
        }
    }
}

#[test]
fn orphans_are_adopted_and_reaped() {
    // The subshell starts `sleep`, prints its PID and exits: sleep is orphaned.
    let mut child = init("(sleep 1000 & echo $!); read line");
    let orphan: u32 = read_line(&mut child).parse().unwrap();
    let _cleanup = KillOnDrop(orphan);
    let init_pid = child.id();
    eventually("the orphan is adopted by berth-init", || {
        parent_of(orphan) == Some(init_pid)
    });
    signal(orphan, libc::SIGKILL);
    // Only its parent can make a zombie disappear from /proc.
    eventually("berth-init reaps the orphan", || {
        parent_of(orphan).is_none()
    });
    drop(child.stdin.take());
    assert_eq!(child.wait().unwrap().code(), Some(1));
}
