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
/// names (`refused_as` says which), or more than `max` characters. The character properties are Unicode's own, as
/// ICU4X publishes them.
fn text(
    value: &str,
    max: usize,
    refused: impl Fn(char) -> bool,
    refused_as: &str,
) -> Result<String, String> {
    use icu_properties::CodePointSetData;
    use icu_properties::props::{BidiControl, NoncharacterCodePoint};
    let normalized = icu_normalizer::ComposingNormalizerBorrowed::new_nfc().normalize(value);
    let trimmed = normalized.trim();
    if trimmed.chars().all(invisible) {
        return Err("must not be empty (invisible characters alone do not count)".into());
    }
    if trimmed.chars().any(&refused) {
        return Err(format!("must not contain {refused_as}"));
    }
    if trimmed
        .chars()
        .any(|c| CodePointSetData::new::<BidiControl>().contains(c))
    {
        return Err("must not contain bidirectional controls (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F, U+061C)".into());
    }
    if trimmed
        .chars()
        .any(|c| CodePointSetData::new::<NoncharacterCodePoint>().contains(c))
    {
        return Err("must not contain Unicode non-characters".into());
    }
    check_length(trimmed, max)?;
    Ok(trimmed.to_owned())
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

/// A committee term (届), 1 to 99.
pub fn term(value: i64) -> Result<i32, String> {
    in_range(value, 1, 99)
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

/// A district's code, e.g. `xicheng`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistrictCode(String);

impl DistrictCode {
    pub fn parse(value: &str) -> Result<Self, String> {
        slug(value, true).map(Self)
    }

    pub fn into_inner(self) -> String {
        self.0
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
    let value = line(value, 254)?;
    if value.chars().any(invisible) {
        return Err("must be an email address (no white space or invisible characters)".into());
    }
    let value = value.as_str();
    let shape_ok = match value.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
        }
        None => false,
    };
    if shape_ok && value.len() <= 254 && !value.chars().any(|c| EMAIL_FORBIDDEN.contains(&c)) {
        Ok(value.to_owned())
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
        // Inside visible text, a joiner stays (emoji sequences need it).
        assert!(line("家\u{200d}庭", 10).is_ok());
        // The length is counted after normalising.
        assert!(line(&"e\u{301}".repeat(5), 5).is_ok());
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

    #[test]
    fn lists_are_kept_sorted_and_once_each() {
        assert_eq!(distinct(vec![3, 1, 3, 2, 1]), [1, 2, 3]);
    }

    #[test]
    fn terms_are_bounded() {
        assert_eq!(term(16), Ok(16));
        assert!(term(0).is_err());
        assert!(term(100).is_err());
        assert!(term(i64::MAX).is_err());
    }
}
