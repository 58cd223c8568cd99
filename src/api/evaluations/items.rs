//! The rectification items (整改事项) an evaluation's report opens, and their workflow.

use crate::api::work::Tx;
use crate::api::workflow::action;
use crate::domain::kinds::Entity;
use crate::domain::values::Paragraph;

use super::{
    ApiError, AsyncPgConnection, Caller, DateTime, Day, Db, Deserialize, DistrictId, EvaluationId,
    EvaluationPhase, Field, HashMap, HttpResponse, IfMatch, IfMatchHeader, IfNoneMatch,
    IfNoneMatchHeader, Item, ItemAction, ItemId, ItemStatus, NaiveDate, Note, Problem, QueryResult,
    Scope, Serialize, ToSchema, Transition, Utc, Workflow, db, found, get, json, machine,
    not_found_as, post, read_response, today, web, workflow,
};

/// A dated progress note on a rectification item.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProgressNote {
    pub noted_on: NaiveDate,
    pub text: String,
    pub created_at: DateTime<Utc>,
}

impl From<Note> for ProgressNote {
    fn from(row: Note) -> Self {
        Self {
            noted_on: row.noted_on,
            text: row.text,
            created_at: row.created_at,
        }
    }
}

/// A rectification item (整改事项): one finding of the report.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = RectificationItem)]
pub struct ItemView {
    pub id: ItemId,
    pub district_id: DistrictId,
    pub evaluation_id: EvaluationId,
    /// Its place among the report's findings, from 1.
    pub position: i32,
    pub description: String,
    pub due_on: NaiveDate,
    pub status: ItemStatus,
    /// Past its due date (Beijing time) and neither done, verified nor carried over.
    pub overdue: bool,
    /// What may be done next from here.
    pub allowed_actions: Vec<ItemAction>,
    /// Why it was carried over.
    pub carry_over_reason: Option<String>,
    /// Progress notes, oldest first.
    pub notes: Vec<ProgressNote>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Increases with every change; sent as the `ETag`.
    pub version: i64,
}

crate::api::http::versioned!(ItemView);

impl ItemView {
    fn new(row: Item, notes: Vec<ProgressNote>) -> Self {
        Self {
            overdue: row.due_on < today()
                && matches!(row.status, ItemStatus::Open | ItemStatus::InProgress),
            allowed_actions: machine::item_actions(row.status),
            id: row.id,
            district_id: row.district_id,
            evaluation_id: row.evaluation_id,
            position: row.position,
            description: row.description,
            due_on: row.due_on,
            status: row.status,
            carry_over_reason: row.carry_over_reason,
            notes,
            created_at: row.created_at,
            updated_at: row.updated_at,
            version: row.version,
        }
    }
}

/// Items with their notes.
pub(crate) async fn item_views(
    conn: &mut AsyncPgConnection,
    rows: Vec<Item>,
) -> Result<Vec<ItemView>, ApiError> {
    let ids: Vec<ItemId> = rows.iter().map(|row| row.id).collect();
    let mut by_item: HashMap<ItemId, Vec<ProgressNote>> = HashMap::new();
    for note in db::notes(conn, &ids).await? {
        by_item.entry(note.item_id).or_default().push(note.into());
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            let notes = by_item.remove(&row.id).unwrap_or_default();
            ItemView::new(row, notes)
        })
        .collect())
}

/// The rectification items of an evaluation.
#[derive(Debug, Serialize, ToSchema)]
pub struct ItemList {
    /// In the report's order.
    pub items: Vec<ItemView>,
}

/// The items of an evaluation the caller sees.
pub(super) async fn items_of(
    conn: &mut AsyncPgConnection,
    id: EvaluationId,
) -> Result<Vec<ItemView>, ApiError> {
    let rows = db::items(conn, &[id]).await?;
    item_views(conn, rows).await
}

/// List the rectification items.
#[utoipa::path(
    tag = "evaluations",
    params(("id" = EvaluationId, Path, description = "The evaluation's id")),
    responses((status = 200, description = "Its rectification items", body = ItemList)),
)]
#[get("/{id}/rectification-items")]
pub(super) async fn list_rectification_items(
    caller: Caller,
    pool: Db,
    path: web::Path<EvaluationId>,
) -> Result<web::Json<ItemList>, ApiError> {
    let id = path.into_inner();
    let mut conn = pool.conn().await?;
    found(&mut conn, &caller, id).await?;
    Ok(web::Json(ItemList {
        items: items_of(&mut conn, id).await?,
    }))
}

