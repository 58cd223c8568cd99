//! `/api/v1/key-tasks`: a district committee's yearly key tasks (重点工作), each with the
//! body responsible for it, how far it has come, and dated progress notes.

use crate::domain::kinds::Entity;
use crate::domain::values::FilterText;
use std::collections::HashMap;

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use diesel_async::AsyncPgConnection;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::api::edit::{self, Editable};
use crate::api::policy::{read, write};

use crate::api::audit::{HistoryQuery, record};
use crate::api::auth::Caller;
use crate::api::districts::referenced_district;
use crate::api::http::{
    IfMatch, IfMatchHeader, IfNoneMatch, IfNoneMatchHeader, created_response, updated_response,
};
use crate::api::input::{Checks, Field};
use crate::api::page::{Page, list_query, page};
use crate::api::work::{Db, Write};
use crate::db::audit::Change;
use crate::db::key_tasks::{self as db, KeyTask, KeyTaskFields, KeyTaskFilter, KeyTaskNote};
use crate::domain::calendar::Day;
use crate::domain::calendar::today;
use crate::domain::ids::{DistrictId, KeyTaskId};
use crate::domain::kinds::KeyTaskStatus;
use crate::domain::values::{Line, Paragraph, Year};
use crate::error::{ApiError, Problem, not_found_as};

pub fn configure(config: &mut ServiceConfig) {
    use crate::domain::access::DistrictOf::*;
    config.service(
        utoipa_actix_web::scope("/key-tasks")
            .service(read(Filter, list_key_tasks))
            .service(write(Body, create_key_task))
            .service(read(Path, get_key_task))
            .service(write(Path, update_key_task))
            .service(write(Path, delete_key_task))
            .service(write(Path, note_key_task))
            .service(read(Path, get_key_task_history)),
    );
}

/// A dated progress note on a key task.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct KeyTaskNoteView {
    pub noted_on: NaiveDate,
    pub text: String,
    pub created_at: DateTime<Utc>,
}

impl From<KeyTaskNote> for KeyTaskNoteView {
    fn from(row: KeyTaskNote) -> Self {
        Self {
            noted_on: row.noted_on,
            text: row.text,
            created_at: row.created_at,
        }
    }
}

/// A key task of a district's year (重点工作).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = KeyTask)]
pub struct KeyTaskView {
    pub id: KeyTaskId,
    pub district_id: DistrictId,
    #[schema(example = 2026)]
    pub year: i32,
    #[schema(example = "联系群众、广聚共识")]
    pub title: String,
    /// The body responsible for it (a special committee, the general office, ...).
    #[schema(example = "提案委员会")]
    pub responsible_body: String,
    pub status: KeyTaskStatus,
    pub description: Option<String>,
    /// Progress notes, by the day noted.
    pub notes: Vec<KeyTaskNoteView>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Increases with every change, notes included; sent as the `ETag`.
    pub version: i64,
}

/// A page of a list of KeyTask records.
pub type KeyTaskPage = crate::api::page::Page<KeyTaskView>;

crate::api::http::versioned!(KeyTaskView);

impl KeyTaskView {
    fn new(row: KeyTask, notes: Vec<KeyTaskNoteView>) -> Self {
        Self {
            id: row.id,
            district_id: row.district_id,
            year: row.year,
            title: row.title,
            responsible_body: row.responsible_body,
            status: row.status,
            description: row.description,
            notes,
            created_at: row.created_at,
            updated_at: row.updated_at,
            version: row.version,
        }
    }
}

/// Key tasks with their notes.
pub(crate) async fn views(
    conn: &mut AsyncPgConnection,
    rows: Vec<KeyTask>,
) -> Result<Vec<KeyTaskView>, ApiError> {
    let ids: Vec<KeyTaskId> = rows.iter().map(|row| row.id).collect();
    let mut by_task: HashMap<KeyTaskId, Vec<KeyTaskNoteView>> = HashMap::new();
    for note in db::notes(conn, &ids).await? {
        by_task
            .entry(note.key_task_id)
            .or_default()
            .push(note.into());
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            let notes = by_task.remove(&row.id).unwrap_or_default();
            KeyTaskView::new(row, notes)
        })
        .collect())
}

