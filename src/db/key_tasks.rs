//! Queries on a district's yearly key tasks and their progress notes.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::pagination::{PageRequest, page_row, paged};
use crate::db::schema::{key_task_notes, key_tasks};
use crate::domain::ids::{DistrictId, KeyTaskId, KeyTaskNoteId};
use crate::domain::kinds::KeyTaskStatus;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = key_tasks, check_for_backend(diesel::pg::Pg))]
pub struct KeyTask {
    pub id: KeyTaskId,
    pub district_id: DistrictId,
    pub year: i32,
    pub title: String,
    pub responsible_body: String,
    pub status: KeyTaskStatus,
    pub description: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
    pub deleted_at: Option<DateTime<Utc>>,
}

super::record_fields! {
    /// The fields a client sets (the district is fixed at creation).
    pub struct KeyTaskFields for KeyTask in key_tasks {
        pub year: i32,
        pub title: String,
        pub responsible_body: String,
        pub status: KeyTaskStatus,
        pub description: Option<String>,
    }
}

page_row!(KeyTask, Name => title);

/// A dated progress note on a key task.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = key_task_notes, check_for_backend(diesel::pg::Pg))]
pub struct KeyTaskNote {
    pub id: KeyTaskNoteId,
    pub key_task_id: KeyTaskId,
    pub noted_on: NaiveDate,
    pub text: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Default)]
pub struct KeyTaskFilter {
    /// The caller's districts.
    pub scope: crate::domain::access::Scope,
    pub district_id: Option<DistrictId>,
    pub district_code: Option<String>,
    pub year: Option<i32>,
    pub status: Option<KeyTaskStatus>,
    /// Text in the title or the responsible body.
    pub q: Option<String>,
}

#[tracing::instrument(skip_all)]
pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &KeyTaskFilter,
    page: &PageRequest,
) -> QueryResult<Vec<KeyTask>> {
    let mut query = key_tasks::table.select(KeyTask::as_select()).into_boxed();
    if let Some(district) = filter.scope.district() {
        query = query.filter(key_tasks::district_id.eq(district));
    }
    if let Some(person) = filter.scope.person() {
        query = query.filter(<KeyTask as super::SeenBy>::seen_by(person));
    }
    if let Some(district_id) = filter.district_id {
        query = query.filter(key_tasks::district_id.eq(district_id));
    }
    if let Some(code) = &filter.district_code {
        query = query
            .filter(key_tasks::district_id.eq_any(super::districts::ids_by_code(code.clone())));
    }
    if let Some(year) = filter.year {
        query = query.filter(key_tasks::year.eq(year));
    }
    if let Some(status) = filter.status {
        query = query.filter(key_tasks::status.eq(status));
    }
    if let Some(q) = &filter.q {
        let pattern = super::like_pattern(q);
        query = query.filter(
            key_tasks::title
                .ilike(pattern.clone())
                .or(key_tasks::responsible_body.ilike(pattern)),
        );
    }
    paged!(query, page,
        id: key_tasks::id, updated_at: key_tasks::updated_at, deleted_at: key_tasks::deleted_at,
        Name => key_tasks::title)
    .load(conn)
    .await
}

super::record_queries!(key_tasks, KeyTask, KeyTaskFields, KeyTaskId);

/// Key tasks are the committee's own work: no person's.
impl super::SeenBy for KeyTask {
    type Table = key_tasks::table;

    fn seen_by(_person: crate::domain::access::Person) -> super::Seen<key_tasks::table> {
        super::no_row()
    }
}

#[derive(Insertable)]
#[diesel(table_name = key_tasks)]
struct NewKeyTaskRow {
    id: KeyTaskId,
    district_id: DistrictId,
    #[diesel(embed)]
    fields: KeyTaskFields,
}

#[tracing::instrument(skip_all)]
pub async fn insert(
    conn: &mut AsyncPgConnection,
    district_id: DistrictId,
    fields: KeyTaskFields,
) -> QueryResult<KeyTask> {
    diesel::insert_into(key_tasks::table)
        .values(NewKeyTaskRow {
            id: KeyTaskId::generate(),
            district_id,
            fields,
        })
        .returning(KeyTask::as_returning())
        .get_result(conn)
        .await
}

#[tracing::instrument(skip_all)]
pub async fn add_note(
    conn: &mut AsyncPgConnection,
    task: &KeyTask,
    noted_on: NaiveDate,
    text: String,
) -> QueryResult<KeyTaskNote> {
    diesel::insert_into(key_task_notes::table)
        .values((
            key_task_notes::id.eq(KeyTaskNoteId::generate()),
            key_task_notes::district_id.eq(task.district_id),
            key_task_notes::key_task_id.eq(task.id),
            key_task_notes::noted_on.eq(noted_on),
            key_task_notes::text.eq(text),
        ))
        .returning(KeyTaskNote::as_returning())
        .get_result(conn)
        .await
}

/// The notes of some key tasks, by the day noted, then as added.
#[tracing::instrument(skip_all)]
pub async fn notes(
    conn: &mut AsyncPgConnection,
    tasks: &[KeyTaskId],
) -> QueryResult<Vec<KeyTaskNote>> {
    key_task_notes::table
        .select(KeyTaskNote::as_select())
        .filter(key_task_notes::key_task_id.eq_any(tasks))
        .order((
            key_task_notes::key_task_id,
            key_task_notes::noted_on,
            key_task_notes::id,
        ))
        .load(conn)
        .await
}
