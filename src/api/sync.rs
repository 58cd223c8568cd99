//! `/api/v1/sync/{collection}`: a district system pushes its records in batches keyed by
//! its own ids, and each record is created, updated, left unchanged, deleted or refused,
//! with set-based SQL: one statement per kind of write for the whole batch.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, post, web};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::api::auth::Caller;
use crate::api::input::Checks;
use crate::api::members::{MemberPatch, MemberView, merge};
use crate::db::DbPool;
use crate::db::audit::{self as audit, Change};
use crate::db::members::{self as members, Member, MemberFields};
use crate::domain::ids::{DistrictId, MemberId};
use crate::domain::kinds::text_enum;
use crate::error::{ApiError, FieldError, Problem};

/// The most records a batch may hold.
pub const MAX_BATCH: usize = 1000;
/// The largest batch body accepted.
pub const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;

pub fn configure(config: &mut ServiceConfig) {
    config.service(
        utoipa_actix_web::scope("/sync")
            .app_data(crate::api::http::json_config().limit(MAX_BATCH_BYTES))
            .service(crate::api::changes::get_snapshot)
            .service(sync_members),
    );
}

/// A batch of a district system's records.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    /// Up to 1,000 records, each as the collection's create body (without `district_id`),
    /// keyed by the district system's id (for members: `member_no`); `"deleted": true`
    /// deletes the record with that key.
    #[schema(value_type = Vec<Object>)]
    pub records: Vec<Value>,
}

/// How a batch is applied.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SyncQuery {
    /// Apply all records or none: any refused record rolls the batch back (422).
    /// Otherwise the valid records are applied and the others reported (207).
    pub atomic: Option<bool>,
    /// Check and report without writing anything.
    pub dry_run: Option<bool>,
    /// The district (required for a key without one; a district key syncs its own).
    pub district_id: Option<DistrictId>,
}

text_enum! {
    /// What became of one record of a batch.
    SyncOutcome {
        Created = "created",
        Updated = "updated",
        /// The same content was stored already: nothing written.
        Unchanged = "unchanged",
        Deleted = "deleted",
        /// Refused: `problem` says why.
        Error = "error",
    }
}

/// The result of one record, in the batch's order.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordResult {
    /// Its position in `records`.
    pub index: usize,
    /// The district system's id of the record, when it could be read.
    pub external_id: Option<String>,
    pub status: SyncOutcome,
    /// The record's id here (absent for a refused record, and for a new one in a dry run).
    pub id: Option<uuid::Uuid>,
    /// Its version after the batch.
    pub version: Option<i64>,
    /// Why it was refused; pointers are relative to the record.
    pub problem: Option<Problem>,
}

/// The result of a batch.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchResult {
    /// Nothing was written.
    pub dry_run: bool,
    /// Whether anything was written: false for a dry run and for a refused atomic batch.
    pub applied: bool,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub deleted: usize,
    pub errors: usize,
    pub results: Vec<RecordResult>,
}

impl BatchResult {
    fn new(results: Vec<RecordResult>, dry_run: bool, applied: bool) -> Self {
        let count = |outcome: SyncOutcome| {
            results
                .iter()
                .filter(|result| result.status == outcome)
                .count()
        };
        Self {
            dry_run,
            applied,
            created: count(SyncOutcome::Created),
            updated: count(SyncOutcome::Updated),
            unchanged: count(SyncOutcome::Unchanged),
            deleted: count(SyncOutcome::Deleted),
            errors: count(SyncOutcome::Error),
            results,
        }
    }
}

/// The district a batch writes to.
async fn district_of(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    asked: Option<DistrictId>,
) -> Result<crate::db::districts::District, ApiError> {
    let id = match (caller.scope().district(), asked) {
        (Some(own), Some(asked)) if own != asked => {
            return Err(ApiError::not_found("district"));
        }
        (Some(own), _) => own,
        (None, Some(asked)) => asked,
        (None, None) => {
            return Err(ApiError::BadRequest(
                "district_id is required for a key without a district".into(),
            ));
        }
    };
    crate::db::districts::find_for_reference(conn, id)
        .await?
        .ok_or_else(|| ApiError::not_found("district"))
}

/// One record of a batch, read.
enum Read<F> {
    Upsert {
        key: String,
        fields: F,
    },
    Delete {
        key: String,
    },
    Refused {
        key: Option<String>,
        error: ApiError,
    },
}

/// Splits `deleted` off a record; answers whether it is a deletion.
fn deletion(record: &mut Value) -> Result<bool, ApiError> {
    let Some(object) = record.as_object_mut() else {
        return Err(ApiError::invalid("", "a record must be a JSON object"));
    };
    match object.remove("deleted") {
        None | Some(Value::Bool(false)) => Ok(false),
        Some(Value::Bool(true)) => Ok(true),
        Some(_) => Err(ApiError::invalid("/deleted", "must be true or false")),
    }
}

/// A refused record's result.
fn refused(index: usize, key: Option<String>, error: &ApiError) -> RecordResult {
    RecordResult {
        index,
        external_id: key,
        status: SyncOutcome::Error,
        id: None,
        version: None,
        problem: Some(error.problem()),
    }
}

