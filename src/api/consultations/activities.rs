//! The activities (协商活动) held on a consultation topic.

use crate::api::edit::{self, Edit, Editable};
use crate::api::work::Write as _;
use crate::domain::kinds::Entity;
use crate::domain::values::{Count, Line, Paragraph};

use super::{
    ActivityFields, ApiError, AsyncPgConnection, Caller, Change, Checks, Consultation,
    ConsultationActivity, ConsultationActivityId, ConsultationFormat, ConsultationId, DateTime,
    Day, Db, DepartmentId, Deserialize, DistrictId, Field, FieldError, HashSet, HttpResponse,
    IfMatch, IfMatchHeader, IfNoneMatch, IfNoneMatchHeader, IntoParams, MemberId, NaiveDate, Page,
    Problem, Serialize, ToSchema, Utc, activity_db, created_response, db, delete, get, machine,
    not_found_as, page, patch, post, record, values, web, wrong_state,
};

/// An activity held on a consultation topic.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ConsultationActivity)]
pub struct ActivityView {
    pub id: ConsultationActivityId,
    pub district_id: DistrictId,
    pub consultation_id: ConsultationId,
    pub format: ConsultationFormat,
    pub held_on: NaiveDate,
    pub place: Option<String>,
    /// Participating members of the district.
    pub participant_ids: Vec<MemberId>,
    /// Departments invited.
    pub department_ids: Vec<DepartmentId>,
    /// How many opinions were gathered.
    pub opinions_gathered: i32,
    pub summary: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Increases with every change; sent as the `ETag`.
    pub version: i64,
}

/// A page of a topic's activities.
pub type ConsultationActivityPage = crate::api::page::Page<ActivityView>;

impl From<ConsultationActivity> for ActivityView {
    fn from(row: ConsultationActivity) -> Self {
        Self {
            id: row.id,
            district_id: row.district_id,
            consultation_id: row.consultation_id,
            format: row.format,
            held_on: row.held_on,
            place: row.place,
            participant_ids: row.participant_ids,
            department_ids: row.department_ids,
            opinions_gathered: row.opinions_gathered,
            summary: row.summary,
            created_at: row.created_at,
            updated_at: row.updated_at,
            version: row.version,
        }
    }
}

crate::api::http::versioned!(ActivityView);

/// A new activity on a topic.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewConsultationActivity)]
pub struct NewActivity {
    #[serde(default)]
    #[schema(value_type = ConsultationFormat, required = true)]
    pub format: Field<ConsultationFormat>,
    #[serde(default)]
    #[schema(value_type = Day, required = true)]
    pub held_on: Field<Day>,
    #[serde(default)]
    #[schema(value_type = Option<Line<200>>)]
    pub place: Field<Line<200>>,
    /// Members of the topic's district.
    #[serde(default)]
    #[schema(value_type = Vec<MemberId>)]
    pub participant_ids: Field<Vec<MemberId>>,
    /// Departments of the topic's district.
    #[serde(default)]
    #[schema(value_type = Vec<DepartmentId>)]
    pub department_ids: Field<Vec<DepartmentId>>,
    #[serde(default)]
    #[schema(value_type = Count)]
    pub opinions_gathered: Field<Count>,
    #[serde(default)]
    #[schema(value_type = Option<Paragraph<5000>>)]
    pub summary: Field<Paragraph<5000>>,
}

/// Changes to an activity (JSON Merge Patch: absent fields are kept, `null` clears).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ConsultationActivityPatch)]
pub struct ActivityBody {
    #[serde(default)]
    #[schema(value_type = ConsultationFormat)]
    pub format: Field<ConsultationFormat>,
    #[serde(default)]
    #[schema(value_type = Day)]
    pub held_on: Field<Day>,
    #[serde(default)]
    #[schema(value_type = Option<Line<200>>)]
    pub place: Field<Line<200>>,
    /// Members of the topic's district.
    #[serde(default)]
    #[schema(value_type = Vec<MemberId>)]
    pub participant_ids: Field<Vec<MemberId>>,
    /// Departments of the topic's district.
    #[serde(default)]
    #[schema(value_type = Vec<DepartmentId>)]
    pub department_ids: Field<Vec<DepartmentId>>,
    #[serde(default)]
    #[schema(value_type = Count)]
    pub opinions_gathered: Field<Count>,
    #[serde(default)]
    #[schema(value_type = Option<Paragraph<5000>>)]
    pub summary: Field<Paragraph<5000>>,
}

