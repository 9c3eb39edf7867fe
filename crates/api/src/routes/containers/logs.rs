//! `GET /containers/{id}/logs`: the json-file log, framed without a terminal, raw with one;
//! with `follow`, new entries until the container has exited and the log is drained.

use super::{Params, flag};
use crate::AppState;
use crate::error::{ApiError, ApiResult, blocking};
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use berth_engine::containers::logs::{self, LogOptions, LogReader};
use std::time::Duration;

const POLL: Duration = Duration::from_millis(100);

pub async fn logs(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Params,
) -> ApiResult<Response> {
    let (stdout, stderr) = (flag(&q, "stdout"), flag(&q, "stderr"));
    if !stdout && !stderr {
        return Err(ApiError::bad_request("You must choose at least one stream"));
    }
    let opts = LogOptions::parse(
        stdout,
        stderr,
        q.get("since").map(String::as_str),
        q.get("until").map(String::as_str),
        flag(&q, "timestamps"),
        q.get("tail").map(String::as_str),
    )?;
    let follow = flag(&q, "follow") && opts.until.is_none();
    let engine = s.engine.clone();
    let (id, path, tty) = blocking(move || engine.containers.log_path(&id)).await?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(16);
    let engine = s.engine.clone();
    tokio::spawn(async move {
        let mut reader = LogReader::open(&path);
        let first = match reader.read_new() {
            Ok(entries) => logs::select(entries, &opts),
            Err(_) => return,
        };
        for entry in &first {
            if tx
                .send(Bytes::from(logs::encode(entry, &opts, tty)))
                .await
                .is_err()
            {
                return;
            }
        }
        if !follow {
            return;
        }
        let live = LogOptions {
            tail: None,
            ..opts.clone()
        };
        loop {
            let running = engine.containers.is_running(&id);
            let entries = match reader.read_new() {
                Ok(e) => logs::select(e, &live),
                Err(_) => return,
            };
            for entry in &entries {
                if tx
                    .send(Bytes::from(logs::encode(entry, &live, tty)))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            // Read once more after the exit was seen: that read drains the log.
            if !running {
                return;
            }
            tokio::select! {
                _ = tokio::time::sleep(POLL) => {}
                _ = tx.closed() => return,
            }
        }
    });
    let stream = futures_util::stream::poll_fn(move |cx| {
        rx.poll_recv(cx)
            .map(|b| b.map(Ok::<_, std::convert::Infallible>))
    });
    Ok((StatusCode::OK, Body::from_stream(stream)).into_response())
}
