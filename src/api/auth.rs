//! Authentication and the access policy. Every `/api/v1` request goes through
//! [`authenticate`], which resolves the bearer token to the key calling. Once the router
//! has matched the request to a route, the route's own policy (see [`crate::api::policy`])
//! decides whether that key may call it: the [`Caller`] and [`Db`] extractors, the only
//! way a handler learns who calls or reaches the database, are given only to a caller
//! the policy lets through. Handlers then scope their queries with [`Caller::scope`].

use std::future::{Ready, ready};
use std::net::IpAddr;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{Error, FromRequest, HttpMessage, HttpRequest, web};
use chrono::Utc;

use crate::api::throttle::{Throttle, TrustedProxies};
use crate::api::{RouteTable, template_matches};
use crate::db::DbPool;
use crate::db::audit::Actor;
use crate::db::keys::Credential;
use crate::domain::access::{self, Person, Scope};
use crate::domain::account::ActorAccount;
use crate::domain::account::{AccountStatus, Authentication};
use crate::domain::ids::{ApiKeyId, DistrictId};
use crate::domain::kinds::Role;
use crate::domain::token;
use crate::error::ApiError;
use crate::key_cache::KeyCache;
use crate::telemetry::RequestId;

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The API key calling; none for a person signed in with an OpenID Connect token.
    pub key_id: Option<ApiKeyId>,
    /// The person calling, when a person is (a personal key of an account, or an OpenID
    /// Connect token of a subject linked to one).
    pub account: Option<std::sync::Arc<ActorAccount>>,
    /// What a person of a district acts for (roles `member`, `unit`, `leaders_office`).
    pub person: Option<Person>,
    pub role: Role,
    pub district_id: Option<DistrictId>,
    pub request_id: Option<String>,
    pub idempotency_key: Option<String>,
}

impl Caller {
    /// The districts this caller sees.
    pub fn scope(&self) -> Scope {
        match (
            self.role.is_district_scoped(),
            self.district_id,
            self.person,
        ) {
            (true, Some(district), Some(person)) => Scope::Person(district, person),
            // A person's role without what it acts for sees nothing (authentication
            // refuses such a caller before any route).
            (true, _, None) if self.role.is_person() => {
                Scope::District(DistrictId(uuid::Uuid::nil()))
            }
            (true, Some(district), _) => Scope::District(district),
            _ => Scope::All,
        }
    }

    /// The second lock of the handlers that matter most: the caller's role is checked
    /// again inside the handler, whatever its route's policy let through.
    pub fn require(&self, allowed: &[Role], what: &str) -> Result<(), ApiError> {
        access::require(self.role, allowed, what).map_err(|denied| ApiError::Forbidden(denied.0))
    }

    /// Who calls, for what is kept per caller (the answers kept under idempotency keys):
    /// the person's account, however they authenticated (a retry with another of their
    /// credentials is the same caller's), else the machine key.
    pub fn principal(&self) -> Option<uuid::Uuid> {
        self.account
            .as_ref()
            .map(|account| account.id.0)
            .or(self.key_id.map(|key| key.0))
    }

