//! Queries on members.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::pagination::{PageRequest, page_row, paged};
use crate::db::schema::{members, workstation_members, workstations};
use crate::domain::ids::{DistrictId, MemberId};
use crate::domain::kinds::{Gender, MemberStatus};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = members, check_for_backend(diesel::pg::Pg))]
pub struct Member {
    pub id: MemberId,
    pub district_id: DistrictId,
    pub member_no: String,
    pub name: String,
    pub gender: Option<Gender>,
    pub sector: String,
    pub party: String,
    pub employer_title: Option<String>,
    pub street: Option<String>,
    pub term: i32,
    pub roles: Vec<String>,
    pub resides_in_district: bool,
    pub status: MemberStatus,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
    pub deleted_at: Option<DateTime<Utc>>,
}

super::record_fields! {
    /// The fields a client sets (the district is fixed at creation).
    pub struct MemberFields for Member in members {
        pub member_no: String,
        pub name: String,
        pub gender: Option<Gender>,
        pub sector: String,
        pub party: String,
        pub employer_title: Option<String>,
        pub street: Option<String>,
        pub term: i32,
        pub roles: Vec<String>,
        pub resides_in_district: bool,
        pub status: MemberStatus,
        pub phone: Option<String>,
        pub email: Option<String>,
    }
}

page_row!(Member, Name => name, MemberNo => member_no);

#[derive(Debug, Default)]
pub struct MemberFilter {
    /// The caller's districts.
    pub scope: crate::domain::access::Scope,
    pub district_id: Option<DistrictId>,
    pub district_code: Option<String>,
    pub sector: Option<String>,
    pub party: Option<String>,
    pub street: Option<String>,
    pub term: Option<i32>,
    pub status: Option<MemberStatus>,
    pub role: Option<String>,
    /// Text in the name or the member number.
    pub q: Option<String>,
}

#[tracing::instrument(skip_all)]
pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &MemberFilter,
    page: &PageRequest,
) -> QueryResult<Vec<Member>> {
    let mut query = members::table.select(Member::as_select()).into_boxed();
    if let Some(district) = filter.scope.district() {
        query = query.filter(members::district_id.eq(district));
    }
    if let Some(person) = filter.scope.person() {
        query = query.filter(<Member as super::SeenBy>::seen_by(person));
    }
    if let Some(district_id) = filter.district_id {
        query = query.filter(members::district_id.eq(district_id));
    }
    if let Some(code) = &filter.district_code {
        query =
            query.filter(members::district_id.eq_any(super::districts::ids_by_code(code.clone())));
    }
    if let Some(sector) = &filter.sector {
        query = query.filter(members::sector.eq(sector.clone()));
    }
    if let Some(party) = &filter.party {
        query = query.filter(members::party.eq(party.clone()));
    }
    if let Some(street) = &filter.street {
        query = query.filter(members::street.eq(street.clone()));
    }
    if let Some(term) = filter.term {
        query = query.filter(members::term.eq(term));
    }
    if let Some(status) = filter.status {
        query = query.filter(members::status.eq(status));
    }
    if let Some(role) = &filter.role {
        query = query.filter(members::roles.contains(vec![role.clone()]));
    }
    if let Some(q) = &filter.q {
        let pattern = super::like_pattern(q);
        query = query.filter(
            members::name
                .ilike(pattern.clone())
                .or(members::member_no.ilike(pattern)),
        );
    }
    paged!(query, page,
        id: members::id, updated_at: members::updated_at, deleted_at: members::deleted_at,
        Name => members::name, MemberNo => members::member_no)
    .load(conn)
    .await
}

super::record_queries!(members, Member, MemberFields, MemberId);

/// A member reads their own record; no person reads another member's.
impl super::SeenBy for Member {
    type Table = members::table;

    fn seen_by(person: crate::domain::access::Person) -> super::Seen<members::table> {
        use crate::domain::access::Person;
        match person {
            Person::Member(member) => Box::new(members::id.eq(member)),
            Person::Unit(_) | Person::Office(_) => super::no_row(),
        }
    }

    fn changed_by(_person: crate::domain::access::Person) -> super::Seen<members::table> {
        super::no_row()
    }
}

/// Which of `ids` are live members of `district`, locked against deletion until the
/// transaction ends.
#[tracing::instrument(skip_all)]
pub async fn existing_in_district(
    conn: &mut AsyncPgConnection,
    district: DistrictId,
    ids: &[MemberId],
) -> QueryResult<Vec<MemberId>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    members::table
        .select(members::id)
        .filter(members::id.eq_any(ids))
        .filter(members::district_id.eq(district))
        .filter(members::deleted_at.is_null())
        .for_key_share()
        .load(conn)
        .await
}

#[derive(Insertable)]
#[diesel(table_name = members)]
struct NewMemberRow {
    id: MemberId,
    district_id: DistrictId,
    #[diesel(embed)]
    fields: MemberFields,
}

