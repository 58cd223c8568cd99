//! Rulings: leaders' instructions on consultation topics and proposals, the departments'
//! measures and the committee's feedback.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

struct Setup {
    district: String,
    department: String,
    other_department: String,
    consultation: String,
    proposal: String,
}

async fn id_of(response: reqwest::Response) -> String {
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn setup(app: &TestApp, code: &str) -> Setup {
    let district = app.district(code).await["id"].as_str().unwrap().to_owned();
    let member = app.member(&district, "1", "王芳").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let department = id_of(
        app.post(
            "/api/v1/departments",
            &json!({"district_id": district, "name": "区发改委", "kind": "government"}),
        )
        .await,
    )
    .await;
    let other_department = id_of(
        app.post(
            "/api/v1/departments",
            &json!({"district_id": district, "name": "区财政局", "kind": "government"}),
        )
        .await,
    )
    .await;
    let consultation = id_of(
        app.post(
            "/api/v1/consultations",
            &json!({"district_id": district, "year": 2026, "title": "数字经济"}),
        )
        .await,
    )
    .await;
    let proposal = id_of(
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
    // Filed: a leader rules on a proposal from then on.
    for action in ["submit", "file"] {
        let (status, body) = app
            .act(
                &format!("/api/v1/proposals/{proposal}/{action}"),
                &json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{action}: {body}");
    }
    Setup {
        district,
        department,
        other_department,
        consultation,
        proposal,
    }
}

#[tokio::test]
async fn a_ruling_on_a_consultation_goes_from_issued_to_closed() {
    let app = spawn_app().await;
    let s = setup(&app, "xicheng").await;
    let response = app
        .post("/api/v1/rulings", &json!({
            "leader_name": "李四", "leader_title": "party_secretary", "subject_type": "consultation",
            "subject_id": s.consultation, "content": "报告很好，请区发改委牵头落实。",
            "department_ids": [s.department], "issued_on": "2026-06-01",
        }))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let ruling: Value = response.json().await.unwrap();
    assert_eq!(ruling["status"], "issued");
    assert_eq!(ruling["allowed_actions"], json!(["measure"]));
    let path = format!("/api/v1/rulings/{}", ruling["id"].as_str().unwrap());

    let response = app
        .post(&format!("{path}/feedback"), &json!({"text": "已落实"}))
        .await;
    assert_eq!(
        response.status(),
        StatusCode::CONFLICT,
        "feedback needs a measure first"
    );
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["allowed_actions"], json!(["measure"]));
    let response = app
        .post(
            &format!("{path}/measures"),
            &json!({"department_id": s.other_department, "text": "研究"}),
        )
        .await;
    assert_eq!(
        response.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "a department not asked to act"
    );
    let (_, handled) = app
        .act(&format!("{path}/measures"), &json!({"department_id": s.department, "text": "制定专项方案", "taken_on": "2026-06-10", "status": "in_progress"}))
        .await;
    assert_eq!(handled["status"], "in_handling");
    assert_eq!(handled["measures"][0]["text"], "制定专项方案");
    let (_, handled) = app
        .act(
            &format!("{path}/measures"),
            &json!({"department_id": s.department, "text": "完成试点", "status": "done"}),
        )
        .await;
    assert_eq!(handled["measures"].as_array().unwrap().len(), 2);
    let (_, fed_back) = app
        .act(
            &format!("{path}/feedback"),
            &json!({"text": "已向区政协反馈"}),
        )
        .await;
    assert_eq!(fed_back["status"], "fed_back");
    let response = app
        .post(
            &format!("{path}/measures"),
            &json!({"department_id": s.department, "text": "补充"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let (_, closed) = app.act(&format!("{path}/close"), &json!({})).await;
    assert_eq!(closed["status"], "closed");

    let history: Value = app
        .get(&format!("{path}/history"))
        .await
        .json()
        .await
        .unwrap();
    let steps: Vec<(&str, &str, &str)> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["action"].as_str().unwrap(),
                s["from_status"].as_str().unwrap(),
                s["to_status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("measure", "issued", "in_handling"),
            ("measure", "in_handling", "in_handling"),
            ("feedback", "in_handling", "fed_back"),
            ("close", "fed_back", "closed"),
        ]
    );
    let on_topic: Value = app
        .get(&format!("/api/v1/consultations/{}/rulings", s.consultation))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(on_topic["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        on_topic["items"][0]["measures"].as_array().unwrap().len(),
        2
    );
}

#[tokio::test]
async fn a_ruling_on_a_proposal_has_a_stage_and_its_subject_lists_it() {
    let app = spawn_app().await;
    let s = setup(&app, "xicheng").await;
    let response = app
        .post("/api/v1/rulings", &json!({
            "leader_name": "王五", "leader_title": "committee_chair", "subject_type": "proposal",
            "subject_id": s.proposal, "stage": "before", "content": "办前阅批", "department_ids": [s.department],
        }))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let response = app
        .post("/api/v1/rulings", &json!({
            "leader_name": "王五", "leader_title": "committee_chair", "subject_type": "consultation",
            "subject_id": s.consultation, "stage": "before", "content": "x", "department_ids": [s.department],
        }))
        .await;
    assert_eq!(
        response.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "stages are for proposals"
    );
    let on_proposal: Value = app
        .get(&format!("/api/v1/proposals/{}/rulings", s.proposal))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(on_proposal["items"].as_array().unwrap().len(), 1);
    assert_eq!(on_proposal["items"][0]["stage"], "before");
    assert_eq!(on_proposal["items"][0]["subject_id"], s.proposal);
    let list: Value = app
        .get(&format!("/api/v1/rulings?department_id={}", s.department))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
}

/// POSTs a ruling on `proposal` at `stage` (none: without one), naming `departments`.
async fn rule_on(
    app: &TestApp,
    proposal: &str,
    stage: Option<&str>,
    departments: Value,
) -> (StatusCode, Value) {
    let mut body = json!({
        "leader_name": "王五", "leader_title": "party_secretary", "subject_type": "proposal",
        "subject_id": proposal, "content": "阅", "department_ids": departments,
    });
    if let Some(stage) = stage {
        body["stage"] = json!(stage);
    }
    let response = app.post("/api/v1/rulings", &body).await;
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_rulings_stage_must_fit_where_the_proposal_stands() {
    let app = spawn_app().await;
    let s = setup(&app, "xicheng").await;
    let departments = json!([s.department]);
    // A stage is required on a proposal.
    let (status, problem) = rule_on(&app, &s.proposal, None, departments.clone()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["errors"][0]["pointer"], "/stage");
    assert_eq!(problem["errors"][0]["code"], "rule");
    // Filed: before only.
    let (status, problem) = rule_on(&app, &s.proposal, Some("during"), departments.clone()).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .ends_with("stages allowed now: before"),
        "{problem}"
    );
    assert_eq!(problem["errors"][0]["pointer"], "/stage");
    let (status, problem) = rule_on(&app, &s.proposal, Some("after"), departments.clone()).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    let (status, before) = rule_on(&app, &s.proposal, Some("before"), departments.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{before}");
    // Assigned: before and during; a ruling's stage changed to one not allowed is refused.
    let (status, body) = app
        .act(
            &format!("/api/v1/proposals/{}/assign", s.proposal),
            &json!({"lead_unit_id": s.department}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, during) = rule_on(&app, &s.proposal, Some("during"), departments.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{during}");
    let (status, problem) = rule_on(&app, &s.proposal, Some("after"), departments.clone()).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .ends_with("stages allowed now: before, during"),
        "{problem}"
    );
    let path = format!("/api/v1/rulings/{}", before["id"].as_str().unwrap());
    let response = app.patch(&path, &json!({"stage": "after"})).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let response = app.patch(&path, &json!({"stage": "during"})).await;
    assert_eq!(response.status(), StatusCode::OK);
    // Only an after sign-off may name no department, and only once replied.
    let (status, problem) = rule_on(&app, &s.proposal, Some("during"), json!([])).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["errors"][0]["pointer"], "/department_ids");
    let (status, body) = app
        .act(
            &format!("/api/v1/proposals/{}/reply", s.proposal),
            &json!({"text": "已办理。", "document_no": "西政〔2026〕1号", "result": "A"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, signed) = rule_on(&app, &s.proposal, Some("after"), json!([])).await;
    assert_eq!(status, StatusCode::CREATED, "{signed}");
    let (status, problem) = rule_on(&app, &s.proposal, Some("before"), departments.clone()).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    // The list filters by subject and stage.
    let listed = |query: &'static str| {
        let app = &app;
        async move {
            let page: Value = app
                .get(&format!("/api/v1/rulings?{query}"))
                .await
                .json()
                .await
                .unwrap();
            let mut ids: Vec<String> = page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|ruling| ruling["id"].as_str().unwrap().to_owned())
                .collect();
            ids.sort();
            ids
        }
    };
    let id = |ruling: &Value| ruling["id"].as_str().unwrap().to_owned();
    let mut during_now = vec![id(&before), id(&during)];
    during_now.sort();
    assert_eq!(
        listed("subject_type=proposal&stage=during").await,
        during_now
    );
    assert_eq!(listed("stage=after").await, [id(&signed)]);
    assert!(listed("subject_type=consultation").await.is_empty());
}

#[tokio::test]
async fn another_districts_subject_or_department_is_refused() {
    let app = spawn_app().await;
    let own = setup(&app, "xicheng").await;
    let other = setup(&app, "haidian").await;
    let response = app
        .post(
            "/api/v1/rulings",
            &json!({
                "leader_name": "李四", "leader_title": "deputy", "subject_type": "proposal",
                "subject_id": own.proposal, "stage": "before", "content": "x",
                "department_ids": [other.department],
            }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["errors"][0]["pointer"], "/department_ids/0");
    let clerk = app.key("clerk", Some(&own.district)).await;
    let response = app
        .request_as(Some(&clerk), Method::POST, "/api/v1/rulings", Some(&json!({
            "leader_name": "李四", "leader_title": "deputy", "subject_type": "consultation",
            "subject_id": other.consultation, "content": "x", "department_ids": [own.department],
        })))
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let problem: Value = response.json().await.unwrap();
    let pointers: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pointer"].as_str().unwrap())
        .collect();
    assert_eq!(pointers, ["/subject_id"]);
    let response = app
        .request_as(
            Some(&clerk),
            Method::GET,
            &format!("/api/v1/proposals/{}/rulings", other.proposal),
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_ruling_is_corrected_while_issued_and_its_measures_while_in_handling() {
    let app = spawn_app().await;
    let s = setup(&app, "xicheng").await;
    let other = setup(&app, "haidian").await;
    let created: Value = app
        .post(
            "/api/v1/rulings",
            &json!({
                "leader_name": "张三", "leader_title": "district_mayor",
                "subject_type": "proposal", "subject_id": s.proposal, "stage": "before",
                "content": "请研究", "department_ids": [s.department],
            }),
        )
        .await
        .json()
        .await
        .unwrap();
    let path = format!("/api/v1/rulings/{}", created["id"].as_str().unwrap());

    // Corrected while issued: every bad field named at once, nothing changed.
    let response = app
        .patch(
            &path,
            &json!({"leader_name": "", "department_ids": [other.department]}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let problem: Value = response.json().await.unwrap();
    let pointers: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|error| error["pointer"].as_str().unwrap())
        .collect();
    assert_eq!(pointers, ["/leader_name", "/department_ids/0"]);
    // A ruling on a proposal keeps a stage.
    let response = app.patch(&path, &json!({"stage": null})).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let response = app
        .patch(
            &path,
            &json!({"content": "请认真研究，抓好落实",
                "department_ids": [s.department, s.other_department]}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let corrected: Value = response.json().await.unwrap();
    assert_eq!(corrected["content"], "请认真研究，抓好落实");
    assert_eq!(corrected["stage"], "before");
    assert_eq!(corrected["department_ids"].as_array().unwrap().len(), 2);
    assert_eq!(corrected["version"], 2);

    // Two measures move it into handling; the ruling is then fixed.
    for text in ["制定方案", "召开专题会"] {
        let response = app
            .post(
                &format!("{path}/measures"),
                &json!({"department_id": s.department, "text": text}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    let response = app.patch(&path, &json!({"content": "改"})).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert_eq!(app.delete(&path).await.status(), StatusCode::CONFLICT);

    let ruling: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(ruling["status"], "in_handling");
    let first = ruling["measures"][0]["id"].as_str().unwrap().to_owned();
    let second = ruling["measures"][1]["id"].as_str().unwrap().to_owned();

    // A measure changes under the ruling's If-Match.
    let stale = app
        .anonymous
        .patch(app.url(&format!("{path}/measures/{first}")))
        .bearer_auth(&app.admin_token)
        .header("If-Match", "\"1\"")
        .header("Content-Type", "application/merge-patch+json")
        .body(json!({"status": "done"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED);
    let response = app
        .patch(
            &format!("{path}/measures/{first}"),
            &json!({"status": "done", "taken_on": "2026-06-01"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let changed: Value = response.json().await.unwrap();
    assert_eq!(changed["measures"][0]["status"], "done");
    assert_eq!(changed["measures"][0]["taken_on"], "2026-06-01");
    assert!(changed["version"].as_i64().unwrap() > ruling["version"].as_i64().unwrap());

    // A measure that is not the ruling's own is not found.
    let response = app
        .delete(&format!(
            "{path}/measures/01a21867-0000-7000-8000-000000000000"
        ))
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    // One is deleted; the last one stays.
    assert_eq!(
        app.delete(&format!("{path}/measures/{second}"))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let response = app.delete(&format!("{path}/measures/{first}")).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let ruling: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(ruling["measures"].as_array().unwrap().len(), 1);

    // Every change is in the trail.
    let trail: Value = app
        .get(&format!(
            "/api/v1/audit-events?entity_type=ruling&entity_id={}",
            created["id"].as_str().unwrap()
        ))
        .await
        .json()
        .await
        .unwrap();
    let actions: Vec<&str> = trail["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "create",
            "update",
            "measure",
            "measure",
            "update_measure",
            "delete_measure"
        ]
    );

    // An issued ruling recorded in error is deleted.
    let mistaken: Value = app
        .post(
            "/api/v1/rulings",
            &json!({
                "leader_name": "张三", "leader_title": "deputy", "subject_type": "consultation",
                "subject_id": s.consultation, "content": "误录", "department_ids": [s.department],
            }),
        )
        .await
        .json()
        .await
        .unwrap();
    let mistaken = format!("/api/v1/rulings/{}", mistaken["id"].as_str().unwrap());
    assert_eq!(app.delete(&mistaken).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.get(&mistaken).await.status(), StatusCode::NOT_FOUND);
}
