//! The database stopped under load and started again: a PostgreSQL cluster of the test's
//! own, on a port of its own, so nothing else on the server is disturbed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use tokio::sync::Mutex;

use crate::helpers::{free_port, service_command, wait_until_ok};

/// PostgreSQL's server programs (`initdb`, `pg_ctl`), the newest installed.
fn postgres_bin() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL's server programs are installed under /usr/lib/postgresql")
        .flatten()
        .map(|entry| entry.path().join("bin"))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    versions.sort();
    versions.pop().expect("an initdb under /usr/lib/postgresql")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
        .unwrap_or(false)
}

/// A throwaway cluster: its own directory and port, stopped and removed when dropped.
struct Cluster {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    as_root: bool,
}

impl Cluster {
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_root {
            // PostgreSQL refuses to run as root: its programs run as `postgres`.
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        }
    }

    fn run(&self, program: &str, args: &[&str]) {
        let output = self
            .command(program)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|error| panic!("{program} runs: {error}"));
        assert!(
            output.status.success(),
            "{program} {args:?}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    fn create() -> Self {
        let as_root = is_root();
        let dir = std::env::temp_dir().join(format!("cppcc-pg-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        if as_root {
            let status = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(&dir)
                .status()
                .unwrap();
            assert!(status.success());
        }
        let port = free_port();
        let cluster = Self {
            bin: postgres_bin(),
            dir,
            port,
            as_root,
        };
        let data = cluster.data();
        cluster.run(
            "initdb",
            &["-D", &data, "-U", "postgres", "-A", "trust", "--no-sync"],
        );
        cluster.start();
        cluster
    }

    fn data(&self) -> String {
        self.dir.join("data").to_string_lossy().into_owned()
    }

    fn start(&self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={}",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("log").to_string_lossy().into_owned();
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-o",
                &options,
                "-l",
                &log,
                "-w",
                "start",
            ],
        );
    }

    /// Stops at once, as a crash would: no checkpoint, clients cut off.
    fn stop_immediately(&self) {
        self.stop("immediate");
    }

    /// Stops in `mode` (`fast`: every session ended, its transaction rolled back).
    fn stop(&self, mode: &str) {
        self.run("pg_ctl", &["-D", &self.data(), "-m", mode, "-w", "stop"]);
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/cppcc", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .args(["-D", &self.data(), "-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if std::env::var_os("KEEP_FAULT_CLUSTER").is_none() {
            let _ = std::fs::remove_dir_all(Path::new(&self.dir));
        }
    }
}

/// What the writers saw: every code acknowledged with 201, and every other answer.
#[derive(Default)]
struct Outcomes {
    acknowledged: Vec<String>,
    answers: Vec<(Instant, Duration, StatusCode, bool, bool)>,
}

/// The service's own process on `cluster`, with an administrator's token.
struct Service {
    child: tokio::process::Child,
    base: String,
    token: String,
    client: reqwest::Client,
}

