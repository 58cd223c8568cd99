//! The audit trail: every write, in its transaction, hash-chained, append-only,
//! queryable, exportable and verifiable.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

async fn events(app: &TestApp, query: &str) -> Vec<Value> {
    let response = app.get(&format!("/api/v1/audit-events{query}")).await;
    assert_eq!(response.status(), StatusCode::OK, "{query}");
    let page: Value = response.json().await.unwrap();
    page["items"].as_array().unwrap().clone()
}

/// Makes chaining fail (events stay pending) until `DROP TRIGGER refuse ON audit_events`.
const HOLD_CHAINING: &str = "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ \
     BEGIN RAISE EXCEPTION 'chain storage failed'; END $$; \
     CREATE TRIGGER refuse BEFORE INSERT ON audit_events \
     FOR EACH ROW EXECUTE FUNCTION refuse();";

/// Polls `done` every 50 ms until it holds; fails the test if it does not within 2 s.
async fn within_two_seconds(what: &str, mut done: impl AsyncFnMut() -> bool) {
    for _ in 0..40 {
        if done().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(done().await, "{what} within 2 s");
}

async fn verify(app: &TestApp) -> Value {
    app.get("/api/v1/audit-events/verify")
        .await
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn every_write_is_in_the_trail_with_its_actor_request_and_states() {
    let app = spawn_app().await;
    let district = app.district("xicheng").await;
    let clerk = app
        .key("clerk", Some(district["id"].as_str().unwrap()))
        .await;
    let response = app
        .anonymous
        .post(app.url("/api/v1/members"))
        .bearer_auth(&clerk)
        .header("X-Request-Id", "req-member-1")
        .json(&json!({
            "district_id": district["id"], "member_no": "1", "name": "王芳",
            "sector": "economy", "party": "cpc", "phone": "13800000000",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let member: Value = response.json().await.unwrap();
    let path = format!("/api/v1/members/{}", member["id"].as_str().unwrap());
    app.request_as(
        Some(&clerk),
        Method::PATCH,
        &path,
        Some(&json!({"name": "王小芳"})),
    )
    .await;
    app.request_as(Some(&clerk), Method::DELETE, &path, None)
        .await;

    let trail = events(
        &app,
        &format!(
            "?entity_type=member&entity_id={}",
            member["id"].as_str().unwrap()
        ),
    )
    .await;
    let actions: Vec<&str> = trail
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["create", "update", "delete"]);
    let created = &trail[0];
    assert_eq!(created["request_id"], "req-member-1");
    assert_eq!(created["actor_role"], "clerk");
    assert_eq!(created["actor_district_id"], district["id"]);
    assert_eq!(created["district_id"], district["id"]);
    assert_eq!(created["before"], Value::Null);
    assert!(
        created["after"]["phone"]["commitment"].is_string(),
        "the hashed form holds a commitment: {created}"
    );
    assert_eq!(
        created["openings"]["after.phone"]["value"], "13800000000",
        "the trail keeps contact data apart"
    );
    assert_eq!(trail[1]["before"]["name"], "王芳");
    assert_eq!(trail[1]["after"]["name"], "王小芳");
    assert_eq!(trail[2]["after"], Value::Null);
    let keys: Value = app.get("/api/v1/keys").await.json().await.unwrap();
    let clerk_id = keys["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["role"] == "clerk")
        .unwrap()["id"]
        .clone();
    assert_eq!(created["actor_key_id"], clerk_id);
    let by_actor = events(
        &app,
        &format!("?actor_key_id={}", clerk_id.as_str().unwrap()),
    )
    .await;
    assert_eq!(by_actor.len(), 3);
}

#[tokio::test]
async fn a_refused_write_leaves_no_event_and_a_no_op_patch_none() {
    let app = spawn_app().await;
    let district = app.district("xicheng").await;
    app.member(district["id"].as_str().unwrap(), "1", "王芳")
        .await;
    let before = events(&app, "?limit=200").await.len();
    let response = app
        .post(
            "/api/v1/members",
            &json!({"district_id": district["id"], "member_no": "1", "name": "李华", "sector": "economy", "party": "cpc"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    app.patch("/api/v1/districts/xicheng", &json!({"term": 16}))
        .await;
    assert_eq!(events(&app, "?limit=200").await.len(), before);
}

/// A write's events go to the server with its COMMIT (and with the answer its
/// Idempotency-Key keeps): when they cannot be stored, nothing of the write is.
#[tokio::test]
async fn a_write_whose_audit_append_fails_does_not_happen() {
    let app = spawn_app().await;
    let haidian = app.district("haidian").await;
    let db = app.db().await;
    let count = async |sql: &str| -> i64 { db.query_one(sql, &[]).await.unwrap().get(0) };
    db.batch_execute(
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN RAISE EXCEPTION 'audit storage failed'; END $$; \
         CREATE TRIGGER refuse BEFORE INSERT ON audit_pending \
         FOR EACH ROW EXECUTE FUNCTION refuse();",
    )
    .await
    .unwrap();
    let xicheng = json!({"code": "xicheng", "name": "西城区", "term": 16});
    let keyed = || {
        app.anonymous
            .post(app.url("/api/v1/districts"))
            .bearer_auth(&app.admin_token)
            .header("Idempotency-Key", "audit-fails")
            .json(&xicheng)
            .send()
    };
    let haidian_path = format!("/api/v1/districts/{}", haidian["id"].as_str().unwrap());
    let answers = [
        ("a create", app.post("/api/v1/districts", &xicheng).await),
        ("a create with an Idempotency-Key", keyed().await.unwrap()),
        (
            "a change",
            app.patch(&haidian_path, &json!({"name": "海淀"})).await,
        ),
    ];
    for (what, response) in answers {
        assert_eq!(
            response.status(),
            StatusCode::INTERNAL_SERVER_ERROR,
            "{what}"
        );
        let problem: Value = response.json().await.unwrap();
        assert!(
            !problem["detail"]
                .as_str()
                .unwrap()
                .contains("audit storage"),
            "{what}: no internals leak"
        );
    }
    assert_eq!(
        count("SELECT count(*) FROM districts WHERE code = 'xicheng'").await,
        0,
        "the district was not written"
    );
    assert_eq!(
        count("SELECT count(*) FROM districts WHERE name = '海淀'").await,
        0,
        "the change was not written"
    );
    assert_eq!(
        count("SELECT count(*) FROM idempotency_keys").await,
        0,
        "the key keeps no answer"
    );
    db.batch_execute("DROP TRIGGER refuse ON audit_pending")
        .await
        .unwrap();
    let retried = keyed().await.unwrap();
    assert_eq!(retried.status(), StatusCode::CREATED, "the key runs again");
}

#[tokio::test]
async fn the_trail_is_append_only_in_the_database_itself() {
    let app = spawn_app().await;
    app.district("xicheng").await;
    let db = app.sealed_db().await;
    // One write's event held pending: chaining fails until the trigger goes.
    db.batch_execute(HOLD_CHAINING).await.unwrap();
    app.district("haidian").await;
    for (statement, refusal) in [
        ("UPDATE audit_events SET action = 'nothing'", "append-only"),
        ("DELETE FROM audit_events", "append-only"),
        ("TRUNCATE audit_events", "append-only"),
        (
            "UPDATE audit_pending SET actions = '{nothing}'",
            "leaves only onto the chain",
        ),
        ("DELETE FROM audit_pending", "leaves only onto the chain"),
        ("TRUNCATE audit_pending", "leaves only onto the chain"),
    ] {
        let error = db.batch_execute(statement).await.unwrap_err();
        assert!(
            error.as_db_error().unwrap().message().contains(refusal),
            "{statement}: {error}"
        );
    }
    db.batch_execute("DROP TRIGGER refuse ON audit_events")
        .await
        .unwrap();
    assert_eq!(
        events(&app, "?entity_type=district").await.len(),
        2,
        "the pending event reached the chain"
    );
    assert_eq!(verify(&app).await["ok"], true);
}

/// A pending event is chained from the canonical text its hash covers: the columns a
/// writer of the previous release also filled are not read, so a chained event cannot
/// disagree with its hash whatever they hold.
#[tokio::test]
async fn a_pending_event_is_chained_from_the_text_its_hash_covers() {
    let app = spawn_app().await;
    let db = app.sealed_db().await;
    db.batch_execute(HOLD_CHAINING).await.unwrap();
    let district = app.district("xicheng").await;
    // The previous release's columns, filled with what the event is not.
    db.batch_execute(
        "ALTER TABLE audit_pending DISABLE TRIGGER audit_pending_no_update; \
         UPDATE audit_pending SET occurred_at = '2001-01-01T00:00:00Z', actions = '{forged}', \
             entity_types = '{forged}', entity_ids = '{forged}', \
             district_ids = ARRAY[gen_random_uuid()], befores = ARRAY['{\"forged\": 1}'::jsonb], \
             afters = ARRAY['{\"forged\": 2}'::jsonb], request_id = 'forged'; \
         ALTER TABLE audit_pending ENABLE TRIGGER audit_pending_no_update; \
         DROP TRIGGER refuse ON audit_events;",
    )
    .await
    .unwrap();
    let chained = events(&app, "?entity_type=district").await;
    assert_eq!(chained.len(), 1, "{chained:?}");
    let event = &chained[0];
    assert_eq!(event["action"], "create");
    assert_eq!(event["entity_id"], district["id"]);
    assert_eq!(event["before"], Value::Null);
    assert_eq!(event["after"]["code"], "xicheng");
    assert_ne!(event["request_id"], "forged");
    assert!(
        event["occurred_at"].as_str().unwrap().starts_with("20")
            && !event["occurred_at"].as_str().unwrap().starts_with("2001"),
        "{event}"
    );
    assert_eq!(verify(&app).await["ok"], true);
}

#[tokio::test]
async fn a_write_is_answered_before_its_events_are_chained_and_they_are_chained_soon() {
    let app = spawn_app().await;
    app.sealed_db().await;
    let db = app.db().await;
    // Sealing is stopped: the write must not wait for it.
    db.batch_execute(HOLD_CHAINING).await.unwrap();
    let response = app
        .post(
            "/api/v1/districts",
            &json!({"code": "xicheng", "name": "西城区", "term": 16}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED, "acknowledged");
    let count = async |table: &str| -> i64 {
        db.query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .unwrap()
            .get(0)
    };
    assert_eq!(
        count("audit_pending").await,
        1,
        "its event waits, committed"
    );
    within_two_seconds("the sealer tried and failed", async || {
        app.metric("cppcc_audit_seal_failures_total").await > 0.0
    })
    .await;
    let reader = app.get("/api/v1/audit-events").await;
    assert_eq!(reader.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(count("audit_pending").await, 1, "nothing is lost");

    // Storage comes back: the sealer chains the event without any reader asking.
    db.batch_execute("DROP TRIGGER refuse ON audit_events")
        .await
        .unwrap();
    let length = count("audit_events").await;
    within_two_seconds("the sealer chained it", async || {
        count("audit_pending").await == 0
    })
    .await;
    assert_eq!(count("audit_events").await, length + 1);
    let districts = events(&app, "?entity_type=district").await;
    assert_eq!(districts.len(), 1);
    assert_eq!(districts[0]["after"]["name"], "西城区");
    assert_eq!(verify(&app).await["ok"], true);
}

#[tokio::test]
async fn a_write_is_chained_soon_after_it_is_answered_without_any_reader() {
    let app = spawn_app().await;
    app.sealed_db().await;
    let db = app.db().await;
    let response = app
        .post(
            "/api/v1/districts",
            &json!({"code": "xicheng", "name": "西城区", "term": 16}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    within_two_seconds("chained", async || {
        let chained: i64 = db
            .query_one(
                "SELECT count(*) FROM audit_events WHERE entity_type = 'district'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        chained == 1
    })
    .await;
    // The sealer counts a round once its transaction has committed: a reader may see the
    // chained event a moment before the count.
    within_two_seconds("counted", async || {
        app.metric("cppcc_audit_sealed_events_total").await > 0.0
    })
    .await;
}

#[tokio::test]
async fn verify_checks_the_chain_and_points_at_an_edited_or_removed_event() {
    let app = spawn_app().await;
    for code in ["aa", "bb", "cc", "dd"] {
        app.district(code).await;
    }
    let result = verify(&app).await;
    assert_eq!(result["ok"], true, "{result}");
    assert_eq!(result["checked"], 5, "the admin key and four districts");
    let all = events(&app, "").await;
    assert_eq!(result["head"], all.last().unwrap()["hash"]);
    for pair in all.windows(2) {
        assert_eq!(pair[1]["prev_hash"], pair[0]["hash"]);
        assert_eq!(
            pair[1]["seq"].as_i64().unwrap(),
            pair[0]["seq"].as_i64().unwrap() + 1
        );
    }
    let part: Value = app
        .get("/api/v1/audit-events/verify?from_seq=2&to_seq=3")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (part["ok"].clone(), part["checked"].clone()),
        (json!(true), json!(2))
    );

    // The database superuser edits an event behind the service's back.
    let db = app.db().await;
    db.batch_execute(
        "SET session_replication_role = replica; \
         UPDATE audit_events SET after = jsonb_set(after, '{name}', '\"篡改\"') WHERE seq = 3; \
         SET session_replication_role = DEFAULT;",
    )
    .await
    .unwrap();
    let result = verify(&app).await;
    assert_eq!(result["ok"], false);
    assert_eq!(result["broken_seq"], 3, "{result}");
    assert_eq!(result["checked"], 2);

    db.batch_execute(
        "SET session_replication_role = replica; \
         UPDATE audit_events SET after = jsonb_set(after, '{name}', '\"bb区\"') WHERE seq = 3; \
         DELETE FROM audit_events WHERE seq = 4; \
         SET session_replication_role = DEFAULT;",
    )
    .await
    .unwrap();
    let result = verify(&app).await;
    assert_eq!(result["ok"], false, "{result}");
    assert_eq!(
        result["broken_seq"], 4,
        "the removed event is named: {result}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_keep_the_chain_whole() {
    let app = spawn_app().await;
    let writes = (0..16).map(|index| {
        let client = app.client.clone();
        let url = app.url("/api/v1/districts");
        async move {
            client
                .post(url)
                .json(&json!({"code": format!("d{index:02}"), "name": format!("d{index:02}"), "term": 1}))
                .send()
                .await
                .unwrap()
                .status()
        }
    });
    for status in futures_util::future::join_all(writes).await {
        assert_eq!(status, StatusCode::CREATED);
    }
    let result = verify(&app).await;
    assert_eq!(result["ok"], true, "{result}");
    assert_eq!(result["checked"], 17);
}

#[tokio::test]
async fn the_trail_is_filtered_paged_and_exported_whole() {
    let app = spawn_app().await;
    let xicheng = app.district("xicheng").await;
    let haidian = app.district("haidian").await;
    for (index, district) in [&xicheng, &haidian, &xicheng].into_iter().enumerate() {
        app.member(
            district["id"].as_str().unwrap(),
            &format!("M{index}"),
            "委员",
        )
        .await;
    }
    let members = events(&app, "?entity_type=member").await;
    assert_eq!(members.len(), 3);
    let in_xicheng = events(
        &app,
        &format!("?district_id={}", xicheng["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(in_xicheng.len(), 3, "the district and its two members");
    assert_eq!(events(&app, "?action=create_key").await.len(), 1);
    assert!(events(&app, "?from=2199-01-01T00:00:00Z").await.is_empty());
    assert_eq!(events(&app, "?to=2000-01-01T00:00:00Z").await.len(), 0);

    let page = app.get("/api/v1/audit-events?limit=2").await;
    assert!(page.headers()["vary"].to_str().unwrap().contains("Accept"));
    let first: Value = app
        .get("/api/v1/audit-events?limit=2")
        .await
        .json()
        .await
        .unwrap();
    let cursor = first["next_cursor"].as_str().unwrap();
    let second: Value = app
        .get(&format!("/api/v1/audit-events?limit=2&cursor={cursor}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(second["items"][0]["seq"], 3);

    let response = app
        .client
        .get(app.url("/api/v1/audit-events"))
        .header("Accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    // One URL, two formats by Accept: a cache must keep them apart.
    let vary = response.headers()["vary"].to_str().unwrap().to_owned();
    assert!(vary.contains("Accept"), "{vary}");
    // A file people open: Excel (on a Chinese Windows too) reads it as UTF-8, and saves it
    // under a name of its own, in Chinese where the client reads `filename*`.
    assert_eq!(
        response.headers()["content-disposition"],
        "attachment; filename=\"audit-events.csv\"; \
         filename*=UTF-8''%E5%AE%A1%E8%AE%A1%E8%AE%B0%E5%BD%95.csv"
    );
    let bytes = response.bytes().await.unwrap();
    assert!(bytes.starts_with("\u{feff}seq,occurred_at,".as_bytes()));
    let csv = String::from_utf8(bytes.to_vec()).unwrap();
    let csv = csv.trim_start_matches('\u{feff}');
    let mut lines = csv.lines();
    assert!(lines.next().unwrap().starts_with("seq,occurred_at,"));
    assert_eq!(
        csv.matches("\n").count(),
        1 + 6,
        "a header and every event: {csv}"
    );

    let response = app
        .client
        .get(app.url("/api/v1/audit-events?entity_type=member"))
        .header("Accept", "application/x-ndjson")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    let lines: Vec<Value> = response
        .text()
        .await
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert!(lines.iter().all(|event| event["entity_type"] == "member"));
}

#[tokio::test]
async fn the_export_streams_past_one_batch() {
    let app = spawn_app().await;
    let district = app.district("xicheng").await;
    // Many events, written directly as the service would chain them.
    let mut conn = {
        use diesel_async::{AsyncConnection, AsyncPgConnection};
        AsyncPgConnection::establish(&app.database_url)
            .await
            .unwrap()
    };
    for index in 0..1500 {
        let change = cppcc_api::db::audit::Change::new(
            "update",
            cppcc_api::domain::kinds::Entity::District,
            index,
            None,
        )
        .after(&json!({"n": index}));
        cppcc_api::db::audit::append(
            &mut conn,
            &cppcc_api::db::audit::Actor::command("test"),
            change,
        )
        .await
        .unwrap();
    }
    let _ = district;
    let response = app
        .client
        .get(app.url("/api/v1/audit-events"))
        .header("Accept", "application/x-ndjson")
        .send()
        .await
        .unwrap();
    let text = response.text().await.unwrap();
    assert_eq!(text.lines().count(), 1502);
    let last: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(last["seq"], 1502);
    assert_eq!(verify(&app).await["checked"], 1502);
}

#[tokio::test]
async fn a_records_history_is_its_trail_within_the_callers_scope() {
    let app = spawn_app().await;
    let xicheng = app.district("xicheng").await;
    let haidian = app.district("haidian").await;
    let member = app
        .member(xicheng["id"].as_str().unwrap(), "1", "王芳")
        .await;
    let path = format!("/api/v1/members/{}", member["id"].as_str().unwrap());
    app.patch(&path, &json!({"email": "wang@example.cn"})).await;
    let history: Value = app
        .get(&format!("{path}/history"))
        .await
        .json()
        .await
        .unwrap();
    let items = history["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(
        items[1]["openings"]["after.email"]["value"],
        "wang@example.cn"
    );

    let sync = app.key("sync", Some(xicheng["id"].as_str().unwrap())).await;
    let seen: Value = app
        .request_as(Some(&sync), Method::GET, &format!("{path}/history"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(seen["items"].as_array().unwrap().len(), 2);
    assert_eq!(
        seen["items"][1]["openings"]["after.email"]["value"], "wang@example.cn",
        "the district's own sync key reads its contact data"
    );
    let auditor = app.key("auditor", None).await;
    let seen: Value = app
        .request_as(
            Some(&auditor),
            Method::GET,
            &format!("{path}/history"),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(seen["items"].as_array().unwrap().len(), 2);
    assert!(
        seen["items"][1]["openings"].is_null() && !seen.to_string().contains("wang@example.cn"),
        "no contact data for auditors"
    );
    assert!(seen["items"][1]["after"]["email"]["commitment"].is_string());
    let stranger = app
        .key("clerk", Some(haidian["id"].as_str().unwrap()))
        .await;
    let response = app
        .request_as(
            Some(&stranger),
            Method::GET,
            &format!("{path}/history"),
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    let station = app
        .post(
            "/api/v1/workstations",
            &json!({"district_id": xicheng["id"], "name": "站", "kind": "street"}),
        )
        .await
        .json::<Value>()
        .await
        .unwrap();
    let station_path = format!("/api/v1/workstations/{}", station["id"].as_str().unwrap());
    app.put(&format!(
        "{station_path}/members/{}",
        member["id"].as_str().unwrap()
    ))
    .await;
    app.delete(&path).await;
    let history: Value = app
        .get(&format!("{station_path}/history"))
        .await
        .json()
        .await
        .unwrap();
    let actions: Vec<&str> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["create", "add_member", "remove_member"],
        "the member's deletion too"
    );
    let response = app
        .get(&format!("/api/v1/members/{}/history", uuid::Uuid::now_v7()))
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

/// How many events the trail holds.
async fn trail_length(app: &TestApp) -> i64 {
    app.sealed_db()
        .await
        .query_one("SELECT count(*) FROM audit_events", &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn every_kind_of_write_appends_to_the_trail() {
    let app = spawn_app().await;
    let mut length = trail_length(&app).await;
    let mut step = async |what: &str, response: reqwest::Response| -> Value {
        assert!(
            response.status().is_success(),
            "{what}: {}",
            response.status()
        );
        let body = response.json::<Value>().await.unwrap_or(Value::Null);
        let now = trail_length(&app).await;
        assert!(now > length, "{what} left no event");
        length = now;
        body
    };
    let district = step(
        "create district",
        app.post(
            "/api/v1/districts",
            &json!({"code": "xc", "name": "西城区", "term": 16}),
        )
        .await,
    )
    .await;
    let d = district["id"].as_str().unwrap().to_owned();
    step(
        "update district",
        app.patch("/api/v1/districts/xc", &json!({"term": 17}))
            .await,
    )
    .await;
    let member = step("create member", app.post("/api/v1/members", &json!({"district_id": d, "member_no": "1", "name": "王芳", "sector": "economy", "party": "cpc"})).await).await;
    let m = member["id"].as_str().unwrap().to_owned();
    let other = step("create member", app.post("/api/v1/members", &json!({"district_id": d, "member_no": "2", "name": "李华", "sector": "economy", "party": "cpc"})).await).await;
    let o = other["id"].as_str().unwrap().to_owned();
    step(
        "update member",
        app.patch(&format!("/api/v1/members/{m}"), &json!({"name": "王小芳"}))
            .await,
    )
    .await;
    let department = step(
        "create department",
        app.post(
            "/api/v1/departments",
            &json!({"district_id": d, "name": "区教委", "kind": "government"}),
        )
        .await,
    )
    .await;
    let dep = department["id"].as_str().unwrap().to_owned();
    step(
        "update department",
        app.patch(
            &format!("/api/v1/departments/{dep}"),
            &json!({"short_name": "教委"}),
        )
        .await,
    )
    .await;
    let station = step(
        "create workstation",
        app.post(
            "/api/v1/workstations",
            &json!({"district_id": d, "name": "站", "kind": "street"}),
        )
        .await,
    )
    .await;
    let w = station["id"].as_str().unwrap().to_owned();
    step(
        "update workstation",
        app.patch(
            &format!("/api/v1/workstations/{w}"),
            &json!({"street": "金融街街道"}),
        )
        .await,
    )
    .await;
    step(
        "add workstation member",
        app.put(&format!("/api/v1/workstations/{w}/members/{m}"))
            .await,
    )
    .await;
    step(
        "remove workstation member",
        app.delete(&format!("/api/v1/workstations/{w}/members/{m}"))
            .await,
    )
    .await;
    let activity = step(
        "create activity",
        app.post(
            &format!("/api/v1/workstations/{w}/activities"),
            &json!({"kind": "visit", "title": "走访", "held_on": "2026-03-01"}),
        )
        .await,
    )
    .await;
    let a = activity["id"].as_str().unwrap().to_owned();
    step(
        "update activity",
        app.patch(
            &format!("/api/v1/activities/{a}"),
            &json!({"people_reached": 30}),
        )
        .await,
    )
    .await;
    step(
        "delete activity",
        app.delete(&format!("/api/v1/activities/{a}")).await,
    )
    .await;
    let proposal = step("create proposal", app.post("/api/v1/proposals", &json!({"district_id": d, "kind": "joint", "title": "提案", "body": "内容", "category": "economy", "lead_member_id": m})).await).await;
    let p = proposal["id"].as_str().unwrap().to_owned();
    step(
        "update proposal",
        app.patch(
            &format!("/api/v1/proposals/{p}"),
            &json!({"title": "新提案"}),
        )
        .await,
    )
    .await;
    step(
        "add cosigner",
        app.put(&format!("/api/v1/proposals/{p}/cosigners/{o}"))
            .await,
    )
    .await;
    step(
        "remove cosigner",
        app.delete(&format!("/api/v1/proposals/{p}/cosigners/{o}"))
            .await,
    )
    .await;
    step(
        "submit",
        app.post(&format!("/api/v1/proposals/{p}/submit"), &json!({}))
            .await,
    )
    .await;
    step(
        "file",
        app.post(&format!("/api/v1/proposals/{p}/file"), &json!({}))
            .await,
    )
    .await;
    step(
        "assign",
        app.post(
            &format!("/api/v1/proposals/{p}/assign"),
            &json!({"lead_unit_id": dep}),
        )
        .await,
    )
    .await;
    let unit = step(
        "create department",
        app.post(
            "/api/v1/departments",
            &json!({"district_id": d, "name": "区市场监管局", "kind": "government"}),
        )
        .await,
    )
    .await;
    let u = unit["id"].as_str().unwrap().to_owned();
    let evaluation = step(
        "create evaluation",
        app.post(
            "/api/v1/evaluations",
            &json!({"district_id": d, "department_id": u, "year": 2026}),
        )
        .await,
    )
    .await;
    let e = format!("/api/v1/evaluations/{}", evaluation["id"].as_str().unwrap());
    step(
        "update evaluation",
        app.patch(&e, &json!({"year": 2027})).await,
    )
    .await;
    for member in [&m, &o] {
        step(
            "add evaluator",
            app.put(&format!("{e}/evaluators/{member}")).await,
        )
        .await;
    }
    step(
        "remove evaluator",
        app.delete(&format!("{e}/evaluators/{o}")).await,
    )
    .await;
    step(
        "complete training",
        app.post(&format!("{e}/evaluators/{m}/training"), &json!({}))
            .await,
    )
    .await;
    step(
        "start investigation",
        app.post(&format!("{e}/start-investigation"), &json!({}))
            .await,
    )
    .await;
    let visit = step(
        "create visit",
        app.post(
            &format!("{e}/visits"),
            &json!({"visited_on": "2027-03-01", "place": "大厅", "visited": "窗口"}),
        )
        .await,
    )
    .await;
    let v = format!("{e}/visits/{}", visit["id"].as_str().unwrap());
    step(
        "update visit",
        app.patch(&v, &json!({"findings": "排队长"})).await,
    )
    .await;
    step("delete visit", app.delete(&v).await).await;
    step(
        "start deliberation",
        app.post(&format!("{e}/start-deliberation"), &json!({}))
            .await,
    )
    .await;
    for rating in ["satisfied", "unsatisfied"] {
        step(
            "rate",
            app.request(
                reqwest::Method::PUT,
                &format!("{e}/ratings/{m}/integrity"),
                Some(&json!({"rating": rating})),
            )
            .await,
        )
        .await;
    }
    step(
        "start rectification",
        app.post(
            &format!("{e}/start-rectification"),
            &json!({"text": "报告", "findings": [{"description": "问题", "due_on": "2027-12-31"}]}),
        )
        .await,
    )
    .await;
    let items: Value = app
        .get(&format!("{e}/rectification-items"))
        .await
        .json()
        .await
        .unwrap();
    let item = format!(
        "{e}/rectification-items/{}",
        items["items"][0]["id"].as_str().unwrap()
    );
    for (action, body) in [
        ("notes", json!({"text": "进展"})),
        ("start", json!({})),
        ("complete", json!({})),
        ("reopen", json!({})),
        ("carry-over", json!({"reason": "明年完成"})),
    ] {
        step(action, app.post(&format!("{item}/{action}"), &body).await).await;
    }
    step(
        "conclude",
        app.post(&format!("{e}/conclude"), &json!({})).await,
    )
    .await;
    let ruling = step("create ruling", app.post("/api/v1/rulings", &json!({"leader_name": "张三", "leader_title": "deputy", "subject_type": "evaluation", "subject_id": evaluation["id"], "content": "请落实", "department_ids": [u]})).await).await;
    let r = format!("/api/v1/rulings/{}", ruling["id"].as_str().unwrap());
    step(
        "update ruling",
        app.patch(&r, &json!({"content": "请抓好落实"})).await,
    )
    .await;
    for text in ["方案", "会议"] {
        step(
            "add measure",
            app.post(
                &format!("{r}/measures"),
                &json!({"department_id": u, "text": text}),
            )
            .await,
        )
        .await;
    }
    let measured: Value = app.get(&r).await.json().await.unwrap();
    let first = measured["measures"][0]["id"].as_str().unwrap().to_owned();
    let second = measured["measures"][1]["id"].as_str().unwrap().to_owned();
    step(
        "update measure",
        app.patch(&format!("{r}/measures/{first}"), &json!({"status": "done"}))
            .await,
    )
    .await;
    step(
        "delete measure",
        app.delete(&format!("{r}/measures/{second}")).await,
    )
    .await;
    step(
        "ruling feedback",
        app.post(&format!("{r}/feedback"), &json!({"text": "已落实"}))
            .await,
    )
    .await;
    step(
        "close ruling",
        app.post(&format!("{r}/close"), &json!({})).await,
    )
    .await;
    let key = step(
        "create key",
        app.post("/api/v1/keys", &json!({"name": "k", "role": "auditor"}))
            .await,
    )
    .await;
    step(
        "revoke key",
        app.post(
            &format!("/api/v1/keys/{}/revoke", key["id"].as_str().unwrap()),
            &json!({}),
        )
        .await,
    )
    .await;
    step(
        "delete workstation",
        app.delete(&format!("/api/v1/workstations/{w}")).await,
    )
    .await;
    step(
        "delete department",
        app.delete(&format!("/api/v1/departments/{dep}")).await,
    )
    .await;
    step(
        "delete member",
        app.delete(&format!("/api/v1/members/{o}")).await,
    )
    .await;
    assert_eq!(verify(&app).await["ok"], true);
}

/// Found by schema fuzzing: both bounds of the documented shape, but a range that ends
/// before it starts, cannot be used (422); a bound below 1 is outside the spec (400).
#[tokio::test]
async fn a_verification_range_that_ends_before_it_starts_is_a_422() {
    let app = spawn_app().await;
    let response = app
        .get("/api/v1/audit-events/verify?from_seq=9223372036854775806&to_seq=1")
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["errors"][0]["pointer"], "to_seq");
    let response = app.get("/api/v1/audit-events/verify?to_seq=0").await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let response = app
        .get("/api/v1/audit-events/verify?from_seq=1&to_seq=1")
        .await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn no_csv_cell_the_service_writes_can_run_as_a_formula() {
    let app = spawn_app().await;
    let district = app.district("xicheng").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // A name and a request id the client chose, each a formula.
    let response = app
        .client
        .post(app.url("/api/v1/members"))
        .header("X-Request-Id", "@SUM(1+1)")
        .json(&serde_json::json!({
            "district_id": district, "member_no": "M1", "name": "=HYPERLINK(\"http://x\")", "street": "-2+3",
            "sector": "economy", "party": "cpc",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let year = chrono::Utc::now().format("%Y").to_string();
    for (path, kept) in [
        (
            "/api/v1/audit-events?entity_type=member".to_owned(),
            "'@SUM(1+1)",
        ),
        (
            format!("/api/v1/performance?district_id={district}&year={year}"),
            "'=HYPERLINK",
        ),
    ] {
        let response = app
            .client
            .get(app.url(&path))
            .header("Accept", "text/csv")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let text = response.text().await.unwrap();
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let mut cells = 0;
        for record in reader.records() {
            for cell in record.unwrap().iter() {
                cells += 1;
                let risky = cell.starts_with(['=', '+', '@', '\t', '\r'])
                    || (cell.starts_with('-') && cell.parse::<f64>().is_err());
                assert!(!risky, "{path}: {cell:?} would run in a spreadsheet");
            }
        }
        assert!(cells > 0, "{path} wrote cells");
        assert!(
            text.contains(kept),
            "{path}: the value is kept, neutralised"
        );
    }
}
