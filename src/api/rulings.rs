//! `/api/v1/rulings`: instructions of district leaders (批示) on a consultation topic, a
//! proposal or a democratic evaluation, the measures departments take on them, and the
//! feedback to the committee.

use crate::api::work::Tx;
use crate::domain::kinds::Entity;
use std::collections::{HashMap, HashSet};

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use diesel::{OptionalExtension, QueryResult};
use diesel_async::AsyncPgConnection;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::api::edit::{self, Edit, Editable};
use crate::api::policy::{read, read_with, write, write_with};

use crate::api::audit::record;
use crate::api::auth::Caller;
use crate::api::http::{
    IfMatch, IfMatchHeader, IfNoneMatch, IfNoneMatchHeader, created_response, no_content,
    updated_response,
};
use crate::api::input::{Checks, Field};
use crate::api::page::{Page, list_query, page};
use crate::api::work::{Db, Write};
use crate::api::workflow::{self, Transition, Workflow, WorkflowHistory, action};
use crate::db::audit::Change;
use crate::db::rulings::{
    self as db, Measure, MeasureFields, NewRuling, Ruling, RulingFields, RulingFilter,
};
use crate::domain::access::Person;
use crate::domain::access::Scope;
use crate::domain::calendar::Day;
use crate::domain::calendar::today;
use crate::domain::ids::{
    ConsultationId, DepartmentId, DistrictId, EvaluationId, MeasureId, ProposalId, RulingId,
};
use crate::domain::ruling::{
    self as machine, LeaderTitle, MeasureStatus, RulingAction, RulingStage, RulingStatus,
    SubjectType, stages_allowed,
};
use crate::domain::values::{self, Line, Paragraph};
use crate::error::{ApiError, Problem, not_found_as};

pub fn configure(config: &mut ServiceConfig) {
    use crate::domain::access::DistrictOf::*;
    use crate::domain::access::{OFFICES, OVERSIGHT_PEOPLE};
    config.service(
        utoipa_actix_web::scope("/rulings")
            .service(read_with(OVERSIGHT_PEOPLE, Filter, list_rulings))
            .service(write_with(OFFICES, Body, create_ruling))
            .service(read_with(OVERSIGHT_PEOPLE, Path, get_ruling))
            .service(write(Path, update_ruling))
            .service(write(Path, delete_ruling))
            .service(read(Path, get_ruling_history))
            .service(write(Path, add_measure))
            .service(write(Path, update_measure))
            .service(write(Path, delete_measure))
            .service(write(Path, feedback_ruling))
            .service(write(Path, close_ruling)),
    );
}

/// A department's handling measure (办理举措) on a ruling.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = RulingMeasure)]
pub struct MeasureView {
    pub id: MeasureId,
    pub department_id: DepartmentId,
    pub text: String,
    pub taken_on: NaiveDate,
    pub status: MeasureStatus,
    pub created_at: DateTime<Utc>,
}

impl From<Measure> for MeasureView {
    fn from(row: Measure) -> Self {
        Self {
            id: row.id,
            department_id: row.department_id,
            text: row.text,
            taken_on: row.taken_on,
            status: row.status,
            created_at: row.created_at,
        }
    }
}

/// A ruling (批示) with its measures.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Ruling)]
pub struct RulingView {
    pub id: RulingId,
    pub district_id: DistrictId,
    #[schema(example = "张三")]
    pub leader_name: String,
    pub leader_title: LeaderTitle,
    pub subject_type: SubjectType,
    /// The consultation topic, proposal or evaluation the ruling is on.
    pub subject_id: uuid::Uuid,
    /// For proposals: before, during or after handling.
    pub stage: Option<RulingStage>,
    pub content: String,
    pub issued_on: NaiveDate,
    /// The departments asked to act.
    pub department_ids: Vec<DepartmentId>,
    pub status: RulingStatus,
    /// What may be done next from here (`measure` is `POST /rulings/{id}/measures`).
    pub allowed_actions: Vec<RulingAction>,
    /// The departments' measures, oldest first.
    pub measures: Vec<MeasureView>,
    /// The feedback to the committee (反馈).
    pub feedback_text: Option<String>,
    pub fed_back_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Increases with every change; sent as the `ETag`.
    pub version: i64,
}

