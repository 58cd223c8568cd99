//! `/api/v1/evaluations`: democratic evaluations (民主评议) of a district's departments —
//! evaluators and their training, investigation visits, ratings (民主测评) and their
//! summary, the report whose findings become rectification items (整改事项), and the
//! conclusion with its score and grade.

use crate::api::work::Tx;
use crate::domain::kinds::Entity;
use std::collections::HashMap;

use actix_web::{HttpResponse, delete, get, patch, post, put, web};
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
use crate::api::http::{
    IfMatch, IfMatchHeader, IfNoneMatch, IfNoneMatchHeader, created_response, no_content,
    read_response, updated_response,
};
use crate::api::input::{Checks, Field};
use crate::api::page::{Page, list_query, page};
use crate::api::rulings::{RulingView, SubjectRulings};
use crate::api::work::{Db, Write};
use crate::api::workflow::{self, Transition, Workflow, WorkflowHistory, action};
use crate::db::audit::Change;
use crate::db::evaluations::{
    self as db, Evaluation, EvaluationFields, EvaluationFilter, Evaluator, Finding, Item, Note,
    RatingRow, Visit, VisitFields, visits as visit_db,
};
use crate::domain::access::Scope;
use crate::domain::calendar::Day;
use crate::domain::calendar::today;
use crate::domain::evaluation::{
    self as machine, Criterion, EvaluationAction, EvaluationPhase, Grade, ItemAction, ItemStatus,
    Rating,
};
use crate::domain::ids::{DepartmentId, DistrictId, EvaluationId, ItemId, MemberId, VisitId};
use crate::domain::ruling::SubjectType;
use crate::domain::values::{Paragraph, Year};
use crate::error::{ApiError, FieldError, Problem, not_found_as};

mod evaluators;
mod items;
mod ratings;
mod visits;

use evaluators::{add_evaluator, complete_training, list_evaluators, remove_evaluator};
pub(crate) use items::item_views;
use items::{
    ItemView, carry_over_rectification_item, complete_rectification_item, get_rectification_item,
    items_of, list_rectification_items, note_rectification_item, reopen_rectification_item,
    start_rectification_item, verify_rectification_item,
};
use ratings::{get_rating_summary, list_ratings, put_rating};
pub use visits::VisitView;
use visits::{create_visit, delete_visit, get_visit, list_visits, update_visit};

pub fn configure(config: &mut ServiceConfig) {
    use crate::domain::access::DistrictOf::*;
    use crate::domain::access::{OFFICES, OVERSIGHT_PEOPLE};
    config.service(
        utoipa_actix_web::scope("/evaluations")
            .service(read_with(OVERSIGHT_PEOPLE, Filter, list_evaluations))
            .service(write(Body, create_evaluation))
            .service(read_with(OVERSIGHT_PEOPLE, Path, get_evaluation))
            .service(write(Path, update_evaluation))
            .service(write(Path, delete_evaluation))
            .service(read(Path, get_evaluation_history))
            .service(write(Path, start_investigation))
            .service(write(Path, start_deliberation))
            .service(write(Path, start_rectification))
            .service(write(Path, conclude_evaluation))
            .service(read(Path, list_evaluators))
            .service(write(Path, add_evaluator))
            .service(write(Path, remove_evaluator))
            .service(write(Path, complete_training))
            .service(read_with(OFFICES, Path, list_visits))
            .service(write(Path, create_visit))
            .service(read_with(OFFICES, Path, get_visit))
            .service(write(Path, update_visit))
            .service(write(Path, delete_visit))
            .service(read(Path, get_rating_summary))
            .service(read(Path, list_ratings))
            .service(write(Path, put_rating))
            .service(read_with(OVERSIGHT_PEOPLE, Path, list_rectification_items))
            .service(read_with(OVERSIGHT_PEOPLE, Path, get_rectification_item))
            .service(write(Path, note_rectification_item))
            .service(write(Path, start_rectification_item))
            .service(write(Path, complete_rectification_item))
            .service(write(Path, verify_rectification_item))
            .service(write(Path, reopen_rectification_item))
            .service(write(Path, carry_over_rectification_item))
            .service(read_with(OFFICES, Path, list_evaluation_rulings))
            .service(read(Path, get_evaluation_lineage)),
    );
}

/// An evaluator (评议员): a member of the evaluation's district.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Evaluator)]
pub struct EvaluatorView {
    pub member_id: MemberId,
    /// When the evaluator completed the training; only trained evaluators rate.
    pub training_completed_at: Option<DateTime<Utc>>,
    pub added_at: DateTime<Utc>,
}

