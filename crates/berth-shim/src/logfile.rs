//! The container's output in Docker's json-file format, one entry a line:
//! `{"log":"text\n","stream":"stdout","time":"2026-12-02T18:00:00.123456789Z"}`.
//!
//! As Docker's copier does, a line longer than [`MAX_ENTRY`] bytes is cut into entries of that
//! size whose `log` has no trailing `\n` (partial entries; the last piece has it), every piece
//! carrying the time of the first; what is left without a newline at end of stream is one last
//! partial entry. Rotation (max-size, max-file) is a later step: it would sit in `append`.

use std::fs::File;
use std::io::Write;

/// Docker's copier buffer: the longest `log` value of one entry.
pub const MAX_ENTRY: usize = 16 * 1024;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Stream {
    Stdout = 0,
    Stderr = 1,
}

impl Stream {
    fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

#[derive(Default)]
struct Pending {
    bytes: Vec<u8>,
    /// The time of the first partial entry of the line being cut, if it is being cut.
    partial_time: Option<String>,
}

pub struct JsonLog {
    file: Option<File>,
    pending: [Pending; 2],
    entry: Vec<u8>,
    /// Set once a write failed (disk full...): reported once, then output is dropped, never blocked on.
    failed: bool,
}

impl JsonLog {
    /// `file` None: the `none` driver, output only reaches attached clients.
    pub fn new(file: Option<File>) -> Self {
        JsonLog {
            file,
            pending: Default::default(),
            entry: Vec::new(),
            failed: false,
        }
    }

    pub fn write(&mut self, stream: Stream, mut data: &[u8]) {
        if self.file.is_none() {
            return;
        }
        while !data.is_empty() {
            let pending = &mut self.pending[stream as usize];
            let room = MAX_ENTRY - pending.bytes.len();
            let take = data.len().min(room);
            match data[..take].iter().position(|b| *b == b'\n') {
                Some(i) => {
                    pending.bytes.extend_from_slice(&data[..=i]);
                    data = &data[i + 1..];
                    self.emit(stream, true);
                }
                None => {
                    pending.bytes.extend_from_slice(&data[..take]);
                    data = &data[take..];
                    if pending.bytes.len() == MAX_ENTRY {
                        self.emit(stream, false);
                    }
                }
            }
        }
    }

    /// End of one stream: what is left is a last partial entry.
    pub fn finish(&mut self, stream: Stream) {
        if !self.pending[stream as usize].bytes.is_empty() {
            self.emit(stream, false);
        }
        self.pending[stream as usize] = Pending::default();
    }

    /// Writes the pending bytes of `stream` as one entry; `complete` when they end the line
    /// (they then end with the `\n` itself).
    fn emit(&mut self, stream: Stream, complete: bool) {
        let pending = &mut self.pending[stream as usize];
        let time = match (complete, pending.partial_time.take()) {
            (true, Some(t)) => t,
            (false, Some(t)) => {
                pending.partial_time = Some(t.clone());
                t
            }
            (false, None) => {
                let t = crate::timefmt::now();
                pending.partial_time = Some(t.clone());
                t
            }
            (true, None) => crate::timefmt::now(),
        };
        self.entry.clear();
        self.entry.extend_from_slice(b"{\"log\":");
        escape_into(&mut self.entry, &pending.bytes);
        self.entry.extend_from_slice(b",\"stream\":\"");
        self.entry.extend_from_slice(stream.name().as_bytes());
        self.entry.extend_from_slice(b"\",\"time\":\"");
        self.entry.extend_from_slice(time.as_bytes());
        self.entry.extend_from_slice(b"\"}\n");
        pending.bytes.clear();
        if pending.bytes.capacity() > MAX_ENTRY {
            pending.bytes.shrink_to(MAX_ENTRY);
        }
        self.append();
    }

