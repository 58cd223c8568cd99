//! The audit trail: appended in the transaction of every write, read by auditors.

use chrono::{DateTime, SubsecRound, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::Value;

use crate::db::schema::audit_events;
use crate::domain::audit::{EventContent, GENESIS};
use crate::domain::ids::{ApiKeyId, DistrictId};
use crate::domain::kinds::Role;

/// Who made a change, and in which request.
#[derive(Debug, Clone, Default)]
pub struct Actor {
    pub key_id: Option<ApiKeyId>,
    pub role: Option<Role>,
    pub district_id: Option<DistrictId>,
    pub request_id: Option<String>,
    pub idempotency_key: Option<String>,
}

impl Actor {
    /// A change made from the command line (keys, seed), with no API key.
    pub fn command(name: &str) -> Self {
        Self {
            request_id: Some(format!("cli:{name}")),
            ..Self::default()
        }
    }
}

/// One change of one record.
#[derive(Debug, Clone)]
pub struct Change {
    pub action: &'static str,
    pub entity_type: &'static str,
    pub entity_id: String,
    pub district_id: Option<DistrictId>,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

impl Change {
    /// A change of the record `entity_type`/`entity_id` in `district`.
    pub fn new(
        action: &'static str,
        entity_type: &'static str,
        entity_id: impl ToString,
        district_id: Option<DistrictId>,
    ) -> Self {
        Self {
            action,
            entity_type,
            entity_id: entity_id.to_string(),
            district_id,
            before: None,
            after: None,
        }
    }

    /// The record as it was (its API form, contact data included).
    pub fn before(mut self, record: &impl serde::Serialize) -> Self {
        self.before = serde_json::to_value(record).ok();
        self
    }

    /// The record as it is now.
    pub fn after(mut self, record: &impl serde::Serialize) -> Self {
        self.after = serde_json::to_value(record).ok();
        self
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_events, check_for_backend(diesel::pg::Pg))]
pub struct AuditEvent {
    pub seq: i64,
    pub occurred_at: DateTime<Utc>,
    pub actor_key_id: Option<ApiKeyId>,
    pub actor_role: Option<String>,
    pub actor_district_id: Option<DistrictId>,
    pub request_id: Option<String>,
    pub idempotency_key: Option<String>,
    pub action: String,
    pub entity_type: String,
    pub entity_id: String,
    pub district_id: Option<DistrictId>,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditEvent {
    /// The part of the event its hash covers.
    pub fn content(&self) -> EventContent<'_> {
        EventContent {
            seq: self.seq,
            occurred_at: self.occurred_at,
            actor_key_id: self.actor_key_id.map(|id| id.to_string()),
            actor_role: self.actor_role.as_deref(),
            actor_district_id: self.actor_district_id.map(|id| id.to_string()),
            request_id: self.request_id.as_deref(),
            idempotency_key: self.idempotency_key.as_deref(),
            action: &self.action,
            entity_type: &self.entity_type,
            entity_id: &self.entity_id,
            district_id: self.district_id.map(|id| id.to_string()),
            before: self.before.as_ref(),
            after: self.after.as_ref(),
        }
    }
}

/// The lock that makes writers append to the chain one at a time, until they commit.
const CHAIN_LOCK: i64 = 0x0063_7070_6363_0001;

/// Appends an event for `change`. Must run inside the write's transaction: if the append
/// fails, the write does not happen.
#[tracing::instrument(skip_all, fields(entity_type = change.entity_type, action = change.action))]
pub async fn append(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    change: Change,
) -> QueryResult<AuditEvent> {
    let mut events = append_all(conn, actor, vec![change]).await?;
    events
        .pop()
        .ok_or_else(|| diesel::result::Error::QueryBuilderError("no event was appended".into()))
}

/// Takes the lock of the chain for the rest of the transaction, so that this writer's
/// events follow the last one committed and no other writer's come between.
async fn lock_chain(conn: &mut AsyncPgConnection) -> QueryResult<()> {
    diesel::sql_query(format!("SELECT pg_advisory_xact_lock({CHAIN_LOCK})"))
        .execute(conn)
        .await
        .map(drop)
}

/// Appends one event per change, in order, chained, with one insert per 2,000 events.
/// Must run inside the write's transaction.
#[tracing::instrument(skip_all, fields(events = changes.len()))]
pub async fn append_all(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    changes: Vec<Change>,
) -> QueryResult<Vec<AuditEvent>> {
    if changes.is_empty() {
        return Ok(Vec::new());
    }
    lock_chain(conn).await?;
    let last: Option<(i64, String)> = audit_events::table
        .select((audit_events::seq, audit_events::hash))
        .order(audit_events::seq.desc())
        .first(conn)
        .await
        .optional()?;
    let (mut seq, mut prev_hash) =
        last.map_or((1, GENESIS.to_owned()), |(seq, hash)| (seq + 1, hash));
    let occurred_at = Utc::now().trunc_subsecs(6);
    let mut events = Vec::with_capacity(changes.len());
    for change in changes {
        let mut event = AuditEvent {
            seq,
            occurred_at,
            actor_key_id: actor.key_id,
            actor_role: actor.role.map(|role| role.as_str().to_owned()),
            actor_district_id: actor.district_id,
            request_id: actor.request_id.clone(),
            idempotency_key: actor.idempotency_key.clone(),
            action: change.action.to_owned(),
            entity_type: change.entity_type.to_owned(),
            entity_id: change.entity_id,
            district_id: change.district_id,
            before: change.before,
            after: change.after,
            prev_hash,
            hash: String::new(),
        };
        event.hash = event.content().hash(&event.prev_hash);
        prev_hash = event.hash.clone();
        seq += 1;
        events.push(event);
    }
    for chunk in events.chunks(2000) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|event| {
                (
                    audit_events::seq.eq(event.seq),
                    audit_events::occurred_at.eq(event.occurred_at),
                    audit_events::actor_key_id.eq(event.actor_key_id),
                    audit_events::actor_role.eq(&event.actor_role),
                    audit_events::actor_district_id.eq(event.actor_district_id),
                    audit_events::request_id.eq(&event.request_id),
                    audit_events::idempotency_key.eq(&event.idempotency_key),
                    audit_events::action.eq(&event.action),
                    audit_events::entity_type.eq(&event.entity_type),
                    audit_events::entity_id.eq(&event.entity_id),
                    audit_events::district_id.eq(event.district_id),
                    audit_events::before.eq(&event.before),
                    audit_events::after.eq(&event.after),
                    audit_events::prev_hash.eq(&event.prev_hash),
                    audit_events::hash.eq(&event.hash),
                )
            })
            .collect();
        diesel::insert_into(audit_events::table)
            .values(rows)
            .execute(conn)
            .await?;
    }
    Ok(events)
}

