//! Spawns the real service on a free port against a fresh database per test, cloned from
//! a template database that has every migration applied.

use std::sync::OnceLock;

use cppcc_api::Application;
use cppcc_api::config::{Config, LogFormat};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use tokio::sync::OnceCell;
use tokio_postgres::NoTls;

static TEMPLATE: OnceCell<String> = OnceCell::const_new();
static TRACING: OnceLock<()> = OnceLock::new();

/// A builder of HTTP clients, with the process's TLS cryptography installed first (the
/// HTTP client is built with TLS, which needs it).
pub fn http() -> reqwest::ClientBuilder {
    cppcc_api::oidc::install_crypto_provider();
    reqwest::Client::builder()
}

/// The server tests talk to: `DATABASE_URL` if set, else the local one.
pub fn server_url() -> String {
    let _ = dotenvy::dotenv();
    std::env::var("DATABASE_URL")
        .ok()
        .filter(|url| !url.trim().is_empty())
        .unwrap_or_else(|| cppcc_api::config::DEFAULT_DATABASE_URL.to_owned())
}

/// `url` with its database name replaced.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, params) = match url.split_once('?') {
        Some((base, params)) => (base, Some(params)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |index| index + 3);
    let authority_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |index| scheme_end + index);
    let mut result = format!("{}/{name}", &base[..authority_end]);
    if let Some(params) = params {
        result.push('?');
        result.push_str(params);
    }
    result
}

async fn admin_client() -> tokio_postgres::Client {
    let url = with_database(&server_url(), "postgres");
    let (client, connection) = tokio_postgres::connect(&url, NoTls)
        .await
        .unwrap_or_else(|error| panic!("cannot reach PostgreSQL at {url}: {error}"));
    tokio::spawn(connection);
    client
}

