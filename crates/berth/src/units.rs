//! Human sizes, durations and truncations exactly as docker prints them (go-units and the
//! docker CLI's formatter helpers).

/// Go's `%.{precision}g`.
pub fn go_g(value: f64, precision: usize) -> String {
    let precision = precision.max(1);
    if value == 0.0 {
        return "0".to_string();
    }
    let sci = format!("{:.*e}", precision - 1, value);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if exp < -4 || exp >= precision as i32 {
        let mantissa = trim_fraction(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exp.abs());
    }
    let decimals = (precision as i32 - 1 - exp).max(0) as usize;
    trim_fraction(&format!("{value:.decimals$}")).to_string()
}

fn trim_fraction(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

const DECIMAL_UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
const BINARY_UNITS: [&str; 9] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];

fn scaled(mut size: f64, base: f64, units: &[&'static str]) -> (f64, &'static str) {
    let mut i = 0;
    while size >= base && i < units.len() - 1 {
        size /= base;
        i += 1;
    }
    (size, units[i])
}

/// go-units `HumanSizeWithPrecision`: "4.26MB".
pub fn human_size_precision(size: f64, precision: usize) -> String {
    let (size, unit) = scaled(size, 1000.0, &DECIMAL_UNITS);
    format!("{}{unit}", go_g(size, precision))
}

/// go-units `HumanSize` (precision 4).
pub fn human_size(size: f64) -> String {
    human_size_precision(size, 4)
}

/// go-units `BytesSize`: "1.5MiB".
pub fn bytes_size(size: f64) -> String {
    let (size, unit) = scaled(size, 1024.0, &BINARY_UNITS);
    format!("{}{unit}", go_g(size, 4))
}

/// go-units `HumanDuration`: "About a minute", "3 hours".
pub fn human_duration(seconds_f: f64) -> String {
    let seconds = seconds_f as i64;
    let minutes = (seconds_f / 60.0) as i64;
    let hours = (seconds_f / 3600.0 + 0.5) as i64;
    if seconds < 1 {
        "Less than a second".into()
    } else if seconds == 1 {
        "1 second".into()
    } else if seconds < 60 {
        format!("{seconds} seconds")
    } else if minutes == 1 {
        "About a minute".into()
    } else if minutes < 60 {
        format!("{minutes} minutes")
    } else if hours == 1 {
        "About an hour".into()
    } else if hours < 48 {
        format!("{hours} hours")
    } else if hours < 24 * 7 * 2 {
        format!("{} days", hours / 24)
    } else if hours < 24 * 30 * 2 {
        format!("{} weeks", hours / 24 / 7)
    } else if hours < 24 * 365 * 2 {
        format!("{} months", hours / 24 / 30)
    } else {
        format!("{} years", (seconds_f / 3600.0) as i64 / 24 / 365)
    }
}

/// "N units ago" for a Unix timestamp, as `docker ps`/`images` show CREATED.
pub fn ago(unix_seconds: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    format!("{} ago", human_duration(now - unix_seconds as f64))
}

/// go-units `RAMInBytes` (binary suffixes b, k, m, g, t, p with an optional trailing b/ib).
pub fn ram_in_bytes(text: &str) -> Result<i64, String> {
    parse_size(text, 1024)
}

/// go-units `FromHumanSize` (decimal suffixes).
#[cfg(test)]
pub fn from_human_size(text: &str) -> Result<i64, String> {
    parse_size(text, 1000)
}

fn parse_size(text: &str, base: i64) -> Result<i64, String> {
    let invalid = || format!("invalid size: '{text}'");
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    let number: f64 = number.parse().map_err(|_| invalid())?;
    if number < 0.0 {
        return Err(invalid());
    }
    let suffix = suffix.trim().to_ascii_lowercase();
    let unit = match suffix.as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => base,
        "m" | "mb" | "mib" => base.pow(2),
        "g" | "gb" | "gib" => base.pow(3),
        "t" | "tb" | "tib" => base.pow(4),
        "p" | "pb" | "pib" => base.pow(5),
        _ => return Err(invalid()),
    };
    Ok((number * unit as f64) as i64)
}

/// The first 12 hex digits of an ID, without its `sha256:` prefix.
pub fn truncate_id(id: &str) -> String {
    let id = id.split_once(':').map(|(_, hex)| hex).unwrap_or(id);
    id.chars().take(12).collect()
}