/// A page of a list of Ruling records.
pub type RulingPage = crate::api::page::Page<RulingView>;

crate::api::http::versioned!(RulingView);

impl RulingView {
    fn new(row: Ruling, measures: Vec<MeasureView>) -> Self {
        Self {
            subject_id: row.subject_id(),
            allowed_actions: machine::allowed_actions(row.status),
            id: row.id,
            district_id: row.district_id,
            leader_name: row.leader_name,
            leader_title: row.leader_title,
            subject_type: row.subject_type,
            stage: row.stage,
            content: row.content,
            issued_on: row.issued_on,
            department_ids: row.department_ids,
            status: row.status,
            measures,
            feedback_text: row.feedback_text,
            fed_back_at: row.fed_back_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
            version: row.version,
        }
    }
}

/// Rulings with their measures.
pub(crate) async fn views(
    conn: &mut AsyncPgConnection,
    rows: Vec<Ruling>,
) -> Result<Vec<RulingView>, ApiError> {
    let ids: Vec<RulingId> = rows.iter().map(|row| row.id).collect();
    let mut by_ruling: HashMap<RulingId, Vec<MeasureView>> = HashMap::new();
    for measure in db::measures(conn, &ids).await? {
        by_ruling
            .entry(measure.ruling_id)
            .or_default()
            .push(measure.into());
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            let measures = by_ruling.remove(&row.id).unwrap_or_default();
            RulingView::new(row, measures)
        })
        .collect())
}

async fn view(conn: &mut AsyncPgConnection, row: Ruling) -> Result<RulingView, ApiError> {
    views(conn, vec![row])
        .await?
        .pop()
        .ok_or_else(|| ApiError::Internal("a ruling vanished while being read".into()))
}

/// A new ruling.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRulingBody {
    #[serde(default)]
    #[schema(value_type = Line<50>, required = true)]
    pub leader_name: Field<Line<50>>,
    #[serde(default)]
    #[schema(value_type = LeaderTitle, required = true)]
    pub leader_title: Field<LeaderTitle>,
    #[serde(default)]
    #[schema(value_type = SubjectType, required = true)]
    pub subject_type: Field<SubjectType>,
    /// A consultation topic, proposal or evaluation the caller sees; its district is the
    /// ruling's.
    #[serde(default)]
    #[schema(value_type = uuid::Uuid, required = true)]
    pub subject_id: Field<uuid::Uuid>,
    /// Required for a ruling on a proposal, and only for one: `before` while the proposal
    /// is filed or assigned, `during` while it is assigned, `after` once it is replied or
    /// closed (409 otherwise, naming the stages allowed now).
    #[serde(default)]
    #[schema(value_type = Option<RulingStage>)]
    pub stage: Field<RulingStage>,
    #[serde(default)]
    #[schema(value_type = Paragraph<5000>, required = true)]
    pub content: Field<Paragraph<5000>>,
    /// Defaults to today.
    #[serde(default)]
    #[schema(value_type = Day)]
    pub issued_on: Field<Day>,
    /// Departments of the subject's district: at least one, except for an after sign-off
    /// (stage `after`), which may name none.
    #[serde(default)]
    #[schema(value_type = Vec<DepartmentId>, required = true)]
    pub department_ids: Field<Vec<DepartmentId>>,
}

/// Changes to a ruling while it is issued (JSON Merge Patch); its subject is fixed.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RulingPatch {
    #[serde(default)]
    #[schema(value_type = Line<50>)]
    pub leader_name: Field<Line<50>>,
    #[serde(default)]
    #[schema(value_type = LeaderTitle)]
    pub leader_title: Field<LeaderTitle>,
    /// Required for a ruling on a proposal, and only for one: `before` while the proposal
    /// is filed or assigned, `during` while it is assigned, `after` once it is replied or
    /// closed (409 otherwise, naming the stages allowed now).
    #[serde(default)]
    #[schema(value_type = Option<RulingStage>)]
    pub stage: Field<RulingStage>,
    #[serde(default)]
    #[schema(value_type = Paragraph<5000>)]
    pub content: Field<Paragraph<5000>>,
    #[serde(default)]
    #[schema(value_type = Day)]
    pub issued_on: Field<Day>,
    /// At least one, except for an after sign-off.
    #[serde(default)]
    #[schema(value_type = Vec<DepartmentId>)]
    pub department_ids: Field<Vec<DepartmentId>>,
}

