//! `/api/v1/proposals`: proposals (提案) and their handling workflow, from draft to the
//! proposer's verdict. Each step is an action (`POST /proposals/{id}/<action>`); a step
//! the workflow does not allow answers 409 with the current status and the allowed
//! actions.

use crate::domain::kinds::Entity;
use crate::domain::values::FilterText;
use std::collections::{HashMap, HashSet};

use actix_web::{HttpResponse, delete, get, patch, post, put, web};
use chrono::{DateTime, Months, NaiveDate, Utc};
use diesel::QueryResult;
use diesel_async::AsyncPgConnection;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::api::edit::{self, Edit, Editable};
use crate::api::policy::{read, read_with, write, write_with};

use crate::api::audit::{record, record_if_changed};
use crate::api::auth::Caller;
use crate::api::districts::referenced_district;
use crate::api::http::{
    IfMatch, IfMatchHeader, IfNoneMatch, IfNoneMatchHeader, created_response, no_content,
};
use crate::api::input::{Checks, Field};
use crate::api::page::{Page, list_query, page};
use crate::api::work::{Db, Write};
use crate::api::workflow::{self, Transition, Workflow, WorkflowHistory};
use crate::db::audit::Change;
use crate::db::proposals::{self as db, DraftFields, Proposal, ProposalFilter};
use crate::domain::access::Person;
use crate::domain::access::Scope;
use crate::domain::calendar::Day;
use crate::domain::calendar::{self, today};
use crate::domain::ids::{DepartmentId, DistrictId, MemberId, ProposalId};
use crate::domain::proposal::{
    self as machine, ForwardAs, Progress, ProposalAction, ProposalKind, ProposalStatus,
    ReplyResult, Verdict,
};
use crate::domain::values::{self, Line, ListCode, Paragraph};
use crate::error::{ApiError, FieldError, Problem, not_found_as};

mod actions;
mod cosigners;

use actions::{
    assign_proposal, extend_proposal, feedback_proposal, file_proposal, merge_proposal,
    reject_proposal, reply_proposal, submit_proposal, withdraw_proposal,
};
use cosigners::{add_cosigner, list_cosigners, remove_cosigner};

pub fn configure(config: &mut ServiceConfig) {
    use crate::domain::access::DistrictOf::*;
    use crate::domain::access::{MEMBERS, OFFICES, PROPOSAL_PEOPLE};
    config.service(
        utoipa_actix_web::scope("/proposals")
            .service(read(Path, get_proposal_lineage))
            .service(read_with(OFFICES, Path, list_proposal_rulings))
            .service(read_with(PROPOSAL_PEOPLE, Filter, list_proposals))
            .service(write_with(MEMBERS, Body, create_proposal))
            .service(read(Query, proposal_stats))
            .service(read_with(PROPOSAL_PEOPLE, Path, get_proposal))
            .service(write_with(MEMBERS, Path, update_proposal))
            .service(write(Path, delete_proposal))
            .service(read_with(PROPOSAL_PEOPLE, Path, get_proposal_history))
            .service(read(Path, list_cosigners))
            .service(write(Path, add_cosigner))
            .service(write(Path, remove_cosigner))
            .service(write_with(MEMBERS, Path, submit_proposal))
            .service(write(Path, file_proposal))
            .service(write(Path, reject_proposal))
            .service(write(Path, merge_proposal))
            .service(write(Path, assign_proposal))
            .service(write(Path, extend_proposal))
            .service(write(Path, reply_proposal))
            .service(write(Path, feedback_proposal))
            .service(write(Path, withdraw_proposal)),
    );
}

