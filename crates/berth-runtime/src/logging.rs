//! runc-style logging: `--log FILE` with `--log-format text|json`, written byte for byte as runc
//! 1.1 (logrus) writes them, because clients parse them: containerd's shim reads the last
//! `"level":"error"` line of its `log.json`, podman decodes its `oci-log` as one JSON object.
//!
//! Where a failing command's message goes (runc's rules):
//!
//! * with `--log FILE`: one formatted line in FILE, and the bare message on stderr;
//! * without: the formatted line on stderr (`time="…" level=error msg="…"`, or the JSON object
//!   with `--log-format json`); when stderr is a terminal and the format is text, logrus's
//!   terminal form `ERRO[0000] message`.
//!
//! Times are UTC, whole seconds, RFC 3339 (`2026-12-02T18:17:46Z`), as runc writes them on a host
//! whose zone is UTC.

use crate::cli::LogFormat;
use std::fmt::Write as _;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

pub struct Logger {
    file: Option<File>,
    format: LogFormat,
    debug: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Error,
    Debug,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Debug => "debug",
        }
    }
}

impl Logger {
    /// A logger writing to `path` (created, appended to) or, without one, to stderr. Fails like
    /// runc when the file cannot be opened: the caller reports that through [`Logger::stderr`].
    pub fn new(path: Option<&Path>, format: LogFormat, debug: bool) -> Result<Self, String> {
        let file = match path {
            None => None,
            Some(p) => Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .map_err(|e| format!("open {}: {e}", p.display()))?,
            ),
        };
        Ok(Logger {
            file,
            format,
            debug,
        })
    }

    /// A logger that writes to stderr only (when `--log` itself is the problem).
    pub fn stderr(format: LogFormat) -> Self {
        Logger {
            file: None,
            format,
            debug: false,
        }
    }

    /// Reports a failure: the formatted line to the log file (and the bare message to stderr),
    /// or the formatted line to stderr. The message is made one line first.
    pub fn error(&self, message: &str) {
        let message = one_line(message);
        self.write(Level::Error, &message);
        if self.file.is_some() {
            let _ = writeln!(std::io::stderr(), "{message}");
        }
    }

    /// Writes an error line to the log file only (the caller prints its own message).
    pub fn log_only(&self, message: &str) {
        if self.file.is_some() {
            self.write(Level::Error, &one_line(message));
        }
    }

    pub fn debug(&self, message: &str) {
        if self.debug {
            self.write(Level::Debug, &one_line(message));
        }
    }

    fn write(&self, level: Level, message: &str) {
        let time = now_seconds();
        let line = match (&self.file, self.format) {
            (_, LogFormat::Json) => json_line(level, message, &time),
            (None, LogFormat::Text) if stderr_is_terminal() => terminal_line(level, message),
            (_, LogFormat::Text) => text_line(level, message, &time),
        };
        // One write(2) per line, so lines of concurrent runtimes appending to one file stay whole.
        let _ = match self.file.as_ref() {
            Some(mut f) => f.write_all(line.as_bytes()),
            None => std::io::stderr().write_all(line.as_bytes()),
        };
    }
}

/// Any newline in an error (an ID, a path, a hook's output) is escaped, so a message stays one
/// line on stderr too.
fn one_line(message: &str) -> String {
    message.trim_end_matches('\n').replace('\n', "\\n")
}

/// `--log` and `--log-format` as given on the command line, read without the full parser: a
/// command line the parser refuses is still reported through the log file, as runc does.
pub fn scan_log_args(args: &[std::ffi::OsString]) -> (Option<PathBuf>, LogFormat) {
    let mut log = None;
    let mut format = LogFormat::Text;
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        let Some(a) = a.to_str() else { continue };
        if a == "--" {
            break;
        }
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) => (f, Some(v.to_string())),
            None => (a, None),
        };
        if flag != "--log" && flag != "--log-format" {
            continue;
        }
        let Some(value) = inline.or_else(|| it.next().and_then(|v| v.to_str()).map(String::from))
        else {
            break;
        };
        if flag == "--log" {
            log = Some(PathBuf::from(value));
        } else if value == "json" {
            format = LogFormat::Json;
        }
    }
    (log, format)
}

fn stderr_is_terminal() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal()
}

