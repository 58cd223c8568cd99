//! Queries on workstations and their members.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::pagination::{PageRequest, page_row, paged};
use crate::db::schema::{activities, members, workstation_members, workstations};
use crate::domain::ids::{DistrictId, MemberId, WorkstationId};
use crate::domain::kinds::WorkstationKind;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = workstations, check_for_backend(diesel::pg::Pg))]
pub struct Workstation {
    pub id: WorkstationId,
    pub district_id: DistrictId,
    pub name: String,
    pub kind: WorkstationKind,
    pub street: Option<String>,
    pub address: Option<String>,
    pub opened_on: Option<NaiveDate>,
    pub convenor_member_id: Option<MemberId>,
    pub description: Option<String>,
    /// The district system's id, for records it syncs.
    pub external_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
    pub deleted_at: Option<DateTime<Utc>>,
}

super::record_fields! {
    /// The fields a client sets (the district is fixed at creation).
    pub struct WorkstationFields for Workstation in workstations {
        pub name: String,
        pub kind: WorkstationKind,
        pub street: Option<String>,
        pub address: Option<String>,
        pub opened_on: Option<NaiveDate>,
        pub convenor_member_id: Option<MemberId>,
        pub description: Option<String>,
    }
}

page_row!(Workstation, Name => name);

#[derive(Debug, Default)]
pub struct WorkstationFilter {
    /// The caller's districts.
    pub scope: crate::domain::access::Scope,
    pub district_id: Option<DistrictId>,
    pub district_code: Option<String>,
    pub kind: Option<WorkstationKind>,
    pub street: Option<String>,
    /// Only workstations this member belongs to.
    pub member_id: Option<MemberId>,
    /// Text in the name or address.
    pub q: Option<String>,
}

#[tracing::instrument(skip_all)]
pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &WorkstationFilter,
    page: &PageRequest,
) -> QueryResult<Vec<Workstation>> {
    let mut query = workstations::table
        .select(Workstation::as_select())
        .into_boxed();
    if let Some(district) = filter.scope.district() {
        query = query.filter(workstations::district_id.eq(district));
    }
    if let Some(person) = filter.scope.person() {
        query = query.filter(<Workstation as super::SeenBy>::seen_by(person));
    }
    if let Some(district_id) = filter.district_id {
        query = query.filter(workstations::district_id.eq(district_id));
    }
    if let Some(code) = &filter.district_code {
        query = query
            .filter(workstations::district_id.eq_any(super::districts::ids_by_code(code.clone())));
    }
    if let Some(kind) = filter.kind {
        query = query.filter(workstations::kind.eq(kind));
    }
    if let Some(street) = &filter.street {
        query = query.filter(workstations::street.eq(street.clone()));
    }
    if let Some(member_id) = filter.member_id {
        query = query.filter(
            workstations::id.eq_any(
                workstation_members::table
                    .select(workstation_members::workstation_id)
                    .filter(workstation_members::member_id.eq(member_id)),
            ),
        );
    }
    if let Some(q) = &filter.q {
        let pattern = super::like_pattern(q);
        query = query.filter(
            workstations::name
                .ilike(pattern.clone())
                .or(workstations::address.ilike(pattern)),
        );
    }
    paged!(query, page,
        id: workstations::id, updated_at: workstations::updated_at, deleted_at: workstations::deleted_at,
        Name => workstations::name)
    .load(conn)
    .await
}

super::record_queries!(workstations, Workstation, WorkstationFields, WorkstationId);

/// A member reads their district's workstations.
impl super::SeenBy for Workstation {
    type Table = workstations::table;

    fn seen_by(person: crate::domain::access::Person) -> super::Seen<workstations::table> {
        use crate::domain::access::Person;
        match person {
            Person::Member(_) => super::every_row(),
            Person::Unit(_) | Person::Office(_) => super::no_row(),
        }
    }

    fn changed_by(_person: crate::domain::access::Person) -> super::Seen<workstations::table> {
        super::no_row()
    }
}

/// A live workstation, locked against deletion until the transaction ends; `None` if
/// there is no such workstation. For writes that attach records to it.
#[tracing::instrument(skip_all)]
pub async fn find_for_reference(
    conn: &mut AsyncPgConnection,
    id: WorkstationId,
) -> QueryResult<Option<Workstation>> {
    workstations::table
        .select(Workstation::as_select())
        .filter(workstations::id.eq(id))
        .filter(workstations::deleted_at.is_null())
        .for_key_share()
        .first(conn)
        .await
        .optional()
}

#[derive(Insertable)]
#[diesel(table_name = workstations)]
struct NewWorkstationRow {
    id: WorkstationId,
    district_id: DistrictId,
    #[diesel(embed)]
    fields: WorkstationFields,
}

#[tracing::instrument(skip_all)]
pub async fn insert(
    conn: &mut AsyncPgConnection,
    district_id: DistrictId,
    fields: WorkstationFields,
) -> QueryResult<Workstation> {
    diesel::insert_into(workstations::table)
        .values(NewWorkstationRow {
            id: WorkstationId::generate(),
            district_id,
            fields,
        })
        .returning(Workstation::as_returning())
        .get_result(conn)
        .await
}

