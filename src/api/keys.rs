//! `/api/v1/keys`: API keys, for administrators. A token is shown once, when its key is
//! created.

use crate::domain::kinds::Entity;
use crate::domain::values::{KeyLifetime, Line};
use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Duration, Utc};
use diesel_async::AsyncPgConnection;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::api::policy::admin;

use crate::api::auth::Caller;
use crate::api::input::{Checks, Field};
use crate::api::work::{Db, Write};
use crate::db::accounts::Account;
use crate::db::audit::{self as trail, Actor, Change};
use crate::db::keys::{self as db, ApiKey, NewApiKey};
use crate::domain::access::ADMINS;
use crate::domain::access::Scope;
use crate::domain::account::AccountStatus;
use crate::domain::ids::{AccountId, ApiKeyId, DistrictId};
use crate::domain::kinds::Role;
use crate::domain::token;
use crate::error::{ApiError, not_found_as};
use crate::key_cache::KeyCache;

pub fn configure(config: &mut ServiceConfig) {
    use crate::domain::access::DistrictOf::*;
    config.service(
        utoipa_actix_web::scope("/keys")
            .service(admin(Nothing, list_keys))
            .service(admin(Body, create_key))
            .service(admin(Nothing, revoke_key)),
    );
}

/// An API key (its token is never shown again after creation).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ApiKey)]
pub struct ApiKeyView {
    pub id: ApiKeyId,
    pub name: String,
    pub role: Role,
    /// The key's district (clerk and sync keys only).
    pub district_id: Option<DistrictId>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// The account of a personal key: the key acts as that person, with the account's
    /// role and district. `null` for machine keys.
    pub account_id: Option<AccountId>,
}

impl From<ApiKey> for ApiKeyView {
    fn from(key: ApiKey) -> Self {
        Self {
            id: key.id,
            name: key.name,
            role: key.role,
            district_id: key.district_id,
            created_at: key.created_at,
            last_used_at: key.last_used_at,
            expires_at: key.expires_at,
            revoked_at: key.revoked_at,
            account_id: key.account_id,
        }
    }
}

/// A new key with its token: the only time the token is shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub key: ApiKeyView,
    /// The bearer token. Store it now: only its hash is kept.
    pub token: String,
}

/// All keys (there are few; not paged).
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeys {
    pub items: Vec<ApiKeyView>,
}

/// A new API key.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    /// Who or what uses it.
    #[serde(default)]
    #[schema(value_type = Line<100>, required = true, example = "西城区政协办公室")]
    pub name: Field<Line<100>>,
    /// Required for a machine key (`admin`, `clerk`, `sync`, `auditor`); a personal
    /// key's role is its account's (if given, it must be the account's).
    #[serde(default)]
    #[schema(value_type = Role)]
    pub role: Field<Role>,
    /// Required for `clerk` and `sync` machine keys, refused for the others; a personal
    /// key's district is its account's.
    #[serde(default)]
    #[schema(value_type = Option<DistrictId>)]
    pub district_id: Field<DistrictId>,
    /// Makes a personal key: it acts as this account (a live, active one).
    #[serde(default)]
    #[schema(value_type = Option<AccountId>)]
    pub account_id: Field<AccountId>,
    /// Lifetime in days; none means no expiry.
    #[serde(default)]
    #[schema(value_type = Option<KeyLifetime>)]
    pub expires_in_days: Field<KeyLifetime>,
}

/// What a new key is: checked fields, before its token exists.
#[derive(Debug, Clone)]
pub struct KeySpec {
    pub name: String,
    pub role: Role,
    pub district_id: Option<DistrictId>,
    pub expires_at: Option<DateTime<Utc>>,
    pub account_id: Option<AccountId>,
}

