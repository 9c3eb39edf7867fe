//! `POST /containers/{id}/attach`: the connection is hijacked (101 UPGRADED, as dockerd) and
//! bridged to an attach connection of the container's shim. The shim already writes Docker's
//! 8-byte frames for a container without a terminal, so output is copied as is; input is
//! forwarded raw, minus the detach keys (default ctrl-p,ctrl-q), which end the session.

use super::{Params, flag};
use crate::AppState;
use crate::error::{ApiError, ApiResult, blocking};
use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use berth_engine::containers::AttachOptions;
use berth_engine::containers::logs::{self, LogOptions, LogReader};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const DEFAULT_DETACH_KEYS: &str = "ctrl-p,ctrl-q";

/// Docker's detach-key syntax: comma-separated `ctrl-X` or single characters.
pub fn parse_detach_keys(text: &str) -> ApiResult<Vec<u8>> {
    let bad = || ApiError::bad_request(format!("Invalid detach keys ({text}) provided"));
    let mut out = Vec::new();
    for key in text.split(',') {
        let lower = key.to_ascii_lowercase();
        if let Some(c) = lower.strip_prefix("ctrl-") {
            let c = match c.as_bytes() {
                [c @ b'a'..=b'z'] => c - b'a' + 1,
                [b'@'] => 0,
                [b'['] => 27,
                [b'\\'] => 28,
                [b']'] => 29,
                [b'^'] => 30,
                [b'_'] => 31,
                _ => return Err(bad()),
            };
            out.push(c);
        } else if key.len() == 1 {
            out.push(key.as_bytes()[0]);
        } else {
            return Err(bad());
        }
    }
    Ok(out)
}

pub async fn attach(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Params,
    mut req: Request,
) -> ApiResult<Response> {
    let keys = match q.get("detachKeys").filter(|k| !k.is_empty()) {
        Some(k) => parse_detach_keys(k)?,
        None => parse_detach_keys(DEFAULT_DETACH_KEYS)?,
    };
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
        return Ok(without_upgrade(backlog, target));
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
        bridge(upgraded, shim, keys).await;
    });
    Ok(Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONTENT_TYPE, "application/vnd.docker.raw-stream")
        .header(header::CONNECTION, "Upgrade")
        .header(header::UPGRADE, "tcp")
        .body(Body::empty())
        .unwrap_or_default())
}

/// A client that did not ask to upgrade (curl, some libraries): dockerd hijacks the connection
/// anyway and answers 200; over hyper the same bytes go out as the response body. Output only:
/// such a connection has no way to carry input.
fn without_upgrade(
    backlog: Vec<u8>,
    target: Option<berth_engine::containers::AttachStream>,
) -> Response {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<bytes::Bytes>(16);
    tokio::spawn(async move {
        if !backlog.is_empty() && tx.send(bytes::Bytes::from(backlog)).await.is_err() {
            return;
        }
        let Some(target) = target else {
            return;
        };
        let Ok(shim) = target.conn.await else {
            return;
        };
        if shim.set_nonblocking(true).is_err() {
            return;
        }
        let Ok(mut shim) = tokio::net::UnixStream::from_std(shim) else {
            return;
        };
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = tokio::select! {
                read = shim.read(&mut buf) => match read {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                },
                () = tx.closed() => return,
            };
            if tx
                .send(bytes::Bytes::copy_from_slice(&buf[..n]))
                .await
                .is_err()
            {
                return;
            }
        }
    });
    let stream = futures_util::stream::poll_fn(move |cx| {
        rx.poll_recv(cx)
            .map(|b| b.map(Ok::<_, std::convert::Infallible>))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/vnd.docker.raw-stream")
        .body(Body::from_stream(stream))
        .unwrap_or_default()
}

/// Copies both ways until the container's output ends or the client detaches. A client's
/// half-close is passed on (the shim closes the container's stdin for StdinOnce).
async fn bridge<C>(client: C, shim: tokio::net::UnixStream, keys: Vec<u8>)
where
    C: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (mut client_read, mut client_write) = tokio::io::split(client);
    let (mut shim_read, mut shim_write) = shim.into_split();
    let input = async {
        let mut buf = vec![0u8; 8192];
        let mut matched = 0usize;
        loop {
            let n = match client_read.read(&mut buf).await {
                Ok(0) | Err(_) => {
                    let _ = shim_write.shutdown().await;
                    // Keep the output side going: wait forever here.
                    std::future::pending::<()>().await;
                    return;
                }
                Ok(n) => n,
            };
            let mut out = Vec::with_capacity(n);
            for &b in &buf[..n] {
                if !keys.is_empty() && b == keys[matched] {
                    matched += 1;
                    if matched == keys.len() {
                        let _ = shim_write.write_all(&out).await;
                        return;
                    }
                    continue;
                }
                out.extend_from_slice(&keys[..matched]);
                matched = 0;
                if !keys.is_empty() && b == keys[0] {
                    matched = 1;
                    continue;
                }
                out.push(b);
            }
            if shim_write.write_all(&out).await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    };
    let output = async {
        let _ = tokio::io::copy(&mut shim_read, &mut client_write).await;
        let _ = client_write.shutdown().await;
    };
    tokio::select! {
        () = input => {}
        () = output => {}
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn detach_keys() {
        assert_eq!(
            super::parse_detach_keys("ctrl-p,ctrl-q").unwrap(),
            vec![16, 17]
        );
        assert_eq!(super::parse_detach_keys("a,ctrl-@").unwrap(), vec![b'a', 0]);
        assert!(super::parse_detach_keys("ctrl-pp").is_err());
    }
}
