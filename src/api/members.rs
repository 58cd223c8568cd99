//! `/api/v1/members`: committee members (委员).

use crate::domain::kinds::Entity;
use crate::domain::values::FilterText;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::api::edit::{self, Editable};
use crate::api::policy::{read, read_with, write};
use diesel_async::AsyncPgConnection;

use crate::api::audit::{HistoryQuery, record};
use crate::api::auth::Caller;
use crate::api::contacts::{self, Personal};
use crate::api::districts::referenced_district;
use crate::api::http::{IfMatch, IfMatchHeader, IfNoneMatch, IfNoneMatchHeader, created_response};
use crate::api::input::{Checks, Field};
use crate::api::page::{Page, list_query, page};
use crate::api::work::{Db, Write};
use crate::db::audit::Change;
use crate::db::members::{self as db, MemberFields, MemberFilter};
use crate::db::reference::MemberCodes;
use crate::domain::ids::{DistrictId, MemberId};
use crate::domain::kinds::{Gender, MemberStatus};
use crate::domain::values::{self, Email, Line, ListCode, MemberNo, Phone, Term};
use crate::error::{ApiError, Problem};

pub fn configure(config: &mut ServiceConfig) {
    use crate::domain::access::DistrictOf::*;
    use crate::domain::access::MEMBERS;
    config.service(
        utoipa_actix_web::scope("/members")
            .service(read(Filter, list_members))
            .service(write(Body, create_member))
            .service(read_with(MEMBERS, Path, get_member))
            .service(write(Path, update_member))
            .service(write(Path, delete_member))
            .service(read(Path, get_member_history))
            .service(read_with(
                MEMBERS,
                Path,
                crate::api::performance::get_member_performance,
            )),
    );
}

/// A committee member (委员) of one district.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Member)]
pub struct MemberView {
    pub id: MemberId,
    pub district_id: DistrictId,
    /// The member's number in the district (委员编号); unique per district.
    #[schema(example = "XC-16-001")]
    pub member_no: String,
    #[schema(example = "王小明")]
    pub name: String,
    pub gender: Option<Gender>,
    /// Sector code (界别), from `GET /api/v1/sectors`.
    #[schema(example = "medicine_health")]
    pub sector: String,
    /// Party code (党派), from `GET /api/v1/parties`.
    #[schema(example = "cdl")]
    pub party: String,
    /// Employer and position (工作单位及职务).
    pub employer_title: Option<String>,
    /// The street (街道) whose members' group (联组) the member belongs to.
    pub street: Option<String>,
    /// The term (届) the member serves in.
    #[schema(example = 16)]
    pub term: i32,
    /// Role codes, from `GET /api/v1/member-roles`.
    #[schema(example = json!(["standing_committee"]))]
    pub roles: Vec<String>,
    /// Whether the member lives in the district.
    pub resides_in_district: bool,
    pub status: MemberStatus,
    /// Personal contact data: present only for administrators and the member's
    /// district's clerks and sync key (never for auditors).
    #[serde(skip_serializing_if = "Contact::is_hidden")]
    #[schema(value_type = Option<String>)]
    pub phone: Contact,
    /// Personal contact data: present only for administrators and the member's
    /// district's clerks and sync key (never for auditors).
    #[serde(skip_serializing_if = "Contact::is_hidden")]
    #[schema(value_type = Option<String>)]
    pub email: Contact,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Increases with every change; sent as the `ETag`.
    pub version: i64,
}

/// A page of a list of Member records.
pub type MemberPage = crate::api::page::Page<MemberView>;

impl From<db::Member> for MemberView {
    fn from(row: db::Member) -> Self {
        Self {
            id: row.id,
            district_id: row.district_id,
            member_no: row.member_no,
            name: row.name,
            gender: row.gender,
            sector: row.sector,
            party: row.party,
            employer_title: row.employer_title,
            street: row.street,
            term: row.term,
            roles: row.roles,
            resides_in_district: row.resides_in_district,
            status: row.status,
            phone: Contact::Shown(row.phone),
            email: Contact::Shown(row.email),
            created_at: row.created_at,
            updated_at: row.updated_at,
            version: row.version,
        }
    }
}

