//! ps, inspect, logs, version, info, system df.

use std::io;

use gtmpl::Value as T;
use serde_json::Value;

use crate::api::{CliError, Client, Result, path_escape, query};
use crate::cli::{DfArgs, FormatOnly, InspectArgs, LogsArgs, PsArgs, VersionArgs};
use crate::cmd::{filters_json, print_rows, run::print_out};
use crate::http::Body;
use crate::stream;
use crate::template::{Format, from_json, row};
use crate::units::{self, ago, ellipsis, go_quote, human_size_precision, truncate_id};

const PS_TABLE: &str =
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";
const PS_HEADER: [(&str, &str); 16] = [
    ("ID", "CONTAINER ID"),
    ("Names", "NAMES"),
    ("Image", "IMAGE"),
    ("Command", "COMMAND"),
    ("CreatedAt", "CREATED AT"),
    ("RunningFor", "CREATED"),
    ("Ports", "PORTS"),
    ("State", "STATE"),
    ("Status", "STATUS"),
    ("Size", "SIZE"),
    ("Labels", "LABELS"),
    ("Mounts", "MOUNTS"),
    ("LocalVolumes", "LOCAL VOLUMES"),
    ("Networks", "NETWORKS"),
    ("Platform", "PLATFORM"),
    ("HealthStatus", "HEALTH STATUS"),
];

fn s(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or("").to_string()
}

fn i(v: &Value, key: &str) -> i64 {
    v.get(key).and_then(Value::as_i64).unwrap_or(0)
}

/// Go's `time.Unix(t, 0).String()` in UTC: "2026-12-03 10:32:36 +0000 UTC".
pub fn go_time(unix: i64) -> String {
    let days = unix.div_euclid(86400);
    let secs = unix.rem_euclid(86400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} +0000 UTC",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) — Howard Hinnant's algorithm.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z.rem_euclid(146097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn ports(c: &Value) -> String {
    let mut out = Vec::new();
    for p in c
        .get("Ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let private = i(p, "PrivatePort");
        let kind = s(p, "Type");
        match p.get("PublicPort").and_then(Value::as_i64) {
            Some(public) => {
                let ip = s(p, "IP");
                out.push(format!("{ip}:{public}->{private}/{kind}"));
            }
            None => out.push(format!("{private}/{kind}")),
        }
    }
    out.join(", ")
}

/// An object's `Labels` as docker's tables show them: `k=v` pairs, joined by commas.
pub(crate) fn labels_text(v: &Value) -> String {
    let mut labels: Vec<String> = v
        .get("Labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default();
    labels.sort();
    labels.join(",")
}

/// How many of a container's mounts are local volumes.
fn local_volumes(c: &Value) -> usize {
    c.get("Mounts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|m| m.get("Driver").and_then(Value::as_str) == Some("local"))
        .count()
}

fn container_row(c: &Value, trunc: bool) -> T {
    let id = s(c, "Id");
    let names: Vec<String> = c
        .get("Names")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(|n| n.trim_start_matches('/').to_string())
                .collect()
        })
        .unwrap_or_default();
    let name = if trunc {
        names
            .iter()
            .find(|n| !n.contains('/'))
            .cloned()
            .unwrap_or_default()
    } else {
        names.join(",")
    };
    let image = s(c, "Image");
    let image = if image.is_empty() {
        "<no image>".to_string()
    } else if trunc && truncate_id(&s(c, "ImageID")) == truncate_id(&image) {
        truncate_id(&image)
    } else {
        image
    };
    let command = s(c, "Command");
    let command = go_quote(&if trunc {
        ellipsis(&command, 20)
    } else {
        command
    });
    let created = i(c, "Created");
    let size_rw = c.get("SizeRw").and_then(Value::as_f64).unwrap_or(0.0);
    let size_root = c.get("SizeRootFs").and_then(Value::as_f64).unwrap_or(0.0);
    let size = if size_root > 0.0 {
        format!(
            "{} (virtual {})",
            human_size_precision(size_rw, 3),
            human_size_precision(size_root, 3)
        )
    } else {
        human_size_precision(size_rw, 3)
    };
    let mounts: Vec<String> = c
        .get("Mounts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|m| {
            let n = s(m, "Name");
            let n = if n.is_empty() { s(m, "Source") } else { n };
            if trunc { ellipsis(&n, 15) } else { n }
        })
        .collect();
    let networks: Vec<String> = c
        .pointer("/NetworkSettings/Networks")
        .and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    row(vec![
        ("ID", T::String(if trunc { truncate_id(&id) } else { id })),
        ("Names", T::String(name)),
        ("Image", T::String(image)),
        ("Command", T::String(command)),
        ("CreatedAt", T::String(go_time(created))),
        ("RunningFor", T::String(ago(created))),
        ("Ports", T::String(ports(c))),
        ("State", T::String(s(c, "State"))),
        ("Status", T::String(s(c, "Status"))),
        ("Size", T::String(size)),
        ("Labels", T::String(labels_text(c))),
        ("Mounts", T::String(mounts.join(","))),
        ("LocalVolumes", T::String(local_volumes(c).to_string())),
        ("Networks", T::String(networks.join(","))),
        ("Platform", T::String(String::new())),
        ("HealthStatus", T::String(String::new())),
    ])
}

