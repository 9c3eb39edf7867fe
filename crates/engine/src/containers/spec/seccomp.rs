//! `linux.seccomp` from a profile in Docker's format (moby profiles/seccomp): Docker's default
//! profile unless `--security-opt seccomp=unconfined|<profile JSON>` or `--privileged`. Each
//! rule's `includes`/`excludes` (capabilities, architectures, minimum kernel) is decided here
//! for the container's final capabilities, amd64 and the running kernel, as dockerd does.

use super::HostFacts;
use super::security::SecurityOpts;
use crate::containers::options::HostConfig;
use crate::error::{Error, Result};
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// moby's profiles/seccomp/default.json as of dockerd 20.10.24.
const DEFAULT_PROFILE: &str = include_str!("../../../data/seccomp-default.json");

/// Docker's names for the architecture berth runs on.
const NATIVE_ARCH: &str = "amd64";
const NATIVE_SECCOMP_ARCH: &str = "SCMP_ARCH_X86_64";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Profile {
    #[serde(default)]
    default_action: String,
    #[serde(default)]
    default_errno_ret: Option<u32>,
    #[serde(default)]
    architectures: Option<Vec<String>>,
    #[serde(default)]
    arch_map: Option<Vec<ArchMap>>,
    #[serde(default)]
    syscalls: Option<Vec<Rule>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ArchMap {
    architecture: String,
    #[serde(default)]
    sub_architectures: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    names: Option<Vec<String>>,
    action: String,
    #[serde(default)]
    errno_ret: Option<u32>,
    #[serde(default)]
    args: Option<Vec<Value>>,
    #[serde(default)]
    includes: Filter,
    #[serde(default)]
    excludes: Filter,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Filter {
    #[serde(default)]
    caps: Option<Vec<String>>,
    #[serde(default)]
    arches: Option<Vec<String>>,
    #[serde(default)]
    min_kernel: Option<String>,
}

/// "5.10.0-8-amd64" → (5, 10); distro suffixes and the patch level do not count.
pub fn parse_kernel_release(release: &str) -> Option<(u64, u64)> {
    let mut parts = release.splitn(3, '.');
    let major = parts.next()?.parse().ok()?;
    let minor_text = parts.next()?;
    let digits: String = minor_text
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    Some((major, digits.parse().ok()?))
}

fn parse_min_kernel(text: &str) -> Result<(u64, u64)> {
    let invalid = || {
        Error::invalid(format!(
            "invalid kernel version: {text:?}, expected \"<kernel>.<major>\""
        ))
    };
    let (a, b) = text.split_once('.').ok_or_else(invalid)?;
    let version = (
        a.parse().map_err(|_| invalid())?,
        b.parse().map_err(|_| invalid())?,
    );
    if version == (0, 0) {
        return Err(invalid());
    }
    Ok(version)
}

/// The seccomp section for the container, or None when it runs unconfined.
pub fn for_container(
    opts: &SecurityOpts,
    hc: &HostConfig,
    caps: &[String],
    host: &HostFacts,
) -> Result<Option<Value>> {
    if hc.privileged {
        return Ok(None);
    }
    match opts.seccomp.as_deref() {
        Some("unconfined") => Ok(None),
        Some(custom) => {
            let profile: Profile = serde_json::from_str(custom)
                .map_err(|e| Error::invalid(format!("Decoding seccomp profile failed: {e}")))?;
            convert(&profile, caps, host)
        }
        None => {
            // Decoded once per process: every create and every start builds a spec.
            static DEFAULT: std::sync::LazyLock<std::result::Result<Profile, String>> =
                std::sync::LazyLock::new(|| {
                    serde_json::from_str(DEFAULT_PROFILE).map_err(|e| e.to_string())
                });
            let profile = DEFAULT
                .as_ref()
                .map_err(|e| Error::internal(format!("the built-in seccomp profile: {e}")))?;
            convert(profile, caps, host)
        }
    }
}

fn contains(list: &Option<Vec<String>>, item: &str) -> bool {
    list.iter().flatten().any(|x| x == item)
}

fn applies(rule: &Rule, caps: &[String], kernel: (u64, u64)) -> Result<bool> {
    let has_cap = |c: &String| caps.contains(c);
    let ex = &rule.excludes;
    if contains(&ex.arches, NATIVE_ARCH) || ex.caps.iter().flatten().any(has_cap) {
        return Ok(false);
    }
    if let Some(min) = ex.min_kernel.as_deref().filter(|m| !m.is_empty())
        && kernel >= parse_min_kernel(min)?
    {
        return Ok(false);
    }
    let inc = &rule.includes;
    if inc.arches.as_ref().is_some_and(|a| !a.is_empty()) && !contains(&inc.arches, NATIVE_ARCH) {
        return Ok(false);
    }
    if !inc.caps.iter().flatten().all(has_cap) {
        return Ok(false);
    }
    if let Some(min) = inc.min_kernel.as_deref().filter(|m| !m.is_empty())
        && kernel < parse_min_kernel(min)?
    {
        return Ok(false);
    }
    Ok(true)
}

fn convert(profile: &Profile, caps: &[String], host: &HostFacts) -> Result<Option<Value>> {
    let rules = profile.syscalls.as_deref().unwrap_or_default();
    if profile.default_action.is_empty() && rules.is_empty() {
        return Ok(None);
    }
    let arch_map = profile.arch_map.as_deref().unwrap_or_default();
    let listed = profile.architectures.as_deref().unwrap_or_default();
    if !listed.is_empty() && !arch_map.is_empty() {
        return Err(Error::invalid(
            "'architectures' and 'archMap' were specified in the seccomp profile, use either 'architectures' or 'archMap'",
        ));
    }
    let mut architectures: Vec<String> = listed.to_vec();
    if let Some(native) = arch_map
        .iter()
        .find(|a| a.architecture == NATIVE_SECCOMP_ARCH)
    {
        architectures.push(native.architecture.clone());
        architectures.extend(native.sub_architectures.iter().flatten().cloned());
    }
    let mut syscalls = Vec::new();
    for rule in rules {
        if !applies(rule, caps, host.kernel)? {
            continue;
        }
        let names = match (&rule.name, &rule.names) {
            (Some(n), Some(list)) if !n.is_empty() && !list.is_empty() => {
                return Err(Error::invalid(
                    "'name' and 'names' were specified in the seccomp profile, use either 'name' or 'names'",
                ));
            }
            (Some(n), _) if !n.is_empty() => vec![n.clone()],
            (_, list) => list.clone().unwrap_or_default(),
        };
        let mut call = Map::new();
        call.insert("names".into(), json!(names));
        call.insert("action".into(), json!(rule.action));
        if let Some(errno) = rule.errno_ret {
            call.insert("errnoRet".into(), json!(errno));
        }
        if let Some(args) = rule.args.as_ref().filter(|a| !a.is_empty()) {
            call.insert("args".into(), json!(args));
        }
        syscalls.push(Value::Object(call));
    }
    let mut section = json!({"defaultAction": profile.default_action, "syscalls": syscalls});
    if !architectures.is_empty() {
        section["architectures"] = json!(architectures);
    }
    if let Some(errno) = profile.default_errno_ret {
        section["defaultErrnoRet"] = json!(errno);
    }
    Ok(Some(section))
}
