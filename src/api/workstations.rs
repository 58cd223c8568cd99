//! `/api/v1/workstations`: members' workstations and studios (委员工作站 / 委员工作室), and
//! the members who belong to them.

use crate::api::work::Tx;
use crate::domain::kinds::Entity;
use crate::domain::values::FilterText;
use actix_web::{HttpResponse, delete, get, patch, post, put, web};
use chrono::{DateTime, NaiveDate, Utc};
use diesel_async::AsyncPgConnection;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::api::edit::{self, Editable};
use crate::api::policy::{read, read_with, write};

use crate::api::audit::{HistoryQuery, record};
use crate::api::auth::Caller;
use crate::api::districts::referenced_district;
use crate::api::http::{
    IfMatch, IfMatchHeader, IfNoneMatch, IfNoneMatchHeader, created_response, no_content,
};
use crate::api::input::{Checks, Field};
use crate::api::page::{Page, list_query, page};
use crate::api::work::{Db, Write};
use crate::db::audit::Change;
use crate::db::workstations::{self as db, Membership, WorkstationFields, WorkstationFilter};
use crate::domain::calendar::Day;
use crate::domain::ids::{DistrictId, MemberId, WorkstationId};
use crate::domain::kinds::WorkstationKind;
use crate::domain::values::{Line, Paragraph};
use crate::error::{ApiError, Problem, not_found_as};

pub fn configure(config: &mut ServiceConfig) {
    use crate::domain::access::DistrictOf::*;
    use crate::domain::access::MEMBERS;
    config.service(
        utoipa_actix_web::scope("/workstations")
            .service(read_with(MEMBERS, Filter, list_workstations))
            .service(write(Body, create_workstation))
            .service(read_with(MEMBERS, Path, get_workstation))
            .service(write(Path, update_workstation))
            .service(write(Path, delete_workstation))
            .service(read(Path, list_workstation_members))
            .service(read(Path, get_workstation_member))
            .service(write(Path, add_workstation_member))
            .service(write(Path, remove_workstation_member))
            .service(read(Path, get_workstation_history))
            .service(read(Path, super::activities::list_workstation_activities))
            .service(write(Path, super::activities::create_activity)),
    );
}

/// A place or platform where members meet the public (委员工作站 / 委员工作室).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Workstation)]
pub struct WorkstationView {
    pub id: WorkstationId,
    pub district_id: DistrictId,
    #[schema(example = "金融街街道委员工作站")]
    pub name: String,
    pub kind: WorkstationKind,
    pub street: Option<String>,
    pub address: Option<String>,
    pub opened_on: Option<NaiveDate>,
    /// The member who convenes it; a member of the same district.
    pub convenor_member_id: Option<MemberId>,
    pub description: Option<String>,
    /// The members who belong to it (see `/workstations/{id}/members`).
    pub member_ids: Vec<MemberId>,
    /// The district system's id, for workstations it syncs (`/sync/workstations`).
    pub external_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Increases with every change, including a member joining or leaving; sent as the
    /// `ETag`.
    pub version: i64,
}

/// A page of a list of Workstation records.
pub type WorkstationPage = crate::api::page::Page<WorkstationView>;

impl WorkstationView {
    pub(crate) fn new(row: db::Workstation, member_ids: Vec<MemberId>) -> Self {
        Self {
            id: row.id,
            district_id: row.district_id,
            name: row.name,
            kind: row.kind,
            street: row.street,
            address: row.address,
            opened_on: row.opened_on,
            convenor_member_id: row.convenor_member_id,
            description: row.description,
            member_ids,
            external_id: row.external_id,
            created_at: row.created_at,
            updated_at: row.updated_at,
            version: row.version,
        }
    }
}

crate::api::http::versioned!(WorkstationView);

/// A member's place in a workstation.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = WorkstationMember)]
pub struct MembershipView {
    pub workstation_id: WorkstationId,
    pub member_id: MemberId,
    #[schema(example = "XC-16-001")]
    pub member_no: String,
    #[schema(example = "王小明")]
    pub name: String,
    pub added_at: DateTime<Utc>,
}

impl From<Membership> for MembershipView {
    fn from(row: Membership) -> Self {
        Self {
            workstation_id: row.workstation_id,
            member_id: row.member_id,
            member_no: row.member_no,
            name: row.name,
            added_at: row.added_at,
        }
    }
}

