//! `/volumes/...`: list, create, inspect, remove, prune, in dockerd 20.10's shapes.

use crate::AppState;
use crate::error::{ApiError, ApiResult, blocking};
use crate::routes::containers::{Params, flag};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use berth_engine::volumes::CreateOptions;
use serde::Deserialize;
use std::collections::BTreeMap;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/volumes", get(list))
        .route("/volumes/create", post(create))
        .route("/volumes/prune", post(prune))
        .route("/volumes/{name}", get(inspect).delete(remove))
}

fn json(status: StatusCode, value: serde_json::Value) -> Response {
    (status, axum::Json(value)).into_response()
}

async fn list(State(s): State<AppState>, Query(q): Params) -> ApiResult<Response> {
    let filters = q.get("filters").cloned();
    let engine = s.engine.clone();
    let body = blocking(move || engine.volumes.list(filters.as_deref())).await?;
    Ok(json(StatusCode::OK, body))
}

/// `VolumeCreateBody` (API 1.41); `null` reads as absent.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct CreateBody {
    name: Option<String>,
    driver: Option<String>,
    driver_opts: Option<BTreeMap<String, String>>,
    labels: Option<BTreeMap<String, String>>,
}

async fn create(State(s): State<AppState>, body: Bytes) -> ApiResult<Response> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("got EOF while reading request body"));
    }
    let body: CreateBody = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON in the volume body: {e}")))?;
    let opts = CreateOptions {
        name: body.name.unwrap_or_default(),
        driver: body.driver.unwrap_or_default(),
        driver_opts: body.driver_opts.unwrap_or_default(),
        labels: body.labels,
    };
    let engine = s.engine.clone();
    let volume = blocking(move || engine.volumes.create(opts)).await?;
    Ok(json(StatusCode::CREATED, volume))
}

async fn inspect(State(s): State<AppState>, Path(name): Path<String>) -> ApiResult<Response> {
    let engine = s.engine.clone();
    let volume = blocking(move || engine.volumes.inspect(&name)).await?;
    Ok(json(StatusCode::OK, volume))
}

async fn remove(
    State(s): State<AppState>,
    Path(name): Path<String>,
    Query(q): Params,
) -> ApiResult<Response> {
    let force = flag(&q, "force");
    let engine = s.engine.clone();
    blocking(move || engine.volumes.remove(&name, force)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn prune(State(s): State<AppState>, Query(q): Params) -> ApiResult<Response> {
    let filters = q.get("filters").cloned();
    let engine = s.engine.clone();
    let (deleted, space) = blocking(move || engine.volumes.prune(filters.as_deref())).await?;
    Ok(json(
        StatusCode::OK,
        serde_json::json!({"VolumesDeleted": deleted, "SpaceReclaimed": space}),
    ))
}
