//! `/api/v1/sync/{collection}`: a district system pushes its records in batches keyed by
//! its own ids, and each record is created, updated, left unchanged, deleted or refused,
//! with set-based SQL: one statement per kind of write for the whole batch.
//!
//! The runner is here: reading, checking, planning and applying a batch for any
//! collection that implements [`Synced`]; each collection's own rules are in a module of
//! its own (`sync/members.rs`, `sync/meetings.rs`, …).

use crate::domain::kinds::Entity;
use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, post, web};
use diesel_async::AsyncPgConnection;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{
    AdditionalProperties, ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, Type,
};
use utoipa::{IntoParams, PartialSchema, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::api::policy::sync;
use crate::api::schema;

use diesel::QueryResult;

use crate::api::auth::Caller;
use crate::api::work::{Db, Write};
use crate::db::Row as _;
use crate::db::audit::{self as audit, Change};
use crate::db::districts::District;
use crate::domain::ids::DistrictId;
use crate::domain::kinds::text_enum;
use crate::domain::values::external_id;
use crate::error::{ApiError, FieldError, Problem};

mod accounts;
mod activities;
mod departments;
mod meetings;
mod members;
mod proposals;
mod workstations;

use accounts::Accounts;
use activities::Activities;
use departments::Departments;
use meetings::Meetings;
use members::Members;
use proposals::Proposals;
use workstations::Workstations;

/// The most records a batch may hold.
pub const MAX_BATCH: usize = 1000;

pub fn configure(config: &mut ServiceConfig) {
    use crate::domain::access::DistrictOf::*;
    config.service(
        utoipa_actix_web::scope("/sync")
            .app_data(crate::api::http::json_config().limit(crate::api::http::MAX_BATCH_BYTES))
            .service(sync(Query, crate::api::changes::get_snapshot))
            .service(sync(Query, sync_members))
            .service(sync(Query, sync_departments))
            .service(sync(Query, sync_workstations))
            .service(sync(Query, sync_activities))
            .service(sync(Query, sync_proposals))
            .service(sync(Query, sync_meetings))
            .service(sync(Query, sync_accounts)),
    );
}

/// A batch of a district system's records.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    /// Up to 1,000 records, each as the collection's create body (without `district_id`),
    /// keyed by the district system's id (for members: `member_no`); `"deleted": true`
    /// deletes the record with that key.
    #[schema(value_type = Vec<Object>, max_items = 1000)]
    pub records: Vec<Value>,
}

/// The schema of a record a collection upserts: `Create`'s (the collection's create
/// body) without the fields `without` names, with the fields of `with` (name, schema,
/// required) added, and `deleted: false` allowed.
pub(crate) fn upsert_schema<Create: PartialSchema>(
    without: &[&str],
    with: Vec<(&str, RefOr<Schema>, bool)>,
) -> Schema {
    let RefOr::T(Schema::Object(mut object)) = Create::schema() else {
        unreachable!("a create body's schema is an object");
    };
    for field in without {
        object.properties.remove(*field);
        object.required.retain(|required| required != field);
    }
    for (field, schema, required) in with {
        object.properties.insert(field.to_owned(), schema);
        if required {
            object.required.push(field.to_owned());
        }
    }
    object.required.sort();
    object.properties.insert(
        "deleted".to_owned(),
        ObjectBuilder::new()
            .schema_type(Type::Boolean)
            .enum_values(Some([false]))
            .description(Some("Absent or `false`: the record is created or updated."))
            .into(),
    );
    object.description = None;
    Schema::Object(object)
}

/// The schema of a deletion: the record's key and `deleted: true`, nothing else.
fn deletion_schema<C: Synced>() -> Schema {
    ObjectBuilder::new()
        .property(C::KEY, C::key_schema())
        .property(
            "deleted",
            ObjectBuilder::new()
                .schema_type(Type::Boolean)
                .enum_values(Some([true])),
        )
        .required(C::KEY)
        .required("deleted")
        .additional_properties(Some(AdditionalProperties::FreeForm(false)))
        .description(Some(format!(
            "Deletes the district's record with this {}.",
            C::KEY
        )))
        .into()
}

