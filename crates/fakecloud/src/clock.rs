//! Wall-clock stamps in the forms the clouds use: Unix seconds (OpenAI
//! `created`) and RFC 3339 (Ollama `created_at`, Anthropic rate-limit
//! resets).
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
}