/// A proposal (提案).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Proposal)]
pub struct ProposalView {
    pub id: ProposalId,
    pub district_id: DistrictId,
    pub kind: ProposalKind,
    #[schema(example = "关于加强老旧小区垃圾分类的提案")]
    pub title: String,
    pub body: String,
    /// A code from `GET /api/v1/proposal-categories`.
    #[schema(example = "environment")]
    pub category: String,
    /// The proposing member (`member` and `joint` proposals).
    pub lead_member_id: Option<MemberId>,
    /// The proposing organization (party/group, sector and committee proposals).
    pub proposer_org: Option<String>,
    /// Co-signing members (联名).
    pub cosigner_ids: Vec<MemberId>,
    /// A key proposal (重点提案).
    pub is_key: bool,
    /// The leader supervising a key proposal (领衔督办).
    pub supervising_leader: Option<String>,
    /// The lead handling unit (主办), set on assignment.
    pub lead_unit_id: Option<DepartmentId>,
    /// Co-handling units (会办).
    pub co_unit_ids: Vec<DepartmentId>,
    /// Given on filing: `<year>-<4-digit sequence of the district and year>`.
    #[schema(example = "2026-0123")]
    pub number: Option<String>,
    pub status: ProposalStatus,
    /// What may be done next from here.
    pub allowed_actions: Vec<ProposalAction>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub filed_at: Option<DateTime<Utc>>,
    pub reply_due_on: Option<NaiveDate>,
    /// Assigned and past its reply due date.
    pub overdue: bool,
    pub reply_text: Option<String>,
    pub reply_document_no: Option<String>,
    pub reply_result: Option<ReplyResult>,
    pub replied_on: Option<NaiveDate>,
    pub verdict: Option<Verdict>,
    pub reject_reason: Option<String>,
    pub forward_as: Option<ForwardAs>,
    /// The proposal this one was merged into.
    pub merged_into_id: Option<ProposalId>,
    /// The proposals merged into this one.
    pub merged_ids: Vec<ProposalId>,
    /// The district system's id, for proposals it syncs (`/sync/proposals`).
    pub external_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Increases with every change; sent as the `ETag`.
    pub version: i64,
}

/// A page of a list of Proposal records.
pub type ProposalPage = crate::api::page::Page<ProposalView>;

impl ProposalView {
    pub(crate) fn new(
        row: Proposal,
        cosigner_ids: Vec<MemberId>,
        merged_ids: Vec<ProposalId>,
    ) -> Self {
        let progress = progress(&row);
        Self {
            allowed_actions: machine::allowed_actions(row.status, progress),
            overdue: row.overdue_on(today()),
            id: row.id,
            district_id: row.district_id,
            kind: row.kind,
            title: row.title,
            body: row.body,
            category: row.category,
            lead_member_id: row.lead_member_id,
            proposer_org: row.proposer_org,
            cosigner_ids,
            is_key: row.is_key,
            supervising_leader: row.supervising_leader,
            lead_unit_id: row.lead_unit_id,
            co_unit_ids: row.co_unit_ids,
            number: row.number,
            status: row.status,
            submitted_at: row.submitted_at,
            filed_at: row.filed_at,
            reply_due_on: row.reply_due_on,
            reply_text: row.reply_text,
            reply_document_no: row.reply_document_no,
            reply_result: row.reply_result,
            replied_on: row.replied_on,
            verdict: row.verdict,
            reject_reason: row.reject_reason,
            forward_as: row.forward_as,
            merged_into_id: row.merged_into_id,
            merged_ids,
            external_id: row.external_id,
            created_at: row.created_at,
            updated_at: row.updated_at,
            version: row.version,
        }
    }
}

crate::api::http::versioned!(ProposalView);

fn progress(row: &Proposal) -> Progress {
    Progress {
        extended: row.extended,
        rehandled: row.rehandled,
    }
}

/// Proposals with their co-signers and what was merged into them.
pub(crate) async fn views(
    conn: &mut AsyncPgConnection,
    rows: Vec<Proposal>,
) -> Result<Vec<ProposalView>, ApiError> {
    let ids: Vec<ProposalId> = rows.iter().map(|row| row.id).collect();
    let (mut cosigners, mut merged) = relations(conn, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let signers = cosigners.remove(&row.id).unwrap_or_default();
            let sources = merged.remove(&row.id).unwrap_or_default();
            ProposalView::new(row, signers, sources)
        })
        .collect())
}

