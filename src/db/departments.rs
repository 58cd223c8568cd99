//! Queries on departments.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::pagination::{PageRequest, page_row, paged};
use crate::db::schema::departments;
use crate::domain::ids::{DepartmentId, DistrictId};
use crate::domain::kinds::DepartmentKind;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = departments, check_for_backend(diesel::pg::Pg))]
pub struct Department {
    pub id: DepartmentId,
    pub district_id: DistrictId,
    pub name: String,
    pub short_name: Option<String>,
    pub kind: DepartmentKind,
    /// The district system's id, for records it syncs.
    pub external_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
    pub deleted_at: Option<DateTime<Utc>>,
}

super::record_fields! {
    /// The fields a client sets (the district is fixed at creation).
    pub struct DepartmentFields for Department in departments {
        pub name: String,
        pub short_name: Option<String>,
        pub kind: DepartmentKind,
    }
}

page_row!(Department, Name => name);

#[derive(Debug, Default)]
pub struct DepartmentFilter {
    /// The caller's districts.
    pub scope: crate::domain::access::Scope,
    pub district_id: Option<DistrictId>,
    pub district_code: Option<String>,
    pub kind: Option<DepartmentKind>,
    /// Text in the name or short name.
    pub q: Option<String>,
}

#[tracing::instrument(skip_all)]
pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &DepartmentFilter,
    page: &PageRequest,
) -> QueryResult<Vec<Department>> {
    let mut query = departments::table
        .select(Department::as_select())
        .into_boxed();
    if let Some(district) = filter.scope.district() {
        query = query.filter(departments::district_id.eq(district));
    }
    if let Some(person) = filter.scope.person() {
        query = query.filter(<Department as super::SeenBy>::seen_by(person));
    }
    if let Some(district_id) = filter.district_id {
        query = query.filter(departments::district_id.eq(district_id));
    }
    if let Some(code) = &filter.district_code {
        query = query
            .filter(departments::district_id.eq_any(super::districts::ids_by_code(code.clone())));
    }
    if let Some(kind) = filter.kind {
        query = query.filter(departments::kind.eq(kind));
    }
    if let Some(q) = &filter.q {
        let pattern = super::like_pattern(q);
        query = query.filter(
            departments::name
                .ilike(pattern.clone())
                .or(departments::short_name.ilike(pattern)),
        );
    }
    paged!(query, page,
        id: departments::id, updated_at: departments::updated_at, deleted_at: departments::deleted_at,
        Name => departments::name)
    .load(conn)
    .await
}

super::record_queries!(departments, Department, DepartmentFields, DepartmentId);

/// A unit reads its own department's record.
impl super::SeenBy for Department {
    type Table = departments::table;

    fn seen_by(person: crate::domain::access::Person) -> super::Seen<departments::table> {
        use crate::domain::access::Person;
        match person {
            Person::Unit(department) => Box::new(departments::id.eq(department)),
            Person::Member(_) | Person::Office(_) => super::no_row(),
        }
    }

    fn changed_by(_person: crate::domain::access::Person) -> super::Seen<departments::table> {
        super::no_row()
    }
}

#[derive(Insertable)]
#[diesel(table_name = departments)]
struct NewDepartmentRow {
    id: DepartmentId,
    district_id: DistrictId,
    #[diesel(embed)]
    fields: DepartmentFields,
}

#[tracing::instrument(skip_all)]
pub async fn insert(
    conn: &mut AsyncPgConnection,
    district_id: DistrictId,
    fields: DepartmentFields,
) -> QueryResult<Department> {
    diesel::insert_into(departments::table)
        .values(NewDepartmentRow {
            id: DepartmentId::generate(),
            district_id,
            fields,
        })
        .returning(Department::as_returning())
        .get_result(conn)
        .await
}

