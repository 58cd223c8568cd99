//! Workstations in sync batches, keyed by `external_id`.

use crate::domain::kinds::Entity;
use std::collections::HashMap;

use diesel::QueryResult;
use diesel_async::AsyncPgConnection;
use serde_json::Value;

use utoipa::openapi::schema::Schema;

use super::{Synced, json_of, take_external_id};
use crate::api::input::{Checks, Field};
use crate::api::schema;
use crate::api::workstations::{WorkstationPatch, WorkstationView};
use crate::db;
use crate::db::audit::Change;
use crate::db::districts::District;
use crate::db::workstations::{Workstation, WorkstationFields};
use crate::domain::ids::{DistrictId, MemberId, WorkstationId};
use crate::error::{ApiError, FieldError};

/// Workstations, keyed by `external_id`; the convenor is named by `convenor_member_no`.
pub(super) struct Workstations;

impl Synced for Workstations {
    type Row = Workstation;
    type Fields = WorkstationFields;
    /// The district's live members by number, for the records' convenors.
    type Context = HashMap<String, MemberId>;
    const ENTITY: Entity = Entity::Workstation;
    const KEY: &'static str = "external_id";

    fn upsert_schema() -> Schema {
        super::upsert_schema::<crate::api::workstations::NewWorkstation>(
            &["district_id", "convenor_member_id"],
            vec![
                ("external_id", schema::named("ExternalId"), true),
                ("convenor_member_no", schema::nullable("MemberNo"), false),
            ],
        )
    }

    async fn context(
        conn: &mut AsyncPgConnection,
        district: &District,
        records: &[Value],
    ) -> Result<HashMap<String, MemberId>, ApiError> {
        let numbers: Vec<String> = records
            .iter()
            .filter_map(|record| {
                record
                    .get("convenor_member_no")?
                    .as_str()
                    .map(str::to_owned)
            })
            .collect();
        Ok(db::members::ids_by_numbers(conn, district.id, &numbers)
            .await?
            .into_iter()
            .collect())
    }

    async fn read(
        conn: &mut AsyncPgConnection,
        mut record: Value,
        convenors: &HashMap<String, MemberId>,
    ) -> Result<WorkstationFields, ApiError> {
        take_external_id(&mut record)?;
        let convenor = record
            .as_object_mut()
            .and_then(|object| object.remove("convenor_member_no"));
        let convenor = match convenor {
            None | Some(Value::Null) => None,
            Some(Value::String(number)) => match convenors.get(&number) {
                Some(id) => Some(*id),
                None => {
                    return Err(ApiError::unknown(
                        "/convenor_member_no",
                        "no live member of the district has this member_no",
                    ));
                }
            },
            Some(_) => {
                return Err(ApiError::invalid(
                    "/convenor_member_no",
                    "must be a member_no",
                ));
            }
        };
        if record.get("convenor_member_id").is_some() {
            return Err(ApiError::invalid(
                "/convenor_member_id",
                "a synced workstation names its convenor by convenor_member_no",
            ));
        }
        let mut patch: WorkstationPatch = serde_json::from_value(record).map_err(|error| {
            ApiError::Validation(vec![FieldError::invalid("", error.to_string())])
        })?;
        if let Some(convenor) = convenor {
            patch.convenor_member_id = Field::Value(convenor);
        }
        let mut checks = Checks::default();
        // No district to check against (no query): the convenor was found among the
        // district's members.
        let fields = crate::api::workstations::merge(conn, &mut checks, patch, None, None).await?;
        checks.finish(fields)
    }

    fn key_of(row: &Workstation) -> String {
        row.external_id.clone().unwrap_or_default()
    }
    fn fields_of(row: &Workstation) -> WorkstationFields {
        row.fields()
    }

    fn unique_name(fields: &WorkstationFields) -> Option<&str> {
        Some(&fields.name)
    }

    async fn names_taken(
        conn: &mut AsyncPgConnection,
        district: DistrictId,
        names: &[String],
    ) -> QueryResult<Vec<(String, uuid::Uuid)>> {
        db::workstations::ids_by_names(conn, district, names).await
    }
    /// Each workstation's members (a batch does not change them).
    type AuditContext = HashMap<WorkstationId, Vec<MemberId>>;

    async fn audit_context(
        conn: &mut AsyncPgConnection,
        rows: &[&Workstation],
    ) -> Result<Self::AuditContext, ApiError> {
        let ids: Vec<WorkstationId> = rows.iter().map(|row| row.id).collect();
        Ok(db::workstations::member_ids(conn, &ids).await?)
    }

    fn audited(row: &Workstation, members: &Self::AuditContext) -> Value {
        let ids = members.get(&row.id).cloned().unwrap_or_default();
        json_of(WorkstationView::new(row.clone(), ids))
    }

    async fn lock(
        conn: &mut AsyncPgConnection,
        district: DistrictId,
        keys: &[String],
    ) -> QueryResult<Vec<Workstation>> {
        db::workstations::lock_by_external_ids(conn, district, keys).await
    }

    async fn upsert(
        conn: &mut AsyncPgConnection,
        district: DistrictId,
        rows: Vec<(uuid::Uuid, String, WorkstationFields)>,
    ) -> QueryResult<Vec<Workstation>> {
        let rows = rows
            .into_iter()
            .map(|(id, key, fields)| (WorkstationId(id), key, fields))
            .collect();
        db::workstations::upsert_all(conn, district, rows).await
    }

    async fn undeletable(
        conn: &mut AsyncPgConnection,
        rows: &[Workstation],
    ) -> Result<HashMap<uuid::Uuid, ApiError>, ApiError> {
        let ids: Vec<WorkstationId> = rows.iter().map(|row| row.id).collect();
        Ok(db::workstations::activity_counts(conn, &ids)
            .await?
            .into_iter()
            .map(|(id, count)| {
                (
                    id.0,
                    ApiError::conflict(format!(
                        "the workstation still has {count} activity(ies); delete them first"
                    )),
                )
            })
            .collect())
    }

    async fn delete(
        conn: &mut AsyncPgConnection,
        _district: DistrictId,
        rows: &[Workstation],
    ) -> Result<Vec<Change>, ApiError> {
        let ids: Vec<WorkstationId> = rows.iter().map(|row| row.id).collect();
        db::workstations::soft_delete_all(conn, &ids).await?;
        Ok(Vec::new())
    }
}
