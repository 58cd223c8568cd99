//! The investigation visits (调研走访) of an evaluation.

use crate::api::edit::{self, Edit, Editable};
use crate::api::work::Write as _;
use crate::domain::kinds::Entity;
use crate::domain::values::{Line, Paragraph};

use super::{
    ApiError, AsyncPgConnection, Caller, Change, Checks, DateTime, Day, Db, Deserialize,
    DistrictId, Evaluation, EvaluationId, EvaluationPhase, Field, HttpResponse, IfMatch,
    IfMatchHeader, IfNoneMatch, IfNoneMatchHeader, IntoParams, NaiveDate, Page, Problem, Serialize,
    ToSchema, Utc, Visit, VisitFields, VisitId, created_response, delete, found, get, locked, page,
    patch, post, record, visit_db, web, wrong_state,
};

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

/// A page of a list of Visit records.
pub type VisitPage = crate::api::page::Page<VisitView>;

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

crate::api::http::versioned!(VisitView);

/// A new visit.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewEvaluationVisit)]
pub struct NewVisit {
    #[serde(default)]
    #[schema(value_type = Day, required = true)]
    pub visited_on: Field<Day>,
    #[serde(default)]
    #[schema(value_type = Line<200>, required = true)]
    pub place: Field<Line<200>>,
    #[serde(default)]
    #[schema(value_type = Line<200>, required = true)]
    pub visited: Field<Line<200>>,
    #[serde(default)]
    #[schema(value_type = Option<Paragraph<5000>>)]
    pub findings: Field<Paragraph<5000>>,
}

/// Changes to a visit (JSON Merge Patch: absent fields are kept, `null` clears).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = EvaluationVisitPatch)]
pub struct VisitBody {
    #[serde(default)]
    #[schema(value_type = Day)]
    pub visited_on: Field<Day>,
    #[serde(default)]
    #[schema(value_type = Line<200>)]
    pub place: Field<Line<200>>,
    #[serde(default)]
    #[schema(value_type = Line<200>)]
    pub visited: Field<Line<200>>,
    #[serde(default)]
    #[schema(value_type = Option<Paragraph<5000>>)]
    pub findings: Field<Paragraph<5000>>,
}

impl From<NewVisit> for VisitBody {
    fn from(new: NewVisit) -> Self {
        Self {
            visited_on: new.visited_on,
            place: new.place,
            visited: new.visited,
            findings: new.findings,
        }
    }
}

fn merge_visit(
    checks: &mut Checks,
    body: VisitBody,
    current: Option<&VisitFields>,
) -> Option<VisitFields> {
    let c = current;
    let visited_on = checks.required(
        "/visited_on",
        body.visited_on,
        c.map(|c| c.visited_on),
        Day::date,
    );
    let place = checks.required("/place", body.place, c.map(|c| c.place.clone()), |v| {
        Ok(v.into())
    });
    let visited = checks.required(
        "/visited",
        body.visited,
        c.map(|c| c.visited.clone()),
        |v| Ok(v.into()),
    );
    let findings = checks.optional(
        "/findings",
        body.findings,
        c.and_then(|c| c.findings.clone()),
        |v| Ok(v.into()),
    );
    (|| {
        Some(VisitFields {
            visited_on: visited_on?,
            place: place?,
            visited: visited?,
            findings,
        })
    })()
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
}