/// A batch of one collection: its records, each an upsert or a deletion.
fn batch_schema(stem: &str) -> Schema {
    let record = OneOfBuilder::new()
        .item(schema::named(&format!("Synced{stem}")))
        .item(schema::named(&format!("{stem}Deletion")));
    ObjectBuilder::new()
        .property(
            "records",
            ArrayBuilder::new()
                .items(record)
                .max_items(Some(MAX_BATCH))
                .description(Some("Up to 1,000 records.")),
        )
        .required("records")
        .additional_properties(Some(AdditionalProperties::FreeForm(false)))
        .description(Some(format!(
            "A batch of a district system's {} records.",
            stem.to_lowercase()
        )))
        .into()
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
            return Err(ApiError::rule(
                "district_id",
                "is required with a key of no district",
            ));
        }
    };
    crate::db::districts::find_for_reference(conn, id)
        .await?
        .ok_or_else(|| ApiError::not_found("district"))
}

macro_rules! sync_endpoint {
    ($name:ident, $path:literal, $collection:ty, $batch:ident, $stem:literal, $doc:literal) => {
        /// The body of a batch of this collection, as the document describes it (the
        /// handler reads the records one by one, so each refusal is that record's).
        pub struct $batch;

        impl PartialSchema for $batch {
            fn schema() -> RefOr<Schema> {
                batch_schema($stem).into()
            }
        }

        impl ToSchema for $batch {
            fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
                schemas.push((
                    "ExternalId".to_owned(),
                    crate::domain::values::ExternalId::schema(),
                ));
                schemas.push((
                    format!("Synced{}", $stem),
                    <$collection as Synced>::upsert_schema().into(),
                ));
                schemas.push((
                    format!("{}Deletion", $stem),
                    deletion_schema::<$collection>().into(),
                ));
            }
        }

        #[doc = $doc]
        #[utoipa::path(
            tag = "sync",
            params(SyncQuery),
            request_body = $batch,
            responses(
                (status = 200, description = "Every record applied (or, in a dry run, would be)", body = BatchResult),
                (status = 207, description = "Some records refused (each with its problem); the others applied", body = BatchResult),
                (status = 422, description = "An atomic batch with refused records: nothing applied (the results); or a request that cannot be used: no `district_id` with a key of no district, an `Idempotency-Key` first sent with another request (problem details)",
                    content((BatchResult = "application/json"), (Problem = "application/problem+json"))),
                (status = 404, description = "No such district, or another than the key's", body = Problem, content_type = "application/problem+json"),
                (status = 413, description = "The body is larger than 4 MiB", body = Problem, content_type = "application/problem+json"),
            ),
        )]
        #[post($path)]
        async fn $name(
            caller: Caller,
            pool: Db,
            query: web::Query<SyncQuery>,
            body: crate::api::http::Json<Batch>,
        ) -> Result<HttpResponse, ApiError> {
            run::<$collection>(&pool, caller, query.into_inner(), body.into_inner().records).await
        }
    };
}

sync_endpoint!(
    sync_members,
    "/members",
    Members,
    MemberBatch,
    "Member",
    "Upsert or delete members by `member_no`: each record is a member's create body \
     without `district_id`."
);
sync_endpoint!(
    sync_accounts,
    "/accounts",
    Accounts,
    AccountBatch,
    "Account",
    "Upsert or delete the district's people by `external_id`: each record is an \
     account's create body without `district_id`, naming its member by `member_no` and its \
     unit by `department_external_id`; roles `member`, `unit` and `leaders_office` only. An \
     account's role is fixed (a record changing it is refused, 409); a deleted account can \
     no longer act."
);
sync_endpoint!(
    sync_departments,
    "/departments",
    Departments,
    DepartmentBatch,
    "Department",
    "Upsert or delete departments by `external_id`: each record is a department's create \
     body without `district_id`, plus `external_id`."
);
sync_endpoint!(
    sync_workstations,
    "/workstations",
    Workstations,
    WorkstationBatch,
    "Workstation",
    "Upsert or delete workstations by `external_id`: each record is a workstation's create \
     body without `district_id`, plus `external_id`, with the convenor named by \
     `convenor_member_no` (a live member of the district). A workstation with activities \
     is not deleted."
);

sync_endpoint!(
    sync_activities,
    "/activities",
    Activities,
    ActivityBatch,
    "Activity",
    "Upsert or delete workstation activities by `external_id`: each record is an \
     activity's create body plus `external_id`, with its workstation named by \
     `workstation_external_id` and its participants by `participant_member_nos` (live \
     members of the district)."
);

sync_endpoint!(
    sync_meetings,
    "/meetings",
    Meetings,
    MeetingBatch,
    "Meeting",
    "Upsert or delete meetings by `external_id`: each record is a meeting's create body \
     without `district_id`, plus `external_id` and its whole `attendance`, a list of \
     `{member_no, status, note}` (live members of the district, each once; absent means \
     nobody's attendance is recorded)."
);

