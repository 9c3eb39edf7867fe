//! berthd: owns all of berth's state and serves the Docker Engine API on a Unix socket.

use berth_engine::{Engine, EngineConfig};
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "Usage: berthd [OPTIONS]

A container engine that speaks the Docker Engine API

Options:
  -H, --host unix://PATH        Socket to listen on (default unix:///run/berth/berth.sock)
      --data-root DIR           Persistent state (default /var/lib/berth)
      --exec-root DIR           Run-time state (default /run/berth)
      --add-runtime NAME=PATH   Register a runc-compatible runtime (repeatable)
      --default-runtime NAME    Runtime for containers that name none (default berth)
      --log-level LEVEL         debug, info, warn, error (default info)
  -h, --help                    Print this help
";

struct Options {
    socket: PathBuf,
    config: EngineConfig,
    log_level: String,
}

fn parse(args: Vec<String>) -> Result<Option<Options>, String> {
    let mut socket = PathBuf::from("/run/berth/berth.sock");
    let mut data_root = PathBuf::from("/var/lib/berth");
    let mut exec_root = PathBuf::from("/run/berth");
    let mut runtimes = Vec::new();
    let mut default_runtime = None;
    let mut log_level = "info".to_string();
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| -> Result<String, String> {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or_else(|| format!("flag needs an argument: {name}"))
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "-H" | "--host" => {
                let v = value("--host")?;
                let path = v.strip_prefix("unix://").ok_or_else(|| {
                    format!("--host {v:?}: only unix:///path sockets are supported")
                })?;
                socket = PathBuf::from(path);
            }
            "--data-root" => data_root = PathBuf::from(value("--data-root")?),
            "--exec-root" => exec_root = PathBuf::from(value("--exec-root")?),
            "--add-runtime" => {
                let v = value("--add-runtime")?;
                let (name, path) = v
                    .split_once('=')
                    .ok_or_else(|| format!("--add-runtime {v:?}: expected NAME=PATH"))?;
                runtimes.push((name.to_string(), PathBuf::from(path)));
            }
            "--default-runtime" => default_runtime = Some(value("--default-runtime")?),
            "--log-level" => log_level = value("--log-level")?,
            other => return Err(format!("unknown flag: {other}")),
        }
    }
    let shim = shim_binary()?;
    let mut config = EngineConfig::new(data_root, exec_root, shim);
    config.init_binary = init_binary()?;
    for (name, path) in runtimes {
        config.runtimes.insert(name, path);
    }
    if let Some(rt) = default_runtime {
        config.default_runtime = rt;
    }
    Ok(Some(Options {
        socket,
        config,
        log_level,
    }))
}

/// berth-shim next to our own binary, or `BERTH_SHIM` when set.
fn shim_binary() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("BERTH_SHIM") {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe().map_err(|e| format!("find berthd's own path: {e}"))?;
    Ok(exe.with_file_name("berth-shim"))
}

/// berth-init next to our own binary, or `BERTH_INIT` when set; None if there is none.
fn init_binary() -> Result<Option<PathBuf>, String> {
    if let Some(p) = std::env::var_os("BERTH_INIT") {
        return Ok(Some(PathBuf::from(p)));
    }
    let exe = std::env::current_exe().map_err(|e| format!("find berthd's own path: {e}"))?;
    Ok(Some(exe.with_file_name("berth-init")).filter(|p| p.is_file()))
}

/// glibc gives each thread that allocates an arena of its own and keeps freed memory in it;
/// the blocking pool's many short-lived threads would leave a daemon that idles at several
/// times its start size. Two arenas serve berthd's two workers.
fn limit_malloc_arenas() {
    // SAFETY: mallopt only sets an allocator parameter; called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Hands memory freed after a burst of requests back to the kernel, so that an idle daemon is
/// small again.
async fn return_freed_memory() {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
    loop {
        tick.tick().await;
        // SAFETY: malloc_trim only releases free heap pages; it is thread-safe.
        unsafe {
            libc::malloc_trim(0);
        }
    }
}

fn main() -> ExitCode {
    let opts = match parse(std::env::args().skip(1).collect()) {
        Ok(Some(o)) => o,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("berthd: {e}\nSee 'berthd --help'.");
            return ExitCode::from(125);
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&opts.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    limit_malloc_arenas();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("berthd: start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(opts)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("berthd: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(opts: Options) -> Result<(), String> {
    let engine = tokio::task::spawn_blocking(move || Engine::open(opts.config))
        .await
        .map_err(|e| format!("open the engine: {e}"))?
        .map_err(|e| e.to_string())?;
    if let Some(dir) = opts.socket.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    }
    // A socket file left by a daemon that died is stale only if nobody answers on it.
    if opts.socket.exists() {
        if std::os::unix::net::UnixStream::connect(&opts.socket).is_ok() {
            return Err(format!(
                "{}: another daemon is listening there",
                opts.socket.display()
            ));
        }
        std::fs::remove_file(&opts.socket)
            .map_err(|e| format!("remove stale socket {}: {e}", opts.socket.display()))?;
    }
    let listener = tokio::net::UnixListener::bind(&opts.socket)
        .map_err(|e| format!("listen on {}: {e}", opts.socket.display()))?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&opts.socket, std::fs::Permissions::from_mode(0o660))
        .map_err(|e| format!("chmod {}: {e}", opts.socket.display()))?;
    tracing::info!("berthd listening on unix://{}", opts.socket.display());
    tokio::spawn(return_freed_memory());
    let shutdown = async {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => return std::future::pending().await,
            };
        tokio::select! {
            _ = term.recv() => {},
            _ = tokio::signal::ctrl_c() => {},
        }
    };
    let served = berth_api::serve(engine, listener, shutdown).await;
    let _ = std::fs::remove_file(&opts.socket);
    served.map_err(|e| format!("serve: {e}"))
}
