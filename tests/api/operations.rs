//! Operations: losing the database, starting without one, logs.

use std::process::Command;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{free_port, service_command, spawn_app_with, wait_until_ok, with_database};

/// Cuts the service off its database: no new connections, existing ones killed.
async fn cut_off(admin: &tokio_postgres::Client, name: &str) {
    admin
        .batch_execute(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"))
        .await
        .unwrap();
    admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
            &[&name],
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn a_lost_database_is_a_503_with_retry_after_and_the_service_recovers() {
    let app = spawn_app_with(|config| config.pool_timeout = Duration::from_secs(1)).await;
    app.district("xicheng").await;
    let name = app.database_url.rsplit('/').next().unwrap().to_owned();
    let (admin, connection) = tokio_postgres::connect(
        &with_database(&app.database_url, "postgres"),
        tokio_postgres::NoTls,
    )
    .await
    .unwrap();
    tokio::spawn(connection);
    cut_off(&admin, &name).await;

    for path in ["/api/v1/districts", "/api/v1/districts/xicheng", "/readyz"] {
        let response = app.get(path).await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert!(response.headers().contains_key("retry-after"), "{path}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
    }
    assert_eq!(
        app.get("/healthz").await.status(),
        StatusCode::OK,
        "the process lives"
    );

    admin
        .batch_execute(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"))
        .await
        .unwrap();
    let mut recovered = false;
    for _ in 0..20 {
        if app.get("/api/v1/districts/xicheng").await.status() == StatusCode::OK {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(recovered, "the service reconnects by itself");
    assert_eq!(app.get("/readyz").await.status(), StatusCode::OK);
}

#[test]
fn an_unreachable_database_at_start_is_one_clear_line_and_a_failure_exit() {
    let output = Command::new(env!("CARGO_BIN_EXE_cppcc-api"))
        .arg("serve")
        .env(
            "DATABASE_URL",
            "postgres://someone:secret@127.0.0.1:1/cppcc",
        )
        .env("BIND_ADDR", "127.0.0.1:0")
        .env("METRICS_ADDR", "127.0.0.1:0")
        .output()
        .expect("the binary runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with(
            "error: cannot connect to the database at postgres://someone:***@127.0.0.1:1/cppcc"
        ),
        "{stderr}"
    );
    assert!(
        !stderr.contains("secret"),
        "the password is hidden: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn the_openapi_subcommand_prints_the_committed_document() {
    let output = Command::new(env!("CARGO_BIN_EXE_cppcc-api"))
        .arg("openapi")
        .output()
        .expect("the binary runs");
    assert!(output.status.success());
    let printed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let committed: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(printed, committed);
}

#[tokio::test]
async fn the_binary_logs_one_access_line_per_request_and_stops_cleanly_on_sigterm() {
    // A database of its own, prepared by a test app, then served by the real binary.
    let app = spawn_app_with(|_| {}).await;
    let port = free_port();
    let child = service_command(&app.database_url, port)
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/api/v1/districts");
    let mut answered = false;
    for _ in 0..100 {
        if let Ok(response) = app
            .client
            .get(&url)
            .header("X-Request-Id", "probe-42")
            .send()
            .await
        {
            assert_eq!(response.status(), StatusCode::OK);
            answered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(answered, "the binary serves");
    let pid = child.id().unwrap().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let output = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("the service stops within 30 s")
        .unwrap();
    assert!(output.status.success(), "SIGTERM is a clean stop");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let access: Vec<serde_json::Value> = stderr
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|line| line["message"] == "request served")
        .collect();
    let probe = access
        .iter()
        .find(|line| line["span"]["request_id"] == "probe-42")
        .unwrap_or_else(|| panic!("no access line for the probe in {stderr}"));
    assert_eq!(probe["status"], 200);
    assert_eq!(probe["span"]["method"], "GET");
    assert_eq!(probe["span"]["path"], "/api/v1/districts");
    assert!(probe["latency_ms"].is_number());
}

#[tokio::test]
async fn a_statement_past_its_timeout_answers_503_and_changes_nothing() {
    let app = spawn_app_with(|config| {
        config.statement_timeout = Duration::from_millis(300);
    })
    .await;
    app.district("xicheng").await;
    let timeouts = r#"cppcc_db_errors_total{kind="statement_timeout"}"#;
    let before = app.metric(timeouts).await;
    // Another session holds the district's row, so a change of it waits on the lock.
    let mut holder = app.db().await;
    let held = holder.transaction().await.unwrap();
    held.execute(
        "SELECT 1 FROM districts WHERE code = 'xicheng' FOR UPDATE",
        &[],
    )
    .await
    .unwrap();
    let waited = tokio::time::timeout(
        Duration::from_secs(10),
        app.patch("/api/v1/districts/xicheng", &json!({"term": 17})),
    )
    .await
    .expect("the request answers while the row is still held");
    assert_eq!(waited.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(waited.headers().contains_key("retry-after"));
    assert_eq!(waited.headers()["content-type"], "application/problem+json");
    held.rollback().await.unwrap();
    assert!(
        app.metric(timeouts).await > before,
        "the cancelled statement is counted"
    );

    let district: Value = app
        .get("/api/v1/districts/xicheng")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(district["term"], 16);
    assert_eq!(district["version"], 1);
    let retried = app
        .patch("/api/v1/districts/xicheng", &json!({"term": 17}))
        .await;
    assert_eq!(retried.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_exhausted_pool_answers_503_after_its_wait_not_a_hang() {
    let app = spawn_app_with(|config| {
        // One worker, so that both connections are the pool its requests draw from.
        config.http_workers = 1;
        config.pool_size = 2;
        config.pool_timeout = Duration::from_secs(1);
        config.statement_timeout = Duration::from_secs(30);
    })
    .await;
    app.district("xicheng").await;
    app.district("haidian").await;
    let timeouts_before = app.metric("cppcc_db_pool_timeouts_total").await;
    let waits_before = app.metric("cppcc_db_pool_waits_total").await;
    // Two changes wait on rows another session holds, each keeping its connection.
    let mut holder = app.db().await;
    let held = holder.transaction().await.unwrap();
    held.execute("SELECT 1 FROM districts FOR UPDATE", &[])
        .await
        .unwrap();
    let change = json!({"term": 17});
    let first = app.patch("/api/v1/districts/xicheng", &change);
    let second = app.patch("/api/v1/districts/haidian", &change);
    let third = async {
        let watcher = app.db().await;
        crate::helpers::wait_until_count(
            &watcher,
            "SELECT count(*) FROM pg_stat_activity \
                     WHERE datname = current_database() AND wait_event_type = 'Lock'",
            2,
        )
        .await;
        let in_use = app
            .metric(r#"cppcc_db_pool_connections{state="in_use"}"#)
            .await;
        assert_eq!(in_use, 2.0, "both connections are taken");
        let answer = tokio::time::timeout(Duration::from_secs(10), app.get("/api/v1/districts"))
            .await
            .expect("a request without a connection answers instead of hanging");
        held.rollback().await.unwrap();
        answer
    };
    let (first, second, third) = tokio::join!(first, second, third);
    assert_eq!(third.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(third.headers().contains_key("retry-after"));
    assert!(app.metric("cppcc_db_pool_timeouts_total").await > timeouts_before);
    assert!(app.metric("cppcc_db_pool_waits_total").await > waits_before);
    // The waiting changes went through once the rows were free.
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(second.status(), StatusCode::OK);
    assert_eq!(app.get("/api/v1/districts").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_killed_backend_is_replaced_and_the_next_request_succeeds() {
    let app = spawn_app_with(|config| {
        config.pool_size = 2;
    })
    .await;
    app.district("xicheng").await;
    // Every connection the pool holds is ended by the server (each call waits until its
    // backend has exited, so the connections were just used and are closed now: the pool
    // must notice without a test query).
    let admin = app.db().await;
    let killed: i64 = admin
        .query_one(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()) AS ended",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(killed >= 1, "the pool had connections to end");
    for _ in 0..3 {
        let response = app.get("/api/v1/districts/xicheng").await;
        assert_eq!(response.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn oversized_and_deeply_nested_bodies_are_refused_as_4xx() {
    let app = spawn_app_with(|_| {}).await;
    let send = |body: String, path: &'static str| {
        app.anonymous
            .post(app.url(path))
            .bearer_auth(&app.admin_token)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
    };
    // A 10 MB string, to a plain endpoint and to a batch endpoint.
    let huge = format!(
        "{{\"code\": \"x\", \"name\": \"{}\"}}",
        "名".repeat(3_500_000)
    );
    for path in [
        "/api/v1/districts",
        "/api/v1/sync/members?district_id=01a21867-0000-7000-8000-000000000000",
    ] {
        let response = send(huge.clone(), path).await.unwrap();
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE, "{path}");
    }
    // JSON nested 10,000 deep, well under the size limit.
    let nested = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let response = send(nested, "/api/v1/districts").await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    assert_eq!(app.get("/api/v1/districts").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn sigterm_during_a_slow_request_lets_it_finish_and_refuses_new_connections() {
    let app = spawn_app_with(|_| {}).await;
    app.district("xicheng").await;
    let port = free_port();
    let child = service_command(&app.database_url, port)
        .env("RUST_LOG", "warn")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    wait_until_ok(&format!("{base}/healthz")).await;

    // The request waits on a row another session holds: a slow request.
    let mut holder = app.db().await;
    let held = holder.transaction().await.unwrap();
    held.execute("SELECT 1 FROM districts FOR UPDATE", &[])
        .await
        .unwrap();
    let slow = app
        .client
        .patch(format!("{base}/api/v1/districts/xicheng"))
        .header("Content-Type", "application/merge-patch+json")
        .body(json!({"term": 17}).to_string())
        .send();
    let pid = child.id().unwrap().to_string();
    let stop = async {
        let watcher = app.db().await;
        crate::helpers::wait_until_count(
            &watcher,
            "SELECT count(*) FROM pg_stat_activity \
                     WHERE datname = current_database() AND wait_event_type = 'Lock'",
            1,
        )
        .await;
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        // A new connection is refused while the slow request finishes.
        let fresh = crate::helpers::http()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        let refused = fresh.get(format!("{base}/healthz")).send().await;
        held.rollback().await.unwrap();
        refused
    };
    let (slow, refused) = tokio::join!(slow, stop);
    assert!(
        refused.is_err(),
        "a new connection during the stop is refused"
    );
    let slow = slow.expect("the slow request is answered");
    assert_eq!(slow.status(), StatusCode::OK);
    let output = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("the service stops within 30 s")
        .unwrap();
    assert!(output.status.success(), "SIGTERM is a clean stop");
    let district: Value = app
        .get("/api/v1/districts/xicheng")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(district["term"], 17);
}

#[tokio::test]
async fn metrics_count_and_time_requests_by_route_template_and_status() {
    let app = spawn_app_with(|_| {}).await;
    app.district("xicheng").await;
    for _ in 0..3 {
        assert_eq!(app.get("/api/v1/districts").await.status(), StatusCode::OK);
    }
    assert_eq!(
        app.get("/api/v1/districts/xicheng").await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.get("/api/v1/districts/nowhere").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/no/such/thing/42").await.status(),
        StatusCode::NOT_FOUND
    );
    let list = r#"method="GET",route="/api/v1/districts",status="200""#;
    assert_eq!(
        app.metric(&format!("cppcc_http_requests_total{{{list}}}"))
            .await,
        3.0
    );
    assert_eq!(
        app.metric(&format!(
            "cppcc_http_request_duration_seconds_bucket{{le=\"+Inf\",{list}}}"
        ))
        .await,
        3.0
    );
    assert_eq!(
        app.metric(&format!(
            "cppcc_http_request_duration_seconds_count{{{list}}}"
        ))
        .await,
        3.0
    );
    assert!(
        app.metric(&format!(
            "cppcc_http_request_duration_seconds_sum{{{list}}}"
        ))
        .await
            > 0.0
    );
    // A path is counted under its template, and by status.
    for (route, status) in [
        ("/api/v1/districts/{district}", 200),
        ("/api/v1/districts/{district}", 404),
        ("unmatched", 404),
    ] {
        let series = format!(
            r#"cppcc_http_requests_total{{method="GET",route="{route}",status="{status}"}}"#
        );
        assert_eq!(app.metric(&series).await, 1.0, "{series}");
    }
    // Found by an outside attack: a method a client made up was a label of its own.
    for made_up in ["ZZMETHOD1", "ZZMETHOD2", "PROPFIND"] {
        let response = app
            .client
            .request(
                reqwest::Method::from_bytes(made_up.as_bytes()).unwrap(),
                app.url("/api/v1/districts"),
            )
            .send()
            .await
            .unwrap();
        assert!(response.status().is_client_error(), "{made_up}");
    }
    let text = app.metrics().await;
    assert!(
        !text.contains("ZZMETHOD") && !text.contains("PROPFIND"),
        "no made-up method is a label"
    );
    assert!(text.contains(r#"method="other""#));
    assert!(!text.contains("xicheng"), "no path is a label");
    assert!(!text.contains("/no/such"), "no path is a label");
    // Buckets are cumulative.
    let buckets: Vec<f64> = text
        .lines()
        .filter(|line| {
            line.starts_with("cppcc_http_request_duration_seconds_bucket{")
                && line.contains(&format!(",{list}}}"))
        })
        .map(|line| line.rsplit(' ').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(buckets.len(), 14);
    assert!(buckets.windows(2).all(|pair| pair[0] <= pair[1]));
    for name in [
        "cppcc_db_pool_max_connections",
        r#"cppcc_db_pool_connections{state="idle"}"#,
        "cppcc_db_pool_waiting",
        r#"cppcc_db_errors_total{kind="other"}"#,
    ] {
        assert!(
            text.lines()
                .any(|line| line.starts_with(&format!("{name} "))),
            "{name} is exposed"
        );
    }
    assert_eq!(app.metric("cppcc_db_pool_max_connections").await, 4.0);
    // The metrics are not on the API's listener.
    assert_eq!(app.get("/metrics").await.status(), StatusCode::NOT_FOUND);
}

/// Resident memory of a process, in KiB (Linux).
fn resident_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/<pid>/status")
}

/// Sends `head` and then `trickle` one byte at a time, 200 ms apart, and answers what the
/// server sent back before closing, and how long it took to close.
async fn trickle(port: u16, head: String, trickle: &'static [u8]) -> (String, Duration) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let started = std::time::Instant::now();
    stream.write_all(head.as_bytes()).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let sender = tokio::spawn(async move {
        for byte in trickle {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if writer.write_all(&[*byte]).await.is_err() {
                break;
            }
        }
    });
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(30), reader.read_to_end(&mut answer))
        .await
        .expect("the server closes a slow client's connection");
    let _ = read;
    sender.abort();
    (
        String::from_utf8_lossy(&answer).into_owned(),
        started.elapsed(),
    )
}

#[tokio::test]
async fn slow_and_hostile_clients_are_cut_off_and_memory_stays_flat() {
    let app = spawn_app_with(|_| {}).await;
    let port = free_port();
    let child = service_command(&app.database_url, port)
        .env("REQUEST_BODY_TIMEOUT_SECS", "2")
        .env("RUST_LOG", "error")
        .spawn()
        .unwrap();
    let pid = child.id().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    wait_until_ok(&format!("{base}/healthz")).await;
    let client = crate::helpers::http().build().expect("HTTP client");
    let token = app.admin_token.clone();
    let post = |body: String| {
        let (client, base, token) = (client.clone(), base.clone(), token.clone());
        async move {
            client
                .post(format!("{base}/api/v1/districts"))
                .bearer_auth(token)
                .header("Content-Type", "application/json")
                .body(body)
                .send()
                .await
                .map(|response| response.status())
        }
    };
    for n in 0..20 {
        let body = json!({"code": format!("warm{n}"), "name": format!("热身{n}"), "term": 16});
        assert_eq!(post(body.to_string()).await.unwrap(), StatusCode::CREATED);
    }
    let before = resident_kib(pid);

    // A head sent a byte at a time: refused once the head timeout passes.
    let (answer, took) = trickle(
        port,
        "GET /api/v1/districts HTTP/1.1\r\nHost: x\r\n".into(),
        b"X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    )
    .await;
    assert!(
        took < Duration::from_secs(10),
        "a slow head is cut off ({took:?})"
    );
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );

    // A body sent a byte at a time: 408 problem details once REQUEST_BODY_TIMEOUT_SECS
    // passes, and the connection is closed.
    let slow_body = format!(
        "POST /api/v1/districts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: 500\r\n\r\n{{"
    );
    let (answer, took) = trickle(port, slow_body.clone(), &[b' '; 100]).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
    assert!(
        took < Duration::from_secs(8),
        "a slow body is cut off ({took:?})"
    );

    // Many hostile requests at once: slow bodies, 10 MB strings, deep nesting.
    let mut hostile = Vec::new();
    for _ in 0..40 {
        let head = slow_body.clone();
        hostile.push(tokio::spawn(async move {
            let (answer, _) = trickle(port, head, &[b' '; 100]).await;
            assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        }));
    }
    let huge = format!(
        r#"{{"code": "x", "name": "{}", "term": 16}}"#,
        "长".repeat(3_500_000)
    );
    let nested = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    for round in 0..20 {
        let status = post(huge.clone()).await;
        // A body far past the limit may be cut off before it is all sent.
        assert!(
            status
                .as_ref()
                .map_or(true, |status| *status == StatusCode::PAYLOAD_TOO_LARGE),
            "round {round}: {status:?}"
        );
        let status = post(nested.clone()).await.unwrap();
        assert!(status.is_client_error(), "round {round}: {status}");
    }
    for task in hostile {
        task.await.unwrap();
    }
    let after = resident_kib(pid);
    println!("resident memory: {before} KiB before, {after} KiB after the hostile requests");
    assert!(
        after < before + 64 * 1024,
        "memory grew from {before} KiB to {after} KiB"
    );
    // And the service still serves.
    let body = json!({"code": "after", "name": "之后", "term": 16});
    assert_eq!(post(body.to_string()).await.unwrap(), StatusCode::CREATED);
}

#[tokio::test]
async fn every_pooled_connection_has_its_timeouts_set_and_never_jit_compiles() {
    use diesel::sql_types::Text;
    use diesel_async::RunQueryDsl;
    let app = spawn_app_with(|_| {}).await;
    let pool = cppcc_api::db::build_pool(
        &app.database_url,
        1,
        Duration::from_secs(1),
        Duration::from_millis(1234),
    )
    .unwrap();
    let mut conn = pool.get().await.unwrap();
    let setting = async |conn: &mut diesel_async::AsyncPgConnection, name: &str| -> String {
        diesel::select(diesel::dsl::sql::<Text>(&format!(
            "current_setting('{name}')"
        )))
        .get_result(conn)
        .await
        .unwrap()
    };
    assert_eq!(setting(&mut conn, "statement_timeout").await, "1234ms");
    assert_eq!(
        setting(&mut conn, "idle_in_transaction_session_timeout").await,
        "5min"
    );
    assert_eq!(setting(&mut conn, "jit").await, "off");
}

/// The schema's owner migrates and grants (`cppcc-api migrate --grant-to`); the service
/// then serves as a role that owns nothing. It reads, writes and seals the trail, and the
/// database itself refuses it any change of the schema, of the migration history or of
/// the sealed trail. On a database that still needs migrating it does not start.
#[tokio::test]
async fn a_role_that_owns_nothing_serves_once_the_owner_has_granted_it_what_it_needs() {
    use diesel_async::{AsyncConnection, AsyncPgConnection};
    let app = crate::helpers::spawn_app().await;
    let role = format!(
        "cppcc_svc_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    let admin = app.db().await;
    admin
        .batch_execute(&format!("CREATE ROLE {role} LOGIN"))
        .await
        .unwrap();
    for _ in 0..2 {
        cppcc_api::db::grant_service_role(&app.database_url, &role)
            .await
            .expect("the owner grants, and granting again changes nothing");
    }
    let as_role =
        app.database_url
            .replacen("postgres://postgres@", &format!("postgres://{role}@"), 1);
    assert_ne!(as_role, app.database_url);

    let served =
        crate::helpers::spawn_beside(&app, |config| config.database_url = as_role.clone()).await;
    let response = served
        .post(
            "/api/v1/districts",
            &json!({"code": "xicheng", "name": "西城区", "term": 16}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let response = served
        .patch("/api/v1/districts/xicheng", &json!({"term": 17}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    crate::helpers::wait_until_count(&admin, "SELECT count(*) FROM audit_pending", 0).await;
    assert_eq!(
        served.metric("cppcc_audit_seal_failures_total").await,
        0.0,
        "the role's sealer chains the trail"
    );
    let mut conn = AsyncPgConnection::establish(&as_role).await.unwrap();
    cppcc_api::db::audit::seal(&mut conn)
        .await
        .expect("the role may seal");
    let verified: Value = served
        .get("/api/v1/audit-events/verify")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(verified["ok"], true, "{verified}");

    let (client, connection) = tokio_postgres::connect(&as_role, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    for refused in [
        "UPDATE audit_events SET action = action",
        "DELETE FROM audit_events",
        "DELETE FROM audit_checkpoints",
        "UPDATE audit_pending SET prefixes = prefixes",
        "INSERT INTO __diesel_schema_migrations (version) VALUES ('99999999999999')",
        "CREATE TABLE intruder (id integer)",
        "DROP TABLE members",
        "ALTER TABLE audit_events DISABLE TRIGGER USER",
    ] {
        let error = client.batch_execute(refused).await.unwrap_err();
        assert_eq!(
            error.code(),
            Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
            "{refused}: {error}"
        );
    }

    // A database that needs a migration: the role may not apply it, and says so.
    admin
        .batch_execute(
            "DELETE FROM __diesel_schema_migrations WHERE version = \
             (SELECT max(version) FROM __diesel_schema_migrations)",
        )
        .await
        .unwrap();
    let mut config = cppcc_api::config::Config::from_lookup(|_| None).unwrap();
    config.database_url = as_role.clone();
    config.bind_addr = "127.0.0.1:0".parse().unwrap();
    config.metrics_addr = "127.0.0.1:0".parse().unwrap();
    let error = cppcc_api::Application::build(&config)
        .await
        .err()
        .expect("the role does not start on a database that needs migrating");
    assert!(error.to_string().contains("migrations"), "{error}");
}

/// A new service, with no key anyone could use, says in its log how to make the first;
/// one whose port is taken says so before it touches the database.
#[tokio::test]
async fn a_new_service_tells_how_to_make_the_first_key_and_a_busy_port_comes_first() {
    let database = format!("cppcc_test_{}", uuid::Uuid::new_v4().simple());
    let url = with_database(&crate::helpers::server_url(), &database);
    let port = free_port();
    let child = service_command(&url, port)
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_until_ok(&format!("http://127.0.0.1:{port}/readyz")).await;
    let pid = child.id().unwrap().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let output = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("the service stops within 30 s")
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("no API key can be used yet")
            && stderr.contains("cppcc-api keys create --role admin --name NAME"),
        "{stderr}"
    );

    // The port is taken, and the database cannot be reached at all: the port is named.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = taken.local_addr().unwrap().port();
    let output = service_command("postgres://postgres@127.0.0.1:1/nowhere", busy)
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&busy.to_string()), "{stderr}");
    assert!(
        !stderr.contains("127.0.0.1:1"),
        "the database was not touched: {stderr}"
    );
}
