//! What every endpoint shares at the HTTP level: body and query limits turned into
//! problem details, conditional requests (ETag, If-Match, If-None-Match) and the shape of
//! record answers.

use std::future::{Ready, ready};

use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::mime;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use serde::Serialize;
use utoipa::IntoParams;

use crate::error::{ApiError, FieldError};

/// The largest request body accepted.
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// The largest body of a sync batch, the largest the service reads at all (the
/// idempotency middleware reads no further).
pub const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;

/// Body reading for every JSON endpoint: `application/json` or
/// `application/merge-patch+json`, at most [`MAX_BODY_BYTES`], errors as problem details.
pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(MAX_BODY_BYTES)
        .content_type_required(true)
        .content_type(|mime| {
            mime.type_() == mime::APPLICATION
                && (mime.subtype() == mime::JSON || mime.suffix() == Some(mime::JSON))
        })
        .error_handler(|error, _request| json_error(error).into())
}

fn json_error(error: JsonPayloadError) -> ApiError {
    match error {
        // The limit of the route that refused it (a sync batch's is its own).
        JsonPayloadError::OverflowKnownLength { limit, .. }
        | JsonPayloadError::Overflow { limit } => ApiError::PayloadTooLarge { limit },
        JsonPayloadError::ContentType => ApiError::UnsupportedMediaType(
            "the body must be sent as application/json (or application/merge-patch+json for PATCH)"
                .into(),
        ),
        JsonPayloadError::Deserialize(error) if error.is_data() => body_shape_error(&error),
        JsonPayloadError::Deserialize(error) => {
            ApiError::BadRequest(format!("the body is not valid JSON: {error}"))
        }
        JsonPayloadError::Payload(actix_web::error::PayloadError::Io(error))
            if error.kind() == std::io::ErrorKind::TimedOut =>
        {
            ApiError::RequestTimeout
        }
        // The reader's own words name its internals: the client is told what happened.
        _ => unreadable_body(),
    }
}

/// A request body of this API: JSON, and a JSON object. Read as the route's
/// [`json_config`] says (its size limit, its media types, its errors); a body of another
/// JSON type (an array, a string, a number, `true`, `false`, `null`) is a 422 saying what
/// was sent instead, never read by position into the fields.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T> Json<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: serde::de::DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = actix_web::Error;
    type Future = futures_util::future::LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let value = web::Json::<serde_json::Value>::from_request(request, payload);
        Box::pin(async move {
            let value = value.await?.into_inner();
            let found = match &value {
                serde_json::Value::Object(_) => None,
                serde_json::Value::Array(_) => Some("an array"),
                serde_json::Value::String(_) => Some("a string"),
                serde_json::Value::Number(_) => Some("a number"),
                serde_json::Value::Bool(_) => Some("true or false"),
                serde_json::Value::Null => Some("null"),
            };
            if let Some(found) = found {
                return Err(ApiError::Validation(vec![FieldError::invalid(
                    "",
                    format!(
                        "the body must be a JSON object of this resource's fields, not {found}"
                    ),
                )])
                .into());
            }
            serde_json::from_value(value)
                .map(Json)
                .map_err(|error| body_shape_error(&error).into())
        })
    }
}

/// A body cut short, or sent in a `Content-Encoding` that does not decode.
pub fn unreadable_body() -> ApiError {
    ApiError::BadRequest(
        "the body could not be read: it was cut short, or its Content-Encoding does not decode"
            .into(),
    )
}

/// How long a client may take to send a request's body, once its head has arrived.
#[derive(Debug, Clone, Copy)]
pub struct BodyDeadline(pub std::time::Duration);