pub fn ps(client: &mut Client, args: &PsArgs) -> Result<i32> {
    let mut q: Vec<(&str, String)> = Vec::new();
    let last = if args.latest { 1 } else { args.last };
    if args.all || last > 0 {
        q.push(("all", "1".into()));
    }
    if last > 0 {
        q.push(("limit", last.to_string()));
    }
    let format = args.format.clone().unwrap_or_else(|| "table".into());
    let size = args.size || format.contains(".Size");
    if size {
        q.push(("size", "1".into()));
    }
    if let Some(f) = filters_json(&args.filter)? {
        q.push(("filters", f));
    }
    let list = client.get_json(&format!("/containers/json{}", query(&q)))?;
    let rows: Vec<T> = list
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| container_row(c, !args.no_trunc))
        .collect();
    let template = if args.quiet {
        "{{.ID}}".to_string()
    } else if format == "table" {
        if args.size {
            format!("{PS_TABLE}\t{{{{.Size}}}}")
        } else {
            PS_TABLE.to_string()
        }
    } else {
        format
    };
    print_rows(&template, &PS_HEADER, &rows)?;
    Ok(0)
}

/// Go's `json.MarshalIndent(v, "", "    ")` with the daemon's field order kept.
fn indent_json(values: &[Value]) -> String {
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
    let _ = serde::Serialize::serialize(&values, &mut ser);
    let mut text = String::from_utf8_lossy(&out).into_owned();
    if values.is_empty() {
        text = "[]".into();
    }
    text.push('\n');
    text
}

pub fn inspect(client: &mut Client, args: &InspectArgs, fixed: Option<&str>) -> Result<i32> {
    let kind = fixed.map(str::to_string).or_else(|| args.kind.clone());
    if let Some(other) = kind
        .as_deref()
        .filter(|k| !["container", "image", "volume"].contains(k))
    {
        return Err(CliError::msg(format!(
            "\"{other}\" is not a valid value for --type"
        )));
    }
    let mut found = Vec::new();
    let mut failed = false;
    for name in &args.names {
        let escaped = path_escape(name);
        let container_path = format!(
            "/containers/{escaped}/json{}",
            if args.size { "?size=1" } else { "" }
        );
        let paths = [
            ("container", container_path),
            ("image", format!("/images/{escaped}/json")),
            ("volume", format!("/volumes/{escaped}")),
        ];
        // Without --type, each kind in docker's order until one has the name.
        let mut attempt = Err(CliError::Daemon {
            status: 404,
            message: String::new(),
        });
        for (_, path) in paths
            .iter()
            .filter(|(what, _)| kind.as_deref().is_none_or(|k| k == *what))
        {
            attempt = client.get_json(path);
            if !matches!(attempt, Err(CliError::Daemon { status: 404, .. })) {
                break;
            }
        }
        match attempt {
            Ok(v) => found.push(v),
            Err(CliError::Daemon { status: 404, .. }) => {
                failed = true;
                let text = match kind.as_deref() {
                    Some("container") => format!("Error: No such container: {name}"),
                    Some("image") => format!("Error: No such image: {name}"),
                    Some("volume") => format!("Error: No such volume: {name}"),
                    _ => format!("Error: No such object: {name}"),
                };
                eprintln!("{text}");
            }
            Err(e) => return Err(e),
        }
    }
    print_inspected(&found, args.format.as_deref())?;
    Ok(if failed { 1 } else { 0 })
}

