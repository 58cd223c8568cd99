//! Stored answers to POST requests sent with an `Idempotency-Key`. Every query here runs
//! in the transaction of the request the key protects.

use diesel::dsl::IntervalDsl;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::db::schema::idempotency_keys;

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
fn lock_key(api_key: uuid::Uuid, key: &str) -> i64 {
    let digest = Sha256::new()
        .chain_update(b"idempotency-key\0")
        .chain_update(api_key.as_bytes())
        .chain_update(key.as_bytes())
        .finalize();
    let mut bytes = [0; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

/// Claims `key` of `api_key` in the open transaction of `conn`: the lock taken here is
/// held until that transaction ends, however it ends (a lost connection included).
///
/// The lock and the look-up go to the server together (one round trip) and run in that
/// order: the look-up's snapshot is taken after the lock is held, so it sees the answer
/// of the last request that held it. A look-up made without the lock is not used.
#[tracing::instrument(skip_all)]
pub async fn claim(
    conn: &mut AsyncPgConnection,
    api_key: uuid::Uuid,
    key: &str,
) -> QueryResult<Claim> {
    let (mut locking, mut looking) = (&*conn, &*conn);
    let (locked, row) = futures_util::future::join(
        diesel::select(pg_try_advisory_xact_lock(lock_key(api_key, key)))
            .get_result::<bool>(&mut locking),
        idempotency_keys::table
            .select((
                idempotency_keys::request_hash,
                idempotency_keys::status,
                idempotency_keys::headers,
                idempotency_keys::body,
                idempotency_keys::request_bytes,
            ))
            .filter(idempotency_keys::api_key_id.eq(api_key))
            .filter(idempotency_keys::key.eq(key))
            // An expression of the statement's own (prepared once per connection, unlike
            // a literal of SQL).
            .filter(
                idempotency_keys::created_at
                    .ge(diesel::dsl::now.into_sql::<Timestamptz>() - KEPT_HOURS.hours()),
            )
            .first::<Row>(&mut looking),
    )
    .await;
    if !locked? {
        return Ok(Claim::Running);
    }
    Ok(match row.optional()? {
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

/// Claims `key` of `api_key` in the open transaction of `conn` without waiting: the claim
/// (`idempotency_claim`) is sent ahead of the statements that follow it and reaches the
/// server with them, in one round trip. It fails the transaction unless the key is free
/// (its lock taken, no answer kept), and then every statement after it fails too
/// ([`crate::error::ApiError::Unclaimed`]); what the key holds is then asked with
/// [`claim`], in a transaction of its own.
pub fn claim_ahead(conn: &AsyncPgConnection, api_key: uuid::Uuid, key: &str) -> QueryResult<()> {
    // A statement of the simple protocol has no parameters: the key goes as hexadecimal
    // digits, which no text can escape from.
    let hex_key = crate::domain::audit::hex(key.as_bytes());
    let sql = format!(
        "SELECT idempotency_claim({lock}, '{api_key}', \
         convert_from(decode('{hex_key}', 'hex'), 'UTF8'), {KEPT_HOURS})",
        lock = lock_key(api_key, key),
        api_key = api_key,
    );
    crate::db::send_ahead(conn, &sql)
}

/// Stores the answer of the request holding `key`, in that request's transaction (over an
/// expired answer of the same key, if one is left).
/// Takes the connection shared, so that it can be sent with the `COMMIT`
/// ([`crate::api::work::commit_with`]).
#[tracing::instrument(skip_all)]
pub async fn store(
    mut conn: &AsyncPgConnection,
    api_key: uuid::Uuid,
    key: &str,
    request_hash: &[u8],
    request_bytes: usize,
    answer: &Stored,
) -> QueryResult<()> {
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
    crate::db::Prepared(
        diesel::insert_into(idempotency_keys::table)
            .values(values)
            .on_conflict((idempotency_keys::api_key_id, idempotency_keys::key))
            .do_update()
            // The same values (the key's own columns set to what they are).
            .set(values),
    )
    .execute(&mut conn)
    .await
    .map(drop)
}

/// How often expired answers are removed.
pub const PURGE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

/// How many expired answers one statement removes.
const PURGE_BATCH: usize = 1_000;

/// Removes expired answers every [`PURGE_INTERVAL`], until the task is aborted: beside
/// the requests, never inside one (a request stores its answer and nothing else). Each
/// instance runs it; a batch skips the rows another is removing.
pub async fn keep_purging(pool: crate::db::DbPool) {
    let mut every =
        tokio::time::interval_at(tokio::time::Instant::now() + PURGE_INTERVAL, PURGE_INTERVAL);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        if let Err(error) = purge_expired(&pool).await {
            tracing::warn!(%error, "expired idempotency keys were not purged; retrying later");
        }
    }
}

/// Removes every expired answer, a batch at a time (each its own transaction); answers
/// how many.
pub async fn purge_expired(
    pool: &crate::db::DbPool,
) -> Result<usize, Box<dyn std::error::Error + Send + Sync>> {
    let mut conn = crate::db::connection(pool).await?;
    let mut purged = 0;
    loop {
        let batch = diesel::sql_query(format!(
            "DELETE FROM idempotency_keys WHERE ctid IN (SELECT ctid FROM idempotency_keys \
             WHERE created_at < now() - interval '{KEPT_HOURS} hours' LIMIT {PURGE_BATCH} \
             FOR UPDATE SKIP LOCKED)"
        ))
        .execute(&mut conn)
        .await?;
        purged += batch;
        if batch < PURGE_BATCH {
            return Ok(purged);
        }
    }
}
