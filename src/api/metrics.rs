//! The HTTP side of the metrics ([`crate::metrics`]): every request timed and counted by
//! its route template, and `GET /metrics`, served on its own listener (`METRICS_ADDR`,
//! loopback by default), never on the API's.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse, web};

use crate::api::http::NoQuery;
use crate::db::Pools;
use crate::metrics::{Metrics, PoolGauges, RequestLabels};

/// The route label of a request no route took: keeps the label set bounded whatever
/// paths clients make up.
const UNMATCHED: &str = "unmatched";

/// Times and counts every request by its route template (not its path).
pub async fn record(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let metrics = request.app_data::<web::Data<Metrics>>().cloned();
    // A method a client made up is `other`: labels stay few whatever clients send.
    let method = match request.method().as_str() {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    };
    let result = next.call(request).await;
    if let Some(metrics) = metrics {
        // Read once routed: the route the router matched, whatever the path's escapes.
        let (status, route) = match &result {
            Ok(response) => (
                response.status().as_u16(),
                response.request().match_pattern(),
            ),
            Err(error) => (error.as_response_error().status_code().as_u16(), None),
        };
        let route = route.unwrap_or_else(|| UNMATCHED.to_owned());
        let labels = RequestLabels {
            method,
            route,
            status,
        };
        metrics.observe(labels, started.elapsed().as_secs_f64());
    }
    result
}

/// `GET /metrics`, in the OpenMetrics text format.
pub async fn serve(
    _: web::Query<NoQuery>,
    metrics: web::Data<Metrics>,
    pools: web::Data<Pools>,
) -> HttpResponse {
    let status = pools.status();
    let pools = PoolGauges {
        max: status.max_size,
        in_use: status.size.saturating_sub(status.available),
        idle: status.available,
        waiting: status.waiting,
    };
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(metrics.render(pools))
}
