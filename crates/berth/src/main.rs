//! berth: a docker-compatible CLI that speaks the Docker Engine API over a Unix socket.
#![recursion_limit = "512"]

mod api;
mod cli;
mod cmd;
mod host;
mod http;
mod stream;
mod tabwriter;
mod template;
mod term;
mod units;

use clap::Parser;

use api::{CliError, Client};
use cli::{Cli, Command, ContainerCommand, ImageCommand, SystemCommand, VolumeCommand};

fn connect(host_flag: Option<&str>) -> api::Result<Client> {
    let host = host::from_env(host_flag);
    let socket = host::socket_path(&host).map_err(CliError::msg)?;
    Client::connect(http::Endpoint { socket })
}

/// The subcommand name docker uses in "Run 'docker X --help'".
fn command_name(args: &[String]) -> String {
    let words: Vec<&str> = args
        .iter()
        .skip(1)
        .map(String::as_str)
        .filter(|a| !a.starts_with('-'))
        .take(2)
        .collect();
    match words.as_slice() {
        [
            group @ ("container" | "image" | "system" | "volume"),
            sub,
            ..,
        ] => {
            format!("{group} {sub}")
        }
        [first, ..] => first.to_string(),
        [] => String::new(),
    }
}

/// The "Usage:" line of a subcommand's help ("container ls" looks in the group).
fn usage_line(name: &str) -> Option<String> {
    use clap::CommandFactory;
    let mut command = Cli::command();
    let mut sub = &mut command;
    for word in name.split_whitespace() {
        sub = sub.find_subcommand_mut(word)?;
    }
    let help = sub.render_help().to_string();
    help.lines()
        .find(|l| l.starts_with("Usage:"))
        .map(str::to_string)
}

/// docker's wording and exit codes for command-line mistakes.
fn parse_error_report(e: &clap::Error, name: &str) -> (String, i32) {
    use clap::error::{ContextKind, ErrorKind};
    let usage = usage_line(name)
        .map(|u| format!("{u}\n\n"))
        .unwrap_or_default();
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => (e.render().to_string(), 0),
        ErrorKind::InvalidSubcommand => {
            let word = e
                .get(ContextKind::InvalidSubcommand)
                .map(|v| v.to_string())
                .unwrap_or_else(|| name.to_string());
            (
                format!(
                    "berth: unknown command: berth {word}\n\nRun 'berth --help' for more information\n"
                ),
                1,
            )
        }
        ErrorKind::MissingRequiredArgument | ErrorKind::TooFewValues => (
            format!(
                "berth: 'berth {name}' requires at least 1 argument\n\n{usage}See 'berth {name} --help' for more information\n"
            ),
            1,
        ),
        ErrorKind::UnknownArgument => {
            let flag = e
                .get(ContextKind::InvalidArg)
                .map(|v| v.to_string())
                .unwrap_or_default();
            let flag = flag.split('=').next().unwrap_or("").to_string();
            (
                format!(
                    "unknown flag: {flag}\n\n{usage}Run 'berth {name} --help' for more information\n"
                ),
                125,
            )
        }
        _ => {
            let text = e.render().to_string();
            let first = text
                .lines()
                .next()
                .unwrap_or("")
                .trim_start_matches("error: ");
            (
                format!("{first}\n\n{usage}Run 'berth {name} --help' for more information\n"),
                125,
            )
        }
    }
}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    let cli = match Cli::try_parse_from(&argv) {
        Ok(cli) => cli,
        Err(e) => {
            let (text, code) = parse_error_report(&e, &command_name(&argv));
            if code == 0 {
                print!("{text}");
            } else {
                eprint!("{text}");
            }
            std::process::exit(code);
        }
    };
    if cli.version {
        println!("berth version {}", env!("CARGO_PKG_VERSION"));
        return;
    }
    let Some(command) = cli.command else {
        print!("{}", cli::TOP_HELP);
        return;
    };
    let host = cli.host.clone();
    let code = dispatch(command, host.as_deref());
    std::process::exit(code);
}

