//! Stored answers to POST requests sent with an `Idempotency-Key`. Every query here runs
//! in the transaction of the request the key protects.

use std::sync::atomic::{AtomicU32, Ordering};

use diesel::prelude::*;
use diesel::sql_types::BigInt;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::Value;
use sha2::{Digest, Sha256};

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

/// The answer a key holds, with what its first request was.
#[derive(Debug)]
pub struct Kept {
    pub answer: Stored,
    pub request_hash: Vec<u8>,
    /// The length of the first request's body, when known.
    pub request_bytes: Option<usize>,
}

/// What a key holds when a request claims it.
#[derive(Debug)]
pub enum Claim {
    /// No answer: this request runs, and holds the key until its transaction ends.
    Fresh,
    /// Another request with this key is running: its transaction holds the key.
    Running,
    /// The answer of the first request with this key.
    Answered(Kept),
}

#[derive(Queryable)]
struct Row {
    request_hash: Vec<u8>,
    status: i16,
    headers: Value,
    body: Vec<u8>,
    request_bytes: Option<i64>,
}

diesel::define_sql_function! {
    /// Takes a transaction-level advisory lock if no other transaction holds it.
    fn pg_try_advisory_xact_lock(key: BigInt) -> Bool;
}

/// The advisory lock of `key` of `api_key`: 64 bits of a hash of both, prefixed so no
/// other use of advisory locks could share it.
fn lock_key(api_key: ApiKeyId, key: &str) -> i64 {
    let digest = Sha256::new()
        .chain_update(b"idempotency-key\0")
        .chain_update(api_key.0.as_bytes())
        .chain_update(key.as_bytes())
        .finalize();
    let mut bytes = [0; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

/// Claims `key` of `api_key` in the open transaction of `conn`: the lock taken here is
/// held until that transaction ends, however it ends (a lost connection included).
#[tracing::instrument(skip_all)]
pub async fn claim(
    conn: &mut AsyncPgConnection,
    api_key: ApiKeyId,
    key: &str,
) -> QueryResult<Claim> {
    let locked: bool = diesel::select(pg_try_advisory_xact_lock(lock_key(api_key, key)))
        .get_result(conn)
        .await?;
    if !locked {
        return Ok(Claim::Running);
    }
    let row: Option<Row> = idempotency_keys::table
        .select((
            idempotency_keys::request_hash,
            idempotency_keys::status,
            idempotency_keys::headers,
            idempotency_keys::body,
            idempotency_keys::request_bytes,
        ))
        .filter(idempotency_keys::api_key_id.eq(api_key))
        .filter(idempotency_keys::key.eq(key))
        .filter(idempotency_keys::created_at.ge(expiry()))
        .first(conn)
        .await
        .optional()?;
    Ok(match row {
        None => Claim::Fresh,
        Some(row) => Claim::Answered(Kept {
            answer: Stored {
                status: u16::try_from(row.status).unwrap_or(500),
                headers: serde_json::from_value(row.headers).unwrap_or_default(),
                body: row.body,
            },
            request_hash: row.request_hash,
            request_bytes: row
                .request_bytes
                .and_then(|bytes| usize::try_from(bytes).ok()),
        }),
    })
}

fn expiry() -> diesel::expression::SqlLiteral<diesel::sql_types::Timestamptz> {
    diesel::dsl::sql(&format!("now() - interval '{KEPT_HOURS} hours'"))
}

/// Stores the answer of the request holding `key`, in that request's transaction (over an
/// expired answer of the same key, if one is left).
#[tracing::instrument(skip_all)]
pub async fn store(
    conn: &mut AsyncPgConnection,
    api_key: ApiKeyId,
    key: &str,
    request_hash: &[u8],
    request_bytes: usize,
    answer: &Stored,
) -> QueryResult<()> {
    purge_now_and_then(conn).await?;
    let status = i16::try_from(answer.status).unwrap_or(500);
    let headers = serde_json::to_value(&answer.headers).unwrap_or(Value::Null);
    let bytes = i64::try_from(request_bytes).unwrap_or(i64::MAX);
    let values = (
        idempotency_keys::api_key_id.eq(api_key),
        idempotency_keys::key.eq(key),
        idempotency_keys::request_hash.eq(request_hash),
        idempotency_keys::status.eq(status),
        idempotency_keys::headers.eq(&headers),
        idempotency_keys::body.eq(&answer.body),
        idempotency_keys::request_bytes.eq(bytes),
        idempotency_keys::created_at.eq(diesel::dsl::now),
    );
    diesel::insert_into(idempotency_keys::table)
        .values(values)
        .on_conflict((idempotency_keys::api_key_id, idempotency_keys::key))
        .do_update()
        .set((
            idempotency_keys::request_hash.eq(request_hash),
            idempotency_keys::status.eq(status),
            idempotency_keys::headers.eq(&headers),
            idempotency_keys::body.eq(&answer.body),
            idempotency_keys::request_bytes.eq(bytes),
            idempotency_keys::created_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// Every this many stored answers, a batch of expired ones is removed.
const PURGE_EVERY: u32 = 64;
static STORED: AtomicU32 = AtomicU32::new(0);

/// Removes a batch of expired answers every [`PURGE_EVERY`] answers stored, skipping any
/// another transaction is removing; in a savepoint of its own, so its failure never
/// touches the write it rides along with.
async fn purge_now_and_then(conn: &mut AsyncPgConnection) -> QueryResult<()> {
    if !STORED
        .fetch_add(1, Ordering::Relaxed)
        .is_multiple_of(PURGE_EVERY)
    {
        return Ok(());
    }
    let purged = conn
        .transaction(async |conn| {
            diesel::sql_query(format!(
                "DELETE FROM idempotency_keys WHERE ctid IN (SELECT ctid FROM idempotency_keys \
                 WHERE created_at < now() - interval '{KEPT_HOURS} hours' LIMIT 100 \
                 FOR UPDATE SKIP LOCKED)"
            ))
            .execute(conn)
            .await
        })
        .await;
    if let Err(error) = purged {
        tracing::warn!(%error, "expired idempotency keys were not purged");
    }
    Ok(())
}
