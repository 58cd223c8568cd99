//! The change feed and the snapshot: a reader never misses a commit, never sees one twice,
//! and a mirror built from a snapshot and the feed ends equal to the server.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

/// One page of the feed after `cursor` (from the beginning when it is empty).
async fn read(app: &TestApp, cursor: &str, query: &str) -> Value {
    let after = if cursor.is_empty() {
        String::new()
    } else {
        format!("after={cursor}&")
    };
    let response = app
        .get(&format!("/api/v1/changes?{after}limit=1000{query}"))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// Reads until the feed is empty; answers every item and the cursor after them.
async fn drain(app: &TestApp, mut cursor: String, query: &str) -> (Vec<Value>, String) {
    let mut items = Vec::new();
    loop {
        let page = read(app, &cursor, query).await;
        let got = page["items"].as_array().unwrap().clone();
        cursor = page["next_cursor"].as_str().unwrap().to_owned();
        let empty = got.is_empty();
        items.extend(got);
        if empty {
            return (items, cursor);
        }
    }
}

/// Reads until `done` holds of everything read so far (other databases' transactions on
/// the same server may hold the horizon back for a moment).
async fn read_until(
    app: &TestApp,
    mut cursor: String,
    query: &str,
    done: impl Fn(&[Value]) -> bool,
) -> (Vec<Value>, String) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut items = Vec::new();
    loop {
        let (got, next) = drain(app, cursor, query).await;
        items.extend(got);
        cursor = next;
        if done(&items) {
            return (items, cursor);
        }
        assert!(Instant::now() < deadline, "the feed did not catch up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn mentions(items: &[Value], id: &str) -> usize {
    items.iter().filter(|item| item["id"] == id).count()
}

/// The latest change of a record among `items` (a record written again while others'
/// transactions held the horizon can come once per write).
fn latest<'a>(items: &'a [Value], id: &str) -> Option<&'a Value> {
    items.iter().rev().find(|item| item["id"] == id)
}

#[tokio::test]
async fn a_commit_behind_an_open_transaction_is_held_back_and_then_delivered() {
    let app = spawn_app().await;
    let district = app.district("xicheng").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let member = app.member(&district, "1", "王芳").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, cursor) = read_until(&app, String::new(), "", |items| {
        mentions(items, &member) == 1
    })
    .await;

    // A writer takes its transaction id and stamps the member first...
    let mut db = app.db().await;
    let open = db.transaction().await.unwrap();
    open.execute(
        "UPDATE members SET name = '王芳芳' WHERE id = $1::text::uuid",
        &[&member],
    )
    .await
    .unwrap();
    // ...while a later one commits a department.
    let department = app
        .post(
            "/api/v1/departments",
            &json!({"district_id": district, "name": "区教委", "kind": "government"}),
        )
        .await;
    assert_eq!(department.status(), StatusCode::CREATED);
    let department: Value = department.json().await.unwrap();
    let department = department["id"].as_str().unwrap().to_owned();

    // The committed department waits behind the open transaction: were it delivered now,
    // the cursor would pass the member's earlier stamp and its change would be lost.
    let page = read(&app, &cursor, "").await;
    assert_eq!(page["items"], json!([]));
    assert_eq!(page["next_cursor"], cursor.as_str());

    open.commit().await.unwrap();
    let (items, _) = read_until(&app, cursor, "", |items| {
        mentions(items, &member) == 1 && mentions(items, &department) == 1
    })
    .await;
    let changed = items.iter().find(|item| item["id"] == member).unwrap();
    assert_eq!(changed["collection"], "members");
    assert_eq!(changed["op"], "upsert");
    assert_eq!(changed["version"], 2);
    assert_eq!(changed["record"]["name"], "王芳芳");
    // In the order the feed fixes: the member's transaction began writing first.
    let position = |id: &str| items.iter().position(|item| item["id"] == id).unwrap();
    assert!(position(&member) < position(&department));
}

