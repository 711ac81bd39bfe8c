//! Timestamps, without a date library.
//!
//! A merged report carries the time of its newest input, so the same inputs
//! give the same output. coverage.py writes JSON timestamps as ISO 8601 local
//! time without a zone and Cobertura timestamps as milliseconds since the
//! epoch; both are read here as UTC, which is what CI machines run on.
//! Docker's times (an image's `Created`) are ISO 8601 in UTC too.

use std::time::{SystemTime, UNIX_EPOCH};

pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// `2026-11-26T09:14:37.976733` as microseconds since the epoch; `None`
/// unless every field is in its range (years 1970 to 9999), so the
/// arithmetic below cannot overflow.
pub fn parse_iso(text: &str) -> Option<u64> {
    let (date, time) = text.split_once('T')?;
    let field = |part: &str, range: std::ops::RangeInclusive<i64>| {
        part.parse::<i64>()
            .ok()
            .filter(|value| range.contains(value))
    };
    let mut date = date.splitn(3, '-');
    let year = field(date.next()?, 1970..=9999)?;
    let month = field(date.next()?, 1..=12)?;
    let day = field(date.next()?, 1..=31)?;
    let (clock, fraction) = time.split_once('.').unwrap_or((time, "0"));
    let mut clock = clock.splitn(3, ':');
    let hour = field(clock.next()?, 0..=23)?;
    let minute = field(clock.next()?, 0..=59)?;
    let second = field(clock.next()?, 0..=60)?;
    let micros: i64 = format!("{fraction:0<6}").get(..6)?.parse().ok()?;
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    u64::try_from(seconds * 1_000_000 + micros).ok()
}

/// Microseconds since the epoch as `2026-11-26T09:14:37.976733`.
pub fn format_iso(us: u64) -> String {
    let seconds = (us / 1_000_000) as i64;
    let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
    let time = seconds.rem_euclid(86_400);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}",
        time / 3600,
        time / 60 % 60,
        time % 60,
        us % 1_000_000
    )
}

// Howard Hinnant's algorithms for the proleptic Gregorian calendar.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year - era * 400;
    let doy = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_round_trips_to_the_microsecond() {
        let us = parse_iso("2026-11-26T09:14:37.976733").unwrap();
        assert_eq!(us, 1_795_684_477_976_733);
        assert_eq!(format_iso(us), "2026-11-26T09:14:37.976733");
        assert_eq!(
            parse_iso("2024-02-29T00:00:00"),
            Some(1_709_164_800_000_000)
        );
    }

    #[test]
    fn timestamps_out_of_range_are_unknown_not_wrapped() {
        for text in [
            "9223372036854775807-01-01T00:00:00",
            "2026-13-01T00:00:00",
            "2026-01-01T99999999999999:00:00",
            "1969-12-31T23:59:59",
        ] {
            assert_eq!(parse_iso(text), None, "{text}");
        }
    }
}
