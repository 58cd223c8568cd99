//! The evaluators (评议员) of an evaluation and their training.

use crate::api::work::Write as _;
use crate::domain::kinds::Entity;

use super::{
    ApiError, Caller, Change, Db, EvaluationId, EvaluatorView, HttpResponse, IfMatch,
    IfMatchHeader, MemberId, Problem, Serialize, ToSchema, Utc, db, delete, found, get, locked,
    machine, no_content, not_found_as, post, put, record, view, web, wrong_state,
};

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
pub(super) async fn list_evaluators(
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
                    return Err(ApiError::unknown(
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
            let event = Change::new(
                change.action(),
                Entity::Evaluation,
                id,
                Some(current.district_id),
            );
            record(conn, &caller, event.before(&before).after(&after));
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
pub(super) async fn add_evaluator(
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
pub(super) async fn remove_evaluator(
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
pub(super) async fn complete_training(
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
