//! Bulk member upserts against one create per member, on a real database, in one run:
//! `cargo bench --bench sync` (PostgreSQL at `BENCH_DATABASE_URL`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`; a scratch database is made and dropped).

use std::time::{Duration, Instant};

use cppcc_api::Application;
use cppcc_api::api::input::Field;
use cppcc_api::api::keys::{KeySpec, issue};
use cppcc_api::config::Config;
use cppcc_api::db::audit::Actor;
use cppcc_api::domain::kinds::Role;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde_json::{Value, json};

const BATCH: usize = 1000;
const ROUNDS: usize = 7;

fn members(prefix: &str, name: &str) -> Value {
    let records: Vec<Value> = (0..BATCH)
        .map(|n| {
            json!({
                "member_no": format!("{prefix}-{n:04}"), "name": format!("{name}{n}"),
                "sector": "economy", "party": "cpc", "street": "金融街街道",
                "employer_title": "某单位 职务", "phone": "13800000000",
                "roles": ["member"],
            })
        })
        .collect();
    json!({ "records": records })
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let server = std::env::var("BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let name = format!("cppcc_bench_{}", uuid::Uuid::now_v7().simple());
    let url = match server.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{name}"),
        None => panic!("BENCH_DATABASE_URL must name a database"),
    };
    let mut config = Config::from_lookup(|_| None).expect("default configuration");
    config.database_url = url.clone();
    config.bind_addr = "127.0.0.1:0".parse().expect("address");
    config.metrics_addr = "127.0.0.1:0".parse().expect("address");
    let app = Application::build(&config).await.expect("the app starts");
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());

    let mut conn = AsyncPgConnection::establish(&url).await.expect("connect");
    let key = cppcc_api::api::keys::NewKey {
        name: Field::parsed(cppcc_api::domain::values::Line::parse("bench")),
        role: Field::Value(Role::Admin),
        ..Default::default()
    };
    let spec = KeySpec::check(key, None, None).expect("a key");
    let token = issue(&mut conn, &Actor::command("bench"), spec)
        .await
        .expect("the key")
        .1;
    cppcc_api::oidc::install_crypto_provider();
    let client = reqwest::Client::new();
    let post = |path: String, body: Value| {
        client
            .post(format!("{base}{path}"))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    let district: Value = post(
        "/api/v1/districts".into(),
        json!({"code": "bench", "name": "基准区", "term": 16}),
    )
    .await
    .expect("district")
    .json()
    .await
    .expect("district body");
    let district = district["id"].as_str().expect("id").to_owned();
    let sync = format!("/api/v1/sync/members?district_id={district}");

    let mut created = Vec::new();
    let mut unchanged = Vec::new();
    let mut updated = Vec::new();
    for round in 0..ROUNDS {
        let prefix = format!("R{round}");
        for (samples, body, expect) in [
            (&mut created, members(&prefix, "委员"), "created"),
            (&mut unchanged, members(&prefix, "委员"), "unchanged"),
            (&mut updated, members(&prefix, "改名"), "updated"),
        ] {
            let started = Instant::now();
            let response = post(sync.clone(), body).await.expect("batch");
            let elapsed = started.elapsed();
            assert_eq!(response.status(), 200);
            let result: Value = response.json().await.expect("result");
            assert_eq!(result[expect], BATCH, "{result}");
            samples.push(elapsed);
        }
    }

    // The same 1,000 members one request at a time.
    let started = Instant::now();
    for n in 0..BATCH {
        let response = post(
            "/api/v1/members".into(),
            json!({
                "district_id": district, "member_no": format!("S-{n:04}"), "name": "单个",
                "sector": "economy", "party": "cpc",
            }),
        )
        .await
        .expect("create");
        assert_eq!(response.status(), 201);
    }
    let singles = started.elapsed();

    let created = median(created);
    println!("sync of {BATCH} members (median of {ROUNDS}, release build, this machine):");
    println!("  created:   {:8.1} ms", ms(created));
    println!("  unchanged: {:8.1} ms", ms(median(unchanged)));
    println!("  updated:   {:8.1} ms", ms(median(updated)));
    println!("  {BATCH} single POST /members: {:8.1} ms", ms(singles));
    println!(
        "  one batch is {:.1}x faster than {BATCH} single creates",
        singles.as_secs_f64() / created.as_secs_f64()
    );

    drop(conn);
    let (admin, connection) = tokio_postgres::connect(&server, tokio_postgres::NoTls)
        .await
        .expect("connect to drop the scratch database");
    tokio::spawn(connection);
    admin
        .batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .await
        .expect("drop the scratch database");
}
