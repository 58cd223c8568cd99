//! The HTTP API: every route of the service is registered here.

pub mod accounts;
pub mod activities;
pub mod audit;
pub mod auth;
pub mod changes;
pub mod consultations;
pub mod contacts;
pub mod departments;
pub mod districts;
pub mod edit;
pub mod evaluations;
pub mod health;
pub mod http;
pub mod idempotency;
pub mod input;
pub mod key_tasks;
pub mod keys;
pub mod meetings;
pub mod members;
pub mod metrics;
pub mod page;
pub mod performance;
pub mod policy;
pub mod proposals;
pub mod reference;
pub mod reports;
pub mod rulings;
pub mod schema;
pub mod sync;
pub mod throttle;
pub mod work;
pub mod workflow;
pub mod workstations;

use actix_web::dev::{ServiceFactory, ServiceRequest};
use actix_web::{HttpMessage, HttpResponse, web};
use utoipa::openapi::OpenApi as Document;
use utoipa_actix_web::{UtoipaApp, scope};

use crate::domain::access::Policy;
use crate::error::ApiError;

/// Registers every API route on `app`, collecting their OpenAPI paths.
pub fn routes<T>(app: UtoipaApp<T>) -> UtoipaApp<T>
where
    T: ServiceFactory<ServiceRequest, Config = (), Error = actix_web::Error, InitError = ()>,
{
    app.app_data(http::json_config())
        .app_data(http::query_config())
        .app_data(http::path_config())
        .configure(health::configure)
        .service(
            scope("/api/v1")
                .wrap(actix_web::middleware::from_fn(idempotency::idempotent))
                // Outside the unit of work of an idempotent request: it wakes the sealer
                // once the request's write has committed.
                .wrap(actix_web::middleware::from_fn(audit::wake_after_writes))
                .wrap(actix_web::middleware::from_fn(auth::authenticate))
                .configure(reference::configure)
                .configure(districts::configure)
                .configure(departments::configure)
                .configure(members::configure)
                .configure(workstations::configure)
                .configure(activities::configure)
                .configure(proposals::configure)
                .configure(consultations::configure)
                .configure(evaluations::configure)
                .configure(rulings::configure)
                .configure(meetings::configure)
                .configure(reports::configure)
                .configure(key_tasks::configure)
                .configure(performance::configure)
                .configure(changes::configure)
                .configure(sync::configure)
                .configure(accounts::configure)
                .configure(keys::configure)
                .configure(audit::configure),
        )
}

/// One operation of the API as its OpenAPI document lists it.
#[derive(Debug, Clone)]
pub struct Operation {
    pub method: &'static str,
    /// The operation id: the handler's name.
    pub id: String,
    /// Who may call it; `None` for a route registered without a policy (refused).
    pub policy: Option<Policy>,
    /// The names of its query parameters: any other is refused (400).
    pub query: Vec<String>,
}

impl Operation {
    /// The first query parameter of `query` this operation does not take, if any.
    pub fn unknown_parameter(&self, query: &str) -> Option<String> {
        url::form_urlencoded::parse(query.as_bytes())
            .map(|(name, _)| name)
            .find(|name| !self.query.iter().any(|known| known == name))
            .map(std::borrow::Cow::into_owned)
    }
}

/// The routes of the API as its OpenAPI document lists them: which methods each path
/// template takes, and who may call each.
#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    routes: Vec<(String, Vec<Operation>)>,
    /// Where each template is in `routes`: every request looks its route up here.
    by_template: std::collections::HashMap<String, usize>,
}

impl RouteTable {
    pub fn from_document(document: &Document) -> Self {
        let routes = document
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let operations = [
                    ("GET", &item.get),
                    ("POST", &item.post),
                    ("PUT", &item.put),
                    ("PATCH", &item.patch),
                    ("DELETE", &item.delete),
                ]
                .into_iter()
                .filter_map(|(method, operation)| {
                    let operation = operation.as_ref()?;
                    Some(Operation {
                        method,
                        id: operation.operation_id.clone().unwrap_or_default(),
                        policy: policy::policy_of(operation),
                        query: operation
                            .parameters
                            .iter()
                            .flatten()
                            .filter_map(|parameter| match parameter {
                                utoipa::openapi::RefOr::T(parameter)
                                    if parameter.parameter_in
                                        == utoipa::openapi::path::ParameterIn::Query =>
                                {
                                    Some(parameter.name.clone())
                                }
                                _ => None,
                            })
                            .collect(),
                    })
                })
                .collect();
                (path.clone(), operations)
            })
            .collect::<Vec<_>>();
        let by_template = routes
            .iter()
            .enumerate()
            .map(|(index, (path, _))| (path.clone(), index))
            .collect();
        Self {
            routes,
            by_template,
        }
    }

    fn operations_of(&self, template: &str) -> Option<&[Operation]> {
        let index = *self.by_template.get(template)?;
        self.routes
            .get(index)
            .map(|(_, operations)| operations.as_slice())
    }

    /// Every (method, path template) pair.
    pub fn operations(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.routes.iter().flat_map(|(path, operations)| {
            operations
                .iter()
                .map(move |operation| (operation.method, path.as_str()))
        })
    }

    /// The operation the router matched: `template` is its route template (as
    /// [`actix_web::HttpRequest::match_pattern`] gives it once routed).
    pub fn operation(&self, method: &str, template: &str) -> Option<&Operation> {
        self.operations_of(template)?
            .iter()
            .find(|operation| operation.method == method)
    }

    /// The methods of the route whose template is exactly `path`, with no parameter.
    pub fn methods_of_literal(&self, path: &str) -> Option<Vec<&'static str>> {
        if path.contains('{') {
            return None;
        }
        self.operations_of(path).map(methods)
    }

    /// The methods of the route whose template matches `path`, if one does.
    pub fn methods_of(&self, path: &str) -> Option<Vec<&'static str>> {
        self.routes
            .iter()
            .find(|(template, _)| template_matches(template, path))
            .map(|(_, operations)| methods(operations))
    }
}

