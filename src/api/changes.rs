//! `/api/v1/changes`, the change feed across collections in commit-safe order, and
//! `/api/v1/sync/snapshot`, every current record with the cursor the feed continues from.
//!
//! Both read in one repeatable-read snapshot and pass only rows written by transactions
//! below its horizon (the oldest transaction still running): those are final, and nothing
//! can be written below the horizon later. A record changed twice between two reads is
//! delivered once, in its latest state, at the place of its latest change.

use std::collections::HashMap;

use actix_web::{HttpResponse, get, web};
use diesel::prelude::*;
use diesel_async::{AnsiTransactionManager, AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{
    Discriminator, KnownFormat, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat, Type,
};
use utoipa::{IntoParams, PartialSchema, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::api::policy::read;
use crate::api::schema as schemas;

use crate::api::auth::Caller;
use crate::api::work::Db;
use crate::db::changes::{self as db, Changed};
use crate::db::schema;
use crate::domain::changes::{Collection, Cursor, Refused, collections};
use crate::domain::ids::DistrictId;
use crate::domain::kinds::text_enum;
use crate::error::ApiError;

pub fn configure(config: &mut ServiceConfig) {
    use crate::domain::access::DistrictOf::*;
    config.service(utoipa_actix_web::scope("/changes").service(read(Query, list_changes)));
}

text_enum! {
    /// What happened to a record.
    ChangeOp {
        /// Created or changed: `record` is its state.
        Upsert = "upsert",
        /// Deleted: `record` is absent.
        Delete = "delete",
    }
}

/// One change: a record's latest state at the place of its latest change. Its schema is
/// one per collection (`MemberChange`, …), told apart by `collection`, each with its
/// record's own schema.
#[derive(Debug, Serialize)]
pub struct ChangeEntry {
    /// Pass as `after` to read on from here.
    pub cursor: String,
    pub collection: Collection,
    pub id: uuid::Uuid,
    pub op: ChangeOp,
    pub version: i64,
    /// The record as `GET /{collection}/{id}` answers it; absent for a deletion.
    pub record: Option<Value>,
}

/// The schema name of a collection's records, as its `GET` by id answers them.
fn record_schema(collection: Collection) -> &'static str {
    match collection {
        Collection::Districts => "District",
        Collection::Departments => "Department",
        Collection::Members => "Member",
        Collection::Workstations => "Workstation",
        Collection::Activities => "Activity",
        Collection::Proposals => "Proposal",
        Collection::Consultations => "Consultation",
        Collection::ConsultationActivities => "ConsultationActivity",
        Collection::Evaluations => "Evaluation",
        Collection::EvaluationVisits => "EvaluationVisit",
        Collection::RectificationItems => "RectificationItem",
        Collection::Rulings => "Ruling",
        Collection::Meetings => "Meeting",
        Collection::Reports => "Report",
        Collection::KeyTasks => "KeyTask",
        Collection::Accounts => "Account",
    }
}

/// What a change and a snapshot line of `collection` both hold: the collection, the
/// record's id and version, and the record (`record`, of the collection's own schema).
fn of_collection(collection: Collection, record: impl Into<RefOr<Schema>>) -> ObjectBuilder {
    ObjectBuilder::new()
        .property("collection", schemas::constant(collection.as_str()))
        .property(
            "id",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid))),
        )
        .property("version", i64::schema())
        .property("record", record)
        .required("collection")
        .required("id")
        .required("version")
        .required("record")
}

/// A change of `collection`: `{Record}Change`.
fn change_schema(collection: Collection) -> Schema {
    let record = record_schema(collection);
    let nullable = schemas::or_null(schemas::named(record)).description(Some(format!(
        "The {record} as its `GET` by id answers it; `null` for a deletion."
    )));
    of_collection(collection, nullable)
        .property(
            "cursor",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some("Pass as `after` to read on from here.")),
        )
        .property("op", schemas::named("ChangeOp"))
        .required("cursor")
        .required("op")
        .description(Some(format!("A change of a {record}.")))
        .into()
}

