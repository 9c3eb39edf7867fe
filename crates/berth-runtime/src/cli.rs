//! runc's command line as clap types.

use anyhow::{Result, bail};
use berth_runtime_core::container::CreateOptions;
use berth_runtime_core::exec::{ExecOptions, ProcessRequest};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "berth-runtime",
    version,
    about = "An OCI container runtime with runc's command line"
)]
pub struct Cli {
    /// Directory for container state.
    #[arg(long, global = true, default_value = "/run/berth-runtime")]
    pub root: PathBuf,
    /// Write log messages to this file (default: stderr only).
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,
    #[arg(long = "log-format", global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[arg(long, global = true)]
    pub debug: bool,
    /// runc: use systemd to manage cgroups (not supported yet).
    #[arg(long = "systemd-cgroup", global = true)]
    pub systemd_cgroup: bool,
    /// runc: ignore cgroup permission errors ("true", "false" or "auto").
    #[arg(long)]
    pub rootless: Option<String>,
    /// runc: path to criu (checkpoint/restore is not supported yet; accepted for compatibility).
    #[arg(long, global = true)]
    pub criu: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    Table,
    Json,
}

#[derive(Subcommand)]
pub enum Command {
    /// Create a container; its process waits for `start`.
    Create(CreateArgs),
    /// Create, start and wait for a container.
    Run(RunArgs),
    /// Start a created container.
    Start { id: String },
    /// Print a container's state as JSON.
    State { id: String },
    /// Send a signal to a container's init (or all its processes).
    Kill {
        #[arg(short, long)]
        all: bool,
        id: String,
        #[arg(default_value = "SIGTERM")]
        signal: String,
    },
    /// Delete a container.
    Delete {
        #[arg(short, long)]
        force: bool,
        id: String,
    },
    /// List containers.
    List {
        #[arg(short, long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
        #[arg(short, long)]
        quiet: bool,
    },
    /// List a container's processes.
    Ps {
        #[arg(short, long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
        id: String,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
    /// Write a default config.json.
    Spec {
        #[arg(short, long, default_value = ".")]
        bundle: PathBuf,
        /// Write a config for a container run by an unprivileged user (with a user namespace).
        #[arg(long)]
        rootless: bool,
    },
    /// Print the runtime's features document.
    Features,
    /// Freeze every process of a container.
    Pause { id: String },
    /// Thaw a paused container.
    Resume { id: String },
    /// Change a live container's resource limits.
    Update(UpdateArgs),
    /// Print a container's resource usage (once with --stats, else every --interval).
    Events {
        #[arg(long)]
        stats: bool,
        /// Seconds between reports ("5", "5s", "500ms").
        #[arg(long, default_value = "5s")]
        interval: String,
        id: String,
    },
    /// Run a new process inside a running container.
    Exec(ExecArgs),
    /// runc commands berth-runtime does not implement yet.
    #[command(external_subcommand)]
    Unsupported(Vec<String>),
}

#[derive(Args)]
pub struct CreateArgs {
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    /// runc: receive a pidfd of the init on this socket (not supported yet).
    #[arg(long = "pidfd-socket")]
    pub pidfd_socket: Option<PathBuf>,
    pub id: String,
}

#[derive(Args)]
pub struct RunArgs {
    #[arg(short, long)]
    pub detach: bool,
    /// Keep the container's state after it exits.
    #[arg(long)]
    pub keep: bool,
    /// runc: do not become a subreaper (berth only becomes one when it must; accepted).
    #[arg(long = "no-subreaper")]
    pub no_subreaper: bool,
    #[command(flatten)]
    pub create: CreateArgs,
}

#[derive(Args)]
pub struct ExecArgs {
    /// A process.json (the OCI process object) to run instead of the arguments.
    #[arg(short, long)]
    pub process: Option<PathBuf>,
    #[arg(short, long)]
    pub detach: bool,
    #[arg(short, long)]
    pub tty: bool,
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Extra environment, KEY=VALUE (repeatable).
    #[arg(short, long)]
    pub env: Vec<String>,
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// UID[:GID].
    #[arg(short, long)]
    pub user: Option<String>,
    #[arg(short = 'g', long = "additional-gids")]
    pub additional_gids: Vec<u32>,
    /// Add a capability (repeatable).
    #[arg(short, long)]
    pub cap: Vec<String>,
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    #[arg(long)]
    pub apparmor: Option<String>,
    #[arg(long = "process-label")]
    pub process_label: Option<String>,
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Exec in a paused container (the process starts frozen).
    #[arg(long = "ignore-paused")]
    pub ignore_paused: bool,
    /// runc: run in a sub-cgroup of the container (not supported yet).
    #[arg(long)]
    pub cgroup: Vec<String>,
    /// runc: receive a pidfd of the process on this socket (not supported yet).
    #[arg(long = "pidfd-socket")]
    pub pidfd_socket: Option<PathBuf>,
    pub id: String,
    /// The command and its arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

impl ExecArgs {
    pub fn options(&self) -> Result<ExecOptions> {
        if !self.cgroup.is_empty() {
            bail!("--cgroup: exec into a sub-cgroup is not supported yet");
        }
        if self.pidfd_socket.is_some() {
            bail!("--pidfd-socket is not supported yet");
        }
        Ok(ExecOptions {
            id: self.id.clone(),
            request: ProcessRequest {
                process_file: self.process.clone(),
                args: self.command.clone(),
                env: self.env.clone(),
                cwd: self.cwd.clone(),
                user: self.user.clone(),
                additional_gids: self.additional_gids.clone(),
                caps: self.cap.clone(),
                tty: self.tty,
                no_new_privs: self.no_new_privs,
                apparmor: self.apparmor.clone(),
                process_label: self.process_label.clone(),
            },
            detach: self.detach,
            pid_file: self.pid_file.as_ref().map(|p| absolute(p)),
            console_socket: self.console_socket.clone(),
            preserve_fds: self.preserve_fds,
            ignore_paused: self.ignore_paused,
        })
    }
}

impl Cli {
    pub fn refuse_unsupported_globals(&self) -> Result<()> {
        if self.systemd_cgroup {
            bail!("--systemd-cgroup: systemd cgroup management is not supported yet");
        }
        if let Some(value) = &self.rootless
            && !matches!(value.as_str(), "true" | "false" | "auto")
        {
            bail!("--rootless: {value:?} is not true, false or auto");
        }
        Ok(())
    }
}

impl CreateArgs {
    pub fn refuse_unsupported(&self) -> Result<()> {
        if self.pidfd_socket.is_some() {
            bail!("--pidfd-socket is not supported yet");
        }
        Ok(())
    }

