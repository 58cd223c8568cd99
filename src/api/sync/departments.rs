//! Departments in sync batches, keyed by `external_id`.

use crate::domain::kinds::Entity;
use diesel::QueryResult;
use diesel_async::AsyncPgConnection;
use serde_json::Value;

use utoipa::openapi::schema::Schema;

use super::{Synced, json_of, take_external_id};
use crate::api::departments::{DepartmentPatch, DepartmentView};
use crate::api::input::Checks;
use crate::api::schema;
use crate::db;
use crate::db::audit::Change;
use crate::db::departments::{Department, DepartmentFields};
use crate::db::districts::District;
use crate::domain::ids::{DepartmentId, DistrictId};
use crate::error::{ApiError, FieldError};

/// Departments, keyed by `external_id`.
pub(super) struct Departments;

impl Synced for Departments {
    type Row = Department;
    type Fields = DepartmentFields;
    type Context = ();
    const ENTITY: Entity = Entity::Department;
    const KEY: &'static str = "external_id";

    fn upsert_schema() -> Schema {
        super::upsert_schema::<crate::api::departments::NewDepartment>(
            &["district_id"],
            vec![("external_id", schema::named("ExternalId"), true)],
        )
    }

    async fn context(
        _conn: &mut AsyncPgConnection,
        _district: &District,
        _records: &[Value],
    ) -> Result<(), ApiError> {
        Ok(())
    }

    async fn read(
        _conn: &mut AsyncPgConnection,
        mut record: Value,
        _context: &(),
    ) -> Result<DepartmentFields, ApiError> {
        take_external_id(&mut record)?;
        let patch: DepartmentPatch = serde_json::from_value(record).map_err(|error| {
            ApiError::Validation(vec![FieldError::invalid("", error.to_string())])
        })?;
        let mut checks = Checks::default();
        let fields = crate::api::departments::merge(&mut checks, patch, None);
        checks.finish(fields)
    }

    fn key_of(row: &Department) -> String {
        row.external_id.clone().unwrap_or_default()
    }
    fn fields_of(row: &Department) -> DepartmentFields {
        row.fields()
    }

    fn unique_name(fields: &DepartmentFields) -> Option<&str> {
        Some(&fields.name)
    }

    async fn names_taken(
        conn: &mut AsyncPgConnection,
        district: DistrictId,
        names: &[String],
    ) -> QueryResult<Vec<(String, uuid::Uuid)>> {
        db::departments::ids_by_names(conn, district, names).await
    }
    type AuditContext = ();

    async fn audit_context(
        _conn: &mut AsyncPgConnection,
        _rows: &[&Department],
    ) -> Result<(), ApiError> {
        Ok(())
    }

    fn audited(row: &Department, _context: &()) -> Value {
        json_of(DepartmentView::from(row.clone()))
    }

    async fn lock(
        conn: &mut AsyncPgConnection,
        district: DistrictId,
        keys: &[String],
    ) -> QueryResult<Vec<Department>> {
        db::departments::lock_by_external_ids(conn, district, keys).await
    }

    async fn upsert(
        conn: &mut AsyncPgConnection,
        district: DistrictId,
        rows: Vec<(uuid::Uuid, String, DepartmentFields)>,
    ) -> QueryResult<Vec<Department>> {
        let rows = rows
            .into_iter()
            .map(|(id, key, fields)| (DepartmentId(id), key, fields))
            .collect();
        db::departments::upsert_all(conn, district, rows).await
    }

    async fn delete(
        conn: &mut AsyncPgConnection,
        _district: DistrictId,
        rows: &[Department],
    ) -> Result<Vec<Change>, ApiError> {
        let ids: Vec<DepartmentId> = rows.iter().map(|row| row.id).collect();
        db::departments::mark_all_deleted(conn, &ids).await?;
        Ok(Vec::new())
    }
}
