//! Democratic evaluations: phases, evaluators and training, visits, ratings and their
//! summary, rectification items, the conclusion's gate and result, and evaluations as
//! subjects of rulings.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

struct Setup {
    district: String,
    department: String,
    members: Vec<String>,
    evaluation: String,
}

impl Setup {
    fn at(&self, path: &str) -> String {
        format!("/api/v1/evaluations/{}/{path}", self.evaluation)
    }
}

async fn body_of(response: reqwest::Response, status: StatusCode) -> Value {
    let got = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(got, status, "{body}");
    body
}

async fn setup(app: &TestApp, code: &str) -> Setup {
    let district = app.district(code).await["id"].as_str().unwrap().to_owned();
    let mut members = Vec::new();
    for (number, name) in [("1", "王芳"), ("2", "李明"), ("3", "赵丽")] {
        members.push(
            app.member(&district, number, name).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let department = body_of(
        app.post(
            "/api/v1/departments",
            &json!({"district_id": district, "name": "区市场监管局", "kind": "government"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let evaluation = body_of(
        app.post(
            "/api/v1/evaluations",
            &json!({"district_id": district, "department_id": department, "year": 2026}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    Setup {
        district,
        department,
        members,
        evaluation,
    }
}

/// Takes the step `action` (answered `status`); answers the body.
async fn step(app: &TestApp, s: &Setup, action: &str, body: Value, status: StatusCode) -> Value {
    let (got, answer) = app.act(&s.at(action), &body).await;
    assert_eq!(got, status, "{action}: {answer}");
    answer
}

async fn rate(app: &TestApp, s: &Setup, member: &str, criterion: &str, rating: &str) -> StatusCode {
    app.request(
        Method::PUT,
        &s.at(&format!("ratings/{member}/{criterion}")),
        Some(&json!({"rating": rating})),
    )
    .await
    .status()
}

/// Evaluators added and trained, the investigation begun.
async fn investigating(app: &TestApp, s: &Setup, trained: usize) {
    for member in &s.members {
        body_of(
            app.put(&s.at(&format!("evaluators/{member}"))).await,
            StatusCode::CREATED,
        )
        .await;
    }
    for member in s.members.iter().take(trained) {
        body_of(
            app.post(&s.at(&format!("evaluators/{member}/training")), &json!({}))
                .await,
            StatusCode::OK,
        )
        .await;
    }
    step(app, s, "start-investigation", json!({}), StatusCode::OK).await;
}

/// Taken to rectification with the report's findings; answers the items.
async fn rectifying(app: &TestApp, s: &Setup, findings: usize) -> Vec<Value> {
    investigating(app, s, 1).await;
    step(app, s, "start-deliberation", json!({}), StatusCode::OK).await;
    assert_eq!(
        rate(app, s, &s.members[0], "integrity", "satisfied").await,
        StatusCode::CREATED
    );
    let findings: Vec<Value> = (1..=findings)
        .map(|n| json!({"description": format!("问题{n}"), "due_on": "2026-12-31"}))
        .collect();
    step(
        app,
        s,
        "start-rectification",
        json!({"text": "评议报告", "findings": findings}),
        StatusCode::OK,
    )
    .await;
    let items = body_of(app.get(&s.at("rectification-items")).await, StatusCode::OK).await;
    items["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn an_evaluation_runs_from_preparation_to_its_stored_grade() {
    let app = spawn_app().await;
    let s = setup(&app, "xicheng").await;

    // Nothing to investigate with yet.
    let refused = step(
        &app,
        &s,
        "start-investigation",
        json!({}),
        StatusCode::CONFLICT,
    )
    .await;
    assert!(refused["detail"].as_str().unwrap().contains("evaluators"));

    // Three evaluators, two trained; the evaluation's version moves with each change.
    investigating(&app, &s, 2).await;
    let path = format!("/api/v1/evaluations/{}", s.evaluation);
    let evaluation = body_of(app.get(&path).await, StatusCode::OK).await;
    assert_eq!(evaluation["phase"], "investigation");
    assert_eq!(evaluation["allowed_actions"], json!(["start_deliberation"]));
    assert_eq!(evaluation["evaluators"].as_array().unwrap().len(), 3);
    let trained: Vec<bool> = evaluation["evaluators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|evaluator| !evaluator["training_completed_at"].is_null())
        .collect();
    assert_eq!(trained, [true, true, false]);
    // 1 (created) + 3 evaluators + 2 trainings + 1 step.
    assert_eq!(evaluation["version"], 7);

    // Evaluators are fixed once the investigation begins.
    let refused = body_of(
        app.delete(&s.at(&format!("evaluators/{}", s.members[2])))
            .await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(refused["current_status"], "investigation");
    assert_eq!(refused["allowed_actions"], json!(["start_deliberation"]));

    // A visit during the investigation; no rating yet.
    step(&app, &s, "visits", json!({"visited_on": "2026-05-06", "place": "政务服务大厅", "visited": "市场监管窗口", "findings": "排队时间长"}), StatusCode::CREATED).await;
    assert_eq!(
        rate(&app, &s, &s.members[0], "integrity", "satisfied").await,
        StatusCode::CONFLICT
    );
    step(&app, &s, "start-deliberation", json!({}), StatusCode::OK).await;

    // Only trained evaluators rate.
    assert_eq!(
        rate(&app, &s, &s.members[2], "integrity", "satisfied").await,
        StatusCode::CONFLICT
    );
    for criterion in [
        "performance_of_duties",
        "work_style",
        "service_efficiency",
        "integrity",
    ] {
        assert_eq!(
            rate(&app, &s, &s.members[0], criterion, "satisfied").await,
            StatusCode::CREATED
        );
        let second = if criterion == "integrity" {
            "basically_satisfied"
        } else {
            "satisfied"
        };
        assert_eq!(
            rate(&app, &s, &s.members[1], criterion, second).await,
            StatusCode::CREATED
        );
    }
    // A second rating on the same criterion replaces the first.
    assert_eq!(
        rate(&app, &s, &s.members[0], "work_style", "unsatisfied").await,
        StatusCode::OK
    );
    let ratings = body_of(app.get(&s.at("ratings")).await, StatusCode::OK).await;
    assert_eq!(ratings["items"].as_array().unwrap().len(), 8);

    // (6 × 100 + 60 + 0) / 8 = 82.5: good.
    let summary = body_of(app.get(&s.at("ratings/summary")).await, StatusCode::OK).await;
    assert_eq!(summary["evaluators"], 3);
    assert_eq!(summary["trained_evaluators"], 2);
    assert_eq!(summary["ratings"], 8);
    assert_eq!(summary["overall"]["satisfied"], 6);
    assert_eq!(summary["overall"]["basically_satisfied"], 1);
    assert_eq!(summary["overall"]["unsatisfied"], 1);
    assert_eq!(summary["overall"]["score"], 82.5);
    assert_eq!(summary["grade"], "good");
    let work_style = summary["by_criterion"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["criterion"] == "work_style")
        .unwrap();
    assert_eq!(work_style["score"], 50.0);
    assert_eq!(work_style["unsatisfied"], 1);

    // The report's findings become items, in order.
    let report = json!({"text": "关于区市场监管局的评议报告", "findings": [
        {"description": "窗口排队时间长", "due_on": "2026-09-30"},
        {"description": "执法文书不规范", "due_on": "2026-10-31"},
    ]});
    let evaluation = step(&app, &s, "start-rectification", report, StatusCode::OK).await;
    assert_eq!(evaluation["phase"], "rectification");
    assert_eq!(evaluation["report_text"], "关于区市场监管局的评议报告");
    let items = body_of(app.get(&s.at("rectification-items")).await, StatusCode::OK).await;
    let items = items["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["position"], 1);
    assert_eq!(items[0]["description"], "窗口排队时间长");
    assert_eq!(items[0]["status"], "open");
    assert_eq!(items[1]["due_on"], "2026-10-31");
    let first = items[0]["id"].as_str().unwrap().to_owned();
    let second = items[1]["id"].as_str().unwrap().to_owned();
    let item = |id: &str, action: &str| format!("rectification-items/{id}/{action}");

    // Ratings are closed now.
    assert_eq!(
        rate(&app, &s, &s.members[0], "integrity", "unsatisfied").await,
        StatusCode::CONFLICT
    );

    // Conclusion is refused while items are open; the answer names each.
    let refused = step(&app, &s, "conclude", json!({}), StatusCode::CONFLICT).await;
    assert_eq!(refused["errors"].as_array().unwrap().len(), 2);
    assert_eq!(
        refused["errors"][0]["pointer"],
        format!("/rectification_items/{first}")
    );

    // The first item is worked, noted, done and verified.
    for (action, body) in [
        ("start", json!({})),
        (
            "notes",
            json!({"noted_on": "2026-07-01", "text": "增设两个窗口"}),
        ),
        ("complete", json!({})),
        ("verify", json!({})),
    ] {
        step(&app, &s, &item(&first, action), body, StatusCode::OK).await;
    }
    let verified = body_of(
        app.get(&s.at(&format!("rectification-items/{first}")))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(verified["status"], "verified");
    assert_eq!(verified["allowed_actions"], json!([]));
    assert_eq!(verified["notes"][0]["noted_on"], "2026-07-01");
    assert_eq!(verified["notes"][0]["text"], "增设两个窗口");

    // Still refused: the second item is open.
    let refused = step(&app, &s, "conclude", json!({}), StatusCode::CONFLICT).await;
    assert_eq!(refused["errors"].as_array().unwrap().len(), 1);

    // Carrying over needs a reason.
    let invalid = step(
        &app,
        &s,
        &item(&second, "carry-over"),
        json!({}),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(invalid["errors"][0]["pointer"], "/reason");
    let carried = step(
        &app,
        &s,
        &item(&second, "carry-over"),
        json!({"reason": "需区政府统一部署，纳入明年工作"}),
        StatusCode::OK,
    )
    .await;
    assert_eq!(carried["status"], "carried_over");
    assert_eq!(
        carried["carry_over_reason"],
        "需区政府统一部署，纳入明年工作"
    );

    let concluded = step(&app, &s, "conclude", json!({}), StatusCode::OK).await;
    assert_eq!(concluded["phase"], "concluded");
    assert_eq!(concluded["score"], 82.5);
    assert_eq!(concluded["grade"], "good");
    assert!(!concluded["concluded_at"].is_null());
    assert_eq!(concluded["allowed_actions"], json!([]));

    let assessments = body_of(
        app.get(&format!("/api/v1/departments/{}/assessments", s.department))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        assessments["items"],
        json!([{
            "evaluation_id": s.evaluation, "year": 2026, "score": 82.5, "grade": "good",
            "concluded_at": concluded["concluded_at"],
        }])
    );

    // The history holds every step, with the report's items and the result.
    let history = body_of(app.get(&s.at("history")).await, StatusCode::OK).await;
    let actions: Vec<&str> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| step["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "start_investigation",
            "start_deliberation",
            "start_rectification",
            "conclude"
        ]
    );
    assert_eq!(
        history["items"][2]["payload"]["item_ids"],
        json!([first, second])
    );
    assert_eq!(history["items"][3]["payload"]["grade"], "good");
}

#[tokio::test]
async fn wrong_moves_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let s = setup(&app, "xicheng").await;
    let other = setup(&app, "haidian").await;

    // One evaluation per department and year; the department must be the district's.
    let duplicate = body_of(
        app.post(
            "/api/v1/evaluations",
            &json!({"district_id": s.district, "department_id": s.department, "year": 2026}),
        )
        .await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(duplicate["errors"][0]["pointer"], "/department_id");
    let foreign = body_of(
        app.post(
            "/api/v1/evaluations",
            &json!({"district_id": s.district, "department_id": other.department, "year": 2027}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(foreign["errors"][0]["pointer"], "/department_id");

    // Another district's member is no evaluator.
    let refused = body_of(
        app.put(&s.at(&format!("evaluators/{}", other.members[0])))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(refused["errors"][0]["pointer"], "/member_id");

    // A step out of turn names the one allowed.
    let refused = step(&app, &s, "conclude", json!({}), StatusCode::CONFLICT).await;
    assert_eq!(refused["current_status"], "preparation");
    assert_eq!(refused["allowed_actions"], json!(["start_investigation"]));

    // A stale If-Match is 412 before anything else.
    let stale = app
        .anonymous
        .post(app.url(&s.at("start-investigation")))
        .bearer_auth(&app.admin_token)
        .header("If-Match", "\"99\"")
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED);

    // Training needs an evaluator; untrained evaluators leave deliberation closed.
    step(
        &app,
        &s,
        &format!("evaluators/{}/training", s.members[0]),
        json!({}),
        StatusCode::NOT_FOUND,
    )
    .await;
    investigating(&app, &s, 0).await;
    let refused = step(
        &app,
        &s,
        "start-deliberation",
        json!({}),
        StatusCode::CONFLICT,
    )
    .await;
    assert!(refused["detail"].as_str().unwrap().contains("training"));
    let evaluation = body_of(
        app.get(&format!("/api/v1/evaluations/{}", s.evaluation))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(evaluation["phase"], "investigation");

    // An evaluation past preparation is neither changed nor deleted.
    body_of(
        app.patch(
            &format!("/api/v1/evaluations/{}", s.evaluation),
            &json!({"year": 2025}),
        )
        .await,
        StatusCode::CONFLICT,
    )
    .await;
    body_of(
        app.delete(&format!("/api/v1/evaluations/{}", s.evaluation))
            .await,
        StatusCode::CONFLICT,
    )
    .await;

    // An item moves only as its machine allows.
    let items = rectifying(&app, &other, 1).await;
    let item = items[0]["id"].as_str().unwrap();
    let refused = step(
        &app,
        &other,
        &format!("rectification-items/{item}/verify"),
        json!({}),
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(refused["current_status"], "open");
    assert_eq!(
        refused["allowed_actions"],
        json!(["note", "start", "carry_over"])
    );
    // An item is addressed only under its own evaluation.
    step(
        &app,
        &s,
        &format!("rectification-items/{item}/start"),
        json!({}),
        StatusCode::NOT_FOUND,
    )
    .await;

    // A clerk of one district does not see the other's evaluation.
    let clerk = app.key("clerk", Some(&s.district)).await;
    let hidden = app
        .request_as(
            Some(&clerk),
            Method::GET,
            &format!("/api/v1/evaluations/{}", other.evaluation),
            None,
        )
        .await;
    assert_eq!(hidden.status(), StatusCode::NOT_FOUND);
    let listed: Value = app
        .request_as(Some(&clerk), Method::GET, "/api/v1/evaluations", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn an_evaluation_in_preparation_is_changed_or_deleted_and_its_visits_follow_the_phase() {
    let app = spawn_app().await;
    let s = setup(&app, "xicheng").await;
    let path = format!("/api/v1/evaluations/{}", s.evaluation);
    let changed = body_of(
        app.patch(&path, &json!({"year": 2027})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(changed["year"], 2027);
    assert_eq!(changed["version"], 2);

    // Visits only during the investigation.
    let visit =
        json!({"visited_on": "2027-03-01", "place": "区市场监管局", "visited": "局领导班子"});
    step(&app, &s, "visits", visit.clone(), StatusCode::CONFLICT).await;
    investigating(&app, &s, 1).await;
    let created = step(&app, &s, "visits", visit, StatusCode::CREATED).await;
    let visit_path = s.at(&format!("visits/{}", created["id"].as_str().unwrap()));
    let updated = body_of(
        app.patch(&visit_path, &json!({"findings": "需加强队伍建设"}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(updated["findings"], "需加强队伍建设");
    let listed = body_of(app.get(&s.at("visits")).await, StatusCode::OK).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    step(&app, &s, "start-deliberation", json!({}), StatusCode::OK).await;
    body_of(app.delete(&visit_path).await, StatusCode::CONFLICT).await;

    // A new evaluation in preparation can be deleted, and the year is free again.
    let second = body_of(
        app.post(
            "/api/v1/evaluations",
            &json!({"district_id": s.district, "department_id": s.department, "year": 2028}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let second_path = format!("/api/v1/evaluations/{}", second["id"].as_str().unwrap());
    assert_eq!(
        app.delete(&second_path).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.get(&second_path).await.status(), StatusCode::NOT_FOUND);
    body_of(
        app.post(
            "/api/v1/evaluations",
            &json!({"district_id": s.district, "department_id": s.department, "year": 2028}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
}

#[tokio::test]
async fn a_ruling_on_an_evaluation_joins_its_lineage() {
    let app = spawn_app().await;
    let s = setup(&app, "xicheng").await;
    let items = rectifying(&app, &s, 2).await;

    // Stages are for proposals only.
    let ruling = json!({
        "leader_name": "李四", "leader_title": "party_secretary", "subject_type": "evaluation",
        "subject_id": s.evaluation, "content": "请抓好整改落实", "department_ids": [s.department],
    });
    let mut staged = ruling.clone();
    staged["stage"] = json!("before");
    let invalid = body_of(
        app.post("/api/v1/rulings", &staged).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(invalid["errors"][0]["pointer"], "/stage");

    let created = body_of(
        app.post("/api/v1/rulings", &ruling).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(created["subject_type"], "evaluation");
    assert_eq!(created["subject_id"], s.evaluation.as_str());
    let ruling_id = created["id"].as_str().unwrap();
    body_of(
        app.post(
            &format!("/api/v1/rulings/{ruling_id}/measures"),
            &json!({"department_id": s.department, "text": "制定整改方案", "taken_on": "2026-08-01"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;

    let listed = body_of(app.get(&s.at("rulings")).await, StatusCode::OK).await;
    assert_eq!(listed["items"][0]["id"], ruling_id);

    let lineage = body_of(app.get(&s.at("lineage")).await, StatusCode::OK).await;
    assert_eq!(lineage["subject"]["id"], s.evaluation.as_str());
    assert_eq!(lineage["rectification_items"].as_array().unwrap().len(), 2);
    assert_eq!(lineage["rectification_items"][1]["id"], items[1]["id"]);
    assert_eq!(lineage["rulings"][0]["id"], ruling_id);
    assert_eq!(lineage["rulings"][0]["measures"][0]["text"], "制定整改方案");

    // Another district's evaluation is no subject for this district's clerk.
    let other = setup(&app, "haidian").await;
    let clerk = app.key("clerk", Some(&s.district)).await;
    let mut foreign = ruling.clone();
    foreign["subject_id"] = json!(other.evaluation);
    let refused = app
        .request_as(
            Some(&clerk),
            Method::POST,
            "/api/v1/rulings",
            Some(&foreign),
        )
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
}
