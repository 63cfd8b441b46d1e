//! Calendar dates in UTC for names and listings (Cloud Deploy's AMI names end with a
//! UTC timestamp), without a date library: the core only needs the civil date of a
//! `SystemTime`.

use std::time::{SystemTime, UNIX_EPOCH};

/// A `SystemTime` as a UTC calendar date and time of day; times before 1970 count as
/// 1970-01-01 00:00:00.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtcDateTime {
    /// The year.
    pub year: i64,
    /// 1 to 12.
    pub month: u8,
    /// 1 to 31.
    pub day: u8,
    /// 0 to 23.
    pub hour: u8,
    /// 0 to 59.
    pub minute: u8,
    /// 0 to 59.
    pub second: u8,
}

impl UtcDateTime {
    /// The UTC date and time of `time`.
    #[must_use]
    pub fn of(time: SystemTime) -> Self {
        let seconds = time
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        let days = i64::try_from(seconds / 86_400).unwrap_or(i64::MAX / 2);
        let of_day = seconds % 86_400;
        let (year, month, day) = civil_from_days(days);
        // Each value is below its modulus (24, 60, 60, 13, 32), so it fits a u8.
        let small = |value: u64| u8::try_from(value).unwrap_or(u8::MAX);
        Self {
            year,
            month: small(month),
            day: small(day),
            hour: small(of_day / 3600),
            minute: small(of_day % 3600 / 60),
            second: small(of_day % 60),
        }
    }
}

impl std::fmt::Display for UtcDateTime {
    /// `YYYY-MM-DD HH:MM:SS`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u64, u64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        u64::try_from(month).unwrap_or(1),
        u64::try_from(day).unwrap_or(1),
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn known_dates() {
        let at = |s: u64| UtcDateTime::of(UNIX_EPOCH + Duration::from_secs(s)).to_string();
        assert_eq!(at(0), "1970-01-01 00:00:00");
        assert_eq!(at(951_782_400), "2000-02-29 00:00:00");
        assert_eq!(at(1_795_000_000), "2026-11-18 11:06:40");
        assert_eq!(
            UtcDateTime::of(UNIX_EPOCH - Duration::from_secs(5)).to_string(),
            "1970-01-01 00:00:00"
        );
    }

    proptest! {
        #[test]
        fn fields_stay_in_range(seconds in 0_u64..10_000_000_000) {
            let t = UtcDateTime::of(UNIX_EPOCH + Duration::from_secs(seconds));
            prop_assert!((1..=12).contains(&t.month));
            prop_assert!((1..=31).contains(&t.day));
            prop_assert!(t.hour < 24 && t.minute < 60 && t.second < 60);
        }
    }
}
