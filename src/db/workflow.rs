//! The steps of every workflow (proposals and the others), kept as their history.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::Value;

use crate::db::schema::workflow_steps;
use crate::domain::ids::ApiKeyId;

/// One step of a record's workflow.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = workflow_steps, check_for_backend(diesel::pg::Pg))]
pub struct Step {
    pub id: uuid::Uuid,
    pub entity_type: String,
    pub entity_id: uuid::Uuid,
    pub action: String,
    pub from_status: String,
    pub to_status: String,
    pub actor_key_id: Option<ApiKeyId>,
    pub actor_role: Option<String>,
    pub occurred_at: DateTime<Utc>,
    pub payload: Value,
}

#[tracing::instrument(skip_all)]
pub async fn record(conn: &mut AsyncPgConnection, step: &Step) -> QueryResult<()> {
    crate::db::Prepared(diesel::insert_into(workflow_steps::table).values(step))
        .execute(conn)
        .await
        .map(drop)
}

/// The steps of one record, oldest first.
#[tracing::instrument(skip_all)]
pub async fn steps(
    conn: &mut AsyncPgConnection,
    entity_type: &str,
    entity_id: uuid::Uuid,
) -> QueryResult<Vec<Step>> {
    workflow_steps::table
        .select(Step::as_select())
        .filter(workflow_steps::entity_type.eq(entity_type))
        .filter(workflow_steps::entity_id.eq(entity_id))
        .order(workflow_steps::id)
        .load(conn)
        .await
}
