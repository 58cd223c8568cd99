//! Consultation topics: a year of a district's plan, from topics to reports.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

async fn topic(app: &TestApp, district: &str, title: &str, is_key: bool) -> String {
    let response = app
        .post(
            "/api/v1/consultations",
            &json!({"district_id": district, "year": 2026, "title": title, "is_key": is_key, "lead_committee": "经济委员会"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "planned");
    body["id"].as_str().unwrap().to_owned()
}

async fn activity(app: &TestApp, topic: &str, body: Value) -> reqwest::Response {
    app.post(&format!("/api/v1/consultations/{topic}/activities"), &body)
        .await
}

#[tokio::test]
async fn a_year_of_consultation_from_plan_to_reports() {
    let app = spawn_app().await;
    let district = app.district("xicheng").await;
    let d = district["id"].as_str().unwrap().to_owned();
    let member = app.member(&d, "1", "王芳").await;
    let department: Value = app
        .post(
            "/api/v1/departments",
            &json!({"district_id": d, "name": "区商务局", "kind": "government"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let mut topics = Vec::new();
    for (index, title) in ["数字经济", "双减落实", "社会治理", "城市更新"]
        .iter()
        .enumerate()
    {
        topics.push(topic(&app, &d, title, index < 4).await);
    }
    topics.push(topic(&app, &d, "街巷环境", false).await);
    let first = topics[0].clone();
    for day in 1..=6 {
        let response = activity(
            &app,
            &first,
            json!({
                "format": if day == 1 { "thematic_meeting" } else { "street_micro" },
                "held_on": format!("2026-03-{day:02}"),
                "place": "区政协会议室",
                "participant_ids": [member["id"]],
                "department_ids": [department["id"]],
                "opinions_gathered": day * 3,
            }),
        )
        .await;
        assert_eq!(response.status(), StatusCode::CREATED);
    }

    let plan: Value = app
        .get(&format!(
            "/api/v1/consultations/plan?district_id={d}&year=2026"
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(plan["key_topics"], 4);
    assert_eq!(plan["key_topics_required"], 5);
    assert_eq!(
        plan["short_of_key_topics"], true,
        "four key topics fall short of five"
    );
    let topics_in_plan = plan["topics"].as_array().unwrap();
    assert_eq!(topics_in_plan.len(), 5);
    assert_eq!(topics_in_plan[0]["activities"], 6);
    assert_eq!(topics_in_plan[0]["short"], false);
    assert_eq!(topics_in_plan[1]["short"], true);
    let response = app
        .patch(
            &format!("/api/v1/consultations/{}", topics[4]),
            &json!({"is_key": true}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let plan: Value = app
        .get(&format!(
            "/api/v1/consultations/plan?district_id={d}&year=2026"
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(plan["short_of_key_topics"], false);

    let path = format!("/api/v1/consultations/{first}");
    let response = app
        .post(
            &format!("{path}/report"),
            &json!({"title": "报告", "text": "内容", "recipients": ["区委"]}),
        )
        .await;
    assert_eq!(
        response.status(),
        StatusCode::CONFLICT,
        "a planned topic is started first"
    );
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["current_status"], "planned");
    assert_eq!(problem["allowed_actions"], json!(["start"]));
    let (_, started) = app.act(&format!("{path}/start"), &json!({})).await;
    assert_eq!(started["status"], "in_progress");
    let response = app
        .post(
            &format!("{path}/report"),
            &json!({"title": "报告", "text": "内容", "recipients": []}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let (_, reported) = app
        .act(
            &format!("{path}/report"),
            &json!({"title": "关于推动数字经济高质量发展的协商报告", "text": "建议如下……", "recipients": ["中共北京市西城区委员会"]}),
        )
        .await;
    assert_eq!(reported["status"], "reported");
    assert_eq!(
        reported["report_recipients"],
        json!(["中共北京市西城区委员会"])
    );
    assert!(reported["reported_at"].is_string());
    let response = activity(
        &app,
        &first,
        json!({"format": "sector", "held_on": "2026-05-01"}),
    )
    .await;
    assert_eq!(
        response.status(),
        StatusCode::CONFLICT,
        "no activities after the report"
    );
    assert_eq!(
        app.patch(&path, &json!({"title": "改"})).await.status(),
        StatusCode::CONFLICT
    );
    let closed: Value = app
        .post(&format!("{path}/close"), &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(closed["status"], "closed");
    assert_eq!(closed["allowed_actions"], json!([]));

    let history: Value = app
        .get(&format!("{path}/history"))
        .await
        .json()
        .await
        .unwrap();
    let steps: Vec<&str> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["action"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["start", "report", "close"]);
    assert_eq!(
        history["items"][1]["payload"]["recipients"],
        json!(["中共北京市西城区委员会"])
    );
    let list: Value = app
        .get("/api/v1/consultations?year=2026&is_key=true&status=planned")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn activities_take_only_the_districts_members_and_departments() {
    let app = spawn_app().await;
    let xicheng = app.district("xicheng").await;
    let haidian = app.district("haidian").await;
    let outsider = app
        .member(haidian["id"].as_str().unwrap(), "1", "李华")
        .await;
    let d = xicheng["id"].as_str().unwrap();
    let t = topic(&app, d, "议题", true).await;
    let response = activity(
        &app,
        &t,
        json!({"format": "counterpart", "held_on": "2026-04-01", "participant_ids": [outsider["id"]], "department_ids": [uuid::Uuid::now_v7()]}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let problem: Value = response.json().await.unwrap();
    let pointers: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pointer"].as_str().unwrap())
        .collect();
    assert_eq!(pointers, ["/participant_ids/0", "/department_ids/0"]);
    let response = activity(
        &app,
        &t,
        json!({"format": "debate", "held_on": "2026-04-01"}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let created: Value = activity(
        &app,
        &t,
        json!({"format": "counterpart", "held_on": "2026-04-01"}),
    )
    .await
    .json()
    .await
    .unwrap();
    let path = format!(
        "/api/v1/consultations/{t}/activities/{}",
        created["id"].as_str().unwrap()
    );
    let changed: Value = app
        .patch(&path, &json!({"opinions_gathered": 12}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(changed["opinions_gathered"], 12);
    let other = topic(&app, d, "另一议题", false).await;
    let wrong = format!(
        "/api/v1/consultations/{other}/activities/{}",
        created["id"].as_str().unwrap()
    );
    assert_eq!(
        app.get(&wrong).await.status(),
        StatusCode::NOT_FOUND,
        "an activity lives under its topic"
    );
    assert_eq!(app.delete(&path).await.status(), StatusCode::NO_CONTENT);
    // A list holds live records only (deletions are the change feed's).
    let page: Value = app
        .get(&format!("/api/v1/consultations/{t}/activities"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"], json!([]), "{page}");
    let asked = app
        .get(&format!(
            "/api/v1/consultations/{t}/activities?include_deleted=true"
        ))
        .await;
    assert_eq!(asked.status(), StatusCode::BAD_REQUEST);
    let response = app
        .post(
            "/api/v1/consultations",
            &json!({"district_id": d, "year": 2026, "title": "议题"}),
        )
        .await;
    assert_eq!(
        response.status(),
        StatusCode::CONFLICT,
        "one title per plan"
    );
}

#[tokio::test]
async fn the_plan_checks_its_year_and_hides_another_district() {
    let app = spawn_app().await;
    let own = app.district("xicheng").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let other = app.district("haidian").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for year in ["-4714", "1999", "2101", "200000"] {
        let path = format!("/api/v1/consultations/plan?district_id={own}&year={year}");
        let response = app.get(&path).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{year}");
        let problem: Value = response.json().await.unwrap();
        assert!(
            problem["detail"].as_str().unwrap().contains("year"),
            "{problem}"
        );
    }
    let clerk = app.key("clerk", Some(&own)).await;
    let path = format!("/api/v1/consultations/plan?district_id={other}&year=2026");
    let response = app
        .request_as(Some(&clerk), reqwest::Method::GET, &path, None)
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}
