//! Members' duty performance: every kind of item counted once with its points and its
//! source, deleted records no longer counting, versioned scoring rules that never rewrite
//! a score, and the district ranking in pages and as CSV.

use std::collections::BTreeMap;

use chrono::Datelike;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

async fn body_of(response: reqwest::Response, status: StatusCode) -> Value {
    let got = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(got, status, "{body}");
    body
}

fn id(value: &Value) -> String {
    value["id"].as_str().expect("an id").to_owned()
}

/// This Beijing year: proposals count in the year they are submitted, which is now.
fn this_year() -> i32 {
    (chrono::Utc::now() + chrono::Duration::hours(8)).year()
}

/// A day of this year.
fn day(month_day: &str) -> String {
    format!("{}-{month_day}", this_year())
}

/// The default rules (version 1).
fn points_of(kind: &str) -> i64 {
    match kind {
        "proposal_led" => 10,
        "proposal_filed" => 5,
        "proposal_cosigned" => 3,
        "consultation_activity" => 5,
        "workstation_activity" => 3,
        "meeting_present" => 4,
        "meeting_excused" => 0,
        "meeting_absent" => -5,
        "evaluation_served" => 8,
        "ratings_given" => 2,
        other => panic!("unknown kind {other}"),
    }
}

/// A district where one member (the lead) has an item of every merit kind, a second
/// co-signed and was excused, a third was absent.
struct District {
    id: String,
    lead: String,
    cosigner: String,
    absentee: String,
    proposal: String,
    activity: String,
    topic: String,
    consultation_activity: String,
    meeting: String,
    evaluation: String,
}

async fn created(response: reqwest::Response) -> String {
    id(&body_of(response, StatusCode::CREATED).await)
}

async fn ok(response: reqwest::Response) -> Value {
    body_of(response, StatusCode::OK).await
}

async fn district_with_every_kind(app: &TestApp, code: &str) -> District {
    let district = id(&app.district(code).await);
    let lead = id(&app.member(&district, "1", "王芳").await);
    let cosigner = id(&app.member(&district, "2", "李明").await);
    let absentee = id(&app.member(&district, "3", "赵丽").await);

    // A joint proposal led by one member and co-signed by another, submitted and filed;
    // a draft of the lead's that does not count.
    let proposal = created(
        app.post(
            "/api/v1/proposals",
            &json!({"district_id": district, "kind": "joint", "title": "关于推进垃圾分类的提案",
                "body": "建议加强老旧小区垃圾分类设施建设。", "category": "environment",
                "lead_member_id": lead}),
        )
        .await,
    )
    .await;
    let at = |action: &str| format!("/api/v1/proposals/{proposal}/{action}");
    assert!(
        app.put(&at(&format!("cosigners/{cosigner}")))
            .await
            .status()
            .is_success()
    );
    ok(app.post(&at("submit"), &json!({})).await).await;
    ok(app.post(&at("file"), &json!({})).await).await;
    created(
        app.post(
            "/api/v1/proposals",
            &json!({"district_id": district, "kind": "member", "title": "草稿",
                "body": "未提交。", "category": "economy", "lead_member_id": lead}),
        )
        .await,
    )
    .await;

    // A workstation activity with the lead and the co-signer.
    let workstation = created(
        app.post(
            "/api/v1/workstations",
            &json!({"district_id": district, "name": "学院路委员工作站", "kind": "street"}),
        )
        .await,
    )
    .await;
    let activity = created(
        app.post(
            &format!("/api/v1/workstations/{workstation}/activities"),
            &json!({"kind": "salon", "title": "委员沙龙", "held_on": day("05-01"),
                "participant_ids": [lead, cosigner]}),
        )
        .await,
    )
    .await;

    // A consultation activity with the lead.
    let topic = created(
        app.post(
            "/api/v1/consultations",
            &json!({"district_id": district, "year": this_year(), "title": "数字经济发展"}),
        )
        .await,
    )
    .await;
    let consultation_activity = created(
        app.post(
            &format!("/api/v1/consultations/{topic}/activities"),
            &json!({"format": "thematic_meeting", "held_on": day("04-01"), "participant_ids": [lead]}),
        )
        .await,
    )
    .await;

    // A meeting: the lead present, the co-signer excused, the third absent.
    let meeting = created(
        app.post(
            "/api/v1/meetings",
            &json!({"district_id": district, "kind": "standing_committee", "title": "常委会会议", "held_on": day("03-10")}),
        )
        .await,
    )
    .await;
    for (member, status) in [
        (&lead, "present"),
        (&cosigner, "excused"),
        (&absentee, "absent"),
    ] {
        let response = app
            .request(
                Method::PUT,
                &format!("/api/v1/meetings/{meeting}/attendance/{member}"),
                Some(&json!({"status": status})),
            )
            .await;
        body_of(response, StatusCode::CREATED).await;
    }

    // An evaluation of the year with the lead as evaluator, giving two ratings.
    let department = created(
        app.post(
            "/api/v1/departments",
            &json!({"district_id": district, "name": "区市场监管局", "kind": "government"}),
        )
        .await,
    )
    .await;
    let evaluation = created(
        app.post(
            "/api/v1/evaluations",
            &json!({"district_id": district, "department_id": department, "year": this_year()}),
        )
        .await,
    )
    .await;
    let at = |path: &str| format!("/api/v1/evaluations/{evaluation}/{path}");
    body_of(
        app.put(&at(&format!("evaluators/{lead}"))).await,
        StatusCode::CREATED,
    )
    .await;
    for step in [
        format!("evaluators/{lead}/training"),
        "start-investigation".into(),
        "start-deliberation".into(),
    ] {
        ok(app.post(&at(&step), &json!({})).await).await;
    }
    for criterion in ["integrity", "work_style"] {
        let response = app
            .request(
                Method::PUT,
                &at(&format!("ratings/{lead}/{criterion}")),
                Some(&json!({"rating": "satisfied"})),
            )
            .await;
        body_of(response, StatusCode::CREATED).await;
    }
    District {
        id: district,
        lead,
        cosigner,
        absentee,
        proposal,
        activity,
        topic,
        consultation_activity,
        meeting,
        evaluation,
    }
}

