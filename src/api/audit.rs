//! The audit trail for auditors: `/api/v1/audit-events` (query and export), its
//! verification, and the history of any record.

use crate::api::work::Tx;
use crate::domain::calendar::Moment;
use crate::domain::cursor;
use crate::domain::kinds::Entity;
use crate::domain::values::FilterText;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::api::policy::{admin, trail};
use crate::api::work::Write as _;

use crate::api::auth::Caller;
use crate::api::contacts::{self, Personal};
use crate::api::http::{accepted, csv_line_of};
use crate::api::page::Page;
use crate::api::work::Db;
use crate::db::audit::{self as db, AuditEvent, AuditFilter, Change};
use crate::db::checkpoints::{self, Checkpoint};
use crate::db::pagination::{DEFAULT_LIMIT, MAX_LIMIT};
use crate::domain::access::{ADMINS, TRAIL_READERS};
use crate::domain::audit::{GENESIS, timestamp};
use crate::domain::ids::{AccountId, ApiKeyId, DistrictId};
use crate::error::ApiError;
use crate::sealer::Sealer;

pub fn configure(config: &mut ServiceConfig) {
    use crate::domain::access::DistrictOf::*;
    config.service(
        utoipa_actix_web::scope("/audit-events")
            .service(trail(Filter, list_audit_events))
            .service(trail(Nothing, verify_audit_events))
            .service(trail(Nothing, list_audit_checkpoints))
            .service(trail(Nothing, list_audit_signing_keys))
            .service(admin(Nothing, erase_audit_openings)),
    );
}

/// Appends a change to the audit trail, in the caller's transaction: its event is sent
/// with the `COMMIT`, and if it fails, the write fails with it.
pub(crate) fn record(tx: &mut Tx<'_>, caller: &Caller, change: Change) {
    tx.record(caller.actor(), change);
}

/// Appends `change` with the record `before` and `after` it, unless nothing changed (the
/// version is the same).
pub(crate) fn record_if_changed<V: Serialize + crate::api::http::Versioned>(
    tx: &mut Tx<'_>,
    caller: &Caller,
    change: Change,
    before: &V,
    after: &V,
) {
    if before.version() != after.version() {
        record(tx, caller, change.before(before).after(after));
    }
}

/// One event of the audit trail.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = AuditEvent)]
pub struct AuditEventView {
    /// Position in the trail: 1, 2, 3, … without gaps.
    pub seq: i64,
    /// Exactly as the hash covers it: UTC, six fractional digits.
    #[serde(serialize_with = "as_hashed")]
    #[schema(value_type = String, format = DateTime, example = "2026-11-30T08:15:02.120000Z")]
    pub occurred_at: DateTime<Utc>,
    /// The person who made the change, when a person did (a personal key or an identity
    /// provider's token): the account, what it acts for and how it authenticated. Hashed
    /// when present; an event without one has no such key in its canonical form.
    #[schema(value_type = Option<crate::domain::account::ActorAccount>)]
    pub actor_account: Option<Value>,
    /// The API key that made the change; `null` for the command line and for a person
    /// authenticated by an identity provider.
    pub actor_key_id: Option<ApiKeyId>,
    #[schema(value_type = Option<crate::domain::kinds::Role>)]
    pub actor_role: Option<String>,
    pub actor_district_id: Option<DistrictId>,
    pub request_id: Option<String>,
    pub idempotency_key: Option<String>,
    /// `create`, `update`, `delete`, `add_member`, `remove_member`, `add_cosigner`,
    /// `remove_cosigner`, a proposal's workflow action (`submit`, `file`, …, and
    /// `merge_into` on the target of a merge), `create_key`, `revoke_key`.
    pub action: String,
    /// The type of the record changed: every type the trail records.
    #[schema(value_type = Entity)]
    pub entity_type: String,
    pub entity_id: String,
    pub district_id: Option<DistrictId>,
    /// The record before the change, as the API shows it; members' contact data only for
    /// the callers who may read it.
    pub before: Option<Value>,
    /// The record after the change.
    pub after: Option<Value>,
    /// The hash of the previous event (64 zeros for the first).
    pub prev_hash: String,
    /// SHA-256 (hex) over `prev_hash`, a newline and the event's canonical JSON.
    pub hash: String,
    /// 2: each contact value in `before`/`after` is a commitment
    /// `{"commitment": sha256(salt ‖ value)}`; 1: an event chained before commitments,
    /// whose hash covers its contact values in clear.
    pub form: i16,
    /// What opens each commitment (`after.phone` → its value and salt), for callers who
    /// may read the members' contact data; `null` for every other caller. An erased
    /// opening keeps only `erased_at`.
    pub openings: Option<std::collections::BTreeMap<String, OpeningView>>,
    /// Contact fields of a form-1 event left out for this caller: the event's hash cannot
    /// be recomputed from this answer (the service's `verify` still does).
    pub withheld: Vec<String>,
}

