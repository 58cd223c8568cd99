//! Stored answers to POST requests sent with an `Idempotency-Key`.

use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::Value;

use crate::db::schema::idempotency_keys;
use crate::domain::ids::ApiKeyId;

/// How long an answer is kept.
pub const KEPT_HOURS: i32 = 24;

/// A stored answer.
#[derive(Debug, Clone)]
pub struct Stored {
    pub status: u16,
    /// Header name and value pairs.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// What a key holds when a request claims it.
#[derive(Debug)]
pub enum Claim {
    /// The key is new (or its answer expired): this request runs.
    Fresh,
    /// The first request with this key is still running.
    Running,
    /// The key was used with another request.
    Mismatch,
    /// The first request's answer.
    Done(Stored),
}

#[derive(Queryable)]
struct Row {
    request_hash: Vec<u8>,
    status: Option<i16>,
    headers: Option<Value>,
    body: Option<Vec<u8>>,
}

/// Claims `key` of `api_key` for a request whose hash is `hash`.
#[tracing::instrument(skip_all)]
pub async fn claim(
    conn: &mut AsyncPgConnection,
    api_key: ApiKeyId,
    key: &str,
    hash: &[u8],
) -> QueryResult<Claim> {
    let key = key.to_owned();
    let hash = hash.to_vec();
    conn.transaction(async move |conn| {
        diesel::delete(
            idempotency_keys::table
                .filter(idempotency_keys::api_key_id.eq(api_key))
                .filter(idempotency_keys::key.eq(&key))
                .filter(idempotency_keys::created_at.lt(expiry())),
        )
        .execute(conn)
        .await?;
        let inserted = diesel::insert_into(idempotency_keys::table)
            .values((
                idempotency_keys::api_key_id.eq(api_key),
                idempotency_keys::key.eq(&key),
                idempotency_keys::request_hash.eq(&hash),
            ))
            .on_conflict_do_nothing()
            .execute(conn)
            .await?;
        if inserted == 1 {
            return Ok(Claim::Fresh);
        }
        let row: Row = idempotency_keys::table
            .select((
                idempotency_keys::request_hash,
                idempotency_keys::status,
                idempotency_keys::headers,
                idempotency_keys::body,
            ))
            .filter(idempotency_keys::api_key_id.eq(api_key))
            .filter(idempotency_keys::key.eq(&key))
            .first(conn)
            .await?;
        Ok(if row.request_hash != hash {
            Claim::Mismatch
        } else {
            match row.status {
                None => Claim::Running,
                Some(status) => Claim::Done(Stored {
                    status: u16::try_from(status).unwrap_or(500),
                    headers: row
                        .headers
                        .and_then(|headers| serde_json::from_value(headers).ok())
                        .unwrap_or_default(),
                    body: row.body.unwrap_or_default(),
                }),
            }
        })
    })
    .await
}

fn expiry() -> diesel::expression::SqlLiteral<diesel::sql_types::Timestamptz> {
    diesel::dsl::sql(&format!("now() - interval '{KEPT_HOURS} hours'"))
}

/// Stores the answer of the request that claimed `key`.
#[tracing::instrument(skip_all)]
pub async fn complete(
    conn: &mut AsyncPgConnection,
    api_key: ApiKeyId,
    key: &str,
    answer: &Stored,
) -> QueryResult<()> {
    let status = i16::try_from(answer.status).unwrap_or(500);
    let headers = serde_json::to_value(&answer.headers).unwrap_or(Value::Null);
    diesel::update(idempotency_keys::table.find((api_key, key)))
        .set((
            idempotency_keys::status.eq(status),
            idempotency_keys::headers.eq(headers),
            idempotency_keys::body.eq(&answer.body),
            idempotency_keys::completed_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// Gives `key` back: its request changed nothing and may be sent again.
#[tracing::instrument(skip_all)]
pub async fn release(
    conn: &mut AsyncPgConnection,
    api_key: ApiKeyId,
    key: &str,
) -> QueryResult<()> {
    diesel::delete(idempotency_keys::table.find((api_key, key)))
        .execute(conn)
        .await
        .map(drop)
}

/// Removes a batch of expired answers.
#[tracing::instrument(skip_all)]
pub async fn purge(conn: &mut AsyncPgConnection) -> QueryResult<usize> {
    diesel::sql_query(format!(
        "DELETE FROM idempotency_keys WHERE ctid IN (SELECT ctid FROM idempotency_keys \
         WHERE created_at < now() - interval '{KEPT_HOURS} hours' LIMIT 100)"
    ))
    .execute(conn)
    .await
}
