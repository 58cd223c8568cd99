//! The audit trail: appended in the transaction of every write, read by auditors.

use chrono::{DateTime, SubsecRound, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::Value;

use crate::db::schema::{audit_events, audit_openings, audit_pending};
use crate::domain::account::ActorAccount;
use crate::domain::audit::{EventContent, commit_personal};
use crate::domain::ids::{AccountId, ApiKeyId, DistrictId};
use crate::domain::kinds::Role;

/// Who made a change, and in which request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Actor {
    /// The person who acted, when a person did (a personal key or an identity
    /// provider's token); none for machine keys and the command line.
    pub account: Option<std::sync::Arc<ActorAccount>>,
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
    /// Whether a string of the change holds a NUL character.
    fn holds_nul(&self) -> bool {
        fn in_value(value: &Value) -> bool {
            match value {
                Value::String(text) => text.contains('\0'),
                Value::Array(items) => items.iter().any(in_value),
                Value::Object(map) => map
                    .iter()
                    .any(|(key, value)| key.contains('\0') || in_value(value)),
                Value::Null | Value::Bool(_) | Value::Number(_) => false,
            }
        }
        self.entity_id.contains('\0')
            || [&self.before, &self.after]
                .into_iter()
                .flatten()
                .any(in_value)
    }

    /// A change of the record `entity_type`/`entity_id` in `district`.
    pub fn new(
        action: &'static str,
        entity_type: crate::domain::kinds::Entity,
        entity_id: impl ToString,
        district_id: Option<DistrictId>,
    ) -> Self {
        Self {
            action,
            entity_type: entity_type.as_str(),
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
    /// 1: contact values hashed in clear (events chained before commitments); 2: each
    /// contact value replaced by its commitment.
    pub form: i16,
    /// The person who acted, when a person did.
    pub actor_account: Option<Value>,
}

/// The value and salt of one commitment of an event, unless erased.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_openings, check_for_backend(diesel::pg::Pg))]
pub struct OpeningRow {
    pub seq: i64,
    pub field: String,
    pub value: Option<String>,
    pub salt: Option<String>,
    pub erased_at: Option<DateTime<Utc>>,
}

/// The openings of the events `seqs`.
#[tracing::instrument(skip_all)]
pub async fn openings(conn: &mut AsyncPgConnection, seqs: &[i64]) -> QueryResult<Vec<OpeningRow>> {
    if seqs.is_empty() {
        return Ok(Vec::new());
    }
    audit_openings::table
        .select(OpeningRow::as_select())
        .filter(audit_openings::seq.eq_any(seqs))
        .order((audit_openings::seq, audit_openings::field))
        .load(conn)
        .await
}

/// Erases the values and salts of event `seq`'s commitments still held; returns the
/// fields erased (none when nothing was left).
#[tracing::instrument(skip_all)]
pub async fn erase_openings(conn: &mut AsyncPgConnection, seq: i64) -> QueryResult<Vec<String>> {
    diesel::update(
        audit_openings::table
            .filter(audit_openings::seq.eq(seq))
            .filter(audit_openings::value.is_not_null()),
    )
    .set((
        audit_openings::value.eq(None::<String>),
        audit_openings::salt.eq(None::<String>),
        audit_openings::erased_at.eq(Utc::now()),
    ))
    .returning(audit_openings::field)
    .get_results(conn)
    .await
}

/// Event `seq`, if the trail has it.
#[tracing::instrument(skip_all)]
pub async fn find(conn: &mut AsyncPgConnection, seq: i64) -> QueryResult<Option<AuditEvent>> {
    audit_events::table
        .select(AuditEvent::as_select())
        .filter(audit_events::seq.eq(seq))
        .first(conn)
        .await
        .optional()
}

impl AuditEvent {
    /// The part of the event its hash covers.
    pub fn content(&self) -> EventContent<'_> {
        EventContent {
            seq: self.seq,
            occurred_at: self.occurred_at,
            actor_account: self.actor_account.as_ref(),
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

/// Whether this build skips writing the trail: only the benchmark's comparison build
/// (feature `bench-unaudited`), which measures what the trail costs a write. Never a
/// production build: such a binary says so when it starts.
pub const UNAUDITED: bool = cfg!(feature = "bench-unaudited");

/// Appends an event for `change`. Must run inside the write's transaction: if the append
/// fails, the write does not happen.
#[tracing::instrument(skip_all, fields(entity_type = change.entity_type, action = change.action))]
pub async fn append(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    change: Change,
) -> QueryResult<()> {
    append_all(conn, actor, vec![change]).await
}

/// Appends one event per change, in order. Must run inside the write's transaction: the
/// events (one row of `audit_pending`) commit or vanish with the write. They take no lock:
/// the sealer ([`crate::sealer::Sealer`]) chains them after the commit, keeping one
/// write's events together and in order, and every reader of the trail seals first
/// ([`seal`]), so what a client wrote is on the chain when it reads it.
/// Takes the connection shared, so that it can be sent with a `COMMIT`
/// ([`crate::api::work::Tx`]).
#[tracing::instrument(skip_all, fields(events = changes.len()))]
pub async fn append_all(
    mut conn: &AsyncPgConnection,
    actor: &Actor,
    mut changes: Vec<Change>,
) -> QueryResult<()> {
    if changes.is_empty() || UNAUDITED {
        return Ok(());
    }
    // Contact values leave the hashed form: each becomes a commitment under a salt of
    // its own, and the value and salt are kept apart (`audit_openings`). Salts are drawn
    // only for the values there are.
    let mut failed = None;
    let mut salt = || {
        let mut salt = [0_u8; 16];
        if let Err(error) = getrandom::fill(&mut salt) {
            failed = Some(error);
        }
        salt
    };
    let openings: Vec<Option<Value>> = changes
        .iter_mut()
        .map(|change| {
            let mut opened = Vec::new();
            for (side, record) in [("before", &mut change.before), ("after", &mut change.after)] {
                if let Some(record) = record {
                    opened.extend(commit_personal(record, side, &mut salt));
                }
            }
            (!opened.is_empty()).then(|| {
                Value::Object(
                    opened
                        .into_iter()
                        .map(|opening| {
                            let pair =
                                serde_json::json!({"value": opening.value, "salt": opening.salt});
                            (opening.field, pair)
                        })
                        .collect(),
                )
            })
        })
        .collect();
    if let Some(error) = failed {
        return Err(diesel::result::Error::QueryBuilderError(Box::new(error)));
    }
    let occurred_at = Utc::now().trunc_subsecs(6);
    let key_id = actor.key_id.map(|id| id.to_string());
    let district_id = actor.district_id.map(|id| id.to_string());
    let role = actor.role.map(Role::as_str);
    let account = actor
        .account
        .as_deref()
        .map(serde_json::to_value)
        .transpose()
        .map_err(|error| diesel::result::Error::SerializationError(Box::new(error)))?;
    // The event is stored once, as the text its hash covers: the sealer reads the chained
    // event's columns from it (migration 000024). A NUL character is the one thing such a
    // text could hold that the database's JSON refuses; validation and the records' text
    // columns keep it out, and this keeps it off the trail should anything let it through,
    // since a pending event the sealer cannot read would stop the chain.
    if changes.iter().any(Change::holds_nul)
        || [&actor.request_id, &actor.idempotency_key]
            .into_iter()
            .flatten()
            .chain(actor.account.iter().map(|account| &account.display_name))
            .any(|text| text.contains('\0'))
    {
        return Err(diesel::result::Error::QueryBuilderError(
            "an audit event may not hold a NUL character".into(),
        ));
    }
    let prefixes: Vec<String> = changes
        .iter()
        .map(|change| {
            EventContent {
                seq: 0,
                occurred_at,
                actor_account: account.as_ref(),
                actor_key_id: key_id.clone(),
                actor_role: role,
                actor_district_id: district_id.clone(),
                request_id: actor.request_id.as_deref(),
                idempotency_key: actor.idempotency_key.as_deref(),
                action: change.action,
                entity_type: change.entity_type,
                entity_id: &change.entity_id,
                district_id: change.district_id.map(|id| id.to_string()),
                before: change.before.as_ref(),
                after: change.after.as_ref(),
            }
            .canonical_prefix()
        })
        .collect();
    // A statement diesel keeps prepared on the connection: one round trip.
    diesel::insert_into(audit_pending::table)
        .values((
            audit_pending::prefixes.eq(prefixes),
            audit_pending::form.eq(2_i16),
            audit_pending::openings.eq(openings),
        ))
        .execute(&mut conn)
        .await
        .map(drop)
}

/// Appends the events of a transaction, in order: one pending row for each run of events
/// by the same actor (one in all, for a request's write).
pub async fn append_events(
    conn: &AsyncPgConnection,
    events: Vec<(Actor, Change)>,
) -> QueryResult<()> {
    let mut runs: Vec<(Actor, Vec<Change>)> = Vec::new();
    for (actor, change) in events {
        match runs.last_mut() {
            Some((last, changes)) if *last == actor => changes.push(change),
            _ => runs.push((actor, vec![change])),
        }
    }
    // Every run asks for its statement before any is answered: in order, and ahead of
    // a COMMIT sent after them (see `crate::api::work::commit_with`).
    futures_util::future::try_join_all(
        runs.into_iter()
            .map(|(actor, changes)| async move { append_all(conn, &actor, changes).await }),
    )
    .await
    .map(drop)
}

/// How many pending writes one sealing transaction chains at most.
const SEAL_BATCH: i32 = 500;

/// How many events one sealing transaction chains before it stops (after the write that
/// reaches it: a write's events stay together). Keeps every round well within the
/// statement timeout whatever the backlog and the load: 500 sync batches of 1,000 records
/// each once made a round that never finished, and rounds of 5,000 events, about 0.3 ms
/// each on a loaded machine, ran past the 5 s timeout under a benchmark's writes, so the
/// backlog grew behind rounds that kept failing.
const SEAL_EVENTS: i32 = 1_000;

/// What one call of [`seal`] chained.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, QueryableByName)]
pub struct Sealed {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pub writes: i32,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pub events: i32,
}

/// Chains every pending event committed before this call (the database function
/// `audit_seal`, a transaction per batch, one sealer at a time across every process).
#[tracing::instrument(skip_all)]
pub async fn seal(conn: &mut AsyncPgConnection) -> QueryResult<Sealed> {
    let mut total = Sealed::default();
    loop {
        let batch: Sealed = diesel::sql_query("SELECT writes, events FROM audit_seal($1, $2)")
            .bind::<diesel::sql_types::Integer, _>(SEAL_BATCH)
            .bind::<diesel::sql_types::Integer, _>(SEAL_EVENTS)
            .get_result(conn)
            .await?;
        total.writes += batch.writes;
        total.events += batch.events;
        if batch.writes < SEAL_BATCH && batch.events < SEAL_EVENTS {
            return Ok(total);
        }
    }
}

/// Filters of the trail.
#[derive(Debug, Default, Clone)]
pub struct AuditFilter {
    pub entity_type: Option<String>,
    pub entity_id: Option<String>,
    pub actor_key_id: Option<ApiKeyId>,
    /// Only events of this person.
    pub account_id: Option<AccountId>,
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
    if let Some(account) = filter.account_id {
        // The expression of the partial index `audit_events_account_idx`.
        query = query
            .filter(audit_events::actor_account.is_not_null())
            .filter(
                diesel::dsl::sql::<diesel::sql_types::Bool>("(actor_account ->> 'id')::uuid = ")
                    .bind::<diesel::sql_types::Uuid, _>(account),
            );
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::kinds::Entity;

    #[test]
    fn a_nul_anywhere_in_a_change_is_found() {
        let change = |after: Value| Change {
            after: Some(after),
            ..Change::new("create", Entity::Member, "m-1", None)
        };
        assert!(
            !change(serde_json::json!({"name": "王芳", "roles": ["member"], "term": 16}))
                .holds_nul()
        );
        for held in [
            serde_json::json!({"name": "王\u{0}芳"}),
            serde_json::json!({"roles": ["member", "\u{0}"]}),
            serde_json::json!({"nested": {"key\u{0}": 1}}),
        ] {
            assert!(change(held.clone()).holds_nul(), "{held}");
        }
        assert!(Change::new("create", Entity::Member, "m\u{0}", None).holds_nul());
    }
}