/// Marks every record whose key came earlier in the batch as refused.
fn refuse_repeats<F>(reads: &mut [Read<F>], pointer: &str) {
    let mut first: HashMap<String, usize> = HashMap::new();
    for (index, read) in reads.iter_mut().enumerate() {
        let key = match read {
            Read::Upsert { key, .. } | Read::Delete { key } => key.clone(),
            Read::Refused { .. } => continue,
        };
        if let Some(earlier) = first.get(&key) {
            *read = Read::Refused {
                error: ApiError::invalid(
                    pointer,
                    format!("appears earlier in the batch, at /records/{earlier}"),
                ),
                key: Some(key),
            };
        } else {
            first.insert(key, index);
        }
    }
}

/// The status of a batch's answer.
fn status_of(result: &BatchResult, atomic: bool) -> StatusCode {
    match (result.errors, atomic) {
        (0, _) => StatusCode::OK,
        (_, true) => StatusCode::UNPROCESSABLE_ENTITY,
        (_, false) => StatusCode::MULTI_STATUS,
    }
}

/// Upsert or delete members by `member_no`.
#[utoipa::path(
    tag = "sync",
    params(SyncQuery),
    request_body = Batch,
    responses(
        (status = 200, description = "Every record applied (or, in a dry run, would be)", body = BatchResult),
        (status = 207, description = "Some records refused (each with its problem); the others applied", body = BatchResult),
        (status = 422, description = "An atomic batch with refused records: nothing applied", body = BatchResult),
        (status = 413, description = "The body is larger than 4 MiB", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/members")]
async fn sync_members(
    caller: Caller,
    pool: web::Data<DbPool>,
    query: web::Query<SyncQuery>,
    body: web::Json<Batch>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let records = body.into_inner().records;
    if records.len() > MAX_BATCH {
        return Err(ApiError::invalid(
            "/records",
            format!("a batch holds at most {MAX_BATCH} records"),
        ));
    }
    let atomic = query.atomic.unwrap_or(false);
    let dry_run = query.dry_run.unwrap_or(false);
    let mut conn = pool.get().await?;
    let result = conn
        .transaction(async move |conn| {
            let district = district_of(conn, &caller, query.district_id).await?;
            audit::lock_chain(conn).await?;
            let codes = crate::db::reference::member_codes(conn).await?;
            let mut reads: Vec<Read<MemberFields>> = records
                .into_iter()
                .map(|record| read_member(record, district.term, &codes))
                .collect();
            refuse_repeats(&mut reads, "/member_no");
            let numbers: Vec<String> = reads
                .iter()
                .filter_map(|read| match read {
                    Read::Upsert { key, .. } | Read::Delete { key } => Some(key.clone()),
                    Read::Refused { .. } => None,
                })
                .collect();
            let existing: HashMap<String, Member> =
                members::lock_by_numbers(conn, district.id, &numbers)
                    .await?
                    .into_iter()
                    .map(|member| (member.member_no.clone(), member))
                    .collect();
            let plan = plan_members(reads, &existing);
            let refused_any = plan
                .iter()
                .any(|step| matches!(step, MemberStep::Refused { .. }));
            if dry_run || (atomic && refused_any) {
                let results = plan.iter().enumerate().map(|(i, s)| s.result(i)).collect();
                return Ok::<_, ApiError>(BatchResult::new(results, dry_run, false));
            }
            let results = apply_members(conn, &caller, district.id, plan, &existing).await?;
            Ok(BatchResult::new(results, false, true))
        })
        .await?;
    Ok(HttpResponse::build(status_of(&result, atomic)).json(result))
}

fn read_member(
    mut record: Value,
    default_term: i32,
    codes: &crate::db::reference::MemberCodes,
) -> Read<MemberFields> {
    let key = record
        .get("member_no")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let deleted = match deletion(&mut record) {
        Ok(deleted) => deleted,
        Err(error) => return Read::Refused { key, error },
    };
    if deleted {
        return match key.as_deref().map(crate::domain::values::member_no) {
            Some(Ok(key)) => Read::Delete { key },
            _ => Read::Refused {
                key,
                error: ApiError::invalid("/member_no", "a deletion names the member's member_no"),
            },
        };
    }
    let patch: MemberPatch = match serde_json::from_value(record) {
        Ok(patch) => patch,
        Err(error) => {
            return Read::Refused {
                key,
                error: ApiError::Validation(vec![FieldError::new("", error.to_string())]),
            };
        }
    };
    let mut checks = Checks::default();
    let fields = merge(&mut checks, patch, None, default_term, codes);
    match checks.finish(fields) {
        Ok(fields) => Read::Upsert {
            key: fields.member_no.clone(),
            fields,
        },
        Err(error) => Read::Refused { key, error },
    }
}

/// What the batch does with one member.
enum MemberStep {
    Create {
        id: MemberId,
        fields: MemberFields,
    },
    Update {
        id: MemberId,
        fields: MemberFields,
    },
    Unchanged {
        member: Box<Member>,
    },
    Delete {
        member: Box<Member>,
    },
    /// A deletion of a member the district does not have (any more): nothing to do.
    Absent {
        key: String,
    },
    Refused {
        key: Option<String>,
        error: ApiError,
    },
}

impl MemberStep {
    /// The record's result before anything is written.
    fn result(&self, index: usize) -> RecordResult {
        let (key, status, id, version) = match self {
            Self::Create { fields, .. } => (
                Some(fields.member_no.clone()),
                SyncOutcome::Created,
                None,
                None,
            ),
            Self::Update { id, fields } => (
                Some(fields.member_no.clone()),
                SyncOutcome::Updated,
                Some(id.0),
                None,
            ),
            Self::Unchanged { member } => (
                Some(member.member_no.clone()),
                SyncOutcome::Unchanged,
                Some(member.id.0),
                Some(member.version),
            ),
            Self::Delete { member } => (
                Some(member.member_no.clone()),
                SyncOutcome::Deleted,
                Some(member.id.0),
                Some(member.version),
            ),
            Self::Absent { key } => (Some(key.clone()), SyncOutcome::Unchanged, None, None),
            Self::Refused { key, error } => return refused(index, key.clone(), error),
        };
        RecordResult {
            index,
            external_id: key,
            status,
            id,
            version,
            problem: None,
        }
    }
}

fn plan_members(
    reads: Vec<Read<MemberFields>>,
    existing: &HashMap<String, Member>,
) -> Vec<MemberStep> {
    reads
        .into_iter()
        .map(|read| match read {
            Read::Upsert { key, fields } => match existing.get(&key) {
                None => MemberStep::Create {
                    id: MemberId::generate(),
                    fields,
                },
                Some(member) if member.fields() == fields => MemberStep::Unchanged {
                    member: Box::new(member.clone()),
                },
                Some(member) => MemberStep::Update {
                    id: member.id,
                    fields,
                },
            },
            Read::Delete { key } => match existing.get(&key) {
                Some(member) => MemberStep::Delete {
                    member: Box::new(member.clone()),
                },
                None => MemberStep::Absent { key },
            },
            Read::Refused { key, error } => MemberStep::Refused { key, error },
        })
        .collect()
}

/// Writes a planned batch: one upsert, one deletion, one audit append.
async fn apply_members(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    district: DistrictId,
    plan: Vec<MemberStep>,
    existing: &HashMap<String, Member>,
) -> Result<Vec<RecordResult>, ApiError> {
    let upserts: Vec<(MemberId, MemberFields)> = plan
        .iter()
        .filter_map(|step| match step {
            MemberStep::Create { id, fields } | MemberStep::Update { id, fields } => {
                Some((*id, fields.clone()))
            }
            _ => None,
        })
        .collect();
    let written: HashMap<MemberId, Member> = members::upsert_all(conn, district, upserts)
        .await?
        .into_iter()
        .map(|member| (member.id, member))
        .collect();
    let deletions: Vec<MemberId> = plan
        .iter()
        .filter_map(|step| match step {
            MemberStep::Delete { member } => Some(member.id),
            _ => None,
        })
        .collect();
    let stations = crate::db::workstations::ids_involving_any(conn, &deletions).await?;
    let stations_before = crate::api::workstations::views(conn, &stations).await?;
    members::soft_delete_all(conn, &deletions).await?;
    let stations_after = crate::api::workstations::views(conn, &stations).await?;

    let mut changes = Vec::new();
    let mut results = Vec::with_capacity(plan.len());
    for (index, step) in plan.iter().enumerate() {
        let mut result = step.result(index);
        match step {
            MemberStep::Create { id, .. } | MemberStep::Update { id, .. } => {
                let member = written.get(id).ok_or_else(|| {
                    ApiError::Internal("an upserted member was not returned".into())
                })?;
                // A number that another writer created meanwhile is updated in place.
                let before = existing.get(&member.member_no);
                result.status = if before.is_some() {
                    SyncOutcome::Updated
                } else {
                    SyncOutcome::Created
                };
                result.id = Some(member.id.0);
                result.version = Some(member.version);
                let action = if before.is_some() { "update" } else { "create" };
                let mut change = Change::new(action, "member", member.id, Some(district))
                    .after(&MemberView::from(member.clone()));
                if let Some(before) = before {
                    change = change.before(&MemberView::from(before.clone()));
                }
                changes.push(change);
            }
            MemberStep::Delete { member } => {
                changes.push(
                    Change::new("delete", "member", member.id, Some(district))
                        .before(&MemberView::from((**member).clone())),
                );
            }
            _ => {}
        }
        results.push(result);
    }
    for before in &stations_before {
        if let Some(after) = stations_after
            .iter()
            .find(|station| station.id == before.id)
            && after.version != before.version
        {
            changes.push(
                Change::new("remove_member", "workstation", before.id, Some(district))
                    .before(before)
                    .after(after),
            );
        }
    }
    audit::append_all(conn, &caller.actor(), changes).await?;
    Ok(results)
}
