//! volume create, inspect, ls, rm, prune.

use std::cmp::Ordering;

use gtmpl::Value as T;
use serde_json::{Map, Value, json};

use crate::api::{CliError, Client, Result, path_escape, query};
use crate::cli::{FormatNames, VolumeCreateArgs, VolumeLsArgs, VolumePruneArgs, VolumeRmArgs};
use crate::cmd::lifecycle::confirm;
use crate::cmd::observe::{labels_text, print_inspected};
use crate::cmd::{filters_json, print_rows};
use crate::template::row;
use crate::units;

const VOLUME_HEADER: [(&str, &str); 10] = [
    ("Name", "VOLUME NAME"),
    ("Driver", "DRIVER"),
    ("Scope", "SCOPE"),
    ("Mountpoint", "MOUNTPOINT"),
    ("Labels", "LABELS"),
    ("Links", "LINKS"),
    ("Size", "SIZE"),
    ("Group", "GROUP"),
    ("Availability", "AVAILABILITY"),
    ("Status", "STATUS"),
];

/// `k=v` items as a map; an item without `=` maps to "".
fn key_values(items: &[String]) -> Map<String, Value> {
    items
        .iter()
        .map(|item| {
            let (k, v) = item.split_once('=').unwrap_or((item, ""));
            (k.to_string(), Value::String(v.to_string()))
        })
        .collect()
}

pub fn create(client: &mut Client, args: &VolumeCreateArgs) -> Result<i32> {
    let name = match (&args.volume, &args.name) {
        (Some(_), Some(_)) => {
            return Err(CliError::msg(
                "conflicting options: cannot specify a volume-name through both --name and as a positional arg",
            ));
        }
        (Some(n), None) | (None, Some(n)) => n.clone(),
        (None, None) => String::new(),
    };
    let mut body = json!({"Driver": args.driver, "Name": name});
    if !args.opt.is_empty() {
        body["DriverOpts"] = Value::Object(key_values(&args.opt));
    }
    if !args.label.is_empty() {
        body["Labels"] = Value::Object(key_values(&args.label));
    }
    let volume = client.post_json("/volumes/create", Some(&body))?;
    println!(
        "{}",
        volume.get("Name").and_then(Value::as_str).unwrap_or("")
    );
    Ok(0)
}

pub fn inspect(client: &mut Client, args: &FormatNames) -> Result<i32> {
    let mut found = Vec::new();
    let mut failed = false;
    for name in &args.names {
        match client.get_json(&format!("/volumes/{}", path_escape(name))) {
            Ok(v) => found.push(v),
            Err(e @ CliError::Daemon { .. }) => {
                failed = true;
                eprintln!("{e}");
            }
            Err(e) => return Err(e),
        }
    }
    print_inspected(&found, args.format.as_deref())?;
    Ok(if failed { 1 } else { 0 })
}

/// Natural order of names, as docker sorts `volume ls`: runs of digits compare as numbers.
fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let digits = |s: &[u8]| s.iter().take_while(|c| c.is_ascii_digit()).count();
                let (na, nb) = (digits(a), digits(b));
                let (da, db) = (&a[..na], &b[..nb]);
                let trim = |d: &[u8]| {
                    let zeros = d.iter().take_while(|&&c| c == b'0').count();
                    d[zeros..].to_vec()
                };
                let (ta, tb) = (trim(da), trim(db));
                let by_value = ta.len().cmp(&tb.len()).then_with(|| ta.cmp(&tb));
                if by_value != Ordering::Equal {
                    return by_value;
                }
                a = &a[na..];
                b = &b[nb..];
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(y);
                }
                a = &a[1..];
                b = &b[1..];
            }
        }
    }
}

fn volume_row(v: &Value) -> T {
    let s = |key: &str| v.get(key).and_then(Value::as_str).unwrap_or("").to_string();
    let usage = v.get("UsageData").filter(|u| u.is_object());
    let links = usage
        .and_then(|u| u.get("RefCount"))
        .and_then(Value::as_i64)
        .map(|n| n.to_string())
        .unwrap_or_else(|| "N/A".into());
    let size = usage
        .and_then(|u| u.get("Size"))
        .and_then(Value::as_f64)
        .map(units::human_size)
        .unwrap_or_else(|| "N/A".into());
    row(vec![
        ("Name", s("Name").into()),
        ("Driver", s("Driver").into()),
        ("Scope", s("Scope").into()),
        ("Mountpoint", s("Mountpoint").into()),
        ("Labels", labels_text(v).into()),
        ("Links", links.into()),
        ("Size", size.into()),
        ("Group", "N/A".into()),
        ("Availability", "N/A".into()),
        ("Status", "N/A".into()),
    ])
}

pub fn ls(client: &mut Client, args: &VolumeLsArgs) -> Result<i32> {
    let q = match filters_json(&args.filter)? {
        Some(f) => query(&[("filters", f)]),
        None => String::new(),
    };
    let answer = client.get_json(&format!("/volumes{q}"))?;
    let mut volumes: Vec<Value> = answer
        .get("Volumes")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let name = |v: &Value| {
        v.get("Name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    volumes.sort_by(|a, b| natural_cmp(&name(a), &name(b)));
    let rows: Vec<T> = volumes.iter().map(volume_row).collect();
    let format = match (&args.format, args.quiet) {
        (Some(f), _) if f != "table" => f.clone(),
        (_, true) => "{{.Name}}".into(),
        _ => "table {{.Driver}}\t{{.Name}}".into(),
    };
    print_rows(&format, &VOLUME_HEADER, &rows)?;
    Ok(0)
}

pub fn rm(client: &mut Client, args: &VolumeRmArgs) -> Result<i32> {
    let q = if args.force {
        query(&[("force", "1".into())])
    } else {
        String::new()
    };
    let mut failed = false;
    for name in &args.volumes {
        match client.delete_json(&format!("/volumes/{}{q}", path_escape(name))) {
            Ok(_) => println!("{name}"),
            Err(e) => {
                eprintln!("{e}");
                failed = true;
            }
        }
    }
    Ok(if failed { 1 } else { 0 })
}

/// At API 1.41 a prune takes every unused local volume, named or anonymous: `-a` (which asks
/// for that from a 1.42 daemon, and which docker refuses below 1.42) is taken and changes
/// nothing.
pub fn prune(client: &mut Client, args: &VolumePruneArgs) -> Result<i32> {
    if !args.force
        && !confirm(
            "WARNING! This will remove all local volumes not used by at least one container.",
        )
    {
        return Ok(0);
    }
    let q = match filters_json(&args.filter)? {
        Some(f) => query(&[("filters", f)]),
        None => String::new(),
    };
    let v = client.post_json(&format!("/volumes/prune{q}"), None)?;
    let deleted: Vec<&str> = v
        .get("VolumesDeleted")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut space = 0.0;
    if !deleted.is_empty() {
        println!("Deleted Volumes:");
        for name in deleted {
            println!("{name}");
        }
        println!();
        space = v
            .get("SpaceReclaimed")
            .and_then(Value::as_f64)
            .unwrap_or(0.0);
    }
    println!("Total reclaimed space: {}", units::human_size(space));
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_naturally() {
        let mut names = vec!["v10", "v2", "a", "v1", "b01", "b1x"];
        names.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(names, ["a", "b01", "b1x", "v1", "v2", "v10"]);
    }
}
