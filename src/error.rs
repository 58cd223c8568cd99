//! The one error type of the API, written as RFC 9457 problem details.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::metrics::{self, DbFailure};

/// One invalid part of a request, located by a JSON pointer into the body (or the name of
/// the query parameter).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// JSON pointer to the offending value, e.g. `/name`.
    #[schema(example = "/name")]
    pub pointer: String,
    pub code: FieldErrorCode,
    /// What is wrong with it.
    #[schema(example = "must not be empty")]
    pub detail: String,
}

/// Why a value was refused, for a client to act on (and to word in its own language)
/// without reading `detail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FieldErrorCode {
    /// The value does not meet its schema in the document: type, format, length, range,
    /// pattern, allowed values or number of items. A request valid under the document
    /// never gets this.
    Invalid,
    /// A field the document marks required is absent.
    Required,
    /// The value names nothing the caller can reach: an id or code of no record (or of
    /// one in another district), a cursor this list did not issue. The document cannot
    /// know the rows.
    Unknown,
    /// The value breaks a rule between fields, or with the records as they are now, that
    /// the operation's description states.
    Rule,
    /// The value is already another record's (a name unique in a district).
    Taken,
}

impl FieldError {
    fn with(code: FieldErrorCode, pointer: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            pointer: pointer.into(),
            code,
            detail: detail.into(),
        }
    }

    pub fn invalid(pointer: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::with(FieldErrorCode::Invalid, pointer, detail)
    }

    pub fn required(pointer: impl Into<String>) -> Self {
        Self::with(FieldErrorCode::Required, pointer, "is required")
    }

    pub fn unknown(pointer: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::with(FieldErrorCode::Unknown, pointer, detail)
    }

    pub fn rule(pointer: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::with(FieldErrorCode::Rule, pointer, detail)
    }

    pub fn taken(pointer: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::with(FieldErrorCode::Taken, pointer, detail)
    }
}

crate::domain::kinds::text_enum! {
    /// The kind of a problem: a URI reference the README's table explains.
    ProblemType {
        BadRequest = "/problems/bad-request",
        Validation = "/problems/validation",
        Unauthorized = "/problems/unauthorized",
        Forbidden = "/problems/forbidden",
        UnknownSubject = "/problems/unknown-subject",
        TooManyRequests = "/problems/too-many-requests",
        NotFound = "/problems/not-found",
        Conflict = "/problems/conflict",
        WrongState = "/problems/wrong-state",
        PreconditionFailed = "/problems/precondition-failed",
        PayloadTooLarge = "/problems/payload-too-large",
        RequestTimeout = "/problems/request-timeout",
        UnsupportedMediaType = "/problems/unsupported-media-type",
        MethodNotAllowed = "/problems/method-not-allowed",
        Unavailable = "/problems/unavailable",
        IssuerUnavailable = "/problems/issuer-unavailable",
        OutcomeUnknown = "/problems/outcome-unknown",
        Busy = "/problems/busy",
        Internal = "/problems/internal",
        Http = "/problems/http",
    }
}

