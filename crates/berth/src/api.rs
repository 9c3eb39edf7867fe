//! The Docker Engine API as `berth` uses it: version negotiation, JSON requests, and daemon
//! errors turned into docker's "Error response from daemon: MSG".

use std::fmt;
use std::io;

use serde_json::Value;

use crate::http::{Body, Conn, Endpoint, Response};

/// The newest API version whose semantics berth speaks.
pub const CLIENT_API_VERSION: &str = "1.41";

/// Why a command failed, and how docker would report it.
#[derive(Debug)]
pub enum CliError {
    /// The daemon answered with an error status; printed as "Error response from daemon: MSG".
    Daemon { status: u16, message: String },
    /// A client-side failure, printed as it is.
    Message(String),
}

impl CliError {
    pub fn msg(text: impl Into<String>) -> CliError {
        CliError::Message(text.into())
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Daemon { message, .. } => write!(f, "Error response from daemon: {message}"),
            CliError::Message(m) => f.write_str(m),
        }
    }
}

impl From<io::Error> for CliError {
    fn from(e: io::Error) -> Self {
        CliError::Message(e.to_string())
    }
}

pub type Result<T> = std::result::Result<T, CliError>;

/// The message inside a daemon error body: `{"message": …}` or plain text.
pub fn error_message(body: &[u8]) -> String {
    if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body)
        && let Some(Value::String(m)) = map.get("message")
    {
        return m.clone();
    }
    String::from_utf8_lossy(body).trim().to_string()
}

pub struct Client {
    endpoint: Endpoint,
    version: String,
    conn: Option<Conn>,
}

impl Client {
    /// Connects and negotiates the API version with `HEAD /_ping` (`GET` when HEAD is refused).
    pub fn connect(endpoint: Endpoint) -> Result<Client> {
        let mut conn = endpoint.connect()?;
        let mut advertised = None;
        for method in ["HEAD", "GET"] {
            let mut response = conn.request(method, "/_ping", &[], Body::Empty)?;
            let status = response.status;
            let version = response.header("api-version").map(str::to_string);
            response.body_bytes()?;
            if status == 200 || status == 500 {
                advertised = version;
                break;
            }
        }
        let version = negotiate(advertised.as_deref());
        Ok(Client {
            endpoint,
            version,
            conn: Some(conn),
        })
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// `/v1.41/...` for an API path.
    pub fn path(&self, path: &str) -> String {
        format!("/v{}{}", self.version, path)
    }

    /// A fresh connection for streams that run beside the main one (wait, attach, start).
    pub fn open(&self) -> Result<Conn> {
        Ok(self.endpoint.connect()?)
    }

    fn conn(&mut self) -> Result<&mut Conn> {
        if self.conn.is_none() {
            self.conn = Some(self.endpoint.connect()?);
        }
        // Just filled above.
        self.conn
            .as_mut()
            .ok_or_else(|| CliError::msg("no connection to the daemon"))
    }

    /// Sends a request on the main connection; an error status becomes `CliError::Daemon`.
    pub fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Body<'_>,
    ) -> Result<Response<'_>> {
        let full = self.path(path);
        let conn = self.conn()?;
        let mut response = conn.request(method, &full, headers, body)?;
        if response.status >= 400 {
            let status = response.status;
            let bytes = response.body_bytes()?;
            return Err(CliError::Daemon {
                status,
                message: error_message(&bytes),
            });
        }
        Ok(response)
    }

    pub fn get_json(&mut self, path: &str) -> Result<Value> {
        let mut response = self.send("GET", path, &[], Body::Empty)?;
        parse_json(&response.body_bytes()?)
    }

    pub fn post_json(&mut self, path: &str, body: Option<&Value>) -> Result<Value> {
        let body = match body {
            Some(v) => Body::Json(serde_json::to_vec(v).map_err(|e| CliError::msg(e.to_string()))?),
            None => Body::Empty,
        };
        let mut response = self.send("POST", path, &[], body)?;
        let bytes = response.body_bytes()?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        parse_json(&bytes)
    }

    pub fn post(&mut self, path: &str) -> Result<()> {
        self.send("POST", path, &[], Body::Empty)?.body_bytes()?;
        Ok(())
    }

    pub fn delete_json(&mut self, path: &str) -> Result<Value> {
        let mut response = self.send("DELETE", path, &[], Body::Empty)?;
        let bytes = response.body_bytes()?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        parse_json(&bytes)
    }
}

pub fn parse_json(bytes: &[u8]) -> Result<Value> {
    serde_json::from_slice(bytes)
        .map_err(|e| CliError::msg(format!("malformed JSON from the daemon: {e}")))
}

/// min(client version, daemon's advertised version); 1.24 when the daemon advertises none,
/// as docker does.
pub fn negotiate(advertised: Option<&str>) -> String {
    let Some(advertised) = advertised.filter(|v| parse_version(v).is_some()) else {
        return "1.24".to_string();
    };
    if parse_version(advertised) < parse_version(CLIENT_API_VERSION) {
        advertised.to_string()
    } else {
        CLIENT_API_VERSION.to_string()
    }
}

fn parse_version(v: &str) -> Option<(u32, u32)> {
    let (major, minor) = v.trim().split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// Percent-encodes a query value.
pub fn query_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Path segments (names, IDs, image references) escaped so `/` inside a reference survives.
pub fn path_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'_'
            | b'.'
            | b'~'
            | b':'
            | b'/'
            | b'@' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Builds `?a=b&c=d` from pairs (empty when there are none).
pub fn query(pairs: &[(&str, String)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", query_escape(v)))
        .collect();
    format!("?{}", parts.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_takes_the_lower_version() {
        assert_eq!(negotiate(Some("1.41")), "1.41");
        assert_eq!(negotiate(Some("1.50")), "1.41");
        assert_eq!(negotiate(Some("1.40")), "1.40");
        assert_eq!(negotiate(Some("1.9")), "1.9");
        assert_eq!(negotiate(None), "1.24");
        assert_eq!(negotiate(Some("junk")), "1.24");
    }

    #[test]
    fn error_bodies() {
        assert_eq!(
            error_message(br#"{"message":"No such container: x"}"#),
            "No such container: x"
        );
        assert_eq!(error_message(b"plain text\n"), "plain text");
    }

    #[test]
    fn query_strings() {
        assert_eq!(
            query(&[("filters", r#"{"a":["b"]}"#.into()), ("all", "1".into())]),
            "?filters=%7B%22a%22%3A%5B%22b%22%5D%7D&all=1"
        );
        assert_eq!(query(&[]), "");
    }
}
