//! Activities held at workstations (履职活动): `/api/v1/activities` and
//! `/api/v1/workstations/{id}/activities`.

use crate::domain::kinds::Entity;
use crate::domain::values::FilterText;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use diesel_async::AsyncPgConnection;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::api::edit::{self, Editable};
use crate::api::policy::{read, read_with, write};

use crate::api::audit::{HistoryQuery, record};
use crate::api::auth::Caller;
use crate::api::http::{IfMatch, IfMatchHeader, IfNoneMatch, IfNoneMatchHeader, created_response};
use crate::api::input::{Checks, Field};
use crate::api::page::{Page, list_query, page};
use crate::api::work::{Db, Write};
use crate::db::activities::{self as db, ActivityFields, ActivityFilter};
use crate::db::audit::Change;
use crate::domain::calendar::Day;
use crate::domain::ids::{ActivityId, DistrictId, MemberId, WorkstationId};
use crate::domain::kinds::ActivityKind;
use crate::domain::values::{self, Count, Line, Paragraph};
use crate::error::{ApiError, not_found_as};

/// `/activities`; a workstation's own activity routes are registered by
/// [`super::workstations::configure`], in its scope.
pub fn configure(config: &mut ServiceConfig) {
    use crate::domain::access::DistrictOf::*;
    use crate::domain::access::MEMBERS;
    config.service(
        utoipa_actix_web::scope("/activities")
            .service(read_with(MEMBERS, Filter, list_activities))
            .service(read_with(MEMBERS, Path, get_activity))
            .service(write(Path, update_activity))
            .service(write(Path, delete_activity))
            .service(read(Path, get_activity_history)),
    );
}

/// An activity held at a workstation (履职活动).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Activity)]
pub struct ActivityView {
    pub id: ActivityId,
    pub district_id: DistrictId,
    pub workstation_id: WorkstationId,
    pub kind: ActivityKind,
    #[schema(example = "垃圾分类街巷微协商")]
    pub title: String,
    pub held_on: NaiveDate,
    /// The members who took part; members of the workstation's district.
    pub participant_ids: Vec<MemberId>,
    /// How many people the activity reached.
    pub people_reached: i32,
    /// How many opinions were collected.
    pub opinions_collected: i32,
    pub summary: Option<String>,
    /// The district system's id, for activities it syncs (`/sync/activities`).
    pub external_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Increases with every change; sent as the `ETag`.
    pub version: i64,
}

/// A page of a list of Activity records.
pub type ActivityPage = crate::api::page::Page<ActivityView>;

impl From<db::Activity> for ActivityView {
    fn from(row: db::Activity) -> Self {
        Self {
            id: row.id,
            district_id: row.district_id,
            workstation_id: row.workstation_id,
            kind: row.kind,
            title: row.title,
            held_on: row.held_on,
            participant_ids: row.participant_ids,
            people_reached: row.people_reached,
            opinions_collected: row.opinions_collected,
            summary: row.summary,
            external_id: row.external_id,
            created_at: row.created_at,
            updated_at: row.updated_at,
            version: row.version,
        }
    }
}

crate::api::http::versioned!(ActivityView);

/// A new activity at a workstation.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewActivity {
    #[serde(default)]
    #[schema(value_type = ActivityKind, required = true)]
    pub kind: Field<ActivityKind>,
    #[serde(default)]
    #[schema(value_type = Line<200>, required = true, example = "垃圾分类街巷微协商")]
    pub title: Field<Line<200>>,
    #[serde(default)]
    #[schema(value_type = Day, required = true)]
    pub held_on: Field<Day>,
    /// Members of the workstation's district; defaults to none.
    #[serde(default)]
    #[schema(value_type = Vec<MemberId>)]
    pub participant_ids: Field<Vec<MemberId>>,
    /// Defaults to 0.
    #[serde(default)]
    #[schema(value_type = Count)]
    pub people_reached: Field<Count>,
    /// Defaults to 0.
    #[serde(default)]
    #[schema(value_type = Count)]
    pub opinions_collected: Field<Count>,
    #[serde(default)]
    #[schema(value_type = Option<Paragraph<5000>>)]
    pub summary: Field<Paragraph<5000>>,
}

/// Changes to an activity (JSON Merge Patch: absent fields are kept, `null` clears).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivityPatch {
    #[serde(default)]
    #[schema(value_type = ActivityKind)]
    pub kind: Field<ActivityKind>,
    #[serde(default)]
    #[schema(value_type = Line<200>)]
    pub title: Field<Line<200>>,
    #[serde(default)]
    #[schema(value_type = Day)]
    pub held_on: Field<Day>,
    #[serde(default)]
    #[schema(value_type = Vec<MemberId>)]
    pub participant_ids: Field<Vec<MemberId>>,
    #[serde(default)]
    #[schema(value_type = Count)]
    pub people_reached: Field<Count>,
    #[serde(default)]
    #[schema(value_type = Count)]
    pub opinions_collected: Field<Count>,
    #[serde(default)]
    #[schema(value_type = Option<Paragraph<5000>>)]
    pub summary: Field<Paragraph<5000>>,
}