/// Which of `ids` are live departments of `district`.
#[tracing::instrument(skip_all)]
pub async fn existing_in_district(
    conn: &mut AsyncPgConnection,
    district: DistrictId,
    ids: &[DepartmentId],
) -> QueryResult<Vec<DepartmentId>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    departments::table
        .select(departments::id)
        .filter(departments::id.eq_any(ids))
        .filter(departments::district_id.eq(district))
        .filter(departments::deleted_at.is_null())
        .for_key_share()
        .load(conn)
        .await
}

/// The live departments of `district` with these external ids, locked until the
/// transaction ends.
#[tracing::instrument(skip_all)]
pub async fn lock_by_external_ids(
    conn: &mut AsyncPgConnection,
    district: DistrictId,
    keys: &[String],
) -> QueryResult<Vec<Department>> {
    departments::table
        .select(Department::as_select())
        .filter(departments::district_id.eq(district))
        .filter(departments::external_id.eq_any(keys))
        .filter(departments::deleted_at.is_null())
        // One order for every batch: two batches never wait on each other in a cycle.
        .order(departments::external_id)
        .for_update()
        .load(conn)
        .await
}

#[derive(Insertable)]
#[diesel(table_name = departments)]
struct SyncedDepartmentRow {
    id: DepartmentId,
    district_id: DistrictId,
    external_id: String,
    #[diesel(embed)]
    fields: DepartmentFields,
}

/// Creates or replaces departments of `district` by external id, in one statement.
#[tracing::instrument(skip_all, fields(rows = rows.len()))]
pub async fn upsert_all(
    conn: &mut AsyncPgConnection,
    district: DistrictId,
    rows: Vec<(DepartmentId, String, DepartmentFields)>,
) -> QueryResult<Vec<Department>> {
    use diesel::query_builder::DecoratableTarget;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<SyncedDepartmentRow> = rows
        .into_iter()
        .map(|(id, external_id, fields)| SyncedDepartmentRow {
            id,
            district_id: district,
            external_id,
            fields,
        })
        .collect();
    diesel::insert_into(departments::table)
        .values(rows)
        .on_conflict((departments::district_id, departments::external_id))
        .filter_target(
            departments::deleted_at
                .is_null()
                .and(departments::external_id.is_not_null()),
        )
        .do_update()
        .set(DepartmentFields::excluded())
        .returning(Department::as_returning())
        .get_results(conn)
        .await
}

/// Marks departments deleted, in one statement.
#[tracing::instrument(skip_all)]
pub async fn mark_all_deleted(
    conn: &mut AsyncPgConnection,
    ids: &[DepartmentId],
) -> QueryResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    diesel::update(departments::table.filter(departments::id.eq_any(ids)))
        .set(departments::deleted_at.eq(diesel::dsl::now))
        .execute(conn)
        .await
        .map(drop)
}

/// The names of the district's live departments among `names`, with their ids.
#[tracing::instrument(skip_all)]
pub async fn ids_by_names(
    conn: &mut AsyncPgConnection,
    district: DistrictId,
    names: &[String],
) -> QueryResult<Vec<(String, uuid::Uuid)>> {
    let rows: Vec<(String, DepartmentId)> = departments::table
        .select((departments::name, departments::id))
        .filter(departments::district_id.eq(district))
        .filter(departments::name.eq_any(names))
        .filter(departments::deleted_at.is_null())
        .load(conn)
        .await?;
    Ok(rows.into_iter().map(|(name, id)| (name, id.0)).collect())
}

/// The live departments of `district` with these external ids, with their ids.
#[tracing::instrument(skip_all)]
pub async fn ids_by_external_ids(
    conn: &mut AsyncPgConnection,
    district: DistrictId,
    keys: &[String],
) -> QueryResult<Vec<(String, DepartmentId)>> {
    departments::table
        .select((departments::external_id.assume_not_null(), departments::id))
        .filter(departments::district_id.eq(district))
        .filter(departments::external_id.eq_any(keys))
        .filter(departments::deleted_at.is_null())
        .load(conn)
        .await
}
