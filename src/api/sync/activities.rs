//! Workstation activities in sync batches, keyed by `external_id`.

use crate::domain::kinds::Entity;
use std::collections::HashMap;

use diesel::QueryResult;
use diesel_async::AsyncPgConnection;
use serde_json::Value;

use utoipa::openapi::schema::Schema;

use super::{Synced, json_of, refuse_field, take_external_id, take_text};
use crate::api::activities::{ActivityPatch, ActivityView};
use crate::api::input::Checks;
use crate::api::schema;
use crate::db;
use crate::db::activities::{Activity, SyncedActivity};
use crate::db::audit::Change;
use crate::db::districts::District;
use crate::domain::ids::{ActivityId, DistrictId, MemberId, WorkstationId};
use crate::error::{ApiError, FieldError};

/// What reading activities needs: the district's workstations by external id and its
/// members by number.
pub(super) struct ActivityContext {
    district: DistrictId,
    workstations: HashMap<String, WorkstationId>,
    members: HashMap<String, MemberId>,
}

/// Activities, keyed by `external_id`; the workstation is named by
/// `workstation_external_id` and the participants by `participant_member_nos`.
pub(super) struct Activities;

impl Synced for Activities {
    type Row = Activity;
    type Fields = SyncedActivity;
    type Context = ActivityContext;
    const ENTITY: Entity = Entity::Activity;
    const KEY: &'static str = "external_id";

    fn upsert_schema() -> Schema {
        super::upsert_schema::<crate::api::activities::NewActivity>(
            &["participant_ids"],
            vec![
                ("external_id", schema::named("ExternalId"), true),
                ("workstation_external_id", schema::named("ExternalId"), true),
                (
                    "participant_member_nos",
                    schema::nullable_list("MemberNo"),
                    false,
                ),
            ],
        )
    }

    async fn context(
        conn: &mut AsyncPgConnection,
        district: &District,
        records: &[Value],
    ) -> Result<ActivityContext, ApiError> {
        let text = |record: &Value, field: &str| {
            record.get(field).and_then(Value::as_str).map(str::to_owned)
        };
        let stations: Vec<String> = records
            .iter()
            .filter_map(|record| text(record, "workstation_external_id"))
            .collect();
        let numbers: Vec<String> = records
            .iter()
            .filter_map(|record| record.get("participant_member_nos")?.as_array().cloned())
            .flatten()
            .filter_map(|number| number.as_str().map(str::to_owned))
            .collect();
        Ok(ActivityContext {
            district: district.id,
            workstations: db::workstations::ids_by_external_ids(conn, district.id, &stations)
                .await?
                .into_iter()
                .filter_map(|(key, id)| Some((key?, id)))
                .collect(),
            members: db::members::ids_by_numbers(conn, district.id, &numbers)
                .await?
                .into_iter()
                .collect(),
        })
    }

    async fn read(
        conn: &mut AsyncPgConnection,
        mut record: Value,
        context: &ActivityContext,
    ) -> Result<SyncedActivity, ApiError> {
        take_external_id(&mut record)?;
        refuse_field(&record, "participant_ids", "participant_member_nos")?;
        refuse_field(&record, "workstation_id", "workstation_external_id")?;
        let station = take_text(&mut record, "workstation_external_id")?
            .ok_or_else(|| ApiError::required("/workstation_external_id"))?;
        let workstation_id = *context.workstations.get(&station).ok_or_else(|| {
            ApiError::unknown(
                "/workstation_external_id",
                "no live workstation of the district has this external_id",
            )
        })?;
        let numbers = match record
            .as_object_mut()
            .and_then(|object| object.remove("participant_member_nos"))
        {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(numbers)) => numbers,
            Some(_) => {
                return Err(ApiError::invalid(
                    "/participant_member_nos",
                    "must be a list of member numbers",
                ));
            }
        };
        let mut participants = Vec::new();
        let mut errors = Vec::new();
        for (index, number) in numbers.iter().enumerate() {
            match number
                .as_str()
                .and_then(|number| context.members.get(number))
            {
                Some(id) => participants.push(*id),
                None => errors.push(FieldError::unknown(
                    format!("/participant_member_nos/{index}"),
                    "no live member of the district has this member_no",
                )),
            }
        }
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        let patch: ActivityPatch = serde_json::from_value(record).map_err(|error| {
            ApiError::Validation(vec![FieldError::invalid("", error.to_string())])
        })?;
        // Without participant ids the merge asks the database nothing.
        let mut checks = Checks::default();
        let fields =
            crate::api::activities::merge(conn, &mut checks, patch, None, context.district).await?;
        let mut fields = checks.finish(fields)?;
        fields.participant_ids = crate::domain::values::distinct(participants);
        Ok(SyncedActivity {
            workstation_id,
            fields,
        })
    }

    fn key_of(row: &Activity) -> String {
        row.external_id.clone().unwrap_or_default()
    }
    fn fields_of(row: &Activity) -> SyncedActivity {
        SyncedActivity {
            workstation_id: row.workstation_id,
            fields: row.fields(),
        }
    }

    type AuditContext = ();

    async fn audit_context(
        _conn: &mut AsyncPgConnection,
        _rows: &[&Activity],
    ) -> Result<(), ApiError> {
        Ok(())
    }

    fn audited(row: &Activity, _context: &()) -> Value {
        json_of(ActivityView::from(row.clone()))
    }

    async fn lock(
        conn: &mut AsyncPgConnection,
        district: DistrictId,
        keys: &[String],
    ) -> QueryResult<Vec<Activity>> {
        db::activities::lock_by_external_ids(conn, district, keys).await
    }

    async fn upsert(
        conn: &mut AsyncPgConnection,
        district: DistrictId,
        rows: Vec<(uuid::Uuid, String, SyncedActivity)>,
    ) -> QueryResult<Vec<Activity>> {
        let rows = rows
            .into_iter()
            .map(|(id, key, synced)| (ActivityId(id), key, synced))
            .collect();
        db::activities::upsert_all(conn, district, rows).await
    }

    async fn delete(
        conn: &mut AsyncPgConnection,
        _district: DistrictId,
        rows: &[Activity],
    ) -> Result<Vec<Change>, ApiError> {
        let ids: Vec<ActivityId> = rows.iter().map(|row| row.id).collect();
        db::activities::mark_all_deleted(conn, &ids).await?;
        Ok(Vec::new())
    }
}
