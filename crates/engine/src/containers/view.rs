//! What inspect and ps show of a container, in dockerd 20.10's shapes (API 1.41).

use super::record::{self, ContainerRecord, State};
use super::{Inner, timefmt};
use crate::error::{Error, Result};
use berth_image::mount::Mount;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// `GET /containers/json` query.
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    pub all: bool,
    /// 0 or less: no limit.
    pub limit: i64,
    pub size: bool,
    /// `filters` as Docker sends it: `{"status":["running"]}` or `{"status":{"running":true}}`.
    pub filters: Option<String>,
}

/// Docker's two filter encodings → name → values.
pub fn parse_filters(text: &str) -> Result<BTreeMap<String, Vec<String>>> {
    if text.trim().is_empty() {
        return Ok(BTreeMap::new());
    }
    let value: Value = serde_json::from_str(text)
        .map_err(|e| Error::invalid(format!("invalid filters {text:?}: {e}")))?;
    let Value::Object(map) = value else {
        return Err(Error::invalid(format!(
            "invalid filters {text:?}: not an object"
        )));
    };
    let mut out = BTreeMap::new();
    for (key, v) in map {
        let values = match v {
            Value::Array(items) => items
                .into_iter()
                .filter_map(|i| i.as_str().map(str::to_string))
                .collect(),
            Value::Object(m) => m
                .into_iter()
                .filter(|(_, on)| on.as_bool().unwrap_or(false))
                .map(|(k, _)| k)
                .collect(),
            _ => return Err(Error::invalid(format!("invalid filter {key:?}"))),
        };
        out.insert(key, values);
    }
    Ok(out)
}

const FILTERS: &[&str] = &[
    "id",
    "name",
    "label",
    "status",
    "ancestor",
    "before",
    "since",
    "exited",
    "network",
    "volume",
    "health",
    "isolation",
    "is-task",
    "publish",
    "expose",
];

fn command_line(record: &ContainerRecord) -> (String, Vec<String>) {
    let c = &record.config;
    let mut all: Vec<String> = c.entrypoint.clone().unwrap_or_default();
    all.extend(c.cmd.clone().unwrap_or_default());
    let mut it = all.into_iter();
    let path = it.next().unwrap_or_default();
    (path, it.collect())
}

fn network_name(record: &ContainerRecord) -> String {
    match record.body.host_config.network_mode.as_str() {
        "" | "default" => "none".into(),
        other => other.into(),
    }
}

fn networks(record: &ContainerRecord) -> Value {
    let mut m = serde_json::Map::new();
    m.insert(
        network_name(record),
        json!({
            "IPAMConfig": null, "Links": null, "Aliases": null, "NetworkID": "",
            "EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0,
            "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
            "MacAddress": "", "DriverOpts": null
        }),
    );
    Value::Object(m)
}

/// `Mounts` as inspect and ps show them, by destination.
fn mounts_json(record: &ContainerRecord) -> Value {
    Value::Array(record.mount_points().iter().map(|p| p.to_api()).collect())
}

/// ps's `volume` filter: a volume name, a bind source, or a destination.
fn mounts_volume(record: &ContainerRecord, wanted: &str) -> bool {
    record.mount_points().iter().any(|p| {
        p.destination == wanted
            || (!p.name.is_empty() && p.name == wanted)
            || (p.name.is_empty() && p.source == wanted)
    })
}

fn status_text(record: &ContainerRecord) -> String {
    let now = timefmt::now_unix();
    let since = |t: &Option<String>| {
        t.as_deref()
            .map(|t| timefmt::human_duration(now - timefmt::unix_seconds(t)))
            .unwrap_or_default()
    };
    match record.state {
        State::Created => "Created".into(),
        State::Starting | State::Running => format!("Up {}", since(&record.started_at)),
        State::Paused => format!("Up {} (Paused)", since(&record.started_at)),
        State::Exited => format!(
            "Exited ({}) {} ago",
            record.exit_code,
            since(&record.finished_at)
        ),
        State::Removing => "Removal In Progress".into(),
    }
}

