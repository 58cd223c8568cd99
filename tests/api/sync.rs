//! Bulk upserts from district systems: per-record results, atomic and dry-run batches,
//! deletions, retries.

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

fn member(no: &str, name: &str) -> Value {
    json!({"member_no": no, "name": name, "sector": "economy", "party": "cpc"})
}

async fn push(app: &TestApp, token: &str, query: &str, records: Value) -> Response {
    app.request_as(
        Some(token),
        Method::POST,
        &format!("/api/v1/sync/members{query}"),
        Some(&json!({"records": records})),
    )
    .await
}

async fn answer(response: Response, status: StatusCode) -> Value {
    let got = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(got, status, "{body}");
    body
}

fn statuses(result: &Value) -> Vec<&str> {
    result["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|record| record["status"].as_str().unwrap())
        .collect()
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    app.sealed_db()
        .await
        .query_one(sql, &[])
        .await
        .unwrap()
        .get(0)
}

struct Setup {
    district: String,
    sync: String,
}

async fn setup(app: &TestApp) -> Setup {
    let district = app.district("xicheng").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let sync = app.key("sync", Some(&district)).await;
    Setup { district, sync }
}

#[tokio::test]
async fn a_batch_creates_updates_leaves_unchanged_and_deletes_members() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let first = json!([
        member("XC-001", "王芳"),
        member("XC-002", "李明"),
        member("XC-003", "赵丽")
    ]);
    let result = answer(push(&app, &s.sync, "", first.clone()).await, StatusCode::OK).await;
    assert_eq!(statuses(&result), ["created", "created", "created"]);
    assert_eq!(result["created"], 3);
    assert_eq!(result["applied"], true);
    let ids: Vec<String> = result["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|record| record["id"].as_str().unwrap().to_owned())
        .collect();
    let got: Value = app
        .get(&format!("/api/v1/members/{}", ids[1]))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["member_no"], "XC-002");
    assert_eq!(got["district_id"], s.district.as_str());
    let events = count(&app, "SELECT count(*) FROM audit_events").await;

    // The same content again: nothing written, no version, no event.
    let again = answer(push(&app, &s.sync, "", first).await, StatusCode::OK).await;
    assert_eq!(statuses(&again), ["unchanged", "unchanged", "unchanged"]);
    assert_eq!(again["results"][0]["version"], 1);
    assert_eq!(
        count(&app, "SELECT count(*) FROM audit_events").await,
        events
    );

    // One changed, one the same, one deleted, one new, one deletion of what is not there.
    let second = json!([
        member("XC-001", "王芳芳"),
        member("XC-002", "李明"),
        {"member_no": "XC-003", "deleted": true},
        member("XC-004", "孙伟"),
        {"member_no": "XC-999", "deleted": true},
    ]);
    let result = answer(push(&app, &s.sync, "", second).await, StatusCode::OK).await;
    assert_eq!(
        statuses(&result),
        ["updated", "unchanged", "deleted", "created", "unchanged"]
    );
    assert_eq!(result["results"][0]["id"], ids[0].as_str());
    assert_eq!(result["results"][0]["version"], 2);
    assert_eq!(
        count(&app, "SELECT count(*) FROM audit_events").await,
        events + 3
    );
    let deleted = app.get(&format!("/api/v1/members/{}", ids[2])).await;
    assert_eq!(deleted.status(), StatusCode::NOT_FOUND);
    let renamed: Value = app
        .get(&format!("/api/v1/members/{}", ids[0]))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(renamed["name"], "王芳芳");
    // The trail holds the update with its before and after.
    let trail: Value = app
        .get(&format!(
            "/api/v1/audit-events?entity_type=member&entity_id={}",
            ids[0]
        ))
        .await
        .json()
        .await
        .unwrap();
    let update = &trail["items"][1];
    assert_eq!(update["action"], "update");
    assert_eq!(update["before"]["name"], "王芳");
    assert_eq!(update["after"]["name"], "王芳芳");
    let verified: Value = app
        .get("/api/v1/audit-events/verify")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(verified["ok"], true);
}

