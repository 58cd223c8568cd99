//! `Idempotency-Key` on every POST: the first answer is stored per API key and key (with a
//! hash of the method, path and body) for 24 hours, and a retry gets it again instead of
//! a second write.
//!
//! - same key, same request, answered: the stored answer, with `Idempotent-Replayed: true`;
//! - same key, same request, still running: 409;
//! - same key, another request: 422;
//! - a 5xx answer is not stored (it changed nothing): the key may be sent again.

use actix_web::body::{BoxBody, MessageBody, to_bytes};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode, header};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpResponse, web};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use crate::api::auth::Unrouted;
use crate::api::sync::MAX_BATCH_BYTES as MAX_BODY_BYTES;
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

/// Reads the whole body (at most the largest any route takes) and puts it back for the
/// handler.
async fn body_of(request: &mut ServiceRequest) -> Result<web::Bytes, ApiError> {
    let mut payload = request.take_payload();
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|error| {
            ApiError::BadRequest(format!("the body could not be read: {error}"))
        })?;
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(ApiError::PayloadTooLarge {
                limit: MAX_BODY_BYTES,
            });
        }
        body.extend_from_slice(&chunk);
    }
    let body = body.freeze();
    request.set_payload(Payload::from(body.clone()));
    Ok(body)
}

fn fingerprint(request: &ServiceRequest, body: &[u8]) -> Vec<u8> {
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
    digest.update(body);
    digest.finalize().to_vec()
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
    let key_id = crate::api::auth::authenticated_key(&request);
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
    let (Some(key_id), Some(pool)) = (key_id, request.app_data::<web::Data<DbPool>>().cloned())
    else {
        let error = ApiError::Internal("idempotency without a caller or a pool".into());
        return Ok(refused(request, error));
    };
    let body = match body_of(&mut request).await {
        Ok(body) => body,
        Err(error) => return Ok(refused(request, error)),
    };
    let hash = fingerprint(&request, &body);
    let claimed = async {
        let mut conn = crate::db::connection(&pool).await?;
        if let Err(error) = db::purge(&mut conn).await {
            tracing::warn!(%error, "expired idempotency keys were not purged");
        }
        Ok::<_, ApiError>(db::claim(&mut conn, key_id, &key, &hash).await?)
    }
    .await;
    match claimed {
        Err(error) => Ok(refused(request, error)),
        Ok(Claim::Running) => {
            let error = ApiError::conflict(
                "a request with this Idempotency-Key is still running; retry it later",
            );
            Ok(refused(request, error))
        }
        Ok(Claim::Mismatch) => {
            let error = ApiError::Validation(vec![FieldError::new(
                "",
                "this Idempotency-Key was first sent with another request (method, path or body)",
            )]);
            Ok(refused(request, error))
        }
        Ok(Claim::Done(stored)) => {
            request.extensions_mut().insert(Unrouted);
            let (request, _) = request.into_parts();
            Ok(ServiceResponse::new(request, replayed(stored)))
        }
        Ok(Claim::Fresh) => {
            let response = next.call(request).await?;
            let (request, response) = response.into_parts();
            let (head, body) = response.into_parts();
            let body = to_bytes(body).await.map_err(|error| {
                actix_web::error::ErrorInternalServerError(format!(
                    "an answer could not be read: {}",
                    error.into()
                ))
            })?;
            let answer = Stored {
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
            let kept = async {
                let mut conn = crate::db::connection(&pool).await?;
                if head.status().is_server_error() {
                    db::release(&mut conn, key_id, &key).await?;
                } else {
                    db::complete(&mut conn, key_id, &key, &answer).await?;
                }
                Ok::<_, ApiError>(())
            }
            .await;
            if let Err(error) = kept {
                tracing::error!(%error, key = %key, "the answer of an idempotent request was not stored");
            }
            Ok(ServiceResponse::new(request, head.set_body(body)).map_into_boxed_body())
        }
    }
}