/// The co-signers of each of `ids`, and the proposals merged into each. Both reads are
/// sent at once (pipelined): one round trip, not two.
pub(crate) async fn relations(
    conn: &AsyncPgConnection,
    ids: &[ProposalId],
) -> Result<Relations, ApiError> {
    let (signer_rows, merged_rows) =
        futures_util::try_join!(db::cosigners(conn, ids), db::merged_into(conn, ids))?;
    let mut cosigners: HashMap<ProposalId, Vec<MemberId>> = HashMap::new();
    for (proposal, member) in signer_rows {
        cosigners.entry(proposal).or_default().push(member);
    }
    let mut merged: HashMap<ProposalId, Vec<ProposalId>> = HashMap::new();
    for (target, source) in merged_rows {
        merged.entry(target).or_default().push(source);
    }
    Ok((cosigners, merged))
}

/// Co-signers and merged proposals by proposal.
pub(crate) type Relations = (
    HashMap<ProposalId, Vec<MemberId>>,
    HashMap<ProposalId, Vec<ProposalId>>,
);

async fn view(conn: &mut AsyncPgConnection, row: Proposal) -> Result<ProposalView, ApiError> {
    views(conn, vec![row])
        .await?
        .pop()
        .ok_or_else(|| ApiError::Internal("a proposal vanished while being read".into()))
}

/// A new proposal, created as a draft.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProposal {
    /// The proposal's district; cannot be changed later.
    #[serde(default)]
    #[schema(value_type = DistrictId, required = true)]
    pub district_id: Field<DistrictId>,
    #[serde(default)]
    #[schema(value_type = ProposalKind, required = true)]
    pub kind: Field<ProposalKind>,
    #[serde(default)]
    #[schema(value_type = Line<200>, required = true)]
    pub title: Field<Line<200>>,
    #[serde(default)]
    #[schema(value_type = Paragraph<20_000>, required = true)]
    pub body: Field<Paragraph<20_000>>,
    /// A code from `GET /api/v1/proposal-categories`.
    #[serde(default)]
    #[schema(value_type = ListCode, required = true)]
    pub category: Field<ListCode>,
    /// Required for `member` and `joint` proposals: a member of the district.
    #[serde(default)]
    #[schema(value_type = Option<MemberId>)]
    pub lead_member_id: Field<MemberId>,
    /// Required for `party_group`, `sector_group` and `committee` proposals; at most 100
    /// characters.
    #[serde(default)]
    #[schema(value_type = Option<Line<100>>)]
    pub proposer_org: Field<Line<100>>,
    /// Defaults to `false`.
    #[serde(default)]
    #[schema(value_type = bool)]
    pub is_key: Field<bool>,
    #[serde(default)]
    #[schema(value_type = Option<Line<50>>)]
    pub supervising_leader: Field<Line<50>>,
}

/// Changes to a draft (JSON Merge Patch). Only drafts change; later the workflow's
/// actions do.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProposalPatch {
    #[serde(default)]
    #[schema(value_type = ProposalKind)]
    pub kind: Field<ProposalKind>,
    #[serde(default)]
    #[schema(value_type = Line<200>)]
    pub title: Field<Line<200>>,
    #[serde(default)]
    #[schema(value_type = Paragraph<20_000>)]
    pub body: Field<Paragraph<20_000>>,
    #[serde(default)]
    #[schema(value_type = ListCode)]
    pub category: Field<ListCode>,
    #[serde(default)]
    #[schema(value_type = Option<MemberId>)]
    pub lead_member_id: Field<MemberId>,
    #[serde(default)]
    #[schema(value_type = Option<Line<100>>)]
    pub proposer_org: Field<Line<100>>,
    #[serde(default)]
    #[schema(value_type = bool)]
    pub is_key: Field<bool>,
    #[serde(default)]
    #[schema(value_type = Option<Line<50>>)]
    pub supervising_leader: Field<Line<50>>,
}

