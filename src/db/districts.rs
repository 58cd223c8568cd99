//! Queries on districts.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::pagination::{PageRequest, page_row, paged};
use crate::db::schema::{departments, districts, members, workstations};
use crate::domain::access::Scope;
use crate::domain::ids::DistrictId;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = districts, check_for_backend(diesel::pg::Pg))]
pub struct District {
    pub id: DistrictId,
    pub code: String,
    pub name: String,
    pub name_en: Option<String>,
    pub term: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
    pub deleted_at: Option<DateTime<Utc>>,
}

super::record_fields! {
    /// The fields a client sets.
    pub struct DistrictFields for District in districts {
        pub code: String,
        pub name: String,
        pub name_en: Option<String>,
        pub term: i32,
    }
}

page_row!(District, Name => name);

/// How a client names a district: by id or by code.
#[derive(Debug, Clone)]
pub enum DistrictKey {
    Id(DistrictId),
    Code(String),
}

fn key_filter(
    key: &DistrictKey,
) -> Box<dyn BoxableExpression<districts::table, diesel::pg::Pg, SqlType = diesel::sql_types::Bool>>
{
    match key {
        DistrictKey::Id(id) => Box::new(districts::id.eq(*id)),
        DistrictKey::Code(code) => Box::new(districts::code.eq(code.clone())),
    }
}

/// The id of the live district with this code, as a subquery for filters by code.
#[diesel::dsl::auto_type]
pub fn ids_by_code(code: String) -> _ {
    districts::table.select(districts::id).filter(
        districts::code
            .eq(code)
            .and(districts::deleted_at.is_null()),
    )
}

#[derive(Debug, Default)]
pub struct DistrictFilter {
    /// The caller's districts.
    pub scope: crate::domain::access::Scope,
    pub code: Option<String>,
    /// Matches name, English name or code.
    pub q: Option<String>,
}

#[tracing::instrument(skip_all)]
pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &DistrictFilter,
    page: &PageRequest,
) -> QueryResult<Vec<District>> {
    let mut query = districts::table.select(District::as_select()).into_boxed();
    if let Some(district) = filter.scope.district() {
        query = query.filter(districts::id.eq(district));
    }
    if let Some(code) = &filter.code {
        query = query.filter(districts::code.eq(code.clone()));
    }
    if let Some(q) = &filter.q {
        let pattern = super::like_pattern(q);
        query = query.filter(
            districts::name
                .ilike(pattern.clone())
                .or(districts::name_en.ilike(pattern.clone()))
                .or(districts::code.ilike(pattern)),
        );
    }
    paged!(query, page,
        id: districts::id, updated_at: districts::updated_at, deleted_at: districts::deleted_at,
        Name => districts::name)
    .load(conn)
    .await
}

/// A live district by id or code, if `scope` covers it.
#[tracing::instrument(skip_all)]
pub async fn find(
    mut conn: &AsyncPgConnection,
    key: &DistrictKey,
    scope: Scope,
) -> QueryResult<District> {
    let district: District = districts::table
        .select(District::as_select())
        .filter(districts::deleted_at.is_null())
        .filter(key_filter(key))
        .first(&mut conn)
        .await?;
    if scope.covers(district.id) {
        Ok(district)
    } else {
        Err(diesel::result::Error::NotFound)
    }
}

/// A live district, locked against deletion until the transaction ends; `None` if there
/// is no such district. For writes that attach records to it.
#[tracing::instrument(skip_all)]
pub async fn find_for_reference(
    mut conn: &AsyncPgConnection,
    id: DistrictId,
) -> QueryResult<Option<District>> {
    districts::table
        .select(District::as_select())
        .filter(districts::id.eq(id))
        .filter(districts::deleted_at.is_null())
        .for_key_share()
        .first(&mut conn)
        .await
        .optional()
}