/// Personal contact data, left out of the answer for callers who may not see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Contact {
    Hidden,
    Shown(Option<String>),
}

impl Contact {
    pub fn is_hidden(&self) -> bool {
        matches!(self, Self::Hidden)
    }
}

impl Serialize for Contact {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Hidden => serializer.serialize_none(),
            Self::Shown(value) => value.serialize(serializer),
        }
    }
}

impl Personal for MemberView {
    fn district(&self) -> Option<DistrictId> {
        Some(self.district_id)
    }

    fn member(&self) -> Option<crate::domain::ids::MemberId> {
        Some(self.id)
    }

    fn hide_contacts(&mut self) {
        self.phone = Contact::Hidden;
        self.email = Contact::Hidden;
    }
}

crate::api::http::versioned!(MemberView);

/// A new member.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMember {
    /// The member's district; cannot be changed later.
    #[serde(default)]
    #[schema(value_type = DistrictId, required = true)]
    pub district_id: Field<DistrictId>,
    /// Unique in the district.
    #[serde(default)]
    #[schema(value_type = MemberNo, required = true, example = "XC-16-001")]
    pub member_no: Field<MemberNo>,
    #[serde(default)]
    #[schema(value_type = Line<50>, required = true, example = "王小明")]
    pub name: Field<Line<50>>,
    #[serde(default)]
    #[schema(value_type = Option<Gender>)]
    pub gender: Field<Gender>,
    /// A code from `GET /api/v1/sectors`.
    #[serde(default)]
    #[schema(value_type = ListCode, required = true, example = "medicine_health")]
    pub sector: Field<ListCode>,
    /// A code from `GET /api/v1/parties`.
    #[serde(default)]
    #[schema(value_type = ListCode, required = true, example = "cdl")]
    pub party: Field<ListCode>,
    #[serde(default)]
    #[schema(value_type = Option<Line<200>>)]
    pub employer_title: Field<Line<200>>,
    #[serde(default)]
    #[schema(value_type = Option<Line<50>>, example = "金融街街道")]
    pub street: Field<Line<50>>,
    /// Defaults to the district's current term.
    #[serde(default)]
    #[schema(value_type = Term)]
    pub term: Field<Term>,
    /// Codes from `GET /api/v1/member-roles`; defaults to `["member"]`.
    #[serde(default)]
    #[schema(value_type = Vec<ListCode>)]
    pub roles: Field<Vec<ListCode>>,
    /// Defaults to `true`.
    #[serde(default)]
    #[schema(value_type = bool)]
    pub resides_in_district: Field<bool>,
    /// Defaults to `active`.
    #[serde(default)]
    #[schema(value_type = MemberStatus)]
    pub status: Field<MemberStatus>,
    #[serde(default)]
    #[schema(value_type = Option<Phone>, example = "+86 10 6601 2345")]
    pub phone: Field<Phone>,
    #[serde(default)]
    #[schema(value_type = Option<Email>, example = "wang@example.cn")]
    pub email: Field<Email>,
}

