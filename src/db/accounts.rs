//! Queries on accounts and their identities.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::pagination::{PageRequest, page_row, paged};
use crate::db::schema::{account_identities, accounts};
use crate::domain::account::{AccountStatus, ActorAccount, Authentication};
use crate::domain::ids::{AccountId, DepartmentId, DistrictId, MemberId};
use crate::domain::kinds::Role;
use crate::domain::ruling::LeaderTitle;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = accounts, check_for_backend(diesel::pg::Pg))]
pub struct Account {
    pub id: AccountId,
    pub district_id: Option<DistrictId>,
    pub display_name: String,
    pub role: Role,
    pub member_id: Option<MemberId>,
    pub department_id: Option<DepartmentId>,
    pub leader_title: Option<LeaderTitle>,
    pub status: AccountStatus,
    /// The district system's id, for accounts it syncs.
    pub external_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
    pub deleted_at: Option<DateTime<Utc>>,
}

impl Account {
    /// What the account acts for, if it is a person of a district whose links are
    /// whole (the database's constraints keep them so).
    pub fn person(&self) -> Option<crate::domain::access::Person> {
        use crate::domain::access::Person;
        match self.role {
            Role::Member => self.member_id.map(Person::Member),
            Role::Unit => self.department_id.map(Person::Unit),
            Role::LeadersOffice => self.leader_title.map(Person::Office),
            Role::Admin | Role::Clerk | Role::Sync | Role::Auditor => None,
        }
    }

    /// The account as the trail names its acts, authenticated `by` (an identity
    /// provider's token names its `issuer`).
    pub fn actor(&self, by: Authentication, issuer: Option<String>) -> ActorAccount {
        ActorAccount {
            id: self.id,
            display_name: self.display_name.clone(),
            role: self.role,
            district_id: self.district_id,
            member_id: self.member_id,
            department_id: self.department_id,
            leader_title: self.leader_title,
            authenticated_by: by,
            issuer,
        }
    }
}

super::record_fields! {
    /// The fields a client sets (the role and the district are fixed at creation).
    pub struct AccountFields for Account in accounts {
        pub display_name: String,
        pub member_id: Option<MemberId>,
        pub department_id: Option<DepartmentId>,
        pub leader_title: Option<LeaderTitle>,
        pub status: AccountStatus,
    }
}

page_row!(Account, Name => display_name);

#[derive(Debug, Default)]
pub struct AccountFilter {
    /// The caller's districts: a district's callers see its accounts only.
    pub scope: crate::domain::access::Scope,
    pub district_id: Option<DistrictId>,
    pub role: Option<Role>,
    pub status: Option<AccountStatus>,
    pub member_id: Option<MemberId>,
    pub department_id: Option<DepartmentId>,
    /// Text in the display name.
    pub q: Option<String>,
}

#[tracing::instrument(skip_all)]
pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &AccountFilter,
    page: &PageRequest,
) -> QueryResult<Vec<Account>> {
    let mut query = accounts::table.select(Account::as_select()).into_boxed();
    if let Some(district) = filter.scope.district() {
        query = query.filter(accounts::district_id.eq(district));
    }
    if let Some(person) = filter.scope.person() {
        query = query.filter(<Account as super::SeenBy>::seen_by(person));
    }
    if let Some(district_id) = filter.district_id {
        query = query.filter(accounts::district_id.eq(district_id));
    }
    if let Some(role) = filter.role {
        query = query.filter(accounts::role.eq(role));
    }
    if let Some(status) = filter.status {
        query = query.filter(accounts::status.eq(status));
    }
    if let Some(member) = filter.member_id {
        query = query.filter(accounts::member_id.eq(member));
    }
    if let Some(department) = filter.department_id {
        query = query.filter(accounts::department_id.eq(department));
    }
    if let Some(q) = &filter.q {
        query = query.filter(accounts::display_name.ilike(super::like_pattern(q)));
    }
    paged!(query, page,
        id: accounts::id, updated_at: accounts::updated_at, deleted_at: accounts::deleted_at,
        Name => accounts::display_name)
    .load(conn)
    .await
}

super::record_queries!(accounts, Account, AccountFields, AccountId);

/// No person reads accounts through the API (their own is in the trail of their acts).
impl super::SeenBy for Account {
    type Table = accounts::table;

    fn seen_by(_person: crate::domain::access::Person) -> super::Seen<accounts::table> {
        super::no_row()
    }
}

#[derive(Insertable)]
#[diesel(table_name = accounts)]
struct NewAccountRow {
    id: AccountId,
    district_id: Option<DistrictId>,
    role: Role,
    external_id: Option<String>,
    #[diesel(embed)]
    fields: AccountFields,
}

#[tracing::instrument(skip_all)]
pub async fn insert(
    conn: &mut AsyncPgConnection,
    district_id: Option<DistrictId>,
    role: Role,
    fields: AccountFields,
) -> QueryResult<Account> {
    diesel::insert_into(accounts::table)
        .values(NewAccountRow {
            id: AccountId::generate(),
            district_id,
            role,
            external_id: None,
            fields,
        })
        .returning(Account::as_returning())
        .get_result(conn)
        .await
}

