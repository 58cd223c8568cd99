//! Authentication and the access policy: every `/api/v1` request goes through
//! [`authenticate`], which resolves the bearer token to a [`Caller`] and applies
//! [`crate::domain::access::check`]; handlers then scope their queries with
//! [`Caller::scope`].

use std::collections::HashMap;
use std::future::{Ready, ready};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{Error, FromRequest, HttpMessage, HttpRequest, web};
use chrono::Utc;

use crate::api::key_cache::KeyCache;
use crate::db::DbPool;
use crate::db::audit::Actor;
use crate::db::keys::ApiKey;
use crate::domain::access::{self, Scope};
use crate::domain::ids::{ApiKeyId, DistrictId};
use crate::domain::kinds::Role;
use crate::domain::token;
use crate::error::ApiError;
use crate::telemetry::RequestId;

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub key_id: ApiKeyId,
    pub role: Role,
    pub district_id: Option<DistrictId>,
    pub request_id: Option<String>,
    pub idempotency_key: Option<String>,
}

impl Caller {
    /// The districts this caller sees.
    pub fn scope(&self) -> Scope {
        match (self.role.is_district_scoped(), self.district_id) {
            (true, Some(district)) => Scope::District(district),
            _ => Scope::All,
        }
    }

    /// Whether this caller sees the personal contact data of a member of `district`:
    /// administrators, and clerks of that district.
    pub fn sees_contacts_of(&self, district: DistrictId) -> bool {
        match self.role {
            Role::Admin => true,
            Role::Clerk => self.district_id == Some(district),
            Role::Sync | Role::Auditor => false,
        }
    }

    /// Who to name in the audit trail.
    pub fn actor(&self) -> Actor {
        Actor {
            key_id: Some(self.key_id),
            role: Some(self.role),
            district_id: self.district_id,
            request_id: self.request_id.clone(),
            idempotency_key: self.idempotency_key.clone(),
        }
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        // Set by `authenticate`; its absence means a route outside the authenticated scope.
        ready(
            request
                .extensions()
                .get::<Caller>()
                .cloned()
                .ok_or_else(|| ApiError::Internal("no authenticated caller".into())),
        )
    }
}

/// Failed authentications (a credential presented and refused) per client address: after
/// `limit` within [`Throttle::WINDOW`], the address is refused until the window ends.
#[derive(Debug)]
pub struct Throttle {
    limit: u32,
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

impl Throttle {
    pub const WINDOW: Duration = Duration::from_secs(60);

    /// A throttle allowing `limit` refused credentials a minute from one address.
    pub fn new(limit: u32) -> Self {
        Self {
            limit,
            failures: Mutex::default(),
        }
    }

    /// How long the address must wait, if it is throttled.
    fn wait(&self, address: IpAddr) -> Option<Duration> {
        let failures = self.failures.lock().ok()?;
        let (count, since) = failures.get(&address)?;
        let elapsed = since.elapsed();
        (*count >= self.limit && elapsed < Self::WINDOW).then(|| Self::WINDOW - elapsed)
    }

