//! Values parsed once at the edge: a handler never holds an unchecked string.
//!
//! Each `parse` returns a human-readable reason on failure; the API layer attaches it to
//! the JSON pointer of the field.

use std::sync::LazyLock;

/// Single-line text (a name, a title): see [`text`]; no control character at all.
pub fn line(value: &str, max: usize) -> Result<String, String> {
    text(value, max, |c| c.is_control(), "control characters")
}

/// Multi-line text: like [`line`] but line breaks and tabs are kept.
pub fn paragraph(value: &str, max: usize) -> Result<String, String> {
    text(
        value,
        max,
        |c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'),
        "control characters other than line breaks and tabs",
    )
}

/// Text a person wrote, as stored and compared: NFC-normalised (so one name has one
/// spelling whatever the keyboard composed), trimmed, and refused when it is empty once
/// its invisible characters (white space and Unicode's default-ignorable code points:
/// zero-width spaces and joiners, fillers, variation selectors, …) are left out, when it
/// carries a bidirectional control (the embeddings, overrides and isolates U+202A–U+202E
/// and U+2066–U+2069, and the marks U+200E, U+200F, U+061C, which reorder what a reader
/// sees), a non-character (U+FDD0–U+FDEF, U+xFFFE, U+xFFFF), a character `refused`
/// names (`refused_as` says which), or more than `max` characters as sent (what a
/// schema's `maxLength` counts). The rules are checked on the text as sent, so the
/// pattern [`text_pattern`] states exactly them; the character properties are Unicode's
/// own, as ICU4X publishes them.
fn text(
    value: &str,
    max: usize,
    refused: impl Fn(char) -> bool,
    refused_as: &str,
) -> Result<String, String> {
    check_length(value, max)?;
    if value.chars().any(&refused) {
        return Err(format!("must not contain {refused_as}"));
    }
    if value.chars().any(bidi_control) {
        return Err("must not contain bidirectional controls (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F, U+061C)".into());
    }
    if value.chars().any(non_character) {
        return Err("must not contain Unicode non-characters".into());
    }
    if value.chars().all(invisible) {
        return Err("must not be empty (invisible characters alone do not count)".into());
    }
    let normalized = icu_normalizer::ComposingNormalizerBorrowed::new_nfc().normalize(value);
    let stored = normalized.trim();
    // A few characters grow in NFC (U+0958 is two, U+FB1D two): what is stored keeps to
    // the limit too.
    let count = stored.chars().count();
    if count > max {
        return Err(format!(
            "must be at most {max} characters in Unicode NFC, as it is stored (got {count})"
        ));
    }
    Ok(stored.to_owned())
}

fn bidi_control(c: char) -> bool {
    icu_properties::CodePointSetData::new::<icu_properties::props::BidiControl>().contains(c)
}

fn non_character(c: char) -> bool {
    icu_properties::CodePointSetData::new::<icu_properties::props::NoncharacterCodePoint>()
        .contains(c)
}

/// White space, or a default-ignorable code point (zero-width spaces and joiners, fillers,
/// variation selectors, …): nothing a reader sees.
fn invisible(c: char) -> bool {
    use icu_properties::CodePointSetData;
    use icu_properties::props::{DefaultIgnorableCodePoint, WhiteSpace};
    CodePointSetData::new::<WhiteSpace>().contains(c)
        || CodePointSetData::new::<DefaultIgnorableCodePoint>().contains(c)
}

fn check_length(value: &str, max: usize) -> Result<(), String> {
    let count = value.chars().count();
    if count > max {
        Err(format!("must be at most {max} characters (got {count})"))
    } else {
        Ok(())
    }
}

/// A number within an inclusive range.
pub fn in_range(value: i64, min: i64, max: i64) -> Result<i32, String> {
    if (min..=max).contains(&value) {
        i32::try_from(value).map_err(|_| format!("must be between {min} and {max}"))
    } else {
        Err(format!("must be between {min} and {max}"))
    }
}

