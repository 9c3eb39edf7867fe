//! `top` and `stats`: the processes and figures of running containers as the clients print them.

use crate::common::*;

#[test]
fn top_lists_the_containers_processes_with_ps_options() {
    let d = Daemon::start("top").with_busybox();
    let c = d.client();
    c.ok(&[
        "run",
        "-d",
        "--name",
        "tp",
        "busybox",
        "sh",
        "-c",
        "sleep 1001 & sleep 1002",
    ]);
    let o = c.ok(&["top", "tp"]);
    let lines: Vec<&str> = o.lines().collect();
    assert!(
        lines[0].starts_with("UID") && lines[0].contains("PID"),
        "{o}"
    );
    assert!(o.contains("sleep 1001") && o.contains("sleep 1002"), "{o}");
    // Nothing of the host: every row is one of the container's sleeps (sh execs the last one).
    assert!(lines[1..].iter().all(|l| l.contains("sleep 100")), "{o}");
    let o = c.ok(&["top", "tp", "-o", "pid,comm"]);
    assert!(
        o.lines()
            .next()
            .unwrap()
            .split_whitespace()
            .eq(["PID", "COMMAND"]),
        "{o}"
    );
    assert_eq!(
        o.lines()
            .filter(|l| l.trim_end().ends_with("sleep"))
            .count(),
        2,
        "{o}"
    );
    c.ok(&["stop", "-t", "0", "tp"]);
    let o = c.cmd(&["top", "tp"]);
    assert!(
        !o.ok() && o.stderr.contains("is not running"),
        "{}",
        o.describe()
    );
    let o = c.cmd(&["top", "no-such-container"]);
    assert!(o.stderr.contains("No such container"), "{}", o.describe());
    c.ok(&["rm", "-f", "tp"]);
}

#[test]
fn stats_figures_move_with_cpu_and_memory_use() {
    let d = Daemon::start("stats").with_busybox();
    let c = d.client();
    c.ok(&[
        "run",
        "-d",
        "--name",
        "burn",
        "--memory",
        "64m",
        "busybox",
        "sh",
        "-c",
        "while :; do :; done",
    ]);
    // 20 MiB held in a tmpfs file inside the container's memory cgroup.
    c.ok(&[
        "run",
        "-d",
        "--name",
        "hold",
        "--memory",
        "128m",
        "busybox",
        "sh",
        "-c",
        "head -c 20971520 /dev/zero > /dev/shm/f; sleep 1000",
    ]);
    c.ok(&["run", "-d", "--name", "idle", "busybox", "sleep", "1000"]);
    let format = "{{.Name}}|{{.CPUPerc}}|{{.MemUsage}}|{{.PIDs}}";
    let rows = wait_for(cmd_timeout(), || {
        let o = c.cmd(&[
            "stats",
            "--no-stream",
            "--format",
            format,
            "burn",
            "hold",
            "idle",
        ]);
        let rows: Vec<Vec<String>> = o
            .lines()
            .iter()
            .map(|l| l.split('|').map(str::to_string).collect())
            .collect();
        let held = rows.iter().find(|r| r[0] == "hold")?;
        held[2].starts_with("2").then_some(rows)
    })
    .expect("the held memory never showed");
    let row = |name: &str| rows.iter().find(|r| r[0] == name).unwrap().clone();
    let percent = |r: &[String]| r[1].trim_end_matches('%').parse::<f64>().unwrap();
    let burn = row("burn");
    assert!(percent(&burn) > 5.0, "{rows:?}");
    assert!(burn[2].ends_with("/ 64MiB"), "{rows:?}");
    assert_eq!(burn[3], "1");
    let hold = row("hold");
    assert!(
        hold[2].ends_with("/ 128MiB") && hold[2].contains("MiB /"),
        "{rows:?}"
    );
    let idle = row("idle");
    assert!(percent(&idle) < percent(&burn), "{rows:?}");
    // Without names: every running container, in the default table.
    let o = c.ok(&["stats", "--no-stream"]);
    assert!(
        o.starts_with("CONTAINER ID") && o.contains("MEM USAGE / LIMIT"),
        "{o}"
    );
    assert_eq!(o.lines().count(), 4, "{o}");
    c.ok(&["rm", "-f", "burn", "hold", "idle"]);
}