impl KeySpec {
    /// Checks a key's fields; `district_exists` says whether the district is live, and
    /// `account` is the live account `account_id` names, if it does.
    pub fn check(
        key: NewKey,
        district_exists: Option<bool>,
        account: Option<&Account>,
    ) -> Result<Self, ApiError> {
        let NewKey {
            name,
            role,
            district_id,
            account_id,
            expires_in_days,
        } = key;
        let mut checks = Checks::default();
        let name = checks.required("/name", name, None, |v| Ok(v.into()));
        let days = checks.optional("/expires_in_days", expires_in_days, None, |v| Ok(v.into()));
        let account_id = checks.optional("/account_id", account_id, None, Ok);
        if account_id.is_some() {
            return Self::personal(checks, name, role, district_id, account, days);
        }
        // The document leaves `role` out of a personal key's body: a machine key's is a
        // rule between the fields.
        let role = match role {
            Field::Missing | Field::Null => {
                checks.rule(
                    "/role",
                    "is required for a machine key (one made without account_id)",
                );
                None
            }
            role => checks.required("/role", role, None, Ok),
        };
        let district_id = checks.optional("/district_id", district_id, None, Ok);
        if role.is_some_and(Role::is_person) {
            checks.rule(
                "/role",
                "is a person's role: a key of a member, unit or leaders' office is a \
                 personal key, made with `account_id`",
            );
        }
        match (role, district_id) {
            (Some(role), None) if role.is_district_scoped() => {
                checks.rule("/district_id", "is required for clerk and sync keys");
            }
            (Some(role), Some(_)) if !role.is_district_scoped() => {
                checks.rule("/district_id", "is only for clerk and sync keys");
            }
            (_, Some(_)) if district_exists == Some(false) => {
                checks.unknown("/district_id", "no such district");
            }
            _ => {}
        }
        let expires_at = days.map(|days: i32| Utc::now() + Duration::days(i64::from(days)));
        checks.finish((|| {
            Some(Self {
                name: name?,
                role: role?,
                district_id,
                expires_at,
                account_id: None,
            })
        })())
    }

    /// A personal key of `account`: its role and district are the account's.
    fn personal(
        mut checks: Checks,
        name: Option<String>,
        role: Field<Role>,
        district_id: Field<DistrictId>,
        account: Option<&Account>,
        days: Option<i32>,
    ) -> Result<Self, ApiError> {
        let Some(account) = account else {
            checks.unknown("/account_id", "no such account");
            return checks.finish(None);
        };
        if account.status != AccountStatus::Active {
            checks.rule("/account_id", "the account is disabled");
        }
        if let Some(role) = checks.optional("/role", role, None, Ok)
            && role != account.role
        {
            checks.rule(
                "/role",
                format!(
                    "must be the account's role ({}), or left out",
                    account.role.as_str()
                ),
            );
        }
        if !matches!(district_id, Field::Missing) {
            checks.rule(
                "/district_id",
                "a personal key's district is its account's: leave it out",
            );
        }
        let expires_at = days.map(|days: i32| Utc::now() + Duration::days(i64::from(days)));
        checks.finish(name.map(|name| Self {
            name,
            role: account.role,
            district_id: account.district_id,
            expires_at,
            account_id: Some(account.id),
        }))
    }
}

/// Creates a key, audited as `actor`; returns it with its token.
pub async fn issue(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    spec: KeySpec,
) -> Result<(ApiKey, String), ApiError> {
    let (token, hash) = token::generate()
        .map_err(|error| ApiError::Internal(format!("no randomness for a token: {error}")))?;
    let actor = actor.clone();
    conn.write(async move |conn| {
        let key = db::insert(
            conn,
            NewApiKey {
                id: ApiKeyId::generate(),
                name: spec.name,
                role: spec.role,
                district_id: spec.district_id,
                token_hash: hash,
                expires_at: spec.expires_at,
                account_id: spec.account_id,
            },
        )
        .await?;
        let change = Change::new("create_key", Entity::ApiKey, key.id, key.district_id)
            .after(&ApiKeyView::from(key.clone()));
        trail::append(conn, &actor, change).await?;
        Ok::<_, ApiError>((key, token))
    })
    .await
}

/// Revokes a key, audited as `actor`.
pub async fn withdraw(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: ApiKeyId,
) -> Result<ApiKey, ApiError> {
    let actor = actor.clone();
    conn.write(async move |conn| {
        let before = db::find(conn, id).await.map_err(not_found_as("key"))?;
        let key = db::revoke(conn, id).await?;
        if before.revoked_at.is_none() {
            let change = Change::new("revoke_key", Entity::ApiKey, key.id, key.district_id)
                .before(&ApiKeyView::from(before))
                .after(&ApiKeyView::from(key.clone()));
            trail::append(conn, &actor, change).await?;
        }
        Ok::<_, ApiError>(key)
    })
    .await
}