/// A page of a list of AuditEvent records.
pub type AuditEventPage = crate::api::page::Page<AuditEventView>;

/// The value and salt behind one commitment.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = AuditOpening)]
pub struct OpeningView {
    /// `null` once erased.
    pub value: Option<String>,
    /// 16 bytes, hex; `null` once erased.
    pub salt: Option<String>,
    pub erased_at: Option<DateTime<Utc>>,
}

/// A time as the trail's hashes and signatures cover it.
fn as_hashed<S: serde::Serializer>(time: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&timestamp(*time))
}

impl From<AuditEvent> for AuditEventView {
    fn from(event: AuditEvent) -> Self {
        Self {
            seq: event.seq,
            occurred_at: event.occurred_at,
            actor_account: event.actor_account,
            actor_key_id: event.actor_key_id,
            actor_role: event.actor_role,
            actor_district_id: event.actor_district_id,
            request_id: event.request_id,
            idempotency_key: event.idempotency_key,
            action: event.action,
            entity_type: event.entity_type,
            entity_id: event.entity_id,
            district_id: event.district_id,
            before: event.before,
            after: event.after,
            prev_hash: event.prev_hash,
            hash: event.hash,
            form: event.form,
            openings: None,
            withheld: Vec::new(),
        }
    }
}

/// `events` as `caller` may read them: the openings of their commitments for callers who
/// may read the contact data of the events' districts, none for others; and from events
/// of the first form, hashed over clear values, those values only for the same callers.
async fn views(
    conn: &mut AsyncPgConnection,
    events: Vec<AuditEvent>,
    caller: &Caller,
) -> Result<Vec<AuditEventView>, ApiError> {
    let readable: Vec<i64> = events
        .iter()
        .filter(|event| contacts::readable_by(caller, event.district_id))
        .map(|event| event.seq)
        .collect();
    let mut openings = std::collections::BTreeMap::<i64, std::collections::BTreeMap<_, _>>::new();
    for row in db::openings(conn, &readable).await? {
        openings.entry(row.seq).or_default().insert(
            row.field,
            OpeningView {
                value: row.value,
                salt: row.salt,
                erased_at: row.erased_at,
            },
        );
    }
    Ok(events
        .into_iter()
        .map(|event| {
            let seq = event.seq;
            let mut view = AuditEventView::from(event);
            if readable.binary_search(&seq).is_ok() {
                view.openings = Some(openings.remove(&seq).unwrap_or_default());
            }
            contacts::shown_to(caller, view)
        })
        .collect())
}

/// An event's records carry the contact data of its district's members (a member's
/// record, and no other record has contact fields).
impl Personal for AuditEventView {
    fn district(&self) -> Option<DistrictId> {
        self.district_id
    }

    /// Commitments stay (they are what the hash covers and tell nothing); clear values of
    /// first-form events go, named in `withheld`; openings go.
    fn hide_contacts(&mut self) {
        self.openings = None;
        for (side, record) in [("before", &mut self.before), ("after", &mut self.after)] {
            let Some(Value::Object(fields)) = record else {
                continue;
            };
            for name in contacts::FIELDS {
                let clear = fields.get(name).is_some_and(|value| {
                    !value.is_null() && !crate::domain::audit::is_commitment(value)
                });
                if clear {
                    fields.remove(name);
                    self.withheld.push(format!("{side}.{name}"));
                }
            }
        }
    }
}

/// Filters of the trail.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only events of records of this type.
    pub entity_type: Option<Entity>,
    #[param(inline)]
    pub entity_id: Option<FilterText<200>>,
    pub actor_key_id: Option<ApiKeyId>,
    /// Only events of this person (`actor_account.id`).
    pub account_id: Option<AccountId>,
    pub district_id: Option<DistrictId>,
    #[param(inline)]
    pub action: Option<FilterText<200>>,
    /// Events at or after this time (RFC 3339).
    pub from: Option<Moment>,
    /// Events before this time (RFC 3339).
    pub to: Option<Moment>,
    /// Page size, 1 to 200 (default 50); exports ignore it.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    #[param(min_length = 1, pattern = r"^[A-Za-z0-9_-]+$")]
    pub cursor: Option<String>,
}

