//! `/api/v1/accounts`: the people who act — a member, a unit or a leaders' office of a
//! district, or a staff role — and the identity-provider identities linked to them.
//!
//! Administrators manage every account; a district's clerks manage their district's
//! (never an administrator's or an auditor's, which belong to no district). An account's
//! role and district are fixed when it is made; what it acts for, its name and whether it
//! may act change. A disabled account is refused on its next request.

use std::collections::BTreeSet;

use actix_web::{HttpResponse, get, patch, post, put, web};
use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::api::audit::{HistoryQuery, record};
use crate::api::auth::Caller;
use crate::api::districts::referenced_district;
use crate::api::edit::{self, Editable};
use crate::api::http::{IfMatch, IfMatchHeader, IfNoneMatch, IfNoneMatchHeader, created_response};
use crate::api::input::{Checks, Field};
use crate::api::page::{Page, list_query, page};
use crate::api::policy::{read, read_with, write};
use crate::api::work::{Db, Write};
use crate::db::accounts::{self as db, Account, AccountFields, AccountFilter, Identity};
use crate::db::audit::Change;
use crate::domain::account::AccountStatus;
use crate::domain::ids::{AccountId, DepartmentId, DistrictId, MemberId};
use crate::domain::kinds::{Entity, Role};
use crate::domain::ruling::LeaderTitle;
use crate::domain::values::{FilterText, Line};
use crate::error::{ApiError, Problem};
use crate::key_cache::KeyCache;

pub fn configure(config: &mut ServiceConfig) {
    use crate::domain::access::DistrictOf::*;
    config.service(
        utoipa_actix_web::scope("/accounts")
            .service(read(Filter, list_accounts))
            .service(write(Body, create_account))
            .service(read(Path, get_account))
            .service(write(Path, update_account))
            .service(read(Path, get_account_history))
            .service(read(Path, get_account_identities))
            .service(write(Path, put_account_identities)),
    );
    config.service(read_with(
        crate::domain::access::PROPOSAL_PEOPLE,
        Nothing,
        who_am_i,
    ));
}

/// Who the caller is, as the service sees them: what a front end asks first after a
/// person signs in.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub role: Role,
    /// The caller's district; `null` for administrators and auditors.
    pub district_id: Option<DistrictId>,
    /// The key the request came with; `null` for a person signed in with an OpenID
    /// Connect token.
    pub key_id: Option<crate::domain::ids::ApiKeyId>,
    /// The person, when a person calls (a personal key of an account, or an OpenID Connect
    /// token of a subject linked to one): the account, what it acts for and how it
    /// authenticated, as the audit trail names them.
    pub account: Option<crate::domain::account::ActorAccount>,
}

/// Who is calling: the role, district and key of the request, and the person's account.
#[utoipa::path(
    tag = "accounts",
    responses((status = 200, description = "The caller", body = Me)),
)]
#[get("/me")]
async fn who_am_i(caller: Caller) -> web::Json<Me> {
    web::Json(Me {
        role: caller.role,
        district_id: caller.district_id,
        key_id: caller.key_id,
        account: caller.account.as_deref().cloned(),
    })
}

/// A person who acts: for a member, a unit or a leaders' office of a district, or in a
/// staff role. They authenticate with a personal key of the account or with an identity
/// provider's token whose issuer and subject are linked to it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Account)]
pub struct AccountView {
    pub id: AccountId,
    /// The account's district; `null` for administrators and auditors.
    pub district_id: Option<DistrictId>,
    #[schema(example = "王芳")]
    pub display_name: String,
    /// `member`, `unit` or `leaders_office` (a person acting for something of the
    /// district), or `admin`, `clerk`, `auditor` (staff). Never `sync`: district systems
    /// use machine keys.
    pub role: Role,
    /// The member the account acts for (role `member`).
    pub member_id: Option<MemberId>,
    /// The unit the account acts for (role `unit`).
    pub department_id: Option<DepartmentId>,
    /// The leader whose office the account acts for (role `leaders_office`).
    pub leader_title: Option<LeaderTitle>,
    pub status: AccountStatus,
    /// The district system's id, for accounts it syncs (`/sync/accounts`).
    pub external_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Increases with every change; sent as the `ETag`.
    pub version: i64,
}

/// A page of a list of Account records.
pub type AccountPage = crate::api::page::Page<AccountView>;

