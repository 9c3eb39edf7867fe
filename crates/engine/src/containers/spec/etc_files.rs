//! /etc/hostname, /etc/hosts and /etc/resolv.conf of a container, written into its directory
//! as dockerd's libnetwork writes them (etchosts.Build, resolvconf.FilterResolvDNS / Build).

use super::{SpecInput, etc_file, hostname};
use crate::error::{Error, Result};
use std::io::Write;
use std::path::Path;

const DEFAULT_HOSTS: [(&str, &str); 6] = [
    ("127.0.0.1", "localhost"),
    ("::1", "localhost ip6-localhost ip6-loopback"),
    ("fe00::0", "ip6-localnet"),
    ("ff00::0", "ip6-mcastprefix"),
    ("ff02::1", "ip6-allnodes"),
    ("ff02::2", "ip6-allrouters"),
];

const HOST_RESOLV_CONF: &str = "/etc/resolv.conf";
/// Where systemd-resolved keeps the real servers behind its 127.0.0.53 stub.
const RESOLVED_RESOLV_CONF: &str = "/run/systemd/resolve/resolv.conf";

/// Writes hostname, hosts and resolv.conf into the container's directory (each atomically).
/// Call it before [`super::build_spec`], which mounts only the files that exist.
pub fn write_etc_files(input: &SpecInput<'_>) -> Result<()> {
    let hc = input.host_config;
    let host_network = hc.network_mode == "host";
    let name = hostname(input);
    let extra = extra_hosts(&hc.extra_hosts)?;
    let hosts = if host_network && extra.is_empty() {
        std::fs::read_to_string("/etc/hosts").unwrap_or_default()
    } else {
        hosts_file(&extra)
    };
    let resolv = resolv_conf(host_network, &hc.dns, &hc.dns_search, &hc.dns_options);
    std::fs::create_dir_all(input.container_dir)
        .map_err(|e| Error::context(format!("create {}", input.container_dir.display()), e))?;
    write_atomic(
        &etc_file(input.container_dir, "hostname"),
        &format!("{name}\n"),
    )?;
    write_atomic(&etc_file(input.container_dir, "hosts"), &hosts)?;
    write_atomic(&etc_file(input.container_dir, "resolv.conf"), &resolv)?;
    Ok(())
}

/// `--add-host NAME:IP` → (IP, NAME).
fn extra_hosts(entries: &[String]) -> Result<Vec<(String, String)>> {
    entries
        .iter()
        .map(|entry| {
            let (name, ip) = entry
                .split_once(':')
                .filter(|(n, i)| !n.is_empty() && !i.is_empty())
                .ok_or_else(|| Error::invalid(format!("invalid IP address in add-host: {entry:?}")))?;
            if ip == "host-gateway" {
                return Err(Error::not_implemented(format!(
                    "--add-host {entry}: host-gateway needs the bridge network, which is not supported yet"
                )));
            }
            if ip.parse::<std::net::IpAddr>().is_err() {
                return Err(Error::invalid(format!("invalid IP address in add-host: {ip:?}")));
            }
            Ok((ip.to_string(), name.to_string()))
        })
        .collect()
}

fn hosts_file(extra: &[(String, String)]) -> String {
    let mut text = String::new();
    let defaults = DEFAULT_HOSTS.iter().map(|(ip, names)| (*ip, *names));
    let extra = extra.iter().map(|(ip, name)| (ip.as_str(), name.as_str()));
    for (ip, names) in defaults.chain(extra) {
        text.push_str(&format!("{ip}\t{names}\n"));
    }
    text
}

fn is_localhost_nameserver(line: &str) -> bool {
    let mut words = line.split_whitespace();
    if words.next() != Some("nameserver") {
        return false;
    }
    match words
        .next()
        .and_then(|w| w.parse::<std::net::IpAddr>().ok())
    {
        Some(ip) => ip.is_loopback(),
        None => false,
    }
}

fn field_values<'a>(text: &'a str, key: &str) -> Vec<&'a str> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            (words.next() == Some(key)).then(|| words.collect::<Vec<_>>())
        })
        .flatten()
        .collect()
}

fn nameservers(text: &str) -> Vec<&str> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            (words.next() == Some("nameserver"))
                .then(|| words.next())
                .flatten()
        })
        .collect()
}