impl From<NewActivity> for ActivityPatch {
    fn from(body: NewActivity) -> Self {
        Self {
            kind: body.kind,
            title: body.title,
            held_on: body.held_on,
            participant_ids: body.participant_ids,
            people_reached: body.people_reached,
            opinions_collected: body.opinions_collected,
            summary: body.summary,
        }
    }
}

fn count(value: Count) -> Result<i32, String> {
    Ok(value.into())
}

/// The activity's fields after `patch`, from `current` (none for a new activity).
/// Participants must be live members of `district`.
pub(crate) async fn merge(
    conn: &mut AsyncPgConnection,
    checks: &mut Checks,
    patch: ActivityPatch,
    current: Option<&ActivityFields>,
    district: DistrictId,
) -> Result<Option<ActivityFields>, ApiError> {
    let c = current;
    let kind = checks.required("/kind", patch.kind, c.map(|c| c.kind), Ok);
    let title = checks.required("/title", patch.title, c.map(|c| c.title.clone()), |v| {
        Ok(v.into())
    });
    let held_on = checks.required("/held_on", patch.held_on, c.map(|c| c.held_on), Day::date);
    let participants_changed = matches!(patch.participant_ids, Field::Value(_));
    let participants = checks.list(
        "/participant_ids",
        patch.participant_ids,
        Some(c.map_or_else(Vec::new, |c| c.participant_ids.clone())),
        Ok,
    );
    if let (true, Some(participants)) = (participants_changed, &participants) {
        let found = crate::db::members::existing_in_district(conn, district, participants).await?;
        for (index, id) in participants.iter().enumerate() {
            if !found.contains(id) {
                checks.unknown(
                    &format!("/participant_ids/{index}"),
                    "is not a member of the workstation's district",
                );
            }
        }
    }
    let participants = participants.map(values::distinct);
    let people_reached = checks.required(
        "/people_reached",
        patch.people_reached,
        Some(c.map_or(0, |c| c.people_reached)),
        count,
    );
    let opinions_collected = checks.required(
        "/opinions_collected",
        patch.opinions_collected,
        Some(c.map_or(0, |c| c.opinions_collected)),
        count,
    );
    let summary = checks.optional(
        "/summary",
        patch.summary,
        c.and_then(|c| c.summary.clone()),
        |v| Ok(v.into()),
    );
    Ok((|| {
        Some(ActivityFields {
            kind: kind?,
            title: title?,
            held_on: held_on?,
            participant_ids: participants?,
            people_reached: people_reached?,
            opinions_collected: opinions_collected?,
            summary,
        })
    })())
}

list_query! {
    /// Filters of the activity list.
    ActivityQuery, sort: ActivitySort { Created = "created", UpdatedAt = "updated_at" },
    {
        /// Only activities in this district.
        district_id: DistrictId,
        /// Only activities in the district with this code.
        #[param(inline)]
        district: FilterText<40>,
        /// Only activities at this workstation.
        workstation_id: WorkstationId,
        kind: ActivityKind,
        /// Only activities this member took part in.
        member_id: MemberId,
        /// Only activities held on or after this day.
        held_from: Day,
        /// Only activities held on or before this day.
        held_to: Day,
    }
}

list_query! {
    /// Filters of a workstation's activity list.
    WorkstationActivityQuery, sort: WorkstationActivitySort { Created = "created", UpdatedAt = "updated_at" },
    {
        kind: ActivityKind,
        /// Only activities this member took part in.
        member_id: MemberId,
        /// Only activities held on or after this day.
        held_from: Day,
        /// Only activities held on or before this day.
        held_to: Day,
    }
}

async fn list(
    pool: &Db,
    caller: &Caller,
    mut filter: ActivityFilter,
    request: crate::db::pagination::PageRequest,
) -> Result<web::Json<Page<ActivityView>>, ApiError> {
    filter.scope = caller.scope();
    let mut conn = pool.conn().await?;
    let rows = db::list(&mut conn, &filter, &request).await?;
    Ok(web::Json(page(rows, &request, ActivityView::from)))
}

/// List activities across workstations.
#[utoipa::path(
    tag = "activities",
    params(ActivityQuery),
    responses((status = 200, description = "A page of activities", body = ActivityPage)),
)]
#[get("")]
async fn list_activities(
    caller: Caller,
    pool: Db,
    query: web::Query<ActivityQuery>,
) -> Result<web::Json<Page<ActivityView>>, ApiError> {
    let query = query.into_inner();
    let request = query.page()?;
    let filter = ActivityFilter {
        scope: caller.scope(),
        district_id: query.district_id,
        district_code: query.district.and_then(FilterText::into_filter),
        workstation_id: query.workstation_id,
        kind: query.kind,
        member_id: query.member_id,
        held_from: query.held_from.map(Day::get),
        held_to: query.held_to.map(Day::get),
    };
    list(&pool, &caller, filter, request).await
}

