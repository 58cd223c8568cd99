//! `/healthz` and `/readyz`, for orchestrators.

use actix_web::{HttpResponse, get, web};
use diesel_async::RunQueryDsl;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::db::DbPool;
use crate::error::ApiError;

pub fn configure(config: &mut ServiceConfig) {
    config.service(get_health).service(get_readiness);
}

/// The state of the process or of its dependencies.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// The process is alive.
#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, description = "Alive", body = Health),
        (status = 400, description = "A query parameter was sent", body = crate::error::Problem,
            content_type = "application/problem+json"),
    ),
)]
#[get("/healthz")]
async fn get_health(_: web::Query<crate::api::http::NoQuery>) -> web::Json<Health> {
    web::Json(Health { status: "ok" })
}

/// The service can reach its database and take requests.
#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 400, description = "A query parameter was sent", body = crate::error::Problem,
            content_type = "application/problem+json"),
        (status = 503, description = "The database cannot be reached", body = crate::error::Problem,
            content_type = "application/problem+json", headers(("Retry-After" = u32))),
    ),
)]
#[get("/readyz")]
async fn get_readiness(
    _: web::Query<crate::api::http::NoQuery>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = crate::db::connection(&pool).await?;
    // A query diesel keeps prepared: one round trip (raw SQL would be prepared each time).
    diesel::select(diesel::IntoSql::into_sql::<diesel::sql_types::Integer>(
        1_i32,
    ))
    .execute(&mut conn)
    .await
    .map_err(|error| {
        tracing::warn!(%error, "readiness check failed");
        ApiError::Unavailable
    })?;
    Ok(HttpResponse::Ok().json(Health { status: "ready" }))
}