/// The members of a workstation (not paged: a workstation has at most its district's
/// members).
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkstationMembers {
    pub items: Vec<MembershipView>,
}

/// A new workstation.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWorkstation {
    /// The workstation's district; cannot be changed later.
    #[serde(default)]
    #[schema(value_type = DistrictId, required = true)]
    pub district_id: Field<DistrictId>,
    /// Unique in the district.
    #[serde(default)]
    #[schema(value_type = Line<100>, required = true, example = "金融街街道委员工作站")]
    pub name: Field<Line<100>>,
    #[serde(default)]
    #[schema(value_type = WorkstationKind, required = true)]
    pub kind: Field<WorkstationKind>,
    #[serde(default)]
    #[schema(value_type = Option<Line<50>>)]
    pub street: Field<Line<50>>,
    #[serde(default)]
    #[schema(value_type = Option<Line<200>>)]
    pub address: Field<Line<200>>,
    #[serde(default)]
    #[schema(value_type = Option<Day>)]
    pub opened_on: Field<Day>,
    /// A member of the same district.
    #[serde(default)]
    #[schema(value_type = Option<MemberId>)]
    pub convenor_member_id: Field<MemberId>,
    #[serde(default)]
    #[schema(value_type = Option<Paragraph<2000>>)]
    pub description: Field<Paragraph<2000>>,
}

/// Changes to a workstation (JSON Merge Patch: absent fields are kept, `null` clears).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkstationPatch {
    #[serde(default)]
    #[schema(value_type = Line<100>)]
    pub name: Field<Line<100>>,
    #[serde(default)]
    #[schema(value_type = WorkstationKind)]
    pub kind: Field<WorkstationKind>,
    #[serde(default)]
    #[schema(value_type = Option<Line<50>>)]
    pub street: Field<Line<50>>,
    #[serde(default)]
    #[schema(value_type = Option<Line<200>>)]
    pub address: Field<Line<200>>,
    #[serde(default)]
    #[schema(value_type = Option<Day>)]
    pub opened_on: Field<Day>,
    #[serde(default)]
    #[schema(value_type = Option<MemberId>)]
    pub convenor_member_id: Field<MemberId>,
    #[serde(default)]
    #[schema(value_type = Option<Paragraph<2000>>)]
    pub description: Field<Paragraph<2000>>,
}

impl NewWorkstation {
    fn split(self) -> (Field<DistrictId>, WorkstationPatch) {
        let patch = WorkstationPatch {
            name: self.name,
            kind: self.kind,
            street: self.street,
            address: self.address,
            opened_on: self.opened_on,
            convenor_member_id: self.convenor_member_id,
            description: self.description,
        };
        (self.district_id, patch)
    }
}

/// The workstation's fields after `patch`, from `current` (none for a new workstation).
/// The convenor must be a member of `district` (unknown when the district is invalid).
pub(crate) async fn merge(
    conn: &mut AsyncPgConnection,
    checks: &mut Checks,
    patch: WorkstationPatch,
    current: Option<&WorkstationFields>,
    district: Option<DistrictId>,
) -> Result<Option<WorkstationFields>, ApiError> {
    let c = current;
    let name = checks.required("/name", patch.name, c.map(|c| c.name.clone()), |v| {
        Ok(v.into())
    });
    let kind = checks.required("/kind", patch.kind, c.map(|c| c.kind), Ok);
    let street = checks.optional(
        "/street",
        patch.street,
        c.and_then(|c| c.street.clone()),
        |v| Ok(v.into()),
    );
    let address = checks.optional(
        "/address",
        patch.address,
        c.and_then(|c| c.address.clone()),
        |v| Ok(v.into()),
    );
    let opened_on = checks.optional(
        "/opened_on",
        patch.opened_on,
        c.and_then(|c| c.opened_on),
        Day::date,
    );
    let convenor_changed = matches!(patch.convenor_member_id, Field::Value(_));
    let convenor = checks.optional(
        "/convenor_member_id",
        patch.convenor_member_id,
        c.and_then(|c| c.convenor_member_id),
        Ok,
    );
    if let (true, Some(convenor), Some(district)) = (convenor_changed, convenor, district) {
        let found = crate::db::members::existing_in_district(conn, district, &[convenor]).await?;
        if found.is_empty() {
            checks.unknown(
                "/convenor_member_id",
                "is not a member of the workstation's district",
            );
        }
    }
    let description = checks.optional(
        "/description",
        patch.description,
        c.and_then(|c| c.description.clone()),
        |v| Ok(v.into()),
    );
    Ok((|| {
        Some(WorkstationFields {
            name: name?,
            kind: kind?,
            street,
            address,
            opened_on,
            convenor_member_id: convenor,
            description,
        })
    })())
}

