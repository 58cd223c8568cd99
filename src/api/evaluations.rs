//! `/api/v1/evaluations`: democratic evaluations (民主评议) of a district's departments —
//! evaluators and their training, investigation visits, ratings (民主测评) and their
//! summary, the report whose findings become rectification items (整改事项), and the
//! conclusion with its score and grade.

use std::collections::HashMap;

use actix_web::{HttpResponse, delete, get, patch, post, put, web};
use chrono::{DateTime, NaiveDate, Utc};
use diesel::QueryResult;
use diesel_async::AsyncPgConnection;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::api::policy::{read, write};

use crate::api::audit::{record, record_if_changed};
use crate::api::auth::Caller;
use crate::api::districts::referenced_district;
use crate::api::http::{
    IfMatch, IfMatchHeader, IfNoneMatch, IfNoneMatchHeader, Versioned, created_response,
    no_content, read_response, updated_response,
};
use crate::api::input::{Checks, Field};
use crate::api::page::{FeedItem, Page, list_query, page};
use crate::api::rulings::{RulingView, SubjectRulings};
use crate::api::work::{Db, Write};
use crate::api::workflow::{self, Transition, Workflow, WorkflowHistory, perform};
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
use crate::domain::values;
use crate::error::{ApiError, FieldError, Problem, not_found_as};

pub fn configure(config: &mut ServiceConfig) {
    use crate::domain::access::DistrictOf::*;
    config.service(
        utoipa_actix_web::scope("/evaluations")
            .service(read(Filter, list_evaluations))
            .service(write(Body, create_evaluation))
            .service(read(Path, get_evaluation))
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
            .service(read(Path, list_visits))
            .service(write(Path, create_visit))
            .service(read(Path, get_visit))
            .service(write(Path, update_visit))
            .service(write(Path, delete_visit))
            .service(read(Path, get_rating_summary))
            .service(read(Path, list_ratings))
            .service(write(Path, put_rating))
            .service(read(Path, list_items))
            .service(read(Path, get_item))
            .service(write(Path, note_item))
            .service(write(Path, start_item))
            .service(write(Path, complete_item))
            .service(write(Path, verify_item))
            .service(write(Path, reopen_item))
            .service(write(Path, carry_over_item))
            .service(read(Path, list_evaluation_rulings))
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

impl Versioned for EvaluationView {
    fn version(&self) -> i64 {
        self.version
    }
}

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
    conn: &mut AsyncPgConnection,
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
    responses((status = 200, description = "A page of evaluations", body = Page<FeedItem<EvaluationView>>)),
)]
#[get("")]
async fn list_evaluations(
    caller: Caller,
    pool: Db,
    query: web::Query<EvaluationQuery>,
) -> Result<web::Json<Page<FeedItem<EvaluationView>>>, ApiError> {
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
    /// 2000 to 2100.
    #[serde(default)]
    #[schema(value_type = i32, required = true, example = 2026)]
    pub year: Field<i64>,
}

/// Changes to an evaluation in preparation (JSON Merge Patch).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EvaluationPatch {
    #[serde(default)]
    #[schema(value_type = DepartmentId)]
    pub department_id: Field<DepartmentId>,
    #[serde(default)]
    #[schema(value_type = i32)]
    pub year: Field<i64>,
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
        values::in_range(v, 2000, 2100)
    });
    if let (Some(district), Some(department)) = (district, department) {
        let found =
            crate::db::departments::existing_in_district(conn, district, &[department]).await?;
        if found.is_empty() {
            checks.error("/department_id", "is not a department of the district");
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
    body: web::Json<NewEvaluation>,
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
            let change = Change::new("create", "evaluation", created.id, Some(district));
            record(conn, &caller, change.after(&created)).await?;
            Ok::<_, ApiError>(created)
        })
        .await?;
    let location = format!("/api/v1/evaluations/{}", created.id);
    Ok(created_response(&created, location))
}

/// Get an evaluation with its evaluators.
#[utoipa::path(
    tag = "evaluations",
    params(("id" = EvaluationId, Path, description = "The evaluation's id"), IfNoneMatchHeader),
    responses(
        (status = 200, description = "The evaluation", body = EvaluationView, headers(("ETag" = String))),
    ),
)]
#[get("/{id}")]
async fn get_evaluation(
    caller: Caller,
    pool: Db,
    path: web::Path<EvaluationId>,
    condition: IfNoneMatch,
) -> Result<HttpResponse, ApiError> {
    let mut conn = pool.conn().await?;
    let row = found(&mut conn, &caller, path.into_inner()).await?;
    Ok(read_response(&view(&mut conn, row).await?, &condition))
}

