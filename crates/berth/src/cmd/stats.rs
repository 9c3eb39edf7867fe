//! `top` and `stats`: a container's processes, and what containers use, as docker prints them.

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use gtmpl::Value as T;
use serde_json::Value;

use crate::api::{CliError, Client, Result, path_escape, query};
use crate::cli::{StatsArgs, TopArgs};
use crate::cmd::{print_rows, run::print_out};
use crate::tabwriter::TabWriter;
use crate::template::row;
use crate::units::{bytes_size, human_size_precision, truncate_id};

const STATS_TABLE: &str = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";
const STATS_HEADER: [(&str, &str); 9] = [
    ("ID", "CONTAINER ID"),
    ("Container", "CONTAINER"),
    ("Name", "NAME"),
    ("CPUPerc", "CPU %"),
    ("MemUsage", "MEM USAGE / LIMIT"),
    ("MemPerc", "MEM %"),
    ("NetIO", "NET I/O"),
    ("BlockIO", "BLOCK I/O"),
    ("PIDs", "PIDS"),
];
/// Between the two readings a CPU percentage is computed from.
const CPU_WINDOW: Duration = Duration::from_millis(100);
const REFRESH: Duration = Duration::from_secs(1);

pub fn top(client: &mut Client, args: &TopArgs) -> Result<i32> {
    let ps_args = args.ps_args.join(" ");
    let q: Vec<(&str, String)> = if ps_args.is_empty() {
        Vec::new()
    } else {
        vec![("ps_args", ps_args)]
    };
    let v = client.get_json(&format!(
        "/containers/{}/top{}",
        path_escape(&args.container),
        query(&q)
    ))?;
    let cells = |items: &Value| -> Vec<String> {
        items
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| c.as_str().unwrap_or_default().to_string())
            .collect()
    };
    let mut text = cells(&v["Titles"]).join("\t");
    text.push('\n');
    for process in v["Processes"].as_array().into_iter().flatten() {
        text.push_str(&cells(process).join("\t"));
        text.push('\n');
    }
    // docker's top table: minwidth 20, padding 1.
    let writer = TabWriter::with_widths(20, 1);
    print_out(&writer.format(&text))?;
    Ok(0)
}

/// One container's reading: the stats object and what the table shows.
struct Reading {
    container: String,
    id: String,
    name: String,
    stats: Value,
}

pub fn stats(client: &mut Client, args: &StatsArgs) -> Result<i32> {
    let format = match args.format.as_deref() {
        None | Some("table") => STATS_TABLE.to_string(),
        Some(f) => f.to_string(),
    };
    let mut previous: HashMap<String, Value> = HashMap::new();
    let mut first = true;
    loop {
        let targets = targets(client, args)?;
        let mut readings = read_all(client, &targets)?;
        if first || args.no_stream {
            // A CPU percentage needs two readings.
            for r in &readings {
                previous.insert(r.id.clone(), r.stats["cpu_stats"].clone());
            }
            std::thread::sleep(CPU_WINDOW);
            readings = read_all(client, &targets)?;
        }
        let rows: Vec<T> = readings
            .iter()
            .map(|r| stats_row(r, previous.get(&r.id), args.no_trunc))
            .collect();
        if !args.no_stream && crate::term::is_tty(1) {
            print!("\x1b[2J\x1b[H");
        }
        print_rows(&format, &STATS_HEADER, &rows)?;
        std::io::stdout().flush().ok();
        if args.no_stream {
            return Ok(0);
        }
        previous = readings
            .into_iter()
            .map(|r| (r.id, r.stats["cpu_stats"].clone()))
            .collect();
        first = false;
        std::thread::sleep(REFRESH);
    }
}

/// The containers named, or every running one (every one with -a).
fn targets(client: &mut Client, args: &StatsArgs) -> Result<Vec<String>> {
    if !args.containers.is_empty() {
        return Ok(args.containers.clone());
    }
    let q: Vec<(&str, String)> = if args.all {
        vec![("all", "1".into())]
    } else {
        Vec::new()
    };
    let list = client.get_json(&format!("/containers/json{}", query(&q)))?;
    Ok(list
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["Id"].as_str().map(str::to_string))
        .collect())
}

fn read_all(client: &mut Client, targets: &[String]) -> Result<Vec<Reading>> {
    targets
        .iter()
        .map(|container| {
            let stats = client
                .get_json(&format!(
                    "/containers/{}/stats?stream=0&one-shot=1",
                    path_escape(container)
                ))
                .map_err(|e| match e {
                    CliError::Daemon { message, .. } => CliError::msg(message),
                    other => other,
                })?;
            Ok(Reading {
                container: container.clone(),
                id: stats["id"].as_str().unwrap_or_default().to_string(),
                name: stats["name"]
                    .as_str()
                    .unwrap_or_default()
                    .trim_start_matches('/')
                    .to_string(),
                stats,
            })
        })
        .collect()
}

