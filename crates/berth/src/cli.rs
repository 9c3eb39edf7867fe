//! Command line: docker's commands, flags and help layout, parsed with clap.

use clap::{ArgAction, Args, Parser, Subcommand};

/// Help laid out like docker's: usage, description, aliases, options.
macro_rules! help {
    ($usage:expr, $aliases:expr) => {
        concat!(
            "Usage:  ",
            $usage,
            "\n\n{about}\n\nAliases:\n  ",
            $aliases,
            "\n\nOptions:\n{options}"
        )
    };
    ($usage:expr) => {
        concat!("Usage:  ", $usage, "\n\n{about}\n\nOptions:\n{options}")
    };
}

pub const TOP_HELP: &str = "\
Usage:  berth [OPTIONS] COMMAND

A self-sufficient runtime for containers

Common Commands:
  run         Create and run a new container from an image
  exec        Execute a command in a running container
  ps          List containers
  images      List images
  version     Show the Docker version information
  info        Display system-wide information

Management Commands:
  container   Manage containers
  image       Manage images
  system      Manage Docker
  volume      Manage volumes

Commands:
  attach      Attach local standard input, output, and error streams to a running container
  commit      Create a new image from a container's changes
  cp          Copy files/folders between a container and the local filesystem
  create      Create a new container
  diff        Inspect changes to files or directories on a container's filesystem
  export      Export a container's filesystem as a tar archive
  history     Show the history of an image
  import      Import the contents from a tarball to create a filesystem image
  inspect     Return low-level information on Docker objects
  kill        Kill one or more running containers
  load        Load an image from a tar archive or STDIN
  logs        Fetch the logs of a container
  pause       Pause all processes within one or more containers
  rename      Rename a container
  restart     Restart one or more containers
  rm          Remove one or more containers
  rmi         Remove one or more images
  save        Save one or more images to a tar archive (streamed to STDOUT by default)
  start       Start one or more stopped containers
  stop        Stop one or more running containers
  tag         Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
  unpause     Unpause all processes within one or more containers
  wait        Block until one or more containers stop, then print their exit codes