fn encode_cursor(seq: i64) -> String {
    cursor::seal(
        cursor::Kind::Trail,
        &URL_SAFE_NO_PAD.encode(format!("seq:{seq}")),
    )
}

fn decode_cursor(text: &str) -> Result<i64, ApiError> {
    crate::api::page::check_cursor_shape(text)?;
    cursor::open(cursor::Kind::Trail, text)
        .and_then(|text| URL_SAFE_NO_PAD.decode(text).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.strip_prefix("seq:")?.parse().ok())
        .ok_or_else(|| ApiError::unknown("cursor", "is not a cursor of this list"))
}

fn limit(limit: Option<i64>) -> Result<i64, ApiError> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if (1..=MAX_LIMIT).contains(&limit) {
        Ok(limit)
    } else {
        Err(ApiError::BadRequest(format!(
            "limit must be between 1 and {MAX_LIMIT}"
        )))
    }
}

/// A connection to read the trail on, once every event committed so far is on the chain:
/// a client reads its own writes' events.
async fn sealed(pool: &Db) -> Result<crate::api::work::Conn, ApiError> {
    let mut conn = pool.conn().await?;
    db::seal(&mut conn).await?;
    Ok(conn)
}

/// One page of events, in seq order.
async fn events_page(
    pool: &Db,
    mut filter: AuditFilter,
    limit: i64,
    cursor: Option<&str>,
    caller: &Caller,
) -> Result<Page<AuditEventView>, ApiError> {
    if let Some(cursor) = cursor {
        filter.after_seq = Some(decode_cursor(cursor)?);
    }
    let mut conn = sealed(pool).await?;
    let mut events = db::list(&mut conn, &filter, limit + 1).await?;
    let next_cursor = if events.len() > usize::try_from(limit).unwrap_or(usize::MAX) {
        events.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        events.last().map(|event| encode_cursor(event.seq))
    } else {
        None
    };
    let items = views(&mut conn, events, caller).await?;
    Ok(Page { items, next_cursor })
}

/// How the whole filtered trail is exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Export {
    Csv,
    NdJson,
}

fn export_format(request: &HttpRequest) -> Option<Export> {
    match accepted(request, &["text/csv", "application/x-ndjson"])? {
        "text/csv" => Some(Export::Csv),
        _ => Some(Export::NdJson),
    }
}

const CSV_HEADER: &str = "seq,occurred_at,actor_key_id,actor_role,actor_district_id,request_id,idempotency_key,action,entity_type,entity_id,district_id,before,after,prev_hash,hash,form,openings,withheld,actor_account\n";

fn csv_line(event: &AuditEventView) -> String {
    let optional = |value: Option<String>| value.unwrap_or_default();
    let json = |value: &Option<Value>| value.as_ref().map(Value::to_string).unwrap_or_default();
    let fields = [
        event.seq.to_string(),
        timestamp(event.occurred_at),
        optional(event.actor_key_id.map(|id| id.to_string())),
        optional(event.actor_role.clone()),
        optional(event.actor_district_id.map(|id| id.to_string())),
        optional(event.request_id.clone()),
        optional(event.idempotency_key.clone()),
        event.action.clone(),
        event.entity_type.clone(),
        event.entity_id.clone(),
        optional(event.district_id.map(|id| id.to_string())),
        json(&event.before),
        json(&event.after),
        event.prev_hash.clone(),
        event.hash.clone(),
        event.form.to_string(),
        event
            .openings
            .as_ref()
            .and_then(|openings| serde_json::to_string(openings).ok())
            .unwrap_or_default(),
        event.withheld.join(";"),
        json(&event.actor_account),
    ];
    csv_line_of(&fields)
}

