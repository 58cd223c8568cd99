//! `/api/v1/consultations`: the topics of a district's annual consultation plan (协商议题),
//! their activities, their outcome report, and the plan's figures.

use crate::api::work::Tx;
use crate::domain::kinds::Entity;
use crate::domain::values::FilterText;
use std::collections::HashSet;

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use diesel::QueryResult;
use diesel_async::AsyncPgConnection;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::api::edit::{self, Edit, Editable};
use crate::api::policy::{read, read_with, write};

use crate::api::audit::record;
use crate::api::auth::Caller;
use crate::api::districts::referenced_district;
use crate::api::http::{IfMatch, IfMatchHeader, IfNoneMatch, IfNoneMatchHeader, created_response};
use crate::api::input::{Checks, Field};
use crate::api::page::{Page, list_query, page};
use crate::api::work::{Db, Write};
use crate::api::workflow::{self, Transition, Workflow, WorkflowHistory, action};
use crate::db::audit::Change;
use crate::db::consultations::activities::{
    self as activity_db, ActivityFields, ConsultationActivity,
};
use crate::db::consultations::{self as db, Consultation, ConsultationFields, ConsultationFilter};
use crate::domain::access::Scope;
use crate::domain::calendar::Day;
use crate::domain::consultation::{
    self as machine, ACTIVITIES_PER_TOPIC, ConsultationAction, ConsultationFormat,
    ConsultationStatus, KEY_TOPICS_PER_YEAR,
};
use crate::domain::ids::{
    ConsultationActivityId, ConsultationId, DepartmentId, DistrictId, MemberId,
};
use crate::domain::values::{self, Line, Paragraph, Year};
use crate::error::{ApiError, FieldError, Problem, not_found_as};

mod activities;

pub use activities::ActivityView;
use activities::{
    create_consultation_activity, delete_consultation_activity, get_consultation_activity,
    list_consultation_activities, update_consultation_activity,
};

pub fn configure(config: &mut ServiceConfig) {
    use crate::domain::access::DistrictOf::*;
    use crate::domain::access::OFFICES;
    config.service(
        utoipa_actix_web::scope("/consultations")
            .service(read(Path, get_consultation_lineage))
            .service(read_with(OFFICES, Path, list_consultation_rulings))
            .service(read_with(OFFICES, Filter, list_consultations))
            .service(write(Body, create_consultation))
            .service(read(Query, get_consultation_plan))
            .service(read_with(OFFICES, Path, get_consultation))
            .service(write(Path, update_consultation))
            .service(write(Path, delete_consultation))
            .service(read(Path, get_consultation_history))
            .service(write(Path, start_consultation))
            .service(write(Path, report_consultation))
            .service(write(Path, close_consultation))
            .service(read_with(OFFICES, Path, list_consultation_activities))
            .service(write(Path, create_consultation_activity))
            .service(read_with(OFFICES, Path, get_consultation_activity))
            .service(write(Path, update_consultation_activity))
            .service(write(Path, delete_consultation_activity)),
    );
}

/// A topic of a district's annual consultation plan (协商议题).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Consultation)]
pub struct ConsultationView {
    pub id: ConsultationId,
    pub district_id: DistrictId,
    #[schema(example = 2026)]
    pub year: i32,
    #[schema(example = "数字经济发展")]
    pub title: String,
    /// A key topic (重点议题) of the year.
    pub is_key: bool,
    /// The special committee leading it.
    pub lead_committee: Option<String>,
    pub status: ConsultationStatus,
    /// What may be done next from here.
    pub allowed_actions: Vec<ConsultationAction>,
    /// The outcome report (协商报告, 建议书, 《领导参阅》), once reported.
    pub report_title: Option<String>,
    pub report_text: Option<String>,
    /// Who the report was sent to (e.g. the district party committee).
    pub report_recipients: Vec<String>,
    pub reported_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Increases with every change; sent as the `ETag`.
    pub version: i64,
}

/// A page of a list of Consultation records.
pub type ConsultationPage = crate::api::page::Page<ConsultationView>;

impl From<Consultation> for ConsultationView {
    fn from(row: Consultation) -> Self {
        Self {
            allowed_actions: machine::allowed_actions(row.status),
            id: row.id,
            district_id: row.district_id,
            year: row.year,
            title: row.title,
            is_key: row.is_key,
            lead_committee: row.lead_committee,
            status: row.status,
            report_title: row.report_title,
            report_text: row.report_text,
            report_recipients: row.report_recipients,
            reported_at: row.reported_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
            version: row.version,
        }
    }
}

