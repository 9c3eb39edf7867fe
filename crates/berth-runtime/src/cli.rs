//! runc's command line, parsed by hand from a table of flags per command.
//!
//! A hand-written parser rather than clap: clap builds its whole command tree (every subcommand
//! and flag) on each start; its parse took the process from 1.7 to 2.8 MiB resident (190 KiB of
//! heap, the rest code pages), and without it the peak RSS of a `run` is 300-400 KiB lower and
//! the start about 0.3 ms shorter.
//!
//! Rules (a superset of what runc's urfave/cli accepts): `--flag value`, `--flag=value`, `-f
//! value`, `-f=value`, runc's single-dash long form (`-bundle value`), bundled short booleans
//! (`-fq`), booleans as `--flag=true|false`; global flags anywhere; a command's flags anywhere among
//! its arguments, except that for `exec` everything after the container ID is the command and for
//! `ps` everything after the ID goes to ps(1); `--` ends the flags. A value flag takes the next
//! argument whatever it looks like (`--memory -1`).

use anyhow::{Result, bail};
use berth_runtime_core::container::CreateOptions;
use berth_runtime_core::exec::{ExecOptions, ProcessRequest};
use std::ffi::OsString;
use std::path::PathBuf;

pub struct Cli {
    /// Directory for container state.
    pub root: PathBuf,
    /// Write log messages to this file (default: stderr only).
    pub log: Option<PathBuf>,
    pub log_format: LogFormat,
    pub debug: bool,
    /// runc: use systemd to manage cgroups (not supported yet).
    pub systemd_cgroup: bool,
    /// runc: ignore cgroup permission errors ("true", "false" or "auto").
    pub rootless: Option<String>,
    /// runc: path to criu (checkpoint/restore is not supported yet; accepted for compatibility).
    #[allow(dead_code)]
    pub criu: Option<PathBuf>,
    pub command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ListFormat {
    Table,
    Json,
}

pub enum Command {
    Create(CreateArgs),
    Run(RunArgs),
    Start {
        id: String,
    },
    State {
        id: String,
    },
    Kill {
        all: bool,
        id: String,
        signal: String,
    },
    Delete {
        force: bool,
        id: String,
    },
    List {
        format: ListFormat,
        quiet: bool,
    },
    Ps {
        format: ListFormat,
        id: String,
        ps_args: Vec<String>,
    },
    Spec {
        bundle: PathBuf,
        rootless: bool,
    },
    Features,
    Pause {
        id: String,
    },
    Resume {
        id: String,
    },
    Update(UpdateArgs),
    Events {
        stats: bool,
        interval: String,
        id: String,
    },
    Exec(ExecArgs),
    /// runc commands berth-runtime does not implement yet (the command and its arguments).
    Unsupported(Vec<String>),
}

pub struct CreateArgs {
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub no_pivot: bool,
    pub preserve_fds: u32,
    pub no_new_keyring: bool,
    /// runc: receive a pidfd of the init on this socket (not supported yet).
    pub pidfd_socket: Option<PathBuf>,
    pub id: String,
}

pub struct RunArgs {
    pub detach: bool,
    /// Keep the container's state after it exits.
    pub keep: bool,
    /// runc: do not become a subreaper (berth only becomes one when it must; accepted).
    #[allow(dead_code)]
    pub no_subreaper: bool,
    pub create: CreateArgs,
}

pub struct ExecArgs {
    /// A process.json (the OCI process object) to run instead of the arguments.
    pub process: Option<PathBuf>,
    pub detach: bool,
    pub tty: bool,
    pub console_socket: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    /// Extra environment, KEY=VALUE (repeatable).
    pub env: Vec<String>,
    pub cwd: Option<PathBuf>,
    /// UID[:GID].
    pub user: Option<String>,
    pub additional_gids: Vec<u32>,
    /// Add a capability (repeatable).
    pub cap: Vec<String>,
    pub no_new_privs: bool,
    pub apparmor: Option<String>,
    pub process_label: Option<String>,
    pub preserve_fds: u32,
    /// Exec in a paused container (the process starts frozen).
    pub ignore_paused: bool,
    /// runc: run in a sub-cgroup of the container (not supported yet).
    pub cgroup: Vec<String>,
    /// runc: receive a pidfd of the process on this socket (not supported yet).
    pub pidfd_socket: Option<PathBuf>,
    pub id: String,
    /// The command and its arguments.
    pub command: Vec<String>,
}

pub struct UpdateArgs {
    /// A JSON file with linux.resources ("-" for standard input); the flags below override it.
    pub resources: Option<PathBuf>,
    pub memory: Option<String>,
    pub memory_reservation: Option<String>,
    pub memory_swap: Option<String>,
    pub cpu_shares: Option<u64>,
    pub cpu_quota: Option<i64>,
    pub cpu_period: Option<u64>,
    pub cpu_rt_runtime: Option<i64>,
    pub cpu_rt_period: Option<u64>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    pub pids_limit: Option<i64>,
    /// runc: block IO weight (not supported yet).
    pub blkio_weight: Option<u16>,
    /// runc: kernel memory limit (deprecated by the kernel; refused).
    pub kernel_memory: Option<String>,
    pub id: String,
}

/// What the command line asks for when it is not a command to run.
pub enum Parsed {
    Run(Box<Cli>),
    /// `--help`/`-h`/`help`: the text to print on stdout (exit 0).
    Help(String),
    /// `--version`/`-v`.
    Version,
}

/// A command line that cannot be parsed: the message (no `error:` prefix) and the usage line of
/// the command it was for.
#[derive(Debug)]
pub struct UsageError {
    pub message: String,
    pub usage: String,
}

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "error: {}\n\nUsage: {}\n\nFor more information, try '--help'.",
            self.message, self.usage
        )
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A boolean (`--flag`, `--flag=true|false`).
    Bool,
    /// One value; given again, the last one counts.
    Value,
    /// A value that may be given several times.
    Many,
}