async fn view(conn: &mut AsyncPgConnection, row: KeyTask) -> Result<KeyTaskView, ApiError> {
    let mut all = views(conn, vec![row]).await?;
    all.pop()
        .ok_or_else(|| ApiError::Internal("a key task vanished".into()))
}

/// A new key task.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKeyTask {
    #[serde(default)]
    #[schema(value_type = DistrictId, required = true)]
    pub district_id: Field<DistrictId>,
    #[serde(default)]
    #[schema(value_type = Year, required = true, example = 2026)]
    pub year: Field<Year>,
    /// Unique among the district's key tasks of the year.
    #[serde(default)]
    #[schema(value_type = Line<200>, required = true, example = "联系群众、广聚共识")]
    pub title: Field<Line<200>>,
    #[serde(default)]
    #[schema(value_type = Line<100>, required = true, example = "提案委员会")]
    pub responsible_body: Field<Line<100>>,
    /// Defaults to `planned`.
    #[serde(default)]
    #[schema(value_type = KeyTaskStatus)]
    pub status: Field<KeyTaskStatus>,
    #[serde(default)]
    #[schema(value_type = Option<Paragraph<5000>>)]
    pub description: Field<Paragraph<5000>>,
}

/// Changes to a key task (JSON Merge Patch: absent fields are kept, `null` clears).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyTaskPatch {
    #[serde(default)]
    #[schema(value_type = Year)]
    pub year: Field<Year>,
    #[serde(default)]
    #[schema(value_type = Line<200>)]
    pub title: Field<Line<200>>,
    #[serde(default)]
    #[schema(value_type = Line<100>)]
    pub responsible_body: Field<Line<100>>,
    #[serde(default)]
    #[schema(value_type = KeyTaskStatus)]
    pub status: Field<KeyTaskStatus>,
    #[serde(default)]
    #[schema(value_type = Option<Paragraph<5000>>)]
    pub description: Field<Paragraph<5000>>,
}

impl NewKeyTask {
    fn split(self) -> (Field<DistrictId>, KeyTaskPatch) {
        let patch = KeyTaskPatch {
            year: self.year,
            title: self.title,
            responsible_body: self.responsible_body,
            status: self.status,
            description: self.description,
        };
        (self.district_id, patch)
    }
}

fn merge(
    checks: &mut Checks,
    patch: KeyTaskPatch,
    current: Option<&KeyTaskFields>,
) -> Option<KeyTaskFields> {
    let c = current;
    let year = checks.required("/year", patch.year, c.map(|c| c.year), |v| Ok(v.into()));
    let title = checks.required("/title", patch.title, c.map(|c| c.title.clone()), |v| {
        Ok(v.into())
    });
    let responsible_body = checks.required(
        "/responsible_body",
        patch.responsible_body,
        c.map(|c| c.responsible_body.clone()),
        |v| Ok(v.into()),
    );
    let status = checks.required(
        "/status",
        patch.status,
        Some(c.map_or(KeyTaskStatus::Planned, |c| c.status)),
        Ok,
    );
    let description = checks.optional(
        "/description",
        patch.description,
        c.and_then(|c| c.description.clone()),
        |v| Ok(v.into()),
    );
    Some(KeyTaskFields {
        year: year?,
        title: title?,
        responsible_body: responsible_body?,
        status: status?,
        description,
    })
}

