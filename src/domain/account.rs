//! Accounts: the people who act. An account is a person linked to what they act for (a
//! member, a unit or a leaders' office of a district) or holding a staff role; every act
//! of a person names the account in the audit trail and in workflow histories.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::ids::{AccountId, DepartmentId, DistrictId, MemberId};
use crate::domain::kinds::{Role, text_enum};
use crate::domain::ruling::LeaderTitle;

text_enum! {
    /// Whether an account may act: a disabled account is refused on its next request.
    AccountStatus {
        Active = "active",
        Disabled = "disabled",
    }
}

text_enum! {
    /// How a person proved who they are.
    Authentication {
        /// A personal key of the account (`keys create --account`).
        PersonalKey = "personal_key",
        /// A bearer token of an OpenID Connect provider, its issuer and subject linked to
        /// the account.
        OpenidConnect = "openid_connect",
    }
}

/// Whether `value` may be an identity's issuer or subject: 1 to 255 printable ASCII
/// characters, as OpenID Connect gives them (one spelling of each identity, and nothing
/// invisible, bidirectional or unassigned).
pub fn identity_text(value: &str) -> bool {
    (1..=255).contains(&value.len()) && value.bytes().all(|byte| (0x21..=0x7e).contains(&byte))
}

/// The person who did something, as the audit trail and workflow histories name them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ActorAccount {
    pub id: AccountId,
    #[schema(example = "王芳")]
    pub display_name: String,
    pub role: Role,
    /// The account's district (none for administrators and auditors).
    pub district_id: Option<DistrictId>,
    /// The member the account acts for (role `member`).
    pub member_id: Option<MemberId>,
    /// The unit the account acts for (role `unit`).
    pub department_id: Option<DepartmentId>,
    /// The leader whose office the account acts for (role `leaders_office`).
    pub leader_title: Option<LeaderTitle>,
    pub authenticated_by: Authentication,
    /// The identity provider that vouched for the person (`openid_connect` only).
    pub issuer: Option<String>,
}