/// Streams every event the filter selects, a batch at a time, so memory stays flat
/// however long the trail is.
fn export(pool: Db, caller: Caller, filter: AuditFilter, format: Export) -> HttpResponse {
    const BATCH: i64 = 1000;
    let header = (format == Export::Csv).then(|| {
        Ok::<_, ApiError>(Bytes::from(format!(
            "{}{CSV_HEADER}",
            crate::api::http::CSV_BOM
        )))
    });
    let state = Some((pool, caller, filter));
    let body = futures_util::stream::unfold(state, move |state| async move {
        let (pool, caller, mut filter) = state?;
        let batch = async {
            let mut conn = pool.conn().await?;
            let events = db::list(&mut conn, &filter, BATCH).await?;
            views(&mut conn, events, &caller).await
        }
        .await;
        match batch {
            Err(error) => {
                tracing::error!(%error, "audit export failed part-way");
                Some((Err(error), None))
            }
            Ok(events) if events.is_empty() => None,
            Ok(events) => {
                let full = events.len() == usize::try_from(BATCH).unwrap_or(usize::MAX);
                filter.after_seq = events.last().map(|event| event.seq);
                let mut chunk = String::new();
                for event in events {
                    match format {
                        Export::Csv => chunk.push_str(&csv_line(&event)),
                        Export::NdJson => {
                            chunk.push_str(&serde_json::to_string(&event).unwrap_or_default());
                            chunk.push('\n');
                        }
                    }
                }
                let next = full.then_some((pool, caller, filter));
                Some((Ok(Bytes::from(chunk)), next))
            }
        }
    });
    let (content_type, extension) = match format {
        Export::Csv => ("text/csv; charset=utf-8", "csv"),
        Export::NdJson => ("application/x-ndjson", "ndjson"),
    };
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((actix_web::http::header::VARY, "Accept"))
        .insert_header(crate::api::http::attachment(
            &format!("audit-events.{extension}"),
            &format!("审计记录.{extension}"),
        ))
        .streaming(futures_util::StreamExt::chain(
            futures_util::stream::iter(header),
            body,
        ))
}

/// Query the audit trail, or export all of it that the filters select.
///
/// With `Accept: text/csv` or `Accept: application/x-ndjson` the whole filtered trail is
/// streamed (no paging); otherwise one page of JSON.
#[utoipa::path(
    tag = "audit",
    params(AuditQuery),
    responses(
        (status = 200, description = "A page of events, or the export (CSV with a UTF-8 byte-order mark)", content(
            (AuditEventPage = "application/json"),
            (String = "text/csv"),
            (String = "application/x-ndjson"),
        ), headers(
            ("Content-Disposition" = String, description = "With an export: `attachment`, with the file's name (`filename`, and `filename*` in UTF-8)"),
            ("Vary" = String, description = "Includes `Accept`: the format follows it"),
        )),
    ),
)]
#[get("")]
async fn list_audit_events(
    caller: Caller,
    pool: Db,
    request: HttpRequest,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(TRAIL_READERS, "reading the audit trail")?;
    let query = query.into_inner();
    let filter = AuditFilter {
        entity_type: query.entity_type.map(|entity| entity.as_str().to_owned()),
        entity_id: query.entity_id.and_then(FilterText::into_filter),
        actor_key_id: query.actor_key_id,
        account_id: query.account_id,
        district_id: query.district_id,
        action: query.action.and_then(FilterText::into_filter),
        from: query.from.map(Moment::get),
        to: query.to.map(Moment::get),
        after_seq: None,
        until_seq: None,
    };
    if let Some(format) = export_format(&request) {
        // Sealed before the answer starts, so a failure is an answer, not a cut stream.
        drop(sealed(&pool).await?);
        return Ok(export(pool.clone(), caller, filter, format));
    }
    let page = events_page(
        &pool,
        filter,
        limit(query.limit)?,
        query.cursor.as_deref(),
        &caller,
    )
    .await?;
    // The same URL answers JSON or an export by `Accept`: caches must tell them apart.
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::VARY, "Accept"))
        .json(page))
}

/// The range of the trail to verify.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct VerifyQuery {
    /// First event to check (default 1).
    #[param(minimum = 1)]
    pub from_seq: Option<i64>,
    /// Last event to check (default the last one).
    #[param(minimum = 1)]
    pub to_seq: Option<i64>,
}

/// The outcome of a verification.
#[derive(Debug, Serialize, ToSchema)]
pub struct Verification {
    /// Whether every event checked is intact and chained to the one before, and agrees
    /// with every signed checkpoint in the range.
    pub ok: bool,
    /// How many events were checked.
    pub checked: i64,
    /// The hash of the last event checked.
    pub head: Option<String>,
    /// The first event that does not match (edited, or following a removed one), when it
    /// can be known.
    pub broken_seq: Option<i64>,
    /// The checkpoint that disagrees with the trail, or whose signature does not hold.
    pub broken_checkpoint: Option<i64>,
    /// What is wrong.
    pub reason: Option<String>,
    /// How many signed checkpoints were checked.
    pub checkpoints_checked: i64,
    /// The newest checkpoint checked: keep it (with the key's public key) to find later a
    /// removal of the events it covers.
    pub last_checkpoint: Option<CheckpointView>,
    /// Events after the newest checkpoint: until the next one signs them, only the chain
    /// protects them, and their removal from the end cannot be told from their absence.
    pub unsigned_events: i64,
}

