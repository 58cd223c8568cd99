//! What every workflow (proposals, consultations, evaluations, rulings) shares: the
//! runner that takes one step, its recorded history and the refusal of a step its state
//! machine does not allow.

use crate::api::work::Tx;
use crate::domain::kinds::Entity;
use chrono::{DateTime, Utc};
use diesel::QueryResult;
use diesel_async::AsyncPgConnection;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::api::audit::record as audit;
use crate::api::auth::Caller;
use crate::api::http::IfMatch;
use crate::api::work::{Db, Write};
use crate::db::audit::Change;
use crate::db::workflow::{self as db, Step};
use crate::domain::access::Scope;
use crate::domain::ids::ApiKeyId;
use crate::error::{ApiError, not_found_as};

/// A record whose status moves only by explicit actions.
pub(crate) trait Workflow: crate::db::Row {
    /// What the path names: the record's id (or its parent's and its own).
    type Key: Copy + Send + Sync + std::fmt::Display + Into<uuid::Uuid>;
    /// What the API shows of the record.
    type View: Serialize + Send;
    /// One action with what was sent with it, checked.
    type Step: Send;
    /// The record's type in histories and the audit trail.
    const ENTITY: Entity;
    /// The record's name in a 404.
    const WHAT: &'static str = Self::ENTITY.as_str();

    /// What the view shows besides the row, kept in other tables (`()` for nothing).
    type Relations: Send + Sync;

    /// The live record in `scope`, locked until the transaction ends. Takes the
    /// connection shared: its relations and the transaction's time are asked for with it.
    fn lock(
        conn: &AsyncPgConnection,
        id: Self::Key,
        scope: Scope,
    ) -> impl Future<Output = QueryResult<Self>> + Send;

    /// What the view of the record `id` shows besides its row (shared, as [`Workflow::lock`]).
    fn relations(
        conn: &AsyncPgConnection,
        id: Self::Key,
    ) -> impl Future<Output = Result<Self::Relations, ApiError>> + Send;

    /// The record as the API shows it.
    fn view(row: Self, relations: &Self::Relations) -> Self::View;

    /// Whether `step` changes what [`Workflow::relations`] reads: they are read again
    /// after it, for the view after the step.
    fn changes_relations(step: &Self::Step) -> bool;

    /// The record as saving it in a transaction begun at `now` leaves it, and the
    /// statement that saves it, sent with the `COMMIT`.
    fn save(row: &Self, now: DateTime<Utc>) -> (Self, crate::db::Statement);

