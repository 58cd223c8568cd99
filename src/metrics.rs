//! Operational metrics, kept with the Prometheus client library (`prometheus-client`).
//!
//! This module depends on nothing else of the service: the parts that count (the store's
//! failure mapping, the key cache, the sealer) reach down to it, and the HTTP layer times
//! requests with it and serves `GET /metrics` on a listener of its own.

use std::sync::LazyLock;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// One series of answers: the same method, route template and status.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: &'static str,
    pub route: String,
    pub status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

fn latency_histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

/// What the connection pools hold at the moment of a scrape.
#[derive(Debug, Clone, Copy, Default)]
pub struct PoolGauges {
    pub max: usize,
    pub in_use: usize,
    pub idle: usize,
    pub waiting: usize,
}

/// The metrics of one application: its requests and pools, and the counters of the
/// process and of its key cache and sealer, registered together.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: Family<RequestLabels, Histogram, fn() -> Histogram>,
    pool_max: Gauge,
    pool_connections: Family<StateLabels, Gauge>,
    pool_waiting: Gauge,
}

impl Metrics {
    pub fn new(keys: &KeyCacheMetrics, sealer: &SealerMetrics) -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "cppcc_http_requests",
            "Requests answered, by method, route template and status",
            requests.clone(),
        );
        let durations = Family::new_with_constructor(latency_histogram as fn() -> Histogram);
        registry.register(
            "cppcc_http_request_duration_seconds",
            "Time from receiving a request to its answer being ready, by method, route \
             template and status",
            durations.clone(),
        );
        let pool_max = Gauge::default();
        registry.register(
            "cppcc_db_pool_max_connections",
            "The most database connections the HTTP workers' pools open together",
            pool_max.clone(),
        );
        let pool_connections = Family::<StateLabels, Gauge>::default();
        registry.register(
            "cppcc_db_pool_connections",
            "Open database connections: in use by a request, or idle in a pool",
            pool_connections.clone(),
        );
        let pool_waiting = Gauge::default();
        registry.register(
            "cppcc_db_pool_waiting",
            "Requests waiting for a database connection right now",
            pool_waiting.clone(),
        );
        let db = &*DB;
        registry.register(
            "cppcc_db_pool_waits",
            "Requests that found no idle connection and waited for one",
            db.waits.clone(),
        );
        registry.register(
            "cppcc_db_pool_timeouts",
            "Requests that got no connection within DATABASE_POOL_TIMEOUT_SECS (answered 503)",
            db.pool_timeouts.clone(),
        );
        registry.register(
            "cppcc_db_errors",
            "Database failures by kind: a connection that could not be made or was lost \
             (unavailable), a statement cancelled by DATABASE_STATEMENT_TIMEOUT_MS \
             (statement_timeout), a deadlock or serialization failure (contention, counted \
             on every attempt, retried ones included), anything else (other, answered 500)",
            db.errors.clone(),
        );
        registry.register(
            "cppcc_api_key_cache_lookups",
            "Authenticated requests whose key was found verified in memory (hit) or was \
             read from the database (miss)",
            keys.lookups.clone(),
        );
        registry.register(
            "cppcc_api_key_cache_listening",
            "1 while the key-change listener is connected and keys may be served from \
             memory; 0 otherwise (every request reads its key from the database)",
            keys.listening.clone(),
        );
        registry.register(
            "cppcc_api_key_cache_listener_connects",
            "Times the key-change listener connected; more than one means it lost its \
             connection and made a new one",
            keys.listener_connects.clone(),
        );
        registry.register(
            "cppcc_audit_seal_rounds",
            "Rounds of this process's sealer that chained pending audit events",
            sealer.rounds.clone(),
        );
        registry.register(
            "cppcc_audit_sealed_events",
            "Audit events this process's sealer chained (readers of the trail seal too, \
             and other processes: the chain's length is in the database)",
            sealer.events.clone(),
        );
        registry.register(
            "cppcc_audit_seal_failures",
            "Rounds of the sealer that failed (the events stay pending for the next)",
            sealer.failures.clone(),
        );
        registry.register(
            "cppcc_audit_checkpoints",
            "Checkpoints of the audit trail this process signed",
            sealer.checkpoints.clone(),
        );
        // Every kind and result is listed from the start, at zero.
        for kind in DbFailure::KINDS {
            let _ = db.errors.get_or_create(&KindLabels { kind });
        }
        for result in ["hit", "miss"] {
            let _ = keys.lookups.get_or_create(&ResultLabels { result });
        }
        Self {
            registry,
            requests,
            durations,
            pool_max,
            pool_connections,
            pool_waiting,
        }
    }

    /// Counts and times one answer.
    pub fn observe(&self, labels: RequestLabels, seconds: f64) {
        self.durations.get_or_create(&labels).observe(seconds);
        self.requests.get_or_create(&labels).inc();
    }

    /// Every metric in the OpenMetrics text format, the pools as `pools` stand.
    pub fn render(&self, pools: PoolGauges) -> String {
        let gauge = |value: usize| i64::try_from(value).unwrap_or(i64::MAX);
        self.pool_max.set(gauge(pools.max));
        for (state, value) in [("in_use", pools.in_use), ("idle", pools.idle)] {
            self.pool_connections
                .get_or_create(&StateLabels { state })
                .set(gauge(value));
        }
        self.pool_waiting.set(gauge(pools.waiting));
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("encoding metrics to memory cannot fail");
        out
    }
}