    /// Who to name in the audit trail.
    pub fn actor(&self) -> Actor {
        Actor {
            account: self.account.clone(),
            key_id: self.key_id,
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
        ready(authorize(request))
    }
}

/// The key a request was authenticated with, before any route's policy is applied.
#[derive(Debug, Clone)]
struct Authenticated(Caller);

/// The matched route's decision on the caller, made once per request.
#[derive(Debug, Clone)]
enum Decision {
    Allowed(Caller),
    Denied(String),
    /// Let through by the policy, but the request does not match the operation (a query
    /// parameter it does not take): 400.
    Malformed(String),
    /// The path is a route of its own (`/proposals/stats`) that the router, finding no
    /// such method there, read as another's parameter (`/proposals/{id}`): 405 with the
    /// methods of the path as written.
    WrongMethod(Vec<&'static str>),
}

impl Decision {
    /// The caller, or the answer that refuses the request.
    fn into_result(self) -> Result<Caller, ApiError> {
        match self {
            Self::Allowed(caller) => Ok(caller),
            Self::Denied(why) => Err(ApiError::Forbidden(why)),
            Self::Malformed(why) => Err(ApiError::BadRequest(why)),
            Self::WrongMethod(allowed) => Err(ApiError::MethodNotAllowed {
                allowed: allowed.iter().map(|method| (*method).to_owned()).collect(),
            }),
        }
    }
}

/// Marks a request answered without reaching a route: no route takes it (404, 405), or a
/// middleware answered it first (an idempotent replay of the key's own answer).
#[derive(Debug, Clone, Copy)]
pub struct Unrouted;

/// Who the request was authenticated as ([`Caller::principal`]), for the middlewares
/// inside [`authenticate`] (idempotency keys are kept per caller).
pub fn authenticated_principal(request: &ServiceRequest) -> Option<uuid::Uuid> {
    request
        .extensions()
        .get::<Authenticated>()
        .and_then(|authenticated| authenticated.0.principal())
}

/// Applies the policy of the route the router matched to the authenticated caller. The
/// route is the one routing chose (its template, as the router read the path with every
/// escape decoded) and the request's method; a route with no policy is refused to every
/// role, and so is a request that reached no route.
pub(crate) fn authorize(request: &HttpRequest) -> Result<Caller, ApiError> {
    let decided = request.extensions().get::<Decision>().cloned();
    let decision = match decided {
        Some(decision) => decision,
        None => {
            let decision = decide(request)?;
            request.extensions_mut().insert(decision.clone());
            decision
        }
    };
    decision.into_result()
}

/// Whether the route the request reached let its caller through.
pub fn allowed(request: &HttpRequest) -> bool {
    matches!(
        request.extensions().get::<Decision>(),
        Some(Decision::Allowed(_))
    )
}

fn decide(request: &HttpRequest) -> Result<Decision, ApiError> {
    let caller = request
        .extensions()
        .get::<Authenticated>()
        .map(|authenticated| authenticated.0.clone())
        // Outside the authenticated scope: a bug in the routes, never a caller's doing.
        .ok_or_else(|| ApiError::Internal("no authenticated caller".into()))?;
    let routes = request
        .app_data::<web::Data<RouteTable>>()
        .ok_or_else(|| ApiError::Internal("no route table".into()))?;
    let method = request.method().as_str();
    // A path that is a route of its own is answered by that route's methods, before any
    // policy or parameter of the route the router fell back to.
    if let Some(methods) = routes.methods_of_literal(request.match_info().as_str())
        && !methods.contains(&method)
    {
        return Ok(Decision::WrongMethod(methods));
    }
    let operation = request
        .match_pattern()
        .filter(|template| template_matches(template, request.match_info().as_str()))
        .and_then(|template| routes.operation(method, &template));
    let checked = match operation {
        None => Err(access::unlisted(&format!("{method} {}", request.path()))),
        Some(operation) => match &operation.policy {
            None => Err(access::unlisted(&operation.id)),
            Some(policy) => policy.check(caller.role, &operation.id),
        },
    };
    if let Err(denied) = checked {
        return Ok(Decision::Denied(denied.0));
    }
    // One rule for every operation, writes included: a query parameter it does not take
    // is a 400, never ignored.
    let unknown =
        operation.and_then(|operation| operation.unknown_parameter(request.query_string()));
    Ok(match unknown {
        Some(name) => Decision::Malformed(format!(
            "unknown query parameter `{name}`: this operation takes {}",
            operation
                .map(|operation| operation.query.join(", "))
                .filter(|names| !names.is_empty())
                .unwrap_or_else(|| "none".to_owned())
        )),
        None => Decision::Allowed(caller),
    })
}

/// Query parameter names that would carry a credential.
const TOKEN_PARAMETERS: &[&str] = &[
    "access_token",
    "token",
    "api_key",
    "apikey",
    "key",
    "authorization",
    "bearer",
];

/// Whether the query string carries a credential, under any name or escaping: a
/// parameter named like one, a `Bearer` credential, or a token anywhere in the raw
/// string or in a decoded name or value.
fn query_carries_credential(query: &str) -> bool {
    token::contained_in(query)
        || url::form_urlencoded::parse(query.as_bytes()).any(|(name, value)| {
            let value = value.trim();
            TOKEN_PARAMETERS.contains(&name.to_ascii_lowercase().as_str())
                || token::contained_in(&name)
                || token::contained_in(value)
                || crate::oidc::looks_like_jwt(&name)
                || crate::oidc::looks_like_jwt(value)
                || value
                    .get(..7)
                    .is_some_and(|scheme| scheme.eq_ignore_ascii_case("bearer "))
        })
}

/// The token of `Authorization: Bearer <token>`; the scheme's name is case-insensitive
/// (RFC 9110 §11.1) and one or more spaces may follow it.
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim_start_matches(' '))
}

