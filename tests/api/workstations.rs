use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

async fn workstation(app: &TestApp, district: &Value, name: &str, kind: &str) -> Value {
    let response = app
        .post(
            "/api/v1/workstations",
            &json!({"district_id": district["id"], "name": name, "kind": kind, "street": "学院路街道"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}

#[tokio::test]
async fn workstations_are_filtered_by_district_kind_street_and_member() {
    let app = spawn_app().await;
    let haidian = app.district("haidian").await;
    let yanqing = app.district("yanqing").await;
    let online = workstation(&app, &haidian, "网上委员工作站", "online").await;
    workstation(&app, &haidian, "学院路委员工作站", "street").await;
    workstation(&app, &yanqing, "妫川委员工作室", "thematic").await;
    let member = app
        .member(haidian["id"].as_str().unwrap(), "HD-1", "王芳")
        .await;
    let path = format!(
        "/api/v1/workstations/{}/members/{}",
        online["id"].as_str().unwrap(),
        member["id"].as_str().unwrap()
    );
    assert_eq!(app.put(&path).await.status(), StatusCode::CREATED);

    let count = |path: String| {
        let app = &app;
        async move {
            let page: Value = app.get(&path).await.json().await.unwrap();
            page["items"].as_array().unwrap().len()
        }
    };
    let haidian_id = haidian["id"].as_str().unwrap();
    assert_eq!(
        count(format!("/api/v1/workstations?district_id={haidian_id}")).await,
        2
    );
    assert_eq!(
        count("/api/v1/workstations?district=yanqing".into()).await,
        1
    );
    assert_eq!(count("/api/v1/workstations?kind=online".into()).await, 1);
    assert_eq!(
        count("/api/v1/workstations?street=%E5%AD%A6%E9%99%A2%E8%B7%AF%E8%A1%97%E9%81%93".into())
            .await,
        3
    );
    assert_eq!(
        count(format!(
            "/api/v1/workstations?member_id={}",
            member["id"].as_str().unwrap()
        ))
        .await,
        1
    );
    assert_eq!(
        count("/api/v1/workstations?q=%E5%A6%AB%E5%B7%9D".into()).await,
        1
    );
    let response = app.get("/api/v1/workstations?kind=castle").await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn members_join_and_leave_a_workstation_and_its_version_follows() {
    let app = spawn_app().await;
    let district = app.district("haidian").await;
    let station = workstation(&app, &district, "学院路委员工作站", "street").await;
    let station_path = format!("/api/v1/workstations/{}", station["id"].as_str().unwrap());
    let member = app
        .member(district["id"].as_str().unwrap(), "HD-1", "王芳")
        .await;
    let path = format!("{station_path}/members/{}", member["id"].as_str().unwrap());

    assert_eq!(app.get(&path).await.status(), StatusCode::NOT_FOUND);
    let response = app.put(&path).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let membership: Value = response.json().await.unwrap();
    assert_eq!(membership["name"], "王芳");
    assert_eq!(
        app.put(&path).await.status(),
        StatusCode::OK,
        "adding twice is harmless"
    );
    assert_eq!(app.get(&path).await.status(), StatusCode::OK);

    let station: Value = app.get(&station_path).await.json().await.unwrap();
    assert_eq!(station["member_ids"], json!([member["id"]]));
    assert_eq!(
        station["version"], 2,
        "joining is a change of the workstation"
    );
    let list: Value = app
        .get(&format!("{station_path}/members"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"][0]["member_no"], "HD-1");

    assert_eq!(app.delete(&path).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.delete(&path).await.status(), StatusCode::NOT_FOUND);
    let station: Value = app.get(&station_path).await.json().await.unwrap();
    assert_eq!(station["member_ids"], json!([]));
    assert_eq!(station["version"], 3);
}

#[tokio::test]
async fn a_member_of_another_district_cannot_join() {
    let app = spawn_app().await;
    let haidian = app.district("haidian").await;
    let yanqing = app.district("yanqing").await;
    let station = workstation(&app, &haidian, "学院路委员工作站", "street").await;
    let outsider = app
        .member(yanqing["id"].as_str().unwrap(), "YQ-1", "李华")
        .await;
    let path = format!(
        "/api/v1/workstations/{}/members/{}",
        station["id"].as_str().unwrap(),
        outsider["id"].as_str().unwrap()
    );
    assert_eq!(
        app.put(&path).await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let nobody = format!(
        "/api/v1/workstations/{}/members/{}",
        station["id"].as_str().unwrap(),
        uuid::Uuid::now_v7()
    );
    assert_eq!(app.put(&nobody).await.status(), StatusCode::NOT_FOUND);

    let response = app
        .patch(
            &format!("/api/v1/workstations/{}", station["id"].as_str().unwrap()),
            &json!({"convenor_member_id": outsider["id"]}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["errors"][0]["pointer"], "/convenor_member_id");
}

#[tokio::test]
async fn a_deleted_member_leaves_their_workstations() {
    let app = spawn_app().await;
    let district = app.district("haidian").await;
    let member = app
        .member(district["id"].as_str().unwrap(), "HD-1", "王芳")
        .await;
    let response = app
        .post(
            "/api/v1/workstations",
            &json!({
                "district_id": district["id"],
                "name": "学院路委员工作站",
                "kind": "street",
                "opened_on": "2021-05-01",
                "convenor_member_id": member["id"],
            }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let station: Value = response.json().await.unwrap();
    assert_eq!(station["opened_on"], "2021-05-01");
    let station_path = format!("/api/v1/workstations/{}", station["id"].as_str().unwrap());
    app.put(&format!(
        "{station_path}/members/{}",
        member["id"].as_str().unwrap()
    ))
    .await;

    app.delete(&format!(
        "/api/v1/members/{}",
        member["id"].as_str().unwrap()
    ))
    .await;
    let station: Value = app.get(&station_path).await.json().await.unwrap();
    assert_eq!(station["member_ids"], json!([]));
    assert_eq!(station["convenor_member_id"], Value::Null);
}

#[tokio::test]
async fn a_bad_date_is_named() {
    let app = spawn_app().await;
    let district = app.district("haidian").await;
    let response = app
        .post(
            "/api/v1/workstations",
            &json!({"district_id": district["id"], "name": "站", "kind": "street", "opened_on": "2021-13-45"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["errors"][0]["pointer"], "/opened_on");
    assert!(
        problem["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("YYYY-MM-DD")
    );
}

#[tokio::test]
async fn activities_are_recorded_at_a_workstation_with_participants() {
    let app = spawn_app().await;
    let district = app.district("haidian").await;
    let other = app.district("yanqing").await;
    let station = workstation(&app, &district, "网上委员工作站", "online").await;
    let station_path = format!("/api/v1/workstations/{}", station["id"].as_str().unwrap());
    let wang = app
        .member(district["id"].as_str().unwrap(), "HD-1", "王芳")
        .await;
    let li = app
        .member(district["id"].as_str().unwrap(), "HD-2", "李华")
        .await;
    let outsider = app
        .member(other["id"].as_str().unwrap(), "YQ-1", "赵六")
        .await;

    let response = app
        .post(
            &format!("{station_path}/activities"),
            &json!({
                "kind": "online_consultation",
                "title": "垃圾分类线上咨询",
                "held_on": "2026-03-15",
                "participant_ids": [wang["id"], outsider["id"]],
                "people_reached": -1,
            }),
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
    assert_eq!(pointers, ["/participant_ids/1", "/people_reached"]);

    let response = app
        .post(
            &format!("{station_path}/activities"),
            &json!({
                "kind": "online_consultation",
                "title": "垃圾分类线上咨询",
                "held_on": "2026-03-15",
                "participant_ids": [wang["id"], li["id"], wang["id"]],
                "people_reached": 120,
                "opinions_collected": 14,
                "summary": "收集意见十四条。\n已转区城管委。",
            }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let activity: Value = response.json().await.unwrap();
    assert_eq!(activity["participant_ids"].as_array().unwrap().len(), 2);
    assert_eq!(activity["district_id"], district["id"]);
    app.post(
        &format!("{station_path}/activities"),
        &json!({"kind": "lecture", "title": "委员讲堂", "held_on": "2026-05-01"}),
    )
    .await;

    let list = |path: String| {
        let app = &app;
        async move {
            let response = app.get(&path).await;
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            let page: Value = response.json().await.unwrap();
            page["items"].as_array().unwrap().len()
        }
    };
    assert_eq!(list(format!("{station_path}/activities")).await, 2);
    assert_eq!(
        list(format!("{station_path}/activities?kind=lecture")).await,
        1
    );
    assert_eq!(
        list(format!(
            "/api/v1/activities?member_id={}",
            li["id"].as_str().unwrap()
        ))
        .await,
        1
    );
    assert_eq!(
        list("/api/v1/activities?held_from=2026-04-01".into()).await,
        1
    );
    assert_eq!(
        list("/api/v1/activities?held_to=2026-04-01&district=haidian".into()).await,
        1
    );
    assert_eq!(list("/api/v1/activities?district=yanqing".into()).await, 0);
    assert_eq!(
        list(format!(
            "/api/v1/activities?workstation_id={}",
            station["id"].as_str().unwrap()
        ))
        .await,
        2
    );
    let response = app
        .get(&format!(
            "/api/v1/workstations/{}/activities",
            uuid::Uuid::now_v7()
        ))
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    let response = app
        .patch(
            &location,
            &json!({"participant_ids": [li["id"]], "summary": null}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let changed: Value = response.json().await.unwrap();
    assert_eq!(changed["participant_ids"], json!([li["id"]]));
    assert_eq!(changed["summary"], Value::Null);

    // A workstation with activities cannot be deleted until they are.
    assert_eq!(
        app.delete(&station_path).await.status(),
        StatusCode::CONFLICT
    );
    let all: Value = app
        .get(&format!("{station_path}/activities"))
        .await
        .json()
        .await
        .unwrap();
    for item in all["items"].as_array().unwrap() {
        let path = format!("/api/v1/activities/{}", item["id"].as_str().unwrap());
        assert_eq!(app.delete(&path).await.status(), StatusCode::NO_CONTENT);
    }
    assert_eq!(
        app.delete(&station_path).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.get(&location).await.status(), StatusCode::NOT_FOUND);
}