#[tokio::test]
async fn the_feed_answers_deletions_filters_and_bad_cursors() {
    let app = spawn_app().await;
    let xicheng = app.district("xicheng").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let haidian = app.district("haidian").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let member = app.member(&xicheng, "1", "王芳").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let other = app.member(&haidian, "1", "李明").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        app.delete(&format!("/api/v1/members/{member}"))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let (items, _) = read_until(&app, String::new(), "&collections=members", |items| {
        latest(items, &member).is_some_and(|item| item["op"] == "delete")
            && mentions(items, &other) == 1
    })
    .await;
    let deleted = latest(&items, &member).unwrap();
    assert_eq!(deleted["op"], "delete");
    assert_eq!(deleted["record"], Value::Null);
    assert!(items.iter().all(|item| item["collection"] == "members"));

    // A district key reads only its own district, whatever it asks for.
    let clerk = app.key("clerk", Some(&xicheng)).await;
    let own: Value = app
        .request_as(
            Some(&clerk),
            Method::GET,
            "/api/v1/changes?collections=members",
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mentions(own["items"].as_array().unwrap(), &other), 0);
    let asked: Value = app
        .request_as(
            Some(&clerk),
            Method::GET,
            &format!("/api/v1/changes?district_id={haidian}"),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(asked["items"], json!([]));

    // An admin filters by district.
    let (items, _) = read_until(
        &app,
        String::new(),
        &format!("&district_id={haidian}"),
        |items| mentions(items, &other) == 1,
    )
    .await;
    assert_eq!(mentions(&items, &member), 0);
    assert_eq!(mentions(&items, &haidian), 1);

    for bad in [
        "after=12",
        "after=a.b",
        "after=0.0",
        "limit=0",
        "limit=1001",
        "collections=members,keys",
    ] {
        let response = app.get(&format!("/api/v1/changes?{bad}")).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json",
            "{bad}"
        );
    }

    // A cursor of the right shape that the feed did not hand out, or one altered: 422.
    let page = read(&app, "", "").await;
    let issued = page["next_cursor"].as_str().unwrap().to_owned();
    let (position, tag) = issued.rsplit_once('.').unwrap();
    let (txid, seq) = position.split_once('.').unwrap();
    let earlier = format!(
        "{txid}.{}.{tag}",
        seq.parse::<i64>().unwrap().saturating_sub(1)
    );
    let forged_tag = format!("{position}.{}", "A".repeat(22));
    for foreign in [earlier, forged_tag] {
        let response = app.get(&format!("/api/v1/changes?after={foreign}")).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{foreign}"
        );
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["errors"][0]["pointer"], "after", "{problem}");
    }
}

/// A district system's copy: records by collection and id.
#[derive(Default)]
struct Mirror {
    records: BTreeMap<(String, String), Value>,
    /// Every version each record was seen at, in the order seen.
    seen: HashMap<(String, String), Vec<i64>>,
}

impl Mirror {
    fn apply(&mut self, item: &Value) {
        let key = (
            item["collection"].as_str().unwrap().to_owned(),
            item["id"].as_str().unwrap().to_owned(),
        );
        self.seen
            .entry(key.clone())
            .or_default()
            .push(item["version"].as_i64().unwrap());
        if item["op"] == "delete" {
            self.records.remove(&key);
        } else {
            self.records.insert(key, item["record"].clone());
        }
    }
}

/// The server's live records of a collection, through its list.
async fn server_records(app: &TestApp, collection: &str) -> Vec<Value> {
    let mut records = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/v1/{collection}?limit=200");
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={cursor}"));
        }
        let page: Value = app.get(&path).await.json().await.unwrap();
        records.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return records,
        }
    }
}

async fn writer(app: &TestApp, district: &str, (code, name): (&str, &str), rounds: usize) {
    for round in 0..rounds {
        let member = app
            .post(
                "/api/v1/members",
                &json!({
                    "district_id": district, "member_no": format!("{code}-{round}"),
                    "name": format!("{name}{round}"), "sector": "economy", "party": "cpc",
                }),
            )
            .await;
        assert_eq!(member.status(), StatusCode::CREATED);
        let member: Value = member.json().await.unwrap();
        let path = format!("/api/v1/members/{}", member["id"].as_str().unwrap());
        let changed = app
            .patch(
                &path,
                &json!({"employer_title": format!("第{round}次修改")}),
            )
            .await;
        assert_eq!(changed.status(), StatusCode::OK);
        if round % 3 == 0 {
            assert_eq!(app.delete(&path).await.status(), StatusCode::NO_CONTENT);
        }
        if round % 4 == 0 {
            let department = app
                .post(
                    "/api/v1/departments",
                    &json!({"district_id": district, "name": format!("{name}局{round}"), "kind": "government"}),
                )
                .await;
            assert_eq!(department.status(), StatusCode::CREATED);
        }
    }
}

