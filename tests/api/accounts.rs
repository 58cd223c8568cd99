//! Accounts: the people who act. Who may make and change them, what each role's account
//! must act for, personal keys acting as their account, a disabled account refused at
//! once, identities linked once, and every act of a person named in the trail and the
//! workflow histories.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, event_hash, spawn_app, spawn_beside};

/// A district with a member and a department, and a clerk key of it.
struct District {
    id: String,
    member: String,
    department: String,
    clerk: String,
}

async fn district(app: &TestApp, code: &str) -> District {
    let id = app.district(code).await["id"].as_str().unwrap().to_owned();
    let member = app.member(&id, "M1", "王芳").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let response = app
        .post(
            "/api/v1/departments",
            &json!({"district_id": id, "name": "区教委", "kind": "government"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let department = response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let clerk = app.key("clerk", Some(&id)).await;
    District {
        id,
        member,
        department,
        clerk,
    }
}

/// `POST /api/v1/accounts` as `token`: the status and the body.
async fn make(app: &TestApp, token: &str, body: Value) -> (StatusCode, Value) {
    let response = app
        .request_as(Some(token), Method::POST, "/api/v1/accounts", Some(&body))
        .await;
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The pointers of a 422's field errors.
fn pointers(problem: &Value) -> Vec<&str> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|error| error["pointer"].as_str())
                .collect()
        })
        .unwrap_or_default()
}

