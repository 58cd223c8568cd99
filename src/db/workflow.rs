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
    /// The person who took the step, when a person did.
    pub actor_account: Option<Value>,
}

/// The step's `INSERT`, to be sent with the `COMMIT` ([`crate::api::work::Tx::defer`]).
pub fn record_later(step: Step) -> crate::db::Statement {
    Box::new(move |mut conn| {
        Box::pin(async move {
            crate::db::Prepared(diesel::insert_into(workflow_steps::table).values(&step))
                .execute(&mut conn)
                .await
                .and_then(crate::db::one_row)
        })
    })
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