/// A live district locked for a change until the transaction ends (districts are
/// changed by administrators only, who see them all).
#[tracing::instrument(skip_all)]
pub async fn lock(mut conn: &AsyncPgConnection, key: &DistrictKey) -> QueryResult<District> {
    districts::table
        .select(District::as_select())
        .filter(districts::deleted_at.is_null())
        .filter(key_filter(key))
        .for_update()
        .first(&mut conn)
        .await
}

#[derive(Insertable)]
#[diesel(table_name = districts)]
struct NewDistrictRow {
    id: DistrictId,
    #[diesel(embed)]
    fields: DistrictFields,
}

#[tracing::instrument(skip_all)]
pub async fn insert(conn: &mut AsyncPgConnection, fields: DistrictFields) -> QueryResult<District> {
    crate::db::Prepared(
        diesel::insert_into(districts::table)
            .values(NewDistrictRow {
                id: DistrictId::generate(),
                fields,
            })
            .returning(District::as_returning()),
    )
    .get_result(conn)
    .await
}

impl super::Row for District {
    type Id = DistrictId;

    fn id(&self) -> DistrictId {
        self.id
    }

    fn version(&self) -> i64 {
        self.version
    }

    /// A district is its own.
    fn district(&self) -> Option<DistrictId> {
        Some(self.id)
    }
}

impl super::Stored for District {
    type Fields = DistrictFields;

    async fn find(conn: &AsyncPgConnection, id: DistrictId, scope: Scope) -> QueryResult<Self> {
        find(conn, &DistrictKey::Id(id), scope).await
    }

    async fn lock(conn: &AsyncPgConnection, id: DistrictId, scope: Scope) -> QueryResult<Self> {
        if !scope.covers(id) {
            return Err(diesel::result::Error::NotFound);
        }
        lock(conn, &DistrictKey::Id(id)).await
    }

    fn mark_deleted(
        conn: &mut AsyncPgConnection,
        id: DistrictId,
    ) -> impl Future<Output = QueryResult<()>> + Send {
        soft_delete(conn, id)
    }

    fn own_fields(&self) -> DistrictFields {
        self.fields()
    }

    fn changed(&self, fields: &DistrictFields, now: chrono::DateTime<chrono::Utc>) -> Self {
        let mut row = self.with_fields(fields);
        row.version += 1;
        row.updated_at = now;
        row
    }

    fn update_later(id: DistrictId, fields: DistrictFields) -> super::Statement {
        Box::new(move |mut conn| {
            Box::pin(async move {
                crate::db::Prepared(
                    diesel::update(districts::table.find(id))
                        .filter(districts::deleted_at.is_null())
                        .set(&fields),
                )
                .execute(&mut conn)
                .await
                .and_then(super::one_row)
            })
        })
    }
}

#[tracing::instrument(skip_all)]
pub async fn soft_delete(conn: &mut AsyncPgConnection, id: DistrictId) -> QueryResult<()> {
    crate::db::Prepared(
        diesel::update(districts::table.find(id)).set(districts::deleted_at.eq(diesel::dsl::now)),
    )
    .execute(conn)
    .await
    .map(drop)
}

/// How many live members, departments and workstations a district has.
#[tracing::instrument(skip_all)]
pub async fn dependents(
    conn: &mut AsyncPgConnection,
    id: DistrictId,
) -> QueryResult<(i64, i64, i64)> {
    let members = members::table
        .filter(members::district_id.eq(id))
        .filter(members::deleted_at.is_null())
        .count()
        .get_result(conn)
        .await?;
    let departments = departments::table
        .filter(departments::district_id.eq(id))
        .filter(departments::deleted_at.is_null())
        .count()
        .get_result(conn)
        .await?;
    let workstations = workstations::table
        .filter(workstations::district_id.eq(id))
        .filter(workstations::deleted_at.is_null())
        .count()
        .get_result(conn)
        .await?;
    Ok((members, departments, workstations))
}