/// The keys whose checkpoints this service trusts: its own, and the earlier ones its
/// operator named (`AUDIT_TRUSTED_KEYS`). Never a key read from the database.
pub struct TrustedKeys(pub Vec<ed25519_dalek::VerifyingKey>);

impl TrustedKeys {
    fn get(&self, key_id: &str) -> Option<&ed25519_dalek::VerifyingKey> {
        self.0
            .iter()
            .find(|key| crate::domain::checkpoint::key_id(key) == key_id)
    }
}

/// Walks the checkpoints of a range beside its events, a page at a time.
struct Checkpoints {
    page: std::collections::VecDeque<Checkpoint>,
    after_number: i64,
    from: i64,
    until: Option<i64>,
    exhausted: bool,
    /// The number the next checkpoint must have.
    expected_number: Option<i64>,
    previous_seq: i64,
    /// The seq of the checkpoint before the last one taken (or of the range's start).
    prior_seq: i64,
    checked: i64,
    last: Option<Checkpoint>,
}

impl Checkpoints {
    fn new(from: i64, until: Option<i64>) -> Self {
        Self {
            page: std::collections::VecDeque::new(),
            after_number: 0,
            from,
            until,
            exhausted: false,
            expected_number: None,
            previous_seq: from - 1,
            prior_seq: from - 1,
            checked: 0,
            last: None,
        }
    }

    /// The next checkpoint, its number, key and signature checked; `Err` names what
    /// does not hold.
    async fn next(
        &mut self,
        conn: &mut AsyncPgConnection,
        trusted: &TrustedKeys,
    ) -> Result<Result<Option<Checkpoint>, (i64, String)>, ApiError> {
        if self.page.is_empty() && !self.exhausted {
            let page =
                checkpoints::list(conn, self.after_number, Some(self.from), self.until, 1000)
                    .await?;
            self.exhausted = page.len() < 1000;
            if let Some(last) = page.last() {
                self.after_number = last.number;
            }
            self.page.extend(page);
        }
        let Some(checkpoint) = self.page.pop_front() else {
            return Ok(Ok(None));
        };
        let number = checkpoint.number;
        if let Some(expected) = self.expected_number
            && number != expected
        {
            return Ok(Err((
                expected,
                format!("checkpoint {expected} is missing (the next one is {number})"),
            )));
        }
        if checkpoint.seq <= self.previous_seq && self.expected_number.is_some() {
            return Ok(Err((
                number,
                format!(
                    "checkpoint {number} covers seq {}, not after the one before it (seq {})",
                    checkpoint.seq, self.previous_seq
                ),
            )));
        }
        let Some(key) = trusted.get(&checkpoint.key_id) else {
            return Ok(Err((
                number,
                format!(
                    "checkpoint {number} is signed by key {}, which this service does not \
                     trust (its own key, or one named in AUDIT_TRUSTED_KEYS)",
                    checkpoint.key_id
                ),
            )));
        };
        if !crate::domain::checkpoint::verifies(key, &checkpoint.statement(), &checkpoint.signature)
        {
            return Ok(Err((
                number,
                format!("the signature of checkpoint {number} does not hold"),
            )));
        }
        self.expected_number = Some(number + 1);
        self.prior_seq = self.previous_seq;
        self.previous_seq = checkpoint.seq;
        self.checked += 1;
        self.last = Some(checkpoint.clone());
        Ok(Ok(Some(checkpoint)))
    }
}

