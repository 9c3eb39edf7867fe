//! Reading a container's json-file log (`{"log":…,"stream":…,"time":…}` per line) for
//! `GET /containers/{id}/logs`: filters, tail, timestamps, and the output framing.

use super::timefmt;
use crate::error::{Error, Result};
use berth_shim_protocol::{STREAM_STDERR, STREAM_STDOUT, frame_header};
use serde::Deserialize;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    pub stdout: bool,
    pub stderr: bool,
    /// Entries at or after this time (seconds, nanoseconds).
    pub since: Option<(i64, u32)>,
    /// Entries before this time.
    pub until: Option<(i64, u32)>,
    pub timestamps: bool,
    /// The last N entries only (None: all).
    pub tail: Option<usize>,
}

impl LogOptions {
    /// From the query's strings (`since`, `until`: Unix seconds or RFC 3339; `tail`: N or "all").
    pub fn parse(
        stdout: bool,
        stderr: bool,
        since: Option<&str>,
        until: Option<&str>,
        timestamps: bool,
        tail: Option<&str>,
    ) -> Result<Self> {
        let time = |name: &str, v: Option<&str>| -> Result<Option<(i64, u32)>> {
            match v.filter(|s| !s.is_empty() && *s != "0") {
                None => Ok(None),
                Some(s) => timefmt::parse_client_time(s)
                    .map(Some)
                    .ok_or_else(|| Error::invalid(format!("invalid value for {name}: {s:?}"))),
            }
        };
        let tail = match tail.filter(|t| !t.is_empty() && *t != "all") {
            None => None,
            Some(t) => match t.parse::<i64>() {
                Ok(n) if n < 0 => None,
                Ok(n) => Some(n as usize),
                Err(_) => return Err(Error::invalid(format!("invalid value for tail: {t:?}"))),
            },
        };
        Ok(LogOptions {
            stdout,
            stderr,
            since: time("since", since)?,
            until: time("until", until)?,
            timestamps,
            tail,
        })
    }
}

#[derive(Debug, Clone)]
pub struct LogEntry {
    pub stream: u8,
    pub line: String,
    pub time: (i64, u32),
}

#[derive(Deserialize)]
struct JsonLine {
    log: String,
    stream: String,
    time: String,
}

/// Reads complete entries from a log that may still be growing.
pub struct LogReader {
    path: PathBuf,
    file: Option<File>,
    offset: u64,
    partial: Vec<u8>,
}

impl LogReader {
    pub fn open(path: &Path) -> Self {
        LogReader {
            path: path.to_path_buf(),
            file: None,
            offset: 0,
            partial: Vec::new(),
        }
    }

    /// Entries written since the last call (a file not there yet has none).
    pub fn read_new(&mut self) -> Result<Vec<LogEntry>> {
        if self.file.is_none() {
            match File::open(&self.path) {
                Ok(f) => self.file = Some(f),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
                Err(e) => return Err(Error::context(format!("open {}", self.path.display()), e)),
            }
        }
        let Some(file) = self.file.as_mut() else {
            return Ok(Vec::new());
        };
        let ctx = |e| Error::context(format!("read {}", self.path.display()), e);
        file.seek(SeekFrom::Start(self.offset)).map_err(ctx)?;
        let mut buf = Vec::new();
        let n = file
            .read_to_end(&mut buf)
            .map_err(|e| Error::context("read log", e))?;
        self.offset += n as u64;
        self.partial.extend_from_slice(&buf);
        let mut out = Vec::new();
        let mut consumed = 0;
        while let Some(pos) = self.partial[consumed..].iter().position(|&b| b == b'\n') {
            let line = &self.partial[consumed..consumed + pos];
            consumed += pos + 1;
            if let Ok(entry) = serde_json::from_slice::<JsonLine>(line) {
                out.push(LogEntry {
                    stream: if entry.stream == "stderr" {
                        STREAM_STDERR
                    } else {
                        STREAM_STDOUT
                    },
                    line: entry.log,
                    time: timefmt::parse(&entry.time).unwrap_or((0, 0)),
                });
            }
        }
        self.partial.drain(..consumed);
        Ok(out)
    }
}

/// Keeps the entries `opts` selects by stream and time.
pub fn select(entries: Vec<LogEntry>, opts: &LogOptions) -> Vec<LogEntry> {
    let mut kept: Vec<LogEntry> = entries
        .into_iter()
        .filter(|e| {
            (e.stream == STREAM_STDOUT && opts.stdout) || (e.stream == STREAM_STDERR && opts.stderr)
        })
        .filter(|e| opts.since.is_none_or(|s| e.time >= s))
        .filter(|e| opts.until.is_none_or(|u| e.time < u))
        .collect();
    if let Some(n) = opts.tail {
        let skip = kept.len().saturating_sub(n);
        kept.drain(..skip);
    }
    kept
}

/// One entry as the client gets it: framed without a terminal, raw with one; with
/// `timestamps`, prefixed by its time in RFC 3339 with nine fraction digits.
pub fn encode(entry: &LogEntry, opts: &LogOptions, tty: bool) -> Vec<u8> {
    let mut payload = Vec::with_capacity(entry.line.len() + 32);
    if opts.timestamps {
        let t = timefmt::format_unix(entry.time.0, 0);
        payload.extend_from_slice(t.trim_end_matches('Z').as_bytes());
        payload.extend_from_slice(format!(".{:09}Z ", entry.time.1).as_bytes());
    }
    payload.extend_from_slice(entry.line.as_bytes());
    if tty {
        return payload;
    }
    let mut out = frame_header(entry.stream, payload.len()).to_vec();
    out.extend_from_slice(&payload);
    out
}
