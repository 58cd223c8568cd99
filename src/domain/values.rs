//! Values parsed once at the edge: a handler never holds an unchecked string.
//!
//! Each `parse` returns a human-readable reason on failure; the API layer attaches it to
//! the JSON pointer of the field.

use std::sync::LazyLock;

/// Single-line text: trimmed, not empty, no control characters, at most `max` characters.
pub fn line(value: &str, max: usize) -> Result<String, String> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err("must not be empty".into());
    }
    if trimmed.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    check_length(trimmed, max)?;
    Ok(trimmed.to_owned())
}

/// Multi-line text: like [`line`] but line breaks and tabs are kept.
pub fn paragraph(value: &str, max: usize) -> Result<String, String> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err("must not be empty".into());
    }
    if trimmed
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err("must not contain control characters other than line breaks and tabs".into());
    }
    check_length(trimmed, max)?;
    Ok(trimmed.to_owned())
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

/// An email address, checked for shape only (one `@`, a dotted domain, at most 254 chars).
pub fn email(value: &str) -> Result<String, String> {
    let value = value.trim();
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
