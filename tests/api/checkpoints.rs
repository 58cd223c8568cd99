//! Signed checkpoints of the audit trail: what a database superuser can do to the chain,
//! and what `verify` finds of it.

use std::time::Duration;

use cppcc_api::domain::checkpoint::{Signer, Statement, key_id, parse_public_key, verifies};
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{TestApp, event_hash, spawn_app_with, spawn_beside};

/// An instance that signs a checkpoint within a second of its events.
async fn signing_app() -> TestApp {
    spawn_app_with(|config| config.audit_checkpoint_interval = Duration::from_secs(1)).await
}

async fn json(app: &TestApp, path: &str) -> Value {
    let response = app.get(path).await;
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    response.json().await.unwrap()
}

async fn verify(app: &TestApp) -> Value {
    json(app, "/api/v1/audit-events/verify").await
}

async fn checkpoints(app: &TestApp) -> Vec<Value> {
    let mut all = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = json(
            app,
            &format!("/api/v1/audit-events/checkpoints?limit=200{cursor}"),
        )
        .await;
        all.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => return all,
        }
    }
}

/// Waits (at most 10 s) until a checkpoint covers every event written so far.
async fn signed_to_the_head(app: &TestApp) -> Vec<Value> {
    for _ in 0..100 {
        let head = verify(app).await;
        assert_eq!(head["ok"], true, "{head}");
        if head["unsigned_events"] == 0 && head["checkpoints_checked"].as_i64() > Some(0) {
            return checkpoints(app).await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no checkpoint covered the head within 10 s");
}

/// Every event of the trail as stored (the admin reads contact data too).
async fn stored_events(app: &TestApp) -> Vec<Value> {
    let text = app
        .client
        .get(app.url("/api/v1/audit-events"))
        .header("Accept", "application/x-ndjson")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// What a superuser does to hide an edit: writes `events` (changed as they like) back
/// from `from` on, every hash recomputed so that the chain holds together again.
async fn rewrite(app: &TestApp, mut events: Vec<Value>, from: usize) {
    let db = app.db().await;
    db.batch_execute("SET session_replication_role = replica")
        .await
        .unwrap();
    for index in from..events.len() {
        let prev = events[index - 1]["hash"].as_str().unwrap().to_owned();
        let hash = event_hash(&events[index], &prev);
        events[index]["prev_hash"] = Value::String(prev.clone());
        events[index]["hash"] = Value::String(hash.clone());
        let event = &events[index];
        db.execute(
            "UPDATE audit_events SET action = $2, entity_type = $3, entity_id = $4, \
             before = $5::text::jsonb, after = $6::text::jsonb, prev_hash = $7, hash = $8, \
             occurred_at = $9::text::timestamptz, actor_key_id = $10::text::uuid, \
             actor_role = $11, actor_district_id = $12::text::uuid, request_id = $13, \
             idempotency_key = $14, district_id = $15::text::uuid \
             WHERE seq = $1",
            &[
                &event["seq"].as_i64().unwrap(),
                &event["action"].as_str().unwrap(),
                &event["entity_type"].as_str().unwrap(),
                &event["entity_id"].as_str().unwrap(),
                &Some(&event["before"])
                    .filter(|value| !value.is_null())
                    .map(Value::to_string),
                &Some(&event["after"])
                    .filter(|value| !value.is_null())
                    .map(Value::to_string),
                &prev,
                &hash,
                &event["occurred_at"].as_str().unwrap(),
                &event["actor_key_id"].as_str(),
                &event["actor_role"].as_str(),
                &event["actor_district_id"].as_str(),
                &event["request_id"].as_str(),
                &event["idempotency_key"].as_str(),
                &event["district_id"].as_str(),
            ],
        )
        .await
        .unwrap();
    }
    db.batch_execute("SET session_replication_role = DEFAULT")
        .await
        .unwrap();
}

/// `verify` refused a checkpoint for its key.
fn assert_untrusted(result: &Value) {
    assert_eq!(result["ok"], false, "{result}");
    let reason = result["reason"].as_str().unwrap();
    assert!(reason.contains("does not trust"), "{result}");
}

async fn districts(app: &TestApp, codes: &[&str]) {
    for code in codes {
        app.district(code).await;
    }
}

#[tokio::test]
async fn checkpoints_sign_the_head_with_the_published_key() {
    let app = signing_app().await;
    districts(&app, &["aa", "bb", "cc"]).await;
    let signed = signed_to_the_head(&app).await;
    let keys = json(&app, "/api/v1/audit-events/signing-keys").await;
    let keys = keys["items"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert_eq!(keys[0]["algorithm"], "Ed25519");
    let public = parse_public_key(keys[0]["public_key"].as_str().unwrap()).unwrap();
    assert_eq!(keys[0]["key_id"], key_id(&public));
    let events = stored_events(&app).await;
    for event in &events {
        // Exactly as hashed: six fractional digits, trailing zeros kept.
        let time = event["occurred_at"].as_str().unwrap();
        assert_eq!(time.len(), "2026-11-30T08:15:02.120000Z".len(), "{time}");
        assert_eq!(
            time,
            cppcc_api::domain::audit::timestamp(time.parse().unwrap())
        );
    }
    for (index, checkpoint) in signed.iter().enumerate() {
        assert_eq!(
            checkpoint["number"],
            index as i64 + 1,
            "numbered without gaps"
        );
        let seq = checkpoint["seq"].as_i64().unwrap();
        assert_eq!(checkpoint["hash"], events[seq as usize - 1]["hash"]);
        let statement = Statement {
            number: checkpoint["number"].as_i64().unwrap(),
            seq,
            hash: checkpoint["hash"].as_str().unwrap(),
            signed_at: checkpoint["signed_at"].as_str().unwrap().parse().unwrap(),
            key_id: checkpoint["key_id"].as_str().unwrap(),
        };
        assert!(verifies(
            &public,
            &statement,
            checkpoint["signature"].as_str().unwrap()
        ));
    }
    assert_eq!(
        signed.last().unwrap()["seq"],
        events.len() as i64,
        "the last checkpoint covers the head"
    );
    let result = verify(&app).await;
    assert_eq!(
        result["checkpoints_checked"],
        signed.len() as i64,
        "{result}"
    );
    assert_eq!(result["last_checkpoint"], *signed.last().unwrap());
    // Nothing new, nothing signed: no checkpoint for an idle trail.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(checkpoints(&app).await.len(), signed.len());
}

#[tokio::test]
async fn a_rewrite_behind_a_checkpoint_with_every_later_hash_recomputed_is_found() {
    let app = signing_app().await;
    districts(&app, &["aa", "bb", "cc", "dd"]).await;
    signed_to_the_head(&app).await;
    let mut events = stored_events(&app).await;
    events[2]["after"]["name"] = Value::String("篡改".into());
    rewrite(&app, events, 2).await;
    let result = verify(&app).await;
    assert_eq!(result["ok"], false, "{result}");
    assert!(result["broken_checkpoint"].is_i64(), "{result}");
    assert!(
        result["reason"]
            .as_str()
            .unwrap()
            .contains("does not have the hash checkpoint"),
        "{result}"
    );
}

#[tokio::test]
async fn removing_the_newest_events_a_checkpoint_covers_is_found() {
    let app = signing_app().await;
    districts(&app, &["aa", "bb", "cc"]).await;
    let signed = signed_to_the_head(&app).await;
    let last = signed.last().unwrap()["seq"].as_i64().unwrap();
    app.db()
        .await
        .batch_execute(&format!(
            "SET session_replication_role = replica; \
             DELETE FROM audit_events WHERE seq >= {}; \
             SET session_replication_role = DEFAULT;",
            last - 1
        ))
        .await
        .unwrap();
    let result = verify(&app).await;
    assert_eq!(result["ok"], false, "{result}");
    assert_eq!(result["broken_seq"], last - 1, "{result}");
    assert!(
        result["reason"].as_str().unwrap().contains("were removed"),
        "{result}"
    );
}

#[tokio::test]
async fn swapping_two_events_is_found() {
    let app = signing_app().await;
    districts(&app, &["aa", "bb", "cc"]).await;
    signed_to_the_head(&app).await;
    let mut events = stored_events(&app).await;
    // The second and third events trade places, each keeping its seq.
    let (second, third) = (events[1].clone(), events[2].clone());
    for (index, mut event) in [(1, third), (2, second)] {
        event["seq"] = events[index]["seq"].clone();
        events[index] = event;
    }
    rewrite(&app, events, 1).await;
    let result = verify(&app).await;
    assert_eq!(result["ok"], false, "{result}");
    assert!(result["broken_checkpoint"].is_i64(), "{result}");
}

#[tokio::test]
async fn a_checkpoint_forged_with_another_key_is_found() {
    let app = signing_app().await;
    districts(&app, &["aa", "bb"]).await;
    signed_to_the_head(&app).await;
    let mut events = stored_events(&app).await;
    events[1]["after"]["name"] = Value::String("篡改".into());
    rewrite(&app, events, 1).await;
    // The superuser replaces every checkpoint with one of their own key's.
    let forger = Signer::new(ed25519_dalek::SigningKey::from_bytes(&[42; 32]));
    let head = stored_events(&app).await.last().unwrap().clone();
    let signed_at = chrono::Utc::now();
    let statement = Statement {
        number: 1,
        seq: head["seq"].as_i64().unwrap(),
        hash: head["hash"].as_str().unwrap(),
        signed_at,
        key_id: forger.id(),
    };
    let db = app.db().await;
    db.batch_execute(
        "SET session_replication_role = replica; DELETE FROM audit_checkpoints; \
         SET session_replication_role = DEFAULT;",
    )
    .await
    .unwrap();
    db.execute(
        "INSERT INTO audit_signing_keys (key_id, public_key) VALUES ($1, $2)",
        &[&forger.id(), &forger.public_key().as_bytes().to_vec()],
    )
    .await
    .unwrap();
    db.execute(
        "INSERT INTO audit_checkpoints (number, seq, hash, signed_at, key_id, signature) \
         VALUES (1, $1, $2, $3::text::timestamptz, $4, $5)",
        &[
            &statement.seq,
            &statement.hash,
            &cppcc_api::domain::audit::timestamp(signed_at),
            &forger.id(),
            &forger.sign(&statement),
        ],
    )
    .await
    .unwrap();
    let result = verify(&app).await;
    assert_eq!(result["broken_checkpoint"], 1);
    assert_untrusted(&result);
}

#[tokio::test]
async fn a_rotated_key_keeps_the_old_checkpoints_verifiable() {
    let old_pem = cppcc_api::audit_key::generate().unwrap();
    let new_pem = cppcc_api::audit_key::generate().unwrap();
    let first = spawn_app_with(|config| {
        config.audit_checkpoint_interval = Duration::from_secs(1);
        config.audit_signing_key = Some(old_pem.clone());
    })
    .await;
    districts(&first, &["aa", "bb"]).await;
    signed_to_the_head(&first).await;
    let old_public =
        json(&first, "/api/v1/audit-events/signing-keys").await["items"][0]["public_key"]
            .as_str()
            .unwrap()
            .to_owned();
    // The next release signs with a new key and names the old one as trusted.
    let second = spawn_beside(&first, |config| {
        config.audit_checkpoint_interval = Duration::from_secs(1);
        config.audit_signing_key = Some(new_pem.clone());
        config.audit_trusted_keys = vec![parse_public_key(&old_public).unwrap()];
    })
    .await;
    // Both instances sign while they run; writes go on until the new key has signed.
    let mut signers = std::collections::BTreeSet::new();
    for round in 0..50 {
        second.district(&format!("n{round}")).await;
        let signed = signed_to_the_head(&second).await;
        signers = signed
            .iter()
            .map(|checkpoint| checkpoint["key_id"].as_str().unwrap().to_owned())
            .collect();
        if signers.len() == 2 {
            break;
        }
    }
    assert_eq!(signers.len(), 2, "both keys signed: {signers:?}");
    assert_eq!(verify(&second).await["ok"], true);
    let keys = json(&second, "/api/v1/audit-events/signing-keys").await;
    let keys = keys["items"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(
        keys[0]["public_key"],
        old_public.as_str(),
        "the old key stays listed"
    );
    assert!(keys[0]["valid_until"].is_string(), "{keys:?}");
    assert!(keys[1]["valid_until"].is_null(), "{keys:?}");
    // Without the old key named, its checkpoints are not taken on the database's word.
    let forgetful = spawn_beside(&second, |config| {
        config.audit_signing_key = Some(new_pem.clone());
    })
    .await;
    let result = verify(&forgetful).await;
    assert_untrusted(&result);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_sign_without_gaps_or_duplicates() {
    let first = signing_app().await;
    let second = spawn_beside(&first, |config| {
        config.audit_checkpoint_interval = Duration::from_secs(1);
    })
    .await;
    let started = std::time::Instant::now();
    let mut round = 0;
    while started.elapsed() < Duration::from_secs(3) {
        round += 1;
        let (a, b) = (format!("a{round}"), format!("b{round}"));
        tokio::join!(first.district(&a), second.district(&b));
    }
    let signed = signed_to_the_head(&second).await;
    assert!(signed.len() >= 2, "{signed:?}");
    for (index, checkpoint) in signed.iter().enumerate() {
        assert_eq!(checkpoint["number"], index as i64 + 1);
    }
    assert!(
        signed
            .windows(2)
            .all(|pair| pair[0]["seq"].as_i64() < pair[1]["seq"].as_i64()),
        "{signed:?}"
    );
    assert_eq!(verify(&first).await["ok"], true);
}