struct Flag {
    long: &'static str,
    short: Option<char>,
    kind: Kind,
    help: &'static str,
}

const fn flag(long: &'static str, short: Option<char>, kind: Kind, help: &'static str) -> Flag {
    Flag {
        long,
        short,
        kind,
        help,
    }
}

use Kind::{Bool, Many, Value};

const GLOBAL: &[Flag] = &[
    flag(
        "root",
        None,
        Value,
        "directory for container state (default /run/berth-runtime)",
    ),
    flag(
        "log",
        None,
        Value,
        "write log messages to this file (default: stderr)",
    ),
    flag("log-format", None, Value, "text or json"),
    flag("debug", None, Bool, "log debug messages too"),
    flag(
        "systemd-cgroup",
        None,
        Bool,
        "runc: systemd cgroup driver (refused)",
    ),
    flag("rootless", None, Value, "runc: true, false or auto"),
    flag("criu", None, Value, "runc: path to criu (accepted, unused)"),
    flag("help", Some('h'), Bool, "print help"),
    flag("version", Some('v'), Bool, "print the version"),
];

const CREATE: &[Flag] = &[
    flag("bundle", Some('b'), Value, "bundle directory (default .)"),
    flag("pid-file", None, Value, "write the init's PID here"),
    flag(
        "console-socket",
        None,
        Value,
        "send the terminal's master here",
    ),
    flag(
        "no-pivot",
        None,
        Bool,
        "no pivot_root (move the rootfs with MS_MOVE)",
    ),
    flag(
        "preserve-fds",
        None,
        Value,
        "pass this many fds after stdio",
    ),
    flag(
        "no-new-keyring",
        None,
        Bool,
        "keep the caller's session keyring",
    ),
    flag(
        "pidfd-socket",
        None,
        Value,
        "runc: send a pidfd here (refused)",
    ),
];

const RUN: &[Flag] = &[
    flag("bundle", Some('b'), Value, "bundle directory (default .)"),
    flag("pid-file", None, Value, "write the init's PID here"),
    flag(
        "console-socket",
        None,
        Value,
        "send the terminal's master here",
    ),
    flag(
        "no-pivot",
        None,
        Bool,
        "no pivot_root (move the rootfs with MS_MOVE)",
    ),
    flag(
        "preserve-fds",
        None,
        Value,
        "pass this many fds after stdio",
    ),
    flag(
        "no-new-keyring",
        None,
        Bool,
        "keep the caller's session keyring",
    ),
    flag(
        "pidfd-socket",
        None,
        Value,
        "runc: send a pidfd here (refused)",
    ),
    flag("detach", Some('d'), Bool, "do not wait for the container"),
    flag(
        "keep",
        None,
        Bool,
        "keep the container's state after it exits",
    ),
    flag(
        "no-subreaper",
        None,
        Bool,
        "runc: do not become a subreaper (accepted)",
    ),
];

