//! A container's files from the outside: `cp` both ways (`-a`, `-L`, `-` streams; running,
//! created and exited containers), the archive API's stat header and status codes, crafted
//! tars and symlinks that try to reach the host, `diff`, `export` and `commit`.

mod api;
mod cp;
mod escapes;
mod layers;

use crate::common::*;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

pub const T: Duration = Duration::from_secs(30);

/// One HTTP/1.0 request (so that no answer is chunked): status, headers (lowercase names),
/// body.
pub fn request(
    d: &Daemon,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut s = UnixStream::connect(&d.socket).expect("connect to the daemon");
    s.set_read_timeout(Some(T)).unwrap();
    let mut head = format!("{method} /v1.41{path} HTTP/1.0\r\nHost: localhost\r\n");
    if let Some(b) = body {
        head.push_str(&format!(
            "Content-Type: application/x-tar\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    if let Some(b) = body {
        let _ = s.write_all(b);
    }
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("{method} {path}: no HTTP answer: {raw:?}"));
    let text = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = text.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers, raw[split + 4..].to_vec())
}

pub fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let digits: Vec<u8> = text.bytes().filter(|&c| c != b'=').map(value).collect();
    let mut out = Vec::new();
    for chunk in digits.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &d)| n | u32::from(d) << (18 - 6 * i));
        for i in 0..chunk.len().saturating_sub(1) {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    out
}

/// The decoded `X-Docker-Container-Path-Stat` of a `HEAD`, or the status when it failed.
pub fn stat(d: &Daemon, container: &str, path: &str) -> Result<serde_json::Value, u16> {
    let (status, headers, _) = request(
        d,
        "HEAD",
        &format!("/containers/{container}/archive?path={path}"),
        None,
    );
    if status != 200 {
        return Err(status);
    }
    let header = headers
        .iter()
        .find(|(k, _)| k == "x-docker-container-path-stat")
        .map(|(_, v)| v.clone())
        .expect("200 without X-Docker-Container-Path-Stat");
    Ok(serde_json::from_slice(&base64_decode(&header)).expect("stat header JSON"))
}

/// (name, uid, gid, mode, data) of each entry of `GET .../archive?path=`.
pub fn archive(d: &Daemon, container: &str, path: &str) -> Vec<(String, u64, u64, u32, Vec<u8>)> {
    let (status, _, body) = request(
        d,
        "GET",
        &format!("/containers/{container}/archive?path={path}"),
        None,
    );
    assert_eq!(
        status,
        200,
        "GET archive {path}: {}",
        String::from_utf8_lossy(&body)
    );
    entries(&body)
}

pub fn entries(tar_bytes: &[u8]) -> Vec<(String, u64, u64, u32, Vec<u8>)> {
    let mut a = tar::Archive::new(tar_bytes);
    a.entries()
        .expect("a tar")
        .map(|e| {
            let mut e = e.expect("a tar entry");
            let h = e.header().clone();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            (
                String::from_utf8_lossy(&e.path_bytes()).into_owned(),
                h.uid().unwrap(),
                h.gid().unwrap(),
                h.mode().unwrap() & 0o7777,
                data,
            )
        })
        .collect()
}

/// Waits until `path` exists in the running container (its setup script wrote it).
pub fn wait_path(d: &Daemon, container: &str, path: &str) {
    let found = wait_for(T, || stat(d, container, path).ok());
    assert!(found.is_some(), "{path} never appeared in {container}");
}

/// A sleeping container that ran `script` first, and has /tmp/ready once done.
pub fn sleeper(d: &Daemon, name: &str, extra: &[&str], script: &str) {
    let script = format!("{script}; touch /tmp/ready; exec sleep 1000");
    let mut args = vec!["run", "-d", "--name", name];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["busybox", "sh", "-c", &script]);
    d.client().ok(&args);
    wait_path(d, name, "/tmp/ready");
}

pub fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().mode() & 0o7777
}