impl From<NewActivity> for ActivityBody {
    fn from(new: NewActivity) -> Self {
        Self {
            format: new.format,
            held_on: new.held_on,
            place: new.place,
            participant_ids: new.participant_ids,
            department_ids: new.department_ids,
            opinions_gathered: new.opinions_gathered,
            summary: new.summary,
        }
    }
}

/// The activity's fields after `body`, from `current`; participants and departments must
/// belong to `district`.
async fn merge_activity(
    conn: &mut AsyncPgConnection,
    checks: &mut Checks,
    body: ActivityBody,
    current: Option<&ActivityFields>,
    district: DistrictId,
) -> Result<Option<ActivityFields>, ApiError> {
    let c = current;
    let format = checks.required("/format", body.format, c.map(|c| c.format), Ok);
    let held_on = checks.required("/held_on", body.held_on, c.map(|c| c.held_on), Day::date);
    let place = checks.optional("/place", body.place, c.and_then(|c| c.place.clone()), |v| {
        Ok(v.into())
    });
    let participants = checks.list(
        "/participant_ids",
        body.participant_ids,
        Some(c.map_or_else(Vec::new, |c| c.participant_ids.clone())),
        Ok,
    );
    let departments = checks.list(
        "/department_ids",
        body.department_ids,
        Some(c.map_or_else(Vec::new, |c| c.department_ids.clone())),
        Ok,
    );
    let opinions = checks.required(
        "/opinions_gathered",
        body.opinions_gathered,
        Some(c.map_or(0, |c| c.opinions_gathered)),
        |v| Ok(v.into()),
    );
    let summary = checks.optional(
        "/summary",
        body.summary,
        c.and_then(|c| c.summary.clone()),
        |v| Ok(v.into()),
    );
    let mut errors = Vec::new();
    if let Some(ids) = &participants {
        let found: HashSet<MemberId> =
            crate::db::members::existing_in_district(conn, district, ids)
                .await?
                .into_iter()
                .collect();
        for (index, id) in ids.iter().enumerate() {
            if !found.contains(id) {
                errors.push(FieldError::unknown(
                    format!("/participant_ids/{index}"),
                    "is not a member of the topic's district",
                ));
            }
        }
    }
    if let Some(ids) = &departments {
        let found: HashSet<DepartmentId> =
            crate::db::departments::existing_in_district(conn, district, ids)
                .await?
                .into_iter()
                .collect();
        for (index, id) in ids.iter().enumerate() {
            if !found.contains(id) {
                errors.push(FieldError::unknown(
                    format!("/department_ids/{index}"),
                    "is not a department of the topic's district",
                ));
            }
        }
    }
    checks.extend(errors);
    Ok((|| {
        Some(ActivityFields {
            format: format?,
            held_on: held_on?,
            place,
            participant_ids: values::distinct(participants?),
            department_ids: values::distinct(departments?),
            opinions_gathered: opinions?,
            summary,
        })
    })())
}

/// Paging of a topic's activities.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ActivityPageQuery {
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    #[param(min_length = 1, pattern = r"^[A-Za-z0-9_-]+$")]
    pub cursor: Option<String>,
}

/// A topic in the caller's scope, with a lock when it is to change.
async fn topic(
    conn: &AsyncPgConnection,
    caller: &Caller,
    id: ConsultationId,
) -> Result<Consultation, ApiError> {
    db::lock(conn, id, caller.scope())
        .await
        .map_err(not_found_as("consultation"))
}

/// List the activities of a topic.
#[utoipa::path(
    tag = "consultations",
    params(("id" = ConsultationId, Path, description = "The topic's id"), ActivityPageQuery),
    responses((status = 200, description = "A page of its activities", body = ConsultationActivityPage)),
)]
#[get("/{id}/activities")]
pub(super) async fn list_consultation_activities(
    caller: Caller,
    pool: Db,
    path: web::Path<ConsultationId>,
    query: web::Query<ActivityPageQuery>,
) -> Result<web::Json<Page<ActivityView>>, ApiError> {
    let id = path.into_inner();
    let query = query.into_inner();
    let request = crate::api::page::PageParams {
        list: "consultation activities",
        limit: query.limit,
        cursor: query.cursor,
        ..Default::default()
    }
    .request()?;
    let mut conn = pool.conn().await?;
    db::find(&conn, id, caller.scope())
        .await
        .map_err(not_found_as("consultation"))?;
    let rows = activity_db::list(&mut conn, id, &request).await?;
    Ok(web::Json(page(rows, &request, ActivityView::from)))
}

