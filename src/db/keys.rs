//! Queries on API keys.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::accounts::Account;
use crate::db::schema::{accounts, api_keys};
use crate::domain::ids::{AccountId, ApiKeyId, DistrictId};
use crate::domain::kinds::Role;

/// An API key, without its token hash.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = api_keys, check_for_backend(diesel::pg::Pg))]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub name: String,
    pub role: Role,
    pub district_id: Option<DistrictId>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// The account of a personal key, which the key acts as; none for machine keys.
    pub account_id: Option<AccountId>,
}

/// A verified key and, for a personal key, the account it acts as, read with it.
#[derive(Debug, Clone)]
pub struct Credential {
    pub key: ApiKey,
    pub account: Option<Account>,
}

impl ApiKey {
    /// Whether the key may be used at `now`.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|expires| expires > now)
    }
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = api_keys)]
pub struct NewApiKey {
    pub id: ApiKeyId,
    pub name: String,
    pub role: Role,
    pub district_id: Option<DistrictId>,
    pub token_hash: Vec<u8>,
    pub expires_at: Option<DateTime<Utc>>,
    pub account_id: Option<AccountId>,
}

#[tracing::instrument(skip_all)]
pub async fn insert(conn: &mut AsyncPgConnection, key: NewApiKey) -> QueryResult<ApiKey> {
    diesel::insert_into(api_keys::table)
        .values(key)
        .returning(ApiKey::as_returning())
        .get_result(conn)
        .await
}

/// Whether any key can still be used (neither revoked nor expired): a new service has none.
#[tracing::instrument(skip_all)]
pub async fn any_usable(conn: &mut AsyncPgConnection) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        api_keys::table
            .filter(api_keys::revoked_at.is_null())
            .filter(
                api_keys::expires_at
                    .is_null()
                    .or(api_keys::expires_at.gt(diesel::dsl::now)),
            ),
    ))
    .get_result(conn)
    .await
}

#[tracing::instrument(skip_all)]
pub async fn list(conn: &mut AsyncPgConnection) -> QueryResult<Vec<ApiKey>> {
    api_keys::table
        .select(ApiKey::as_select())
        .order(api_keys::id)
        .load(conn)
        .await
}

#[tracing::instrument(skip_all)]
pub async fn find(conn: &mut AsyncPgConnection, id: ApiKeyId) -> QueryResult<ApiKey> {
    api_keys::table
        .select(ApiKey::as_select())
        .filter(api_keys::id.eq(id))
        .first(conn)
        .await
}

/// The key with this token hash with its account (a personal key's), and the stored hash
/// to compare in constant time.
#[tracing::instrument(skip_all)]
pub async fn find_by_hash(
    conn: &mut AsyncPgConnection,
    hash: &[u8],
) -> QueryResult<Option<(Credential, Vec<u8>)>> {
    let found: Option<(ApiKey, Vec<u8>, Option<Account>)> = api_keys::table
        .left_join(accounts::table)
        .select((
            ApiKey::as_select(),
            api_keys::token_hash,
            Option::<Account>::as_select(),
        ))
        .filter(api_keys::token_hash.eq(hash))
        .first(conn)
        .await
        .optional()?;
    Ok(found.map(|(key, stored, account)| (Credential { key, account }, stored)))
}

/// Revokes a key (once; revoking again keeps the first time).
#[tracing::instrument(skip_all)]
pub async fn revoke(conn: &mut AsyncPgConnection, id: ApiKeyId) -> QueryResult<ApiKey> {
    diesel::update(api_keys::table.find(id))
        .set(api_keys::revoked_at.eq(diesel::dsl::sql::<
            diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
        >("coalesce(revoked_at, now())")))
        .returning(ApiKey::as_returning())
        .get_result(conn)
        .await
}

/// Records that a key was used, at most once a minute per key.
#[tracing::instrument(skip_all)]
pub async fn mark_used(conn: &mut AsyncPgConnection, id: ApiKeyId) -> QueryResult<()> {
    diesel::update(api_keys::table.find(id))
        .filter(
            api_keys::last_used_at
                .is_null()
                .or(api_keys::last_used_at.lt(diesel::dsl::sql::<
                    diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
                >("now() - interval '1 minute'"))),
        )
        .set(api_keys::last_used_at.eq(diesel::dsl::now))
        .execute(conn)
        .await
        .map(drop)
}
