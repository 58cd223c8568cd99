//! The co-signers (联名委员) of a proposal.

use crate::api::work::Tx;
use crate::api::work::Write as _;
use crate::domain::kinds::Entity;

use super::{
    ApiError, Caller, Change, Db, HttpResponse, IfMatch, IfMatchHeader, MemberId, Problem,
    ProposalId, ProposalStatus, ProposalView, Serialize, ToSchema, db, delete, get, no_content,
    not_found_as, put, record, view, web, wrong_state,
};

/// The co-signers of a proposal.
#[derive(Debug, Serialize, ToSchema)]
pub struct Cosigners {
    pub items: Vec<MemberId>,
}

/// List the co-signers of a proposal.
#[utoipa::path(
    tag = "proposals",
    params(("id" = ProposalId, Path, description = "The proposal's id")),
    responses((status = 200, description = "Its co-signers", body = Cosigners)),
)]
#[get("/{id}/cosigners")]
pub(super) async fn list_cosigners(
    caller: Caller,
    pool: Db,
    path: web::Path<ProposalId>,
) -> Result<web::Json<Cosigners>, ApiError> {
    let mut conn = pool.conn().await?;
    let row = db::find(&conn, path.into_inner(), caller.scope())
        .await
        .map_err(not_found_as("proposal"))?;
    Ok(web::Json(Cosigners {
        items: view(&mut conn, row).await?.cosigner_ids,
    }))
}

/// Changes a proposal's co-signers: allowed while draft or submitted, for members of its
/// district other than the lead member.
async fn change_cosigner(
    conn: &mut Tx<'_>,
    caller: &Caller,
    id: ProposalId,
    member: MemberId,
    condition: &IfMatch,
    add: bool,
) -> Result<(bool, ProposalView), ApiError> {
    let current = db::lock(conn, id, caller.scope())
        .await
        .map_err(not_found_as("proposal"))?;
    condition.check(current.version)?;
    if !matches!(
        current.status,
        ProposalStatus::Draft | ProposalStatus::Submitted
    ) {
        return Err(wrong_state(&current, "changing co-signers"));
    }
    let before = view(conn, current.clone()).await?;
    let changed = if add {
        if current.lead_member_id == Some(member) {
            return Err(ApiError::rule(
                "/member_id",
                "is the proposal's lead member",
            ));
        }
        let found =
            crate::db::members::existing_in_district(conn, current.district_id, &[member]).await?;
        if found.is_empty() {
            return Err(ApiError::unknown(
                "/member_id",
                "is not a member of the proposal's district",
            ));
        }
        db::add_cosigner(conn, &current, member).await?
    } else {
        db::remove_cosigner(conn, id, member).await?
    };
    let now = db::find(conn, id, caller.scope()).await?;
    let after = view(conn, now).await?;
    if changed {
        let action = if add {
            "add_cosigner"
        } else {
            "remove_cosigner"
        };
        let change = Change::new(action, Entity::Proposal, id, Some(current.district_id));
        record(conn, caller, change.before(&before).after(&after));
    }
    Ok((changed, after))
}

/// Add a co-signer (idempotent: 201 when added, 200 when already there).
#[utoipa::path(
    tag = "proposals",
    params(
        ("id" = ProposalId, Path, description = "The proposal's id"),
        ("member_id" = MemberId, Path, description = "The member's id"),
        IfMatchHeader,
    ),
    responses(
        (status = 201, description = "Added; the proposal", body = ProposalView),
        (status = 200, description = "Already a co-signer; the proposal", body = ProposalView),
        (status = 409, description = "The proposal is past submission", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[put("/{id}/cosigners/{member_id}")]
pub(super) async fn add_cosigner(
    caller: Caller,
    pool: Db,
    path: web::Path<(ProposalId, MemberId)>,
    condition: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let (id, member) = path.into_inner();
    let mut conn = pool.conn().await?;
    let (added, proposal) = conn
        .write(async move |conn| change_cosigner(conn, &caller, id, member, &condition, true).await)
        .await?;
    Ok(if added {
        HttpResponse::Created().json(proposal)
    } else {
        HttpResponse::Ok().json(proposal)
    })
}

/// Remove a co-signer.
#[utoipa::path(
    tag = "proposals",
    params(
        ("id" = ProposalId, Path, description = "The proposal's id"),
        ("member_id" = MemberId, Path, description = "The member's id"),
        IfMatchHeader,
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 409, description = "The proposal is past submission", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[delete("/{id}/cosigners/{member_id}")]
pub(super) async fn remove_cosigner(
    caller: Caller,
    pool: Db,
    path: web::Path<(ProposalId, MemberId)>,
    condition: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let (id, member) = path.into_inner();
    let mut conn = pool.conn().await?;
    let (removed, _) = conn
        .write(async move |conn| {
            change_cosigner(conn, &caller, id, member, &condition, false).await
        })
        .await?;
    if removed {
        Ok(no_content())
    } else {
        Err(ApiError::not_found("co-signer of this proposal"))
    }
}