/// The key cache's counts.
#[derive(Debug, Clone, Default)]
pub struct KeyCacheMetrics {
    lookups: Family<ResultLabels, Counter>,
    listening: Gauge,
    listener_connects: Counter,
}

impl KeyCacheMetrics {
    /// A key found verified in memory (`true`) or read from the database.
    pub fn lookup(&self, hit: bool) {
        let result = if hit { "hit" } else { "miss" };
        self.lookups.get_or_create(&ResultLabels { result }).inc();
    }

    pub fn listening(&self, listening: bool) {
        self.listening.set(i64::from(listening));
    }

    pub fn listener_connected(&self) {
        self.listener_connects.inc();
    }

    /// Hits, misses and listener connections so far.
    #[cfg(test)]
    pub fn counts(&self) -> (u64, u64, u64) {
        let lookups = |result| self.lookups.get_or_create(&ResultLabels { result }).get();
        (
            lookups("hit"),
            lookups("miss"),
            self.listener_connects.get(),
        )
    }
}

/// The sealer's counts.
#[derive(Debug, Clone, Default)]
pub struct SealerMetrics {
    rounds: Counter,
    events: Counter,
    failures: Counter,
    checkpoints: Counter,
}

impl SealerMetrics {
    /// A round that chained `events` (none: an idle round, not counted).
    pub fn sealed(&self, events: u64) {
        if events > 0 {
            self.rounds.inc();
            self.events.inc_by(events);
        }
    }

    pub fn failed(&self) {
        self.failures.inc();
    }

    pub fn signed(&self, checkpoints: u64) {
        self.checkpoints.inc_by(checkpoints);
    }
}

/// Database failures and waits of the process, counted where they happen.
#[derive(Debug, Default)]
struct DbMetrics {
    waits: Counter,
    pool_timeouts: Counter,
    errors: Family<KindLabels, Counter>,
}

static DB: LazyLock<DbMetrics> = LazyLock::new(DbMetrics::default);

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

impl DbFailure {
    /// The kinds `cppcc_db_errors_total` counts (a pool timeout has a counter of its own).
    const KINDS: [&'static str; 4] = ["unavailable", "statement_timeout", "contention", "other"];
}

/// Counts a database failure.
pub fn db_failure(failure: DbFailure) {
    let kind = match failure {
        DbFailure::PoolTimeout => {
            DB.pool_timeouts.inc();
            return;
        }
        DbFailure::Unavailable => "unavailable",
        DbFailure::StatementTimeout => "statement_timeout",
        DbFailure::Contention => "contention",
        DbFailure::Other => "other",
    };
    DB.errors.get_or_create(&KindLabels { kind }).inc();
}

/// Counts a request that found every connection of its pool in use, before it waits.
pub fn pool_waited() {
    DB.waits.inc();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    }

    #[test]
    fn an_answer_falls_in_the_first_bucket_that_holds_it_and_is_counted() {
        let metrics = Metrics::new(&KeyCacheMetrics::default(), &SealerMetrics::default());
        for seconds in [0.0007, 0.003, 30.0] {
            let labels = RequestLabels {
                method: "GET",
                route: "/a".into(),
                status: 200,
            };
            metrics.observe(labels, seconds);
        }
        let text = metrics.render(PoolGauges::default());
        let labels = r#"method="GET",route="/a",status="200""#;
        let bucket = |le: &str| {
            value(
                &text,
                &format!("cppcc_http_request_duration_seconds_bucket{{le=\"{le}\",{labels}}}"),
            )
        };
        assert_eq!(bucket("0.001"), Some(1.0));
        assert_eq!(bucket("0.005"), Some(2.0), "buckets are cumulative");
        assert_eq!(bucket("10.0"), Some(2.0), "30 s is only in +Inf");
        assert_eq!(bucket("+Inf"), Some(3.0));
        assert_eq!(
            value(&text, &format!("cppcc_http_requests_total{{{labels}}}")),
            Some(3.0)
        );
    }

    #[test]
    fn label_values_are_escaped() {
        let metrics = Metrics::new(&KeyCacheMetrics::default(), &SealerMetrics::default());
        let labels = RequestLabels {
            method: "GET",
            route: "a\"b\\c\nd".into(),
            status: 200,
        };
        metrics.observe(labels, 0.1);
        let text = metrics.render(PoolGauges::default());
        assert!(
            text.contains(r#"route="a\"b\\c\nd""#),
            "the route's quote, backslash and newline are escaped: {text}"
        );
    }
}