/// A code from a controlled list or a district's slug: lowercase ASCII letters, digits,
/// `_` (and `-` where `allow_dash`), starting with a letter, 2 to 40 characters.
fn slug(value: &str, allow_dash: bool) -> Result<String, String> {
    let valid_char = |c: char| {
        c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || (allow_dash && c == '-')
    };
    let starts_with_letter = value.chars().next().is_some_and(|c| c.is_ascii_lowercase());
    if (2..=40).contains(&value.len()) && starts_with_letter && value.chars().all(valid_char) {
        Ok(value.to_owned())
    } else {
        Err(format!(
            "must be 2 to 40 lowercase letters, digits{} or `_`, starting with a letter",
            if allow_dash { ", `-`" } else { "" }
        ))
    }
}

/// A code of a controlled list (sector, party, role).
pub fn list_code(value: &str) -> Result<String, String> {
    slug(value, false)
}

/// A member's number within a district (委员编号): the key district systems sync on.
/// 1 to 32 characters of letters, digits, `-`, `_`, `/` and `.`.
pub fn member_no(value: &str) -> Result<String, String> {
    let valid = !value.is_empty()
        && value.len() <= 32
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '/' | '.'));
    if valid {
        Ok(value.to_owned())
    } else {
        Err("must be 1 to 32 letters, digits, `-`, `_`, `/` or `.`".into())
    }
}

/// A phone number: digits with an optional leading `+` and `-`, space or parentheses
/// between them; 5 to 20 digits.
pub fn phone(value: &str) -> Result<String, String> {
    let value = value.trim();
    let digits = value.chars().filter(char::is_ascii_digit).count();
    let body = value.strip_prefix('+').unwrap_or(value);
    let valid = (5..=20).contains(&digits)
        && body
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '-' | ' ' | '(' | ')'));
    if valid {
        Ok(value.to_owned())
    } else {
        Err(
            "must be a phone number: 5 to 20 digits, optionally with +, -, spaces or parentheses"
                .into(),
        )
    }
}

static EMAIL_FORBIDDEN: LazyLock<Vec<char>> =
    LazyLock::new(|| " \t\r\n\0<>()[]\\,;:\"".chars().collect());

/// An email address, checked for shape only (one `@`, a dotted domain, at most 254 chars),
/// as text ([`line`]: NFC, no control, bidirectional control or non-character) with no
/// invisible character anywhere.
pub fn email(value: &str) -> Result<String, String> {
    let normalized = line(value, 254)?;
    if value.chars().any(invisible) {
        return Err("must be an email address (no white space or invisible characters)".into());
    }
    // The shape holds of the address as sent and as stored (U+037E is `;` in NFC).
    let shaped = |value: &str| match value.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
        }
        None => false,
    } && !value.chars().any(|c| EMAIL_FORBIDDEN.contains(&c));
    if shaped(value) && shaped(&normalized) {
        Ok(normalized)
    } else {
        Err("must be an email address".into())
    }
}

/// A list of ids or codes as stored: sorted, each once.
pub fn distinct<T: Ord>(mut items: Vec<T>) -> Vec<T> {
    items.sort();
    items.dedup();
    items
}

/// A range of code points, both ends included.
type Span = (u32, u32);

/// Sorted spans with overlapping and touching ones joined.
fn joined(mut spans: Vec<Span>) -> Vec<Span> {
    spans.sort_unstable();
    let mut out: Vec<Span> = Vec::with_capacity(spans.len());
    for (start, end) in spans {
        match out.last_mut() {
            Some(last) if start <= last.1.saturating_add(1) => last.1 = last.1.max(end),
            _ => out.push((start, end)),
        }
    }
    out
}

fn spans_of<P: icu_properties::props::BinaryProperty>() -> impl Iterator<Item = Span> {
    icu_properties::CodePointSetData::new::<P>()
        .iter_ranges()
        .map(|range| (*range.start(), *range.end()))
}