/// Recompute the hash chain over a range of the trail, and check it against the signed
/// checkpoints.
///
/// Every event's hash is recomputed from its content and chained to the one before;
/// every checkpoint in the range must carry a signature of a key this service trusts,
/// follow the one before without a gap, and name a hash the trail has at its seq. A
/// rewrite behind a checkpoint, even with every later hash recomputed, and the removal of
/// events a checkpoint covers, are found.
#[utoipa::path(
    tag = "audit",
    params(VerifyQuery),
    responses((status = 200, description = "The outcome", body = Verification)),
)]
#[get("/verify")]
async fn verify_audit_events(
    caller: Caller,
    pool: Db,
    trusted: web::Data<TrustedKeys>,
    query: web::Query<VerifyQuery>,
) -> Result<web::Json<Verification>, ApiError> {
    caller.require(TRAIL_READERS, "verifying the audit trail")?;
    let from = query.from_seq.unwrap_or(1);
    if from < 1 || query.to_seq.is_some_and(|to| to < 1) {
        return Err(ApiError::BadRequest(
            "from_seq and to_seq must be at least 1".into(),
        ));
    }
    if query.to_seq.is_some_and(|to| to < from) {
        return Err(ApiError::rule("to_seq", "must be at least from_seq"));
    }
    let mut conn = sealed(&pool).await?;
    let last_seq = db::last_seq(&mut conn).await?;
    let to = query.to_seq.unwrap_or(last_seq);
    let mut previous = if from == 1 {
        Some(GENESIS.to_owned())
    } else {
        db::hash_of(&mut conn, from - 1).await?
    };
    let mut signed = Checkpoints::new(from, query.to_seq);
    let mut outcome = Verification {
        ok: false,
        checked: 0,
        head: None,
        broken_seq: None,
        broken_checkpoint: None,
        reason: None,
        checkpoints_checked: 0,
        last_checkpoint: None,
        unsigned_events: 0,
    };
    let finish = |mut outcome: Verification, signed: &Checkpoints| {
        outcome.checkpoints_checked = signed.checked;
        outcome.last_checkpoint = signed.last.clone().map(CheckpointView::from);
        web::Json(outcome)
    };
    let mut pending = match signed.next(&mut conn, &trusted).await? {
        Ok(next) => next,
        Err((number, reason)) => {
            outcome.broken_checkpoint = Some(number);
            outcome.reason = Some(reason);
            return Ok(finish(outcome, &signed));
        }
    };
    let mut expected_seq = from;
    let mut filter = AuditFilter {
        after_seq: Some(from - 1),
        until_seq: Some(to),
        ..AuditFilter::default()
    };
    loop {
        let events = db::list(&mut conn, &filter, 1000).await?;
        if events.is_empty() {
            break;
        }
        filter.after_seq = events.last().map(|event| event.seq);
        for event in events {
            let fault = if event.seq != expected_seq {
                Some((expected_seq, "the event is missing"))
            } else if previous.as_deref() != Some(event.prev_hash.as_str()) {
                Some((event.seq, "prev_hash does not match the previous event"))
            } else if event.content().hash(&event.prev_hash) != event.hash {
                Some((event.seq, "the event does not match its hash"))
            } else {
                None
            };
            if let Some((seq, reason)) = fault {
                outcome.broken_seq = Some(seq);
                outcome.reason = Some(reason.to_owned());
                return Ok(finish(outcome, &signed));
            }
            outcome.checked += 1;
            expected_seq += 1;
            while let Some(checkpoint) = pending.take_if(|checkpoint| checkpoint.seq <= event.seq) {
                if checkpoint.seq == event.seq && checkpoint.hash != event.hash {
                    let since = signed.prior_seq + 1;
                    outcome.broken_checkpoint = Some(checkpoint.number);
                    outcome.reason = Some(format!(
                        "the trail at seq {} does not have the hash checkpoint {} signed: \
                         events from seq {since} to {} were changed after it was signed",
                        event.seq, checkpoint.number, event.seq
                    ));
                    return Ok(finish(outcome, &signed));
                }
                pending = match signed.next(&mut conn, &trusted).await? {
                    Ok(next) => next,
                    Err((number, reason)) => {
                        outcome.broken_checkpoint = Some(number);
                        outcome.reason = Some(reason);
                        return Ok(finish(outcome, &signed));
                    }
                };
            }
            previous = Some(event.hash);
        }
    }
    if expected_seq <= to {
        outcome.broken_seq = Some(expected_seq);
        outcome.reason = Some("the event is missing".to_owned());
        return Ok(finish(outcome, &signed));
    }
    if let Some(checkpoint) = pending {
        // Signed, but beyond the trail's end: events it covers are gone.
        outcome.broken_seq = Some(last_seq + 1);
        outcome.broken_checkpoint = Some(checkpoint.number);
        outcome.reason = Some(format!(
            "checkpoint {} covers seq {}, but the trail ends at seq {last_seq}: events it \
             covers were removed",
            checkpoint.number, checkpoint.seq
        ));
        return Ok(finish(outcome, &signed));
    }
    outcome.ok = true;
    outcome.head = previous.filter(|_| outcome.checked > 0);
    outcome.unsigned_events = match (&signed.last, query.to_seq) {
        (_, Some(_)) => 0,
        (Some(last), None) => to - last.seq,
        (None, None) => to - from + 1,
    };
    Ok(finish(outcome, &signed))
}