/// An error answer (RFC 9457 problem details), sent as `application/problem+json`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub problem_type: ProblemType,
    /// A short summary of the kind of problem.
    #[schema(example = "Invalid request body")]
    pub title: String,
    /// The HTTP status code.
    #[schema(example = 422)]
    pub status: u16,
    /// What went wrong with this request.
    #[schema(example = "2 fields are invalid")]
    pub detail: String,
    /// Every invalid field, all at once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
    /// For a workflow step refused: where the record stands.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_status: Option<String>,
    /// For a workflow step refused: the actions allowed from there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_actions: Option<Vec<String>>,
}

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A request that cannot be read at all (malformed JSON, bad query or path value).
    #[error("{0}")]
    BadRequest(String),
    /// A request that was read but whose fields are invalid.
    #[error("{} invalid field(s)", .0.len())]
    Validation(Vec<FieldError>),
    /// No valid credentials: missing, malformed, unknown, expired or revoked.
    #[error("{0}")]
    Unauthorized(String),
    /// Valid credentials that do not allow this.
    #[error("{0}")]
    Forbidden(String),
    /// A valid OpenID Connect token whose issuer and subject are linked to no account:
    /// the person signed in, but nobody gave them an account here.
    #[error("{0}")]
    UnknownSubject(String),
    /// A token of an issuer whose keys cannot be fetched right now: it cannot be checked
    /// yet; the client may retry.
    #[error("{0}")]
    IssuerUnavailable(String),
    /// Too many failed attempts from this address.
    #[error("too many failed attempts; retry in {retry_after} s")]
    TooManyRequests { retry_after: u64 },
    #[error("{0}")]
    NotFound(String),
    /// The request clashes with the current state (a duplicate key, a record still in use).
    #[error("{detail}")]
    Conflict {
        detail: String,
        errors: Vec<FieldError>,
    },
    /// A workflow step not allowed from the record's status.
    #[error("{detail}")]
    WrongState {
        detail: String,
        status: String,
        allowed: Vec<String>,
    },
    /// `If-Match` named a version that is no longer current.
    #[error("the record has changed since version {expected}")]
    PreconditionFailed { expected: String },
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// The body did not arrive within `REQUEST_BODY_TIMEOUT_SECS`.
    #[error("the request body did not arrive in time")]
    RequestTimeout,
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("this endpoint takes {}", .allowed.join(", "))]
    MethodNotAllowed { allowed: Vec<String> },
    /// The database cannot be reached right now; nothing was written, the client should
    /// retry.
    #[error("the database is unavailable")]
    Unavailable,
    /// The write met a concurrent one (a deadlock, a serialization failure) and was rolled
    /// back, again after the retries the service makes itself: nothing was written, and
    /// the client may retry.
    #[error("the write met a concurrent one and was rolled back")]
    Busy,
    /// The connection was lost while a write was being committed: it may or may not have
    /// been written. A retry with the same `Idempotency-Key` answers which.
    #[error("the outcome of the write is unknown")]
    OutcomeUnknown,
    /// A statement of a transaction that had already failed (SQLSTATE 25P02): one sent
    /// ahead of it failed, as the claim of an `Idempotency-Key` that is not free does. The
    /// middleware of idempotency keys answers with what the key holds instead; anywhere
    /// else it is a bug, answered as one.
    #[error("a statement sent before this one failed its transaction")]
    Unclaimed,
    /// An error answer a layer below the API wrote in its own form (a refused CORS
    /// preflight, the framework's own refusals), restated as problem details.
    #[error("{detail}")]
    Http { status: StatusCode, detail: String },
    /// A bug or an unexpected failure. The cause is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn not_found(what: &str) -> Self {
        Self::NotFound(format!("no such {what}"))
    }

    /// A value that does not meet its schema.
    pub fn invalid(pointer: &str, detail: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::invalid(pointer, detail)])
    }

    /// A required field that is absent.
    pub fn required(pointer: &str) -> Self {
        Self::Validation(vec![FieldError::required(pointer)])
    }

    /// A value that names nothing the caller can reach.
    pub fn unknown(pointer: &str, detail: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::unknown(pointer, detail)])
    }

    /// A value that breaks a rule the operation states.
    pub fn rule(pointer: &str, detail: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::rule(pointer, detail)])
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::Conflict {
            detail: detail.into(),
            errors: Vec::new(),
        }
    }

    fn kind(&self) -> (ProblemType, &'static str) {
        match self {
            Self::BadRequest(_) => (ProblemType::BadRequest, "Bad request"),
            Self::Validation(_) => (ProblemType::Validation, "Invalid request"),
            Self::Unauthorized(_) => (ProblemType::Unauthorized, "Authentication required"),
            Self::Forbidden(_) => (ProblemType::Forbidden, "Not allowed"),
            Self::UnknownSubject(_) => (ProblemType::UnknownSubject, "No account for this person"),
            Self::IssuerUnavailable(_) => (
                ProblemType::IssuerUnavailable,
                "Identity provider unavailable",
            ),
            Self::TooManyRequests { .. } => (ProblemType::TooManyRequests, "Too many requests"),
            Self::NotFound(_) => (ProblemType::NotFound, "Not found"),
            Self::Conflict { .. } => (ProblemType::Conflict, "Conflict with the current state"),
            Self::WrongState { .. } => {
                (ProblemType::WrongState, "Not allowed in the current status")
            }
            Self::PreconditionFailed { .. } => {
                (ProblemType::PreconditionFailed, "Precondition failed")
            }
            Self::PayloadTooLarge { .. } => {
                (ProblemType::PayloadTooLarge, "Request body too large")
            }
            Self::RequestTimeout => (ProblemType::RequestTimeout, "Request body too slow"),
            Self::UnsupportedMediaType(_) => {
                (ProblemType::UnsupportedMediaType, "Unsupported media type")
            }
            Self::MethodNotAllowed { .. } => (ProblemType::MethodNotAllowed, "Method not allowed"),
            Self::Unavailable => (ProblemType::Unavailable, "Service unavailable"),
            Self::OutcomeUnknown => (ProblemType::OutcomeUnknown, "Outcome unknown"),
            Self::Busy => (ProblemType::Busy, "Busy"),
            Self::Http { status, .. } => http_kind(*status),
            Self::Internal(_) | Self::Unclaimed => (ProblemType::Internal, "Internal server error"),
        }
    }

    pub fn problem(&self) -> Problem {
        let (problem_type, title) = self.kind();
        let detail = match self {
            // A problem of the whole body (pointer "") is said without a pointer.
            Self::Validation(errors) if errors.len() == 1 => match errors[0].pointer.as_str() {
                "" => errors[0].detail.clone(),
                pointer => format!("{pointer}: {}", errors[0].detail),
            },
            Self::Validation(errors) => format!("{} fields are invalid", errors.len()),
            Self::Unavailable => "the database is unavailable; retry shortly".to_owned(),
            Self::Busy => "the write met a concurrent one and was rolled back: nothing was \
                written; retry shortly"
                .to_owned(),
            Self::OutcomeUnknown => "the connection to the database was lost while the write \
                was being committed: it may or may not have been written. Retry with the same \
                Idempotency-Key to learn which (without one, read the record before writing \
                again)"
                .to_owned(),
            Self::Internal(_) | Self::Unclaimed => {
                "an unexpected error occurred; it has been logged".to_owned()
            }
            other => other.to_string(),
        };
        let errors = match self {
            Self::Validation(errors) => Some(errors.clone()),
            Self::Conflict { errors, .. } if !errors.is_empty() => Some(errors.clone()),
            _ => None,
        };
        let (current_status, allowed_actions) = match self {
            Self::WrongState {
                status, allowed, ..
            } => (Some(status.clone()), Some(allowed.clone())),
            _ => (None, None),
        };
        Problem {
            problem_type,
            title: title.to_owned(),
            status: self.status_code().as_u16(),
            detail,
            errors,
            current_status,
            allowed_actions,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) | Self::UnknownSubject(_) => StatusCode::FORBIDDEN,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict { .. } | Self::WrongState { .. } => StatusCode::CONFLICT,
            Self::PreconditionFailed { .. } => StatusCode::PRECONDITION_FAILED,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::Unavailable | Self::OutcomeUnknown | Self::Busy | Self::IssuerUnavailable(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Http { status, .. } => *status,
            Self::Internal(_) | Self::Unclaimed => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Internal(cause) => tracing::error!(cause = %cause, "request failed"),
            Self::Unclaimed => {
                tracing::warn!("a statement followed one that failed its transaction")
            }
            _ => {}
        }
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        ));
        if let Self::MethodNotAllowed { allowed } = self
            && let Ok(value) = HeaderValue::from_str(&allowed.join(", "))
        {
            response.insert_header((header::ALLOW, value));
        }
        if let Self::Unauthorized(_) = self {
            response.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        }
        if let Self::TooManyRequests { retry_after } = self {
            response.insert_header((header::RETRY_AFTER, retry_after.to_string()));
        }
        if matches!(self, Self::RequestTimeout) {
            // What was left of the body is still on its way: the connection is not reused.
            response.insert_header((header::CONNECTION, HeaderValue::from_static("close")));
        }
        if matches!(
            self,
            Self::Unavailable | Self::OutcomeUnknown | Self::IssuerUnavailable(_)
        ) {
            response.insert_header((header::RETRY_AFTER, HeaderValue::from_static("5")));
        }
        if matches!(self, Self::Busy) {
            response.insert_header((header::RETRY_AFTER, HeaderValue::from_static("1")));
        }
        response.json(self.problem())
    }
}

