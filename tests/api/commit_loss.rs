//! A write whose `COMMIT` reached PostgreSQL but whose answer never came back: a TCP proxy
//! between the service and the database forwards the `COMMIT` of a chosen write, lets the
//! server commit it, and cuts the connection before the reply reaches the service. The
//! service cannot know the outcome; it says so, and a retry with the same key learns it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};

use crate::helpers::{TestApp, server_url, spawn_app_with};

/// Forwards connections to PostgreSQL; the next `armed` transactions that ran a statement
/// containing `target` have their `COMMIT` delivered and its reply dropped.
struct LossyProxy {
    port: u16,
    armed: Arc<AtomicUsize>,
    cut: Arc<AtomicUsize>,
}

impl LossyProxy {
    async fn start(upstream: String, target: &'static str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let armed = Arc::new(AtomicUsize::new(0));
        let cut = Arc::new(AtomicUsize::new(0));
        let (armed_, cut_) = (armed.clone(), cut.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(&upstream).await else {
                    continue;
                };
                let (armed, cut) = (armed_.clone(), cut_.clone());
                tokio::spawn(relay(client, server, target, armed, cut));
            }
        });
        Self { port, armed, cut }
    }

    fn arm(&self, times: usize) {
        self.armed.store(times, Ordering::SeqCst);
    }

    fn cuts(&self) -> usize {
        self.cut.load(Ordering::SeqCst)
    }
}

/// One connection: client messages are read one by one (so a `COMMIT` can be recognised);
/// server bytes flow back untouched until a chosen `COMMIT` has been sent, when the next
/// bytes from the server (its reply) are dropped and both sides are closed.
async fn relay(
    client: TcpStream,
    server: TcpStream,
    target: &'static str,
    armed: Arc<AtomicUsize>,
    cut: Arc<AtomicUsize>,
) {
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let (dropping_tx, dropping_rx) = tokio::sync::watch::channel(false);
    let upstream = tokio::spawn(frontend(
        client_read,
        server_write,
        target,
        armed,
        cut,
        dropping_tx,
    ));
    backend(server_read, client_write, dropping_rx).await;
    upstream.abort();
}

async fn frontend(
    mut client: OwnedReadHalf,
    mut server: OwnedWriteHalf,
    target: &'static str,
    armed: Arc<AtomicUsize>,
    cut: Arc<AtomicUsize>,
    dropping: tokio::sync::watch::Sender<bool>,
) {
    // Untyped messages first: an SSL or GSS request (answered by one byte), then the
    // startup message.
    loop {
        let Ok(length) = client.read_u32().await else {
            return;
        };
        let mut body = vec![0; length as usize - 4];
        if client.read_exact(&mut body).await.is_err() {
            return;
        }
        let code = u32::from_be_bytes([body[0], body[1], body[2], body[3]]);
        if server.write_u32(length).await.is_err() || server.write_all(&body).await.is_err() {
            return;
        }
        if code != 80_877_103 && code != 80_877_104 {
            break;
        }
    }
    let mut touched = false;
    // The names of the statements prepared as `COMMIT` (a COMMIT sent in the extended
    // protocol is a Bind of one of them).
    let mut commits: Vec<Vec<u8>> = Vec::new();
    loop {
        let Ok(kind) = client.read_u8().await else {
            return;
        };
        let Ok(length) = client.read_u32().await else {
            return;
        };
        let mut body = vec![0; length as usize - 4];
        if client.read_exact(&mut body).await.is_err() {
            return;
        }
        let text = String::from_utf8_lossy(&body);
        if text.contains(target) {
            touched = true;
        }
        let mut fields = body.split(|byte| *byte == 0);
        if kind == b'P' {
            let (name, query) = (fields.next().unwrap_or_default(), fields.next());
            if query.is_some_and(|query| query.trim_ascii() == b"COMMIT") {
                commits.push(name.to_vec());
            }
        }
        let bound_commit = kind == b'B' && {
            let _portal = fields.next();
            let name = fields.next().unwrap_or_default();
            commits.iter().any(|commit| commit == name)
        };
        let commit =
            bound_commit || (kind == b'Q' && text.trim_end_matches('\0').trim() == "COMMIT");
        if commit && touched {
            let chosen = armed
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                    left.checked_sub(1)
                })
                .is_ok();
            if chosen {
                cut.fetch_add(1, Ordering::SeqCst);
                let _ = dropping.send(true);
            }
        }
        if commit || (kind == b'Q' && text.trim_end_matches('\0').trim() == "ROLLBACK") {
            touched = false;
        }
        let mut message = Vec::with_capacity(body.len() + 5);
        message.push(kind);
        message.extend_from_slice(&length.to_be_bytes());
        message.extend_from_slice(&body);
        if server.write_all(&message).await.is_err() {
            return;
        }
    }
}

