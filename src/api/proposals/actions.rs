//! The workflow actions of a proposal: submit, review, assign, reply, evaluate, and the
//! rest, each a step of the proposal's state machine.

use crate::api::work::Tx;
use crate::domain::kinds::Entity;
use crate::domain::values::{Line, Paragraph};
use chrono::Datelike as _;
use diesel::OptionalExtension;

use crate::api::workflow::action;

use super::{
    ApiError, AsyncPgConnection, Caller, Change, DateTime, Day, Db, DepartmentId, Deserialize,
    Field, FieldError, ForwardAs, HashSet, HttpResponse, IfMatch, IfMatchHeader, MemberId, Months,
    NaiveDate, Problem, Proposal, ProposalAction, ProposalId, ProposalStatus, ProposalView,
    QueryResult, ReplyResult, Scope, ToSchema, Transition, Utc, Value, Verdict, Workflow, calendar,
    db, json, machine, post, progress, record_if_changed, relations, today, values, view, web,
    wrong_state,
};

/// A workflow step with what was sent for it, checked.
#[derive(Debug, Clone)]
pub(crate) enum Step {
    Submit,
    File,
    Reject {
        reason: String,
        forward_as: Option<ForwardAs>,
    },
    Merge {
        into: ProposalId,
    },
    Assign {
        lead_unit: DepartmentId,
        co_units: Vec<DepartmentId>,
        due: Option<NaiveDate>,
    },
    Extend {
        due: NaiveDate,
    },
    Reply {
        text: String,
        document_no: Option<String>,
        result: ReplyResult,
    },
    Feedback {
        verdict: Verdict,
        due: Option<NaiveDate>,
    },
    Withdraw,
}

impl Step {
    fn action(&self) -> ProposalAction {
        match self {
            Self::Submit => ProposalAction::Submit,
            Self::File => ProposalAction::File,
            Self::Reject { .. } => ProposalAction::Reject,
            Self::Merge { .. } => ProposalAction::Merge,
            Self::Assign { .. } => ProposalAction::Assign,
            Self::Extend { .. } => ProposalAction::Extend,
            Self::Reply { .. } => ProposalAction::Reply,
            Self::Feedback { .. } => ProposalAction::Feedback,
            Self::Withdraw => ProposalAction::Withdraw,
        }
    }

    fn verdict(&self) -> Option<Verdict> {
        match self {
            Self::Feedback { verdict, .. } => Some(*verdict),
            _ => None,
        }
    }
}

/// Two months from `day`: the default time a unit has to reply.
fn two_months_from(day: NaiveDate) -> NaiveDate {
    day.checked_add_months(Months::new(2)).unwrap_or(day)
}