Global Options:
  -D, --debug              Enable debug mode
  -H, --host string        Daemon socket to connect to
  -l, --log-level string   Set the logging level (\"debug\", \"info\", \"warn\", \"error\", \"fatal\") (default \"info\")
  -v, --version            Print version information and quit

Run 'berth COMMAND --help' for more information on a command.
";

#[derive(Parser, Debug)]
#[command(
    name = "berth",
    disable_version_flag = true,
    disable_help_subcommand = true,
    override_help = TOP_HELP
)]
pub struct Cli {
    /// Daemon socket to connect to
    #[arg(short = 'H', long = "host", value_name = "string")]
    pub host: Option<String>,
    /// Enable debug mode
    #[arg(short = 'D', long)]
    pub debug: bool,
    /// Set the logging level
    #[arg(short = 'l', long = "log-level", value_name = "string")]
    pub log_level: Option<String>,
    /// Print version information and quit
    #[arg(short = 'v', long = "version")]
    pub version: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    #[command(about = "Create and run a new container from an image", disable_help_flag = true,
        help_template = help!("berth run [OPTIONS] IMAGE [COMMAND] [ARG...]", "berth container run, berth run"))]
    Run(RunArgs),
    #[command(about = "Create a new container", disable_help_flag = true,
        help_template = help!("berth create [OPTIONS] IMAGE [COMMAND] [ARG...]", "berth container create, berth create"))]
    Create(RunArgs),
    #[command(about = "Start one or more stopped containers",
        help_template = help!("berth start [OPTIONS] CONTAINER [CONTAINER...]", "berth container start, berth start"))]
    Start(StartArgs),
    #[command(about = "Attach local standard input, output, and error streams to a running container",
        help_template = help!("berth attach [OPTIONS] CONTAINER", "berth container attach, berth attach"))]
    Attach(AttachArgs),
    #[command(about = "Execute a command in a running container",
        help_template = help!("berth exec [OPTIONS] CONTAINER COMMAND [ARG...]", "berth container exec, berth exec"))]
    Exec(ExecArgs),
    #[command(about = "Block until one or more containers stop, then print their exit codes",
        help_template = help!("berth wait CONTAINER [CONTAINER...]", "berth container wait, berth wait"))]
    Wait(ContainersArgs),
    #[command(about = "Stop one or more running containers",
        help_template = help!("berth stop [OPTIONS] CONTAINER [CONTAINER...]", "berth container stop, berth stop"))]
    Stop(StopArgs),
    #[command(about = "Kill one or more running containers",
        help_template = help!("berth kill [OPTIONS] CONTAINER [CONTAINER...]", "berth container kill, berth kill"))]
    Kill(KillArgs),
    #[command(about = "Restart one or more containers",
        help_template = help!("berth restart [OPTIONS] CONTAINER [CONTAINER...]", "berth container restart, berth restart"))]
    Restart(StopArgs),
    #[command(about = "Pause all processes within one or more containers",
        help_template = help!("berth pause CONTAINER [CONTAINER...]", "berth container pause, berth pause"))]
    Pause(ContainersArgs),
    #[command(about = "Unpause all processes within one or more containers",
        help_template = help!("berth unpause CONTAINER [CONTAINER...]", "berth container unpause, berth unpause"))]
    Unpause(ContainersArgs),
    #[command(about = "Remove one or more containers",
        help_template = help!("berth rm [OPTIONS] CONTAINER [CONTAINER...]", "berth container rm, berth container remove, berth rm"))]
    Rm(RmArgs),
    #[command(about = "Rename a container",
        help_template = help!("berth rename CONTAINER NEW_NAME", "berth container rename, berth rename"))]
    Rename(RenameArgs),
    #[command(about = "List containers",
        help_template = help!("berth ps [OPTIONS]", "berth container ls, berth container list, berth container ps, berth ps"))]
    Ps(PsArgs),
    #[command(about = "Return low-level information on Docker objects",
        help_template = help!("berth inspect [OPTIONS] NAME|ID [NAME|ID...]"))]
    Inspect(InspectArgs),
    #[command(about = "Fetch the logs of a container",
        help_template = help!("berth logs [OPTIONS] CONTAINER", "berth container logs, berth logs"))]
    Logs(LogsArgs),
    #[command(about = "Display the running processes of a container",
        help_template = help!("berth top CONTAINER [ps OPTIONS]", "berth container top, berth top"))]
    Top(TopArgs),
    #[command(about = "Display a live stream of container(s) resource usage statistics",
        help_template = help!("berth stats [OPTIONS] [CONTAINER...]", "berth container stats, berth stats"))]
    Stats(StatsArgs),
    #[command(about = "Copy files/folders between a container and the local filesystem",
        help_template = help!("berth cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tberth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH", "berth container cp, berth cp"))]
    Cp(CpArgs),
    #[command(about = "Inspect changes to files or directories on a container's filesystem",
        help_template = help!("berth diff CONTAINER", "berth container diff, berth diff"))]
    Diff(DiffArgs),
    #[command(about = "Export a container's filesystem as a tar archive",
        help_template = help!("berth export [OPTIONS] CONTAINER", "berth container export, berth export"))]
    Export(ExportArgs),
    #[command(about = "Create a new image from a container's changes",
        help_template = help!("berth commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]", "berth container commit, berth commit"))]
    Commit(CommitArgs),
    #[command(about = "Load an image from a tar archive or STDIN",
        help_template = help!("berth load [OPTIONS]", "berth image load, berth load"))]
    Load(LoadArgs),
    #[command(about = "Save one or more images to a tar archive (streamed to STDOUT by default)",
        help_template = help!("berth save [OPTIONS] IMAGE [IMAGE...]", "berth image save, berth save"))]
    Save(SaveArgs),
    #[command(about = "Import the contents from a tarball to create a filesystem image",
        help_template = help!("berth import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]", "berth image import, berth import"))]
    Import(ImportArgs),
    #[command(about = "List images",
        help_template = help!("berth images [OPTIONS] [REPOSITORY[:TAG]]", "berth image ls, berth image list, berth images"))]
    Images(ImagesArgs),
    #[command(about = "Show the history of an image",
        help_template = help!("berth history [OPTIONS] IMAGE", "berth image history, berth history"))]
    History(HistoryArgs),
    #[command(about = "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
        help_template = help!("berth tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]", "berth image tag, berth tag"))]
    Tag(TagArgs),
    #[command(about = "Remove one or more images",
        help_template = help!("berth rmi [OPTIONS] IMAGE [IMAGE...]", "berth image rm, berth image remove, berth rmi"))]
    Rmi(RmiArgs),
    #[command(about = "Show the Docker version information",
        help_template = help!("berth version [OPTIONS]"))]
    Version(VersionArgs),
    #[command(about = "Display system-wide information",
        help_template = help!("berth info [OPTIONS]", "berth system info, berth info"))]
    Info(FormatOnly),
    #[command(
        about = "Manage containers",
        subcommand,
        disable_help_subcommand = true
    )]
    Container(ContainerCommand),
    #[command(about = "Manage images", subcommand, disable_help_subcommand = true)]
    Image(ImageCommand),
    #[command(about = "Manage Docker", subcommand, disable_help_subcommand = true)]
    System(SystemCommand),
    #[command(about = "Manage volumes", subcommand, disable_help_subcommand = true)]
    Volume(VolumeCommand),
}

#[derive(Subcommand, Debug)]
pub enum ContainerCommand {
    #[command(about = "Create and run a new container from an image", disable_help_flag = true,
        help_template = help!("berth container run [OPTIONS] IMAGE [COMMAND] [ARG...]", "berth container run, berth run"))]
    Run(RunArgs),
    #[command(about = "Create a new container", disable_help_flag = true,
        help_template = help!("berth container create [OPTIONS] IMAGE [COMMAND] [ARG...]", "berth container create, berth create"))]
    Create(RunArgs),
    #[command(about = "Start one or more stopped containers")]
    Start(StartArgs),
    #[command(
        about = "Attach local standard input, output, and error streams to a running container"
    )]
    Attach(AttachArgs),
    #[command(about = "Execute a command in a running container")]
    Exec(ExecArgs),
    #[command(about = "Block until one or more containers stop, then print their exit codes")]
    Wait(ContainersArgs),
    #[command(about = "Stop one or more running containers")]
    Stop(StopArgs),
    #[command(about = "Kill one or more running containers")]
    Kill(KillArgs),
    #[command(about = "Restart one or more containers")]
    Restart(StopArgs),
    #[command(about = "Pause all processes within one or more containers")]
    Pause(ContainersArgs),
    #[command(about = "Unpause all processes within one or more containers")]
    Unpause(ContainersArgs),
    #[command(about = "Remove one or more containers", alias = "remove")]
    Rm(RmArgs),
    #[command(about = "Rename a container")]
    Rename(RenameArgs),
    #[command(about = "List containers", aliases = ["ps", "list"])]
    Ls(PsArgs),
    #[command(about = "Display detailed information on one or more containers")]
    Inspect(InspectArgs),
    #[command(about = "Fetch the logs of a container")]
    Logs(LogsArgs),
    #[command(about = "Display the running processes of a container")]
    Top(TopArgs),
    #[command(about = "Display a live stream of container(s) resource usage statistics")]
    Stats(StatsArgs),
    #[command(about = "Remove all stopped containers")]
    Prune(PruneArgs),
    #[command(about = "Copy files/folders between a container and the local filesystem")]
    Cp(CpArgs),
    #[command(about = "Inspect changes to files or directories on a container's filesystem")]
    Diff(DiffArgs),
    #[command(about = "Export a container's filesystem as a tar archive")]
    Export(ExportArgs),
    #[command(about = "Create a new image from a container's changes")]
    Commit(CommitArgs),
}

