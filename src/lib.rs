//! `cppcc-api`: the HTTP service behind the daily work of the district committees of a
//! political consultative conference.

pub mod api;
pub mod audit_key;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod key_cache;
pub mod metrics;
pub mod oidc;
pub mod openapi;
pub mod sealer;
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
use crate::db::SetupError;

/// Failures before the service can serve.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Database(#[from] SetupError),
    #[error(transparent)]
    SigningKey(#[from] audit_key::KeyError),
    #[error("cannot make the HTTP client of the identity providers: {0}")]
    IdentityClient(#[from] reqwest::Error),
    #[error("cannot listen on {addr}: {cause}")]
    Bind { addr: String, cause: std::io::Error },
}

/// A running service: its ports and the server futures.
pub struct Application {
    port: u16,
    metrics_port: u16,
    server: Server,
    metrics_server: Server,
    key_listener: tokio::task::JoinHandle<()>,
    sealing: tokio::task::JoinHandle<()>,
    purging: tokio::task::JoinHandle<()>,
    /// Fetches the identity providers' keys, at start and then every few minutes.
    issuer_keys: tokio::task::JoinHandle<()>,
}

/// What every server of the process shares.
#[derive(Clone)]
pub struct Shared {
    pub pools: web::Data<db::Pools>,
    pub metrics: web::Data<metrics::Metrics>,
    pub keys: web::Data<key_cache::KeyCache>,
    pub sealer: web::Data<sealer::Sealer>,
    pub trusted_keys: web::Data<api::audit::TrustedKeys>,
    /// The verifier of OpenID Connect tokens (trusting no issuer unless configured).
    pub oidc: web::Data<oidc::Verifier>,
}

impl Shared {
    /// Makes the shared state available to an app's handlers.
    fn register(&self, config: &mut web::ServiceConfig) {
        config
            .app_data(self.pools.clone())
            .app_data(self.metrics.clone())
            .app_data(self.keys.clone())
            .app_data(self.sealer.clone())
            .app_data(self.trusted_keys.clone())
            .app_data(self.oidc.clone());
    }
}

impl Application {
    /// Binds the listeners, then prepares the database (creating it if needed, applying
    /// migrations); the server runs once [`Application::run_until_stopped`] is awaited.
    pub async fn build(config: &Config) -> Result<Self, StartError> {
        // The addresses first: a busy port is reported before the database is touched.
        let listener = bind(config.bind_addr)?;
        let port = local_port(&listener, config.bind_addr)?;
        let metrics_listener = bind(config.metrics_addr)?;
        let metrics_port = local_port(&metrics_listener, config.metrics_addr)?;
        db::ensure_database(&config.database_url).await?;
        let applied = db::run_migrations(&config.database_url).await?;
        if !applied.is_empty() {
            tracing::info!(?applied, "applied migrations");
        }
        let pools = db::Pools::new(
            &config.database_url,
            config.pool_size,
            config.http_workers,
            config.pool_timeout,
            config.statement_timeout,
        )?;
        // Sealing runs beside the requests, on this runtime, with a connection of its own.
        let pool = db::build_pool(
            &config.database_url,
            1,
            config.pool_timeout,
            config.statement_timeout,
        )?;
        let mut cursor_secrets: Vec<Vec<u8>> = config
            .cursor_secrets
            .iter()
            .map(|secret| secret.as_bytes().to_vec())
            .collect();
        cursor_secrets.push(db::cursor_secret(&pool).await?);
        let signer = std::sync::Arc::new(audit_key::load(config)?);
        db::register_signing_key(&pool, &signer).await?;
        let mut trusted = vec![signer.public_key()];
        trusted.extend(config.audit_trusted_keys.iter().copied());
        domain::cursor::install(cursor_secrets);
        let pool = web::Data::new(pool);
        let keys = web::Data::new(key_cache::KeyCache::new(config.key_cache_ttl));
        let sealer = web::Data::new(sealer::Sealer::new(
            signer,
            config.audit_checkpoint_interval,
        ));
        let metrics = web::Data::new(metrics::Metrics::new(keys.metrics(), sealer.metrics()));
        let key_listener = tokio::spawn({
            let keys = keys.clone();
            let url = config.database_url.clone();
            async move { keys.listen(url).await }
        });
        let sealing = tokio::spawn({
            let sealer = sealer.clone();
            let pool = pool.clone();
            async move { sealer.run(pool).await }
        });
        // Expired idempotency keys are removed beside the requests, over a connection of
        // their own.
        let purging = tokio::spawn(db::idempotency::keep_purging(db::build_pool(
            &config.database_url,
            1,
            config.pool_timeout,
            config.statement_timeout,
        )?));
        let oidc = web::Data::new(oidc::Verifier::new(config)?);
        // The issuers' keys are fetched beside the start, so the first sign-in does not
        // wait for them.
        let issuer_keys = tokio::spawn({
            let oidc = oidc.clone();
            async move {
                oidc.warm().await;
                oidc.keep_fresh().await;
            }
        });
        let shared = Shared {
            pools: web::Data::new(pools),
            metrics,
            keys,
            sealer,
            trusted_keys: web::Data::new(api::audit::TrustedKeys(trusted)),
            oidc,
        };
        let bind_error = |addr: std::net::SocketAddr| {
            move |cause| StartError::Bind {
                addr: addr.to_string(),
                cause,
            }
        };
        let server =
            serve(listener, shared.clone(), config).map_err(bind_error(config.bind_addr))?;
        let metrics_server =
            serve_metrics(metrics_listener, shared).map_err(bind_error(config.metrics_addr))?;
        Ok(Self {
            port,
            metrics_port,
            server,
            metrics_server,
            key_listener,
            sealing,
            purging,
            issuer_keys,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port `GET /metrics` is served on.
    pub fn metrics_port(&self) -> u16 {
        self.metrics_port
    }

    /// Serves until the process is told to stop (SIGTERM or SIGINT): both listeners close
    /// at once, and in-flight requests are finished first.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let api = self.server.handle();
        let metrics = self.metrics_server.handle();
        let stop = tokio::spawn(async move {
            stop_signal().await;
            tracing::info!("stopping: finishing the requests in flight");
            futures_util::future::join(api.stop(true), metrics.stop(true)).await;
        });
        let served = futures_util::future::try_join(self.server, self.metrics_server).await;
        stop.abort();
        self.key_listener.abort();
        self.sealing.abort();
        self.purging.abort();
        self.issuer_keys.abort();
        served.map(|_| ())
    }
}

/// Resolves when the process is asked to stop.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = terminate.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn bind(addr: std::net::SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr).map_err(|cause| StartError::Bind {
        addr: addr.to_string(),
        cause,
    })
}

