//! Bodies that run beside a blocking engine call: a response body fed from a `Write` on a
//! blocking thread, and a request body read as a `Read` there, so that large archives stream
//! through in both directions without being held in memory.

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http_body_util::BodyExt;
use std::io::{Read, Write};
use tokio::sync::mpsc;

/// A response body fed by the chunks sent on `rx`.
pub fn body_of(rx: mpsc::Receiver<Bytes>) -> Body {
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|chunk| (Ok::<_, std::convert::Infallible>(chunk), rx))
    });
    Body::from_stream(stream)
}

/// `200` with `content_type` and the body fed by `rx`.
pub fn stream_response(content_type: &'static str, rx: mpsc::Receiver<Bytes>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, content_type)],
        body_of(rx),
    )
        .into_response()
}

/// A `Write` that hands chunks to the response body; fails once the client is gone.
pub struct ChannelWriter(pub mpsc::Sender<Bytes>);

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .blocking_send(Bytes::copy_from_slice(buf))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away"))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A `Read` of a request body, for a blocking thread; the body is pumped by a task started
/// with [`ChannelReader::spawn`].
pub struct ChannelReader {
    rx: mpsc::Receiver<Result<Bytes, String>>,
    chunk: Bytes,
}

impl ChannelReader {
    /// Starts reading `body` on the runtime, a few chunks ahead of the reader.
    pub fn spawn(body: Body) -> ChannelReader {
        let (tx, rx) = mpsc::channel(8);
        tokio::spawn(async move {
            let mut body = body;
            while let Some(frame) = body.frame().await {
                let item = match frame {
                    Ok(frame) => match frame.into_data() {
                        Ok(data) => Ok(data),
                        Err(_) => continue,
                    },
                    Err(e) => Err(format!("read the request body: {e}")),
                };
                let failed = item.is_err();
                if tx.send(item).await.is_err() || failed {
                    return;
                }
            }
        });
        ChannelReader {
            rx,
            chunk: Bytes::new(),
        }
    }

    /// Reads and drops what is left of the body, so that the client, still sending, gets to
    /// read the answer.
    pub fn drain(&mut self) {
        while let Some(Ok(_)) = self.rx.blocking_recv() {}
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.chunk.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(chunk)) => self.chunk = chunk,
                Some(Err(message)) => return Err(std::io::Error::other(message)),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk[..n]);
        self.chunk = self.chunk.slice(n..);
        Ok(n)
    }
}