/// How many live activities a workstation has.
#[tracing::instrument(skip_all)]
pub async fn activity_count(conn: &mut AsyncPgConnection, id: WorkstationId) -> QueryResult<i64> {
    activities::table
        .filter(activities::workstation_id.eq(id))
        .filter(activities::deleted_at.is_null())
        .count()
        .get_result(conn)
        .await
}

/// The live activity counts of those of `ids` that have any.
#[tracing::instrument(skip_all)]
pub async fn activity_counts(
    conn: &mut AsyncPgConnection,
    ids: &[WorkstationId],
) -> QueryResult<Vec<(WorkstationId, i64)>> {
    activities::table
        .group_by(activities::workstation_id)
        .select((activities::workstation_id, diesel::dsl::count_star()))
        .filter(activities::workstation_id.eq_any(ids))
        .filter(activities::deleted_at.is_null())
        .load(conn)
        .await
}

/// Deletes a workstation and its member list.
#[tracing::instrument(skip_all)]
pub async fn soft_delete(conn: &mut AsyncPgConnection, id: WorkstationId) -> QueryResult<()> {
    soft_delete_all(conn, &[id]).await
}

/// [`soft_delete`] for many workstations, in two statements.
#[tracing::instrument(skip_all)]
pub async fn soft_delete_all(
    conn: &mut AsyncPgConnection,
    ids: &[WorkstationId],
) -> QueryResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    diesel::delete(
        workstation_members::table.filter(workstation_members::workstation_id.eq_any(ids)),
    )
    .execute(conn)
    .await?;
    diesel::update(workstations::table.filter(workstations::id.eq_any(ids)))
        .set(workstations::deleted_at.eq(diesel::dsl::now))
        .execute(conn)
        .await
        .map(drop)
}

/// The member ids of each of `ids`, in member id order.
#[tracing::instrument(skip_all)]
pub async fn member_ids(
    conn: &mut AsyncPgConnection,
    ids: &[WorkstationId],
) -> QueryResult<HashMap<WorkstationId, Vec<MemberId>>> {
    let pairs: Vec<(WorkstationId, MemberId)> = workstation_members::table
        .select((
            workstation_members::workstation_id,
            workstation_members::member_id,
        ))
        .filter(workstation_members::workstation_id.eq_any(ids))
        .order((
            workstation_members::workstation_id,
            workstation_members::member_id,
        ))
        .load(conn)
        .await?;
    let mut map: HashMap<WorkstationId, Vec<MemberId>> = HashMap::new();
    for (workstation, member) in pairs {
        map.entry(workstation).or_default().push(member);
    }
    Ok(map)
}

/// The live workstations a member belongs to or convenes.
#[tracing::instrument(skip_all)]
pub async fn ids_involving(
    conn: &mut AsyncPgConnection,
    member: MemberId,
) -> QueryResult<Vec<WorkstationId>> {
    ids_involving_any(conn, &[member]).await
}

/// The live workstations any of `members` convenes or belongs to, in id order.
#[tracing::instrument(skip_all)]
pub async fn ids_involving_any(
    conn: &mut AsyncPgConnection,
    members: &[MemberId],
) -> QueryResult<Vec<WorkstationId>> {
    workstations::table
        .select(workstations::id)
        .filter(workstations::deleted_at.is_null())
        .filter(
            workstations::convenor_member_id
                .eq_any(members)
                .or(workstations::id.eq_any(
                    workstation_members::table
                        .select(workstation_members::workstation_id)
                        .filter(workstation_members::member_id.eq_any(members)),
                )),
        )
        .order(workstations::id)
        .load(conn)
        .await
}

/// Live workstations by id, in id order.
#[tracing::instrument(skip_all)]
pub async fn find_many(
    conn: &mut AsyncPgConnection,
    ids: &[WorkstationId],
) -> QueryResult<Vec<Workstation>> {
    workstations::table
        .select(Workstation::as_select())
        .filter(workstations::id.eq_any(ids))
        .filter(workstations::deleted_at.is_null())
        .order(workstations::id)
        .load(conn)
        .await
}

/// A member's place in a workstation, with who the member is.
#[derive(Debug, Clone, Queryable)]
pub struct Membership {
    pub workstation_id: WorkstationId,
    pub member_id: MemberId,
    pub added_at: DateTime<Utc>,
    pub member_no: String,
    pub name: String,
}

#[diesel::dsl::auto_type]
fn memberships() -> _ {
    workstation_members::table
        .inner_join(members::table)
        .select((
            workstation_members::workstation_id,
            workstation_members::member_id,
            workstation_members::added_at,
            members::member_no,
            members::name,
        ))
}

