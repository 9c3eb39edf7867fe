//! run, create, start and attach: create + attach (hijack) + wait + start, in docker's order
//! (the wait's headers arrive before start is sent, so a fast exit is never missed).

use std::io::{self, Write};

use serde_json::Value;

use crate::api::{self, CliError, Client, Result, path_escape, query};
use crate::cli::{AttachArgs, RunArgs, StartArgs};
use crate::cmd::config;
use crate::cmd::session::{self, Ended, Session, Target};
use crate::http::{Body, Conn};
use crate::term;

/// docker's exit code for a failed start: 127 for a missing executable, 126 for one that
/// cannot be run, 125 otherwise.
pub fn start_error_code(message: &str) -> i32 {
    if message.contains("executable file not found")
        || message.contains("no such file or directory")
        || message.contains("system cannot find the file specified")
    {
        127
    } else if message.contains("permission denied") {
        126
    } else {
        125
    }
}

/// Prints `berth: MSG` plus the usage hint, as docker does for run/create failures.
fn report(command: &str, err: &CliError) {
    eprintln!("berth: {err}\n\nRun 'berth {command} --help' for more information");
}

/// Normalises an image reference the way docker names a missing image.
fn with_default_tag(image: &str) -> String {
    let last = image.rsplit('/').next().unwrap_or(image);
    if last.contains(':') || image.contains('@') {
        image.to_string()
    } else {
        format!("{image}:latest")
    }
}

fn create(client: &mut Client, request: &config::CreateRequest) -> Result<String> {
    let cidfile = request
        .body
        .pointer("/HostConfig/ContainerIDFile")
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty())
        .map(str::to_string);
    if let Some(path) = &cidfile
        && std::path::Path::new(path).exists()
    {
        return Err(CliError::msg(format!(
            "container ID file found, make sure the other container isn't running or delete {path}"
        )));
    }
    let id = create_container(client, request)?;
    if let Some(path) = &cidfile {
        std::fs::write(path, &id).map_err(|e| {
            CliError::msg(format!("failed to write the container ID to the file: {e}"))
        })?;
    }
    Ok(id)
}

fn create_container(client: &mut Client, request: &config::CreateRequest) -> Result<String> {
    let path = match &request.name {
        Some(name) => format!("/containers/create{}", query(&[("name", name.clone())])),
        None => "/containers/create".to_string(),
    };
    let answer = match client.post_json(&path, Some(&request.body)) {
        Err(CliError::Daemon {
            status: 404,
            message,
        }) if message.starts_with("No such image") => {
            eprintln!(
                "Unable to find image '{}' locally",
                with_default_tag(&request.image)
            );
            pull(client, &request.image)?;
            client.post_json(&path, Some(&request.body))?
        }
        other => other?,
    };
    if let Some(Value::Array(warnings)) = answer.get("Warnings") {
        for warning in warnings.iter().filter_map(Value::as_str) {
            eprintln!("WARNING: {warning}");
        }
    }
    answer
        .get("Id")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| CliError::msg("the daemon's create answer has no Id"))
}

/// `POST /images/create`; an error line inside the progress stream fails the pull.
fn pull(client: &mut Client, image: &str) -> Result<()> {
    let full = with_default_tag(image);
    let (name, tag) = match full.rsplit_once(':') {
        Some((n, t)) if !t.contains('/') => (n.to_string(), t.to_string()),
        _ => (full.clone(), "latest".to_string()),
    };
    let path = format!(
        "/images/create{}",
        query(&[("fromImage", name), ("tag", tag)])
    );
    let mut response = client.send("POST", &path, &[("X-Registry-Auth", "e30=")], Body::Empty)?;
    let text = response.text()?;
    for line in text.lines() {
        if let Ok(v) = serde_json::from_str::<Value>(line)
            && let Some(e) = v.get("error").and_then(Value::as_str)
        {
            return Err(CliError::Daemon {
                status: 500,
                message: e.to_string(),
            });
        }
    }
    Ok(())
}

fn attach_path(
    client: &Client,
    id: &str,
    stdin: bool,
    stdout: bool,
    stderr: bool,
    keys: Option<&str>,
) -> String {
    let mut q: Vec<(&str, String)> = Vec::new();
    if stderr {
        q.push(("stderr", "1".into()));
    }
    if stdin {
        q.push(("stdin", "1".into()));
    }
    if stdout {
        q.push(("stdout", "1".into()));
    }
    q.push(("stream", "1".into()));
    if let Some(k) = keys {
        q.push(("detachKeys", k.to_string()));
    }
    client.path(&format!(
        "/containers/{}/attach{}",
        path_escape(id),
        query(&q)
    ))
}

/// A wait whose headers have arrived; its body (the exit status) is read later.
struct PendingWait {
    conn: Conn,
    head: Option<crate::http::Head>,
}

fn send_wait(client: &Client, id: &str, condition: Option<&str>) -> Result<PendingWait> {
    let mut conn = client.open()?;
    let q = match condition {
        Some(c) => query(&[("condition", c.to_string())]),
        None => String::new(),
    };
    let path = client.path(&format!("/containers/{}/wait{q}", path_escape(id)));
    conn.send_only("POST", &path)?;
    Ok(PendingWait { conn, head: None })
}

