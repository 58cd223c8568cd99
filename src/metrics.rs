//! Operational metrics in the Prometheus text format, served by `GET /metrics` on their
//! own listener (`METRICS_ADDR`, loopback by default), never on the API's.
//!
//! Requests are counted per application by the middleware [`record`]; database failures
//! are counted where they are mapped to an answer ([`crate::error`]), for the process.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse, web};

use crate::api::key_cache::KeyCache;
use crate::api::sealer::Sealer;
use crate::db::{DbPool, Pools};

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The route label of a request no route took: keeps the label set bounded whatever
/// paths clients make up.
const UNMATCHED: &str = "unmatched";

/// One series of answers: the same method, route template and status.
#[derive(Debug, Default, Clone)]
struct Series {
    /// Answers in each bucket (not cumulative; summed when written).
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Series {
    fn observe(&mut self, seconds: f64) {
        if let Some(index) = BUCKETS.iter().position(|bound| seconds <= *bound) {
            self.buckets[index] += 1;
        }
        self.count += 1;
        self.sum += seconds;
    }
}

type SeriesKey = (String, String, u16);

/// The request metrics of one application.
#[derive(Debug, Default)]
pub struct Metrics {
    series: Mutex<BTreeMap<SeriesKey, Series>>,
}

impl Metrics {
    fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        if let Ok(mut series) = self.series.lock() {
            series
                .entry((method.to_owned(), route.to_owned(), status))
                .or_default()
                .observe(seconds);
        }
    }