/// A signed statement of the chain's head.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = AuditCheckpoint)]
pub struct CheckpointView {
    /// 1, 2, 3, … without gaps.
    pub number: i64,
    /// The last event it covers.
    pub seq: i64,
    /// That event's hash.
    pub hash: String,
    /// When it was signed, exactly as signed: UTC, six fractional digits.
    #[schema(value_type = String, format = DateTime, example = "2026-11-30T08:15:02.120000Z")]
    pub signed_at: String,
    /// The id of the key that signed it (see `/audit-events/signing-keys`).
    pub key_id: String,
    /// Ed25519 (RFC 8032) over the statement's text, 128 hex digits; the README gives
    /// the text line by line.
    pub signature: String,
}

/// A page of a list of Checkpoint records.
pub type CheckpointPage = crate::api::page::Page<CheckpointView>;

impl From<Checkpoint> for CheckpointView {
    fn from(checkpoint: Checkpoint) -> Self {
        Self {
            number: checkpoint.number,
            seq: checkpoint.seq,
            hash: checkpoint.hash,
            signed_at: timestamp(checkpoint.signed_at),
            key_id: checkpoint.key_id,
            signature: checkpoint.signature,
        }
    }
}

const CHECKPOINT_LIST: cursor::Kind = cursor::Kind::Page("audit-checkpoints");

/// The signed checkpoints of the trail, oldest first.
///
/// Each states the chain's hash at one `seq`, signed with the service's Ed25519 key. The
/// service signs at least every `AUDIT_CHECKPOINT_SECS` while events arrive and at every
/// 10,000 events. Keep the newest one you have seen: nobody without the key can make a
/// trail that agrees with it and differs from the one it signed.
#[utoipa::path(
    tag = "audit",
    params(HistoryQuery),
    responses((status = 200, description = "A page of checkpoints", body = CheckpointPage)),
)]
#[get("/checkpoints")]
async fn list_audit_checkpoints(
    caller: Caller,
    pool: Db,
    query: web::Query<HistoryQuery>,
) -> Result<web::Json<Page<CheckpointView>>, ApiError> {
    caller.require(TRAIL_READERS, "reading the audit trail's checkpoints")?;
    let query = query.into_inner();
    let limit = limit(query.limit)?;
    let after = match query.cursor.as_deref() {
        None => 0,
        Some(text) => {
            crate::api::page::check_cursor_shape(text)?;
            cursor::open(CHECKPOINT_LIST, text)
                .and_then(|text| URL_SAFE_NO_PAD.decode(text).ok())
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .and_then(|text| text.strip_prefix("number:")?.parse().ok())
                .ok_or_else(|| ApiError::unknown("cursor", "is not a cursor of this list"))?
        }
    };
    let mut conn = pool.conn().await?;
    let mut checkpoints = checkpoints::list(&mut conn, after, None, None, limit + 1).await?;
    let next_cursor = if checkpoints.len() > usize::try_from(limit).unwrap_or(usize::MAX) {
        checkpoints.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        checkpoints.last().map(|checkpoint| {
            cursor::seal(
                CHECKPOINT_LIST,
                &URL_SAFE_NO_PAD.encode(format!("number:{}", checkpoint.number)),
            )
        })
    } else {
        None
    };
    Ok(web::Json(Page {
        items: checkpoints.into_iter().map(CheckpointView::from).collect(),
        next_cursor,
    }))
}

/// A public key that signs, or signed, the trail's checkpoints.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = AuditSigningKey)]
pub struct SigningKeyView {
    /// `ed25519:` and the first 16 hex digits of SHA-256 over the key's 32 bytes.
    pub key_id: String,
    /// Always `Ed25519`.
    pub algorithm: &'static str,
    /// The 32-byte public key, standard base64.
    pub public_key: String,
    /// When the key was first used by a service on this database.
    pub valid_from: DateTime<Utc>,
    /// When a newer key signed its first checkpoint; `null` while this key is the newest.
    /// Its own checkpoints stay verifiable with it.
    pub valid_until: Option<DateTime<Utc>>,
    /// The first and last checkpoint it signed, if any.
    pub first_checkpoint: Option<i64>,
    pub last_checkpoint: Option<i64>,
}

/// A page of a list of SigningKey records.
pub type SigningKeyPage = crate::api::page::Page<SigningKeyView>;

