//! A container's files: the archive API (`HEAD`/`GET`/`PUT /containers/{id}/archive`),
//! `GET /containers/{id}/export`, `GET /containers/{id}/changes` and `POST /commit`.
//! Archives stream both ways: the engine writes into the response body and reads the request
//! body as they go, on a blocking thread.

use crate::AppState;
use crate::body::{ChannelReader, ChannelWriter, body_of};
use crate::error::{ApiError, ApiResult, blocking};
use crate::routes::images::Query;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use berth_engine::containers::options::Config;
use berth_engine::containers::{CommitOptions, PathStat};
use std::io::Write;
use tokio::sync::{mpsc, oneshot};

const STAT_HEADER: &str = "X-Docker-Container-Path-Stat";

/// The stat header's value: base64 of the stat's JSON.
fn stat_header(stat: &PathStat) -> ApiResult<HeaderValue> {
    let json = serde_json::to_vec(stat).map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("encode the path stat: {e}"),
        )
    })?;
    HeaderValue::from_str(&base64(&json)).map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("stat header: {e}"),
        )
    })
}

/// Standard base64 with padding.
fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn path_of(query: &Query) -> String {
    query.get("path").unwrap_or("").to_string()
}

pub async fn archive_head(
    State(s): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let path = path_of(&Query::parse(q));
    let engine = s.engine.clone();
    let stat = blocking(move || engine.containers.stat_path(&id, &path)).await?;
    with_stat(StatusCode::OK.into_response(), &stat)
}

fn with_stat(mut response: Response, stat: &PathStat) -> ApiResult<Response> {
    response
        .headers_mut()
        .insert(STAT_HEADER, stat_header(stat)?);
    Ok(response)
}

/// Runs a streaming engine call on a blocking thread: `ready` (called by the engine once the
/// request is known to succeed) gives the response's head; the rest is the body.
async fn stream<T: Send + 'static>(
    call: impl FnOnce(&mut dyn FnMut(T), &mut dyn Write) -> berth_engine::Result<()> + Send + 'static,
) -> ApiResult<(T, Body)> {
    let (head_tx, head_rx) = oneshot::channel::<berth_engine::Result<T>>();
    let (tx, rx) = mpsc::channel::<Bytes>(16);
    tokio::task::spawn_blocking(move || {
        let mut head_tx = Some(head_tx);
        let mut out = std::io::BufWriter::with_capacity(256 * 1024, ChannelWriter(tx));
        let mut ready = |head: T| {
            if let Some(tx) = head_tx.take() {
                let _ = tx.send(Ok(head));
            }
        };
        let result = call(&mut ready, &mut out).and_then(|()| {
            out.flush()
                .map_err(|e| berth_engine::Error::context("send the archive", e))
        });
        if let Err(e) = result {
            match head_tx.take() {
                Some(tx) => {
                    let _ = tx.send(Err(e));
                }
                // The head is gone: the client sees a cut stream, as with dockerd.
                None => tracing::warn!("archive stream stopped: {e}"),
            }
        }
    });
    match head_rx.await {
        Ok(Ok(head)) => Ok((head, body_of(rx))),
        Ok(Err(e)) => Err(ApiError::from(e)),
        Err(_) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the archive task ended without an answer",
        )),
    }
}

pub async fn archive_get(
    State(s): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let path = path_of(&Query::parse(q));
    let engine = s.engine.clone();
    let (stat, body) = stream(move |ready, out| {
        engine
            .containers
            .archive_path(&id, &path, &mut |stat| ready(stat.clone()), out)
    })
    .await?;
    let response = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/x-tar")],
        body,
    )
        .into_response();
    with_stat(response, &stat)
}

pub async fn archive_put(
    State(s): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    body: Body,
) -> ApiResult<Response> {
    let query = Query::parse(q);
    let path = path_of(&query);
    let copy_uid_gid = query.flag("copyUIDGID");
    let no_overwrite = query.flag("noOverwriteDirNonDir");
    let mut content = ChannelReader::spawn(body);
    let engine = s.engine.clone();
    blocking(move || {
        let result =
            engine
                .containers
                .extract_to_dir(&id, &path, copy_uid_gid, no_overwrite, &mut content);
        if result.is_err() {
            content.drain();
        }
        result
    })
    .await?;
    Ok(StatusCode::OK.into_response())
}

pub async fn export(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    let engine = s.engine.clone();
    let ((), body) =
        stream(move |ready, out| engine.containers.export(&id, &mut || ready(()), out)).await?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/octet-stream")],
        body,
    )
        .into_response())
}

pub async fn changes(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    let engine = s.engine.clone();
    let changes = blocking(move || engine.containers.changes(&id)).await?;
    /// One change, its fields in dockerd's order.
    #[derive(serde::Serialize)]
    struct ChangeJson {
        #[serde(rename = "Path")]
        path: String,
        #[serde(rename = "Kind")]
        kind: u8,
    }
    let body: Vec<ChangeJson> = changes
        .iter()
        .map(|c| ChangeJson {
            path: c.absolute(),
            kind: c.kind as u8,
        })
        .collect();
    // dockerd answers `null` for no changes.
    Ok(axum::Json((!body.is_empty()).then_some(body)).into_response())
}

pub async fn commit(
    State(s): State<AppState>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> ApiResult<Response> {
    let query = Query::parse(q);
    let container = query.get("container").unwrap_or("").to_string();
    let text = |k: &str| query.get(k).unwrap_or("").to_string();
    let config = match body.iter().all(u8::is_ascii_whitespace) {
        true => None,
        false => serde_json::from_slice::<Option<Config>>(&body)
            .map_err(|e| ApiError::bad_request(format!("invalid JSON in the commit body: {e}")))?,
    };
    let options = CommitOptions {
        repo: query.get("repo").map(str::to_string),
        tag: query.get("tag").map(str::to_string),
        comment: text("comment"),
        author: text("author"),
        pause: query.get("pause").is_none_or(|_| query.flag("pause")),
        changes: query.all("changes"),
        config,
    };
    let engine = s.engine.clone();
    let id = blocking(move || engine.containers.commit(&container, &options)).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(serde_json::json!({ "Id": id })),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::base64;

    #[test]
    fn base64_matches_the_standard_encoding() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"{}"), "e30=");
    }
}
