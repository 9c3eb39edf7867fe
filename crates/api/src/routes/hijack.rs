//! Hijacked streams (attach, exec start): the `101 UPGRADED` answer and the bridge between the
//! client's connection and the shim's stream. The shim already writes Docker's 8-byte frames
//! for a process without a terminal, so output is copied as is; input is forwarded raw, minus
//! the detach keys, which end the session.

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::Response;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// dockerd's answer to a hijack: a raw byte pipe both ways from the next byte on.
pub fn switching_protocols() -> Response {
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONTENT_TYPE, "application/vnd.docker.raw-stream")
        .header(header::CONNECTION, "Upgrade")
        .header(header::UPGRADE, "tcp")
        .body(Body::empty())
        .unwrap_or_default()
}

/// A client that did not ask to upgrade (curl, some libraries): dockerd hijacks the connection
/// anyway and answers 200; over hyper the same bytes go out as the response body: `backlog`,
/// then what the shim's stream carries once `shim` gives it. Output only: such a connection
/// has no way to carry input. `before_close` runs once the output has ended.
pub fn output_as_body<S, F>(backlog: Vec<u8>, shim: S, before_close: F) -> Response
where
    S: std::future::Future<Output = Option<std::os::unix::net::UnixStream>> + Send + 'static,
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, mut rx) = tokio::sync::mpsc::channel::<bytes::Bytes>(16);
    tokio::spawn(async move {
        if !backlog.is_empty() && tx.send(bytes::Bytes::from(backlog)).await.is_err() {
            return;
        }
        let Some(shim) = shim.await else {
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
                    Ok(0) | Err(_) => break,
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
        before_close.await;
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

/// Copies both ways until the process's output ends or the client detaches with `keys`
/// (empty: no detach keys). A client's half-close is passed on (the shim closes the process's
/// stdin). `before_close` runs once the output has ended, before the client sees the end.
pub async fn bridge<C, F>(client: C, shim: tokio::net::UnixStream, keys: Vec<u8>, before_close: F)
where
    C: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    F: std::future::Future<Output = ()>,
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
        before_close.await;
        let _ = client_write.shutdown().await;
    };
    tokio::select! {
        () = input => {}
        () = output => {}
    }
}