#[tracing::instrument(skip_all)]
pub async fn list_members(
    conn: &mut AsyncPgConnection,
    id: WorkstationId,
) -> QueryResult<Vec<Membership>> {
    memberships()
        .filter(workstation_members::workstation_id.eq(id))
        .order(workstation_members::member_id)
        .load(conn)
        .await
}

#[tracing::instrument(skip_all)]
pub async fn find_member(
    conn: &mut AsyncPgConnection,
    id: WorkstationId,
    member: MemberId,
) -> QueryResult<Membership> {
    memberships()
        .filter(workstation_members::workstation_id.eq(id))
        .filter(workstation_members::member_id.eq(member))
        .first(conn)
        .await
}

/// Adds a member; `false` if they already belonged. Either way the answer's membership
/// is current. A change touches the workstation.
#[tracing::instrument(skip_all)]
pub async fn add_member(
    conn: &mut AsyncPgConnection,
    workstation: &Workstation,
    member: MemberId,
) -> QueryResult<bool> {
    let added = diesel::insert_into(workstation_members::table)
        .values((
            workstation_members::workstation_id.eq(workstation.id),
            workstation_members::member_id.eq(member),
            workstation_members::district_id.eq(workstation.district_id),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?
        > 0;
    if added {
        touch(conn, workstation.id).await?;
    }
    Ok(added)
}

/// Removes a member; `false` if they did not belong.
#[tracing::instrument(skip_all)]
pub async fn remove_member(
    conn: &mut AsyncPgConnection,
    workstation: WorkstationId,
    member: MemberId,
) -> QueryResult<bool> {
    let removed = diesel::delete(
        workstation_members::table
            .filter(workstation_members::workstation_id.eq(workstation))
            .filter(workstation_members::member_id.eq(member)),
    )
    .execute(conn)
    .await?
        > 0;
    if removed {
        touch(conn, workstation).await?;
    }
    Ok(removed)
}

/// The live workstations of `district` with these external ids, locked until the
/// transaction ends.
#[tracing::instrument(skip_all)]
pub async fn lock_by_external_ids(
    conn: &mut AsyncPgConnection,
    district: DistrictId,
    keys: &[String],
) -> QueryResult<Vec<Workstation>> {
    workstations::table
        .select(Workstation::as_select())
        .filter(workstations::district_id.eq(district))
        .filter(workstations::external_id.eq_any(keys))
        .filter(workstations::deleted_at.is_null())
        // One order for every batch: two batches never wait on each other in a cycle.
        .order(workstations::external_id)
        .for_update()
        .load(conn)
        .await
}

#[derive(Insertable)]
#[diesel(table_name = workstations)]
struct SyncedWorkstationRow {
    id: WorkstationId,
    district_id: DistrictId,
    external_id: String,
    #[diesel(embed)]
    fields: WorkstationFields,
}

/// Creates or replaces workstations of `district` by external id, in one statement.
#[tracing::instrument(skip_all, fields(rows = rows.len()))]
pub async fn upsert_all(
    conn: &mut AsyncPgConnection,
    district: DistrictId,
    rows: Vec<(WorkstationId, String, WorkstationFields)>,
) -> QueryResult<Vec<Workstation>> {
    use diesel::query_builder::DecoratableTarget;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<SyncedWorkstationRow> = rows
        .into_iter()
        .map(|(id, external_id, fields)| SyncedWorkstationRow {
            id,
            district_id: district,
            external_id,
            fields,
        })
        .collect();
    diesel::insert_into(workstations::table)
        .values(rows)
        .on_conflict((workstations::district_id, workstations::external_id))
        .filter_target(
            workstations::deleted_at
                .is_null()
                .and(workstations::external_id.is_not_null()),
        )
        .do_update()
        .set(WorkstationFields::excluded())
        .returning(Workstation::as_returning())
        .get_results(conn)
        .await
}

/// The ids of the live workstations of `district` with these external ids.
#[tracing::instrument(skip_all)]
pub async fn ids_by_external_ids(
    conn: &mut AsyncPgConnection,
    district: DistrictId,
    keys: &[String],
) -> QueryResult<Vec<(Option<String>, WorkstationId)>> {
    workstations::table
        .select((workstations::external_id, workstations::id))
        .filter(workstations::district_id.eq(district))
        .filter(workstations::external_id.eq_any(keys))
        .filter(workstations::deleted_at.is_null())
        .load(conn)
        .await
}

/// The names of the district's live workstations among `names`, with their ids.
#[tracing::instrument(skip_all)]
pub async fn ids_by_names(
    conn: &mut AsyncPgConnection,
    district: DistrictId,
    names: &[String],
) -> QueryResult<Vec<(String, uuid::Uuid)>> {
    let rows: Vec<(String, WorkstationId)> = workstations::table
        .select((workstations::name, workstations::id))
        .filter(workstations::district_id.eq(district))
        .filter(workstations::name.eq_any(names))
        .filter(workstations::deleted_at.is_null())
        .load(conn)
        .await?;
    Ok(rows.into_iter().map(|(name, id)| (name, id.0)).collect())
}
