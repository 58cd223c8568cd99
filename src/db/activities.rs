//! Queries on workstation activities.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::pagination::{PageRequest, page_row, paged};
use crate::db::schema::activities;
use crate::domain::ids::{ActivityId, DistrictId, MemberId, WorkstationId};
use crate::domain::kinds::ActivityKind;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = activities, check_for_backend(diesel::pg::Pg))]
pub struct Activity {
    pub id: ActivityId,
    pub district_id: DistrictId,
    pub workstation_id: WorkstationId,
    pub kind: ActivityKind,
    pub title: String,
    pub held_on: NaiveDate,
    pub participant_ids: Vec<MemberId>,
    pub people_reached: i32,
    pub opinions_collected: i32,
    pub summary: Option<String>,
    /// The district system's id, for records it syncs.
    pub external_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
    pub deleted_at: Option<DateTime<Utc>>,
}

super::record_fields! {
    /// The fields a client sets (the workstation, and so the district, is fixed at creation).
    pub struct ActivityFields for Activity in activities {
        pub kind: ActivityKind,
        pub title: String,
        pub held_on: NaiveDate,
        pub participant_ids: Vec<MemberId>,
        pub people_reached: i32,
        pub opinions_collected: i32,
        pub summary: Option<String>,
    }
}

page_row!(Activity);

#[derive(Debug, Default)]
pub struct ActivityFilter {
    /// The caller's districts.
    pub scope: crate::domain::access::Scope,
    pub district_id: Option<DistrictId>,
    pub district_code: Option<String>,
    pub workstation_id: Option<WorkstationId>,
    pub kind: Option<ActivityKind>,
    /// Only activities this member took part in.
    pub member_id: Option<MemberId>,
    /// Held on or after this day.
    pub held_from: Option<NaiveDate>,
    /// Held on or before this day.
    pub held_to: Option<NaiveDate>,
}

#[tracing::instrument(skip_all)]
pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &ActivityFilter,
    page: &PageRequest,
) -> QueryResult<Vec<Activity>> {
    let mut query = activities::table.select(Activity::as_select()).into_boxed();
    if let Some(district) = filter.scope.district() {
        query = query.filter(activities::district_id.eq(district));
    }
    if let Some(person) = filter.scope.person() {
        query = query.filter(<Activity as super::SeenBy>::seen_by(person));
    }
    if let Some(district_id) = filter.district_id {
        query = query.filter(activities::district_id.eq(district_id));
    }
    if let Some(code) = &filter.district_code {
        query = query
            .filter(activities::district_id.eq_any(super::districts::ids_by_code(code.clone())));
    }
    if let Some(workstation_id) = filter.workstation_id {
        query = query.filter(activities::workstation_id.eq(workstation_id));
    }
    if let Some(kind) = filter.kind {
        query = query.filter(activities::kind.eq(kind));
    }
    if let Some(member_id) = filter.member_id {
        query = query.filter(activities::participant_ids.contains(vec![member_id]));
    }
    if let Some(from) = filter.held_from {
        query = query.filter(activities::held_on.ge(from));
    }
    if let Some(to) = filter.held_to {
        query = query.filter(activities::held_on.le(to));
    }
    paged!(query, page,
        id: activities::id, updated_at: activities::updated_at, deleted_at: activities::deleted_at)
    .load(conn)
    .await
}

super::record_queries!(activities, Activity, ActivityFields, ActivityId);

/// A member reads their district's workstation activities.
impl super::SeenBy for Activity {
    type Table = activities::table;

    fn seen_by(person: crate::domain::access::Person) -> super::Seen<activities::table> {
        use crate::domain::access::Person;
        match person {
            Person::Member(_) => super::every_row(),
            Person::Unit(_) | Person::Office(_) => super::no_row(),
        }
    }

    fn changed_by(_person: crate::domain::access::Person) -> super::Seen<activities::table> {
        super::no_row()
    }
}

#[derive(Insertable)]
#[diesel(table_name = activities)]
struct NewActivityRow {
    id: ActivityId,
    district_id: DistrictId,
    workstation_id: WorkstationId,
    #[diesel(embed)]
    fields: ActivityFields,
}

#[tracing::instrument(skip_all)]
pub async fn insert(
    conn: &mut AsyncPgConnection,
    district_id: DistrictId,
    workstation_id: WorkstationId,
    fields: ActivityFields,
) -> QueryResult<Activity> {
    diesel::insert_into(activities::table)
        .values(NewActivityRow {
            id: ActivityId::generate(),
            district_id,
            workstation_id,
            fields,
        })
        .returning(Activity::as_returning())
        .get_result(conn)
        .await
}

/// An activity as a batch sets it: its workstation and its fields.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncedActivity {
    pub workstation_id: WorkstationId,
    pub fields: ActivityFields,
}

/// The live activities of `district` with these external ids, locked until the
/// transaction ends.
#[tracing::instrument(skip_all)]
pub async fn lock_by_external_ids(
    conn: &mut AsyncPgConnection,
    district: DistrictId,
    keys: &[String],
) -> QueryResult<Vec<Activity>> {
    activities::table
        .select(Activity::as_select())
        .filter(activities::district_id.eq(district))
        .filter(activities::external_id.eq_any(keys))
        .filter(activities::deleted_at.is_null())
        // One order for every batch: two batches never wait on each other in a cycle.
        .order(activities::external_id)
        .for_update()
        .load(conn)
        .await
}

#[derive(Insertable)]
#[diesel(table_name = activities)]
struct SyncedActivityRow {
    id: ActivityId,
    district_id: DistrictId,
    workstation_id: WorkstationId,
    external_id: String,
    #[diesel(embed)]
    fields: ActivityFields,
}

/// Creates or replaces activities of `district` by external id, in one statement.
#[tracing::instrument(skip_all, fields(rows = rows.len()))]
pub async fn upsert_all(
    conn: &mut AsyncPgConnection,
    district: DistrictId,
    rows: Vec<(ActivityId, String, SyncedActivity)>,
) -> QueryResult<Vec<Activity>> {
    use diesel::query_builder::DecoratableTarget;
    use diesel::upsert::excluded;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<SyncedActivityRow> = rows
        .into_iter()
        .map(|(id, external_id, synced)| SyncedActivityRow {
            id,
            district_id: district,
            workstation_id: synced.workstation_id,
            external_id,
            fields: synced.fields,
        })
        .collect();
    diesel::insert_into(activities::table)
        .values(rows)
        .on_conflict((activities::district_id, activities::external_id))
        .filter_target(
            activities::deleted_at
                .is_null()
                .and(activities::external_id.is_not_null()),
        )
        .do_update()
        .set((
            activities::workstation_id.eq(excluded(activities::workstation_id)),
            ActivityFields::excluded(),
        ))
        .returning(Activity::as_returning())
        .get_results(conn)
        .await
}

/// Marks activities deleted, in one statement.
#[tracing::instrument(skip_all)]
pub async fn mark_all_deleted(conn: &mut AsyncPgConnection, ids: &[ActivityId]) -> QueryResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    diesel::update(activities::table.filter(activities::id.eq_any(ids)))
        .set(activities::deleted_at.eq(diesel::dsl::now))
        .execute(conn)
        .await
        .map(drop)
}
