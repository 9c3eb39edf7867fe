//! wait, stop, restart, kill, pause, unpause, rm, rename, container prune: one request per
//! container, errors printed as they come, exit 1 if any failed (as docker).

use std::io::{self, BufRead, Write};

use serde_json::Value;

use crate::api::{CliError, Client, Result, path_escape, query};
use crate::cli::{ContainersArgs, KillArgs, PruneArgs, RenameArgs, RmArgs, StopArgs};
use crate::cmd::filters_json;
use crate::units;

/// Runs `action` per container, printing `echo` on success and the error otherwise.
fn each(names: &[String], mut action: impl FnMut(&str) -> Result<Option<String>>) -> Result<i32> {
    let mut failed = false;
    for name in names {
        match action(name) {
            Ok(Some(out)) => println!("{out}"),
            Ok(None) => {}
            Err(e) => {
                eprintln!("{e}");
                failed = true;
            }
        }
    }
    Ok(if failed { 1 } else { 0 })
}

pub fn wait(client: &mut Client, args: &ContainersArgs) -> Result<i32> {
    each(&args.containers, |name| {
        let v = client.post_json(&format!("/containers/{}/wait", path_escape(name)), None)?;
        Ok(Some(
            v.get("StatusCode")
                .and_then(Value::as_i64)
                .unwrap_or(0)
                .to_string(),
        ))
    })
}

pub fn stop(client: &mut Client, args: &StopArgs, action: &str) -> Result<i32> {
    let mut q: Vec<(&str, String)> = Vec::new();
    if let Some(signal) = &args.signal {
        q.push(("signal", signal.clone()));
    }
    if let Some(t) = args.timeout {
        q.push(("t", t.to_string()));
    }
    let q = query(&q);
    each(&args.containers, |name| {
        client.post(&format!("/containers/{}/{action}{q}", path_escape(name)))?;
        Ok(Some(name.to_string()))
    })
}

pub fn kill(client: &mut Client, args: &KillArgs) -> Result<i32> {
    let q = match &args.signal {
        Some(s) => query(&[("signal", s.clone())]),
        None => String::new(),
    };
    each(&args.containers, |name| {
        client.post(&format!("/containers/{}/kill{q}", path_escape(name)))?;
        Ok(Some(name.to_string()))
    })
}

pub fn simple(client: &mut Client, args: &ContainersArgs, action: &str) -> Result<i32> {
    each(&args.containers, |name| {
        client.post(&format!("/containers/{}/{action}", path_escape(name)))?;
        Ok(Some(name.to_string()))
    })
}

pub fn rm(client: &mut Client, args: &RmArgs) -> Result<i32> {
    let mut q: Vec<(&str, String)> = Vec::new();
    if args.volumes {
        q.push(("v", "1".into()));
    }
    if args.link {
        q.push(("link", "1".into()));
    }
    if args.force {
        q.push(("force", "1".into()));
    }
    let q = query(&q);
    each(&args.containers, |name| {
        let name = name.trim_matches('/');
        client.delete_json(&format!("/containers/{}{q}", path_escape(name)))?;
        Ok(Some(name.to_string()))
    })
}

pub fn rename(client: &mut Client, args: &RenameArgs) -> Result<i32> {
    let new_name = args.new_name.trim();
    if new_name.is_empty() {
        return Err(CliError::msg(
            "Error: neither old nor new names may be empty",
        ));
    }
    client.post(&format!(
        "/containers/{}/rename{}",
        path_escape(&args.container),
        query(&[("name", new_name.to_string())])
    ))?;
    Ok(0)
}

/// docker's "Are you sure you want to continue? [y/N]" prompt.
pub fn confirm(warning: &str) -> bool {
    print!("{warning}\nAre you sure you want to continue? [y/N] ");
    io::stdout().flush().ok();
    let mut answer = String::new();
    if io::stdin().lock().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

pub fn prune(client: &mut Client, args: &PruneArgs) -> Result<i32> {
    if !args.force && !confirm("WARNING! This will remove all stopped containers.") {
        return Ok(0);
    }
    let q = match filters_json(&args.filter)? {
        Some(f) => query(&[("filters", f)]),
        None => String::new(),
    };
    let v = client.post_json(&format!("/containers/prune{q}"), None)?;
    let deleted: Vec<&str> = v
        .get("ContainersDeleted")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if !deleted.is_empty() {
        println!("Deleted Containers:");
        for id in deleted {
            println!("{id}");
        }
        println!();
    }
    let space = v
        .get("SpaceReclaimed")
        .and_then(Value::as_f64)
        .unwrap_or(0.0);
    println!("Total reclaimed space: {}", units::human_size(space));
    Ok(0)
}
