//! `/images/...`: load, save, import, list, inspect, history, tag, remove, prune; and the
//! image part of `/system/df` ([`system_df_images`], served by the system routes).
//!
//! Names may contain slashes (`127.0.0.1:5000/x/y:t`), so `/images/{name}/json` and friends
//! are routed through one wildcard and split on their last segment. Uploads (load, import)
//! are spooled to a temp file in the data root, never held in memory; progress answers are
//! dockerd's JSON lines (`\r\n` after each), errors inside them as
//! `{"errorDetail":{"message":..},"error":..}`.

use crate::AppState;
use crate::body::{ChannelWriter, stream_response};
use crate::error::{ApiError, ApiResult, blocking};
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use berth_engine::images::{
    Deleted, DiskUsage, ImageRecord, Images, ImportOptions, ListFilters, LoadEvent,
};
use bytes::Bytes;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/images/json", get(list))
        .route("/images/load", post(load))
        .route("/images/get", get(save_many))
        .route("/images/create", post(create))
        .route("/images/prune", post(prune))
        .route(
            "/images/{*rest}",
            get(get_by_name).post(post_by_name).delete(remove),
        )
}

// ---- query parameters -------------------------------------------------------------------

/// A query string with repeated keys kept (`changes=..&changes=..`).
pub(crate) struct Query(Vec<(String, String)>);

impl Query {
    pub(crate) fn parse(raw: Option<String>) -> Query {
        let raw = raw.unwrap_or_default();
        Query(
            form_urlencoded::parse(raw.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    pub(crate) fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }
    /// dockerd's `BoolValue`: anything but empty, 0, no, false, none.
    pub(crate) fn flag(&self, key: &str) -> bool {
        let v = self.get(key).unwrap_or("").trim().to_ascii_lowercase();
        !matches!(v.as_str(), "" | "0" | "no" | "false" | "none")
    }
    /// Docker's `filters` JSON: `{"k":["v"]}` or the older `{"k":{"v":true}}`.
    fn filters(&self) -> ApiResult<ListFilters> {
        let Some(raw) = self.get("filters").filter(|f| !f.is_empty()) else {
            return Ok(BTreeMap::new());
        };
        let value: Value = serde_json::from_str(raw)
            .map_err(|e| ApiError::bad_request(format!("invalid filters {raw:?}: {e}")))?;
        let Value::Object(map) = value else {
            return Err(ApiError::bad_request(format!(
                "invalid filters {raw:?}: not an object"
            )));
        };
        let mut out = BTreeMap::new();
        for (key, values) in map {
            let list = match values {
                Value::Array(items) => items
                    .into_iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect(),
                Value::Object(set) => set
                    .into_iter()
                    .filter(|(_, on)| on.as_bool().unwrap_or(false))
                    .map(|(k, _)| k)
                    .collect(),
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "invalid filters {raw:?}: values of {key:?} must be a list"
                    )));
                }
            };
            out.insert(key, list);
        }
        Ok(out)
    }
}

// ---- streams ------------------------------------------------------------------------------

fn json_line(value: &Value) -> Bytes {
    let mut line = serde_json::to_vec(value).unwrap_or_default();
    line.extend_from_slice(b"\r\n");
    Bytes::from(line)
}

fn error_line(message: &str) -> Bytes {
    json_line(&json!({"errorDetail": {"message": message}, "error": message}))
}

/// Writes the request body to `path`; a client that goes away mid-upload is an error.
async fn spool(body: Body, path: &std::path::Path) -> Result<(), String> {
    let mut file = tokio::fs::File::create(path)
        .await
        .map_err(|e| format!("create upload file {}: {e}", path.display()))?;
    let mut body = body;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| format!("read the request body: {e}"))?;
        if let Ok(data) = frame.into_data() {
            file.write_all(&data)
                .await
                .map_err(|e| format!("write upload file {}: {e}", path.display()))?;
        }
    }
    file.flush()
        .await
        .map_err(|e| format!("write upload file {}: {e}", path.display()))
}

/// Removes a spooled upload when dropped, whatever happened.
struct TempFile(std::path::PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn human_size(bytes: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < units.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes}B")
    } else {
        format!("{value:.3}{}", units[unit])
    }
}

