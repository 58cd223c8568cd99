//! Routes registered with their access policy. Each resource module registers every
//! handler through one of [`read`], [`write`], [`admin`], [`trail`] or [`sync`], which
//! writes the policy into the handler's OpenAPI operation (its `security` roles and
//! `x-access`). The service builds its [`crate::api::RouteTable`] from that document, and
//! [`crate::api::auth`] decides each request on the route the router matched. A handler
//! registered without one of these has no policy, and nobody may call it.

use actix_web::dev::{AppService, HttpServiceFactory};
use utoipa::openapi::path::Paths;
use utoipa::openapi::{RefOr, schema::Schema};
use utoipa_actix_web::OpenApiFactory;

use crate::domain::access::{ADMINS, DistrictOf, Policy, READERS, SYNCERS, TRAIL_READERS, WRITERS};

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

fn guarded<F>(
    roles: &[crate::domain::kinds::Role],
    district: DistrictOf,
    factory: F,
) -> Guarded<F> {
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
            for operation in crate::openapi::operations_mut(item) {
                crate::openapi::write_policy(operation, &self.policy);
            }
        }
        paths
    }

    fn schemas(&self, schemas: &mut Vec<(String, RefOr<Schema>)>) {
        self.factory.schemas(schemas);
    }
}
