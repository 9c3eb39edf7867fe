//! `top` and `stats`: what a running container's processes are and what they use, read from the
//! container's cgroup, the host's `ps` and `/proc`, in the shapes dockerd answers.

use super::Containers;
use super::record::{ContainerRecord, State};
use super::timefmt;
use crate::error::{Error, Result};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::SystemTime;

/// One reading of a container's usage; `json` pairs it with the reading before it.
#[derive(Debug, Clone)]
pub struct StatsSample {
    read: SystemTime,
    id: String,
    name: String,
    cpu: Value,
    rest: serde_json::Map<String, Value>,
}

impl StatsSample {
    /// Docker's stats object: this reading, and the one before as `precpu_stats`/`preread`
    /// (zeros without one, as dockerd's one-shot answers have them).
    pub fn json(&self, previous: Option<&StatsSample>) -> Value {
        let mut out = self.rest.clone();
        out.insert("read".into(), json!(timefmt::format(self.read)));
        out.insert("cpu_stats".into(), self.cpu.clone());
        let (preread, precpu) = match previous {
            Some(p) => (timefmt::format(p.read), p.cpu.clone()),
            None => (timefmt::ZERO_TIME.to_string(), empty_cpu()),
        };
        out.insert("preread".into(), json!(preread));
        out.insert("precpu_stats".into(), precpu);
        out.insert("name".into(), json!(format!("/{}", self.name)));
        out.insert("id".into(), json!(self.id));
        Value::Object(out)
    }
}

impl Containers {
    /// `GET /containers/{id}/top?ps_args=`: the host's `ps` (default `-ef`), only the lines of
    /// the container's processes.
    pub fn top(&self, reference: &str, ps_args: &str) -> Result<Value> {
        let record = self.get(reference)?;
        if !matches!(record.state, State::Running | State::Paused) {
            return Err(Error::conflict(format!(
                "Container {} is not running",
                record.id
            )));
        }
        let pids: HashSet<i32> = self
            .inner
            .cgroup_of(&record)
            .map(|cgroup| cgroup.procs().into_iter().collect())
            .unwrap_or_default();
        let args: Vec<&str> = match ps_args.trim() {
            "" => vec!["-ef"],
            a => a.split_whitespace().collect(),
        };
        let out = std::process::Command::new("ps")
            .args(&args)
            .output()
            .map_err(|e| Error::internal(format!("Error running ps: {e}")))?;
        if !out.status.success() {
            return Err(Error::internal(format!(
                "ps: {}: {}",
                String::from_utf8_lossy(&out.stderr).trim(),
                String::from_utf8_lossy(&out.stdout).trim()
            )));
        }
        parse_ps(&String::from_utf8_lossy(&out.stdout), &pids)
    }

    /// One reading of a container's cgroup, processes and network devices; zeros when it is
    /// not running.
    pub fn stats(&self, reference: &str) -> Result<StatsSample> {
        let record = self.get(reference)?;
        let read = SystemTime::now();
        if !matches!(record.state, State::Running | State::Paused) {
            return Ok(StatsSample {
                read,
                id: record.id.clone(),
                name: record.name.clone(),
                cpu: empty_cpu(),
                rest: empty_rest(),
            });
        }
        Ok(self.sample(&record, read))
    }

    fn sample(&self, record: &ContainerRecord, read: SystemTime) -> StatsSample {
        let cgroup = self.inner.cgroup_of(record).ok();
        let stats = cgroup.as_ref().map(|c| c.stats()).unwrap_or_default();
        let (system_cpu, online) = host_cpu();
        let cpu = json!({
            "cpu_usage": {
                "total_usage": stats.cpu_total_ns,
                "percpu_usage": stats.cpu_percpu_ns,
                "usage_in_kernelmode": stats.cpu_kernel_ns,
                "usage_in_usermode": stats.cpu_user_ns,
            },
            "system_cpu_usage": system_cpu,
            "online_cpus": online,
            "throttling_data": {
                "periods": stats.throttle_periods,
                "throttled_periods": stats.throttled_periods,
                "throttled_time": stats.throttled_ns,
            },
        });
        let io = |entries: &[(u64, u64, String, u64)]| -> Value {
            entries
                .iter()
                .map(|(major, minor, op, value)| {
                    json!({"major": major, "minor": minor, "op": op, "value": value})
                })
                .collect()
        };
        let memory_stat: serde_json::Map<String, Value> = stats
            .memory_stat
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        // An unlimited cgroup reports a huge number; dockerd shows the machine's memory then.
        let limit = match host_memory() {
            Some(host) if stats.memory_limit == 0 || stats.memory_limit > host => host,
            _ => stats.memory_limit,
        };
        let mut rest = serde_json::Map::new();
        rest.insert(
            "pids_stats".into(),
            if stats.pids_limit > 0 {
                json!({"current": stats.pids_current, "limit": stats.pids_limit})
            } else {
                json!({"current": stats.pids_current})
            },
        );
        rest.insert(
            "blkio_stats".into(),
            json!({
                "io_service_bytes_recursive": io(&stats.io_bytes),
                "io_serviced_recursive": io(&stats.io_ops),
                "io_queue_recursive": null,
                "io_service_time_recursive": null,
                "io_wait_time_recursive": null,
                "io_merged_recursive": null,
                "io_time_recursive": null,
                "sectors_recursive": null,
            }),
        );
        rest.insert("num_procs".into(), json!(0));
        rest.insert("storage_stats".into(), json!({}));
        rest.insert(
            "memory_stats".into(),
            json!({
                "usage": stats.memory_usage,
                "max_usage": stats.memory_max_usage,
                "failcnt": stats.memory_failcnt,
                "stats": memory_stat,
                "limit": limit,
            }),
        );
        let networks = network_devices(record.pid);
        if !networks.is_empty() {
            rest.insert("networks".into(), Value::Object(networks));
        }
        StatsSample {
            read,
            id: record.id.clone(),
            name: record.name.clone(),
            cpu,
            rest,
        }
    }
}

