//! Signal names and numbers as `docker kill -s` and `--stop-signal` give them.

use crate::error::{Error, Result};

const NAMES: &[(&str, i32)] = &[
    ("HUP", 1),
    ("INT", 2),
    ("QUIT", 3),
    ("ILL", 4),
    ("TRAP", 5),
    ("ABRT", 6),
    ("IOT", 6),
    ("BUS", 7),
    ("FPE", 8),
    ("KILL", 9),
    ("USR1", 10),
    ("SEGV", 11),
    ("USR2", 12),
    ("PIPE", 13),
    ("ALRM", 14),
    ("TERM", 15),
    ("STKFLT", 16),
    ("CHLD", 17),
    ("CONT", 18),
    ("STOP", 19),
    ("TSTP", 20),
    ("TTIN", 21),
    ("TTOU", 22),
    ("URG", 23),
    ("XCPU", 24),
    ("XFSZ", 25),
    ("VTALRM", 26),
    ("PROF", 27),
    ("WINCH", 28),
    ("IO", 29),
    ("POLL", 29),
    ("PWR", 30),
    ("SYS", 31),
];

pub const SIGKILL: i32 = 9;
pub const SIGTERM: i32 = 15;

/// `TERM`, `SIGTERM`, `15`, `RTMIN+3`: the number, or a 400 naming the value.
pub fn parse(text: &str) -> Result<i32> {
    let bad = || Error::invalid(format!("Invalid signal: {text}"));
    if let Ok(n) = text.parse::<i32>() {
        return if (1..=64).contains(&n) {
            Ok(n)
        } else {
            Err(bad())
        };
    }
    let upper = text.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some((_, n)) = NAMES.iter().find(|(k, _)| *k == name) {
        return Ok(*n);
    }
    let rt = |base: i32, rest: &str| -> Result<i32> {
        let off: i32 = if rest.is_empty() {
            0
        } else {
            rest.parse().map_err(|_| bad())?
        };
        let n = base + off;
        if (34..=64).contains(&n) {
            Ok(n)
        } else {
            Err(bad())
        }
    };
    if let Some(rest) = name.strip_prefix("RTMIN") {
        return rt(34, rest.trim_start_matches('+'));
    }
    if let Some(rest) = name.strip_prefix("RTMAX") {
        return rt(64, rest);
    }
    Err(bad())
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_and_numbers() {
        assert_eq!(super::parse("USR1").unwrap(), 10);
        assert_eq!(super::parse("sigkill").unwrap(), 9);
        assert_eq!(super::parse("15").unwrap(), 15);
        assert_eq!(super::parse("RTMIN+1").unwrap(), 35);
        assert!(super::parse("NOPE").is_err());
        assert!(super::parse("0").is_err());
    }
}
