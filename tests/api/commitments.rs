//! Members' contact data in the audit trail: commitments in the hashed form, the values
//! apart, for those who may read them; erasable without breaking the chain.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{TestApp, event_hash, spawn_app};

const PHONE: &str = "13912345678";
const EMAIL: &str = "secret.wang@example.cn";

/// A member written with contact data and changed once: its events carry commitments.
async fn member_with_contacts(app: &TestApp) -> (String, String) {
    let district = app.district("xicheng").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let member = app.member(&district, "M-1", "王某").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/v1/members/{member}");
    let response = app
        .patch(&path, &json!({"phone": PHONE, "email": EMAIL}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    (district, member)
}

async fn export_as(app: &TestApp, token: &str) -> (String, Vec<Value>) {
    let text = app
        .anonymous
        .get(app.url("/api/v1/audit-events"))
        .header("Authorization", format!("Bearer {token}"))
        .header("Accept", "application/x-ndjson")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let events = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    (text, events)
}

fn recomputes(event: &Value) -> bool {
    event_hash(event, event["prev_hash"].as_str().unwrap()) == event["hash"]
}

fn opens(commitment: &Value, opening: &Value) -> bool {
    let salt: Vec<u8> = (0..16)
        .map(|index| {
            u8::from_str_radix(
                &opening["salt"].as_str().unwrap()[2 * index..2 * index + 2],
                16,
            )
            .unwrap()
        })
        .collect();
    let mut digest = Sha256::new();
    digest.update(&salt);
    digest.update(opening["value"].as_str().unwrap().as_bytes());
    let hex: String = digest
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    commitment["commitment"] == hex.as_str()
}

#[tokio::test]
async fn auditors_verify_every_hash_and_never_see_a_contact_value() {
    let app = spawn_app().await;
    let (_, member) = member_with_contacts(&app).await;
    let auditor = app.key("auditor", None).await;
    let (text, events) = export_as(&app, &auditor).await;
    assert!(!text.contains(PHONE) && !text.contains(EMAIL), "{text}");
    for event in &events {
        assert!(
            recomputes(event),
            "an auditor recomputes every hash: {event}"
        );
        assert_eq!(event["form"], 2);
        assert!(event["openings"].is_null());
        assert_eq!(event["withheld"], json!([]));
    }
    let change = events
        .iter()
        .find(|event| event["entity_id"] == member.as_str() && event["action"] == "update")
        .unwrap();
    assert!(
        change["after"]["phone"]["commitment"].is_string(),
        "{change}"
    );
    // The same through the auditor's pages.
    let page: Value = app
        .request_as(
            Some(&auditor),
            Method::GET,
            "/api/v1/audit-events?limit=200",
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(!page.to_string().contains(PHONE));
}

#[tokio::test]
async fn an_administrator_opens_a_commitment_with_its_value_and_salt() {
    let app = spawn_app().await;
    let (_, member) = member_with_contacts(&app).await;
    let history: Value = app
        .get(&format!("/api/v1/members/{member}/history"))
        .await
        .json()
        .await
        .unwrap();
    let change = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|event| event["action"] == "update")
        .unwrap()
        .clone();
    let opening = &change["openings"]["after.phone"];
    assert_eq!(opening["value"], PHONE, "{change}");
    assert!(opens(&change["after"]["phone"], opening));
    assert!(opens(
        &change["after"]["email"],
        &change["openings"]["after.email"]
    ));
    // Another value does not open it.
    let mut wrong = opening.clone();
    wrong["value"] = json!("13900000000");
    assert!(!opens(&change["after"]["phone"], &wrong));
    assert!(recomputes(&change));
}

#[tokio::test]
async fn an_erased_value_leaves_the_chain_whole_and_the_erasure_is_an_event() {
    let app = spawn_app().await;
    let (_, member) = member_with_contacts(&app).await;
    let (_, events) = export_as(&app, &app.admin_token).await;
    let change = events
        .iter()
        .find(|event| event["entity_id"] == member.as_str() && event["action"] == "update")
        .unwrap();
    let seq = change["seq"].as_i64().unwrap();
    let path = format!("/api/v1/audit-events/{seq}/erase-contacts");
    // Nobody but an administrator erases.
    let auditor = app.key("auditor", None).await;
    let refused = app
        .request_as(Some(&auditor), Method::POST, &path, None)
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let erased: Value = app
        .request(Method::POST, &path, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(erased["erased"], json!(["after.email", "after.phone"]));
    let again: Value = app
        .request(Method::POST, &path, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["erased"], json!([]), "erasing twice erases nothing");
    let (text, events) = export_as(&app, &app.admin_token).await;
    let after = events.iter().find(|event| event["seq"] == seq).unwrap();
    assert!(after["openings"]["after.phone"]["value"].is_null());
    assert!(after["openings"]["after.phone"]["erased_at"].is_string());
    assert_eq!(after["hash"], change["hash"], "the event and its hash stay");
    let erasures: Vec<&Value> = events
        .iter()
        .filter(|event| event["action"] == "erase_contacts")
        .collect();
    assert_eq!(erasures.len(), 1, "one event for the one erasure");
    assert_eq!(erasures[0]["entity_id"], seq.to_string());
    assert!(
        !text.contains(PHONE) && !text.contains(EMAIL),
        "the trail holds the values nowhere once erased"
    );
    let verified: Value = app
        .get("/api/v1/audit-events/verify")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(verified["ok"], true, "{verified}");
    assert_eq!(
        app.request(
            Method::POST,
            "/api/v1/audit-events/999999/erase-contacts",
            None
        )
        .await
        .status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn openings_are_erasable_only_and_never_rewritten_in_the_database() {
    let app = spawn_app().await;
    let (_, member) = member_with_contacts(&app).await;
    // Read once: the events are chained and their openings stored.
    let history = app.get(&format!("/api/v1/members/{member}/history")).await;
    assert_eq!(history.status(), StatusCode::OK);
    let db = app.db().await;
    let held: i64 = db
        .query_one("SELECT count(*) FROM audit_openings", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(held, 2, "the phone and the e-mail");
    for statement in [
        "UPDATE audit_openings SET value = 'x'",
        "DELETE FROM audit_openings",
        "TRUNCATE audit_openings",
    ] {
        let error = db.batch_execute(statement).await.unwrap_err();
        let message = error
            .as_db_error()
            .map(|error| error.message().to_owned())
            .unwrap_or_default();
        assert!(
            message.contains("audit_openings may only be erased")
                || message.contains("append-only"),
            "{statement}: {error}"
        );
    }
}