sync_endpoint!(
    sync_proposals,
    "/proposals",
    Proposals,
    ProposalBatch,
    "Proposal",
    "Upsert or delete draft proposals by `external_id`: each record is a draft's create \
     body without `district_id`, plus `external_id`, with the lead member named by \
     `lead_member_no`. A proposal past its draft is neither changed nor deleted (409 in \
     its result): its workflow moves stay actions."
);

/// A collection district systems sync by their own key.
pub(crate) trait Synced: Send + Sync {
    type Row: crate::db::Row;
    type Fields: Clone + PartialEq + Send + Sync;
    /// What reading a batch's records needs, loaded once per batch.
    type Context: Send + Sync;
    /// The record type in the audit trail.
    const ENTITY: Entity;
    /// The field of a record holding the district system's key.
    const KEY: &'static str;

    /// The key as a deletion names it, checked (by default an external id).
    fn check_key(key: &str) -> Result<String, String> {
        external_id(key)
    }

    /// The schema of the key (by default an external id's).
    fn key_schema() -> RefOr<Schema> {
        schema::named("ExternalId")
    }

    /// The schema of a record to create or update: the collection's create body as a
    /// district system gives it (see [`upsert_schema`]).
    fn upsert_schema() -> Schema;

    fn context(
        conn: &mut AsyncPgConnection,
        district: &District,
        records: &[Value],
    ) -> impl Future<Output = Result<Self::Context, ApiError>> + Send;

    /// Reads one record (its `deleted` taken off) into the fields to store; the checks
    /// needing the database are made once per batch, in `context`.
    fn read(
        conn: &mut AsyncPgConnection,
        record: Value,
        context: &Self::Context,
    ) -> impl Future<Output = Result<Self::Fields, ApiError>> + Send;

    fn key_of(row: &Self::Row) -> String;
    fn fields_of(row: &Self::Row) -> Self::Fields;

    /// The name a record must hold alone among the district's live records, if any.
    fn unique_name(_fields: &Self::Fields) -> Option<&str> {
        None
    }

    /// The ids of the district's live records holding these names.
    fn names_taken(
        _conn: &mut AsyncPgConnection,
        _district: DistrictId,
        _names: &[String],
    ) -> impl Future<Output = QueryResult<Vec<(String, uuid::Uuid)>>> + Send {
        std::future::ready(Ok(Vec::new()))
    }

    /// Why a row may not be changed by sync to `fields`, if it may not.
    fn frozen(_row: &Self::Row, _fields: &Self::Fields) -> Option<ApiError> {
        None
    }

    /// What the audit form of the rows needs besides them (read once per batch).
    type AuditContext: Send + Sync;

    fn audit_context(
        conn: &mut AsyncPgConnection,
        rows: &[&Self::Row],
    ) -> impl Future<Output = Result<Self::AuditContext, ApiError>> + Send;

    /// The record as the audit trail keeps it.
    fn audited(row: &Self::Row, context: &Self::AuditContext) -> Value;

    /// The live rows of `district` with these keys, locked until the transaction ends.
    fn lock(
        conn: &mut AsyncPgConnection,
        district: DistrictId,
        keys: &[String],
    ) -> impl Future<Output = QueryResult<Vec<Self::Row>>> + Send;

    /// Creates or replaces rows by key, in one statement.
    fn upsert(
        conn: &mut AsyncPgConnection,
        district: DistrictId,
        rows: Vec<(uuid::Uuid, String, Self::Fields)>,
    ) -> impl Future<Output = QueryResult<Vec<Self::Row>>> + Send;

    /// The rows that may not be deleted, with why (by default, none).
    fn undeletable(
        _conn: &mut AsyncPgConnection,
        _rows: &[Self::Row],
    ) -> impl Future<Output = Result<HashMap<uuid::Uuid, ApiError>, ApiError>> + Send {
        std::future::ready(Ok(HashMap::new()))
    }

    /// Deletes rows; answers the changes it made to other records.
    fn delete(
        conn: &mut AsyncPgConnection,
        district: DistrictId,
        rows: &[Self::Row],
    ) -> impl Future<Output = Result<Vec<Change>, ApiError>> + Send;
}