/// The characters a text refuses anywhere: control characters other than `allowed`,
/// bidirectional controls and non-characters.
fn refused_spans(allowed: &[char]) -> Vec<Span> {
    use icu_properties::props::{BidiControl, NoncharacterCodePoint};
    let controls = (0..=0x9f_u32)
        .filter(|&c| char::from_u32(c).is_some_and(|c| c.is_control() && !allowed.contains(&c)))
        .map(|c| (c, c));
    joined(
        controls
            .chain(spans_of::<BidiControl>())
            .chain(spans_of::<NoncharacterCodePoint>())
            .collect(),
    )
}

/// A character class's members, in a spelling ECMA-262 (with or without its `u` flag),
/// Python's `re` and Rust's `regex` all read alike: `\uXXXX` in the Basic Multilingual
/// Plane, the character itself beyond it.
fn class(spans: &[Span]) -> String {
    let one = |c: u32| match char::from_u32(c) {
        Some(c) if c > '\u{ffff}' => c.to_string(),
        _ => format!("\\u{c:04X}"),
    };
    spans
        .iter()
        .map(|&(start, end)| {
            if start == end {
                one(start)
            } else {
                format!("{}-{}", one(start), one(end))
            }
        })
        .collect()
}

/// What [`text`] accepts with the control characters `allowed`, as a JSON Schema
/// pattern: no refused character anywhere and one visible character at least. Built from
/// the same Unicode sets the rule checks, so the two cannot drift (a test compares them
/// over every code point).
pub fn text_pattern(allowed: &[char]) -> String {
    use icu_properties::props::{DefaultIgnorableCodePoint, WhiteSpace};
    let refused = refused_spans(allowed);
    let unseen = joined(
        refused
            .iter()
            .copied()
            .chain(spans_of::<WhiteSpace>())
            .chain(spans_of::<DefaultIgnorableCodePoint>())
            .collect(),
    );
    format!(
        "^[^{refused}]*[^{unseen}][^{refused}]*$",
        refused = class(&refused),
        unseen = class(&unseen)
    )
}

/// The schema of a string with these bounds and pattern.
fn string_schema(
    min: usize,
    max: Option<usize>,
    pattern: String,
    description: String,
) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(min))
        .max_length(max)
        .pattern(Some(pattern))
        .description(Some(description))
        .into()
}

/// A value read from a JSON string by its `parse` and described to clients by the schema
/// that states exactly what `parse` accepts: the one place a field's limits are written.
macro_rules! checked_text {
    ($(#[$doc:meta])* $name:ident<MAX>, $check:expr, $schema:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name<const MAX: usize>(String);

        impl<const MAX: usize> $name<MAX> {
            pub fn parse(value: &str) -> Result<Self, String> {
                let check: fn(&str, usize) -> Result<String, String> = $check;
                check(value, MAX).map(Self)
            }
        }

        checked_text!(@common [const MAX: usize] $name<MAX>, format!("{}{MAX}", stringify!($name)).into(), {
            let schema: fn(usize) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> =
                $schema;
            schema(MAX)
        });
    };
    ($(#[$doc:meta])* $name:ident, $check:expr, $schema:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            pub fn parse(value: &str) -> Result<Self, String> {
                let check: fn(&str) -> Result<String, String> = $check;
                check(value).map(Self)
            }
        }

        checked_text!(@common [] $name, stringify!($name).into(), {
            let schema: fn() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> =
                $schema;
            schema()
        });
    };
    (@common [$($generics:tt)*] $ty:ty, $name:expr, $schema:block) => {
        impl<$($generics)*> $ty {
            pub fn into_inner(self) -> String {
                self.0
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl<$($generics)*> From<$ty> for String {
            fn from(value: $ty) -> String {
                value.0
            }
        }

        impl<'de, $($generics)*> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = String::deserialize(deserializer)?;
                Self::parse(&value).map_err(serde::de::Error::custom)
            }
        }

        impl<$($generics)*> utoipa::PartialSchema for $ty {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> $schema
        }

        impl<$($generics)*> utoipa::ToSchema for $ty {
            fn name() -> std::borrow::Cow<'static, str> {
                $name
            }
        }
    };
}