crate::api::http::versioned!(ConsultationView);

/// A new topic in a district's plan.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewConsultation {
    #[serde(default)]
    #[schema(value_type = DistrictId, required = true)]
    pub district_id: Field<DistrictId>,
    /// The plan's year, 2000 to 2100.
    #[serde(default)]
    #[schema(value_type = Year, required = true, example = 2026)]
    pub year: Field<Year>,
    /// Unique in the district's plan for the year.
    #[serde(default)]
    #[schema(value_type = Line<200>, required = true)]
    pub title: Field<Line<200>>,
    /// Defaults to `false`.
    #[serde(default)]
    #[schema(value_type = bool)]
    pub is_key: Field<bool>,
    #[serde(default)]
    #[schema(value_type = Option<Line<100>>)]
    pub lead_committee: Field<Line<100>>,
}

/// Changes to a topic (JSON Merge Patch), until its report.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsultationPatch {
    #[serde(default)]
    #[schema(value_type = Year)]
    pub year: Field<Year>,
    #[serde(default)]
    #[schema(value_type = Line<200>)]
    pub title: Field<Line<200>>,
    #[serde(default)]
    #[schema(value_type = bool)]
    pub is_key: Field<bool>,
    #[serde(default)]
    #[schema(value_type = Option<Line<100>>)]
    pub lead_committee: Field<Line<100>>,
}

impl NewConsultation {
    fn split(self) -> (Field<DistrictId>, ConsultationPatch) {
        let patch = ConsultationPatch {
            year: self.year,
            title: self.title,
            is_key: self.is_key,
            lead_committee: self.lead_committee,
        };
        (self.district_id, patch)
    }
}

fn merge(
    checks: &mut Checks,
    patch: ConsultationPatch,
    current: Option<&ConsultationFields>,
) -> Option<ConsultationFields> {
    let c = current;
    let year = checks.required("/year", patch.year, c.map(|c| c.year), |v| Ok(v.into()));
    let title = checks.required("/title", patch.title, c.map(|c| c.title.clone()), |v| {
        Ok(v.into())
    });
    let is_key = checks.required(
        "/is_key",
        patch.is_key,
        Some(c.is_some_and(|c| c.is_key)),
        Ok,
    );
    let lead_committee = checks.optional(
        "/lead_committee",
        patch.lead_committee,
        c.and_then(|c| c.lead_committee.clone()),
        |v| Ok(v.into()),
    );
    Some(ConsultationFields {
        year: year?,
        title: title?,
        is_key: is_key?,
        lead_committee,
    })
}

fn wrong_state(row: &Consultation, what: &str) -> ApiError {
    let allowed = machine::allowed_actions(row.status)
        .iter()
        .map(|action| action.as_str().to_owned())
        .collect();
    workflow::refused(what, row.status.as_str(), allowed)
}

list_query! {
    /// Filters of the topic list.
    ConsultationQuery, sort: ConsultationSort { Created = "created", UpdatedAt = "updated_at", Name = "name" },
    {
        district_id: DistrictId,
        /// The district's code.
        #[param(inline)]
        district: FilterText<40>,
        year: i32,
        status: ConsultationStatus,
        is_key: bool,
        /// Text in the title.
        #[param(inline)]
        q: FilterText<100>,
    }
}

/// List consultation topics.
#[utoipa::path(
    tag = "consultations",
    params(ConsultationQuery),
    responses((status = 200, description = "A page of topics", body = ConsultationPage)),
)]
#[get("")]
async fn list_consultations(
    caller: Caller,
    pool: Db,
    query: web::Query<ConsultationQuery>,
) -> Result<web::Json<Page<ConsultationView>>, ApiError> {
    let query = query.into_inner();
    let request = query.page()?;
    let filter = ConsultationFilter {
        scope: caller.scope(),
        district_id: query.district_id,
        district_code: query.district.and_then(FilterText::into_filter),
        year: query.year,
        status: query.status,
        is_key: query.is_key,
        q: query.q.and_then(FilterText::into_filter),
    };
    let mut conn = pool.conn().await?;
    let rows = db::list(&mut conn, &filter, &request).await?;
    Ok(web::Json(page(rows, &request, ConsultationView::from)))
}

edit::get_route! {
    /// Get a consultation topic.
    get_consultation: Consultation, GET "/{id}",
    tag = "consultations", params(("id" = ConsultationId, Path, description = "The topic's id")), path = ConsultationId,
    answer = (ConsultationView, "The topic"),
}