/// Get a rectification item with its notes.
#[utoipa::path(
    tag = "evaluations",
    params(
        ("id" = EvaluationId, Path, description = "The evaluation's id"),
        ("item_id" = ItemId, Path, description = "The item's id"),
        IfNoneMatchHeader,
    ),
    responses(
        (status = 200, description = "The item", body = ItemView, headers(("ETag" = String))),
    ),
)]
#[get("/{id}/rectification-items/{item_id}")]
pub(super) async fn get_rectification_item(
    caller: Caller,
    pool: Db,
    path: web::Path<(EvaluationId, ItemId)>,
    condition: IfNoneMatch,
) -> Result<HttpResponse, ApiError> {
    let (evaluation, id) = path.into_inner();
    let mut conn = pool.conn().await?;
    let row = db::item(&conn, evaluation, id, caller.scope(), false)
        .await
        .map_err(not_found_as(Item::WHAT))?;
    let view = item_views(&mut conn, vec![row])
        .await?
        .pop()
        .ok_or_else(|| ApiError::Internal("an item vanished while being read".into()))?;
    Ok(read_response(&view, &condition))
}

/// A step of a rectification item, with what was sent.
pub(crate) enum ItemStep {
    Note { noted_on: NaiveDate, text: String },
    Start,
    Complete,
    Verify,
    Reopen,
    CarryOver { reason: String },
}

impl ItemStep {
    fn action(&self) -> ItemAction {
        match self {
            Self::Note { .. } => ItemAction::Note,
            Self::Start => ItemAction::Start,
            Self::Complete => ItemAction::Complete,
            Self::Verify => ItemAction::Verify,
            Self::Reopen => ItemAction::Reopen,
            Self::CarryOver { .. } => ItemAction::CarryOver,
        }
    }
}

/// An item addressed under its evaluation: it is found only there.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ItemOf {
    evaluation: EvaluationId,
    item: ItemId,
}

impl std::fmt::Display for ItemOf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.item.fmt(f)
    }
}

impl From<ItemOf> for uuid::Uuid {
    fn from(id: ItemOf) -> Self {
        id.item.0
    }
}

impl Workflow for Item {
    type Key = ItemOf;
    type View = ItemView;
    type Step = ItemStep;
    const ENTITY: Entity = Entity::RectificationItem;
    const WHAT: &'static str = "rectification item";

    /// Its progress notes.
    type Relations = Vec<ProgressNote>;

    async fn lock(conn: &AsyncPgConnection, id: ItemOf, scope: Scope) -> QueryResult<Self> {
        db::item(conn, id.evaluation, id.item, scope, true).await
    }

    async fn relations(
        conn: &AsyncPgConnection,
        id: ItemOf,
    ) -> Result<Vec<ProgressNote>, ApiError> {
        Ok(db::notes(conn, &[id.item])
            .await?
            .into_iter()
            .map(ProgressNote::from)
            .collect())
    }

    fn view(row: Self, notes: &Vec<ProgressNote>) -> ItemView {
        ItemView::new(row, notes.clone())
    }

    /// A note adds to the notes.
    fn changes_relations(step: &ItemStep) -> bool {
        matches!(step, ItemStep::Note { .. })
    }

    fn save(row: &Self, now: DateTime<Utc>) -> (Self, crate::db::Statement) {
        db::save_item_later(row, now)
    }

    async fn take(
        conn: &mut Tx<'_>,
        _caller: &Caller,
        row: &mut Self,
        step: ItemStep,
        _now: DateTime<Utc>,
    ) -> Result<Transition, ApiError> {
        let action = step.action();
        let what = format!("`{}`", action.as_str());
        let to = machine::item_next(row.status, action).ok_or_else(|| {
            let allowed = machine::item_actions(row.status)
                .iter()
                .map(|action| action.as_str().to_owned())
                .collect();
            workflow::refused(&what, row.status.as_str(), allowed)
        })?;
        let evaluation = db::find(conn, row.evaluation_id, Scope::All)
            .await
            .map_err(not_found_as("evaluation"))?;
        if evaluation.phase != EvaluationPhase::Rectification {
            return Err(ApiError::conflict(format!(
                "rectification items change only while their evaluation is in rectification; it is {}",
                evaluation.phase.as_str()
            )));
        }
        let payload = match step {
            ItemStep::Note { noted_on, text } => {
                db::add_note(conn, row, noted_on, text.clone()).await?;
                json!({"noted_on": noted_on, "text": text})
            }
            ItemStep::CarryOver { reason } => {
                row.carry_over_reason = Some(reason.clone());
                json!({"reason": reason})
            }
            ItemStep::Start | ItemStep::Complete | ItemStep::Verify | ItemStep::Reopen => {
                json!({})
            }
        };
        let from = row.status;
        row.status = to;
        Ok(Transition {
            action: action.as_str(),
            from: from.as_str(),
            to: to.as_str(),
            payload,
        })
    }
}

