//! Who may call what. Every route of the API is registered with a [`Policy`]: the roles
//! that may call it and where it finds the district of what it touches. The decision is
//! made on the route the router matched, and a route registered without a policy is
//! refused to everyone. District scoping (a district key sees only its district) is
//! applied by the queries, with [`Scope`].

use crate::domain::ids::{DepartmentId, DistrictId, MemberId};
use crate::domain::kinds::Role;
use crate::domain::ruling::LeaderTitle;

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied(pub String);

/// Where a route finds the district of the records it touches; a district key (clerk or
/// sync) touches its own district only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DistrictOf {
    /// No district: keys, the controlled lists, scoring rules common to every district.
    Nothing,
    /// The record the path names (another district's is a 404 for a district key).
    Path,
    /// A list's filter: a district key sees its own district's records only.
    Filter,
    /// A query parameter naming one district (another is a 404 for a district key), or
    /// the key's own.
    Query,
    /// The body's `district_id` (or the record it references): another district's is
    /// refused like a reference to nothing.
    Body,
}

impl DistrictOf {
    pub const ALL: [Self; 5] = [
        Self::Nothing,
        Self::Path,
        Self::Filter,
        Self::Query,
        Self::Body,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Nothing => "none",
            Self::Path => "path",
            Self::Filter => "filter",
            Self::Query => "query",
            Self::Body => "body",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|which| which.as_str() == value)
    }
}

/// Who may call one route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub roles: Vec<Role>,
    pub district: DistrictOf,
}

/// Every role: reads of the records a key's districts hold.
pub const READERS: &[Role] = &[Role::Admin, Role::Clerk, Role::Sync, Role::Auditor];
/// Administrators and the clerks of a district: writes of its records.
pub const WRITERS: &[Role] = &[Role::Admin, Role::Clerk];
/// Administrators alone: keys, districts, scoring rules.
pub const ADMINS: &[Role] = &[Role::Admin];
/// Administrators and auditors: the audit trail.
pub const TRAIL_READERS: &[Role] = &[Role::Admin, Role::Auditor];
/// Administrators and district systems: the sync endpoints.
pub const SYNCERS: &[Role] = &[Role::Admin, Role::Sync];
/// Members (委员).
pub const MEMBERS: &[Role] = &[Role::Member];
/// Units (单位).
pub const UNITS: &[Role] = &[Role::Unit];
/// Leaders' offices.
pub const OFFICES: &[Role] = &[Role::LeadersOffice];
/// Everyone who handles proposals: their members, units and the leaders' offices.
pub const PROPOSAL_PEOPLE: &[Role] = &[Role::Member, Role::Unit, Role::LeadersOffice];
/// Those who follow evaluations and rulings: the units concerned and the leaders' offices.
pub const OVERSIGHT_PEOPLE: &[Role] = &[Role::Unit, Role::LeadersOffice];

impl Policy {
    pub fn new(roles: &[Role], district: DistrictOf) -> Self {
        Self {
            roles: roles.to_vec(),
            district,
        }
    }

    /// Whether a key of `role` may call the route; `operation` names it in the refusal.
    pub fn check(&self, role: Role, operation: &str) -> Result<(), Denied> {
        if self.roles.contains(&role) {
            return Ok(());
        }
        let only = self
            .roles
            .iter()
            .map(|role| role.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        Err(Denied(format!(
            "{operation} is open to {only} keys only; this key's role is {}",
            role.as_str()
        )))
    }
}

/// The decision for a route that was registered without a policy: nobody may call it.
pub fn unlisted(operation: &str) -> Denied {
    Denied(format!(
        "{operation} has no access policy, so nobody may call it"
    ))
}

/// A second lock inside the handlers that matter most (keys, the audit trail, districts,
/// scoring rules): the caller's role is checked again, whatever the route's policy said.
pub fn require(role: Role, allowed: &[Role], what: &str) -> Result<(), Denied> {
    if allowed.contains(&role) {
        Ok(())
    } else {
        Err(Denied(format!(
            "{what} is not open to {} keys",
            role.as_str()
        )))
    }
}

/// What a person of a district acts for: the records they see and change follow from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Person {
    /// A member (委员): their own record, the proposals they lead or co-sign.
    Member(MemberId),
    /// A unit (单位): what is assigned to it, names it or evaluates it.
    Unit(DepartmentId),
    /// A leaders' office: the district's proposals, consultations, evaluations and
    /// rulings, and the rulings it issues.
    Office(LeaderTitle),
}

/// Which records a caller sees: every district's, one district's, or what a person of a
/// district is let see of it (each record type says which, [`crate::db::SeenBy`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scope {
    #[default]
    All,
    District(DistrictId),
    Person(DistrictId, Person),
}

impl Scope {
    /// Whether a record of `district` is in the caller's districts (a person's further
    /// rules apply besides).
    pub fn covers(self, district: DistrictId) -> bool {
        match self {
            Self::All => true,
            Self::District(own) | Self::Person(own, _) => own == district,
        }
    }

    /// The person the caller is, if a person of a district.
    pub fn person(self) -> Option<Person> {
        match self {
            Self::Person(_, person) => Some(person),
            _ => None,
        }
    }

    /// Whether a record owned by `owner` is visible: a district scope sees no record of
    /// no district.
    pub fn covers_owner(self, owner: Option<DistrictId>) -> bool {
        match (self, owner) {
            (Self::All, _) => true,
            (Self::District(own) | Self::Person(own, _), Some(owner)) => own == owner,
            (Self::District(_) | Self::Person(..), None) => false,
        }
    }

    pub fn district(self) -> Option<DistrictId> {
        match self {
            Self::All => None,
            Self::District(own) | Self::Person(own, _) => Some(own),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_lets_its_roles_through_and_names_them_to_the_others() {
        let policy = Policy::new(WRITERS, DistrictOf::Body);
        assert!(policy.check(Role::Admin, "create_member").is_ok());
        assert!(policy.check(Role::Clerk, "create_member").is_ok());
        let Denied(why) = policy.check(Role::Auditor, "create_member").unwrap_err();
        assert_eq!(
            why,
            "create_member is open to admin, clerk keys only; this key's role is auditor"
        );
        assert!(policy.check(Role::Sync, "create_member").is_err());
    }

    #[test]
    fn keys_districts_and_the_trail_have_narrow_role_sets() {
        assert_eq!(ADMINS, &[Role::Admin]);
        assert!(!TRAIL_READERS.contains(&Role::Clerk));
        assert!(!TRAIL_READERS.contains(&Role::Sync));
        assert!(!SYNCERS.contains(&Role::Clerk));
        assert!(!WRITERS.contains(&Role::Auditor));
        assert!(!WRITERS.contains(&Role::Sync));
    }

    #[test]
    fn the_second_lock_refuses_roles_outside_its_set() {
        assert!(require(Role::Admin, ADMINS, "create keys").is_ok());
        assert!(require(Role::Clerk, ADMINS, "create keys").is_err());
    }

    #[test]
    fn district_sources_round_trip() {
        for which in DistrictOf::ALL {
            assert_eq!(DistrictOf::parse(which.as_str()), Some(which));
        }
        assert_eq!(DistrictOf::parse("anywhere"), None);
    }

    #[test]
    fn a_district_scope_covers_its_district_only() {
        let own = DistrictId::generate();
        assert!(Scope::District(own).covers(own));
        assert!(!Scope::District(own).covers(DistrictId::generate()));
        assert!(Scope::All.covers(own));
    }
}