/// What inspect commands print: `-f FORMAT` applied to each object, else the indented JSON.
pub fn print_inspected(found: &[Value], format: Option<&str>) -> Result<()> {
    match format {
        Some(f) => {
            let values: Vec<T> = found.iter().map(from_json).collect();
            let text = Format::new(f).render_each(&values).map_err(CliError::msg)?;
            print_out(&text)?;
        }
        None => print_out(&indent_json(found))?,
    }
    Ok(())
}

/// `--since`/`--until`: RFC 3339, a Unix timestamp, or a duration ("42m") before now.
pub fn parse_timestamp(value: &str) -> Result<String> {
    if value.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Ok(value.to_string());
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    if let Some(seconds) = parse_go_duration(value) {
        return Ok(format!("{:.9}", now - seconds));
    }
    parse_rfc3339(value).map(|t| t.to_string()).ok_or_else(|| {
        CliError::msg(format!(
            "invalid value for \"since\": failed to parse value as time or duration: \"{value}\""
        ))
    })
}

fn parse_go_duration(text: &str) -> Option<f64> {
    let mut total = 0.0;
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let split = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let number: f64 = rest[..split].parse().ok()?;
        rest = &rest[split..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += number * factor;
        rest = &rest[unit_len..];
    }
    Some(total)
}

/// "2026-12-03T10:32:36Z" (fraction and offset optional) to Unix seconds.
fn parse_rfc3339(text: &str) -> Option<i64> {
    let (date, time) = text.split_once('T').unwrap_or((text, "00:00:00Z"));
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let (clock, offset) = match time.find(['Z', '+', '-']) {
        Some(pos) => (&time[..pos], &time[pos..]),
        None => (time, "Z"),
    };
    let clock = clock.split('.').next()?;
    let mut c = clock.split(':').map(|p| p.parse::<i64>().ok());
    let (hh, mm, ss) = (
        c.next()??,
        c.next().flatten().unwrap_or(0),
        c.next().flatten().unwrap_or(0),
    );
    let offset_secs = if offset == "Z" {
        0
    } else {
        let sign = if offset.starts_with('-') { -1 } else { 1 };
        let (oh, om) = offset[1..].split_once(':').unwrap_or((&offset[1..], "0"));
        sign * (oh.parse::<i64>().ok()? * 3600 + om.parse::<i64>().ok()? * 60)
    };
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    Some(days * 86400 + hh * 3600 + mm * 60 + ss - offset_secs)
}

pub fn logs(client: &mut Client, args: &LogsArgs) -> Result<i32> {
    let info = client.get_json(&format!(
        "/containers/{}/json",
        path_escape(&args.container)
    ))?;
    let id = s(&info, "Id");
    let tty = info
        .pointer("/Config/Tty")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut q: Vec<(&str, String)> = Vec::new();
    if args.details {
        q.push(("details", "1".into()));
    }
    if args.follow {
        q.push(("follow", "1".into()));
    }
    if let Some(since) = &args.since {
        q.push(("since", parse_timestamp(since)?));
    }
    q.push(("stderr", "1".into()));
    q.push(("stdout", "1".into()));
    q.push(("tail", args.tail.clone()));
    if args.timestamps {
        q.push(("timestamps", "1".into()));
    }
    if let Some(until) = &args.until {
        q.push(("until", parse_timestamp(until)?));
    }
    let path = format!("/containers/{}/logs{}", path_escape(&id), query(&q));
    let mut response = client.send("GET", &path, &[], Body::Empty)?;
    let mut stdout = io::stdout().lock();
    if tty {
        stream::copy_raw(&mut response, &mut stdout)?;
    } else {
        let mut stderr = io::stderr().lock();
        stream::demux(&mut response, &mut stdout, &mut stderr)?;
    }
    Ok(0)
}

