//! Timestamps in attestations: RFC 3339, always written in UTC (`2026-11-27T18:00:00Z`), read
//! with any offset; and the expiry forms the CLI accepts (`90d`, `12h`, `2w`, a date, a
//! timestamp).

use std::fmt;

/// Seconds since 1970-01-01T00:00:00Z.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

/// A timestamp or duration that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not {expected}")]
pub struct TimeError {
    pub input: String,
    pub expected: &'static str,
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

impl Timestamp {
    /// The current time.
    pub fn now() -> Timestamp {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        Timestamp(d)
    }

    /// Parses RFC 3339 (`YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`); fractions are dropped.
    pub fn parse(s: &str) -> Result<Timestamp, TimeError> {
        let err = || TimeError {
            input: s.chars().take(64).collect(),
            expected: "an RFC 3339 timestamp like 2026-11-27T18:00:00Z",
        };
        let b = s.as_bytes();
        if b.len() < 20 || !b.is_ascii() {
            return Err(err());
        }
        let num = |r: std::ops::Range<usize>| -> Result<i64, TimeError> {
            let t = &s[r];
            if t.bytes().all(|c| c.is_ascii_digit()) {
                t.parse().map_err(|_| err())
            } else {
                Err(err())
            }
        };
        if b[4] != b'-'
            || b[7] != b'-'
            || !matches!(b[10], b'T' | b't')
            || b[13] != b':'
            || b[16] != b':'
        {
            return Err(err());
        }
        let (y, mo, d, h, mi, sec) = (
            num(0..4)?,
            num(5..7)?,
            num(8..10)?,
            num(11..13)?,
            num(14..16)?,
            num(17..19)?,
        );
        if !(1..=12).contains(&mo)
            || d < 1
            || d > days_in_month(y, mo)
            || h > 23
            || mi > 59
            || sec > 60
        {
            return Err(err());
        }
        let mut i = 19;
        if b[i] == b'.' {
            i += 1;
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if i == start {
                return Err(err());
            }
        }
        let offset = match &s[i..] {
            "Z" | "z" => 0,
            o if o.len() == 6 && (o.starts_with('+') || o.starts_with('-')) && &o[3..4] == ":" => {
                let oh = num(i + 1..i + 3)?;
                let om = num(i + 4..i + 6)?;
                if oh > 23 || om > 59 {
                    return Err(err());
                }
                let v = oh * 3600 + om * 60;
                if o.starts_with('-') {
                    -v
                } else {
                    v
                }
            }
            _ => return Err(err()),
        };
        let secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec.min(59) - offset;
        Ok(Timestamp(secs))
    }

    /// Parses a duration: `N` followed by `s`, `m`, `h`, `d`, `w` or `y` (365 days), N > 0;
    /// returns seconds.
    pub fn parse_duration(s: &str) -> Result<i64, TimeError> {
        let err = || TimeError {
            input: s.chars().take(64).collect(),
            expected: "a duration such as 90d, 12h, 2w or 1y",
        };
        let is_duration =
            s.len() >= 2 && s.is_ascii() && s[..s.len() - 1].bytes().all(|c| c.is_ascii_digit());
        if !is_duration {
            return Err(err());
        }
        let n: i64 = s[..s.len() - 1].parse().map_err(|_| err())?;
        let mult = match s.as_bytes()[s.len() - 1] {
            b's' => 1,
            b'm' => 60,
            b'h' => 3600,
            b'd' => 86400,
            b'w' => 7 * 86400,
            b'y' => 365 * 86400,
            _ => return Err(err()),
        };
        if n <= 0 {
            return Err(err());
        }
        n.checked_mul(mult).ok_or_else(err)
    }

    /// Parses an expiry relative to `now`: a duration ([`Timestamp::parse_duration`]); a date
    /// `YYYY-MM-DD` (midnight UTC); or an RFC 3339 timestamp.
    pub fn parse_expiry(s: &str, now: Timestamp) -> Result<Timestamp, TimeError> {
        let err = || TimeError {
            input: s.chars().take(64).collect(),
            expected:
                "a duration (90d, 12h, 2w, 1y) or a date (2027-01-31) or an RFC 3339 timestamp",
        };
        let is_duration =
            s.len() >= 2 && s.is_ascii() && s[..s.len() - 1].bytes().all(|c| c.is_ascii_digit());
        if is_duration {
            return Timestamp::parse_duration(s)
                .ok()
                .and_then(|d| now.0.checked_add(d))
                .map(Timestamp)
                .ok_or_else(err);
        }
        if s.len() == 10 {
            return Timestamp::parse(&format!("{s}T00:00:00Z")).map_err(|_| err());
        }
        Timestamp::parse(s).map_err(|_| err())
    }
}

impl fmt::Display for Timestamp {
    /// `YYYY-MM-DDTHH:MM:SSZ`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.0.div_euclid(86400);
        let rem = self.0.rem_euclid(86400);
        let (y, m, d) = civil_from_days(days);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            rem / 3600,
            rem % 3600 / 60,
            rem % 60
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_offsets() {
        let t = Timestamp::parse("2026-11-27T18:23:23Z").unwrap();
        assert_eq!(t.0, 1_795_803_803);
        assert_eq!(t.to_string(), "2026-11-27T18:23:23Z");
        assert_eq!(
            Timestamp::parse("2026-11-27T19:23:23.123+01:00").unwrap(),
            t
        );
        assert_eq!(Timestamp::parse("1970-01-01T00:00:00Z").unwrap().0, 0);
        assert_eq!(Timestamp(951_782_400).to_string(), "2000-02-29T00:00:00Z");
        for bad in [
            "2026-02-30T00:00:00Z",
            "2026-11-27 18:23:23Z",
            "2026-11-27T18:23:23",
            "x",
            "2026-13-01T00:00:00Z",
            "2026-11-27T18:23:23+1:00",
        ] {
            assert!(Timestamp::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn expiry_forms() {
        let now = Timestamp(1000);
        assert_eq!(
            Timestamp::parse_expiry("90d", now).unwrap().0,
            1000 + 90 * 86400
        );
        assert_eq!(
            Timestamp::parse_expiry("2w", now).unwrap().0,
            1000 + 14 * 86400
        );
        assert_eq!(Timestamp::parse_expiry("1970-01-02", now).unwrap().0, 86400);
        assert_eq!(
            Timestamp::parse_expiry("1970-01-01T00:01:00Z", now)
                .unwrap()
                .0,
            60
        );
        assert!(Timestamp::parse_expiry("0d", now).is_err());
        assert!(Timestamp::parse_expiry("5q", now).is_err());
        assert!(Timestamp::parse_expiry("99999999999999999y", now).is_err());
    }
}