impl From<Account> for AccountView {
    fn from(row: Account) -> Self {
        Self {
            id: row.id,
            district_id: row.district_id,
            display_name: row.display_name,
            role: row.role,
            member_id: row.member_id,
            department_id: row.department_id,
            leader_title: row.leader_title,
            status: row.status,
            external_id: row.external_id,
            created_at: row.created_at,
            updated_at: row.updated_at,
            version: row.version,
        }
    }
}

crate::api::http::versioned!(AccountView);

/// A new account.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    /// Required for every role but `admin` and `auditor`, refused for those; cannot be
    /// changed later.
    #[serde(default)]
    #[schema(value_type = Option<DistrictId>)]
    pub district_id: Field<DistrictId>,
    #[serde(default)]
    #[schema(value_type = Line<100>, required = true, example = "王芳")]
    pub display_name: Field<Line<100>>,
    /// Cannot be changed later; `sync` is refused. A district's clerks make accounts of
    /// their district only.
    #[serde(default)]
    #[schema(value_type = Role, required = true)]
    pub role: Field<Role>,
    /// Required for a `member` account, refused for the others: a live member of the
    /// account's district.
    #[serde(default)]
    #[schema(value_type = Option<MemberId>)]
    pub member_id: Field<MemberId>,
    /// Required for a `unit` account, refused for the others: a live department of the
    /// account's district.
    #[serde(default)]
    #[schema(value_type = Option<DepartmentId>)]
    pub department_id: Field<DepartmentId>,
    /// Required for a `leaders_office` account, refused for the others.
    #[serde(default)]
    #[schema(value_type = Option<LeaderTitle>)]
    pub leader_title: Field<LeaderTitle>,
    /// `active` unless given.
    #[serde(default)]
    #[schema(value_type = AccountStatus)]
    pub status: Field<AccountStatus>,
}

/// Changes to an account (JSON Merge Patch: absent fields are kept, `null` clears). What
/// it acts for must still fit its role.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountPatch {
    #[serde(default)]
    #[schema(value_type = Line<100>)]
    pub display_name: Field<Line<100>>,
    #[serde(default)]
    #[schema(value_type = Option<MemberId>)]
    pub member_id: Field<MemberId>,
    #[serde(default)]
    #[schema(value_type = Option<DepartmentId>)]
    pub department_id: Field<DepartmentId>,
    #[serde(default)]
    #[schema(value_type = Option<LeaderTitle>)]
    pub leader_title: Field<LeaderTitle>,
    /// `disabled` refuses the account's personal keys and tokens from its next request.
    #[serde(default)]
    #[schema(value_type = AccountStatus)]
    pub status: Field<AccountStatus>,
}

impl NewAccount {
    pub(crate) fn split(self) -> (Field<DistrictId>, Field<Role>, AccountPatch) {
        let patch = AccountPatch {
            display_name: self.display_name,
            member_id: self.member_id,
            department_id: self.department_id,
            leader_title: self.leader_title,
            status: self.status,
        };
        (self.district_id, self.role, patch)
    }
}

/// The account's fields after `patch`, from `current` (none for a new account), for an
/// account of `role` in `district`: what it acts for must fit its role (when the role is
/// known) and be a live record of its district.
pub(crate) async fn merge(
    conn: &mut AsyncPgConnection,
    checks: &mut Checks,
    role: Option<Role>,
    district: Option<DistrictId>,
    patch: AccountPatch,
    current: Option<&AccountFields>,
) -> Result<Option<AccountFields>, ApiError> {
    let display_name = checks.required(
        "/display_name",
        patch.display_name,
        current.map(|c| c.display_name.clone()),
        |v| Ok(v.into()),
    );
    let member_id = checks.optional(
        "/member_id",
        patch.member_id,
        current.and_then(|c| c.member_id),
        Ok,
    );
    let department_id = checks.optional(
        "/department_id",
        patch.department_id,
        current.and_then(|c| c.department_id),
        Ok,
    );
    let leader_title = checks.optional(
        "/leader_title",
        patch.leader_title,
        current.and_then(|c| c.leader_title),
        Ok,
    );
    let status = checks.required(
        "/status",
        patch.status,
        current.map_or(Some(AccountStatus::Active), |c| Some(c.status)),
        Ok,
    );
    for (pointer, given, wanted) in [
        ("/member_id", member_id.is_some(), Role::Member),
        ("/department_id", department_id.is_some(), Role::Unit),
        ("/leader_title", leader_title.is_some(), Role::LeadersOffice),
    ] {
        let Some(role) = role else { continue };
        match (given, role == wanted) {
            (false, true) => checks.rule(
                pointer,
                format!("is required for a {} account", wanted.as_str()),
            ),
            (true, false) => checks.rule(
                pointer,
                format!("is only for a {} account", wanted.as_str()),
            ),
            _ => {}
        }
    }
    if let (Some(member), Some(district)) = (member_id, district)
        && crate::db::members::existing_in_district(conn, district, &[member])
            .await?
            .is_empty()
    {
        checks.unknown("/member_id", "no live member of the account's district");
    }
    if let (Some(department), Some(district)) = (department_id, district)
        && crate::db::departments::existing_in_district(conn, district, &[department])
            .await?
            .is_empty()
    {
        checks.unknown(
            "/department_id",
            "no live department of the account's district",
        );
    }
    Ok((|| {
        Some(AccountFields {
            display_name: display_name?,
            member_id,
            department_id,
            leader_title,
            status: status?,
        })
    })())
}