const EXEC: &[Flag] = &[
    flag(
        "process",
        Some('p'),
        Value,
        "an OCI process JSON file to run",
    ),
    flag("detach", Some('d'), Bool, "do not wait for the process"),
    flag("tty", Some('t'), Bool, "give the process a terminal"),
    flag(
        "console-socket",
        None,
        Value,
        "send the terminal's master here",
    ),
    flag("pid-file", None, Value, "write the process's PID here"),
    flag("env", Some('e'), Many, "KEY=VALUE (repeatable)"),
    flag("cwd", None, Value, "working directory"),
    flag("user", Some('u'), Value, "UID[:GID]"),
    flag(
        "additional-gids",
        Some('g'),
        Many,
        "an extra group (repeatable)",
    ),
    flag("cap", Some('c'), Many, "add a capability (repeatable)"),
    flag("no-new-privs", None, Bool, "set no_new_privs"),
    flag("apparmor", None, Value, "AppArmor profile"),
    flag("process-label", None, Value, "SELinux label"),
    flag(
        "preserve-fds",
        None,
        Value,
        "pass this many fds after stdio",
    ),
    flag("ignore-paused", None, Bool, "exec into a paused container"),
    flag("cgroup", None, Many, "runc: a sub-cgroup (refused)"),
    flag(
        "pidfd-socket",
        None,
        Value,
        "runc: send a pidfd here (refused)",
    ),
];

const UPDATE: &[Flag] = &[
    flag(
        "resources",
        Some('r'),
        Value,
        "linux.resources JSON file (- for stdin)",
    ),
    flag("memory", None, Value, "memory limit (64m, 1g, -1 for none)"),
    flag("memory-reservation", None, Value, "memory soft limit"),
    flag(
        "memory-swap",
        None,
        Value,
        "memory plus swap limit (-1 for none)",
    ),
    flag("cpu-share", None, Value, "CPU shares"),
    flag("cpu-shares", None, Value, "CPU shares"),
    flag("cpu-quota", None, Value, "CPU quota (µs per period)"),
    flag("cpu-period", None, Value, "CPU period (µs)"),
    flag("cpu-rt-runtime", None, Value, "realtime runtime (µs)"),
    flag("cpu-rt-period", None, Value, "realtime period (µs)"),
    flag("cpuset-cpus", None, Value, "CPUs"),
    flag("cpuset-mems", None, Value, "memory nodes"),
    flag("pids-limit", None, Value, "pids limit"),
    flag(
        "blkio-weight",
        None,
        Value,
        "runc: block IO weight (refused)",
    ),
    flag(
        "kernel-memory",
        None,
        Value,
        "runc: kernel memory (refused)",
    ),
];

const KILL: &[Flag] = &[flag(
    "all",
    Some('a'),
    Bool,
    "signal every process of the container",
)];
const DELETE: &[Flag] = &[flag(
    "force",
    Some('f'),
    Bool,
    "kill a running container first",
)];
const LIST: &[Flag] = &[
    flag("format", Some('f'), Value, "table or json"),
    flag("quiet", Some('q'), Bool, "IDs only"),
];
const PS: &[Flag] = &[flag("format", Some('f'), Value, "table or json")];
const SPEC: &[Flag] = &[
    flag(
        "bundle",
        Some('b'),
        Value,
        "where to write config.json (default .)",
    ),
    flag(
        "rootless",
        None,
        Bool,
        "a config for an unprivileged user (user namespace)",
    ),
];
const EVENTS: &[Flag] = &[
    flag("stats", None, Bool, "print the stats once"),
    flag(
        "interval",
        None,
        Value,
        "time between reports (5s, 500ms; default 5s)",
    ),
];
const NONE: &[Flag] = &[];

/// How a command takes its positional arguments.
#[derive(Clone, Copy)]
enum Positionals {
    /// Exactly these names, in order; names ending in `?` are optional.
    Fixed(&'static [&'static str]),
    /// The ID, then everything else verbatim (exec's command, ps's arguments).
    IdThenRest,
}

struct CommandSpec {
    name: &'static str,
    flags: &'static [Flag],
    positionals: Positionals,
    about: &'static str,
}