/// The public keys of the trail's checkpoints, oldest first, old keys included.
///
/// Take a key's id and public key from the operator, not only from here: this list comes
/// from the database the checkpoints protect.
#[utoipa::path(
    tag = "audit",
    responses((status = 200, description = "Every key that has signed or signs", body = SigningKeyPage)),
)]
#[get("/signing-keys")]
async fn list_audit_signing_keys(
    _: web::Query<crate::api::http::NoQuery>,
    caller: Caller,
    pool: Db,
) -> Result<web::Json<Page<SigningKeyView>>, ApiError> {
    caller.require(TRAIL_READERS, "reading the audit trail's signing keys")?;
    let mut conn = pool.conn().await?;
    let keys = checkpoints::keys(&mut conn).await?;
    let items = keys
        .into_iter()
        .map(|key| SigningKeyView {
            public_key: base64::engine::general_purpose::STANDARD.encode(&key.public_key),
            key_id: key.key_id,
            algorithm: "Ed25519",
            valid_from: key.registered_at,
            valid_until: key.superseded_at,
            first_checkpoint: key.first_checkpoint,
            last_checkpoint: key.last_checkpoint,
        })
        .collect();
    Ok(web::Json(Page {
        items,
        next_cursor: None,
    }))
}

/// What an erasure erased.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = AuditErasure)]
pub struct Erasure {
    pub seq: i64,
    /// The fields whose value and salt were erased now (`after.phone`, …); empty when
    /// none was left.
    pub erased: Vec<String>,
}

/// Erase the contact values behind one event's commitments.
///
/// For a member's request or a retention rule: the values and salts that open event
/// `seq`'s commitments are deleted. The event, its commitments and its hash stay, so the
/// chain and `verify` are untouched; the erasure is itself an event of the trail
/// (`erase_contacts` on `audit_event` `seq`). Erasing again erases nothing and adds no
/// event. The member's record keeps its contact data: change it there. Administrators
/// only.
#[utoipa::path(
    tag = "audit",
    params(("seq" = i64, Path, description = "The event's seq", minimum = 1)),
    responses(
        (status = 200, description = "The fields erased", body = Erasure),
        (status = 404, description = "No such event", body = crate::error::Problem,
            content_type = "application/problem+json"),
    ),
)]
#[post("/{seq}/erase-contacts")]
async fn erase_audit_openings(
    caller: Caller,
    pool: Db,
    path: web::Path<i64>,
) -> Result<web::Json<Erasure>, ApiError> {
    caller.require(ADMINS, "erasing contact data from the audit trail")?;
    let seq = path.into_inner();
    let actor = caller.actor();
    let mut conn = sealed(&pool).await?;
    let erased = conn
        .write(async move |conn| {
            let event = db::find(conn, seq)
                .await?
                .ok_or_else(|| ApiError::not_found("audit event"))?;
            let erased = db::erase_openings(conn, seq).await?;
            if !erased.is_empty() {
                let change =
                    Change::new("erase_contacts", Entity::AuditEvent, seq, event.district_id)
                        .after(&serde_json::json!({ "seq": seq, "erased": erased }));
                db::append(conn, &actor, change).await?;
            }
            Ok::<_, ApiError>(erased)
        })
        .await?;
    Ok(web::Json(Erasure { seq, erased }))
}

/// Paging of a record's history and of the checkpoints: the page size and the previous
/// page's cursor.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    #[param(min_length = 1, pattern = r"^[A-Za-z0-9_-]+$")]
    pub cursor: Option<String>,
}

/// The trail of one record, oldest first; 404 when the caller's scope holds none of it.
/// Members' contact data only for callers who may read it ([`contacts::shown_to`]).
pub(crate) async fn history(
    pool: &Db,
    caller: &Caller,
    entity_type: Entity,
    entity_id: String,
    query: HistoryQuery,
) -> Result<web::Json<Page<AuditEventView>>, ApiError> {
    let filter = AuditFilter {
        entity_type: Some(entity_type.as_str().to_owned()),
        entity_id: Some(entity_id),
        district_id: caller.scope().district(),
        ..AuditFilter::default()
    };
    let page = events_page(
        pool,
        filter,
        limit(query.limit)?,
        query.cursor.as_deref(),
        caller,
    )
    .await?;
    if page.items.is_empty() && query.cursor.is_none() {
        return Err(ApiError::not_found(entity_type.as_str()));
    }
    Ok(web::Json(page))
}

/// Wakes the sealer after every successful write (its transaction has committed by the
/// time its answer exists).
pub async fn wake_after_writes(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let writes = !request.method().is_safe();
    let sealer = request.app_data::<web::Data<Sealer>>().cloned();
    let response = next.call(request).await?;
    if let Some(sealer) = sealer.filter(|_| writes && response.status().is_success()) {
        sealer.wake();
    }
    Ok(response)
}