list_query! {
    /// Filters of the workstation list.
    WorkstationQuery, sort: WorkstationSort { Created = "created", UpdatedAt = "updated_at", Name = "name" },
    {
        /// Only workstations of this district.
        district_id: DistrictId,
        /// Only workstations of the district with this code.
        #[param(inline)]
        district: FilterText<40>,
        kind: WorkstationKind,
        /// Only workstations in this street.
        #[param(inline)]
        street: FilterText<50>,
        /// Only workstations this member belongs to.
        member_id: MemberId,
        /// Text in the name or address.
        #[param(inline)]
        q: FilterText<100>,
    }
}

/// Live workstations with their member lists.
pub(crate) async fn views(
    conn: &mut AsyncPgConnection,
    ids: &[WorkstationId],
) -> Result<Vec<WorkstationView>, ApiError> {
    let rows = db::find_many(conn, ids).await?;
    let mut members = db::member_ids(conn, ids).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let ids = members.remove(&row.id).unwrap_or_default();
            WorkstationView::new(row, ids)
        })
        .collect())
}

/// Records the changes of the workstations `before` shows, as they are now, under
/// `action`.
pub(crate) async fn record_changes(
    conn: &mut Tx<'_>,
    caller: &Caller,
    action: &'static str,
    before: Vec<WorkstationView>,
) -> Result<(), ApiError> {
    for change in changes(conn, action, before).await? {
        record(conn, caller, change);
    }
    Ok(())
}

/// The changes of the workstations `before` shows, as they are now, under `action`:
/// one for each that has a new version.
pub(crate) async fn changes(
    conn: &mut AsyncPgConnection,
    action: &'static str,
    before: Vec<WorkstationView>,
) -> Result<Vec<Change>, ApiError> {
    let ids: Vec<WorkstationId> = before.iter().map(|station| station.id).collect();
    let after = views(conn, &ids).await?;
    Ok(before
        .into_iter()
        .filter_map(|old| {
            let new = after.iter().find(|station| station.id == old.id)?;
            (new.version != old.version).then(|| {
                Change::new(action, Entity::Workstation, old.id, Some(old.district_id))
                    .before(&old)
                    .after(new)
            })
        })
        .collect())
}

/// A workstation with its member list.
async fn view(
    conn: &mut AsyncPgConnection,
    row: db::Workstation,
) -> Result<WorkstationView, ApiError> {
    let mut members = db::member_ids(conn, &[row.id]).await?;
    let ids = members.remove(&row.id).unwrap_or_default();
    Ok(WorkstationView::new(row, ids))
}

/// List workstations.
#[utoipa::path(
    tag = "workstations",
    params(WorkstationQuery),
    responses((status = 200, description = "A page of workstations", body = WorkstationPage)),
)]
#[get("")]
async fn list_workstations(
    caller: Caller,
    pool: Db,
    query: web::Query<WorkstationQuery>,
) -> Result<web::Json<Page<WorkstationView>>, ApiError> {
    let query = query.into_inner();
    let request = query.page()?;
    let filter = WorkstationFilter {
        scope: caller.scope(),
        district_id: query.district_id,
        district_code: query.district.and_then(FilterText::into_filter),
        kind: query.kind,
        street: query.street.and_then(FilterText::into_filter),
        member_id: query.member_id,
        q: query.q.and_then(FilterText::into_filter),
    };
    let mut conn = pool.conn().await?;
    let rows = db::list(&mut conn, &filter, &request).await?;
    let ids: Vec<WorkstationId> = rows.iter().map(|row| row.id).collect();
    let mut members = db::member_ids(&mut conn, &ids).await?;
    Ok(web::Json(page(rows, &request, |row| {
        let ids = members.remove(&row.id).unwrap_or_default();
        WorkstationView::new(row, ids)
    })))
}

edit::get_route! {
    /// Get a workstation.
    get_workstation: db::Workstation, GET "/{id}",
    tag = "workstations", params(("id" = WorkstationId, Path, description = "The workstation's id")), path = WorkstationId,
    answer = (WorkstationView, "The workstation"),
}