#[derive(Subcommand, Debug)]
pub enum ImageCommand {
    #[command(about = "Load an image from a tar archive or STDIN")]
    Load(LoadArgs),
    #[command(about = "Save one or more images to a tar archive (streamed to STDOUT by default)")]
    Save(SaveArgs),
    #[command(about = "Import the contents from a tarball to create a filesystem image")]
    Import(ImportArgs),
    #[command(about = "List images", aliases = ["list"])]
    Ls(ImagesArgs),
    #[command(about = "Display detailed information on one or more images")]
    Inspect(InspectArgs),
    #[command(about = "Show the history of an image")]
    History(HistoryArgs),
    #[command(about = "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE")]
    Tag(TagArgs),
    #[command(about = "Remove one or more images", alias = "remove")]
    Rm(RmiArgs),
    #[command(about = "Remove unused images")]
    Prune(ImagePruneArgs),
}

#[derive(Subcommand, Debug)]
pub enum VolumeCommand {
    #[command(about = "Create a volume",
        help_template = help!("berth volume create [OPTIONS] [VOLUME]"))]
    Create(VolumeCreateArgs),
    #[command(about = "Display detailed information on one or more volumes",
        help_template = help!("berth volume inspect [OPTIONS] VOLUME [VOLUME...]"))]
    Inspect(FormatNames),
    #[command(about = "List volumes", alias = "list",
        help_template = help!("berth volume ls [OPTIONS]", "berth volume ls, berth volume list"))]
    Ls(VolumeLsArgs),
    #[command(about = "Remove unused local volumes",
        help_template = help!("berth volume prune [OPTIONS]"))]
    Prune(VolumePruneArgs),
    #[command(about = "Remove one or more volumes", alias = "remove",
        help_template = help!("berth volume rm [OPTIONS] VOLUME [VOLUME...]", "berth volume rm, berth volume remove"))]
    Rm(VolumeRmArgs),
}

#[derive(Subcommand, Debug)]
pub enum SystemCommand {
    #[command(about = "Show docker disk usage")]
    Df(DfArgs),
    #[command(about = "Display system-wide information")]
    Info(FormatOnly),
}