impl NewProposal {
    fn split(self) -> (Field<DistrictId>, ProposalPatch) {
        let patch = ProposalPatch {
            kind: self.kind,
            title: self.title,
            body: self.body,
            category: self.category,
            lead_member_id: self.lead_member_id,
            proposer_org: self.proposer_org,
            is_key: self.is_key,
            supervising_leader: self.supervising_leader,
        };
        (self.district_id, patch)
    }
}

/// The draft's fields after `patch`, from `current` (none for a new proposal); the lead
/// member must belong to `district`.
async fn merge(
    conn: &mut AsyncPgConnection,
    checks: &mut Checks,
    patch: ProposalPatch,
    current: Option<&DraftFields>,
    district: Option<DistrictId>,
) -> Result<Option<DraftFields>, ApiError> {
    let categories = crate::db::reference::proposal_category_codes(conn).await?;
    merge_with(conn, checks, patch, current, district, &categories).await
}

/// [`merge`] with the category codes read already; without a district it asks the
/// database nothing.
pub(crate) async fn merge_with(
    conn: &mut AsyncPgConnection,
    checks: &mut Checks,
    patch: ProposalPatch,
    current: Option<&DraftFields>,
    district: Option<DistrictId>,
    categories: &HashSet<String>,
) -> Result<Option<DraftFields>, ApiError> {
    let c = current;
    let kind = checks.required("/kind", patch.kind, c.map(|c| c.kind), Ok);
    let title = checks.required("/title", patch.title, c.map(|c| c.title.clone()), |v| {
        Ok(v.into())
    });
    let body = checks.required("/body", patch.body, c.map(|c| c.body.clone()), |v| {
        Ok(v.into())
    });
    let category = checks.required(
        "/category",
        patch.category,
        c.map(|c| c.category.clone()),
        |v| Ok(String::from(v)),
    );
    if category
        .as_ref()
        .is_some_and(|code| !categories.contains(code))
    {
        checks.unknown("/category", "is not a known proposal category code");
    }
    let lead_changed = matches!(patch.lead_member_id, Field::Value(_));
    let lead = checks.optional(
        "/lead_member_id",
        patch.lead_member_id,
        c.and_then(|c| c.lead_member_id),
        Ok,
    );
    let org = checks.optional(
        "/proposer_org",
        patch.proposer_org,
        c.and_then(|c| c.proposer_org.clone()),
        |v| Ok(v.into()),
    );
    let is_key = checks.required(
        "/is_key",
        patch.is_key,
        Some(c.is_some_and(|c| c.is_key)),
        Ok,
    );
    let leader = checks.optional(
        "/supervising_leader",
        patch.supervising_leader,
        c.and_then(|c| c.supervising_leader.clone()),
        |v| Ok(v.into()),
    );
    if let Some(kind) = kind {
        match (kind.by_member(), lead.is_some(), org.is_some()) {
            (true, false, _) => checks.rule(
                "/lead_member_id",
                "is required for member and joint proposals",
            ),
            (true, _, true) => {
                checks.rule("/proposer_org", "is only for proposals of an organization")
            }
            (false, _, false) => checks.rule(
                "/proposer_org",
                "is required for party/group, sector and committee proposals",
            ),
            (false, true, _) => {
                checks.rule("/lead_member_id", "is only for member and joint proposals")
            }
            _ => {}
        }
    }
    if let (true, Some(member), Some(district)) = (lead_changed, lead, district)
        && crate::db::members::existing_in_district(conn, district, &[member])
            .await?
            .is_empty()
    {
        checks.unknown(
            "/lead_member_id",
            "is not a member of the proposal's district",
        );
    }
    Ok((|| {
        Some(DraftFields {
            kind: kind?,
            title: title?,
            body: body?,
            category: category?,
            lead_member_id: lead,
            proposer_org: org,
            is_key: is_key?,
            supervising_leader: leader,
        })
    })())
}

