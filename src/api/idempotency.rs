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

/// A stored answer as a retry gets it, with `Idempotent-Replayed: true`.
fn replayed(stored: Stored) -> HttpResponse {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut response = HttpResponse::build(status);
    for (name, value) in stored.headers {
        response.insert_header((name, value));
    }
    response.insert_header((REPLAYED_HEADER, "true"));
    response.body(stored.body)
}

/// The answer a route keeps for a retry in place of the one it sends, when that one holds
/// what must not be stored (a new key's token): put in the answer's extensions.
pub struct KeptInstead(RefCell<Option<HttpResponse>>);

impl KeptInstead {
    pub fn new(answer: HttpResponse) -> Self {
        Self(RefCell::new(Some(answer)))
    }
}

/// An answer as it is stored, and the answer itself to send.
async fn kept_form(
    response: HttpResponse<impl MessageBody>,
) -> Result<(HttpResponse, Stored), ApiError> {
    let (head, body) = response.into_parts();
    let body = to_bytes(body).await.map_err(|error| {
        ApiError::Internal(format!("an answer could not be read: {}", error.into()))
    })?;
    let stored = Stored {
        status: head.status().as_u16(),
        headers: KEPT_HEADERS
            .iter()
            .filter_map(|name| {
                let value = head.headers().get(name)?.to_str().ok()?;
                Some((name.as_str().to_owned(), value.to_owned()))
            })
            .collect(),
        body: body.to_vec(),
    };
    Ok((head.set_body(body).map_into_boxed_body(), stored))
}

/// This middleware's own answer, given before the request reaches its route.
fn refused(request: ServiceRequest, error: ApiError) -> ServiceResponse<BoxBody> {
    request.extensions_mut().insert(Unrouted);
    request.error_response(error).map_into_boxed_body()
}