const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "create",
        flags: CREATE,
        positionals: Positionals::Fixed(&["ID"]),
        about: "create a container; its process waits for `start`",
    },
    CommandSpec {
        name: "run",
        flags: RUN,
        positionals: Positionals::Fixed(&["ID"]),
        about: "create, start and wait for a container",
    },
    CommandSpec {
        name: "start",
        flags: NONE,
        positionals: Positionals::Fixed(&["ID"]),
        about: "start a created container",
    },
    CommandSpec {
        name: "state",
        flags: NONE,
        positionals: Positionals::Fixed(&["ID"]),
        about: "print a container's state as JSON",
    },
    CommandSpec {
        name: "kill",
        flags: KILL,
        positionals: Positionals::Fixed(&["ID", "SIGNAL?"]),
        about: "send a signal (default SIGTERM) to a container's init",
    },
    CommandSpec {
        name: "delete",
        flags: DELETE,
        positionals: Positionals::Fixed(&["ID"]),
        about: "delete a container",
    },
    CommandSpec {
        name: "list",
        flags: LIST,
        positionals: Positionals::Fixed(&[]),
        about: "list containers",
    },
    CommandSpec {
        name: "ps",
        flags: PS,
        positionals: Positionals::IdThenRest,
        about: "list a container's processes",
    },
    CommandSpec {
        name: "spec",
        flags: SPEC,
        positionals: Positionals::Fixed(&[]),
        about: "write a default config.json",
    },
    CommandSpec {
        name: "features",
        flags: NONE,
        positionals: Positionals::Fixed(&[]),
        about: "print the runtime's features document",
    },
    CommandSpec {
        name: "pause",
        flags: NONE,
        positionals: Positionals::Fixed(&["ID"]),
        about: "freeze every process of a container",
    },
    CommandSpec {
        name: "resume",
        flags: NONE,
        positionals: Positionals::Fixed(&["ID"]),
        about: "thaw a paused container",
    },
    CommandSpec {
        name: "update",
        flags: UPDATE,
        positionals: Positionals::Fixed(&["ID"]),
        about: "change a live container's resource limits",
    },
    CommandSpec {
        name: "events",
        flags: EVENTS,
        positionals: Positionals::Fixed(&["ID"]),
        about: "print a container's resource usage",
    },
    CommandSpec {
        name: "exec",
        flags: EXEC,
        positionals: Positionals::IdThenRest,
        about: "run a new process inside a running container",
    },
];

/// The values given for one command's flags (index into its table) and its positionals.
struct Matches {
    values: Vec<(usize, OsString)>,
    positionals: Vec<OsString>,
}

impl Matches {
    fn last(&self, flags: &[Flag], long: &str) -> Option<&OsString> {
        let i = flags.iter().position(|f| f.long == long)?;
        self.values
            .iter()
            .rev()
            .find(|(k, _)| *k == i)
            .map(|(_, v)| v)
    }
    fn all(&self, flags: &[Flag], long: &str) -> Vec<&OsString> {
        let Some(i) = flags.iter().position(|f| f.long == long) else {
            return Vec::new();
        };
        self.values
            .iter()
            .filter(|(k, _)| *k == i)
            .map(|(_, v)| v)
            .collect()
    }
}

/// Reads the values of one command (and the global flags, into `globals`).
struct Reader<'a> {
    spec: &'a CommandSpec,
    usage: String,
}