/// Create a workstation.
#[utoipa::path(
    tag = "workstations",
    request_body = NewWorkstation,
    responses(
        (status = 201, description = "The new workstation", body = WorkstationView,
            headers(("ETag" = String), ("Location" = String, description = "The workstation's URL"))),
        (status = 409, description = "The name is taken in the district", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("")]
async fn create_workstation(
    caller: Caller,
    pool: Db,
    body: crate::api::http::Json<NewWorkstation>,
) -> Result<HttpResponse, ApiError> {
    let (district_id, patch) = body.into_inner().split();
    let mut conn = pool.conn().await?;
    let row = conn
        .write(async move |conn| {
            let mut checks = Checks::default();
            let district =
                referenced_district(conn, &mut checks, district_id, caller.scope()).await?;
            let fields = merge(
                conn,
                &mut checks,
                patch,
                None,
                district.as_ref().map(|d| d.id),
            )
            .await?;
            let (district, fields) = checks.finish(district.zip(fields))?;
            let row = db::insert(conn, district.id, fields).await?;
            let change = Change::new("create", Entity::Workstation, row.id, Some(district.id));
            let view = WorkstationView::new(row.clone(), Vec::new());
            record(conn, &caller, change.after(&view));
            Ok::<_, ApiError>(row)
        })
        .await?;
    let location = format!("/api/v1/workstations/{}", row.id);
    Ok(created_response(
        &WorkstationView::new(row, Vec::new()),
        location,
    ))
}

edit::patch_route! {
    /// Change a workstation (JSON Merge Patch).
    update_workstation: db::Workstation, PATCH "/{id}",
    tag = "workstations", params(("id" = WorkstationId, Path, description = "The workstation's id")), path = WorkstationId,
    body = WorkstationPatch, answer = (WorkstationView, "The changed workstation"),
    refused = "The name is taken in the district",
}

edit::delete_route! {
    /// Delete a workstation; refused while it has activities.
    delete_workstation: db::Workstation, DELETE "/{id}",
    tag = "workstations", params(("id" = WorkstationId, Path, description = "The workstation's id")), path = WorkstationId,
    refused = "The workstation still has activities",
}

impl Editable for db::Workstation {
    edit::own!(WorkstationId, "workstation");
    type Patch = WorkstationPatch;
    type View = WorkstationView;
    const ENTITY: Entity = Entity::Workstation;
    type Lists = ();

    async fn merge(
        conn: &mut AsyncPgConnection,
        checks: &mut Checks,
        _lists: &Self::Lists,
        _parent: &(),
        row: &Self,
        patch: WorkstationPatch,
    ) -> Result<Option<WorkstationFields>, ApiError> {
        merge(
            conn,
            checks,
            patch,
            Some(&row.fields()),
            Some(row.district_id),
        )
        .await
    }

    async fn view(conn: &mut AsyncPgConnection, row: Self) -> Result<WorkstationView, ApiError> {
        view(conn, row).await
    }

    /// Refused while activities are recorded at it; its memberships go with it.
    async fn remove(conn: &mut AsyncPgConnection, row: &Self) -> Result<Vec<Change>, ApiError> {
        let activities = db::activity_count(conn, row.id).await?;
        if activities > 0 {
            return Err(ApiError::conflict(format!(
                "the workstation still has {activities} activity(ies); delete them first"
            )));
        }
        db::soft_delete(conn, row.id).await?;
        Ok(Vec::new())
    }
}

/// List the members of a workstation.
#[utoipa::path(
    tag = "workstations",
    params(("id" = WorkstationId, Path, description = "The workstation's id")),
    responses(
        (status = 200, description = "Its members", body = WorkstationMembers),
    ),
)]
#[get("/{id}/members")]
async fn list_workstation_members(
    caller: Caller,
    pool: Db,
    path: web::Path<WorkstationId>,
) -> Result<web::Json<WorkstationMembers>, ApiError> {
    let id = path.into_inner();
    let mut conn = pool.conn().await?;
    db::find(&conn, id, caller.scope())
        .await
        .map_err(not_found_as("workstation"))?;
    let items = db::list_members(&mut conn, id).await?;
    Ok(web::Json(WorkstationMembers {
        items: items.into_iter().map(MembershipView::from).collect(),
    }))
}