/// Add a topic to a district's plan (-> planned).
#[utoipa::path(
    tag = "consultations",
    request_body = NewConsultation,
    responses(
        (status = 201, description = "The new topic", body = ConsultationView,
            headers(("ETag" = String), ("Location" = String, description = "The topic's URL"))),
        (status = 409, description = "The plan already has a topic with this title", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("")]
async fn create_consultation(
    caller: Caller,
    pool: Db,
    body: crate::api::http::Json<NewConsultation>,
) -> Result<HttpResponse, ApiError> {
    let (district_id, patch) = body.into_inner().split();
    let mut conn = pool.conn().await?;
    let row = conn
        .write(async move |conn| {
            let mut checks = Checks::default();
            let district =
                referenced_district(conn, &mut checks, district_id, caller.scope()).await?;
            let fields = merge(&mut checks, patch, None);
            let (district, fields) = checks.finish(district.zip(fields))?;
            let row = db::insert(conn, district.id, fields).await?;
            let change = Change::new("create", Entity::Consultation, row.id, Some(district.id));
            record(
                conn,
                &caller,
                change.after(&ConsultationView::from(row.clone())),
            );
            Ok::<_, ApiError>(row)
        })
        .await?;
    let location = format!("/api/v1/consultations/{}", row.id);
    Ok(created_response(&ConsultationView::from(row), location))
}

edit::patch_route! {
    /// Change a topic (JSON Merge Patch); refused (409) once it is reported.
    update_consultation: Consultation, PATCH "/{id}",
    tag = "consultations", params(("id" = ConsultationId, Path, description = "The topic's id")), path = ConsultationId,
    body = ConsultationPatch, answer = (ConsultationView, "The changed topic"),
    refused = "The topic is reported, or the title is taken",
}

edit::delete_route! {
    /// Delete a planned topic; refused (409) once it has begun.
    delete_consultation: Consultation, DELETE "/{id}",
    tag = "consultations", params(("id" = ConsultationId, Path, description = "The topic's id")), path = ConsultationId,
    refused = "The topic has begun",
}

impl Editable for Consultation {
    edit::own!(ConsultationId, "consultation");
    type Patch = ConsultationPatch;
    type View = ConsultationView;
    const ENTITY: Entity = Entity::Consultation;
    type Lists = ();

    fn allows(_parent: &(), row: &Self, edit: Edit) -> Result<(), ApiError> {
        match edit {
            Edit::Update if !machine::takes_activities(row.status) => {
                Err(wrong_state(row, "changing the topic"))
            }
            Edit::Delete if row.status != ConsultationStatus::Planned => {
                Err(wrong_state(row, "deleting"))
            }
            _ => Ok(()),
        }
    }

    async fn merge(
        _conn: &mut AsyncPgConnection,
        checks: &mut Checks,
        _lists: &Self::Lists,
        _parent: &(),
        row: &Self,
        patch: ConsultationPatch,
    ) -> Result<Option<ConsultationFields>, ApiError> {
        Ok(merge(checks, patch, Some(&row.fields())))
    }

    async fn view(_conn: &mut AsyncPgConnection, row: Self) -> Result<ConsultationView, ApiError> {
        Ok(ConsultationView::from(row))
    }
}

/// The workflow history of a topic.
#[utoipa::path(
    tag = "consultations",
    params(("id" = ConsultationId, Path, description = "The topic's id")),
    responses((status = 200, description = "Its steps", body = WorkflowHistory)),
)]
#[get("/{id}/history")]
async fn get_consultation_history(
    caller: Caller,
    pool: Db,
    path: web::Path<ConsultationId>,
) -> Result<web::Json<WorkflowHistory>, ApiError> {
    let id = path.into_inner();
    let mut conn = pool.conn().await?;
    db::find(&conn, id, caller.scope())
        .await
        .map_err(not_found_as("consultation"))?;
    Ok(web::Json(
        workflow::history(&mut conn, Entity::Consultation, id.0).await?,
    ))
}

/// One a consultation's report is sent to, named in the list by itself.
type Recipient = Line<100>;

/// The outcome report of a topic.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportBody {
    #[serde(default)]
    #[schema(value_type = Line<200>, required = true, example = "关于推动数字经济高质量发展的协商报告")]
    pub title: Field<Line<200>>,
    #[serde(default)]
    #[schema(value_type = Paragraph<50_000>, required = true)]
    pub text: Field<Paragraph<50_000>>,
    /// Who it is sent to.
    #[serde(default)]
    #[schema(value_type = Vec<Recipient>, required = true, min_items = 1, example = json!(["中共北京市西城区委员会"]))]
    pub recipients: Field<Vec<String>>,
}