#[derive(Args, Debug, Default, Clone)]
pub struct RunArgs {
    #[arg(long, action = ArgAction::Help, help = "Print usage")]
    pub help: Option<bool>,
    #[arg(
        long = "add-host",
        value_name = "list",
        help = "Add a custom host-to-IP mapping (host:ip)"
    )]
    pub add_host: Vec<String>,
    #[arg(
        short = 'a',
        long = "attach",
        value_name = "list",
        help = "Attach to STDIN, STDOUT or STDERR"
    )]
    pub attach: Vec<String>,
    #[arg(
        long = "blkio-weight",
        value_name = "uint16",
        default_value_t = 0,
        help = "Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)"
    )]
    pub blkio_weight: u16,
    #[arg(long = "cap-add", value_name = "list", help = "Add Linux capabilities")]
    pub cap_add: Vec<String>,
    #[arg(
        long = "cap-drop",
        value_name = "list",
        help = "Drop Linux capabilities"
    )]
    pub cap_drop: Vec<String>,
    #[arg(
        long = "cgroup-parent",
        value_name = "string",
        help = "Optional parent cgroup for the container"
    )]
    pub cgroup_parent: Option<String>,
    #[arg(
        long = "cgroupns",
        value_name = "string",
        help = "Cgroup namespace to use (host|private)"
    )]
    pub cgroupns: Option<String>,
    #[arg(
        long = "cidfile",
        value_name = "string",
        help = "Write the container ID to the file"
    )]
    pub cidfile: Option<String>,
    #[arg(
        long = "cpu-shares",
        short = 'c',
        value_name = "int",
        default_value_t = 0,
        help = "CPU shares (relative weight)"
    )]
    pub cpu_shares: i64,
    #[arg(long = "cpus", value_name = "decimal", help = "Number of CPUs")]
    pub cpus: Option<f64>,
    #[arg(
        long = "cpuset-cpus",
        value_name = "string",
        help = "CPUs in which to allow execution (0-3, 0,1)"
    )]
    pub cpuset_cpus: Option<String>,
    #[arg(
        long = "cpuset-mems",
        value_name = "string",
        help = "MEMs in which to allow execution (0-3, 0,1)"
    )]
    pub cpuset_mems: Option<String>,
    #[arg(
        short = 'd',
        long = "detach",
        help = "Run container in background and print container ID"
    )]
    pub detach: bool,
    #[arg(
        long = "detach-keys",
        value_name = "string",
        help = "Override the key sequence for detaching a container"
    )]
    pub detach_keys: Option<String>,
    #[arg(
        long = "device",
        value_name = "list",
        help = "Add a host device to the container"
    )]
    pub device: Vec<String>,
    #[arg(long = "dns", value_name = "list", help = "Set custom DNS servers")]
    pub dns: Vec<String>,
    #[arg(long = "dns-option", value_name = "list", help = "Set DNS options")]
    pub dns_option: Vec<String>,
    #[arg(
        long = "dns-search",
        value_name = "list",
        help = "Set custom DNS search domains"
    )]
    pub dns_search: Vec<String>,
    #[arg(
        long = "entrypoint",
        value_name = "string",
        help = "Overwrite the default ENTRYPOINT of the image"
    )]
    pub entrypoint: Option<String>,
    #[arg(
        short = 'e',
        long = "env",
        value_name = "list",
        help = "Set environment variables"
    )]
    pub env: Vec<String>,
    #[arg(
        long = "env-file",
        value_name = "list",
        help = "Read in a file of environment variables"
    )]
    pub env_file: Vec<String>,
    #[arg(
        long = "expose",
        value_name = "list",
        help = "Expose a port or a range of ports"
    )]
    pub expose: Vec<String>,
    #[arg(
        long = "group-add",
        value_name = "list",
        help = "Add additional groups to join"
    )]
    pub group_add: Vec<String>,
    #[arg(
        short = 'h',
        long = "hostname",
        value_name = "string",
        help = "Container host name"
    )]
    pub hostname: Option<String>,
    #[arg(
        long = "init",
        help = "Run an init inside the container that forwards signals and reaps processes"
    )]
    pub init: bool,
    #[arg(
        short = 'i',
        long = "interactive",
        help = "Keep STDIN open even if not attached"
    )]
    pub interactive: bool,
    #[arg(long = "ipc", value_name = "string", help = "IPC mode to use")]
    pub ipc: Option<String>,
    #[arg(
        short = 'l',
        long = "label",
        value_name = "list",
        help = "Set meta data on a container"
    )]
    pub label: Vec<String>,
    #[arg(
        long = "label-file",
        value_name = "list",
        help = "Read in a line delimited file of labels"
    )]
    pub label_file: Vec<String>,
    #[arg(
        long = "log-driver",
        value_name = "string",
        help = "Logging driver for the container"
    )]
    pub log_driver: Option<String>,
    #[arg(long = "log-opt", value_name = "list", help = "Log driver options")]
    pub log_opt: Vec<String>,
    #[arg(
        short = 'm',
        long = "memory",
        value_name = "bytes",
        help = "Memory limit"
    )]
    pub memory: Option<String>,
    #[arg(
        long = "memory-reservation",
        value_name = "bytes",
        help = "Memory soft limit"
    )]
    pub memory_reservation: Option<String>,
    #[arg(
        long = "memory-swap",
        value_name = "bytes",
        help = "Swap limit equal to memory plus swap: '-1' to enable unlimited swap"
    )]
    pub memory_swap: Option<String>,
    #[arg(
        long = "mount",
        value_name = "mount",
        help = "Attach a filesystem mount to the container"
    )]
    pub mount: Vec<String>,
    #[arg(
        long = "name",
        value_name = "string",
        help = "Assign a name to the container"
    )]
    pub name: Option<String>,
    #[arg(
        long = "network",
        alias = "net",
        value_name = "network",
        help = "Connect a container to a network"
    )]
    pub network: Option<String>,
    #[arg(long = "oom-kill-disable", help = "Disable OOM Killer")]
    pub oom_kill_disable: bool,
    #[arg(
        long = "oom-score-adj",
        value_name = "int",
        default_value_t = 0,
        help = "Tune host's OOM preferences (-1000 to 1000)"
    )]
    pub oom_score_adj: i64,
    #[arg(long = "pid", value_name = "string", help = "PID namespace to use")]
    pub pid: Option<String>,
    #[arg(
        long = "pids-limit",
        value_name = "int",
        help = "Tune container pids limit (set -1 for unlimited)"
    )]
    pub pids_limit: Option<i64>,
    #[arg(
        long = "privileged",
        help = "Give extended privileges to this container"
    )]
    pub privileged: bool,
    #[arg(
        short = 'p',
        long = "publish",
        value_name = "list",
        help = "Publish a container's port(s) to the host"
    )]
    pub publish: Vec<String>,
    #[arg(
        long = "pull",
        value_name = "string",
        help = "Pull image before running (\"always\", \"missing\", \"never\")"
    )]
    pub pull: Option<String>,
    #[arg(short = 'q', long = "quiet", help = "Suppress the pull output")]
    pub quiet: bool,
    #[arg(
        long = "read-only",
        help = "Mount the container's root filesystem as read only"
    )]
    pub read_only: bool,
    #[arg(
        long = "restart",
        value_name = "string",
        help = "Restart policy to apply when a container exits (default \"no\")"
    )]
    pub restart: Option<String>,
    #[arg(
        long = "rm",
        help = "Automatically remove the container and its associated anonymous volumes when it exits"
    )]
    pub rm: bool,
    #[arg(
        long = "runtime",
        value_name = "string",
        help = "Runtime to use for this container"
    )]
    pub runtime: Option<String>,
    #[arg(long = "security-opt", value_name = "list", help = "Security Options")]
    pub security_opt: Vec<String>,
    #[arg(long = "shm-size", value_name = "bytes", help = "Size of /dev/shm")]
    pub shm_size: Option<String>,
    #[arg(long = "sig-proxy", value_name = "bool", default_value_t = true, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true, help = "Proxy received signals to the process (default true)")]
    pub sig_proxy: bool,
    #[arg(
        long = "stop-signal",
        value_name = "string",
        help = "Signal to stop the container"
    )]
    pub stop_signal: Option<String>,
    #[arg(
        long = "stop-timeout",
        value_name = "int",
        help = "Timeout (in seconds) to stop a container"
    )]
    pub stop_timeout: Option<i64>,
    #[arg(long = "sysctl", value_name = "map", help = "Sysctl options")]
    pub sysctl: Vec<String>,
    #[arg(long = "tmpfs", value_name = "list", help = "Mount a tmpfs directory")]
    pub tmpfs: Vec<String>,
    #[arg(short = 't', long = "tty", help = "Allocate a pseudo-TTY")]
    pub tty: bool,
    #[arg(long = "ulimit", value_name = "ulimit", help = "Ulimit options")]
    pub ulimit: Vec<String>,
    #[arg(
        short = 'u',
        long = "user",
        value_name = "string",
        help = "Username or UID (format: <name|uid>[:<group|gid>])"
    )]
    pub user: Option<String>,
    #[arg(long = "userns", value_name = "string", help = "User namespace to use")]
    pub userns: Option<String>,
    #[arg(long = "uts", value_name = "string", help = "UTS namespace to use")]
    pub uts: Option<String>,
    #[arg(
        short = 'v',
        long = "volume",
        value_name = "list",
        help = "Bind mount a volume"
    )]
    pub volume: Vec<String>,
    #[arg(
        long = "volume-driver",
        value_name = "string",
        help = "Optional volume driver for the container"
    )]
    pub volume_driver: Option<String>,
    #[arg(
        long = "volumes-from",
        value_name = "list",
        help = "Mount volumes from the specified container(s)"
    )]
    pub volumes_from: Vec<String>,
    #[arg(
        short = 'w',
        long = "workdir",
        value_name = "string",
        help = "Working directory inside the container"
    )]
    pub workdir: Option<String>,
    /// The image, then the command and its arguments (everything after the image).
    #[arg(value_name = "IMAGE", required = true, num_args = 1.., trailing_var_arg = true, allow_hyphen_values = true)]
    pub image_and_command: Vec<String>,
}