/// Record an activity on a topic that is planned or in progress.
#[utoipa::path(
    tag = "consultations",
    params(("id" = ConsultationId, Path, description = "The topic's id")),
    request_body = NewActivity,
    responses(
        (status = 201, description = "The new activity", body = ActivityView,
            headers(("ETag" = String), ("Location" = String, description = "The activity's URL"))),
        (status = 409, description = "The topic is reported or closed", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/{id}/activities")]
pub(super) async fn create_consultation_activity(
    caller: Caller,
    pool: Db,
    path: web::Path<ConsultationId>,
    body: crate::api::http::Json<NewActivity>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let body = body.into_inner();
    let mut conn = pool.conn().await?;
    let row = conn
        .write(async move |conn| {
            let topic = topic(conn, &caller, id).await?;
            if !machine::takes_activities(topic.status) {
                return Err(wrong_state(&topic, "recording an activity"));
            }
            let mut checks = Checks::default();
            let fields =
                merge_activity(conn, &mut checks, body.into(), None, topic.district_id).await?;
            let fields = checks.finish(fields)?;
            let row = activity_db::insert(conn, &topic, fields).await?;
            let change = Change::new(
                "create",
                Entity::ConsultationActivity,
                row.id,
                Some(row.district_id),
            );
            record(
                conn,
                &caller,
                change.after(&ActivityView::from(row.clone())),
            );
            Ok(row)
        })
        .await?;
    let location = format!("/api/v1/consultations/{id}/activities/{}", row.id);
    Ok(created_response(&ActivityView::from(row), location))
}

edit::get_route! {
    /// Get an activity of a topic.
    get_consultation_activity: ConsultationActivity, GET "/{id}/activities/{activity_id}",
    tag = "consultations", params(("id" = ConsultationId, Path, description = "The topic's id"), ("activity_id" = ConsultationActivityId, Path, description = "The activity's id")), path = (ConsultationId, ConsultationActivityId),
    answer = (ActivityView, "The activity"),
}

edit::patch_route! {
    /// Change an activity (JSON Merge Patch) while its topic takes activities.
    update_consultation_activity: ConsultationActivity, PATCH "/{id}/activities/{activity_id}",
    tag = "consultations", params(("id" = ConsultationId, Path, description = "The topic's id"), ("activity_id" = ConsultationActivityId, Path, description = "The activity's id")), path = (ConsultationId, ConsultationActivityId),
    body = ActivityBody, answer = (ActivityView, "The changed activity"),
    refused = "The topic is reported or closed",
}

edit::delete_route! {
    /// Delete an activity while its topic takes activities.
    delete_consultation_activity: ConsultationActivity, DELETE "/{id}/activities/{activity_id}",
    tag = "consultations", params(("id" = ConsultationId, Path, description = "The topic's id"), ("activity_id" = ConsultationActivityId, Path, description = "The activity's id")), path = (ConsultationId, ConsultationActivityId),
    refused = "The topic is reported or closed",
}

impl Editable for ConsultationActivity {
    type Key = (ConsultationId, ConsultationActivityId);
    type Parent = Consultation;
    type Patch = ActivityBody;
    type View = ActivityView;
    const ENTITY: Entity = Entity::ConsultationActivity;
    type Lists = ();

    async fn locked(
        conn: &AsyncPgConnection,
        caller: &Caller,
        (parent, id): (ConsultationId, ConsultationActivityId),
    ) -> Result<(Consultation, Self), ApiError> {
        let parent_row = topic(conn, caller, parent).await?;
        let row = edit::child(conn, caller, id, true, "activity", |row: &Self| {
            row.consultation_id == parent
        })
        .await?;
        Ok((parent_row, row))
    }

    async fn found(
        conn: &mut AsyncPgConnection,
        caller: &Caller,
        (parent, id): (ConsultationId, ConsultationActivityId),
    ) -> Result<Self, ApiError> {
        edit::child(conn, caller, id, false, "activity", |row: &Self| {
            row.consultation_id == parent
        })
        .await
    }

    fn allows(topic: &Consultation, _row: &Self, edit: Edit) -> Result<(), ApiError> {
        if machine::takes_activities(topic.status) {
            return Ok(());
        }
        Err(wrong_state(
            topic,
            match edit {
                Edit::Update => "changing an activity",
                Edit::Delete => "deleting an activity",
            },
        ))
    }

    async fn merge(
        conn: &mut AsyncPgConnection,
        checks: &mut Checks,
        _lists: &Self::Lists,
        topic: &Consultation,
        row: &Self,
        patch: ActivityBody,
    ) -> Result<Option<ActivityFields>, ApiError> {
        merge_activity(conn, checks, patch, Some(&row.fields()), topic.district_id).await
    }

    async fn view(_conn: &mut AsyncPgConnection, row: Self) -> Result<ActivityView, ApiError> {
        Ok(ActivityView::from(row))
    }
}