/// Changes to a member (JSON Merge Patch: absent fields are kept, `null` clears).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberPatch {
    #[serde(default)]
    #[schema(value_type = MemberNo)]
    pub member_no: Field<MemberNo>,
    #[serde(default)]
    #[schema(value_type = Line<50>)]
    pub name: Field<Line<50>>,
    #[serde(default)]
    #[schema(value_type = Option<Gender>)]
    pub gender: Field<Gender>,
    #[serde(default)]
    #[schema(value_type = ListCode)]
    pub sector: Field<ListCode>,
    #[serde(default)]
    #[schema(value_type = ListCode)]
    pub party: Field<ListCode>,
    #[serde(default)]
    #[schema(value_type = Option<Line<200>>)]
    pub employer_title: Field<Line<200>>,
    #[serde(default)]
    #[schema(value_type = Option<Line<50>>)]
    pub street: Field<Line<50>>,
    #[serde(default)]
    #[schema(value_type = Term)]
    pub term: Field<Term>,
    #[serde(default)]
    #[schema(value_type = Vec<ListCode>)]
    pub roles: Field<Vec<ListCode>>,
    #[serde(default)]
    #[schema(value_type = bool)]
    pub resides_in_district: Field<bool>,
    #[serde(default)]
    #[schema(value_type = MemberStatus)]
    pub status: Field<MemberStatus>,
    #[serde(default)]
    #[schema(value_type = Option<Phone>)]
    pub phone: Field<Phone>,
    #[serde(default)]
    #[schema(value_type = Option<Email>)]
    pub email: Field<Email>,
}

impl NewMember {
    fn split(self) -> (Field<DistrictId>, MemberPatch) {
        let patch = MemberPatch {
            member_no: self.member_no,
            name: self.name,
            gender: self.gender,
            sector: self.sector,
            party: self.party,
            employer_title: self.employer_title,
            street: self.street,
            term: self.term,
            roles: self.roles,
            resides_in_district: self.resides_in_district,
            status: self.status,
            phone: self.phone,
            email: self.email,
        };
        (self.district_id, patch)
    }
}

/// Refuses, as unknown, a code that `codes` does not list.
fn known(
    checks: &mut Checks,
    pointer: &str,
    codes: &std::collections::HashSet<String>,
    what: &str,
    code: &str,
) {
    if !codes.contains(code) {
        checks.unknown(pointer, format!("is not a known {what} code"));
    }
}

/// The member's fields after `patch`, from `current` (none for a new member, whose term
/// defaults to `default_term`).
pub(crate) fn merge(
    checks: &mut Checks,
    patch: MemberPatch,
    current: Option<&MemberFields>,
    default_term: i32,
    codes: &MemberCodes,
) -> Option<MemberFields> {
    let c = current;
    let member_no = checks.required(
        "/member_no",
        patch.member_no,
        c.map(|c| c.member_no.clone()),
        |v| Ok(v.into()),
    );
    let name = checks.required("/name", patch.name, c.map(|c| c.name.clone()), |v| {
        Ok(v.into())
    });
    let gender = checks.optional("/gender", patch.gender, c.and_then(|c| c.gender), Ok);
    let sector = checks.required("/sector", patch.sector, c.map(|c| c.sector.clone()), |v| {
        Ok(v.into())
    });
    if let Some(code) = &sector {
        known(checks, "/sector", &codes.sectors, "sector", code);
    }
    let party = checks.required("/party", patch.party, c.map(|c| c.party.clone()), |v| {
        Ok(v.into())
    });
    if let Some(code) = &party {
        known(checks, "/party", &codes.parties, "party", code);
    }
    let employer_title = checks.optional(
        "/employer_title",
        patch.employer_title,
        c.and_then(|c| c.employer_title.clone()),
        |v| Ok(v.into()),
    );
    let street = checks.optional(
        "/street",
        patch.street,
        c.and_then(|c| c.street.clone()),
        |v| Ok(v.into()),
    );
    let term = checks.required(
        "/term",
        patch.term,
        Some(c.map_or(default_term, |c| c.term)),
        |v| Ok(v.into()),
    );
    let roles = checks.list(
        "/roles",
        patch.roles,
        Some(c.map_or_else(|| vec!["member".to_owned()], |c| c.roles.clone())),
        |v| Ok(String::from(v)),
    );
    for (index, code) in roles.iter().flatten().enumerate() {
        known(
            checks,
            &format!("/roles/{index}"),
            &codes.roles,
            "member role",
            code,
        );
    }
    let roles = roles.map(values::distinct);
    let resides_in_district = checks.required(
        "/resides_in_district",
        patch.resides_in_district,
        Some(c.is_none_or(|c| c.resides_in_district)),
        Ok,
    );
    let status = checks.required(
        "/status",
        patch.status,
        Some(c.map_or(MemberStatus::Active, |c| c.status)),
        Ok,
    );
    let phone = checks.optional(
        "/phone",
        patch.phone,
        c.and_then(|c| c.phone.clone()),
        |v| Ok(v.into()),
    );
    let email = checks.optional(
        "/email",
        patch.email,
        c.and_then(|c| c.email.clone()),
        |v| Ok(v.into()),
    );
    Some(MemberFields {
        member_no: member_no?,
        name: name?,
        gender,
        sector: sector?,
        party: party?,
        employer_title,
        street,
        term: term?,
        roles: roles?,
        resides_in_district: resides_in_district?,
        status: status?,
        phone,
        email,
    })
}

