//! The change feed and the snapshot, read from the stamps a trigger writes on every row
//! the feed carries (`change_txid`: the writing transaction; `change_seq`: a sequence).

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::domain::changes::{Collection, Cursor};
use crate::domain::ids::DistrictId;

/// The table of a collection and the column naming its district.
fn table(collection: Collection) -> (&'static str, &'static str) {
    match collection {
        Collection::ConsultationActivities => ("consultation_activities", "district_id"),
        Collection::EvaluationVisits => ("evaluation_visits", "district_id"),
        Collection::RectificationItems => ("rectification_items", "district_id"),
        Collection::Districts => ("districts", "id"),
        Collection::Departments => ("departments", "district_id"),
        Collection::Members => ("members", "district_id"),
        Collection::Workstations => ("workstations", "district_id"),
        Collection::Activities => ("activities", "district_id"),
        Collection::Proposals => ("proposals", "district_id"),
        Collection::Consultations => ("consultations", "district_id"),
        Collection::Evaluations => ("evaluations", "district_id"),
        Collection::Rulings => ("rulings", "district_id"),
        Collection::Meetings => ("meetings", "district_id"),
        Collection::Reports => ("reports", "district_id"),
        Collection::KeyTasks => ("key_tasks", "district_id"),
        Collection::Accounts => ("accounts", "district_id"),
    }
}

#[derive(QueryableByName)]
struct Horizon {
    #[diesel(sql_type = BigInt)]
    horizon: i64,
}

/// The oldest transaction still running as this statement's snapshot sees it: every
/// transaction below it has committed or rolled back, and none can start below it.
/// Reading it assigns no transaction id.
#[tracing::instrument(skip_all)]
pub async fn horizon(conn: &mut AsyncPgConnection) -> QueryResult<i64> {
    diesel::sql_query("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS horizon")
        .get_result::<Horizon>(conn)
        .await
        .map(|row| row.horizon)
}

/// A changed row, as the feed orders it.
#[derive(Debug, Clone, QueryableByName)]
pub struct Changed {
    #[diesel(sql_type = SqlUuid)]
    pub id: uuid::Uuid,
    #[diesel(sql_type = BigInt)]
    pub version: i64,
    #[diesel(sql_type = Bool)]
    pub deleted: bool,
    #[diesel(sql_type = BigInt)]
    pub change_txid: i64,
    #[diesel(sql_type = BigInt)]
    pub change_seq: i64,
}

impl Changed {
    pub fn cursor(&self) -> Cursor {
        Cursor {
            txid: self.change_txid,
            seq: self.change_seq,
        }
    }
}

/// Whether a row of `collection` is deleted, in SQL (rectification items never are).
fn deleted(collection: Collection) -> &'static str {
    match collection {
        Collection::RectificationItems => "false",
        _ => "deleted_at IS NOT NULL",
    }
}

/// The rows of `collection` changed after `after` by transactions below `horizon`, in
/// feed order, at most `limit`.
#[tracing::instrument(skip_all)]
pub async fn changed(
    conn: &mut AsyncPgConnection,
    collection: Collection,
    after: Cursor,
    horizon: i64,
    district: Option<DistrictId>,
    limit: i64,
) -> QueryResult<Vec<Changed>> {
    let (table, district_column) = table(collection);
    let deleted = deleted(collection);
    diesel::sql_query(format!(
        "SELECT id, version, {deleted} AS deleted, change_txid, change_seq \
         FROM {table} \
         WHERE (change_txid, change_seq) > ($1, $2) AND change_txid < $3 \
           AND ($4::uuid IS NULL OR {district_column} = $4) \
         ORDER BY change_txid, change_seq LIMIT $5"
    ))
    .bind::<BigInt, _>(after.txid)
    .bind::<BigInt, _>(after.seq)
    .bind::<BigInt, _>(horizon)
    .bind::<Nullable<SqlUuid>, _>(district.map(|id| id.0))
    .bind::<BigInt, _>(limit)
    .load(conn)
    .await
}

/// A page of the live rows of `collection` last written by transactions below `horizon`,
/// by id: at most `limit`, after the id `after`.
#[tracing::instrument(skip_all)]
pub async fn live_below(
    conn: &mut AsyncPgConnection,
    collection: Collection,
    horizon: i64,
    district: Option<DistrictId>,
    after: Option<uuid::Uuid>,
    limit: i64,
) -> QueryResult<Vec<Changed>> {
    let (table, district_column) = table(collection);
    let deleted = deleted(collection);
    diesel::sql_query(format!(
        "SELECT id, version, false AS deleted, change_txid, change_seq \
         FROM {table} \
         WHERE NOT ({deleted}) AND change_txid < $1 \
           AND ($2::uuid IS NULL OR {district_column} = $2) \
           AND ($3::uuid IS NULL OR id > $3) \
         ORDER BY id LIMIT $4"
    ))
    .bind::<BigInt, _>(horizon)
    .bind::<Nullable<SqlUuid>, _>(district.map(|id| id.0))
    .bind::<Nullable<SqlUuid>, _>(after)
    .bind::<BigInt, _>(limit)
    .load(conn)
    .await
}