impl PendingWait {
    /// Reads the headers (docker waits for them before it sends start).
    fn headers(&mut self) -> Result<()> {
        let head = self.conn.read_response_head("POST")?;
        if head.status >= 400 {
            let status = head.status;
            let bytes = self.conn.resume(head).body_bytes()?;
            return Err(CliError::Daemon {
                status,
                message: api::error_message(&bytes),
            });
        }
        self.head = Some(head);
        Ok(())
    }

    fn status_code(&mut self) -> Result<i32> {
        let head = match self.head.take() {
            Some(head) => head,
            None => self.conn.read_response_head("POST")?,
        };
        let status = head.status;
        let bytes = self.conn.resume(head).body_bytes()?;
        if status >= 400 {
            return Err(CliError::Daemon {
                status,
                message: api::error_message(&bytes),
            });
        }
        let v = api::parse_json(&bytes)?;
        if let Some(message) = v.pointer("/Error/Message").and_then(Value::as_str)
            && !message.is_empty()
        {
            return Err(CliError::msg(message.to_string()));
        }
        Ok(v.get("StatusCode").and_then(Value::as_i64).unwrap_or(0) as i32)
    }
}

fn start(client: &Client, id: &str) -> Result<()> {
    let mut conn = client.open()?;
    let path = client.path(&format!("/containers/{}/start", path_escape(id)));
    let mut response = conn.request("POST", &path, &[], Body::Empty)?;
    let status = response.status;
    let bytes = response.body_bytes()?;
    if status >= 400 {
        return Err(CliError::Daemon {
            status,
            message: api::error_message(&bytes),
        });
    }
    Ok(())
}

/// The image slot takes hyphen values (so the command after it can); a flag there is one
/// clap did not know.
fn unknown_flag(command: &str, args: &RunArgs) -> bool {
    match args.image_and_command.first() {
        Some(first) if first.starts_with('-') && first.len() > 1 => {
            let flag = first.split('=').next().unwrap_or(first);
            eprintln!(
                "unknown flag: {flag}\n\nUsage:  berth {command} [OPTIONS] IMAGE [COMMAND] [ARG...]\n\nRun 'berth {command} --help' for more information"
            );
            true
        }
        _ => false,
    }
}

pub fn run(client_result: impl FnOnce() -> Result<Client>, args: &RunArgs) -> i32 {
    if unknown_flag("run", args) {
        return 125;
    }
    let console = if args.tty {
        term::window_size(0).or_else(|| term::window_size(1))
    } else {
        None
    };
    let request = match config::build(args, args.detach, console) {
        Ok(r) => r,
        Err(e) => {
            report("run", &CliError::msg(e));
            return 125;
        }
    };
    if args.tty && args.interactive && !args.detach && !term::is_tty(0) {
        eprintln!("the input device is not a TTY");
        return 1;
    }
    let keys = match session::detach_keys(args.detach_keys.as_deref()) {
        Ok(k) => k,
        Err(e) => {
            report("run", &e);
            return 125;
        }
    };
    let mut client = match client_result() {
        Ok(c) => c,
        Err(e) => {
            report("run", &e);
            return 125;
        }
    };
    let id = match create(&mut client, &request) {
        Ok(id) => id,
        Err(e) => {
            report("run", &e);
            return 125;
        }
    };
    if args.detach {
        if let Err(e) = start(&client, &id) {
            report("run", &e);
            return start_error_code(&e.to_string());
        }
        println!("{id}");
        return 0;
    }

    let attached = request.attach_stdin || request.attach_stdout || request.attach_stderr;
    let hijacked = if attached {
        let path = attach_path(
            &client,
            &id,
            request.attach_stdin,
            request.attach_stdout,
            request.attach_stderr,
            args.detach_keys.as_deref(),
        );
        match session::hijack(&client, &path, None) {
            Ok(h) => Some(h),
            Err(e) => {
                report("run", &e);
                return 125;
            }
        }
    } else {
        None
    };
    let condition = if args.rm { "removed" } else { "next-exit" };
    let mut wait =
        match send_wait(&client, &id, Some(condition)).and_then(|mut w| w.headers().map(|_| w)) {
            Ok(w) => w,
            Err(e) => {
                report("run", &e);
                return 125;
            }
        };
    if let Err(e) = start(&client, &id) {
        report("run", &e);
        return start_error_code(&e.to_string());
    }
    if args.tty {
        session::resize(client.endpoint(), client.version(), Target::Container(&id));
    }
    if let Some(hijacked) = hijacked {
        let session = Session {
            target: Target::Container(&id),
            tty: args.tty,
            stdin: request.attach_stdin,
            sig_proxy: args.sig_proxy,
            detach_keys: keys,
        };
        match session::stream(&client, &session, hijacked) {
            Ok(Ended::Detached) => return 0,
            Ok(Ended::Output) => {}
            Err(e) => {
                eprintln!("berth: {e}");
            }
        }
    } else {
        println!("{id}");
    }
    match wait.status_code() {
        Ok(code) => code,
        Err(e) => {
            report("run", &e);
            125
        }
    }
}