/// A path with a dot segment (`.`, `..`, escaped or not), an empty one (`//`) or a
/// control character (`%00`; PostgreSQL refuses a NUL in text) names nothing: 404, before
/// routing could read `.` as an id. The path is read as the router reads it, every escape
/// but `%2F`, `%25` and `%2B` decoded. A query string carrying a NUL (the one character
/// PostgreSQL refuses in text: invalid UTF-8 is read as U+FFFD) is a 400, whatever
/// parameter carries it.
pub async fn plain_paths(
    request: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<
    actix_web::dev::ServiceResponse<actix_web::body::EitherBody<impl actix_web::body::MessageBody>>,
    actix_web::Error,
> {
    let path = request.match_info().as_str();
    let odd = path.chars().any(char::is_control)
        || path.contains("//")
        || path.split('/').any(|segment| matches!(segment, "." | ".."));
    if odd {
        let error = ApiError::NotFound("no such endpoint".into());
        return Ok(request.error_response(error).map_into_right_body());
    }
    // The OpenAPI document, served outside the API's routes, takes no parameter either.
    if path == "/openapi.json" && !request.query_string().is_empty() {
        let error = ApiError::BadRequest("unknown query parameter: the document takes none".into());
        return Ok(request.error_response(error).map_into_right_body());
    }
    if carries_nul(request.query_string()) {
        let error = ApiError::BadRequest("a query string may not carry a NUL byte (%00)".into());
        return Ok(request.error_response(error).map_into_right_body());
    }
    next.call(request)
        .await
        .map(actix_web::dev::ServiceResponse::map_into_left_body)
}

/// Whether a query string decodes to a NUL anywhere: `%00` (a raw NUL cannot cross HTTP).
fn carries_nul(query: &str) -> bool {
    query.as_bytes().windows(3).any(|window| window == b"%00")
}

/// Bounds the time a body may take to arrive: a client that trickles it is answered 408
/// (and its connection closed) instead of holding a worker's attention for ever. The head
/// of a request is bounded by the server's own client request timeout.
pub async fn body_deadline(
    mut request: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    use actix_web::HttpMessage;
    use actix_web::dev::Payload;
    use actix_web::error::PayloadError;
    use futures_util::StreamExt;
    // A request that announces no body (no length, not chunked: the server speaks HTTP/1.1
    // only) has nothing to time.
    let headers = request.headers();
    if !headers.contains_key(header::CONTENT_LENGTH)
        && !headers.contains_key(header::TRANSFER_ENCODING)
    {
        return next.call(request).await;
    }
    let limit = request
        .app_data::<web::Data<BodyDeadline>>()
        .map_or(std::time::Duration::from_secs(10), |deadline| deadline.0);
    let deadline = tokio::time::Instant::now() + limit;
    let payload = request.take_payload();
    let timed = futures_util::stream::unfold(Some(payload), move |payload| async move {
        let mut payload = payload?;
        match tokio::time::timeout_at(deadline, payload.next()).await {
            Ok(Some(chunk)) => Some((chunk, Some(payload))),
            Ok(None) => None,
            Err(_) => Some((
                Err(PayloadError::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "the body did not arrive in time",
                ))),
                None,
            )),
        }
    });
    let boxed: std::pin::Pin<
        Box<dyn futures_util::Stream<Item = Result<actix_web::web::Bytes, PayloadError>>>,
    > = Box::pin(timed);
    request.set_payload(Payload::from(boxed));
    next.call(request).await
}

/// A body that is JSON but not the expected object: an unknown field, or not an object.
fn body_shape_error(error: &serde_json::Error) -> ApiError {
    let message = error.to_string();
    let message = message
        .split(" at line ")
        .next()
        .unwrap_or(&message)
        .to_owned();
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let field = rest.split('`').next().unwrap_or_default();
        return ApiError::Validation(vec![FieldError::invalid(
            format!("/{field}"),
            format!("is not a field of this resource ({message})"),
        )]);
    }
    ApiError::Validation(vec![FieldError::invalid(
        "",
        format!("the body must be a JSON object of this resource's fields: {message}"),
    )])
}