list_query! {
    /// Filters of the proposal list.
    ProposalQuery, sort: ProposalSort {
        Created = "created", UpdatedAt = "updated_at", Number = "number",
        SubmittedAt = "submitted_at", ReplyDueOn = "reply_due_on",
    },
    {
        /// Only proposals of this district.
        district_id: DistrictId,
        /// Only proposals of the district with this code.
        #[param(inline)]
        district: FilterText<40>,
        status: ProposalStatus,
        kind: ProposalKind,
        /// A category code.
        #[param(inline)]
        category: FilterText<40>,
        is_key: bool,
        /// Submitted (or, for drafts, created) in this year.
        year: i32,
        /// Proposed or co-signed by this member.
        member_id: MemberId,
        /// Handled (as lead or co-handling unit) by this department.
        unit_id: DepartmentId,
        /// `true`: only those assigned and past their reply due date.
        overdue: bool,
        /// Text in the title or body; any two characters of Chinese text are found.
        #[param(inline)]
        q: FilterText<100>,
    }
}

/// List proposals.
#[utoipa::path(
    tag = "proposals",
    params(ProposalQuery),
    responses((status = 200, description = "A page of proposals", body = ProposalPage)),
)]
#[get("")]
async fn list_proposals(
    caller: Caller,
    pool: Db,
    query: web::Query<ProposalQuery>,
) -> Result<web::Json<Page<ProposalView>>, ApiError> {
    let query = query.into_inner();
    let request = query.page()?;
    let filter = ProposalFilter {
        scope: caller.scope(),
        district_id: query.district_id,
        district_code: query.district.and_then(FilterText::into_filter),
        status: query.status,
        kind: query.kind,
        category: query.category.and_then(FilterText::into_filter),
        is_key: query.is_key,
        year: query.year,
        member_id: query.member_id,
        unit_id: query.unit_id,
        overdue_on: query.overdue.filter(|overdue| *overdue).map(|_| today()),
        q: query.q.and_then(FilterText::into_filter),
    };
    let mut conn = pool.conn().await?;
    let rows = db::list(&mut conn, &filter, &request).await?;
    let live: Vec<Proposal> = rows
        .iter()
        .filter(|row| row.deleted_at.is_none())
        .cloned()
        .collect();
    let mut full: HashMap<ProposalId, ProposalView> = views(&mut conn, live)
        .await?
        .into_iter()
        .map(|view| (view.id, view))
        .collect();
    Ok(web::Json(page(rows, &request, |row| {
        full.remove(&row.id)
            .unwrap_or_else(|| ProposalView::new(row, Vec::new(), Vec::new()))
    })))
}

edit::get_route! {
    /// Get a proposal.
    get_proposal: Proposal, GET "/{id}",
    tag = "proposals", params(("id" = ProposalId, Path, description = "The proposal's id")), path = ProposalId,
    answer = (ProposalView, "The proposal"),
}

/// Create a proposal (a draft).
#[utoipa::path(
    tag = "proposals",
    request_body = NewProposal,
    responses((status = 201, description = "The new draft", body = ProposalView,
        headers(("ETag" = String), ("Location" = String, description = "The proposal's URL")))),
)]
#[post("")]
async fn create_proposal(
    caller: Caller,
    pool: Db,
    body: crate::api::http::Json<NewProposal>,
) -> Result<HttpResponse, ApiError> {
    let (district_id, patch) = body.into_inner().split();
    let mut conn = pool.conn().await?;
    let created = conn
        .write(async move |conn| {
            let mut checks = Checks::default();
            let district =
                referenced_district(conn, &mut checks, district_id, caller.scope()).await?;
            let fields = merge(
                conn,
                &mut checks,
                patch,
                None,
                district.as_ref().map(|d| d.id),
            )
            .await?;
            if let Some(fields) = &fields {
                checks.extend(<Proposal as Editable>::refused_to(&caller, fields));
            }
            let (district, fields) = checks.finish(district.zip(fields))?;
            let row = db::insert(conn, district.id, fields).await?;
            let created = view(conn, row).await?;
            let change = Change::new("create", Entity::Proposal, created.id, Some(district.id));
            record(conn, &caller, change.after(&created));
            Ok::<_, ApiError>(created)
        })
        .await?;
    let location = format!("/api/v1/proposals/{}", created.id);
    Ok(created_response(&created, location))
}

