use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::spawn_app;

#[tokio::test]
async fn departments_are_created_listed_changed_and_deleted() {
    let app = spawn_app().await;
    let district = app.district("shijingshan").await;
    let other = app.district("tongzhou").await;
    let response = app
        .post(
            "/api/v1/departments",
            &json!({
                "district_id": district["id"],
                "name": "区生态环境局",
                "short_name": "生态环境局",
                "kind": "government",
            }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let department: Value = response.json().await.unwrap();
    assert_eq!(department["kind"], "government");
    app.post(
        "/api/v1/departments",
        &json!({"district_id": other["id"], "name": "区生态环境局", "kind": "government"}),
    )
    .await;
    app.post(
        "/api/v1/departments",
        &json!({"district_id": district["id"], "name": "区妇联", "kind": "people_organization"}),
    )
    .await;

    let page: Value = app
        .get("/api/v1/departments?district=shijingshan&kind=government")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["items"][0]["id"], department["id"]);
    let page: Value = app
        .get("/api/v1/departments?q=%E5%A6%87%E8%81%94")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"][0]["name"], "区妇联");

    let response = app
        .patch(&location, &json!({"short_name": null, "kind": "party"}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let changed: Value = response.json().await.unwrap();
    assert_eq!(changed["short_name"], Value::Null);
    assert_eq!(changed["kind"], "party");

    assert_eq!(app.delete(&location).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.get(&location).await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_department_name_is_unique_in_its_district() {
    let app = spawn_app().await;
    let district = app.district("shijingshan").await;
    let body = json!({"district_id": district["id"], "name": "区教委", "kind": "government"});
    assert_eq!(
        app.post("/api/v1/departments", &body).await.status(),
        StatusCode::CREATED
    );
    let response = app.post("/api/v1/departments", &body).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["errors"][0]["pointer"], "/name");
}

#[tokio::test]
async fn a_department_needs_a_known_kind_and_district() {
    let app = spawn_app().await;
    let response = app
        .post(
            "/api/v1/departments",
            &json!({"name": "区教委", "kind": "ministry"}),
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
    assert_eq!(pointers, ["/district_id", "/kind"]);
    assert!(
        problem["errors"][1]["detail"]
            .as_str()
            .unwrap()
            .contains("ministry")
    );
}