/// Every error the application answers is problem+json: an error answer a layer below the
/// API wrote in its own form (a refused CORS preflight or cross-origin request, the
/// framework's own refusals) is restated as problem details with the same status, its
/// message as the `detail`, and its headers (`Vary`, `Allow`, …) kept.
pub async fn problem_answers(
    request: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<
    actix_web::dev::ServiceResponse<actix_web::body::EitherBody<impl actix_web::body::MessageBody>>,
    actix_web::Error,
> {
    let response = next.call(request).await?;
    let status = response.status();
    // Written by a layer below: an answer made from an error (problem details aside), or
    // one without a body type. An answer the API wrote on purpose (a refused sync batch's
    // results, a 422 in JSON) stands as it is.
    let content_type = response.headers().get(header::CONTENT_TYPE);
    let is_problem =
        content_type.is_some_and(|value| value.as_bytes().starts_with(b"application/problem+json"));
    let from_below = response.response().error().is_some() || content_type.is_none();
    if is_problem || !from_below || !(status.is_client_error() || status.is_server_error()) {
        return Ok(response.map_into_left_body());
    }
    let detail = response.response().error().map_or_else(
        || {
            status
                .canonical_reason()
                .unwrap_or("refused")
                .to_lowercase()
        },
        ToString::to_string,
    );
    let (request, original) = response.into_parts();
    let mut answer = actix_web::ResponseError::error_response(&ApiError::Http { status, detail });
    for (name, value) in original.headers() {
        if name != header::CONTENT_TYPE
            && name != header::CONTENT_LENGTH
            && !answer.headers().contains_key(name)
        {
            answer.headers_mut().append(name.clone(), value.clone());
        }
    }
    Ok(actix_web::dev::ServiceResponse::new(request, answer).map_into_right_body())
}

/// No query parameter: the endpoints that take this take none, and any is a 400 as
/// everywhere.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoQuery {}

/// Query strings: an unreadable parameter is a 400 naming it.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|error, _request| {
        let detail = match error {
            QueryPayloadError::Deserialize(error) => format!("invalid query parameter: {error}"),
            other => format!("invalid query string: {other}"),
        };
        ApiError::BadRequest(detail).into()
    })
}

/// Path segments: a malformed id is a 400 saying so. (A path that is itself a route,
/// `/proposals/stats` read as `/proposals/{id}`, is the route's decision: 405.)
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|error, _request| {
        let detail = match error {
            PathError::Deserialize(error) => format!("invalid path parameter: {error}"),
            other => format!("invalid path: {other}"),
        };
        ApiError::BadRequest(detail).into()
    })
}

/// The strong entity tag of a record's version.
pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// Conditional-write headers of `PATCH`, `PUT`, `DELETE` and actions.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Header)]
pub struct IfMatchHeader {
    /// Apply the change only if the record's current `ETag` is one of these (or `*`);
    /// otherwise 412. Tags are quoted (`"3"`) or bare (`3`).
    #[param(rename = "If-Match", value_type = Option<String>, example = "\"3\"",
        pattern = r#"^[ \t]*(\*|((W/)?"[!#-~]*"|[!#-+\--~]+)([ \t]*,[ \t]*((W/)?"[!#-~]*"|[!#-+\--~]+))*)[ \t]*$"#)]
    pub if_match: Option<String>,
}

/// Conditional-read header of `GET` on one record.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Header)]
pub struct IfNoneMatchHeader {
    /// Answer 304 with no body if the record's current `ETag` is one of these (or `*`).
    /// Tags are quoted (`"3"`, `W/"3"`) or bare (`3`).
    #[param(rename = "If-None-Match", value_type = Option<String>, example = "\"3\"",
        pattern = r#"^[ \t]*(\*|((W/)?"[!#-~]*"|[!#-+\--~]+)([ \t]*,[ \t]*((W/)?"[!#-~]*"|[!#-+\--~]+))*)[ \t]*$"#)]
    pub if_none_match: Option<String>,
}

/// What `If-Match` and `If-None-Match` take, as the spec states it.
pub const TAG_LIST_PATTERN: &str = r#"^[ \t]*(\*|((W/)?"[!#-~]*"|[!#-+\--~]+)([ \t]*,[ \t]*((W/)?"[!#-~]*"|[!#-+\--~]+))*)[ \t]*$"#;

