//! `--change` lines of `docker import` (Dockerfile instructions applied to the image config).

use crate::error::{Error, Result};
use berth_image::manifest::{ContainerConfig, Empty};

/// Applies each change (one or more Dockerfile lines) to `config`, in order.
pub fn apply_changes(config: &mut ContainerConfig, changes: &[String]) -> Result<()> {
    for line in changes.iter().flat_map(|c| c.lines()) {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (instruction, args) = match line.split_once(char::is_whitespace) {
            Some((i, a)) => (i, a.trim()),
            None => (line, ""),
        };
        apply(config, &instruction.to_ascii_lowercase(), args)?;
    }
    Ok(())
}

fn apply(config: &mut ContainerConfig, instruction: &str, args: &str) -> Result<()> {
    let missing = || {
        Error::invalid(format!(
            "{} requires at least one argument",
            instruction.to_ascii_uppercase()
        ))
    };
    match instruction {
        "cmd" => config.cmd = Some(command(args)),
        "entrypoint" => config.entrypoint = Some(command(args)),
        "env" => {
            for (key, value) in pairs(instruction, args, true)? {
                config
                    .env
                    .retain(|e| e.split('=').next() != Some(key.as_str()));
                config.env.push(format!("{key}={value}"));
            }
        }
        "label" => {
            for (key, value) in pairs(instruction, args, false)? {
                config.labels.insert(key, value);
            }
        }
        "workdir" => {
            if args.is_empty() {
                return Err(missing());
            }
            let current = config
                .working_dir
                .clone()
                .unwrap_or_else(|| "/".to_string());
            config.working_dir = Some(if args.starts_with('/') {
                args.to_string()
            } else {
                format!("{}/{args}", current.trim_end_matches('/'))
            });
        }
        "user" => {
            if args.is_empty() {
                return Err(missing());
            }
            config.user = Some(args.to_string());
        }
        "expose" => {
            let ports: Vec<&str> = args.split_whitespace().collect();
            if ports.is_empty() {
                return Err(missing());
            }
            for port in ports {
                let (number, proto) = port.split_once('/').unwrap_or((port, "tcp"));
                let valid = !number.is_empty()
                    && number.split('-').all(|n| n.parse::<u16>().is_ok())
                    && matches!(proto.to_ascii_lowercase().as_str(), "tcp" | "udp" | "sctp");
                if !valid {
                    return Err(Error::invalid(format!("invalid containerPort: {port}")));
                }
                config
                    .exposed_ports
                    .insert(format!("{number}/{}", proto.to_ascii_lowercase()), Empty {});
            }
        }
        "volume" => {
            let volumes = json_array(args)
                .unwrap_or_else(|| args.split_whitespace().map(str::to_string).collect());
            if volumes.is_empty() {
                return Err(missing());
            }
            for volume in volumes {
                config.volumes.insert(volume, Empty {});
            }
        }
        "stopsignal" => {
            if args.is_empty() {
                return Err(missing());
            }
            config.stop_signal = Some(args.to_string());
        }
        other => {
            return Err(Error::invalid(format!(
                "{other} is not a valid change command"
            )));
        }
    }
    Ok(())
}

fn json_array(args: &str) -> Option<Vec<String>> {
    args.starts_with('[')
        .then(|| serde_json::from_str::<Vec<String>>(args).ok())
        .flatten()
}

/// JSON form as is; shell form runs under `/bin/sh -c`.
fn command(args: &str) -> Vec<String> {
    json_array(args)
        .unwrap_or_else(|| vec!["/bin/sh".to_string(), "-c".to_string(), args.to_string()])
}

/// Splits on blanks outside quotes, removing quotes and backslash escapes.
fn words(args: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = args.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, '"') | (None, '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (Some(q), c) if c == q => quote = None,
            (q, '\\') if q != Some('\'') => {
                if let Some(next) = chars.next() {
                    word.push(next);
                }
                in_word = true;
            }
            (_, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(word);
    }
    out
}

/// `KEY=VALUE ...`, or for ENV the legacy `KEY VALUE...`.
fn pairs(instruction: &str, args: &str, legacy_allowed: bool) -> Result<Vec<(String, String)>> {
    let name = instruction.to_ascii_uppercase();
    let first = args.split_whitespace().next().unwrap_or("");
    if first.is_empty() {
        return Err(Error::invalid(format!(
            "{name} requires at least one argument"
        )));
    }
    if !first.contains('=') {
        if !legacy_allowed {
            return Err(Error::invalid(format!("{name} names can not be blank")));
        }
        let value = args[first.len()..].trim();
        if value.is_empty() {
            return Err(Error::invalid(format!("{name} must have two arguments")));
        }
        return Ok(vec![(first.to_string(), words(value).join(" "))]);
    }
    words(args)
        .into_iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(Error::invalid(format!(
                "Syntax error - can't find = in {w:?}. Must be of the form: name=value"
            ))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changed(lines: &[&str]) -> ContainerConfig {
        let mut c = ContainerConfig::default();
        let lines: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
        apply_changes(&mut c, &lines).unwrap();
        c
    }

    #[test]
    fn each_instruction_lands_in_the_config() {
        let c = changed(&[
            "CMD [\"/bin/echo\", \"hi\"]",
            "entrypoint /bin/sh -x",
            "ENV A=1 B=\"two words\"",
            "ENV C three four",
            "WORKDIR /srv",
            "WORKDIR app",
            "USER nobody",
            "EXPOSE 80 53/udp",
            "VOLUME [\"/data\"]",
            "LABEL a=b \"c d\"=e",
        ]);
        assert_eq!(c.cmd.unwrap(), ["/bin/echo", "hi"]);
        assert_eq!(c.entrypoint.unwrap(), ["/bin/sh", "-c", "/bin/sh -x"]);
        assert_eq!(c.env, ["A=1", "B=two words", "C=three four"]);
        assert_eq!(c.working_dir.as_deref(), Some("/srv/app"));
        assert_eq!(c.user.as_deref(), Some("nobody"));
        assert!(c.exposed_ports.contains_key("80/tcp") && c.exposed_ports.contains_key("53/udp"));
        assert!(c.volumes.contains_key("/data"));
        assert_eq!(c.labels.get("c d").map(String::as_str), Some("e"));
    }

    #[test]
    fn other_instructions_are_refused_as_dockerd_does() {
        let mut c = ContainerConfig::default();
        let e = apply_changes(&mut c, &["RUN echo".to_string()]).unwrap_err();
        assert_eq!(e.message, "run is not a valid change command");
        assert!(apply_changes(&mut c, &["EXPOSE x".to_string()]).is_err());
    }
}