#[tokio::test]
async fn a_mirror_from_a_snapshot_and_the_feed_ends_equal_to_the_server() {
    let app = spawn_app().await;
    let district = app.district("xicheng").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    writer(&app, &district, ("a", "甲"), 6).await;

    // Writers run while the district system bootstraps and follows the feed.
    let follower = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let response = app
            .get("/api/v1/sync/snapshot?collections=members,departments")
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "application/x-ndjson");
        let text = response.text().await.unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        let last = lines.last().unwrap();
        assert_eq!(last["type"], "cursor");
        let mut mirror = Mirror::default();
        for line in &lines[..lines.len() - 1] {
            assert_eq!(line["type"], "record");
            mirror.apply(line);
        }
        let mut cursor = last["cursor"].as_str().unwrap().to_owned();
        for _ in 0..40 {
            let (items, next) = drain(&app, cursor, "&collections=members,departments").await;
            cursor = next;
            for item in &items {
                mirror.apply(item);
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        (mirror, cursor)
    };
    let writers = async {
        tokio::join!(
            writer(&app, &district, ("b", "乙"), 12),
            writer(&app, &district, ("c", "丙"), 12),
            writer(&app, &district, ("d", "丁"), 12),
        )
    };
    let ((mut mirror, cursor), _) = tokio::join!(follower, writers);

    // After the writers stop, the feed catches up with the server.
    let expected_members = server_records(&app, "members").await;
    let expected_departments = server_records(&app, "departments").await;
    let mut expected: BTreeMap<(String, String), Value> = BTreeMap::new();
    for (collection, records) in [
        ("members", &expected_members),
        ("departments", &expected_departments),
    ] {
        for record in records {
            let id = record["id"].as_str().unwrap().to_owned();
            expected.insert((collection.to_owned(), id), record.clone());
        }
    }
    let mut cursor = cursor;
    let deadline = Instant::now() + Duration::from_secs(30);
    while mirror.records != expected {
        assert!(
            Instant::now() < deadline,
            "the mirror did not converge: {} records, {} on the server",
            mirror.records.len(),
            expected.len()
        );
        let (items, next) = drain(&app, cursor, "&collections=members,departments").await;
        cursor = next;
        for item in &items {
            mirror.apply(item);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // 6 + 36 members created, a third of them deleted; departments every fourth round.
    assert_eq!(expected_members.len(), 42 - 2 - 3 * 4);
    assert_eq!(expected_departments.len(), 2 + 3 * 3);
    // Nothing was delivered twice: each record's versions only ever increase.
    for (key, versions) in &mirror.seen {
        assert!(
            versions.windows(2).all(|pair| pair[0] < pair[1]),
            "{key:?} seen at versions {versions:?}"
        );
    }
}

#[tokio::test]
async fn the_snapshot_is_for_sync_keys_and_holds_only_their_district() {
    let app = spawn_app().await;
    let xicheng = app.district("xicheng").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let haidian = app.district("haidian").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let own = app.member(&xicheng, "1", "王芳").await;
    app.member(&haidian, "1", "李明").await;
    let sync = app.key("sync", Some(&xicheng)).await;
    // A record is in a snapshot once every transaction older than its own has ended
    // (other tests' included); until then it is in the feed after the snapshot's cursor.
    let deadline = Instant::now() + Duration::from_secs(30);
    let records = loop {
        let response = app
            .request_as(Some(&sync), Method::GET, "/api/v1/sync/snapshot", None)
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let text = response.text().await.unwrap();
        let records: Vec<Value> = text
            .lines()
            .map(|line| serde_json::from_str::<Value>(line).unwrap())
            .filter(|line| line["type"] == "record")
            .collect();
        if mentions(&records, own["id"].as_str().unwrap()) == 1 {
            break records;
        }
        assert!(
            Instant::now() < deadline,
            "the snapshot never held the member"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let ids: Vec<&str> = records
        .iter()
        .map(|line| line["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [xicheng.as_str(), own["id"].as_str().unwrap()]);
    let member = records.iter().find(|line| line["collection"] == "members");
    assert_eq!(member.unwrap()["record"]["name"], "王芳");

    let auditor = app.key("auditor", None).await;
    let response = app
        .request_as(Some(&auditor), Method::GET, "/api/v1/sync/snapshot", None)
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_feed_carries_records_that_live_under_others() {
    let app = spawn_app().await;
    let district = app.district("xicheng").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let member = app.member(&district, "1", "王芳").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let created = |response: reqwest::Response| async move {
        assert!(response.status().is_success(), "{}", response.status());
        let body: Value = response.json().await.unwrap();
        body["id"].as_str().unwrap_or_default().to_owned()
    };
    let topic = created(
        app.post(
            "/api/v1/consultations",
            &json!({"district_id": district, "year": 2026, "title": "议题"}),
        )
        .await,
    )
    .await;
    let activity = created(
        app.post(
            &format!("/api/v1/consultations/{topic}/activities"),
            &json!({"format": "thematic_meeting", "held_on": "2026-04-01"}),
        )
        .await,
    )
    .await;
    let department = created(
        app.post(
            "/api/v1/departments",
            &json!({"district_id": district, "name": "区教委", "kind": "government"}),
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
    created(app.put(&at(&format!("evaluators/{member}"))).await).await;
    for step in [
        format!("evaluators/{member}/training"),
        "start-investigation".into(),
    ] {
        created(app.post(&at(&step), &json!({})).await).await;
    }
    let visit = created(
        app.post(
            &at("visits"),
            &json!({"visited_on": "2026-05-06", "place": "大厅", "visited": "窗口"}),
        )
        .await,
    )
    .await;
    created(app.post(&at("start-deliberation"), &json!({})).await).await;
    let rated = app
        .request(
            Method::PUT,
            &at(&format!("ratings/{member}/integrity")),
            Some(&json!({"rating": "satisfied"})),
        )
        .await;
    assert_eq!(rated.status(), StatusCode::CREATED);
    created(
        app.post(
            &at("start-rectification"),
            &json!({"text": "报告", "findings": [{"description": "问题", "due_on": "2026-12-31"}]}),
        )
        .await,
    )
    .await;
    let items: Value = app
        .get(&at("rectification-items"))
        .await
        .json()
        .await
        .unwrap();
    let item = items["items"][0]["id"].as_str().unwrap().to_owned();
    created(
        app.post(
            &at(&format!("rectification-items/{item}/notes")),
            &json!({"text": "已整改一半"}),
        )
        .await,
    )
    .await;
    assert_eq!(
        app.delete(&format!(
            "/api/v1/consultations/{topic}/activities/{activity}"
        ))
        .await
        .status(),
        StatusCode::NO_CONTENT
    );

    let query = "&collections=consultation_activities,evaluation_visits,rectification_items";
    let (items, _) = read_until(&app, String::new(), query, |items| {
        latest(items, &activity).is_some_and(|entry| entry["op"] == "delete")
            && mentions(items, &visit) == 1
            && latest(items, &item).is_some_and(|entry| entry["version"] == 2)
    })
    .await;
    let of = |id: &str| latest(&items, id).unwrap();
    assert_eq!(of(&activity)["op"], "delete");
    assert_eq!(of(&activity)["collection"], "consultation_activities");
    assert_eq!(of(&visit)["record"]["place"], "大厅");
    assert_eq!(of(&item)["collection"], "rectification_items");
    assert_eq!(of(&item)["record"]["notes"][0]["text"], "已整改一半");
}

#[tokio::test]
async fn every_collection_is_served_documented_and_listed() {
    use cppcc_api::domain::changes::Collection;
    let app = spawn_app().await;
    let spec = serde_json::to_value(cppcc_api::openapi::document()).unwrap();
    for (path, operation) in [("/api/v1/changes", "get"), ("/api/v1/sync/snapshot", "get")] {
        let parameter = spec["paths"][path][operation]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|parameter| parameter["name"] == "collections")
            .unwrap_or_else(|| panic!("{path} takes collections"))
            .clone();
        assert_eq!(
            parameter["schema"]["items"]["$ref"], "#/components/schemas/Collection",
            "{path}: a list of collections"
        );
        assert_eq!(parameter["explode"], false, "{path}: comma-separated");
        let listed: Vec<&str> = spec["components"]["schemas"]["Collection"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|value| value.as_str().unwrap())
            .collect();
        for collection in Collection::ALL {
            let name = collection.as_str();
            assert!(listed.contains(&name), "the document lists {name}");
            let response = app.get(&format!("{path}?collections={name}")).await;
            assert_eq!(response.status(), 200, "{path} serves {name}");
        }
        let all = Collection::ALL
            .iter()
            .map(|collection| collection.as_str())
            .collect::<Vec<_>>()
            .join(",");
        assert_eq!(listed.len(), Collection::ALL.len());
        assert_eq!(
            app.get(&format!("{path}?collections=nothing"))
                .await
                .status(),
            400
        );
        assert_eq!(
            app.get(&format!("{path}?collections={all}")).await.status(),
            200
        );
    }
}
