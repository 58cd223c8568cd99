//! Reading request bodies so that every problem in a body is reported at once.
//!
//! Body fields are [`Field`]s: a field never fails deserialization on its own, it records
//! what was wrong, and [`Checks`] collects every such problem with its JSON pointer.

use std::borrow::Cow;

use serde::de::{Deserialize, DeserializeOwned, Deserializer};

use crate::error::{ApiError, FieldError};

/// One field of a JSON body, as sent.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Field<T> {
    /// The field was not in the body.
    #[default]
    Missing,
    /// The field was `null`.
    Null,
    Value(T),
    /// The field had the wrong type or an unknown value; the reason.
    Invalid(String),
}

impl<T> Field<T> {
    /// A value read elsewhere than from a body (a command line): the value, or why not.
    pub fn parsed(value: Result<T, String>) -> Self {
        value.map_or_else(Self::Invalid, Self::Value)
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Field<U> {
        match self {
            Self::Missing => Field::Missing,
            Self::Null => Field::Null,
            Self::Value(value) => Field::Value(f(value)),
            Self::Invalid(reason) => Field::Invalid(reason),
        }
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        if value.is_null() {
            return Ok(Self::Null);
        }
        Ok(match T::deserialize(value) {
            Ok(value) => Self::Value(value),
            Err(error) => Self::Invalid(describe::<T>(&error)),
        })
    }
}

fn describe<T>(error: &serde_json::Error) -> String {
    let message = error.to_string();
    let type_name = std::any::type_name::<T>();
    if type_name.contains("NaiveDate") {
        format!("must be a date (YYYY-MM-DD): {message}")
    } else if type_name.ends_with("Id") || type_name.contains("Uuid") {
        format!("must be a UUID: {message}")
    } else {
        message
    }
}

impl<T: utoipa::PartialSchema> utoipa::PartialSchema for Field<T> {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        T::schema()
    }
}

impl<T: utoipa::ToSchema> utoipa::ToSchema for Field<T> {
    fn name() -> Cow<'static, str> {
        T::name()
    }

    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        T::schemas(schemas);
    }
}

/// Collects the problems of one request body.
#[derive(Debug, Default)]
pub struct Checks {
    errors: Vec<FieldError>,
}

impl Checks {
    /// A value that does not meet its schema.
    pub fn invalid(&mut self, pointer: &str, detail: impl Into<String>) {
        self.errors.push(FieldError::invalid(pointer, detail));
    }

    /// A value that names nothing the caller can reach.
    pub fn unknown(&mut self, pointer: &str, detail: impl Into<String>) {
        self.errors.push(FieldError::unknown(pointer, detail));
    }

    /// A value that breaks a rule between fields or with the records' state.
    pub fn rule(&mut self, pointer: &str, detail: impl Into<String>) {
        self.errors.push(FieldError::rule(pointer, detail));
    }

    /// Every problem found by another check, as it found them.
    pub fn extend(&mut self, errors: impl IntoIterator<Item = FieldError>) {
        self.errors.extend(errors);
    }

    pub fn is_clean(&self) -> bool {
        self.errors.is_empty()
    }

    /// A field that must end with a value. Absent keeps `current` (the stored value on an
    /// update, the default on a create); absent with no current value is "required".
    pub fn required<T, U>(
        &mut self,
        pointer: &str,
        field: Field<T>,
        current: Option<U>,
        parse: impl FnOnce(T) -> Result<U, String>,
    ) -> Option<U> {
        match field {
            Field::Missing => {
                if current.is_none() {
                    self.errors.push(FieldError::required(pointer));
                }
                current
            }
            Field::Null => {
                self.invalid(pointer, "must not be null");
                None
            }
            Field::Value(value) => self.parse(pointer, value, parse),
            Field::Invalid(reason) => {
                self.invalid(pointer, reason);
                None
            }
        }
    }