list_query! {
    /// Filters of the account list.
    AccountQuery, sort: AccountSort { Created = "created", UpdatedAt = "updated_at", Name = "name" },
    {
        /// Only accounts of this district.
        district_id: DistrictId,
        role: Role,
        status: AccountStatus,
        /// Only the accounts acting for this member.
        member_id: MemberId,
        /// Only the accounts acting for this unit.
        department_id: DepartmentId,
        /// Text in the display name.
        #[param(inline)]
        q: FilterText<100>,
    }
}

/// List accounts.
#[utoipa::path(
    tag = "accounts",
    params(AccountQuery),
    responses((status = 200, description = "A page of accounts", body = AccountPage)),
)]
#[get("")]
async fn list_accounts(
    caller: Caller,
    pool: Db,
    query: web::Query<AccountQuery>,
) -> Result<web::Json<Page<AccountView>>, ApiError> {
    let query = query.into_inner();
    let request = query.page()?;
    let filter = AccountFilter {
        scope: caller.scope(),
        district_id: query.district_id,
        role: query.role,
        status: query.status,
        member_id: query.member_id,
        department_id: query.department_id,
        q: query.q.and_then(FilterText::into_filter),
    };
    let mut conn = pool.conn().await?;
    let rows = db::list(&mut conn, &filter, &request).await?;
    Ok(web::Json(page(rows, &request, AccountView::from)))
}

edit::get_route! {
    /// Get an account.
    get_account: Account, GET "/{id}",
    tag = "accounts", params(("id" = AccountId, Path, description = "The account's id")), path = AccountId,
    answer = (AccountView, "The account"),
}

/// Create an account. Administrators make any; a district's clerks make accounts of
/// their district (`clerk`, `member`, `unit`, `leaders_office`).
#[utoipa::path(
    tag = "accounts",
    request_body = NewAccount,
    responses(
        (status = 201, description = "The new account", body = AccountView,
            headers(("ETag" = String), ("Location" = String, description = "The account's URL"))),
        (status = 403, description = "A clerk making an account of no district (`admin`, `auditor`)",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("")]
async fn create_account(
    caller: Caller,
    pool: Db,
    body: crate::api::http::Json<NewAccount>,
) -> Result<HttpResponse, ApiError> {
    let (district_id, role, patch) = body.into_inner().split();
    let mut conn = pool.conn().await?;
    let account = conn
        .write(async move |conn| {
            let mut checks = Checks::default();
            let role = checks.required("/role", role, None, Ok);
            let district = match role {
                Some(Role::Sync) => {
                    checks.rule(
                        "/role",
                        "no account is a district system: sync uses machine keys",
                    );
                    None
                }
                Some(role) if !role.is_district_scoped() => {
                    if caller.district_id.is_some() {
                        return Err(ApiError::Forbidden(format!(
                            "a district's clerk makes accounts of the district; an {} \
                             account belongs to no district",
                            role.as_str()
                        )));
                    }
                    if !matches!(district_id, Field::Missing) {
                        checks.rule(
                            "/district_id",
                            format!("an {} account belongs to no district", role.as_str()),
                        );
                    }
                    None
                }
                // The document says `district_id` may be absent or null (for an
                // administrator's or an auditor's account): for every other role it is a
                // rule between the two fields.
                Some(role) if matches!(district_id, Field::Missing | Field::Null) => {
                    checks.rule(
                        "/district_id",
                        format!("is required for a {} account", role.as_str()),
                    );
                    None
                }
                None if matches!(district_id, Field::Missing | Field::Null) => None,
                _ => referenced_district(conn, &mut checks, district_id, caller.scope())
                    .await?
                    .map(|district| district.id),
            };
            let fields = merge(conn, &mut checks, role, district, patch, None).await?;
            let (role, fields) = checks.finish(role.zip(fields))?;
            let account = db::insert(conn, district, role, fields).await?;
            let change = Change::new("create", Entity::Account, account.id, district);
            record(
                conn,
                &caller,
                change.after(&AccountView::from(account.clone())),
            );
            Ok::<_, ApiError>(account)
        })
        .await?;
    let location = format!("/api/v1/accounts/{}", account.id);
    Ok(created_response(&AccountView::from(account), location))
}

/// Change an account (JSON Merge Patch). Disabling it (`status: disabled`) refuses its
/// personal keys and tokens from the next request on, on every instance.
#[utoipa::path(
    tag = "accounts",
    params(("id" = AccountId, Path, description = "The account's id"), IfMatchHeader),
    request_body(content = AccountPatch, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The changed account", body = AccountView, headers(("ETag" = String))),
    ),
)]
#[patch("/{id}")]
async fn update_account(
    caller: Caller,
    pool: Db,
    cache: web::Data<KeyCache>,
    path: web::Path<AccountId>,
    condition: IfMatch,
    body: crate::api::http::Json<AccountPatch>,
) -> Result<HttpResponse, ApiError> {
    let answer = edit::update::<Account>(
        &pool,
        caller,
        path.into_inner(),
        condition,
        body.into_inner(),
    )
    .await?;
    // Once committed (with an Idempotency-Key, at the request's own COMMIT), no request
    // answered after this one is let in by what this process remembered of the account;
    // the others forget it on the database's notification.
    pool.after_commit(move || cache.forget_all());
    Ok(answer)
}

