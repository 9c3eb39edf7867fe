//! A small synchronous HTTP/1.1 client over a Unix socket: just what the Docker Engine API needs
//! (keep-alive, Content-Length and chunked bodies in both directions, and the `Upgrade: tcp`
//! hijack that attach uses). No runtime and no threads: a CLI run is a handful of requests.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

/// Where the daemon listens and how to open a connection to it.
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub socket: PathBuf,
}

impl Endpoint {
    pub fn connect(&self) -> io::Result<Conn> {
        let stream = UnixStream::connect(&self.socket).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "Cannot connect to the berth daemon at unix://{}. Is the daemon running? ({e})",
                    self.socket.display()
                ),
            )
        })?;
        Ok(Conn {
            reader: BufReader::with_capacity(64 * 1024, stream),
        })
    }
}

/// One connection. Requests on it are sequential; a response's body must be read to its end
/// before the next request is sent.
pub struct Conn {
    reader: BufReader<UnixStream>,
}

/// What a request carries.
pub enum Body<'a> {
    Empty,
    Json(Vec<u8>),
    /// Sent with `Transfer-Encoding: chunked`, read until EOF.
    Stream(&'a mut dyn Read, &'static str),
}

pub struct Response<'c> {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    body: BodyState,
    conn: &'c mut Conn,
}

/// A response head whose body has not been read yet.
pub struct Head {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    body: BodyState,
}

enum BodyState {
    Length(u64),
    /// Bytes left in the current chunk; `None` before the first chunk header.
    Chunked {
        left: u64,
        done: bool,
    },
    UntilClose,
}

impl Conn {
    /// Sends one request and reads the status line and headers of its response.
    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Body<'_>,
    ) -> io::Result<Response<'_>> {
        self.send(method, path, headers, body)?;
        let (status, headers) = self.read_head()?;
        let body = body_state(method, status, &headers)?;
        Ok(Response {
            status,
            headers,
            body,
            conn: self,
        })
    }

    /// Sends a bodiless request without reading the answer (see `read_response`).
    pub fn send_only(&mut self, method: &str, path: &str) -> io::Result<()> {
        self.send(method, path, &[], Body::Empty)
    }

    /// Reads the status and headers of the answer to a request sent with `send_only`; the
    /// body stays on the connection until `resume`.
    pub fn read_response_head(&mut self, method: &str) -> io::Result<Head> {
        let (status, headers) = self.read_head()?;
        let body = body_state(method, status, &headers)?;
        Ok(Head {
            status,
            headers,
            body,
        })
    }

    /// The response whose head `read_response_head` returned.
    pub fn resume(&mut self, head: Head) -> Response<'_> {
        Response {
            status: head.status,
            headers: head.headers,
            body: head.body,
            conn: self,
        }
    }

    /// Sends a request with `Upgrade: tcp`; on `101` the connection becomes a raw byte pipe,
    /// returned with whatever bytes the daemon already sent after the header.
    pub fn hijack(
        mut self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> io::Result<Hijacked> {
        let (content_type, body) = match body {
            Some(json) => ("application/json", Body::Json(json)),
            None => ("text/plain", Body::Empty),
        };
        self.send(
            method,
            path,
            &[
                ("Connection", "Upgrade"),
                ("Upgrade", "tcp"),
                ("Content-Type", content_type),
            ],
            body,
        )?;
        let (status, headers) = self.read_head()?;
        if status == 101 || status == 200 {
            let buffered = self.reader.buffer().to_vec();
            let stream = self.reader.into_inner();
            return Ok(Hijacked { stream, buffered });
        }
        let state = body_state(method, status, &headers)?;
        let mut response = Response {
            status,
            headers,
            body: state,
            conn: &mut self,
        };
        let text = response.text()?;
        Err(io::Error::other(HttpStatusError { status, body: text }))
    }

    fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Body<'_>,
    ) -> io::Result<()> {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: api.moby.localhost\r\nUser-Agent: berth/0.1\r\n"
        );
        for (name, value) in headers {
            head.push_str(name);
            head.push_str(": ");
            head.push_str(value);
            head.push_str("\r\n");
        }
        let stream = self.reader.get_mut();
        match body {
            Body::Empty => {
                head.push_str("Content-Length: 0\r\n\r\n");
                stream.write_all(head.as_bytes())
            }
            Body::Json(bytes) => {
                if !headers
                    .iter()
                    .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
                {
                    head.push_str("Content-Type: application/json\r\n");
                }
                head.push_str(&format!("Content-Length: {}\r\n\r\n", bytes.len()));
                let mut all = head.into_bytes();
                all.extend_from_slice(&bytes);
                stream.write_all(&all)
            }
            Body::Stream(reader, content_type) => {
                head.push_str(&format!(
                    "Content-Type: {content_type}\r\nTransfer-Encoding: chunked\r\n\r\n"
                ));
                stream.write_all(head.as_bytes())?;
                let mut buf = vec![0u8; 256 * 1024];
                loop {
                    let n = match reader.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(e),
                    };
                    let mut chunk = format!("{n:x}\r\n").into_bytes();
                    chunk.extend_from_slice(&buf[..n]);
                    chunk.extend_from_slice(b"\r\n");
                    stream.write_all(&chunk)?;
                }
                stream.write_all(b"0\r\n\r\n")
            }
        }
    }

    fn read_head(&mut self) -> io::Result<(u16, Vec<(String, String)>)> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the daemon closed the connection before answering",
            ));
        }
        let status = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(|| bad_data(format!("malformed HTTP status line {:?}", line.trim_end())))?;
        let mut headers = Vec::new();
        loop {
            line.clear();
            if self.reader.read_line(&mut line)? == 0 {
                return Err(bad_data(
                    "the daemon closed the connection inside a header".into(),
                ));
            }
            let trimmed = line.trim_end_matches(['\r', '\n']);
            if trimmed.is_empty() {
                break;
            }
            if let Some((name, value)) = trimmed.split_once(':') {
                headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
            }
        }
        Ok((status, headers))
    }
}