impl PartialSchema for ChangeEntry {
    fn schema() -> RefOr<Schema> {
        let mut one_of = OneOfBuilder::new().description(Some(
            "One change: a record's latest state at the place of its latest change; \
             `collection` says which schema it has.",
        ));
        let mut mapping = Vec::new();
        for &collection in Collection::ALL {
            let name = format!("{}Change", record_schema(collection));
            one_of = one_of.item(schemas::named(&name));
            mapping.push((
                collection.as_str().to_owned(),
                format!("#/components/schemas/{name}"),
            ));
        }
        let mut discriminator = Discriminator::new("collection");
        discriminator.mapping = mapping.into_iter().collect();
        one_of.discriminator(Some(discriminator)).into()
    }
}

impl ToSchema for ChangeEntry {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push(("ChangeOp".to_owned(), ChangeOp::schema()));
        schemas.push(("Collection".to_owned(), Collection::schema()));
        for &collection in Collection::ALL {
            schemas.push((
                format!("{}Change", record_schema(collection)),
                change_schema(collection).into(),
            ));
        }
    }
}

/// A page of the change feed.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangePage {
    pub items: Vec<ChangeEntry>,
    /// The cursor to ask with next (the last item's, or the one asked with when there
    /// are none); store it once the items are applied.
    pub next_cursor: String,
    /// The page is full: ask again at once for more.
    pub has_more: bool,
}

/// What to read of the feed.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ChangesQuery {
    /// The `next_cursor` (or an item's `cursor`) of an earlier read, or a snapshot's
    /// cursor; from the beginning when absent.
    #[param(pattern = r"^[0-9]{1,19}\.[0-9]{1,19}\.[A-Za-z0-9_-]{22}$")]
    pub after: Option<String>,
    /// Page size, 1 to 1,000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// The collections to read, comma-separated (default: all of them).
    #[param(value_type = Option<Vec<Collection>>, style = Form, explode = false, min_items = 1)]
    pub collections: Option<CollectionList>,
    /// Only this district's records (a district key always reads only its own).
    pub district_id: Option<DistrictId>,
}

/// The district a read covers; `None` inside `Some` is every district, and `None` means
/// a district the caller cannot see (nothing to read).
fn district_of(caller: &Caller, asked: Option<DistrictId>) -> Option<Option<DistrictId>> {
    match (caller.scope().district(), asked) {
        (Some(own), Some(asked)) if own != asked => None,
        (Some(own), _) => Some(Some(own)),
        (None, asked) => Some(asked),
    }
}

/// A comma-separated list of collections, as a query parameter (an array in the document,
/// `style: form`, `explode: false`: `members,meetings`).
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub struct CollectionList(String);

fn collections_of(list: Option<&CollectionList>) -> Result<Vec<Collection>, ApiError> {
    collections(list.map(|list| list.0.as_str())).map_err(ApiError::BadRequest)
}

/// Read the changes after a cursor, across collections, in commit-safe order.
///
/// A reader that stores `next_cursor` and asks again gets every change exactly once:
/// changes of transactions still running, and of any that committed after an older one
/// still running, are held back until all older ones have ended.
#[utoipa::path(
    tag = "sync",
    params(ChangesQuery),
    responses((status = 200, description = "A page of changes", body = ChangePage)),
)]
#[get("")]
async fn list_changes(
    caller: Caller,
    pool: Db,
    query: web::Query<ChangesQuery>,
) -> Result<web::Json<ChangePage>, ApiError> {
    let query = query.into_inner();
    let after = match query.after.as_deref() {
        Some(text) => Cursor::parse(text).map_err(|refused| match refused {
            Refused::Shape => ApiError::BadRequest(
                "after must be a cursor of this feed (`txid.seq.signature`)".into(),
            ),
            Refused::Foreign => ApiError::unknown("after", "is not a cursor this feed issued"),
        })?,
        None => Cursor::default(),
    };
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::BadRequest(
            "limit must be between 1 and 1000".into(),
        ));
    }
    let wanted = collections_of(query.collections.as_ref())?;
    let Some(district) = district_of(&caller, query.district_id) else {
        return Ok(web::Json(ChangePage {
            items: Vec::new(),
            next_cursor: after.encode(),
            has_more: false,
        }));
    };
    let mut conn = pool.conn().await?;
    let caller = &caller;
    let page = conn
        .build_transaction()
        .repeatable_read()
        .read_only()
        .run(async move |conn| {
            let horizon = db::horizon(conn).await?;
            let mut changed: Vec<(Collection, Changed)> = Vec::new();
            for collection in &wanted {
                for row in db::changed(conn, *collection, after, horizon, district, limit).await? {
                    changed.push((*collection, row));
                }
            }
            changed.sort_by_key(|(_, row)| row.cursor());
            let limit = usize::try_from(limit).unwrap_or(usize::MAX);
            let has_more = changed.len() >= limit;
            changed.truncate(limit);
            let mut records = HashMap::new();
            for collection in &wanted {
                let ids: Vec<uuid::Uuid> = changed
                    .iter()
                    .filter(|(of, row)| of == collection && !row.deleted)
                    .map(|(_, row)| row.id)
                    .collect();
                if !ids.is_empty() {
                    records.extend(
                        load(conn, caller, *collection, &ids)
                            .await?
                            .into_iter()
                            .map(|(id, record)| ((*collection, id), record)),
                    );
                }
            }
            let next_cursor = changed.last().map_or(after, |(_, row)| row.cursor());
            let items = changed
                .into_iter()
                .map(|(collection, row)| ChangeEntry {
                    cursor: row.cursor().encode(),
                    collection,
                    id: row.id,
                    op: if row.deleted {
                        ChangeOp::Delete
                    } else {
                        ChangeOp::Upsert
                    },
                    version: row.version,
                    record: records.remove(&(collection, row.id)),
                })
                .collect();
            Ok::<_, ApiError>(ChangePage {
                items,
                next_cursor: next_cursor.encode(),
                has_more,
            })
        })
        .await?;
    Ok(web::Json(page))
}

