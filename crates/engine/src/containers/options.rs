//! The body of `POST /containers/create` as Docker sends it (API 1.41 field names). Unknown
//! fields are ignored and Go's `null` reads as empty, so any client's body parses.
//! These are also what the engine stores as the container's requested configuration.

use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

/// Go writes `null` for empty slices and maps.
pub fn nullable<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// `{}`: the value of Go's `map[string]struct{}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Empty {}

/// The create body: the container config plus `HostConfig` (and `NetworkingConfig`, kept as-is).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateBody {
    #[serde(flatten)]
    pub config: Config,
    #[serde(deserialize_with = "nullable")]
    pub host_config: HostConfig,
    #[serde(deserialize_with = "nullable")]
    pub networking_config: serde_json::Value,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Config {
    #[serde(deserialize_with = "nullable")]
    pub hostname: String,
    #[serde(deserialize_with = "nullable")]
    pub domainname: String,
    #[serde(deserialize_with = "nullable")]
    pub user: String,
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    #[serde(deserialize_with = "nullable")]
    pub exposed_ports: BTreeMap<String, Empty>,
    pub tty: bool,
    pub open_stdin: bool,
    pub stdin_once: bool,
    #[serde(deserialize_with = "nullable")]
    pub env: Vec<String>,
    /// None: the image's CMD; Some: replaces it.
    pub cmd: Option<Vec<String>>,
    pub healthcheck: Option<serde_json::Value>,
    #[serde(deserialize_with = "nullable")]
    pub image: String,
    #[serde(deserialize_with = "nullable")]
    pub volumes: BTreeMap<String, Empty>,
    #[serde(deserialize_with = "nullable")]
    pub working_dir: String,
    /// None: the image's ENTRYPOINT; `Some([])` or `Some([""])`: none at all (`--entrypoint ""`).
    pub entrypoint: Option<Vec<String>>,
    pub network_disabled: bool,
    #[serde(deserialize_with = "nullable")]
    pub labels: BTreeMap<String, String>,
    #[serde(deserialize_with = "nullable")]
    pub stop_signal: String,
    /// Seconds; None: 10.
    pub stop_timeout: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HostConfig {
    /// `SRC:DST[:OPTIONS]`; SRC absolute (a bind) or a volume name.
    #[serde(deserialize_with = "nullable")]
    pub binds: Vec<String>,
    #[serde(deserialize_with = "nullable")]
    pub log_config: LogConfig,
    /// "", "default", "none", "host", "bridge", "container:ID", or a network name.
    #[serde(deserialize_with = "nullable")]
    pub network_mode: String,
    #[serde(deserialize_with = "nullable")]
    pub port_bindings: serde_json::Value,
    #[serde(deserialize_with = "nullable")]
    pub restart_policy: RestartPolicy,
    pub auto_remove: bool,
    #[serde(deserialize_with = "nullable")]
    pub volumes_from: Vec<String>,
    /// `--volume-driver`: the driver of the volumes `-v` names; "" is local.
    #[serde(deserialize_with = "nullable")]
    pub volume_driver: String,
    /// `--mount`.
    #[serde(deserialize_with = "nullable")]
    pub mounts: Vec<Mount>,
    /// `[rows, cols]` of the client's terminal with `-t`.
    #[serde(deserialize_with = "nullable")]
    pub console_size: Vec<u16>,
    #[serde(deserialize_with = "nullable")]
    pub cap_add: Vec<String>,
    #[serde(deserialize_with = "nullable")]
    pub cap_drop: Vec<String>,
    #[serde(deserialize_with = "nullable")]
    pub cgroupns_mode: String,
    #[serde(deserialize_with = "nullable")]
    pub dns: Vec<String>,
    #[serde(deserialize_with = "nullable")]
    pub dns_options: Vec<String>,
    #[serde(deserialize_with = "nullable")]
    pub dns_search: Vec<String>,
    /// `host:ip` lines for /etc/hosts.
    #[serde(deserialize_with = "nullable")]
    pub extra_hosts: Vec<String>,
    #[serde(deserialize_with = "nullable")]
    pub group_add: Vec<String>,
    /// "", "private", "shareable", "host", "none", "container:ID".
    #[serde(deserialize_with = "nullable")]
    pub ipc_mode: String,
    /// "" or "host" (or "container:ID").
    #[serde(deserialize_with = "nullable")]
    pub pid_mode: String,
    pub oom_score_adj: i64,
    pub privileged: bool,
    pub readonly_rootfs: bool,
    /// `seccomp=PATH-CONTENT|unconfined`, `no-new-privileges[:true|false]`, `apparmor=...`.
    #[serde(deserialize_with = "nullable")]
    pub security_opt: Vec<String>,
    /// Destination → mount options (`size=64m,mode=1777`).
    #[serde(deserialize_with = "nullable")]
    pub tmpfs: BTreeMap<String, String>,
    #[serde(rename = "UTSMode", deserialize_with = "nullable")]
    pub uts_mode: String,
    #[serde(deserialize_with = "nullable")]
    pub userns_mode: String,
    /// Bytes; 0: 64 MiB.
    pub shm_size: i64,
    #[serde(deserialize_with = "nullable")]
    pub sysctls: BTreeMap<String, String>,
    /// `--runtime NAME`; "" is the daemon's default.
    #[serde(deserialize_with = "nullable")]
    pub runtime: String,
    #[serde(deserialize_with = "nullable")]
    pub cgroup_parent: String,
    // Resources (0 / empty: unset).
    pub cpu_shares: i64,
    pub memory: i64,
    pub nano_cpus: i64,
    pub blkio_weight: u16,
    #[serde(deserialize_with = "nullable")]
    pub blkio_weight_device: Vec<serde_json::Value>,
    pub cpu_period: i64,
    pub cpu_quota: i64,
    #[serde(deserialize_with = "nullable")]
    pub cpuset_cpus: String,
    #[serde(deserialize_with = "nullable")]
    pub cpuset_mems: String,
    #[serde(deserialize_with = "nullable")]
    pub devices: Vec<DeviceMapping>,
    #[serde(deserialize_with = "nullable")]
    pub device_cgroup_rules: Vec<String>,
    pub memory_reservation: i64,
    /// -1: unlimited swap; 0: unset (twice `Memory` when that is set).
    pub memory_swap: i64,
    /// -1: unset.
    pub memory_swappiness: Option<i64>,
    pub oom_kill_disable: Option<bool>,
    /// 0 or None: unset; -1: unlimited.
    pub pids_limit: Option<i64>,
    #[serde(deserialize_with = "nullable")]
    pub ulimits: Vec<Ulimit>,
    /// None: Docker's defaults; Some: replaces them (empty: none).
    pub masked_paths: Option<Vec<String>>,
    pub readonly_paths: Option<Vec<String>>,
    /// `--init`.
    pub init: Option<bool>,
}

/// One `HostConfig.Mounts` entry (`--mount`). Serialized as Docker echoes it in inspect: empty
/// fields left out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Mount {
    /// "bind", "volume" or "tmpfs".
    #[serde(
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub r#type: String,
    /// A host path (bind) or a volume name ("" for an anonymous volume).
    #[serde(
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub source: String,
    #[serde(
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub target: String,
    #[serde(skip_serializing_if = "is_false")]
    pub read_only: bool,
    #[serde(
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub consistency: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind_options: Option<BindOptions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume_options: Option<VolumeOptions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tmpfs_options: Option<TmpfsOptions>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct BindOptions {
    #[serde(
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub propagation: String,
    #[serde(skip_serializing_if = "is_false")]
    pub non_recursive: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VolumeOptions {
    #[serde(skip_serializing_if = "is_false")]
    pub no_copy: bool,
    /// Labels of the volume if this mount creates it.
    #[serde(
        deserialize_with = "nullable",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver_config: Option<VolumeDriver>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VolumeDriver {
    #[serde(
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub name: String,
    /// Driver options of the volume if this mount creates it (`volume-opt`).
    #[serde(
        deserialize_with = "nullable",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub options: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TmpfsOptions {
    /// Bytes; 0: the kernel's default.
    #[serde(skip_serializing_if = "is_zero")]
    pub size_bytes: i64,
    /// Go's os.FileMode bits as the CLI parses `tmpfs-mode` (octal digits read as octal).
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub mode: u32,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

fn is_zero_u32(v: &u32) -> bool {
    *v == 0
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct LogConfig {
    /// "", "json-file" or "none".
    #[serde(deserialize_with = "nullable")]
    pub r#type: String,
    #[serde(deserialize_with = "nullable")]
    pub config: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RestartPolicy {
    #[serde(deserialize_with = "nullable")]
    pub name: String,
    pub maximum_retry_count: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeviceMapping {
    #[serde(deserialize_with = "nullable")]
    pub path_on_host: String,
    #[serde(deserialize_with = "nullable")]
    pub path_in_container: String,
    /// e.g. "rwm".
    #[serde(deserialize_with = "nullable")]
    pub cgroup_permissions: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Ulimit {
    #[serde(deserialize_with = "nullable")]
    pub name: String,
    pub soft: i64,
    pub hard: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_cli_create_body_parses_with_nulls_and_unknown_fields() {
        let body = r#"{"Hostname":"","User":"","Tty":false,"Env":["FOO=bar"],"Cmd":["sh","-c","echo"],
            "Image":"busybox","Volumes":{},"Entrypoint":null,"OnBuild":null,"Labels":{},
            "HostConfig":{"Binds":null,"LogConfig":{"Type":"","Config":{}},"NetworkMode":"default",
            "AutoRemove":true,"CapAdd":null,"Memory":67108864,"NanoCpus":500000000,"MemorySwappiness":-1,
            "Ulimits":[],"MaskedPaths":null,"UTSMode":"host","Future":1},
            "NetworkingConfig":{"EndpointsConfig":{}}}"#;
        let parsed: CreateBody = serde_json::from_str(body).expect("parses");
        assert_eq!(parsed.config.image, "busybox");
        assert_eq!(parsed.config.env, vec!["FOO=bar"]);
        assert!(parsed.config.entrypoint.is_none());
        assert!(parsed.host_config.auto_remove);
        assert_eq!(parsed.host_config.memory, 67108864);
        assert_eq!(parsed.host_config.uts_mode, "host");
        assert!(parsed.host_config.masked_paths.is_none());
        assert!(parsed.host_config.binds.is_empty());
    }

    #[test]
    fn mounts_parse_and_echo_without_empty_fields() {
        let body = r#"{"HostConfig":{"Mounts":[
            {"Type":"volume","Source":"m1","Target":"/m1","VolumeOptions":{"NoCopy":true,"DriverConfig":{}}},
            {"Type":"tmpfs","Target":"/t","TmpfsOptions":{"SizeBytes":1048576,"Mode":1016}},
            {"Type":"bind","Source":"/h","Target":"/b","ReadOnly":true,"BindOptions":{"Propagation":"rslave"}}]}}"#;
        let parsed: CreateBody = serde_json::from_str(body).expect("parses");
        let mounts = &parsed.host_config.mounts;
        assert_eq!(
            mounts[1].tmpfs_options.as_ref().map(|t| t.mode),
            Some(0o1770)
        );
        assert_eq!(
            serde_json::to_value(mounts).expect("encodes"),
            serde_json::json!([
                {"Type":"volume","Source":"m1","Target":"/m1","VolumeOptions":{"NoCopy":true,"DriverConfig":{}}},
                {"Type":"tmpfs","Target":"/t","TmpfsOptions":{"SizeBytes":1048576,"Mode":1016}},
                {"Type":"bind","Source":"/h","Target":"/b","ReadOnly":true,"BindOptions":{"Propagation":"rslave"}}
            ])
        );
    }
}

/// The body of `POST /containers/{id}/exec`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ExecConfig {
    /// `USER[:GROUP]`; "" is the container's user.
    #[serde(deserialize_with = "nullable")]
    pub user: String,
    pub privileged: bool,
    pub tty: bool,
    /// `[rows, cols]` of the client's terminal (API 1.42 and later send it).
    #[serde(deserialize_with = "nullable")]
    pub console_size: Vec<u16>,
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    /// `ctrl-p,ctrl-q` syntax; "" is that default.
    #[serde(deserialize_with = "nullable")]
    pub detach_keys: String,
    /// `KEY=VALUE` over the container's environment; `KEY` alone unsets it.
    #[serde(deserialize_with = "nullable")]
    pub env: Vec<String>,
    /// "" is the container's working directory.
    #[serde(deserialize_with = "nullable")]
    pub working_dir: String,
    #[serde(deserialize_with = "nullable")]
    pub cmd: Vec<String>,
}