impl NewRulingBody {
    fn split(self) -> (Field<SubjectType>, Field<uuid::Uuid>, RulingPatch) {
        let patch = RulingPatch {
            leader_name: self.leader_name,
            leader_title: self.leader_title,
            stage: self.stage,
            content: self.content,
            issued_on: self.issued_on,
            department_ids: self.department_ids,
        };
        (self.subject_type, self.subject_id, patch)
    }
}

/// The ruling's fields after `patch`, from `current`: a stage only on a proposal, the
/// departments of `district` only.
async fn merge(
    conn: &mut AsyncPgConnection,
    checks: &mut Checks,
    patch: RulingPatch,
    current: Option<&RulingFields>,
    subject: Option<SubjectType>,
    district: Option<DistrictId>,
) -> Result<Option<RulingFields>, ApiError> {
    let c = current;
    let leader_name = checks.required(
        "/leader_name",
        patch.leader_name,
        c.map(|c| c.leader_name.clone()),
        |v| Ok(v.into()),
    );
    let leader_title = checks.required(
        "/leader_title",
        patch.leader_title,
        c.map(|c| c.leader_title),
        Ok,
    );
    let stage = checks.optional("/stage", patch.stage, c.and_then(|c| c.stage), Ok);
    let content = checks.required(
        "/content",
        patch.content,
        c.map(|c| c.content.clone()),
        |v| Ok(v.into()),
    );
    let issued_on = checks.required(
        "/issued_on",
        patch.issued_on,
        Some(c.map_or_else(today, |c| c.issued_on)),
        Day::date,
    );
    let departments = checks.list(
        "/department_ids",
        patch.department_ids,
        c.map(|c| c.department_ids.clone()),
        Ok,
    );
    if stage.is_some() && subject.is_some_and(|kind| kind != SubjectType::Proposal) {
        checks.rule("/stage", "is only for rulings on proposals");
    }
    if stage.is_none() && subject == Some(SubjectType::Proposal) {
        checks.rule(
            "/stage",
            "is required for a ruling on a proposal: before, during or after",
        );
    }
    if departments.as_ref().is_some_and(Vec::is_empty) && stage != Some(RulingStage::After) {
        checks.rule(
            "/department_ids",
            "must name at least one department (only an after sign-off may name none)",
        );
    }
    if let (Some(district), Some(ids)) = (district, &departments) {
        let found: HashSet<DepartmentId> =
            crate::db::departments::existing_in_district(conn, district, ids)
                .await?
                .into_iter()
                .collect();
        for (index, id) in ids.iter().enumerate() {
            if !found.contains(id) {
                checks.unknown(
                    &format!("/department_ids/{index}"),
                    "is not a department of the subject's district",
                );
            }
        }
    }
    Ok((|| {
        Some(RulingFields {
            leader_name: leader_name?,
            leader_title: leader_title?,
            stage,
            content: content?,
            issued_on: issued_on?,
            department_ids: values::distinct(departments?),
        })
    })())
}