/// Change the department or year (JSON Merge Patch) while in preparation.
#[utoipa::path(
    tag = "evaluations",
    params(("id" = EvaluationId, Path, description = "The evaluation's id"), IfMatchHeader),
    request_body(content = EvaluationPatch, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The changed evaluation", body = EvaluationView, headers(("ETag" = String))),
        (status = 409, description = "Past preparation, or the department already has an evaluation in that year", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[patch("/{id}")]
async fn update_evaluation(
    caller: Caller,
    pool: Db,
    path: web::Path<EvaluationId>,
    condition: IfMatch,
    body: web::Json<EvaluationPatch>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let patch = body.into_inner();
    let mut conn = pool.conn().await?;
    let after = conn
        .write(async move |conn| {
            let current = locked(conn, &caller, id).await?;
            condition.check(current.version)?;
            if current.phase != EvaluationPhase::Preparation {
                return Err(wrong_state(&current, "changing the evaluation"));
            }
            let mut checks = Checks::default();
            let fields = merge(
                conn,
                &mut checks,
                patch,
                Some(&current.fields()),
                Some(current.district_id),
            )
            .await?;
            let fields = checks.finish(fields)?;
            let before = view(conn, current.clone()).await?;
            let row = db::update(conn, current, &fields).await?;
            let after = view(conn, row).await?;
            let change = Change::new("update", "evaluation", id, Some(after.district_id));
            record_if_changed(conn, &caller, change, &before, &after).await?;
            Ok(after)
        })
        .await?;
    Ok(updated_response(&after))
}

/// Delete an evaluation in preparation.
#[utoipa::path(
    tag = "evaluations",
    params(("id" = EvaluationId, Path, description = "The evaluation's id"), IfMatchHeader),
    responses(
        (status = 204, description = "Deleted"),
        (status = 409, description = "Past preparation", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[delete("/{id}")]
async fn delete_evaluation(
    caller: Caller,
    pool: Db,
    path: web::Path<EvaluationId>,
    condition: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let mut conn = pool.conn().await?;
    conn.write(async move |conn| {
        let current = locked(conn, &caller, id).await?;
        condition.check(current.version)?;
        if current.phase != EvaluationPhase::Preparation {
            return Err(wrong_state(&current, "deleting"));
        }
        let before = view(conn, current).await?;
        db::mark_deleted(conn, id).await?;
        let change = Change::new("delete", "evaluation", id, Some(before.district_id));
        record(conn, &caller, change.before(&before)).await
    })
    .await?;
    Ok(no_content())
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
        workflow::history(&mut conn, "evaluation", id.0).await?,
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
    type Id = EvaluationId;
    type View = EvaluationView;
    type Step = Step;
    const ENTITY: &'static str = "evaluation";

    async fn lock(
        conn: &mut AsyncPgConnection,
        id: EvaluationId,
        scope: Scope,
    ) -> QueryResult<Self> {
        db::lock(conn, id, scope).await
    }

    fn version(&self) -> i64 {
        self.version
    }

    fn district(&self) -> DistrictId {
        self.district_id
    }

    async fn view(conn: &mut AsyncPgConnection, row: Self) -> Result<EvaluationView, ApiError> {
        view(conn, row).await
    }

    async fn save(conn: &mut AsyncPgConnection, row: &Self) -> QueryResult<Self> {
        db::save(conn, row).await
    }

    async fn take(
        conn: &mut AsyncPgConnection,
        _caller: &Caller,
        row: &mut Self,
        step: Step,
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
                row.reported_at = Some(Utc::now());
                json!({"item_ids": items.iter().map(|item| item.id).collect::<Vec<_>>()})
            }
            Step::Conclude => {
                let unsettled: Vec<FieldError> = db::items(conn, &[row.id])
                    .await?
                    .into_iter()
                    .filter(|item| !machine::item_settled(item.status))
                    .map(|item| {
                        FieldError::new(
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
                row.concluded_at = Some(Utc::now());
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

async fn step(
    pool: &Db,
    caller: Caller,
    id: EvaluationId,
    condition: IfMatch,
    step: Result<Step, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let after = perform::<Evaluation>(pool, caller, id, condition, step).await?;
    Ok(updated_response(&after))
}

/// Begin the investigation (-> investigation); needs at least one evaluator.
#[utoipa::path(
    tag = "evaluations",
    params(("id" = EvaluationId, Path, description = "The evaluation's id"), IfMatchHeader),
    responses(
        (status = 200, description = "The evaluation after the step", body = EvaluationView, headers(("ETag" = String))),
        (status = 409, description = "Not allowed in the current phase (the answer names the allowed actions), or no evaluator yet", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/{id}/start_investigation")]
async fn start_investigation(
    caller: Caller,
    pool: Db,
    path: web::Path<EvaluationId>,
    condition: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    step(&pool, caller, id, condition, Ok(Step::StartInvestigation)).await
}

/// Begin the deliberation (-> deliberation); needs at least one trained evaluator.
#[utoipa::path(
    tag = "evaluations",
    params(("id" = EvaluationId, Path, description = "The evaluation's id"), IfMatchHeader),
    responses(
        (status = 200, description = "The evaluation after the step", body = EvaluationView, headers(("ETag" = String))),
        (status = 409, description = "Not allowed in the current phase (the answer names the allowed actions), or no trained evaluator", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/{id}/start_deliberation")]
async fn start_deliberation(
    caller: Caller,
    pool: Db,
    path: web::Path<EvaluationId>,
    condition: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    step(&pool, caller, id, condition, Ok(Step::StartDeliberation)).await
}

/// A finding of the report; it becomes a rectification item.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FindingBody {
    /// What must be rectified; at most 2,000 characters.
    pub description: String,
    /// When it is due.
    pub due_on: Day,
}

/// The report (评议报告) and its findings.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EvaluationReport {
    /// At most 50,000 characters.
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    pub text: Field<String>,
    /// The findings, each to become a rectification item, in this order; at most 100.
    #[serde(default)]
    #[schema(value_type = Vec<FindingBody>, required = true)]
    pub findings: Field<Vec<FindingBody>>,
}

/// Give the report (评议报告): its findings become rectification items (-> rectification);
/// needs at least one rating.
#[utoipa::path(
    tag = "evaluations",
    params(("id" = EvaluationId, Path, description = "The evaluation's id"), IfMatchHeader),
    request_body = EvaluationReport,
    responses(
        (status = 200, description = "The evaluation after the step", body = EvaluationView, headers(("ETag" = String))),
        (status = 409, description = "Not allowed in the current phase (the answer names the allowed actions), or no rating yet", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/{id}/start_rectification")]
async fn start_rectification(
    caller: Caller,
    pool: Db,
    path: web::Path<EvaluationId>,
    condition: IfMatch,
    body: web::Json<EvaluationReport>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let mut checks = Checks::default();
    let text = checks.required("/text", body.text, None, |v| values::paragraph(&v, 50_000));
    let findings = checks.required("/findings", body.findings, None, |v| {
        if v.len() > 100 {
            Err("must have at most 100 findings".to_owned())
        } else {
            Ok(v)
        }
    });
    let mut checked = Vec::new();
    for (index, finding) in findings.into_iter().flatten().enumerate() {
        match values::paragraph(&finding.description, 2000) {
            Ok(description) => checked.push(Finding {
                description,
                due_on: finding.due_on.get(),
            }),
            Err(reason) => checks.error(&format!("/findings/{index}/description"), reason),
        }
    }
    let body = checks.finish(text.map(|text| Step::StartRectification {
        report_text: text,
        findings: checked,
    }));
    step(&pool, caller, path.into_inner(), condition, body).await
}

/// Conclude (-> concluded): stores the score and grade; refused while any rectification
/// item is neither verified nor carried over (the answer lists them).
#[utoipa::path(
    tag = "evaluations",
    params(("id" = EvaluationId, Path, description = "The evaluation's id"), IfMatchHeader),
    responses(
        (status = 200, description = "The evaluation with its result", body = EvaluationView, headers(("ETag" = String))),
        (status = 409, description = "Not allowed in the current phase (the answer names the allowed actions), or items still open (each named in `errors`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/{id}/conclude")]
async fn conclude_evaluation(
    caller: Caller,
    pool: Db,
    path: web::Path<EvaluationId>,
    condition: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    step(&pool, caller, id, condition, Ok(Step::Conclude)).await
}

/// The evaluators of an evaluation.
#[derive(Debug, Serialize, ToSchema)]
pub struct EvaluatorList {
    pub items: Vec<EvaluatorView>,
}

/// List the evaluators.
#[utoipa::path(
    tag = "evaluations",
    params(("id" = EvaluationId, Path, description = "The evaluation's id")),
    responses((status = 200, description = "Its evaluators", body = EvaluatorList)),
)]
#[get("/{id}/evaluators")]
async fn list_evaluators(
    caller: Caller,
    pool: Db,
    path: web::Path<EvaluationId>,
) -> Result<web::Json<EvaluatorList>, ApiError> {
    let mut conn = pool.conn().await?;
    let row = found(&mut conn, &caller, path.into_inner()).await?;
    Ok(web::Json(EvaluatorList {
        items: view(&mut conn, row).await?.evaluators,
    }))
}

/// A change of the evaluators.
#[derive(Clone, Copy)]
enum EvaluatorChange {
    Add,
    Remove,
    Train,
}

impl EvaluatorChange {
    fn action(self) -> &'static str {
        match self {
            Self::Add => "add_evaluator",
            Self::Remove => "remove_evaluator",
            Self::Train => "complete_training",
        }
    }
}

/// Changes the evaluators under the evaluation's lock and `If-Match`; a change that
/// changes something gives the evaluation a new version and an audit event of it before
/// and after. Answers whether something changed, and the evaluator after it.
async fn change_evaluators(
    pool: &Db,
    caller: Caller,
    (id, member): (EvaluationId, MemberId),
    condition: IfMatch,
    change: EvaluatorChange,
) -> Result<(bool, Option<EvaluatorView>), ApiError> {
    let mut conn = pool.conn().await?;
    conn.write(async move |conn| {
        let current = locked(conn, &caller, id).await?;
        condition.check(current.version)?;
        let existing = db::evaluator(conn, id, member).await?;
        let changed = match change {
            EvaluatorChange::Add => {
                let candidate = crate::db::members::find(conn, member, caller.scope())
                    .await
                    .map_err(not_found_as("member"))?;
                if candidate.district_id != current.district_id {
                    return Err(ApiError::invalid(
                        "/member_id",
                        "the member belongs to another district than the evaluation",
                    ));
                }
                if !machine::evaluators_changeable(current.phase) {
                    return Err(wrong_state(&current, "changing the evaluators"));
                }
                existing.is_none()
            }
            EvaluatorChange::Remove | EvaluatorChange::Train => {
                let Some(existing) = &existing else {
                    return Err(ApiError::not_found("evaluator"));
                };
                if matches!(change, EvaluatorChange::Remove) {
                    if !machine::evaluators_changeable(current.phase) {
                        return Err(wrong_state(&current, "changing the evaluators"));
                    }
                    true
                } else {
                    if !machine::training_recordable(current.phase) {
                        return Err(wrong_state(&current, "recording training"));
                    }
                    existing.training_completed_at.is_none()
                }
            }
        };
        if changed {
            let before = view(conn, current.clone()).await?;
            match change {
                EvaluatorChange::Add => {
                    db::add_evaluator(conn, &current, member).await?;
                }
                EvaluatorChange::Remove => {
                    db::remove_evaluator(conn, id, member).await?;
                }
                EvaluatorChange::Train => db::set_trained(conn, id, member, Utc::now()).await?,
            }
            let row = db::touch(conn, id).await?;
            let after = view(conn, row).await?;
            let event = Change::new(change.action(), "evaluation", id, Some(current.district_id));
            record(conn, &caller, event.before(&before).after(&after)).await?;
        }
        let evaluator = db::evaluator(conn, id, member).await?;
        Ok((changed, evaluator.map(EvaluatorView::from)))
    })
    .await
}

/// The evaluator a change left in place.
fn kept(evaluator: Option<EvaluatorView>) -> Result<EvaluatorView, ApiError> {
    evaluator.ok_or_else(|| ApiError::Internal("an evaluator vanished".into()))
}

/// Add a member of the district as an evaluator, while in preparation.
#[utoipa::path(
    tag = "evaluations",
    params(
        ("id" = EvaluationId, Path, description = "The evaluation's id"),
        ("member_id" = MemberId, Path, description = "The member's id"),
        IfMatchHeader,
    ),
    responses(
        (status = 201, description = "Added", body = EvaluatorView),
        (status = 200, description = "Already an evaluator; nothing changed", body = EvaluatorView),
        (status = 409, description = "Past preparation", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match does not name the evaluation's current version", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The member belongs to another district", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[put("/{id}/evaluators/{member_id}")]
async fn add_evaluator(
    caller: Caller,
    pool: Db,
    path: web::Path<(EvaluationId, MemberId)>,
    condition: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let (added, evaluator) = change_evaluators(
        &pool,
        caller,
        path.into_inner(),
        condition,
        EvaluatorChange::Add,
    )
    .await?;
    let evaluator = kept(evaluator)?;
    Ok(if added {
        HttpResponse::Created().json(evaluator)
    } else {
        HttpResponse::Ok().json(evaluator)
    })
}

/// Remove an evaluator, while in preparation.
#[utoipa::path(
    tag = "evaluations",
    params(
        ("id" = EvaluationId, Path, description = "The evaluation's id"),
        ("member_id" = MemberId, Path, description = "The member's id"),
        IfMatchHeader,
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such evaluation, or the member is not one of its evaluators", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Past preparation", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match does not name the evaluation's current version", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[delete("/{id}/evaluators/{member_id}")]
async fn remove_evaluator(
    caller: Caller,
    pool: Db,
    path: web::Path<(EvaluationId, MemberId)>,
    condition: IfMatch,
) -> Result<HttpResponse, ApiError> {
    change_evaluators(
        &pool,
        caller,
        path.into_inner(),
        condition,
        EvaluatorChange::Remove,
    )
    .await?;
    Ok(no_content())
}

/// Record that an evaluator completed the training (in preparation or investigation);
/// a second call changes nothing.
#[utoipa::path(
    tag = "evaluations",
    params(
        ("id" = EvaluationId, Path, description = "The evaluation's id"),
        ("member_id" = MemberId, Path, description = "The evaluator's member id"),
        IfMatchHeader,
    ),
    responses(
        (status = 200, description = "The evaluator", body = EvaluatorView),
        (status = 404, description = "No such evaluation, or the member is not one of its evaluators", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Deliberation has begun", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match does not name the evaluation's current version", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/{id}/evaluators/{member_id}/training")]
async fn complete_training(
    caller: Caller,
    pool: Db,
    path: web::Path<(EvaluationId, MemberId)>,
    condition: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let (_, evaluator) = change_evaluators(
        &pool,
        caller,
        path.into_inner(),
        condition,
        EvaluatorChange::Train,
    )
    .await?;
    Ok(HttpResponse::Ok().json(kept(evaluator)?))
}

/// An investigation visit (调研走访) to the department.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = EvaluationVisit)]
pub struct VisitView {
    pub id: VisitId,
    pub district_id: DistrictId,
    pub evaluation_id: EvaluationId,
    pub visited_on: NaiveDate,
    pub place: String,
    /// Who was visited (people, offices, service windows).
    pub visited: String,
    pub findings: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Increases with every change; sent as the `ETag`.
    pub version: i64,
}

impl From<Visit> for VisitView {
    fn from(row: Visit) -> Self {
        Self {
            id: row.id,
            district_id: row.district_id,
            evaluation_id: row.evaluation_id,
            visited_on: row.visited_on,
            place: row.place,
            visited: row.visited,
            findings: row.findings,
            created_at: row.created_at,
            updated_at: row.updated_at,
            version: row.version,
        }
    }
}

impl Versioned for VisitView {
    fn version(&self) -> i64 {
        self.version
    }
}

/// A new visit (its body), or changes to one (JSON Merge Patch).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VisitBody {
    /// Required for a new visit.
    #[serde(default)]
    #[schema(value_type = Day)]
    pub visited_on: Field<Day>,
    /// Required for a new visit; at most 200 characters.
    #[serde(default)]
    #[schema(value_type = String)]
    pub place: Field<String>,
    /// Required for a new visit; at most 200 characters.
    #[serde(default)]
    #[schema(value_type = String)]
    pub visited: Field<String>,
    /// At most 5,000 characters.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub findings: Field<String>,
}

fn merge_visit(body: VisitBody, current: Option<&VisitFields>) -> Result<VisitFields, ApiError> {
    let mut checks = Checks::default();
    let c = current;
    let visited_on = checks.required(
        "/visited_on",
        body.visited_on,
        c.map(|c| c.visited_on),
        Day::date,
    );
    let place = checks.required("/place", body.place, c.map(|c| c.place.clone()), |v| {
        values::line(&v, 200)
    });
    let visited = checks.required(
        "/visited",
        body.visited,
        c.map(|c| c.visited.clone()),
        |v| values::line(&v, 200),
    );
    let findings = checks.optional(
        "/findings",
        body.findings,
        c.and_then(|c| c.findings.clone()),
        |v| values::paragraph(&v, 5000),
    );
    checks.finish((|| {
        Some(VisitFields {
            visited_on: visited_on?,
            place: place?,
            visited: visited?,
            findings,
        })
    })())
}

/// Paging of an evaluation's visits.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct VisitPageQuery {
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    #[param(min_length = 1, pattern = r"^[A-Za-z0-9_-]+$")]
    pub cursor: Option<String>,
    /// Include deleted visits, as tombstones.
    pub include_deleted: Option<bool>,
}

/// List the investigation visits.
#[utoipa::path(
    tag = "evaluations",
    params(("id" = EvaluationId, Path, description = "The evaluation's id"), VisitPageQuery),
    responses((status = 200, description = "A page of its visits", body = Page<FeedItem<VisitView>>)),
)]
#[get("/{id}/visits")]
async fn list_visits(
    caller: Caller,
    pool: Db,
    path: web::Path<EvaluationId>,
    query: web::Query<VisitPageQuery>,
) -> Result<web::Json<Page<FeedItem<VisitView>>>, ApiError> {
    let id = path.into_inner();
    let query = query.into_inner();
    let request = crate::api::page::PageParams {
        list: "evaluation visits",
        limit: query.limit,
        cursor: query.cursor,
        include_deleted: query.include_deleted,
        ..Default::default()
    }
    .request()?;
    let mut conn = pool.conn().await?;
    found(&mut conn, &caller, id).await?;
    let rows = visit_db::list(&mut conn, id, &request).await?;
    Ok(web::Json(page(rows, &request, VisitView::from)))
}

fn takes_visits(evaluation: &Evaluation, what: &str) -> Result<(), ApiError> {
    if evaluation.phase == EvaluationPhase::Investigation {
        Ok(())
    } else {
        Err(wrong_state(evaluation, what))
    }
}

/// Record a visit, during the investigation.
#[utoipa::path(
    tag = "evaluations",
    params(("id" = EvaluationId, Path, description = "The evaluation's id")),
    request_body = VisitBody,
    responses(
        (status = 201, description = "The new visit", body = VisitView,
            headers(("ETag" = String), ("Location" = String, description = "The visit's URL"))),
        (status = 409, description = "Not in investigation", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/{id}/visits")]
async fn create_visit(
    caller: Caller,
    pool: Db,
    path: web::Path<EvaluationId>,
    body: web::Json<VisitBody>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let body = body.into_inner();
    let mut conn = pool.conn().await?;
    let row = conn
        .write(async move |conn| {
            let evaluation = locked(conn, &caller, id).await?;
            takes_visits(&evaluation, "recording a visit")?;
            let fields = merge_visit(body, None)?;
            let row = visit_db::insert(conn, &evaluation, fields).await?;
            let change = Change::new("create", "evaluation_visit", row.id, Some(row.district_id));
            record(conn, &caller, change.after(&VisitView::from(row.clone()))).await?;
            Ok::<_, ApiError>(row)
        })
        .await?;
    let location = format!("/api/v1/evaluations/{id}/visits/{}", row.id);
    Ok(created_response(&VisitView::from(row), location))
}

/// A visit of the evaluation in the caller's scope.
async fn visit_of(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    evaluation: EvaluationId,
    id: VisitId,
    lock: bool,
) -> Result<Visit, ApiError> {
    let row = if lock {
        visit_db::lock(conn, id, caller.scope()).await
    } else {
        visit_db::find(conn, id, caller.scope()).await
    }
    .map_err(not_found_as("visit"))?;
    if row.evaluation_id == evaluation {
        Ok(row)
    } else {
        Err(ApiError::not_found("visit"))
    }
}

/// Get a visit.
#[utoipa::path(
    tag = "evaluations",
    params(
        ("id" = EvaluationId, Path, description = "The evaluation's id"),
        ("visit_id" = VisitId, Path, description = "The visit's id"),
        IfNoneMatchHeader,
    ),
    responses(
        (status = 200, description = "The visit", body = VisitView, headers(("ETag" = String))),
    ),
)]
#[get("/{id}/visits/{visit_id}")]
async fn get_visit(
    caller: Caller,
    pool: Db,
    path: web::Path<(EvaluationId, VisitId)>,
    condition: IfNoneMatch,
) -> Result<HttpResponse, ApiError> {
    let (evaluation, id) = path.into_inner();
    let mut conn = pool.conn().await?;
    let row = visit_of(&mut conn, &caller, evaluation, id, false).await?;
    Ok(read_response(&VisitView::from(row), &condition))
}

/// Change a visit (JSON Merge Patch), during the investigation.
#[utoipa::path(
    tag = "evaluations",
    params(
        ("id" = EvaluationId, Path, description = "The evaluation's id"),
        ("visit_id" = VisitId, Path, description = "The visit's id"),
        IfMatchHeader,
    ),
    request_body(content = VisitBody, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The changed visit", body = VisitView, headers(("ETag" = String))),
        (status = 409, description = "Not in investigation", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[patch("/{id}/visits/{visit_id}")]
async fn update_visit(
    caller: Caller,
    pool: Db,
    path: web::Path<(EvaluationId, VisitId)>,
    condition: IfMatch,
    body: web::Json<VisitBody>,
) -> Result<HttpResponse, ApiError> {
    let (evaluation_id, id) = path.into_inner();
    let body = body.into_inner();
    let mut conn = pool.conn().await?;
    let row = conn
        .write(async move |conn| {
            let evaluation = locked(conn, &caller, evaluation_id).await?;
            let current = visit_of(conn, &caller, evaluation_id, id, true).await?;
            condition.check(current.version)?;
            takes_visits(&evaluation, "changing a visit")?;
            let fields = merge_visit(body, Some(&current.fields()))?;
            let before = VisitView::from(current.clone());
            let row = visit_db::update(conn, current, &fields).await?;
            let change = Change::new("update", "evaluation_visit", id, Some(row.district_id));
            record_if_changed(
                conn,
                &caller,
                change,
                &before,
                &VisitView::from(row.clone()),
            )
            .await?;
            Ok::<_, ApiError>(row)
        })
        .await?;
    Ok(updated_response(&VisitView::from(row)))
}

/// Delete a visit, during the investigation.
#[utoipa::path(
    tag = "evaluations",
    params(
        ("id" = EvaluationId, Path, description = "The evaluation's id"),
        ("visit_id" = VisitId, Path, description = "The visit's id"),
        IfMatchHeader,
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 409, description = "Not in investigation", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[delete("/{id}/visits/{visit_id}")]
async fn delete_visit(
    caller: Caller,
    pool: Db,
    path: web::Path<(EvaluationId, VisitId)>,
    condition: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let (evaluation_id, id) = path.into_inner();
    let mut conn = pool.conn().await?;
    conn.write(async move |conn| {
        let evaluation = locked(conn, &caller, evaluation_id).await?;
        let current = visit_of(conn, &caller, evaluation_id, id, true).await?;
        condition.check(current.version)?;
        takes_visits(&evaluation, "deleting a visit")?;
        visit_db::mark_deleted(conn, id).await?;
        let change = Change::new("delete", "evaluation_visit", id, Some(current.district_id));
        record(conn, &caller, change.before(&VisitView::from(current))).await
    })
    .await?;
    Ok(no_content())
}

/// An evaluator's rating (测评) on one criterion.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = EvaluationRating)]
pub struct RatingView {
    pub member_id: MemberId,
    pub criterion: Criterion,
    pub rating: Rating,
    pub comment: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Increases each time the rating is replaced; sent as the `ETag`.
    pub version: i64,
}

impl From<RatingRow> for RatingView {
    fn from(row: RatingRow) -> Self {
        Self {
            member_id: row.member_id,
            criterion: row.criterion,
            rating: row.rating,
            comment: row.comment,
            created_at: row.created_at,
            updated_at: row.updated_at,
            version: row.version,
        }
    }
}

impl Versioned for RatingView {
    fn version(&self) -> i64 {
        self.version
    }
}

/// The ratings of an evaluation.
#[derive(Debug, Serialize, ToSchema)]
pub struct RatingList {
    /// By evaluator, then criterion.
    pub items: Vec<RatingView>,
}

/// List the ratings.
#[utoipa::path(
    tag = "evaluations",
    params(("id" = EvaluationId, Path, description = "The evaluation's id")),
    responses((status = 200, description = "Its ratings", body = RatingList)),
)]
#[get("/{id}/ratings")]
async fn list_ratings(
    caller: Caller,
    pool: Db,
    path: web::Path<EvaluationId>,
) -> Result<web::Json<RatingList>, ApiError> {
    let id = path.into_inner();
    let mut conn = pool.conn().await?;
    found(&mut conn, &caller, id).await?;
    let items = db::ratings(&mut conn, id)
        .await?
        .into_iter()
        .map(RatingView::from)
        .collect();
    Ok(web::Json(RatingList { items }))
}

/// A rating.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RatingBody {
    #[serde(default)]
    #[schema(value_type = Rating, required = true)]
    pub rating: Field<Rating>,
    /// At most 2,000 characters.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub comment: Field<String>,
}

/// Rate the department on one criterion, as a trained evaluator, during the deliberation;
/// a second rating on the same criterion replaces the first.
#[utoipa::path(
    tag = "evaluations",
    params(
        ("id" = EvaluationId, Path, description = "The evaluation's id"),
        ("member_id" = MemberId, Path, description = "The evaluator's member id"),
        ("criterion" = Criterion, Path, description = "The criterion rated"),
        IfMatchHeader,
    ),
    request_body = RatingBody,
    responses(
        (status = 201, description = "The rating, given", body = RatingView, headers(("ETag" = String))),
        (status = 200, description = "The rating, replaced (or unchanged)", body = RatingView, headers(("ETag" = String))),
        (status = 404, description = "No such evaluation, or the member is not one of its evaluators", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not in deliberation, or the evaluator has not completed the training", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match does not name the rating's current version (or there is no rating yet)", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[put("/{id}/ratings/{member_id}/{criterion}")]
async fn put_rating(
    caller: Caller,
    pool: Db,
    path: web::Path<(EvaluationId, MemberId, Criterion)>,
    condition: IfMatch,
    body: web::Json<RatingBody>,
) -> Result<HttpResponse, ApiError> {
    let (id, member, criterion) = path.into_inner();
    let body = body.into_inner();
    let mut checks = Checks::default();
    let rating = checks.required("/rating", body.rating, None, Ok);
    let comment = checks.optional("/comment", body.comment, None, |v| {
        values::paragraph(&v, 2000)
    });
    let rating = checks.finish(rating);
    let mut conn = pool.conn().await?;
    let (created, after) = conn
        .write(async move |conn| {
            let evaluation = locked(conn, &caller, id).await?;
            let evaluator = db::evaluator(conn, id, member)
                .await?
                .ok_or_else(|| ApiError::not_found("evaluator"))?;
            let current = db::rating(conn, id, member, criterion).await?;
            let created = current.is_none();
            match &current {
                Some(current) => condition.check(current.version)?,
                None => condition.check_absent()?,
            }
            let rating = rating?;
            if evaluation.phase != EvaluationPhase::Deliberation {
                return Err(wrong_state(&evaluation, "rating"));
            }
            if evaluator.training_completed_at.is_none() {
                return Err(ApiError::conflict(
                    "the evaluator has not completed the training; only trained evaluators rate",
                ));
            }
            if let Some(current) = &current
                && current.rating == rating
                && current.comment == comment
            {
                return Ok((false, RatingView::from(current.clone())));
            }
            let row = db::put_rating(conn, &evaluation, member, criterion, rating, comment).await?;
            let after = RatingView::from(row);
            let change = Change::new(
                if created { "create" } else { "replace" },
                "evaluation_rating",
                format!("{id}/{member}/{}", criterion.as_str()),
                Some(evaluation.district_id),
            );
            let change = match current {
                Some(before) => change.before(&RatingView::from(before)),
                None => change,
            };
            record(conn, &caller, change.after(&after)).await?;
            Ok::<_, ApiError>((created, after))
        })
        .await?;
    Ok(if created {
        HttpResponse::Created()
            .insert_header((
                actix_web::http::header::ETAG,
                crate::api::http::etag(after.version),
            ))
            .json(after)
    } else {
        updated_response(&after)
    })
}

/// How one criterion (or all of them) was rated.
#[derive(Debug, Serialize, ToSchema)]
pub struct RatingCounts {
    pub satisfied: usize,
    pub basically_satisfied: usize,
    pub unsatisfied: usize,
    /// The mean of the points (100, 60, 0), to two decimals; absent without ratings.
    pub score: Option<f64>,
}

impl RatingCounts {
    fn of(ratings: &[Rating]) -> Self {
        let count = |wanted: Rating| ratings.iter().filter(|rating| **rating == wanted).count();
        Self {
            satisfied: count(Rating::Satisfied),
            basically_satisfied: count(Rating::BasicallySatisfied),
            unsatisfied: count(Rating::Unsatisfied),
            score: machine::score(ratings.iter().copied()),
        }
    }
}

/// One criterion's counts.
#[derive(Debug, Serialize, ToSchema)]
pub struct CriterionSummary {
    pub criterion: Criterion,
    #[serde(flatten)]
    pub counts: RatingCounts,
}

/// The ratings in figures.
#[derive(Debug, Serialize, ToSchema)]
pub struct RatingSummary {
    pub evaluators: usize,
    pub trained_evaluators: usize,
    /// How many ratings were given.
    pub ratings: usize,
    /// Every rating together; its score is the evaluation's.
    pub overall: RatingCounts,
    /// The grade the overall score would give now.
    pub grade: Option<Grade>,
    /// Each criterion of the list, in its order.
    pub by_criterion: Vec<CriterionSummary>,
}

/// The ratings' counts and score, overall and by criterion.
#[utoipa::path(
    tag = "evaluations",
    params(("id" = EvaluationId, Path, description = "The evaluation's id")),
    responses((status = 200, description = "The figures", body = RatingSummary)),
)]
#[get("/{id}/ratings/summary")]
async fn get_rating_summary(
    caller: Caller,
    pool: Db,
    path: web::Path<EvaluationId>,
) -> Result<web::Json<RatingSummary>, ApiError> {
    let id = path.into_inner();
    let mut conn = pool.conn().await?;
    found(&mut conn, &caller, id).await?;
    let evaluators = db::evaluators(&mut conn, &[id]).await?;
    let ratings = db::ratings(&mut conn, id).await?;
    let all: Vec<Rating> = ratings.iter().map(|row| row.rating).collect();
    let overall = RatingCounts::of(&all);
    let by_criterion = Criterion::ALL
        .iter()
        .map(|criterion| {
            let of: Vec<Rating> = ratings
                .iter()
                .filter(|row| row.criterion == *criterion)
                .map(|row| row.rating)
                .collect();
            CriterionSummary {
                criterion: *criterion,
                counts: RatingCounts::of(&of),
            }
        })
        .collect();
    Ok(web::Json(RatingSummary {
        evaluators: evaluators.len(),
        trained_evaluators: evaluators
            .iter()
            .filter(|evaluator| evaluator.training_completed_at.is_some())
            .count(),
        ratings: all.len(),
        grade: overall.score.map(machine::grade),
        overall,
        by_criterion,
    }))
}

/// A dated progress note on a rectification item.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProgressNote {
    pub noted_on: NaiveDate,
    pub text: String,
    pub created_at: DateTime<Utc>,
}

impl From<Note> for ProgressNote {
    fn from(row: Note) -> Self {
        Self {
            noted_on: row.noted_on,
            text: row.text,
            created_at: row.created_at,
        }
    }
}

/// A rectification item (整改事项): one finding of the report.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = RectificationItem)]
pub struct ItemView {
    pub id: ItemId,
    pub district_id: DistrictId,
    pub evaluation_id: EvaluationId,
    /// Its place among the report's findings, from 1.
    pub position: i32,
    pub description: String,
    pub due_on: NaiveDate,
    pub status: ItemStatus,
    /// Past its due date (Beijing time) and neither done, verified nor carried over.
    pub overdue: bool,
    /// What may be done next from here.
    pub allowed_actions: Vec<ItemAction>,
    /// Why it was carried over.
    pub carry_over_reason: Option<String>,
    /// Progress notes, oldest first.
    pub notes: Vec<ProgressNote>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Increases with every change; sent as the `ETag`.
    pub version: i64,
}

impl Versioned for ItemView {
    fn version(&self) -> i64 {
        self.version
    }
}

impl ItemView {
    fn new(row: Item, notes: Vec<ProgressNote>) -> Self {
        Self {
            overdue: row.due_on < today()
                && matches!(row.status, ItemStatus::Open | ItemStatus::InProgress),
            allowed_actions: machine::item_actions(row.status),
            id: row.id,
            district_id: row.district_id,
            evaluation_id: row.evaluation_id,
            position: row.position,
            description: row.description,
            due_on: row.due_on,
            status: row.status,
            carry_over_reason: row.carry_over_reason,
            notes,
            created_at: row.created_at,
            updated_at: row.updated_at,
            version: row.version,
        }
    }
}

/// Items with their notes.
pub(crate) async fn item_views(
    conn: &mut AsyncPgConnection,
    rows: Vec<Item>,
) -> Result<Vec<ItemView>, ApiError> {
    let ids: Vec<ItemId> = rows.iter().map(|row| row.id).collect();
    let mut by_item: HashMap<ItemId, Vec<ProgressNote>> = HashMap::new();
    for note in db::notes(conn, &ids).await? {
        by_item.entry(note.item_id).or_default().push(note.into());
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            let notes = by_item.remove(&row.id).unwrap_or_default();
            ItemView::new(row, notes)
        })
        .collect())
}

/// The rectification items of an evaluation.
#[derive(Debug, Serialize, ToSchema)]
pub struct ItemList {
    /// In the report's order.
    pub items: Vec<ItemView>,
}

/// The items of an evaluation the caller sees.
async fn items_of(
    conn: &mut AsyncPgConnection,
    id: EvaluationId,
) -> Result<Vec<ItemView>, ApiError> {
    let rows = db::items(conn, &[id]).await?;
    item_views(conn, rows).await
}

/// List the rectification items.
#[utoipa::path(
    tag = "evaluations",
    params(("id" = EvaluationId, Path, description = "The evaluation's id")),
    responses((status = 200, description = "Its rectification items", body = ItemList)),
)]
#[get("/{id}/rectification-items")]
async fn list_items(
    caller: Caller,
    pool: Db,
    path: web::Path<EvaluationId>,
) -> Result<web::Json<ItemList>, ApiError> {
    let id = path.into_inner();
    let mut conn = pool.conn().await?;
    found(&mut conn, &caller, id).await?;
    Ok(web::Json(ItemList {
        items: items_of(&mut conn, id).await?,
    }))
}

/// Get a rectification item with its notes.
#[utoipa::path(
    tag = "evaluations",
    params(
        ("id" = EvaluationId, Path, description = "The evaluation's id"),
        ("item_id" = ItemId, Path, description = "The item's id"),
        IfNoneMatchHeader,
    ),
    responses(
        (status = 200, description = "The item", body = ItemView, headers(("ETag" = String))),
    ),
)]
#[get("/{id}/rectification-items/{item_id}")]
async fn get_item(
    caller: Caller,
    pool: Db,
    path: web::Path<(EvaluationId, ItemId)>,
    condition: IfNoneMatch,
) -> Result<HttpResponse, ApiError> {
    let (evaluation, id) = path.into_inner();
    let mut conn = pool.conn().await?;
    let row = db::item(&mut conn, evaluation, id, caller.scope(), false)
        .await
        .map_err(not_found_as(Item::WHAT))?;
    let view = item_views(&mut conn, vec![row])
        .await?
        .pop()
        .ok_or_else(|| ApiError::Internal("an item vanished while being read".into()))?;
    Ok(read_response(&view, &condition))
}

/// A step of a rectification item, with what was sent.
pub(crate) enum ItemStep {
    Note { noted_on: NaiveDate, text: String },
    Start,
    Complete,
    Verify,
    Reopen,
    CarryOver { reason: String },
}

impl ItemStep {
    fn action(&self) -> ItemAction {
        match self {
            Self::Note { .. } => ItemAction::Note,
            Self::Start => ItemAction::Start,
            Self::Complete => ItemAction::Complete,
            Self::Verify => ItemAction::Verify,
            Self::Reopen => ItemAction::Reopen,
            Self::CarryOver { .. } => ItemAction::CarryOver,
        }
    }
}

/// An item addressed under its evaluation: it is found only there.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ItemOf {
    evaluation: EvaluationId,
    item: ItemId,
}

impl std::fmt::Display for ItemOf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.item.fmt(f)
    }
}

impl From<ItemOf> for uuid::Uuid {
    fn from(id: ItemOf) -> Self {
        id.item.0
    }
}

impl Workflow for Item {
    type Id = ItemOf;
    type View = ItemView;
    type Step = ItemStep;
    const ENTITY: &'static str = "rectification_item";
    const WHAT: &'static str = "rectification item";

    async fn lock(conn: &mut AsyncPgConnection, id: ItemOf, scope: Scope) -> QueryResult<Self> {
        db::item(conn, id.evaluation, id.item, scope, true).await
    }

    fn version(&self) -> i64 {
        self.version
    }

    fn district(&self) -> DistrictId {
        self.district_id
    }

    async fn view(conn: &mut AsyncPgConnection, row: Self) -> Result<ItemView, ApiError> {
        item_views(conn, vec![row])
            .await?
            .pop()
            .ok_or_else(|| ApiError::Internal("an item vanished while being read".into()))
    }

    async fn save(conn: &mut AsyncPgConnection, row: &Self) -> QueryResult<Self> {
        db::save_item(conn, row).await
    }

    async fn take(
        conn: &mut AsyncPgConnection,
        _caller: &Caller,
        row: &mut Self,
        step: ItemStep,
    ) -> Result<Transition, ApiError> {
        let action = step.action();
        let what = format!("`{}`", action.as_str());
        let to = machine::item_next(row.status, action).ok_or_else(|| {
            let allowed = machine::item_actions(row.status)
                .iter()
                .map(|action| action.as_str().to_owned())
                .collect();
            workflow::refused(&what, row.status.as_str(), allowed)
        })?;
        let evaluation = db::find(conn, row.evaluation_id, Scope::All)
            .await
            .map_err(not_found_as("evaluation"))?;
        if evaluation.phase != EvaluationPhase::Rectification {
            return Err(ApiError::conflict(format!(
                "rectification items change only while their evaluation is in rectification; it is {}",
                evaluation.phase.as_str()
            )));
        }
        let payload = match step {
            ItemStep::Note { noted_on, text } => {
                db::add_note(conn, row, noted_on, text.clone()).await?;
                json!({"noted_on": noted_on, "text": text})
            }
            ItemStep::CarryOver { reason } => {
                row.carry_over_reason = Some(reason.clone());
                json!({"reason": reason})
            }
            ItemStep::Start | ItemStep::Complete | ItemStep::Verify | ItemStep::Reopen => {
                json!({})
            }
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

/// Takes one step of an item of `evaluation`.
async fn item_step(
    pool: &Db,
    caller: Caller,
    (evaluation, item): (EvaluationId, ItemId),
    condition: IfMatch,
    step: Result<ItemStep, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let id = ItemOf { evaluation, item };
    let after = perform::<Item>(pool, caller, id, condition, step).await?;
    Ok(updated_response(&after))
}

/// A dated progress note.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteBody {
    /// Defaults to today.
    #[serde(default)]
    #[schema(value_type = Day)]
    pub noted_on: Field<Day>,
    /// At most 5,000 characters.
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    pub text: Field<String>,
}

/// Add a progress note to an item that is open, in progress or done.
#[utoipa::path(
    tag = "evaluations",
    params(
        ("id" = EvaluationId, Path, description = "The evaluation's id"),
        ("item_id" = ItemId, Path, description = "The item's id"),
        IfMatchHeader,
    ),
    request_body = NoteBody,
    responses(
        (status = 200, description = "The item with the note", body = ItemView, headers(("ETag" = String))),
        (status = 409, description = "The item is settled, or the evaluation is not in rectification", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/{id}/rectification-items/{item_id}/notes")]
async fn note_item(
    caller: Caller,
    pool: Db,
    path: web::Path<(EvaluationId, ItemId)>,
    condition: IfMatch,
    body: web::Json<NoteBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let mut checks = Checks::default();
    let noted_on = checks.required("/noted_on", body.noted_on, Some(today()), Day::date);
    let text = checks.required("/text", body.text, None, |v| values::paragraph(&v, 5000));
    let step = checks.finish(
        noted_on
            .zip(text)
            .map(|(noted_on, text)| ItemStep::Note { noted_on, text }),
    );
    item_step(&pool, caller, path.into_inner(), condition, step).await
}

macro_rules! item_action {
    ($name:ident, $path:literal, $step:expr, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(
            tag = "evaluations",
            params(
                ("id" = EvaluationId, Path, description = "The evaluation's id"),
                ("item_id" = ItemId, Path, description = "The item's id"),
                IfMatchHeader,
            ),
            responses(
                (status = 200, description = "The item after the step", body = ItemView, headers(("ETag" = String))),
                (status = 409, description = "Not allowed from the item's status (the answer names the allowed actions), or the evaluation is not in rectification", body = Problem, content_type = "application/problem+json"),
            ),
        )]
        #[post($path)]
        async fn $name(
            caller: Caller,
            pool: Db,
            path: web::Path<(EvaluationId, ItemId)>,
            condition: IfMatch,
        ) -> Result<HttpResponse, ApiError> {
            item_step(&pool, caller, path.into_inner(), condition, Ok($step)).await
        }
    };
}

item_action!(
    start_item,
    "/{id}/rectification-items/{item_id}/start",
    ItemStep::Start,
    "Begin work on an open item (-> in_progress)."
);
item_action!(
    complete_item,
    "/{id}/rectification-items/{item_id}/complete",
    ItemStep::Complete,
    "Report an item done (-> done)."
);
item_action!(
    verify_item,
    "/{id}/rectification-items/{item_id}/verify",
    ItemStep::Verify,
    "Confirm a done item after checking it (-> verified)."
);
item_action!(
    reopen_item,
    "/{id}/rectification-items/{item_id}/reopen",
    ItemStep::Reopen,
    "Send a done item back when the check finds it unfinished (-> in_progress)."
);

/// Why an item is carried over.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CarryOverBody {
    /// At most 2,000 characters.
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    pub reason: Field<String>,
}

/// Carry an unfinished item over to later work, with the reason (-> carried_over).
#[utoipa::path(
    tag = "evaluations",
    params(
        ("id" = EvaluationId, Path, description = "The evaluation's id"),
        ("item_id" = ItemId, Path, description = "The item's id"),
        IfMatchHeader,
    ),
    request_body = CarryOverBody,
    responses(
        (status = 200, description = "The item after the step", body = ItemView, headers(("ETag" = String))),
        (status = 409, description = "Not allowed from the item's status (the answer names the allowed actions), or the evaluation is not in rectification", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/{id}/rectification-items/{item_id}/carry_over")]
async fn carry_over_item(
    caller: Caller,
    pool: Db,
    path: web::Path<(EvaluationId, ItemId)>,
    condition: IfMatch,
    body: web::Json<CarryOverBody>,
) -> Result<HttpResponse, ApiError> {
    let mut checks = Checks::default();
    let reason = checks.required("/reason", body.into_inner().reason, None, |v| {
        values::paragraph(&v, 2000)
    });
    let step = checks.finish(reason.map(|reason| ItemStep::CarryOver { reason }));
    item_step(&pool, caller, path.into_inner(), condition, step).await
}

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