impl From<(EvaluationId, ItemId)> for ItemOf {
    fn from((evaluation, item): (EvaluationId, ItemId)) -> Self {
        Self { evaluation, item }
    }
}

/// A dated progress note.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteBody {
    /// Defaults to today.
    #[serde(default)]
    #[schema(value_type = Day)]
    pub noted_on: Field<Day>,
    #[serde(default)]
    #[schema(value_type = Paragraph<5000>, required = true)]
    pub text: Field<Paragraph<5000>>,
}

action!(
    /// Add a progress note to an item that is open, in progress or done.
    note_rectification_item: Item, POST "/{id}/rectification-items/{item_id}/notes",
    tag = "evaluations",
    params(
        ("id" = EvaluationId, Path, description = "The evaluation's id"),
        ("item_id" = ItemId, Path, description = "The item's id"),
        IfMatchHeader,
    ),
    path = (EvaluationId, ItemId),
    answer = (ItemView, "The item with the note"),
    refused = "The item is settled, or the evaluation is not in rectification",
    body = NoteBody,
    |checks, body| {
        let noted_on = checks.required("/noted_on", body.noted_on, Some(today()), Day::date);
        let text = checks.required("/text", body.text, None, |v| Ok(v.into()));
        noted_on
            .zip(text)
            .map(|(noted_on, text)| ItemStep::Note { noted_on, text })
    }
);

action!(
    /// Begin work on an open item (-> in_progress).
    start_rectification_item: Item, POST "/{id}/rectification-items/{item_id}/start",
    tag = "evaluations",
    params(
        ("id" = EvaluationId, Path, description = "The evaluation's id"),
        ("item_id" = ItemId, Path, description = "The item's id"),
        IfMatchHeader,
    ),
    path = (EvaluationId, ItemId),
    answer = (ItemView, "The item after the step"),
    refused = "Not allowed from the item's status (the answer names the allowed actions), or the evaluation is not in rectification",
    step = ItemStep::Start,
);
action!(
    /// Report an item done (-> done).
    complete_rectification_item: Item, POST "/{id}/rectification-items/{item_id}/complete",
    tag = "evaluations",
    params(
        ("id" = EvaluationId, Path, description = "The evaluation's id"),
        ("item_id" = ItemId, Path, description = "The item's id"),
        IfMatchHeader,
    ),
    path = (EvaluationId, ItemId),
    answer = (ItemView, "The item after the step"),
    refused = "Not allowed from the item's status (the answer names the allowed actions), or the evaluation is not in rectification",
    step = ItemStep::Complete,
);
action!(
    /// Confirm a done item after checking it (-> verified).
    verify_rectification_item: Item, POST "/{id}/rectification-items/{item_id}/verify",
    tag = "evaluations",
    params(
        ("id" = EvaluationId, Path, description = "The evaluation's id"),
        ("item_id" = ItemId, Path, description = "The item's id"),
        IfMatchHeader,
    ),
    path = (EvaluationId, ItemId),
    answer = (ItemView, "The item after the step"),
    refused = "Not allowed from the item's status (the answer names the allowed actions), or the evaluation is not in rectification",
    step = ItemStep::Verify,
);
action!(
    /// Send a done item back when the check finds it unfinished (-> in_progress).
    reopen_rectification_item: Item, POST "/{id}/rectification-items/{item_id}/reopen",
    tag = "evaluations",
    params(
        ("id" = EvaluationId, Path, description = "The evaluation's id"),
        ("item_id" = ItemId, Path, description = "The item's id"),
        IfMatchHeader,
    ),
    path = (EvaluationId, ItemId),
    answer = (ItemView, "The item after the step"),
    refused = "Not allowed from the item's status (the answer names the allowed actions), or the evaluation is not in rectification",
    step = ItemStep::Reopen,
);

/// Why an item is carried over.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CarryOverBody {
    #[serde(default)]
    #[schema(value_type = Paragraph<2000>, required = true)]
    pub reason: Field<Paragraph<2000>>,
}

action!(
    /// Carry an unfinished item over to later work, with the reason (-> carried_over).
    carry_over_rectification_item: Item, POST "/{id}/rectification-items/{item_id}/carry-over",
    tag = "evaluations",
    params(
        ("id" = EvaluationId, Path, description = "The evaluation's id"),
        ("item_id" = ItemId, Path, description = "The item's id"),
        IfMatchHeader,
    ),
    path = (EvaluationId, ItemId),
    answer = (ItemView, "The item after the step"),
    refused = "Not allowed from the item's status (the answer names the allowed actions), or the evaluation is not in rectification",
    body = CarryOverBody,
    |checks, body| checks
        .required("/reason", body.reason, None, |v| Ok(v.into()))
        .map(|reason| ItemStep::CarryOver { reason })
);