/// A parsed list of entity tags, or `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagList {
    Any,
    Tags(Vec<EntityTag>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityTag {
    weak: bool,
    opaque: String,
}

impl EntityTag {
    /// Reads one tag off the front of `text`: `"3"`, `W/"3"` or a bare `3` (the same as
    /// `"3"`); answers it and what follows.
    fn read(text: &str) -> Option<(Self, &str)> {
        let etagc = |b: u8| b == 0x21 || (0x23..=0x7e).contains(&b);
        let (weak, quoted) = match text.strip_prefix("W/\"") {
            Some(rest) => (true, Some(rest)),
            None => (false, text.strip_prefix('"')),
        };
        let (opaque, after) = match quoted {
            Some(rest) => {
                let end = rest.find('"')?;
                (&rest[..end], &rest[end + 1..])
            }
            None => {
                let end = text.find([',', ' ', '\t']).unwrap_or(text.len());
                let opaque = &text[..end];
                if opaque.is_empty() {
                    return None;
                }
                (opaque, &text[end..])
            }
        };
        opaque.bytes().all(etagc).then(|| {
            (
                Self {
                    weak,
                    opaque: opaque.to_owned(),
                },
                after,
            )
        })
    }
}

impl TagList {
    /// `*`, or entity tags separated by commas: quoted as RFC 9110 writes them (`"3"`,
    /// `W/"3"`) or bare (`3`, the same as `"3"`), as [`TAG_LIST_PATTERN`] says.
    fn parse(value: &str) -> Option<Self> {
        let space = [' ', '\t'];
        let value = value.trim_matches(space);
        if value == "*" {
            return Some(Self::Any);
        }
        let mut tags = Vec::new();
        let mut rest = value;
        loop {
            let (tag, after) = EntityTag::read(rest.trim_start_matches(space))?;
            tags.push(tag);
            rest = after.trim_start_matches(space);
            if rest.is_empty() {
                return Some(Self::Tags(tags));
            }
            rest = rest.strip_prefix(',')?;
        }
    }

    /// Strong comparison, as `If-Match` requires.
    fn matches_strongly(&self, version: i64) -> bool {
        let current = version.to_string();
        match self {
            Self::Any => true,
            Self::Tags(tags) => tags.iter().any(|tag| !tag.weak && tag.opaque == current),
        }
    }

    /// Weak comparison, as `If-None-Match` requires.
    fn matches_weakly(&self, version: i64) -> bool {
        let current = version.to_string();
        match self {
            Self::Any => true,
            Self::Tags(tags) => tags.iter().any(|tag| tag.opaque == current),
        }
    }
}

fn tag_header(
    request: &HttpRequest,
    name: header::HeaderName,
) -> Result<Option<TagList>, ApiError> {
    let Some(value) = request.headers().get(&name) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(TagList::parse)
        .map(Some)
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "{name} must be `*` or a list of entity tags such as \"3\""
            ))
        })
}

/// The `If-Match` precondition of a write, if the client sent one.
#[derive(Debug, Clone, Default)]
pub struct IfMatch(Option<TagList>);

impl IfMatch {
    /// Passes when no precondition was sent or the current version satisfies it.
    pub fn check(&self, version: i64) -> Result<(), ApiError> {
        match &self.0 {
            Some(tags) if !tags.matches_strongly(version) => Err(ApiError::PreconditionFailed {
                expected: match tags {
                    TagList::Any => "*".to_owned(),
                    TagList::Tags(tags) => tags
                        .iter()
                        .map(|tag| tag.opaque.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                },
            }),
            _ => Ok(()),
        }
    }
}

impl IfMatch {
    /// Passes when no precondition was sent: there is no current version to match.
    pub fn check_absent(&self) -> Result<(), ApiError> {
        match &self.0 {
            Some(_) => Err(ApiError::PreconditionFailed {
                expected: "a version of a record that does not exist yet".to_owned(),
            }),
            None => Ok(()),
        }
    }
}

impl FromRequest for IfMatch {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        ready(tag_header(request, header::IF_MATCH).map(Self))
    }
}

/// The `If-None-Match` condition of a read, if the client sent one.
#[derive(Debug, Clone, Default)]
pub struct IfNoneMatch(Option<TagList>);

impl IfNoneMatch {
    /// Whether the client already holds this version (so the answer is 304).
    pub fn holds(&self, version: i64) -> bool {
        self.0
            .as_ref()
            .is_some_and(|tags| tags.matches_weakly(version))
    }
}

impl FromRequest for IfNoneMatch {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        ready(tag_header(request, header::IF_NONE_MATCH).map(Self))
    }
}

/// A record that has a version, so its answer carries an `ETag`.
pub trait Versioned {
    fn version(&self) -> i64;
}

/// [`Versioned`] for a view with a `version` field.
macro_rules! versioned {
    ($view:ty) => {
        impl $crate::api::http::Versioned for $view {
            fn version(&self) -> i64 {
                self.version
            }
        }
    };
}
pub(crate) use versioned;