impl From<Evaluator> for EvaluatorView {
    fn from(row: Evaluator) -> Self {
        Self {
            member_id: row.member_id,
            training_completed_at: row.training_completed_at,
            added_at: row.added_at,
        }
    }
}

/// A democratic evaluation (民主评议) of one department in one year.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Evaluation)]
pub struct EvaluationView {
    pub id: EvaluationId,
    pub district_id: DistrictId,
    /// The department evaluated.
    pub department_id: DepartmentId,
    #[schema(example = 2026)]
    pub year: i32,
    pub phase: EvaluationPhase,
    /// The next step from here.
    pub allowed_actions: Vec<EvaluationAction>,
    /// The evaluators, in the order they were added.
    pub evaluators: Vec<EvaluatorView>,
    /// The report (评议报告), given with `start_rectification`.
    pub report_text: Option<String>,
    pub reported_at: Option<DateTime<Utc>>,
    /// The mean of the ratings' points (satisfied 100, basically satisfied 60,
    /// unsatisfied 0), stored at the conclusion.
    pub score: Option<f64>,
    /// The grade of the score, stored at the conclusion.
    pub grade: Option<Grade>,
    pub concluded_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Increases with every change (its evaluators' included); sent as the `ETag`.
    pub version: i64,
}

/// A page of a list of Evaluation records.
pub type EvaluationPage = crate::api::page::Page<EvaluationView>;

crate::api::http::versioned!(EvaluationView);

impl EvaluationView {
    fn new(row: Evaluation, evaluators: Vec<EvaluatorView>) -> Self {
        Self {
            allowed_actions: machine::allowed_actions(row.phase),
            id: row.id,
            district_id: row.district_id,
            department_id: row.department_id,
            year: row.year,
            phase: row.phase,
            evaluators,
            report_text: row.report_text,
            reported_at: row.reported_at,
            score: row.score,
            grade: row.grade,
            concluded_at: row.concluded_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
            version: row.version,
        }
    }
}

/// Evaluations with their evaluators.
pub(crate) async fn views(
    conn: &mut AsyncPgConnection,
    rows: Vec<Evaluation>,
) -> Result<Vec<EvaluationView>, ApiError> {
    let ids: Vec<EvaluationId> = rows.iter().map(|row| row.id).collect();
    let mut by_evaluation: HashMap<EvaluationId, Vec<EvaluatorView>> = HashMap::new();
    for evaluator in db::evaluators(conn, &ids).await? {
        by_evaluation
            .entry(evaluator.evaluation_id)
            .or_default()
            .push(evaluator.into());
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            let evaluators = by_evaluation.remove(&row.id).unwrap_or_default();
            EvaluationView::new(row, evaluators)
        })
        .collect())
}

async fn view(conn: &mut AsyncPgConnection, row: Evaluation) -> Result<EvaluationView, ApiError> {
    views(conn, vec![row])
        .await?
        .pop()
        .ok_or_else(|| ApiError::Internal("an evaluation vanished while being read".into()))
}

fn wrong_state(row: &Evaluation, what: &str) -> ApiError {
    let allowed = machine::allowed_actions(row.phase)
        .iter()
        .map(|action| action.as_str().to_owned())
        .collect();
    workflow::refused(what, row.phase.as_str(), allowed)
}

/// An evaluation in the caller's scope, locked until the transaction ends.
async fn locked(
    conn: &AsyncPgConnection,
    caller: &Caller,
    id: EvaluationId,
) -> Result<Evaluation, ApiError> {
    db::lock(conn, id, caller.scope())
        .await
        .map_err(not_found_as("evaluation"))
}

/// An evaluation in the caller's scope.
async fn found(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    id: EvaluationId,
) -> Result<Evaluation, ApiError> {
    db::find(conn, id, caller.scope())
        .await
        .map_err(not_found_as("evaluation"))
}

list_query! {
    /// Filters of the evaluation list.
    EvaluationQuery, sort: EvaluationSort { Created = "created", UpdatedAt = "updated_at" },
    {
        district_id: DistrictId,
        department_id: DepartmentId,
        year: i32,
        phase: EvaluationPhase,
    }
}