/// The problem type and title of an error status some layer below the API answered.
fn http_kind(status: StatusCode) -> (ProblemType, &'static str) {
    match status.as_u16() {
        400 => (ProblemType::BadRequest, "Bad request"),
        401 => (ProblemType::Unauthorized, "Authentication required"),
        403 => (ProblemType::Forbidden, "Not allowed"),
        404 => (ProblemType::NotFound, "Not found"),
        405 => (ProblemType::MethodNotAllowed, "Method not allowed"),
        408 => (ProblemType::RequestTimeout, "Request timeout"),
        413 => (ProblemType::PayloadTooLarge, "Request body too large"),
        415 => (ProblemType::UnsupportedMediaType, "Unsupported media type"),
        500..=599 => (ProblemType::Internal, "Internal server error"),
        _ => (ProblemType::Http, "Request refused"),
    }
}

/// Maps "no such row" to a 404 naming `what`; other database errors as usual.
pub fn not_found_as(what: &'static str) -> impl Fn(DieselError) -> ApiError {
    move |error| match error {
        DieselError::NotFound => ApiError::not_found(what),
        other => other.into(),
    }
}

/// What a named database constraint means to a client.
struct ConstraintMeaning {
    name: &'static str,
    status: StatusCode,
    pointer: &'static str,
    detail: &'static str,
}