impl Member {
    /// The member as [`insert`] writes them in a transaction that began at `now`: the
    /// columns' defaults are version 1, created and updated now, not deleted.
    pub fn inserted(
        id: MemberId,
        district_id: DistrictId,
        fields: MemberFields,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id,
            district_id,
            member_no: fields.member_no,
            name: fields.name,
            gender: fields.gender,
            sector: fields.sector,
            party: fields.party,
            employer_title: fields.employer_title,
            street: fields.street,
            term: fields.term,
            roles: fields.roles,
            resides_in_district: fields.resides_in_district,
            status: fields.status,
            phone: fields.phone,
            email: fields.email,
            created_at: now,
            updated_at: now,
            version: 1,
            deleted_at: None,
        }
    }
}

/// The `INSERT` of `member` ([`Member::inserted`]) as a statement to send with the
/// `COMMIT` ([`crate::api::work::Tx::defer`]).
pub fn insert_later(member: &Member) -> super::Statement {
    let row = NewMemberRow {
        id: member.id,
        district_id: member.district_id,
        fields: member.fields(),
    };
    Box::new(move |mut conn| {
        Box::pin(async move {
            crate::db::Prepared(diesel::insert_into(members::table).values(row))
                .execute(&mut conn)
                .await
                .and_then(super::one_row)
        })
    })
}

#[tracing::instrument(skip_all)]
pub async fn insert(
    conn: &mut AsyncPgConnection,
    district_id: DistrictId,
    fields: MemberFields,
) -> QueryResult<Member> {
    crate::db::Prepared(
        diesel::insert_into(members::table)
            .values(NewMemberRow {
                id: MemberId::generate(),
                district_id,
                fields,
            })
            .returning(Member::as_returning()),
    )
    .get_result(conn)
    .await
}

/// Deletes a member, takes them out of every workstation and clears them as convenor; the
/// workstations touched show up in their change feed.
#[tracing::instrument(skip_all)]
pub async fn soft_delete(conn: &mut AsyncPgConnection, id: MemberId) -> QueryResult<()> {
    soft_delete_all(conn, &[id]).await
}

/// [`soft_delete`] for many members, in four statements.
#[tracing::instrument(skip_all)]
pub async fn soft_delete_all(conn: &mut AsyncPgConnection, ids: &[MemberId]) -> QueryResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut stations: Vec<crate::domain::ids::WorkstationId> = diesel::delete(
        workstation_members::table.filter(workstation_members::member_id.eq_any(ids)),
    )
    .returning(workstation_members::workstation_id)
    .get_results(conn)
    .await?;
    stations.sort();
    stations.dedup();
    super::workstations::touch_all(conn, &stations).await?;
    crate::db::Prepared(
        diesel::update(workstations::table.filter(workstations::convenor_member_id.eq_any(ids)))
            .set(workstations::convenor_member_id.eq(None::<MemberId>)),
    )
    .execute(conn)
    .await?;
    crate::db::Prepared(
        diesel::update(members::table.filter(members::id.eq_any(ids)))
            .set(members::deleted_at.eq(diesel::dsl::now)),
    )
    .execute(conn)
    .await
    .map(drop)
}

/// The live members of `district` with these numbers, locked until the transaction ends.
#[tracing::instrument(skip_all)]
pub async fn lock_by_numbers(
    conn: &mut AsyncPgConnection,
    district: DistrictId,
    numbers: &[String],
) -> QueryResult<Vec<Member>> {
    members::table
        .select(Member::as_select())
        .filter(members::district_id.eq(district))
        .filter(members::member_no.eq_any(numbers))
        .filter(members::deleted_at.is_null())
        // One order for every batch: two batches never wait on each other in a cycle.
        .order(members::member_no)
        .for_update()
        .load(conn)
        .await
}

/// Creates or replaces the members of `district` by number, in one statement: a number
/// that is live in the district is updated in place, any other is inserted with its id.
#[tracing::instrument(skip_all, fields(rows = rows.len()))]
pub async fn upsert_all(
    conn: &mut AsyncPgConnection,
    district: DistrictId,
    rows: Vec<(MemberId, MemberFields)>,
) -> QueryResult<Vec<Member>> {
    use diesel::query_builder::DecoratableTarget;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<NewMemberRow> = rows
        .into_iter()
        .map(|(id, fields)| NewMemberRow {
            id,
            district_id: district,
            fields,
        })
        .collect();
    diesel::insert_into(members::table)
        .values(rows)
        .on_conflict((members::district_id, members::member_no))
        .filter_target(members::deleted_at.is_null())
        .do_update()
        .set(MemberFields::excluded())
        .returning(Member::as_returning())
        .get_results(conn)
        .await
}

/// The ids of the live members of `district` with these numbers.
#[tracing::instrument(skip_all)]
pub async fn ids_by_numbers(
    conn: &mut AsyncPgConnection,
    district: DistrictId,
    numbers: &[String],
) -> QueryResult<Vec<(String, MemberId)>> {
    members::table
        .select((members::member_no, members::id))
        .filter(members::district_id.eq(district))
        .filter(members::member_no.eq_any(numbers))
        .filter(members::deleted_at.is_null())
        .load(conn)
        .await
}