list_query! {
    /// Filters of the member list.
    MemberQuery, sort: MemberSort {
        Created = "created", UpdatedAt = "updated_at", Name = "name", MemberNo = "member_no",
    },
    {
        /// Only members of this district.
        district_id: DistrictId,
        /// Only members of the district with this code.
        #[param(inline)]
        district: FilterText<40>,
        /// Only members of this sector (code).
        #[param(inline)]
        sector: FilterText<40>,
        /// Only members of this party (code).
        #[param(inline)]
        party: FilterText<40>,
        /// Only members of this street's group.
        #[param(inline)]
        street: FilterText<50>,
        /// Only members of this term.
        term: i32,
        status: MemberStatus,
        /// Only members holding this role (code).
        #[param(inline)]
        role: FilterText<40>,
        /// Text in the name (Chinese included) or the member number.
        #[param(inline)]
        q: FilterText<50>,
    }
}

/// List members.
#[utoipa::path(
    tag = "members",
    params(MemberQuery),
    responses((status = 200, description = "A page of members", body = MemberPage)),
)]
#[get("")]
async fn list_members(
    caller: Caller,
    pool: Db,
    query: web::Query<MemberQuery>,
) -> Result<web::Json<Page<MemberView>>, ApiError> {
    let query = query.into_inner();
    let request = query.page()?;
    let filter = MemberFilter {
        scope: caller.scope(),
        district_id: query.district_id,
        district_code: query.district.and_then(FilterText::into_filter),
        sector: query.sector.and_then(FilterText::into_filter),
        party: query.party.and_then(FilterText::into_filter),
        street: query.street.and_then(FilterText::into_filter),
        term: query.term,
        status: query.status,
        role: query.role.and_then(FilterText::into_filter),
        q: query.q.and_then(FilterText::into_filter),
    };
    let mut conn = pool.conn().await?;
    let rows = db::list(&mut conn, &filter, &request).await?;
    Ok(web::Json(page(rows, &request, |row| {
        contacts::shown_to(&caller, MemberView::from(row))
    })))
}

edit::get_route! {
    /// Get a member.
    get_member: db::Member, GET "/{id}",
    tag = "members", params(("id" = MemberId, Path, description = "The member's id")), path = MemberId,
    answer = (MemberView, "The member"),
}

