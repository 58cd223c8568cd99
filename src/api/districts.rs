//! `/api/v1/districts`: the district committees (区政协).

use crate::domain::kinds::Entity;
use crate::domain::values::FilterText;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::api::edit::{self, Editable};
use crate::api::policy::{admin, read};
use diesel_async::AsyncPgConnection;

use crate::api::audit::{HistoryQuery, record};
use crate::api::auth::Caller;
use crate::api::http::{IfMatch, IfMatchHeader, IfNoneMatch, IfNoneMatchHeader, created_response};
use crate::api::input::{Checks, Field};
use crate::api::page::{Page, list_query, page};
use crate::api::work::{Db, Write};
use crate::db::audit::Change;
use crate::db::districts::{self as db, DistrictFields, DistrictFilter, DistrictKey};
use crate::domain::access::ADMINS;
use crate::domain::access::Scope;
use crate::domain::ids::DistrictId;
use crate::domain::values::{DistrictCode, Line, Term};
use crate::error::{ApiError, not_found_as};

pub fn configure(config: &mut ServiceConfig) {
    use crate::domain::access::DistrictOf::*;
    config.service(
        utoipa_actix_web::scope("/districts")
            .service(read(Filter, list_districts))
            .service(admin(Nothing, create_district))
            .service(read(Path, get_district))
            .service(admin(Path, update_district))
            .service(admin(Path, delete_district))
            .service(read(Path, get_district_history)),
    );
}

/// A district committee (区政协).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = District)]
pub struct DistrictView {
    pub id: DistrictId,
    /// Short unique code, used in URLs and filters.
    #[schema(example = "xicheng")]
    pub code: String,
    #[schema(example = "西城区")]
    pub name: String,
    #[schema(example = "Xicheng")]
    pub name_en: Option<String>,
    /// The current term (届).
    #[schema(example = 16)]
    pub term: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Increases with every change; sent as the `ETag`.
    pub version: i64,
}

/// A page of a list of District records.
pub type DistrictPage = crate::api::page::Page<DistrictView>;

impl From<db::District> for DistrictView {
    fn from(row: db::District) -> Self {
        Self {
            id: row.id,
            code: row.code,
            name: row.name,
            name_en: row.name_en,
            term: row.term,
            created_at: row.created_at,
            updated_at: row.updated_at,
            version: row.version,
        }
    }
}

crate::api::http::versioned!(DistrictView);

/// A new district.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDistrict {
    /// 2 to 40 lowercase letters, digits, `-` or `_`, starting with a letter; unique.
    #[serde(default)]
    #[schema(value_type = DistrictCode, required = true, example = "xicheng")]
    pub code: Field<DistrictCode>,
    /// Unique.
    #[serde(default)]
    #[schema(value_type = Line<100>, required = true, example = "西城区")]
    pub name: Field<Line<100>>,
    #[serde(default)]
    #[schema(value_type = Option<Line<100>>, example = "Xicheng")]
    pub name_en: Field<Line<100>>,
    #[serde(default)]
    #[schema(value_type = Term, required = true, example = 16)]
    pub term: Field<Term>,
}

/// Changes to a district (JSON Merge Patch: absent fields are kept, `null` clears).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DistrictPatch {
    #[serde(default)]
    #[schema(value_type = DistrictCode, example = "xicheng")]
    pub code: Field<DistrictCode>,
    #[serde(default)]
    #[schema(value_type = Line<100>, example = "西城区")]
    pub name: Field<Line<100>>,
    #[serde(default)]
    #[schema(value_type = Option<Line<100>>, example = "Xicheng")]
    pub name_en: Field<Line<100>>,
    #[serde(default)]
    #[schema(value_type = Term, example = 16)]
    pub term: Field<Term>,
}

impl From<NewDistrict> for DistrictPatch {
    fn from(body: NewDistrict) -> Self {
        Self {
            code: body.code,
            name: body.name,
            name_en: body.name_en,
            term: body.term,
        }
    }
}

/// The district's fields after `patch`, from `current` (none for a new district).
fn merge(
    checks: &mut Checks,
    patch: DistrictPatch,
    current: Option<DistrictFields>,
) -> Option<DistrictFields> {
    let current = current.as_ref();
    let code = checks.required(
        "/code",
        patch.code,
        current.map(|c| c.code.clone()),
        |code| Ok(code.into()),
    );
    let name = checks.required("/name", patch.name, current.map(|c| c.name.clone()), |v| {
        Ok(v.into())
    });
    let name_en = checks.optional(
        "/name_en",
        patch.name_en,
        current.and_then(|c| c.name_en.clone()),
        |v| Ok(v.into()),
    );
    let term = checks.required("/term", patch.term, current.map(|c| c.term), |v| {
        Ok(v.into())
    });
    (|| {
        Some(DistrictFields {
            code: code?,
            name: name?,
            name_en,
            term: term?,
        })
    })()
}