/// Now as runc writes it: RFC 3339, whole seconds, UTC.
fn now_seconds() -> String {
    let full = berth_runtime_core::state::now_rfc3339();
    match full.split_once('.') {
        Some((seconds, _)) => format!("{seconds}Z"),
        None => full,
    }
}

/// logrus's JSONFormatter: keys in order, Go's encoding/json string escapes, a newline.
pub fn json_line(level: Level, message: &str, time: &str) -> String {
    let mut line = String::with_capacity(message.len() + 64);
    line.push_str("{\"level\":");
    go_json_string(&mut line, level.name());
    line.push_str(",\"msg\":");
    go_json_string(&mut line, message);
    line.push_str(",\"time\":");
    go_json_string(&mut line, time);
    line.push_str("}\n");
    line
}

/// logrus's TextFormatter without a terminal: `time="…" level=error msg="…"`.
pub fn text_line(level: Level, message: &str, time: &str) -> String {
    let mut line = String::with_capacity(message.len() + 64);
    line.push_str("time=");
    logfmt_value(&mut line, time);
    line.push_str(" level=");
    line.push_str(level.name());
    line.push_str(" msg=");
    logfmt_value(&mut line, message);
    line.push('\n');
    line
}

/// logrus's TextFormatter on a terminal: the coloured 4-letter level, the seconds since start
/// (always 0 here) and the message padded to 44 characters.
fn terminal_line(level: Level, message: &str) -> String {
    let (color, text) = match level {
        Level::Error => (31, "ERRO"),
        Level::Debug => (37, "DEBU"),
    };
    let pad = 44usize.saturating_sub(message.chars().count());
    format!("\x1b[{color}m{text}\x1b[0m[0000] {message}{:pad$} \n", "")
}

/// A logfmt value as logrus writes it: bare when it only has `[A-Za-z0-9-._/@^+]`, else Go's
/// `%q` quoting.
fn logfmt_value(out: &mut String, value: &str) {
    let bare = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._/@^+".contains(c));
    if bare {
        out.push_str(value);
        return;
    }
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\x7f' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A JSON string as Go's encoding/json writes it (HTML-safe: `<`, `>`, `&` and U+2028/2029 as
/// `\u` escapes; other control characters as `\u00XX` except `\n`, `\r`, `\t`).
fn go_json_string(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_as_logrus_writes_them() {
        let t = "2026-12-02T18:17:46Z";
        assert_eq!(
            json_line(Level::Error, "container does not exist", t),
            "{\"level\":\"error\",\"msg\":\"container does not exist\",\"time\":\"2026-12-02T18:17:46Z\"}\n"
        );
        assert_eq!(
            text_line(Level::Error, "container does not exist", t),
            "time=\"2026-12-02T18:17:46Z\" level=error msg=\"container does not exist\"\n"
        );
        assert_eq!(
            json_line(Level::Error, "a<b>&\"c\"\\\u{1}\n", t),
            "{\"level\":\"error\",\"msg\":\"a\\u003cb\\u003e\\u0026\\\"c\\\"\\\\\\u0001\\n\",\"time\":\"2026-12-02T18:17:46Z\"}\n"
        );
        assert_eq!(
            text_line(Level::Debug, "plain", t),
            "time=\"2026-12-02T18:17:46Z\" level=debug msg=plain\n"
        );
        assert_eq!(
            text_line(Level::Error, "say \"hi\"\tnow\u{1b}", t),
            "time=\"2026-12-02T18:17:46Z\" level=error msg=\"say \\\"hi\\\"\\tnow\\x1b\"\n"
        );
        assert_eq!(
            terminal_line(Level::Error, "container does not exist"),
            "\x1b[31mERRO\x1b[0m[0000] container does not exist                     \n"
        );
    }

    #[test]
    fn log_flags_found_before_parsing() {
        let args = |v: &[&str]| v.iter().map(std::ffi::OsString::from).collect::<Vec<_>>();
        let (log, format) = scan_log_args(&args(&[
            "rt",
            "--root",
            "/r",
            "--log",
            "/l.json",
            "--log-format=json",
            "state",
        ]));
        assert_eq!(log.as_deref(), Some(Path::new("/l.json")));
        assert!(format == LogFormat::Json);
        let (log, format) = scan_log_args(&args(&["rt", "--log=/x", "state", "--", "--log"]));
        assert_eq!(log.as_deref(), Some(Path::new("/x")));
        assert!(format == LogFormat::Text);
    }
}