fn bearer(request: &ServiceRequest) -> Result<String, ApiError> {
    if query_carries_credential(request.query_string()) {
        return Err(ApiError::Unauthorized(
            "tokens are accepted only in the Authorization header, never in the URL".into(),
        ));
    }
    if request.headers().get_all(header::AUTHORIZATION).count() > 1 {
        return Err(ApiError::Unauthorized(
            "send one Authorization header, not several".into(),
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
    let token = bearer_token(value).ok_or_else(|| {
        ApiError::Unauthorized("the Authorization header must be `Bearer <token>`".into())
    })?;
    if token::well_formed(token) || crate::oidc::looks_like_jwt(token) {
        Ok(token.to_owned())
    } else {
        Err(ApiError::Unauthorized("the token is malformed".into()))
    }
}

/// Who calls: the key of an API key token, or the person of an OpenID Connect token.
async fn resolve(request: &ServiceRequest) -> Result<Caller, ApiError> {
    let token = bearer(request)?;
    let who = if crate::oidc::looks_like_jwt(&token) {
        signed_in(request, &token).await?
    } else {
        keyed(request, &token).await?
    };
    Ok(Caller {
        key_id: who.key_id,
        account: who.account,
        person: who.person,
        role: who.role,
        district_id: who.district_id,
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

/// What a credential says of its caller.
struct Who {
    key_id: Option<ApiKeyId>,
    role: Role,
    district_id: Option<DistrictId>,
    account: Option<std::sync::Arc<ActorAccount>>,
    person: Option<Person>,
}

impl Who {
    /// A person acting as `account`, if the account may act now; the account's role and
    /// district are the caller's.
    fn acting_as(
        key_id: Option<ApiKeyId>,
        account: &crate::db::accounts::Account,
        by: Authentication,
        issuer: Option<String>,
    ) -> Result<Self, ApiError> {
        if account.deleted_at.is_some() || account.status != AccountStatus::Active {
            return Err(ApiError::Unauthorized("the account is disabled".into()));
        }
        let person = account.person();
        if account.role.is_person() && person.is_none() {
            return Err(ApiError::Unauthorized(
                "the account does not say what it acts for".into(),
            ));
        }
        Ok(Self {
            key_id,
            role: account.role,
            district_id: account.district_id,
            account: Some(std::sync::Arc::new(account.actor(by, issuer))),
            person,
        })
    }
}

/// The person an OpenID Connect token signs in: the account linked to its issuer and
/// subject.
async fn signed_in(request: &ServiceRequest, token: &str) -> Result<Who, ApiError> {
    let verifier = request
        .app_data::<web::Data<crate::oidc::Verifier>>()
        .filter(|verifier| verifier.is_enabled())
        .ok_or_else(|| {
            ApiError::Unauthorized(
                "OpenID Connect tokens are not accepted: no issuer is configured".into(),
            )
        })?;
    let verified = verifier
        .verify(token)
        .await
        .map_err(|refusal| match refusal {
            crate::oidc::Refusal::Invalid(why) => ApiError::Unauthorized(why),
            crate::oidc::Refusal::IssuerUnreachable(why) => ApiError::IssuerUnavailable(why),
        })?;
    let unknown = || {
        ApiError::UnknownSubject(
            "the token is valid, but no account here is linked to its subject: an \
             administrator or the district's clerk links it \
             (PUT /api/v1/accounts/{id}/identities)"
                .into(),
        )
    };
    // A subject no identity can hold (a NUL, a character beyond printable ASCII, over 255
    // bytes) is linked to nobody: answered without asking the database.
    if !crate::domain::account::identity_text(&verified.subject) {
        return Err(unknown());
    }
    let cache = request.app_data::<web::Data<KeyCache>>();
    let account = match cache.and_then(|cache| cache.person(&verified.issuer, &verified.subject)) {
        Some(account) => account,
        None => {
            let pool = request
                .app_data::<web::Data<DbPool>>()
                .ok_or_else(|| ApiError::Internal("no database pool".into()))?;
            let seen = cache.map(|cache| cache.generation());
            let mut conn = crate::db::connection(pool).await?;
            let account =
                crate::db::accounts::by_identity(&mut conn, &verified.issuer, &verified.subject)
                    .await?
                    .ok_or_else(unknown)?;
            if let (Some(cache), Some(seen)) = (cache, seen) {
                cache.put_person(&verified.issuer, &verified.subject, account.clone(), seen);
            }
            account
        }
    };
    Who::acting_as(
        None,
        &account,
        Authentication::OpenidConnect,
        Some(verified.issuer),
    )
}

/// The API key of a token, checked (known, not revoked, not expired), and the account of
/// a personal key.
async fn keyed(request: &ServiceRequest, token: &str) -> Result<Who, ApiError> {
    let pool = request
        .app_data::<web::Data<DbPool>>()
        .ok_or_else(|| ApiError::Internal("no database pool".into()))?;
    let cache = request.app_data::<web::Data<KeyCache>>();
    let hash = token::hash(token);
    let mut conn = None;
    let credential = match cache.and_then(|cache| cache.get(&hash)) {
        Some(credential) => credential,
        None => {
            let seen = cache.map(|cache| cache.generation());
            let conn = conn.insert(crate::db::connection(pool).await?);
            let credential = verified(conn, &hash).await?;
            if let (Some(cache), Some(seen)) = (cache, seen) {
                cache.put(hash.clone(), credential.clone(), seen);
            }
            credential
        }
    };
    let key = &credential.key;
    if !key.is_active(Utc::now()) {
        return Err(ApiError::Unauthorized("the key has expired".into()));
    }
    // A personal key acts as its account, with the account's role and district, and only
    // while the account may act.
    let who = match &credential.account {
        Some(account) => Who::acting_as(Some(key.id), account, Authentication::PersonalKey, None)?,
        None if key.role.is_person() => {
            return Err(ApiError::Unauthorized(
                "a person's key must belong to an account".into(),
            ));
        }
        None => Who {
            key_id: Some(key.id),
            role: key.role,
            district_id: key.district_id,
            account: None,
            person: None,
        },
    };
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
    Ok(who)
}

/// The key with this token hash and its account, checked against the database: known
/// and not revoked.
async fn verified(conn: &mut crate::db::DbConn, hash: &[u8]) -> Result<Credential, ApiError> {
    let Some((credential, stored)) = crate::db::keys::find_by_hash(conn, hash).await? else {
        return Err(ApiError::Unauthorized("the token is not known".into()));
    };
    if !token::same_hash(hash, &stored) {
        return Err(ApiError::Unauthorized("the token is not known".into()));
    }
    if credential.key.revoked_at.is_some() {
        return Err(ApiError::Unauthorized("the key was revoked".into()));
    }
    Ok(credential)
}

/// A refused credential, counted by the throttle: 429 once its address has had it
/// refused too often ([`Throttle`]). A request with no credential is not a guess and is
/// told it needs one (401); a valid credential never reaches this.
fn held_back(request: &ServiceRequest, error: ApiError) -> ApiError {
    let (Some(throttle), Some(credential), ApiError::Unauthorized(_)) = (
        request.app_data::<web::Data<Throttle>>(),
        request.headers().get(header::AUTHORIZATION),
        &error,
    ) else {
        return error;
    };
    let peer = request
        .peer_addr()
        .map_or(IpAddr::from([0, 0, 0, 0]), |address| address.ip());
    let address = request
        .app_data::<web::Data<TrustedProxies>>()
        .map_or(peer, |proxies| proxies.client(peer, request.headers()));
    // Counted as the credential it carries, however the header spells it: the scheme's
    // case and the white space around and within are folded (`bearer  T`, `BEARER\tT` and
    // `Bearer T` are one credential), the credential itself kept as sent.
    let credential = credential.to_str().map_or_else(
        |_| credential.as_bytes().to_vec(),
        |value| {
            let mut words = value.split_whitespace();
            let scheme = words.next().unwrap_or_default().to_ascii_lowercase();
            let rest: Vec<&str> = words.collect();
            format!("{scheme} {}", rest.join(" ")).into_bytes()
        },
    );
    match throttle.refused(address, &credential) {
        Ok(()) => error,
        Err(wait) => ApiError::TooManyRequests {
            retry_after: wait.as_secs().max(1),
        },
    }
}

/// Authenticates the request and applies the access policy; on success the [`Caller`]
/// is available to the handler.
pub async fn authenticate(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let caller = match resolve(&request).await {
        Ok(caller) => caller,
        Err(error) => {
            let error = held_back(&request, error);
            return Ok(request.error_response(error).map_into_right_body());
        }
    };
    request.extensions_mut().insert(Authenticated(caller));
    let response = next.call(request).await?;
    // Every argument of a handler is extracted before any is awaited, so a handler that
    // takes the caller or the database has its route's decision made whatever else it
    // failed on; a refusal is the answer, before any complaint about the request.
    let decision = response.request().extensions().get::<Decision>().cloned();
    let error = match decision.map(Decision::into_result) {
        Some(Ok(_)) => return Ok(response.map_into_left_body()),
        // Refused by its route (its policy, a query parameter the operation does not
        // take, a method the path does not take), whatever the handler answered.
        Some(Err(error)) => error,
        // No route took the request (a 404 or 405), or a middleware answered it before
        // routing (an idempotent replay of this key's own answer): it stands.
        None if response.request().extensions().get::<Unrouted>().is_some() => {
            return Ok(response.map_into_left_body());
        }
        // A handler that took neither the caller nor the database answered without its
        // route's policy: its answer is withheld (and the role matrix test fails on it).
        None => {
            tracing::error!(
                path = %response.request().path(),
                "a route answered without applying its access policy"
            );
            ApiError::Internal("a route answered without its access policy".into())
        }
    };
    let (request, _) = response.into_parts();
    let response = actix_web::ResponseError::error_response(&error);
    Ok(ServiceResponse::new(request, response).map_into_right_body())
}

#[cfg(test)]
mod tests {
    use actix_web::dev::Service;
    use actix_web::http::StatusCode;
    use actix_web::{App, HttpResponse, get, post};
    use utoipa_actix_web::AppExt;

    use super::*;
    use crate::api::policy::admin;
    use crate::domain::access::DistrictOf;

    /// Guarded: administrators only.
    #[utoipa::path(responses((status = 200, description = "ok")))]
    #[post("/guarded")]
    async fn guarded(_caller: Caller) -> HttpResponse {
        HttpResponse::Ok().finish()
    }

    /// Registered without a policy.
    #[utoipa::path(responses((status = 200, description = "ok")))]
    #[get("/unguarded/{id}")]
    async fn unguarded(_caller: Caller) -> HttpResponse {
        HttpResponse::Ok().finish()
    }

    /// The status of a request to an app with the two routes above, authenticated as
    /// `role`.
    async fn status(role: Role, method: &str, path: &str) -> StatusCode {
        let routes = |app: utoipa_actix_web::UtoipaApp<_>| {
            app.service(
                utoipa_actix_web::scope("/api/v1")
                    .service(admin(DistrictOf::Nothing, guarded))
                    .service(unguarded),
            )
        };
        let (_, document) = routes(App::new().into_utoipa_app()).split_for_parts();
        let table = web::Data::new(RouteTable::from_document(&document));
        let (app, _) = routes(App::new().into_utoipa_app().app_data(table)).split_for_parts();
        let app = app.wrap(actix_web::middleware::from_fn(
            move |request: ServiceRequest, next: Next<_>| async move {
                request.extensions_mut().insert(Authenticated(Caller {
                    key_id: Some(ApiKeyId::generate()),
                    account: None,
                    person: None,
                    role,
                    district_id: None,
                    request_id: None,
                    idempotency_key: None,
                }));
                next.call(request).await
            },
        ));
        let app = actix_web::test::init_service(app).await;
        let request = actix_web::test::TestRequest::default()
            .method(method.parse().unwrap())
            .uri(path)
            .to_request();
        match app.call(request).await {
            Ok(response) => response.status(),
            Err(error) => error.as_response_error().status_code(),
        }
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        for value in [
            "Bearer abc",
            "bearer abc",
            "BEARER abc",
            "bEaReR abc",
            "Bearer   abc",
        ] {
            assert_eq!(bearer_token(value), Some("abc"), "{value}");
        }
        for value in ["Basic abc", "Bearerabc", "Bearer", "Token abc"] {
            assert_eq!(bearer_token(value), None, "{value}");
        }
    }

    #[test]
    fn a_credential_in_the_query_is_found_whatever_its_name_or_escaping() {
        let (token, _) = token::generate().unwrap();
        let escaped: String = token.bytes().map(|byte| format!("%{byte:02x}")).collect();
        for query in [
            format!("access_token={token}"),
            "ACCESS%5FTOKEN=x".to_owned(),
            format!("district_id={token}"),
            format!("q={escaped}"),
            format!("limit=5&cursor={token}"),
            "q=Bearer%20abc".to_owned(),
            "q=bearer+abc".to_owned(),
            "Authorization=x".to_owned(),
            token.clone(),
            format!("x=1;token={token}"),
            format!("x={token},"),
            format!("x=prefix{token}"),
            format!("x=Bearer:{escaped}"),
        ] {
            assert!(query_carries_credential(&query), "{query}");
        }
        for query in ["district_id=5&q=王", "q=bearer", "limit=10"] {
            assert!(!query_carries_credential(query), "{query}");
        }
    }

    #[actix_web::test]
    async fn a_route_without_a_policy_is_refused_to_every_role() {
        for role in Role::ALL {
            assert_eq!(
                status(*role, "GET", "/api/v1/unguarded/1").await,
                StatusCode::FORBIDDEN,
                "{role:?}"
            );
        }
    }

    #[actix_web::test]
    async fn the_policy_of_the_matched_route_decides_whatever_the_escapes() {
        for path in [
            "/api/v1/guarded",
            "/api/v1/%67uarded",
            "/api/v1/gu%61rded",
            "/api/v1/guarde%64",
            "/%61pi/v1/guarded",
        ] {
            assert_eq!(
                status(Role::Admin, "POST", path).await,
                StatusCode::OK,
                "{path}"
            );
            for role in [Role::Clerk, Role::Sync, Role::Auditor] {
                assert_eq!(
                    status(role, "POST", path).await,
                    StatusCode::FORBIDDEN,
                    "{role:?} {path}"
                );
            }
        }
    }
}