// ---- load / save / import -----------------------------------------------------------------

async fn load(State(state): State<AppState>, RawQuery(q): RawQuery, body: Body) -> Response {
    let query = Query::parse(q);
    let quiet = query.flag("quiet");
    let images = state.engine.images.clone();
    let temp = TempFile(images.temp_path("load"));
    let spooled = spool(body, &temp.0).await;
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    tokio::task::spawn_blocking(move || {
        let result = spooled.and_then(|()| {
            images
                .load(&temp.0, &mut |event| {
                    let line = match event {
                        LoadEvent::Message(m) => json_line(&json!({ "stream": m })),
                        LoadEvent::Layer { .. } if quiet => return,
                        LoadEvent::Layer { short_id, size } => json_line(&json!({
                            "status": "Loading layer",
                            "progressDetail": {"current": size, "total": size},
                            "progress": format!(
                                "[==================================================>]  {}/{}",
                                human_size(size), human_size(size)
                            ),
                            "id": short_id,
                        })),
                    };
                    let _ = tx.blocking_send(line);
                })
                .map(|_| ())
                .map_err(|e| e.message)
        });
        if let Err(message) = result {
            let _ = tx.blocking_send(error_line(&message));
        }
        drop(temp);
    });
    stream_response("application/json", rx)
}

async fn save(images: Arc<Images>, names: Vec<String>) -> ApiResult<Response> {
    if names.is_empty() {
        return Err(ApiError::bad_request("no image names given to save"));
    }
    let planner = images.clone();
    let plan = blocking(move || planner.save_plan(&names)).await?;
    let (tx, rx) = mpsc::channel::<Bytes>(16);
    tokio::task::spawn_blocking(move || {
        let out = std::io::BufWriter::with_capacity(256 * 1024, ChannelWriter(tx));
        if let Err(e) = images.save(&plan, out) {
            // Headers are gone: the client sees a cut tar, as with dockerd.
            tracing::warn!("image save stopped: {e}");
        }
    });
    Ok(stream_response("application/x-tar", rx))
}

async fn save_many(State(state): State<AppState>, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let names = Query::parse(q).all("names");
    save(state.engine.images.clone(), names).await
}

async fn create(
    State(state): State<AppState>,
    RawQuery(q): RawQuery,
    body: Body,
) -> ApiResult<Response> {
    let query = Query::parse(q);
    if let Some(image) = query.get("fromImage") {
        return Err(ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            format!(
                "pull of {image} refused: berth has no registry client yet; make the image \
                 available with `docker load` or `docker import`"
            ),
        ));
    }
    match query.get("fromSrc") {
        Some("-") => {}
        Some(url) => {
            return Err(ApiError::bad_request(format!(
                "import from {url:?} refused: berth imports only from the request body \
                 (fromSrc=-)"
            )));
        }
        None => return Err(ApiError::bad_request("fromImage or fromSrc is required")),
    }
    let options = ImportOptions {
        repo: query.get("repo").map(str::to_string),
        tag: query.get("tag").map(str::to_string),
        message: query.get("message").unwrap_or("").to_string(),
        changes: query.all("changes"),
    };
    let images = state.engine.images.clone();
    let temp = TempFile(images.temp_path("import"));
    spool(body, &temp.0).await.map_err(ApiError::bad_request)?;
    let id = blocking(move || {
        let id = images.import(&temp.0, &options);
        drop(temp);
        id
    })
    .await?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        json_line(&json!({ "status": id })),
    )
        .into_response())
}

// ---- list / inspect / history -------------------------------------------------------------

fn null_if_empty<T: serde::Serialize>(items: &[T]) -> Value {
    if items.is_empty() {
        Value::Null
    } else {
        json!(items)
    }
}

fn labels_json(record: &ImageRecord) -> Value {
    let labels = &record.config.config.labels;
    if labels.is_empty() {
        Value::Null
    } else {
        json!(labels)
    }
}