pub fn version(client: &mut Client, args: &VersionArgs) -> Result<i32> {
    let server = client.get_json("/version")?;
    if let Some(f) = &args.format {
        let data = row(vec![
            (
                "Client",
                from_json(&serde_json::json!({
                "Version": env!("CARGO_PKG_VERSION"), "ApiVersion": client.version(),
                "Os": "linux", "Arch": "amd64"})),
            ),
            ("Server", from_json(&server)),
        ]);
        print_out(&Format::new(f).render_each(&[data]).map_err(CliError::msg)?)?;
        return Ok(0);
    }
    let mut out = String::new();
    out.push_str("Client:\n");
    out.push_str(&format!(
        " Version:           {}\n",
        env!("CARGO_PKG_VERSION")
    ));
    out.push_str(&format!(" API version:       {}\n", client.version()));
    out.push_str(" OS/Arch:           linux/amd64\n\n");
    out.push_str(
        format!(
            "Server: {}",
            server
                .pointer("/Platform/Name")
                .and_then(Value::as_str)
                .unwrap_or("")
        )
        .trim_end(),
    );
    out.push('\n');
    out.push_str(" Engine:\n");
    out.push_str(&format!("  Version:          {}\n", s(&server, "Version")));
    out.push_str(&format!(
        "  API version:      {} (minimum version {})\n",
        s(&server, "ApiVersion"),
        s(&server, "MinAPIVersion")
    ));
    out.push_str(&format!(
        "  Go version:       {}\n",
        s(&server, "GoVersion")
    ));
    out.push_str(&format!(
        "  Git commit:       {}\n",
        s(&server, "GitCommit")
    ));
    out.push_str(&format!(
        "  Built:            {}\n",
        s(&server, "BuildTime")
    ));
    out.push_str(&format!(
        "  OS/Arch:          {}/{}\n",
        s(&server, "Os"),
        s(&server, "Arch")
    ));
    out.push_str(&format!(
        "  Experimental:     {}\n",
        server
            .get("Experimental")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    ));
    for comp in server
        .get("Components")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .skip(1)
    {
        out.push_str(&format!(" {}:\n", s(comp, "Name")));
        out.push_str(&format!("  Version:          {}\n", s(comp, "Version")));
        if let Some(commit) = comp.pointer("/Details/GitCommit").and_then(Value::as_str) {
            out.push_str(&format!("  GitCommit:        {commit}\n"));
        }
    }
    print_out(&out)?;
    Ok(0)
}

pub fn info(client: &mut Client, args: &FormatOnly) -> Result<i32> {
    let info = client.get_json("/info")?;
    if let Some(f) = &args.format {
        print_out(
            &Format::new(f)
                .render_each(&[from_json(&info)])
                .map_err(CliError::msg)?,
        )?;
        return Ok(0);
    }
    let mut out = String::from("Client:\n Version:    ");
    out.push_str(env!("CARGO_PKG_VERSION"));
    out.push_str("\n Context:    default\n Debug Mode: false\n\nServer:\n");
    out.push_str(&format!(" Containers: {}\n", i(&info, "Containers")));
    out.push_str(&format!("  Running: {}\n", i(&info, "ContainersRunning")));
    out.push_str(&format!("  Paused: {}\n", i(&info, "ContainersPaused")));
    out.push_str(&format!("  Stopped: {}\n", i(&info, "ContainersStopped")));
    out.push_str(&format!(" Images: {}\n", i(&info, "Images")));
    out.push_str(&format!(" Server Version: {}\n", s(&info, "ServerVersion")));
    out.push_str(&format!(" Storage Driver: {}\n", s(&info, "Driver")));
    out.push_str(&format!(" Logging Driver: {}\n", s(&info, "LoggingDriver")));
    out.push_str(&format!(" Cgroup Driver: {}\n", s(&info, "CgroupDriver")));
    out.push_str(&format!(" Cgroup Version: {}\n", s(&info, "CgroupVersion")));
    if let Some(runtimes) = info.get("Runtimes").and_then(Value::as_object) {
        let mut names: Vec<&String> = runtimes.keys().collect();
        names.sort();
        let names: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
        out.push_str(&format!(" Runtimes: {}\n", names.join(" ")));
    }
    out.push_str(&format!(
        " Default Runtime: {}\n",
        s(&info, "DefaultRuntime")
    ));
    out.push_str(&format!(" Kernel Version: {}\n", s(&info, "KernelVersion")));
    out.push_str(&format!(
        " Operating System: {}\n",
        s(&info, "OperatingSystem")
    ));
    out.push_str(&format!(" OSType: {}\n", s(&info, "OSType")));
    out.push_str(&format!(" Architecture: {}\n", s(&info, "Architecture")));
    out.push_str(&format!(" CPUs: {}\n", i(&info, "NCPU")));
    let mem = info.get("MemTotal").and_then(Value::as_f64).unwrap_or(0.0);
    out.push_str(&format!(" Total Memory: {}\n", units::bytes_size(mem)));
    out.push_str(&format!(" Name: {}\n", s(&info, "Name")));
    out.push_str(&format!(" ID: {}\n", s(&info, "ID")));
    out.push_str(&format!(
        " Docker Root Dir: {}\n",
        s(&info, "DockerRootDir")
    ));
    out.push_str(&format!(
        " Debug Mode: {}\n",
        info.get("Debug").and_then(Value::as_bool).unwrap_or(false)
    ));
    out.push_str(&format!(
        " Experimental: {}\n",
        info.get("ExperimentalBuild")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    ));
    out.push_str(&format!(
        " Live Restore Enabled: {}\n",
        info.get("LiveRestoreEnabled")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    ));
    print_out(&out)?;
    Ok(0)
}