    fn append(&mut self) {
        let Some(file) = self.file.as_mut() else {
            return;
        };
        if let Err(e) = file.write_all(&self.entry) {
            if !self.failed {
                eprintln!(
                    "berth-shim: write to the container log: {e}; dropping output until it works"
                );
            }
            self.failed = true;
        } else {
            self.failed = false;
        }
        // An entry of a long escaped line can be several times MAX_ENTRY: do not keep that much.
        if self.entry.capacity() > 2 * MAX_ENTRY {
            self.entry = Vec::new();
        }
    }
}

/// A JSON string as Docker's jsonlog writes it: `<`, `>`, `&` and control bytes as \u00XX,
/// invalid UTF-8 as \ufffd, U+2028/U+2029 escaped.
pub fn escape_into(out: &mut Vec<u8>, mut s: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    while !s.is_empty() {
        let (valid, rest) = match std::str::from_utf8(s) {
            Ok(all) => (all, &[][..]),
            Err(e) => {
                let (good, bad) = s.split_at(e.valid_up_to());
                // valid_up_to() says this prefix is UTF-8: the fallback is never taken.
                let good = std::str::from_utf8(good).unwrap_or_default();
                let skip = e.error_len().unwrap_or(bad.len());
                (good, &bad[skip..])
            }
        };
        for c in valid.chars() {
            match c {
                '"' => out.extend_from_slice(b"\\\""),
                '\\' => out.extend_from_slice(b"\\\\"),
                '\n' => out.extend_from_slice(b"\\n"),
                '\r' => out.extend_from_slice(b"\\r"),
                '\u{2028}' => out.extend_from_slice(b"\\u2028"),
                '\u{2029}' => out.extend_from_slice(b"\\u2029"),
                c if (c as u32) < 0x20 || c == '<' || c == '>' || c == '&' => {
                    let b = c as u8;
                    out.extend_from_slice(b"\\u00");
                    out.push(HEX[(b >> 4) as usize]);
                    out.push(HEX[(b & 0xf) as usize]);
                }
                c => {
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
            }
        }
        let invalid = s.len() - valid.len() - rest.len();
        if invalid > 0 {
            out.extend_from_slice(b"\\ufffd");
        }
        s = rest;
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(s: &[u8]) -> String {
        let mut v = Vec::new();
        escape_into(&mut v, s);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn escapes_like_docker() {
        assert_eq!(escaped(b"a\"b\\c\n"), r#""a\"b\\c\n""#);
        assert_eq!(escaped(b"<&>\t\x1b"), r#""\u003c\u0026\u003e\u0009\u001b""#);
        assert_eq!(escaped(b"x\xffy\xe2\x80\xa8"), r#""x\ufffdy\u2028""#);
        assert_eq!(escaped("héllo".as_bytes()), "\"héllo\"");
    }

    fn entries(path: &std::path::Path) -> Vec<serde_json::Value> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn lines_partials_and_streams() {
        let path = std::env::temp_dir().join(format!("berth-shim-log-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let mut log = JsonLog::new(Some(File::create(&path).unwrap()));
        log.write(Stream::Stdout, b"one\ntw");
        log.write(Stream::Stderr, b"err\n");
        log.write(Stream::Stdout, b"o\n");
        let long = vec![b'x'; MAX_ENTRY + 10];
        log.write(Stream::Stdout, &long);
        log.write(Stream::Stdout, b"\ntail");
        log.finish(Stream::Stdout);
        let e = entries(&path);
        let logs: Vec<&str> = e.iter().map(|v| v["log"].as_str().unwrap()).collect();
        assert_eq!(logs[0], "one\n");
        assert_eq!(
            (logs[1], e[1]["stream"].as_str().unwrap()),
            ("err\n", "stderr")
        );
        assert_eq!(logs[2], "two\n");
        assert_eq!(logs[3].len(), MAX_ENTRY);
        assert_eq!(logs[4], "xxxxxxxxxx\n");
        assert_eq!(e[3]["time"], e[4]["time"]);
        assert_eq!(logs[5], "tail");
        assert_eq!(e.len(), 6);
        std::fs::remove_file(&path).unwrap();
    }
}
