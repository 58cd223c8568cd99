//! Accounts in sync batches, keyed by `external_id`: the people of a district (members,
//! units, leaders' offices) as the district system knows them.

use std::collections::HashMap;

use diesel::QueryResult;
use diesel_async::AsyncPgConnection;
use serde_json::Value;
use utoipa::openapi::schema::Schema;

use super::{Synced, json_of, refuse_field, take_external_id, take_text};
use crate::api::accounts::{AccountView, NewAccount};
use crate::api::input::{Checks, Field};
use crate::api::schema;
use crate::db;
use crate::db::accounts::{Account, AccountFields};
use crate::db::audit::Change;
use crate::db::districts::District;
use crate::domain::ids::{AccountId, DepartmentId, DistrictId, MemberId};
use crate::domain::kinds::{Entity, Role};
use crate::error::{ApiError, FieldError};

/// Accounts, keyed by `external_id`; the member by `member_no`, the unit by its
/// department's `department_external_id`.
pub(super) struct Accounts;

/// A synced account's fields, with its role (fixed once the account exists).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct SyncedAccount {
    role: Role,
    fields: AccountFields,
}

/// The district's members and departments the batch names, by the district system's
/// keys.
pub(super) struct AccountContext {
    members: HashMap<String, MemberId>,
    departments: HashMap<String, DepartmentId>,
}

impl Synced for Accounts {
    type Row = Account;
    type Fields = SyncedAccount;
    type Context = AccountContext;
    const ENTITY: Entity = Entity::Account;
    const KEY: &'static str = "external_id";

    fn upsert_schema() -> Schema {
        super::upsert_schema::<NewAccount>(
            &["district_id", "member_id", "department_id"],
            vec![
                ("external_id", schema::named("ExternalId"), true),
                ("member_no", schema::nullable("MemberNo"), false),
                (
                    "department_external_id",
                    schema::nullable("ExternalId"),
                    false,
                ),
            ],
        )
    }

    async fn context(
        conn: &mut AsyncPgConnection,
        district: &District,
        records: &[Value],
    ) -> Result<AccountContext, ApiError> {
        let named = |field: &str| -> Vec<String> {
            records
                .iter()
                .filter_map(|record| record.get(field)?.as_str().map(str::to_owned))
                .collect()
        };
        Ok(AccountContext {
            members: db::members::ids_by_numbers(conn, district.id, &named("member_no"))
                .await?
                .into_iter()
                .collect(),
            departments: db::departments::ids_by_external_ids(
                conn,
                district.id,
                &named("department_external_id"),
            )
            .await?
            .into_iter()
            .collect(),
        })
    }

    async fn read(
        conn: &mut AsyncPgConnection,
        mut record: Value,
        context: &AccountContext,
    ) -> Result<SyncedAccount, ApiError> {
        take_external_id(&mut record)?;
        refuse_field(&record, "member_id", "member_no")?;
        refuse_field(&record, "department_id", "department_external_id")?;
        refuse_field(&record, "district_id", "nothing: the batch's district")?;
        let member = take_text(&mut record, "member_no")?
            .map(|number| {
                context.members.get(&number).copied().ok_or_else(|| {
                    ApiError::unknown(
                        "/member_no",
                        "no live member of the district has this member_no",
                    )
                })
            })
            .transpose()?;
        let department = take_text(&mut record, "department_external_id")?
            .map(|key| {
                context.departments.get(&key).copied().ok_or_else(|| {
                    ApiError::unknown(
                        "/department_external_id",
                        "no live department of the district has this external_id",
                    )
                })
            })
            .transpose()?;
        let mut account: NewAccount = serde_json::from_value(record).map_err(|error| {
            ApiError::Validation(vec![FieldError::invalid("", error.to_string())])
        })?;
        if let Some(member) = member {
            account.member_id = Field::Value(member);
        }
        if let Some(department) = department {
            account.department_id = Field::Value(department);
        }
        let (_, role, patch) = account.split();
        let mut checks = Checks::default();
        let role = checks.required("/role", role, None, Ok);
        if role.is_some_and(|role| !role.is_person()) {
            checks.rule(
                "/role",
                "a district system syncs the district's people: member, unit or leaders_office",
            );
        }
        // The member and the department were found among the district's live ones.
        let fields =
            crate::api::accounts::merge(conn, &mut checks, role, None, patch, None).await?;
        checks.finish(
            role.zip(fields)
                .map(|(role, fields)| SyncedAccount { role, fields }),
        )
    }

    fn key_of(row: &Account) -> String {
        row.external_id.clone().unwrap_or_default()
    }

    fn fields_of(row: &Account) -> SyncedAccount {
        SyncedAccount {
            role: row.role,
            fields: row.fields(),
        }
    }

    fn frozen(row: &Account, fields: &SyncedAccount) -> Option<ApiError> {
        (row.role != fields.role).then(|| {
            ApiError::conflict(format!(
                "the account is a {} account: an account's role is fixed, so a person \
                 acting otherwise gets an account of their own",
                row.role.as_str()
            ))
        })
    }

    type AuditContext = ();

    async fn audit_context(
        _conn: &mut AsyncPgConnection,
        _rows: &[&Account],
    ) -> Result<(), ApiError> {
        Ok(())
    }

    fn audited(row: &Account, _context: &()) -> Value {
        json_of(AccountView::from(row.clone()))
    }

    async fn lock(
        conn: &mut AsyncPgConnection,
        district: DistrictId,
        keys: &[String],
    ) -> QueryResult<Vec<Account>> {
        db::accounts::lock_by_external_ids(conn, district, keys).await
    }

    async fn upsert(
        conn: &mut AsyncPgConnection,
        district: DistrictId,
        rows: Vec<(uuid::Uuid, String, SyncedAccount)>,
    ) -> QueryResult<Vec<Account>> {
        let rows = rows
            .into_iter()
            .map(|(id, key, synced)| (AccountId(id), key, synced.role, synced.fields))
            .collect();
        db::accounts::upsert_all(conn, district, rows).await
    }

    async fn delete(
        conn: &mut AsyncPgConnection,
        _district: DistrictId,
        rows: &[Account],
    ) -> Result<Vec<Change>, ApiError> {
        let ids: Vec<AccountId> = rows.iter().map(|row| row.id).collect();
        db::accounts::mark_all_deleted(conn, &ids).await?;
        Ok(Vec::new())
    }
}
