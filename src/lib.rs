//! `cppcc-api`: the HTTP service behind the daily work of the district committees of a
//! political consultative conference.

pub mod api;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod openapi;
pub mod seed;
pub mod telemetry;

use std::net::TcpListener;

use actix_cors::Cors;
use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, http::header, web};
use tracing_actix_web::TracingLogger;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

use crate::config::Config;
use crate::db::{DbPool, SetupError};

/// Failures before the service can serve.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Database(#[from] SetupError),
    #[error("cannot listen on {addr}: {cause}")]
    Bind { addr: String, cause: std::io::Error },
}

/// A running service: its port and the server future.
pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    /// Prepares the database (creating it if needed, applying migrations) and binds the
    /// listener; the server runs once [`Application::run_until_stopped`] is awaited.
    pub async fn build(config: &Config) -> Result<Self, StartError> {
        db::ensure_database(&config.database_url).await?;
        let applied = db::run_migrations(&config.database_url).await?;
        if !applied.is_empty() {
            tracing::info!(?applied, "applied migrations");
        }
        let pool = db::build_pool(
            &config.database_url,
            config.pool_size,
            config.pool_timeout,
            config.statement_timeout,
        )?;
        let listener = TcpListener::bind(config.bind_addr).map_err(|cause| StartError::Bind {
            addr: config.bind_addr.to_string(),
            cause,
        })?;
        let port = listener
            .local_addr()
            .map_err(|cause| StartError::Bind {
                addr: config.bind_addr.to_string(),
                cause,
            })?
            .port();
        let server = serve(listener, pool, config).map_err(|cause| StartError::Bind {
            addr: config.bind_addr.to_string(),
            cause,
        })?;
        Ok(Self { port, server })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until the process is told to stop; in-flight requests are finished first.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

fn cors(origins: &[String]) -> Cors {
    let mut cors = Cors::default()
        .allowed_methods(["GET", "POST", "PUT", "PATCH", "DELETE"])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_MATCH,
            header::IF_NONE_MATCH,
            header::HeaderName::from_static("idempotency-key"),
            telemetry::REQUEST_ID_HEADER,
        ])
        .expose_headers([
            header::ETAG,
            header::LOCATION,
            header::RETRY_AFTER,
            telemetry::REQUEST_ID_HEADER,
            header::HeaderName::from_static("idempotent-replayed"),
        ])
        .max_age(3600);
    for origin in origins {
        cors = cors.allowed_origin(origin);
    }
    cors
}

/// Builds the HTTP server over an already bound listener.
pub fn serve(listener: TcpListener, pool: DbPool, config: &Config) -> std::io::Result<Server> {
    let pool = web::Data::new(pool);
    let document = openapi::document();
    let routes = web::Data::new(api::RouteTable::from_document(&document));
    let throttle = web::Data::new(api::auth::Throttle::default());
    let origins = config.cors_origins.clone();
    let server = HttpServer::new(move || {
        let (app, _) = api::routes(
            App::new()
                .into_utoipa_app()
                .app_data(pool.clone())
                .app_data(routes.clone())
                .app_data(throttle.clone()),
        )
        .split_for_parts();
        app.service(web::resource("/docs").route(web::get().to(api::docs_redirect)))
            .service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", document.clone()))
            .default_service(web::to(api::no_route))
            .wrap(cors(&origins))
            .wrap(TracingLogger::<telemetry::RequestSpan>::new())
            .wrap(from_fn(telemetry::request_id))
    })
    .listen(listener)?
    .run();
    Ok(server)
}