/// Applies `step` to the record (whose status the caller then sets); returns what is
/// kept in the history as the step's payload.
async fn apply(
    conn: &mut Tx<'_>,
    caller: &Caller,
    row: &mut Proposal,
    step: &Step,
    now: DateTime<Utc>,
) -> Result<Value, ApiError> {
    Ok(match step {
        Step::Submit => {
            row.submitted_at = Some(now);
            json!({})
        }
        Step::File => {
            let year = calendar::local(now).year();
            let sequence = db::next_number(conn, row.district_id, year).await?;
            let number = format!("{year}-{sequence:04}");
            row.number = Some(number.clone());
            row.filed_at = Some(now);
            json!({"number": number})
        }
        Step::Reject { reason, forward_as } => {
            row.reject_reason = Some(reason.clone());
            row.forward_as = *forward_as;
            json!({"reason": reason, "forward_as": forward_as})
        }
        Step::Merge { into } => {
            let target = db::find(conn, *into, caller.scope())
                .await
                .optional()?
                .filter(|target| target.district_id == row.district_id && target.id != row.id);
            let Some(target) = target else {
                return Err(ApiError::unknown(
                    "/into_id",
                    "no such proposal in this district",
                ));
            };
            let numbered = matches!(
                target.status,
                ProposalStatus::Filed
                    | ProposalStatus::Assigned
                    | ProposalStatus::Replied
                    | ProposalStatus::Closed
            );
            if !numbered {
                return Err(ApiError::rule("/into_id", "is not a filed proposal"));
            }
            // The target lists what was merged into it: a change of the target too. Its
            // record after the step lists this proposal, whose own row is saved next.
            let target_before = view(conn, target.clone()).await?;
            db::touch(conn, target.id).await?;
            let touched = db::find(conn, target.id, caller.scope()).await?;
            let mut target_after = view(conn, touched).await?;
            target_after.merged_ids.push(row.id);
            target_after.merged_ids.sort();
            let change = Change::new(
                "merge_into",
                Entity::Proposal,
                target.id,
                Some(target.district_id),
            );
            record_if_changed(conn, caller, change, &target_before, &target_after);
            row.merged_into_id = Some(target.id);
            json!({"into_id": target.id, "into_number": target.number})
        }
        Step::Assign {
            lead_unit,
            co_units,
            due,
        } => {
            let mut wanted = co_units.clone();
            wanted.push(*lead_unit);
            let found: HashSet<DepartmentId> =
                crate::db::departments::existing_in_district(conn, row.district_id, &wanted)
                    .await?
                    .into_iter()
                    .collect();
            let mut errors = Vec::new();
            if !found.contains(lead_unit) {
                errors.push(FieldError::unknown(
                    "/lead_unit_id",
                    "is not a department of the proposal's district",
                ));
            }
            for (index, unit) in co_units.iter().enumerate() {
                if !found.contains(unit) {
                    errors.push(FieldError::unknown(
                        format!("/co_unit_ids/{index}"),
                        "is not a department of the proposal's district",
                    ));
                } else if unit == lead_unit {
                    errors.push(FieldError::rule(
                        format!("/co_unit_ids/{index}"),
                        "is the lead unit",
                    ));
                }
            }
            if !errors.is_empty() {
                return Err(ApiError::Validation(errors));
            }
            let due = due.unwrap_or_else(|| two_months_from(today()));
            row.lead_unit_id = Some(*lead_unit);
            row.co_unit_ids = co_units.clone();
            row.reply_due_on = Some(due);
            json!({"lead_unit_id": lead_unit, "co_unit_ids": co_units, "reply_due_on": due})
        }
        Step::Extend { due } => {
            let current = row.reply_due_on.unwrap_or_else(today);
            let limit = current
                .checked_add_months(Months::new(1))
                .unwrap_or(current);
            if *due <= current || *due > limit {
                return Err(ApiError::rule(
                    "/reply_due_on",
                    format!("must be after {current} and at most one month later ({limit})"),
                ));
            }
            row.reply_due_on = Some(*due);
            row.extended = true;
            json!({"from": current, "reply_due_on": due})
        }
        Step::Reply {
            text,
            document_no,
            result,
        } => {
            row.reply_text = Some(text.clone());
            row.reply_document_no = document_no.clone();
            row.reply_result = Some(*result);
            row.replied_on = Some(today());
            json!({"text": text, "document_no": document_no, "result": result})
        }
        Step::Feedback { verdict, due } => {
            row.verdict = Some(*verdict);
            let rehandle = *verdict == Verdict::Unsatisfied && !row.rehandled;
            if rehandle {
                row.rehandled = true;
                row.reply_due_on = Some(due.unwrap_or_else(|| two_months_from(today())));
            }
            json!({"verdict": verdict, "rehandled": rehandle, "reply_due_on": row.reply_due_on})
        }
        Step::Withdraw => json!({}),
    })
}

impl Workflow for Proposal {
    type Key = ProposalId;
    type View = ProposalView;
    type Step = Step;
    const ENTITY: Entity = Entity::Proposal;

    /// Its co-signers and the proposals merged into it.
    type Relations = (Vec<MemberId>, Vec<ProposalId>);

    async fn lock(conn: &AsyncPgConnection, id: ProposalId, scope: Scope) -> QueryResult<Self> {
        db::lock(conn, id, scope).await
    }

    async fn relations(
        conn: &AsyncPgConnection,
        id: ProposalId,
    ) -> Result<Self::Relations, ApiError> {
        let (mut cosigners, mut merged) = relations(conn, &[id]).await?;
        Ok((
            cosigners.remove(&id).unwrap_or_default(),
            merged.remove(&id).unwrap_or_default(),
        ))
    }

    fn view(row: Self, (cosigners, merged): &Self::Relations) -> ProposalView {
        ProposalView::new(row, cosigners.clone(), merged.clone())
    }

    /// No step changes a proposal's co-signers or what was merged into it (a merge
    /// changes its target's).
    fn changes_relations(_step: &Step) -> bool {
        false
    }