/// Constraints a request can trip, by name: unique keys become 409s naming the field,
/// foreign keys and checks become 422s. Anything else is a bug.
const CONSTRAINTS: &[ConstraintMeaning] = &[
    ConstraintMeaning {
        name: "districts_code_key",
        status: StatusCode::CONFLICT,
        pointer: "/code",
        detail: "a district with this code already exists",
    },
    ConstraintMeaning {
        name: "districts_name_key",
        status: StatusCode::CONFLICT,
        pointer: "/name",
        detail: "a district with this name already exists",
    },
    ConstraintMeaning {
        name: "departments_name_key",
        status: StatusCode::CONFLICT,
        pointer: "/name",
        detail: "a department with this name already exists in the district",
    },
    ConstraintMeaning {
        name: "members_member_no_key",
        status: StatusCode::CONFLICT,
        pointer: "/member_no",
        detail: "a member with this member_no already exists in the district",
    },
    ConstraintMeaning {
        name: "workstations_name_key",
        status: StatusCode::CONFLICT,
        pointer: "/name",
        detail: "a workstation with this name already exists in the district",
    },
    ConstraintMeaning {
        name: "consultations_title_key",
        status: StatusCode::CONFLICT,
        pointer: "/title",
        detail: "the district's plan for this year already has a topic with this title",
    },
    ConstraintMeaning {
        name: "evaluations_department_year_key",
        status: StatusCode::CONFLICT,
        pointer: "/department_id",
        detail: "the department already has an evaluation in this year",
    },
    ConstraintMeaning {
        name: "key_tasks_title_key",
        status: StatusCode::CONFLICT,
        pointer: "/title",
        detail: "the district already has a key task with this title in this year",
    },
    ConstraintMeaning {
        name: "account_identities_pkey",
        status: StatusCode::CONFLICT,
        pointer: "/items",
        detail: "an identity is linked to another account; unlink it there first",
    },
    ConstraintMeaning {
        name: "members_sector_fkey",
        status: StatusCode::UNPROCESSABLE_ENTITY,
        pointer: "/sector",
        detail: "is not a known sector code",
    },
    ConstraintMeaning {
        name: "members_party_fkey",
        status: StatusCode::UNPROCESSABLE_ENTITY,
        pointer: "/party",
        detail: "is not a known party code",
    },
];

/// The connection is gone (no SQLSTATE: a command could not even be sent, at commit
/// too), or the server is ending it, shutting down or starting up (SQLSTATE 57P01-57P03):
/// the client may retry.
pub(crate) fn connection_lost(error: &DieselError) -> bool {
    match error {
        // A statement the client could not even encode (more than 65,535 parameters): the
        // connection is fine, and the request is a bug to fix, not a retry to make.
        DieselError::DatabaseError(DatabaseErrorKind::UnableToSendCommand, info)
            if info.message().starts_with("error encoding message") =>
        {
            false
        }
        DieselError::DatabaseError(
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
            _,
        )
        | DieselError::BrokenTransactionManager => true,
        DieselError::DatabaseError(_, info) => {
            info.message().starts_with("terminating connection")
                || info.message().starts_with("the database system is")
        }
        DieselError::RollbackErrorOnCommit { commit_error, .. } => matches!(
            commit_error.as_ref(),
            DieselError::DatabaseError(DatabaseErrorKind::UnableToSendCommand, _)
        ),
        _ => false,
    }
}

