//! The `process` section: command line, environment, working directory, user, terminal,
//! rlimits, capabilities, no-new-privileges, OOM score.

use super::namespaces::Modes;
use super::security::SecurityOpts;
use super::user::ProcessUser;
use super::{CONTAINER_INIT_PATH, SpecInput, in_root};
use crate::error::{Error, Result};
use serde_json::{Value, json};

pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// ENTRYPOINT + CMD after dockerd's merge of the create body with the image config: an
/// entrypoint given (even `[""]`, `--entrypoint ""`) keeps the image's CMD out; `[""]` then
/// means no entrypoint at all.
pub fn command(input: &SpecInput<'_>) -> Result<Vec<String>> {
    let image = &input.image.config.config;
    let mut entrypoint = input.config.entrypoint.clone();
    let mut cmd = input.config.cmd.clone().unwrap_or_default();
    if entrypoint.as_ref().is_none_or(Vec::is_empty) {
        if cmd.is_empty() {
            cmd = image.cmd.clone().unwrap_or_default();
        }
        if entrypoint.is_none() {
            entrypoint = image.entrypoint.clone();
        }
    }
    let mut entrypoint = entrypoint.unwrap_or_default();
    if entrypoint.len() == 1 && entrypoint[0].is_empty() {
        entrypoint.clear();
    }
    if entrypoint.is_empty() && cmd.is_empty() {
        return Err(Error::invalid("No command specified"));
    }
    Ok(entrypoint.into_iter().chain(cmd).collect())
}

fn key(entry: &str) -> &str {
    entry.split_once('=').map_or(entry, |(k, _)| k)
}

/// dockerd's environment: PATH, HOSTNAME and TERM (with -t) first, replaced in place by the
/// container's own values; the create body's `-e` values, then the image's ENV for keys `-e`
/// did not set. A later value of a key replaces an earlier one; `KEY` without `=` unsets a
/// default.
pub fn environment(input: &SpecInput<'_>, hostname: &str) -> Vec<String> {
    let user = &input.config.env;
    let image = &input.image.config.config.env;
    let merged = user.iter().chain(
        image
            .iter()
            .filter(|i| !user.iter().any(|u| key(u) == key(i))),
    );
    let mut env: Vec<Option<String>> = vec![
        Some(format!("PATH={DEFAULT_PATH}")),
        Some(format!("HOSTNAME={hostname}")),
    ];
    if input.config.tty {
        env.push(Some("TERM=xterm".into()));
    }
    let defaults = env.len();
    for entry in merged {
        let k = key(entry);
        let position = env
            .iter()
            .position(|e| e.as_deref().is_some_and(|e| key(e) == k));
        match (entry.contains('='), position) {
            (true, Some(i)) => env[i] = Some(entry.clone()),
            (true, None) => env.push(Some(entry.clone())),
            (false, Some(i)) if i < defaults => env[i] = None,
            (false, _) => {}
        }
    }
    env.into_iter().flatten().collect()
}

/// dockerd's ReplaceOrAppendEnvValues: `KEY=V` replaces KEY's entry in place or is appended;
/// `KEY` alone removes KEY.
pub fn replace_or_append(env: &mut Vec<String>, overrides: &[String]) {
    for entry in overrides {
        let k = key(entry);
        let position = env.iter().position(|e| key(e) == k);
        match (entry.contains('='), position) {
            (true, Some(i)) => env[i] = entry.clone(),
            (true, None) => env.push(entry.clone()),
            (false, Some(i)) => {
                env.remove(i);
            }
            (false, None) => {}
        }
    }
}

/// `--workdir` / WORKDIR, absolute and cleaned, created in the rootfs if missing (dockerd's
/// SetupWorkingDirectory).
pub fn working_dir(input: &SpecInput<'_>) -> Result<String> {
    let wanted = if input.config.working_dir.is_empty() {
        input
            .image
            .config
            .config
            .working_dir
            .clone()
            .unwrap_or_default()
    } else {
        input.config.working_dir.clone()
    };
    if wanted.is_empty() {
        return Ok("/".into());
    }
    if !wanted.starts_with('/') {
        return Err(Error::invalid(format!(
            "the working directory '{wanted}' is invalid, it needs to be an absolute path"
        )));
    }
    let cleaned = clean_path(&wanted);
    in_root::create_dir_all(input.rootfs, &cleaned)?;
    Ok(cleaned)
}

/// Go's filepath.Clean for absolute paths.
pub fn clean_path(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

const ULIMIT_NAMES: [&str; 15] = [
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

/// `--ulimit NAME=SOFT[:HARD]` → RLIMIT_NAME; checked as docker's go-units does.
pub fn rlimits(input: &SpecInput<'_>) -> Result<Vec<Value>> {
    input
        .host_config
        .ulimits
        .iter()
        .map(|u| {
            if !ULIMIT_NAMES.contains(&u.name.as_str()) {
                return Err(Error::invalid(format!("invalid ulimit type: {}", u.name)));
            }
            // -1 is "unlimited" (RLIM_INFINITY) as Go's uint64 conversion makes it.
            let as_rlim = |v: i64| if v < 0 { u64::MAX } else { v as u64 };
            let (soft, hard) = (as_rlim(u.soft), as_rlim(u.hard));
            if soft > hard {
                return Err(Error::invalid(format!(
                    "ulimit soft limit must be less than or equal to hard limit: {} > {}",
                    u.soft, u.hard
                )));
            }
            Ok(json!({"type": format!("RLIMIT_{}", u.name.to_ascii_uppercase()), "soft": soft, "hard": hard}))
        })
        .collect()
}

pub fn process(
    input: &SpecInput<'_>,
    hostname: &str,
    user: &ProcessUser,
    caps: &[String],
    opts: &SecurityOpts,
    modes: &Modes,
) -> Result<Value> {
    let hc = input.host_config;
    let mut args = command(input)?;
    // As dockerd: no init of ours inside the host's PID namespace, which has one already.
    if hc.init == Some(true) && !modes.pid_host {
        if input.init_binary.is_none() {
            return Err(Error::internal(
                "--init: the berth-init binary was not found next to berthd",
            ));
        }
        args.splice(0..0, [CONTAINER_INIT_PATH.to_string(), "--".to_string()]);
    }
    if !(-1000..=1000).contains(&hc.oom_score_adj) {
        return Err(Error::invalid(format!(
            "Invalid value {}, range for oom score adj is [-1000, 1000]",
            hc.oom_score_adj
        )));
    }
    // execve's rule, which dockerd follows: a non-root user starts with an empty permitted
    // and effective set.
    let capabilities = if user.uid == 0 {
        json!({"bounding": caps, "effective": caps, "permitted": caps})
    } else {
        json!({"bounding": caps})
    };
    let mut process = json!({
        "terminal": input.config.tty,
        "user": {"uid": user.uid, "gid": user.gid, "additionalGids": user.additional_gids},
        "args": args,
        "env": environment(input, hostname),
        "cwd": working_dir(input)?,
        "capabilities": capabilities,
        "oomScoreAdj": hc.oom_score_adj,
    });
    let rlimits = rlimits(input)?;
    if !rlimits.is_empty() {
        process["rlimits"] = json!(rlimits);
    }
    if opts.no_new_privileges {
        process["noNewPrivileges"] = json!(true);
    }
    if input.config.tty
        && let [height, width] = hc.console_size[..]
        && height > 0
        && width > 0
    {
        process["consoleSize"] = json!({"height": height, "width": width});
    }
    Ok(process)
}
