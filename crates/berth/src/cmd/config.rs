//! The `POST /containers/create` body built from `run`/`create` flags, as docker CLI builds it.

use serde_json::{Map, Value, json};

use crate::cli::RunArgs;
use crate::cmd::mount_opt;
use crate::units;

/// A flag value docker would refuse before talking to the daemon.
pub type FlagError = String;

pub struct CreateRequest {
    pub name: Option<String>,
    pub image: String,
    pub body: Value,
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
}

fn key_values(items: &[String]) -> Map<String, Value> {
    items
        .iter()
        .map(|item| match item.split_once('=') {
            Some((k, v)) => (k.to_string(), Value::String(v.to_string())),
            None => (item.clone(), Value::String(String::new())),
        })
        .collect()
}

/// `-e NAME` takes NAME's value from our environment when it is set.
pub fn expand_env(item: &str) -> String {
    if item.contains('=') {
        return item.to_string();
    }
    match std::env::var(item) {
        Ok(value) => format!("{item}={value}"),
        Err(_) => item.to_string(),
    }
}

pub fn read_env_file(path: &str) -> Result<Vec<String>, FlagError> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("open {path}: {}", io_reason(&e)))?;
    Ok(text
        .lines()
        .map(|l| l.trim_start())
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(expand_env)
        .collect())
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

fn parse_ulimit(spec: &str) -> Result<Value, FlagError> {
    let invalid = || {
        format!(
            "invalid argument \"{spec}\" for \"--ulimit\" flag: invalid ulimit argument: {spec}"
        )
    };
    let (name, limits) = spec.split_once('=').ok_or_else(invalid)?;
    let (soft, hard) = match limits.split_once(':') {
        Some((s, h)) => (s, h),
        None => (limits, limits),
    };
    let soft: i64 = soft.parse().map_err(|_| invalid())?;
    let hard: i64 = hard.parse().map_err(|_| invalid())?;
    Ok(json!({"Name": name, "Soft": soft, "Hard": hard}))
}

fn parse_device(spec: &str) -> Result<Value, FlagError> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (host, container, perms) = match parts.as_slice() {
        [h] => (*h, *h, "rwm"),
        [h, c] if c.chars().all(|ch| "rwm".contains(ch)) && !c.starts_with('/') => (*h, *h, *c),
        [h, c] => (*h, *c, "rwm"),
        [h, c, p] => (*h, *c, *p),
        _ => {
            return Err(format!(
                "invalid argument \"{spec}\" for \"--device\" flag: invalid device specification: {spec}"
            ));
        }
    };
    Ok(json!({"PathOnHost": host, "PathInContainer": container, "CgroupPermissions": perms}))
}

fn parse_restart(spec: &str) -> Result<Value, FlagError> {
    let (name, count) = match spec.split_once(':') {
        Some((n, c)) => (
            n,
            c.parse::<i64>().map_err(|_| {
                "invalid restart policy format: maximum retry count must be an integer".to_string()
            })?,
        ),
        None => (spec, 0),
    };
    Ok(json!({"Name": name, "MaximumRetryCount": count}))
}

/// `-p [ip:][hostPort:]containerPort[/proto]` into ExposedPorts and PortBindings.
fn parse_publish(
    specs: &[String],
    exposed: &mut Map<String, Value>,
) -> Result<Map<String, Value>, FlagError> {
    let mut bindings = Map::new();
    for spec in specs {
        let (addr, proto) = match spec.rsplit_once('/') {
            Some((a, p)) => (a, p),
            None => (spec.as_str(), "tcp"),
        };
        let parts: Vec<&str> = addr.rsplitn(3, ':').collect();
        let (container, host_port, host_ip) = match parts.as_slice() {
            [c] => (*c, "", ""),
            [c, h] => (*c, *h, ""),
            [c, h, ip] => (*c, *h, *ip),
            _ => {
                return Err(format!(
                    "invalid argument \"{spec}\" for \"-p, --publish\" flag"
                ));
            }
        };
        if container.parse::<u16>().is_err() {
            return Err(format!("invalid containerPort: {container}"));
        }
        let key = format!("{container}/{proto}");
        exposed.insert(key.clone(), json!({}));
        let entry = bindings
            .entry(key)
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(list) = entry {
            list.push(json!({"HostIp": host_ip, "HostPort": host_port}));
        }
    }
    Ok(bindings)
}

