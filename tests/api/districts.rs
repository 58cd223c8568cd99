use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::spawn_app;

#[tokio::test]
async fn creating_a_district_answers_201_with_location_and_etag() {
    let app = spawn_app().await;
    let response = app
        .post(
            "/api/v1/districts",
            &json!({"code": "xicheng", "name": "西城区", "name_en": "Xicheng", "term": 16}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        location,
        format!("/api/v1/districts/{}", body["id"].as_str().unwrap())
    );
    assert_eq!(etag, "\"1\"");
    assert_eq!(body["version"], 1);
    assert_eq!(body["name"], "西城区");

    let fetched: Value = app.get(&location).await.json().await.unwrap();
    assert_eq!(fetched, body);
}

#[tokio::test]
async fn a_district_can_be_fetched_by_code_as_well_as_by_id() {
    let app = spawn_app().await;
    let district = app.district("haidian").await;
    let by_code: Value = app
        .get("/api/v1/districts/haidian")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_code["id"], district["id"]);
    let response = app.get("/api/v1/districts/nowhere").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
}

#[tokio::test]
async fn a_taken_code_is_a_conflict_naming_the_field() {
    let app = spawn_app().await;
    app.district("tongzhou").await;
    let response = app
        .post(
            "/api/v1/districts",
            &json!({"code": "tongzhou", "name": "另一个区", "term": 16}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["errors"][0]["pointer"], "/code");
    assert_eq!(problem["status"], 409);
}

#[tokio::test]
async fn every_invalid_field_is_reported_at_once_and_nothing_is_written() {
    let app = spawn_app().await;
    let response = app
        .post(
            "/api/v1/districts",
            &json!({"code": "Bad Code", "name_en": 5, "term": 0}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let problem: Value = response.json().await.unwrap();
    let mut pointers: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|error| error["pointer"].as_str().unwrap())
        .collect();
    pointers.sort_unstable();
    assert_eq!(pointers, ["/code", "/name", "/name_en", "/term"]);
    let list: Value = app.get("/api/v1/districts").await.json().await.unwrap();
    assert_eq!(list["items"], json!([]));
}

#[tokio::test]
async fn merge_patch_keeps_absent_fields_and_null_clears_optional_ones() {
    let app = spawn_app().await;
    app.post(
        "/api/v1/districts",
        &json!({"code": "huairou", "name": "怀柔区", "name_en": "Huairou", "term": 15}),
    )
    .await;
    let response = app
        .patch(
            "/api/v1/districts/huairou",
            &json!({"name_en": null, "term": 16}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["etag"], "\"2\"");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["name"], "怀柔区");
    assert_eq!(body["name_en"], Value::Null);
    assert_eq!(body["term"], 16);
    assert_eq!(body["version"], 2);

    let response = app
        .patch("/api/v1/districts/huairou", &json!({"name": null}))
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["errors"][0]["pointer"], "/name");
}

#[tokio::test]
async fn a_district_with_members_cannot_be_deleted() {
    let app = spawn_app().await;
    let district = app.district("yanqing").await;
    let member = app
        .member(district["id"].as_str().unwrap(), "YQ-001", "李华")
        .await;
    let response = app.delete("/api/v1/districts/yanqing").await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let problem: Value = response.json().await.unwrap();
    assert!(problem["detail"].as_str().unwrap().contains("1 member"));

    let path = format!("/api/v1/members/{}", member["id"].as_str().unwrap());
    assert_eq!(app.delete(&path).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.delete("/api/v1/districts/yanqing").await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get("/api/v1/districts/yanqing").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn districts_are_filtered_by_code_and_text() {
    let app = spawn_app().await;
    app.post(
        "/api/v1/districts",
        &json!({"code": "xicheng", "name": "西城区", "term": 16}),
    )
    .await;
    app.post(
        "/api/v1/districts",
        &json!({"code": "haidian", "name": "海淀区", "term": 16}),
    )
    .await;
    let list: Value = app
        .get("/api/v1/districts?code=haidian")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["code"], "haidian");
    let list: Value = app
        .get("/api/v1/districts?q=%E8%A5%BF%E5%9F%8E")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["code"], "xicheng");
    let list: Value = app
        .get("/api/v1/districts?sort=name&limit=1")
        .await
        .json()
        .await
        .unwrap();
    // Sorted by name, page by page.
    let first = list["items"][0]["name"].as_str().unwrap().to_owned();
    let cursor = list["next_cursor"].as_str().unwrap();
    let list: Value = app
        .get(&format!(
            "/api/v1/districts?sort=name&limit=1&cursor={cursor}"
        ))
        .await
        .json()
        .await
        .unwrap();
    let second = list["items"][0]["name"].as_str().unwrap().to_owned();
    assert_eq!((first.as_str(), second.as_str()), ("海淀区", "西城区"));
    assert_eq!(list["next_cursor"], Value::Null);
}

#[tokio::test]
async fn a_patch_that_changes_nothing_keeps_the_version() {
    let app = spawn_app().await;
    let district = app.district("xicheng").await;
    let response = app
        .patch(
            "/api/v1/districts/xicheng",
            &json!({"name": district["name"], "term": 16}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["etag"], "\"1\"");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["updated_at"], district["updated_at"]);
}