#[derive(Args, Debug)]
pub struct StartArgs {
    #[arg(
        short = 'a',
        long = "attach",
        help = "Attach STDOUT/STDERR and forward signals"
    )]
    pub attach: bool,
    #[arg(
        long = "detach-keys",
        value_name = "string",
        help = "Override the key sequence for detaching a container"
    )]
    pub detach_keys: Option<String>,
    #[arg(short = 'i', long = "interactive", help = "Attach container's STDIN")]
    pub interactive: bool,
    #[arg(value_name = "CONTAINER", required = true)]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct AttachArgs {
    #[arg(
        long = "detach-keys",
        value_name = "string",
        help = "Override the key sequence for detaching a container"
    )]
    pub detach_keys: Option<String>,
    #[arg(long = "no-stdin", help = "Do not attach STDIN")]
    pub no_stdin: bool,
    #[arg(long = "sig-proxy", value_name = "bool", default_value_t = true, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true, help = "Proxy all received signals to the process (default true)")]
    pub sig_proxy: bool,
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

#[derive(Args, Debug)]
pub struct ExecArgs {
    #[arg(
        short = 'd',
        long = "detach",
        help = "Detached mode: run command in the background"
    )]
    pub detach: bool,
    #[arg(
        long = "detach-keys",
        value_name = "string",
        help = "Override the key sequence for detaching a container"
    )]
    pub detach_keys: Option<String>,
    #[arg(
        short = 'e',
        long = "env",
        value_name = "list",
        help = "Set environment variables"
    )]
    pub env: Vec<String>,
    #[arg(
        long = "env-file",
        value_name = "list",
        help = "Read in a file of environment variables"
    )]
    pub env_file: Vec<String>,
    #[arg(
        short = 'i',
        long = "interactive",
        help = "Keep STDIN open even if not attached"
    )]
    pub interactive: bool,
    #[arg(long = "privileged", help = "Give extended privileges to the command")]
    pub privileged: bool,
    #[arg(short = 't', long = "tty", help = "Allocate a pseudo-TTY")]
    pub tty: bool,
    #[arg(
        short = 'u',
        long = "user",
        value_name = "string",
        help = "Username or UID (format: \"<name|uid>[:<group|gid>]\")"
    )]
    pub user: Option<String>,
    #[arg(
        short = 'w',
        long = "workdir",
        value_name = "string",
        help = "Working directory inside the container"
    )]
    pub workdir: Option<String>,
    /// The container, then the command and its arguments (everything after the container).
    #[arg(value_name = "CONTAINER", required = true, num_args = 1.., trailing_var_arg = true, allow_hyphen_values = true)]
    pub container_and_command: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ContainersArgs {
    #[arg(value_name = "CONTAINER", required = true)]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct StopArgs {
    #[arg(
        short = 's',
        long = "signal",
        value_name = "string",
        help = "Signal to send to the container"
    )]
    pub signal: Option<String>,
    #[arg(
        short = 't',
        long = "timeout",
        visible_alias = "time",
        value_name = "int",
        help = "Seconds to wait before killing the container"
    )]
    pub timeout: Option<i64>,
    #[arg(value_name = "CONTAINER", required = true)]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct KillArgs {
    #[arg(
        short = 's',
        long = "signal",
        value_name = "string",
        help = "Signal to send to the container"
    )]
    pub signal: Option<String>,
    #[arg(value_name = "CONTAINER", required = true)]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RmArgs {
    #[arg(
        short = 'f',
        long = "force",
        help = "Force the removal of a running container (uses SIGKILL)"
    )]
    pub force: bool,
    #[arg(short = 'l', long = "link", help = "Remove the specified link")]
    pub link: bool,
    #[arg(
        short = 'v',
        long = "volumes",
        help = "Remove anonymous volumes associated with the container"
    )]
    pub volumes: bool,
    #[arg(value_name = "CONTAINER", required = true)]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RenameArgs {
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    #[arg(value_name = "NEW_NAME")]
    pub new_name: String,
}

