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

/// The days a record may name: from the founding of the conference's present order to
/// far enough ahead for any plan. Dates outside them are refused wherever a client sends
/// one (bodies, filters), so none reaches the database.
pub const FIRST_DAY: NaiveDate = NaiveDate::from_ymd_opt(1949, 1, 1).expect("a date");
pub const LAST_DAY: NaiveDate = NaiveDate::from_ymd_opt(2200, 12, 31).expect("a date");

/// The regular expression of [`FIRST_DAY`] to [`LAST_DAY`] as written (`YYYY-MM-DD`).
const DAY_PATTERN: &str =
    r"^(19(49|[5-9][0-9])|2[01][0-9][0-9]|2200)-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$";
/// The same for the date part of a timestamp (RFC 3339).
const MOMENT_PATTERN: &str =
    r"^(19(49|[5-9][0-9])|2[01][0-9][0-9]|2200)-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt ].+$";

fn out_of_range(text: &str) -> String {
    format!("`{text}` is outside the dates the service keeps ({FIRST_DAY} to {LAST_DAY})")
}

/// A date a client sent (`YYYY-MM-DD`), between [`FIRST_DAY`] and [`LAST_DAY`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Day(NaiveDate);

impl Day {
    pub fn new(date: NaiveDate) -> Result<Self, String> {
        if (FIRST_DAY..=LAST_DAY).contains(&date) {
            Ok(Self(date))
        } else {
            Err(out_of_range(&date.to_string()))
        }
    }

    pub fn get(self) -> NaiveDate {
        self.0
    }

    /// The date, as a field check that always passes (the range was checked on reading).
    #[allow(clippy::unnecessary_wraps)]
    pub fn date(self) -> Result<NaiveDate, String> {
        Ok(self.0)
    }
}

impl From<Day> for NaiveDate {
    fn from(day: Day) -> Self {
        day.0
    }
}

impl<'de> serde::Deserialize<'de> for Day {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let not_a_date =
            || serde::de::Error::custom(format!("`{text}` is not a date (YYYY-MM-DD)"));
        // Exactly as the spec writes it: no sign, no space, two digits for month and day.
        let shaped = text.len() == 10
            && text.bytes().enumerate().all(|(at, byte)| match at {
                4 | 7 => byte == b'-',
                _ => byte.is_ascii_digit(),
            });
        if !shaped {
            return Err(not_a_date());
        }
        let date = NaiveDate::parse_from_str(&text, "%Y-%m-%d").map_err(|_| not_a_date())?;
        Self::new(date).map_err(|_| serde::de::Error::custom(out_of_range(&text)))
    }
}

impl utoipa::PartialSchema for Day {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
            .pattern(Some(DAY_PATTERN))
            .description(Some(format!("A date from {FIRST_DAY} to {LAST_DAY}.")))
            .into()
    }
}

impl utoipa::ToSchema for Day {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        schemas.push(("Day".to_owned(), <Self as utoipa::PartialSchema>::schema()));
    }
}

/// A time a client sent (RFC 3339), on a day from [`FIRST_DAY`] to [`LAST_DAY`] as
/// written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Moment(DateTime<Utc>);

impl Moment {
    /// A time whose day, as written (in its own offset), is in the range; the spec's
    /// pattern says the same of the text.
    pub fn new(time: DateTime<FixedOffset>) -> Result<Self, String> {
        if (FIRST_DAY..=LAST_DAY).contains(&time.date_naive()) {
            Ok(Self(time.with_timezone(&Utc)))
        } else {
            Err(out_of_range(&time.to_rfc3339()))
        }
    }

    pub fn get(self) -> DateTime<Utc> {
        self.0
    }
}

impl From<Moment> for DateTime<Utc> {
    fn from(moment: Moment) -> Self {
        moment.0
    }
}

impl<'de> serde::Deserialize<'de> for Moment {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let time = DateTime::parse_from_rfc3339(&text)
            .map_err(|_| serde::de::Error::custom(format!("`{text}` is not an RFC 3339 time")))?;
        Self::new(time).map_err(|_| serde::de::Error::custom(out_of_range(&text)))
    }
}

impl utoipa::PartialSchema for Moment {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .pattern(Some(MOMENT_PATTERN))
            .description(Some(format!(
                "An RFC 3339 time on a day from {FIRST_DAY} to {LAST_DAY} (the day as written)."
            )))
            .into()
    }
}

impl utoipa::ToSchema for Moment {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        schemas.push((
            "Moment".to_owned(),
            <Self as utoipa::PartialSchema>::schema(),
        ));
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
    fn days_and_moments_outside_the_range_are_refused() {
        let day = |text: &str| serde_json::from_value::<Day>(serde_json::json!(text));
        assert_eq!(day("1949-01-01").unwrap().get(), FIRST_DAY);
        assert_eq!(day("2200-12-31").unwrap().get(), LAST_DAY);
        for bad in ["1948-12-31", "2201-01-01", "0000-01-01"] {
            let error = day(bad).unwrap_err().to_string();
            assert!(error.contains("outside"), "{bad}: {error}");
        }
        for bad in ["-4714-11-24", "+200000-01-01", "200000-01-01"] {
            let error = day(bad).unwrap_err().to_string();
            assert!(error.contains("not a date"), "{bad}: {error}");
        }
        assert!(day("2026-02-30").is_err());
        // Only as the spec's pattern writes it.
        for odd in [
            " 2026-01-05",
            "+2026-01-05",
            "2026-1-5",
            "2026-01-05 ",
            "２０２６-01-05",
        ] {
            assert!(day(odd).is_err(), "{odd}");
        }
        let moment = |text: &str| serde_json::from_value::<Moment>(serde_json::json!(text));
        assert!(moment("2026-11-30T08:00:00+08:00").is_ok());
        for bad in [
            "1948-12-31T23:59:59Z",
            "1948-12-31T20:00:00-05:00",
            "200000-01-01T00:00:00Z",
            "-4714-11-24T00:00:00Z",
        ] {
            assert!(moment(bad).is_err(), "{bad}");
        }
        // The day as written decides, as the spec's pattern does.
        assert!(moment("1949-01-01T00:30:00+08:00").is_ok());
        assert!(moment("2200-12-31T23:00:00-05:00").is_ok());
    }

    #[test]
    fn the_patterns_the_spec_states_take_exactly_the_range() {
        let day = regex::Regex::new(DAY_PATTERN).unwrap();
        let moment = regex::Regex::new(MOMENT_PATTERN).unwrap();
        let mut date = FIRST_DAY - chrono::Days::new(400);
        while date <= LAST_DAY + chrono::Days::new(400) {
            let text = date.format("%Y-%m-%d").to_string();
            let inside = (FIRST_DAY..=LAST_DAY).contains(&date);
            assert_eq!(day.is_match(&text), inside, "{text}");
            assert_eq!(
                moment.is_match(&format!("{text}T12:00:00Z")),
                inside,
                "{text}"
            );
            date = date + chrono::Days::new(1);
        }
        for outside in [
            "12026-01-01",
            "-4714-11-24",
            "0001-01-01",
            "2026-13-01",
            "2026-00-10",
        ] {
            assert!(!day.is_match(outside), "{outside}");
        }
    }

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
