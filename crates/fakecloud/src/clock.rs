//! Wall-clock stamps in the forms the clouds use: Unix seconds (OpenAI
//! `created`), RFC 3339 (Ollama `created_at`, Anthropic rate-limit resets,
//! Vertex `createTime`) and SigV4's basic ISO 8601 (`x-amz-date`).
//!
//! Written by hand to avoid a date crate for two formatting functions.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub(crate) fn unix_seconds(time: SystemTime) -> u64 {
    since_epoch(time).as_secs()
}

/// Go's `RFC3339Nano`: nanoseconds with trailing zeros trimmed, as Ollama
/// writes `created_at` ("2024-05-24T20:26:46.39151Z").
pub(crate) fn rfc3339_nanos(time: SystemTime) -> String {
    let elapsed = since_epoch(time);
    let mut text = date_time(elapsed.as_secs());
    let nanos = elapsed.subsec_nanos();
    if nanos > 0 {
        let fraction = format!("{nanos:09}");
        text.push('.');
        text.push_str(fraction.trim_end_matches('0'));
    }
    text.push('Z');
    text
}

/// Whole seconds, as Anthropic writes rate-limit reset times.
pub(crate) fn rfc3339_seconds(time: SystemTime) -> String {
    let mut text = date_time(since_epoch(time).as_secs());
    text.push('Z');
    text
}

/// Always six fractional digits, as Vertex AI writes `createTime`
/// ("2026-03-21T18:11:55.919086Z").
pub(crate) fn rfc3339_micros(time: SystemTime) -> String {
    let elapsed = since_epoch(time);
    format!("{}.{:06}Z", date_time(elapsed.as_secs()), elapsed.subsec_micros())
}

/// SigV4's `x-amz-date` form, `20250102T030405Z`.
pub(crate) fn amz_date(time: SystemTime) -> String {
    let mut text = date_time(since_epoch(time).as_secs()).replace(['-', ':'], "");
    text.push('Z');
    text
}

/// Parses `x-amz-date` (`YYYYMMDDTHHMMSSZ`, UTC); `None` if malformed.
pub(crate) fn parse_amz_date(text: &str) -> Option<SystemTime> {
    let bytes = text.as_bytes();
    if bytes.len() != 16 || bytes[8] != b'T' || bytes[15] != b'Z' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<u64> {
        let digits = text.get(range)?;
        if !digits.bytes().all(|byte| byte.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()
    };
    let (year, month, day) = (number(0..4)?, number(4..6)?, number(6..8)?);
    let (hour, minute, second) = (number(9..11)?, number(11..13)?, number(13..15)?);
    if year < 1970 || !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60
    {
        return None;
    }
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    let time = UNIX_EPOCH + Duration::from_secs(seconds);
    // Rejects dates such as February 31st, which would roll over.
    (amz_date(time).get(..8) == text.get(..8)).then_some(time)
}

fn since_epoch(time: SystemTime) -> Duration {
    time.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO)
}

/// `YYYY-MM-DDTHH:MM:SS` for seconds since the Unix epoch (UTC).
fn date_time(seconds: u64) -> String {
    let days = seconds / 86_400;
    let second_of_day = seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        second_of_day / 3600,
        second_of_day % 3600 / 60,
        second_of_day % 60
    )
}

/// Howard Hinnant's days-to-civil algorithm, for dates on or after 1970.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let shifted = days + 719_468;
    let era = shifted / 146_097;
    let day_of_era = shifted % 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// The inverse of [`civil_from_days`], for dates on or after 1970.
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year / 400;
    let year_of_era = year % 400;
    let month_index = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_match_known_instants() {
        let time = UNIX_EPOCH + Duration::new(1_716_582_406, 391_510_000);
        assert_eq!(rfc3339_nanos(time), "2024-05-24T20:26:46.39151Z");
        assert_eq!(rfc3339_seconds(time), "2024-05-24T20:26:46Z");
        assert_eq!(rfc3339_nanos(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        // A leap day.
        let leap = UNIX_EPOCH + Duration::from_secs(1_709_208_000);
        assert_eq!(rfc3339_seconds(leap), "2024-02-29T12:00:00Z");
        assert_eq!(unix_seconds(time), 1_716_582_406);
    }

    #[test]
    fn amz_dates_round_trip() {
        let time = UNIX_EPOCH + Duration::from_secs(1_709_208_000);
        assert_eq!(amz_date(time), "20240229T120000Z");
        assert_eq!(parse_amz_date("20240229T120000Z"), Some(time));
        assert_eq!(parse_amz_date("19700101T000000Z"), Some(UNIX_EPOCH));
        for bad in [
            "20240230T120000Z",
            "2024-02-29T12:00:00Z",
            "20240229T120000",
            "2024022xT120000Z",
            "",
        ] {
            assert_eq!(parse_amz_date(bad), None, "{bad}");
        }
        let micros = UNIX_EPOCH + Duration::new(1_774_116_715, 919_086_000);
        assert_eq!(rfc3339_micros(micros), "2026-03-21T18:11:55.919086Z");
    }
}