impl Editable for Account {
    edit::own!(AccountId, "account");
    type Patch = AccountPatch;
    type View = AccountView;
    const ENTITY: Entity = Entity::Account;
    type Lists = ();

    async fn merge(
        conn: &mut AsyncPgConnection,
        checks: &mut Checks,
        _lists: &Self::Lists,
        _parent: &(),
        row: &Self,
        patch: AccountPatch,
    ) -> Result<Option<AccountFields>, ApiError> {
        merge(
            conn,
            checks,
            Some(row.role),
            row.district_id,
            patch,
            Some(&row.fields()),
        )
        .await
    }

    async fn view(_conn: &mut AsyncPgConnection, row: Self) -> Result<AccountView, ApiError> {
        Ok(AccountView::from(row))
    }
}

/// The audit trail of an account.
#[utoipa::path(
    tag = "accounts",
    params(("id" = AccountId, Path, description = "The account's id"), HistoryQuery),
    responses(
        (status = 200, description = "Its changes, oldest first", body = crate::api::audit::AuditEventPage),
    ),
)]
#[get("/{id}/history")]
async fn get_account_history(
    caller: Caller,
    pool: Db,
    path: web::Path<AccountId>,
    query: web::Query<HistoryQuery>,
) -> Result<web::Json<Page<crate::api::audit::AuditEventView>>, ApiError> {
    let id = path.into_inner().to_string();
    crate::api::audit::history(&pool, &caller, Entity::Account, id, query.into_inner()).await
}

/// How many identities one account may have linked.
const MAX_IDENTITIES: usize = 20;

/// One identity an OpenID Connect provider gives a person: the provider (`iss`) and the
/// person's id there (`sub`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AccountIdentity)]
pub struct IdentityView {
    /// The provider's issuer, exactly as its tokens' `iss` says it: an `https://` (or, for
    /// a provider on the same host, `http://`) URL of printable ASCII.
    #[schema(
        example = "https://id.xicheng.example/realms/cppcc",
        min_length = 8,
        max_length = 255,
        pattern = r"^https?://[\u0021-\u007E]+$"
    )]
    pub issuer: String,
    /// The person's subject at the provider, exactly as its tokens' `sub` says it: 1 to
    /// 255 printable ASCII characters (OpenID Connect Core 1.0, §2).
    #[schema(
        example = "8c1f2d3e-0b4a-4c5d-9e6f-7a8b9c0d1e2f",
        min_length = 1,
        max_length = 255,
        pattern = r"^[\u0021-\u007E]+$"
    )]
    pub subject: String,
}

/// The identities linked to an account.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountIdentities {
    /// Every identity linked to the account (absent: none).
    #[serde(default)]
    #[schema(max_items = 20)]
    pub items: Vec<IdentityView>,
}

