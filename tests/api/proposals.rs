//! Proposals: whole lives through the workflow, numbering, search, filters and figures.

use chrono::{Datelike, Days};
use cppcc_api::domain::calendar;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

struct District {
    id: String,
    lead: String,
    cosigner: String,
    unit: String,
    co_unit: String,
}

async fn id_of(response: reqwest::Response) -> String {
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    body["id"].as_str().unwrap().to_owned()
}

async fn district(app: &TestApp, code: &str) -> District {
    let id = app.district(code).await["id"].as_str().unwrap().to_owned();
    let lead = app.member(&id, "1", "王芳").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let cosigner = app.member(&id, "2", "李华").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let unit = id_of(
        app.post(
            "/api/v1/departments",
            &json!({"district_id": id, "name": "区城管委", "kind": "government"}),
        )
        .await,
    )
    .await;
    let co_unit = id_of(
        app.post(
            "/api/v1/departments",
            &json!({"district_id": id, "name": "区生态环境局", "kind": "government"}),
        )
        .await,
    )
    .await;
    District {
        id,
        lead,
        cosigner,
        unit,
        co_unit,
    }
}

async fn draft(app: &TestApp, district: &District, title: &str, extra: Value) -> String {
    let mut body = json!({
        "district_id": district.id,
        "kind": "member",
        "title": title,
        "body": "建议加强老旧小区垃圾分类设施建设，完善分类投放、收运体系。",
        "category": "environment",
        "lead_member_id": district.lead,
    });
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    id_of(app.post("/api/v1/proposals", &body).await).await
}

async fn act(app: &TestApp, id: &str, action: &str, body: Value) -> (StatusCode, Value) {
    app.act(&format!("/api/v1/proposals/{id}/{action}"), &body)
        .await
}

async fn ok(app: &TestApp, id: &str, action: &str, body: Value) -> Value {
    let (status, proposal) = act(app, id, action, body).await;
    assert_eq!(status, StatusCode::OK, "{action}: {proposal}");
    proposal
}

