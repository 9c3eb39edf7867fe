//! `GET /containers/{id}/top` and `GET /containers/{id}/stats` (one reading, or a stream of one
//! reading a second).

use super::{Params, flag};
use crate::AppState;
use crate::error::{ApiResult, blocking};
use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::time::Duration;

/// Between the two readings of a `stream=false` answer, whose CPU percentage needs a pair.
const PAIR_GAP: Duration = Duration::from_millis(100);
const STREAM_PERIOD: Duration = Duration::from_secs(1);

pub async fn top(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Params,
) -> ApiResult<Json<serde_json::Value>> {
    let args = q.get("ps_args").cloned().unwrap_or_default();
    let engine = s.engine.clone();
    Ok(Json(
        blocking(move || engine.containers.top(&id, &args)).await?,
    ))
}

pub async fn stats(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Params,
) -> ApiResult<Response> {
    let stream = q.get("stream").is_none_or(|_| flag(&q, "stream"));
    let engine = s.engine.clone();
    let reference = id.clone();
    let first = blocking(move || engine.containers.stats(&reference)).await?;
    if !stream {
        let body = if flag(&q, "one-shot") {
            first.json(None)
        } else {
            tokio::time::sleep(PAIR_GAP).await;
            let engine = s.engine.clone();
            let second = blocking(move || engine.containers.stats(&id)).await?;
            second.json(Some(&first))
        };
        return Ok(Json(body).into_response());
    }
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(2);
    let engine = s.engine.clone();
    tokio::spawn(async move {
        let mut previous: Option<berth_engine::containers::StatsSample> = None;
        let mut current = first;
        loop {
            let mut line = serde_json::to_vec(&current.json(previous.as_ref())).unwrap_or_default();
            line.push(b'\n');
            if tx.send(Bytes::from(line)).await.is_err() {
                return;
            }
            tokio::select! {
                () = tokio::time::sleep(STREAM_PERIOD) => {}
                () = tx.closed() => return,
            }
            let running = engine.containers.is_running(&id);
            let reference = id.clone();
            let e = engine.clone();
            let next =
                match tokio::task::spawn_blocking(move || e.containers.stats(&reference)).await {
                    Ok(Ok(sample)) => sample,
                    _ => return,
                };
            previous = Some(std::mem::replace(&mut current, next));
            if !running {
                return;
            }
        }
    });
    let body = futures_util::stream::poll_fn(move |cx| {
        rx.poll_recv(cx)
            .map(|b| b.map(Ok::<_, std::convert::Infallible>))
    });
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(body))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response()))
}