/// List evaluations.
#[utoipa::path(
    tag = "evaluations",
    params(EvaluationQuery),
    responses((status = 200, description = "A page of evaluations", body = EvaluationPage)),
)]
#[get("")]
async fn list_evaluations(
    caller: Caller,
    pool: Db,
    query: web::Query<EvaluationQuery>,
) -> Result<web::Json<Page<EvaluationView>>, ApiError> {
    let query = query.into_inner();
    let request = query.page()?;
    let filter = EvaluationFilter {
        scope: caller.scope(),
        district_id: query.district_id,
        department_id: query.department_id,
        year: query.year,
        phase: query.phase,
    };
    let mut conn = pool.conn().await?;
    let rows = db::list(&mut conn, &filter, &request).await?;
    let live: Vec<Evaluation> = rows
        .iter()
        .filter(|row| row.deleted_at.is_none())
        .cloned()
        .collect();
    let mut full: HashMap<EvaluationId, EvaluationView> = views(&mut conn, live)
        .await?
        .into_iter()
        .map(|view| (view.id, view))
        .collect();
    Ok(web::Json(page(rows, &request, |row| {
        full.remove(&row.id)
            .unwrap_or_else(|| EvaluationView::new(row, Vec::new()))
    })))
}

/// A new evaluation.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEvaluation {
    #[serde(default)]
    #[schema(value_type = DistrictId, required = true)]
    pub district_id: Field<DistrictId>,
    /// A department of the district; one evaluation per department and year.
    #[serde(default)]
    #[schema(value_type = DepartmentId, required = true)]
    pub department_id: Field<DepartmentId>,
    #[serde(default)]
    #[schema(value_type = Year, required = true, example = 2026)]
    pub year: Field<Year>,
}

/// Changes to an evaluation in preparation (JSON Merge Patch).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EvaluationPatch {
    #[serde(default)]
    #[schema(value_type = DepartmentId)]
    pub department_id: Field<DepartmentId>,
    #[serde(default)]
    #[schema(value_type = Year)]
    pub year: Field<Year>,
}

/// The evaluation's fields after `patch`; the department must be of `district`.
async fn merge(
    conn: &mut AsyncPgConnection,
    checks: &mut Checks,
    patch: EvaluationPatch,
    current: Option<&EvaluationFields>,
    district: Option<DistrictId>,
) -> Result<Option<EvaluationFields>, ApiError> {
    let department = checks.required(
        "/department_id",
        patch.department_id,
        current.map(|c| c.department_id),
        Ok,
    );
    let year = checks.required("/year", patch.year, current.map(|c| c.year), |v| {
        Ok(v.into())
    });
    if let (Some(district), Some(department)) = (district, department) {
        let found =
            crate::db::departments::existing_in_district(conn, district, &[department]).await?;
        if found.is_empty() {
            checks.unknown("/department_id", "is not a department of the district");
        }
    }
    Ok((|| {
        Some(EvaluationFields {
            department_id: department?,
            year: year?,
        })
    })())
}

