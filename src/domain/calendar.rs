//! The committees' calendar: days and years are Beijing's (UTC+8, no daylight saving), so
//! a proposal filed at 07:00 on 1 January in Beijing is numbered in the new year.

use chrono::{DateTime, FixedOffset, NaiveDate, Offset, Utc};

const BEIJING_SECONDS_EAST: i32 = 8 * 3600;

/// The committees' time zone.
pub fn beijing() -> FixedOffset {
    FixedOffset::east_opt(BEIJING_SECONDS_EAST).unwrap_or_else(|| Utc.fix())
}

/// `time` on the committees' clock.
pub fn local(time: DateTime<Utc>) -> DateTime<FixedOffset> {
    time.with_timezone(&beijing())
}

/// The years the service's records and questions may name.
pub const YEARS: std::ops::RangeInclusive<i32> = 2000..=2100;

/// A year a query asks about, if it is one of [`YEARS`].
pub fn year(year: i32) -> Result<i32, String> {
    if YEARS.contains(&year) {
        Ok(year)
    } else {
        Err(format!(
            "year must be between {} and {}",
            YEARS.start(),
            YEARS.end()
        ))
    }
}

/// Today, in Beijing.
pub fn today() -> NaiveDate {
    local(Utc::now()).date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, TimeZone};

    #[test]
    fn the_new_year_starts_at_midnight_in_beijing() {
        let utc = Utc.with_ymd_and_hms(2026, 12, 31, 23, 0, 0).unwrap();
        assert_eq!(local(utc).year(), 2027);
        assert_eq!(
            local(utc).date_naive(),
            NaiveDate::from_ymd_opt(2027, 1, 1).unwrap()
        );
    }
}
