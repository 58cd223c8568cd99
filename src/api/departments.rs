//! `/api/v1/departments`: the departments and other units of a district (单位).

use crate::domain::kinds::Entity;
use crate::domain::values::FilterText;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::api::edit::{self, Editable};
use crate::api::policy::{read, read_with, write};
use diesel_async::AsyncPgConnection;

use crate::api::audit::{HistoryQuery, record};
use crate::api::auth::Caller;
use crate::api::districts::referenced_district;
use crate::api::http::{IfMatch, IfMatchHeader, IfNoneMatch, IfNoneMatchHeader, created_response};
use crate::api::input::{Checks, Field};
use crate::api::page::{Page, list_query, page};
use crate::api::work::{Db, Write};
use crate::db::audit::Change;
use crate::db::departments::{self as db, DepartmentFields, DepartmentFilter};
use crate::domain::ids::{DepartmentId, DistrictId};
use crate::domain::kinds::DepartmentKind;
use crate::domain::values::Line;
use crate::error::{ApiError, Problem};

pub fn configure(config: &mut ServiceConfig) {
    use crate::domain::access::DistrictOf::*;
    use crate::domain::access::UNITS;
    config.service(
        utoipa_actix_web::scope("/departments")
            .service(read(Filter, list_departments))
            .service(write(Body, create_department))
            .service(read_with(UNITS, Path, get_department))
            .service(write(Path, update_department))
            .service(write(Path, delete_department))
            .service(read(Path, get_department_history))
            .service(read(Path, get_department_assessments)),
    );
}

/// A government department or other unit of a district (单位): it handles proposals, is
/// evaluated and acts on rulings.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Department)]
pub struct DepartmentView {
    pub id: DepartmentId,
    pub district_id: DistrictId,
    #[schema(example = "区生态环境局")]
    pub name: String,
    #[schema(example = "生态环境局")]
    pub short_name: Option<String>,
    pub kind: DepartmentKind,
    /// The district system's id, for departments it syncs (`/sync/departments`).
    pub external_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Increases with every change; sent as the `ETag`.
    pub version: i64,
}

/// A page of a list of Department records.
pub type DepartmentPage = crate::api::page::Page<DepartmentView>;

impl From<db::Department> for DepartmentView {
    fn from(row: db::Department) -> Self {
        Self {
            id: row.id,
            district_id: row.district_id,
            name: row.name,
            short_name: row.short_name,
            kind: row.kind,
            external_id: row.external_id,
            created_at: row.created_at,
            updated_at: row.updated_at,
            version: row.version,
        }
    }
}

crate::api::http::versioned!(DepartmentView);

/// A new department.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDepartment {
    /// The department's district; cannot be changed later.
    #[serde(default)]
    #[schema(value_type = DistrictId, required = true)]
    pub district_id: Field<DistrictId>,
    /// Unique in the district.
    #[serde(default)]
    #[schema(value_type = Line<100>, required = true, example = "区生态环境局")]
    pub name: Field<Line<100>>,
    #[serde(default)]
    #[schema(value_type = Option<Line<50>>)]
    pub short_name: Field<Line<50>>,
    #[serde(default)]
    #[schema(value_type = DepartmentKind, required = true)]
    pub kind: Field<DepartmentKind>,
}

/// Changes to a department (JSON Merge Patch: absent fields are kept, `null` clears).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DepartmentPatch {
    #[serde(default)]
    #[schema(value_type = Line<100>)]
    pub name: Field<Line<100>>,
    #[serde(default)]
    #[schema(value_type = Option<Line<50>>)]
    pub short_name: Field<Line<50>>,
    #[serde(default)]
    #[schema(value_type = DepartmentKind)]
    pub kind: Field<DepartmentKind>,
}

impl NewDepartment {
    fn split(self) -> (Field<DistrictId>, DepartmentPatch) {
        let patch = DepartmentPatch {
            name: self.name,
            short_name: self.short_name,
            kind: self.kind,
        };
        (self.district_id, patch)
    }
}

/// The department's fields after `patch`, from `current` (none for a new department).
pub(crate) fn merge(
    checks: &mut Checks,
    patch: DepartmentPatch,
    current: Option<&DepartmentFields>,
) -> Option<DepartmentFields> {
    let name = checks.required("/name", patch.name, current.map(|c| c.name.clone()), |v| {
        Ok(v.into())
    });
    let short_name = checks.optional(
        "/short_name",
        patch.short_name,
        current.and_then(|c| c.short_name.clone()),
        |v| Ok(v.into()),
    );
    let kind = checks.required("/kind", patch.kind, current.map(|c| c.kind), Ok);
    Some(DepartmentFields {
        name: name?,
        short_name,
        kind: kind?,
    })
}

list_query! {
    /// Filters of the department list.
    DepartmentQuery, sort: DepartmentSort { Created = "created", UpdatedAt = "updated_at", Name = "name" },
    {
        /// Only departments of this district.
        district_id: DistrictId,
        /// Only departments of the district with this code.
        #[param(inline)]
        district: FilterText<40>,
        kind: DepartmentKind,
        /// Text in the name or short name.
        #[param(inline)]
        q: FilterText<100>,
    }
}