pub fn df(client: &mut Client, args: &DfArgs) -> Result<i32> {
    let v = client.get_json("/system/df")?;
    let images = v
        .get("Images")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let containers = v
        .get("Containers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let volumes = v
        .get("Volumes")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let cache = v
        .get("BuildCache")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();

    if args.verbose {
        return df_verbose(args, &v, &images, &containers, &volumes, &cache);
    }
    let layers = v.get("LayersSize").and_then(Value::as_f64).unwrap_or(0.0);
    let active_images = images
        .iter()
        .filter(|i| i.get("Containers").and_then(Value::as_i64).unwrap_or(0) > 0)
        .count();
    let used: f64 = images
        .iter()
        .filter(|i| i.get("Containers").and_then(Value::as_i64).unwrap_or(0) > 0)
        .map(|i| {
            i.get("Size").and_then(Value::as_f64).unwrap_or(0.0)
                - i.get("SharedSize")
                    .and_then(Value::as_f64)
                    .unwrap_or(0.0)
                    .max(0.0)
        })
        .sum();
    let reclaim = |total: f64, r: f64| {
        if total > 0.0 {
            format!("{} ({}%)", units::human_size(r), (r * 100.0 / total) as i64)
        } else {
            units::human_size(r)
        }
    };
    let image_reclaim = (layers - used).max(0.0);

    let active_containers = containers
        .iter()
        .filter(|c| s(c, "State") == "running")
        .count();
    let c_size: f64 = containers
        .iter()
        .map(|c| c.get("SizeRw").and_then(Value::as_f64).unwrap_or(0.0))
        .sum();
    let c_reclaim: f64 = containers
        .iter()
        .filter(|c| s(c, "State") != "running")
        .map(|c| c.get("SizeRw").and_then(Value::as_f64).unwrap_or(0.0))
        .sum();
    let volume_size = |x: &Value| {
        x.pointer("/UsageData/Size")
            .and_then(Value::as_f64)
            .unwrap_or(0.0)
            .max(0.0)
    };
    let volume_used = |x: &Value| {
        x.pointer("/UsageData/RefCount")
            .and_then(Value::as_i64)
            .unwrap_or(0)
            > 0
    };
    let v_size: f64 = volumes.iter().map(volume_size).sum();
    let active_volumes = volumes.iter().filter(|x| volume_used(x)).count();
    let v_reclaim: f64 = volumes
        .iter()
        .filter(|x| !volume_used(x))
        .map(volume_size)
        .sum();
    let b_size: f64 = cache
        .iter()
        .map(|x| x.get("Size").and_then(Value::as_f64).unwrap_or(0.0))
        .sum();

    let rows = vec![
        row(vec![
            ("Type", "Images".into()),
            ("TotalCount", images.len().to_string().into()),
            ("Active", active_images.to_string().into()),
            ("Size", units::human_size(layers).into()),
            ("Reclaimable", reclaim(layers, image_reclaim).into()),
        ]),
        row(vec![
            ("Type", "Containers".into()),
            ("TotalCount", containers.len().to_string().into()),
            ("Active", active_containers.to_string().into()),
            ("Size", units::human_size(c_size).into()),
            ("Reclaimable", reclaim(c_size, c_reclaim).into()),
        ]),
        row(vec![
            ("Type", "Local Volumes".into()),
            ("TotalCount", volumes.len().to_string().into()),
            ("Active", active_volumes.to_string().into()),
            ("Size", units::human_size(v_size).into()),
            ("Reclaimable", reclaim(v_size, v_reclaim).into()),
        ]),
        row(vec![
            ("Type", "Build Cache".into()),
            ("TotalCount", cache.len().to_string().into()),
            ("Active", "0".into()),
            ("Size", units::human_size(b_size).into()),
            ("Reclaimable", units::human_size(b_size).into()),
        ]),
    ];
    let format = args.format.clone().unwrap_or_else(|| {
        "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}".into()
    });
    print_rows(
        &format,
        &[
            ("Type", "TYPE"),
            ("TotalCount", "TOTAL"),
            ("Active", "ACTIVE"),
            ("Size", "SIZE"),
            ("Reclaimable", "RECLAIMABLE"),
        ],
        &rows,
    )?;
    Ok(0)
}

/// `system df -v`: a table per kind as docker prints them; with `--format`, the template over
/// the whole answer (`{{json .}}` gives all of it).
fn df_verbose(
    args: &DfArgs,
    answer: &Value,
    images: &[Value],
    containers: &[Value],
    volumes: &[Value],
    cache: &[Value],
) -> Result<i32> {
    if let Some(format) = &args.format {
        let text = Format::new(format)
            .render(&[], &[from_json(answer)])
            .map_err(CliError::msg)?;
        print_out(&text)?;
        return Ok(0);
    }
    println!("Images space usage:\n");
    let image_rows: Vec<T> = images
        .iter()
        .flat_map(|i| crate::cmd::images::image_rows(i, true, false))
        .collect();
    print_rows(
        "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}",
        &[
            ("Repository", "REPOSITORY"),
            ("Tag", "TAG"),
            ("ID", "IMAGE ID"),
            ("CreatedSince", "CREATED"),
            ("Size", "SIZE"),
            ("SharedSize", "SHARED SIZE"),
            ("UniqueSize", "UNIQUE SIZE"),
            ("Containers", "CONTAINERS"),
        ],
        &image_rows,
    )?;
    println!("\nContainers space usage:\n");
    let container_rows: Vec<T> = containers.iter().map(|c| container_row(c, true)).collect();
    print_rows(
        "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}",
        &[
            ("ID", "CONTAINER ID"),
            ("Image", "IMAGE"),
            ("Command", "COMMAND"),
            ("LocalVolumes", "LOCAL VOLUMES"),
            ("Size", "SIZE"),
            ("RunningFor", "CREATED"),
            ("Status", "STATUS"),
            ("Names", "NAMES"),
        ],
        &container_rows,
    )?;
    println!("\nLocal Volumes space usage:\n");
    let volume_rows: Vec<T> = volumes
        .iter()
        .map(|x| {
            row(vec![
                ("Name", s(x, "Name").into()),
                (
                    "Links",
                    x.pointer("/UsageData/RefCount")
                        .and_then(Value::as_i64)
                        .unwrap_or(0)
                        .to_string()
                        .into(),
                ),
                (
                    "Size",
                    units::human_size(
                        x.pointer("/UsageData/Size")
                            .and_then(Value::as_f64)
                            .unwrap_or(0.0),
                    )
                    .into(),
                ),
            ])
        })
        .collect();
    print_rows(
        "table {{.Name}}\t{{.Links}}\t{{.Size}}",
        &[
            ("Name", "VOLUME NAME"),
            ("Links", "LINKS"),
            ("Size", "SIZE"),
        ],
        &volume_rows,
    )?;
    let cache_size: f64 = cache
        .iter()
        .map(|x| x.get("Size").and_then(Value::as_f64).unwrap_or(0.0))
        .sum();
    println!(
        "\nBuild cache usage: {}\n\nCACHE ID   CACHE TYPE   SIZE      CREATED   LAST USED   USAGE     SHARED",
        units::human_size(cache_size)
    );
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_time_strings() {
        assert_eq!(go_time(0), "1970-01-01 00:00:00 +0000 UTC");
        assert_eq!(go_time(1_796_294_356), "2026-12-03 10:39:16 +0000 UTC");
    }

    #[test]
    fn timestamps_and_durations() {
        assert_eq!(parse_rfc3339("1970-01-01T00:01:00Z"), Some(60));
        assert_eq!(parse_rfc3339("2026-12-03T10:39:16Z"), Some(1_796_294_356));
        assert_eq!(parse_rfc3339("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_go_duration("1h30m"), Some(5400.0));
        assert_eq!(parse_go_duration("42m"), Some(2520.0));
        assert_eq!(parse_go_duration("x"), None);
        assert_eq!(parse_timestamp("1700000000").unwrap(), "1700000000");
    }
}