impl From<DieselError> for ApiError {
    fn from(error: DieselError) -> Self {
        match &error {
            DieselError::NotFound => return Self::not_found("record"),
            _ if connection_lost(&error) => {
                tracing::warn!(%error, "database connection lost or refused");
                metrics::db_failure(DbFailure::Unavailable);
                return Self::Unavailable;
            }
            DieselError::DatabaseError(
                DatabaseErrorKind::UniqueViolation
                | DatabaseErrorKind::ForeignKeyViolation
                | DatabaseErrorKind::CheckViolation,
                info,
            ) => {
                let meaning = info
                    .constraint_name()
                    .and_then(|name| CONSTRAINTS.iter().find(|c| c.name == name));
                if let Some(meaning) = meaning {
                    return if meaning.status == StatusCode::CONFLICT {
                        let errors = vec![FieldError::taken(meaning.pointer, meaning.detail)];
                        Self::Conflict {
                            detail: format!("{}: {}", meaning.pointer, meaning.detail),
                            errors,
                        }
                    } else {
                        Self::Validation(vec![FieldError::unknown(meaning.pointer, meaning.detail)])
                    };
                }
            }
            // A serialization failure (40001) or a deadlock (40P01, which diesel does not
            // name: PostgreSQL's message says it).
            DieselError::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => {
                metrics::db_failure(DbFailure::Contention);
                return Self::Busy;
            }
            DieselError::DatabaseError(_, info)
                if info.message().starts_with("deadlock detected") =>
            {
                tracing::warn!(%error, "a deadlock was broken");
                metrics::db_failure(DbFailure::Contention);
                return Self::Busy;
            }
            // The transaction had failed before (SQLSTATE 25P02): what failed was sent
            // ahead and its answer not awaited.
            DieselError::DatabaseError(_, info)
                if info.message().starts_with("current transaction is aborted") =>
            {
                return Self::Unclaimed;
            }
            // The statement ran past the configured statement timeout (SQLSTATE 57014).
            DieselError::DatabaseError(_, info)
                if info
                    .message()
                    .contains("canceling statement due to statement timeout") =>
            {
                tracing::warn!(%error, "a statement ran past its timeout");
                metrics::db_failure(DbFailure::StatementTimeout);
                return Self::Unavailable;
            }
            _ => {}
        }
        metrics::db_failure(DbFailure::Other);
        Self::Internal(error.to_string())
    }
}

impl From<crate::db::PoolError> for ApiError {
    fn from(error: crate::db::PoolError) -> Self {
        use deadpool::managed::PoolError;
        tracing::warn!(%error, "no database connection available");
        metrics::db_failure(match error {
            PoolError::Timeout(_) => DbFailure::PoolTimeout,
            _ => DbFailure::Unavailable,
        });
        Self::Unavailable
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lost_or_stopping_database_is_a_503() {
        let sent = DieselError::DatabaseError(
            DatabaseErrorKind::UnableToSendCommand,
            Box::new("connection closed".to_owned()),
        );
        assert!(matches!(ApiError::from(sent), ApiError::Unavailable));
        for message in [
            "terminating connection due to administrator command",
            "the database system is shutting down",
            "the database system is starting up",
        ] {
            let error = DieselError::DatabaseError(
                DatabaseErrorKind::Unknown,
                Box::new(message.to_owned()),
            );
            assert!(
                matches!(ApiError::from(error), ApiError::Unavailable),
                "{message}"
            );
        }
        let other = DieselError::DatabaseError(
            DatabaseErrorKind::Unknown,
            Box::new("relation \"x\" does not exist".to_owned()),
        );
        assert!(matches!(ApiError::from(other), ApiError::Internal(_)));
    }

    #[test]
    fn a_statement_of_a_failed_transaction_is_unclaimed_and_answered_as_a_bug() {
        let error = DieselError::DatabaseError(
            DatabaseErrorKind::Unknown,
            Box::new(
                "current transaction is aborted, commands ignored until end of transaction \
                 block"
                    .to_owned(),
            ),
        );
        let error = ApiError::from(error);
        assert!(matches!(error, ApiError::Unclaimed));
        assert_eq!(error.problem().status, 500);
    }

    #[test]
    fn internal_errors_say_nothing_of_their_cause() {
        let problem = ApiError::Internal("relation \"members\" does not exist".into()).problem();
        assert_eq!(problem.status, 500);
        assert!(!problem.detail.contains("members"));
    }

    #[test]
    fn validation_lists_every_field() {
        let problem = ApiError::Validation(vec![
            FieldError::invalid("/name", "must not be empty"),
            FieldError::invalid("/term", "must be between 1 and 99"),
        ])
        .problem();
        assert_eq!(problem.status, 422);
        assert_eq!(problem.errors.map(|e| e.len()), Some(2));
    }
}