    /// A field that may be null. Absent keeps `current`; null clears it.
    pub fn optional<T, U>(
        &mut self,
        pointer: &str,
        field: Field<T>,
        current: Option<U>,
        parse: impl FnOnce(T) -> Result<U, String>,
    ) -> Option<U> {
        match field {
            Field::Missing => current,
            Field::Null => None,
            Field::Value(value) => self.parse(pointer, value, parse),
            Field::Invalid(reason) => {
                self.invalid(pointer, reason);
                None
            }
        }
    }

    /// A list field, each element parsed on its own so each bad element is named.
    pub fn list<T, U>(
        &mut self,
        pointer: &str,
        field: Field<Vec<T>>,
        current: Option<Vec<U>>,
        mut parse: impl FnMut(T) -> Result<U, String>,
    ) -> Option<Vec<U>> {
        let items = match field {
            Field::Value(items) => items,
            // Not a list: the same rules as any required field.
            other => return self.required(pointer, other.map(drop), current, |()| Ok(Vec::new())),
        };
        let before = self.errors.len();
        let parsed: Vec<U> = items
            .into_iter()
            .enumerate()
            .filter_map(|(index, item)| match parse(item) {
                Ok(value) => Some(value),
                Err(reason) => {
                    self.invalid(&format!("{pointer}/{index}"), reason);
                    None
                }
            })
            .collect();
        (self.errors.len() == before).then_some(parsed)
    }

    fn parse<T, U>(
        &mut self,
        pointer: &str,
        value: T,
        parse: impl FnOnce(T) -> Result<U, String>,
    ) -> Option<U> {
        match parse(value) {
            Ok(value) => Some(value),
            Err(reason) => {
                self.invalid(pointer, reason);
                None
            }
        }
    }

    /// The value built from the checked fields, or every problem found.
    pub fn finish<T>(self, value: Option<T>) -> Result<T, ApiError> {
        match value {
            Some(value) if self.errors.is_empty() => Ok(value),
            _ => Err(ApiError::Validation(self.errors)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    #[serde(default)]
    struct Body {
        name: Field<String>,
        term: Field<i64>,
        tags: Field<Vec<String>>,
    }

    impl Default for Body {
        fn default() -> Self {
            Self {
                name: Field::Missing,
                term: Field::Missing,
                tags: Field::Missing,
            }
        }
    }

    fn body(json: &str) -> Body {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn fields_record_missing_null_values_and_type_errors() {
        let body = body(r#"{"name": null, "term": "sixteen"}"#);
        assert_eq!(body.name, Field::Null);
        assert!(matches!(body.term, Field::Invalid(_)));
        assert_eq!(body.tags, Field::Missing);
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let body = body(r#"{"name": null, "term": "sixteen", "tags": ["ok", ""]}"#);
        let mut checks = Checks::default();
        let name = checks.required("/name", body.name, None, Ok::<_, String>);
        let term = checks.required("/term", body.term, None, |v| {
            crate::domain::values::Term::parse(v).map(i32::from)
        });
        let tags = checks.list("/tags", body.tags, None, |tag: String| {
            crate::domain::values::line(&tag, 10)
        });
        let result = checks.finish(name.zip(term).zip(tags));
        let Err(ApiError::Validation(errors)) = result else {
            panic!("expected a validation error");
        };
        let pointers: Vec<_> = errors.iter().map(|e| e.pointer.as_str()).collect();
        assert_eq!(pointers, ["/name", "/term", "/tags/1"]);
    }

    #[test]
    fn absent_fields_keep_the_current_value_and_null_clears_optional_ones() {
        let body = body(r#"{"name": null}"#);
        let mut checks = Checks::default();
        let term = checks.required("/term", body.term, Some(16), |_: i64| Ok(0));
        let name = checks.optional("/name", body.name, Some("old".to_owned()), Ok::<_, String>);
        assert_eq!(term, Some(16));
        assert_eq!(name, None);
        assert!(checks.is_clean());
    }
}