pub fn create_cmd(client_result: impl FnOnce() -> Result<Client>, args: &RunArgs) -> i32 {
    if unknown_flag("create", args) {
        return 125;
    }
    let request = match config::build(args, true, None) {
        Ok(r) => r,
        Err(e) => {
            report("create", &CliError::msg(e));
            return 125;
        }
    };
    let mut client = match client_result() {
        Ok(c) => c,
        Err(e) => {
            report("create", &e);
            return 125;
        }
    };
    // `create` attaches nothing but records what `start -a` will attach.
    let mut body = request.body.clone();
    body["AttachStdout"] = Value::Bool(request.attach_stdout || args.attach.is_empty());
    body["AttachStderr"] = Value::Bool(request.attach_stderr || args.attach.is_empty());
    body["AttachStdin"] = Value::Bool(args.interactive);
    body["StdinOnce"] = Value::Bool(args.interactive);
    let request = config::CreateRequest { body, ..request };
    match create(&mut client, &request) {
        Ok(id) => {
            println!("{id}");
            0
        }
        Err(e) => {
            report("create", &e);
            125
        }
    }
}

/// From a container's inspect answer: its full ID, whether it has a terminal, whether its
/// stdin is open.
fn attach_target(info: &Value, name: &str) -> (String, bool, bool) {
    let flag = |pointer: &str| {
        info.pointer(pointer)
            .and_then(Value::as_bool)
            .unwrap_or(false)
    };
    let id = info.get("Id").and_then(Value::as_str).unwrap_or(name);
    (
        id.to_string(),
        flag("/Config/Tty"),
        flag("/Config/OpenStdin"),
    )
}

pub fn start_cmd(client: &mut Client, args: &StartArgs) -> Result<i32> {
    if args.attach || args.interactive {
        if args.containers.len() > 1 {
            return Err(CliError::msg(
                "you cannot start and attach multiple containers at once",
            ));
        }
        let name = &args.containers[0];
        let info = client.get_json(&format!("/containers/{}/json", path_escape(name)))?;
        let (id, tty, open_stdin) = attach_target(&info, name);
        let stdin = args.interactive && open_stdin;
        let keys = session::detach_keys(args.detach_keys.as_deref())?;
        let path = attach_path(client, &id, stdin, true, true, args.detach_keys.as_deref());
        let hijacked = session::hijack(client, &path, None)?;
        let mut wait = send_wait(client, &id, Some("next-exit"))?;
        wait.headers()?;
        if let Err(e) = start(client, &id) {
            eprintln!("{e}");
            return Ok(1);
        }
        if tty {
            session::resize(client.endpoint(), client.version(), Target::Container(&id));
        }
        let session = Session {
            target: Target::Container(&id),
            tty,
            stdin,
            sig_proxy: !tty,
            detach_keys: keys,
        };
        if let Ended::Detached = session::stream(client, &session, hijacked)? {
            return Ok(0);
        }
        return wait.status_code();
    }
    let mut failed = Vec::new();
    for name in &args.containers {
        match start(client, name) {
            Ok(()) => println!("{name}"),
            Err(e) => {
                eprintln!("{e}");
                failed.push(name.clone());
            }
        }
    }
    if !failed.is_empty() {
        eprintln!("Error: failed to start containers: {}", failed.join(", "));
        return Ok(1);
    }
    Ok(0)
}

pub fn attach_cmd(client: &mut Client, args: &AttachArgs) -> Result<i32> {
    let name = &args.container;
    let mut wait = send_wait(client, name, None)?;
    wait.headers()?;
    let info = client.get_json(&format!("/containers/{}/json", path_escape(name)))?;
    let running = info
        .pointer("/State/Running")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if !running {
        return Err(CliError::msg(
            "You cannot attach to a stopped container, start it first",
        ));
    }
    if info
        .pointer("/State/Paused")
        .and_then(Value::as_bool)
        .unwrap_or(false)
    {
        return Err(CliError::msg(
            "You cannot attach to a paused container, unpause it first",
        ));
    }
    let (id, tty, open_stdin) = attach_target(&info, name);
    let stdin = open_stdin && !args.no_stdin;
    let keys = session::detach_keys(args.detach_keys.as_deref())?;
    let path = attach_path(client, &id, stdin, true, true, args.detach_keys.as_deref());
    let hijacked = session::hijack(client, &path, None)?;
    if tty && term::is_tty(1) {
        session::resize(client.endpoint(), client.version(), Target::Container(&id));
    }
    let session = Session {
        target: Target::Container(&id),
        tty,
        stdin,
        sig_proxy: args.sig_proxy && !tty,
        detach_keys: keys,
    };
    if let Ended::Detached = session::stream(client, &session, hijacked)? {
        // docker's attach reports the escape as its error (run and start -a do not).
        eprintln!("read escape sequence");
        return Ok(1);
    }
    wait.status_code()
}

/// Writes `text` to stdout, treating a closed pipe as success.
pub fn print_out(text: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}