/// The problem an answer carries, if the service wrote it.
fn problem_of<B>(response: &ServiceResponse<B>) -> Option<&ApiError> {
    response.response().error()?.as_error::<ApiError>()
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
    let key_id = crate::api::auth::authenticated_principal(&request);
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
    };
    let unit = Work::new(Box::pin(claim.clone().open()));
    request.extensions_mut().insert(unit.clone());
    let response = next.call(request).await?;
    let outcome = match unit.outcome() {
        Ok(outcome) => outcome,
        Err(error) => {
            tracing::error!(%error, "an idempotent request's connection was not given back");
            return Ok(answer_with(response, error.error_response()));
        }
    };
    let status = response.status();
    let allowed = crate::api::auth::allowed(response.request());
    // Whether the handler's answer was made with the database (and so, if the claim sent
    // ahead of its statements failed, from statements that all failed).
    let used_database = matches!(outcome, Outcome::Open(_));
    let mut conn = match outcome {
        // The handler was refused the unit (a database away, a body that did not
        // arrive): its answer says so, and nothing is stored.
        Outcome::Failed => return Ok(response.map_into_boxed_body()),
        Outcome::Open(mut conn) if !allowed => {
            work::rollback(&mut conn).await;
            return Ok(response.map_into_boxed_body());
        }
        Outcome::Open(mut conn) if status.is_server_error() => {
            work::rollback(&mut conn).await;
            drop(conn);
            // It may have failed for the claim sent ahead of it (the key is not free):
            // then the key's answer is the request's. Asked whatever the failure looked
            // like (its words are the server's, in the server's language).
            let unclaimed = matches!(problem_of(&response), Some(ApiError::Unclaimed));
            let (request, response) = response.into_parts();
            let answer = claim
                .settle(response.map_into_boxed_body(), None, unclaimed)
                .await;
            return Ok(ServiceResponse::new(request, answer));
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
                Err(error) => return Ok(answer_with(response, error.error_response())),
            }
        }
    };
    let (request, response) = response.into_parts();
    let instead = response
        .extensions()
        .get::<KeptInstead>()
        .and_then(|kept| kept.0.borrow_mut().take());
    let forms = async {
        let (answer, stored) = kept_form(response).await?;
        let stored = match instead {
            Some(instead) => kept_form(instead).await?.1,
            None => stored,
        };
        Ok::<_, ApiError>((answer, stored))
    };
    let (answer, stored) = match forms.await {
        Ok(forms) => forms,
        Err(error) => {
            work::rollback(&mut conn).await;
            return Ok(ServiceResponse::new(request, error.error_response()));
        }
    };
    let kept = async {
        // The body was read to its end when the unit opened.
        let (hash, bytes) = tee.fingerprint().await?;
        // The unit's deferred changes and audit events, then the answer, with the
        // COMMIT, in one round trip.
        let last = vec![unit.finishing(), claim.storing(hash, bytes, stored.clone())];
        work::commit_with(&mut conn, work::in_order(last)).await
    }
    .await;
    match kept {
        Ok(()) => {
            for then in unit.after_commit() {
                then();
            }
            Ok(ServiceResponse::new(request, answer))
        }
        Err(ApiError::OutcomeUnknown) => {
            // It may have committed: what follows a commit is safe to do either way.
            for then in unit.after_commit() {
                then();
            }
            drop(conn);
            tracing::warn!(key = %key, "an idempotent request's COMMIT went unanswered");
            Ok(ServiceResponse::new(
                request,
                ApiError::OutcomeUnknown.error_response(),
            ))
        }
        Err(error) => {
            if work::in_transaction(&mut conn) {
                work::rollback(&mut conn).await;
            }
            drop(conn);
            tracing::warn!(%error, key = %key, "an idempotent request's write was not committed");
            if matches!(error, ApiError::Unavailable) {
                return Ok(ServiceResponse::new(request, error.error_response()));
            }
            // The server refused the transaction: a change sent with the COMMIT (a
            // number taken since it was read: that refusal is the answer to keep), or
            // the claim sent ahead of everything. Then a refusal the handler made without
            // the database is kept if the key turns out free after all; one it made with
            // the database is kept only by its own COMMIT, never here (if the claim
            // failed, every statement it sent failed, and a failure may have been read
            // as an absence: "no such record").
            let unclaimed = matches!(error, ApiError::Unclaimed);
            let (answer, keep) = if used_database && !error.status_code().is_client_error() {
                (error.error_response(), None)
            } else if status.is_client_error() {
                (answer, Some(stored))
            } else if error.status_code().is_client_error() {
                match kept_form(error.error_response()).await {
                    Ok((answer, stored)) => (answer, Some(stored)),
                    Err(error) => (error.error_response(), None),
                }
            } else {
                (error.error_response(), None)
            };
            let answer = claim.settle(answer, keep, unclaimed).await;
            Ok(ServiceResponse::new(request, answer))
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
    /// Who calls ([`crate::api::auth::Caller::principal`]): keys are kept per caller.
    key_id: uuid::Uuid,
    key: String,
    tee: Tee,
}

/// The answer while another request holds the key.
fn running() -> ApiError {
    ApiError::conflict("a request with this Idempotency-Key is still running; retry it later")
}

impl Claimed {
    /// Reads the rest of the body, then opens the transaction and sends the claim of the
    /// key ahead of the handler's first statements ([`db::claim_ahead`]): the key is
    /// claimed in the handler's first round trip. If it is not free, the transaction
    /// fails, and [`Claimed::settle`] answers with what the key holds.
    async fn open(self) -> Result<crate::db::DbConn, ApiError> {
        self.tee.clone().fingerprint().await?;
        let conn = self.begun().await?;
        db::claim_ahead(&conn, self.key_id, &self.key)?;
        Ok(conn.into_inner())
    }

    /// A connection of the pool, in a transaction (its `BEGIN` sent ahead).
    async fn begun(&self) -> Result<work::Held, ApiError> {
        let mut conn = work::Held::new(crate::db::connection(&self.pool).await?);
        work::begin(&mut conn)?;
        Ok(conn)
    }

    /// The statement storing `answer` under the key, for the `COMMIT`.
    fn storing(&self, hash: Vec<u8>, bytes: usize, answer: Stored) -> work::Last {
        let (key_id, key) = (self.key_id, self.key.clone());
        Box::new(move |conn| {
            Box::pin(async move { db::store(conn, key_id, &key, &hash, bytes, &answer).await })
        })
    }

    /// The answer to a request whose transaction the server refused, asked of the key in a
    /// transaction of its own: another request's (holding it: 409; answered: its answer
    /// again, or 422 if it was another request); else `answer`, stored first when `keep`
    /// holds its stored form. A request refused only because its claim failed
    /// (`unclaimed`) and has nothing to keep found the key held when it claimed it (409).
    async fn settle(
        &self,
        answer: HttpResponse,
        keep: Option<Stored>,
        unclaimed: bool,
    ) -> HttpResponse {
        let (hash, bytes) = match self.tee.clone().fingerprint().await {
            Ok(print) => print,
            Err(error) => return error.error_response(),
        };
        let asked = async {
            let mut conn = self.begun().await?;
            let holds = db::claim(&mut conn, self.key_id, &self.key).await;
            Ok::<_, ApiError>((conn, holds))
        }
        .await;
        let (mut conn, holds) = match asked {
            Ok(asked) => asked,
            Err(error) if unclaimed => return error.error_response(),
            Err(_) => return answer,
        };
        if let (Ok(Claim::Fresh), Some(stored)) = (&holds, keep) {
            return match work::commit_with(&mut conn, self.storing(hash, bytes, stored)).await {
                Ok(()) => answer,
                Err(error) => error.error_response(),
            };
        }
        work::rollback(&mut conn).await;
        match holds {
            Ok(Claim::Fresh) if unclaimed => {
                // The claim failed, and the key is free now: its holder ended without an
                // answer in between (or a statement failed unseen: worth a look).
                tracing::warn!(key = %self.key, "a key found held was free when asked again");
                running().error_response()
            }
            Ok(Claim::Fresh) => answer,
            Ok(Claim::Running) => running().error_response(),
            Ok(Claim::Answered(kept)) if kept.request_hash == hash => replayed(kept.answer),
            Ok(Claim::Answered(_)) => ApiError::Validation(vec![FieldError::rule(
                "",
                "this Idempotency-Key was first sent with another request (method, path or body)",
            )])
            .error_response(),
            Err(error) if unclaimed => ApiError::from(error).error_response(),
            Err(_) => answer,
        }
    }
}