fn empty_cpu() -> Value {
    json!({
        "cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
        "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0},
    })
}

fn empty_rest() -> serde_json::Map<String, Value> {
    let mut rest = serde_json::Map::new();
    rest.insert("pids_stats".into(), json!({}));
    rest.insert(
        "blkio_stats".into(),
        json!({"io_service_bytes_recursive": null, "io_serviced_recursive": null}),
    );
    rest.insert("num_procs".into(), json!(0));
    rest.insert("storage_stats".into(), json!({}));
    rest.insert("memory_stats".into(), json!({}));
    rest
}

/// `ps` output with only the rows whose PID column is one of `pids`; the last column (the
/// command) keeps its spaces.
fn parse_ps(output: &str, pids: &HashSet<i32>) -> Result<Value> {
    let mut lines = output.lines();
    let header = lines.next().unwrap_or_default();
    let titles: Vec<&str> = header.split_whitespace().collect();
    let pid_column = titles
        .iter()
        .position(|t| *t == "PID")
        .ok_or_else(|| Error::internal("Couldn't find PID field in ps output"))?;
    let mut processes = Vec::new();
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let fields = split_fields(line, titles.len());
        let pid = fields
            .get(pid_column)
            .and_then(|p| p.parse::<i32>().ok())
            .ok_or_else(|| Error::internal(format!("Unexpected pid in ps output: {line:?}")))?;
        if pids.contains(&pid) {
            processes.push(fields);
        }
    }
    Ok(json!({"Titles": titles, "Processes": processes}))
}

/// At most `count` whitespace-separated fields; the last one takes the rest of the line.
fn split_fields(line: &str, count: usize) -> Vec<String> {
    let mut fields = Vec::with_capacity(count);
    let mut rest = line.trim_start();
    while fields.len() + 1 < count {
        match rest.split_once(char::is_whitespace) {
            Some((field, tail)) => {
                fields.push(field.to_string());
                rest = tail.trim_start();
            }
            None => break,
        }
    }
    if !rest.is_empty() {
        fields.push(rest.trim_end().to_string());
    }
    fields
}

/// From one read of /proc/stat: the host's CPU time in nanoseconds (the `cpu` line, user to
/// softirq and steal; the denominator of Docker's CPU percentage) and the number of CPUs online.
fn host_cpu() -> (u64, u64) {
    const NANOS_PER_TICK: u64 = 1_000_000_000 / 100;
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let total = text
        .lines()
        .find(|l| l.starts_with("cpu "))
        .map(|line| {
            line.split_whitespace()
                .skip(1)
                .take(8)
                .filter_map(|v| v.parse::<u64>().ok())
                .sum::<u64>()
                * NANOS_PER_TICK
        })
        .unwrap_or(0);
    let online = text
        .lines()
        .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .count();
    (total, online.max(1) as u64)
}

fn host_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// The container's network devices but loopback, from its init's /proc/PID/net/dev.
fn network_devices(pid: i32) -> serde_json::Map<String, Value> {
    let mut out = serde_json::Map::new();
    if pid <= 0 {
        return out;
    }
    let text = std::fs::read_to_string(format!("/proc/{pid}/net/dev")).unwrap_or_default();
    for line in text.lines().skip(2) {
        let Some((name, counters)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name == "lo" {
            continue;
        }
        let v: Vec<u64> = counters
            .split_whitespace()
            .filter_map(|c| c.parse().ok())
            .collect();
        if v.len() < 12 {
            continue;
        }
        out.insert(
            name.to_string(),
            json!({
                "rx_bytes": v[0], "rx_packets": v[1], "rx_errors": v[2], "rx_dropped": v[3],
                "tx_bytes": v[8], "tx_packets": v[9], "tx_errors": v[10], "tx_dropped": v[11],
            }),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ps_rows_of_the_container_only_with_the_command_whole() {
        let out = "UID  PID  PPID  C STIME TTY TIME CMD\n\
                   root 1 0 0 10:00 ? 00:00:01 /sbin/init splash\n\
                   root 4242 4240 0 10:01 ? 00:00:00 sleep 1000 --long arg\n";
        let pids: HashSet<i32> = [4242].into();
        let v = parse_ps(out, &pids).unwrap();
        assert_eq!(v["Titles"].as_array().unwrap().len(), 8);
        assert_eq!(
            v["Processes"],
            json!([[
                "root",
                "4242",
                "4240",
                "0",
                "10:01",
                "?",
                "00:00:00",
                "sleep 1000 --long arg"
            ]])
        );
        assert!(parse_ps("USER COMMAND\nroot x\n", &pids).is_err());
    }
}