/// A topic's step, with its checked body.
pub(crate) enum Step {
    Start,
    Report {
        title: String,
        text: String,
        recipients: Vec<String>,
    },
    Close,
}

impl Step {
    fn action(&self) -> ConsultationAction {
        match self {
            Self::Start => ConsultationAction::Start,
            Self::Report { .. } => ConsultationAction::Report,
            Self::Close => ConsultationAction::Close,
        }
    }
}

impl Workflow for Consultation {
    type Key = ConsultationId;
    type View = ConsultationView;
    type Step = Step;
    const ENTITY: Entity = Entity::Consultation;

    /// Nothing: a topic's view is its row.
    type Relations = ();

    async fn lock(conn: &AsyncPgConnection, id: ConsultationId, scope: Scope) -> QueryResult<Self> {
        db::lock(conn, id, scope).await
    }

    async fn relations(_conn: &AsyncPgConnection, _id: ConsultationId) -> Result<(), ApiError> {
        Ok(())
    }

    fn view(row: Self, (): &()) -> ConsultationView {
        row.into()
    }

    fn changes_relations(_step: &Step) -> bool {
        false
    }

    fn save(row: &Self, now: DateTime<Utc>) -> (Self, crate::db::Statement) {
        db::save_later(row, now)
    }

    async fn take(
        _conn: &mut Tx<'_>,
        _caller: &Caller,
        row: &mut Self,
        step: Step,
        now: DateTime<Utc>,
    ) -> Result<Transition, ApiError> {
        let action = step.action();
        let to = machine::next(row.status, action)
            .ok_or_else(|| wrong_state(row, &format!("`{}`", action.as_str())))?;
        let payload = match step {
            Step::Report {
                title,
                text,
                recipients,
            } => {
                row.report_title = Some(title.clone());
                row.report_text = Some(text);
                row.report_recipients = recipients.clone();
                row.reported_at = Some(now);
                json!({"title": title, "recipients": recipients})
            }
            Step::Start | Step::Close => json!({}),
        };
        let from = row.status;
        row.status = to;
        Ok(Transition {
            action: action.as_str(),
            from: from.as_str(),
            to: to.as_str(),
            payload,
        })
    }
}

action!(
    /// Begin a planned topic (-> in_progress).
    start_consultation: Consultation, POST "/{id}/start",
    tag = "consultations",
    params(("id" = ConsultationId, Path, description = "The topic's id"), IfMatchHeader),
    path = ConsultationId,
    answer = (ConsultationView, "The topic after the step"),
    refused = "Not allowed from the current status; the answer names the allowed actions",
    step = Step::Start,
);

action!(
    /// Store the outcome report and send it (-> reported).
    report_consultation: Consultation, POST "/{id}/report",
    tag = "consultations",
    params(("id" = ConsultationId, Path, description = "The topic's id"), IfMatchHeader),
    path = ConsultationId,
    answer = (ConsultationView, "The topic after the step"),
    refused = "Not allowed from the current status; the answer names the allowed actions",
    body = ReportBody,
    |checks, body| {
        let title = checks.required("/title", body.title, None, |v| Ok(v.into()));
        let text = checks.required("/text", body.text, None, |v| Ok(v.into()));
        let recipients = checks.list("/recipients", body.recipients, None, |v| {
            Recipient::parse(&v).map(String::from)
        });
        if recipients.as_ref().is_some_and(Vec::is_empty) {
            checks.invalid("/recipients", "must name at least one recipient");
        }
        (|| {
            Some(Step::Report {
                title: title?,
                text: text?,
                recipients: recipients?,
            })
        })()
    }
);

action!(
    /// Close a reported topic (-> closed).
    close_consultation: Consultation, POST "/{id}/close",
    tag = "consultations",
    params(("id" = ConsultationId, Path, description = "The topic's id"), IfMatchHeader),
    path = ConsultationId,
    answer = (ConsultationView, "The topic after the step"),
    refused = "Not allowed from the current status; the answer names the allowed actions",
    step = Step::Close,
);

/// Which plan to show.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PlanQuery {
    /// The district (a district key's own by default).
    pub district_id: Option<DistrictId>,
    #[param(minimum = 2000, maximum = 2100)]
    pub year: i32,
}

/// A topic in the plan, with its activity count against the bar.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanTopic {
    pub id: ConsultationId,
    pub title: String,
    pub is_key: bool,
    pub status: ConsultationStatus,
    pub activities: i64,
    /// Fewer activities than the bar's minimum (6).
    pub short: bool,
    /// More activities than the bar's maximum (8).
    pub over: bool,
}