/// List API keys.
#[utoipa::path(tag = "keys", responses((status = 200, description = "Every key", body = ApiKeys)))]
#[get("")]
async fn list_keys(caller: Caller, pool: Db) -> Result<web::Json<ApiKeys>, ApiError> {
    caller.require(ADMINS, "listing keys")?;
    let mut conn = pool.conn().await?;
    let keys = db::list(&mut conn).await?;
    Ok(web::Json(ApiKeys {
        items: keys.into_iter().map(ApiKeyView::from).collect(),
    }))
}

/// Create an API key; the answer holds its token, shown this once.
#[utoipa::path(
    tag = "keys",
    request_body = NewKey,
    responses(
        (status = 201, description = "The new key and its token", body = CreatedApiKey,
            headers(("Location" = String, description = "The key's URL"))),
        (status = 409, description = "A request with this Idempotency-Key is still running; \
            or this is a retry of a creation sent with it: the key exists (its URL in \
            `Location`), and its token, shown once, is not kept to be shown again",
            body = crate::error::Problem, content_type = "application/problem+json",
            headers(("Location" = String, description = "The key's URL"))),
    ),
)]
#[post("")]
async fn create_key(
    caller: Caller,
    pool: Db,
    body: crate::api::http::Json<NewKey>,
) -> Result<HttpResponse, ApiError> {
    caller.require(ADMINS, "creating keys")?;
    let body = body.into_inner();
    let mut conn = pool.conn().await?;
    let district_exists = match &body.district_id {
        Field::Value(id) => Some(
            crate::db::districts::find_for_reference(&conn, *id)
                .await?
                .is_some(),
        ),
        _ => None,
    };
    let account = match &body.account_id {
        Field::Value(id) => crate::db::accounts::find(&conn, *id, Scope::All).await.ok(),
        _ => None,
    };
    let spec = KeySpec::check(body, district_exists, account.as_ref())?;
    let (key, token) = issue(&mut conn, &caller.actor(), spec).await?;
    let location = format!("/api/v1/keys/{}", key.id);
    // A retry with the request's Idempotency-Key is told the key exists, never its token:
    // only the token's hash is kept, there as everywhere.
    let mut retry = actix_web::ResponseError::error_response(&ApiError::conflict(format!(
        "this request created the key {} before; its token was shown once and is not kept. \
         Revoke the key if the token was lost, and create another",
        key.id
    )));
    retry.headers_mut().insert(
        actix_web::http::header::LOCATION,
        actix_web::http::header::HeaderValue::from_str(&location)
            .map_err(|error| ApiError::Internal(format!("a key's URL: {error}")))?,
    );
    let mut answer = HttpResponse::Created()
        .insert_header((actix_web::http::header::LOCATION, location))
        .json(CreatedApiKey {
            key: key.into(),
            token,
        });
    answer
        .extensions_mut()
        .insert(crate::api::idempotency::KeptInstead::new(retry));
    Ok(answer)
}

/// Revoke an API key: it stops working at once. Revoking twice is harmless. A key cannot
/// revoke itself (409), so an administrator cannot lock themselves out by mistake; another
/// admin key, or `keys revoke` on the command line, can.
#[utoipa::path(
    tag = "keys",
    params(("id" = ApiKeyId, Path, description = "The key's id")),
    responses(
        (status = 200, description = "The revoked key", body = ApiKeyView),
        (status = 409, description = "The key is the one making the request",
            body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/{id}/revoke")]
async fn revoke_key(
    caller: Caller,
    pool: Db,
    cache: web::Data<KeyCache>,
    path: web::Path<ApiKeyId>,
) -> Result<web::Json<ApiKeyView>, ApiError> {
    caller.require(ADMINS, "revoking keys")?;
    let id = path.into_inner();
    if caller.key_id == Some(id) {
        return Err(ApiError::conflict(
            "a key cannot revoke itself; use another admin key or `keys revoke`",
        ));
    }
    let mut conn = pool.conn().await?;
    let key = withdraw(&mut conn, &caller.actor(), id).await?;
    // Once committed, no request answered after this one may be let in by a remembered
    // key.
    pool.after_commit(move || cache.forget_all());
    Ok(web::Json(key.into()))
}