impl Reader<'_> {
    fn err(&self, message: String) -> UsageError {
        UsageError {
            message,
            usage: self.usage.clone(),
        }
    }

    fn text(&self, flag: &str, v: &OsString) -> Result<String, UsageError> {
        v.to_str()
            .map(String::from)
            .ok_or_else(|| self.err(format!("--{flag}: {v:?} is not valid UTF-8")))
    }

    fn string(&self, m: &Matches, long: &str) -> Result<Option<String>, UsageError> {
        m.last(self.spec.flags, long)
            .map(|v| self.text(long, v))
            .transpose()
    }

    fn strings(&self, m: &Matches, long: &str) -> Result<Vec<String>, UsageError> {
        m.all(self.spec.flags, long)
            .into_iter()
            .map(|v| self.text(long, v))
            .collect()
    }

    fn path(&self, m: &Matches, long: &str) -> Option<PathBuf> {
        m.last(self.spec.flags, long).map(PathBuf::from)
    }

    fn bool(&self, m: &Matches, long: &str) -> Result<bool, UsageError> {
        match self.string(m, long)? {
            None => Ok(false),
            Some(v) => parse_bool(&v)
                .ok_or_else(|| self.err(format!("--{long}: {v:?} is not true or false"))),
        }
    }

    fn number<T: std::str::FromStr>(
        &self,
        m: &Matches,
        long: &str,
    ) -> Result<Option<T>, UsageError> {
        match self.string(m, long)? {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| self.err(format!("--{long}: {v:?} is not a valid number"))),
        }
    }

    fn numbers<T: std::str::FromStr>(&self, m: &Matches, long: &str) -> Result<Vec<T>, UsageError> {
        self.strings(m, long)?
            .into_iter()
            .map(|v| {
                v.trim()
                    .parse()
                    .map_err(|_| self.err(format!("--{long}: {v:?} is not a valid number")))
            })
            .collect()
    }

    fn list_format(&self, m: &Matches) -> Result<ListFormat, UsageError> {
        match self.string(m, "format")?.as_deref() {
            None | Some("table") => Ok(ListFormat::Table),
            Some("json") => Ok(ListFormat::Json),
            Some(other) => Err(self.err(format!("--format: {other:?} is not table or json"))),
        }
    }

    fn positional(&self, m: &Matches, i: usize) -> Result<Option<String>, UsageError> {
        m.positionals
            .get(i)
            .map(|v| {
                v.to_str()
                    .map(String::from)
                    .ok_or_else(|| self.err(format!("{v:?} is not valid UTF-8")))
            })
            .transpose()
    }

    fn id(&self, m: &Matches) -> Result<String, UsageError> {
        self.positional(m, 0)?
            .ok_or_else(|| self.err("the container ID is missing".into()))
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "" | "true" | "1" | "t" | "T" | "TRUE" | "True" => Some(true),
        "false" | "0" | "f" | "F" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

fn usage_of(spec: Option<&CommandSpec>) -> String {
    let Some(spec) = spec else {
        return "berth-runtime [GLOBAL OPTIONS] <COMMAND> [OPTIONS] [ARGS]".into();
    };
    let mut u = format!("berth-runtime {}", spec.name);
    if !spec.flags.is_empty() {
        u.push_str(" [OPTIONS]");
    }
    match spec.positionals {
        Positionals::Fixed(names) => {
            for n in names {
                match n.strip_suffix('?') {
                    Some(opt) => u.push_str(&format!(" [{opt}]")),
                    None => u.push_str(&format!(" <{n}>")),
                }
            }
        }
        Positionals::IdThenRest if spec.name == "exec" => u.push_str(" <ID> [COMMAND [ARGS]...]"),
        Positionals::IdThenRest => u.push_str(" <ID> [PS_ARGS]..."),
    }
    u
}

fn help_text(spec: Option<&CommandSpec>) -> String {
    let mut h = String::new();
    let flags_block = |h: &mut String, title: &str, flags: &[Flag]| {
        h.push_str(title);
        for f in flags {
            let short = f.short.map(|c| format!("-{c}, ")).unwrap_or_default();
            let value = if f.kind == Bool { "" } else { " <VALUE>" };
            h.push_str(&format!("  {short}--{}{value}\n      {}\n", f.long, f.help));
        }
    };
    match spec {
        None => {
            h.push_str("An OCI container runtime with runc's command line\n\n");
            h.push_str(&format!("Usage: {}\n\nCommands:\n", usage_of(None)));
            for c in COMMANDS {
                h.push_str(&format!("  {:<9} {}\n", c.name, c.about));
            }
            flags_block(&mut h, "\nGlobal options:\n", GLOBAL);
        }
        Some(spec) => {
            h.push_str(&format!(
                "{}: {}\n\nUsage: {}\n",
                spec.name,
                spec.about,
                usage_of(Some(spec))
            ));
            if !spec.flags.is_empty() {
                flags_block(&mut h, "\nOptions:\n", spec.flags);
            }
        }
    }
    h
}

/// Finds a flag of `table` by the text after the dashes: a long name, or (one dash) a short one.
fn lookup<'t>(table: &'t [Flag], name: &str, dashes: usize) -> Option<(usize, &'t Flag)> {
    let long = table.iter().position(|f| f.long == name);
    let found = match (dashes, long) {
        (_, Some(i)) => Some(i),
        (1, None) => {
            let mut chars = name.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => table.iter().position(|f| f.short == Some(c)),
                _ => None,
            }
        }
        _ => None,
    };
    found.map(|i| (i, &table[i]))
}