static LINE_PATTERN: LazyLock<String> = LazyLock::new(|| text_pattern(&[]));
static PARAGRAPH_PATTERN: LazyLock<String> = LazyLock::new(|| text_pattern(&['\n', '\r', '\t']));

checked_text!(
    /// Single-line text (a name, a title) of 1 to `MAX` characters: [`line`].
    Line<MAX>,
    line,
    |max| string_schema(
        1,
        Some(max),
        LINE_PATTERN.clone(),
        format!(
            "Text of at most {max} characters, on one line: no control character, \
             bidirectional control or non-character, and not only white space or \
             invisible characters. Stored trimmed and in Unicode NFC, where it must keep \
             to the limit too (a few characters, such as U+0958, grow in NFC)."
        ),
    )
);

checked_text!(
    /// Text of 1 to `MAX` characters that may hold line breaks and tabs: [`paragraph`].
    Paragraph<MAX>,
    paragraph,
    |max| string_schema(
        1,
        Some(max),
        PARAGRAPH_PATTERN.clone(),
        format!(
            "Text of at most {max} characters; line breaks and tabs are kept, other \
             control characters, bidirectional controls and non-characters refused, and \
             it is not only white space or invisible characters. Stored trimmed and in \
             Unicode NFC, where it must keep to the limit too (a few characters, such as \
             U+0958, grow in NFC)."
        ),
    )
);

/// A white-space class of [`str::trim`]'s own (Unicode's White_Space).
fn white_space_class() -> String {
    class(&joined(
        spans_of::<icu_properties::props::WhiteSpace>().collect(),
    ))
}

/// What [`email`] accepts, as a JSON Schema pattern: one `@`, a local part and a domain
/// with a dot neither first nor last, none of the characters a text refuses, no white
/// space or invisible character, and none of `<>()[]\,;:"`.
fn email_pattern() -> String {
    use icu_properties::props::{DefaultIgnorableCodePoint, WhiteSpace};
    let forbidden: Vec<Span> = EMAIL_FORBIDDEN
        .iter()
        .chain(['@'].iter())
        .map(|&c| (u32::from(c), u32::from(c)))
        // U+037E GREEK QUESTION MARK is `;` in NFC, as the address is stored.
        .chain([(0x37e, 0x37e)])
        .chain(refused_spans(&[]))
        .chain(spans_of::<WhiteSpace>())
        .chain(spans_of::<DefaultIgnorableCodePoint>())
        .collect();
    let no_dot = class(&joined(
        forbidden.iter().copied().chain([(0x2e, 0x2e)]).collect(),
    ));
    let any = class(&joined(forbidden));
    format!("^[^{any}]+@[^{no_dot}][^{any}]*\\u002E[^{any}]*[^{no_dot}]$")
}

checked_text!(
    /// A member's number in a district: [`member_no`].
    MemberNo,
    member_no,
    || string_schema(
        1,
        Some(32),
        "^[0-9A-Za-z\\u002D\\u002E\\u002F_]+$".to_owned(),
        "A member's number in the district (委员编号): 1 to 32 letters, digits, `-`, `_`, \
         `/` or `.`."
            .to_owned(),
    )
);