list_query! {
    /// Filters of the key task list.
    KeyTaskQuery, sort: KeyTaskSort { Created = "created", UpdatedAt = "updated_at", Name = "name" },
    {
        district_id: DistrictId,
        /// The district's code.
        #[param(inline)]
        district: FilterText<40>,
        year: i32,
        status: KeyTaskStatus,
        /// Text in the title or the responsible body.
        #[param(inline)]
        q: FilterText<100>,
    }
}

/// List key tasks (`sort=name` orders by title).
#[utoipa::path(
    tag = "key-tasks",
    params(KeyTaskQuery),
    responses((status = 200, description = "A page of key tasks", body = KeyTaskPage)),
)]
#[get("")]
async fn list_key_tasks(
    caller: Caller,
    pool: Db,
    query: web::Query<KeyTaskQuery>,
) -> Result<web::Json<Page<KeyTaskView>>, ApiError> {
    let query = query.into_inner();
    let request = query.page()?;
    let filter = KeyTaskFilter {
        scope: caller.scope(),
        district_id: query.district_id,
        district_code: query.district.and_then(FilterText::into_filter),
        year: query.year,
        status: query.status,
        q: query.q.and_then(FilterText::into_filter),
    };
    let mut conn = pool.conn().await?;
    let rows = db::list(&mut conn, &filter, &request).await?;
    let live: Vec<KeyTask> = rows
        .iter()
        .filter(|row| row.deleted_at.is_none())
        .cloned()
        .collect();
    let mut full: HashMap<KeyTaskId, KeyTaskView> = views(&mut conn, live)
        .await?
        .into_iter()
        .map(|view| (view.id, view))
        .collect();
    Ok(web::Json(page(rows, &request, |row| {
        full.remove(&row.id)
            .unwrap_or_else(|| KeyTaskView::new(row, Vec::new()))
    })))
}