/// A name that changes whenever a migration does, so a stale template is never used.
fn template_name() -> String {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut entries: Vec<_> = walk(&dir);
    entries.sort();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for path in entries {
        let bytes = std::fs::read(&path).expect("migration file is readable");
        // The path within the migrations directory: two checkouts of the same migrations
        // share one template.
        let relative = path.strip_prefix(&dir).unwrap_or(&path).to_string_lossy();
        for byte in relative.bytes().chain(bytes) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("cppcc_test_template_{hash:016x}")
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)
        .expect("migrations directory exists")
        .flatten()
    {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

async fn template() -> &'static str {
    TEMPLATE
        .get_or_init(|| async {
            let name = template_name();
            let client = admin_client().await;
            // Serialise template creation across test processes.
            client
                .execute("SELECT pg_advisory_lock(727001)", &[])
                .await
                .expect("advisory lock");
            let exists = client
                .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
                .await
                .expect("query pg_database")
                .is_some();
            if !exists {
                let building = format!("{name}_building_{}", std::process::id());
                client
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {building}"))
                    .await
                    .expect("drop stale template");
                client
                    .batch_execute(&format!("CREATE DATABASE {building}"))
                    .await
                    .expect("create template");
                cppcc_api::db::run_migrations(&with_database(&server_url(), &building))
                    .await
                    .expect("migrations apply to the template");
                client
                    .batch_execute(&format!("ALTER DATABASE {building} RENAME TO {name}"))
                    .await
                    .expect("publish template");
                // Templates of earlier migrations are of no more use.
                let stale = client
                    .query(
                        "SELECT datname FROM pg_database \
                         WHERE datname LIKE 'cppcc\\_test\\_template\\_%' AND datname <> $1",
                        &[&name],
                    )
                    .await
                    .expect("list templates");
                for row in stale {
                    let stale: String = row.get(0);
                    let _ = client
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {stale} WITH (FORCE)"))
                        .await;
                }
            }
            client
                .execute("SELECT pg_advisory_unlock(727001)", &[])
                .await
                .expect("advisory unlock");
            name
        })
        .await
}

/// A running service with its own database, dropped when the test ends.
pub struct TestApp {
    pub address: String,
    /// Where `GET /metrics` is served.
    pub metrics_address: String,
    /// Sends an administrator's key with every request.
    pub client: reqwest::Client,
    /// Sends no key.
    pub anonymous: reqwest::Client,
    /// The administrator's token.
    pub admin_token: String,
    pub database_url: String,
    /// The database this instance made and drops; `None` for an instance beside another.
    database: Option<String>,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn request(&self, method: Method, path: &str, body: Option<&Value>) -> Response {
        let mut request = self.client.request(method, self.url(path));
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.expect("request is sent")
    }

    pub async fn get(&self, path: &str) -> Response {
        self.request(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Response {
        self.request(Method::POST, path, Some(body)).await
    }

    /// POSTs the workflow action at `path` (`…/{record}/{action}`). An action taken
    /// (200) must answer the record as stored: a GET of the record then answers the same
    /// body and `ETag`.
    pub async fn act(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        let response = self.post(path, body).await;
        let status = response.status();
        let etag = response.headers().get("etag").cloned();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        if status == StatusCode::OK {
            let record = &path[..path.rfind('/').expect("an action's path")];
            let stored = self.get(record).await;
            assert_eq!(stored.status(), StatusCode::OK, "{record}");
            assert_eq!(
                stored.headers().get("etag"),
                etag.as_ref(),
                "{path}: the answer's ETag is the stored record's"
            );
            let stored: Value = stored.json().await.unwrap();
            assert_eq!(answer, stored, "{path}: the answer is the record as stored");
        }
        (status, answer)
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Response {
        self.client
            .patch(self.url(path))
            .header("Content-Type", "application/merge-patch+json")
            .body(body.to_string())
            .send()
            .await
            .expect("request is sent")
    }

    pub async fn put(&self, path: &str) -> Response {
        self.request(Method::PUT, path, None).await
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.request(Method::DELETE, path, None).await
    }

    /// The text of `GET /metrics`.
    pub async fn metrics(&self) -> String {
        let response = self
            .anonymous
            .get(format!("{}/metrics", self.metrics_address))
            .send()
            .await
            .expect("metrics are served");
        assert_eq!(response.status(), 200);
        response.text().await.expect("metrics text")
    }

    /// The value of one series of `GET /metrics` (its name with labels, exactly as
    /// written), or 0 when it is absent.
    pub async fn metric(&self, series: &str) -> f64 {
        let text = self.metrics().await;
        text.lines()
            .find_map(|line| {
                line.strip_prefix(series)
                    .and_then(|rest| rest.strip_prefix(' '))
            })
            .map_or(0.0, |value| value.parse().expect("a number"))
    }

    /// Creates a key of `role` (in the district with this id, for clerk and sync keys) and
    /// returns its token.
    pub async fn key(&self, role: &str, district_id: Option<&str>) -> String {
        let mut body = json!({"name": format!("{role} key"), "role": role});
        if let Some(district) = district_id {
            body["district_id"] = json!(district);
        }
        let response = self.post("/api/v1/keys", &body).await;
        assert_eq!(response.status(), 201, "creating a {role} key");
        let created: Value = response.json().await.expect("key body");
        created["token"].as_str().expect("token").to_owned()
    }

    /// A request with `token` (or none).
    pub async fn request_as(
        &self,
        token: Option<&str>,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Response {
        let mut request = self.anonymous.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.expect("request is sent")
    }

    /// The status of a request whose target is sent exactly as written (no client
    /// normalises its dot segments, slashes or escapes), over a connection of its own.
    pub async fn raw_status(
        &self,
        token: Option<&str>,
        method: &str,
        target: &str,
        body: Option<&Value>,
    ) -> u16 {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let host = self.address.trim_start_matches("http://");
        let mut stream = tokio::net::TcpStream::connect(host)
            .await
            .expect("connect to the service");
        let body = body.map(Value::to_string).unwrap_or_default();
        let mut head =
            format!("{method} {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
        if let Some(token) = token {
            head.push_str(&format!("Authorization: Bearer {token}\r\n"));
        }
        if method != "GET" {
            head.push_str("If-Match: \"0\"\r\nContent-Type: application/json\r\n");
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        stream
            .write_all(format!("{head}{body}").as_bytes())
            .await
            .expect("send the request");
        let mut answer = Vec::new();
        stream
            .read_to_end(&mut answer)
            .await
            .expect("read the answer");
        let answer = String::from_utf8_lossy(&answer);
        answer
            .split(' ')
            .nth(1)
            .and_then(|status| status.parse().ok())
            .unwrap_or_else(|| panic!("no status line in {answer:?}"))
    }

    /// A direct connection to this test's database, for checking what was stored.
    pub async fn db(&self) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(&self.database_url, NoTls)
            .await
            .expect("connect to the test database");
        tokio::spawn(connection);
        client
    }

    /// A connection to the test database, once every audit event committed so far is on
    /// the chain (as the service's own readers of the trail see it).
    pub async fn sealed_db(&self) -> tokio_postgres::Client {
        let db = self.db().await;
        db.batch_execute("SELECT audit_seal(2147483647, 2147483647)")
            .await
            .expect("seal the trail");
        db
    }

    /// Creates a district and returns its body.
    pub async fn district(&self, code: &str) -> Value {
        let response = self
            .post(
                "/api/v1/districts",
                &json!({"code": code, "name": format!("{code}区"), "term": 16}),
            )
            .await;
        assert_eq!(response.status(), 201, "creating district {code}");
        response.json().await.expect("district body")
    }

    /// Creates a member in a district and returns its body.
    pub async fn member(&self, district_id: &str, member_no: &str, name: &str) -> Value {
        let response = self
            .post(
                "/api/v1/members",
                &json!({
                    "district_id": district_id,
                    "member_no": member_no,
                    "name": name,
                    "sector": "medicine_health",
                    "party": "cdl",
                }),
            )
            .await;
        assert_eq!(response.status(), 201, "creating member {member_no}");
        response.json().await.expect("member body")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let Some(name) = self.database.clone() else {
            return;
        };
        // The test's runtime is going away; drop the database from a thread of our own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime for cleanup");
            runtime.block_on(async {
                let client = admin_client().await;
                let _ = client
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await;
            });
        })
        .join();
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Spawns the app after `adjust` has changed its configuration.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    TRACING.get_or_init(|| {
        if std::env::var("TEST_LOG").is_ok() {
            cppcc_api::telemetry::init(LogFormat::Text);
        }
    });
    let template = template().await;
    let database = format!("cppcc_test_{}", uuid::Uuid::new_v4().simple());
    admin_client()
        .await
        .batch_execute(&format!("CREATE DATABASE {database} TEMPLATE {template}"))
        .await
        .expect("create the test database");
    let database_url = with_database(&server_url(), &database);
    let mut config = Config::from_lookup(|_| None).expect("default configuration");
    config.database_url = database_url.clone();
    config.bind_addr = "127.0.0.1:0".parse().expect("address");
    config.metrics_addr = "127.0.0.1:0".parse().expect("address");
    config.pool_size = 4;
    // Tests run side by side on two cores: a request may wait longer for one of its four
    // connections than the service's default allows.
    config.pool_timeout = std::time::Duration::from_secs(5);
    adjust(&mut config);
    let app = Application::build(&config).await.expect("the app starts");
    let port = app.port();
    let metrics_port = app.metrics_port();
    tokio::spawn(app.run_until_stopped());
    let admin_token = admin_key(&database_url).await;
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {admin_token}").parse().expect("header"),
    );
    let client = |headers| {
        http()
            .redirect(reqwest::redirect::Policy::none())
            .default_headers(headers)
            .build()
            .expect("HTTP client")
    };
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        metrics_address: format!("http://127.0.0.1:{metrics_port}"),
        client: client(headers),
        anonymous: client(reqwest::header::HeaderMap::new()),
        admin_token,
        database_url,
        database: Some(database),
    }
}

/// Another instance of the service on `first`'s database (as behind a balancer), sending
/// `first`'s administrator key. `first` owns the database: keep it alive as long.
pub async fn spawn_beside(first: &TestApp, adjust: impl FnOnce(&mut Config)) -> TestApp {
    let mut config = Config::from_lookup(|_| None).expect("default configuration");
    config.database_url = first.database_url.clone();
    config.bind_addr = "127.0.0.1:0".parse().expect("address");
    config.metrics_addr = "127.0.0.1:0".parse().expect("address");
    config.pool_size = 4;
    config.pool_timeout = std::time::Duration::from_secs(5);
    adjust(&mut config);
    let app = Application::build(&config)
        .await
        .expect("the second instance starts");
    let (port, metrics_port) = (app.port(), app.metrics_port());
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        metrics_address: format!("http://127.0.0.1:{metrics_port}"),
        client: first.client.clone(),
        anonymous: first.anonymous.clone(),
        admin_token: first.admin_token.clone(),
        database_url: first.database_url.clone(),
        database: None,
    }
}

/// The first administrator's key, made as the command line makes it.
async fn admin_key(database_url: &str) -> String {
    use cppcc_api::api::input::Field;
    use cppcc_api::api::keys::{KeySpec, issue};
    use cppcc_api::db::audit::Actor;
    use diesel_async::{AsyncConnection, AsyncPgConnection};
    let mut conn = AsyncPgConnection::establish(database_url)
        .await
        .expect("connect to the test database");
    let key = cppcc_api::api::keys::NewKey {
        name: Field::parsed(cppcc_api::domain::values::Line::parse("test administrator")),
        role: Field::Value(cppcc_api::domain::kinds::Role::Admin),
        ..Default::default()
    };
    let spec = KeySpec::check(key, None, None).expect("a valid key");
    issue(&mut conn, &Actor::command("test"), spec)
        .await
        .expect("the admin key is created")
        .1
}

/// A port nothing listens on at this moment.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// The service's own binary, set to serve `database_url` on `port` (its metrics on any
/// free port) and killed if the test drops it; add settings, then spawn it.
pub fn service_command(database_url: &str, port: u16) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_cppcc-api"));
    command
        .arg("serve")
        .env("DATABASE_URL", database_url)
        .env("BIND_ADDR", format!("127.0.0.1:{port}"))
        .env("METRICS_ADDR", "127.0.0.1:0")
        .kill_on_drop(true);
    command
}

/// Waits up to 10 s for `url` to answer with a success status.
pub async fn wait_until_ok(url: &str) {
    let client = http().build().expect("HTTP client");
    for _ in 0..100 {
        if client
            .get(url)
            .send()
            .await
            .is_ok_and(|response| response.status().is_success())
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{url} did not answer within 10 s");
}

/// Waits until `sql` (a `SELECT count(*)`) counts `expected` rows on `db`: a session
/// reached the lock it waits on, say.
pub async fn wait_until_count(db: &tokio_postgres::Client, sql: &str, expected: i64) {
    loop {
        let count: i64 = db.query_one(sql, &[]).await.unwrap().get(0);
        if count == expected {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// The hash the service gives `event` after `prev_hash`, recomputed from its export.
pub fn event_hash(event: &Value, prev_hash: &str) -> String {
    let text = |name: &str| event[name].as_str();
    let owned = |name: &str| event[name].as_str().map(str::to_owned);
    cppcc_api::domain::audit::EventContent {
        seq: event["seq"].as_i64().unwrap(),
        occurred_at: text("occurred_at").unwrap().parse().unwrap(),
        actor_account: Some(&event["actor_account"]).filter(|value| !value.is_null()),
        actor_key_id: owned("actor_key_id"),
        actor_role: text("actor_role"),
        actor_district_id: owned("actor_district_id"),
        request_id: text("request_id"),
        idempotency_key: text("idempotency_key"),
        action: text("action").unwrap(),
        entity_type: text("entity_type").unwrap(),
        entity_id: text("entity_id").unwrap(),
        district_id: owned("district_id"),
        before: Some(&event["before"]).filter(|value| !value.is_null()),
        after: Some(&event["after"]).filter(|value| !value.is_null()),
    }
    .hash(prev_hash)
}
