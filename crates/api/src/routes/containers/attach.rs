//! `POST /containers/{id}/attach`: the connection is hijacked (101 UPGRADED, as dockerd) and
//! bridged (`routes::hijack`) to an attach connection of the container's shim; the detach keys
//! (default ctrl-p,ctrl-q) end the session.

use super::{Params, flag};
use crate::AppState;
use crate::error::{ApiError, ApiResult, blocking};
use crate::routes::hijack::{bridge, output_as_body, switching_protocols};
use axum::extract::{Path, Query, Request, State};
use axum::http::header;
use axum::response::Response;
use berth_engine::containers::logs::{self, LogOptions, LogReader};
use berth_engine::containers::{AttachOptions, DEFAULT_DETACH_KEYS, parse_detach_keys};
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWriteExt;

/// The detach keys of a request, or the default; dockerd's 400 for a bad spec.
pub fn detach_keys(spec: Option<&String>) -> ApiResult<Vec<u8>> {
    let text = spec
        .map(String::as_str)
        .filter(|k| !k.is_empty())
        .unwrap_or(DEFAULT_DETACH_KEYS);
    parse_detach_keys(text)
        .ok_or_else(|| ApiError::bad_request(format!("Invalid detach keys ({text}) provided")))
}

pub async fn attach(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Params,
    mut req: Request,
) -> ApiResult<Response> {
    let keys = detach_keys(q.get("detachKeys"))?;
    let opts = AttachOptions {
        stdin: flag(&q, "stdin"),
        stdout: flag(&q, "stdout"),
        stderr: flag(&q, "stderr"),
    };
    let stream = flag(&q, "stream");
    // `logs`: what the log holds so far comes first.
    let backlog = if flag(&q, "logs") {
        let engine = s.engine.clone();
        let reference = id.clone();
        blocking(move || {
            let (_, path, tty) = engine.containers.log_path(&reference)?;
            let opts = LogOptions {
                stdout: opts.stdout,
                stderr: opts.stderr,
                ..LogOptions::default()
            };
            let entries = logs::select(LogReader::open(&path).read_new()?, &opts);
            Ok(entries
                .iter()
                .flat_map(|e| logs::encode(e, &opts, tty))
                .collect::<Vec<u8>>())
        })
        .await?
    } else {
        Vec::new()
    };
    let engine = s.engine.clone();
    let target = if stream {
        Some(blocking(move || engine.containers.attach(&id, opts)).await?)
    } else {
        None
    };
    if !req.headers().contains_key(header::UPGRADE) {
        let shim = async move { target?.conn.await.ok() };
        return Ok(output_as_body(backlog, shim, std::future::ready(())));
    }
    let upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else {
            return;
        };
        let mut upgraded = TokioIo::new(upgraded);
        if upgraded.write_all(&backlog).await.is_err() {
            return;
        }
        let Some(target) = target else {
            let _ = upgraded.shutdown().await;
            return;
        };
        let Ok(shim) = target.conn.await else {
            // The start failed or the container went away: end the stream.
            return;
        };
        if shim.set_nonblocking(true).is_err() {
            return;
        }
        let Ok(shim) = tokio::net::UnixStream::from_std(shim) else {
            return;
        };
        bridge(upgraded, shim, keys, std::future::ready(())).await;
    });
    Ok(switching_protocols())
}

#[cfg(test)]
mod tests {
    #[test]
    fn detach_keys() {
        assert_eq!(super::detach_keys(None).unwrap(), vec![16, 17]);
        assert_eq!(
            super::detach_keys(Some(&"a,ctrl-@".to_string())).unwrap(),
            vec![b'a', 0]
        );
        assert!(super::detach_keys(Some(&"ctrl-pp".to_string())).is_err());
    }
}
