//! The record runner: every record's `PATCH` and `DELETE` take their steps in one order.

use std::collections::BTreeSet;

use diesel_async::{AsyncConnection, AsyncPgConnection};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

/// The records a client changes and removes, by the template of their path in the spec.
/// A ruling's measures are not among them: they are part of the ruling (its version, its
/// trail), changed by steps of their own.
const RECORDS: [&str; 14] = [
    "/api/v1/districts/{district}",
    "/api/v1/members/{id}",
    "/api/v1/departments/{id}",
    "/api/v1/workstations/{id}",
    "/api/v1/activities/{id}",
    "/api/v1/meetings/{id}",
    "/api/v1/reports/{id}",
    "/api/v1/key-tasks/{id}",
    "/api/v1/proposals/{id}",
    "/api/v1/consultations/{id}",
    "/api/v1/consultations/{id}/activities/{activity_id}",
    "/api/v1/evaluations/{id}",
    "/api/v1/evaluations/{id}/visits/{visit_id}",
    "/api/v1/rulings/{id}",
];

async fn created(response: reqwest::Response) -> String {
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

async fn ok(response: reqwest::Response) -> Value {
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// The first record of a list.
async fn first(app: &TestApp, list: &str) -> String {
    let joint = if list.contains('?') { '&' } else { '?' };
    let page = ok(app.get(&format!("{list}{joint}limit=1")).await).await;
    let id = page["items"][0]["id"].as_str();
    id.unwrap_or_else(|| panic!("{list} is empty")).to_owned()
}

/// How many events the trail holds, sealed or waiting to be.
async fn events(app: &TestApp) -> i64 {
    app.db()
        .await
        .query_one(
            "SELECT (SELECT count(*) FROM audit_events) \
             + (SELECT coalesce(sum(cardinality(prefixes)), 0) FROM audit_pending)",
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

/// One concrete path for each of [`RECORDS`]: the demo data's records, and a proposal, a
/// consultation topic with an activity, an evaluation under investigation with a visit
/// and a ruling made for the test.
async fn instances(app: &TestApp) -> Vec<String> {
    let mut conn = AsyncPgConnection::establish(&app.database_url)
        .await
        .unwrap();
    cppcc_api::seed::seed_demo(&mut conn).await.unwrap();
    let district = ok(app.get("/api/v1/districts/xicheng").await).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let in_district = |list: &str| format!("{list}?district_id={district}");
    let member = first(app, &in_district("/api/v1/members")).await;
    let department = first(app, &in_district("/api/v1/departments")).await;

    let proposal = created(
        app.post(
            "/api/v1/proposals",
            &json!({
                "district_id": district, "kind": "member", "title": "提案", "body": "内容",
                "category": "economy", "lead_member_id": member,
            }),
        )
        .await,
    )
    .await;
    let topic = created(
        app.post(
            "/api/v1/consultations",
            &json!({"district_id": district, "year": 2026, "title": "数字经济"}),
        )
        .await,
    )
    .await;
    let topic_activity = created(
        app.post(
            &format!("/api/v1/consultations/{topic}/activities"),
            &json!({"format": "thematic_meeting", "held_on": "2026-03-01"}),
        )
        .await,
    )
    .await;
    let evaluation = created(
        app.post(
            "/api/v1/evaluations",
            &json!({"district_id": district, "department_id": department, "year": 2026}),
        )
        .await,
    )
    .await;
    let at = |path: &str| format!("/api/v1/evaluations/{evaluation}/{path}");
    assert_eq!(
        app.put(&at(&format!("evaluators/{member}"))).await.status(),
        StatusCode::CREATED
    );
    ok(app
        .post(&at(&format!("evaluators/{member}/training")), &json!({}))
        .await)
    .await;
    ok(app.post(&at("start-investigation"), &json!({})).await).await;
    let visit = created(
        app.post(
            &at("visits"),
            &json!({"visited_on": "2026-05-06", "place": "政务服务大厅", "visited": "窗口"}),
        )
        .await,
    )
    .await;
    let ruling = created(
        app.post(
            "/api/v1/rulings",
            &json!({
                "leader_name": "李四", "leader_title": "party_secretary",
                "subject_type": "consultation", "subject_id": topic, "content": "请牵头落实。",
                "department_ids": [department], "issued_on": "2026-06-01",
            }),
        )
        .await,
    )
    .await;

    vec![
        format!("/api/v1/districts/{district}"),
        format!("/api/v1/members/{member}"),
        format!("/api/v1/departments/{department}"),
        format!(
            "/api/v1/workstations/{}",
            first(app, &in_district("/api/v1/workstations")).await
        ),
        format!(
            "/api/v1/activities/{}",
            first(app, &in_district("/api/v1/activities")).await
        ),
        format!(
            "/api/v1/meetings/{}",
            first(app, &in_district("/api/v1/meetings")).await
        ),
        format!("/api/v1/reports/{}", first(app, "/api/v1/reports").await),
        format!(
            "/api/v1/key-tasks/{}",
            first(app, "/api/v1/key-tasks").await
        ),
        format!("/api/v1/proposals/{proposal}"),
        format!("/api/v1/consultations/{topic}"),
        format!("/api/v1/consultations/{topic}/activities/{topic_activity}"),
        format!("/api/v1/evaluations/{evaluation}"),
        format!("/api/v1/evaluations/{evaluation}/visits/{visit}"),
        format!("/api/v1/rulings/{ruling}"),
    ]
}

async fn send(app: &TestApp, method: Method, path: &str, tag: &str) -> reqwest::Response {
    let mut request = app
        .client
        .request(method.clone(), app.url(path))
        .header("If-Match", tag);
    if method == Method::PATCH {
        request = request
            .header("Content-Type", "application/merge-patch+json")
            .body("{}");
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn every_record_checks_if_match_before_its_state_and_a_patch_of_nothing_writes_nothing() {
    let spec: Value = serde_json::from_str(include_str!("../../openapi/openapi.json")).unwrap();
    let edited: BTreeSet<&str> = spec["paths"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, item)| item.get("patch").is_some() && item.get("delete").is_some())
        .map(|(path, _)| path.as_str())
        .filter(|path| !path.contains("/measures/"))
        .collect();
    assert_eq!(
        edited,
        BTreeSet::from(RECORDS),
        "every record a client changes and removes is in this test"
    );

    let app = spawn_app().await;
    let paths = instances(&app).await;
    let trail = events(&app).await;
    for path in &paths {
        let response = app.get(path).await;
        let tag = response.headers()["etag"].to_str().unwrap().to_owned();
        let before = ok(response).await;
        let stale = format!("\"{}\"", before["version"].as_i64().unwrap() + 1000);

        // A stale version is refused before anything else is looked at (the record's
        // state or its parent's included).
        for method in [Method::PATCH, Method::DELETE] {
            let response = send(&app, method.clone(), path, &stale).await;
            assert_eq!(
                response.status(),
                StatusCode::PRECONDITION_FAILED,
                "{method} {path} with a stale If-Match"
            );
        }
        // A change of nothing keeps the version, or is refused by the record's state.
        let response = send(&app, Method::PATCH, path, &tag).await;
        match response.status() {
            StatusCode::OK => assert_eq!(
                response.headers()["etag"].to_str().unwrap(),
                tag,
                "PATCH {path} of nothing keeps the version"
            ),
            StatusCode::CONFLICT => {}
            other => panic!("PATCH {path} of nothing: {other}"),
        }
        let after = ok(app.get(path).await).await;
        assert_eq!(after, before, "{path} is as it was");
    }
    assert_eq!(
        events(&app).await,
        trail,
        "nothing was written to the trail"
    );

    // A record of another parent is not found under this one, whatever version is sent.
    let visit = &paths[12];
    let evaluation = ok(app.get(&paths[11]).await).await;
    let other = created(
        app.post(
            "/api/v1/evaluations",
            &json!({
                "district_id": evaluation["district_id"],
                "department_id": evaluation["department_id"], "year": 2025,
            }),
        )
        .await,
    )
    .await;
    let own = evaluation["id"].as_str().unwrap();
    let elsewhere = visit.replace(own, &other);
    for method in [Method::PATCH, Method::DELETE] {
        let response = send(&app, method.clone(), &elsewhere, "\"1\"").await;
        assert_eq!(
            response.status(),
            StatusCode::NOT_FOUND,
            "{method} {elsewhere}"
        );
    }

    // With the version it holds, a record is removed and its removal is in the trail, or
    // its state (or what still depends on it) refuses, and nothing is written.
    for path in paths.iter().rev() {
        let response = app.get(path).await;
        if response.status() == StatusCode::NOT_FOUND {
            continue;
        }
        let tag = response.headers()["etag"].to_str().unwrap().to_owned();
        let trail = events(&app).await;
        let response = send(&app, Method::DELETE, path, &tag).await;
        match response.status() {
            StatusCode::NO_CONTENT => {
                assert_eq!(
                    app.get(path).await.status(),
                    StatusCode::NOT_FOUND,
                    "{path}"
                );
                assert!(events(&app).await > trail, "DELETE {path} is in the trail");
            }
            StatusCode::CONFLICT => {
                assert_eq!(events(&app).await, trail, "a refused DELETE {path}");
            }
            other => panic!("DELETE {path}: {other}"),
        }
    }
}

/// A change of each record, as its PATCH makes it: a field every record has that takes
/// any text, given a new value.
fn a_change_of(path: &str) -> Value {
    let template = RECORDS
        .iter()
        .find(|template| {
            let pattern: Vec<&str> = template.split('/').collect();
            let concrete: Vec<&str> = path.split('/').collect();
            pattern.len() == concrete.len()
                && pattern
                    .iter()
                    .zip(&concrete)
                    .all(|(p, c)| p.starts_with('{') || p == c)
        })
        .expect("a record of RECORDS");
    match *template {
        "/api/v1/districts/{district}" => json!({"name_en": "Changed"}),
        "/api/v1/members/{id}" => json!({"employer_title": "改后的职务"}),
        "/api/v1/departments/{id}" => json!({"short_name": "改"}),
        "/api/v1/workstations/{id}" | "/api/v1/key-tasks/{id}" => {
            json!({"description": "改后的说明"})
        }
        "/api/v1/activities/{id}"
        | "/api/v1/reports/{id}"
        | "/api/v1/consultations/{id}/activities/{activity_id}" => json!({"summary": "改后"}),
        "/api/v1/meetings/{id}" => json!({"agenda": "改后的议程"}),
        "/api/v1/proposals/{id}" => json!({"title": "改后的提案"}),
        "/api/v1/consultations/{id}" => json!({"lead_committee": "改后的委员会"}),
        "/api/v1/evaluations/{id}" => json!({"year": 2027}),
        "/api/v1/evaluations/{id}/visits/{visit_id}" => json!({"findings": "改后的发现"}),
        "/api/v1/rulings/{id}" => json!({"content": "改后的批示。"}),
        other => panic!("no change written for {other}"),
    }
}

/// A change is worked out by the service and written with the COMMIT: what its answer
/// says (the record, its `ETag`, its `updated_at`) is what the database then holds, for
/// every record; the same change again writes nothing.
#[tokio::test]
async fn every_change_answers_the_record_as_it_was_written() {
    let app = spawn_app().await;
    for path in instances(&app).await {
        let before = app.get(&path).await;
        let tag = before.headers()["etag"].to_str().unwrap().to_owned();
        let before: Value = before.json().await.unwrap();
        let change = a_change_of(&path);
        let patch = || {
            app.client
                .patch(app.url(&path))
                .header("If-Match", &tag)
                .header("Content-Type", "application/merge-patch+json")
                .body(change.to_string())
                .send()
        };
        let answer = patch().await.unwrap();
        if answer.status() == StatusCode::CONFLICT {
            // The record does not take a change in its state (an evaluation under
            // investigation): nothing is written.
            assert_eq!(ok(app.get(&path).await).await, before, "{path}");
            continue;
        }
        assert_eq!(answer.status(), StatusCode::OK, "{path}");
        let answered_tag = answer.headers()["etag"].to_str().unwrap().to_owned();
        let answered: Value = answer.json().await.unwrap();
        let stored = app.get(&path).await;
        assert_eq!(
            stored.headers()["etag"].to_str().unwrap(),
            answered_tag,
            "{path}"
        );
        let stored: Value = stored.json().await.unwrap();
        assert_eq!(answered, stored, "{path}: the answer is what was written");
        assert_eq!(
            stored["version"].as_i64().unwrap(),
            before["version"].as_i64().unwrap() + 1,
            "{path}"
        );
        if before.get("updated_at").is_some() {
            assert_ne!(stored["updated_at"], before["updated_at"], "{path}");
        }
        assert_eq!(stored["created_at"], before["created_at"], "{path}");

        // The same change again changes nothing: same version, nothing written.
        let again = app
            .client
            .patch(app.url(&path))
            .header("If-Match", &answered_tag)
            .header("Content-Type", "application/merge-patch+json")
            .body(change.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::OK, "{path}");
        assert_eq!(again.json::<Value>().await.unwrap(), stored, "{path}");
    }
}
