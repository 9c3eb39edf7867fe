//! `/containers/...`: create, lifecycle, inspect, list, wait, attach (hijacked), logs, top,
//! stats, prune, and files (archive, export, changes, `/commit`).

mod attach;
mod files;
mod logs;
mod observe;

use crate::AppState;
use crate::error::{ApiError, ApiResult, blocking};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use berth_engine::containers::options::CreateBody;
use berth_engine::containers::{ListOptions, WaitCondition};
use std::collections::HashMap;

pub type Params = Query<HashMap<String, String>>;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/containers/create", post(create))
        .route("/containers/json", get(list))
        .route("/containers/prune", post(prune))
        .route("/containers/{id}/json", get(inspect))
        .route("/containers/{id}/start", post(start))
        .route("/containers/{id}/stop", post(stop))
        .route("/containers/{id}/restart", post(restart))
        .route("/containers/{id}/kill", post(kill))
        .route("/containers/{id}/pause", post(pause))
        .route("/containers/{id}/unpause", post(unpause))
        .route("/containers/{id}/rename", post(rename))
        .route("/containers/{id}/resize", post(resize))
        .route("/containers/{id}/wait", post(wait))
        .route("/containers/{id}/attach", post(attach::attach))
        .route("/containers/{id}/logs", get(logs::logs))
        .route("/containers/{id}/top", get(observe::top))
        .route("/containers/{id}/stats", get(observe::stats))
        .route(
            "/containers/{id}/archive",
            get(files::archive_get)
                .head(files::archive_head)
                .put(files::archive_put),
        )
        .route("/containers/{id}/export", get(files::export))
        .route("/containers/{id}/changes", get(files::changes))
        .route("/commit", post(files::commit))
        .route("/containers/{id}", delete(remove))
}

/// Docker's boolean query values: 1/true/True/yes are true, absent or anything else false.
pub fn flag(params: &HashMap<String, String>, name: &str) -> bool {
    params
        .get(name)
        .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
}

fn int_param(params: &HashMap<String, String>, name: &str) -> ApiResult<Option<i64>> {
    match params.get(name).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| ApiError::bad_request(format!("invalid value for {name}: {v:?}"))),
    }
}

fn json(status: StatusCode, value: serde_json::Value) -> Response {
    (status, axum::Json(value)).into_response()
}

async fn create(State(s): State<AppState>, Query(q): Params, body: Bytes) -> ApiResult<Response> {
    let body: CreateBody = if body.is_empty() {
        return Err(ApiError::bad_request(
            "config cannot be empty in order to create a container",
        ));
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request(format!("invalid JSON in the create body: {e}")))?
    };
    let name = q.get("name").cloned();
    let engine = s.engine.clone();
    let (id, warnings) = blocking(move || engine.containers.create(name.as_deref(), body)).await?;
    Ok(json(
        StatusCode::CREATED,
        serde_json::json!({"Id": id, "Warnings": warnings}),
    ))
}

async fn list(State(s): State<AppState>, Query(q): Params) -> ApiResult<Response> {
    let opts = ListOptions {
        all: flag(&q, "all"),
        limit: int_param(&q, "limit")?.unwrap_or(0),
        size: flag(&q, "size"),
        filters: q.get("filters").cloned(),
    };
    let engine = s.engine.clone();
    let list = blocking(move || engine.containers.list(&opts)).await?;
    Ok(json(StatusCode::OK, serde_json::Value::Array(list)))
}

async fn inspect(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Params,
) -> ApiResult<Response> {
    let size = flag(&q, "size");
    let engine = s.engine.clone();
    let v = blocking(move || engine.containers.inspect(&id, size)).await?;
    Ok(json(StatusCode::OK, v))
}

async fn no_content<F>(s: AppState, f: F) -> ApiResult<Response>
where
    F: FnOnce(&berth_engine::Engine) -> berth_engine::Result<()> + Send + 'static,
{
    let engine = s.engine.clone();
    blocking(move || f(&engine)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn start(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    no_content(s, move |e| e.containers.start(&id)).await
}

async fn stop(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Params,
) -> ApiResult<Response> {
    let t = int_param(&q, "t")?;
    no_content(s, move |e| e.containers.stop(&id, t)).await
}

async fn restart(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Params,
) -> ApiResult<Response> {
    let t = int_param(&q, "t")?;
    no_content(s, move |e| e.containers.restart(&id, t)).await
}

async fn kill(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Params,
) -> ApiResult<Response> {
    let signal = q.get("signal").cloned();
    no_content(s, move |e| e.containers.kill(&id, signal.as_deref())).await
}

async fn pause(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    no_content(s, move |e| e.containers.pause(&id)).await
}

async fn unpause(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    no_content(s, move |e| e.containers.unpause(&id)).await
}

async fn rename(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Params,
) -> ApiResult<Response> {
    let name = q.get("name").cloned().unwrap_or_default();
    no_content(s, move |e| e.containers.rename(&id, &name)).await
}

async fn remove(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Params,
) -> ApiResult<Response> {
    let force = flag(&q, "force");
    let volumes = flag(&q, "v");
    no_content(s, move |e| e.containers.remove(&id, force, volumes)).await
}

async fn resize(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Params,
) -> ApiResult<Response> {
    let dim = |name: &str| -> ApiResult<u16> {
        int_param(&q, name)?
            .and_then(|v| u16::try_from(v).ok())
            .ok_or_else(|| ApiError::bad_request(format!("invalid or missing {name}")))
    };
    let (rows, cols) = (dim("h")?, dim("w")?);
    let engine = s.engine.clone();
    blocking(move || engine.containers.resize(&id, rows, cols)).await?;
    Ok(StatusCode::OK.into_response())
}

async fn prune(State(s): State<AppState>) -> ApiResult<Response> {
    let engine = s.engine.clone();
    let (ids, space) = blocking(move || engine.containers.prune()).await?;
    Ok(json(
        StatusCode::OK,
        serde_json::json!({"ContainersDeleted": ids, "SpaceReclaimed": space}),
    ))
}

/// The headers go out at once (the CLI sends `start` only after it has them); the body
/// follows when the condition is met.
async fn wait(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Params,
) -> ApiResult<Response> {
    let condition = WaitCondition::parse(q.get("condition").map(String::as_str).unwrap_or(""))
        .map_err(ApiError::from)?;
    let engine = s.engine.clone();
    let handle = blocking(move || engine.containers.wait_handle(&id, condition)).await?;
    let body = futures_util::stream::once(async move {
        let result = handle.wait().await;
        let error = match result.error {
            Some(message) => serde_json::json!({"Message": message}),
            None => serde_json::Value::Null,
        };
        let mut line = serde_json::to_vec(&serde_json::json!({
            "Error": error,
            "StatusCode": result.status_code,
        }))
        .unwrap_or_default();
        line.push(b'\n');
        Ok::<_, std::convert::Infallible>(Bytes::from(line))
    });
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(body))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response()))
}