/// The host's resolv.conf, the real one when systemd-resolved's stub is all it names.
fn host_resolv_conf() -> String {
    let main = std::fs::read_to_string(HOST_RESOLV_CONF).unwrap_or_default();
    if nameservers(&main) == ["127.0.0.53"]
        && let Ok(real) = std::fs::read_to_string(RESOLVED_RESOLV_CONF)
    {
        return real;
    }
    main
}

pub(super) fn resolv_conf(
    host_network: bool,
    dns: &[String],
    search: &[String],
    options: &[String],
) -> String {
    let customized = !dns.is_empty() || !search.is_empty() || !options.is_empty();
    if host_network && !customized {
        return std::fs::read_to_string(HOST_RESOLV_CONF).unwrap_or_default();
    }
    let host = host_resolv_conf();
    if customized {
        let pick = |given: &[String], from_host: Vec<&str>| -> Vec<String> {
            if given.is_empty() {
                from_host.into_iter().map(str::to_string).collect()
            } else {
                given.to_vec()
            }
        };
        return build_resolv_conf(
            &pick(dns, nameservers(&host)),
            &pick(search, field_values(&host, "search")),
            &pick(options, field_values(&host, "options")),
        );
    }
    filter_localhost(&host)
}

fn build_resolv_conf(dns: &[String], search: &[String], options: &[String]) -> String {
    let mut text = String::new();
    let search = search.join(" ");
    if !search.trim().is_empty() && search.trim() != "." {
        text.push_str(&format!("search {search}\n"));
    }
    for server in dns {
        text.push_str(&format!("nameserver {server}\n"));
    }
    let options = options.join(" ");
    if !options.trim().is_empty() {
        text.push_str(&format!("options {options}\n"));
    }
    text
}

/// A container in its own network namespace cannot reach the host's loopback resolvers.
pub(super) fn filter_localhost(host: &str) -> String {
    let mut text: String = host
        .lines()
        .filter(|l| !is_localhost_nameserver(l))
        .map(|l| format!("{l}\n"))
        .collect();
    if nameservers(&text).is_empty() {
        text.push_str("nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
    }
    text
}

/// Temporary file and rename, so a running container never reads half a file; no fsync, because
/// every start writes these files again.
fn write_atomic(path: &Path, contents: &str) -> Result<()> {
    let temporary = path.with_extension("tmp");
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(contents.as_bytes())?;
        drop(file);
        std::fs::rename(&temporary, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&temporary);
        Error::context(format!("write {}", path.display()), e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_has_docker_defaults_then_extra_hosts() {
        let extra = extra_hosts(&["db:198.18.0.5".into(), "v6:fd00::1".into()]).unwrap();
        let text = hosts_file(&extra);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "127.0.0.1\tlocalhost");
        assert_eq!(lines[1], "::1\tlocalhost ip6-localhost ip6-loopback");
        assert_eq!(lines[5], "ff02::2\tip6-allrouters");
        assert_eq!(lines[6], "198.18.0.5\tdb");
        assert_eq!(lines[7], "fd00::1\tv6");
        assert!(extra_hosts(&["nohost".into()]).is_err());
        assert!(extra_hosts(&["a:not-an-ip".into()]).is_err());
    }

    #[test]
    fn resolv_conf_drops_loopback_servers_and_falls_back_to_google() {
        let host = "# generated\nsearch example.org\nnameserver 127.0.0.53\nnameserver ::1\noptions edns0\n";
        assert_eq!(
            filter_localhost(host),
            "# generated\nsearch example.org\noptions edns0\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n"
        );
        let host = "nameserver 127.0.0.1\nnameserver 198.18.0.1\n";
        assert_eq!(filter_localhost(host), "nameserver 198.18.0.1\n");
    }

    #[test]
    fn resolv_conf_options_override_the_hosts() {
        let text = build_resolv_conf(
            &["198.18.0.53".into()],
            &["a.test".into(), "b.test".into()],
            &["ndots:2".into()],
        );
        assert_eq!(
            text,
            "search a.test b.test\nnameserver 198.18.0.53\noptions ndots:2\n"
        );
        let custom = resolv_conf(false, &["198.18.0.9".into()], &[], &[]);
        assert!(custom.contains("nameserver 198.18.0.9\n"), "{custom}");
        assert_eq!(nameservers(&custom), ["198.18.0.9"]);
    }
}
