//! exec, in the docker CLI's order: inspect the container, create the exec, start it (hijacked
//! unless `-d`), resize its terminal, stream it, and take the exit code from the exec's inspect.

use serde_json::{Value, json};

use crate::api::{CliError, Client, Result, path_escape};
use crate::cli::ExecArgs;
use crate::cmd::config::{expand_env, read_env_file};
use crate::cmd::session::{self, Ended, Session, Target};
use crate::term;

pub fn exec(client: &mut Client, args: &ExecArgs) -> Result<i32> {
    let (container, command) = match args.container_and_command.split_first() {
        Some((container, command)) if !command.is_empty() => (container, command),
        _ => {
            eprintln!(
                "berth: 'berth exec' requires at least 2 arguments\n\nUsage:  berth exec [OPTIONS] CONTAINER COMMAND [ARG...]\n\nSee 'berth exec --help' for more information"
            );
            return Ok(1);
        }
    };
    let mut env = Vec::new();
    for file in &args.env_file {
        env.extend(read_env_file(file).map_err(CliError::msg)?);
    }
    env.extend(args.env.iter().map(|e| expand_env(e)));
    let keys = session::detach_keys(args.detach_keys.as_deref())?;
    client.get_json(&format!("/containers/{}/json", path_escape(container)))?;
    if !args.detach && args.interactive && args.tty && !term::is_tty(0) {
        return Err(CliError::msg("the input device is not a TTY"));
    }
    let attach = !args.detach;
    let body = json!({
        "User": args.user.clone().unwrap_or_default(),
        "Privileged": args.privileged,
        "Tty": args.tty,
        "AttachStdin": attach && args.interactive,
        "AttachStderr": attach,
        "AttachStdout": attach,
        "Detach": args.detach,
        "DetachKeys": args.detach_keys.clone().unwrap_or_default(),
        "Env": env,
        "WorkingDir": args.workdir.clone().unwrap_or_default(),
        "Cmd": command,
    });
    let created = client.post_json(
        &format!("/containers/{}/exec", path_escape(container)),
        Some(&body),
    )?;
    let id = created
        .get("Id")
        .and_then(Value::as_str)
        .ok_or_else(|| CliError::msg("the daemon's exec create answer has no Id"))?
        .to_string();
    let start = |detach: bool| json!({"Detach": detach, "Tty": args.tty});
    let start_path = format!("/exec/{}/start", path_escape(&id));
    if args.detach {
        client.post_json(&start_path, Some(&start(true)))?;
        return Ok(0);
    }
    let body = serde_json::to_vec(&start(false)).map_err(|e| CliError::msg(e.to_string()))?;
    let hijacked = session::hijack(client, &client.path(&start_path), Some(body))?;
    if args.tty {
        session::resize(client.endpoint(), client.version(), Target::Exec(&id));
    }
    let session = Session {
        target: Target::Exec(&id),
        tty: args.tty,
        stdin: args.interactive,
        sig_proxy: false,
        // As the daemon, only a terminal's input is read for the detach keys.
        detach_keys: if args.tty { keys } else { Vec::new() },
    };
    match session::stream(client, &session, hijacked) {
        // docker's exec reports the escape as its error; the process runs on.
        Ok(Ended::Detached) => {
            eprintln!("read escape sequence");
            return Ok(1);
        }
        Ok(Ended::Output) => {}
        Err(e) => eprintln!("berth: {e}"),
    }
    let info = client.get_json(&format!("/exec/{}/json", path_escape(&id)))?;
    Ok(info.get("ExitCode").and_then(Value::as_i64).unwrap_or(0) as i32)
}