/// An external id: 1 to 64 letters, digits, `.`, `_`, `/`, `:` or `-`.
/// Takes the external id off a record: the batch's key for collections other than
/// members.
fn take_external_id(record: &mut Value) -> Result<String, ApiError> {
    let key = record
        .as_object_mut()
        .and_then(|object| object.remove("external_id"));
    match key {
        Some(Value::String(key)) => {
            external_id(&key).map_err(|reason| ApiError::invalid("/external_id", reason))
        }
        None => Err(ApiError::required("/external_id")),
        Some(_) => Err(ApiError::invalid(
            "/external_id",
            "must be a string: the district system's id of the record",
        )),
    }
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

async fn read<C: Synced>(
    conn: &mut AsyncPgConnection,
    mut record: Value,
    context: &C::Context,
) -> Read<C::Fields> {
    let key = record
        .get(C::KEY)
        .and_then(Value::as_str)
        .map(str::to_owned);
    let deleted = match deletion(&mut record) {
        Ok(deleted) => deleted,
        Err(error) => return Read::Refused { key, error },
    };
    if deleted {
        let others = record.as_object().map_or(0, |object| {
            object.keys().filter(|field| *field != C::KEY).count()
        });
        if others > 0 {
            return Read::Refused {
                key,
                error: ApiError::invalid(
                    "",
                    format!(
                        "a deletion holds only the record's {} and `deleted`",
                        C::KEY
                    ),
                ),
            };
        }
        let pointer = format!("/{}", C::KEY);
        return match key.as_deref().map(C::check_key) {
            Some(Ok(key)) => Read::Delete { key },
            Some(Err(reason)) => Read::Refused {
                key,
                error: ApiError::invalid(&pointer, reason),
            },
            None if record.get(C::KEY).is_some() => Read::Refused {
                key,
                error: ApiError::invalid(&pointer, "must be a string"),
            },
            None => Read::Refused {
                key,
                error: ApiError::required(&pointer),
            },
        };
    }
    match C::read(conn, record, context).await {
        Ok(fields) => match key {
            Some(key) => Read::Upsert { key, fields },
            None => Read::Refused {
                key: None,
                error: ApiError::required(&format!("/{}", C::KEY)),
            },
        },
        Err(error) => Read::Refused { key, error },
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
                error: ApiError::rule(
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

/// What the batch does with one record.
enum Step<C: Synced> {
    Create {
        id: uuid::Uuid,
        key: String,
        fields: C::Fields,
    },
    Update {
        row: C::Row,
        fields: C::Fields,
    },
    Unchanged {
        row: C::Row,
    },
    Delete {
        row: C::Row,
    },
    /// A deletion of a record the district does not have (any more): nothing to do.
    Absent {
        key: String,
    },
    Refused {
        key: Option<String>,
        error: ApiError,
    },
}

impl<C: Synced> Step<C> {
    /// The record's result before anything is written.
    fn result(&self, index: usize) -> RecordResult {
        let (key, status, id, version) = match self {
            Self::Create { key, .. } => (key.clone(), SyncOutcome::Created, None, None),
            Self::Update { row, .. } => (
                C::key_of(row),
                SyncOutcome::Updated,
                Some(row.id().into()),
                None,
            ),
            Self::Unchanged { row } => (
                C::key_of(row),
                SyncOutcome::Unchanged,
                Some(row.id().into()),
                Some(row.version()),
            ),
            Self::Delete { row } => (
                C::key_of(row),
                SyncOutcome::Deleted,
                Some(row.id().into()),
                Some(row.version()),
            ),
            Self::Absent { key } => (key.clone(), SyncOutcome::Unchanged, None, None),
            Self::Refused { key, error } => return refused(index, key.clone(), error),
        };
        RecordResult {
            index,
            external_id: Some(key),
            status,
            id,
            version,
            problem: None,
        }
    }
}

/// Reads, checks and (unless it is a dry run or a refused atomic batch) applies a batch.
async fn run<C: Synced>(
    pool: &Db,
    caller: Caller,
    query: SyncQuery,
    records: Vec<Value>,
) -> Result<HttpResponse, ApiError> {
    if records.len() > MAX_BATCH {
        return Err(ApiError::invalid(
            "/records",
            format!("a batch holds at most {MAX_BATCH} records"),
        ));
    }
    // Records that are not even objects are a malformed batch, refused whole; a record's
    // fields are checked record by record.
    let malformed: Vec<FieldError> = records
        .iter()
        .enumerate()
        .filter(|(_, record)| !record.is_object())
        .map(|(index, _)| FieldError::invalid(format!("/records/{index}"), "must be a JSON object"))
        .collect();
    if !malformed.is_empty() {
        return Err(ApiError::Validation(malformed));
    }
    let atomic = query.atomic.unwrap_or(false);
    let dry_run = query.dry_run.unwrap_or(false);
    let mut conn = pool.conn().await?;
    let result = conn
        .write_again(async |conn| {
            let district = district_of(conn, &caller, query.district_id).await?;
            let context = C::context(conn, &district, &records).await?;
            let mut reads = Vec::with_capacity(records.len());
            for record in &records {
                reads.push(read::<C>(conn, record.clone(), &context).await);
            }
            refuse_repeats(&mut reads, &format!("/{}", C::KEY));
            let keys: Vec<String> = reads
                .iter()
                .filter_map(|read| match read {
                    Read::Upsert { key, .. } | Read::Delete { key } => Some(key.clone()),
                    Read::Refused { .. } => None,
                })
                .collect();
            let existing: HashMap<String, C::Row> = C::lock(conn, district.id, &keys)
                .await?
                .into_iter()
                .map(|row| (C::key_of(&row), row))
                .collect();
            let doomed: Vec<C::Row> = reads
                .iter()
                .filter_map(|read| match read {
                    Read::Delete { key } => existing.get(key).cloned(),
                    _ => None,
                })
                .collect();
            let mut undeletable = C::undeletable(conn, &doomed).await?;
            let mut plan: Vec<Step<C>> = reads
                .into_iter()
                .map(|read| plan(read, &existing, &mut undeletable))
                .collect();
            refuse_taken_names(conn, district.id, &mut plan).await?;
            let refused_any = plan.iter().any(|step| matches!(step, Step::Refused { .. }));
            if dry_run || (atomic && refused_any) {
                let results = plan.iter().enumerate().map(|(i, s)| s.result(i)).collect();
                return Ok::<_, ApiError>(BatchResult::new(results, dry_run, false));
            }
            let results = apply::<C>(conn, &caller, district.id, plan).await?;
            Ok(BatchResult::new(results, false, true))
        })
        .await?;
    Ok(HttpResponse::build(status_of(&result, atomic)).json(result))
}

/// Refuses the creates and updates whose name another live record of the district holds,
/// or an earlier record of the batch takes.
async fn refuse_taken_names<C: Synced>(
    conn: &mut AsyncPgConnection,
    district: DistrictId,
    plan: &mut [Step<C>],
) -> Result<(), ApiError> {
    let named = |step: &Step<C>| -> Option<(Option<uuid::Uuid>, String)> {
        match step {
            Step::Create { fields, .. } => Some((None, C::unique_name(fields)?.to_owned())),
            Step::Update { row, fields } => {
                Some((Some(row.id().into()), C::unique_name(fields)?.to_owned()))
            }
            _ => None,
        }
    };
    let names: Vec<String> = plan
        .iter()
        .filter_map(|step| Some(named(step)?.1))
        .collect();
    if names.is_empty() {
        return Ok(());
    }
    let taken: HashMap<String, uuid::Uuid> = C::names_taken(conn, district, &names)
        .await?
        .into_iter()
        .collect();
    let mut claimed: HashMap<String, usize> = HashMap::new();
    for (index, step) in plan.iter_mut().enumerate() {
        let Some((id, name)) = named(step) else {
            continue;
        };
        let detail = match (taken.get(&name), claimed.get(&name)) {
            (_, Some(earlier)) => Some(format!(
                "is taken by an earlier record of the batch, at /records/{earlier}"
            )),
            (Some(holder), None) if Some(*holder) != id => {
                Some("another live record of the district has this name".to_owned())
            }
            _ => None,
        };
        match detail {
            Some(detail) => {
                let key = step.result(index).external_id;
                *step = Step::Refused {
                    key,
                    error: ApiError::Conflict {
                        detail: format!("/name: {detail}"),
                        errors: vec![FieldError::taken("/name", detail)],
                    },
                };
            }
            None => {
                claimed.insert(name, index);
            }
        }
    }
    Ok(())
}

fn plan<C: Synced>(
    read: Read<C::Fields>,
    existing: &HashMap<String, C::Row>,
    undeletable: &mut HashMap<uuid::Uuid, ApiError>,
) -> Step<C> {
    match read {
        Read::Upsert { key, fields } => match existing.get(&key) {
            None => Step::Create {
                id: uuid::Uuid::now_v7(),
                key,
                fields,
            },
            Some(row) if C::fields_of(row) == fields => Step::Unchanged { row: row.clone() },
            Some(row) => match C::frozen(row, &fields) {
                Some(error) => Step::Refused {
                    key: Some(key),
                    error,
                },
                None => Step::Update {
                    row: row.clone(),
                    fields,
                },
            },
        },
        Read::Delete { key } => match existing.get(&key) {
            Some(row) => match undeletable.remove(&row.id().into()) {
                Some(error) => Step::Refused {
                    key: Some(key),
                    error,
                },
                None => Step::Delete { row: row.clone() },
            },
            None => Step::Absent { key },
        },
        Read::Refused { key, error } => Step::Refused { key, error },
    }
}

/// Writes a planned batch: one upsert, one deletion, one audit append.
async fn apply<C: Synced>(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    district: DistrictId,
    plan: Vec<Step<C>>,
) -> Result<Vec<RecordResult>, ApiError> {
    let mut upserts: Vec<(uuid::Uuid, String, C::Fields)> = plan
        .iter()
        .filter_map(|step| match step {
            Step::Create { id, key, fields } => Some((*id, key.clone(), fields.clone())),
            Step::Update { row, fields } => Some((row.id().into(), C::key_of(row), fields.clone())),
            _ => None,
        })
        .collect();
    // Rows are written in key order, as they were locked: two batches writing the same
    // keys in different orders never wait on each other in a cycle.
    upserts.sort_by(|a, b| a.1.cmp(&b.1));
    let written: HashMap<String, C::Row> = C::upsert(conn, district, upserts)
        .await?
        .into_iter()
        .map(|row| (C::key_of(&row), row))
        .collect();
    let doomed: Vec<C::Row> = plan
        .iter()
        .filter_map(|step| match step {
            Step::Delete { row } => Some(row.clone()),
            _ => None,
        })
        .collect();
    let caused = C::delete(conn, district, &doomed).await?;
    let mut audited: Vec<&C::Row> = written.values().chain(doomed.iter()).collect();
    audited.extend(plan.iter().filter_map(|step| match step {
        Step::Update { row, .. } => Some(row),
        _ => None,
    }));
    let context = C::audit_context(conn, &audited).await?;

    let mut changes = Vec::new();
    let mut results = Vec::with_capacity(plan.len());
    for (index, step) in plan.iter().enumerate() {
        let mut result = step.result(index);
        let (key, before, generated) = match step {
            Step::Create { id, key, .. } => (key.clone(), None, Some(*id)),
            Step::Update { row, .. } => (C::key_of(row), Some(row), None),
            Step::Delete { row } => {
                changes.push(
                    Change::new("delete", C::ENTITY, row.id().into(), Some(district))
                        .before(&C::audited(row, &context)),
                );
                results.push(result);
                continue;
            }
            Step::Unchanged { .. } | Step::Absent { .. } | Step::Refused { .. } => {
                results.push(result);
                continue;
            }
        };
        let row = written
            .get(&key)
            .ok_or_else(|| ApiError::Internal("an upserted record was not returned".into()))?;
        result.id = Some(row.id().into());
        result.version = Some(row.version());
        // A key another writer created after this batch read it was updated in place.
        let raced = generated.is_some_and(|id| id != row.id().into());
        if raced {
            result.status = SyncOutcome::Updated;
        }
        let change = match before {
            Some(before) => Change::new("update", C::ENTITY, row.id().into(), Some(district))
                .before(&C::audited(before, &context)),
            None if raced => Change::new("update", C::ENTITY, row.id().into(), Some(district)),
            None => Change::new("create", C::ENTITY, row.id().into(), Some(district)),
        };
        changes.push(change.after(&C::audited(row, &context)));
        results.push(result);
    }
    changes.extend(caused);
    audit::append_all(conn, &caller.actor(), changes).await?;
    Ok(results)
}

fn json_of(record: impl Serialize) -> Value {
    serde_json::to_value(record).unwrap_or(Value::Null)
}

/// Takes a string field off a record.
fn take_text(record: &mut Value, field: &str) -> Result<Option<String>, ApiError> {
    match record
        .as_object_mut()
        .and_then(|object| object.remove(field))
    {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(ApiError::invalid(&format!("/{field}"), "must be a string")),
    }
}

/// Refuses a field a synced record names by the district system's keys instead.
fn refuse_field(record: &Value, field: &str, instead: &str) -> Result<(), ApiError> {
    if record.get(field).is_some() {
        return Err(ApiError::invalid(
            &format!("/{field}"),
            format!("a synced record gives {instead} instead"),
        ));
    }
    Ok(())
}
