//! `Idempotency-Key` on POST: a retry gets the first answer and writes nothing more.

use std::time::Duration;

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

async fn post_with_key(
    app: &TestApp,
    token: &str,
    path: &str,
    key: &str,
    body: &Value,
) -> Response {
    app.anonymous
        .post(app.url(path))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn count(app: &TestApp, table: &str) -> i64 {
    app.sealed_db()
        .await
        .query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn a_retried_post_gets_the_first_answer_and_writes_once() {
    let app = spawn_app().await;
    let token = app.admin_token.clone();
    let body = json!({"code": "xicheng", "name": "西城区", "term": 16});
    let first = post_with_key(&app, &token, "/api/v1/districts", "create-xicheng", &body).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let location = first.headers()["location"].clone();
    let etag = first.headers()["etag"].clone();
    let first_body: Value = first.json().await.unwrap();
    let events = count(&app, "audit_events").await;

    for _ in 0..3 {
        let again = post_with_key(&app, &token, "/api/v1/districts", "create-xicheng", &body).await;
        assert_eq!(again.status(), StatusCode::CREATED);
        assert_eq!(again.headers()["idempotent-replayed"], "true");
        assert_eq!(again.headers()["location"], location);
        assert_eq!(again.headers()["etag"], etag);
        assert_eq!(again.headers()["content-type"], "application/json");
        assert_eq!(again.json::<Value>().await.unwrap(), first_body);
    }
    assert_eq!(count(&app, "districts").await, 1);
    assert_eq!(count(&app, "audit_events").await, events);

    // The event of the write names the key it was sent with.
    let stored: Option<String> = app
        .sealed_db()
        .await
        .query_one(
            "SELECT idempotency_key FROM audit_events WHERE entity_type = 'district'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored.as_deref(), Some("create-xicheng"));
}

#[tokio::test]
async fn a_key_sent_with_another_request_is_refused_and_keys_are_per_api_key() {
    let app = spawn_app().await;
    let token = app.admin_token.clone();
    let body = json!({"code": "xicheng", "name": "西城区", "term": 16});
    let first = post_with_key(&app, &token, "/api/v1/districts", "k1", &body).await;
    assert_eq!(first.status(), StatusCode::CREATED);

    let other = json!({"code": "haidian", "name": "海淀区", "term": 16});
    let refused = post_with_key(&app, &token, "/api/v1/districts", "k1", &other).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        refused.headers()["content-type"],
        "application/problem+json"
    );
    let problem: Value = refused.json().await.unwrap();
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .starts_with("this Idempotency-Key was first sent with another request"),
        "a problem of the whole request names no pointer: {problem}"
    );
    assert_eq!(count(&app, "districts").await, 1);

    // Another API key has keys of its own.
    let second_admin = app.key("admin", None).await;
    let own = post_with_key(&app, &second_admin, "/api/v1/districts", "k1", &other).await;
    assert_eq!(own.status(), StatusCode::CREATED);
    assert!(own.headers().get("idempotent-replayed").is_none());
    assert_eq!(count(&app, "districts").await, 2);

    // A refusal is an answer too: it is kept and answered again.
    let invalid = json!({"code": "", "name": "", "term": 0});
    let first = post_with_key(&app, &token, "/api/v1/districts", "k2", &invalid).await;
    assert_eq!(first.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let first_body: Value = first.json().await.unwrap();
    let again = post_with_key(&app, &token, "/api/v1/districts", "k2", &invalid).await;
    assert_eq!(again.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.headers()["content-type"], "application/problem+json");
    assert_eq!(again.json::<Value>().await.unwrap(), first_body);

    for bad in ["x".repeat(256), "含中文".to_owned(), String::new()] {
        let response = app
            .anonymous
            .post(app.url("/api/v1/districts"))
            .bearer_auth(&token)
            .header("Idempotency-Key", bad.as_bytes())
            .json(&other)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[tokio::test]
async fn a_key_whose_first_request_is_running_is_refused_until_it_ends() {
    let app = spawn_app().await;
    let district = app.district("xicheng").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let member = app.member(&district, "1", "王芳").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let proposal: Value = app
        .post(
            "/api/v1/proposals",
            &json!({
                "district_id": district, "kind": "member", "title": "提案", "body": "内容",
                "category": "economy", "lead_member_id": member,
            }),
        )
        .await
        .json()
        .await
        .unwrap();
    let path = format!(
        "/api/v1/proposals/{}/submit",
        proposal["id"].as_str().unwrap()
    );
    let token = app.admin_token.clone();

    // Hold the proposal's row so the first submission waits inside its transaction.
    let mut holder = app.db().await;
    let held = holder.transaction().await.unwrap();
    held.execute(
        "SELECT 1 FROM proposals WHERE id = $1::text::uuid FOR UPDATE",
        &[&proposal["id"].as_str().unwrap()],
    )
    .await
    .unwrap();

    let empty = json!({});
    let first = post_with_key(&app, &token, &path, "submit-1", &empty);
    let meanwhile = async {
        let watcher = app.db().await;
        loop {
            // The first request's transaction holds its key's lock (and stores nothing yet)
            // and waits for the held row: a lock of this test's database, held by a
            // session that is itself waiting (the audit signer's lock is neither).
            let claimed: i64 = watcher
                .query_one(
                    "SELECT count(*) FROM pg_locks l \
                     WHERE l.locktype = 'advisory' AND l.objsubid = 1 AND l.granted \
                     AND l.database = (SELECT oid FROM pg_database \
                                       WHERE datname = current_database()) \
                     AND l.pid IN (SELECT pid FROM pg_stat_activity \
                                   WHERE wait_event_type = 'Lock')",
                    &[],
                )
                .await
                .unwrap()
                .get(0);
            let stored: i64 = watcher
                .query_one("SELECT count(*) FROM idempotency_keys", &[])
                .await
                .unwrap()
                .get(0);
            assert_eq!(stored, 0, "nothing is stored before the write commits");
            if claimed == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let second = post_with_key(&app, &token, &path, "submit-1", &json!({})).await;
        // One its handler refuses without the database is not answered so either: the
        // key is held.
        let invalid = json!({"code": ""});
        let refused = post_with_key(&app, &token, "/api/v1/districts", "submit-1", &invalid).await;
        held.commit().await.unwrap();
        (second, refused)
    };
    let (first, (second, refused)) = tokio::join!(first, meanwhile);
    assert_eq!(second.status(), StatusCode::CONFLICT);
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    let problem: Value = refused.json().await.unwrap();
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("still running"),
        "{problem}"
    );
    assert_eq!(first.status(), StatusCode::OK);
    let submitted: Value = first.json().await.unwrap();
    assert_eq!(submitted["status"], "submitted");

    let third = post_with_key(&app, &token, &path, "submit-1", &json!({})).await;
    assert_eq!(third.status(), StatusCode::OK);
    assert_eq!(third.headers()["idempotent-replayed"], "true");
    assert_eq!(third.json::<Value>().await.unwrap(), submitted);
    // Without the key, the same step is refused: it was taken once.
    let plain = app.post(&path, &json!({})).await;
    assert_eq!(plain.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn a_key_does_not_raise_the_body_limit_of_the_route() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app().await;
    let host = app.address.trim_start_matches("http://").to_owned();
    // A 1 MiB body announced to a route that takes 256 KiB (the sync batches take 4 MiB):
    // refused on its announced length, before the rest of it is waited for or read.
    for key in [Some("big-1"), None] {
        let mut stream = tokio::net::TcpStream::connect(&host).await.unwrap();
        let mut head = format!(
            "POST /api/v1/districts HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\
             Authorization: Bearer {}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n",
            app.admin_token,
            1024 * 1024
        );
        if let Some(key) = key {
            head.push_str(&format!("Idempotency-Key: {key}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(&vec![b' '; 64 * 1024]).await.unwrap();
        let mut answer = vec![0; 1024];
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer))
            .await
            .expect("answered without waiting for the rest of the body")
            .unwrap();
        let answer = String::from_utf8_lossy(&answer[..read]);
        assert!(answer.starts_with("HTTP/1.1 413"), "{key:?}: {answer}");
        assert!(answer.contains("application/problem+json"), "{answer}");
    }
    // Refused before its body was read, the request wrote nothing and keeps no answer.
    assert_eq!(count(&app, "idempotency_keys").await, 0);
}

/// A keyed request whose body is slow to arrive holds no database connection and no
/// transaction while it waits: more such requests than the pool has connections leave
/// every other request served at once.
#[tokio::test]
async fn a_keyed_request_waiting_for_its_body_holds_no_connection() {
    use tokio::io::AsyncWriteExt;
    let app = spawn_app().await;
    let host = app.address.trim_start_matches("http://").to_owned();
    let mut slow = Vec::new();
    // The test pool has 4 connections; 8 requests trickle their bodies (a body route and a
    // bodiless action alike).
    for n in 0..8 {
        let path = if n % 2 == 0 {
            "/api/v1/members".to_owned()
        } else {
            "/api/v1/keys/00000000-0000-4000-8000-000000000000/revoke".to_owned()
        };
        let mut stream = tokio::net::TcpStream::connect(&host).await.unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nIdempotency-Key: slow-{n}\r\n\
             Content-Length: 100\r\n\r\n{{",
            app.admin_token
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        slow.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = std::time::Instant::now();
    let listed = app.get("/api/v1/districts").await;
    assert_eq!(listed.status(), StatusCode::OK);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "served in {:?}",
        started.elapsed()
    );
    let idle_in_transaction: i64 = app
        .db()
        .await
        .query_one(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND state LIKE 'idle in transaction%'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(idle_in_transaction, 0);
    drop(slow);
}

/// Expired answers are removed beside the requests (not by them), a batch at a time; an
/// answer still within its 24 hours stays.
#[tokio::test]
async fn expired_answers_are_purged_and_live_ones_kept() {
    let app = spawn_app().await;
    let token = app.admin_token.clone();
    for key in ["purge-old", "purge-new"] {
        let body = json!({"code": key.replace('-', "_"), "name": key, "term": 16});
        let response = post_with_key(&app, &token, "/api/v1/districts", key, &body).await;
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    let db = app.db().await;
    db.execute(
        "UPDATE idempotency_keys SET created_at = now() - interval '25 hours' \
         WHERE key = 'purge-old'",
        &[],
    )
    .await
    .unwrap();
    let pool = cppcc_api::db::build_pool(
        &app.database_url,
        1,
        Duration::from_secs(5),
        Duration::from_secs(5),
    )
    .unwrap();
    let purged = cppcc_api::db::idempotency::purge_expired(&pool)
        .await
        .unwrap();
    assert_eq!(purged, 1);
    let kept: Vec<String> = db
        .query("SELECT key FROM idempotency_keys", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(kept, ["purge-new"]);
}

#[tokio::test]
async fn a_new_keys_token_is_never_kept_and_its_retry_is_told_the_key_exists() {
    let app = spawn_app().await;
    let body = json!({"name": "district system", "role": "admin"});
    let first = post_with_key(&app, &app.admin_token, "/api/v1/keys", "new-key", &body).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let location = first.headers()["location"].clone();
    let created: Value = first.json().await.unwrap();
    let token = created["token"].as_str().unwrap().to_owned();
    let keys = count(&app, "api_keys").await;

    for _ in 0..2 {
        let again = post_with_key(&app, &app.admin_token, "/api/v1/keys", "new-key", &body).await;
        assert_eq!(again.status(), StatusCode::CONFLICT);
        assert_eq!(again.headers()["idempotent-replayed"], "true");
        assert_eq!(again.headers()["location"], location);
        let problem: Value = again.json().await.unwrap();
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains(created["id"].as_str().unwrap()), "{detail}");
        assert!(!problem.to_string().contains(&token));
    }
    assert_eq!(count(&app, "api_keys").await, keys, "one key, created once");
    // The token is nowhere in the database in clear: the kept answer is the retry's.
    let kept: i64 = app
        .sealed_db()
        .await
        .query_one(
            "SELECT count(*) FROM idempotency_keys WHERE position($1::bytea IN body) > 0",
            &[&token.as_bytes()],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(kept, 0);
    // The token works.
    let listed = app
        .anonymous
        .get(app.url("/api/v1/keys"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), StatusCode::OK);
}