/// Begin the evaluation of a department (-> preparation).
#[utoipa::path(
    tag = "evaluations",
    request_body = NewEvaluation,
    responses(
        (status = 201, description = "The new evaluation", body = EvaluationView,
            headers(("ETag" = String), ("Location" = String, description = "The evaluation's URL"))),
        (status = 409, description = "The department already has an evaluation in this year", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("")]
async fn create_evaluation(
    caller: Caller,
    pool: Db,
    body: crate::api::http::Json<NewEvaluation>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let patch = EvaluationPatch {
        department_id: body.department_id,
        year: body.year,
    };
    let mut conn = pool.conn().await?;
    let created = conn
        .write(async move |conn| {
            let mut checks = Checks::default();
            let district =
                referenced_district(conn, &mut checks, body.district_id, caller.scope()).await?;
            let district_id = district.map(|district| district.id);
            let fields = merge(conn, &mut checks, patch, None, district_id).await?;
            let (district, fields) = checks.finish(district_id.zip(fields))?;
            let row = db::insert(conn, district, fields).await?;
            let created = view(conn, row).await?;
            let change = Change::new("create", Entity::Evaluation, created.id, Some(district));
            record(conn, &caller, change.after(&created));
            Ok::<_, ApiError>(created)
        })
        .await?;
    let location = format!("/api/v1/evaluations/{}", created.id);
    Ok(created_response(&created, location))
}

edit::get_route! {
    /// Get an evaluation with its evaluators.
    get_evaluation: Evaluation, GET "/{id}",
    tag = "evaluations", params(("id" = EvaluationId, Path, description = "The evaluation's id")), path = EvaluationId,
    answer = (EvaluationView, "The evaluation"),
}

edit::patch_route! {
    /// Change the department or year (JSON Merge Patch) while in preparation.
    update_evaluation: Evaluation, PATCH "/{id}",
    tag = "evaluations", params(("id" = EvaluationId, Path, description = "The evaluation's id")), path = EvaluationId,
    body = EvaluationPatch, answer = (EvaluationView, "The changed evaluation"),
    refused = "Past preparation, or the department already has an evaluation in that year",
}

edit::delete_route! {
    /// Delete an evaluation in preparation.
    delete_evaluation: Evaluation, DELETE "/{id}",
    tag = "evaluations", params(("id" = EvaluationId, Path, description = "The evaluation's id")), path = EvaluationId,
    refused = "Past preparation",
}

impl Editable for Evaluation {
    edit::own!(EvaluationId, "evaluation");
    type Patch = EvaluationPatch;
    type View = EvaluationView;
    const ENTITY: Entity = Entity::Evaluation;
    type Lists = ();

    fn allows(_parent: &(), row: &Self, edit: Edit) -> Result<(), ApiError> {
        if row.phase == EvaluationPhase::Preparation {
            return Ok(());
        }
        Err(wrong_state(
            row,
            match edit {
                Edit::Update => "changing the evaluation",
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
        patch: EvaluationPatch,
    ) -> Result<Option<EvaluationFields>, ApiError> {
        merge(
            conn,
            checks,
            patch,
            Some(&row.fields()),
            Some(row.district_id),
        )
        .await
    }

    async fn view(conn: &mut AsyncPgConnection, row: Self) -> Result<EvaluationView, ApiError> {
        view(conn, row).await
    }
}

/// The workflow history of an evaluation.
#[utoipa::path(
    tag = "evaluations",
    params(("id" = EvaluationId, Path, description = "The evaluation's id")),
    responses((status = 200, description = "Its steps", body = WorkflowHistory)),
)]
#[get("/{id}/history")]
async fn get_evaluation_history(
    caller: Caller,
    pool: Db,
    path: web::Path<EvaluationId>,
) -> Result<web::Json<WorkflowHistory>, ApiError> {
    let id = path.into_inner();
    let mut conn = pool.conn().await?;
    found(&mut conn, &caller, id).await?;
    Ok(web::Json(
        workflow::history(&mut conn, Entity::Evaluation, id.0).await?,
    ))
}

/// What a step of an evaluation changes besides the phase.
pub(crate) enum Step {
    StartInvestigation,
    StartDeliberation,
    StartRectification {
        report_text: String,
        findings: Vec<Finding>,
    },
    Conclude,
}

impl Step {
    fn action(&self) -> EvaluationAction {
        match self {
            Self::StartInvestigation => EvaluationAction::StartInvestigation,
            Self::StartDeliberation => EvaluationAction::StartDeliberation,
            Self::StartRectification { .. } => EvaluationAction::StartRectification,
            Self::Conclude => EvaluationAction::Conclude,
        }
    }
}

impl Workflow for Evaluation {
    type Key = EvaluationId;
    type View = EvaluationView;
    type Step = Step;
    const ENTITY: Entity = Entity::Evaluation;

    /// Its evaluators.
    type Relations = Vec<EvaluatorView>;

    async fn lock(conn: &AsyncPgConnection, id: EvaluationId, scope: Scope) -> QueryResult<Self> {
        db::lock(conn, id, scope).await
    }

    async fn relations(
        conn: &AsyncPgConnection,
        id: EvaluationId,
    ) -> Result<Vec<EvaluatorView>, ApiError> {
        Ok(db::evaluators(conn, &[id])
            .await?
            .into_iter()
            .map(EvaluatorView::from)
            .collect())
    }

    fn view(row: Self, evaluators: &Vec<EvaluatorView>) -> EvaluationView {
        EvaluationView::new(row, evaluators.clone())
    }

    /// No step changes who evaluates (they are added and removed apart from the steps).
    fn changes_relations(_step: &Step) -> bool {
        false
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
        let action = step.action();
        let to = machine::next(row.phase, action)
            .ok_or_else(|| wrong_state(row, &format!("`{}`", action.as_str())))?;
        let payload = match step {
            Step::StartInvestigation => {
                if db::evaluators(conn, &[row.id]).await?.is_empty() {
                    return Err(ApiError::conflict(
                        "the evaluation has no evaluators yet; add them first",
                    ));
                }
                json!({})
            }
            Step::StartDeliberation => {
                let evaluators = db::evaluators(conn, &[row.id]).await?;
                if !evaluators
                    .iter()
                    .any(|evaluator| evaluator.training_completed_at.is_some())
                {
                    return Err(ApiError::conflict(
                        "no evaluator has completed the training; only trained evaluators rate",
                    ));
                }
                json!({})
            }
            Step::StartRectification {
                report_text,
                findings,
            } => {
                if db::ratings(conn, row.id).await?.is_empty() {
                    return Err(ApiError::conflict(
                        "no rating has been given; the report follows the ratings",
                    ));
                }
                let items = db::insert_items(conn, row, &findings).await?;
                row.report_text = Some(report_text);
                row.reported_at = Some(now);
                json!({"item_ids": items.iter().map(|item| item.id).collect::<Vec<_>>()})
            }
            Step::Conclude => {
                let unsettled: Vec<FieldError> = db::items(conn, &[row.id])
                    .await?
                    .into_iter()
                    .filter(|item| !machine::item_settled(item.status))
                    .map(|item| {
                        FieldError::rule(
                            format!("/rectification_items/{}", item.id),
                            format!(
                                "item {} is {}; it must be verified or carried over",
                                item.position,
                                item.status.as_str()
                            ),
                        )
                    })
                    .collect();
                if !unsettled.is_empty() {
                    return Err(ApiError::Conflict {
                        detail: format!(
                            "{} rectification item(s) are neither verified nor carried over",
                            unsettled.len()
                        ),
                        errors: unsettled,
                    });
                }
                let ratings = db::ratings(conn, row.id).await?;
                let score = machine::score(ratings.iter().map(|rating| rating.rating))
                    .ok_or_else(|| ApiError::conflict("no rating has been given"))?;
                let grade = machine::grade(score);
                row.score = Some(score);
                row.grade = Some(grade);
                row.concluded_at = Some(now);
                json!({"score": score, "grade": grade, "ratings": ratings.len()})
            }
        };
        let from = row.phase;
        row.phase = to;
        Ok(Transition {
            action: action.as_str(),
            from: from.as_str(),
            to: to.as_str(),
            payload,
        })
    }
}

action!(
    /// Begin the investigation (-> investigation); needs at least one evaluator.
    start_investigation: Evaluation, POST "/{id}/start-investigation",
    tag = "evaluations",
    params(("id" = EvaluationId, Path, description = "The evaluation's id"), IfMatchHeader),
    path = EvaluationId,
    answer = (EvaluationView, "The evaluation after the step"),
    refused = "Not allowed in the current phase (the answer names the allowed actions), or no evaluator yet",
    step = Step::StartInvestigation,
);

action!(
    /// Begin the deliberation (-> deliberation); needs at least one trained evaluator.
    start_deliberation: Evaluation, POST "/{id}/start-deliberation",
    tag = "evaluations",
    params(("id" = EvaluationId, Path, description = "The evaluation's id"), IfMatchHeader),
    path = EvaluationId,
    answer = (EvaluationView, "The evaluation after the step"),
    refused = "Not allowed in the current phase (the answer names the allowed actions), or no trained evaluator",
    step = Step::StartDeliberation,
);

/// A finding of the report; it becomes a rectification item.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FindingBody {
    /// What must be rectified.
    #[serde(default)]
    #[schema(value_type = Paragraph<2000>, required = true)]
    pub description: Field<Paragraph<2000>>,
    /// When it is due.
    pub due_on: Day,
}

/// The report (评议报告) and its findings.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EvaluationReport {
    #[serde(default)]
    #[schema(value_type = Paragraph<50_000>, required = true)]
    pub text: Field<Paragraph<50_000>>,
    /// The findings, each to become a rectification item, in this order.
    #[serde(default)]
    #[schema(value_type = Vec<FindingBody>, required = true, max_items = 100)]
    pub findings: Field<Vec<FindingBody>>,
}

