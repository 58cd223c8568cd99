use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

fn pointers(problem: &Value) -> Vec<String> {
    let mut pointers: Vec<String> = problem["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|error| error["pointer"].as_str().unwrap().to_owned())
        .collect();
    pointers.sort();
    pointers
}

async fn items(app: &TestApp, path: &str) -> Vec<Value> {
    let response = app.get(path).await;
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    let page: Value = response.json().await.unwrap();
    page["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_new_member_takes_the_districts_term_and_sensible_defaults() {
    let app = spawn_app().await;
    let district = app.district("xicheng").await;
    let member = app
        .member(district["id"].as_str().unwrap(), "XC-001", "王小明")
        .await;
    assert_eq!(member["term"], 16);
    assert_eq!(member["roles"], json!(["member"]));
    assert_eq!(member["status"], "active");
    assert_eq!(member["resides_in_district"], true);
    assert_eq!(member["phone"], Value::Null);
    assert_eq!(member["district_id"], district["id"]);
}

#[tokio::test]
async fn a_member_body_reports_every_problem_at_once() {
    let app = spawn_app().await;
    let response = app
        .post(
            "/api/v1/members",
            &json!({
                "district_id": "not-a-uuid",
                "sector": "astrology",
                "party": "whigs",
                "roles": ["member", "emperor"],
                "email": "nobody",
                "phone": "call me",
                "gender": "other",
                "term": 100,
            }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(
        pointers(&problem),
        [
            "/district_id",
            "/email",
            "/gender",
            "/member_no",
            "/name",
            "/party",
            "/phone",
            "/roles/1",
            "/sector",
            "/term"
        ]
    );
}

#[tokio::test]
async fn a_member_in_an_unknown_district_is_a_422() {
    let app = spawn_app().await;
    let response = app
        .post(
            "/api/v1/members",
            &json!({
                "district_id": uuid::Uuid::now_v7(),
                "member_no": "1",
                "name": "张三",
                "sector": "economy",
                "party": "cpc",
            }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(pointers(&problem), ["/district_id"]);
}

#[tokio::test]
async fn member_numbers_are_unique_per_district_only() {
    let app = spawn_app().await;
    let xicheng = app.district("xicheng").await;
    let haidian = app.district("haidian").await;
    app.member(xicheng["id"].as_str().unwrap(), "001", "王小明")
        .await;
    app.member(haidian["id"].as_str().unwrap(), "001", "李华")
        .await;
    let response = app
        .post(
            "/api/v1/members",
            &json!({
                "district_id": xicheng["id"],
                "member_no": "001",
                "name": "赵六",
                "sector": "economy",
                "party": "cpc",
            }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["errors"][0]["pointer"], "/member_no");
}

/// A member is worked out by the service and inserted with the COMMIT: the answer is what
/// the database holds; a taken number found only at the COMMIT is still a 409 naming the
/// field, written nowhere (no member, no event), and the answer an Idempotency-Key keeps.
#[tokio::test]
async fn a_new_member_is_answered_as_written_and_a_taken_number_refused_at_commit() {
    let app = spawn_app().await;
    let xicheng = app.district("xicheng").await;
    let body = json!({
        "district_id": xicheng["id"], "member_no": "007", "name": "赵六",
        "sector": "economy", "party": "cpc",
    });
    let created = app.post("/api/v1/members", &body).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let tag = created.headers()["etag"].to_str().unwrap().to_owned();
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let answered: Value = created.json().await.unwrap();
    let stored = app.get(&location).await;
    assert_eq!(stored.headers()["etag"].to_str().unwrap(), tag);
    assert_eq!(stored.json::<Value>().await.unwrap(), answered);

    let db = app.sealed_db().await;
    let counts = async || -> (i64, i64) {
        let row = db
            .query_one(
                "SELECT (SELECT count(*) FROM members), \
                 (SELECT count(*) FROM audit_events WHERE entity_type = 'member') \
                 + (SELECT coalesce(sum(cardinality(prefixes)), 0) FROM audit_pending)",
                &[],
            )
            .await
            .unwrap();
        (row.get(0), row.get(1))
    };
    let before = counts().await;
    let keyed = || {
        app.anonymous
            .post(app.url("/api/v1/members"))
            .bearer_auth(&app.admin_token)
            .header("Idempotency-Key", "taken-number")
            .json(&body)
            .send()
    };
    for response in [
        app.post("/api/v1/members", &body).await,
        keyed().await.unwrap(),
        keyed().await.unwrap(),
    ] {
        assert_eq!(response.status(), StatusCode::CONFLICT);
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["errors"][0]["pointer"], "/member_no");
        assert_eq!(problem["errors"][0]["code"], "taken");
    }
    assert_eq!(counts().await, before, "nothing written, no event");
    let replayed = keyed().await.unwrap();
    assert_eq!(replayed.headers()["idempotent-replayed"], "true");
}

#[tokio::test]
async fn members_are_filtered_by_every_filter() {
    let app = spawn_app().await;
    let xicheng = app.district("xicheng").await;
    let haidian = app.district("haidian").await;
    let create = |district: &Value, no: &str, name: &str, extra: Value| {
        let mut body = json!({
            "district_id": district["id"],
            "member_no": no,
            "name": name,
            "sector": "economy",
            "party": "cpc",
        });
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    for body in [
        create(
            &xicheng,
            "X1",
            "王小明",
            json!({"sector": "medicine_health", "street": "金融街街道"}),
        ),
        create(
            &xicheng,
            "X2",
            "李华",
            json!({"party": "cdl", "roles": ["standing_committee"]}),
        ),
        create(
            &xicheng,
            "X3",
            "张伟",
            json!({"term": 15, "status": "ended"}),
        ),
        create(&haidian, "H1", "王芳", json!({})),
    ] {
        let response = app.post("/api/v1/members", &body).await;
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    let names = |items: Vec<Value>| -> Vec<String> {
        let mut names: Vec<String> = items
            .iter()
            .map(|item| item["name"].as_str().unwrap().to_owned())
            .collect();
        names.sort();
        names
    };
    let xicheng_id = xicheng["id"].as_str().unwrap();
    assert_eq!(
        names(items(&app, &format!("/api/v1/members?district_id={xicheng_id}")).await).len(),
        3
    );
    assert_eq!(
        names(items(&app, "/api/v1/members?district=haidian").await),
        ["王芳"]
    );
    assert_eq!(
        names(items(&app, "/api/v1/members?sector=medicine_health").await),
        ["王小明"]
    );
    assert_eq!(
        names(items(&app, "/api/v1/members?party=cdl").await),
        ["李华"]
    );
    assert_eq!(
        names(
            items(
                &app,
                "/api/v1/members?street=%E9%87%91%E8%9E%8D%E8%A1%97%E8%A1%97%E9%81%93"
            )
            .await
        ),
        ["王小明"]
    );
    assert_eq!(
        names(items(&app, "/api/v1/members?term=15").await),
        ["张伟"]
    );
    assert_eq!(
        names(items(&app, "/api/v1/members?status=ended").await),
        ["张伟"]
    );
    assert_eq!(
        names(items(&app, "/api/v1/members?role=standing_committee").await),
        ["李华"]
    );
    // Chinese text search: 王 matches two members in two districts.
    assert_eq!(
        names(items(&app, "/api/v1/members?q=%E7%8E%8B").await),
        ["王小明", "王芳"]
    );
    assert_eq!(names(items(&app, "/api/v1/members?q=h1").await), ["王芳"]);
    assert!(
        items(&app, "/api/v1/members?q=%25").await.is_empty(),
        "% is literal"
    );
    let response = app.get("/api/v1/members?status=retired").await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn members_page_in_member_number_order() {
    let app = spawn_app().await;
    let district = app.district("xicheng").await;
    let id = district["id"].as_str().unwrap();
    for no in ["C", "A", "E", "B", "D"] {
        app.member(id, no, "委员").await;
    }
    let mut seen = Vec::new();
    let mut path = "/api/v1/members?sort=member_no&limit=2".to_owned();
    loop {
        let page: Value = app.get(&path).await.json().await.unwrap();
        for item in page["items"].as_array().unwrap() {
            seen.push(item["member_no"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => {
                path = format!("/api/v1/members?sort=member_no&limit=2&cursor={cursor}")
            }
            None => break,
        }
    }
    assert_eq!(seen, ["A", "B", "C", "D", "E"]);
    let response = app
        .get("/api/v1/members?sort=name&cursor=eyJvIjoibWVtYmVyX25vIiwidiI6eyJ0ZXh0IjoiQiJ9LCJpIjoiMDE5YTAwMDAtMDAwMC03MDAwLTgwMDAtMDAwMDAwMDAwMDAwIn0")
        .await;
    assert_eq!(
        response.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "a cursor is tied to its sort"
    );
}

#[tokio::test]
async fn patching_a_member_validates_and_keeps_the_district() {
    let app = spawn_app().await;
    let district = app.district("xicheng").await;
    let member = app
        .member(district["id"].as_str().unwrap(), "XC-001", "王小明")
        .await;
    let path = format!("/api/v1/members/{}", member["id"].as_str().unwrap());
    let response = app
        .patch(
            &path,
            &json!({"phone": "+86 10 6601 2345", "roles": ["vice_chair", "member"]}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["phone"], "+86 10 6601 2345");
    assert_eq!(body["roles"], json!(["member", "vice_chair"]));

    let response = app
        .patch(&path, &json!({"phone": null, "email": "bad"}))
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let current: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(
        current["phone"], "+86 10 6601 2345",
        "a refused patch changes nothing"
    );

    let response = app
        .patch(&path, &json!({"district_id": uuid::Uuid::now_v7()}))
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["errors"][0]["pointer"], "/district_id");

    let response = app.patch(&path, &json!({"phone": null})).await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["phone"], Value::Null);
    assert_eq!(body["version"], 3);
}

#[tokio::test]
async fn a_deleted_member_is_gone_from_its_list_and_its_number_free() {
    let app = spawn_app().await;
    let district = app.district("xicheng").await;
    let member = app
        .member(district["id"].as_str().unwrap(), "XC-001", "王小明")
        .await;
    let id = member["id"].as_str().unwrap();
    let path = format!("/api/v1/members/{id}");
    assert_eq!(app.delete(&path).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.get(&path).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.delete(&path).await.status(), StatusCode::NOT_FOUND);
    assert!(items(&app, "/api/v1/members").await.is_empty());
    // Its deletion is the change feed's (tests/api/changes.rs); a list has no tombstones.
    let asked = app.get("/api/v1/members?include_deleted=true").await;
    assert_eq!(asked.status(), StatusCode::BAD_REQUEST);
    // The number is free again.
    app.member(district["id"].as_str().unwrap(), "XC-001", "王小明")
        .await;
}

#[tokio::test]
async fn the_controlled_lists_are_served() {
    let app = spawn_app().await;
    let sectors = items(&app, "/api/v1/sectors").await;
    assert!(
        sectors
            .iter()
            .any(|s| s["code"] == "medicine_health" && s["name_zh"] == "医药卫生界")
    );
    assert_eq!(sectors.len(), 33);
    let parties = items(&app, "/api/v1/parties").await;
    assert_eq!(parties.len(), 11);
    assert_eq!(parties[0]["code"], "cpc");
    let roles = items(&app, "/api/v1/member-roles").await;
    assert!(
        roles
            .iter()
            .any(|r| r["code"] == "standing_committee" && r["name_zh"] == "常委")
    );
}

#[tokio::test]
async fn a_code_added_to_a_list_is_accepted_without_a_code_change() {
    let app = spawn_app().await;
    let district = app.district("xicheng").await;
    app.db()
        .await
        .batch_execute(
            "INSERT INTO sectors (code, name_zh, name_en, sort_order) \
             VALUES ('community_reps', '社区代表', 'Community representatives', 99)",
        )
        .await
        .unwrap();
    let response = app
        .post(
            "/api/v1/members",
            &json!({
                "district_id": district["id"],
                "member_no": "1",
                "name": "张三",
                "sector": "community_reps",
                "party": "none",
            }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
}
