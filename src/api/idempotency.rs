//! `Idempotency-Key` on every POST: the first answer is stored per API key and key (with a
//! hash of the method, path and body) for 24 hours, and a retry gets it again instead of
//! a second write.
//!
//! A request with a key is one transaction, from the claim of its key to its stored answer:
//! the key's lock is taken in it, the handler writes in it (see [`crate::api::work`]), and
//! the answer is stored in it before the one `COMMIT`. After any failure the key holds
//! either the answer of a committed write or nothing at all.
//!
//! - same key, same request, answered: the stored answer, with `Idempotent-Replayed: true`;
//! - same key, same request, still running (its transaction holds the key's lock): 409;
//! - same key, another request: 422;
//! - a 5xx answer is not stored (its transaction is rolled back): the key may be sent
//!   again; when the `COMMIT` itself went unanswered, the answer is `outcome-unknown`, and
//!   the retry learns the outcome.

use std::cell::RefCell;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use actix_web::body::{BoxBody, MessageBody, to_bytes};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::{Method, StatusCode, header};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpResponse, ResponseError, web};
use futures_util::{Stream, StreamExt};
use sha2::{Digest, Sha256};

use crate::api::auth::Unrouted;
use crate::api::http::MAX_BATCH_BYTES as MAX_BODY_BYTES;
use crate::api::work::{self, Outcome, Work};
use crate::db::DbPool;
use crate::db::idempotency::{self as db, Claim, Stored};
use crate::domain::ids::ApiKeyId;
use crate::error::{ApiError, FieldError};

/// The request header naming a key.
pub const KEY_HEADER: &str = "idempotency-key";
/// The answer header marking a stored answer.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";
/// The headers of an answer that are stored with it.
const KEPT_HEADERS: [header::HeaderName; 3] =
    [header::CONTENT_TYPE, header::LOCATION, header::ETAG];

/// The key of a request, if it sent a valid one.
fn key_of(request: &ServiceRequest) -> Result<Option<String>, ApiError> {
    let Some(value) = request.headers().get(KEY_HEADER) else {
        return Ok(None);
    };
    match value.to_str() {
        Ok(key) if (1..=255).contains(&key.len()) && key.chars().all(|c| c.is_ascii_graphic()) => {
            Ok(Some(key.to_owned()))
        }
        _ => Err(ApiError::BadRequest(
            "Idempotency-Key must be 1 to 255 visible ASCII characters".into(),
        )),
    }
}

/// The fingerprint of a request: a hash of its method, its path with the query and its
/// body, read as it streams (only the first [`MAX_BODY_BYTES`] of a longer body).
struct Fingerprint {
    digest: Sha256,
    bytes: usize,
}

impl Fingerprint {
    fn of(request: &ServiceRequest) -> Self {
        let mut digest = Sha256::new();
        digest.update(request.method().as_str());
        digest.update(b"\n");
        digest.update(
            request
                .uri()
                .path_and_query()
                .map_or("", |path| path.as_str()),
        );
        digest.update(b"\n");
        Self { digest, bytes: 0 }
    }

    fn feed(&mut self, chunk: &[u8]) {
        let room = MAX_BODY_BYTES.saturating_sub(self.bytes);
        self.digest.update(&chunk[..chunk.len().min(room)]);
        self.bytes = self.bytes.saturating_add(chunk.len());
    }

    /// The hash so far, and the bytes read.
    fn hash(&self) -> (Vec<u8>, usize) {
        let mut digest = self.digest.clone();
        if self.bytes > MAX_BODY_BYTES {
            digest.update(b"\n...");
        }
        (digest.finalize().to_vec(), self.bytes)
    }
}

/// The body as the handler reads it, hashed on the way; what it leaves unread is read
/// (and hashed, never kept) after it.
struct Feed {
    payload: Payload,
    print: Fingerprint,
    ended: bool,
}

#[derive(Clone)]
struct Tee(Rc<RefCell<Feed>>);

impl Stream for Tee {
    type Item = Result<web::Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut feed = self.0.borrow_mut();
        let polled = Pin::new(&mut feed.payload).poll_next(cx);
        match &polled {
            Poll::Ready(Some(Ok(chunk))) => feed.print.feed(chunk),
            Poll::Ready(None) => feed.ended = true,
            Poll::Ready(Some(Err(_))) | Poll::Pending => {}
        }
        polled
    }
}