pub const FORMAT_HELP: &str = "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.\nRefer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates";

#[derive(Args, Debug)]
pub struct PsArgs {
    #[arg(
        short = 'a',
        long = "all",
        help = "Show all containers (default shows just running)"
    )]
    pub all: bool,
    #[arg(
        short = 'f',
        long = "filter",
        value_name = "filter",
        help = "Filter output based on conditions provided"
    )]
    pub filter: Vec<String>,
    #[arg(long = "format", value_name = "string", help = FORMAT_HELP)]
    pub format: Option<String>,
    #[arg(short = 'n', long = "last", value_name = "int", default_value_t = -1, allow_negative_numbers = true, help = "Show n last created containers (includes all states) (default -1)")]
    pub last: i64,
    #[arg(
        short = 'l',
        long = "latest",
        help = "Show the latest created container (includes all states)"
    )]
    pub latest: bool,
    #[arg(long = "no-trunc", help = "Don't truncate output")]
    pub no_trunc: bool,
    #[arg(short = 'q', long = "quiet", help = "Only display container IDs")]
    pub quiet: bool,
    #[arg(short = 's', long = "size", help = "Display total file sizes")]
    pub size: bool,
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    #[arg(short = 'f', long = "format", value_name = "string", help = FORMAT_HELP)]
    pub format: Option<String>,
    #[arg(
        short = 's',
        long = "size",
        help = "Display total file sizes if the type is container"
    )]
    pub size: bool,
    #[arg(
        long = "type",
        value_name = "string",
        help = "Only inspect objects of the given type"
    )]
    pub kind: Option<String>,
    #[arg(value_name = "NAME|ID", required = true)]
    pub names: Vec<String>,
}

#[derive(Args, Debug)]
pub struct TopArgs {
    pub container: String,
    /// Options for the host's `ps` (default -ef).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

#[derive(Args, Debug)]
pub struct StatsArgs {
    #[arg(
        short = 'a',
        long = "all",
        help = "Show all containers (default shows just running)"
    )]
    pub all: bool,
    #[arg(long = "format", value_name = "string", help = FORMAT_HELP)]
    pub format: Option<String>,
    #[arg(
        long = "no-stream",
        help = "Disable streaming stats and only pull the first result"
    )]
    pub no_stream: bool,
    #[arg(long = "no-trunc", help = "Do not truncate output")]
    pub no_trunc: bool,
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct LogsArgs {
    #[arg(long = "details", help = "Show extra details provided to logs")]
    pub details: bool,
    #[arg(short = 'f', long = "follow", help = "Follow log output")]
    pub follow: bool,
    #[arg(
        long = "since",
        value_name = "string",
        help = "Show logs since timestamp (e.g. \"2013-01-02T13:23:37Z\") or relative (e.g. \"42m\" for 42 minutes)"
    )]
    pub since: Option<String>,
    #[arg(
        short = 'n',
        long = "tail",
        value_name = "string",
        default_value = "all",
        help = "Number of lines to show from the end of the logs"
    )]
    pub tail: String,
    #[arg(short = 't', long = "timestamps", help = "Show timestamps")]
    pub timestamps: bool,
    #[arg(
        long = "until",
        value_name = "string",
        help = "Show logs before a timestamp (e.g. \"2013-01-02T13:23:37Z\") or relative (e.g. \"42m\" for 42 minutes)"
    )]
    pub until: Option<String>,
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    #[arg(
        long = "filter",
        value_name = "filter",
        help = "Provide filter values (e.g. \"until=<timestamp>\")"
    )]
    pub filter: Vec<String>,
    #[arg(short = 'f', long = "force", help = "Do not prompt for confirmation")]
    pub force: bool,
}

#[derive(Args, Debug)]
pub struct ImagePruneArgs {
    #[arg(
        short = 'a',
        long = "all",
        help = "Remove all unused images, not just dangling ones"
    )]
    pub all: bool,
    #[arg(
        long = "filter",
        value_name = "filter",
        help = "Provide filter values (e.g. \"until=<timestamp>\")"
    )]
    pub filter: Vec<String>,
    #[arg(short = 'f', long = "force", help = "Do not prompt for confirmation")]
    pub force: bool,
}

