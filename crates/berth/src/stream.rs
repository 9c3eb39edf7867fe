//! Attach and log streams: docker's 8-byte multiplexed frames, the raw tty stream, and the
//! detach-key escape on stdin.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;

/// Copies a multiplexed stream (`[stream,0,0,0,len u32 BE]` + payload) to stdout/stderr.
pub fn demux(
    mut input: impl Read,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> io::Result<()> {
    let mut header = [0u8; 8];
    let mut payload = vec![0u8; 32 * 1024];
    loop {
        match read_full(&mut input, &mut header)? {
            0 => return Ok(()),
            8 => {}
            n => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("stream ended inside a frame header ({n} of 8 bytes)"),
                ));
            }
        }
        let mut left = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
        let out: &mut dyn Write = match header[0] {
            0 | 1 => stdout,
            2 => stderr,
            // A "systemerr" frame (3): the daemon reports an error inside the stream.
            3 => {
                let mut text = vec![0u8; left];
                input.read_exact(&mut text)?;
                return Err(io::Error::other(
                    String::from_utf8_lossy(&text).into_owned(),
                ));
            }
            other => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("unrecognized stream {other} in a multiplexed frame"),
                ));
            }
        };
        while left > 0 {
            let want = left.min(payload.len());
            input.read_exact(&mut payload[..want])?;
            write_ignoring_pipe(out, &payload[..want])?;
            left -= want;
        }
        flush_ignoring_pipe(out)?;
    }
}

/// Reads until `buf` is full or EOF; returns how many bytes were read.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Copies a raw (tty) stream to `out` as it arrives.
pub fn copy_raw(mut input: impl Read, out: &mut dyn Write) -> io::Result<()> {
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        write_ignoring_pipe(out, &buf[..n])?;
        flush_ignoring_pipe(out)?;
    }
}

fn write_ignoring_pipe(out: &mut dyn Write, bytes: &[u8]) -> io::Result<()> {
    match out.write_all(bytes) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

fn flush_ignoring_pipe(out: &mut dyn Write) -> io::Result<()> {
    match out.flush() {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// Parses docker's detach-key spec ("ctrl-p,ctrl-q", "a,ctrl-@").
pub fn parse_detach_keys(spec: &str) -> Result<Vec<u8>, String> {
    let mut keys = Vec::new();
    for part in spec.split(',') {
        let part = part.trim();
        let lower = part.to_ascii_lowercase();
        if let Some(key) = lower.strip_prefix("ctrl-") {
            let code = match key.as_bytes() {
                [c @ b'a'..=b'z'] => c - b'a' + 1,
                [b'@'] => 0,
                [b'['] => 27,
                [b'\\'] => 28,
                [b']'] => 29,
                [b'^'] => 30,
                [b'_'] => 31,
                _ => return Err(format!("Unknown character: '{part}'")),
            };
            keys.push(code);
        } else if part.len() == 1 {
            keys.push(part.as_bytes()[0]);
        } else {
            return Err(format!("Unknown character: '{part}'"));
        }
    }
    Ok(keys)
}

/// What ended the stdin copy.
#[derive(Debug, PartialEq, Eq)]
pub enum StdinEnd {
    Eof,
    Detached,
}

/// Copies stdin to the hijacked socket, stopping at the detach sequence; half-closes the write
/// side at EOF so the container sees end of input.
pub fn pump_stdin(mut input: impl Read, socket: &UnixStream, keys: &[u8]) -> io::Result<StdinEnd> {
    let mut socket = socket;
    let mut buf = vec![0u8; 32 * 1024];
    let mut matched = 0usize;
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => {
                socket.shutdown(Shutdown::Write).ok();
                return Ok(StdinEnd::Eof);
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let mut out = Vec::with_capacity(n);
        for &b in &buf[..n] {
            if !keys.is_empty() && b == keys[matched] {
                matched += 1;
                if matched == keys.len() {
                    socket.write_all(&out)?;
                    return Ok(StdinEnd::Detached);
                }
                continue;
            }
            // Not the sequence after all: the held-back bytes go through.
            out.extend_from_slice(&keys[..matched]);
            matched = 0;
            if !keys.is_empty() && b == keys[0] {
                matched = 1;
                continue;
            }
            out.push(b);
        }
        socket.write_all(&out)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demux_splits_stdout_and_stderr() {
        let mut input = Vec::new();
        input.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 6]);
        input.extend_from_slice(b"hello\n");
        input.extend_from_slice(&[2, 0, 0, 0, 0, 0, 0, 4]);
        input.extend_from_slice(b"err\n");
        let (mut out, mut err) = (Vec::new(), Vec::new());
        demux(&input[..], &mut out, &mut err).unwrap();
        assert_eq!(out, b"hello\n");
        assert_eq!(err, b"err\n");
    }

    #[test]
    fn demux_reports_a_truncated_header() {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        assert!(demux(&[1u8, 0, 0][..], &mut out, &mut err).is_err());
    }

    #[test]
    fn detach_keys() {
        assert_eq!(parse_detach_keys("ctrl-p,ctrl-q").unwrap(), vec![16, 17]);
        assert_eq!(parse_detach_keys("a,ctrl-@").unwrap(), vec![b'a', 0]);
        assert!(parse_detach_keys("ctrl-ab").is_err());
    }

    #[test]
    fn stdin_pump_stops_at_the_detach_sequence() {
        let (a, mut b) = UnixStream::pair().unwrap();
        let end = pump_stdin(&b"ab\x10x\x10\x11rest"[..], &a, &[16, 17]).unwrap();
        assert_eq!(end, StdinEnd::Detached);
        drop(a);
        let mut got = Vec::new();
        b.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"ab\x10x");
    }
}