    fn save(row: &Self, now: DateTime<Utc>) -> (Self, crate::db::Statement) {
        db::save_later(row, now)
    }

    async fn take(
        conn: &mut Tx<'_>,
        caller: &Caller,
        row: &mut Self,
        step: Step,
        now: DateTime<Utc>,
    ) -> Result<Transition, ApiError> {
        let from = row.status;
        let to = machine::next(from, progress(row), step.action(), step.verdict())
            .map_err(|_| wrong_state(row, &format!("`{}`", step.action().as_str())))?;
        let payload = apply(conn, caller, row, &step, now).await?;
        row.status = to;
        Ok(Transition {
            action: step.action().as_str(),
            from: from.as_str(),
            to: to.as_str(),
            payload,
        })
    }
}

/// Why a proposal is not filed, and what it is passed on as.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectBody {
    #[serde(default)]
    #[schema(value_type = Paragraph<2000>, required = true)]
    pub reason: Field<Paragraph<2000>>,
    #[serde(default)]
    #[schema(value_type = Option<ForwardAs>)]
    pub forward_as: Field<ForwardAs>,
}

/// The filed proposal to merge into.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeBody {
    #[serde(default)]
    #[schema(value_type = ProposalId, required = true)]
    pub into_id: Field<ProposalId>,
}

/// The handling units and the reply due date.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignBody {
    /// The lead unit (主办): a department of the proposal's district.
    #[serde(default)]
    #[schema(value_type = DepartmentId, required = true)]
    pub lead_unit_id: Field<DepartmentId>,
    /// Co-handling units (会办); defaults to none.
    #[serde(default)]
    #[schema(value_type = Vec<DepartmentId>)]
    pub co_unit_ids: Field<Vec<DepartmentId>>,
    /// Defaults to two months from today.
    #[serde(default)]
    #[schema(value_type = Option<Day>)]
    pub reply_due_on: Field<Day>,
}

/// The new reply due date: later than the current one by at most a month; once only.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtendBody {
    #[serde(default)]
    #[schema(value_type = Day, required = true)]
    pub reply_due_on: Field<Day>,
}

/// The lead unit's reply.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyBody {
    #[serde(default)]
    #[schema(value_type = Paragraph<20_000>, required = true)]
    pub text: Field<Paragraph<20_000>>,
    /// The reply's document number.
    #[serde(default)]
    #[schema(value_type = Option<Line<50>>)]
    pub document_no: Field<Line<50>>,
    #[serde(default)]
    #[schema(value_type = ReplyResult, required = true)]
    pub result: Field<ReplyResult>,
}

/// The proposer's verdict on the reply.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedbackBody {
    #[serde(default)]
    #[schema(value_type = Verdict, required = true)]
    pub verdict: Field<Verdict>,
    /// For a first `unsatisfied`: the new reply due date (default two months from today).
    #[serde(default)]
    #[schema(value_type = Option<Day>)]
    pub reply_due_on: Field<Day>,
}

