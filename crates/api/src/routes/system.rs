//! `_ping`, `version`, `info`, and the answer for unknown endpoints.

use crate::error::{ApiError, ApiResult, blocking};
use crate::{API_VERSION, AppState, MIN_API_VERSION};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/_ping", get(ping).head(ping))
        .route("/version", get(version))
        .route("/info", get(info))
        .route("/system/df", get(system_df))
}

fn ping_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("Api-Version", HeaderValue::from_static(API_VERSION));
    h.insert("Ostype", HeaderValue::from_static("linux"));
    h.insert("Docker-Experimental", HeaderValue::from_static("false"));
    h.insert(
        "Cache-Control",
        HeaderValue::from_static("no-cache, no-store, must-revalidate"),
    );
    h.insert("Pragma", HeaderValue::from_static("no-cache"));
    h
}

async fn ping() -> Response {
    (StatusCode::OK, ping_headers(), "OK").into_response()
}

async fn version() -> Response {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    let body = serde_json::json!({
        "Platform": {"Name": "berth"},
        "Components": [{
            "Name": "Engine",
            "Version": env!("CARGO_PKG_VERSION"),
            "Details": {"ApiVersion": API_VERSION, "MinAPIVersion": MIN_API_VERSION, "Os": "linux", "Arch": arch}
        }],
        "Version": env!("CARGO_PKG_VERSION"),
        "ApiVersion": API_VERSION,
        "MinAPIVersion": MIN_API_VERSION,
        "GitCommit": "",
        "GoVersion": "",
        "Os": "linux",
        "Arch": arch,
        "KernelVersion": kernel_release(),
        "BuildTime": "",
    });
    axum::Json(body).into_response()
}

async fn info(State(state): State<AppState>) -> ApiResult<Response> {
    let engine = state.engine.clone();
    let counts = blocking(move || engine.counts()).await?;
    let engine = &state.engine;
    let cgroups = berth_cgroups::Hierarchies::detect().ok();
    let cgroup_version = match cgroups.as_ref().map(|h| h.layout) {
        Some(berth_cgroups::Layout::Unified) => "2",
        _ => "1",
    };
    let mut runtimes = serde_json::Map::new();
    runtimes.insert(
        berth_engine::config::BUILTIN_RUNTIME.into(),
        serde_json::json!({"path": engine.config.shim_binary.display().to_string()}),
    );
    for (name, path) in &engine.config.runtimes {
        runtimes.insert(
            name.clone(),
            serde_json::json!({"path": path.display().to_string()}),
        );
    }
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let body = serde_json::json!({
        "ID": engine.daemon_id(),
        "Containers": counts.containers,
        "ContainersRunning": counts.running,
        "ContainersPaused": counts.paused,
        "ContainersStopped": counts.containers.saturating_sub(counts.running + counts.paused),
        "Images": counts.images,
        "Driver": engine.images.snapshotter().driver_name(),
        "DriverStatus": [],
        "Plugins": {"Volume": ["local"], "Network": ["host", "null"], "Authorization": null,
                    "Log": ["json-file", "none"]},
        "MemoryLimit": true,
        "SwapLimit": true,
        "KernelMemory": false,
        "CpuCfsPeriod": true,
        "CpuCfsQuota": true,
        "CPUShares": true,
        "CPUSet": true,
        "PidsLimit": true,
        "IPv4Forwarding": false,
        "BridgeNfIptables": false,
        "BridgeNfIp6tables": false,
        "Debug": false,
        "NFd": count_dir("/proc/self/fd"),
        "OomKillDisable": cgroup_version == "1",
        "NGoroutines": 0,
        "SystemTime": berth_engine::time::now_rfc3339(),
        "LoggingDriver": "json-file",
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": cgroup_version,
        "NEventsListener": 0,
        "KernelVersion": kernel_release(),
        "OperatingSystem": operating_system(),
        "OSVersion": "",
        "OSType": "linux",
        "Architecture": std::env::consts::ARCH,
        "IndexServerAddress": "https://index.docker.io/v1/",
        "RegistryConfig": {"AllowNondistributableArtifactsCIDRs": [], "AllowNondistributableArtifactsHostnames": [],
                           "InsecureRegistryCIDRs": ["127.0.0.0/8"], "IndexConfigs": {}, "Mirrors": []},
        "NCPU": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "MemTotal": mem_total(),
        "GenericResources": null,
        "DockerRootDir": engine.config.data_root.display().to_string(),
        "HttpProxy": "",
        "HttpsProxy": "",
        "NoProxy": "",
        "Name": hostname,
        "Labels": [],
        "ExperimentalBuild": false,
        "ServerVersion": env!("CARGO_PKG_VERSION"),
        "Runtimes": runtimes,
        "DefaultRuntime": engine.config.default_runtime,
        "Swarm": {"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive", "ControlAvailable": false,
                  "Error": "", "RemoteManagers": null},
        "LiveRestoreEnabled": true,
        "Isolation": "",
        "InitBinary": "docker-init",
        "ContainerdCommit": {"ID": "", "Expected": ""},
        "RuncCommit": {"ID": "", "Expected": ""},
        "InitCommit": {"ID": "", "Expected": ""},
        "SecurityOptions": ["name=seccomp,profile=default"],
        "Warnings": [],
    });
    Ok(axum::Json(body).into_response())
}

/// `GET /system/df`: images (with shared layer sizes), containers with their sizes, local
/// volumes with theirs; no build cache.
async fn system_df(State(state): State<AppState>) -> ApiResult<Response> {
    let engine = state.engine.clone();
    let (layers_size, images, containers, volumes) = blocking(move || {
        let containers = &engine.containers;
        let usage = engine.images.disk_usage(&|id| containers.image_users(id))?;
        let (layers_size, images) = crate::routes::images::system_df_images(&usage);
        let listed = containers.list(&berth_engine::containers::ListOptions {
            all: true,
            limit: 0,
            size: true,
            filters: None,
        })?;
        let volumes = engine.volumes.disk_usage()?;
        Ok((layers_size, images, listed, volumes))
    })
    .await?;
    let body = serde_json::json!({
        "LayersSize": layers_size,
        "Images": images,
        "Containers": containers,
        "Volumes": volumes,
        "BuildCache": [],
    });
    Ok(axum::Json(body).into_response())
}

fn count_dir(path: &str) -> usize {
    std::fs::read_dir(path).map(|d| d.count()).unwrap_or(0)
}

fn mem_total() -> u64 {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kib| kib * 1024)
        .unwrap_or(0)
}

fn operating_system() -> String {
    let release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    release
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| "Linux".into())
}

pub fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

pub async fn unknown_endpoint(uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!("page not found: {}", uri.path()),
    )
}