/// Refuses a ruling at `stage` on a proposal whose status does not allow it now (409,
/// naming the stages it allows).
async fn stage_fits(
    conn: &mut AsyncPgConnection,
    proposal: ProposalId,
    stage: RulingStage,
) -> Result<(), ApiError> {
    let status = crate::db::proposals::find(conn, proposal, Scope::All)
        .await
        .map_err(not_found_as("proposal"))?
        .status;
    let allowed = stages_allowed(status);
    if allowed.contains(&stage) {
        return Ok(());
    }
    let now = match allowed.as_slice() {
        [] => "none".to_owned(),
        stages => stages
            .iter()
            .map(|stage| stage.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    };
    let detail = format!(
        "a ruling at stage `{}` is not given while the proposal is {}; stages allowed now: {now}",
        stage.as_str(),
        status.as_str()
    );
    Err(ApiError::Conflict {
        errors: vec![crate::error::FieldError::rule("/stage", detail.clone())],
        detail,
    })
}

/// The district of a subject the caller sees, if there is one.
async fn subject_district(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    kind: SubjectType,
    id: uuid::Uuid,
) -> Result<Option<DistrictId>, ApiError> {
    let found = match kind {
        SubjectType::Consultation => {
            crate::db::consultations::find(conn, ConsultationId(id), caller.scope())
                .await
                .optional()?
                .map(|topic| topic.district_id)
        }
        SubjectType::Proposal => crate::db::proposals::find(conn, ProposalId(id), caller.scope())
            .await
            .optional()?
            .map(|proposal| proposal.district_id),
        SubjectType::Evaluation => {
            crate::db::evaluations::find(conn, EvaluationId(id), caller.scope())
                .await
                .optional()?
                .map(|evaluation| evaluation.district_id)
        }
    };
    Ok(found)
}

list_query! {
    /// Filters of the ruling list.
    RulingQuery, sort: RulingSort { Created = "created", UpdatedAt = "updated_at" },
    {
        district_id: DistrictId,
        status: RulingStatus,
        leader_title: LeaderTitle,
        /// Rulings asking this department to act.
        department_id: DepartmentId,
        /// Rulings on this kind of subject.
        subject_type: SubjectType,
        /// Rulings on proposals given at this stage.
        stage: RulingStage,
    }
}

/// List rulings.
#[utoipa::path(
    tag = "rulings",
    params(RulingQuery),
    responses((status = 200, description = "A page of rulings", body = RulingPage)),
)]
#[get("")]
async fn list_rulings(
    caller: Caller,
    pool: Db,
    query: web::Query<RulingQuery>,
) -> Result<web::Json<Page<RulingView>>, ApiError> {
    let query = query.into_inner();
    let request = query.page()?;
    let filter = RulingFilter {
        scope: caller.scope(),
        district_id: query.district_id,
        status: query.status,
        leader_title: query.leader_title,
        department_id: query.department_id,
        subject_type: query.subject_type,
        stage: query.stage,
        ..RulingFilter::default()
    };
    listed(&pool, &filter, &request).await
}

async fn listed(
    pool: &Db,
    filter: &RulingFilter,
    request: &crate::db::pagination::PageRequest,
) -> Result<web::Json<Page<RulingView>>, ApiError> {
    let mut conn = pool.conn().await?;
    let rows = db::list(&mut conn, filter, request).await?;
    let live: Vec<Ruling> = rows
        .iter()
        .filter(|row| row.deleted_at.is_none())
        .cloned()
        .collect();
    let mut full: HashMap<RulingId, RulingView> = views(&mut conn, live)
        .await?
        .into_iter()
        .map(|view| (view.id, view))
        .collect();
    Ok(web::Json(page(rows, request, |row| {
        full.remove(&row.id)
            .unwrap_or_else(|| RulingView::new(row, Vec::new()))
    })))
}

