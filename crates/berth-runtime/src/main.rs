//! berth-runtime: an OCI runtime with runc's command line.

mod cli;
mod logging;
mod signals;

use anyhow::Result;
use berth_runtime_core::container::{self, CreateOptions};
use berth_runtime_core::state::StateRoot;
use berth_runtime_core::{control, defaults, exec, foreground, protected_exe};
use cli::{Cli, Command, ListFormat, Parsed};
use std::io::Write;

fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let cli = match Cli::parse_from(&args) {
        Ok(Parsed::Run(cli)) => cli,
        Ok(Parsed::Help(text)) => {
            print!("{text}");
            std::process::exit(0);
        }
        Ok(Parsed::Version) => {
            println!("berth-runtime version {}", env!("CARGO_PKG_VERSION"));
            std::process::exit(0);
        }
        Err(err) => usage_error(&args, &err),
    };
    let logger = match logging::Logger::new(cli.log.as_deref(), cli.log_format, cli.debug) {
        Ok(logger) => logger,
        Err(message) => {
            logging::Logger::stderr(cli.log_format).error(&message);
            std::process::exit(1);
        }
    };
    match execute(&cli, &logger) {
        Ok(code) => std::process::exit(code),
        Err(err) => {
            // The whole chain, on one line whatever the IDs and paths in it contain.
            logger.error(&format!("{err:#}"));
            std::process::exit(1);
        }
    }
}

/// A command line the parser refuses: `error: ...` and the usage on stderr and, as runc does, the
/// error in the `--log` file; exit status 1.
fn usage_error(args: &[std::ffi::OsString], err: &cli::UsageError) -> ! {
    let (log, format) = logging::scan_log_args(args);
    if log.is_some()
        && let Ok(logger) = logging::Logger::new(log.as_deref(), format, false)
    {
        logger.log_only(&err.message);
    }
    eprintln!("{err}");
    std::process::exit(1);
}

fn execute(cli: &Cli, logger: &logging::Logger) -> Result<i32> {
    cli.refuse_unsupported_globals()?;
    let root = StateRoot::new(&cli.root);
    match &cli.command {
        Command::Create(args) => {
            args.refuse_unsupported()?;
            protected_exe::ensure_protected()?;
            let opts = args.options();
            logger.debug(&format!(
                "create {} from {}",
                opts.id,
                opts.bundle.display()
            ));
            container::create(&root, &opts, false)
                .map_err(|e| anyhow::anyhow!("create {}: {e}", opts.id))?;
            Ok(0)
        }
        Command::Run(args) => {
            args.create.refuse_unsupported()?;
            protected_exe::ensure_protected()?;
            let opts: CreateOptions = args.create.options();
            let code = foreground::run(&root, &opts, args.detach, args.keep)
                .map_err(|e| anyhow::anyhow!("run {}: {e}", opts.id))?;
            Ok(code)
        }
        Command::Start { id } => {
            container::start(&root, id).map_err(|e| anyhow::anyhow!("start {id}: {e}"))?;
            Ok(0)
        }
        Command::State { id } => {
            let state =
                container::state(&root, id).map_err(|e| anyhow::anyhow!("state {id}: {e}"))?;
            println!("{}", serde_json::to_string_pretty(&state)?);
            Ok(0)
        }
        Command::Kill { id, signal, all } => {
            let number = signals::parse(signal)?;
            container::kill(&root, id, number, *all)
                .map_err(|e| anyhow::anyhow!("kill {id}: {e}"))?;
            Ok(0)
        }
        Command::Delete { id, force } => {
            container::delete(&root, id, *force)
                .map_err(|e| anyhow::anyhow!("delete {id}: {e}"))?;
            Ok(0)
        }
        Command::List { format, quiet } => {
            list(&root, *format, *quiet)?;
            Ok(0)
        }
        Command::Ps {
            format,
            id,
            ps_args,
        } => {
            ps(&root, id, *format, ps_args)?;
            Ok(0)
        }
        Command::Spec { bundle, rootless } => {
            let path = bundle.join("config.json");
            let text = serde_json::to_string_pretty(&defaults::default_spec(*rootless))?;
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .map_err(|e| anyhow::anyhow!("spec: {}: {e}", path.display()))?;
            file.write_all(text.as_bytes())?;
            Ok(0)
        }
        Command::Features => {
            println!("{}", serde_json::to_string_pretty(&defaults::features())?);
            Ok(0)
        }
        Command::Pause { id } => {
            control::pause(&root, id).map_err(|e| anyhow::anyhow!("pause {id}: {e}"))?;
            Ok(0)
        }
        Command::Resume { id } => {
            control::resume(&root, id).map_err(|e| anyhow::anyhow!("resume {id}: {e}"))?;
            Ok(0)
        }
        Command::Update(args) => {
            let id = &args.id;
            let value = args
                .resources()
                .map_err(|e| anyhow::anyhow!("update {id}: {e}"))?;
            let resources: oci_spec::runtime::LinuxResources = serde_json::from_value(value)
                .map_err(|e| anyhow::anyhow!("update {id}: resources: {e}"))?;
            control::update(&root, id, &resources)
                .map_err(|e| anyhow::anyhow!("update {id}: {e}"))?;
            Ok(0)
        }
        Command::Events {
            stats,
            interval,
            id,
        } => {
            let every = cli::parse_interval(interval)?;
            loop {
                let data =
                    control::stats(&root, id).map_err(|e| anyhow::anyhow!("events {id}: {e}"))?;
                let Some(data) = data else {
                    if *stats {
                        anyhow::bail!("events {id}: the container is not running");
                    }
                    return Ok(0);
                };
                println!(
                    "{}",
                    serde_json::json!({"type": "stats", "id": id, "data": data})
                );
                if *stats {
                    return Ok(0);
                }
                std::io::stdout().flush()?;
                std::thread::sleep(every);
            }
        }
        Command::Exec(args) => {
            let id = &args.id;
            let opts = args.options()?;
            protected_exe::ensure_protected()?;
            exec::exec(&root, &opts).map_err(|e| anyhow::anyhow!("exec {id}: {e}"))
        }
        Command::Unsupported(args) => Err(anyhow::anyhow!(
            "{}: not supported by berth-runtime yet",
            args.first().map(String::as_str).unwrap_or("command")
        )),
    }
}