/// List the activities of a workstation.
#[utoipa::path(
    tag = "activities",
    params(("id" = WorkstationId, Path, description = "The workstation's id"), WorkstationActivityQuery),
    responses(
        (status = 200, description = "A page of the workstation's activities", body = ActivityPage),
    ),
)]
#[get("/{id}/activities")]
pub(super) async fn list_workstation_activities(
    caller: Caller,
    pool: Db,
    path: web::Path<WorkstationId>,
    query: web::Query<WorkstationActivityQuery>,
) -> Result<web::Json<Page<ActivityView>>, ApiError> {
    let id = path.into_inner();
    let query = query.into_inner();
    let request = query.page()?;
    {
        let conn = pool.conn().await?;
        crate::db::workstations::find(&conn, id, caller.scope())
            .await
            .map_err(not_found_as("workstation"))?;
    }
    let filter = ActivityFilter {
        workstation_id: Some(id),
        kind: query.kind,
        member_id: query.member_id,
        held_from: query.held_from.map(Day::get),
        held_to: query.held_to.map(Day::get),
        ..ActivityFilter::default()
    };
    list(&pool, &caller, filter, request).await
}

edit::get_route! {
    /// Get an activity.
    get_activity: db::Activity, GET "/{id}",
    tag = "activities", params(("id" = ActivityId, Path, description = "The activity's id")), path = ActivityId,
    answer = (ActivityView, "The activity"),
}

/// Record an activity held at a workstation.
#[utoipa::path(
    tag = "activities",
    params(("id" = WorkstationId, Path, description = "The workstation's id")),
    request_body = NewActivity,
    responses(
        (status = 201, description = "The new activity", body = ActivityView,
            headers(("ETag" = String), ("Location" = String, description = "The activity's URL"))),
    ),
)]
#[post("/{id}/activities")]
pub(super) async fn create_activity(
    caller: Caller,
    pool: Db,
    path: web::Path<WorkstationId>,
    body: crate::api::http::Json<NewActivity>,
) -> Result<HttpResponse, ApiError> {
    let workstation_id = path.into_inner();
    let patch = ActivityPatch::from(body.into_inner());
    let mut conn = pool.conn().await?;
    let activity = conn
        .write(async move |conn| {
            let workstation = crate::db::workstations::find_for_reference(conn, workstation_id)
                .await?
                .filter(|workstation| caller.scope().covers(workstation.district_id))
                .ok_or_else(|| ApiError::not_found("workstation"))?;
            let mut checks = Checks::default();
            let fields = merge(conn, &mut checks, patch, None, workstation.district_id).await?;
            let fields = checks.finish(fields)?;
            let activity =
                db::insert(conn, workstation.district_id, workstation.id, fields).await?;
            let change = Change::new(
                "create",
                Entity::Activity,
                activity.id,
                Some(activity.district_id),
            );
            record(
                conn,
                &caller,
                change.after(&ActivityView::from(activity.clone())),
            );
            Ok::<_, ApiError>(activity)
        })
        .await?;
    let location = format!("/api/v1/activities/{}", activity.id);
    Ok(created_response(&ActivityView::from(activity), location))
}

edit::patch_route! {
    /// Change an activity (JSON Merge Patch).
    update_activity: db::Activity, PATCH "/{id}",
    tag = "activities", params(("id" = ActivityId, Path, description = "The activity's id")), path = ActivityId,
    body = ActivityPatch, answer = (ActivityView, "The changed activity"),
}

edit::delete_route! {
    /// Delete an activity.
    delete_activity: db::Activity, DELETE "/{id}",
    tag = "activities", params(("id" = ActivityId, Path, description = "The activity's id")), path = ActivityId,
}

impl Editable for db::Activity {
    edit::own!(ActivityId, "activity");
    type Patch = ActivityPatch;
    type View = ActivityView;
    const ENTITY: Entity = Entity::Activity;
    type Lists = ();

    async fn merge(
        conn: &mut AsyncPgConnection,
        checks: &mut Checks,
        _lists: &Self::Lists,
        _parent: &(),
        row: &Self,
        patch: ActivityPatch,
    ) -> Result<Option<ActivityFields>, ApiError> {
        merge(conn, checks, patch, Some(&row.fields()), row.district_id).await
    }

    async fn view(_conn: &mut AsyncPgConnection, row: Self) -> Result<ActivityView, ApiError> {
        Ok(ActivityView::from(row))
    }
}

/// The audit trail of an activity.
#[utoipa::path(
    tag = "activities",
    params(("id" = ActivityId, Path, description = "The activity's id"), HistoryQuery),
    responses(
        (status = 200, description = "Its changes, oldest first", body = crate::api::audit::AuditEventPage),
    ),
)]
#[get("/{id}/history")]
async fn get_activity_history(
    caller: Caller,
    pool: Db,
    path: web::Path<ActivityId>,
    query: web::Query<HistoryQuery>,
) -> Result<web::Json<Page<crate::api::audit::AuditEventView>>, ApiError> {
    let id = path.into_inner().to_string();
    crate::api::audit::history(&pool, &caller, Entity::Activity, id, query.into_inner()).await
}