/// The docker CLI's `Ellipsis`: at most `max` columns, the last being "…" when cut.
pub fn ellipsis(s: &str, max: usize) -> String {
    if max == 0 {
        return String::new();
    }
    let chars: Vec<char> = s.chars().collect();
    if max == 1 {
        return chars.first().map(|c| c.to_string()).unwrap_or_default();
    }
    let width: usize = chars.iter().map(|&c| char_width(c)).sum();
    if width <= max {
        return s.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for &c in &chars {
        let w = char_width(c);
        if used + w > max - 1 {
            break;
        }
        used += w;
        out.push(c);
    }
    out.push('…');
    out
}

/// East-Asian wide and fullwidth characters take two columns.
fn char_width(c: char) -> usize {
    let c = c as u32;
    let wide = (0x1100..=0x115F).contains(&c)
        || (0x2E80..=0xA4CF).contains(&c)
        || (0xAC00..=0xD7A3).contains(&c)
        || (0xF900..=0xFAFF).contains(&c)
        || (0xFE30..=0xFE4F).contains(&c)
        || (0xFF00..=0xFF60).contains(&c)
        || (0xFFE0..=0xFFE6).contains(&c)
        || (0x1F300..=0x1F64F).contains(&c)
        || (0x20000..=0x3FFFD).contains(&c);
    if wide { 2 } else { 1 }
}

/// Go's `strconv.Quote` for the strings docker quotes (commands in `ps`).
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\x0b' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_g_matches_go() {
        assert_eq!(go_g(1.982256, 3), "1.98");
        assert_eq!(go_g(4.0, 3), "4");
        assert_eq!(go_g(999.99, 3), "1e+03");
        assert_eq!(go_g(12.5, 3), "12.5");
        assert_eq!(go_g(100.0, 3), "100");
        assert_eq!(go_g(0.0, 3), "0");
        assert_eq!(go_g(1.5, 4), "1.5");
    }

    #[test]
    fn sizes_like_docker() {
        assert_eq!(human_size_precision(1_982_256.0, 3), "1.98MB");
        assert_eq!(human_size_precision(4_260_000.0, 3), "4.26MB");
        assert_eq!(human_size_precision(0.0, 3), "0B");
        assert_eq!(human_size_precision(1880.0, 3), "1.88kB");
        assert_eq!(human_size_precision(999.0, 3), "999B");
        assert_eq!(human_size(1_234_567.0), "1.235MB");
        assert_eq!(bytes_size(1536.0), "1.5KiB");
    }

    #[test]
    fn durations_like_docker() {
        assert_eq!(human_duration(0.4), "Less than a second");
        assert_eq!(human_duration(1.0), "1 second");
        assert_eq!(human_duration(45.0), "45 seconds");
        assert_eq!(human_duration(90.0), "About a minute");
        assert_eq!(human_duration(600.0), "10 minutes");
        assert_eq!(human_duration(3600.0), "About an hour");
        assert_eq!(human_duration(5.0 * 3600.0), "5 hours");
        assert_eq!(human_duration(3.0 * 86400.0), "3 days");
        assert_eq!(human_duration(20.0 * 86400.0), "2 weeks");
        assert_eq!(human_duration(90.0 * 86400.0), "3 months");
        assert_eq!(human_duration(800.0 * 86400.0), "2 years");
    }

    #[test]
    fn size_parsing() {
        assert_eq!(ram_in_bytes("64m"), Ok(64 * 1024 * 1024));
        assert_eq!(ram_in_bytes("1g"), Ok(1 << 30));
        assert_eq!(ram_in_bytes("512"), Ok(512));
        assert_eq!(ram_in_bytes("1.5k"), Ok(1536));
        assert!(ram_in_bytes("lots").is_err());
        assert_eq!(from_human_size("2kb"), Ok(2000));
    }

    #[test]
    fn truncation() {
        assert_eq!(
            truncate_id("sha256:71716c933e1c727928ec829b"),
            "71716c933e1c"
        );
        assert_eq!(truncate_id("abc"), "abc");
        assert_eq!(ellipsis("sleep 100000", 20), "sleep 100000");
        assert_eq!(
            ellipsis("sh -c 'echo hello; sleep 10'", 20),
            "sh -c 'echo hello; …"
        );
        assert_eq!(go_quote("sh -c \"x\"\n"), r#""sh -c \"x\"\n""#);
    }
}