/// One line of a snapshot. Its schema is one per collection (`MemberLine`, …), told apart
/// by `collection`, each with its record's own schema, and the last line's
/// (`SnapshotCursor`).
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SnapshotLine {
    /// A current record.
    Record {
        collection: Collection,
        id: uuid::Uuid,
        version: i64,
        record: Value,
    },
    /// The last line: the feed's cursor this snapshot is consistent with.
    Cursor { cursor: String },
}

fn snapshot_record_schema(collection: Collection) -> Schema {
    let record = record_schema(collection);
    of_collection(collection, schemas::named(record))
        .property("type", schemas::constant("record"))
        .required("type")
        .description(Some(format!("A current {record}.")))
        .into()
}

impl PartialSchema for SnapshotLine {
    fn schema() -> RefOr<Schema> {
        let mut one_of = OneOfBuilder::new().description(Some(
            "One line of a snapshot: a current record (`collection` says which schema it \
             has), or the last line, the cursor.",
        ));
        for &collection in Collection::ALL {
            one_of = one_of.item(schemas::named(&format!(
                "{}Line",
                record_schema(collection)
            )));
        }
        one_of.item(schemas::named("SnapshotCursor")).into()
    }
}

impl ToSchema for SnapshotLine {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        for &collection in Collection::ALL {
            schemas.push((
                format!("{}Line", record_schema(collection)),
                snapshot_record_schema(collection).into(),
            ));
        }
        schemas.push((
            "SnapshotCursor".to_owned(),
            ObjectBuilder::new()
                .property("type", schemas::constant("cursor"))
                .property(
                    "cursor",
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .description(Some("The feed's cursor this snapshot is consistent with.")),
                )
                .required("type")
                .required("cursor")
                .description(Some("The last line of a snapshot."))
                .into(),
        ));
    }
}

/// What a snapshot holds.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SnapshotQuery {
    /// The collections to read, comma-separated (default: all of them), as for the feed.
    #[param(value_type = Option<Vec<Collection>>, style = Form, explode = false, min_items = 1)]
    pub collections: Option<CollectionList>,
    /// Only this district's records (a district key always reads only its own).
    pub district_id: Option<DistrictId>,
}