/// `200` with the record and its `ETag`, or `304` if the client holds it already.
pub fn read_response<T: Serialize + Versioned>(view: &T, condition: &IfNoneMatch) -> HttpResponse {
    let tag = etag(view.version());
    if condition.holds(view.version()) {
        return HttpResponse::NotModified()
            .insert_header((header::ETAG, tag))
            .finish();
    }
    HttpResponse::Ok()
        .insert_header((header::ETAG, tag))
        .json(view)
}

/// `201` with the new record, its `ETag` and its `Location`.
pub fn created_response<T: Serialize + Versioned>(view: &T, location: String) -> HttpResponse {
    HttpResponse::Created()
        .insert_header((header::ETAG, etag(view.version())))
        .insert_header((header::LOCATION, location))
        .json(view)
}

/// `200` with the changed record and its new `ETag`.
pub fn updated_response<T: Serialize + Versioned>(view: &T) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::ETAG, etag(view.version())))
        .json(view)
}

/// `204`, for a delete.
pub fn no_content() -> HttpResponse {
    HttpResponse::new(StatusCode::NO_CONTENT)
}

/// The one of `offered` that the request's `Accept` header prefers (RFC 9110 §12.5.1:
/// by q-value, then as listed), naming it exactly; a type it gives `q=0` is refused, not
/// chosen. `None` when it names none of them, or prefers JSON (`application/json`, or any
/// type by a wildcard) to them: the caller answers its default, JSON.
pub fn accepted<'a>(request: &actix_web::HttpRequest, offered: &[&'a str]) -> Option<&'a str> {
    use actix_web::http::header::{Accept, Header, Quality};
    let accept = Accept::parse(request).ok()?;
    let mut named: Vec<_> = accept
        .iter()
        .filter(|item| item.quality > Quality::ZERO)
        .collect();
    named.sort_by_key(|item| std::cmp::Reverse(item.quality));
    for item in named {
        let essence = item.item.essence_str();
        if let Some(offer) = offered.iter().copied().find(|offer| essence == *offer) {
            return Some(offer);
        }
        if essence == "application/json" || item.item.subtype() == actix_web::mime::STAR {
            return None;
        }
    }
    None
}

/// The UTF-8 byte-order mark every CSV answer starts with: without it Excel, on a Chinese
/// Windows above all, reads the file in the system's code page and garbles the names.
pub const CSV_BOM: &str = "\u{feff}";

/// `Content-Disposition: attachment` (RFC 6266) naming the file: `ascii` for clients that
/// read only `filename`, and `name` itself, Chinese included, as `filename*` (RFC 8187).
pub fn attachment(ascii: &str, name: &str) -> header::ContentDisposition {
    header::ContentDisposition {
        disposition: header::DispositionType::Attachment,
        parameters: vec![
            header::DispositionParam::Filename(ascii.to_owned()),
            header::DispositionParam::FilenameExt(header::ExtendedValue {
                charset: header::Charset::Ext("UTF-8".to_owned()),
                language_tag: None,
                value: name.as_bytes().to_vec(),
            }),
        ],
    }
}