#[tokio::test]
async fn refused_records_are_reported_and_atomic_or_dry_batches_write_nothing() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let batch = json!([
        member("XC-001", "王芳"),
        {"member_no": "XC-002", "name": "李明", "sector": "astrology", "party": "cpc"},
        member("XC-001", "王芳二"),
        {"member_no": "XC-005", "name": "赵丽", "sector": "economy", "party": "cpc", "nickname": "丽丽"},
        {"member_no": "XC-006", "deleted": "yes"},
    ]);
    let members = "SELECT count(*) FROM members";

    let atomic = answer(
        push(&app, &s.sync, "?atomic=true", batch.clone()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(atomic["applied"], false);
    assert_eq!(atomic["errors"], 4);
    assert_eq!(count(&app, members).await, 0);

    let dry = answer(
        push(
            &app,
            &s.sync,
            "?dry_run=true",
            json!([member("XC-001", "王芳")]),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(statuses(&dry), ["created"]);
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["applied"], false);
    assert_eq!(count(&app, members).await, 0);

    let partial = answer(
        push(&app, &s.sync, "", batch).await,
        StatusCode::MULTI_STATUS,
    )
    .await;
    assert_eq!(
        statuses(&partial),
        ["created", "error", "error", "error", "error"]
    );
    let problem = |index: usize| partial["results"][index]["problem"].clone();
    assert_eq!(problem(1)["errors"][0]["pointer"], "/sector");
    assert_eq!(problem(1)["status"], 422);
    assert_eq!(partial["results"][1]["external_id"], "XC-002");
    assert_eq!(problem(2)["errors"][0]["pointer"], "/member_no");
    assert!(
        problem(2)["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("/records/0")
    );
    assert!(
        problem(3)["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("nickname")
    );
    assert_eq!(problem(4)["errors"][0]["pointer"], "/deleted");
    assert_eq!(count(&app, members).await, 1);

    // Too many records, in any mode.
    let many: Vec<Value> = (0..1001).map(|n| member(&format!("N-{n}"), "某")).collect();
    let response = push(&app, &s.sync, "", json!(many)).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn retrying_a_batch_leaves_the_same_state() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let batch = json!([
        member("XC-001", "王芳"),
        member("XC-002", "李明"),
        {"member_no": "XC-002", "deleted": true},
    ]);
    let snapshot = "SELECT string_agg(member_no || ':' || name || ':' || version || ':' || \
                    (deleted_at IS NULL)::text, ',' ORDER BY member_no, created_at) FROM members";
    answer(
        push(&app, &s.sync, "", batch.clone()).await,
        StatusCode::MULTI_STATUS,
    )
    .await;
    let state: Option<String> = app
        .db()
        .await
        .query_one(snapshot, &[])
        .await
        .unwrap()
        .get(0);
    for _ in 0..3 {
        push(&app, &s.sync, "", batch.clone()).await;
        let now: Option<String> = app
            .db()
            .await
            .query_one(snapshot, &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(now, state);
    }
    // With a key, a retry is the first answer again.
    let keyed = |key: &str| {
        app.anonymous
            .post(app.url("/api/v1/sync/members"))
            .bearer_auth(&s.sync)
            .header("Idempotency-Key", key)
            .json(&json!({"records": [member("XC-003", "赵丽")]}))
            .send()
    };
    let first = answer(keyed("batch-7").await.unwrap(), StatusCode::OK).await;
    let replay = keyed("batch-7").await.unwrap();
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(answer(replay, StatusCode::OK).await, first);
}

#[tokio::test]
async fn a_batch_goes_to_the_callers_district_only() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let haidian = app.district("haidian").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let records = json!([member("XC-001", "王芳")]);
    let other = push(
        &app,
        &s.sync,
        &format!("?district_id={haidian}"),
        records.clone(),
    )
    .await;
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
    let admin = app.admin_token.clone();
    let unnamed = push(&app, &admin, "", records.clone()).await;
    assert_eq!(unnamed.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let named = push(
        &app,
        &admin,
        &format!("?district_id={haidian}"),
        records.clone(),
    )
    .await;
    let named = answer(named, StatusCode::OK).await;
    let id = named["results"][0]["id"].as_str().unwrap();
    let got: Value = app
        .get(&format!("/api/v1/members/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["district_id"], haidian.as_str());
    // The same member_no in another district is another member.
    let own = answer(
        push(&app, &s.sync, "", records.clone()).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(statuses(&own), ["created"]);
    let clerk = app.key("clerk", Some(&s.district)).await;
    assert_eq!(
        push(&app, &clerk, "", records).await.status(),
        StatusCode::FORBIDDEN
    );
}

async fn push_to(app: &TestApp, token: &str, collection: &str, records: Value) -> Response {
    app.request_as(
        Some(token),
        Method::POST,
        &format!("/api/v1/sync/{collection}"),
        Some(&json!({"records": records})),
    )
    .await
}

#[tokio::test]
async fn departments_sync_by_their_external_id() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let unit =
        |id: &str, name: &str| json!({"external_id": id, "name": name, "kind": "government"});
    let first = answer(
        push_to(
            &app,
            &s.sync,
            "departments",
            json!([unit("D1", "区教委"), unit("D2", "区卫健委")]),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(statuses(&first), ["created", "created"]);
    let id = first["results"][0]["id"].as_str().unwrap().to_owned();
    let got: Value = app
        .get(&format!("/api/v1/departments/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["external_id"], "D1");
    assert_eq!(got["name"], "区教委");

    let second = answer(
        push_to(
            &app,
            &s.sync,
            "departments",
            json!([
                unit("D1", "区教育委员会"),
                unit("D2", "区卫健委"),
                {"external_id": "D3", "name": "区财政局"},
                {"name": "无编号", "kind": "government"},
                {"external_id": "bad id!", "name": "坏编号", "kind": "government"},
            ]),
        )
        .await,
        StatusCode::MULTI_STATUS,
    )
    .await;
    assert_eq!(
        statuses(&second),
        ["updated", "unchanged", "error", "error", "error"]
    );
    assert_eq!(
        second["results"][2]["problem"]["errors"][0]["pointer"],
        "/kind"
    );
    assert_eq!(
        second["results"][3]["problem"]["errors"][0]["pointer"],
        "/external_id"
    );
    assert_eq!(
        second["results"][4]["problem"]["errors"][0]["pointer"],
        "/external_id"
    );
    assert_eq!(second["results"][0]["id"], id.as_str());

    let third = answer(
        push_to(
            &app,
            &s.sync,
            "departments",
            json!([{"external_id": "D2", "deleted": true}]),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(statuses(&third), ["deleted"]);
    let listed: Value = app
        .get(&format!("/api/v1/departments?district_id={}", s.district))
        .await
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|unit| unit["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["区教育委员会"]);
}

#[tokio::test]
async fn workstations_sync_with_their_convenor_named_by_member_no() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    answer(
        push(
            &app,
            &s.sync,
            "",
            json!([member("XC-001", "王芳"), member("XC-002", "李明")]),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let station = |id: &str, convenor: Value| {
        json!({"external_id": id, "name": format!("工作站{id}"), "kind": "street",
               "convenor_member_no": convenor})
    };
    let result = answer(
        push_to(
            &app,
            &s.sync,
            "workstations",
            json!([
                station("W1", json!("XC-001")),
                station("W2", Value::Null),
                station("W3", json!("XC-404")),
                {"external_id": "W4", "name": "四站", "kind": "street",
                 "convenor_member_id": "01a21867-0000-7000-8000-000000000000"},
            ]),
        )
        .await,
        StatusCode::MULTI_STATUS,
    )
    .await;
    assert_eq!(statuses(&result), ["created", "created", "error", "error"]);
    assert_eq!(
        result["results"][2]["problem"]["errors"][0]["pointer"],
        "/convenor_member_no"
    );
    assert_eq!(
        result["results"][3]["problem"]["errors"][0]["pointer"],
        "/convenor_member_id"
    );
    let w1 = result["results"][0]["id"].as_str().unwrap().to_owned();
    let w2 = result["results"][1]["id"].as_str().unwrap().to_owned();
    let got: Value = app
        .get(&format!("/api/v1/workstations/{w1}"))
        .await
        .json()
        .await
        .unwrap();
    let members: Value = app
        .get(&format!("/api/v1/members?district_id={}", s.district))
        .await
        .json()
        .await
        .unwrap();
    let wang = members["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["member_no"] == "XC-001")
        .unwrap();
    assert_eq!(got["convenor_member_id"], wang["id"]);
    assert_eq!(got["external_id"], "W1");

    // A convenor change is an update; a workstation with activities stays.
    let activity = app
        .post(
            &format!("/api/v1/workstations/{w2}/activities"),
            &json!({"kind": "visit", "title": "走访", "held_on": "2026-03-01"}),
        )
        .await;
    assert_eq!(activity.status(), StatusCode::CREATED);
    let result = answer(
        push_to(
            &app,
            &s.sync,
            "workstations",
            json!([
                station("W1", json!("XC-002")),
                {"external_id": "W2", "deleted": true},
            ]),
        )
        .await,
        StatusCode::MULTI_STATUS,
    )
    .await;
    assert_eq!(statuses(&result), ["updated", "error"]);
    assert_eq!(result["results"][1]["problem"]["status"], 409);
    assert_eq!(
        app.get(&format!("/api/v1/workstations/{w2}"))
            .await
            .status(),
        StatusCode::OK
    );
    let result = answer(
        push_to(
            &app,
            &s.sync,
            "workstations",
            json!([{"external_id": "W1", "deleted": true}]),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(statuses(&result), ["deleted"]);
    assert_eq!(
        app.get(&format!("/api/v1/workstations/{w1}"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn activities_sync_with_their_workstation_and_participants_by_district_keys() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    answer(
        push(
            &app,
            &s.sync,
            "",
            json!([member("XC-001", "王芳"), member("XC-002", "李明")]),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    answer(
        push_to(
            &app,
            &s.sync,
            "workstations",
            json!([{"external_id": "W1", "name": "金融街工作站", "kind": "street"}]),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let activity = |id: &str, station: &str, numbers: Value| {
        json!({"external_id": id, "workstation_external_id": station, "kind": "visit",
               "title": "走访", "held_on": "2026-03-01", "participant_member_nos": numbers,
               "people_reached": 30})
    };
    let batch = json!([
        activity("A1", "W1", json!(["XC-002", "XC-001", "XC-001"])),
        activity("A2", "W9", json!([])),
        activity("A3", "W1", json!(["XC-001", "XC-404"])),
    ]);
    let result = answer(
        push_to(&app, &s.sync, "activities", batch.clone()).await,
        StatusCode::MULTI_STATUS,
    )
    .await;
    assert_eq!(statuses(&result), ["created", "error", "error"]);
    assert_eq!(
        result["results"][1]["problem"]["errors"][0]["pointer"],
        "/workstation_external_id"
    );
    assert_eq!(
        result["results"][2]["problem"]["errors"][0]["pointer"],
        "/participant_member_nos/1"
    );
    let id = result["results"][0]["id"].as_str().unwrap().to_owned();
    let got: Value = app
        .get(&format!("/api/v1/activities/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["participant_ids"].as_array().unwrap().len(), 2);
    assert_eq!(got["people_reached"], 30);
    assert_eq!(got["external_id"], "A1");

    let again = answer(
        push_to(
            &app,
            &s.sync,
            "activities",
            json!([activity("A1", "W1", json!(["XC-001", "XC-002"]))]),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(statuses(&again), ["unchanged"]);
    let gone = answer(
        push_to(
            &app,
            &s.sync,
            "activities",
            json!([{"external_id": "A1", "deleted": true}]),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(statuses(&gone), ["deleted"]);
    assert_eq!(
        app.get(&format!("/api/v1/activities/{id}")).await.status(),
        StatusCode::NOT_FOUND
    );
}

/// Found by an outside attack: three meetings of 6,000 attendees each (18,000 rows, far
/// within the body and record limits) went past the 65,535 parameters one statement may
/// bind, and were answered 503 "unavailable" for ever. Written in parts, they are synced.
#[tokio::test]
async fn a_batch_with_more_attendance_than_one_statement_binds_is_synced() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let numbers: Vec<String> = (0..6000).map(|n| format!("P-{n}")).collect();
    for part in numbers.chunks(1000) {
        let members: Vec<Value> = part.iter().map(|no| member(no, "委员")).collect();
        answer(
            push(&app, &s.sync, "", json!(members)).await,
            StatusCode::OK,
        )
        .await;
    }
    let attendance: Vec<Value> = numbers
        .iter()
        .map(|no| json!({"member_no": no, "status": "present"}))
        .collect();
    let batch: Vec<Value> = (0..3)
        .map(|n| {
            json!({"external_id": format!("BIG-{n}"), "kind": "plenary", "title": "全体会议",
                   "held_on": "2026-03-10", "attendance": attendance})
        })
        .collect();
    let result = answer(
        push_to(&app, &s.sync, "meetings", json!(batch)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(statuses(&result), ["created", "created", "created"]);
    assert_eq!(
        count(&app, "SELECT count(*) FROM meeting_attendance").await,
        18_000
    );
}

#[tokio::test]
async fn meetings_sync_with_their_whole_attendance_by_member_no() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    answer(
        push(
            &app,
            &s.sync,
            "",
            json!([
                member("XC-001", "王芳"),
                member("XC-002", "李明"),
                member("XC-003", "赵丽")
            ]),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let meeting = |id: &str, attendance: Value| {
        json!({"external_id": id, "kind": "standing_committee", "title": "常委会会议",
               "held_on": "2026-03-10", "attendance": attendance})
    };
    let batch = json!([
        meeting(
            "M1",
            json!([
                {"member_no": "XC-002", "status": "present"},
                {"member_no": "XC-001", "status": "excused", "note": "出差"},
            ])
        ),
        meeting(
            "M2",
            json!([
                {"member_no": "XC-404", "status": "present"},
                {"member_no": "XC-001", "status": "late"},
            ])
        ),
        meeting(
            "M3",
            json!([
                {"member_no": "XC-003", "status": "absent"},
                {"member_no": "XC-003", "status": "present"},
            ])
        ),
    ]);
    let result = answer(
        push_to(&app, &s.sync, "meetings", batch).await,
        StatusCode::MULTI_STATUS,
    )
    .await;
    assert_eq!(statuses(&result), ["created", "error", "error"]);
    let pointers = |index: usize| -> Vec<String> {
        result["results"][index]["problem"]["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|error| error["pointer"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(pointers(1), ["/attendance/0/member_no", "/attendance/1"]);
    assert_eq!(pointers(2), ["/attendance/1/member_no"]);
    let id = result["results"][0]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/meetings/{id}");
    let got: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(got["external_id"], "M1");
    assert_eq!(
        got["attendance_counts"],
        json!({"present": 1, "excused": 1, "absent": 0})
    );
    assert_eq!(got["version"], 1);

    // The same attendance in another order changes nothing; a changed one replaces it all.
    let same = json!([meeting(
        "M1",
        json!([
            {"member_no": "XC-001", "status": "excused", "note": "出差"},
            {"member_no": "XC-002", "status": "present"},
        ])
    )]);
    let again = answer(
        push_to(&app, &s.sync, "meetings", same).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(statuses(&again), ["unchanged"]);
    let changed = json!([meeting(
        "M1",
        json!([
            {"member_no": "XC-003", "status": "absent"},
        ])
    )]);
    let updated = answer(
        push_to(&app, &s.sync, "meetings", changed).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(statuses(&updated), ["updated"]);
    let got: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(got["version"], 2);
    assert_eq!(got["attendance"].as_array().unwrap().len(), 1);
    assert_eq!(got["attendance"][0]["status"], "absent");
    let events = count(
        &app,
        &format!(
            "SELECT count(*) FROM audit_events WHERE entity_type = 'meeting' AND entity_id = '{id}'"
        ),
    )
    .await;
    assert_eq!(
        events, 2,
        "created and updated; the unchanged record wrote nothing"
    );

    let gone = answer(
        push_to(
            &app,
            &s.sync,
            "meetings",
            json!([{"external_id": "M1", "deleted": true}]),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(statuses(&gone), ["deleted"]);
    assert_eq!(app.get(&path).await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn draft_proposals_sync_and_submitted_ones_stay_as_they_are() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    answer(
        push(&app, &s.sync, "", json!([member("XC-001", "王芳")])).await,
        StatusCode::OK,
    )
    .await;
    let draft = |id: &str, title: &str| {
        json!({"external_id": id, "kind": "member", "title": title, "body": "内容",
               "category": "economy", "lead_member_no": "XC-001"})
    };
    let result = answer(
        push_to(
            &app,
            &s.sync,
            "proposals",
            json!([
                draft("P1", "关于垃圾分类的提案"),
                draft("P2", "关于停车难的提案"),
                {"external_id": "P3", "kind": "member", "title": "无人", "body": "内容",
                 "category": "economy", "lead_member_no": "XC-404"},
            ]),
        )
        .await,
        StatusCode::MULTI_STATUS,
    )
    .await;
    assert_eq!(statuses(&result), ["created", "created", "error"]);
    assert_eq!(
        result["results"][2]["problem"]["errors"][0]["pointer"],
        "/lead_member_no"
    );
    let p1 = result["results"][0]["id"].as_str().unwrap().to_owned();
    let got: Value = app
        .get(&format!("/api/v1/proposals/{p1}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["status"], "draft");
    assert_eq!(got["external_id"], "P1");

    // Once submitted, a proposal moves by its actions only.
    let submitted = app
        .post(&format!("/api/v1/proposals/{p1}/submit"), &json!({}))
        .await;
    assert_eq!(submitted.status(), StatusCode::OK);
    let result = answer(
        push_to(
            &app,
            &s.sync,
            "proposals",
            json!([
                draft("P1", "改过的标题"),
                {"external_id": "P1", "deleted": true},
                draft("P2", "关于停车难的提案（修改）"),
            ]),
        )
        .await,
        StatusCode::MULTI_STATUS,
    )
    .await;
    assert_eq!(statuses(&result), ["error", "error", "updated"]);
    assert_eq!(result["results"][0]["problem"]["status"], 409);
    let kept: Value = app
        .get(&format!("/api/v1/proposals/{p1}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(kept["title"], "关于垃圾分类的提案");
    assert_eq!(kept["status"], "submitted");
    // The same text again is no change, submitted or not.
    let same = answer(
        push_to(
            &app,
            &s.sync,
            "proposals",
            json!([draft("P1", "关于垃圾分类的提案")]),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(statuses(&same), ["unchanged"]);
    let gone = answer(
        push_to(
            &app,
            &s.sync,
            "proposals",
            json!([{"external_id": "P2", "deleted": true}]),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(statuses(&gone), ["deleted"]);
}

#[tokio::test]
async fn a_name_held_by_another_record_refuses_only_its_record() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let made = app
        .post(
            "/api/v1/departments",
            &json!({"district_id": s.district, "name": "区教委", "kind": "government"}),
        )
        .await;
    assert_eq!(made.status(), StatusCode::CREATED);
    let unit =
        |id: &str, name: &str| json!({"external_id": id, "name": name, "kind": "government"});
    let result = answer(
        push_to(
            &app,
            &s.sync,
            "departments",
            json!([
                unit("D1", "区教委"),
                unit("D2", "区财政局"),
                unit("D3", "区财政局"),
                unit("D4", "区民政局"),
            ]),
        )
        .await,
        StatusCode::MULTI_STATUS,
    )
    .await;
    assert_eq!(statuses(&result), ["error", "created", "error", "created"]);
    for index in [0, 2] {
        let problem = &result["results"][index]["problem"];
        assert_eq!(problem["status"], 409);
        assert_eq!(problem["errors"][0]["pointer"], "/name");
    }
    // Renaming a synced record to its own name is no clash.
    let again = answer(
        push_to(
            &app,
            &s.sync,
            "departments",
            json!([unit("D2", "区财政局")]),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(statuses(&again), ["unchanged"]);
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM departments WHERE deleted_at IS NULL"
        )
        .await,
        3
    );
}

#[tokio::test]
async fn a_key_created_by_another_writer_meanwhile_is_updated_in_place() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    // Another writer inserts XC-001 and has not committed when the batch reads.
    let mut other = app.db().await;
    let open = other.transaction().await.unwrap();
    let row = open
        .query_one(
            "INSERT INTO members (id, district_id, member_no, name, sector, party, term) \
             VALUES (gen_random_uuid(), $1::text::uuid, 'XC-001', '王芳', 'economy', 'cpc', 16) \
             RETURNING id::text",
            &[&s.district],
        )
        .await
        .unwrap();
    let id: String = row.get(0);
    let batch = push(&app, &s.sync, "", json!([member("XC-001", "王芳芳")]));
    let commit = async {
        // The batch waits on the uncommitted key; let it get there, then commit.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        open.commit().await.unwrap();
    };
    let (response, ()) = tokio::join!(batch, commit);
    let result = answer(response, StatusCode::OK).await;
    assert_eq!(statuses(&result), ["updated"]);
    assert_eq!(result["results"][0]["id"], id.as_str());
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM members WHERE deleted_at IS NULL"
        )
        .await,
        1
    );
    let got: Value = app
        .get(&format!("/api/v1/members/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["name"], "王芳芳");
}

/// Found by schema fuzzing: a record that is not even an object is a malformed batch; it
/// is refused whole (422 naming each such record) and nothing is written, while a record
/// with bad fields is refused alone.
#[tokio::test]
async fn a_batch_with_records_that_are_not_objects_is_refused_whole() {
    let app = spawn_app().await;
    let setup = setup(&app).await;
    let records = json!([member("A-1", "甲"), false, member("A-2", "乙"), [1]]);
    let problem = answer(
        push(&app, &setup.sync, "", records).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let pointers: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|error| error["pointer"].as_str().unwrap())
        .collect();
    assert_eq!(pointers, ["/records/1", "/records/3"]);
    assert_eq!(count(&app, "SELECT count(*) FROM members").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_batches_keep_each_batchs_events_together_on_the_chain() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let batches = (0..6).map(|batch| {
        let records: Vec<Value> = (0..5)
            .map(|index| member(&format!("B{batch}-{index}"), "委员"))
            .collect();
        let app = &app;
        let token = s.sync.clone();
        async move { push(app, &token, "", json!(records)).await.status() }
    });
    for status in futures_util::future::join_all(batches).await {
        assert_eq!(status, StatusCode::OK);
    }
    let page: Value = app
        .get("/api/v1/audit-events?entity_type=member&limit=200")
        .await
        .json()
        .await
        .unwrap();
    let events = page["items"].as_array().unwrap();
    assert_eq!(events.len(), 30);
    for batch in events.chunks(5) {
        let request = &batch[0]["request_id"];
        let first = batch[0]["seq"].as_i64().unwrap();
        for (offset, event) in batch.iter().enumerate() {
            assert_eq!(&event["request_id"], request, "one batch's events together");
            assert_eq!(event["seq"].as_i64().unwrap(), first + offset as i64);
        }
        let numbers: Vec<&str> = batch
            .iter()
            .map(|event| event["after"]["member_no"].as_str().unwrap())
            .collect();
        let prefix = numbers[0].split('-').next().unwrap();
        assert_eq!(
            numbers,
            (0..5)
                .map(|index| format!("{prefix}-{index}"))
                .collect::<Vec<_>>(),
            "in the batch's order"
        );
    }
    let verification: Value = app
        .get("/api/v1/audit-events/verify")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(verification["ok"], true, "{verification}");
}

/// Pairs of batches that write the same new keys in opposite orders, let loose at the same
/// moment (they once deadlocked, and one of each pair was a 500): both are answered 200
/// (rows are locked and written in key order; a write that still meets another is run
/// again), and every key is one member.
#[tokio::test]
async fn batches_writing_the_same_keys_in_opposite_orders_all_succeed() {
    let app = spawn_app().await;
    let setup = setup(&app).await;
    for round in 0..3 {
        let forward: Vec<Value> = (0..40)
            .map(|n| member(&format!("r{round}-k{n:03}"), &format!("委员{round}-{n}")))
            .collect();
        let reversed: Vec<Value> = forward.iter().rev().cloned().collect();
        // Both batches read and lock what they need, then wait at their insert until the
        // table is let go: their inserts run side by side.
        let mut holder = app.db().await;
        let held = holder.transaction().await.unwrap();
        held.batch_execute("LOCK TABLE members IN SHARE MODE")
            .await
            .unwrap();
        let pair = futures_util::future::join(
            push(&app, &setup.sync, "", json!(forward)),
            push(&app, &setup.sync, "", json!(reversed)),
        );
        let release = async {
            let watcher = app.db().await;
            crate::helpers::wait_until_count(
                &watcher,
                "SELECT count(*) FROM pg_locks WHERE relation = 'members'::regclass \
                         AND NOT granted",
                2,
            )
            .await;
            held.commit().await.unwrap();
        };
        let ((first, second), ()) = tokio::join!(pair, release);
        for response in [first, second] {
            let result = answer(response, StatusCode::OK).await;
            assert!(
                statuses(&result)
                    .iter()
                    .all(|status| *status == "created" || *status == "updated"),
                "{result}"
            );
        }
    }
    let members = count(
        &app,
        &format!(
            "SELECT count(*) FROM members WHERE district_id = '{}' AND deleted_at IS NULL",
            setup.district
        ),
    )
    .await;
    assert_eq!(members, 3 * 40);
}

/// A batch chosen as a deadlock's victim (another session holds one of its rows and then
/// asks for one the batch holds) is run again by the service, and succeeds once the other
/// session ends: the client sees a 200, not the deadlock.
#[tokio::test]
async fn a_batch_chosen_as_a_deadlocks_victim_is_run_again() {
    let app = spawn_app().await;
    let setup = setup(&app).await;
    let both = json!([member("k000", "甲"), member("k001", "乙")]);
    answer(push(&app, &setup.sync, "", both).await, StatusCode::OK).await;

    let mut holder = app.db().await;
    let held = holder.transaction().await.unwrap();
    // The batch's side finds the deadlock (its wait is older and its timeout shorter).
    held.batch_execute(
        "SET LOCAL deadlock_timeout = '10s'; \
         SELECT 1 FROM members WHERE member_no = 'k001' FOR UPDATE",
    )
    .await
    .unwrap();
    let renamed = json!([member("k000", "甲二"), member("k001", "乙二")]);
    let batch = push(&app, &setup.sync, "", renamed);
    let cycle = async {
        let watcher = app.db().await;
        crate::helpers::wait_until_count(
            &watcher,
            "SELECT count(*) FROM pg_stat_activity \
                     WHERE wait_event_type = 'Lock' AND query LIKE '%FOR UPDATE%'",
            1,
        )
        .await;
        // Now the batch holds k000 and waits for k001; asking for k000 closes the cycle.
        held.batch_execute("SELECT 1 FROM members WHERE member_no = 'k000' FOR UPDATE")
            .await
            .expect("the other session is not the victim");
        held.commit().await.unwrap();
    };
    let (response, ()) = tokio::join!(batch, cycle);
    let result = answer(response, StatusCode::OK).await;
    assert_eq!(statuses(&result), ["updated", "updated"]);
    assert!(
        app.metric("cppcc_db_errors_total{kind=\"contention\"}")
            .await
            >= 1.0,
        "the deadlock was met and counted"
    );
}