action!(
    /// Submit a draft (-> submitted).
    submit_proposal: Proposal, POST "/{id}/submit",
    tag = "proposals",
    params(("id" = ProposalId, Path, description = "The proposal's id"), IfMatchHeader),
    path = ProposalId,
    answer = (ProposalView, "The proposal after the step"),
    refused = "The step is not allowed from the current status; the answer names it and the allowed actions",
    step = Step::Submit,
);
action!(
    /// File a submitted proposal (立案, -> filed): it gets its number.
    file_proposal: Proposal, POST "/{id}/file",
    tag = "proposals",
    params(("id" = ProposalId, Path, description = "The proposal's id"), IfMatchHeader),
    path = ProposalId,
    answer = (ProposalView, "The proposal after the step"),
    refused = "The step is not allowed from the current status; the answer names it and the allowed actions",
    step = Step::File,
);
action!(
    /// Withdraw a proposal before filing (-> withdrawn).
    withdraw_proposal: Proposal, POST "/{id}/withdraw",
    tag = "proposals",
    params(("id" = ProposalId, Path, description = "The proposal's id"), IfMatchHeader),
    path = ProposalId,
    answer = (ProposalView, "The proposal after the step"),
    refused = "The step is not allowed from the current status; the answer names it and the allowed actions",
    step = Step::Withdraw,
);
action!(
    /// Do not file a submitted proposal (不立案, -> not_filed), with a reason; it may be
    /// passed on as an opinion or as social conditions.
    reject_proposal: Proposal, POST "/{id}/reject",
    tag = "proposals",
    params(("id" = ProposalId, Path, description = "The proposal's id"), IfMatchHeader),
    path = ProposalId,
    answer = (ProposalView, "The proposal after the step"),
    refused = "The step is not allowed from the current status; the answer names it and the allowed actions",
    body = RejectBody,
    |checks, body| (|| {
        let reason = checks.required("/reason", body.reason, None, |v| Ok(v.into()));
        let forward_as = checks.optional("/forward_as", body.forward_as, None, Ok);
        Some(Step::Reject { reason: reason?, forward_as })
    })()
);
action!(
    /// Merge a submitted proposal into a filed one of the same district (并案, -> merged).
    merge_proposal: Proposal, POST "/{id}/merge",
    tag = "proposals",
    params(("id" = ProposalId, Path, description = "The proposal's id"), IfMatchHeader),
    path = ProposalId,
    answer = (ProposalView, "The proposal after the step"),
    refused = "The step is not allowed from the current status; the answer names it and the allowed actions",
    body = MergeBody,
    |checks, body| checks.required("/into_id", body.into_id, None, Ok).map(|into| Step::Merge { into })
);
action!(
    /// Assign a filed proposal to its handling units (交办, -> assigned).
    assign_proposal: Proposal, POST "/{id}/assign",
    tag = "proposals",
    params(("id" = ProposalId, Path, description = "The proposal's id"), IfMatchHeader),
    path = ProposalId,
    answer = (ProposalView, "The proposal after the step"),
    refused = "The step is not allowed from the current status; the answer names it and the allowed actions",
    body = AssignBody,
    |checks, body| (|| {
        let lead_unit = checks.required("/lead_unit_id", body.lead_unit_id, None, Ok);
        let co_units = checks.list("/co_unit_ids", body.co_unit_ids, Some(Vec::new()), Ok).map(values::distinct);
        let due = checks.optional("/reply_due_on", body.reply_due_on, None, Day::date);
        Some(Step::Assign { lead_unit: lead_unit?, co_units: co_units?, due })
    })()
);
action!(
    /// Extend the reply due date, once, by up to a month.
    extend_proposal: Proposal, POST "/{id}/extend",
    tag = "proposals",
    params(("id" = ProposalId, Path, description = "The proposal's id"), IfMatchHeader),
    path = ProposalId,
    answer = (ProposalView, "The proposal after the step"),
    refused = "The step is not allowed from the current status; the answer names it and the allowed actions",
    body = ExtendBody,
    |checks, body| checks.required("/reply_due_on", body.reply_due_on, None, Day::date).map(|due| Step::Extend { due })
);
action!(
    /// Record the lead unit's reply (答复, -> replied).
    reply_proposal: Proposal, POST "/{id}/reply",
    tag = "proposals",
    params(("id" = ProposalId, Path, description = "The proposal's id"), IfMatchHeader),
    path = ProposalId,
    answer = (ProposalView, "The proposal after the step"),
    refused = "The step is not allowed from the current status; the answer names it and the allowed actions",
    body = ReplyBody,
    |checks, body| (|| {
        let text = checks.required("/text", body.text, None, |v| Ok(v.into()));
        let document_no = checks.optional("/document_no", body.document_no, None, |v| Ok(v.into()));
        let result = checks.required("/result", body.result, None, Ok);
        Some(Step::Reply { text: text?, document_no, result: result? })
    })()
);
action!(
    /// Record the proposer's verdict (-> closed; a first `unsatisfied` sends it back to its
    /// units, -> assigned).
    feedback_proposal: Proposal, POST "/{id}/feedback",
    tag = "proposals",
    params(("id" = ProposalId, Path, description = "The proposal's id"), IfMatchHeader),
    path = ProposalId,
    answer = (ProposalView, "The proposal after the step"),
    refused = "The step is not allowed from the current status; the answer names it and the allowed actions",
    body = FeedbackBody,
    |checks, body| (|| {
        let verdict = checks.required("/verdict", body.verdict, None, Ok);
        let due = checks.optional("/reply_due_on", body.reply_due_on, None, Day::date);
        Some(Step::Feedback { verdict: verdict?, due })
    })()
);