action!(
    /// Give the report (评议报告): its findings become rectification items (-> rectification);
    /// needs at least one rating.
    start_rectification: Evaluation, POST "/{id}/start-rectification",
    tag = "evaluations",
    params(("id" = EvaluationId, Path, description = "The evaluation's id"), IfMatchHeader),
    path = EvaluationId,
    answer = (EvaluationView, "The evaluation after the step"),
    refused = "Not allowed in the current phase (the answer names the allowed actions), or no rating yet",
    body = EvaluationReport,
    |checks, body| {
        let text = checks.required("/text", body.text, None, |v| Ok(v.into()));
        let findings = checks.required("/findings", body.findings, None, |v| {
            if v.len() > 100 {
                Err("must have at most 100 findings".to_owned())
            } else {
                Ok(v)
            }
        });
        let mut checked = Vec::new();
        for (index, finding) in findings.into_iter().flatten().enumerate() {
            let pointer = format!("/findings/{index}/description");
            if let Some(description) =
                checks.required(&pointer, finding.description, None, |v| Ok(v.into()))
            {
                checked.push(Finding {
                    description,
                    due_on: finding.due_on.get(),
                });
            }
        }
        text.map(|text| Step::StartRectification {
            report_text: text,
            findings: checked,
        })
    }
);

