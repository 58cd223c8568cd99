//! Logging: one subscriber for the process, text or JSON lines, filtered by `RUST_LOG`.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage};
use tracing::Span;
use tracing_actix_web::RootSpanBuilder;
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber. Calling it again (as tests do) is harmless.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new("info,actix_server=warn,actix_http::h1::dispatcher=off")
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _already_set = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// The request id header, accepted from the client or generated, and echoed.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The id of the request being served.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

#[derive(Debug, Clone, Copy)]
struct Started(Instant);

/// A client's request id is kept if it is short and printable; otherwise one is made.
fn acceptable_request_id(value: &str) -> bool {
    (1..=128).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_graphic())
}

/// Assigns the request id before anything else runs, and echoes it on the answer.
pub async fn request_id(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = request
        .headers()
        .get(&REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|value| acceptable_request_id(value))
        .map_or_else(|| uuid::Uuid::now_v7().to_string(), str::to_owned);
    request.extensions_mut().insert(RequestId(id.clone()));
    request.extensions_mut().insert(Started(Instant::now()));
    let mut response = next.call(request).await?;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    Ok(response)
}

/// One span per request (method, path, request id) and one access line when it ends
/// (status, latency).
pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(|id| id.0.clone())
            .unwrap_or_default();
        tracing::info_span!(
            "request",
            method = %request.method(),
            path = %request.path(),
            request_id = %request_id,
            status = tracing::field::Empty,
            latency_ms = tracing::field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        let (status, latency_ms) = match outcome {
            Ok(response) => {
                let latency = response
                    .request()
                    .extensions()
                    .get::<Started>()
                    .map(|started| started.0.elapsed().as_secs_f64() * 1000.0);
                (response.status().as_u16(), latency)
            }
            Err(error) => (error.as_response_error().status_code().as_u16(), None),
        };
        span.record("status", status);
        if let Some(latency_ms) = latency_ms {
            span.record("latency_ms", latency_ms);
        }
        let _entered = span.enter();
        // A 503 is the service protecting itself (the database is away, or busy past its
        // waits, or a write's COMMIT went unanswered: its outcome unknown), with the cause
        // already logged once where it was met: a warning, so an outage is not also one
        // error line per refused request. Any other 5xx is a bug.
        if status == 503 {
            tracing::warn!(
                status,
                latency_ms,
                "request not served: the database or an identity provider unavailable, the database busy, or a write's outcome unknown"
            );
        } else if status >= 500 {
            tracing::error!(status, latency_ms, "request failed");
        } else {
            tracing::info!(status, latency_ms, "request served");
        }
    }
}