/// Record a ruling on a consultation topic, a proposal or an evaluation (-> issued).
#[utoipa::path(
    tag = "rulings",
    request_body = NewRulingBody,
    responses((status = 201, description = "The new ruling", body = RulingView,
        headers(("ETag" = String), ("Location" = String, description = "The ruling's URL"))),
        (status = 409, description = "A stage the proposal's status does not allow now", body = Problem)),
)]
#[post("")]
async fn create_ruling(
    caller: Caller,
    pool: Db,
    body: crate::api::http::Json<NewRulingBody>,
) -> Result<HttpResponse, ApiError> {
    let (subject_type, subject_id, patch) = body.into_inner().split();
    let mut conn = pool.conn().await?;
    let created = conn
        .write(async move |conn| {
            let mut checks = Checks::default();
            let subject_type = checks.required("/subject_type", subject_type, None, Ok);
            let subject_id = checks.required("/subject_id", subject_id, None, Ok);
            let district = match (subject_type, subject_id) {
                (Some(kind), Some(id)) => {
                    let district = subject_district(conn, &caller, kind, id).await?;
                    if district.is_none() {
                        checks.unknown("/subject_id", format!("no such {}", kind.as_str()));
                    }
                    district
                }
                _ => None,
            };
            let fields = merge(conn, &mut checks, patch, None, subject_type, district).await?;
            // A leaders' office issues its own leader's rulings.
            if let (Some(Person::Office(title)), Some(fields)) = (caller.person, &fields)
                && fields.leader_title != title
            {
                checks.rule(
                    "/leader_title",
                    format!(
                        "this leaders' office issues the rulings of its leader ({})",
                        title.as_str()
                    ),
                );
            }
            let ruling = checks.finish((|| {
                let kind = subject_type?;
                let id = subject_id?;
                let fields = fields?;
                Some(NewRuling {
                    id: RulingId::generate(),
                    district_id: district?,
                    leader_name: fields.leader_name,
                    leader_title: fields.leader_title,
                    subject_type: kind,
                    consultation_id: (kind == SubjectType::Consultation)
                        .then_some(ConsultationId(id)),
                    proposal_id: (kind == SubjectType::Proposal).then_some(ProposalId(id)),
                    evaluation_id: (kind == SubjectType::Evaluation).then_some(EvaluationId(id)),
                    stage: fields.stage,
                    content: fields.content,
                    issued_on: fields.issued_on,
                    department_ids: fields.department_ids,
                })
            })())?;
            if let (Some(proposal), Some(stage)) = (ruling.proposal_id, ruling.stage) {
                stage_fits(conn, proposal, stage).await?;
            }
            let row = db::insert(conn, ruling).await?;
            let created = view(conn, row).await?;
            let change = Change::new(
                "create",
                Entity::Ruling,
                created.id,
                Some(created.district_id),
            );
            record(conn, &caller, change.after(&created));
            Ok::<_, ApiError>(created)
        })
        .await?;
    let location = format!("/api/v1/rulings/{}", created.id);
    Ok(created_response(&created, location))
}

edit::get_route! {
    /// Get a ruling with its measures.
    get_ruling: Ruling, GET "/{id}",
    tag = "rulings", params(("id" = RulingId, Path, description = "The ruling's id")), path = RulingId,
    answer = (RulingView, "The ruling"),
}

edit::patch_route! {
    /// Correct a ruling (JSON Merge Patch) while it is issued; once a department has acted
    /// on it, it is fixed (409).
    update_ruling: Ruling, PATCH "/{id}",
    tag = "rulings", params(("id" = RulingId, Path, description = "The ruling's id")), path = RulingId,
    body = RulingPatch, answer = (RulingView, "The changed ruling"),
    refused = "The ruling is no longer issued, or its new stage is not one the proposal's status allows now",
}

edit::delete_route! {
    /// Delete a ruling while it is issued (a ruling recorded in error).
    delete_ruling: Ruling, DELETE "/{id}",
    tag = "rulings", params(("id" = RulingId, Path, description = "The ruling's id")), path = RulingId,
    refused = "The ruling is no longer issued",
}

impl Editable for Ruling {
    edit::own!(RulingId, "ruling");
    type Patch = RulingPatch;
    type View = RulingView;
    const ENTITY: Entity = Entity::Ruling;
    type Lists = ();

    fn allows(_parent: &(), row: &Self, edit: Edit) -> Result<(), ApiError> {
        if row.status == RulingStatus::Issued {
            return Ok(());
        }
        Err(wrong_state(
            row,
            match edit {
                Edit::Update => "changing the ruling",
                Edit::Delete => "deleting",
            },
        ))
    }

    async fn merge(
        conn: &mut AsyncPgConnection,
        checks: &mut Checks,
        _lists: &Self::Lists,
        _parent: &(),
        row: &Self,
        patch: RulingPatch,
    ) -> Result<Option<RulingFields>, ApiError> {
        let fields = Some(&row.fields());
        let (subject, district) = (Some(row.subject_type), Some(row.district_id));
        let merged = merge(conn, checks, patch, fields, subject, district).await?;
        // A stage changed must fit where the proposal stands now.
        if let (Some(proposal), Some(stage)) =
            (row.proposal_id, merged.as_ref().and_then(|m| m.stage))
            && Some(stage) != row.stage
        {
            stage_fits(conn, proposal, stage).await?;
        }
        Ok(merged)
    }