    /// Checks `step` against the state machine and applies it to `row`, its status
    /// included, stamping what it stamps with `now`, the transaction's time (as the
    /// database stamps the save); answers what the history keeps of it.
    fn take(
        conn: &mut Tx<'_>,
        caller: &Caller,
        row: &mut Self,
        step: Self::Step,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Transition, ApiError>> + Send;
}

/// What a step did, as the history keeps it.
pub(crate) struct Transition {
    pub action: &'static str,
    pub from: &'static str,
    pub to: &'static str,
    /// What was sent with the action (and what it produced, such as a number).
    pub payload: Value,
}

/// Takes one step of a record ([`perform`]) and answers the record after it, with its
/// `ETag`: what every workflow action answers.
pub(crate) async fn answer<W: Workflow>(
    pool: &Db,
    caller: Caller,
    id: W::Key,
    condition: IfMatch,
    step: Result<W::Step, ApiError>,
) -> Result<actix_web::HttpResponse, ApiError>
where
    W::View: Serialize + crate::api::http::Versioned,
{
    let after = perform::<W>(pool, caller, id, condition, step).await?;
    Ok(crate::api::http::updated_response(&after))
}

/// Declares the handler of one workflow action of the record `$record`: `POST $path` with
/// `If-Match`, one step through [`answer`], and its OpenAPI operation (`$tag`, `$params`,
/// the record after the step, and the refusal `$refused`). With `body`, the step is read
/// from the body with a [`crate::api::input::Checks`] (`|checks, body| …`, `None` when a
/// field is wrong); without, it is `step`. Every action of every workflow is declared
/// with it.
macro_rules! action {
    (
        $(#[$doc:meta])*
        $name:ident: $record:ty, POST $path:literal,
        tag = $tag:literal, params($($params:tt)*), path = $path_ty:ty,
        answer = ($view:ty, $answered:literal), refused = $refused:literal,
        step = $step:expr $(,)?
    ) => {
        $(#[$doc])*
        #[utoipa::path(
            tag = $tag,
            params($($params)*),
            responses(
                (status = 200, description = $answered, body = $view, headers(("ETag" = String))),
                (status = 409, description = $refused, body = Problem, content_type = "application/problem+json"),
            ),
        )]
        #[post($path)]
        pub(crate) async fn $name(
            caller: Caller,
            pool: Db,
            path: web::Path<$path_ty>,
            condition: IfMatch,
        ) -> Result<HttpResponse, ApiError> {
            let id = path.into_inner().into();
            $crate::api::workflow::answer::<$record>(&pool, caller, id, condition, Ok($step)).await
        }
    };
    (
        $(#[$doc:meta])*
        $name:ident: $record:ty, POST $path:literal,
        tag = $tag:literal, params($($params:tt)*), path = $path_ty:ty,
        answer = ($view:ty, $answered:literal), refused = $refused:literal,
        body = $body:ty, |$checks:ident, $input:ident| $parse:expr $(,)?
    ) => {
        $(#[$doc])*
        #[utoipa::path(
            tag = $tag,
            params($($params)*),
            request_body = $body,
            responses(
                (status = 200, description = $answered, body = $view, headers(("ETag" = String))),
                (status = 409, description = $refused, body = Problem, content_type = "application/problem+json"),
            ),
        )]
        #[post($path)]
        pub(crate) async fn $name(
            caller: Caller,
            pool: Db,
            path: web::Path<$path_ty>,
            condition: IfMatch,
            body: crate::api::http::Json<$body>,
        ) -> Result<HttpResponse, ApiError> {
            let $input = body.into_inner();
            let mut $checks = $crate::api::input::Checks::default();
            let step = $parse;
            let step = $checks.finish(step);
            let id = path.into_inner().into();
            $crate::api::workflow::answer::<$record>(&pool, caller, id, condition, step).await
        }
    };
}
pub(crate) use action;

/// Takes one step of a record: all of it (record, history, audit event) or none of it.
///
/// `step` is the body as checked; its problems are reported after the preconditions
/// (the record exists, `If-Match` holds).
pub(crate) async fn perform<W: Workflow>(
    pool: &Db,
    caller: Caller,
    id: W::Key,
    condition: IfMatch,
    step: Result<W::Step, ApiError>,
) -> Result<W::View, ApiError> {
    let mut conn = pool.conn().await?;
    conn.write(async move |conn| {
        // The record, what its view shows besides it and the time the transaction began,
        // in one round trip (with the BEGIN).
        let (locked, relations, now) = {
            let shared: &AsyncPgConnection = conn;
            futures_util::future::join3(
                W::lock(shared, id, caller.scope()),
                W::relations(shared, id),
                crate::db::transaction_time(shared),
            )
            .await
        };
        let mut row = locked.map_err(not_found_as(W::WHAT))?;
        let (relations, now) = (relations?, now?);
        condition.check(row.version())?;
        let step = step?;
        let read_again = W::changes_relations(&step);
        let before = W::view(row.clone(), &relations);
        let taken = W::take(conn, &caller, &mut row, step, now).await?;
        // The save is worked out here and written with the COMMIT.
        let (saved, save) = W::save(&row, now);
        conn.defer(save);
        let district = saved.district();
        record(
            conn,
            &caller,
            Taken {
                entity_type: W::ENTITY.as_str(),
                entity_id: id.into(),
                action: taken.action,
                from: taken.from,
                to: taken.to,
                payload: taken.payload,
                at: now,
            },
        );
        let after = if read_again {
            W::view(saved, &W::relations(conn, id).await?)
        } else {
            W::view(saved, &relations)
        };
        let change = Change::new(taken.action, W::ENTITY, id, district);
        audit(conn, &caller, change.before(&before).after(&after));
        Ok(after)
    })
    .await
}

/// One step of a workflow.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = WorkflowStep)]
pub struct StepView {
    pub action: String,
    pub from_status: String,
    pub to_status: String,
    /// The person who took the step, when a person did.
    #[schema(value_type = Option<crate::domain::account::ActorAccount>)]
    pub actor_account: Option<Value>,
    pub actor_key_id: Option<ApiKeyId>,
    #[schema(value_type = Option<crate::domain::kinds::Role>)]
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
    entity_type: Entity,
    entity_id: uuid::Uuid,
) -> Result<WorkflowHistory, ApiError> {
    let items = db::steps(conn, entity_type.as_str(), entity_id)
        .await?
        .into_iter()
        .map(|step| StepView {
            action: step.action,
            from_status: step.from_status,
            to_status: step.to_status,
            actor_account: step.actor_account,
            actor_key_id: step.actor_key_id,
            actor_role: step.actor_role,
            occurred_at: step.occurred_at,
            payload: step.payload,
        })
        .collect();
    Ok(WorkflowHistory { items })
}

/// A step about to be recorded.
struct Taken<'a> {
    entity_type: &'a str,
    pub entity_id: uuid::Uuid,
    pub action: &'a str,
    pub from: &'a str,
    pub to: &'a str,
    pub payload: Value,
    /// The transaction's time, what the step stamped on the record.
    pub at: DateTime<Utc>,
}

/// Records a step taken by `caller`, in the step's transaction: written with its
/// `COMMIT` (nothing the step answers reads the history).
fn record(tx: &mut Tx<'_>, caller: &Caller, taken: Taken<'_>) {
    tx.defer(db::record_later(Step {
        id: uuid::Uuid::now_v7(),
        entity_type: taken.entity_type.to_owned(),
        entity_id: taken.entity_id,
        action: taken.action.to_owned(),
        from_status: taken.from.to_owned(),
        to_status: taken.to.to_owned(),
        actor_key_id: caller.key_id,
        actor_role: Some(caller.role.as_str().to_owned()),
        occurred_at: taken.at,
        payload: taken.payload,
        actor_account: caller
            .account
            .as_deref()
            .and_then(|account| serde_json::to_value(account).ok()),
    }));
}

/// The refusal of a step: the record's status and what is allowed from there.
pub(crate) fn refused(what: &str, status: &str, allowed: Vec<String>) -> ApiError {
    ApiError::WrongState {
        detail: format!("{what} is not possible while the record is {status}"),
        status: status.to_owned(),
        allowed,
    }
}