/// A refusal because of where the proposal stands.
fn wrong_state(row: &Proposal, what: &str) -> ApiError {
    let allowed = machine::allowed_actions(row.status, progress(row))
        .iter()
        .map(|action| action.as_str().to_owned())
        .collect();
    workflow::refused(what, row.status.as_str(), allowed)
}

edit::patch_route! {
    /// Change a draft (JSON Merge Patch); once submitted, a proposal changes only by its
    /// actions (409).
    update_proposal: Proposal, PATCH "/{id}",
    tag = "proposals", params(("id" = ProposalId, Path, description = "The proposal's id")), path = ProposalId,
    body = ProposalPatch, answer = (ProposalView, "The changed draft"),
    refused = "The proposal is no longer a draft",
}

edit::delete_route! {
    /// Delete a draft; a submitted proposal is withdrawn instead (409).
    delete_proposal: Proposal, DELETE "/{id}",
    tag = "proposals", params(("id" = ProposalId, Path, description = "The proposal's id")), path = ProposalId,
    refused = "The proposal is no longer a draft",
}

impl Editable for Proposal {
    edit::own!(ProposalId, "proposal");

    /// A member drafts and edits the proposals they lead, and stays their lead.
    fn refused_to(caller: &Caller, fields: &DraftFields) -> Vec<FieldError> {
        match caller.person {
            Some(Person::Member(own)) if fields.lead_member_id != Some(own) => {
                vec![FieldError::rule(
                    "/lead_member_id",
                    "a member drafts the proposals they lead: it must be their own member id",
                )]
            }
            _ => Vec::new(),
        }
    }
    type Patch = ProposalPatch;
    type View = ProposalView;
    const ENTITY: Entity = Entity::Proposal;
    type Lists = std::collections::HashSet<String>;

    async fn lists(conn: &AsyncPgConnection) -> Result<Self::Lists, ApiError> {
        Ok(crate::db::reference::proposal_category_codes(conn).await?)
    }

    fn allows(_parent: &(), row: &Self, edit: Edit) -> Result<(), ApiError> {
        if row.status == ProposalStatus::Draft {
            return Ok(());
        }
        Err(wrong_state(
            row,
            match edit {
                Edit::Update => "changing the text",
                Edit::Delete => "deleting",
            },
        ))
    }

    async fn merge(
        conn: &mut AsyncPgConnection,
        checks: &mut Checks,
        categories: &Self::Lists,
        _parent: &(),
        row: &Self,
        patch: ProposalPatch,
    ) -> Result<Option<DraftFields>, ApiError> {
        let current = Some(&row.fields());
        merge_with(
            conn,
            checks,
            patch,
            current,
            Some(row.district_id),
            categories,
        )
        .await
    }

    async fn view(conn: &mut AsyncPgConnection, row: Self) -> Result<ProposalView, ApiError> {
        view(conn, row).await
    }
}

/// The workflow history of a proposal: every action, from which status to which, by
/// whom, when, with what.
#[utoipa::path(
    tag = "proposals",
    params(("id" = ProposalId, Path, description = "The proposal's id")),
    responses((status = 200, description = "Its steps", body = WorkflowHistory)),
)]
#[get("/{id}/history")]
async fn get_proposal_history(
    caller: Caller,
    pool: Db,
    path: web::Path<ProposalId>,
) -> Result<web::Json<WorkflowHistory>, ApiError> {
    let id = path.into_inner();
    let mut conn = pool.conn().await?;
    db::find(&conn, id, caller.scope())
        .await
        .map_err(not_found_as("proposal"))?;
    Ok(web::Json(
        workflow::history(&mut conn, Entity::Proposal, id.0).await?,
    ))
}

