//! The committee's own work records: meetings and their attendance, reports to the
//! district party committee, yearly key tasks with progress notes.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

async fn body_of(response: reqwest::Response, status: StatusCode) -> Value {
    let got = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(got, status, "{body}");
    body
}

fn id(value: &Value) -> String {
    value["id"].as_str().expect("an id").to_owned()
}

fn pointers(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .expect("field errors")
        .iter()
        .map(|error| error["pointer"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn meeting(app: &TestApp, district: &str, kind: &str, held_on: &str) -> Value {
    body_of(
        app.post(
            "/api/v1/meetings",
            &json!({"district_id": district, "kind": kind, "title": "城市副中心讲堂", "held_on": held_on, "place": "区政协三层会议室"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await
}

async fn attend(
    app: &TestApp,
    meeting: &str,
    member: &str,
    body: Value,
    if_match: Option<i64>,
) -> reqwest::Response {
    let mut request = app
        .client
        .put(app.url(&format!("/api/v1/meetings/{meeting}/attendance/{member}")))
        .json(&body);
    if let Some(version) = if_match {
        request = request.header("If-Match", format!("\"{version}\""));
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn attendance_is_recorded_replaced_and_removed_for_members_of_the_meetings_district() {
    let app = spawn_app().await;
    let tongzhou = id(&app.district("tongzhou").await);
    let huairou = id(&app.district("huairou").await);
    let wang = id(&app.member(&tongzhou, "1", "王芳").await);
    let li = id(&app.member(&tongzhou, "2", "李明").await);
    let outsider = id(&app.member(&huairou, "1", "赵丽").await);
    let created = meeting(&app, &tongzhou, "lecture", "2026-03-18").await;
    let meeting_id = id(&created);
    assert_eq!(created["version"], 1);
    assert_eq!(created["attendance"], json!([]));

    let response = attend(
        &app,
        &meeting_id,
        &wang,
        json!({"status": "present"}),
        Some(1),
    )
    .await;
    assert_eq!(
        response.headers()["etag"],
        "\"2\"",
        "the meeting's new version, for the next If-Match"
    );
    let recorded = body_of(response, StatusCode::CREATED).await;
    assert_eq!(recorded["member_id"], wang.as_str());
    assert_eq!(recorded["status"], "present");
    let excused = body_of(
        attend(
            &app,
            &meeting_id,
            &li,
            json!({"status": "excused", "note": "出差"}),
            None,
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    // Each is answered as it was written, its time included.
    let listed = body_of(
        app.get(&format!("/api/v1/meetings/{meeting_id}/attendance"))
            .await,
        StatusCode::OK,
    )
    .await;
    for answered in [&recorded, &excused] {
        let stored = listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|item| item["member_id"] == answered["member_id"])
            .unwrap();
        assert_eq!(stored, answered);
    }
    // The same record again changes nothing.
    body_of(
        attend(&app, &meeting_id, &wang, json!({"status": "present"}), None).await,
        StatusCode::OK,
    )
    .await;
    let path = format!("/api/v1/meetings/{meeting_id}");
    let current = body_of(app.get(&path).await, StatusCode::OK).await;
    assert_eq!(
        current["version"], 3,
        "two changes of attendance, one repeat"
    );
    assert_eq!(
        current["attendance_counts"],
        json!({"present": 1, "excused": 1, "absent": 0})
    );

    // A member of another district: 422 for an administrator, 404 for a district key.
    let refused = body_of(
        attend(
            &app,
            &meeting_id,
            &outsider,
            json!({"status": "present"}),
            None,
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(pointers(&refused), ["/member_id"]);
    let clerk = app.key("clerk", Some(&tongzhou)).await;
    let response = app
        .request_as(
            Some(&clerk),
            Method::PUT,
            &format!("{path}/attendance/{outsider}"),
            Some(&json!({"status": "present"})),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    // An unknown status, and a stale If-Match.
    let bad = attend(&app, &meeting_id, &wang, json!({"status": "late"}), None).await;
    assert!(bad.status().is_client_error());
    let stale = attend(
        &app,
        &meeting_id,
        &wang,
        json!({"status": "absent"}),
        Some(1),
    )
    .await;
    assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED);
    let unchanged = body_of(app.get(&path).await, StatusCode::OK).await;
    assert_eq!(unchanged["version"], 3, "refused changes change nothing");

    // Replaced, then removed.
    let replaced = body_of(
        attend(
            &app,
            &meeting_id,
            &wang,
            json!({"status": "absent"}),
            Some(3),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(replaced["status"], "absent");
    let removed = app.delete(&format!("{path}/attendance/{li}")).await;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    assert_eq!(removed.headers()["etag"], "\"5\"");
    assert_eq!(
        app.delete(&format!("{path}/attendance/{li}"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let listed = body_of(app.get(&format!("{path}/attendance")).await, StatusCode::OK).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert_eq!(listed["items"][0]["status"], "absent");

    // Each change is in the meeting's history, before and after.
    let history = body_of(app.get(&format!("{path}/history")).await, StatusCode::OK).await;
    let actions: Vec<&str> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "create",
            "set_attendance",
            "set_attendance",
            "set_attendance",
            "remove_attendance"
        ]
    );
    let replacement = &history["items"][3];
    assert_eq!(replacement["before"]["status"], "present");
    assert_eq!(replacement["after"]["status"], "absent");
    assert_eq!(history["items"][4]["after"], Value::Null);

    // Meetings are filtered by kind, member and date.
    meeting(&app, &tongzhou, "party_group", "2026-04-02").await;
    let lectures = body_of(
        app.get(&format!(
            "/api/v1/meetings?district_id={tongzhou}&kind=lecture"
        ))
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(lectures["items"].as_array().unwrap().len(), 1);
    let of_wang = body_of(
        app.get(&format!("/api/v1/meetings?member_id={wang}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(of_wang["items"][0]["id"], meeting_id.as_str());
    assert_eq!(of_wang["items"].as_array().unwrap().len(), 1);
    let april = body_of(
        app.get("/api/v1/meetings?held_from=2026-04-01&held_to=2026-04-30")
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(april["items"].as_array().unwrap().len(), 1);
    assert_eq!(april["items"][0]["kind"], "party_group");
}

#[tokio::test]
async fn a_report_carries_a_consultation_or_evaluation_of_its_own_district_and_kind() {
    let app = spawn_app().await;
    let huairou = id(&app.district("huairou").await);
    let yanqing = id(&app.district("yanqing").await);
    let topic = |district: String| {
        let app = &app;
        async move {
            id(&body_of(
                app.post(
                    "/api/v1/consultations",
                    &json!({"district_id": district, "year": 2026, "title": "生态涵养区建设"}),
                )
                .await,
                StatusCode::CREATED,
            )
            .await)
        }
    };
    let own = topic(huairou.clone()).await;
    let foreign = topic(yanqing.clone()).await;

    let report = body_of(
        app.post(
            "/api/v1/reports",
            &json!({
                "district_id": huairou,
                "kind": "consultation_report",
                "reported_on": "2026-06-30",
                "subject": "关于生态涵养区建设的协商报告",
                "consultation_id": own,
            }),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(report["consultation_id"], own.as_str());
    assert_eq!(report["evaluation_id"], Value::Null);

    // Another district's consultation, and a link a report of its kind cannot carry:
    // both reported at once, nothing stored.
    let refused = body_of(
        app.post(
            "/api/v1/reports",
            &json!({
                "district_id": huairou,
                "kind": "work_report",
                "reported_on": "2026-07-01",
                "subject": "工作报告",
                "consultation_id": foreign,
                "evaluation_id": uuid::Uuid::now_v7(),
            }),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let mut named = pointers(&refused);
    named.sort();
    named.dedup();
    assert_eq!(named, ["/consultation_id", "/evaluation_id"]);
    let wrong_district = body_of(
        app.post(
            "/api/v1/reports",
            &json!({
                "district_id": huairou,
                "kind": "consultation_report",
                "reported_on": "2026-07-01",
                "subject": "协商报告",
                "consultation_id": foreign,
            }),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(pointers(&wrong_district), ["/consultation_id"]);

    // Changing the kind away from the link is refused; clearing the link with it works.
    let path = format!("/api/v1/reports/{}", id(&report));
    let response = app.patch(&path, &json!({"kind": "other"})).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let changed = body_of(
        app.patch(&path, &json!({"kind": "other", "consultation_id": null}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(changed["kind"], "other");
    assert_eq!(changed["version"], 2);

    let listed = body_of(
        app.get(&format!("/api/v1/reports?district_id={huairou}&kind=other"))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    for (q, found) in [("生态涵养", 1), ("财政预算", 0)] {
        let searched = body_of(
            app.get(&format!("/api/v1/reports?q={q}")).await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(searched["items"].as_array().unwrap().len(), found, "{q}");
    }
    let none = body_of(
        app.get(&format!("/api/v1/reports?consultation_id={own}"))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(none["items"], json!([]));
    let db = app.db().await;
    let stored = db
        .query_one("SELECT count(*) FROM reports", &[])
        .await
        .unwrap()
        .get::<_, i64>(0);
    assert_eq!(stored, 1);
}

#[tokio::test]
async fn key_tasks_are_unique_per_year_and_gather_progress_notes() {
    let app = spawn_app().await;
    let tongzhou = id(&app.district("tongzhou").await);
    let task = body_of(
        app.post(
            "/api/v1/key-tasks",
            &json!({"district_id": tongzhou, "year": 2026, "title": "画好最大同心圆", "responsible_body": "办公室"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(task["status"], "planned");
    assert_eq!(task["notes"], json!([]));
    let conflict = body_of(
        app.post(
            "/api/v1/key-tasks",
            &json!({"district_id": tongzhou, "year": 2026, "title": "画好最大同心圆", "responsible_body": "研究室"}),
        )
        .await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(pointers(&conflict), ["/title"]);
    body_of(
        app.post(
            "/api/v1/key-tasks",
            &json!({"district_id": tongzhou, "year": 2027, "title": "画好最大同心圆", "responsible_body": "办公室"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;

    let path = format!("/api/v1/key-tasks/{}", id(&task));
    let noted = body_of(
        app.post(
            &format!("{path}/notes"),
            &json!({"noted_on": "2026-05-01", "text": "完成方案制定"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(noted["version"], 2);
    assert_eq!(noted["notes"][0]["text"], "完成方案制定");
    let blank = body_of(
        app.post(&format!("{path}/notes"), &json!({"text": "  "}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(pointers(&blank), ["/text"]);
    body_of(
        app.post(
            &format!("{path}/notes"),
            &json!({"noted_on": "2026-03-01", "text": "召开动员会"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let done = body_of(
        app.patch(&path, &json!({"status": "done"})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(done["status"], "done");
    let notes: Vec<&str> = done["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|note| note["text"].as_str().unwrap())
        .collect();
    assert_eq!(notes, ["召开动员会", "完成方案制定"], "by the day noted");

    let this_year = body_of(
        app.get(&format!(
            "/api/v1/key-tasks?district_id={tongzhou}&year=2026&status=done"
        ))
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(this_year["items"].as_array().unwrap().len(), 1);
    let found = body_of(
        app.get("/api/v1/key-tasks?q=同心圆&sort=name").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(found["items"].as_array().unwrap().len(), 2);
    let history = body_of(app.get(&format!("{path}/history")).await, StatusCode::OK).await;
    let actions: Vec<&str> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["create", "add_note", "add_note", "update"]);
}

#[tokio::test]
async fn the_change_feed_carries_meetings_reports_and_key_tasks() {
    let app = spawn_app().await;
    let district = id(&app.district("huairou").await);
    let member = id(&app.member(&district, "1", "王芳").await);
    let meeting_id = id(&meeting(&app, &district, "party_group", "2026-02-10").await);
    body_of(
        attend(
            &app,
            &meeting_id,
            &member,
            json!({"status": "present"}),
            None,
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let report = id(&body_of(
        app.post(
            "/api/v1/reports",
            &json!({"district_id": district, "kind": "work_report", "reported_on": "2026-01-20", "subject": "年度工作报告"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await);
    let task = id(&body_of(
        app.post(
            "/api/v1/key-tasks",
            &json!({"district_id": district, "year": 2026, "title": "联系群众", "responsible_body": "办公室"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await);
    assert_eq!(
        app.delete(&format!("/api/v1/reports/{report}"))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let mut seen: Vec<Value> = Vec::new();
    for _ in 0..50 {
        let page = body_of(
            app.get("/api/v1/changes?collections=meetings,reports,key_tasks")
                .await,
            StatusCode::OK,
        )
        .await;
        seen = page["items"].as_array().unwrap().clone();
        if seen.len() == 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(40)).await;
    }
    let entry = |wanted: &str| {
        seen.iter()
            .find(|entry| entry["id"] == wanted)
            .cloned()
            .unwrap_or_else(|| panic!("{wanted} is in the feed: {seen:?}"))
    };
    let meeting_entry = entry(&meeting_id);
    assert_eq!(meeting_entry["collection"], "meetings");
    assert_eq!(
        meeting_entry["record"]["attendance"][0]["member_id"],
        member.as_str()
    );
    assert_eq!(entry(&report)["op"], "delete");
    assert_eq!(entry(&task)["record"]["title"], "联系群众");
}