    async fn view(conn: &mut AsyncPgConnection, row: Self) -> Result<RulingView, ApiError> {
        view(conn, row).await
    }
}

/// The workflow history of a ruling.
#[utoipa::path(
    tag = "rulings",
    params(("id" = RulingId, Path, description = "The ruling's id")),
    responses((status = 200, description = "Its steps", body = WorkflowHistory)),
)]
#[get("/{id}/history")]
async fn get_ruling_history(
    caller: Caller,
    pool: Db,
    path: web::Path<RulingId>,
) -> Result<web::Json<WorkflowHistory>, ApiError> {
    let id = path.into_inner();
    let mut conn = pool.conn().await?;
    db::find(&conn, id, caller.scope())
        .await
        .map_err(not_found_as("ruling"))?;
    Ok(web::Json(
        workflow::history(&mut conn, Entity::Ruling, id.0).await?,
    ))
}

fn wrong_state(row: &Ruling, what: &str) -> ApiError {
    let allowed = machine::allowed_actions(row.status)
        .iter()
        .map(|action| action.as_str().to_owned())
        .collect();
    workflow::refused(what, row.status.as_str(), allowed)
}

/// What a step changes besides the status.
pub(crate) enum Step {
    Measure {
        department: DepartmentId,
        text: String,
        taken_on: NaiveDate,
        status: MeasureStatus,
    },
    Feedback {
        text: String,
    },
    Close,
}

impl Workflow for Ruling {
    type Key = RulingId;
    type View = RulingView;
    type Step = Step;
    const ENTITY: Entity = Entity::Ruling;

    /// Its handling measures.
    type Relations = Vec<MeasureView>;

    async fn lock(conn: &AsyncPgConnection, id: RulingId, scope: Scope) -> QueryResult<Self> {
        db::lock(conn, id, scope).await
    }

    async fn relations(
        conn: &AsyncPgConnection,
        id: RulingId,
    ) -> Result<Vec<MeasureView>, ApiError> {
        Ok(db::measures(conn, &[id])
            .await?
            .into_iter()
            .map(MeasureView::from)
            .collect())
    }

    fn view(row: Self, measures: &Vec<MeasureView>) -> RulingView {
        RulingView::new(row, measures.clone())
    }

    /// A measure adds to the measures.
    fn changes_relations(step: &Step) -> bool {
        matches!(step, Step::Measure { .. })
    }

    fn save(row: &Self, now: DateTime<Utc>) -> (Self, crate::db::Statement) {
        db::save_later(row, now)
    }