list_query! {
    /// Filters of the district list.
    DistrictQuery, sort: DistrictSort { Created = "created", UpdatedAt = "updated_at", Name = "name" },
    {
        /// Only the district with this code.
        #[param(inline)]
        code: FilterText<40>,
        /// Text in the name, English name or code.
        #[param(inline)]
        q: FilterText<100>,
    }
}

/// How a path names a district: its id or its code.
fn district_key(segment: &str) -> DistrictKey {
    match segment.parse::<DistrictId>() {
        Ok(id) => DistrictKey::Id(id),
        Err(_) => DistrictKey::Code(segment.to_owned()),
    }
}

/// List districts.
#[utoipa::path(
    tag = "districts",
    params(DistrictQuery),
    responses((status = 200, description = "A page of districts", body = DistrictPage)),
)]
#[get("")]
async fn list_districts(
    caller: Caller,
    pool: Db,
    query: web::Query<DistrictQuery>,
) -> Result<web::Json<Page<DistrictView>>, ApiError> {
    let query = query.into_inner();
    let request = query.page()?;
    let filter = DistrictFilter {
        scope: caller.scope(),
        code: query.code.and_then(FilterText::into_filter),
        q: query.q.and_then(FilterText::into_filter),
    };
    let mut conn = pool.conn().await?;
    let rows = db::list(&mut conn, &filter, &request).await?;
    Ok(web::Json(page(rows, &request, DistrictView::from)))
}

/// Get a district by id or code.
#[utoipa::path(
    tag = "districts",
    params(
        ("district" = String, Path, description = "The district's id or code", example = "xicheng"),
        IfNoneMatchHeader,
    ),
    responses(
        (status = 200, description = "The district", body = DistrictView,
            headers(("ETag" = String, description = "The district's version"))),
    ),
)]
#[get("/{district}")]
async fn get_district(
    caller: Caller,
    pool: Db,
    path: web::Path<String>,
    condition: IfNoneMatch,
) -> Result<HttpResponse, ApiError> {
    let key = district_key(&path.into_inner());
    edit::read::<db::District>(&pool, caller, key, condition).await
}