checked_text!(
    /// A phone number: [`phone`].
    Phone,
    phone,
    || {
        let space = white_space_class();
        string_schema(
            5,
            None,
            format!(
                "^[{space}]*\\u002B?[\\u0020\\u0028\\u0029\\u002D]*\
                 (?:[0-9][\\u0020\\u0028\\u0029\\u002D]*){{5,20}}[{space}]*$"
            ),
            "A phone number: 5 to 20 digits, with an optional leading `+` and `-`, spaces or \
             parentheses between them. Stored trimmed."
                .to_owned(),
        )
    }
);

checked_text!(
    /// An email address: [`email`].
    Email,
    email,
    || string_schema(
        5,
        Some(254),
        email_pattern(),
        "An email address, at most 254 characters: one `@`, a dotted domain, no white \
         space, invisible or control character. Stored in Unicode NFC."
            .to_owned(),
    )
);

/// A text filter of a list as a query sends it: no NUL, at most `max` characters.
fn filter_text(value: &str, max: usize) -> Result<String, String> {
    if value.contains('\0') {
        Err("must not contain a NUL character".into())
    } else if value.chars().count() > max {
        Err(format!("must be at most {max} characters"))
    } else {
        Ok(value.to_owned())
    }
}

checked_text!(
    /// A text filter of a list: [`filter_text`].
    FilterText<MAX>,
    filter_text,
    |max| string_schema(
        0,
        Some(max),
        "^[^\\u0000]*$".to_owned(),
        format!("At most {max} characters; surrounding white space is ignored, and an empty filter is none."),
    )
);

impl<const MAX: usize> FilterText<MAX> {
    /// The filter as a query reads it: trimmed, and none when empty.
    pub fn into_filter(self) -> Option<String> {
        let trimmed = self.0.trim();
        (!trimmed.is_empty()).then(|| trimmed.to_owned())
    }
}

checked_text!(
    /// A district's code, e.g. `xicheng`.
    DistrictCode,
    |value| slug(value, true),
    || string_schema(
        2,
        Some(40),
        "^[a-z][a-z0-9_\\u002D]+$".to_owned(),
        "A district's code: 2 to 40 lowercase letters, digits, `-` or `_`, starting with \
         a letter."
            .to_owned(),
    )
);

/// A district system's id of a record it syncs: 1 to 64 letters, digits, `.`, `_`, `/`,
/// `:` or `-`.
pub fn external_id(value: &str) -> Result<String, String> {
    let valid = (1..=64).contains(&value.len())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '/' | ':' | '-'));
    if valid {
        Ok(value.to_owned())
    } else {
        Err("must be 1 to 64 letters, digits, `.`, `_`, `/`, `:` or `-`".into())
    }
}

checked_text!(
    /// A district system's id of a record: [`external_id`].
    ExternalId,
    external_id,
    || string_schema(
        1,
        Some(64),
        "^[0-9A-Za-z\\u002E_\\u002F\\u003A\\u002D]+$".to_owned(),
        "The district system's id of the record: 1 to 64 letters, digits, `.`, `_`, `/`, \
         `:` or `-`."
            .to_owned(),
    )
);

checked_text!(
    /// A code of a controlled list: [`list_code`].
    ListCode,
    list_code,
    || string_schema(
        2,
        Some(40),
        "^[a-z][a-z0-9_]+$".to_owned(),
        "A code of a controlled list: 2 to 40 lowercase letters, digits or `_`, starting \
         with a letter."
            .to_owned(),
    )
);

/// A JSON number that is a whole number, as JSON Schema's `integer` counts them: `2026`
/// and `2026.0` alike. One too large for any bound reads as the largest, so its range is
/// what is refused.
fn whole_number<E: serde::de::Error>(number: &serde_json::Number) -> Result<i64, E> {
    if let Some(value) = number.as_i64() {
        return Ok(value);
    }
    match number.as_f64() {
        #[allow(clippy::cast_possible_truncation)]
        Some(value) if value.fract() == 0.0 => {
            Ok(value.clamp(i64::MIN as f64, i64::MAX as f64) as i64)
        }
        _ => Err(E::custom("must be a whole number")),
    }
}

