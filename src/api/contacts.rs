//! Members' personal contact data (`phone`, `email`): who may read it, and the one
//! function every answer carrying a member's data passes through — records, lists, the
//! feed and the snapshot, histories, the audit trail's pages and exports.
//!
//! The rule: administrators read every district's contacts; a district's clerks and its
//! sync key (the district's system of record, which pushes them) read that district's;
//! a member reads their own; auditors, other people and other districts' keys read none. Whoever may write a contact field may
//! read it, so no answer (a dry run's included) can turn on a field its caller cannot read.

use serde_json::Value;

use crate::api::auth::Caller;
use crate::domain::access::Person;
use crate::domain::ids::{DistrictId, MemberId};
use crate::domain::kinds::Role;

/// The contact fields of a member's record, as the API and the audit trail name them.
pub const FIELDS: [&str; 2] = crate::domain::audit::PERSONAL_FIELDS;

/// Something that may carry members' contact data.
pub trait Personal {
    /// The district of the members whose contacts it carries; `None` when it names none
    /// (then only administrators read them).
    fn district(&self) -> Option<DistrictId>;

    /// The one member whose contacts it carries, if it is a member's own record.
    fn member(&self) -> Option<MemberId> {
        None
    }

    /// Removes every contact field.
    fn hide_contacts(&mut self);
}

/// Whether `caller` reads the contact data of `district`'s members.
pub fn readable_by(caller: &Caller, district: Option<DistrictId>) -> bool {
    match (caller.role, district) {
        (Role::Admin, _) => true,
        (Role::Clerk | Role::Sync, Some(district)) => caller.district_id == Some(district),
        (Role::Clerk | Role::Sync | Role::Auditor, _) => false,
        (Role::Member | Role::Unit | Role::LeadersOffice, _) => false,
    }
}

/// `data` as `caller` may read it: without contact data unless the rule lets it read them
/// (or it is the calling member's own record).
pub fn shown_to<T: Personal>(caller: &Caller, mut data: T) -> T {
    let own = matches!(
        (caller.person, data.member()),
        (Some(Person::Member(caller)), Some(member)) if caller == member
    );
    if !own && !readable_by(caller, data.district()) {
        data.hide_contacts();
    }
    data
}

/// Removes the contact fields of a member's record in its JSON form.
pub fn hide_in(record: &mut Value) {
    if let Value::Object(fields) = record {
        for field in FIELDS {
            fields.remove(field);
        }
    }
}