action!(
    /// Conclude (-> concluded): stores the score and grade; refused while any rectification
    /// item is neither verified nor carried over (the answer lists them).
    conclude_evaluation: Evaluation, POST "/{id}/conclude",
    tag = "evaluations",
    params(("id" = EvaluationId, Path, description = "The evaluation's id"), IfMatchHeader),
    path = EvaluationId,
    answer = (EvaluationView, "The evaluation with its result"),
    refused = "Not allowed in the current phase (the answer names the allowed actions), or items still open (each named in `errors`)",
    step = Step::Conclude,
);

/// The rulings (批示) on an evaluation, with their measures and feedback.
#[utoipa::path(
    tag = "evaluations",
    params(("id" = EvaluationId, Path, description = "The evaluation's id")),
    responses((status = 200, description = "Its rulings", body = SubjectRulings)),
)]
#[get("/{id}/rulings")]
async fn list_evaluation_rulings(
    caller: Caller,
    pool: Db,
    path: web::Path<EvaluationId>,
) -> Result<web::Json<SubjectRulings>, ApiError> {
    let id = path.into_inner().0;
    crate::api::rulings::on_subject(&pool, &caller, SubjectType::Evaluation, id).await
}

/// What became of an evaluation, in one answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct EvaluationLineage {
    pub subject: EvaluationView,
    /// The report's rectification items with their notes.
    pub rectification_items: Vec<ItemView>,
    /// Its rulings, each with the departments' measures and the feedback.
    pub rulings: Vec<RulingView>,
}

/// The evaluation with its rectification items and its rulings, their measures and
/// feedback.
#[utoipa::path(
    tag = "evaluations",
    params(("id" = EvaluationId, Path, description = "The evaluation's id")),
    responses((status = 200, description = "The chain", body = EvaluationLineage)),
)]
#[get("/{id}/lineage")]
async fn get_evaluation_lineage(
    caller: Caller,
    pool: Db,
    path: web::Path<EvaluationId>,
) -> Result<web::Json<EvaluationLineage>, ApiError> {
    let id = path.into_inner();
    let mut conn = pool.conn().await?;
    let row = found(&mut conn, &caller, id).await?;
    let subject = view(&mut conn, row).await?;
    let rectification_items = items_of(&mut conn, id).await?;
    let rulings =
        crate::api::rulings::of_subject(&mut conn, &caller, SubjectType::Evaluation, id.0).await?;
    Ok(web::Json(EvaluationLineage {
        subject,
        rectification_items,
        rulings,
    }))
}

/// A department's result in one year's evaluation.
#[derive(Debug, Serialize, ToSchema)]
pub struct Assessment {
    pub evaluation_id: EvaluationId,
    pub year: i32,
    pub score: f64,
    pub grade: Grade,
    pub concluded_at: DateTime<Utc>,
}

/// A department's results, newest year first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AssessmentList {
    pub items: Vec<Assessment>,
}

/// The concluded evaluations of a department the caller sees (404 otherwise).
pub(crate) async fn assessments(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    department: DepartmentId,
) -> Result<AssessmentList, ApiError> {
    crate::db::departments::find(conn, department, caller.scope())
        .await
        .map_err(not_found_as("department"))?;
    let items = db::concluded_of_department(conn, department)
        .await?
        .into_iter()
        .filter_map(|row| {
            Some(Assessment {
                evaluation_id: row.id,
                year: row.year,
                score: row.score?,
                grade: row.grade?,
                concluded_at: row.concluded_at?,
            })
        })
        .collect();
    Ok(AssessmentList { items })
}
