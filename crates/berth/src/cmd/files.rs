//! diff, export, commit: a container's changes, its whole filesystem, and a new image of it.

use serde_json::Value;

use crate::api::{Client, Result, path_escape, query};
use crate::cli::{CommitArgs, DiffArgs, ExportArgs};
use crate::cmd::images::repo_and_tag;
use crate::cmd::{refuse_terminal, write_output};
use crate::http::Body;

pub fn diff(client: &mut Client, args: &DiffArgs) -> Result<i32> {
    let changes = client.get_json(&format!(
        "/containers/{}/changes",
        path_escape(&args.container)
    ))?;
    let mut out = String::new();
    for change in changes.as_array().into_iter().flatten() {
        let kind = match change.get("Kind").and_then(Value::as_i64) {
            Some(1) => "A",
            Some(2) => "D",
            _ => "C",
        };
        let path = change.get("Path").and_then(Value::as_str).unwrap_or("");
        out.push_str(&format!("{kind} {path}\n"));
    }
    crate::cmd::run::print_out(&out)?;
    Ok(0)
}

pub fn export(client: &mut Client, args: &ExportArgs) -> Result<i32> {
    refuse_terminal(args.output.as_deref())?;
    let mut response = client.send(
        "GET",
        &format!("/containers/{}/export", path_escape(&args.container)),
        &[],
        Body::Empty,
    )?;
    write_output(
        &mut response,
        args.output.as_deref(),
        "failed to export container",
    )?;
    Ok(0)
}

pub fn commit(client: &mut Client, args: &CommitArgs) -> Result<i32> {
    let mut q: Vec<(&str, String)> = vec![("container", args.container.clone())];
    if let Some(r) = &args.reference {
        q.extend(repo_and_tag(r));
    }
    q.push(("comment", args.message.clone().unwrap_or_default()));
    q.push(("author", args.author.clone().unwrap_or_default()));
    for c in &args.change {
        q.push(("changes", c.clone()));
    }
    if !args.pause {
        q.push(("pause", "0".into()));
    }
    let answer = client.post_json(&format!("/commit{}", query(&q)), None)?;
    println!(
        "{}",
        answer.get("Id").and_then(Value::as_str).unwrap_or_default()
    );
    Ok(0)
}
