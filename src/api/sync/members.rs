//! Members in sync batches, keyed by `member_no`.

use crate::domain::kinds::Entity;
use diesel::QueryResult;
use diesel_async::AsyncPgConnection;
use serde_json::Value;

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;

use super::{Synced, json_of};
use crate::api::input::Checks;
use crate::api::members::{MemberPatch, MemberView};
use crate::api::schema;
use crate::db;
use crate::db::audit::Change;
use crate::db::districts::District;
use crate::db::members::{Member, MemberFields};
use crate::domain::ids::{DistrictId, MemberId};
use crate::error::{ApiError, FieldError};

/// Members, keyed by `member_no`.
pub(super) struct Members;

impl Synced for Members {
    type Row = Member;
    type Fields = MemberFields;
    type Context = (i32, crate::db::reference::MemberCodes);
    const ENTITY: Entity = Entity::Member;
    const KEY: &'static str = "member_no";

    fn upsert_schema() -> Schema {
        super::upsert_schema::<crate::api::members::NewMember>(&["district_id"], Vec::new())
    }

    fn key_schema() -> RefOr<Schema> {
        schema::named("MemberNo")
    }

    fn check_key(key: &str) -> Result<String, String> {
        crate::domain::values::member_no(key)
    }

    async fn context(
        conn: &mut AsyncPgConnection,
        district: &District,
        _records: &[Value],
    ) -> Result<Self::Context, ApiError> {
        Ok((
            district.term,
            crate::db::reference::member_codes(conn).await?,
        ))
    }

    async fn read(
        _conn: &mut AsyncPgConnection,
        record: Value,
        (term, codes): &Self::Context,
    ) -> Result<MemberFields, ApiError> {
        let patch: MemberPatch = serde_json::from_value(record).map_err(|error| {
            ApiError::Validation(vec![FieldError::invalid("", error.to_string())])
        })?;
        let mut checks = Checks::default();
        let fields = crate::api::members::merge(&mut checks, patch, None, *term, codes);
        checks.finish(fields)
    }

    fn key_of(row: &Member) -> String {
        row.member_no.clone()
    }
    fn fields_of(row: &Member) -> MemberFields {
        row.fields()
    }
    type AuditContext = ();

    async fn audit_context(
        _conn: &mut AsyncPgConnection,
        _rows: &[&Member],
    ) -> Result<(), ApiError> {
        Ok(())
    }

    fn audited(row: &Member, _context: &()) -> Value {
        json_of(MemberView::from(row.clone()))
    }

    async fn lock(
        conn: &mut AsyncPgConnection,
        district: DistrictId,
        keys: &[String],
    ) -> QueryResult<Vec<Member>> {
        db::members::lock_by_numbers(conn, district, keys).await
    }

    async fn upsert(
        conn: &mut AsyncPgConnection,
        district: DistrictId,
        rows: Vec<(uuid::Uuid, String, MemberFields)>,
    ) -> QueryResult<Vec<Member>> {
        let rows = rows
            .into_iter()
            .map(|(id, _, fields)| (MemberId(id), fields))
            .collect();
        db::members::upsert_all(conn, district, rows).await
    }

    async fn delete(
        conn: &mut AsyncPgConnection,
        district: DistrictId,
        rows: &[Member],
    ) -> Result<Vec<Change>, ApiError> {
        let ids: Vec<MemberId> = rows.iter().map(|row| row.id).collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let stations = crate::db::workstations::ids_involving_any(conn, &ids).await?;
        let before = crate::api::workstations::views(conn, &stations).await?;
        db::members::soft_delete_all(conn, &ids).await?;
        let after = crate::api::workstations::views(conn, &stations).await?;
        Ok(before
            .iter()
            .filter_map(|old| {
                let new = after.iter().find(|station| station.id == old.id)?;
                (new.version != old.version).then(|| {
                    Change::new("remove_member", Entity::Workstation, old.id, Some(district))
                        .before(old)
                        .after(new)
                })
            })
            .collect())
    }
}
