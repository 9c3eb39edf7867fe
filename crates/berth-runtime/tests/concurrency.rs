//! Concurrency: parallel containers, racing creates of one ID.

mod common;

use common::*;
use std::sync::{Arc, Barrier};
use std::time::Duration;

#[test]
fn parallel_create_start_delete() {
    require_root!();
    let env = Arc::new(TestEnv::new("conc_parallel"));
    const N: usize = 8;
    let bundles: Vec<_> = (0..N)
        .map(|i| {
            env.bundle(&env.config(&["sh", "-c", &format!("echo c{i} > /tmp/who; sleep 100")]))
        })
        .collect();
    let barrier = Arc::new(Barrier::new(N));
    let handles: Vec<_> = bundles
        .into_iter()
        .enumerate()
        .map(|(i, b)| {
            let env = env.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || -> Result<(), String> {
                let id = env.id(&format!("p{i}"));
                barrier.wait();
                let c = env.create(&b, &id);
                if !c.ok() {
                    return Err(format!("create {id}: {}", c.describe()));
                }
                let s = env.start(&id);
                if !s.ok() {
                    return Err(format!("start {id}: {}", s.describe()));
                }
                let st = env.state(&id);
                if st["status"] != "running" {
                    return Err(format!("{id} not running: {st}"));
                }
                let pid = st["pid"].as_i64().unwrap() as i32;
                // each container sees its own rootfs
                let who = wait_for(Duration::from_secs(5), || {
                    std::fs::read_to_string(b.join("rootfs/tmp/who"))
                        .ok()
                        .filter(|s| !s.is_empty())
                });
                if who.as_deref().map(str::trim) != Some(&format!("c{i}")) {
                    return Err(format!("{id}: /tmp/who = {who:?}"));
                }
                let d = env.delete_force(&id);
                if !d.ok() {
                    return Err(format!("delete {id}: {}", d.describe()));
                }
                if !wait_pid_gone(pid, Duration::from_secs(5)) {
                    return Err(format!("{id}: pid {pid} survives delete -f"));
                }
                Ok(())
            })
        })
        .collect();
    let errs: Vec<String> = handles
        .into_iter()
        .filter_map(|h| h.join().unwrap().err())
        .collect();
    assert!(errs.is_empty(), "failures:\n{}", errs.join("\n"));
    assert!(
        env.root_entries().is_empty(),
        "state left: {:?}",
        env.root_entries()
    );
    assert!(
        wait_for(Duration::from_secs(3), || env
            .tagged_pids()
            .is_empty()
            .then_some(()))
        .is_some(),
        "processes left: {:?}",
        env.tagged_pids()
    );
}

#[test]
fn racing_creates_of_same_id() {
    require_root!();
    let env = Arc::new(TestEnv::new("conc_same_id"));
    const N: usize = 4;
    let id = env.id("same");
    let bundles: Vec<_> = (0..N)
        .map(|_| env.bundle(&env.config(&["sleep", "100"])))
        .collect();
    let barrier = Arc::new(Barrier::new(N));
    let handles: Vec<_> = bundles
        .iter()
        .cloned()
        .map(|b| {
            let env = env.clone();
            let barrier = barrier.clone();
            let id = id.clone();
            std::thread::spawn(move || {
                barrier.wait();
                env.create(&b, &id)
            })
        })
        .collect();
    let outs: Vec<Out> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let winners: Vec<usize> = outs
        .iter()
        .enumerate()
        .filter(|(_, o)| o.ok())
        .map(|(i, _)| i)
        .collect();
    assert_eq!(
        winners.len(),
        1,
        "exactly one create must win:\n{}",
        outs.iter()
            .map(|o| o.describe())
            .collect::<Vec<_>>()
            .join("\n====\n")
    );
    // The winner's container is intact and uses the winner's bundle.
    let st = env.state(&id);
    assert_eq!(st["status"], "created", "{st}");
    assert_eq!(
        std::fs::canonicalize(st["bundle"].as_str().unwrap()).ok(),
        std::fs::canonicalize(&bundles[winners[0]]).ok()
    );
    let pid = st["pid"].as_i64().unwrap() as i32;
    assert!(pid_alive(pid));
    env.start(&id).assert_ok();
    assert_eq!(env.state_status(&id), "running");
    // The losers left no processes: only the winner's init remains.
    let left = wait_for(Duration::from_secs(3), || {
        let p = env.tagged_pids();
        (p == vec![pid]).then_some(())
    });
    assert!(
        left.is_some(),
        "processes: {:?} (winner {pid})",
        env.tagged_pids()
    );
    env.delete_force(&id).assert_ok();
    assert!(wait_pid_gone(pid, Duration::from_secs(5)));
    assert!(
        env.root_entries().is_empty(),
        "state left: {:?}",
        env.root_entries()
    );
}