fn body_state(method: &str, status: u16, headers: &[(String, String)]) -> io::Result<BodyState> {
    if method == "HEAD" || status == 204 || status == 304 || (100..200).contains(&status) {
        return Ok(BodyState::Length(0));
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    if header("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")) {
        return Ok(BodyState::Chunked {
            left: 0,
            done: false,
        });
    }
    match header("content-length") {
        Some(v) => v
            .parse::<u64>()
            .map(BodyState::Length)
            .map_err(|_| bad_data(format!("malformed Content-Length {v:?}"))),
        None => Ok(BodyState::UntilClose),
    }
}

fn bad_data(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// A non-2xx answer to a hijack request.
#[derive(Debug)]
pub struct HttpStatusError {
    pub status: u16,
    pub body: String,
}

impl std::fmt::Display for HttpStatusError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "status {}: {}", self.status, self.body)
    }
}

impl std::error::Error for HttpStatusError {}

impl Response<'_> {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn body_bytes(&mut self) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        self.read_to_end(&mut out)?;
        Ok(out)
    }

    pub fn text(&mut self) -> io::Result<String> {
        let bytes = self.body_bytes()?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    fn next_chunk_size(&mut self) -> io::Result<u64> {
        let mut line = String::new();
        self.conn.reader.read_line(&mut line)?;
        let size = line.trim_end().split(';').next().unwrap_or("");
        u64::from_str_radix(size.trim(), 16)
            .map_err(|_| bad_data(format!("malformed chunk size {:?}", line.trim_end())))
    }
}

impl Read for Response<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        match self.body {
            BodyState::Length(0) => Ok(0),
            BodyState::Length(left) => {
                let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                let n = self.conn.reader.read(&mut buf[..want])?;
                if n == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the daemon closed the connection inside a response body",
                    ));
                }
                self.body = BodyState::Length(left - n as u64);
                Ok(n)
            }
            BodyState::Chunked { done: true, .. } => Ok(0),
            BodyState::Chunked { left, .. } => {
                let mut left = left;
                if left == 0 {
                    left = self.next_chunk_size()?;
                    if left == 0 {
                        // Trailers (none expected) up to the empty line.
                        loop {
                            let mut line = String::new();
                            if self.conn.reader.read_line(&mut line)? == 0
                                || line.trim_end().is_empty()
                            {
                                break;
                            }
                        }
                        self.body = BodyState::Chunked {
                            left: 0,
                            done: true,
                        };
                        return Ok(0);
                    }
                }
                let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                let n = self.conn.reader.read(&mut buf[..want])?;
                if n == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the daemon closed the connection inside a chunk",
                    ));
                }
                left -= n as u64;
                if left == 0 {
                    let mut crlf = [0u8; 2];
                    self.conn.reader.read_exact(&mut crlf)?;
                }
                self.body = BodyState::Chunked { left, done: false };
                Ok(n)
            }
            BodyState::UntilClose => self.conn.reader.read(buf),
        }
    }
}

/// A hijacked connection: raw bytes both ways.
pub struct Hijacked {
    pub stream: UnixStream,
    /// Bytes read past the 101 header before the hand-over.
    pub buffered: Vec<u8>,
}

impl Hijacked {
    /// A reader that yields the buffered bytes first, then the socket.
    pub fn reader(&self) -> io::Result<impl Read + use<>> {
        let stream = self.stream.try_clone()?;
        Ok(io::Cursor::new(self.buffered.clone()).chain(stream))
    }
}
