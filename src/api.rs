//! The HTTP API: every route of the service is registered here.

pub mod activities;
pub mod departments;
pub mod districts;
pub mod health;
pub mod http;
pub mod input;
pub mod members;
pub mod page;
pub mod reference;
pub mod workstations;

use actix_web::dev::{ServiceFactory, ServiceRequest};
use actix_web::{App, HttpResponse};
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
                .configure(reference::configure)
                .configure(districts::configure)
                .configure(departments::configure)
                .configure(members::configure)
                .configure(workstations::configure)
                .configure(activities::configure),
        )
}

/// The OpenAPI document of [`routes`].
pub fn spec() -> Document {
    let (_, document) =
        routes(App::new().into_utoipa_app().openapi(crate::openapi::base())).split_for_parts();
    crate::openapi::finish(document)
}

/// The answer for a path no route matches.
pub async fn no_route() -> HttpResponse {
    actix_web::ResponseError::error_response(&ApiError::NotFound("no such endpoint".into()))
}

/// `/docs` without the trailing slash goes to the docs page.
pub async fn docs_redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((actix_web::http::header::LOCATION, "/docs/"))
        .finish()
}