/// Every current record, then the cursor to follow the feed from: no change is in both
/// the snapshot and the feed after its cursor, and none is in neither.
#[utoipa::path(
    tag = "sync",
    params(SnapshotQuery),
    responses((status = 200, description = "One JSON object per line: the records, then the cursor",
        content((SnapshotLine = "application/x-ndjson")))),
)]
#[get("/snapshot")]
pub(crate) async fn get_snapshot(
    caller: Caller,
    pool: Db,
    query: web::Query<SnapshotQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let wanted = collections_of(query.collections.as_ref())?;
    let district = district_of(&caller, query.district_id);
    let mut conn = pool.conn().await?;
    // Opened here, so a database that cannot be reached is an answer, not a cut stream.
    AnsiTransactionManager::begin_transaction_sql(
        &mut *conn,
        "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
    )
    .await?;
    let horizon = match db::horizon(&mut conn).await {
        Ok(horizon) => horizon,
        Err(error) => {
            crate::api::work::rollback(&mut conn).await;
            return Err(error.into());
        }
    };
    let snapshot = Snapshot {
        conn,
        caller,
        district,
        wanted,
        at: 0,
        after: None,
        horizon,
    };
    let body = futures_util::stream::unfold(Some(snapshot), |snapshot| async move {
        let mut snapshot = snapshot?;
        match snapshot.next().await {
            Ok(Some(lines)) => Some((Ok(lines), Some(snapshot))),
            Ok(None) => None,
            Err(error) => {
                tracing::error!(%error, "a snapshot failed part-way; its stream is cut");
                Some((Err(error), None))
            }
        }
    });
    Ok(HttpResponse::Ok()
        .content_type("application/x-ndjson")
        .streaming(body))
}

/// A snapshot being streamed: one repeatable-read transaction, read a batch at a time, so
/// memory stays flat however large the district is. A stream dropped part-way (the client
/// went away) drops its connection's open transaction with it: the pool never hands out
/// a connection inside a transaction.
struct Snapshot {
    conn: crate::api::work::Conn,
    caller: Caller,
    /// Whose records: `None` when the caller sees none, `Some(None)` every district's.
    district: Option<Option<DistrictId>>,
    wanted: Vec<Collection>,
    /// The collection being read, as an index of `wanted`; past the end, the cursor.
    at: usize,
    /// The last id read of that collection.
    after: Option<uuid::Uuid>,
    horizon: i64,
}

/// Records per batch of a snapshot.
const SNAPSHOT_BATCH: i64 = 500;

impl Snapshot {
    /// The next lines of the snapshot; `None` once its cursor line has been given.
    async fn next(&mut self) -> Result<Option<web::Bytes>, ApiError> {
        let mut lines = Vec::new();
        while let (Some(district), Some(collection)) = (self.district, self.wanted.get(self.at)) {
            let collection = *collection;
            let rows = db::live_below(
                &mut self.conn,
                collection,
                self.horizon,
                district,
                self.after,
                SNAPSHOT_BATCH,
            )
            .await?;
            let Some(last) = rows.last() else {
                self.at += 1;
                self.after = None;
                continue;
            };
            self.after = Some(last.id);
            let ids: Vec<uuid::Uuid> = rows.iter().map(|row| row.id).collect();
            let mut records = load(&mut self.conn, &self.caller, collection, &ids).await?;
            for row in rows {
                let Some(record) = records.remove(&row.id) else {
                    continue;
                };
                line(
                    &mut lines,
                    &SnapshotLine::Record {
                        collection,
                        id: row.id,
                        version: row.version,
                        record,
                    },
                )?;
            }
            return Ok(Some(lines.into()));
        }
        if self.at == usize::MAX {
            return Ok(None);
        }
        self.at = usize::MAX;
        let cursor = Cursor::below(self.horizon).encode();
        line(&mut lines, &SnapshotLine::Cursor { cursor })?;
        crate::api::work::commit(&mut self.conn).await?;
        Ok(Some(lines.into()))
    }
}

fn line(body: &mut Vec<u8>, line: &SnapshotLine) -> Result<(), ApiError> {
    serde_json::to_writer(&mut *body, line)
        .map_err(|error| ApiError::Internal(format!("a snapshot line: {error}")))?;
    body.push(b'\n');
    Ok(())
}

/// The rows of one table with these ids.
macro_rules! rows {
    ($conn:expr, $table:ident, $row:ty, $ids:expr) => {
        schema::$table::table
            .select(<$row>::as_select())
            .filter(schema::$table::id.eq_any($ids))
            .load::<$row>($conn)
            .await?
    };
}

