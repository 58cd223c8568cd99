//! Who may call what: the one policy every request of the API goes through, by role,
//! method and route. District scoping (a district key sees only its district) is applied
//! by the queries, with [`crate::domain::access::Scope`].

use crate::domain::ids::DistrictId;
use crate::domain::kinds::Role;

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied(pub String);

/// Whether a key of `role` may call `method` on the route `template`
/// (e.g. `/api/v1/members/{id}`).
pub fn check(role: Role, method: &str, template: &str) -> Result<(), Denied> {
    let route = template.strip_prefix("/api/v1").unwrap_or(template);
    let reads = method == "GET" || method == "HEAD";
    let area = |prefix: &str| route == prefix || route.starts_with(&format!("{prefix}/"));
    let allowed = if area("/keys") {
        role == Role::Admin
    } else if area("/audit-events") {
        reads && matches!(role, Role::Admin | Role::Auditor)
    } else if area("/sync") {
        matches!(role, Role::Admin | Role::Sync)
    } else if reads {
        true
    } else if area("/districts") || area("/scoring-rules") {
        role == Role::Admin
    } else {
        matches!(role, Role::Admin | Role::Clerk)
    };
    if allowed {
        return Ok(());
    }
    Err(Denied(match role {
        Role::Auditor if !area("/keys") => "an auditor key reads and writes nothing".to_owned(),
        Role::Sync if !reads => "a sync key writes only through the sync endpoints".to_owned(),
        _ => format!("a {} key may not {method} {template}", role.as_str()),
    }))
}

/// Which districts a key sees: one, or all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scope {
    #[default]
    All,
    District(DistrictId),
}

impl Scope {
    /// Whether a record of `district` is visible.
    pub fn covers(self, district: DistrictId) -> bool {
        match self {
            Self::All => true,
            Self::District(own) => own == district,
        }
    }

    pub fn district(self) -> Option<DistrictId> {
        match self {
            Self::All => None,
            Self::District(own) => Some(own),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admins_may_do_everything() {
        for (method, route) in [
            ("DELETE", "/api/v1/districts/{district}"),
            ("POST", "/api/v1/keys"),
            ("GET", "/api/v1/audit-events"),
            ("POST", "/api/v1/sync/members"),
        ] {
            assert!(
                check(Role::Admin, method, route).is_ok(),
                "{method} {route}"
            );
        }
    }

    #[test]
    fn auditors_read_everything_and_write_nothing() {
        assert!(check(Role::Auditor, "GET", "/api/v1/members").is_ok());
        assert!(check(Role::Auditor, "GET", "/api/v1/audit-events/verify").is_ok());
        assert!(check(Role::Auditor, "PATCH", "/api/v1/members/{id}").is_err());
        assert!(check(Role::Auditor, "POST", "/api/v1/sync/members").is_err());
        assert!(check(Role::Auditor, "GET", "/api/v1/keys").is_err());
    }

    #[test]
    fn clerks_write_their_records_but_not_districts_rules_keys_or_the_trail() {
        assert!(check(Role::Clerk, "POST", "/api/v1/members").is_ok());
        assert!(
            check(
                Role::Clerk,
                "PUT",
                "/api/v1/workstations/{id}/members/{member_id}"
            )
            .is_ok()
        );
        assert!(check(Role::Clerk, "GET", "/api/v1/districts/{district}").is_ok());
        assert!(check(Role::Clerk, "PATCH", "/api/v1/districts/{district}").is_err());
        assert!(check(Role::Clerk, "GET", "/api/v1/keys").is_err());
        assert!(check(Role::Clerk, "GET", "/api/v1/audit-events").is_err());
        assert!(check(Role::Clerk, "POST", "/api/v1/sync/members").is_err());
        // Scoring rules apply to every district: administrators publish them.
        assert!(check(Role::Clerk, "GET", "/api/v1/scoring-rules/{version}").is_ok());
        assert!(check(Role::Clerk, "POST", "/api/v1/scoring-rules").is_err());
        assert!(
            check(
                Role::Clerk,
                "PUT",
                "/api/v1/meetings/{id}/attendance/{member_id}"
            )
            .is_ok()
        );
    }

    #[test]
    fn sync_keys_read_and_sync_only() {
        assert!(check(Role::Sync, "GET", "/api/v1/members").is_ok());
        assert!(check(Role::Sync, "POST", "/api/v1/sync/members").is_ok());
        assert!(check(Role::Sync, "POST", "/api/v1/members").is_err());
        assert!(check(Role::Sync, "DELETE", "/api/v1/members/{id}").is_err());
    }

    #[test]
    fn a_district_scope_covers_its_district_only() {
        let own = DistrictId::generate();
        assert!(Scope::District(own).covers(own));
        assert!(!Scope::District(own).covers(DistrictId::generate()));
        assert!(Scope::All.covers(own));
    }
}