    /// Every metric, in the Prometheus text exposition format (version 0.0.4).
    pub fn render(&self, pools: &Pools, keys: &KeyCache, sealer: &Sealer) -> String {
        let series = self
            .series
            .lock()
            .map(|series| series.clone())
            .unwrap_or_default();
        let mut out = String::new();
        header(
            &mut out,
            "cppcc_http_requests_total",
            "counter",
            "Requests answered, by method, route template and status.",
        );
        for ((method, route, status), s) in &series {
            let _ = writeln!(
                out,
                "cppcc_http_requests_total{{{}}} {}",
                labels(method, route, *status),
                s.count
            );
        }
        header(
            &mut out,
            "cppcc_http_request_duration_seconds",
            "histogram",
            "Time from receiving a request to its answer being ready, by method, route \
             template and status.",
        );
        for ((method, route, status), s) in &series {
            let labels = labels(method, route, *status);
            let mut cumulative = 0;
            for (bound, count) in BUCKETS.iter().zip(s.buckets) {
                cumulative += count;
                let _ = writeln!(
                    out,
                    "cppcc_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "cppcc_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                s.count
            );
            let _ = writeln!(
                out,
                "cppcc_http_request_duration_seconds_sum{{{labels}}} {}",
                s.sum
            );
            let _ = writeln!(
                out,
                "cppcc_http_request_duration_seconds_count{{{labels}}} {}",
                s.count
            );
        }
        let status = pools.status();
        gauge(
            &mut out,
            "cppcc_db_pool_max_connections",
            "The most database connections the HTTP workers' pools open together.",
            status.max_size,
        );
        header(
            &mut out,
            "cppcc_db_pool_connections",
            "gauge",
            "Open database connections: in use by a request, or idle in a pool.",
        );
        let _ = writeln!(
            out,
            "cppcc_db_pool_connections{{state=\"in_use\"}} {}",
            status.size.saturating_sub(status.available)
        );
        let _ = writeln!(
            out,
            "cppcc_db_pool_connections{{state=\"idle\"}} {}",
            status.available
        );
        gauge(
            &mut out,
            "cppcc_db_pool_waiting",
            "Requests waiting for a database connection right now.",
            status.waiting,
        );
        counter(
            &mut out,
            "cppcc_db_pool_waits_total",
            "Requests that found no idle connection and waited for one.",
            DB.waits.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "cppcc_db_pool_timeouts_total",
            "Requests that got no connection within DATABASE_POOL_TIMEOUT_SECS (answered 503).",
            DB.pool_timeouts.load(Ordering::Relaxed),
        );
        header(
            &mut out,
            "cppcc_db_errors_total",
            "counter",
            "Database failures by kind: a connection that could not be made or was lost \
             (unavailable), a statement cancelled by DATABASE_STATEMENT_TIMEOUT_MS \
             (statement_timeout), a deadlock or serialization failure (contention, counted \
             on every attempt, retried ones included), anything else (other, answered 500).",
        );
        for (kind, value) in [
            ("unavailable", &DB.unavailable),
            ("statement_timeout", &DB.statement_timeouts),
            ("contention", &DB.contention),
            ("other", &DB.other),
        ] {
            let _ = writeln!(
                out,
                "cppcc_db_errors_total{{kind=\"{kind}\"}} {}",
                value.load(Ordering::Relaxed)
            );
        }
        header(
            &mut out,
            "cppcc_api_key_cache_lookups_total",
            "counter",
            "Authenticated requests whose key was found verified in memory (hit) or was \
             read from the database (miss).",
        );
        let (hits, misses, connects) = keys.counts();
        for (result, value) in [("hit", hits), ("miss", misses)] {
            let _ = writeln!(
                out,
                "cppcc_api_key_cache_lookups_total{{result=\"{result}\"}} {value}"
            );
        }
        gauge(
            &mut out,
            "cppcc_api_key_cache_listening",
            "1 while the key-change listener is connected and keys may be served from \
             memory; 0 otherwise (every request reads its key from the database).",
            usize::from(keys.is_listening()),
        );
        counter(
            &mut out,
            "cppcc_api_key_cache_listener_connects_total",
            "Times the key-change listener connected; more than one means it lost its \
             connection and made a new one.",
            connects,
        );
        let (rounds, events, failures) = sealer.counts();
        counter(
            &mut out,
            "cppcc_audit_seal_rounds_total",
            "Rounds of this process's sealer that chained pending audit events.",
            rounds,
        );
        counter(
            &mut out,
            "cppcc_audit_sealed_events_total",
            "Audit events this process's sealer chained (readers of the trail seal too, \
             and other processes: the chain's length is in the database).",
            events,
        );
        counter(
            &mut out,
            "cppcc_audit_seal_failures_total",
            "Rounds of the sealer that failed (the events stay pending for the next).",
            failures,
        );
        counter(
            &mut out,
            "cppcc_audit_checkpoints_total",
            "Checkpoints of the audit trail this process signed.",
            sealer.checkpoints(),
        );
        out
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn gauge(out: &mut String, name: &str, help: &str, value: usize) {
    header(out, name, "gauge", help);
    let _ = writeln!(out, "{name} {value}");
}

fn counter(out: &mut String, name: &str, help: &str, value: u64) {
    header(out, name, "counter", help);
    let _ = writeln!(out, "{name} {value}");
}

fn labels(method: &str, route: &str, status: u16) -> String {
    format!(
        "method=\"{}\",route=\"{}\",status=\"{status}\"",
        escape(method),
        escape(route)
    )
}

/// A label value as the text format wants it: backslash, quote and newline escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Database failures of the process, counted where they become answers.
#[derive(Debug, Default)]
pub struct DbCounters {
    waits: AtomicU64,
    pool_timeouts: AtomicU64,
    unavailable: AtomicU64,
    statement_timeouts: AtomicU64,
    contention: AtomicU64,
    other: AtomicU64,
}

static DB: DbCounters = DbCounters {
    waits: AtomicU64::new(0),
    pool_timeouts: AtomicU64::new(0),
    unavailable: AtomicU64::new(0),
    statement_timeouts: AtomicU64::new(0),
    contention: AtomicU64::new(0),
    other: AtomicU64::new(0),
};

/// A database failure, as counted.
#[derive(Debug, Clone, Copy)]
pub enum DbFailure {
    /// No connection within the pool's wait.
    PoolTimeout,
    /// A connection that could not be made or was lost.
    Unavailable,
    StatementTimeout,
    /// A deadlock or a serialization failure.
    Contention,
    Other,
}

/// Counts a database failure.
pub fn db_failure(failure: DbFailure) {
    let counter = match failure {
        DbFailure::PoolTimeout => &DB.pool_timeouts,
        DbFailure::Unavailable => &DB.unavailable,
        DbFailure::StatementTimeout => &DB.statement_timeouts,
        DbFailure::Contention => &DB.contention,
        DbFailure::Other => &DB.other,
    };
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Counts a request that found every connection of the pool in use, before it waits.
pub fn pool_wait(pool: &DbPool) {
    let status = pool.status();
    if status.available == 0 && status.size >= status.max_size {
        DB.waits.fetch_add(1, Ordering::Relaxed);
    }
}

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
        metrics.observe(method, &route, status, started.elapsed().as_secs_f64());
    }
    result
}

/// `GET /metrics`.
pub async fn serve(
    _: web::Query<crate::api::http::NoQuery>,
    metrics: web::Data<Metrics>,
    pools: web::Data<Pools>,
    keys: web::Data<KeyCache>,
    sealer: web::Data<Sealer>,
) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(metrics.render(&pools, &keys, &sealer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_series_falls_in_the_first_bucket_that_holds_it() {
        let mut series = Series::default();
        series.observe(0.0007);
        series.observe(0.003);
        series.observe(30.0);
        assert_eq!(series.buckets[0], 1);
        assert_eq!(series.buckets[2], 1);
        assert_eq!(
            series.buckets.iter().sum::<u64>(),
            2,
            "30 s is only in +Inf"
        );
        assert_eq!(series.count, 3);
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