/// Whether a member belongs to a workstation.
#[utoipa::path(
    tag = "workstations",
    params(
        ("id" = WorkstationId, Path, description = "The workstation's id"),
        ("member_id" = MemberId, Path, description = "The member's id"),
    ),
    responses(
        (status = 200, description = "The member belongs to the workstation", body = MembershipView),
        (status = 404, description = "No such workstation, or the member does not belong to it", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/{id}/members/{member_id}")]
async fn get_workstation_member(
    caller: Caller,
    pool: Db,
    path: web::Path<(WorkstationId, MemberId)>,
) -> Result<web::Json<MembershipView>, ApiError> {
    let (id, member) = path.into_inner();
    let mut conn = pool.conn().await?;
    db::find(&conn, id, caller.scope())
        .await
        .map_err(not_found_as("workstation"))?;
    let membership = db::find_member(&mut conn, id, member)
        .await
        .map_err(not_found_as("member of this workstation"))?;
    Ok(web::Json(membership.into()))
}

/// Add a member to a workstation (idempotent: 201 when added, 200 when already there).
#[utoipa::path(
    tag = "workstations",
    params(
        ("id" = WorkstationId, Path, description = "The workstation's id"),
        ("member_id" = MemberId, Path, description = "The member's id"),
        IfMatchHeader,
    ),
    responses(
        (status = 201, description = "Added", body = MembershipView),
        (status = 200, description = "The member already belonged", body = MembershipView),
        (status = 404, description = "No such workstation or member", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match does not name the workstation's current version", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The member belongs to another district", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[put("/{id}/members/{member_id}")]
async fn add_workstation_member(
    caller: Caller,
    pool: Db,
    path: web::Path<(WorkstationId, MemberId)>,
    condition: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let (id, member) = path.into_inner();
    let mut conn = pool.conn().await?;
    let (added, membership) = conn
        .write(async move |conn| {
            let workstation = db::lock(conn, id, caller.scope())
                .await
                .map_err(not_found_as("workstation"))?;
            condition.check(workstation.version)?;
            let candidate = crate::db::members::find(conn, member, caller.scope())
                .await
                .map_err(not_found_as("member"))?;
            if candidate.district_id != workstation.district_id {
                return Err(ApiError::unknown(
                    "/member_id",
                    "the member belongs to another district than the workstation",
                ));
            }
            let before = view(conn, workstation.clone()).await?;
            let added = db::add_member(conn, &workstation, member).await?;
            if added {
                record_changes(conn, &caller, "add_member", vec![before]).await?;
            }
            Ok::<_, ApiError>((added, db::find_member(conn, id, member).await?))
        })
        .await?;
    let view = MembershipView::from(membership);
    Ok(if added {
        HttpResponse::Created().json(view)
    } else {
        HttpResponse::Ok().json(view)
    })
}

/// Remove a member from a workstation.
#[utoipa::path(
    tag = "workstations",
    params(
        ("id" = WorkstationId, Path, description = "The workstation's id"),
        ("member_id" = MemberId, Path, description = "The member's id"),
        IfMatchHeader,
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such workstation, or the member does not belong to it", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match does not name the workstation's current version", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[delete("/{id}/members/{member_id}")]
async fn remove_workstation_member(
    caller: Caller,
    pool: Db,
    path: web::Path<(WorkstationId, MemberId)>,
    condition: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let (id, member) = path.into_inner();
    let mut conn = pool.conn().await?;
    conn.write(async move |conn| {
        let workstation = db::lock(conn, id, caller.scope())
            .await
            .map_err(not_found_as("workstation"))?;
        condition.check(workstation.version)?;
        let before = view(conn, workstation).await?;
        if db::remove_member(conn, id, member).await? {
            record_changes(conn, &caller, "remove_member", vec![before]).await
        } else {
            Err(ApiError::not_found("member of this workstation"))
        }
    })
    .await?;
    Ok(no_content())
}

/// The audit trail of a workstation, its members joining and leaving included.
#[utoipa::path(
    tag = "workstations",
    params(("id" = WorkstationId, Path, description = "The workstation's id"), HistoryQuery),
    responses(
        (status = 200, description = "Its changes, oldest first", body = crate::api::audit::AuditEventPage),
    ),
)]
#[get("/{id}/history")]
async fn get_workstation_history(
    caller: Caller,
    pool: Db,
    path: web::Path<WorkstationId>,
    query: web::Query<HistoryQuery>,
) -> Result<web::Json<Page<crate::api::audit::AuditEventView>>, ApiError> {
    let id = path.into_inner().to_string();
    crate::api::audit::history(&pool, &caller, Entity::Workstation, id, query.into_inner()).await
}