/// Create a member.
#[utoipa::path(
    tag = "members",
    request_body = NewMember,
    responses(
        (status = 201, description = "The new member", body = MemberView,
            headers(("ETag" = String), ("Location" = String, description = "The member's URL"))),
        (status = 409, description = "The member number is taken in the district", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("")]
async fn create_member(
    caller: Caller,
    pool: Db,
    body: crate::api::http::Json<NewMember>,
) -> Result<HttpResponse, ApiError> {
    let (district_id, patch) = body.into_inner().split();
    let viewer = caller.clone();
    let mut conn = pool.conn().await?;
    let member = conn
        .write(async move |tx| {
            let mut checks = Checks::default();
            // The district, the lists and the transaction's time in one round trip (with
            // the BEGIN); the member is worked out here and inserted with the COMMIT.
            let (district, codes, now) = {
                let shared: &AsyncPgConnection = tx;
                futures_util::future::join3(
                    referenced_district(shared, &mut checks, district_id, caller.scope()),
                    crate::db::reference::member_codes(shared),
                    crate::db::transaction_time(shared),
                )
                .await
            };
            let (district, codes, now) = (district?, codes?, now?);
            // Without a district the request fails on /district_id; any term will do here.
            let default_term = district.as_ref().map_or(1, |d| d.term);
            let fields = merge(&mut checks, patch, None, default_term, &codes);
            let (district, fields) = checks.finish(district.zip(fields))?;
            let member = db::Member::inserted(MemberId::generate(), district.id, fields, now);
            tx.defer(db::insert_later(&member));
            let change = Change::new("create", Entity::Member, member.id, Some(district.id));
            record(tx, &caller, change.after(&MemberView::from(member.clone())));
            Ok::<_, ApiError>(member)
        })
        .await?;
    let location = format!("/api/v1/members/{}", member.id);
    Ok(created_response(
        &contacts::shown_to(&viewer, MemberView::from(member)),
        location,
    ))
}

edit::patch_route! {
    /// Change a member (JSON Merge Patch).
    update_member: db::Member, PATCH "/{id}",
    tag = "members", params(("id" = MemberId, Path, description = "The member's id")), path = MemberId,
    body = MemberPatch, answer = (MemberView, "The changed member"),
    refused = "The member number is taken in the district",
}

edit::delete_route! {
    /// Delete a member; they leave every workstation they belonged to.
    delete_member: db::Member, DELETE "/{id}",
    tag = "members", params(("id" = MemberId, Path, description = "The member's id")), path = MemberId,
}

impl Editable for db::Member {
    edit::own!(MemberId, "member");
    type Patch = MemberPatch;
    type View = MemberView;
    const ENTITY: Entity = Entity::Member;
    type Lists = crate::db::reference::MemberCodes;

    async fn lists(conn: &AsyncPgConnection) -> Result<Self::Lists, ApiError> {
        Ok(crate::db::reference::member_codes(conn).await?)
    }

    async fn merge(
        _conn: &mut AsyncPgConnection,
        checks: &mut Checks,
        codes: &Self::Lists,
        _parent: &(),
        row: &Self,
        patch: MemberPatch,
    ) -> Result<Option<MemberFields>, ApiError> {
        Ok(merge(checks, patch, Some(&row.fields()), row.term, codes))
    }

    async fn view(_conn: &mut AsyncPgConnection, row: Self) -> Result<MemberView, ApiError> {
        Ok(MemberView::from(row))
    }

    /// The member leaves the workstations they belonged to or convened.
    async fn remove(conn: &mut AsyncPgConnection, row: &Self) -> Result<Vec<Change>, ApiError> {
        let stations = crate::db::workstations::ids_involving(conn, row.id).await?;
        let before = crate::api::workstations::views(conn, &stations).await?;
        db::soft_delete(conn, row.id).await?;
        crate::api::workstations::changes(conn, "remove_member", before).await
    }

    fn shown(caller: &Caller, view: MemberView) -> MemberView {
        contacts::shown_to(caller, view)
    }
}

/// The audit trail of a member (contact data only for those who may see it).
#[utoipa::path(
    tag = "members",
    params(("id" = MemberId, Path, description = "The member's id"), HistoryQuery),
    responses(
        (status = 200, description = "Its changes, oldest first", body = crate::api::audit::AuditEventPage),
    ),
)]
#[get("/{id}/history")]
async fn get_member_history(
    caller: Caller,
    pool: Db,
    path: web::Path<MemberId>,
    query: web::Query<HistoryQuery>,
) -> Result<web::Json<Page<crate::api::audit::AuditEventView>>, ApiError> {
    let id = path.into_inner().to_string();
    crate::api::audit::history(&pool, &caller, Entity::Member, id, query.into_inner()).await
}
