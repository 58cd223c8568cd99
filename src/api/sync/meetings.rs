//! Meetings and their attendance in sync batches, keyed by `external_id`.

use crate::domain::kinds::Entity;
use std::collections::HashMap;

use diesel::QueryResult;
use diesel_async::AsyncPgConnection;
use serde::Deserialize;
use serde_json::Value;

use utoipa::openapi::schema::Schema;

use super::{Synced, json_of, refuse_field, take_external_id};
use crate::api::input::Checks;
use crate::api::meetings::{AttendanceView, MeetingPatch, MeetingView};
use crate::api::schema;
use crate::db;
use crate::db::audit::Change;
use crate::db::districts::District;
use crate::db::meetings::{MeetingRecord, SyncedMeeting};
use crate::domain::ids::{DistrictId, MeetingId, MemberId};
use crate::domain::kinds::AttendanceStatus;
use crate::error::{ApiError, FieldError};

/// Meetings with their attendance, keyed by `external_id`; the attendance names members by
/// `member_no`.
pub(super) struct Meetings;

/// One member's attendance as a synced meeting gives it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SyncedAttendance {
    member_no: String,
    status: AttendanceStatus,
    #[serde(default)]
    note: Option<String>,
}

impl Synced for Meetings {
    type Row = MeetingRecord;
    type Fields = SyncedMeeting;
    /// The district's live members by number, of those the batch names.
    type Context = HashMap<String, MemberId>;
    const ENTITY: Entity = Entity::Meeting;
    const KEY: &'static str = "external_id";

    fn upsert_schema() -> Schema {
        use utoipa::openapi::schema::{AdditionalProperties, ArrayBuilder, ObjectBuilder};
        let entry = ObjectBuilder::new()
            .property("member_no", schema::named("MemberNo"))
            .property("status", schema::named("AttendanceStatus"))
            .property("note", schema::nullable("Paragraph500"))
            .required("member_no")
            .required("status")
            .additional_properties(Some(AdditionalProperties::FreeForm(false)));
        super::upsert_schema::<crate::api::meetings::NewMeeting>(
            &["district_id"],
            vec![
                ("external_id", schema::named("ExternalId"), true),
                (
                    "attendance",
                    schema::or_null(ArrayBuilder::new().items(entry).description(Some(
                        "The meeting's whole attendance, each member once; absent or `null`: \
                         nobody's is recorded.",
                    )))
                    .into(),
                    false,
                ),
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
            .filter_map(|record| record.get("attendance")?.as_array().cloned())
            .flatten()
            .filter_map(|entry| entry.get("member_no")?.as_str().map(str::to_owned))
            .collect();
        Ok(db::members::ids_by_numbers(conn, district.id, &numbers)
            .await?
            .into_iter()
            .collect())
    }

    async fn read(
        _conn: &mut AsyncPgConnection,
        mut record: Value,
        context: &HashMap<String, MemberId>,
    ) -> Result<SyncedMeeting, ApiError> {
        take_external_id(&mut record)?;
        refuse_field(&record, "district_id", "the batch's district")?;
        let entries = match record
            .as_object_mut()
            .and_then(|object| object.remove("attendance"))
        {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(entries)) => entries,
            Some(_) => {
                return Err(ApiError::invalid(
                    "/attendance",
                    "must be a list of {member_no, status, note}",
                ));
            }
        };
        let mut attendance = Vec::with_capacity(entries.len());
        let mut errors = Vec::new();
        for (index, entry) in entries.into_iter().enumerate() {
            let at = |field: &str| format!("/attendance/{index}{field}");
            let entry: SyncedAttendance = match serde_json::from_value(entry) {
                Ok(entry) => entry,
                Err(error) => {
                    errors.push(FieldError::invalid(at(""), error.to_string()));
                    continue;
                }
            };
            let Some(member) = context.get(&entry.member_no) else {
                errors.push(FieldError::unknown(
                    at("/member_no"),
                    "no live member of the district has this member_no",
                ));
                continue;
            };
            if attendance.iter().any(|(listed, _, _)| listed == member) {
                errors.push(FieldError::rule(at("/member_no"), "is listed twice"));
                continue;
            }
            let note = match entry
                .note
                .map(|note| crate::api::meetings::attendance_note(&note))
                .transpose()
            {
                Ok(note) => note,
                Err(detail) => {
                    errors.push(FieldError::invalid(at("/note"), detail));
                    continue;
                }
            };
            attendance.push((*member, entry.status, note));
        }
        let patch: Result<MeetingPatch, _> = serde_json::from_value(record);
        let fields = match patch {
            Ok(patch) => {
                let mut checks = Checks::default();
                let fields = crate::api::meetings::merge(&mut checks, patch, None);
                checks.finish(fields).map_err(|error| match error {
                    ApiError::Validation(mut found) => {
                        found.append(&mut errors);
                        ApiError::Validation(found)
                    }
                    other => other,
                })?
            }
            Err(error) => {
                errors.insert(0, FieldError::invalid("", error.to_string()));
                return Err(ApiError::Validation(errors));
            }
        };
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        attendance.sort_by_key(|(member, _, _)| *member);
        Ok(SyncedMeeting { fields, attendance })
    }

    fn key_of(row: &MeetingRecord) -> String {
        row.meeting.external_id.clone().unwrap_or_default()
    }
    fn fields_of(row: &MeetingRecord) -> SyncedMeeting {
        row.synced()
    }

    type AuditContext = ();

    async fn audit_context(
        _conn: &mut AsyncPgConnection,
        _rows: &[&MeetingRecord],
    ) -> Result<(), ApiError> {
        Ok(())
    }

    fn audited(row: &MeetingRecord, _context: &()) -> Value {
        let attendance = row
            .attendance
            .iter()
            .cloned()
            .map(AttendanceView::from)
            .collect();
        json_of(MeetingView::new(row.meeting.clone(), attendance))
    }

    async fn lock(
        conn: &mut AsyncPgConnection,
        district: DistrictId,
        keys: &[String],
    ) -> QueryResult<Vec<MeetingRecord>> {
        db::meetings::lock_by_external_ids(conn, district, keys).await
    }

    async fn upsert(
        conn: &mut AsyncPgConnection,
        district: DistrictId,
        rows: Vec<(uuid::Uuid, String, SyncedMeeting)>,
    ) -> QueryResult<Vec<MeetingRecord>> {
        let rows = rows
            .into_iter()
            .map(|(id, key, synced)| (MeetingId(id), key, synced))
            .collect();
        db::meetings::upsert_all(conn, district, rows).await
    }

    async fn delete(
        conn: &mut AsyncPgConnection,
        _district: DistrictId,
        rows: &[MeetingRecord],
    ) -> Result<Vec<Change>, ApiError> {
        let ids: Vec<MeetingId> = rows.iter().map(|row| row.meeting.id).collect();
        db::meetings::mark_all_deleted(conn, &ids).await?;
        Ok(Vec::new())
    }
}
