//! What every workflow (proposals, and the others) shares: its recorded steps and the
//! refusal of a step its state machine does not allow.

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::api::auth::Caller;
use crate::db::workflow::{self as db, Step};
use crate::domain::ids::ApiKeyId;
use crate::error::ApiError;

/// One step of a workflow.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = WorkflowStep)]
pub struct StepView {
    pub action: String,
    pub from_status: String,
    pub to_status: String,
    pub actor_key_id: Option<ApiKeyId>,
    pub actor_role: Option<String>,
    pub occurred_at: DateTime<Utc>,
    /// What was sent with the action (and what it produced, such as a number).
    pub payload: Value,
}

/// The steps of a record's workflow, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkflowHistory {
    pub items: Vec<StepView>,
}

/// The recorded steps of one record.
pub(crate) async fn history(
    conn: &mut AsyncPgConnection,
    entity_type: &str,
    entity_id: uuid::Uuid,
) -> Result<WorkflowHistory, ApiError> {
    let items = db::steps(conn, entity_type, entity_id)
        .await?
        .into_iter()
        .map(|step| StepView {
            action: step.action,
            from_status: step.from_status,
            to_status: step.to_status,
            actor_key_id: step.actor_key_id,
            actor_role: step.actor_role,
            occurred_at: step.occurred_at,
            payload: step.payload,
        })
        .collect();
    Ok(WorkflowHistory { items })
}

/// A step about to be recorded.
pub(crate) struct Taken<'a> {
    pub entity_type: &'a str,
    pub entity_id: uuid::Uuid,
    pub action: &'a str,
    pub from: &'a str,
    pub to: &'a str,
    pub payload: Value,
}

/// Records a step taken by `caller`, in the step's transaction.
pub(crate) async fn record(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    taken: Taken<'_>,
) -> Result<(), ApiError> {
    db::record(
        conn,
        &Step {
            id: uuid::Uuid::now_v7(),
            entity_type: taken.entity_type.to_owned(),
            entity_id: taken.entity_id,
            action: taken.action.to_owned(),
            from_status: taken.from.to_owned(),
            to_status: taken.to.to_owned(),
            actor_key_id: Some(caller.key_id),
            actor_role: Some(caller.role.as_str().to_owned()),
            occurred_at: Utc::now(),
            payload: taken.payload,
        },
    )
    .await?;
    Ok(())
}

/// The refusal of a step: the record's status and what is allowed from there.
pub(crate) fn refused(what: &str, status: &str, allowed: Vec<String>) -> ApiError {
    ApiError::WrongState {
        detail: format!("{what} is not possible while the record is {status}"),
        status: status.to_owned(),
        allowed,
    }
}