fn list(root: &StateRoot, format: ListFormat, quiet: bool) -> Result<()> {
    let containers = container::list(root)?;
    if quiet {
        for (record, _) in &containers {
            println!("{}", record.id);
        }
        return Ok(());
    }
    match format {
        ListFormat::Json => {
            let states: Vec<_> = containers
                .iter()
                .map(|(r, s)| container::state_json(r, *s))
                .collect();
            println!("{}", serde_json::to_string(&states)?);
        }
        ListFormat::Table => {
            let rows: Vec<[String; 6]> = containers
                .iter()
                .map(|(r, s)| {
                    let pid = if *s == berth_runtime_core::state::Status::Stopped {
                        0
                    } else {
                        r.pid
                    };
                    [
                        r.id.clone(),
                        pid.to_string(),
                        s.to_string(),
                        r.bundle.display().to_string(),
                        r.created.clone(),
                        r.owner.clone(),
                    ]
                })
                .collect();
            let header = ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from);
            let mut widths = header.clone().map(|h| h.len());
            for row in &rows {
                for (w, cell) in widths.iter_mut().zip(row) {
                    *w = (*w).max(cell.len());
                }
            }
            for row in std::iter::once(&header).chain(&rows) {
                let line: Vec<String> = row
                    .iter()
                    .zip(widths)
                    .map(|(c, w)| format!("{c:<w$}"))
                    .collect();
                println!("{}", line.join("   ").trim_end());
            }
        }
    }
    Ok(())
}

fn ps(root: &StateRoot, id: &str, format: ListFormat, ps_args: &[String]) -> Result<()> {
    let pids = container::pids(root, id).map_err(|e| anyhow::anyhow!("ps {id}: {e}"))?;
    if format == ListFormat::Json {
        println!("{}", serde_json::to_string(&pids)?);
        return Ok(());
    }
    let args: Vec<String> = if ps_args.is_empty() {
        vec!["-ef".into()]
    } else {
        ps_args.to_vec()
    };
    let output = std::process::Command::new("ps")
        .args(&args)
        .output()
        .map_err(|e| anyhow::anyhow!("ps {id}: run ps: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let pid_column = header
        .split_whitespace()
        .position(|h| h == "PID")
        .ok_or_else(|| anyhow::anyhow!("ps {id}: the ps output has no PID column"))?;
    println!("{header}");
    for line in lines {
        let pid = line
            .split_whitespace()
            .nth(pid_column)
            .and_then(|p| p.parse::<i32>().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            println!("{line}");
        }
    }
    Ok(())
}