#[tokio::test]
async fn a_joint_proposal_lives_from_draft_through_rehandling_to_closed() {
    let app = spawn_app().await;
    let d = district(&app, "xicheng").await;
    let other = district(&app, "haidian").await;
    let id = draft(&app, &d, "关于推进垃圾分类的提案", json!({"kind": "joint"})).await;
    let path = format!("/api/v1/proposals/{id}");

    let response = app.put(&format!("{path}/cosigners/{}", d.cosigner)).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let response = app
        .put(&format!("{path}/cosigners/{}", other.cosigner))
        .await;
    assert_eq!(
        response.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "a member of another district"
    );

    let proposal = ok(&app, &id, "submit", json!({})).await;
    assert_eq!(proposal["status"], "submitted");
    assert_eq!(proposal["cosigner_ids"], json!([d.cosigner]));
    assert_eq!(
        app.patch(&path, &json!({"title": "改"})).await.status(),
        StatusCode::CONFLICT
    );

    let proposal = ok(&app, &id, "file", json!({})).await;
    let year = calendar::today().year();
    assert_eq!(proposal["number"], format!("{year}-0001"));
    assert_eq!(proposal["allowed_actions"], json!(["assign"]));
    let response = app.put(&format!("{path}/cosigners/{}", d.lead)).await;
    assert_eq!(
        response.status(),
        StatusCode::CONFLICT,
        "co-signers are fixed once filed"
    );

    let (status, problem) = act(
        &app,
        &id,
        "assign",
        json!({"lead_unit_id": other.unit, "co_unit_ids": [d.co_unit]}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["errors"][0]["pointer"], "/lead_unit_id");
    let proposal = ok(
        &app,
        &id,
        "assign",
        json!({"lead_unit_id": d.unit, "co_unit_ids": [d.co_unit]}),
    )
    .await;
    assert_eq!(proposal["status"], "assigned");
    let due = calendar::today()
        .checked_add_months(chrono::Months::new(2))
        .unwrap();
    assert_eq!(
        proposal["reply_due_on"],
        due.to_string(),
        "two months by default"
    );

    ok(
        &app,
        &id,
        "reply",
        json!({"text": "已完成设施改造。", "document_no": "西城城管〔2026〕12号", "result": "B"}),
    )
    .await;
    let proposal = ok(&app, &id, "feedback", json!({"verdict": "unsatisfied"})).await;
    assert_eq!(
        proposal["status"], "assigned",
        "sent back once for re-handling"
    );
    ok(
        &app,
        &id,
        "reply",
        json!({"text": "补充答复。", "result": "A"}),
    )
    .await;
    let proposal = ok(&app, &id, "feedback", json!({"verdict": "unsatisfied"})).await;
    assert_eq!(proposal["status"], "closed", "the second time it closes");
    assert_eq!(proposal["verdict"], "unsatisfied");
    assert_eq!(proposal["allowed_actions"], json!([]));

    let history: Value = app
        .get(&format!("{path}/history"))
        .await
        .json()
        .await
        .unwrap();
    let steps: Vec<(String, String, String)> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["action"].as_str().unwrap().to_owned(),
                s["from_status"].as_str().unwrap().to_owned(),
                s["to_status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("submit", "draft", "submitted"),
        ("file", "submitted", "filed"),
        ("assign", "filed", "assigned"),
        ("reply", "assigned", "replied"),
        ("feedback", "replied", "assigned"),
        ("reply", "assigned", "replied"),
        ("feedback", "replied", "closed"),
    ];
    assert_eq!(
        steps,
        expected.map(|(a, f, t)| (a.to_owned(), f.to_owned(), t.to_owned()))
    );
    assert_eq!(
        history["items"][1]["payload"]["number"],
        format!("{year}-0001")
    );
    assert_eq!(history["items"][0]["actor_role"], "admin");
}

#[tokio::test]
async fn a_wrong_move_is_a_409_naming_the_status_and_the_allowed_actions() {
    let app = spawn_app().await;
    let d = district(&app, "xicheng").await;
    let id = draft(&app, &d, "提案", json!({})).await;
    let (status, problem) = act(&app, &id, "file", json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(problem["current_status"], "draft");
    assert_eq!(problem["allowed_actions"], json!(["submit", "withdraw"]));
    ok(&app, &id, "submit", json!({})).await;
    ok(&app, &id, "file", json!({})).await;
    let due = calendar::today() + Days::new(10);
    ok(
        &app,
        &id,
        "assign",
        json!({"lead_unit_id": d.unit, "reply_due_on": due}),
    )
    .await;
    let (status, problem) = act(
        &app,
        &id,
        "extend",
        json!({"reply_due_on": due + Days::new(40)}),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "more than a month: {problem}"
    );
    let proposal = ok(
        &app,
        &id,
        "extend",
        json!({"reply_due_on": due + Days::new(20)}),
    )
    .await;
    assert_eq!(proposal["allowed_actions"], json!(["reply"]));
    let (status, problem) = act(
        &app,
        &id,
        "extend",
        json!({"reply_due_on": due + Days::new(25)}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "extended once only");
    assert_eq!(problem["current_status"], "assigned");

    let response = app
        .client
        .post(app.url(&format!("/api/v1/proposals/{id}/reply")))
        .header("If-Match", "\"1\"")
        .json(&json!({"text": "答复", "result": "A"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PRECONDITION_FAILED);
    let (status, problem) = act(&app, &id, "reply", json!({"result": "D"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let pointers: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pointer"].as_str().unwrap())
        .collect();
    assert_eq!(pointers, ["/text", "/result"]);
}

#[tokio::test]
async fn a_rejected_proposal_is_forwarded_and_goes_no_further() {
    let app = spawn_app().await;
    let d = district(&app, "xicheng").await;
    let id = draft(
        &app,
        &d,
        "提案",
        json!({"kind": "party_group", "lead_member_id": null, "proposer_org": "民盟西城区委"}),
    )
    .await;
    ok(&app, &id, "submit", json!({})).await;
    let (status, _) = act(&app, &id, "reject", json!({})).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a reason is required"
    );
    let proposal = ok(
        &app,
        &id,
        "reject",
        json!({"reason": "属于个人诉求", "forward_as": "social_conditions"}),
    )
    .await;
    assert_eq!(proposal["status"], "not_filed");
    assert_eq!(proposal["forward_as"], "social_conditions");
    assert_eq!(proposal["number"], Value::Null);
    let (status, problem) = act(&app, &id, "assign", json!({"lead_unit_id": d.unit})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(problem["allowed_actions"], json!([]));
}

#[tokio::test]
async fn a_merged_proposal_points_at_its_target_which_lists_it() {
    let app = spawn_app().await;
    let d = district(&app, "xicheng").await;
    let target = draft(&app, &d, "主提案", json!({})).await;
    let source = draft(&app, &d, "相近提案", json!({})).await;
    let unfiled = draft(&app, &d, "未立案", json!({})).await;
    for id in [&target, &source, &unfiled] {
        ok(&app, id, "submit", json!({})).await;
    }
    ok(&app, &target, "file", json!({})).await;
    let (status, problem) = act(&app, &source, "merge", json!({"into_id": unfiled})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let merged = ok(&app, &source, "merge", json!({"into_id": target})).await;
    assert_eq!(merged["status"], "merged");
    assert_eq!(merged["merged_into_id"], target);
    let target: Value = app
        .get(&format!("/api/v1/proposals/{target}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(target["merged_ids"], json!([source]));
}

#[tokio::test]
async fn the_proposer_must_match_the_kind_and_the_district() {
    let app = spawn_app().await;
    let d = district(&app, "xicheng").await;
    let other = district(&app, "haidian").await;
    let response = app
        .post(
            "/api/v1/proposals",
            &json!({
                "district_id": d.id, "kind": "member", "title": "t", "body": "b",
                "category": "weather", "proposer_org": "民盟",
            }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let problem: Value = response.json().await.unwrap();
    let mut pointers: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pointer"].as_str().unwrap())
        .collect();
    pointers.sort_unstable();
    assert_eq!(pointers, ["/category", "/lead_member_id"]);
    let response = app
        .post(
            "/api/v1/proposals",
            &json!({
                "district_id": d.id, "kind": "member", "title": "t", "body": "b",
                "category": "economy", "lead_member_id": other.lead,
            }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let response = app
        .post(
            "/api/v1/proposals",
            &json!({
                "district_id": d.id, "kind": "member", "title": "t", "body": "字".repeat(20_001),
                "category": "economy", "lead_member_id": d.lead,
            }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_filings_get_consecutive_numbers_and_a_rolled_back_one_consumes_none() {
    let app = spawn_app().await;
    let d = district(&app, "xicheng").await;
    let mut ids = Vec::new();
    for index in 0..8 {
        let id = draft(&app, &d, &format!("提案{index}"), json!({})).await;
        ok(&app, &id, "submit", json!({})).await;
        ids.push(id);
    }
    // A filing that fails after taking its number, inside the transaction.
    let victim = ids.pop().unwrap();
    app.db()
        .await
        .batch_execute(&format!(
            "CREATE FUNCTION fail_filing() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN IF EXISTS (SELECT FROM unnest(NEW.prefixes) AS p, \
                 CAST(p || '0}}' AS jsonb) AS event \
                 WHERE event ->> 'action' = 'file' AND event ->> 'entity_id' = '{victim}') THEN \
             RAISE EXCEPTION 'storage failed'; END IF; RETURN NEW; END $$; \
             CREATE TRIGGER fail_filing BEFORE INSERT ON audit_pending \
             FOR EACH ROW EXECUTE FUNCTION fail_filing();"
        ))
        .await
        .unwrap();
    let (status, _) = act(&app, &victim, "file", json!({})).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);

    let filings = ids.iter().map(|id| {
        let client = app.client.clone();
        let url = app.url(&format!("/api/v1/proposals/{id}/file"));
        async move {
            let response = client.post(url).json(&json!({})).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            let body: Value = response.json().await.unwrap();
            body["number"].as_str().unwrap().to_owned()
        }
    });
    let mut numbers = futures_util::future::join_all(filings).await;
    numbers.sort();
    let year = calendar::today().year();
    let expected: Vec<String> = (1..=7).map(|n| format!("{year}-{n:04}")).collect();
    assert_eq!(numbers, expected);
    let (status, victim_now) = act(&app, &victim, "file", json!({})).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{victim_now}");
    let current: Value = app
        .get(&format!("/api/v1/proposals/{victim}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        current["status"], "submitted",
        "the failed filing left nothing behind"
    );
    assert_eq!(current["number"], Value::Null);
}

#[tokio::test]
async fn overdue_proposals_are_computed_from_their_due_dates() {
    let app = spawn_app().await;
    let d = district(&app, "xicheng").await;
    let late = draft(&app, &d, "逾期", json!({})).await;
    let timely = draft(&app, &d, "按时", json!({})).await;
    let yesterday = calendar::today() - Days::new(1);
    for (id, due) in [(&late, yesterday), (&timely, yesterday + Days::new(30))] {
        ok(&app, id, "submit", json!({})).await;
        ok(&app, id, "file", json!({})).await;
        ok(
            &app,
            id,
            "assign",
            json!({"lead_unit_id": d.unit, "reply_due_on": due}),
        )
        .await;
    }
    let proposal: Value = app
        .get(&format!("/api/v1/proposals/{late}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(proposal["overdue"], true);
    let list: Value = app
        .get("/api/v1/proposals?overdue=true")
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [late.as_str()]);
    let proposal = ok(
        &app,
        &late,
        "extend",
        json!({"reply_due_on": yesterday + Days::new(20)}),
    )
    .await;
    assert_eq!(proposal["overdue"], false);
    let sorted: Value = app
        .get("/api/v1/proposals?sort=reply_due_on")
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = sorted["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [late.as_str(), timely.as_str()]);
}

/// The ids of a page of proposals answered 200, sorted.
async fn sorted_ids(response: reqwest::Response, query: &str) -> Vec<String> {
    assert_eq!(response.status(), StatusCode::OK, "{query}");
    let page: Value = response.json().await.unwrap();
    let mut ids: Vec<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn search_text_is_matched_literally_whatever_characters_it_holds() {
    let app = spawn_app().await;
    let d = district(&app, "xicheng").await;
    let odd = draft(
        &app,
        &d,
        r"关于'停车'\收费 & 标准:*调整|!(试行)的提案",
        json!({}),
    )
    .await;
    let plain = draft(&app, &d, "关于停车收费的提案", json!({})).await;
    let found = async |q: &str| -> Vec<String> {
        let url = reqwest::Url::parse_with_params(&app.url("/api/v1/proposals"), [("q", q)]);
        sorted_ids(app.client.get(url.unwrap()).send().await.unwrap(), q).await
    };
    let mut both = vec![odd.clone(), plain.clone()];
    both.sort();
    for q in [r"'停车'\", "& 标", ":*调", "|!(", "(试行)", "'", r"\"] {
        assert_eq!(found(q).await, [odd.as_str()], "{q}");
    }
    assert_eq!(found("停车").await, both, "a two-character term");
    assert_eq!(
        found("停").await,
        both,
        "one character, which has no bigram"
    );
    assert_eq!(found("车'").await, [odd.as_str()]);
    assert!(found("停 车").await.is_empty());
    assert!(found("'停车''").await.is_empty());
}

#[tokio::test]
async fn proposals_are_found_by_any_two_chinese_characters_and_filtered() {
    let app = spawn_app().await;
    let d = district(&app, "xicheng").await;
    let waste = draft(
        &app,
        &d,
        "关于推进垃圾分类的提案",
        json!({"is_key": true, "supervising_leader": "区长"}),
    )
    .await;
    let elderly = draft(
        &app,
        &d,
        "关于发展社区养老服务的提案",
        json!({
            "body": "建议增加养老驿站。", "category": "society", "kind": "joint",
        }),
    )
    .await;
    app.put(&format!(
        "/api/v1/proposals/{elderly}/cosigners/{}",
        d.cosigner
    ))
    .await;
    let found = |query: &'static str| {
        let app = &app;
        async move { sorted_ids(app.get(&format!("/api/v1/proposals?{query}")).await, query).await }
    };
    assert_eq!(
        found("q=%E5%9E%83%E5%9C%BE").await,
        [waste.as_str()],
        "垃圾"
    );
    assert_eq!(
        found("q=%E5%88%86%E7%B1%BB").await,
        [waste.as_str()],
        "分类"
    );
    assert_eq!(
        found("q=%E9%A9%BF%E7%AB%99").await,
        [elderly.as_str()],
        "驿站, in the body"
    );
    assert_eq!(found("q=%E5%85%B3%E4%BA%8E").await.len(), 2, "关于");
    assert!(found("q=%E7%81%AB%E6%98%9F").await.is_empty(), "火星");
    assert_eq!(found("is_key=true").await, [waste.as_str()]);
    assert_eq!(found("category=society").await, [elderly.as_str()]);
    assert_eq!(found("kind=joint").await, [elderly.as_str()]);
    assert_eq!(found("status=draft").await.len(), 2);
    let year = calendar::today().year();
    let by_year = format!("year={year}");
    let url = format!("/api/v1/proposals?{by_year}");
    let page: Value = app.get(&url).await.json().await.unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let page: Value = app
        .get(&format!("/api/v1/proposals?member_id={}", d.cosigner))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 1, "co-signed");
    let page: Value = app
        .get(&format!("/api/v1/proposals?member_id={}", d.lead))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 2, "proposed");
    ok(&app, &waste, "submit", json!({})).await;
    ok(&app, &waste, "file", json!({})).await;
    ok(
        &app,
        &waste,
        "assign",
        json!({"lead_unit_id": d.unit, "co_unit_ids": [d.co_unit]}),
    )
    .await;
    for unit in [&d.unit, &d.co_unit] {
        let page: Value = app
            .get(&format!("/api/v1/proposals?unit_id={unit}"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(page["items"].as_array().unwrap().len(), 1);
    }
    let page: Value = app
        .get("/api/v1/proposals?sort=number")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        page["items"].as_array().unwrap().len(),
        1,
        "only numbered proposals sort by number"
    );
}

#[tokio::test]
async fn the_figures_count_statuses_and_rates() {
    let app = spawn_app().await;
    let d = district(&app, "xicheng").await;
    let mut ids = Vec::new();
    for index in 0..4 {
        let id = draft(&app, &d, &format!("提案{index}"), json!({})).await;
        ok(&app, &id, "submit", json!({})).await;
        ids.push(id);
    }
    ok(&app, &ids[0], "reject", json!({"reason": "不属于提案范围"})).await;
    for id in &ids[1..3] {
        ok(&app, id, "file", json!({})).await;
        ok(&app, id, "assign", json!({"lead_unit_id": d.unit})).await;
        ok(&app, id, "reply", json!({"text": "答复", "result": "A"})).await;
    }
    ok(&app, &ids[1], "feedback", json!({"verdict": "satisfied"})).await;
    ok(
        &app,
        &ids[2],
        "feedback",
        json!({"verdict": "basically_satisfied"}),
    )
    .await;
    let stats: Value = app
        .get(&format!("/api/v1/proposals/stats?district_id={}", d.id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stats["total"], 4);
    assert_eq!(
        stats["by_status"],
        json!({"closed": 2, "not_filed": 1, "submitted": 1})
    );
    assert_eq!(stats["by_kind"], json!({"member": 4}));
    assert_eq!(stats["filing_rate"], 2.0 / 3.0);
    assert_eq!(stats["on_time_reply_rate"], 1.0);
    assert_eq!(stats["satisfaction_rate"], 1.0);
    let empty: Value = app
        .get("/api/v1/proposals/stats?year=1999")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(empty["total"], 0);
    assert_eq!(empty["filing_rate"], Value::Null);
}

/// Found by an outside attack: a body of the full length its schema allows (20,000
/// characters, beyond the Basic Multilingual Plane too) took the search terms' bigrams
/// past the statement timeout, a 503 no retry could get past. Any such body is stored, and
/// found by its words.
#[tokio::test]
async fn a_body_of_the_full_length_is_stored_and_searched() {
    let app = spawn_app().await;
    let d = district(&app, "xicheng").await;
    for (title, text) in [
        ("长文一", "\u{20000}".repeat(20_000)),
        ("长文二", "字".repeat(19_998) + "清河"),
    ] {
        let id = draft(&app, &d, title, json!({ "body": text })).await;
        let read: Value = app
            .get(&format!("/api/v1/proposals/{id}"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(read["body"].as_str().unwrap().chars().count(), 20_000);
    }
    let found: Value = app
        .get("/api/v1/proposals?q=%E6%B8%85%E6%B2%B3")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(found["items"].as_array().unwrap().len(), 1, "{found}");
    assert_eq!(found["items"][0]["title"], "长文二");
}