fn local_port(listener: &TcpListener, addr: std::net::SocketAddr) -> Result<u16, StartError> {
    listener
        .local_addr()
        .map(|local| local.port())
        .map_err(|cause| StartError::Bind {
            addr: addr.to_string(),
            cause,
        })
}

/// Serves `GET /metrics` over its own listener, with one worker.
fn serve_metrics(listener: TcpListener, shared: Shared) -> std::io::Result<Server> {
    Ok(HttpServer::new(move || {
        App::new()
            .configure(|config| shared.register(config))
            .app_data(api::http::query_config())
            .service(
                web::resource("/metrics")
                    .route(web::get().to(api::metrics::serve))
                    .default_service(web::to(|| async {
                        Err::<actix_web::HttpResponse, _>(error::ApiError::MethodNotAllowed {
                            allowed: vec!["GET".to_owned()],
                        })
                    })),
            )
            .default_service(web::to(|| async {
                Err::<actix_web::HttpResponse, _>(error::ApiError::NotFound(
                    "no such endpoint: this listener serves /metrics".into(),
                ))
            }))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run())
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
pub fn serve(listener: TcpListener, shared: Shared, config: &Config) -> std::io::Result<Server> {
    let document = openapi::document();
    let routes = web::Data::new(api::RouteTable::from_document(&document));
    let throttle = web::Data::new(api::throttle::Throttle::new(config.auth_failure_limit));
    let proxies = web::Data::new(api::throttle::TrustedProxies::new(
        config.trusted_proxies.clone(),
        config.forwarded_header,
    ));
    let body_deadline = web::Data::new(api::http::BodyDeadline(config.body_timeout));
    let origins = config.cors_origins.clone();
    // Each worker its own pool (see `db::Pools`), in the order they start.
    let started = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let server = HttpServer::new(move || {
        let worker = started.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let pool = web::Data::new(shared.pools.for_worker(worker));
        let (app, _) = api::routes(
            App::new()
                .configure(|config| shared.register(config))
                .app_data(pool)
                .into_utoipa_app()
                .app_data(body_deadline.clone())
                .app_data(routes.clone())
                .app_data(throttle.clone())
                .app_data(proxies.clone()),
        )
        .split_for_parts();
        app.service(web::resource("/docs").route(web::get().to(api::docs_redirect)))
            .service(
                web::resource(["/docs/", "/docs/index.html"]).route(web::get().to(api::docs_page)),
            )
            .service(
                SwaggerUi::new("/docs/{_:.*}")
                    .url("/openapi.json", document.clone())
                    // The key given under "Authorize" survives a reload.
                    .config(
                        utoipa_swagger_ui::Config::from("/openapi.json")
                            .persist_authorization(true),
                    ),
            )
            .default_service(web::to(api::no_route))
            .wrap(cors(&origins))
            .wrap(from_fn(api::http::problem_answers))
            .wrap(from_fn(api::http::body_deadline))
            .wrap(from_fn(api::http::plain_paths))
            .wrap(from_fn(api::metrics::record))
            .wrap(TracingLogger::<telemetry::RequestSpan>::new())
            .wrap(from_fn(telemetry::request_id))
    })
    .workers(config.http_workers)
    .client_request_timeout(std::time::Duration::from_secs(5))
    .client_disconnect_timeout(std::time::Duration::from_secs(1))
    .disable_signals()
    .listen(listener)?
    .run();
    Ok(server)
}
