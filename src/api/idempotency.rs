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
use crate::api::sync::MAX_BATCH_BYTES as MAX_BODY_BYTES;
use crate::api::work::{self, Work};
use crate::db::DbPool;
use crate::db::idempotency::{self as db, Claim, Kept, Stored};
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

    fn blank() -> Self {
        Self {
            digest: Sha256::new(),
            bytes: 0,
        }
    }

    fn feed(&mut self, chunk: &[u8]) {
        let room = MAX_BODY_BYTES.saturating_sub(self.bytes);
        self.digest.update(&chunk[..chunk.len().min(room)]);
        self.bytes = self.bytes.saturating_add(chunk.len());
    }

    fn finish(self) -> (Vec<u8>, usize) {
        let mut digest = self.digest;
        if self.bytes > MAX_BODY_BYTES {
            digest.update(format!("\n…{}", self.bytes));
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

    /// Reads the rest of the body, at most `limit` bytes in all, hashing it; `None` if it
    /// could not be read.
    async fn finish(mut self, limit: usize) -> Option<(Vec<u8>, usize)> {
        while !self.0.borrow().ended && self.0.borrow().print.bytes <= limit {
            match self.next().await {
                Some(Ok(_)) | None => {}
                Some(Err(_)) => return None,
            }
        }
        let mut feed = self.0.borrow_mut();
        let print = std::mem::replace(&mut feed.print, Fingerprint::blank());
        Some(print.finish())
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
    request: ServiceRequest,
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
    let claimed = async {
        let mut conn = crate::db::connection(&pool).await?;
        work::begin(&mut conn).await?;
        match db::claim(&mut conn, key_id, &key).await {
            Ok(claim) => Ok((conn, claim)),
            Err(error) => {
                work::rollback(&mut conn).await;
                Err(ApiError::from(error))
            }
        }
    }
    .await;
    let (mut conn, claim) = match claimed {
        Ok(claimed) => claimed,
        Err(error) => return Ok(refused(request, error)),
    };
    match claim {
        Claim::Running => {
            work::rollback(&mut conn).await;
            let error = ApiError::conflict(
                "a request with this Idempotency-Key is still running; retry it later",
            );
            Ok(refused(request, error))
        }
        Claim::Answered(kept) => {
            work::rollback(&mut conn).await;
            drop(conn);
            replay(request, kept).await
        }
        Claim::Fresh => run(request, next, conn, key_id, &key).await,
    }
}

/// Answers a retry with the stored answer, if it is the same request as the first.
async fn replay(
    mut request: ServiceRequest,
    kept: Kept,
) -> Result<ServiceResponse<BoxBody>, Error> {
    // A body longer than the first request's is another request: it is read no further.
    let limit = kept.request_bytes.unwrap_or(MAX_BODY_BYTES);
    let same = Tee::install(&mut request)
        .finish(limit)
        .await
        .is_some_and(|(hash, _)| hash == kept.request_hash);
    if !same {
        let error = ApiError::Validation(vec![FieldError::new(
            "",
            "this Idempotency-Key was first sent with another request (method, path or body)",
        )]);
        return Ok(refused(request, error));
    }
    request.extensions_mut().insert(Unrouted);
    let (request, _) = request.into_parts();
    Ok(ServiceResponse::new(request, replayed(kept.answer)))
}

/// Runs the request in the transaction that holds its key, stores its answer there and
/// commits once.
async fn run(
    mut request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
    conn: crate::db::DbConn,
    key_id: ApiKeyId,
    key: &str,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let tee = Tee::install(&mut request);
    let unit = Work::lend(conn);
    request.extensions_mut().insert(unit.clone());
    let response = next.call(request).await;
    let mut conn = match unit.reclaim() {
        Ok(conn) => conn,
        Err(error) => {
            // The handler kept the transaction's connection: it is dropped, and with it
            // the transaction, unless something still holds it.
            tracing::error!(%error, "an idempotent request's connection was not given back");
            return response.map(ServiceResponse::map_into_boxed_body);
        }
    };
    let response = match response {
        Ok(response) => response,
        Err(error) => {
            work::rollback(&mut conn).await;
            return Err(error);
        }
    };
    let status = response.status();
    // A refusal given before the body was read to its end (too large, not JSON) wrote
    // nothing and is not kept: waiting for the rest of the body would only serve a slow
    // client.
    let refused_unread = status.is_client_error() && !tee.ended();
    if status.is_server_error() || refused_unread || !crate::api::auth::allowed(response.request())
    {
        work::rollback(&mut conn).await;
        return Ok(response.map_into_boxed_body());
    }
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
        let (hash, bytes) = tee
            .finish(MAX_BODY_BYTES)
            .await
            .ok_or_else(|| ApiError::BadRequest("the body could not be read to its end".into()))?;
        if let Err(error) = db::store(&mut conn, key_id, key, &hash, bytes, &answer).await {
            work::rollback(&mut conn).await;
            return Err(ApiError::from(error));
        }
        work::commit(&mut conn).await
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
            if work::in_transaction(&mut conn) {
                work::rollback(&mut conn).await;
            }
            tracing::warn!(%error, key = %key, "an idempotent request's write was not committed");
            Ok(ServiceResponse::new(request, error.error_response()))
        }
    }
}