#[derive(Args, Debug)]
pub struct CpArgs {
    #[arg(
        short = 'a',
        long = "archive",
        help = "Archive mode (copy all uid/gid information)"
    )]
    pub archive: bool,
    #[arg(
        short = 'L',
        long = "follow-link",
        help = "Always follow symbol link in SRC_PATH"
    )]
    pub follow_link: bool,
    #[arg(
        short = 'q',
        long = "quiet",
        help = "Suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached to STDERR"
    )]
    pub quiet: bool,
    #[arg(value_name = "SRC_PATH", allow_hyphen_values = true)]
    pub source: String,
    #[arg(value_name = "DEST_PATH", allow_hyphen_values = true)]
    pub dest: String,
}

#[derive(Args, Debug)]
pub struct DiffArgs {
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    #[arg(
        short = 'o',
        long = "output",
        value_name = "string",
        help = "Write to a file, instead of STDOUT"
    )]
    pub output: Option<String>,
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

#[derive(Args, Debug)]
pub struct CommitArgs {
    #[arg(
        short = 'a',
        long = "author",
        value_name = "string",
        help = "Author (e.g., \"John Hannibal Smith <hannibal@a-team.com>\")"
    )]
    pub author: Option<String>,
    #[arg(
        short = 'c',
        long = "change",
        value_name = "list",
        help = "Apply Dockerfile instruction to the created image"
    )]
    pub change: Vec<String>,
    #[arg(
        short = 'm',
        long = "message",
        value_name = "string",
        help = "Commit message"
    )]
    pub message: Option<String>,
    #[arg(short = 'p', long = "pause", value_name = "bool", default_value_t = true, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true, help = "Pause container during commit (default true)")]
    pub pause: bool,
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub reference: Option<String>,
}

#[derive(Args, Debug)]
pub struct LoadArgs {
    #[arg(
        short = 'i',
        long = "input",
        value_name = "string",
        help = "Read from tar archive file, instead of STDIN"
    )]
    pub input: Option<String>,
    #[arg(short = 'q', long = "quiet", help = "Suppress the load output")]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct SaveArgs {
    #[arg(
        short = 'o',
        long = "output",
        value_name = "string",
        help = "Write to a file, instead of STDOUT"
    )]
    pub output: Option<String>,
    #[arg(value_name = "IMAGE", required = true)]
    pub images: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    #[arg(
        short = 'c',
        long = "change",
        value_name = "list",
        help = "Apply Dockerfile instruction to the created image"
    )]
    pub change: Vec<String>,
    #[arg(
        short = 'm',
        long = "message",
        value_name = "string",
        help = "Set commit message for imported image"
    )]
    pub message: Option<String>,
    #[arg(
        long = "platform",
        value_name = "string",
        help = "Set platform if server is multi-platform capable"
    )]
    pub platform: Option<String>,
    #[arg(value_name = "file|URL|-")]
    pub source: String,
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub reference: Option<String>,
}

#[derive(Args, Debug)]
pub struct ImagesArgs {
    #[arg(
        short = 'a',
        long = "all",
        help = "Show all images (default hides intermediate images)"
    )]
    pub all: bool,
    #[arg(long = "digests", help = "Show digests")]
    pub digests: bool,
    #[arg(
        short = 'f',
        long = "filter",
        value_name = "filter",
        help = "Filter output based on conditions provided"
    )]
    pub filter: Vec<String>,
    #[arg(long = "format", value_name = "string", help = FORMAT_HELP)]
    pub format: Option<String>,
    #[arg(long = "no-trunc", help = "Don't truncate output")]
    pub no_trunc: bool,
    #[arg(short = 'q', long = "quiet", help = "Only show image IDs")]
    pub quiet: bool,
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub reference: Option<String>,
}

#[derive(Args, Debug)]
pub struct HistoryArgs {
    #[arg(long = "format", value_name = "string", help = FORMAT_HELP)]
    pub format: Option<String>,
    #[arg(short = 'H', long = "human", value_name = "bool", default_value_t = true, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true, help = "Print sizes and dates in human readable format (default true)")]
    pub human: bool,
    #[arg(long = "no-trunc", help = "Don't truncate output")]
    pub no_trunc: bool,
    #[arg(short = 'q', long = "quiet", help = "Only show image IDs")]
    pub quiet: bool,
    #[arg(value_name = "IMAGE")]
    pub image: String,
}

#[derive(Args, Debug)]
pub struct TagArgs {
    #[arg(value_name = "SOURCE_IMAGE[:TAG]")]
    pub source: String,
    #[arg(value_name = "TARGET_IMAGE[:TAG]")]
    pub target: String,
}

#[derive(Args, Debug)]
pub struct RmiArgs {
    #[arg(short = 'f', long = "force", help = "Force removal of the image")]
    pub force: bool,
    #[arg(long = "no-prune", help = "Do not delete untagged parents")]
    pub no_prune: bool,
    #[arg(value_name = "IMAGE", required = true)]
    pub images: Vec<String>,
}

#[derive(Args, Debug)]
pub struct VersionArgs {
    #[arg(short = 'f', long = "format", value_name = "string", help = FORMAT_HELP)]
    pub format: Option<String>,
}

#[derive(Args, Debug)]
pub struct FormatOnly {
    #[arg(short = 'f', long = "format", value_name = "string", help = FORMAT_HELP)]
    pub format: Option<String>,
}

