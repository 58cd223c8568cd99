//! Routes registered with their access policy. Each resource module registers every
//! handler through one of [`read`], [`write`], [`admin`], [`trail`] or [`sync`], which
//! writes the policy into the handler's OpenAPI operation (its `security` roles and
//! `x-access`). The service builds its [`crate::api::RouteTable`] from that document, and
//! [`crate::api::auth`] decides each request on the route the router matched. A handler
//! registered without one of these has no policy, and nobody may call it.

use actix_web::dev::{AppService, HttpServiceFactory};
use utoipa::openapi::path::{Operation, Paths};
use utoipa::openapi::{RefOr, schema::Schema};
use utoipa_actix_web::OpenApiFactory;

use crate::domain::access::{ADMINS, DistrictOf, Policy, READERS, SYNCERS, TRAIL_READERS, WRITERS};
use crate::domain::kinds::Role;

/// A handler and who may call it.
pub struct Guarded<F> {
    policy: Policy,
    factory: F,
}

/// Read by every role, within the key's districts.
pub fn read<F>(district: DistrictOf, factory: F) -> Guarded<F> {
    guarded(READERS, district, factory)
}

/// Written by administrators and the clerks of the district.
pub fn write<F>(district: DistrictOf, factory: F) -> Guarded<F> {
    guarded(WRITERS, district, factory)
}

/// [`read`], and by the people of a district with these roles, each reading only what
/// their rules let them see (the route's queries apply the person's scope:
/// [`crate::db::SeenBy`]).
pub fn read_with<F>(persons: &[Role], district: DistrictOf, factory: F) -> Guarded<F> {
    guarded(&with_persons(READERS, persons), district, factory)
}

/// [`write`], and by the people of a district with these roles, each changing only what
/// their rules let them change.
pub fn write_with<F>(persons: &[Role], district: DistrictOf, factory: F) -> Guarded<F> {
    guarded(&with_persons(WRITERS, persons), district, factory)
}

/// The staff roles `staff` and the person roles `persons` (only those: a staff role
/// listed among the persons would be let through without its rules).
fn with_persons(staff: &[Role], persons: &[Role]) -> Vec<Role> {
    assert!(
        persons.iter().all(|role| role.is_person()),
        "only person roles are added to a route's staff roles"
    );
    staff.iter().chain(persons).copied().collect()
}

/// Administrators only.
pub fn admin<F>(district: DistrictOf, factory: F) -> Guarded<F> {
    guarded(ADMINS, district, factory)
}

/// The audit trail: administrators and auditors.
pub fn trail<F>(district: DistrictOf, factory: F) -> Guarded<F> {
    guarded(TRAIL_READERS, district, factory)
}

/// The sync endpoints: administrators and district systems.
pub fn sync<F>(district: DistrictOf, factory: F) -> Guarded<F> {
    guarded(SYNCERS, district, factory)
}

fn guarded<F>(roles: &[Role], district: DistrictOf, factory: F) -> Guarded<F> {
    Guarded {
        policy: Policy::new(roles, district),
        factory,
    }
}

impl<F: HttpServiceFactory> HttpServiceFactory for Guarded<F> {
    fn register(self, config: &mut AppService) {
        self.factory.register(config);
    }
}

impl<F: OpenApiFactory> OpenApiFactory for Guarded<F> {
    fn paths(&self) -> Paths {
        let mut paths = self.factory.paths();
        for item in paths.paths.values_mut() {
            for operation in operations_mut(item) {
                write_policy(operation, &self.policy);
            }
        }
        paths
    }

    fn schemas(&self, schemas: &mut Vec<(String, RefOr<Schema>)>) {
        self.factory.schemas(schemas);
    }
}

/// The operations of a path item, whatever their methods.
fn operations_mut(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.post.as_mut(),
        item.put.as_mut(),
        item.patch.as_mut(),
        item.delete.as_mut(),
    ]
    .into_iter()
    .flatten()
}

/// The extension of an operation that states its access policy.
const ACCESS_EXTENSION: &str = "x-access";

/// Writes an operation's access policy into it: the roles as the scopes of its bearer
/// requirement (OpenAPI 3.1 lets a non-OAuth scheme list role names there), and the whole
/// policy as `x-access`, which the service reads back to decide requests.
fn write_policy(operation: &mut Operation, policy: &Policy) {
    let roles: Vec<&str> = policy.roles.iter().map(|role| role.as_str()).collect();
    operation.security = Some(vec![utoipa::openapi::security::SecurityRequirement::new(
        "bearer",
        roles.clone(),
    )]);
    operation
        .extensions
        .get_or_insert_with(Default::default)
        .insert(
            ACCESS_EXTENSION.to_owned(),
            serde_json::json!({"roles": roles, "district": policy.district.as_str()}),
        );
}

/// The access policy written into an operation, if it has one that reads back whole.
pub fn policy_of(operation: &Operation) -> Option<Policy> {
    let access = operation.extensions.as_ref()?.get(ACCESS_EXTENSION)?;
    let roles = access["roles"]
        .as_array()?
        .iter()
        .map(|role| role.as_str()?.parse().ok())
        .collect::<Option<Vec<_>>>()?;
    let district = DistrictOf::parse(access["district"].as_str()?)?;
    Some(Policy { roles, district })
}