/// One CSV record (RFC 4180, written by the `csv` crate), every cell neutralised against
/// formula injection first ([`neutral_cell`]).
pub fn csv_line_of(fields: &[String]) -> String {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    let written = writer
        .write_record(fields.iter().map(|field| neutral_cell(field).into_owned()))
        .and_then(|()| writer.flush().map_err(csv::Error::from));
    if let Err(error) = written {
        // Writing to memory does not fail; should it, the record is left out, not garbled.
        tracing::error!(%error, "a CSV record could not be written");
    }
    String::from_utf8(writer.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// A cell a spreadsheet will not run (OWASP, CSV injection): one that begins with `=`,
/// `+`, `-`, `@`, a tab or a carriage return is prefixed with `'`, unless it is a plain
/// number (`-5`, `12.5`).
pub fn neutral_cell(cell: &str) -> std::borrow::Cow<'_, str> {
    let risky = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if risky && !is_plain_number(cell) {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

fn is_plain_number(cell: &str) -> bool {
    let digits = cell.strip_prefix('-').unwrap_or(cell);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, "0"));
    !whole.is_empty()
        && !fraction.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_accept_header_is_read_by_preference_and_q_zero_refuses() {
        let offered = ["text/csv", "application/x-ndjson"];
        let chosen = |accept: &str| {
            let request = actix_web::test::TestRequest::default()
                .insert_header(("Accept", accept))
                .to_http_request();
            accepted(&request, &offered)
        };
        assert_eq!(chosen("text/csv"), Some("text/csv"));
        assert_eq!(chosen("text/csv; charset=utf-8"), Some("text/csv"));
        assert_eq!(chosen("text/csv;q=0"), None);
        assert_eq!(
            chosen("text/csv;q=0, application/x-ndjson"),
            Some("application/x-ndjson")
        );
        assert_eq!(
            chosen("text/csv;q=0.5, application/x-ndjson;q=0.9"),
            Some("application/x-ndjson")
        );
        assert_eq!(chosen("application/json, text/csv;q=0.5"), None);
        assert_eq!(chosen("*/*"), None);
        assert_eq!(chosen("text/html"), None);
    }

    #[test]
    fn csv_cells_that_a_spreadsheet_would_run_are_neutralised() {
        for (cell, written) in [
            ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
            ("+1+1", "'+1+1"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tcmd", "'\tcmd"),
            ("\rcmd", "'\rcmd"),
            ("-5", "-5"),
            ("12.5", "12.5"),
            ("王芳", "王芳"),
            ("a=b", "a=b"),
        ] {
            assert_eq!(neutral_cell(cell), written, "{cell:?}");
        }
        let line = csv_line_of(&["=1+1".to_owned(), "a,\"b\"".to_owned(), "-5".to_owned()]);
        assert_eq!(line, "'=1+1,\"a,\"\"b\"\"\",-5\n");
    }

    #[test]
    fn entity_tag_lists_are_parsed() {
        assert_eq!(TagList::parse("*"), Some(TagList::Any));
        let tags = TagList::parse("\"1\", W/\"2\"").unwrap();
        assert!(tags.matches_strongly(1));
        assert!(!tags.matches_strongly(2));
        assert!(tags.matches_weakly(2));
        assert!(!tags.matches_weakly(3));
        assert_eq!(TagList::parse(""), None);
        // A bare tag is the quoted one.
        assert_eq!(TagList::parse("3"), TagList::parse("\"3\""));
        assert!(TagList::parse("3, \"4\"").unwrap().matches_strongly(4));
        // Exactly what the spec's pattern takes: no empty elements, no quote or space
        // inside a tag.
        assert_eq!(TagList::parse("\"1\",,\"2\""), None);
        assert_eq!(TagList::parse("\"a b\""), None);
        assert_eq!(TagList::parse("a b"), None);
        assert_eq!(TagList::parse("\"3"), None);
        assert_eq!(TagList::parse("3\""), None);
        assert_eq!(TagList::parse("\"3\"x"), None);
        assert_eq!(TagList::parse("\"3\","), None);
        assert_eq!(TagList::parse(",\"3\""), None);
        // A comma may be inside a quoted tag.
        let tags = TagList::parse("W/\"0W,\"\t ,\"7\"").unwrap();
        assert!(tags.matches_strongly(7));
        assert!(TagList::parse(" \"1\" ,\tW/\"x!\" ").is_some());
    }

    #[test]
    fn the_spec_states_the_tag_list_pattern() {
        let spec = serde_json::to_value(crate::openapi::document()).unwrap();
        for (path, header) in [
            ("/api/v1/members/{id}", "If-Match"),
            ("/api/v1/members/{id}", "If-None-Match"),
        ] {
            let operations = &spec["paths"][path];
            let pattern = ["get", "patch", "delete"]
                .iter()
                .flat_map(|method| operations[method]["parameters"].as_array().cloned())
                .flatten()
                .find(|parameter| parameter["name"] == header)
                .map(|parameter| parameter["schema"]["pattern"].clone())
                .unwrap();
            assert_eq!(pattern, TAG_LIST_PATTERN, "{header}");
        }
    }

    #[test]
    fn if_match_fails_on_an_old_version() {
        let condition = IfMatch(TagList::parse("\"1\""));
        assert!(condition.check(1).is_ok());
        assert!(matches!(
            condition.check(2),
            Err(ApiError::PreconditionFailed { .. })
        ));
        assert!(IfMatch(None).check(7).is_ok());
    }
}