/// The records of `collection` with these ids, as the API shows them to `caller`.
async fn load(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    collection: Collection,
    ids: &[uuid::Uuid],
) -> Result<HashMap<uuid::Uuid, Value>, ApiError> {
    use crate::api;
    let ids = ids.to_vec();
    let views: Result<HashMap<uuid::Uuid, Value>, ApiError> = match collection {
        Collection::Districts => rows!(conn, districts, crate::db::districts::District, ids)
            .into_iter()
            .map(|row| json_of(row.id.0, api::districts::DistrictView::from(row)))
            .collect(),
        Collection::Departments => {
            rows!(conn, departments, crate::db::departments::Department, ids)
                .into_iter()
                .map(|row| json_of(row.id.0, api::departments::DepartmentView::from(row)))
                .collect()
        }
        Collection::Members => rows!(conn, members, crate::db::members::Member, ids)
            .into_iter()
            .map(|row| {
                let view = api::contacts::shown_to(caller, api::members::MemberView::from(row));
                json_of(view.id.0, view)
            })
            .collect(),
        Collection::Workstations => {
            let ids: Vec<_> = ids
                .into_iter()
                .map(crate::domain::ids::WorkstationId)
                .collect();
            api::workstations::views(conn, &ids)
                .await?
                .into_iter()
                .map(|view| json_of(view.id.0, view))
                .collect()
        }
        Collection::Activities => rows!(conn, activities, crate::db::activities::Activity, ids)
            .into_iter()
            .map(|row| json_of(row.id.0, api::activities::ActivityView::from(row)))
            .collect(),
        Collection::Proposals => {
            let rows = rows!(conn, proposals, crate::db::proposals::Proposal, ids);
            api::proposals::views(conn, rows)
                .await?
                .into_iter()
                .map(|view| json_of(view.id.0, view))
                .collect()
        }
        Collection::Consultations => rows!(
            conn,
            consultations,
            crate::db::consultations::Consultation,
            ids
        )
        .into_iter()
        .map(|row| json_of(row.id.0, api::consultations::ConsultationView::from(row)))
        .collect(),
        Collection::ConsultationActivities => rows!(
            conn,
            consultation_activities,
            crate::db::consultations::activities::ConsultationActivity,
            ids
        )
        .into_iter()
        .map(|row| json_of(row.id.0, api::consultations::ActivityView::from(row)))
        .collect(),
        Collection::EvaluationVisits => {
            rows!(conn, evaluation_visits, crate::db::evaluations::Visit, ids)
                .into_iter()
                .map(|row| json_of(row.id.0, api::evaluations::VisitView::from(row)))
                .collect()
        }
        Collection::RectificationItems => {
            let rows = rows!(conn, rectification_items, crate::db::evaluations::Item, ids);
            api::evaluations::item_views(conn, rows)
                .await?
                .into_iter()
                .map(|view| json_of(view.id.0, view))
                .collect()
        }
        Collection::Evaluations => {
            let rows = rows!(conn, evaluations, crate::db::evaluations::Evaluation, ids);
            api::evaluations::views(conn, rows)
                .await?
                .into_iter()
                .map(|view| json_of(view.id.0, view))
                .collect()
        }
        Collection::Rulings => {
            let rows = rows!(conn, rulings, crate::db::rulings::Ruling, ids);
            api::rulings::views(conn, rows)
                .await?
                .into_iter()
                .map(|view| json_of(view.id.0, view))
                .collect()
        }
        Collection::Meetings => {
            let rows = rows!(conn, meetings, crate::db::meetings::Meeting, ids);
            api::meetings::views(conn, rows)
                .await?
                .into_iter()
                .map(|view| json_of(view.id.0, view))
                .collect()
        }
        Collection::Reports => rows!(conn, reports, crate::db::reports::Report, ids)
            .into_iter()
            .map(|row| json_of(row.id.0, api::reports::ReportView::from(row)))
            .collect(),
        Collection::KeyTasks => {
            let rows = rows!(conn, key_tasks, crate::db::key_tasks::KeyTask, ids);
            api::key_tasks::views(conn, rows)
                .await?
                .into_iter()
                .map(|view| json_of(view.id.0, view))
                .collect()
        }
        Collection::Accounts => rows!(conn, accounts, crate::db::accounts::Account, ids)
            .into_iter()
            .map(|row| json_of(row.id.0, api::accounts::AccountView::from(row)))
            .collect(),
    };
    views
}

fn json_of(id: uuid::Uuid, view: impl Serialize) -> Result<(uuid::Uuid, Value), ApiError> {
    serde_json::to_value(view)
        .map(|value| (id, value))
        .map_err(|error| ApiError::Internal(format!("a record of the feed: {error}")))
}
