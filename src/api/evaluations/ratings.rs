//! The evaluators' ratings (测评) and their summary.

use crate::api::work::Write as _;
use crate::domain::kinds::Entity;
use crate::domain::values::Paragraph;

use super::{
    ApiError, Caller, Change, Checks, Criterion, DateTime, Db, Deserialize, EvaluationId,
    EvaluationPhase, Field, Grade, HttpResponse, IfMatch, IfMatchHeader, MemberId, Problem, Rating,
    RatingRow, Serialize, ToSchema, Utc, db, found, get, locked, machine, put, record,
    updated_response, web, wrong_state,
};

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

crate::api::http::versioned!(RatingView);

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
pub(super) async fn list_ratings(
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
    #[serde(default)]
    #[schema(value_type = Option<Paragraph<2000>>)]
    pub comment: Field<Paragraph<2000>>,
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
pub(super) async fn put_rating(
    caller: Caller,
    pool: Db,
    path: web::Path<(EvaluationId, MemberId, Criterion)>,
    condition: IfMatch,
    body: crate::api::http::Json<RatingBody>,
) -> Result<HttpResponse, ApiError> {
    let (id, member, criterion) = path.into_inner();
    let body = body.into_inner();
    let mut checks = Checks::default();
    let rating = checks.required("/rating", body.rating, None, Ok);
    let comment = checks.optional("/comment", body.comment, None, |v| Ok(v.into()));
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
                Entity::EvaluationRating,
                format!("{id}/{member}/{}", criterion.as_str()),
                Some(evaluation.district_id),
            );
            let change = match current {
                Some(before) => change.before(&RatingView::from(before)),
                None => change,
            };
            record(conn, &caller, change.after(&after));
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
pub(super) async fn get_rating_summary(
    caller: Caller,
    pool: Db,
    path: web::Path<EvaluationId>,
) -> Result<web::Json<RatingSummary>, ApiError> {
    let id = path.into_inner();
    let mut conn = pool.conn().await?;
    found(&mut conn, &caller, id).await?;
    let evaluators = db::evaluators(&conn, &[id]).await?;
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