    fn fail(&self, address: IpAddr) {
        if let Ok(mut failures) = self.failures.lock() {
            if failures.len() > 100_000 {
                failures.retain(|_, (_, since)| since.elapsed() < Self::WINDOW);
            }
            let entry = failures.entry(address).or_insert((0, Instant::now()));
            if entry.1.elapsed() >= Self::WINDOW {
                *entry = (0, Instant::now());
            }
            entry.0 += 1;
        }
    }
}

/// Query parameters that would carry a token; tokens are taken from the header only.
const TOKEN_PARAMETERS: &[&str] = &["access_token", "token", "api_key", "apikey", "key"];

fn bearer(request: &ServiceRequest) -> Result<String, ApiError> {
    let query_has_token = request.query_string().split('&').any(|pair| {
        let name = pair.split('=').next().unwrap_or_default();
        TOKEN_PARAMETERS.contains(&name.to_ascii_lowercase().as_str())
    });
    if query_has_token {
        return Err(ApiError::Unauthorized(
            "tokens are accepted only in the Authorization header, never in the URL".into(),
        ));
    }
    let value = request
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(|| {
            ApiError::Unauthorized("an Authorization: Bearer <token> header is required".into())
        })?;
    let value = value
        .to_str()
        .map_err(|_| ApiError::Unauthorized("the Authorization header is malformed".into()))?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
        .ok_or_else(|| {
            ApiError::Unauthorized("the Authorization header must be `Bearer <token>`".into())
        })?;
    if token::well_formed(token) {
        Ok(token.to_owned())
    } else {
        Err(ApiError::Unauthorized("the token is malformed".into()))
    }
}

async fn resolve(request: &ServiceRequest) -> Result<Caller, ApiError> {
    let token = bearer(request)?;
    let pool = request
        .app_data::<web::Data<DbPool>>()
        .ok_or_else(|| ApiError::Internal("no database pool".into()))?;
    let cache = request.app_data::<web::Data<KeyCache>>();
    let hash = token::hash(&token);
    let mut conn = None;
    let key = match cache.and_then(|cache| cache.get(&hash)) {
        Some(key) => key,
        None => {
            let seen = cache.map(|cache| cache.generation());
            let conn = conn.insert(crate::db::connection(pool).await?);
            let key = verified(conn, &hash).await?;
            if let (Some(cache), Some(seen)) = (cache, seen) {
                cache.put(hash.clone(), key.clone(), seen);
            }
            key
        }
    };
    if !key.is_active(Utc::now()) {
        return Err(ApiError::Unauthorized("the key has expired".into()));
    }
    // The key in hand says whether its last use is older than a minute; only then is the
    // use written.
    let stale = key
        .last_used_at
        .is_none_or(|used| Utc::now() - used > chrono::Duration::minutes(1));
    if stale {
        let mut conn = match conn {
            Some(conn) => conn,
            None => crate::db::connection(pool).await?,
        };
        crate::db::keys::mark_used(&mut conn, key.id).await?;
        if let Some(cache) = cache {
            cache.touch(&hash, Utc::now());
        }
    }
    Ok(Caller {
        key_id: key.id,
        role: key.role,
        district_id: key.district_id,
        request_id: request
            .extensions()
            .get::<RequestId>()
            .map(|id| id.0.clone()),
        idempotency_key: request
            .headers()
            .get("idempotency-key")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned),
    })
}

/// The key with this token hash, checked against the database: known and not revoked.
async fn verified(conn: &mut crate::db::DbConn, hash: &[u8]) -> Result<ApiKey, ApiError> {
    let Some((key, stored)) = crate::db::keys::find_by_hash(conn, hash).await? else {
        return Err(ApiError::Unauthorized("the token is not known".into()));
    };
    if !token::same_hash(hash, &stored) {
        return Err(ApiError::Unauthorized("the token is not known".into()));
    }
    if key.revoked_at.is_some() {
        return Err(ApiError::Unauthorized("the key was revoked".into()));
    }
    Ok(key)
}

/// Authenticates the request and applies the access policy; on success the [`Caller`]
/// is available to the handler.
pub async fn authenticate(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let address = request
        .peer_addr()
        .map(|address| address.ip())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let throttle = request.app_data::<web::Data<Throttle>>().cloned();
    // A request without credentials is not a guess; a wrong credential is. Only guesses
    // are counted and only they are held back: a request with no credential from a
    // throttled address still learns that it needs one (401).
    let guessed = request.headers().contains_key(header::AUTHORIZATION);
    if guessed
        && let Some(wait) = throttle
            .as_ref()
            .and_then(|throttle| throttle.wait(address))
    {
        let error = ApiError::TooManyRequests {
            retry_after: wait.as_secs().max(1),
        };
        return Ok(request.error_response(error).map_into_right_body());
    }
    let caller = match resolve(&request).await {
        Ok(caller) => caller,
        Err(error) => {
            if guessed
                && matches!(error, ApiError::Unauthorized(_))
                && let Some(throttle) = &throttle
            {
                throttle.fail(address);
            }
            return Ok(request.error_response(error).map_into_right_body());
        }
    };
    let template = request
        .match_pattern()
        .unwrap_or_else(|| request.path().to_owned());
    if let Err(denied) = access::check(caller.role, request.method().as_str(), &template) {
        return Ok(request
            .error_response(ApiError::Forbidden(denied.0))
            .map_into_right_body());
    }
    request.extensions_mut().insert(caller);
    next.call(request)
        .await
        .map(ServiceResponse::map_into_left_body)
}
