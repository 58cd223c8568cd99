//! Draft proposals in sync batches, keyed by `external_id`.

use crate::domain::kinds::Entity;
use std::collections::{HashMap, HashSet};

use diesel::QueryResult;
use diesel_async::AsyncPgConnection;
use serde_json::Value;

use utoipa::openapi::schema::Schema;

use super::{Synced, json_of, refuse_field, take_external_id, take_text};
use crate::api::input::{Checks, Field};
use crate::api::proposals::{ProposalPatch, ProposalView};
use crate::api::schema;
use crate::db;
use crate::db::audit::Change;
use crate::db::districts::District;
use crate::db::proposals::{DraftFields, Proposal};
use crate::domain::ids::{DistrictId, MemberId, ProposalId};
use crate::domain::proposal::ProposalStatus;
use crate::error::{ApiError, FieldError};

/// Proposals, keyed by `external_id`: drafts only (their workflow moves stay actions);
/// the lead member is named by `lead_member_no`.
pub(super) struct Proposals;

/// What reading proposals needs: the category codes and the district's members.
pub(super) struct ProposalContext {
    categories: HashSet<String>,
    members: HashMap<String, MemberId>,
}

impl Synced for Proposals {
    type Row = Proposal;
    type Fields = DraftFields;
    type Context = ProposalContext;
    const ENTITY: Entity = Entity::Proposal;
    const KEY: &'static str = "external_id";

    fn upsert_schema() -> Schema {
        super::upsert_schema::<crate::api::proposals::NewProposal>(
            &["district_id", "lead_member_id"],
            vec![
                ("external_id", schema::named("ExternalId"), true),
                ("lead_member_no", schema::nullable("MemberNo"), false),
            ],
        )
    }

    async fn context(
        conn: &mut AsyncPgConnection,
        district: &District,
        records: &[Value],
    ) -> Result<ProposalContext, ApiError> {
        let numbers: Vec<String> = records
            .iter()
            .filter_map(|record| record.get("lead_member_no")?.as_str().map(str::to_owned))
            .collect();
        Ok(ProposalContext {
            categories: crate::db::reference::proposal_category_codes(conn).await?,
            members: db::members::ids_by_numbers(conn, district.id, &numbers)
                .await?
                .into_iter()
                .collect(),
        })
    }

    async fn read(
        conn: &mut AsyncPgConnection,
        mut record: Value,
        context: &ProposalContext,
    ) -> Result<DraftFields, ApiError> {
        take_external_id(&mut record)?;
        refuse_field(&record, "lead_member_id", "lead_member_no")?;
        let lead = match take_text(&mut record, "lead_member_no")? {
            None => None,
            Some(number) => Some(*context.members.get(&number).ok_or_else(|| {
                ApiError::unknown(
                    "/lead_member_no",
                    "no live member of the district has this member_no",
                )
            })?),
        };
        let mut patch: ProposalPatch = serde_json::from_value(record).map_err(|error| {
            ApiError::Validation(vec![FieldError::invalid("", error.to_string())])
        })?;
        if let Some(lead) = lead {
            patch.lead_member_id = Field::Value(lead);
        }
        let mut checks = Checks::default();
        // No district to check the lead against (no query): it was found among the
        // district's members.
        let fields = crate::api::proposals::merge_with(
            conn,
            &mut checks,
            patch,
            None,
            None,
            &context.categories,
        )
        .await?;
        checks.finish(fields)
    }

    fn key_of(row: &Proposal) -> String {
        row.external_id.clone().unwrap_or_default()
    }
    fn fields_of(row: &Proposal) -> DraftFields {
        row.fields()
    }

    fn frozen(row: &Proposal, _fields: &DraftFields) -> Option<ApiError> {
        frozen(row)
    }

    /// Each proposal's co-signers and the proposals merged into it.
    type AuditContext = crate::api::proposals::Relations;

    async fn audit_context(
        conn: &mut AsyncPgConnection,
        rows: &[&Proposal],
    ) -> Result<Self::AuditContext, ApiError> {
        let ids: Vec<ProposalId> = rows.iter().map(|row| row.id).collect();
        crate::api::proposals::relations(conn, &ids).await
    }

    fn audited(row: &Proposal, (cosigners, merged): &Self::AuditContext) -> Value {
        json_of(ProposalView::new(
            row.clone(),
            cosigners.get(&row.id).cloned().unwrap_or_default(),
            merged.get(&row.id).cloned().unwrap_or_default(),
        ))
    }

    async fn lock(
        conn: &mut AsyncPgConnection,
        district: DistrictId,
        keys: &[String],
    ) -> QueryResult<Vec<Proposal>> {
        db::proposals::lock_by_external_ids(conn, district, keys).await
    }

    async fn upsert(
        conn: &mut AsyncPgConnection,
        district: DistrictId,
        rows: Vec<(uuid::Uuid, String, DraftFields)>,
    ) -> QueryResult<Vec<Proposal>> {
        let rows = rows
            .into_iter()
            .map(|(id, key, fields)| (ProposalId(id), key, fields))
            .collect();
        db::proposals::upsert_drafts(conn, district, rows).await
    }

    async fn undeletable(
        _conn: &mut AsyncPgConnection,
        rows: &[Proposal],
    ) -> Result<HashMap<uuid::Uuid, ApiError>, ApiError> {
        Ok(rows
            .iter()
            .filter_map(|row| Some((row.id.0, frozen(row)?)))
            .collect())
    }

    async fn delete(
        conn: &mut AsyncPgConnection,
        _district: DistrictId,
        rows: &[Proposal],
    ) -> Result<Vec<Change>, ApiError> {
        let ids: Vec<ProposalId> = rows.iter().map(|row| row.id).collect();
        db::proposals::mark_all_deleted(conn, &ids).await?;
        Ok(Vec::new())
    }
}

/// Why a proposal no longer changes or goes by sync: it left its draft.
fn frozen(row: &Proposal) -> Option<ApiError> {
    (row.status != ProposalStatus::Draft).then(|| {
        ApiError::conflict(format!(
            "the proposal is {}: only drafts change by sync; it moves by its actions",
            row.status.as_str()
        ))
    })
}