/// The live accounts of `district` with these external ids, locked until the transaction
/// ends.
#[tracing::instrument(skip_all)]
pub async fn lock_by_external_ids(
    conn: &mut AsyncPgConnection,
    district: DistrictId,
    keys: &[String],
) -> QueryResult<Vec<Account>> {
    accounts::table
        .select(Account::as_select())
        .filter(accounts::district_id.eq(district))
        .filter(accounts::external_id.eq_any(keys))
        .filter(accounts::deleted_at.is_null())
        // One order for every batch: two batches never wait on each other in a cycle.
        .order(accounts::external_id)
        .for_update()
        .load(conn)
        .await
}

/// Creates or replaces accounts of `district` by external id, in one statement; each
/// new row with its role (an existing row keeps its own: the role is fixed).
#[tracing::instrument(skip_all, fields(rows = rows.len()))]
pub async fn upsert_all(
    conn: &mut AsyncPgConnection,
    district: DistrictId,
    rows: Vec<(AccountId, String, Role, AccountFields)>,
) -> QueryResult<Vec<Account>> {
    use diesel::query_builder::DecoratableTarget;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<NewAccountRow> = rows
        .into_iter()
        .map(|(id, external_id, role, fields)| NewAccountRow {
            id,
            district_id: Some(district),
            role,
            external_id: Some(external_id),
            fields,
        })
        .collect();
    diesel::insert_into(accounts::table)
        .values(rows)
        .on_conflict((accounts::district_id, accounts::external_id))
        .filter_target(
            accounts::deleted_at
                .is_null()
                .and(accounts::external_id.is_not_null()),
        )
        .do_update()
        .set(AccountFields::excluded())
        .returning(Account::as_returning())
        .get_results(conn)
        .await
}

/// Marks accounts deleted, in one statement (a district system that stops sending an
/// account): they can no longer act.
#[tracing::instrument(skip_all)]
pub async fn mark_all_deleted(conn: &mut AsyncPgConnection, ids: &[AccountId]) -> QueryResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    diesel::update(accounts::table.filter(accounts::id.eq_any(ids)))
        .set(accounts::deleted_at.eq(diesel::dsl::now))
        .execute(conn)
        .await
        .map(drop)
}

/// One identity an OpenID Connect provider gives a person.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Queryable, Selectable, Insertable)]
#[diesel(table_name = account_identities, check_for_backend(diesel::pg::Pg))]
pub struct Identity {
    pub issuer: String,
    pub subject: String,
}

/// The identities linked to an account, ordered.
#[tracing::instrument(skip_all)]
pub async fn identities(
    conn: &mut AsyncPgConnection,
    account: AccountId,
) -> QueryResult<Vec<Identity>> {
    account_identities::table
        .select(Identity::as_select())
        .filter(account_identities::account_id.eq(account))
        .order((account_identities::issuer, account_identities::subject))
        .load(conn)
        .await
}

/// Which of `identities` are linked to another account than `account`, in one statement.
#[tracing::instrument(skip_all)]
pub async fn linked_elsewhere(
    conn: &mut AsyncPgConnection,
    account: AccountId,
    identities: &[Identity],
) -> QueryResult<Vec<Identity>> {
    if identities.is_empty() {
        return Ok(Vec::new());
    }
    let issuers: Vec<&str> = identities.iter().map(|i| i.issuer.as_str()).collect();
    let subjects: Vec<&str> = identities.iter().map(|i| i.subject.as_str()).collect();
    let candidates: Vec<Identity> = account_identities::table
        .select(Identity::as_select())
        .filter(account_identities::issuer.eq_any(issuers))
        .filter(account_identities::subject.eq_any(subjects))
        .filter(account_identities::account_id.ne(account))
        .load(conn)
        .await?;
    // The two lists match their cross product: only the pairs asked for count.
    Ok(candidates
        .into_iter()
        .filter(|linked| identities.contains(linked))
        .collect())
}

/// Replaces the identities linked to `account` by `identities`.
#[tracing::instrument(skip_all)]
pub async fn replace_identities(
    conn: &mut AsyncPgConnection,
    account: AccountId,
    identities: &[Identity],
) -> QueryResult<()> {
    diesel::delete(account_identities::table.filter(account_identities::account_id.eq(account)))
        .execute(conn)
        .await?;
    if identities.is_empty() {
        return Ok(());
    }
    let rows: Vec<_> = identities
        .iter()
        .map(|identity| {
            (
                account_identities::issuer.eq(&identity.issuer),
                account_identities::subject.eq(&identity.subject),
                account_identities::account_id.eq(account),
            )
        })
        .collect();
    diesel::insert_into(account_identities::table)
        .values(rows)
        .execute(conn)
        .await
        .map(drop)
}

/// The live, active account an identity is linked to.
#[tracing::instrument(skip_all)]
pub async fn by_identity(
    conn: &mut AsyncPgConnection,
    issuer: &str,
    subject: &str,
) -> QueryResult<Option<Account>> {
    account_identities::table
        .inner_join(accounts::table)
        .select(Account::as_select())
        .filter(account_identities::issuer.eq(issuer))
        .filter(account_identities::subject.eq(subject))
        .filter(accounts::deleted_at.is_null())
        .first(conn)
        .await
        .optional()
}