    async fn take(
        conn: &mut Tx<'_>,
        _caller: &Caller,
        row: &mut Self,
        step: Step,
        now: DateTime<Utc>,
    ) -> Result<Transition, ApiError> {
        let action = match step {
            Step::Measure { .. } => RulingAction::Measure,
            Step::Feedback { .. } => RulingAction::Feedback,
            Step::Close => RulingAction::Close,
        };
        let to = machine::next(row.status, action)
            .ok_or_else(|| wrong_state(row, &format!("`{}`", action.as_str())))?;
        let payload = match step {
            Step::Measure {
                department,
                text,
                taken_on,
                status,
            } => {
                if !row.department_ids.contains(&department) {
                    return Err(ApiError::rule(
                        "/department_id",
                        "is not a department the ruling asks to act",
                    ));
                }
                let measure =
                    db::add_measure(conn, row, department, text, taken_on, status).await?;
                json!({"measure_id": measure.id, "department_id": department})
            }
            Step::Feedback { text } => {
                row.feedback_text = Some(text.clone());
                row.fed_back_at = Some(now);
                json!({"text": text})
            }
            Step::Close => json!({}),
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

/// A department's handling measure.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MeasureBody {
    /// One of the departments the ruling asks to act.
    #[serde(default)]
    #[schema(value_type = DepartmentId, required = true)]
    pub department_id: Field<DepartmentId>,
    #[serde(default)]
    #[schema(value_type = Paragraph<5000>, required = true)]
    pub text: Field<Paragraph<5000>>,
    /// Defaults to today.
    #[serde(default)]
    #[schema(value_type = Day)]
    pub taken_on: Field<Day>,
    /// Defaults to `planned`.
    #[serde(default)]
    #[schema(value_type = MeasureStatus)]
    pub status: Field<MeasureStatus>,
}

action!(
    /// Record a department's measure; the first moves the ruling to in_handling.
    add_measure: Ruling, POST "/{id}/measures",
    tag = "rulings",
    params(("id" = RulingId, Path, description = "The ruling's id"), IfMatchHeader),
    path = RulingId,
    answer = (RulingView, "The ruling with the measure"),
    refused = "The ruling is fed back or closed; the answer names the allowed actions",
    body = MeasureBody,
    |checks, body| {
        let department = checks.required("/department_id", body.department_id, None, Ok);
        let text = checks.required("/text", body.text, None, |v| Ok(v.into()));
        let taken_on = checks.required("/taken_on", body.taken_on, Some(today()), Day::date);
        let status = checks.required("/status", body.status, Some(MeasureStatus::Planned), Ok);
        (|| {
            Some(Step::Measure {
                department: department?,
                text: text?,
                taken_on: taken_on?,
                status: status?,
            })
        })()
    }
);

/// The committee's feedback on how the ruling was carried out.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedbackText {
    #[serde(default)]
    #[schema(value_type = Paragraph<5000>, required = true)]
    pub text: Field<Paragraph<5000>>,
}

action!(
    /// Record the feedback to the committee (-> fed_back).
    feedback_ruling: Ruling, POST "/{id}/feedback",
    tag = "rulings",
    params(("id" = RulingId, Path, description = "The ruling's id"), IfMatchHeader),
    path = RulingId,
    answer = (RulingView, "The ruling after the step"),
    refused = "Not allowed from the current status; the answer names the allowed actions",
    body = FeedbackText,
    |checks, body| checks
        .required("/text", body.text, None, |v| Ok(v.into()))
        .map(|text| Step::Feedback { text })
);

action!(
    /// Close a fed-back ruling (-> closed).
    close_ruling: Ruling, POST "/{id}/close",
    tag = "rulings",
    params(("id" = RulingId, Path, description = "The ruling's id"), IfMatchHeader),
    path = RulingId,
    answer = (RulingView, "The ruling after the step"),
    refused = "Not allowed from the current status; the answer names the allowed actions",
    step = Step::Close,
);

/// Changes to a measure (JSON Merge Patch).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MeasurePatch {
    #[serde(default)]
    #[schema(value_type = Paragraph<5000>)]
    pub text: Field<Paragraph<5000>>,
    #[serde(default)]
    #[schema(value_type = Day)]
    pub taken_on: Field<Day>,
    #[serde(default)]
    #[schema(value_type = MeasureStatus)]
    pub status: Field<MeasureStatus>,
}

/// A measure is one part of its ruling: it changes under the ruling's lock and `If-Match`,
/// while the ruling is in handling, and the ruling takes a new version and an audit event.
async fn change_measure(
    pool: &Db,
    caller: Caller,
    (id, measure): (RulingId, MeasureId),
    condition: IfMatch,
    patch: Option<MeasurePatch>,
) -> Result<RulingView, ApiError> {
    let mut conn = pool.conn().await?;
    conn.write(async move |conn| {
        let current = db::lock(conn, id, caller.scope())
            .await
            .map_err(not_found_as("ruling"))?;
        condition.check(current.version)?;
        let before = view(conn, current.clone()).await?;
        let Some(found) = before.measures.iter().find(|m| m.id == measure) else {
            return Err(ApiError::not_found("measure"));
        };
        if current.status != RulingStatus::InHandling {
            return Err(wrong_state(&current, "changing a measure"));
        }
        let action = match patch {
            Some(patch) => {
                let mut checks = Checks::default();
                let text = checks.required("/text", patch.text, Some(found.text.clone()), |v| {
                    Ok(v.into())
                });
                let taken_on =
                    checks.required("/taken_on", patch.taken_on, Some(found.taken_on), Day::date);
                let status = checks.required("/status", patch.status, Some(found.status), Ok);
                let fields = checks.finish((|| {
                    Some(MeasureFields {
                        text: text?,
                        taken_on: taken_on?,
                        status: status?,
                    })
                })())?;
                let unchanged = MeasureFields {
                    text: found.text.clone(),
                    taken_on: found.taken_on,
                    status: found.status,
                };
                if fields == unchanged {
                    return Ok(before);
                }
                db::update_measure(conn, measure, &fields).await?;
                "update_measure"
            }
            None => {
                if before.measures.len() == 1 {
                    return Err(ApiError::conflict(
                        "a ruling in handling keeps at least one measure; correct it instead",
                    ));
                }
                db::delete_measure(conn, measure).await?;
                "delete_measure"
            }
        };
        let saved = db::touch(conn, id).await?;
        let after = view(conn, saved).await?;
        let change = Change::new(action, Entity::Ruling, id, Some(after.district_id));
        record(conn, &caller, change.before(&before).after(&after));
        Ok(after)
    })
    .await
}