fn dispatch(command: Command, host: Option<&str>) -> i32 {
    use cmd::{cp, exec, files, images, lifecycle, observe, run, stats, volumes};
    let connected = || connect(host);
    let with_client = |f: &mut dyn FnMut(&mut Client) -> api::Result<i32>| -> i32 {
        let result = connected().and_then(|mut c| f(&mut c));
        match result {
            Ok(code) => code,
            Err(e) => {
                eprintln!("{e}");
                1
            }
        }
    };
    match command {
        Command::Run(a) | Command::Container(ContainerCommand::Run(a)) => run::run(connected, &a),
        Command::Create(a) | Command::Container(ContainerCommand::Create(a)) => {
            run::create_cmd(connected, &a)
        }
        Command::Start(a) | Command::Container(ContainerCommand::Start(a)) => {
            with_client(&mut |c| run::start_cmd(c, &a))
        }
        Command::Attach(a) | Command::Container(ContainerCommand::Attach(a)) => {
            with_client(&mut |c| run::attach_cmd(c, &a))
        }
        Command::Exec(a) | Command::Container(ContainerCommand::Exec(a)) => {
            with_client(&mut |c| exec::exec(c, &a))
        }
        Command::Wait(a) | Command::Container(ContainerCommand::Wait(a)) => {
            with_client(&mut |c| lifecycle::wait(c, &a))
        }
        Command::Stop(a) | Command::Container(ContainerCommand::Stop(a)) => {
            with_client(&mut |c| lifecycle::stop(c, &a, "stop"))
        }
        Command::Restart(a) | Command::Container(ContainerCommand::Restart(a)) => {
            with_client(&mut |c| lifecycle::stop(c, &a, "restart"))
        }
        Command::Kill(a) | Command::Container(ContainerCommand::Kill(a)) => {
            with_client(&mut |c| lifecycle::kill(c, &a))
        }
        Command::Pause(a) | Command::Container(ContainerCommand::Pause(a)) => {
            with_client(&mut |c| lifecycle::simple(c, &a, "pause"))
        }
        Command::Unpause(a) | Command::Container(ContainerCommand::Unpause(a)) => {
            with_client(&mut |c| lifecycle::simple(c, &a, "unpause"))
        }
        Command::Rm(a) | Command::Container(ContainerCommand::Rm(a)) => {
            with_client(&mut |c| lifecycle::rm(c, &a))
        }
        Command::Rename(a) | Command::Container(ContainerCommand::Rename(a)) => {
            with_client(&mut |c| lifecycle::rename(c, &a))
        }
        Command::Container(ContainerCommand::Prune(a)) => {
            with_client(&mut |c| lifecycle::prune(c, &a))
        }
        Command::Ps(a) | Command::Container(ContainerCommand::Ls(a)) => {
            with_client(&mut |c| observe::ps(c, &a))
        }
        Command::Inspect(a) => with_client(&mut |c| observe::inspect(c, &a, None)),
        Command::Container(ContainerCommand::Inspect(a)) => {
            with_client(&mut |c| observe::inspect(c, &a, Some("container")))
        }
        Command::Image(ImageCommand::Inspect(a)) => {
            with_client(&mut |c| observe::inspect(c, &a, Some("image")))
        }
        Command::Logs(a) | Command::Container(ContainerCommand::Logs(a)) => {
            with_client(&mut |c| observe::logs(c, &a))
        }
        Command::Top(a) | Command::Container(ContainerCommand::Top(a)) => {
            with_client(&mut |c| stats::top(c, &a))
        }
        Command::Stats(a) | Command::Container(ContainerCommand::Stats(a)) => {
            with_client(&mut |c| stats::stats(c, &a))
        }
        Command::Images(a) | Command::Image(ImageCommand::Ls(a)) => {
            with_client(&mut |c| images::images(c, &a))
        }
        Command::History(a) | Command::Image(ImageCommand::History(a)) => {
            with_client(&mut |c| images::history(c, &a))
        }
        Command::Tag(a) | Command::Image(ImageCommand::Tag(a)) => {
            with_client(&mut |c| images::tag(c, &a))
        }
        Command::Rmi(a) | Command::Image(ImageCommand::Rm(a)) => {
            with_client(&mut |c| images::rmi(c, &a))
        }
        Command::Image(ImageCommand::Prune(a)) => with_client(&mut |c| images::prune(c, &a)),
        Command::Load(a) | Command::Image(ImageCommand::Load(a)) => {
            with_client(&mut |c| images::load(c, &a))
        }
        Command::Save(a) | Command::Image(ImageCommand::Save(a)) => {
            with_client(&mut |c| images::save(c, &a))
        }
        Command::Import(a) | Command::Image(ImageCommand::Import(a)) => {
            with_client(&mut |c| images::import(c, &a))
        }
        Command::Cp(a) | Command::Container(ContainerCommand::Cp(a)) => {
            with_client(&mut |c| cp::cp(c, &a))
        }
        Command::Diff(a) | Command::Container(ContainerCommand::Diff(a)) => {
            with_client(&mut |c| files::diff(c, &a))
        }
        Command::Export(a) | Command::Container(ContainerCommand::Export(a)) => {
            with_client(&mut |c| files::export(c, &a))
        }
        Command::Commit(a) | Command::Container(ContainerCommand::Commit(a)) => {
            with_client(&mut |c| files::commit(c, &a))
        }
        Command::Version(a) => with_client(&mut |c| observe::version(c, &a)),
        Command::Info(a) | Command::System(SystemCommand::Info(a)) => {
            with_client(&mut |c| observe::info(c, &a))
        }
        Command::System(SystemCommand::Df(a)) => with_client(&mut |c| observe::df(c, &a)),
        Command::Volume(VolumeCommand::Create(a)) => with_client(&mut |c| volumes::create(c, &a)),
        Command::Volume(VolumeCommand::Inspect(a)) => with_client(&mut |c| volumes::inspect(c, &a)),
        Command::Volume(VolumeCommand::Ls(a)) => with_client(&mut |c| volumes::ls(c, &a)),
        Command::Volume(VolumeCommand::Prune(a)) => with_client(&mut |c| volumes::prune(c, &a)),
        Command::Volume(VolumeCommand::Rm(a)) => with_client(&mut |c| volumes::rm(c, &a)),
    }
}