/// A district's consultation plan for a year, with its figures.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsultationPlan {
    pub district_id: DistrictId,
    pub year: i32,
    pub topics: Vec<PlanTopic>,
    pub key_topics: usize,
    /// The bar for key topics a year (Xicheng's: at least 5).
    pub key_topics_required: usize,
    /// Fewer key topics than the bar.
    pub short_of_key_topics: bool,
    /// The bar for activities per topic (6 to 8).
    pub activities_per_topic_min: usize,
    pub activities_per_topic_max: usize,
}

/// The consultation plan of a district and year: its topics with their activity counts,
/// flagged where they fall short of the bar.
#[utoipa::path(
    tag = "consultations",
    params(PlanQuery),
    responses(
        (status = 200, description = "The plan", body = ConsultationPlan),
        (status = 400, description = "A year outside 2000–2100, or a parameter that cannot be read",
            body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "A district key named another district",
            body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "No `district_id` with a key of no district",
            body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/plan")]
async fn get_consultation_plan(
    caller: Caller,
    pool: Db,
    query: web::Query<PlanQuery>,
) -> Result<web::Json<ConsultationPlan>, ApiError> {
    let query = query.into_inner();
    crate::domain::calendar::year(query.year).map_err(ApiError::BadRequest)?;
    let district = crate::api::districts::district_to_read(query.district_id, caller.scope())?;
    let mut conn = pool.conn().await?;
    let topics: Vec<PlanTopic> = db::plan(&mut conn, district, query.year)
        .await?
        .into_iter()
        .map(|(topic, count)| {
            let activities = usize::try_from(count).unwrap_or(0);
            PlanTopic {
                id: topic.id,
                title: topic.title,
                is_key: topic.is_key,
                status: topic.status,
                activities: count,
                short: activities < *ACTIVITIES_PER_TOPIC.start(),
                over: activities > *ACTIVITIES_PER_TOPIC.end(),
            }
        })
        .collect();
    let key_topics = topics.iter().filter(|topic| topic.is_key).count();
    Ok(web::Json(ConsultationPlan {
        district_id: district,
        year: query.year,
        key_topics,
        key_topics_required: KEY_TOPICS_PER_YEAR,
        short_of_key_topics: key_topics < KEY_TOPICS_PER_YEAR,
        activities_per_topic_min: *ACTIVITIES_PER_TOPIC.start(),
        activities_per_topic_max: *ACTIVITIES_PER_TOPIC.end(),
        topics,
    }))
}

/// The rulings (批示) on a consultation topic, with their measures and feedback.
#[utoipa::path(
    tag = "consultations",
    params(("id" = ConsultationId, Path, description = "The topic's id")),
    responses((status = 200, description = "Its rulings", body = crate::api::rulings::SubjectRulings)),
)]
#[get("/{id}/rulings")]
async fn list_consultation_rulings(
    caller: Caller,
    pool: Db,
    path: web::Path<ConsultationId>,
) -> Result<web::Json<crate::api::rulings::SubjectRulings>, ApiError> {
    let id = path.into_inner().0;
    crate::api::rulings::on_subject(
        &pool,
        &caller,
        crate::domain::ruling::SubjectType::Consultation,
        id,
    )
    .await
}

/// What became of a consultation topic, in one answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsultationLineage {
    pub subject: ConsultationView,
    /// Its rulings, each with the departments' measures and the feedback.
    pub rulings: Vec<crate::api::rulings::RulingView>,
}

/// The consultation topic with its rulings, their measures and feedback.
#[utoipa::path(
    tag = "consultations",
    params(("id" = ConsultationId, Path, description = "The topic's id")),
    responses((status = 200, description = "The chain", body = ConsultationLineage)),
)]
#[get("/{id}/lineage")]
async fn get_consultation_lineage(
    caller: Caller,
    pool: Db,
    path: web::Path<ConsultationId>,
) -> Result<web::Json<ConsultationLineage>, ApiError> {
    let id = path.into_inner();
    let mut conn = pool.conn().await?;
    let row = db::find(&conn, id, caller.scope())
        .await
        .map_err(not_found_as("consultation"))?;
    let subject = ConsultationView::from(row);
    let rulings = crate::api::rulings::of_subject(
        &mut conn,
        &caller,
        crate::domain::ruling::SubjectType::Consultation,
        id.0,
    )
    .await?;
    Ok(web::Json(ConsultationLineage { subject, rulings }))
}
