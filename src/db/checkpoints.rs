//! Signed checkpoints of the audit trail and the public keys that sign them.

use chrono::{DateTime, SubsecRound, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::db::schema::{audit_checkpoints, audit_events, audit_signing_keys};
use crate::domain::checkpoint::{Signer, Statement};

/// At most this many events lie between two checkpoints: a burst of events is signed
/// every 10,000, whatever the interval.
pub const EVENTS_PER_CHECKPOINT: i64 = 10_000;

/// The lock one signer at a time holds, across every process, while it signs.
const SIGNER_LOCK: i64 = 27_989_650_700_435_458;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_checkpoints, check_for_backend(diesel::pg::Pg))]
pub struct Checkpoint {
    pub number: i64,
    pub seq: i64,
    pub hash: String,
    pub signed_at: DateTime<Utc>,
    pub key_id: String,
    pub signature: String,
}

impl Checkpoint {
    /// What the checkpoint's signature covers.
    pub fn statement(&self) -> Statement<'_> {
        Statement {
            number: self.number,
            seq: self.seq,
            hash: &self.hash,
            signed_at: self.signed_at,
            key_id: &self.key_id,
        }
    }
}

/// A public key the trail was signed with, and when.
#[derive(Debug, Clone, QueryableByName)]
pub struct SigningKeyRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub key_id: String,
    #[diesel(sql_type = diesel::sql_types::Bytea)]
    pub public_key: Vec<u8>,
    #[diesel(sql_type = diesel::sql_types::Timestamptz)]
    pub registered_at: DateTime<Utc>,
    /// When a key registered after it signed its first checkpoint.
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>)]
    pub superseded_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
    pub first_checkpoint: Option<i64>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
    pub last_checkpoint: Option<i64>,
}

/// Records the signer's public key (once; instances sharing a key share the row).
pub async fn register(conn: &mut AsyncPgConnection, signer: &Signer) -> QueryResult<()> {
    diesel::insert_into(audit_signing_keys::table)
        .values((
            audit_signing_keys::key_id.eq(signer.id()),
            audit_signing_keys::public_key.eq(signer.public_key().as_bytes().to_vec()),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await
        .map(drop)
}

/// What [`sign_due`] did, and when a checkpoint falls due next by time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signing {
    pub signed: usize,
    /// From then on, any event after the newest checkpoint is due to be signed.
    pub next_due: DateTime<Utc>,
}

/// Signs the chain's head if a checkpoint is due: when `interval` has passed since the
/// last one and events came after it, and for every 10,000 events whatever the time.
/// One signer at a time across every process; each checkpoint gets the next number.
pub async fn sign_due(
    conn: &mut AsyncPgConnection,
    signer: &Signer,
    interval: std::time::Duration,
) -> QueryResult<Signing> {
    let interval = chrono::Duration::from_std(interval).unwrap_or(chrono::Duration::MAX);
    conn.transaction(async |conn| {
        diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
            .bind::<diesel::sql_types::BigInt, _>(SIGNER_LOCK)
            .execute(conn)
            .await?;
        let last: Option<(i64, i64, DateTime<Utc>)> = audit_checkpoints::table
            .select((
                audit_checkpoints::number,
                audit_checkpoints::seq,
                audit_checkpoints::signed_at,
            ))
            .order(audit_checkpoints::number.desc())
            .first(conn)
            .await
            .optional()?;
        let head: Option<i64> = audit_events::table
            .select(diesel::dsl::max(audit_events::seq))
            .first(conn)
            .await?;
        let Some(head) = head else {
            return Ok(Signing {
                signed: 0,
                next_due: Utc::now(),
            });
        };
        let (mut number, mut covered, last_signed) =
            last.unwrap_or((0, 0, DateTime::<Utc>::MIN_UTC));
        let now = Utc::now().trunc_subsecs(6);
        let interval_passed = now.signed_duration_since(last_signed) >= interval;
        let mut signed = 0;
        while covered < head {
            let seq = head.min(covered + EVENTS_PER_CHECKPOINT);
            if seq - covered < EVENTS_PER_CHECKPOINT && !interval_passed {
                break;
            }
            let hash: String = audit_events::table
                .select(audit_events::hash)
                .filter(audit_events::seq.eq(seq))
                .first(conn)
                .await?;
            number += 1;
            let statement = Statement {
                number,
                seq,
                hash: &hash,
                signed_at: now,
                key_id: signer.id(),
            };
            let signature = signer.sign(&statement);
            diesel::insert_into(audit_checkpoints::table)
                .values((
                    audit_checkpoints::number.eq(number),
                    audit_checkpoints::seq.eq(seq),
                    audit_checkpoints::hash.eq(&hash),
                    audit_checkpoints::signed_at.eq(now),
                    audit_checkpoints::key_id.eq(signer.id()),
                    audit_checkpoints::signature.eq(signature),
                ))
                .execute(conn)
                .await?;
            covered = seq;
            signed += 1;
        }
        let last_signed = if signed > 0 { now } else { last_signed };
        Ok(Signing {
            signed,
            next_due: last_signed
                .checked_add_signed(interval)
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
        })
    })
    .await
}

/// Checkpoints in number order after `after_number`, at most `limit`; only those covering
/// at least `from_seq` and at most `until_seq` when given.
pub async fn list(
    conn: &mut AsyncPgConnection,
    after_number: i64,
    from_seq: Option<i64>,
    until_seq: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<Checkpoint>> {
    let mut query = audit_checkpoints::table
        .select(Checkpoint::as_select())
        .filter(audit_checkpoints::number.gt(after_number))
        .into_boxed();
    if let Some(from) = from_seq {
        query = query.filter(audit_checkpoints::seq.ge(from));
    }
    if let Some(until) = until_seq {
        query = query.filter(audit_checkpoints::seq.le(until));
    }
    query
        .order(audit_checkpoints::number.asc())
        .limit(limit)
        .load(conn)
        .await
}

/// Every key that was registered to sign, oldest first.
pub async fn keys(conn: &mut AsyncPgConnection) -> QueryResult<Vec<SigningKeyRow>> {
    diesel::sql_query(
        "SELECT k.key_id, k.public_key, k.registered_at, \
            (SELECT min(c.signed_at) FROM audit_checkpoints AS c \
               JOIN audit_signing_keys AS later ON later.key_id = c.key_id \
              WHERE later.registered_at > k.registered_at) AS superseded_at, \
            (SELECT min(c.number) FROM audit_checkpoints AS c WHERE c.key_id = k.key_id) \
                AS first_checkpoint, \
            (SELECT max(c.number) FROM audit_checkpoints AS c WHERE c.key_id = k.key_id) \
                AS last_checkpoint \
         FROM audit_signing_keys AS k ORDER BY k.registered_at, k.key_id",
    )
    .load(conn)
    .await
}