impl Inner {
    fn size_rw(&self, id: &str) -> u64 {
        self.images
            .snapshotter()
            .usage(id)
            .map(|u| u.bytes)
            .unwrap_or(0)
    }

    fn image_size(&self, record: &ContainerRecord) -> u64 {
        self.images
            .resolve(&record.image_id)
            .map(|i| i.size)
            .unwrap_or(0)
    }

    pub(crate) fn inspect_json(&self, record: &ContainerRecord, size: bool) -> Value {
        let paths = self.paths(&record.id);
        let (path, args) = command_line(record);
        let mut config = serde_json::to_value(&record.config).unwrap_or(json!({}));
        if let Value::Object(c) = &mut config {
            if record.config.hostname.is_empty() {
                c.insert("Hostname".into(), json!(record.short_id()));
            }
            c.insert("Image".into(), json!(record.image_ref));
            c.insert("OnBuild".into(), Value::Null);
            if record.config.stop_signal.is_empty() {
                c.remove("StopSignal");
            }
            if record.config.stop_timeout.is_none() {
                c.remove("StopTimeout");
            }
            if record.config.healthcheck.is_none() {
                c.remove("Healthcheck");
            }
        }
        let mut host_config = serde_json::to_value(&record.body.host_config).unwrap_or(json!({}));
        if let Value::Object(h) = &mut host_config {
            h.insert("NetworkMode".into(), json!(network_name(record)));
            if record.body.host_config.log_config.r#type.is_empty() {
                h.insert(
                    "LogConfig".into(),
                    json!({"Type": "json-file", "Config": {}}),
                );
            }
            if record.body.host_config.runtime.is_empty() {
                h.insert("Runtime".into(), json!(record.runtime));
            }
        }
        let graph = match self.images.snapshotter().mounts(&record.id) {
            Ok(mounts) => match mounts.first() {
                Some(Mount::Overlay { lower, upper, work }) => json!({
                    "Name": "overlay2",
                    "Data": {
                        "LowerDir": lower.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(":"),
                        "UpperDir": upper.as_ref().map(|p| p.display().to_string()),
                        "WorkDir": work.as_ref().map(|p| p.display().to_string()),
                        "MergedDir": paths.rootfs.display().to_string(),
                    }
                }),
                _ => {
                    json!({"Name": "overlay2", "Data": {"MergedDir": paths.rootfs.display().to_string()}})
                }
            },
            Err(_) => json!({"Name": "overlay2", "Data": null}),
        };
        let running = matches!(
            record.state,
            State::Running | State::Paused | State::Starting
        );
        let etc = |name: &str| paths.container_dir.join(name).display().to_string();
        let mut out = json!({
            "Id": record.id,
            "Created": record.created,
            "Path": path,
            "Args": args,
            "State": {
                "Status": record.state.docker_status(),
                "Running": running,
                "Paused": record.state == State::Paused,
                "Restarting": false,
                "OOMKilled": record.oom_killed,
                "Dead": false,
                "Pid": record.pid,
                "ExitCode": record.exit_code,
                "Error": record.error,
                "StartedAt": record.started_at.clone().unwrap_or_else(|| timefmt::ZERO_TIME.into()),
                "FinishedAt": record.finished_at.clone().unwrap_or_else(|| timefmt::ZERO_TIME.into()),
            },
            "Image": record.image_id,
            "ResolvConfPath": etc("resolv.conf"),
            "HostnamePath": etc("hostname"),
            "HostsPath": etc("hosts"),
            "LogPath": if record.body.host_config.log_config.r#type == "none" { String::new() } else { paths.log.display().to_string() },
            "Name": format!("/{}", record.name),
            "RestartCount": record.restart_count,
            "Driver": "overlay2",
            "Platform": "linux",
            "MountLabel": "",
            "ProcessLabel": "",
            "AppArmorProfile": "",
            "ExecIDs": self.exec_ids(&record.id),
            "HostConfig": host_config,
            "GraphDriver": graph,
            "Mounts": mounts_json(record),
            "Config": config,
            "NetworkSettings": {
                "Bridge": "", "SandboxID": "", "HairpinMode": false,
                "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0, "Ports": {},
                "SandboxKey": "", "SecondaryIPAddresses": null, "SecondaryIPv6Addresses": null,
                "EndpointID": "", "Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
                "IPAddress": "", "IPPrefixLen": 0, "IPv6Gateway": "", "MacAddress": "",
                "Networks": networks(record),
            },
        });
        if size {
            let rw = self.size_rw(&record.id);
            out["SizeRw"] = json!(rw);
            out["SizeRootFs"] = json!(rw + self.image_size(record));
        }
        out
    }

    fn list_entry(&self, record: &ContainerRecord, size: bool) -> Value {
        let (path, args) = command_line(record);
        let command = std::iter::once(path)
            .chain(args)
            .collect::<Vec<_>>()
            .join(" ");
        let mut out = json!({
            "Id": record.id,
            "Names": [format!("/{}", record.name)],
            "Image": record.image_ref,
            "ImageID": record.image_id,
            "Command": command,
            "Created": timefmt::unix_seconds(&record.created),
            "Ports": [],
            "Labels": record.config.labels,
            "State": record.state.docker_status(),
            "Status": status_text(record),
            "HostConfig": {"NetworkMode": network_name(record)},
            "NetworkSettings": {"Networks": networks(record)},
            "Mounts": mounts_json(record),
        });
        if size {
            let rw = self.size_rw(&record.id);
            out["SizeRw"] = json!(rw);
            out["SizeRootFs"] = json!(rw + self.image_size(record));
        }
        out
    }

    pub(crate) fn list_json(&self, opts: &ListOptions) -> Result<Vec<Value>> {
        let filters = parse_filters(opts.filters.as_deref().unwrap_or(""))?;
        for key in filters.keys() {
            if !FILTERS.contains(&key.as_str()) {
                return Err(Error::invalid(format!("Invalid filter '{key}'")));
            }
        }
        let mut records = record::list(&self.store)?;
        records.sort_by(|a, b| b.created.cmp(&a.created));
        let created_of = |reference: &str| -> Result<String> {
            let id = self.lookup(reference)?;
            Ok(self.load(&id)?.created)
        };
        let mut before = None;
        for r in filters.get("before").into_iter().flatten() {
            before = Some(created_of(r)?);
        }
        let mut since = None;
        for r in filters.get("since").into_iter().flatten() {
            since = Some(created_of(r)?);
        }
        let all = opts.all
            || opts.limit > 0
            || filters.contains_key("status")
            || filters.contains_key("exited")
            || before.is_some()
            || since.is_some();
        let matches = |key: &str, test: &dyn Fn(&str) -> bool| {
            filters
                .get(key)
                .is_none_or(|vals| vals.is_empty() || vals.iter().any(|v| test(v)))
        };
        let mut out = Vec::new();
        for record in &records {
            let status = record.state.docker_status();
            if !all
                && !matches!(
                    record.state,
                    State::Running | State::Paused | State::Starting
                )
            {
                continue;
            }
            let ok = matches("id", &|v| record.id.starts_with(v))
                && matches("name", &|v| record.name.contains(v.trim_start_matches('/')))
                && matches("status", &|v| v == status)
                && matches("volume", &|v| mounts_volume(record, v))
                && matches("exited", &|v| {
                    record.state == State::Exited && v.parse::<i32>().ok() == Some(record.exit_code)
                })
                && matches("ancestor", &|v| {
                    record.image_ref == v
                        || record.image_id == v
                        || record.image_id.trim_start_matches("sha256:").starts_with(v)
                        || self
                            .images
                            .resolve(v)
                            .is_ok_and(|i| i.id == record.image_id)
                })
                && filters.get("label").is_none_or(|labels| {
                    labels.iter().all(|l| match l.split_once('=') {
                        Some((k, v)) => record.config.labels.get(k).is_some_and(|x| x == v),
                        None => record.config.labels.contains_key(l),
                    })
                })
                && before.as_ref().is_none_or(|b| record.created < *b)
                && since.as_ref().is_none_or(|s| record.created > *s);
            if !ok {
                continue;
            }
            out.push(self.list_entry(record, opts.size));
            if opts.limit > 0 && out.len() as i64 >= opts.limit {
                break;
            }
        }
        Ok(out)
    }
}