async fn list(State(state): State<AppState>, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let filters = Query::parse(q).filters()?;
    let images = state.engine.images.clone();
    let listed = blocking(move || images.list(&filters)).await?;
    let body: Vec<Value> = listed
        .iter()
        .map(|l| {
            json!({
                "Containers": -1,
                "Created": l.record.created_unix(),
                "Id": l.record.id,
                "Labels": labels_json(&l.record),
                "ParentId": "",
                "RepoDigests": null_if_empty(&l.repo_digests),
                "RepoTags": null_if_empty(&l.repo_tags),
                "SharedSize": -1,
                "Size": l.record.size,
                "VirtualSize": l.record.size,
            })
        })
        .collect();
    Ok(axum::Json(body).into_response())
}

/// Go's `container.Config` as dockerd prints it, from the image config's `config`.
fn go_config(config: &Value) -> Value {
    let field = |k: &str| config.get(k).cloned().unwrap_or(Value::Null);
    let text = |k: &str| config.get(k).cloned().unwrap_or_else(|| json!(""));
    let mut out = json!({
        "Hostname": text("Hostname"),
        "Domainname": text("Domainname"),
        "User": text("User"),
        "AttachStdin": false,
        "AttachStdout": false,
        "AttachStderr": false,
        "Tty": false,
        "OpenStdin": false,
        "StdinOnce": false,
        "Env": field("Env"),
        "Cmd": field("Cmd"),
        "Image": text("Image"),
        "Volumes": field("Volumes"),
        "WorkingDir": text("WorkingDir"),
        "Entrypoint": field("Entrypoint"),
        "OnBuild": field("OnBuild"),
        "Labels": field("Labels"),
    });
    for optional in [
        "ExposedPorts",
        "Healthcheck",
        "ArgsEscaped",
        "StopSignal",
        "StopTimeout",
        "Shell",
    ] {
        if let Some(v) = config.get(optional).filter(|v| !v.is_null()) {
            out[optional] = v.clone();
        }
    }
    out
}

fn inspect_json(record: &ImageRecord, raw: &Value, dirs: &[std::path::PathBuf]) -> Value {
    let text = |k: &str| raw.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let created = raw
        .get("created")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| "0001-01-01T00:00:00Z".to_string());
    let config = raw.get("config").filter(|c| !c.is_null());
    let mut graph_data = serde_json::Map::new();
    if let Some(top) = dirs.first() {
        let base = top.parent().unwrap_or(top);
        if dirs.len() > 1 {
            let lower: Vec<String> = dirs[1..].iter().map(|d| d.display().to_string()).collect();
            graph_data.insert("LowerDir".into(), json!(lower.join(":")));
        }
        graph_data.insert("MergedDir".into(), json!(base.join("merged")));
        graph_data.insert("UpperDir".into(), json!(top));
        graph_data.insert("WorkDir".into(), json!(base.join("work")));
    }
    json!({
        "Id": record.id,
        "RepoTags": record.repo_tags,
        "RepoDigests": record.repo_digests,
        "Parent": text("parent"),
        "Comment": text("comment"),
        "Created": created,
        "Container": text("container"),
        "ContainerConfig": go_config(raw.get("container_config").unwrap_or(&Value::Null)),
        "DockerVersion": text("docker_version"),
        "Author": text("author"),
        "Config": config.map(go_config).unwrap_or(Value::Null),
        "Architecture": record.config.architecture,
        "Variant": record.config.variant,
        "Os": record.config.os,
        "Size": record.size,
        "VirtualSize": record.size,
        "GraphDriver": {"Data": graph_data, "Name": "overlay2"},
        "RootFS": {"Type": "layers", "Layers": record.config.rootfs.diff_ids},
        "Metadata": {
            "LastTagTime": record.last_tag_time.clone()
                .unwrap_or_else(|| "0001-01-01T00:00:00Z".to_string())
        },
    })
}

async fn inspect(images: Arc<Images>, name: String) -> ApiResult<Response> {
    let body = blocking(move || {
        let record = images.resolve(&name)?;
        let raw: Value =
            serde_json::from_slice(&images.config_blob(&record)?).unwrap_or(Value::Null);
        let dirs = images.layer_dirs(&record);
        Ok(inspect_json(&record, &raw, &dirs))
    })
    .await?;
    let mut body = body;
    if body["Variant"].is_null()
        && let Value::Object(map) = &mut body
    {
        map.remove("Variant");
    }
    Ok(axum::Json(body).into_response())
}