/// `-v` values as docker CLI sorts them: `SRC:DST[:MODE]` into `Binds` (a `./relative`
/// source made absolute), a lone `DST` into `Config.Volumes` (an anonymous volume).
fn split_volumes(specs: &[String]) -> Result<(Vec<String>, Map<String, Value>), FlagError> {
    let mut binds: Vec<String> = Vec::new();
    let mut volumes = Map::new();
    for spec in specs {
        if spec.is_empty() {
            return Err("invalid empty volume spec".into());
        }
        let parts: Vec<&str> = spec.split(':').collect();
        if parts.iter().any(|p| p.is_empty()) {
            return Err(format!(
                "invalid spec: {spec}: empty section between colons"
            ));
        }
        if parts.len() > 3 {
            return Err(format!("invalid spec: {spec}: too many colons"));
        }
        if parts.len() == 1 {
            volumes.insert(spec.clone(), json!({}));
            continue;
        }
        let (source, rest) = spec.split_once(':').unwrap_or((spec, ""));
        let bind = format!("{}:{rest}", absolute_if_dotted(source));
        if !binds.contains(&bind) {
            binds.push(bind);
        }
    }
    Ok((binds, volumes))
}

/// `./x` and `../x` as docker CLI makes them absolute (from the working directory, cleaned);
/// anything else as it is.
pub fn absolute_if_dotted(path: &str) -> String {
    if !path.starts_with('.') {
        return path.to_string();
    }
    let Ok(cwd) = std::env::current_dir() else {
        return path.to_string();
    };
    let mut parts: Vec<String> = Vec::new();
    for c in cwd.join(path).components() {
        match c {
            std::path::Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            std::path::Component::ParentDir => {
                parts.pop();
            }
            _ => {}
        }
    }
    format!("/{}", parts.join("/"))
}

fn size_flag(flag: &str, value: &Option<String>) -> Result<i64, FlagError> {
    match value {
        None => Ok(0),
        Some(v) if v == "-1" => Ok(-1),
        Some(v) => units::ram_in_bytes(v)
            .map_err(|e| format!("invalid argument \"{v}\" for \"{flag}\" flag: {e}")),
    }
}

