use std::collections::BTreeSet;

use chrono::Datelike;

use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde_json::Value;

use crate::helpers::{TestApp, spawn_app};

/// Every row's id, version and last change, table by table.
async fn snapshot(app: &TestApp) -> Vec<String> {
    let db = app.db().await;
    let mut rows = Vec::new();
    for table in [
        "districts",
        "departments",
        "members",
        "workstations",
        "activities",
        "meetings",
        "reports",
        "key_tasks",
    ] {
        for row in db
            .query(
                &format!("SELECT id::text, version, updated_at::text FROM {table} ORDER BY id"),
                &[],
            )
            .await
            .unwrap()
        {
            let (id, version, updated): (String, i64, String) =
                (row.get(0), row.get(1), row.get(2));
            rows.push(format!("{table} {id} {version} {updated}"));
        }
    }
    for row in db
        .query(
            "SELECT workstation_id::text, member_id::text FROM workstation_members ORDER BY 1, 2",
            &[],
        )
        .await
        .unwrap()
    {
        let (station, member): (String, String) = (row.get(0), row.get(1));
        rows.push(format!("workstation_members {station} {member}"));
    }
    for row in db
        .query(
            "SELECT meeting_id::text, member_id::text, status FROM meeting_attendance \
             ORDER BY 1, 2",
            &[],
        )
        .await
        .unwrap()
    {
        let (meeting, member, status): (String, String, String) =
            (row.get(0), row.get(1), row.get(2));
        rows.push(format!("meeting_attendance {meeting} {member} {status}"));
    }
    rows
}

async fn all_items(app: &TestApp, path: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let separator = if path.contains('?') { '&' } else { '?' };
    let mut url = format!("{path}{separator}limit=200");
    loop {
        let page: Value = app.get(&url).await.json().await.unwrap();
        items.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(cursor) => url = format!("{path}{separator}limit=200&cursor={cursor}"),
            None => return items,
        }
    }
}

#[tokio::test]
async fn the_demo_seed_matches_the_source_and_a_second_run_changes_nothing() {
    let app = spawn_app().await;
    let mut conn = AsyncPgConnection::establish(&app.database_url)
        .await
        .unwrap();
    let first = cppcc_api::seed::seed_demo(&mut conn).await.unwrap();
    assert_eq!(first.districts, 6);
    let before = snapshot(&app).await;

    let second = cppcc_api::seed::seed_demo(&mut conn).await.unwrap();
    assert_eq!(second, cppcc_api::seed::SeedReport::default());
    assert_eq!(snapshot(&app).await, before, "the second run changed rows");

    let districts = all_items(&app, "/api/v1/districts").await;
    let codes: BTreeSet<&str> = districts
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        BTreeSet::from([
            "haidian",
            "huairou",
            "shijingshan",
            "tongzhou",
            "xicheng",
            "yanqing"
        ])
    );
    let haidian = all_items(&app, "/api/v1/workstations?district=haidian").await;
    assert_eq!(haidian.len(), 33);
    let kinds: BTreeSet<&str> = haidian
        .iter()
        .map(|w| w["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.len(), 8);
    let yanqing = all_items(&app, "/api/v1/workstations?district=yanqing").await;
    assert_eq!(yanqing.len(), 20);
    assert!(
        yanqing
            .iter()
            .all(|w| w["name"].as_str().unwrap().ends_with("委员工作室"))
    );
    let departments = all_items(&app, "/api/v1/departments?district=shijingshan").await;
    assert_eq!(departments.len(), 36);
    assert!(departments.iter().any(|d| d["name"] == "区生态环境局"));
    let activities = all_items(&app, "/api/v1/activities?district=haidian").await;
    let online = activities
        .iter()
        .filter(|a| a["title"].as_str().unwrap().starts_with("网上"))
        .count();
    assert_eq!(online, 300);
    // Besides, one activity a month this year at each of the 33 workstations.
    let this_month = (chrono::Utc::now() + chrono::Duration::hours(8)).month() as usize;
    assert!(activities.len() >= 300 + 33 * (this_month - 1));
    let tongzhou = all_items(&app, "/api/v1/members?district=tongzhou").await;
    assert!(tongzhou.len() > 200);

    // The committees' own work: Tongzhou's 19 + 13 lectures this year and 65 key tasks
    // over three years, Huairou's 37 party-group meetings and 34 reports over three.
    let lectures = all_items(&app, "/api/v1/meetings?district=tongzhou&kind=lecture").await;
    assert_eq!(lectures.len(), 32);
    let series = |name: &str| {
        lectures
            .iter()
            .filter(|m| m["title"].as_str().unwrap().starts_with(name))
            .count()
    };
    assert_eq!((series("城市副中心讲堂"), series("委员讲堂")), (19, 13));
    let key_tasks = all_items(&app, "/api/v1/key-tasks?district=tongzhou").await;
    assert_eq!(key_tasks.len(), 65);
    let years: BTreeSet<i64> = key_tasks
        .iter()
        .map(|t| t["year"].as_i64().unwrap())
        .collect();
    assert_eq!(years.len(), 3);
    let party_group = all_items(&app, "/api/v1/meetings?district=huairou&kind=party_group").await;
    assert_eq!(party_group.len(), 37);
    let reports = all_items(&app, "/api/v1/reports?district=huairou").await;
    assert_eq!(reports.len(), 34);
    let today = (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive();
    assert!(
        lectures
            .iter()
            .chain(&party_group)
            .all(|m| m["held_on"].as_str().unwrap() <= today.to_string().as_str()),
        "no meeting is in the future"
    );

    // Attendance and activities make the ranking meaningful: totals differ, absences cost
    // points, and each grade is someone's.
    let tongzhou_id = tongzhou[0]["district_id"].as_str().unwrap();
    let ranking: Value = app
        .get(&format!(
            "/api/v1/performance?district_id={tongzhou_id}&limit=200"
        ))
        .await
        .json()
        .await
        .unwrap();
    let totals: BTreeSet<i64> = ranking["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["total"].as_i64().unwrap())
        .collect();
    assert!(totals.len() > 5, "{totals:?}");
    let absent: i64 = ranking["items"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|entry| entry["by_kind"].as_array().unwrap())
        .filter(|tally| tally["kind"] == "meeting_absent")
        .map(|tally| tally["count"].as_i64().unwrap())
        .sum();
    assert!(absent > 0);
    let grades: BTreeSet<&str> = ranking["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["grade"].as_str().unwrap())
        .collect();
    assert_eq!(grades.len(), 3, "every grade is someone's: {grades:?}");
}
