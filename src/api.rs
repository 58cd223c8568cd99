//! The HTTP API: every route of the service is registered here.

pub mod activities;
pub mod audit;
pub mod auth;
pub mod changes;
pub mod consultations;
pub mod departments;
pub mod districts;
pub mod evaluations;
pub mod health;
pub mod http;
pub mod idempotency;
pub mod input;
pub mod key_cache;
pub mod key_tasks;
pub mod keys;
pub mod meetings;
pub mod members;
pub mod page;
pub mod performance;
pub mod proposals;
pub mod reference;
pub mod reports;
pub mod rulings;
pub mod sealer;
pub mod sync;
pub mod workflow;
pub mod workstations;

use actix_web::dev::{ServiceFactory, ServiceRequest};
use actix_web::{App, HttpResponse, web};
use utoipa::openapi::OpenApi as Document;
use utoipa_actix_web::{AppExt, UtoipaApp, scope};

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
                .wrap(actix_web::middleware::from_fn(sealer::wake_after_writes))
                .wrap(actix_web::middleware::from_fn(idempotency::idempotent))
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
                .configure(keys::configure)
                .configure(audit::configure),
        )
}

/// The OpenAPI document of [`routes`].
pub fn spec() -> Document {
    let (_, document) =
        routes(App::new().into_utoipa_app().openapi(crate::openapi::base())).split_for_parts();
    crate::openapi::finish(document)
}

/// The routes of the API as its OpenAPI document lists them: which methods each path
/// template takes.
#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    routes: Vec<(String, Vec<&'static str>)>,
}

impl RouteTable {
    pub fn from_document(document: &Document) -> Self {
        let routes = document
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let methods = [
                    ("GET", item.get.is_some()),
                    ("POST", item.post.is_some()),
                    ("PUT", item.put.is_some()),
                    ("PATCH", item.patch.is_some()),
                    ("DELETE", item.delete.is_some()),
                ]
                .into_iter()
                .filter_map(|(method, present)| present.then_some(method))
                .collect();
                (path.clone(), methods)
            })
            .collect();
        Self { routes }
    }

    /// Every (method, path template) pair.
    pub fn operations(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.routes
            .iter()
            .flat_map(|(path, methods)| methods.iter().map(move |method| (*method, path.as_str())))
    }

    /// The methods of the route whose template is exactly `path`, with no parameter.
    pub fn methods_of_literal(&self, path: &str) -> Option<&[&'static str]> {
        let path = path.trim_end_matches('/');
        self.routes
            .iter()
            .find(|(template, _)| !template.contains('{') && template.trim_end_matches('/') == path)
            .map(|(_, methods)| methods.as_slice())
    }

    /// The methods of the route whose template matches `path`, if one does.
    pub fn methods_of(&self, path: &str) -> Option<&[&'static str]> {
        self.routes
            .iter()
            .find(|(template, _)| template_matches(template, path))
            .map(|(_, methods)| methods.as_slice())
    }
}

/// Whether a concrete path fits a template such as `/api/v1/members/{id}`.
fn template_matches(template: &str, path: &str) -> bool {
    let template: Vec<&str> = template.trim_end_matches('/').split('/').collect();
    let path: Vec<&str> = path.trim_end_matches('/').split('/').collect();
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
    let error = match routes.methods_of(request.path()) {
        Some(methods) => ApiError::MethodNotAllowed {
            allowed: methods.iter().map(|method| (*method).to_owned()).collect(),
        },
        None => ApiError::NotFound("no such endpoint".into()),
    };
    actix_web::ResponseError::error_response(&error)
}

/// `/docs` without the trailing slash goes to the docs page.
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
        assert!(template_matches("/api/v1/members", "/api/v1/members/"));
    }

    #[test]
    fn the_route_table_knows_every_operation() {
        let routes = RouteTable::from_document(&spec());
        assert_eq!(
            routes.methods_of("/api/v1/members/1"),
            Some(&["GET", "PATCH", "DELETE"][..])
        );
        assert!(
            routes
                .operations()
                .any(|op| op == ("PUT", "/api/v1/workstations/{id}/members/{member_id}"))
        );
    }
}