impl From<Vec<Identity>> for AccountIdentities {
    fn from(identities: Vec<Identity>) -> Self {
        Self {
            items: identities
                .into_iter()
                .map(|identity| IdentityView {
                    issuer: identity.issuer,
                    subject: identity.subject,
                })
                .collect(),
        }
    }
}

/// The identities linked to an account: a token whose issuer and subject are one of them
/// acts as the account.
#[utoipa::path(
    tag = "accounts",
    params(("id" = AccountId, Path, description = "The account's id")),
    responses((status = 200, description = "Its identities", body = AccountIdentities)),
)]
#[get("/{id}/identities")]
async fn get_account_identities(
    caller: Caller,
    pool: Db,
    path: web::Path<AccountId>,
) -> Result<web::Json<AccountIdentities>, ApiError> {
    let mut conn = pool.conn().await?;
    let account = <Account as Editable>::found(&mut conn, &caller, path.into_inner()).await?;
    Ok(web::Json(
        db::identities(&mut conn, account.id).await?.into(),
    ))
}

/// Replace the identities linked to an account (all of them: an empty list unlinks
/// every one). An identity links one account only: one linked elsewhere is a 409. The
/// account's version changes, and the change is audited as the account's.
#[utoipa::path(
    tag = "accounts",
    params(("id" = AccountId, Path, description = "The account's id"), IfMatchHeader),
    request_body = AccountIdentities,
    responses(
        (status = 200, description = "Its identities now", body = AccountIdentities,
            headers(("ETag" = String, description = "The account's new version"))),
        (status = 409, description = "An identity is linked to another account",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
#[put("/{id}/identities")]
async fn put_account_identities(
    caller: Caller,
    pool: Db,
    cache: web::Data<KeyCache>,
    path: web::Path<AccountId>,
    condition: IfMatch,
    body: crate::api::http::Json<AccountIdentities>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let wanted = identities_of(body.into_inner())?;
    let mut conn = pool.conn().await?;
    let (identities, version) = conn
        .write(async move |conn| {
            let (_, account) = <Account as Editable>::locked(conn, &caller, id).await?;
            condition.check(account.version)?;
            let before_links = db::identities(conn, id).await?;
            let taken = db::linked_elsewhere(conn, id, &wanted).await?;
            if let Some(identity) = taken.first() {
                return Err(ApiError::conflict(format!(
                    "the identity ({}, {}) is linked to another account; unlink it there first",
                    identity.issuer, identity.subject
                )));
            }
            if before_links == wanted {
                return Ok((before_links, account.version));
            }
            db::replace_identities(conn, id, &wanted).await?;
            let touched = db::touch(conn, id).await?;
            let change = Change::new("link_identities", Entity::Account, id, account.district_id)
                .before(&serde_json::json!({"identities": AccountIdentities::from(before_links)}))
                .after(&serde_json::json!({"identities": AccountIdentities::from(wanted.clone())}));
            record(conn, &caller, change);
            Ok::<_, ApiError>((wanted, touched.version))
        })
        .await?;
    pool.after_commit(move || cache.forget_all());
    Ok(HttpResponse::Ok()
        .insert_header((
            actix_web::http::header::ETAG,
            crate::api::http::etag(version),
        ))
        .json(AccountIdentities::from(identities)))
}

/// The identities of a body, checked and in one order, each once.
fn identities_of(body: AccountIdentities) -> Result<Vec<Identity>, ApiError> {
    let mut checks = Checks::default();
    if body.items.len() > MAX_IDENTITIES {
        checks.rule(
            "/items",
            format!("at most {MAX_IDENTITIES} identities link one account"),
        );
    }
    let mut identities = BTreeSet::new();
    let printable = crate::domain::account::identity_text;
    for (index, item) in body.items.into_iter().enumerate() {
        if !printable(&item.issuer)
            || item.issuer.len() < 8
            || !(item.issuer.starts_with("https://") || item.issuer.starts_with("http://"))
        {
            checks.invalid(
                &format!("/items/{index}/issuer"),
                "an https:// (or http://) URL of at most 255 printable ASCII characters",
            );
        }
        if !printable(&item.subject) {
            checks.invalid(
                &format!("/items/{index}/subject"),
                "1 to 255 printable ASCII characters",
            );
        }
        identities.insert(Identity {
            issuer: item.issuer,
            subject: item.subject,
        });
    }
    checks.finish(Some(identities.into_iter().collect()))
}
