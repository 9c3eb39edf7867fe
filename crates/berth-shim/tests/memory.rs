//! The shim's memory while it monitors `sleep` containers: RSS and PSS from smaps_rollup,
//! printed (run with --nocapture); only a generous sanity bound is asserted.

mod common;

use berth_shim_protocol::Request;
use common::*;

fn measure(env: &TestEnv, count: usize) -> Vec<(u64, u64)> {
    let mut shims = Vec::new();
    for _ in 0..count {
        let spot = env.spot(&env.config(&["sleep", "1000"]));
        let shim = env.spawn_ok(&spot, &[]);
        shim.ok(Request::Start);
        // Exercise the monitor's paths once, as a daemon would: state, an attach, a resize refused.
        let _ = shim.state();
        let mut a = shim.client();
        a.call(&Request::Attach {
            stdin: false,
            stdout: true,
            stderr: true,
            close_stdin_on_eof: false,
        });
        drop(a);
        shims.push((spot, shim));
    }
    // Past the monitor's idle trim (2 s): what a shim of a quiet container keeps.
    std::thread::sleep(std::time::Duration::from_millis(2600));
    let figures: Vec<(u64, u64)> = shims.iter().map(|(_, s)| rss_pss_kib(s.shim_pid)).collect();
    for (_, shim) in &shims {
        shim.ok(Request::Kill {
            signal: libc::SIGKILL,
            all: false,
        });
        shim.wait();
        shim.delete();
    }
    for (spot, _) in &shims {
        env.assert_nothing_left(spot);
    }
    figures
}

#[test]
fn shim_memory_is_small() {
    require_root!();
    let env = TestEnv::new("memory");
    let one = measure(&env, 1);
    eprintln!(
        "berth-shim ({}), 1 container: RSS {} KiB, PSS {} KiB",
        shim_bin(),
        one[0].0,
        one[0].1
    );
    let twenty = measure(&env, 20);
    let n = twenty.len() as u64;
    let (rss, pss) = twenty.iter().fold((0, 0), |(r, p), (a, b)| (r + a, p + b));
    let max_rss = twenty.iter().map(|f| f.0).max().unwrap_or(0);
    eprintln!(
        "berth-shim, 20 containers: RSS mean {} KiB (max {max_rss}), PSS mean {} KiB, PSS total {} KiB",
        rss / n,
        pss / n,
        pss
    );
    assert!(
        one[0].0 < 8 * 1024,
        "RSS {} KiB: far above the 1 MiB goal",
        one[0].0
    );
}
