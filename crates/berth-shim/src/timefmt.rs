//! RFC 3339 UTC times as Go's `time.RFC3339Nano` writes them (Docker's log and API times):
//! nanoseconds with trailing zeros dropped, no fraction at all on a whole second.

use std::time::{SystemTime, UNIX_EPOCH};

pub fn now() -> String {
    format(SystemTime::now())
}

pub fn format(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let mut out = String::with_capacity(30);
    write_rfc3339_nano(&mut out, d.as_secs() as i64, d.subsec_nanos());
    out
}

pub fn write_rfc3339_nano(out: &mut String, secs: i64, nanos: u32) {
    use std::fmt::Write;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil-from-days (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let _ = write!(
        out,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
    if nanos > 0 {
        let mut digits = format!("{nanos:09}");
        while digits.ends_with('0') {
            digits.pop();
        }
        out.push('.');
        out.push_str(&digits);
    }
    out.push('Z');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_go() {
        let mut s = String::new();
        write_rfc3339_nano(&mut s, 1_795_000_000, 120_000_000);
        assert_eq!(s, "2026-11-18T11:06:40.12Z");
        s.clear();
        write_rfc3339_nano(&mut s, 0, 0);
        assert_eq!(s, "1970-01-01T00:00:00Z");
        s.clear();
        write_rfc3339_nano(&mut s, 951_782_400, 1);
        assert_eq!(s, "2000-02-29T00:00:00.000000001Z");
    }
}