impl Cli {
    /// Parses argv (with argv\[0\]).
    pub fn parse_from(args: &[OsString]) -> Result<Parsed, UsageError> {
        let mut global = Matches {
            values: Vec::new(),
            positionals: Vec::new(),
        };
        let mut local = Matches {
            values: Vec::new(),
            positionals: Vec::new(),
        };
        let mut spec: Option<&'static CommandSpec> = None;
        let mut unsupported: Option<Vec<String>> = None;
        let mut only_positionals = false;
        let mut it = args.iter().skip(1);
        while let Some(arg) = it.next() {
            if let Some(rest) = &mut unsupported {
                rest.push(arg.to_string_lossy().into_owned());
                continue;
            }
            // exec's command and ps's arguments: everything after the ID, verbatim.
            if let Some(s) = spec
                && matches!(s.positionals, Positionals::IdThenRest)
                && !local.positionals.is_empty()
            {
                local.positionals.push(arg.clone());
                continue;
            }
            let text = arg.to_str();
            let is_flag =
                !only_positionals && text.is_some_and(|t| t.len() > 1 && t.starts_with('-'));
            if !is_flag {
                if !only_positionals && text == Some("--") {
                    only_positionals = true;
                    continue;
                }
                match spec {
                    Some(_) => local.positionals.push(arg.clone()),
                    None => {
                        let name = arg.to_string_lossy().into_owned();
                        if name == "help" {
                            return Ok(Parsed::Help(help_text(None)));
                        }
                        match COMMANDS.iter().find(|c| c.name == name) {
                            Some(c) => spec = Some(c),
                            None => unsupported = Some(vec![name]),
                        }
                    }
                }
                continue;
            }
            let t = text.unwrap_or_default();
            if t == "--" {
                only_positionals = true;
                continue;
            }
            let dashes = if t.starts_with("--") { 2 } else { 1 };
            let body = &t[dashes..];
            let (name, inline) = match body.split_once('=') {
                Some((n, v)) => (n, Some(OsString::from(v))),
                None => (body, None),
            };
            let usage = usage_of(spec);
            let unknown = || UsageError {
                message: format!("unexpected argument '{t}' found"),
                usage: usage.clone(),
            };
            let local_flag = spec.and_then(|s| lookup(s.flags, name, dashes));
            let (target, index, f) = match local_flag {
                Some((i, f)) => (&mut local, i, f),
                None => match lookup(GLOBAL, name, dashes) {
                    Some((i, f)) => (&mut global, i, f),
                    None if dashes == 1 && inline.is_none() && name.chars().count() > 1 => {
                        // Bundled short booleans: -fq.
                        let mut found = Vec::new();
                        for c in name.chars() {
                            let table = spec.map(|s| s.flags).unwrap_or(GLOBAL);
                            match table
                                .iter()
                                .position(|f| f.short == Some(c) && f.kind == Bool)
                            {
                                Some(i) => found.push(i),
                                None => return Err(unknown()),
                            }
                        }
                        let target = if spec.is_some() {
                            &mut local
                        } else {
                            &mut global
                        };
                        for i in found {
                            target.values.push((i, OsString::from("true")));
                        }
                        continue;
                    }
                    None => return Err(unknown()),
                },
            };
            let value = match (f.kind, inline) {
                (Bool, Some(v)) => v,
                (Bool, None) => OsString::from("true"),
                (_, Some(v)) => v,
                (_, None) => match it.next() {
                    Some(v) => v.clone(),
                    None => {
                        return Err(UsageError {
                            message: format!(
                                "a value is required for '--{}' but none was supplied",
                                f.long
                            ),
                            usage,
                        });
                    }
                },
            };
            target.values.push((index, value));
        }

        let g = Reader {
            spec: &CommandSpec {
                name: "",
                flags: GLOBAL,
                positionals: Positionals::Fixed(&[]),
                about: "",
            },
            usage: usage_of(spec),
        };
        if g.bool(&global, "help")? {
            return Ok(Parsed::Help(help_text(spec)));
        }
        if g.bool(&global, "version")? {
            return Ok(Parsed::Version);
        }
        let log_format = match g.string(&global, "log-format")?.as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(g.err(format!("--log-format: {other:?} is not text or json")));
            }
        };
        let command = match (spec, unsupported) {
            (_, Some(rest)) => Command::Unsupported(rest),
            (None, None) => {
                return Err(UsageError {
                    message: "a command is required".into(),
                    usage: usage_of(None),
                });
            }
            (Some(spec), None) => Self::command(spec, &local)?,
        };
        Ok(Parsed::Run(Box::new(Cli {
            root: g
                .path(&global, "root")
                .unwrap_or_else(|| PathBuf::from("/run/berth-runtime")),
            log: g.path(&global, "log"),
            log_format,
            debug: g.bool(&global, "debug")?,
            systemd_cgroup: g.bool(&global, "systemd-cgroup")?,
            rootless: g.string(&global, "rootless")?,
            criu: g.path(&global, "criu"),
            command,
        })))
    }

    fn command(spec: &'static CommandSpec, m: &Matches) -> Result<Command, UsageError> {
        let r = Reader {
            spec,
            usage: usage_of(Some(spec)),
        };
        if let Positionals::Fixed(names) = spec.positionals {
            let required = names.iter().filter(|n| !n.ends_with('?')).count();
            if m.positionals.len() < required {
                let missing: Vec<String> = names[m.positionals.len()..required]
                    .iter()
                    .map(|n| format!("<{n}>"))
                    .collect();
                return Err(r.err(format!(
                    "the following required arguments were not provided: {}",
                    missing.join(" ")
                )));
            }
            if let Some(extra) = m.positionals.get(names.len()) {
                return Err(r.err(format!(
                    "unexpected argument '{}' found",
                    extra.to_string_lossy()
                )));
            }
        }
        let create = |r: &Reader<'_>| -> Result<CreateArgs, UsageError> {
            Ok(CreateArgs {
                bundle: r.path(m, "bundle").unwrap_or_else(|| PathBuf::from(".")),
                pid_file: r.path(m, "pid-file"),
                console_socket: r.path(m, "console-socket"),
                no_pivot: r.bool(m, "no-pivot")?,
                preserve_fds: r.number(m, "preserve-fds")?.unwrap_or(0),
                no_new_keyring: r.bool(m, "no-new-keyring")?,
                pidfd_socket: r.path(m, "pidfd-socket"),
                id: r.id(m)?,
            })
        };
        Ok(match spec.name {
            "create" => Command::Create(create(&r)?),
            "run" => Command::Run(RunArgs {
                detach: r.bool(m, "detach")?,
                keep: r.bool(m, "keep")?,
                no_subreaper: r.bool(m, "no-subreaper")?,
                create: create(&r)?,
            }),
            "start" => Command::Start { id: r.id(m)? },
            "state" => Command::State { id: r.id(m)? },
            "kill" => Command::Kill {
                all: r.bool(m, "all")?,
                id: r.id(m)?,
                signal: r.positional(m, 1)?.unwrap_or_else(|| "SIGTERM".into()),
            },
            "delete" => Command::Delete {
                force: r.bool(m, "force")?,
                id: r.id(m)?,
            },
            "list" => Command::List {
                format: r.list_format(m)?,
                quiet: r.bool(m, "quiet")?,
            },
            "ps" => Command::Ps {
                format: r.list_format(m)?,
                id: r.id(m)?,
                ps_args: (1..m.positionals.len())
                    .map(|i| r.positional(m, i).map(Option::unwrap_or_default))
                    .collect::<Result<_, _>>()?,
            },
            "spec" => Command::Spec {
                bundle: r.path(m, "bundle").unwrap_or_else(|| PathBuf::from(".")),
                rootless: r.bool(m, "rootless")?,
            },
            "features" => Command::Features,
            "pause" => Command::Pause { id: r.id(m)? },
            "resume" => Command::Resume { id: r.id(m)? },
            "update" => Command::Update(UpdateArgs {
                resources: r.path(m, "resources"),
                memory: r.string(m, "memory")?,
                memory_reservation: r.string(m, "memory-reservation")?,
                memory_swap: r.string(m, "memory-swap")?,
                cpu_shares: match r.number(m, "cpu-share")? {
                    Some(v) => Some(v),
                    None => r.number(m, "cpu-shares")?,
                },
                cpu_quota: r.number(m, "cpu-quota")?,
                cpu_period: r.number(m, "cpu-period")?,
                cpu_rt_runtime: r.number(m, "cpu-rt-runtime")?,
                cpu_rt_period: r.number(m, "cpu-rt-period")?,
                cpuset_cpus: r.string(m, "cpuset-cpus")?,
                cpuset_mems: r.string(m, "cpuset-mems")?,
                pids_limit: r.number(m, "pids-limit")?,
                blkio_weight: r.number(m, "blkio-weight")?,
                kernel_memory: r.string(m, "kernel-memory")?,
                id: r.id(m)?,
            }),
            "events" => Command::Events {
                stats: r.bool(m, "stats")?,
                interval: r.string(m, "interval")?.unwrap_or_else(|| "5s".into()),
                id: r.id(m)?,
            },
            "exec" => Command::Exec(ExecArgs {
                process: r.path(m, "process"),
                detach: r.bool(m, "detach")?,
                tty: r.bool(m, "tty")?,
                console_socket: r.path(m, "console-socket"),
                pid_file: r.path(m, "pid-file"),
                env: r.strings(m, "env")?,
                cwd: r.path(m, "cwd"),
                user: r.string(m, "user")?,
                additional_gids: r.numbers(m, "additional-gids")?,
                cap: r.strings(m, "cap")?,
                no_new_privs: r.bool(m, "no-new-privs")?,
                apparmor: r.string(m, "apparmor")?,
                process_label: r.string(m, "process-label")?,
                preserve_fds: r.number(m, "preserve-fds")?.unwrap_or(0),
                ignore_paused: r.bool(m, "ignore-paused")?,
                cgroup: r.strings(m, "cgroup")?,
                pidfd_socket: r.path(m, "pidfd-socket"),
                id: r.id(m)?,
                command: (1..m.positionals.len())
                    .map(|i| r.positional(m, i).map(Option::unwrap_or_default))
                    .collect::<Result<_, _>>()?,
            }),
            other => {
                return Err(r.err(format!("{other}: no such command")));
            }
        })
    }
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

    fn parse(args: &[&str]) -> Result<Cli, String> {
        let argv: Vec<OsString> = std::iter::once("berth-runtime")
            .chain(args.iter().copied())
            .map(OsString::from)
            .collect();
        match Cli::parse_from(&argv) {
            Ok(Parsed::Run(cli)) => Ok(*cli),
            Ok(_) => Err("help or version".into()),
            Err(e) => Err(e.message),
        }
    }

    #[test]
    fn runc_command_lines() {
        // containerd's shim
        let cli = parse(&[
            "--root",
            "/r",
            "--log",
            "/b/log.json",
            "--log-format",
            "json",
            "create",
            "--bundle",
            "/b",
            "--pid-file",
            "/b/init.pid",
            "--console-socket",
            "/tmp/s",
            "c1",
        ])
        .unwrap();
        assert_eq!(cli.root, PathBuf::from("/r"));
        assert!(cli.log_format == LogFormat::Json);
        let Command::Create(c) = cli.command else {
            panic!("create")
        };
        assert_eq!((c.id.as_str(), c.bundle.to_str()), ("c1", Some("/b")));
        assert_eq!(c.console_socket, Some(PathBuf::from("/tmp/s")));
        // conmon: --log-format=json, flags after the command, runc's single-dash long form
        let cli = parse(&[
            "--log-format=json",
            "--log",
            "/l",
            "create",
            "-bundle",
            "/b",
            "c2",
            "--no-pivot",
        ])
        .unwrap();
        let Command::Create(c) = cli.command else {
            panic!("create")
        };
        assert!(c.no_pivot && c.id == "c2" && c.bundle == std::path::Path::new("/b"));
        // globals after the command
        let cli = parse(&["state", "c3", "--root=/x"]).unwrap();
        assert_eq!(cli.root, PathBuf::from("/x"));
        // kill with and without a signal, bundled shorts in list
        let Command::Kill { all, id, signal } = parse(&["kill", "-a", "c", "9"]).unwrap().command
        else {
            panic!()
        };
        assert!(all && id == "c" && signal == "9");
        let Command::Kill { signal, .. } = parse(&["kill", "c"]).unwrap().command else {
            panic!()
        };
        assert_eq!(signal, "SIGTERM");
        let Command::List { format, quiet } = parse(&["list", "-q", "-f", "json"]).unwrap().command
        else {
            panic!()
        };
        assert!(quiet && format == ListFormat::Json);
        // bundled short booleans
        let Command::Exec(e) = parse(&["exec", "-dt", "c", "sh"]).unwrap().command else {
            panic!()
        };
        assert!(e.detach && e.tty);
        // exec: everything after the ID is the command
        let Command::Exec(e) = parse(&[
            "exec",
            "--detach",
            "--pid-file",
            "/p",
            "-e",
            "A=1",
            "-e",
            "B=2",
            "c",
            "sh",
            "-c",
            "echo --tty",
        ])
        .unwrap()
        .command
        else {
            panic!()
        };
        assert!(e.detach && !e.tty && e.env == ["A=1", "B=2"]);
        assert_eq!(e.command, ["sh", "-c", "echo --tty"]);
        // ps arguments
        let Command::Ps {
            format, ps_args, ..
        } = parse(&["ps", "-f", "json", "c", "-ef"]).unwrap().command
        else {
            panic!()
        };
        assert!(format == ListFormat::Json && ps_args == ["-ef"]);
        // value flags take hyphenated values; cpu-shares is an alias
        let Command::Update(u) = parse(&["update", "--memory", "-1", "--cpu-shares", "512", "c"])
            .unwrap()
            .command
        else {
            panic!()
        };
        assert_eq!((u.memory.as_deref(), u.cpu_shares), (Some("-1"), Some(512)));
        // booleans as =true/false; -- ends the flags
        let Command::Delete { force, id } = parse(&["delete", "--force=false", "--", "-odd"])
            .unwrap()
            .command
        else {
            panic!()
        };
        assert!(!force && id == "-odd");
        // unknown commands are passed on as unsupported
        let Command::Unsupported(v) = parse(&["checkpoint", "--x", "c"]).unwrap().command else {
            panic!()
        };
        assert_eq!(v, ["checkpoint", "--x", "c"]);
    }

    fn err(args: &[&str]) -> String {
        match parse(args) {
            Ok(_) => panic!("{args:?} parsed"),
            Err(e) => e,
        }
    }

    #[test]
    fn usage_errors() {
        assert!(err(&["state"]).contains("<ID>"));
        assert!(err(&["state", "a", "b"]).contains("'b'"));
        assert!(err(&["--bogus", "state", "a"]).contains("--bogus"));
        assert!(err(&["create", "--bundle"]).contains("--bundle"));
        assert!(err(&["--log-format", "yaml", "state", "a"]).contains("yaml"));
        assert!(err(&["create", "--preserve-fds", "x", "c"]).contains("preserve-fds"));
        assert!(err(&[]).contains("command"));
    }

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