fn methods(operations: &[Operation]) -> Vec<&'static str> {
    operations
        .iter()
        .map(|operation| operation.method)
        .collect()
}

/// Whether a concrete path fits a template such as `/api/v1/members/{id}`.
pub(crate) fn template_matches(template: &str, path: &str) -> bool {
    let template: Vec<&str> = template.split('/').collect();
    let path: Vec<&str> = path.split('/').collect();
    template.len() == path.len()
        && template.iter().zip(&path).all(|(expected, actual)| {
            (expected.starts_with('{') && !actual.is_empty()) || expected == actual
        })
}

/// The answer for a request no route takes: 405 listing the allowed methods when the path
/// exists, else 404.
pub async fn no_route(
    request: actix_web::HttpRequest,
    routes: web::Data<RouteTable>,
) -> HttpResponse {
    // The path as the router reads it (escapes decoded), so an escaped spelling of a
    // route's path is told the same methods.
    request.extensions_mut().insert(auth::Unrouted);
    let path = request.match_info().as_str();
    // The OpenAPI document and the docs page are read, never written.
    let documents = (path == "/openapi.json" || path == "/docs" || path.starts_with("/docs/"))
        .then(|| vec!["GET"]);
    let error = match routes.methods_of(path).or(documents) {
        Some(methods) => ApiError::MethodNotAllowed {
            allowed: methods.iter().map(|method| (*method).to_owned()).collect(),
        },
        None => ApiError::NotFound("no such endpoint".into()),
    };
    actix_web::ResponseError::error_response(&error)
}

/// `/docs` without the trailing slash goes to the docs page.
/// The reference's page: Swagger UI's own page, under the service's title.
pub async fn docs_page() -> HttpResponse {
    let config = std::sync::Arc::new(utoipa_swagger_ui::Config::from("/openapi.json"));
    match utoipa_swagger_ui::serve("index.html", config) {
        Ok(Some(file)) if !file.gzpipped => HttpResponse::Ok()
            .content_type(file.content_type)
            .body(String::from_utf8_lossy(&file.bytes).replace(
                "<title>Swagger UI</title>",
                "<title>cppcc-api · API reference (政协履职服务接口)</title>",
            )),
        _ => actix_web::ResponseError::error_response(&ApiError::Internal(
            "the reference's page is missing from the build".into(),
        )),
    }
}

pub async fn docs_redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((actix_web::http::header::LOCATION, "/docs/"))
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_match_whole_segments() {
        assert!(template_matches(
            "/api/v1/members/{id}",
            "/api/v1/members/42"
        ));
        assert!(!template_matches("/api/v1/members/{id}", "/api/v1/members"));
        assert!(!template_matches(
            "/api/v1/members/{id}",
            "/api/v1/members/42/x"
        ));
        // The router takes no trailing slash, and neither does the table.
        assert!(!template_matches("/api/v1/members", "/api/v1/members/"));
    }

    #[test]
    fn every_registered_route_has_an_access_policy() {
        let routes = RouteTable::from_document(&crate::openapi::document());
        let mut unguarded = Vec::new();
        for (method, path) in routes.operations() {
            let operation = routes.operation(method, path).unwrap();
            let public = matches!(path, "/healthz" | "/readyz");
            assert!(
                public || path.starts_with("/api/v1/"),
                "{method} {path} is outside the API"
            );
            if !public && operation.policy.is_none() {
                unguarded.push(format!("{method} {path} ({})", operation.id));
            }
        }
        assert!(
            unguarded.is_empty(),
            "registered without a policy: {unguarded:?}"
        );
    }

    #[test]
    fn keys_districts_scoring_rules_and_the_trail_have_their_narrow_policies() {
        use crate::domain::kinds::Role;
        let routes = RouteTable::from_document(&crate::openapi::document());
        let roles = |method: &str, path: &str| {
            routes
                .operation(method, path)
                .and_then(|operation| operation.policy.clone())
                .map(|policy| policy.roles)
                .unwrap_or_else(|| panic!("{method} {path}"))
        };
        for (method, path) in [
            ("GET", "/api/v1/keys"),
            ("POST", "/api/v1/keys"),
            ("POST", "/api/v1/keys/{id}/revoke"),
            ("POST", "/api/v1/districts"),
            ("PATCH", "/api/v1/districts/{district}"),
            ("DELETE", "/api/v1/districts/{district}"),
            ("POST", "/api/v1/scoring-rules"),
        ] {
            assert_eq!(roles(method, path), vec![Role::Admin], "{method} {path}");
        }
        for path in ["/api/v1/audit-events", "/api/v1/audit-events/verify"] {
            assert_eq!(roles("GET", path), vec![Role::Admin, Role::Auditor]);
        }
        for (method, path) in [
            ("POST", "/api/v1/sync/members"),
            ("GET", "/api/v1/sync/snapshot"),
        ] {
            assert_eq!(roles(method, path), vec![Role::Admin, Role::Sync]);
        }
    }

    #[test]
    fn the_route_table_knows_every_operation() {
        let routes = RouteTable::from_document(&crate::openapi::document());
        assert_eq!(
            routes.methods_of("/api/v1/members/1"),
            Some(vec!["GET", "PATCH", "DELETE"])
        );
        assert!(
            routes
                .operations()
                .any(|op| op == ("PUT", "/api/v1/workstations/{id}/members/{member_id}"))
        );
    }
}