async fn backend(
    mut server: OwnedReadHalf,
    mut client: OwnedWriteHalf,
    dropping: tokio::sync::watch::Receiver<bool>,
) {
    let mut buffer = vec![0; 64 * 1024];
    loop {
        let Ok(read) = server.read(&mut buffer).await else {
            return;
        };
        if read == 0 {
            return;
        }
        if *dropping.borrow() {
            // The server has answered the COMMIT: it is committed. The service never
            // hears of it.
            let _ = client.shutdown().await;
            return;
        }
        if client.write_all(&buffer[..read]).await.is_err() {
            return;
        }
    }
}

/// The host and port of a PostgreSQL URL.
fn authority(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest.split(['/', '?']).next().unwrap_or(rest);
    let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:5432")
    }
}

/// A service that reaches its database through a [`LossyProxy`].
async fn app_behind_proxy(target: &'static str) -> (TestApp, LossyProxy) {
    let upstream = authority(&server_url());
    let proxy = LossyProxy::start(upstream.clone(), target).await;
    let through = format!("127.0.0.1:{}", proxy.port);
    let app = spawn_app_with(|config| {
        config.database_url = config.database_url.replacen(&upstream, &through, 1);
    })
    .await;
    (app, proxy)
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    app.sealed_db()
        .await
        .query_one(sql, &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn a_lost_commit_reply_is_outcome_unknown_and_the_retry_replays_the_write() {
    let (app, proxy) = app_behind_proxy("INSERT INTO \"districts\"").await;
    for attempt in 0..5 {
        let code = format!("lost-{attempt}");
        let key = format!("create-{code}");
        let body = json!({"code": code, "name": format!("区{attempt}"), "term": 16});
        let send = || {
            app.client
                .post(app.url("/api/v1/districts"))
                .header("Idempotency-Key", &key)
                .json(&body)
                .send()
        };
        proxy.arm(1);
        let lost = send().await.unwrap();
        assert_eq!(
            proxy.cuts(),
            attempt + 1,
            "the proxy cut the COMMIT's reply"
        );
        assert_eq!(lost.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(lost.headers().contains_key("retry-after"));
        let problem: Value = lost.json().await.unwrap();
        assert_eq!(problem["type"], "/problems/outcome-unknown", "{problem}");

        // The write was committed: the retry gets its answer, and writes nothing more.
        // Until the database has seen the cut connection's COMMIT, the key is still held
        // by its transaction: a retry then is told to come back (409, still running).
        let mut retried = send().await.unwrap();
        for _ in 0..20 {
            if ![StatusCode::SERVICE_UNAVAILABLE, StatusCode::CONFLICT].contains(&retried.status())
            {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            retried = send().await.unwrap();
        }
        assert_eq!(retried.status(), StatusCode::CREATED);
        assert_eq!(retried.headers()["idempotent-replayed"], "true");
        let district: Value = retried.json().await.unwrap();
        assert_eq!(district["code"], code.as_str());
        let again = send().await.unwrap();
        assert_eq!(again.status(), StatusCode::CREATED);
        assert_eq!(again.headers()["idempotent-replayed"], "true");

        let written = count(
            &app,
            &format!("SELECT count(*) FROM districts WHERE code = '{code}'"),
        )
        .await;
        assert_eq!(written, 1, "attempt {attempt}: one district");
        let events = count(
            &app,
            &format!(
                "SELECT count(*) FROM audit_events WHERE entity_type = 'district' \
                 AND entity_id = '{}'",
                district["id"].as_str().unwrap()
            ),
        )
        .await;
        assert_eq!(events, 1, "attempt {attempt}: one audit event");
    }
}

#[tokio::test]
async fn a_lost_commit_reply_without_a_key_is_outcome_unknown_not_nothing_written() {
    let (app, proxy) = app_behind_proxy("INSERT INTO \"districts\"").await;
    proxy.arm(1);
    let lost = app
        .post(
            "/api/v1/districts",
            &json!({"code": "unkeyed", "name": "未知区", "term": 16}),
        )
        .await;
    assert_eq!(proxy.cuts(), 1);
    assert_eq!(lost.status(), StatusCode::SERVICE_UNAVAILABLE);
    let problem: Value = lost.json().await.unwrap();
    assert_eq!(problem["type"], "/problems/outcome-unknown", "{problem}");
    // It was written: an answer of "nothing was written" would have been a lie.
    let written = count(
        &app,
        "SELECT count(*) FROM districts WHERE code = 'unkeyed'",
    )
    .await;
    assert_eq!(written, 1);
}

/// A transaction that failed without the work seeing it (an error swallowed, a statement
/// sent ahead that failed) is never answered as committed: PostgreSQL answers the COMMIT
/// of a failed transaction by rolling it back, without an error, so a write always ends
/// with a statement that fails in a failed transaction.
#[tokio::test]
async fn a_write_whose_transaction_failed_unseen_is_not_acknowledged() {
    use cppcc_api::api::work::Write;
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

    let app = crate::helpers::spawn_app().await;
    let db = app.db().await;
    db.batch_execute("CREATE TABLE unseen (n integer)")
        .await
        .unwrap();
    let mut conn = AsyncPgConnection::establish(&app.database_url)
        .await
        .unwrap();
    for nested in [false, true] {
        let work = async |tx: &mut cppcc_api::api::work::Tx<'_>| {
            diesel::sql_query("INSERT INTO unseen VALUES (1)")
                .execute(&mut **tx)
                .await?;
            // An error the work swallows: the transaction has failed all the same.
            let _ = diesel::sql_query("SELECT 1 / 0").execute(&mut **tx).await;
            Ok(())
        };
        let written = if nested {
            conn.write(async |tx| tx.write(work).await).await
        } else {
            conn.write(work).await
        };
        assert!(written.is_err(), "nested: {nested}: {written:?}");
    }
    let rows: i64 = db
        .query_one("SELECT count(*) FROM unseen", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows, 0);
}

/// A statement sent with the COMMIT that fails before it reaches the server (a value
/// that cannot be encoded, no randomness for a salt) stops the COMMIT: nothing of the
/// write is committed, the statements deferred before it included.
#[tokio::test]
async fn a_statement_refused_before_the_server_stops_the_commit() {
    use cppcc_api::api::work::Write;
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

    let app = crate::helpers::spawn_app().await;
    let db = app.db().await;
    db.batch_execute("CREATE TABLE refused (n integer)")
        .await
        .unwrap();
    let mut conn = AsyncPgConnection::establish(&app.database_url)
        .await
        .unwrap();
    let written = conn
        .write(async |tx| {
            diesel::sql_query("INSERT INTO refused VALUES (1)")
                .execute(&mut **tx)
                .await?;
            tx.defer(Box::new(|mut conn| {
                Box::pin(async move {
                    diesel::sql_query("INSERT INTO refused VALUES (2)")
                        .execute(&mut conn)
                        .await
                        .map(drop)
                })
            }));
            tx.defer(Box::new(|_| {
                Box::pin(async { Err(diesel::result::Error::QueryBuilderError("no salt".into())) })
            }));
            Ok(())
        })
        .await;
    assert!(written.is_err(), "{written:?}");
    let rows: i64 = db
        .query_one("SELECT count(*) FROM refused", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows, 0, "nothing committed");
}