/// A personal key of `account`, made by the administrator.
async fn personal_key(app: &TestApp, account: &str) -> String {
    let response = app
        .post(
            "/api/v1/keys",
            &json!({"name": "personal", "account_id": account}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED, "a personal key");
    let key: Value = response.json().await.unwrap();
    key["token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn each_role_acts_for_what_it_must_and_nothing_else() {
    let app = spawn_app().await;
    let xicheng = district(&app, "xicheng").await;
    let haidian = district(&app, "haidian").await;
    let admin = app.admin_token.clone();
    let good = [
        json!({"district_id": xicheng.id, "display_name": "王芳", "role": "member", "member_id": xicheng.member}),
        json!({"district_id": xicheng.id, "display_name": "区教委办公室", "role": "unit", "department_id": xicheng.department}),
        json!({"district_id": xicheng.id, "display_name": "区长办公室", "role": "leaders_office", "leader_title": "district_mayor"}),
        json!({"district_id": xicheng.id, "display_name": "李文书", "role": "clerk"}),
        json!({"display_name": "审计员", "role": "auditor"}),
        json!({"display_name": "管理员", "role": "admin"}),
    ];
    for body in good {
        let (status, account) = make(&app, &admin, body.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{body}: {account}");
        assert_eq!(account["role"], body["role"]);
        assert_eq!(account["status"], "active");
        assert_eq!(account["version"], 1);
    }
    // Each refusal names the field at fault; nothing is written.
    let bad = [
        (
            json!({"district_id": xicheng.id, "display_name": "甲", "role": "member"}),
            "/member_id",
        ),
        (
            json!({"district_id": xicheng.id, "display_name": "甲", "role": "member", "member_id": haidian.member}),
            "/member_id",
        ),
        (
            json!({"district_id": xicheng.id, "display_name": "甲", "role": "unit", "department_id": haidian.department}),
            "/department_id",
        ),
        (
            json!({"district_id": xicheng.id, "display_name": "甲", "role": "clerk", "member_id": xicheng.member}),
            "/member_id",
        ),
        (
            json!({"district_id": xicheng.id, "display_name": "甲", "role": "leaders_office"}),
            "/leader_title",
        ),
        (
            json!({"district_id": xicheng.id, "display_name": "甲", "role": "unit", "leader_title": "deputy", "department_id": xicheng.department}),
            "/leader_title",
        ),
        (
            json!({"district_id": xicheng.id, "display_name": "甲", "role": "sync"}),
            "/role",
        ),
        (
            json!({"display_name": "甲", "role": "clerk"}),
            "/district_id",
        ),
        (
            json!({"district_id": xicheng.id, "display_name": "甲", "role": "auditor"}),
            "/district_id",
        ),
        (
            json!({"district_id": xicheng.id, "display_name": "", "role": "clerk"}),
            "/display_name",
        ),
        (
            json!({"district_id": xicheng.id, "display_name": "甲", "role": "nobody"}),
            "",
        ),
    ];
    for (body, pointer) in bad {
        let (status, problem) = make(&app, &admin, body.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {problem}"
        );
        assert!(
            pointers(&problem).contains(&pointer) || pointer.is_empty(),
            "{body}: {problem}"
        );
    }
    let accounts: Value = app
        .get("/api/v1/accounts?limit=100")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(accounts["items"].as_array().unwrap().len(), 6);
}

#[tokio::test]
async fn a_districts_clerk_manages_its_accounts_only() {
    let app = spawn_app().await;
    let xicheng = district(&app, "xicheng").await;
    let haidian = district(&app, "haidian").await;
    let (status, own) = make(
        &app,
        &xicheng.clerk,
        json!({"district_id": xicheng.id, "display_name": "王芳", "role": "member", "member_id": xicheng.member}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    // Not in another district (a reference to nothing), not of no district (403).
    let (status, problem) = make(
        &app,
        &xicheng.clerk,
        json!({"district_id": haidian.id, "display_name": "甲", "role": "member", "member_id": haidian.member}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(pointers(&problem).contains(&"/district_id"), "{problem}");
    for role in ["admin", "auditor"] {
        let (status, _) = make(
            &app,
            &xicheng.clerk,
            json!({"display_name": "甲", "role": role}),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{role}");
    }
    let (_, other) = make(
        &app,
        &app.admin_token,
        json!({"district_id": haidian.id, "display_name": "李四", "role": "clerk"}),
    )
    .await;
    let (_, staff) = make(
        &app,
        &app.admin_token,
        json!({"display_name": "审计员", "role": "auditor"}),
    )
    .await;
    // Another district's account and a staff account are not there for the clerk.
    for account in [&other, &staff] {
        let path = format!("/api/v1/accounts/{}", account["id"].as_str().unwrap());
        for method in [Method::GET, Method::PATCH] {
            let response = app
                .anonymous
                .request(method.clone(), app.url(&path))
                .bearer_auth(&xicheng.clerk)
                .header("If-Match", "\"1\"")
                .header("Content-Type", "application/merge-patch+json")
                .body(r#"{"display_name":"改"}"#)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{method} {path}");
        }
    }
    let listed: Value = app
        .request_as(Some(&xicheng.clerk), Method::GET, "/api/v1/accounts", None)
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<&Value> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| &item["id"])
        .collect();
    assert_eq!(ids, vec![&own["id"]]);
    // Its own account changes; its role and district do not.
    let path = format!("/api/v1/accounts/{}", own["id"].as_str().unwrap());
    let response = app
        .anonymous
        .patch(app.url(&path))
        .bearer_auth(&xicheng.clerk)
        .header("If-Match", "\"1\"")
        .header("Content-Type", "application/merge-patch+json")
        .body(r#"{"role":"clerk"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let response = app
        .anonymous
        .patch(app.url(&path))
        .bearer_auth(&xicheng.clerk)
        .header("If-Match", "\"1\"")
        .header("Content-Type", "application/merge-patch+json")
        .body(r#"{"display_name":"王芳委员"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let changed: Value = response.json().await.unwrap();
    assert_eq!(changed["display_name"], "王芳委员");
    assert_eq!(changed["version"], 2);
    let history: Value = app
        .get(&format!("{path}/history"))
        .await
        .json()
        .await
        .unwrap();
    let actions: Vec<&str> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["create", "update"]);
}

#[tokio::test]
async fn a_personal_key_is_made_for_a_live_active_account_only() {
    let app = spawn_app().await;
    let xicheng = district(&app, "xicheng").await;
    let (_, account) = make(
        &app,
        &app.admin_token,
        json!({"district_id": xicheng.id, "display_name": "王芳", "role": "member", "member_id": xicheng.member}),
    )
    .await;
    let id = account["id"].as_str().unwrap();
    let refused = [
        (json!({"name": "k", "role": "member"}), "/role"),
        (
            json!({"name": "k", "role": "unit", "district_id": xicheng.id}),
            "/role",
        ),
        (
            json!({"name": "k", "account_id": id, "role": "clerk"}),
            "/role",
        ),
        (
            json!({"name": "k", "account_id": id, "district_id": xicheng.id}),
            "/district_id",
        ),
        (
            json!({"name": "k", "account_id": "019ad3f2-0000-7000-8000-000000000000"}),
            "/account_id",
        ),
    ];
    for (body, pointer) in refused {
        let response = app.post("/api/v1/keys", &body).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}"
        );
        let problem: Value = response.json().await.unwrap();
        assert!(pointers(&problem).contains(&pointer), "{body}: {problem}");
    }
    let response = app
        .post(
            "/api/v1/keys",
            &json!({"name": "k", "account_id": id, "role": "member"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let key: Value = response.json().await.unwrap();
    assert_eq!(key["role"], "member");
    assert_eq!(key["district_id"], json!(xicheng.id));
    assert_eq!(key["account_id"], json!(id));
    // A disabled account gets no new key.
    let path = format!("/api/v1/accounts/{id}");
    let response = app
        .client
        .patch(app.url(&path))
        .header("If-Match", "\"1\"")
        .header("Content-Type", "application/merge-patch+json")
        .body(r#"{"status":"disabled"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = app
        .post("/api/v1/keys", &json!({"name": "k2", "account_id": id}))
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

/// A clerk who signs in as a person: their acts are the clerk role's, and the trail, the
/// change's history and the workflow history name them; the trail's hash covers who
/// they are, and `verify` holds.
#[tokio::test]
async fn a_persons_acts_name_them_in_the_trail_and_the_histories() {
    let app = spawn_app().await;
    let xicheng = district(&app, "xicheng").await;
    let (_, account) = make(
        &app,
        &app.admin_token,
        json!({"district_id": xicheng.id, "display_name": "李文书", "role": "clerk"}),
    )
    .await;
    let account_id = account["id"].as_str().unwrap();
    let person = personal_key(&app, account_id).await;
    let response = app
        .request_as(
            Some(&person),
            Method::POST,
            "/api/v1/proposals",
            Some(&json!({
                "district_id": xicheng.id, "kind": "member", "title": "关于加装电梯的建议",
                "body": "建议。", "category": "economy", "lead_member_id": xicheng.member,
            })),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let proposal: Value = response.json().await.unwrap();
    let proposal_id = proposal["id"].as_str().unwrap();
    let response = app
        .anonymous
        .post(app.url(&format!("/api/v1/proposals/{proposal_id}/submit")))
        .bearer_auth(&person)
        .header("If-Match", "\"1\"")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let expected = json!({
        "id": account_id, "display_name": "李文书", "role": "clerk", "district_id": xicheng.id,
        "member_id": null, "department_id": null, "leader_title": null,
        "authenticated_by": "personal_key", "issuer": null,
    });
    // Who the service takes the caller to be: the person, as the trail names them; a
    // machine key is no one.
    let me: Value = app
        .request_as(Some(&person), Method::GET, "/api/v1/me", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["account"], expected);
    assert_eq!(me["role"], "clerk");
    assert_eq!(me["district_id"], json!(xicheng.id));
    let me: Value = app.get("/api/v1/me").await.json().await.unwrap();
    assert_eq!(me["account"], Value::Null);
    assert_eq!(me["role"], "admin");
    app.sealed_db().await;
    let events: Value = app
        .get(&format!("/api/v1/audit-events?account_id={account_id}"))
        .await
        .json()
        .await
        .unwrap();
    let items = events["items"].as_array().unwrap();
    let actions: Vec<&str> = items
        .iter()
        .map(|event| event["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["create", "submit"]);
    for event in items {
        assert_eq!(event["actor_account"], expected, "{event}");
        assert_eq!(event["actor_role"], "clerk");
        assert_eq!(
            event_hash(event, event["prev_hash"].as_str().unwrap()),
            event["hash"].as_str().unwrap(),
            "the hash covers the person: {event}"
        );
    }
    // The administrator's own events name no person.
    let all: Value = app
        .get("/api/v1/audit-events?limit=200")
        .await
        .json()
        .await
        .unwrap();
    let unnamed = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["actor_account"].is_null())
        .count();
    assert_eq!(unnamed + 2, all["items"].as_array().unwrap().len());
    let steps: Value = app
        .get(&format!("/api/v1/proposals/{proposal_id}/history"))
        .await
        .json()
        .await
        .unwrap();
    let submit = steps["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|step| step["action"] == "submit")
        .expect("the submit step");
    assert_eq!(submit["actor_account"], expected);
    let verified: Value = app
        .get("/api/v1/audit-events/verify")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(verified["ok"], true, "{verified}");

    // A person's event rewritten in the database (the name of who acted) breaks the
    // chain there.
    let db = app.db().await;
    db.batch_execute(
        "ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update;
         UPDATE audit_events SET actor_account = jsonb_set(actor_account, '{display_name}', '\"王五\"')
             WHERE actor_account IS NOT NULL;
         ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update;",
    )
    .await
    .unwrap();
    let verified: Value = app
        .get("/api/v1/audit-events/verify")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(verified["ok"], false, "{verified}");
}

/// Disabling an account refuses its personal keys on the next request, on the instance
/// that disabled it and, by the database's notification, on another; enabling it lets
/// them in again.
#[tokio::test]
async fn a_disabled_account_is_refused_at_once_everywhere() {
    let app = spawn_app().await;
    let other = spawn_beside(&app, |_| {}).await;
    let xicheng = district(&app, "xicheng").await;
    let (_, account) = make(
        &app,
        &app.admin_token,
        json!({"district_id": xicheng.id, "display_name": "李文书", "role": "clerk"}),
    )
    .await;
    let id = account["id"].as_str().unwrap();
    let person = personal_key(&app, id).await;
    let path = "/api/v1/departments";
    for instance in [&app, &other] {
        // Served twice: the second time from what the instance remembers.
        for _ in 0..2 {
            let response = instance
                .request_as(Some(&person), Method::GET, path, None)
                .await;
            assert_eq!(response.status(), StatusCode::OK);
        }
    }
    let set = |status: &'static str, version: i64| {
        let app = &app;
        async move {
            let response = app
                .client
                .patch(app.url(&format!("/api/v1/accounts/{id}")))
                .header("If-Match", format!("\"{version}\""))
                .header("Content-Type", "application/merge-patch+json")
                .body(format!(r#"{{"status":"{status}"}}"#))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK);
        }
    };
    set("disabled", 1).await;
    let response = app.request_as(Some(&person), Method::GET, path, None).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "at once, here");
    let problem: Value = response.json().await.unwrap();
    assert!(
        problem["detail"].as_str().unwrap().contains("disabled"),
        "{problem}"
    );
    let mut refused = false;
    for _ in 0..40 {
        let response = other
            .request_as(Some(&person), Method::GET, path, None)
            .await;
        if response.status() == StatusCode::UNAUTHORIZED {
            refused = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(refused, "refused by the other instance within 2 s");
    set("active", 2).await;
    let response = app.request_as(Some(&person), Method::GET, path, None).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_identity_links_one_account_and_its_changes_are_audited() {
    let app = spawn_app().await;
    let xicheng = district(&app, "xicheng").await;
    let mut ids = Vec::new();
    for name in ["王芳", "李四"] {
        let (_, account) = make(
            &app,
            &app.admin_token,
            json!({"district_id": xicheng.id, "display_name": name, "role": "clerk"}),
        )
        .await;
        ids.push(account["id"].as_str().unwrap().to_owned());
    }
    let put = |id: &str, version: &str, body: Value| {
        let request = app
            .client
            .put(app.url(&format!("/api/v1/accounts/{id}/identities")))
            .header("If-Match", version)
            .json(&body);
        async move { request.send().await.unwrap() }
    };
    let identity = json!({"issuer": "https://id.example/realms/cppcc", "subject": "u-1"});
    let response = put(&ids[0], "\"1\"", json!({"items": [identity, identity]})).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["etag"], "\"2\"");
    let linked: Value = response.json().await.unwrap();
    assert_eq!(linked, json!({"items": [identity]}), "each once");
    // Stale If-Match: nothing changes.
    let response = put(&ids[0], "\"1\"", json!({"items": []})).await;
    assert_eq!(response.status(), StatusCode::PRECONDITION_FAILED);
    // Linked elsewhere: 409, nothing changes.
    let response = put(&ids[1], "\"1\"", json!({"items": [identity]})).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let second: Value = app
        .get(&format!("/api/v1/accounts/{}/identities", ids[1]))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(second, json!({"items": []}));
    for bad in [
        json!({"items": [{"issuer": "", "subject": "x"}]}),
        json!({"items": [{"issuer": "i", "subject": "x"}]}),
        json!({"items": [{"issuer": "ftp://id.example", "subject": "x"}]}),
        json!({"items": [{"issuer": "https://i", "subject": "a\u{0}b"}]}),
        json!({"items": [{"issuer": "https://i", "subject": "x".repeat(256)}]}),
        json!({"items": [{"issuer": "https://i", "subject": "a b"}]}),
        json!({"items": [{"issuer": "https://i\u{202e}", "subject": "y"}]}),
        json!({"items": [{"issuer": "https://i", "subject": "\u{fffe}"}]}),
        json!({"items": [{"issuer": "https://i", "subject": "\u{200b}"}]}),
        json!({"items": [{"issuer": "https://i", "subject": "e\u{301}"}]}),
        json!({"items": [{"issuer": "https://i"}]}),
    ] {
        let response = put(&ids[1], "\"1\"", bad.clone()).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    let history: Value = app
        .get(&format!("/api/v1/accounts/{}/history", ids[0]))
        .await
        .json()
        .await
        .unwrap();
    let last = history["items"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["action"], "link_identities");

    // The same identity linked to several accounts at once: one is linked, every other
    // is told it is linked elsewhere (409, never a 500), and it links one account.
    let mut accounts = Vec::new();
    for n in 0..6 {
        let (_, account) = make(
            &app,
            &app.admin_token,
            json!({"district_id": xicheng.id, "display_name": format!("员{n}"), "role": "clerk"}),
        )
        .await;
        accounts.push(account["id"].as_str().unwrap().to_owned());
    }
    for round in 0..5 {
        let identity = json!({"issuer": "https://race.example", "subject": format!("r{round}")});
        let sends = accounts.iter().map(|id| {
            let request = app
                .client
                .put(app.url(&format!("/api/v1/accounts/{id}/identities")))
                .json(&json!({"items": [identity]}));
            async move { request.send().await.unwrap().status() }
        });
        let mut statuses = futures_util::future::join_all(sends).await;
        statuses.sort();
        let mut expected = vec![StatusCode::CONFLICT; accounts.len() - 1];
        expected.insert(0, StatusCode::OK);
        assert_eq!(statuses, expected, "round {round}");
    }
    assert_eq!(last["before"], json!({"identities": {"items": []}}));
    assert_eq!(last["after"], json!({"identities": {"items": [identity]}}));
}

/// The id of what `POST path` made.
async fn made(app: &TestApp, path: &str, body: Value) -> String {
    let response = app.post(path, &body).await;
    assert_eq!(response.status(), StatusCode::CREATED, "{path}");
    let made: Value = response.json().await.unwrap();
    made["id"].as_str().unwrap().to_owned()
}

/// A personal key of a new account of `district`.
async fn person(app: &TestApp, district: &str, mut account: Value) -> String {
    account["district_id"] = json!(district);
    account["display_name"] = json!("某人");
    let id = made(app, "/api/v1/accounts", account).await;
    personal_key(app, &id).await
}

/// The ids of a list's page as `token` reads it.
async fn listed(app: &TestApp, token: &str, path: &str) -> Vec<String> {
    let response = app.request_as(Some(token), Method::GET, path, None).await;
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    let page: Value = response.json().await.unwrap();
    let mut ids: Vec<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

fn sorted(ids: &[&String]) -> Vec<String> {
    let mut ids: Vec<String> = ids.iter().map(|id| (*id).clone()).collect();
    ids.sort();
    ids
}

/// A member sees the proposals they lead or co-sign and changes those they lead; a unit
/// the proposals assigned to it, the rulings naming it and the evaluations of itself; a
/// leaders' office the district's submitted proposals, and it issues its own leader's
/// rulings. Lists and records alike; nothing of another district.
#[tokio::test]
async fn each_person_sees_and_does_only_what_their_rules_name() {
    let app = spawn_app().await;
    let xicheng = district(&app, "xicheng").await;
    let haidian = district(&app, "haidian").await;
    let d = &xicheng.id;
    let lead = &xicheng.member;
    let cosigner = app.member(d, "M2", "李四").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let stranger = app.member(d, "M3", "赵五").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let unit = &xicheng.department;
    let other_unit = made(
        &app,
        "/api/v1/departments",
        json!({"district_id": d, "name": "区民政局", "kind": "government"}),
    )
    .await;
    let proposal = |lead: &str, title: &str| {
        json!({"district_id": d, "kind": "member", "title": title, "body": "建议。",
            "category": "economy", "lead_member_id": lead})
    };
    let own = made(&app, "/api/v1/proposals", proposal(lead, "甲")).await;
    let response = app
        .put(&format!("/api/v1/proposals/{own}/cosigners/{cosigner}"))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let draft = made(&app, "/api/v1/proposals", proposal(&stranger, "乙")).await;
    // A draft withdrawn before it was ever submitted is still no office's to read.
    let withdrawn = made(&app, "/api/v1/proposals", proposal(&stranger, "庚")).await;
    let (status, _) = app
        .act(
            &format!("/api/v1/proposals/{withdrawn}/withdraw"),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let mut assigned = Vec::new();
    for (title, lead_unit, co_unit) in [("丙", unit, &other_unit), ("丁", &other_unit, unit)] {
        let id = made(&app, "/api/v1/proposals", proposal(&stranger, title)).await;
        for (action, body) in [
            ("submit", json!({})),
            ("file", json!({})),
            (
                "assign",
                json!({"lead_unit_id": lead_unit, "co_unit_ids": [co_unit]}),
            ),
        ] {
            let (status, answer) = app
                .act(&format!("/api/v1/proposals/{id}/{action}"), &body)
                .await;
            assert_eq!(status, StatusCode::OK, "{action}: {answer}");
        }
        assigned.push(id);
    }
    let elsewhere = made(
        &app,
        "/api/v1/proposals",
        json!({"district_id": haidian.id, "kind": "member", "title": "戊", "body": "建议。",
            "category": "economy", "lead_member_id": haidian.member}),
    )
    .await;
    let topic = made(
        &app,
        "/api/v1/consultations",
        json!({"district_id": d, "year": 2026, "title": "议题"}),
    )
    .await;
    let ruling = |departments: Vec<&String>| {
        json!({"leader_name": "张三", "leader_title": "district_mayor",
            "subject_type": "consultation", "subject_id": topic, "content": "请研究",
            "department_ids": departments})
    };
    let naming_unit = made(&app, "/api/v1/rulings", ruling(vec![unit])).await;
    let naming_other = made(&app, "/api/v1/rulings", ruling(vec![&other_unit])).await;
    let evaluation_of_unit = made(
        &app,
        "/api/v1/evaluations",
        json!({"district_id": d, "department_id": unit, "year": 2026}),
    )
    .await;
    made(
        &app,
        "/api/v1/evaluations",
        json!({"district_id": d, "department_id": other_unit, "year": 2026}),
    )
    .await;

    let member = person(&app, d, json!({"role": "member", "member_id": lead})).await;
    let co = person(&app, d, json!({"role": "member", "member_id": cosigner})).await;
    let handler = person(&app, d, json!({"role": "unit", "department_id": unit})).await;
    let office = person(
        &app,
        d,
        json!({"role": "leaders_office", "leader_title": "district_mayor"}),
    )
    .await;

    // Lists.
    assert_eq!(
        listed(&app, &member, "/api/v1/proposals").await,
        sorted(&[&own])
    );
    assert_eq!(
        listed(&app, &co, "/api/v1/proposals").await,
        sorted(&[&own])
    );
    assert_eq!(
        listed(&app, &handler, "/api/v1/proposals").await,
        sorted(&[&assigned[0], &assigned[1]])
    );
    assert_eq!(
        listed(&app, &office, "/api/v1/proposals").await,
        sorted(&[&assigned[0], &assigned[1]]),
        "no draft, nothing of another district"
    );
    assert_eq!(
        listed(&app, &handler, "/api/v1/rulings").await,
        sorted(&[&naming_unit])
    );
    assert_eq!(
        listed(&app, &office, "/api/v1/rulings").await,
        sorted(&[&naming_unit, &naming_other])
    );
    assert_eq!(
        listed(&app, &handler, "/api/v1/evaluations").await,
        sorted(&[&evaluation_of_unit])
    );
    // Records.
    let status = |token: &str, method: Method, path: String| {
        let request = app
            .anonymous
            .request(method, app.url(&path))
            .bearer_auth(token)
            .header("If-Match", "\"1\"")
            .header("Content-Type", "application/merge-patch+json")
            .body("{}");
        async move { request.send().await.unwrap().status() }
    };
    let at = |id: &str| format!("/api/v1/proposals/{id}");
    for (token, id, want) in [
        (&member, &draft, StatusCode::NOT_FOUND),
        (&member, &assigned[0], StatusCode::NOT_FOUND),
        (&member, &elsewhere, StatusCode::NOT_FOUND),
        (&co, &own, StatusCode::OK),
        (&handler, &own, StatusCode::NOT_FOUND),
        (&handler, &assigned[1], StatusCode::OK),
        (&office, &draft, StatusCode::NOT_FOUND),
        (&office, &withdrawn, StatusCode::NOT_FOUND),
        (&office, &elsewhere, StatusCode::NOT_FOUND),
        (&office, &assigned[0], StatusCode::OK),
    ] {
        assert_eq!(status(token, Method::GET, at(id)).await, want, "GET {id}");
    }
    // A co-signer reads the proposal but does not change it; its lead does.
    assert_eq!(
        status(&co, Method::PATCH, at(&own)).await,
        StatusCode::NOT_FOUND
    );
    let etag = |id: String| {
        let request = app.client.get(app.url(&at(&id)));
        async move {
            let response = request.send().await.unwrap();
            response.headers()["etag"].to_str().unwrap().to_owned()
        }
    };
    let response = app
        .anonymous
        .patch(app.url(&at(&own)))
        .bearer_auth(&member)
        .header("If-Match", etag(own.clone()).await)
        .header("Content-Type", "application/merge-patch+json")
        .body(json!({"lead_member_id": stranger}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "stays its lead"
    );
    let response = app
        .anonymous
        .patch(app.url(&at(&own)))
        .bearer_auth(&member)
        .header("If-Match", etag(own.clone()).await)
        .header("Content-Type", "application/merge-patch+json")
        .body(json!({"title": "关于加装电梯的建议"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // A member drafts the proposals they lead, and submits them.
    let response = app
        .request_as(
            Some(&member),
            Method::POST,
            "/api/v1/proposals",
            Some(&proposal(&stranger, "己")),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let response = app
        .request_as(
            Some(&member),
            Method::POST,
            "/api/v1/proposals",
            Some(&proposal(lead, "己")),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let response = app
        .anonymous
        .post(app.url(&format!("{}/submit", at(&own))))
        .bearer_auth(&member)
        .header("If-Match", etag(own.clone()).await)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        listed(&app, &office, "/api/v1/proposals")
            .await
            .contains(&own),
        "submitted, the office sees it"
    );
    // Filing is a clerk's step, not the member's.
    let response = app
        .anonymous
        .post(app.url(&format!("{}/file", at(&own))))
        .bearer_auth(&member)
        .header("If-Match", etag(own.clone()).await)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    // A leaders' office issues its own leader's rulings only.
    let mut other_leader = ruling(vec![unit]);
    other_leader["leader_title"] = json!("party_secretary");
    let response = app
        .request_as(
            Some(&office),
            Method::POST,
            "/api/v1/rulings",
            Some(&other_leader),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let mut on_withdrawn = ruling(vec![unit]);
    on_withdrawn["subject_type"] = json!("proposal");
    on_withdrawn["subject_id"] = json!(withdrawn);
    let response = app
        .request_as(
            Some(&office),
            Method::POST,
            "/api/v1/rulings",
            Some(&on_withdrawn),
        )
        .await;
    assert_eq!(
        response.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "no ruling on what the office cannot read"
    );
    let response = app
        .request_as(
            Some(&office),
            Method::POST,
            "/api/v1/rulings",
            Some(&ruling(vec![unit])),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    // A member's own record carries their contacts; another's is not there.
    let response = app
        .request_as(
            Some(&member),
            Method::GET,
            &format!("/api/v1/members/{cosigner}"),
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

/// A district system syncs its people: created, unchanged, updated, refused (a role
/// changed, a staff role, a member or unit it does not have) and deleted; a deleted
/// account's key no longer acts.
#[tokio::test]
async fn a_district_system_syncs_its_people_by_their_external_ids() {
    let app = spawn_app().await;
    let xicheng = district(&app, "xicheng").await;
    let sync = app.key("sync", Some(&xicheng.id)).await;
    let push = |path: &'static str, records: Value| {
        let request = app
            .anonymous
            .post(app.url(path))
            .bearer_auth(&sync)
            .json(&json!({ "records": records }));
        async move {
            let response = request.send().await.unwrap();
            let status = response.status();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    let (status, _) = push(
        "/api/v1/sync/departments",
        json!([{"external_id": "dept-7", "name": "区民政局", "kind": "government"}]),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let people = json!([
        {"external_id": "p-1", "display_name": "王芳", "role": "member", "member_no": "M1"},
        {"external_id": "p-2", "display_name": "民政局办公室", "role": "unit", "department_external_id": "dept-7"},
        {"external_id": "p-3", "display_name": "区长办公室", "role": "leaders_office", "leader_title": "district_mayor"},
    ]);
    let (status, result) = push("/api/v1/sync/accounts", people.clone()).await;
    assert_eq!(status, StatusCode::OK, "{result}");
    assert_eq!(result["created"], 3);
    let (_, again) = push("/api/v1/sync/accounts", people).await;
    assert_eq!(again["unchanged"], 3, "{again}");
    let member_account = result["results"][0]["id"].as_str().unwrap().to_owned();
    let account: Value = app
        .get(&format!("/api/v1/accounts/{member_account}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(account["member_id"], json!(xicheng.member));
    assert_eq!(account["external_id"], "p-1");
    let key = personal_key(&app, &member_account).await;
    let own = format!("/api/v1/members/{}", xicheng.member);
    let response = app.request_as(Some(&key), Method::GET, &own, None).await;
    assert_eq!(response.status(), StatusCode::OK);

    let (status, result) = push(
        "/api/v1/sync/accounts",
        json!([
            {"external_id": "p-1", "display_name": "王芳委员", "role": "member", "member_no": "M1"},
            {"external_id": "p-2", "display_name": "民政局", "role": "member", "member_no": "M1"},
            {"external_id": "p-4", "display_name": "文书", "role": "clerk"},
            {"external_id": "p-5", "display_name": "某", "role": "member", "member_no": "M404"},
            {"external_id": "p-6", "display_name": "某", "role": "unit", "department_id": xicheng.department},
        ]),
    )
    .await;
    assert_eq!(status, StatusCode::MULTI_STATUS, "{result}");
    let outcomes: Vec<&str> = result["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|record| record["status"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["updated", "error", "error", "error", "error"]);
    assert_eq!(result["results"][1]["problem"]["status"], 409, "{result}");
    for (index, pointer) in [(2, "/role"), (3, "/member_no"), (4, "/department_id")] {
        let problem = &result["results"][index]["problem"];
        let named = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|error| error["pointer"] == pointer);
        assert!(named, "{index}: {problem}");
    }
    let (status, result) = push(
        "/api/v1/sync/accounts",
        json!([{"external_id": "p-1", "deleted": true}]),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{result}");
    assert_eq!(result["deleted"], 1);
    let mut refused = false;
    for _ in 0..40 {
        let response = app.request_as(Some(&key), Method::GET, &own, None).await;
        if response.status() == StatusCode::UNAUTHORIZED {
            refused = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(refused, "a deleted account's key is refused within 2 s");
}