/// List the investigation visits.
#[utoipa::path(
    tag = "evaluations",
    params(("id" = EvaluationId, Path, description = "The evaluation's id"), VisitPageQuery),
    responses((status = 200, description = "A page of its visits", body = VisitPage)),
)]
#[get("/{id}/visits")]
pub(super) async fn list_visits(
    caller: Caller,
    pool: Db,
    path: web::Path<EvaluationId>,
    query: web::Query<VisitPageQuery>,
) -> Result<web::Json<Page<VisitView>>, ApiError> {
    let id = path.into_inner();
    let query = query.into_inner();
    let request = crate::api::page::PageParams {
        list: "evaluation visits",
        limit: query.limit,
        cursor: query.cursor,
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
    request_body = NewVisit,
    responses(
        (status = 201, description = "The new visit", body = VisitView,
            headers(("ETag" = String), ("Location" = String, description = "The visit's URL"))),
        (status = 409, description = "Not in investigation", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/{id}/visits")]
pub(super) async fn create_visit(
    caller: Caller,
    pool: Db,
    path: web::Path<EvaluationId>,
    body: crate::api::http::Json<NewVisit>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let body = body.into_inner();
    let mut conn = pool.conn().await?;
    let row = conn
        .write(async move |conn| {
            let evaluation = locked(conn, &caller, id).await?;
            takes_visits(&evaluation, "recording a visit")?;
            let mut checks = Checks::default();
            let fields = merge_visit(&mut checks, body.into(), None);
            let fields = checks.finish(fields)?;
            let row = visit_db::insert(conn, &evaluation, fields).await?;
            let change = Change::new(
                "create",
                Entity::EvaluationVisit,
                row.id,
                Some(row.district_id),
            );
            record(conn, &caller, change.after(&VisitView::from(row.clone())));
            Ok::<_, ApiError>(row)
        })
        .await?;
    let location = format!("/api/v1/evaluations/{id}/visits/{}", row.id);
    Ok(created_response(&VisitView::from(row), location))
}

edit::get_route! {
    /// Get a visit.
    get_visit: Visit, GET "/{id}/visits/{visit_id}",
    tag = "evaluations", params(("id" = EvaluationId, Path, description = "The evaluation's id"), ("visit_id" = VisitId, Path, description = "The visit's id")), path = (EvaluationId, VisitId),
    answer = (VisitView, "The visit"),
}

edit::patch_route! {
    /// Change a visit (JSON Merge Patch), during the investigation.
    update_visit: Visit, PATCH "/{id}/visits/{visit_id}",
    tag = "evaluations", params(("id" = EvaluationId, Path, description = "The evaluation's id"), ("visit_id" = VisitId, Path, description = "The visit's id")), path = (EvaluationId, VisitId),
    body = VisitBody, answer = (VisitView, "The changed visit"),
    refused = "Not in investigation",
}

edit::delete_route! {
    /// Delete a visit, during the investigation.
    delete_visit: Visit, DELETE "/{id}/visits/{visit_id}",
    tag = "evaluations", params(("id" = EvaluationId, Path, description = "The evaluation's id"), ("visit_id" = VisitId, Path, description = "The visit's id")), path = (EvaluationId, VisitId),
    refused = "Not in investigation",
}

impl Editable for Visit {
    type Key = (EvaluationId, VisitId);
    type Parent = Evaluation;
    type Patch = VisitBody;
    type View = VisitView;
    const ENTITY: Entity = Entity::EvaluationVisit;
    type Lists = ();

    async fn locked(
        conn: &AsyncPgConnection,
        caller: &Caller,
        (parent, id): (EvaluationId, VisitId),
    ) -> Result<(Evaluation, Self), ApiError> {
        let parent_row = locked(conn, caller, parent).await?;
        let row = edit::child(conn, caller, id, true, "visit", |row: &Self| {
            row.evaluation_id == parent
        })
        .await?;
        Ok((parent_row, row))
    }

    async fn found(
        conn: &mut AsyncPgConnection,
        caller: &Caller,
        (parent, id): (EvaluationId, VisitId),
    ) -> Result<Self, ApiError> {
        edit::child(conn, caller, id, false, "visit", |row: &Self| {
            row.evaluation_id == parent
        })
        .await
    }

    fn allows(evaluation: &Evaluation, _row: &Self, edit: Edit) -> Result<(), ApiError> {
        takes_visits(
            evaluation,
            match edit {
                Edit::Update => "changing a visit",
                Edit::Delete => "deleting a visit",
            },
        )
    }

    async fn merge(
        _conn: &mut AsyncPgConnection,
        checks: &mut Checks,
        _lists: &Self::Lists,
        _evaluation: &Evaluation,
        row: &Self,
        patch: VisitBody,
    ) -> Result<Option<VisitFields>, ApiError> {
        Ok(merge_visit(checks, patch, Some(&row.fields())))
    }

    async fn view(_conn: &mut AsyncPgConnection, row: Self) -> Result<VisitView, ApiError> {
        Ok(VisitView::from(row))
    }
}