/// Which proposals the statistics cover.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// Only this district (a district key sees its own anyway).
    pub district_id: Option<DistrictId>,
    /// Only proposals submitted (or, for drafts, created) in this year.
    pub year: Option<i32>,
}

/// Figures of a district's (or every district's) proposals.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProposalStats {
    pub total: i64,
    /// Count per status code.
    pub by_status: std::collections::BTreeMap<String, i64>,
    /// Count per kind code.
    pub by_kind: std::collections::BTreeMap<String, i64>,
    /// Count per category code.
    pub by_category: std::collections::BTreeMap<String, i64>,
    /// Filed (numbered) among those decided (filed, not filed or merged); `null` when none.
    pub filing_rate: Option<f64>,
    /// Replied on or before the due date among those replied.
    pub on_time_reply_rate: Option<f64>,
    /// Satisfied or basically satisfied among those with a verdict.
    pub satisfaction_rate: Option<f64>,
}

/// Statistics of proposals: counts by status, kind and category, filing rate, on-time
/// reply rate and satisfaction rate.
#[utoipa::path(
    tag = "proposals",
    params(StatsQuery),
    responses((status = 200, description = "The figures", body = ProposalStats)),
)]
#[get("/stats")]
async fn proposal_stats(
    caller: Caller,
    pool: Db,
    query: web::Query<StatsQuery>,
) -> Result<web::Json<ProposalStats>, ApiError> {
    let query = query.into_inner();
    let mut conn = pool.conn().await?;
    let figures = db::stats(&mut conn, caller.scope(), query.district_id, query.year).await?;
    let rate = |part: i64, whole: i64| (whole > 0).then(|| part as f64 / whole as f64);
    Ok(web::Json(ProposalStats {
        total: figures.total,
        by_status: figures.by_status,
        by_kind: figures.by_kind,
        by_category: figures.by_category,
        filing_rate: rate(figures.filed, figures.decided),
        on_time_reply_rate: rate(figures.replied_on_time, figures.replied),
        satisfaction_rate: rate(figures.satisfied, figures.with_verdict),
    }))
}

/// The rulings (批示) on a proposal, with their measures and feedback.
#[utoipa::path(
    tag = "proposals",
    params(("id" = ProposalId, Path, description = "The proposal's id")),
    responses((status = 200, description = "Its rulings", body = crate::api::rulings::SubjectRulings)),
)]
#[get("/{id}/rulings")]
async fn list_proposal_rulings(
    caller: Caller,
    pool: Db,
    path: web::Path<ProposalId>,
) -> Result<web::Json<crate::api::rulings::SubjectRulings>, ApiError> {
    let id = path.into_inner().0;
    crate::api::rulings::on_subject(
        &pool,
        &caller,
        crate::domain::ruling::SubjectType::Proposal,
        id,
    )
    .await
}

/// What became of a proposal, in one answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProposalLineage {
    pub subject: ProposalView,
    /// Its rulings, each with the departments' measures and the feedback.
    pub rulings: Vec<crate::api::rulings::RulingView>,
}

/// The proposal with its rulings, their measures and feedback.
#[utoipa::path(
    tag = "proposals",
    params(("id" = ProposalId, Path, description = "The proposal's id")),
    responses((status = 200, description = "The chain", body = ProposalLineage)),
)]
#[get("/{id}/lineage")]
async fn get_proposal_lineage(
    caller: Caller,
    pool: Db,
    path: web::Path<ProposalId>,
) -> Result<web::Json<ProposalLineage>, ApiError> {
    let id = path.into_inner();
    let mut conn = pool.conn().await?;
    let row = db::find(&conn, id, caller.scope())
        .await
        .map_err(not_found_as("proposal"))?;
    let subject = view(&mut conn, row).await?;
    let rulings = crate::api::rulings::of_subject(
        &mut conn,
        &caller,
        crate::domain::ruling::SubjectType::Proposal,
        id.0,
    )
    .await?;
    Ok(web::Json(ProposalLineage { subject, rulings }))
}
