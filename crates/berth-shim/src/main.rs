//! berth-shim: one small process per container, between berthd and the container. See docs/shim.md.

mod args;
mod cleanup;
mod conn;
mod files;
mod helper;
mod logfile;
mod monitor;
mod ops;
mod setup;
mod stdio;
mod sys;
mod timefmt;
mod trim;

use berth_shim_protocol::FailedStage;

fn main() {
    // berthd executes us through /proc/self/fd/N of a read-only clone (see the engine's
    // shim::Launcher), which would leave the descriptor's number as our name in ps and top.
    let _ = rustix::thread::set_name(c"berth-shim");
    let argv: Vec<String> = match std::env::args_os()
        .skip(1)
        .map(|a| a.into_string())
        .collect()
    {
        Ok(argv) => argv,
        Err(bad) => usage_error(None, format!("argument {bad:?} is not UTF-8")),
    };
    let cfg = match args::parse(&argv) {
        Ok(args::Command::Cleanup { state_dir }) => std::process::exit(cleanup::run(&state_dir)),
        Ok(args::Command::Run(cfg)) => cfg,
        Err(message) => usage_error(sync_fd_of(&argv), message),
    };
    // The container's init is a clone of this process until it execs: like berth-runtime, run
    // from a copy of the binary nobody can write, so /proc/<init>/exe cannot reach the host's file.
    if let Err(e) = berth_runtime_core::protected_exe::ensure_protected() {
        fail_early(
            cfg.sync_fd,
            FailedStage::Setup,
            format!("protect the shim binary: {e}"),
        );
    }
    sys::ignore_sigpipe();
    let sync = match setup::sync_channel(cfg.sync_fd) {
        Ok(sync) => sync,
        Err(e) => {
            eprintln!("berth-shim: --sync-fd {:?}: {e}", cfg.sync_fd);
            std::process::exit(2);
        }
    };
    setup::spawn(cfg, sync)
}

/// The value of --sync-fd in a command line that did not parse, to report the error there too.
fn sync_fd_of(argv: &[String]) -> Option<i32> {
    argv.iter()
        .enumerate()
        .find_map(|(i, a)| match a.strip_prefix("--sync-fd") {
            Some("") => argv.get(i + 1)?.parse().ok(),
            Some(v) => v.strip_prefix('=')?.parse().ok(),
            None => None,
        })
}

fn usage_error(sync_fd: Option<i32>, message: String) -> ! {
    if !message.starts_with("usage:") {
        eprintln!("{}", args::USAGE);
    }
    fail_early(sync_fd, FailedStage::Usage, message)
}

fn fail_early(sync_fd: Option<i32>, stage: FailedStage, message: String) -> ! {
    eprintln!("berth-shim: {message}");
    if let Ok(sync) = setup::sync_channel(sync_fd) {
        setup::report(&sync, &setup::failed(stage, message));
    }
    std::process::exit(2)
}