    pub fn options(&self) -> CreateOptions {
        CreateOptions {
            id: self.id.clone(),
            bundle: self.bundle.clone(),
            pid_file: self.pid_file.as_ref().map(|p| absolute(p)),
            console_socket: self.console_socket.clone(),
            no_pivot: self.no_pivot,
            preserve_fds: self.preserve_fds,
            no_new_keyring: self.no_new_keyring,
        }
    }
}

fn absolute(path: &std::path::Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

#[derive(Args)]
pub struct UpdateArgs {
    /// A JSON file with linux.resources ("-" for standard input); the flags below override it.
    #[arg(short = 'r', long)]
    pub resources: Option<PathBuf>,
    /// Memory limit (bytes, or with a k/m/g suffix; -1 for none).
    #[arg(long, allow_hyphen_values = true)]
    pub memory: Option<String>,
    #[arg(long = "memory-reservation", allow_hyphen_values = true)]
    pub memory_reservation: Option<String>,
    /// Memory plus swap limit (-1 for none).
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// CPU shares (runc spells it --cpu-share).
    #[arg(long = "cpu-share", visible_alias = "cpu-shares")]
    pub cpu_shares: Option<u64>,
    #[arg(long = "cpu-quota", allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<u64>,
    #[arg(long = "cpu-rt-runtime", allow_hyphen_values = true)]
    pub cpu_rt_runtime: Option<i64>,
    #[arg(long = "cpu-rt-period")]
    pub cpu_rt_period: Option<u64>,
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// runc: block IO weight (not supported yet).
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
    /// runc: kernel memory limit (deprecated by the kernel; refused).
    #[arg(long = "kernel-memory")]
    pub kernel_memory: Option<String>,
    pub id: String,
}

/// "64m", "1G", "512k", "100", "-1" → bytes (or -1).
pub fn parse_size(flag: &str, text: &str) -> Result<i64> {
    let lower = text.trim().to_ascii_lowercase();
    if lower == "-1" {
        return Ok(-1);
    }
    let digits = lower.trim_end_matches('b');
    let (number, unit) = match digits.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((at, _)) => digits.split_at(at),
        None => (digits, ""),
    };
    let multiplier: i64 = match unit {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        _ => bail!("{flag}: {text:?} is not a size like 64m or 1g"),
    };
    let value: i64 = number
        .parse()
        .map_err(|_| anyhow::anyhow!("{flag}: {text:?} is not a size like 64m or 1g"))?;
    value
        .checked_mul(multiplier)
        .ok_or_else(|| anyhow::anyhow!("{flag}: {text:?} is too large"))
}

impl UpdateArgs {
    /// The resources to apply: the -r file, then the flags on top.
    pub fn resources(&self) -> Result<serde_json::Value> {
        if self.blkio_weight.is_some() {
            bail!("--blkio-weight: block IO limits are not supported yet");
        }
        if self.kernel_memory.is_some() {
            bail!(
                "--kernel-memory: kernel memory limits are deprecated by the kernel and not supported"
            );
        }
        let mut r = match &self.resources {
            Some(path) => {
                let text = if path.as_os_str() == "-" {
                    std::io::read_to_string(std::io::stdin())?
                } else {
                    std::fs::read_to_string(path)
                        .map_err(|e| anyhow::anyhow!("-r {}: {e}", path.display()))?
                };
                serde_json::from_str(&text)
                    .map_err(|e| anyhow::anyhow!("-r {}: {e}", path.display()))?
            }
            None => serde_json::json!({}),
        };
        let mut set = |section: &str, key: &str, value: serde_json::Value| {
            r[section][key] = value;
        };
        if let Some(v) = &self.memory {
            set("memory", "limit", parse_size("--memory", v)?.into());
        }
        if let Some(v) = &self.memory_reservation {
            set(
                "memory",
                "reservation",
                parse_size("--memory-reservation", v)?.into(),
            );
        }
        if let Some(v) = &self.memory_swap {
            set("memory", "swap", parse_size("--memory-swap", v)?.into());
        }
        if let Some(v) = self.cpu_shares {
            set("cpu", "shares", v.into());
        }
        if let Some(v) = self.cpu_quota {
            set("cpu", "quota", v.into());
        }
        if let Some(v) = self.cpu_period {
            set("cpu", "period", v.into());
        }
        if let Some(v) = self.cpu_rt_runtime {
            set("cpu", "realtimeRuntime", v.into());
        }
        if let Some(v) = self.cpu_rt_period {
            set("cpu", "realtimePeriod", v.into());
        }
        if let Some(v) = &self.cpuset_cpus {
            set("cpu", "cpus", v.clone().into());
        }
        if let Some(v) = &self.cpuset_mems {
            set("cpu", "mems", v.clone().into());
        }
        if let Some(v) = self.pids_limit {
            set("pids", "limit", v.into());
        }
        Ok(r)
    }
}

/// "5", "5s", "500ms" → a duration.
pub fn parse_interval(text: &str) -> Result<std::time::Duration> {
    let t = text.trim();
    let parsed = if let Some(ms) = t.strip_suffix("ms") {
        ms.parse::<u64>().ok().map(std::time::Duration::from_millis)
    } else {
        t.trim_end_matches('s')
            .parse::<f64>()
            .ok()
            .filter(|s| *s > 0.0)
            .map(std::time::Duration::from_secs_f64)
    };
    parsed.ok_or_else(|| anyhow::anyhow!("--interval: {text:?} is not a duration like 5s or 500ms"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("--memory", "64m").unwrap(), 64 << 20);
        assert_eq!(parse_size("--memory", "1G").unwrap(), 1 << 30);
        assert_eq!(parse_size("--memory", "100").unwrap(), 100);
        assert_eq!(parse_size("--memory", "-1").unwrap(), -1);
        assert!(parse_size("--memory", "lots").is_err());
    }

    #[test]
    fn intervals() {
        assert_eq!(
            parse_interval("5s").unwrap(),
            std::time::Duration::from_secs(5)
        );
        assert_eq!(
            parse_interval("250ms").unwrap(),
            std::time::Duration::from_millis(250)
        );
        assert!(parse_interval("soon").is_err());
    }
}