/// Builds the create request from the flags; `console` is the terminal size for `-t`.
pub fn build(
    args: &RunArgs,
    detach: bool,
    console: Option<(u16, u16)>,
) -> Result<CreateRequest, FlagError> {
    let (image, command) = args
        .image_and_command
        .split_first()
        .ok_or_else(|| "requires at least 1 argument".to_string())?;

    let mut attach_stdin = false;
    let mut attach_stdout = !detach;
    let mut attach_stderr = !detach;
    if !args.attach.is_empty() {
        if detach {
            return Err("Conflicting options: -a and -d".into());
        }
        attach_stdout = false;
        attach_stderr = false;
        for stream in &args.attach {
            match stream.to_ascii_lowercase().as_str() {
                "stdin" => attach_stdin = true,
                "stdout" => attach_stdout = true,
                "stderr" => attach_stderr = true,
                _ => {
                    return Err(format!(
                        "invalid argument \"{stream}\" for \"-a, --attach\" flag: valid streams are STDIN, STDOUT and STDERR"
                    ));
                }
            }
        }
    }
    if args.interactive && !detach {
        attach_stdin = true;
    }

    let mut env: Vec<String> = Vec::new();
    for file in &args.env_file {
        env.extend(read_env_file(file)?);
    }
    env.extend(args.env.iter().map(|e| expand_env(e)));

    let mut labels_list: Vec<String> = Vec::new();
    for file in &args.label_file {
        labels_list.extend(read_env_file(file)?);
    }
    labels_list.extend(args.label.iter().cloned());

    let entrypoint = match &args.entrypoint {
        None => Value::Null,
        Some(e) if e.is_empty() => json!([""]),
        Some(e) => json!([e]),
    };
    let cmd = if command.is_empty() {
        Value::Null
    } else {
        json!(command)
    };

    let mut exposed = Map::new();
    for port in &args.expose {
        let key = if port.contains('/') {
            port.clone()
        } else {
            format!("{port}/tcp")
        };
        exposed.insert(key, json!({}));
    }
    let port_bindings = parse_publish(&args.publish, &mut exposed)?;

    let ulimits = args
        .ulimit
        .iter()
        .map(|u| parse_ulimit(u))
        .collect::<Result<Vec<_>, _>>()?;
    let devices = args
        .device
        .iter()
        .map(|d| parse_device(d))
        .collect::<Result<Vec<_>, _>>()?;
    let restart = parse_restart(args.restart.as_deref().unwrap_or("no"))?;

    let (binds, volumes) = split_volumes(&args.volume)?;
    let mounts = args
        .mount
        .iter()
        .map(|m| {
            mount_opt::parse(m)
                .map_err(|e| format!("invalid argument \"{m}\" for \"--mount\" flag: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;

    let mut tmpfs = Map::new();
    for spec in &args.tmpfs {
        let (path, opts) = spec.split_once(':').unwrap_or((spec.as_str(), ""));
        tmpfs.insert(path.to_string(), Value::String(opts.to_string()));
    }
    let mut log_config = Map::new();
    for opt in &args.log_opt {
        if let Some((k, v)) = opt.split_once('=') {
            log_config.insert(k.to_string(), Value::String(v.to_string()));
        } else {
            return Err(format!(
                "invalid argument \"{opt}\" for \"--log-opt\" flag: invalid key value pair format in log-opt"
            ));
        }
    }

    let memory = size_flag("-m, --memory", &args.memory)?;
    let memory_swap = size_flag("--memory-swap", &args.memory_swap)?;
    let memory_reservation = size_flag("--memory-reservation", &args.memory_reservation)?;
    let shm_size = size_flag("--shm-size", &args.shm_size)?;
    let nano_cpus = match args.cpus {
        Some(c) if c < 0.0 => {
            return Err(format!(
                "invalid argument \"{c}\" for \"--cpus\" flag: range out of bounds"
            ));
        }
        Some(c) => (c * 1e9).round() as i64,
        None => 0,
    };
    if let Some(signal) = &args.stop_signal
        && crate::term::signal_number(signal).is_none()
    {
        return Err(format!("invalid signal: {signal}"));
    }

    let tty = args.tty;
    let open_stdin = args.interactive;
    let console_size = match (tty, console) {
        (true, Some((rows, cols))) => json!([rows, cols]),
        _ => json!([0, 0]),
    };
    let network = args.network.clone().unwrap_or_else(|| "default".into());
    let endpoints = if network == "default" {
        json!({"default": {}})
    } else {
        json!({})
    };

    let mut config = json!({
        "Hostname": args.hostname.clone().unwrap_or_default(),
        "Domainname": "",
        "User": args.user.clone().unwrap_or_default(),
        "AttachStdin": attach_stdin,
        "AttachStdout": attach_stdout,
        "AttachStderr": attach_stderr,
        "Tty": tty,
        "OpenStdin": open_stdin,
        "StdinOnce": open_stdin && attach_stdin,
        "Env": env,
        "Cmd": cmd,
        "Image": image,
        "Volumes": volumes,
        "WorkingDir": args.workdir.clone().unwrap_or_default(),
        "Entrypoint": entrypoint,
        "OnBuild": null,
        "Labels": key_values(&labels_list),
        "HostConfig": {
            "Binds": if binds.is_empty() { Value::Null } else { json!(binds) },
            "ContainerIDFile": args.cidfile.clone().unwrap_or_default(),
            "LogConfig": {"Type": args.log_driver.clone().unwrap_or_default(), "Config": log_config},
            "NetworkMode": network,
            "PortBindings": port_bindings,
            "RestartPolicy": restart,
            "AutoRemove": args.rm,
            "VolumesFrom": if args.volumes_from.is_empty() { Value::Null } else { json!(args.volumes_from) },
            "ConsoleSize": console_size,
            "CapAdd": if args.cap_add.is_empty() { Value::Null } else { json!(args.cap_add) },
            "CapDrop": if args.cap_drop.is_empty() { Value::Null } else { json!(args.cap_drop) },
            "CgroupnsMode": args.cgroupns.clone().unwrap_or_default(),
            "Dns": args.dns,
            "DnsOptions": args.dns_option,
            "DnsSearch": args.dns_search,
            "ExtraHosts": if args.add_host.is_empty() { Value::Null } else { json!(args.add_host) },
            "GroupAdd": if args.group_add.is_empty() { Value::Null } else { json!(args.group_add) },
            "IpcMode": args.ipc.clone().unwrap_or_default(),
            "OomScoreAdj": args.oom_score_adj,
            "PidMode": args.pid.clone().unwrap_or_default(),
            "Privileged": args.privileged,
            "PublishAllPorts": false,
            "ReadonlyRootfs": args.read_only,
            "SecurityOpt": if args.security_opt.is_empty() { Value::Null } else { json!(args.security_opt) },
            "UTSMode": args.uts.clone().unwrap_or_default(),
            "UsernsMode": args.userns.clone().unwrap_or_default(),
            "ShmSize": shm_size,
            "Runtime": args.runtime.clone().unwrap_or_default(),
            "CpuShares": args.cpu_shares,
            "Memory": memory,
            "NanoCpus": nano_cpus,
            "CgroupParent": args.cgroup_parent.clone().unwrap_or_default(),
            "BlkioWeight": args.blkio_weight,
            "CpusetCpus": args.cpuset_cpus.clone().unwrap_or_default(),
            "CpusetMems": args.cpuset_mems.clone().unwrap_or_default(),
            "Devices": devices,
            "MemoryReservation": memory_reservation,
            "MemorySwap": memory_swap,
            "MemorySwappiness": -1,
            "OomKillDisable": args.oom_kill_disable,
            "PidsLimit": args.pids_limit.unwrap_or(0),
            "Ulimits": ulimits,
            "Sysctls": key_values(&args.sysctl),
            "Tmpfs": tmpfs,
            "Init": if args.init { Value::Bool(true) } else { Value::Null },
            "VolumeDriver": args.volume_driver.clone().unwrap_or_default(),
        },
        "NetworkingConfig": {"EndpointsConfig": endpoints},
    });
    if let Value::Object(map) = &mut config {
        if !exposed.is_empty() {
            map.insert("ExposedPorts".into(), Value::Object(exposed));
        }
        if let Some(signal) = &args.stop_signal {
            map.insert("StopSignal".into(), Value::String(signal.clone()));
        }
        if let Some(timeout) = args.stop_timeout {
            map.insert("StopTimeout".into(), json!(timeout));
        }
    }
    if !mounts.is_empty() {
        config["HostConfig"]["Mounts"] = Value::Array(mounts);
    }
    Ok(CreateRequest {
        name: args.name.clone(),
        image: image.clone(),
        body: config,
        attach_stdin,
        attach_stdout,
        attach_stderr,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn build_from(args: &[&str]) -> Result<CreateRequest, FlagError> {
        let cli =
            crate::cli::Cli::try_parse_from(std::iter::once("berth").chain(args.iter().copied()))
                .unwrap();
        match cli.command {
            Some(crate::cli::Command::Run(r)) => build(&r, r.detach, Some((40, 120))),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn docker_trace_body_fields() {
        let r = build_from(&[
            "run", "--rm", "--name", "full", "-e", "FOO=bar", "--memory", "64m", "--cpus", "0.5",
            "busybox", "sh", "-c", "x",
        ])
        .unwrap();
        let b = &r.body;
        assert_eq!(b["Env"], json!(["FOO=bar"]));
        assert_eq!(b["Cmd"], json!(["sh", "-c", "x"]));
        assert_eq!(b["HostConfig"]["Memory"], json!(67108864));
        assert_eq!(b["HostConfig"]["NanoCpus"], json!(500000000));
        assert_eq!(b["HostConfig"]["AutoRemove"], json!(true));
        assert_eq!(b["HostConfig"]["NetworkMode"], json!("default"));
        assert_eq!(b["AttachStdout"], json!(true));
        assert_eq!(b["Entrypoint"], Value::Null);
        assert_eq!(r.name.as_deref(), Some("full"));
    }

    #[test]
    fn tty_and_interactive() {
        let r = build_from(&["run", "-it", "busybox"]).unwrap();
        assert_eq!(r.body["Tty"], json!(true));
        assert_eq!(r.body["OpenStdin"], json!(true));
        assert_eq!(r.body["StdinOnce"], json!(true));
        assert_eq!(r.body["HostConfig"]["ConsoleSize"], json!([40, 120]));
        let d = build_from(&["run", "-d", "busybox"]).unwrap();
        assert_eq!(d.body["AttachStdout"], json!(false));
    }

    #[test]
    fn resources_and_limits() {
        let r = build_from(&[
            "run",
            "--ulimit",
            "nofile=1024:2048",
            "--device",
            "/dev/null:/dev/mynull",
            "--sysctl",
            "net.ipv4.ip_forward=1",
            "--tmpfs",
            "/run:size=1m",
            "--pids-limit",
            "10",
            "--memory-swap",
            "-1",
            "--entrypoint",
            "",
            "busybox",
        ])
        .unwrap();
        let h = &r.body["HostConfig"];
        assert_eq!(
            h["Ulimits"],
            json!([{"Name": "nofile", "Soft": 1024, "Hard": 2048}])
        );
        assert_eq!(h["Devices"][0]["PathInContainer"], json!("/dev/mynull"));
        assert_eq!(h["Sysctls"]["net.ipv4.ip_forward"], json!("1"));
        assert_eq!(h["Tmpfs"]["/run"], json!("size=1m"));
        assert_eq!(h["PidsLimit"], json!(10));
        assert_eq!(h["MemorySwap"], json!(-1));
        assert_eq!(r.body["Entrypoint"], json!([""]));
    }

    #[test]
    fn bad_flag_values_are_refused() {
        assert!(build_from(&["run", "-m", "lots", "busybox"]).is_err());
        assert!(build_from(&["run", "--ulimit", "nofile", "busybox"]).is_err());
        assert!(build_from(&["run", "--stop-signal", "NOPE", "busybox"]).is_err());
        assert!(build_from(&["run", "-a", "stdfoo", "busybox"]).is_err());
    }

    #[test]
    fn volumes_split_into_binds_and_anonymous_volumes() {
        let r = build_from(&[
            "run",
            "-v",
            "/data",
            "-v",
            "name:/n:ro",
            "-v",
            "/h:/c",
            "-v",
            "/h:/c",
            "busybox",
        ])
        .unwrap();
        assert_eq!(r.body["Volumes"], json!({"/data": {}}));
        assert_eq!(
            r.body["HostConfig"]["Binds"],
            json!(["name:/n:ro", "/h:/c"])
        );
        assert!(r.body["HostConfig"].get("Mounts").is_none());
        let rel = build_from(&["run", "-v", "./here/../x:/c", "busybox"]).unwrap();
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(
            rel.body["HostConfig"]["Binds"],
            json!([format!("{}/x:/c", cwd.display())])
        );
        assert!(build_from(&["run", "-v", "a::b", "busybox"]).is_err());
        assert!(build_from(&["run", "-v", "a:b:c:d", "busybox"]).is_err());
    }

    #[test]
    fn mounts_go_to_host_config() {
        let r = build_from(&[
            "run",
            "--mount",
            "type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=1770",
            "busybox",
        ])
        .unwrap();
        assert_eq!(
            r.body["HostConfig"]["Mounts"],
            json!([{"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": 1048576, "Mode": 1016}}])
        );
        let e = build_from(&["run", "--mount", "dst=/x,foo=bar", "busybox"])
            .err()
            .unwrap();
        assert_eq!(
            e,
            "invalid argument \"dst=/x,foo=bar\" for \"--mount\" flag: unexpected key 'foo' in 'foo=bar'"
        );
    }

    #[test]
    fn publish_ports() {
        let r = build_from(&["run", "-p", "127.0.0.1:8080:80", "busybox"]).unwrap();
        assert_eq!(r.body["ExposedPorts"], json!({"80/tcp": {}}));
        assert_eq!(
            r.body["HostConfig"]["PortBindings"]["80/tcp"],
            json!([{"HostIp": "127.0.0.1", "HostPort": "8080"}])
        );
    }
}