async fn history(images: Arc<Images>, name: String) -> ApiResult<Response> {
    let entries = blocking(move || images.history(&name)).await?;
    let body: Vec<Value> = entries
        .iter()
        .map(|h| {
            json!({
                "Comment": h.comment,
                "Created": h.created,
                "CreatedBy": h.created_by,
                "Id": h.id,
                "Size": h.size,
                "Tags": null_if_empty(&h.tags),
            })
        })
        .collect();
    Ok(axum::Json(body).into_response())
}

// ---- by name: json, history, get, tag, push, delete --------------------------------------

/// `busybox/json` → ("busybox", "json"); names keep their slashes.
fn split_action(rest: &str) -> Option<(&str, &str)> {
    let (name, action) = rest.rsplit_once('/')?;
    (!name.is_empty()).then_some((name, action))
}

async fn get_by_name(
    State(state): State<AppState>,
    Path(rest): Path<String>,
    uri: Uri,
) -> ApiResult<Response> {
    let images = state.engine.images.clone();
    match split_action(&rest) {
        Some((name, "json")) => inspect(images, name.to_string()).await,
        Some((name, "history")) => history(images, name.to_string()).await,
        Some((name, "get")) => save(images, vec![name.to_string()]).await,
        _ => Err(super::system::unknown_endpoint(uri).await),
    }
}

async fn post_by_name(
    State(state): State<AppState>,
    Path(rest): Path<String>,
    RawQuery(q): RawQuery,
    uri: Uri,
) -> ApiResult<Response> {
    let query = Query::parse(q);
    match split_action(&rest) {
        Some((name, "tag")) => {
            let images = state.engine.images.clone();
            let source = name.to_string();
            let repo = query.get("repo").unwrap_or("").to_string();
            let tag = query.get("tag").map(str::to_string);
            blocking(move || images.tag(&source, &repo, tag.as_deref())).await?;
            Ok(StatusCode::CREATED.into_response())
        }
        Some((name, "push")) => Err(ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            format!("push of {name} refused: berth has no registry client yet"),
        )),
        _ => Err(super::system::unknown_endpoint(uri).await),
    }
}

fn deleted_json(items: &[Deleted]) -> Vec<Value> {
    items
        .iter()
        .map(|d| match d {
            Deleted::Untagged(r) => json!({ "Untagged": r }),
            Deleted::Deleted(id) => json!({ "Deleted": id }),
        })
        .collect()
}

async fn remove(
    State(state): State<AppState>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let query = Query::parse(q);
    let (force, no_prune) = (query.flag("force"), query.flag("noprune"));
    let engine = state.engine.clone();
    let items = blocking(move || {
        engine.images.remove(&name, force, no_prune, &|id| {
            engine.containers.image_users(id)
        })
    })
    .await?;
    Ok(axum::Json(deleted_json(&items)).into_response())
}

async fn prune(State(state): State<AppState>, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let filters = Query::parse(q).filters()?;
    let engine = state.engine.clone();
    let report = blocking(move || {
        engine
            .images
            .prune(&filters, &|id| engine.containers.image_users(id))
    })
    .await?;
    let deleted = deleted_json(&report.deleted);
    Ok(axum::Json(json!({
        "ImagesDeleted": if deleted.is_empty() { Value::Null } else { json!(deleted) },
        "SpaceReclaimed": report.space_reclaimed,
    }))
    .into_response())
}

/// The `LayersSize` and `Images` members of `GET /system/df`, as dockerd 20.10 gives them.
pub fn system_df_images(usage: &DiskUsage) -> (u64, Vec<Value>) {
    let images = usage
        .images
        .iter()
        .map(|i| {
            json!({
                "Containers": i.containers,
                "Created": i.created,
                "Id": i.id,
                "Labels": if i.labels.is_empty() { Value::Null } else { json!(i.labels) },
                "ParentId": "",
                "RepoDigests": null_if_empty(&i.repo_digests),
                "RepoTags": null_if_empty(&i.repo_tags),
                "SharedSize": i.shared_size,
                "Size": i.size,
                "VirtualSize": i.size,
            })
        })
        .collect();
    (usage.layers_size, images)
}
