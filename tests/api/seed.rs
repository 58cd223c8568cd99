use std::collections::BTreeSet;

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
    let online = all_items(&app, "/api/v1/activities?district=haidian").await;
    assert_eq!(online.len(), 300);
    let tongzhou = all_items(&app, "/api/v1/members?district=tongzhou").await;
    assert!(tongzhou.len() > 200);
}
