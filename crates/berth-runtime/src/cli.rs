//! runc's command line as clap types.

use anyhow::{Result, bail};
use berth_runtime_core::container::CreateOptions;
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
