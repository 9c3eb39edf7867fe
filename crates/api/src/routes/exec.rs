//! `docker exec`: `POST /containers/{id}/exec` (create), `POST /exec/{id}/start` (hijacked as
//! attach is, or `Detach` answered 200 at once), `POST /exec/{id}/resize`, `GET /exec/{id}/json`.

use crate::AppState;
use crate::error::{ApiError, ApiResult, blocking};
use crate::routes::containers::Params;
use crate::routes::hijack::{bridge, output_as_body, switching_protocols};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use berth_engine::containers::options::ExecConfig;
use berth_engine::containers::start_failure_bytes;
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use tokio::io::AsyncWriteExt;

/// The start body is a few bytes; this bounds what is read of a bad one.
const MAX_START_BODY: usize = 64 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/containers/{id}/exec", post(create))
        .route("/exec/{id}/start", post(start))
        .route("/exec/{id}/resize", post(resize))
        .route("/exec/{id}/json", get(inspect))
}

/// dockerd decodes these bodies with Go's JSON decoder: an empty one is this error.
fn decode<T: for<'de> Deserialize<'de>>(body: &[u8]) -> ApiResult<T> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("got EOF while reading request body"));
    }
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(e.to_string()))
}

async fn create(
    State(s): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let config: ExecConfig = decode(&body)?;
    let engine = s.engine.clone();
    let exec_id = blocking(move || engine.containers.exec_create(&id, config)).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(serde_json::json!({ "Id": exec_id })),
    )
        .into_response())
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct StartBody {
    detach: bool,
    tty: bool,
}

async fn start(
    State(s): State<AppState>,
    Path(id): Path<String>,
    mut req: Request,
) -> ApiResult<Response> {
    let upgrade = req
        .headers()
        .contains_key(header::UPGRADE)
        .then(|| hyper::upgrade::on(&mut req));
    let body = axum::body::to_bytes(req.into_body(), MAX_START_BODY)
        .await
        .map_err(|e| ApiError::bad_request(format!("read the request body: {e}")))?;
    let check: StartBody = decode(&body)?;
    let engine = s.engine.clone();
    let exec_id = id.clone();
    let started = blocking(move || engine.containers.exec_start(&exec_id, check.detach)).await?;
    if check.detach {
        started.map_err(ApiError::from)?;
        return Ok(StatusCode::OK.into_response());
    }
    let engine = s.engine.clone();
    // Its exit is recorded before the client sees the end: the docker CLI inspects it next.
    let recorded = async move {
        let _ = blocking(move || {
            engine.containers.exec_stream_ended(&id);
            Ok(())
        })
        .await;
    };
    let (backlog, conn, keys) = match started {
        Ok(stream) => (Vec::new(), stream.conn, stream.detach_keys),
        Err(e) => (start_failure_bytes(&e, check.tty), None, Vec::new()),
    };
    let Some(upgrade) = upgrade else {
        return Ok(output_as_body(backlog, std::future::ready(conn), recorded));
    };
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else {
            return;
        };
        let mut client = TokioIo::new(upgraded);
        let shim = conn.and_then(|conn| {
            conn.set_nonblocking(true).ok()?;
            tokio::net::UnixStream::from_std(conn).ok()
        });
        let Some(shim) = shim else {
            // A start that failed, or no stream asked for: only its message, if any.
            let _ = client.write_all(&backlog).await;
            let _ = client.shutdown().await;
            return;
        };
        bridge(client, shim, keys, recorded).await;
    });
    Ok(switching_protocols())
}

async fn resize(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Params,
) -> ApiResult<Response> {
    let dim = |name: &str| -> ApiResult<u16> {
        q.get(name)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| ApiError::bad_request(format!("invalid or missing {name}")))
    };
    let (rows, cols) = (dim("h")?, dim("w")?);
    let engine = s.engine.clone();
    blocking(move || engine.containers.exec_resize(&id, rows, cols)).await?;
    Ok(StatusCode::OK.into_response())
}

async fn inspect(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    let engine = s.engine.clone();
    let value = blocking(move || engine.containers.exec_inspect(&id)).await?;
    Ok((StatusCode::OK, axum::Json(value)).into_response())
}