/// List departments.
#[utoipa::path(
    tag = "departments",
    params(DepartmentQuery),
    responses((status = 200, description = "A page of departments", body = DepartmentPage)),
)]
#[get("")]
async fn list_departments(
    caller: Caller,
    pool: Db,
    query: web::Query<DepartmentQuery>,
) -> Result<web::Json<Page<DepartmentView>>, ApiError> {
    let query = query.into_inner();
    let request = query.page()?;
    let filter = DepartmentFilter {
        scope: caller.scope(),
        district_id: query.district_id,
        district_code: query.district.and_then(FilterText::into_filter),
        kind: query.kind,
        q: query.q.and_then(FilterText::into_filter),
    };
    let mut conn = pool.conn().await?;
    let rows = db::list(&mut conn, &filter, &request).await?;
    Ok(web::Json(page(rows, &request, DepartmentView::from)))
}

edit::get_route! {
    /// Get a department.
    get_department: db::Department, GET "/{id}",
    tag = "departments", params(("id" = DepartmentId, Path, description = "The department's id")), path = DepartmentId,
    answer = (DepartmentView, "The department"),
}

/// Create a department.
#[utoipa::path(
    tag = "departments",
    request_body = NewDepartment,
    responses(
        (status = 201, description = "The new department", body = DepartmentView,
            headers(("ETag" = String), ("Location" = String, description = "The department's URL"))),
        (status = 409, description = "The name is taken in the district", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("")]
async fn create_department(
    caller: Caller,
    pool: Db,
    body: crate::api::http::Json<NewDepartment>,
) -> Result<HttpResponse, ApiError> {
    let (district_id, patch) = body.into_inner().split();
    let mut conn = pool.conn().await?;
    let department = conn
        .write(async move |conn| {
            let mut checks = Checks::default();
            let district =
                referenced_district(conn, &mut checks, district_id, caller.scope()).await?;
            let fields = merge(&mut checks, patch, None);
            let (district, fields) = checks.finish(district.zip(fields))?;
            let department = db::insert(conn, district.id, fields).await?;
            let change = Change::new(
                "create",
                Entity::Department,
                department.id,
                Some(district.id),
            );
            record(
                conn,
                &caller,
                change.after(&DepartmentView::from(department.clone())),
            );
            Ok::<_, ApiError>(department)
        })
        .await?;
    let location = format!("/api/v1/departments/{}", department.id);
    Ok(created_response(
        &DepartmentView::from(department),
        location,
    ))
}

edit::patch_route! {
    /// Change a department (JSON Merge Patch).
    update_department: db::Department, PATCH "/{id}",
    tag = "departments", params(("id" = DepartmentId, Path, description = "The department's id")), path = DepartmentId,
    body = DepartmentPatch, answer = (DepartmentView, "The changed department"),
    refused = "The name is taken in the district",
}

edit::delete_route! {
    /// Delete a department.
    delete_department: db::Department, DELETE "/{id}",
    tag = "departments", params(("id" = DepartmentId, Path, description = "The department's id")), path = DepartmentId,
}

impl Editable for db::Department {
    edit::own!(DepartmentId, "department");
    type Patch = DepartmentPatch;
    type View = DepartmentView;
    const ENTITY: Entity = Entity::Department;
    type Lists = ();

    async fn merge(
        _conn: &mut AsyncPgConnection,
        checks: &mut Checks,
        _lists: &Self::Lists,
        _parent: &(),
        row: &Self,
        patch: DepartmentPatch,
    ) -> Result<Option<DepartmentFields>, ApiError> {
        Ok(merge(checks, patch, Some(&row.fields())))
    }

    async fn view(_conn: &mut AsyncPgConnection, row: Self) -> Result<DepartmentView, ApiError> {
        Ok(DepartmentView::from(row))
    }
}

/// The audit trail of a department.
#[utoipa::path(
    tag = "departments",
    params(("id" = DepartmentId, Path, description = "The department's id"), HistoryQuery),
    responses(
        (status = 200, description = "Its changes, oldest first", body = crate::api::audit::AuditEventPage),
    ),
)]
#[get("/{id}/history")]
async fn get_department_history(
    caller: Caller,
    pool: Db,
    path: web::Path<DepartmentId>,
    query: web::Query<HistoryQuery>,
) -> Result<web::Json<Page<crate::api::audit::AuditEventView>>, ApiError> {
    let id = path.into_inner().to_string();
    crate::api::audit::history(&pool, &caller, Entity::Department, id, query.into_inner()).await
}

/// The department's results in democratic evaluations (民主评议): score and grade of each
/// concluded evaluation, newest year first.
#[utoipa::path(
    tag = "departments",
    params(("id" = DepartmentId, Path, description = "The department's id")),
    responses(
        (status = 200, description = "Its results", body = crate::api::evaluations::AssessmentList),
    ),
)]
#[get("/{id}/assessments")]
async fn get_department_assessments(
    caller: Caller,
    pool: Db,
    path: web::Path<DepartmentId>,
) -> Result<web::Json<crate::api::evaluations::AssessmentList>, ApiError> {
    let mut conn = pool.conn().await?;
    let list = crate::api::evaluations::assessments(&mut conn, &caller, path.into_inner()).await?;
    Ok(web::Json(list))
}