async fn performance(app: &TestApp, member: &str, query: &str) -> Value {
    ok(app
        .get(&format!("/api/v1/members/{member}/performance?{query}"))
        .await)
    .await
}

/// The kinds of a performance's items, with how often each occurs.
fn kinds(performance: &Value) -> BTreeMap<String, usize> {
    let mut kinds = BTreeMap::new();
    for item in performance["items"].as_array().unwrap() {
        *kinds
            .entry(item["kind"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    kinds
}

fn once(names: &[&str]) -> BTreeMap<String, usize> {
    names.iter().map(|name| ((*name).to_owned(), 1)).collect()
}

#[tokio::test]
async fn every_item_kind_counts_once_with_its_points_and_its_source() {
    let app = spawn_app().await;
    let d = district_with_every_kind(&app, "yanqing").await;
    let year = this_year();

    let lead = performance(&app, &d.lead, &format!("year={year}")).await;
    assert_eq!(
        kinds(&lead),
        once(&[
            "consultation_activity",
            "evaluation_served",
            "meeting_present",
            "proposal_filed",
            "proposal_led",
            "ratings_given",
            "workstation_activity",
        ]),
        "{lead}"
    );
    let mut total = 0;
    for item in lead["items"].as_array().unwrap() {
        let kind = item["kind"].as_str().unwrap();
        assert_eq!(item["points"], points_of(kind), "{kind}");
        total += points_of(kind);
        // Every item links to the record it comes from, and the link works.
        let href = item["source"]["href"].as_str().unwrap();
        let source = ok(app.get(href).await).await;
        assert_eq!(source["id"], item["source"]["id"], "{href}");
    }
    let source_of = |kind: &str| {
        lead["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|item| item["kind"] == kind)
            .map(|item| item["source"]["id"].as_str().unwrap().to_owned())
            .unwrap()
    };
    assert_eq!(source_of("proposal_led"), d.proposal);
    assert_eq!(source_of("workstation_activity"), d.activity);
    assert_eq!(source_of("consultation_activity"), d.consultation_activity);
    assert_eq!(source_of("meeting_present"), d.meeting);
    assert_eq!(source_of("ratings_given"), d.evaluation);
    assert_eq!(lead["total"], total);
    assert_eq!(total, 37);
    assert_eq!(lead["grade"], "not_competent", "37 is under the line of 60");
    assert_eq!(lead["rules"]["version"], 1);
    let tallied: i64 = lead["by_kind"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tally| tally["points"].as_i64().unwrap())
        .sum();
    assert_eq!(tallied, total);

    let cosigner = performance(&app, &d.cosigner, &format!("year={year}")).await;
    assert_eq!(
        kinds(&cosigner),
        once(&[
            "meeting_excused",
            "proposal_cosigned",
            "workstation_activity"
        ])
    );
    assert_eq!(cosigner["total"], 6);
    let absentee = performance(&app, &d.absentee, &format!("year={year}")).await;
    assert_eq!(kinds(&absentee), once(&["meeting_absent"]));
    assert_eq!(absentee["total"], -5);
    // Nothing counts in another year.
    let before = performance(&app, &d.lead, &format!("year={}", year - 1)).await;
    assert_eq!(before["items"], json!([]));
    assert_eq!(before["total"], 0);

    // The ranking agrees with each member's own answer.
    let ranking = ok(app
        .get(&format!(
            "/api/v1/performance?district_id={}&year={year}",
            d.id
        ))
        .await)
    .await;
    let ranked: Vec<(String, i64, i64)> = ranking["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            (
                entry["member_id"].as_str().unwrap().to_owned(),
                entry["total"].as_i64().unwrap(),
                entry["rank"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        ranked,
        [
            (d.lead.clone(), 37, 1),
            (d.cosigner.clone(), 6, 2),
            (d.absentee.clone(), -5, 3)
        ]
    );
    assert_eq!(ranking["items"][0]["by_kind"], lead["by_kind"]);
    assert_eq!(ranking["next_cursor"], Value::Null);
}

#[tokio::test]
async fn a_deleted_record_stops_counting() {
    let app = spawn_app().await;
    let d = district_with_every_kind(&app, "tongzhou").await;
    let year = this_year();
    let full = performance(&app, &d.lead, &format!("year={year}")).await;
    assert_eq!(full["total"], 37);

    for path in [
        format!("/api/v1/activities/{}", d.activity),
        format!(
            "/api/v1/consultations/{}/activities/{}",
            d.topic, d.consultation_activity
        ),
        format!("/api/v1/meetings/{}", d.meeting),
    ] {
        assert_eq!(
            app.delete(&path).await.status(),
            StatusCode::NO_CONTENT,
            "{path}"
        );
    }
    let after = performance(&app, &d.lead, &format!("year={year}")).await;
    assert_eq!(
        kinds(&after),
        once(&[
            "evaluation_served",
            "proposal_filed",
            "proposal_led",
            "ratings_given"
        ])
    );
    assert_eq!(after["total"], 37 - 3 - 5 - 4);
    let absentee = performance(&app, &d.absentee, &format!("year={year}")).await;
    assert_eq!(
        absentee["total"], 0,
        "the deleted meeting's absence is gone"
    );

    // A member deleted leaves the ranking; the rest are still ranked.
    assert_eq!(
        app.delete(&format!("/api/v1/members/{}", d.absentee))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let ranking = ok(app
        .get(&format!(
            "/api/v1/performance?district_id={}&year={year}",
            d.id
        ))
        .await)
    .await;
    let members: Vec<&str> = ranking["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["member_id"].as_str().unwrap())
        .collect();
    assert_eq!(members, [d.lead.as_str(), d.cosigner.as_str()]);
}

fn rules_body(from_year: i32, each: i64, absent: i64) -> Value {
    let points: serde_json::Map<String, Value> = [
        "proposal_led",
        "proposal_filed",
        "proposal_cosigned",
        "consultation_activity",
        "workstation_activity",
        "meeting_present",
        "meeting_excused",
        "evaluation_served",
        "ratings_given",
    ]
    .iter()
    .map(|kind| ((*kind).to_owned(), json!(each)))
    .collect();
    json!({
        "from_year": from_year,
        "points": points,
        "penalties": {"meeting_absent": absent},
        "competent_line": 20,
        "excellent_line": 60,
        "note": "试行办法",
    })
}

#[tokio::test]
async fn a_new_rule_version_never_rewrites_a_score_computed_under_an_old_one() {
    let app = spawn_app().await;
    let d = district_with_every_kind(&app, "dongcheng").await;
    let year = this_year();
    let under_first = performance(&app, &d.lead, &format!("year={year}")).await;
    assert_eq!(under_first["rules"]["version"], 1);

    // Version 2, in force from this year: every merit 10, an absence -20.
    let second = body_of(
        app.post("/api/v1/scoring-rules", &rules_body(year, 10, 20))
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(second["version"], 2);
    // Version 3, from next year on: it does not touch this year.
    body_of(
        app.post("/api/v1/scoring-rules", &rules_body(year + 1, 1, 1))
            .await,
        StatusCode::CREATED,
    )
    .await;

    let now = performance(&app, &d.lead, &format!("year={year}")).await;
    assert_eq!(now["rules"]["version"], 2);
    assert_eq!(now["total"], 70, "seven merits of 10");
    assert_eq!(now["grade"], "excellent", "at the line of 60");
    let absentee = performance(&app, &d.absentee, &format!("year={year}")).await;
    assert_eq!(absentee["total"], -20);

    // The old answer, exactly, under version 1.
    let again = performance(&app, &d.lead, &format!("year={year}&rules=1")).await;
    assert_eq!(again, under_first);
    let ranking = ok(app
        .get(&format!(
            "/api/v1/performance?district_id={}&year={year}&rules=1",
            d.id
        ))
        .await)
    .await;
    assert_eq!(ranking["rules"]["version"], 1);
    assert_eq!(ranking["items"][0]["total"], 37);

    // Published versions are listed and can be neither changed nor removed.
    let listed = ok(app.get("/api/v1/scoring-rules").await).await;
    let versions: Vec<i64> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|rules| rules["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions, [1, 2, 3]);
    let db = app.db().await;
    for statement in [
        "UPDATE scoring_rules SET competent_line = 0 WHERE version = 1",
        "DELETE FROM scoring_rules WHERE version = 2",
        "TRUNCATE scoring_rules",
    ] {
        assert!(db.batch_execute(statement).await.is_err(), "{statement}");
    }
    let first = ok(app.get("/api/v1/scoring-rules/1").await).await;
    assert_eq!(first["competent_line"], 60);
    assert_eq!(first["points"]["proposal_led"], 10);
    // The publication is in the audit trail.
    let trail = ok(app
        .get("/api/v1/audit-events?entity_type=scoring_rules")
        .await)
    .await;
    assert_eq!(trail["items"].as_array().unwrap().len(), 2);

    // An unknown version is refused, not guessed.
    let response = app
        .get(&format!(
            "/api/v1/members/{}/performance?year={year}&rules=9",
            d.lead
        ))
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

/// A district's own rules belong to it: another district's keys find no such version
/// (404) and never list it; its own keys, administrators and auditors read it.
#[tokio::test]
async fn a_districts_own_rules_are_invisible_to_other_districts_keys() {
    let app = spawn_app().await;
    let own = id(&app.district("xicheng").await);
    let other = id(&app.district("haidian").await);
    let mut body = rules_body(2026, 7, 1);
    body["district_id"] = json!(own);
    let published = body_of(
        app.post("/api/v1/scoring-rules", &body).await,
        StatusCode::CREATED,
    )
    .await;
    let version = published["version"].as_i64().unwrap();
    let path = format!("/api/v1/scoring-rules/{version}");
    let versions = |list: &Value| -> Vec<i64> {
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|rules| rules["version"].as_i64().unwrap())
            .collect()
    };
    for (role, district, sees) in [
        ("clerk", Some(&own), true),
        ("sync", Some(&own), true),
        ("auditor", None, true),
        ("clerk", Some(&other), false),
        ("sync", Some(&other), false),
    ] {
        let token = app.key(role, district.map(String::as_str)).await;
        let read = app.request_as(Some(&token), Method::GET, &path, None).await;
        let want = if sees {
            StatusCode::OK
        } else {
            StatusCode::NOT_FOUND
        };
        assert_eq!(read.status(), want, "{role} of {district:?} reads {path}");
        // No filter, the rules's own district, and the key's own district.
        let mut queries = vec![String::new(), format!("?district_id={own}")];
        queries.extend(district.map(|district| format!("?district_id={district}")));
        for query in queries {
            let response = app
                .request_as(
                    Some(&token),
                    Method::GET,
                    &format!("/api/v1/scoring-rules{query}"),
                    None,
                )
                .await;
            if !sees && query.contains(&own) {
                assert_eq!(response.status(), StatusCode::NOT_FOUND, "{role} {query}");
                continue;
            }
            let list = body_of(response, StatusCode::OK).await;
            assert_eq!(
                versions(&list).contains(&version),
                sees,
                "{role} of {district:?} lists {query}"
            );
        }
    }
}

#[tokio::test]
async fn only_administrators_publish_rules_and_every_bad_field_is_named() {
    let app = spawn_app().await;
    let district = id(&app.district("xicheng").await);
    let clerk = app.key("clerk", Some(&district)).await;
    let auditor = app.key("auditor", None).await;
    for token in [&clerk, &auditor] {
        let response = app
            .request_as(
                Some(token),
                Method::POST,
                "/api/v1/scoring-rules",
                Some(&rules_body(2026, 1, 1)),
            )
            .await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let read = app
            .request_as(Some(token), Method::GET, "/api/v1/scoring-rules/1", None)
            .await;
        assert_eq!(read.status(), StatusCode::OK, "everyone reads the rules");
    }

    let mut body = rules_body(1999, 101, -1);
    body["points"]
        .as_object_mut()
        .unwrap()
        .remove("ratings_given");
    body["competent_line"] = json!(70);
    body["excellent_line"] = json!(70);
    let problem = body_of(
        app.post("/api/v1/scoring-rules", &body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let mut named: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|error| error["pointer"].as_str().unwrap())
        .collect();
    named.sort_unstable();
    assert_eq!(
        named,
        [
            "/excellent_line",
            "/from_year",
            "/penalties/meeting_absent",
            "/points/consultation_activity",
            "/points/evaluation_served",
            "/points/meeting_excused",
            "/points/meeting_present",
            "/points/proposal_cosigned",
            "/points/proposal_filed",
            "/points/proposal_led",
            "/points/ratings_given",
            "/points/workstation_activity",
        ]
    );
    // A past year keeps its rules: a version cannot start before this year.
    let past = body_of(
        app.post("/api/v1/scoring-rules", &rules_body(this_year() - 1, 1, 1))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(past["errors"][0]["pointer"], "/from_year");
    let mut unknown = rules_body(this_year(), 1, 1);
    unknown["points"]["speeches"] = json!(3);
    let response = app.post("/api/v1/scoring-rules", &unknown).await;
    assert!(response.status().is_client_error());
    let listed = ok(app.get("/api/v1/scoring-rules").await).await;
    assert_eq!(
        listed["items"].as_array().unwrap().len(),
        1,
        "nothing published"
    );
}

#[tokio::test]
async fn the_ranking_pages_filters_and_exports_a_district() {
    let app = spawn_app().await;
    let district = id(&app.district("huairou").await);
    let other = id(&app.district("miyun").await);
    let year = this_year();
    // Seven members; member n attends n meetings, so totals are 4n; two pairs tie.
    let mut members = Vec::new();
    for n in 1..=7 {
        let sector = if n % 2 == 0 { "cdl" } else { "jiusan" };
        let street = if n <= 3 {
            "泉河街道"
        } else {
            "龙山街道"
        };
        let member = body_of(
            app.post(
                "/api/v1/members",
                &json!({"district_id": district, "member_no": format!("{n}"), "name": format!("委员{n}"),
                    "sector": sector, "party": "cdl", "street": street}),
            )
            .await,
            StatusCode::CREATED,
        )
        .await;
        members.push(id(&member));
    }
    let attendance = [1, 2, 2, 4, 5, 5, 7];
    for held in 1..=7 {
        let meeting = created(
            app.post(
                "/api/v1/meetings",
                &json!({"district_id": district, "kind": "party_group", "title": format!("党组会议第{held}次"), "held_on": day("02-01")}),
            )
            .await,
        )
        .await;
        for (member, times) in members.iter().zip(attendance) {
            if held <= times {
                let response = app
                    .request(
                        Method::PUT,
                        &format!("/api/v1/meetings/{meeting}/attendance/{member}"),
                        Some(&json!({"status": "present"})),
                    )
                    .await;
                body_of(response, StatusCode::CREATED).await;
            }
        }
    }

    // Pages of three cover everyone once, highest first, ties by id, with shared ranks.
    let mut seen: Vec<(i64, i64, String)> = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/v1/performance?district_id={district}&year={year}&limit=3");
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={cursor}"));
        }
        let page = ok(app.get(&path).await).await;
        for entry in page["items"].as_array().unwrap() {
            seen.push((
                entry["rank"].as_i64().unwrap(),
                entry["total"].as_i64().unwrap(),
                entry["member_id"].as_str().unwrap().to_owned(),
            ));
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let mut expected: Vec<(i64, String)> = members
        .iter()
        .zip(attendance)
        .map(|(member, times)| (4 * times, member.clone()))
        .collect();
    expected.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let totals: Vec<(i64, String)> = seen.iter().map(|(_, t, m)| (*t, m.clone())).collect();
    assert_eq!(totals, expected);
    let ranks: Vec<i64> = seen.iter().map(|(rank, _, _)| *rank).collect();
    assert_eq!(ranks, [1, 2, 2, 4, 5, 5, 7]);

    // Filters keep the district-wide rank.
    let filtered = ok(app
        .get(&format!(
            "/api/v1/performance?district_id={district}&year={year}&sector=cdl&street=龙山街道"
        ))
        .await)
    .await;
    let picked: Vec<(i64, &str)> = filtered["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            (
                entry["rank"].as_i64().unwrap(),
                entry["member_id"].as_str().unwrap(),
            )
        })
        .collect();
    // Members 4 and 6 are cdl on 龙山街道 (attending 4 and 5 times: ranks 4 and 2).
    assert_eq!(picked, [(2, members[5].as_str()), (4, members[3].as_str())]);

    // CSV: the whole ranking, one line per member, every kind counted.
    let response = app
        .client
        .get(app.url(&format!(
            "/api/v1/performance?district_id={district}&year={year}&limit=1"
        )))
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
    let vary = response.headers()["vary"].to_str().unwrap();
    assert!(vary.contains("Accept"), "one URL, two formats: {vary}");
    let disposition = response.headers()["content-disposition"].to_str().unwrap();
    let (ascii, named) = disposition
        .strip_prefix("attachment; ")
        .and_then(|rest| rest.split_once("; filename*=UTF-8''"))
        .unwrap_or_else(|| panic!("{disposition}"));
    assert_eq!(ascii, format!("filename=\"performance-{year}.csv\""));
    let named: String = url::form_urlencoded::parse(format!("n={named}").as_bytes())
        .next()
        .unwrap()
        .1
        .into_owned();
    assert_eq!(named, format!("履职排名-{year}.csv"));
    let bytes = response.bytes().await.unwrap();
    assert!(
        bytes.starts_with("\u{feff}rank,".as_bytes()),
        "a UTF-8 byte-order mark first"
    );
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let text = text.trim_start_matches('\u{feff}');
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 8, "a header and every member: {text}");
    assert!(lines[0].starts_with(
        "rank,member_id,member_no,name,sector,street,status,total,grade,proposal_led,"
    ));
    let first: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(first[0], "1");
    assert_eq!(first[1], members[6]);
    assert_eq!(first[7], "28");
    let present_column = lines[0]
        .split(',')
        .position(|name| name == "meeting_present")
        .unwrap();
    assert_eq!(first[present_column], "7");

    // District keys read their own district only; others must name one.
    let clerk = app.key("clerk", Some(&other)).await;
    let response = app
        .request_as(
            Some(&clerk),
            Method::GET,
            &format!("/api/v1/performance?district_id={district}"),
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = app
        .request_as(
            Some(&clerk),
            Method::GET,
            &format!("/api/v1/members/{}/performance", members[0]),
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let own = app
        .request_as(Some(&clerk), Method::GET, "/api/v1/performance", None)
        .await;
    let own = body_of(own, StatusCode::OK).await;
    assert_eq!(own["district_id"], other.as_str());
    assert_eq!(own["items"], json!([]));
    assert_eq!(
        app.get("/api/v1/performance").await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        app.get(&format!(
            "/api/v1/performance?district_id={}",
            uuid::Uuid::now_v7()
        ))
        .await
        .status(),
        StatusCode::NOT_FOUND
    );
    let response = app
        .get(&format!(
            "/api/v1/performance?district_id={district}&cursor=bm90LWEtY3Vyc29y"
        ))
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn a_districts_own_rules_come_before_the_common_ones_for_it_alone() {
    let app = spawn_app().await;
    let year = this_year();
    let yanqing = id(&app.district("yanqing").await);
    let dongcheng = id(&app.district("dongcheng").await);
    let mut members = Vec::new();
    for district in [&yanqing, &dongcheng] {
        let member = id(&app.member(district, "1", "王芳").await);
        let meeting = created(
            app.post(
                "/api/v1/meetings",
                &json!({"district_id": district, "kind": "plenary", "title": "全体会议", "held_on": day("01-10")}),
            )
            .await,
        )
        .await;
        let response = app
            .request(
                Method::PUT,
                &format!("/api/v1/meetings/{meeting}/attendance/{member}"),
                Some(&json!({"status": "present"})),
            )
            .await;
        body_of(response, StatusCode::CREATED).await;
        members.push(member);
    }

    // Dongcheng's own points scoring: every merit 20.
    let mut own = rules_body(year, 20, 10);
    own["district_id"] = json!(dongcheng);
    let published = body_of(
        app.post("/api/v1/scoring-rules", &own).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(published["version"], 2);
    assert_eq!(published["district_id"], dongcheng.as_str());

    let of = |member: &str, query: String| {
        let app = &app;
        let path = format!("/api/v1/members/{member}/performance?{query}");
        async move { ok(app.get(&path).await).await }
    };
    let theirs = of(&members[1], format!("year={year}")).await;
    assert_eq!(theirs["rules"]["version"], 2);
    assert_eq!(theirs["total"], 20);
    let others = of(&members[0], format!("year={year}")).await;
    assert_eq!(
        others["rules"]["version"], 1,
        "another district keeps the common rules"
    );
    assert_eq!(others["total"], 4);
    // Dongcheng's rules cannot be asked for in Yanqing.
    let response = app
        .get(&format!(
            "/api/v1/members/{}/performance?year={year}&rules=2",
            members[0]
        ))
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // Common rules published later still come after a district's own for it.
    body_of(
        app.post("/api/v1/scoring-rules", &rules_body(year, 7, 7))
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(
        of(&members[1], format!("year={year}")).await["rules"]["version"],
        2
    );
    assert_eq!(
        of(&members[0], format!("year={year}")).await["rules"]["version"],
        3
    );

    let listed = |query: String| {
        let app = &app;
        async move {
            let list = ok(app.get(&format!("/api/v1/scoring-rules{query}")).await).await;
            list["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|rules| rules["version"].as_i64().unwrap())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(listed(String::new()).await, [1, 2, 3]);
    assert_eq!(listed(format!("?district_id={yanqing}")).await, [1, 3]);
    assert_eq!(listed(format!("?district_id={dongcheng}")).await, [1, 2, 3]);

    let mut nowhere = rules_body(year, 1, 1);
    nowhere["district_id"] = json!(uuid::Uuid::now_v7());
    let problem = body_of(
        app.post("/api/v1/scoring-rules", &nowhere).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(problem["errors"][0]["pointer"], "/district_id");
}