/// Create a district.
#[utoipa::path(
    tag = "districts",
    request_body = NewDistrict,
    responses(
        (status = 201, description = "The new district", body = DistrictView,
            headers(("ETag" = String), ("Location" = String, description = "The district's URL"))),
        (status = 409, description = "The code or name is taken", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
#[post("")]
async fn create_district(
    caller: Caller,
    pool: Db,
    body: crate::api::http::Json<NewDistrict>,
) -> Result<HttpResponse, ApiError> {
    caller.require(ADMINS, "creating districts")?;
    let mut checks = Checks::default();
    let fields = merge(&mut checks, body.into_inner().into(), None);
    let fields = checks.finish(fields)?;
    let mut conn = pool.conn().await?;
    let district = conn
        .write(async move |conn| {
            let district = db::insert(conn, fields).await?;
            let view = DistrictView::from(district.clone());
            record(
                conn,
                &caller,
                Change::new("create", Entity::District, district.id, Some(district.id))
                    .after(&view),
            );
            Ok::<_, ApiError>(district)
        })
        .await?;
    let location = format!("/api/v1/districts/{}", district.id);
    Ok(created_response(&DistrictView::from(district), location))
}

/// Change a district (JSON Merge Patch).
#[utoipa::path(
    tag = "districts",
    params(
        ("district" = String, Path, description = "The district's id or code"),
        IfMatchHeader,
    ),
    request_body(content = DistrictPatch, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The changed district", body = DistrictView, headers(("ETag" = String))),
        (status = 409, description = "The code or name is taken", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
#[patch("/{district}")]
async fn update_district(
    caller: Caller,
    pool: Db,
    path: web::Path<String>,
    condition: IfMatch,
    body: crate::api::http::Json<DistrictPatch>,
) -> Result<HttpResponse, ApiError> {
    caller.require(ADMINS, "changing districts")?;
    let key = district_key(&path.into_inner());
    edit::update::<db::District>(&pool, caller, key, condition, body.into_inner()).await
}

/// Delete a district; refused while it still has members, departments or workstations.
#[utoipa::path(
    tag = "districts",
    params(
        ("district" = String, Path, description = "The district's id or code"),
        IfMatchHeader,
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 409, description = "The district still has members, departments or workstations", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
#[delete("/{district}")]
async fn delete_district(
    caller: Caller,
    pool: Db,
    path: web::Path<String>,
    condition: IfMatch,
) -> Result<HttpResponse, ApiError> {
    caller.require(ADMINS, "deleting districts")?;
    let key = district_key(&path.into_inner());
    edit::delete::<db::District>(&pool, caller, key, condition).await
}

impl Editable for db::District {
    type Key = DistrictKey;
    type Parent = ();
    type Patch = DistrictPatch;
    type View = DistrictView;
    const ENTITY: Entity = Entity::District;
    type Lists = ();

    /// A district by id or code; the route's policy lets only administrators here.
    async fn locked(
        conn: &AsyncPgConnection,
        _caller: &Caller,
        key: DistrictKey,
    ) -> Result<((), Self), ApiError> {
        let row = db::lock(conn, &key)
            .await
            .map_err(not_found_as("district"))?;
        Ok(((), row))
    }

    async fn found(
        conn: &mut AsyncPgConnection,
        caller: &Caller,
        key: DistrictKey,
    ) -> Result<Self, ApiError> {
        db::find(conn, &key, caller.scope())
            .await
            .map_err(not_found_as("district"))
    }

    async fn merge(
        _conn: &mut AsyncPgConnection,
        checks: &mut Checks,
        _lists: &Self::Lists,
        _parent: &(),
        row: &Self,
        patch: DistrictPatch,
    ) -> Result<Option<DistrictFields>, ApiError> {
        Ok(merge(checks, patch, Some(row.fields())))
    }

    async fn view(_conn: &mut AsyncPgConnection, row: Self) -> Result<DistrictView, ApiError> {
        Ok(DistrictView::from(row))
    }

    /// Refused while members, departments or workstations are live in it.
    async fn remove(conn: &mut AsyncPgConnection, row: &Self) -> Result<Vec<Change>, ApiError> {
        let (members, departments, workstations) = db::dependents(conn, row.id).await?;
        if members + departments + workstations > 0 {
            return Err(ApiError::conflict(format!(
                "the district still has {members} member(s), {departments} department(s) and \
                 {workstations} workstation(s); delete them first"
            )));
        }
        db::soft_delete(conn, row.id).await?;
        Ok(Vec::new())
    }
}

/// The district a district-wide read (a plan, a ranking) covers: the one asked for, or a
/// district key's own. A district key asking for another gets 404; a key of no district
/// must ask (422).
pub(crate) fn district_to_read(
    asked: Option<DistrictId>,
    scope: Scope,
) -> Result<DistrictId, ApiError> {
    district_filter(asked, scope)?
        .ok_or_else(|| ApiError::rule("district_id", "is required with a key of no district"))
}

/// The district a read that may span districts is narrowed to: the one asked for, else
/// the caller's own, else none (every district). Another district than the caller's own
/// is a 404.
pub(crate) fn district_filter(
    asked: Option<DistrictId>,
    scope: Scope,
) -> Result<Option<DistrictId>, ApiError> {
    match (asked, scope.district()) {
        (Some(asked), Some(own)) if asked != own => Err(ApiError::not_found("district")),
        (asked, own) => Ok(asked.or(own)),
    }
}

/// Reads the `district_id` of a new record: required, and a live district in the
/// caller's scope, which stays locked against deletion until the transaction ends.
pub(crate) async fn referenced_district(
    conn: &diesel_async::AsyncPgConnection,
    checks: &mut Checks,
    field: Field<DistrictId>,
    scope: Scope,
) -> Result<Option<db::District>, ApiError> {
    let Some(id) = checks.required("/district_id", field, None, Ok) else {
        return Ok(None);
    };
    let district = db::find_for_reference(conn, id)
        .await?
        .filter(|district| scope.covers(district.id));
    if district.is_none() {
        checks.unknown("/district_id", "no such district");
    }
    Ok(district)
}

/// The audit trail of a district.
#[utoipa::path(
    tag = "districts",
    params(("district" = String, Path, description = "The district's id or code"), HistoryQuery),
    responses(
        (status = 200, description = "Its changes, oldest first", body = crate::api::audit::AuditEventPage),
    ),
)]
#[get("/{district}/history")]
async fn get_district_history(
    caller: Caller,
    pool: Db,
    path: web::Path<String>,
    query: web::Query<HistoryQuery>,
) -> Result<web::Json<Page<crate::api::audit::AuditEventView>>, ApiError> {
    let id = match district_key(&path.into_inner()) {
        DistrictKey::Id(id) => id,
        key @ DistrictKey::Code(_) => {
            let conn = pool.conn().await?;
            db::find(&conn, &key, caller.scope())
                .await
                .map_err(not_found_as("district"))?
                .id
        }
    };
    crate::api::audit::history(
        &pool,
        &caller,
        Entity::District,
        id.to_string(),
        query.into_inner(),
    )
    .await
}