impl Tee {
    fn install(request: &mut ServiceRequest) -> Self {
        let tee = Self(Rc::new(RefCell::new(Feed {
            payload: request.take_payload(),
            print: Fingerprint::of(request),
            ended: false,
        })));
        let stream: Pin<Box<dyn Stream<Item = Result<web::Bytes, PayloadError>>>> =
            Box::pin(tee.clone());
        request.set_payload(Payload::from(stream));
        tee
    }

    /// Whether the body has been read to its end.
    fn ended(&self) -> bool {
        self.0.borrow().ended
    }

    /// Reads what the handler left of the body (at most [`MAX_BODY_BYTES`] in all, hashed
    /// and never kept), and answers the request's fingerprint.
    async fn fingerprint(mut self) -> Result<(Vec<u8>, usize), ApiError> {
        while !self.ended() && self.0.borrow().print.bytes <= MAX_BODY_BYTES {
            match self.next().await {
                Some(Ok(_)) | None => {}
                Some(Err(PayloadError::Io(error)))
                    if error.kind() == std::io::ErrorKind::TimedOut =>
                {
                    return Err(ApiError::RequestTimeout);
                }
                Some(Err(_)) => return Err(crate::api::http::unreadable_body()),
            }
        }
        Ok(self.0.borrow().print.hash())
    }
}

fn replayed(stored: Stored) -> HttpResponse {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut response = HttpResponse::build(status);
    for (name, value) in stored.headers {
        response.insert_header((name, value));
    }
    response.insert_header((REPLAYED_HEADER, "true"));
    response.body(stored.body)
}

/// This middleware's own answer, given before the request reaches its route.
fn refused(request: ServiceRequest, error: ApiError) -> ServiceResponse<BoxBody> {
    request.extensions_mut().insert(Unrouted);
    request.error_response(error).map_into_boxed_body()
}

/// Applies idempotency keys to the POST requests of an authenticated scope.
pub async fn idempotent(
    mut request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    if request.method() != Method::POST {
        return next
            .call(request)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    }
    let key = match key_of(&request) {
        Ok(Some(key)) => key,
        Ok(None) => {
            return next
                .call(request)
                .await
                .map(ServiceResponse::map_into_boxed_body);
        }
        Err(error) => return Ok(refused(request, error)),
    };
    let key_id = crate::api::auth::authenticated_key(&request);
    let (Some(key_id), Some(pool)) = (key_id, request.app_data::<web::Data<DbPool>>().cloned())
    else {
        let error = ApiError::Internal("idempotency without a caller or a pool".into());
        return Ok(refused(request, error));
    };
    let announced_empty = announces_no_body(&request);
    let tee = Tee::install(&mut request);
    let claim = Claimed {
        pool,
        key_id,
        key: key.clone(),
        tee: tee.clone(),
        replay: Rc::default(),
    };
    let unit = Work::new(Box::pin(claim.clone().open()));
    request.extensions_mut().insert(unit.clone());
    let response = next.call(request).await?;
    if let Some(stored) = claim.replay.take() {
        return Ok(answer_with(response, replayed(stored)));
    }
    let outcome = match unit.outcome() {
        Ok(outcome) => outcome,
        Err(error) => {
            tracing::error!(%error, "an idempotent request's connection was not given back");
            return Ok(answer_with(response, error.error_response()));
        }
    };
    let status = response.status();
    let allowed = crate::api::auth::allowed(response.request());
    let mut conn = match outcome {
        // The handler was refused the unit (still running elsewhere, another request, a
        // database away): its answer says so, and nothing is stored.
        Outcome::Failed => return Ok(response.map_into_boxed_body()),
        Outcome::Open(mut conn) if status.is_server_error() || !allowed => {
            work::rollback(&mut conn).await;
            return Ok(response.map_into_boxed_body());
        }
        Outcome::Open(conn) => work::Held::new(*conn),
        // Answered without the database: kept too (a refusal is an answer), unless it is
        // a 5xx, not the route's, or given before the body was read to its end (413, 415:
        // waiting for the rest would only serve a slow client).
        Outcome::Unopened(opening) => {
            let read = tee.ended() || announced_empty;
            if status.is_server_error() || !allowed || !read {
                return Ok(response.map_into_boxed_body());
            }
            match opening.await {
                Ok(conn) => work::Held::new(conn),
                Err(error) => {
                    return Ok(match claim.replay.take() {
                        Some(stored) => answer_with(response, replayed(stored)),
                        None => answer_with(response, error.error_response()),
                    });
                }
            }
        }
    };
    let (request, response) = response.into_parts();
    let (head, body) = response.into_parts();
    let body = match to_bytes(body).await {
        Ok(body) => body,
        Err(error) => {
            work::rollback(&mut conn).await;
            let error =
                ApiError::Internal(format!("an answer could not be read: {}", error.into()));
            return Ok(ServiceResponse::new(request, error.error_response()));
        }
    };
    let answer = Stored {
        status: status.as_u16(),
        headers: KEPT_HEADERS
            .iter()
            .filter_map(|name| {
                let value = head.headers().get(name)?.to_str().ok()?;
                Some((name.as_str().to_owned(), value.to_owned()))
            })
            .collect(),
        body: body.to_vec(),
    };
    let kept = async {
        // The body was read to its end when the unit opened.
        let (hash, bytes) = tee.fingerprint().await?;
        // The answer is stored with the COMMIT, in one round trip.
        let key = key.clone();
        let store: work::Last = Box::new(move |conn| {
            Box::pin(async move { db::store(conn, key_id, &key, &hash, bytes, &answer).await })
        });
        // The unit's audit events first, then the answer.
        let last = work::in_order(vec![work::appending(unit.events()), store]);
        work::commit_with(&mut conn, last).await
    }
    .await;
    match kept {
        Ok(()) => {
            for then in unit.after_commit() {
                then();
            }
            Ok(ServiceResponse::new(request, head.set_body(body)).map_into_boxed_body())
        }
        Err(error) => {
            if matches!(error, ApiError::OutcomeUnknown) {
                // It may have committed: what follows a commit is safe to do either way.
                for then in unit.after_commit() {
                    then();
                }
            } else if work::in_transaction(&mut conn) {
                work::rollback(&mut conn).await;
            }
            drop(conn);
            tracing::warn!(%error, key = %key, "an idempotent request's write was not committed");
            Ok(ServiceResponse::new(request, error.error_response()))
        }
    }
}