/// Filters of the trail.
#[derive(Debug, Default, Clone)]
pub struct AuditFilter {
    pub entity_type: Option<String>,
    pub entity_id: Option<String>,
    pub actor_key_id: Option<ApiKeyId>,
    pub district_id: Option<DistrictId>,
    pub action: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Only events after this seq.
    pub after_seq: Option<i64>,
    /// Only events up to this seq.
    pub until_seq: Option<i64>,
}

/// The filtered events in seq order, from `filter.after_seq`, at most `limit`.
#[tracing::instrument(skip_all)]
pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &AuditFilter,
    limit: i64,
) -> QueryResult<Vec<AuditEvent>> {
    let mut query = audit_events::table
        .select(AuditEvent::as_select())
        .into_boxed();
    if let Some(entity_type) = &filter.entity_type {
        query = query.filter(audit_events::entity_type.eq(entity_type.clone()));
    }
    if let Some(entity_id) = &filter.entity_id {
        query = query.filter(audit_events::entity_id.eq(entity_id.clone()));
    }
    if let Some(actor) = filter.actor_key_id {
        query = query.filter(audit_events::actor_key_id.eq(actor));
    }
    if let Some(district) = filter.district_id {
        query = query.filter(audit_events::district_id.eq(district));
    }
    if let Some(action) = &filter.action {
        query = query.filter(audit_events::action.eq(action.clone()));
    }
    if let Some(from) = filter.from {
        query = query.filter(audit_events::occurred_at.ge(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(audit_events::occurred_at.lt(to));
    }
    if let Some(after) = filter.after_seq {
        query = query.filter(audit_events::seq.gt(after));
    }
    if let Some(until) = filter.until_seq {
        query = query.filter(audit_events::seq.le(until));
    }
    query
        .order(audit_events::seq.asc())
        .limit(limit)
        .load(conn)
        .await
}

/// The hash of event `seq`, if it exists.
#[tracing::instrument(skip_all)]
pub async fn hash_of(conn: &mut AsyncPgConnection, seq: i64) -> QueryResult<Option<String>> {
    audit_events::table
        .select(audit_events::hash)
        .filter(audit_events::seq.eq(seq))
        .first(conn)
        .await
        .optional()
}

/// The last seq of the trail (0 when empty).
#[tracing::instrument(skip_all)]
pub async fn last_seq(conn: &mut AsyncPgConnection) -> QueryResult<i64> {
    audit_events::table
        .select(diesel::dsl::max(audit_events::seq))
        .first::<Option<i64>>(conn)
        .await
        .map(|seq| seq.unwrap_or(0))
}