fn u(v: &Value) -> f64 {
    v.as_u64().unwrap_or(0) as f64
}

/// docker's CPU percentage: the container's share of the host's CPU time between two readings,
/// times the number of CPUs.
fn cpu_percent(cpu: &Value, previous: Option<&Value>) -> f64 {
    let Some(pre) = previous else {
        return 0.0;
    };
    let cpu_delta = u(&cpu["cpu_usage"]["total_usage"]) - u(&pre["cpu_usage"]["total_usage"]);
    let system_delta = u(&cpu["system_cpu_usage"]) - u(&pre["system_cpu_usage"]);
    let cpus = match u(&cpu["online_cpus"]) {
        0.0 => cpu["cpu_usage"]["percpu_usage"]
            .as_array()
            .map_or(1.0, |a| a.len().max(1) as f64),
        n => n,
    };
    if cpu_delta > 0.0 && system_delta > 0.0 {
        cpu_delta / system_delta * cpus * 100.0
    } else {
        0.0
    }
}

/// Memory in use without the page cache that can be dropped (inactive files), as docker counts.
fn memory_used(memory: &Value) -> f64 {
    let usage = u(&memory["usage"]);
    let inactive = memory["stats"]
        .get("total_inactive_file")
        .or_else(|| memory["stats"].get("inactive_file"))
        .map(u)
        .unwrap_or(0.0);
    if inactive < usage {
        usage - inactive
    } else {
        usage
    }
}

fn stats_row(r: &Reading, previous_cpu: Option<&Value>, no_trunc: bool) -> T {
    let s = &r.stats;
    let memory = &s["memory_stats"];
    let used = memory_used(memory);
    let limit = u(&memory["limit"]);
    let (mut rx, mut tx) = (0.0, 0.0);
    for net in s["networks"]
        .as_object()
        .into_iter()
        .flat_map(|m| m.values())
    {
        rx += u(&net["rx_bytes"]);
        tx += u(&net["tx_bytes"]);
    }
    let (mut read, mut write) = (0.0, 0.0);
    for entry in s["blkio_stats"]["io_service_bytes_recursive"]
        .as_array()
        .into_iter()
        .flatten()
    {
        match entry["op"].as_str().map(|o| o.to_ascii_lowercase()) {
            Some(op) if op == "read" => read += u(&entry["value"]),
            Some(op) if op == "write" => write += u(&entry["value"]),
            _ => {}
        }
    }
    let running = s["read"].as_str().is_some_and(|t| !t.starts_with("0001-"));
    let (cpu, mem_usage, mem_perc) = if running {
        (
            format!("{:.2}%", cpu_percent(&s["cpu_stats"], previous_cpu)),
            format!("{} / {}", bytes_size(used), bytes_size(limit)),
            format!(
                "{:.2}%",
                if limit > 0.0 {
                    used / limit * 100.0
                } else {
                    0.0
                }
            ),
        )
    } else {
        ("0.00%".into(), "0B / 0B".into(), "0.00%".into())
    };
    let id = if no_trunc {
        r.id.clone()
    } else {
        truncate_id(&r.id)
    };
    row(vec![
        ("ID", T::String(id)),
        ("Container", T::String(r.container.clone())),
        ("Name", T::String(r.name.clone())),
        ("CPUPerc", T::String(cpu)),
        ("MemUsage", T::String(mem_usage)),
        ("MemPerc", T::String(mem_perc)),
        (
            "NetIO",
            T::String(format!(
                "{} / {}",
                human_size_precision(rx, 3),
                human_size_precision(tx, 3)
            )),
        ),
        (
            "BlockIO",
            T::String(format!(
                "{} / {}",
                human_size_precision(read, 3),
                human_size_precision(write, 3)
            )),
        ),
        (
            "PIDs",
            T::String(s["pids_stats"]["current"].as_u64().unwrap_or(0).to_string()),
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cpu_share_of_two_readings_times_the_cpus() {
        let pre = json!({"cpu_usage": {"total_usage": 1_000}, "system_cpu_usage": 10_000, "online_cpus": 2});
        let now = json!({"cpu_usage": {"total_usage": 2_000}, "system_cpu_usage": 14_000, "online_cpus": 2});
        assert_eq!(cpu_percent(&now, Some(&pre)), 50.0);
        assert_eq!(cpu_percent(&now, None), 0.0);
    }

    #[test]
    fn memory_without_inactive_files() {
        let v1 = json!({"usage": 1000, "stats": {"total_inactive_file": 300}});
        let v2 = json!({"usage": 1000, "stats": {"inactive_file": 1200}});
        assert_eq!(memory_used(&v1), 700.0);
        assert_eq!(memory_used(&v2), 1000.0);
    }
}