/// Add a key task to a district's year.
#[utoipa::path(
    tag = "key-tasks",
    request_body = NewKeyTask,
    responses(
        (status = 201, description = "The new key task", body = KeyTaskView,
            headers(("ETag" = String), ("Location" = String, description = "The key task's URL"))),
        (status = 409, description = "The district already has a key task with this title in the year", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
#[post("")]
async fn create_key_task(
    caller: Caller,
    pool: Db,
    body: crate::api::http::Json<NewKeyTask>,
) -> Result<HttpResponse, ApiError> {
    let (district_id, patch) = body.into_inner().split();
    let mut conn = pool.conn().await?;
    let row = conn
        .write(async move |conn| {
            let mut checks = Checks::default();
            let district =
                referenced_district(conn, &mut checks, district_id, caller.scope()).await?;
            let fields = merge(&mut checks, patch, None);
            let (district, fields) = checks.finish(district.zip(fields))?;
            let row = db::insert(conn, district.id, fields).await?;
            let change = Change::new("create", Entity::KeyTask, row.id, Some(district.id));
            record(
                conn,
                &caller,
                change.after(&KeyTaskView::new(row.clone(), Vec::new())),
            );
            Ok::<_, ApiError>(row)
        })
        .await?;
    let location = format!("/api/v1/key-tasks/{}", row.id);
    Ok(created_response(
        &KeyTaskView::new(row, Vec::new()),
        location,
    ))
}

edit::get_route! {
    /// Get a key task with its notes.
    get_key_task: KeyTask, GET "/{id}",
    tag = "key-tasks", params(("id" = KeyTaskId, Path, description = "The key task's id")), path = KeyTaskId,
    answer = (KeyTaskView, "The key task"),
}

edit::patch_route! {
    /// Change a key task (JSON Merge Patch), its status included.
    update_key_task: KeyTask, PATCH "/{id}",
    tag = "key-tasks", params(("id" = KeyTaskId, Path, description = "The key task's id")), path = KeyTaskId,
    body = KeyTaskPatch, answer = (KeyTaskView, "The changed key task"),
    refused = "The district already has a key task with this title in the year",
}

edit::delete_route! {
    /// Delete a key task.
    delete_key_task: KeyTask, DELETE "/{id}",
    tag = "key-tasks", params(("id" = KeyTaskId, Path, description = "The key task's id")), path = KeyTaskId,
}

impl Editable for KeyTask {
    edit::own!(KeyTaskId, "key task");
    type Patch = KeyTaskPatch;
    type View = KeyTaskView;
    const ENTITY: Entity = Entity::KeyTask;
    type Lists = ();

    async fn merge(
        _conn: &mut AsyncPgConnection,
        checks: &mut Checks,
        _lists: &Self::Lists,
        _parent: &(),
        row: &Self,
        patch: KeyTaskPatch,
    ) -> Result<Option<KeyTaskFields>, ApiError> {
        Ok(merge(checks, patch, Some(&row.fields())))
    }

    async fn view(conn: &mut AsyncPgConnection, row: Self) -> Result<KeyTaskView, ApiError> {
        view(conn, row).await
    }

    /// A change of the task leaves its notes as they were read.
    async fn view_after(
        _conn: &mut AsyncPgConnection,
        row: Self,
        before: &KeyTaskView,
    ) -> Result<KeyTaskView, ApiError> {
        Ok(KeyTaskView::new(row, before.notes.clone()))
    }
}

/// A dated progress note.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyTaskNoteBody {
    /// Defaults to today (Beijing).
    #[serde(default)]
    #[schema(value_type = Day)]
    pub noted_on: Field<Day>,
    #[serde(default)]
    #[schema(value_type = Paragraph<5000>, required = true)]
    pub text: Field<Paragraph<5000>>,
}

/// Add a progress note to a key task.
#[utoipa::path(
    tag = "key-tasks",
    params(("id" = KeyTaskId, Path, description = "The key task's id"), IfMatchHeader),
    request_body = KeyTaskNoteBody,
    responses(
        (status = 200, description = "The key task with the note", body = KeyTaskView, headers(("ETag" = String))),
    ),
)]
#[post("/{id}/notes")]
async fn note_key_task(
    caller: Caller,
    pool: Db,
    path: web::Path<KeyTaskId>,
    condition: IfMatch,
    body: crate::api::http::Json<KeyTaskNoteBody>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let body = body.into_inner();
    let mut checks = Checks::default();
    let noted_on = checks.required("/noted_on", body.noted_on, Some(today()), Day::date);
    let text = checks.required("/text", body.text, None, |v| Ok(v.into()));
    let note = checks.finish(noted_on.zip(text));
    let mut conn = pool.conn().await?;
    let after = conn
        .write(async move |conn| {
            let current = db::lock(conn, id, caller.scope())
                .await
                .map_err(not_found_as("key task"))?;
            condition.check(current.version)?;
            let (noted_on, text) = note?;
            let before = view(conn, current.clone()).await?;
            db::add_note(conn, &current, noted_on, text).await?;
            let row = db::touch(conn, id).await?;
            let after = view(conn, row).await?;
            let change = Change::new("add_note", Entity::KeyTask, id, Some(current.district_id));
            record(conn, &caller, change.before(&before).after(&after));
            Ok::<_, ApiError>(after)
        })
        .await?;
    Ok(updated_response(&after))
}

/// The audit trail of a key task.
#[utoipa::path(
    tag = "key-tasks",
    params(("id" = KeyTaskId, Path, description = "The key task's id"), HistoryQuery),
    responses(
        (status = 200, description = "Its changes, oldest first", body = crate::api::audit::AuditEventPage),
    ),
)]
#[get("/{id}/history")]
async fn get_key_task_history(
    caller: Caller,
    pool: Db,
    path: web::Path<KeyTaskId>,
    query: web::Query<HistoryQuery>,
) -> Result<web::Json<Page<crate::api::audit::AuditEventView>>, ApiError> {
    let id = path.into_inner().to_string();
    crate::api::audit::history(&pool, &caller, Entity::KeyTask, id, query.into_inner()).await
}