#[derive(Args, Debug)]
pub struct VolumeCreateArgs {
    #[arg(
        short = 'd',
        long = "driver",
        value_name = "string",
        default_value = "local",
        help = "Specify volume driver name (default \"local\")",
        hide_default_value = true
    )]
    pub driver: String,
    #[arg(
        long = "label",
        value_name = "list",
        help = "Set metadata for a volume"
    )]
    pub label: Vec<String>,
    #[arg(long = "name", value_name = "string", hide = true)]
    pub name: Option<String>,
    #[arg(
        short = 'o',
        long = "opt",
        value_name = "map",
        help = "Set driver specific options (default map[])"
    )]
    pub opt: Vec<String>,
    #[arg(value_name = "VOLUME")]
    pub volume: Option<String>,
}

#[derive(Args, Debug)]
pub struct FormatNames {
    #[arg(short = 'f', long = "format", value_name = "string", help = FORMAT_HELP)]
    pub format: Option<String>,
    #[arg(value_name = "VOLUME", required = true)]
    pub names: Vec<String>,
}

#[derive(Args, Debug)]
pub struct VolumeLsArgs {
    #[arg(
        short = 'f',
        long = "filter",
        value_name = "filter",
        help = "Provide filter values (e.g. \"dangling=true\")"
    )]
    pub filter: Vec<String>,
    #[arg(long = "format", value_name = "string", help = FORMAT_HELP)]
    pub format: Option<String>,
    #[arg(short = 'q', long = "quiet", help = "Only display volume names")]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct VolumePruneArgs {
    #[arg(
        short = 'a',
        long = "all",
        help = "Remove all unused volumes, not just anonymous ones"
    )]
    pub all: bool,
    #[arg(
        long = "filter",
        value_name = "filter",
        help = "Provide filter values (e.g. \"label=<label>\")"
    )]
    pub filter: Vec<String>,
    #[arg(short = 'f', long = "force", help = "Do not prompt for confirmation")]
    pub force: bool,
}

#[derive(Args, Debug)]
pub struct VolumeRmArgs {
    #[arg(
        short = 'f',
        long = "force",
        help = "Force the removal of one or more volumes"
    )]
    pub force: bool,
    #[arg(value_name = "VOLUME", required = true)]
    pub volumes: Vec<String>,
}

#[derive(Args, Debug)]
pub struct DfArgs {
    #[arg(long = "format", value_name = "string", help = FORMAT_HELP)]
    pub format: Option<String>,
    #[arg(
        short = 'v',
        long = "verbose",
        help = "Show detailed information on space usage"
    )]
    pub verbose: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("berth").chain(args.iter().copied())).unwrap()
    }

    fn run_args(args: &[&str]) -> RunArgs {
        match parse(args).command {
            Some(Command::Run(r)) => r,
            other => panic!("not a run: {other:?}"),
        }
    }

    #[test]
    fn combined_short_flags_and_equals() {
        let r = run_args(&[
            "run",
            "-it",
            "--rm",
            "--name=x",
            "-e",
            "A=1",
            "--env=B=2",
            "busybox",
            "sh",
        ]);
        assert!(r.interactive && r.tty && r.rm);
        assert_eq!(r.name.as_deref(), Some("x"));
        assert_eq!(r.env, ["A=1", "B=2"]);
        assert_eq!(r.image_and_command, ["busybox", "sh"]);
    }

    #[test]
    fn everything_after_the_image_is_the_command() {
        let r = run_args(&["run", "--rm", "busybox", "ls", "-la", "--rm", "-e", "x"]);
        assert_eq!(
            r.image_and_command,
            ["busybox", "ls", "-la", "--rm", "-e", "x"]
        );
        assert!(r.env.is_empty());
    }

    #[test]
    fn run_h_is_hostname_and_global_h_is_host() {
        let cli = parse(&["-H", "unix:///x.sock", "run", "-h", "box", "busybox"]);
        assert_eq!(cli.host.as_deref(), Some("unix:///x.sock"));
        match cli.command {
            Some(Command::Run(r)) => assert_eq!(r.hostname.as_deref(), Some("box")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn aliases() {
        assert!(
            matches!(parse(&["container", "ls", "-a"]).command, Some(Command::Container(ContainerCommand::Ls(p))) if p.all)
        );
        assert!(matches!(
            parse(&["container", "ps"]).command,
            Some(Command::Container(ContainerCommand::Ls(_)))
        ));
        assert!(
            matches!(parse(&["image", "ls", "-q"]).command, Some(Command::Image(ImageCommand::Ls(i))) if i.quiet)
        );
        assert!(matches!(
            parse(&["image", "rm", "x"]).command,
            Some(Command::Image(ImageCommand::Rm(_)))
        ));
    }

    #[test]
    fn repeated_flags_and_defaults() {
        let cli = parse(&["ps", "-f", "status=exited", "--filter", "name=x", "-n", "3"]);
        match cli.command {
            Some(Command::Ps(p)) => {
                assert_eq!(p.filter, ["status=exited", "name=x"]);
                assert_eq!(p.last, 3);
            }
            other => panic!("{other:?}"),
        }
        let r = run_args(&["run", "--sig-proxy=false", "busybox"]);
        assert!(!r.sig_proxy);
        assert!(run_args(&["run", "busybox"]).sig_proxy);
    }
}