/// Whether a request announces no body at all (no length, not chunked, or a length of 0).
fn announces_no_body(request: &ServiceRequest) -> bool {
    let headers = request.headers();
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok());
    !headers.contains_key(header::TRANSFER_ENCODING) && length.is_none_or(|length| length == "0")
}

/// `response`'s request, answered with `answer` instead.
fn answer_with(
    response: ServiceResponse<impl MessageBody + 'static>,
    answer: HttpResponse,
) -> ServiceResponse<BoxBody> {
    let (request, _) = response.into_parts();
    ServiceResponse::new(request, answer)
}

/// A request's claim on its key: opened when the handler first needs the database (or
/// after it answered without), so no connection is held while the body arrives.
#[derive(Clone)]
struct Claimed {
    pool: web::Data<DbPool>,
    key_id: ApiKeyId,
    key: String,
    tee: Tee,
    /// The first request's answer, when this one is its retry.
    replay: Rc<RefCell<Option<Stored>>>,
}

impl Claimed {
    /// Reads the rest of the body, then opens the transaction and claims the key in it:
    /// the transaction's connection if the key is free; else why not (still running, 409;
    /// another request's key, 422; the same request answered: the answer is kept for the
    /// middleware, and the handler is stopped with [`ApiError::Answered`]).
    async fn open(self) -> Result<crate::db::DbConn, ApiError> {
        let (hash, _) = self.tee.clone().fingerprint().await?;
        let mut conn = work::Held::new(crate::db::connection(&self.pool).await?);
        work::begin(&mut conn)?;
        let refusal = match db::claim(&mut conn, self.key_id, &self.key).await {
            Ok(Claim::Fresh) => return Ok(conn.into_inner()),
            Ok(Claim::Running) => ApiError::conflict(
                "a request with this Idempotency-Key is still running; retry it later",
            ),
            Ok(Claim::Answered(kept)) if kept.request_hash == hash => {
                *self.replay.borrow_mut() = Some(kept.answer);
                ApiError::Answered
            }
            Ok(Claim::Answered(_)) => ApiError::Validation(vec![FieldError::rule(
                "",
                "this Idempotency-Key was first sent with another request (method, path or body)",
            )]),
            Err(error) => ApiError::from(error),
        };
        work::rollback(&mut conn).await;
        Err(refusal)
    }
}