/// An integer read from JSON and kept only within its bounds, described to clients by a
/// schema with those bounds: the one place they are written.
macro_rules! checked_int {
    ($(#[$doc:meta])* $name:ident, $min:expr, $max:expr, $description:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $name(i32);

        impl $name {
            pub const MIN: i64 = $min;
            pub const MAX: i64 = $max;

            pub fn parse(value: i64) -> Result<Self, String> {
                in_range(value, Self::MIN, Self::MAX).map(Self)
            }

            pub fn get(self) -> i32 {
                self.0
            }
        }

        impl From<$name> for i32 {
            fn from(value: $name) -> i32 {
                value.0
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let number = serde_json::Number::deserialize(deserializer)?;
                Self::parse(whole_number(&number)?).map_err(serde::de::Error::custom)
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int32)))
                    .minimum(Some(Self::MIN as f64))
                    .maximum(Some(Self::MAX as f64))
                    .description(Some($description))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

checked_int!(
    /// A year the committee's records can be of.
    Year,
    2000,
    2100,
    "A year, 2000 to 2100."
);

checked_int!(
    /// A committee term (届).
    Term,
    1,
    99,
    "A committee term (届), 1 to 99."
);

checked_int!(
    /// A number of people or opinions.
    Count,
    0,
    i32::MAX as i64,
    "A count, 0 or more."
);

checked_int!(
    /// Points a scoring rule gives or takes per item.
    Points,
    0,
    crate::domain::performance::MAX_POINTS,
    "Points per item, 0 to 100."
);

checked_int!(
    /// A score a grade's line is drawn at.
    Score,
    0,
    crate::domain::performance::MAX_LINE,
    "A score, 0 to 100,000."
);

checked_int!(
    /// How long an API key lasts, in days.
    KeyLifetime,
    1,
    3650,
    "Days until the key expires, 1 to 3,650."
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_trims_and_refuses_empty_control_and_long_text() {
        assert_eq!(line("  西城区 ", 10).unwrap(), "西城区");
        assert!(line("   ", 10).is_err());
        assert!(line("a\0b", 10).is_err());
        assert!(line("a\nb", 10).is_err());
        assert_eq!(line(&"字".repeat(10), 10).unwrap().chars().count(), 10);
        assert!(line(&"字".repeat(11), 10).is_err());
    }

    #[test]
    fn paragraph_keeps_line_breaks_but_not_nul() {
        assert_eq!(paragraph("a\nb", 10).unwrap(), "a\nb");
        assert!(paragraph("a\0b", 10).is_err());
    }

    #[test]
    fn district_codes_are_slugs() {
        assert_eq!(DistrictCode::parse("xicheng").unwrap().as_str(), "xicheng");
        assert!(DistrictCode::parse("xicheng").is_ok());
        assert!(DistrictCode::parse("shi-jing_shan2").is_ok());
        assert!(DistrictCode::parse("Xicheng").is_err());
        assert!(DistrictCode::parse("1x").is_err());
        assert!(DistrictCode::parse("x").is_err());
        assert!(DistrictCode::parse("西城").is_err());
    }

    #[test]
    fn text_is_nfc_and_refuses_invisible_bidi_and_non_characters() {
        // "é" typed as e + combining acute is stored as the one composed character.
        assert_eq!(line("Re\u{301}ne", 10).unwrap(), "R\u{e9}ne");
        assert_eq!(
            paragraph("e\u{301}\nline two", 20).unwrap(),
            "\u{e9}\nline two"
        );
        for invisible in [
            "\u{200b}",
            " \u{200d}\u{feff} ",
            "\u{3164}",
            "\u{2060}\u{fe0f}",
            "\u{ad}",
        ] {
            let error = line(invisible, 10).unwrap_err();
            assert!(error.contains("empty"), "{invisible:?}: {error}");
            assert!(paragraph(invisible, 10).is_err(), "{invisible:?}");
        }
        for bidi in [
            '\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}', '\u{202e}', '\u{2066}', '\u{2067}',
            '\u{2068}', '\u{2069}',
        ] {
            let value = format!("王{bidi}芳");
            assert!(
                line(&value, 10).unwrap_err().contains("bidirectional"),
                "{bidi:?}"
            );
            assert!(paragraph(&value, 10).is_err(), "{bidi:?}");
        }
        for non in [
            '\u{fdd0}',
            '\u{fdef}',
            '\u{fffe}',
            '\u{ffff}',
            '\u{1fffe}',
            '\u{10ffff}',
        ] {
            let value = format!("王{non}芳");
            assert!(
                line(&value, 10).unwrap_err().contains("non-characters"),
                "{non:?}"
            );
        }
        // What is stored keeps to the limit: U+0958 is two characters in NFC.
        assert!(line(&"\u{958}".repeat(5), 10).is_ok());
        assert!(line(&"\u{958}".repeat(6), 10).unwrap_err().contains("NFC"));
        // Inside visible text, a joiner stays (emoji sequences need it).
        assert!(line("家\u{200d}庭", 10).is_ok());
        // The length is counted as sent, as a schema's maxLength counts it.
        assert!(line(&"e\u{301}".repeat(5), 5).is_err());
        assert!(line(&"e\u{301}".repeat(5), 10).is_ok());
    }

    #[test]
    fn member_numbers_phones_and_emails() {
        assert!(member_no("XC-2026/001").is_ok());
        assert!(member_no("").is_err());
        assert!(member_no("has space").is_err());
        assert!(phone("+86 (10) 6601-2345").is_ok());
        assert!(phone("call me").is_err());
        assert!(phone("123").is_err());
        assert!(email("wang@example.cn").is_ok());
        assert!(email("wang@localhost").is_err());
        assert!(email("wang example.cn").is_err());
        for hidden in [
            "\u{200b}@x.cn",
            "e\u{202e}@b.cn",
            "\u{2067}x@b.cn",
            "a\u{7}b@b.cn",
            "a\u{fdd0}@b.cn",
            "a\u{feff}b@b.cn",
        ] {
            assert!(email(hidden).is_err(), "{hidden:?}");
        }
        assert_eq!(email("e\u{301}@b.cn").unwrap(), "\u{e9}@b.cn");
    }

    /// The schema's pattern of a checked type, as a Rust regex.
    fn pattern_of<T: utoipa::PartialSchema>() -> regex::Regex {
        let utoipa::openapi::RefOr::T(utoipa::openapi::schema::Schema::Object(schema)) =
            T::schema()
        else {
            panic!("a checked type's schema is an object");
        };
        regex::Regex::new(&schema.pattern.expect("a pattern")).expect("a valid pattern")
    }

    #[test]
    fn text_patterns_accept_exactly_what_the_rules_accept_character_by_character() {
        let line = pattern_of::<Line<10>>();
        let paragraph = pattern_of::<Paragraph<10>>();
        let email = pattern_of::<Email>();
        // Every character of the Basic Multilingual Plane; beyond it, both sides of every
        // edge of the sets the rules read, and a sample between.
        use icu_properties::props::{DefaultIgnorableCodePoint, WhiteSpace};
        let edges = refused_spans(&[])
            .into_iter()
            .chain(spans_of::<WhiteSpace>())
            .chain(spans_of::<DefaultIgnorableCodePoint>())
            .flat_map(|(start, end)| [start.saturating_sub(1), start, end, end + 1]);
        let points = (0..=0xffff_u32)
            .chain(edges)
            .chain((0x10000..=0x10ffff).step_by(251));
        for c in points.filter_map(char::from_u32) {
            for text in [
                c.to_string(),
                format!("王{c}芳"),
                format!("{c}芳"),
                format!("王{c}"),
            ] {
                assert_eq!(
                    line.is_match(&text),
                    Line::<10>::parse(&text).is_ok(),
                    "line {text:?}"
                );
                assert_eq!(
                    paragraph.is_match(&text),
                    Paragraph::<10>::parse(&text).is_ok(),
                    "paragraph {text:?}"
                );
            }
            for text in [
                format!("a{c}@b.cn"),
                format!("a@b{c}.cn"),
                format!("a@b.c{c}"),
            ] {
                assert_eq!(
                    email.is_match(&text),
                    Email::parse(&text).is_ok(),
                    "email {text:?}"
                );
            }
        }
    }

    #[test]
    fn code_and_number_patterns_accept_what_the_rules_accept() {
        let samples = [
            "",
            "a",
            "ab",
            "Ab",
            "a-b",
            "a_b",
            "1ab",
            "XC-2026/001",
            "x.y",
            "a b",
            "+86 (10) 6601-2345",
            "  +8610660123  ",
            "\u{3000}12345\u{3000}",
            "12345",
            "1234",
            "++12345",
            "12-34-5",
            "(((12345)))",
            "1234567890123456789012",
            "wang@example.cn",
            "a@b.c",
            "a@.b.c",
            "a@b.",
            "a@@b.c",
            "@b.c",
            "a@bc",
            "a b@c.d",
            "a;b@c.d",
            "a@b..c",
            "家@例子.中国",
        ];
        let phone = pattern_of::<Phone>();
        let member_no = pattern_of::<MemberNo>();
        let list_code = pattern_of::<ListCode>();
        let district = pattern_of::<DistrictCode>();
        let email = pattern_of::<Email>();
        let long = "a".repeat(40);
        let longer = "a".repeat(41);
        for text in samples
            .iter()
            .copied()
            .chain([long.as_str(), longer.as_str()])
        {
            let within = |max: usize| text.chars().count() <= max;
            assert_eq!(
                phone.is_match(text),
                Phone::parse(text).is_ok(),
                "phone {text:?}"
            );
            assert_eq!(
                member_no.is_match(text) && within(32),
                MemberNo::parse(text).is_ok(),
                "member_no {text:?}"
            );
            assert_eq!(
                list_code.is_match(text) && within(40),
                ListCode::parse(text).is_ok(),
                "list code {text:?}"
            );
            assert_eq!(
                district.is_match(text) && within(40),
                DistrictCode::parse(text).is_ok(),
                "district code {text:?}"
            );
            assert_eq!(
                email.is_match(text),
                Email::parse(text).is_ok(),
                "email {text:?}"
            );
        }
    }

    #[test]
    fn lists_are_kept_sorted_and_once_each() {
        assert_eq!(distinct(vec![3, 1, 3, 2, 1]), [1, 2, 3]);
    }

    #[test]
    fn integers_are_whole_numbers_however_written_within_their_bounds() {
        let year = |json: &str| serde_json::from_str::<Year>(json).map(Year::get);
        assert_eq!(year("2026").unwrap(), 2026);
        assert_eq!(year("2026.0").unwrap(), 2026);
        assert_eq!(year("2.026e3").unwrap(), 2026);
        assert!(
            year("2026.5")
                .unwrap_err()
                .to_string()
                .contains("whole number")
        );
        assert!(
            year("1999")
                .unwrap_err()
                .to_string()
                .contains("between 2000 and 2100")
        );
        assert!(
            year("1e300")
                .unwrap_err()
                .to_string()
                .contains("between 2000 and 2100")
        );
        assert!(year("18446744073709551615").is_err());
        assert!(year("\"2026\"").is_err());
    }

    #[test]
    fn terms_are_bounded() {
        assert_eq!(Term::parse(16).map(Term::get), Ok(16));
        assert!(Term::parse(0).is_err());
        assert!(Term::parse(100).is_err());
        assert!(Term::parse(i64::MAX).is_err());
    }
}