async fn serve(cluster: &Cluster) -> Service {
    let binary = env!("CARGO_BIN_EXE_cppcc-api");
    let token = Command::new(binary)
        .args(["keys", "create", "--role", "admin", "--name", "faults"])
        .env("DATABASE_URL", cluster.url())
        .output()
        .unwrap();
    assert!(
        token.status.success(),
        "{}",
        String::from_utf8_lossy(&token.stderr)
    );
    let token = String::from_utf8(token.stdout).unwrap().trim().to_owned();
    let port = free_port();
    let child = service_command(&cluster.url(), port)
        .env("DATABASE_POOL_TIMEOUT_SECS", "1")
        .env("RUST_LOG", "warn")
        .env("LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(cluster.dir.join("service.log")).unwrap())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = crate::helpers::http()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    wait_until_ok(&format!("{base}/readyz")).await;
    Service {
        child,
        base,
        token,
        client,
    }
}

#[tokio::test]
async fn a_stopped_database_is_503_then_recovered_and_no_acknowledged_write_is_lost() {
    let cluster = Cluster::create();
    let Service {
        mut child,
        base,
        token,
        client,
    } = serve(&cluster).await;

    // Four writers create districts without pause, before, during and after the outage.
    let outcomes = Arc::new(Mutex::new(Outcomes::default()));
    let running = Arc::new(AtomicBool::new(true));
    let mut writers = Vec::new();
    for writer in 0..4 {
        let (client, base, token) = (client.clone(), base.clone(), token.clone());
        let (outcomes, running) = (outcomes.clone(), running.clone());
        writers.push(tokio::spawn(async move {
            let mut n = 0;
            while running.load(Ordering::Relaxed) {
                n += 1;
                let code = format!("w{writer}-{n}");
                let sent = Instant::now();
                let response = client
                    .post(format!("{base}/api/v1/districts"))
                    .bearer_auth(&token)
                    .json(&json!({"code": code, "name": format!("区{writer}-{n}"), "term": 16}))
                    .send()
                    .await
                    .expect("every request is answered: none hangs, the process lives");
                let took = sent.elapsed();
                let status = response.status();
                let retry_after = response.headers().contains_key("retry-after");
                let problem = response
                    .headers()
                    .get("content-type")
                    .is_some_and(|value| value == "application/problem+json");
                let mut outcomes = outcomes.lock().await;
                if status == StatusCode::CREATED {
                    outcomes.acknowledged.push(code);
                }
                outcomes
                    .answers
                    .push((sent, took, status, retry_after, problem));
                drop(outcomes);
                if status != StatusCode::CREATED {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;

    cluster.stop_immediately();
    tokio::time::sleep(Duration::from_secs(3)).await;
    // While it is down, reads are refused quickly too.
    for path in ["/api/v1/districts", "/readyz"] {
        let sent = Instant::now();
        let response = client
            .get(format!("{base}{path}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert!(response.headers().contains_key("retry-after"));
        assert!(
            sent.elapsed() < Duration::from_secs(2),
            "{path} answered in {:?}",
            sent.elapsed()
        );
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "the process does not exit"
    );

    cluster.start();
    let started = Instant::now();
    // Within 10 s of the database coming back every request succeeds again.
    let mut recovered_at = None;
    while started.elapsed() < Duration::from_secs(10) {
        // A kept-alive connection the server closed while idle may fail to carry the
        // request (the client's race with the server's keep-alive): that is not an
        // answer, so it is asked again.
        let Ok(response) = client
            .get(format!("{base}/api/v1/districts"))
            .bearer_auth(&token)
            .send()
            .await
        else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        if response.status() == StatusCode::OK {
            recovered_at = Some(Instant::now());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let recovered_at = recovered_at.expect("the service recovers within 10 s");
    tokio::time::sleep(Duration::from_secs(2)).await;
    running.store(false, Ordering::Relaxed);
    for writer in writers {
        writer.await.unwrap();
    }

    let outcomes = outcomes.lock().await;
    let mut refused_while_down = 0;
    for (sent, took, status, retry_after, problem) in &outcomes.answers {
        match *status {
            StatusCode::CREATED => {}
            StatusCode::SERVICE_UNAVAILABLE => {
                refused_while_down += 1;
                assert!(
                    *retry_after && *problem,
                    "a 503 is problem+json with Retry-After"
                );
                assert!(
                    *took < Duration::from_secs(2),
                    "a 503 within 2 s, not {took:?}"
                );
            }
            other => panic!("a write was answered {other}"),
        }
        // Every request sent a moment after the service saw the database again succeeds.
        if *sent > recovered_at + Duration::from_millis(200) {
            assert_eq!(*status, StatusCode::CREATED, "after recovery");
        }
    }
    assert!(refused_while_down > 0, "the outage was seen");
    assert!(
        outcomes.acknowledged.len() > 10,
        "writes went through before and after"
    );

    // Every acknowledged write is in the database.
    let (db, connection) = tokio_postgres::connect(&cluster.url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let stored: Vec<String> = db
        .query("SELECT code FROM districts", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    let missing: Vec<&String> = outcomes
        .acknowledged
        .iter()
        .filter(|code| !stored.contains(code))
        .collect();
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");
    assert!(child.try_wait().unwrap().is_none(), "the process lives");

    // The outage is logged as warnings (its cause once per failure, each refusal as a
    // warning), never as an error line per refused request.
    let log = std::fs::read_to_string(cluster.dir.join("service.log")).unwrap();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    let refusals: Vec<&serde_json::Value> =
        lines.iter().filter(|line| line["status"] == 503).collect();
    assert!(!refusals.is_empty(), "the refusals are logged");
    assert!(
        refusals.iter().all(|line| line["level"] == "WARN"),
        "a 503 is a warning: {refusals:?}"
    );
    let errors: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|line| line["level"] == "ERROR")
        .collect();
    assert!(
        errors.is_empty(),
        "no error line during an outage: {errors:?}"
    );
}

/// A client of the cluster's database.
async fn connect(cluster: &Cluster) -> tokio_postgres::Client {
    let (db, connection) = tokio_postgres::connect(&cluster.url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    db
}

#[tokio::test]
async fn a_database_stopped_mid_request_leaves_the_key_free_and_the_retry_writes_once() {
    let cluster = Cluster::create();
    let service = serve(&cluster).await;
    let send = || {
        service
            .client
            .post(format!("{}/api/v1/districts", service.base))
            .bearer_auth(&service.token)
            .header("Idempotency-Key", "create-held")
            .json(&json!({"code": "held", "name": "等待区", "term": 16}))
            .send()
    };

    // Another session inserts the same code and keeps its transaction open: the request's
    // insert waits on it, inside the request's transaction.
    let holder = connect(&cluster).await;
    holder
        .batch_execute(
            "BEGIN; INSERT INTO districts (id, code, name, term) \
             VALUES (gen_random_uuid(), 'held', '占位', 16)",
        )
        .await
        .unwrap();
    let request = tokio::spawn(send());
    let watcher = connect(&cluster).await;
    let waiting = async {
        crate::helpers::wait_until_count(
            &watcher,
            "SELECT count(*) FROM pg_stat_activity \
                     WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO \"districts\"%'",
            1,
        )
        .await;
    };
    tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("the request waits inside its transaction");
    drop(watcher);

    cluster.stop("fast");
    let cut = request.await.unwrap().unwrap();
    assert_eq!(cut.status(), StatusCode::SERVICE_UNAVAILABLE);
    let problem: serde_json::Value = cut.json().await.unwrap();
    assert_eq!(
        problem["type"], "/problems/unavailable",
        "nothing was written"
    );
    drop(holder);

    cluster.start();
    // The key is free as soon as the database is back: never "still running".
    let mut retried = send().await.unwrap();
    let started = Instant::now();
    while retried.status() == StatusCode::SERVICE_UNAVAILABLE
        && started.elapsed() < Duration::from_secs(10)
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
        retried = send().await.unwrap();
    }
    assert_eq!(retried.status(), StatusCode::CREATED);
    assert!(retried.headers().get("idempotent-replayed").is_none());
    let again = send().await.unwrap();
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.headers()["idempotent-replayed"], "true");

    let db = connect(&cluster).await;
    db.batch_execute("SELECT audit_seal(2147483647, 2147483647)")
        .await
        .unwrap();
    let districts: i64 = db
        .query_one("SELECT count(*) FROM districts WHERE code = 'held'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(districts, 1);
    let events: i64 = db
        .query_one(
            "SELECT count(*) FROM audit_events WHERE entity_type = 'district'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(events, 1);
}