/// Correct a measure (JSON Merge Patch) while the ruling is in handling; `If-Match` names
/// the ruling's version.
#[utoipa::path(
    tag = "rulings",
    params(
        ("id" = RulingId, Path, description = "The ruling's id"),
        ("measure_id" = MeasureId, Path, description = "The measure's id"),
        IfMatchHeader,
    ),
    request_body(content = MeasurePatch, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The ruling with the changed measure", body = RulingView, headers(("ETag" = String))),
        (status = 404, description = "No such ruling, or the measure is not one of its own", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The ruling is not in handling", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match does not name the ruling's current version", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[patch("/{id}/measures/{measure_id}")]
async fn update_measure(
    caller: Caller,
    pool: Db,
    path: web::Path<(RulingId, MeasureId)>,
    condition: IfMatch,
    body: crate::api::http::Json<MeasurePatch>,
) -> Result<HttpResponse, ApiError> {
    let patch = Some(body.into_inner());
    let after = change_measure(&pool, caller, path.into_inner(), condition, patch).await?;
    Ok(updated_response(&after))
}

/// Delete a measure recorded in error while the ruling is in handling (not its last one);
/// `If-Match` names the ruling's version.
#[utoipa::path(
    tag = "rulings",
    params(
        ("id" = RulingId, Path, description = "The ruling's id"),
        ("measure_id" = MeasureId, Path, description = "The measure's id"),
        IfMatchHeader,
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such ruling, or the measure is not one of its own", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The ruling is not in handling, or this is its only measure", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match does not name the ruling's current version", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[delete("/{id}/measures/{measure_id}")]
async fn delete_measure(
    caller: Caller,
    pool: Db,
    path: web::Path<(RulingId, MeasureId)>,
    condition: IfMatch,
) -> Result<HttpResponse, ApiError> {
    change_measure(&pool, caller, path.into_inner(), condition, None).await?;
    Ok(no_content())
}

/// The rulings on one subject (a subject has few; not paged).
#[derive(Debug, Serialize, ToSchema)]
pub struct SubjectRulings {
    pub items: Vec<RulingView>,
}

/// The rulings on one subject, after checking the caller sees it (404 otherwise).
pub(crate) async fn on_subject(
    pool: &Db,
    caller: &Caller,
    kind: SubjectType,
    id: uuid::Uuid,
) -> Result<web::Json<SubjectRulings>, ApiError> {
    let mut conn = pool.conn().await?;
    if subject_district(&mut conn, caller, kind, id)
        .await?
        .is_none()
    {
        return Err(ApiError::not_found(kind.as_str()));
    }
    let items = of_subject(&mut conn, caller, kind, id).await?;
    Ok(web::Json(SubjectRulings { items }))
}

/// Every live ruling on one subject the caller sees, with measures, oldest first.
pub(crate) async fn of_subject(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    kind: SubjectType,
    id: uuid::Uuid,
) -> Result<Vec<RulingView>, ApiError> {
    let rows = db::on_subject(conn, caller.scope(), kind, id).await?;
    views(conn, rows).await
}
