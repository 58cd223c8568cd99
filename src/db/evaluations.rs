//! Queries on democratic evaluations, their evaluators, visits, ratings and
//! rectification items.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::pagination::{PageRequest, page_row, paged};
use crate::db::schema::{
    evaluation_evaluators, evaluation_ratings, evaluation_visits, evaluations, rectification_items,
    rectification_notes,
};
use crate::domain::evaluation::{Criterion, EvaluationPhase, Grade, ItemStatus, Rating};
use crate::domain::ids::{
    DepartmentId, DistrictId, EvaluationId, ItemId, MemberId, NoteId, VisitId,
};

#[derive(Debug, Clone, Queryable, Selectable, AsChangeset)]
#[diesel(table_name = evaluations, check_for_backend(diesel::pg::Pg), treat_none_as_null = true)]
pub struct Evaluation {
    pub id: EvaluationId,
    pub district_id: DistrictId,
    pub department_id: DepartmentId,
    pub year: i32,
    pub phase: EvaluationPhase,
    pub report_text: Option<String>,
    pub reported_at: Option<DateTime<Utc>>,
    pub score: Option<f64>,
    pub grade: Option<Grade>,
    pub concluded_at: Option<DateTime<Utc>>,
    #[diesel(skip_update)]
    pub created_at: DateTime<Utc>,
    #[diesel(skip_update)]
    pub updated_at: DateTime<Utc>,
    #[diesel(skip_update)]
    pub version: i64,
    #[diesel(skip_update)]
    pub deleted_at: Option<DateTime<Utc>>,
}

super::record_fields! {
    /// The fields a client sets on an evaluation (the district is fixed at creation).
    pub struct EvaluationFields for Evaluation in evaluations {
        pub department_id: DepartmentId,
        pub year: i32,
    }
}

page_row!(Evaluation);

#[derive(Debug, Default)]
pub struct EvaluationFilter {
    pub scope: crate::domain::access::Scope,
    pub district_id: Option<DistrictId>,
    pub department_id: Option<DepartmentId>,
    pub year: Option<i32>,
    pub phase: Option<EvaluationPhase>,
}

#[tracing::instrument(skip_all)]
pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &EvaluationFilter,
    page: &PageRequest,
) -> QueryResult<Vec<Evaluation>> {
    let mut query = evaluations::table
        .select(Evaluation::as_select())
        .into_boxed();
    if let Some(district) = filter.scope.district() {
        query = query.filter(evaluations::district_id.eq(district));
    }
    if let Some(person) = filter.scope.person() {
        query = query.filter(<Evaluation as super::SeenBy>::seen_by(person));
    }
    if let Some(district) = filter.district_id {
        query = query.filter(evaluations::district_id.eq(district));
    }
    if let Some(department) = filter.department_id {
        query = query.filter(evaluations::department_id.eq(department));
    }
    if let Some(year) = filter.year {
        query = query.filter(evaluations::year.eq(year));
    }
    if let Some(phase) = filter.phase {
        query = query.filter(evaluations::phase.eq(phase));
    }
    paged!(query, page,
        id: evaluations::id, updated_at: evaluations::updated_at,
        deleted_at: evaluations::deleted_at)
    .load(conn)
    .await
}

super::record_queries!(evaluations, Evaluation, EvaluationFields, EvaluationId);

/// A leaders' office reads its district's evaluations; a unit, the evaluations of itself.
impl super::SeenBy for Evaluation {
    type Table = evaluations::table;

    fn seen_by(person: crate::domain::access::Person) -> super::Seen<evaluations::table> {
        use crate::domain::access::Person;
        match person {
            Person::Office(_) => super::every_row(),
            Person::Unit(department) => Box::new(evaluations::department_id.eq(department)),
            Person::Member(_) => super::no_row(),
        }
    }

    fn changed_by(_person: crate::domain::access::Person) -> super::Seen<evaluations::table> {
        super::no_row()
    }
}

#[derive(Insertable)]
#[diesel(table_name = evaluations)]
struct NewEvaluationRow {
    id: EvaluationId,
    district_id: DistrictId,
    #[diesel(embed)]
    fields: EvaluationFields,
}

#[tracing::instrument(skip_all)]
pub async fn insert(
    conn: &mut AsyncPgConnection,
    district_id: DistrictId,
    fields: EvaluationFields,
) -> QueryResult<Evaluation> {
    diesel::insert_into(evaluations::table)
        .values(NewEvaluationRow {
            id: EvaluationId::generate(),
            district_id,
            fields,
        })
        .returning(Evaluation::as_returning())
        .get_result(conn)
        .await
}

super::saved_later!(save_later, evaluations, Evaluation);

/// The concluded evaluations of a department, newest year first.
#[tracing::instrument(skip_all)]
pub async fn concluded_of_department(
    conn: &mut AsyncPgConnection,
    department: DepartmentId,
) -> QueryResult<Vec<Evaluation>> {
    evaluations::table
        .select(Evaluation::as_select())
        .filter(evaluations::department_id.eq(department))
        .filter(evaluations::phase.eq(EvaluationPhase::Concluded))
        .filter(evaluations::deleted_at.is_null())
        .order((evaluations::year.desc(), evaluations::id))
        .load(conn)
        .await
}

/// An evaluator of an evaluation.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = evaluation_evaluators, check_for_backend(diesel::pg::Pg))]
pub struct Evaluator {
    pub evaluation_id: EvaluationId,
    pub member_id: MemberId,
    pub training_completed_at: Option<DateTime<Utc>>,
    pub added_at: DateTime<Utc>,
}

/// The evaluators of some evaluations, in the order they were added.
#[tracing::instrument(skip_all)]
pub async fn evaluators(
    mut conn: &AsyncPgConnection,
    ids: &[EvaluationId],
) -> QueryResult<Vec<Evaluator>> {
    evaluation_evaluators::table
        .select(Evaluator::as_select())
        .filter(evaluation_evaluators::evaluation_id.eq_any(ids))
        .order((
            evaluation_evaluators::added_at,
            evaluation_evaluators::member_id,
        ))
        .load(&mut conn)
        .await
}

/// One evaluator, if the member is one.
#[tracing::instrument(skip_all)]
pub async fn evaluator(
    conn: &mut AsyncPgConnection,
    evaluation: EvaluationId,
    member: MemberId,
) -> QueryResult<Option<Evaluator>> {
    evaluation_evaluators::table
        .select(Evaluator::as_select())
        .find((evaluation, member))
        .first(conn)
        .await
        .optional()
}

/// Adds an evaluator; `false` if the member already is one.
#[tracing::instrument(skip_all)]
pub async fn add_evaluator(
    conn: &mut AsyncPgConnection,
    evaluation: &Evaluation,
    member: MemberId,
) -> QueryResult<bool> {
    diesel::insert_into(evaluation_evaluators::table)
        .values((
            evaluation_evaluators::evaluation_id.eq(evaluation.id),
            evaluation_evaluators::member_id.eq(member),
            evaluation_evaluators::district_id.eq(evaluation.district_id),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await
        .map(|added| added > 0)
}

/// Removes an evaluator; `false` if the member was not one.
#[tracing::instrument(skip_all)]
pub async fn remove_evaluator(
    conn: &mut AsyncPgConnection,
    evaluation: EvaluationId,
    member: MemberId,
) -> QueryResult<bool> {
    diesel::delete(evaluation_evaluators::table.find((evaluation, member)))
        .execute(conn)
        .await
        .map(|removed| removed > 0)
}

/// Records that an evaluator completed the training.
#[tracing::instrument(skip_all)]
pub async fn set_trained(
    conn: &mut AsyncPgConnection,
    evaluation: EvaluationId,
    member: MemberId,
    at: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(evaluation_evaluators::table.find((evaluation, member)))
        .set(evaluation_evaluators::training_completed_at.eq(at))
        .execute(conn)
        .await
        .map(drop)
}

/// An investigation visit.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = evaluation_visits, check_for_backend(diesel::pg::Pg))]
pub struct Visit {
    pub id: VisitId,
    pub district_id: DistrictId,
    pub evaluation_id: EvaluationId,
    pub visited_on: NaiveDate,
    pub place: String,
    pub visited: String,
    pub findings: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
    pub deleted_at: Option<DateTime<Utc>>,
}

super::record_fields! {
    /// The fields a client sets on a visit.
    pub struct VisitFields for Visit in evaluation_visits {
        pub visited_on: NaiveDate,
        pub place: String,
        pub visited: String,
        pub findings: Option<String>,
    }
}

/// The visits of an evaluation.
pub mod visits {
    use super::*;

    page_row!(Visit);

    #[tracing::instrument(skip_all)]
    pub async fn list(
        conn: &mut AsyncPgConnection,
        evaluation: EvaluationId,
        page: &PageRequest,
    ) -> QueryResult<Vec<Visit>> {
        let query = evaluation_visits::table
            .select(Visit::as_select())
            .filter(evaluation_visits::evaluation_id.eq(evaluation))
            .into_boxed();
        paged!(query, page,
            id: evaluation_visits::id, updated_at: evaluation_visits::updated_at,
            deleted_at: evaluation_visits::deleted_at)
        .load(conn)
        .await
    }

    crate::db::record_queries!(evaluation_visits, Visit, VisitFields, VisitId);

    /// A leaders' office reads the investigation visits of its district's evaluations.
    impl crate::db::SeenBy for Visit {
        type Table = evaluation_visits::table;

        fn seen_by(
            person: crate::domain::access::Person,
        ) -> crate::db::Seen<evaluation_visits::table> {
            use crate::domain::access::Person;
            match person {
                Person::Office(_) => crate::db::every_row(),
                Person::Member(_) | Person::Unit(_) => crate::db::no_row(),
            }
        }

        fn changed_by(
            _person: crate::domain::access::Person,
        ) -> crate::db::Seen<evaluation_visits::table> {
            crate::db::no_row()
        }
    }

    #[derive(Insertable)]
    #[diesel(table_name = evaluation_visits)]
    struct NewVisitRow {
        id: VisitId,
        district_id: DistrictId,
        evaluation_id: EvaluationId,
        #[diesel(embed)]
        fields: VisitFields,
    }

    #[tracing::instrument(skip_all)]
    pub async fn insert(
        conn: &mut AsyncPgConnection,
        evaluation: &Evaluation,
        fields: VisitFields,
    ) -> QueryResult<Visit> {
        diesel::insert_into(evaluation_visits::table)
            .values(NewVisitRow {
                id: VisitId::generate(),
                district_id: evaluation.district_id,
                evaluation_id: evaluation.id,
                fields,
            })
            .returning(Visit::as_returning())
            .get_result(conn)
            .await
    }
}

/// An evaluator's rating on one criterion.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = evaluation_ratings, check_for_backend(diesel::pg::Pg))]
pub struct RatingRow {
    pub evaluation_id: EvaluationId,
    pub member_id: MemberId,
    pub criterion: Criterion,
    pub rating: Rating,
    pub comment: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

/// Every rating of an evaluation, by evaluator and criterion.
#[tracing::instrument(skip_all)]
pub async fn ratings(
    conn: &mut AsyncPgConnection,
    evaluation: EvaluationId,
) -> QueryResult<Vec<RatingRow>> {
    evaluation_ratings::table
        .select(RatingRow::as_select())
        .filter(evaluation_ratings::evaluation_id.eq(evaluation))
        .order((evaluation_ratings::member_id, evaluation_ratings::criterion))
        .load(conn)
        .await
}

/// One rating, if it was given.
#[tracing::instrument(skip_all)]
pub async fn rating(
    conn: &mut AsyncPgConnection,
    evaluation: EvaluationId,
    member: MemberId,
    criterion: Criterion,
) -> QueryResult<Option<RatingRow>> {
    evaluation_ratings::table
        .select(RatingRow::as_select())
        .find((evaluation, member, criterion))
        .first(conn)
        .await
        .optional()
}

/// Gives a rating, replacing the evaluator's earlier one on the same criterion.
#[tracing::instrument(skip_all)]
pub async fn put_rating(
    conn: &mut AsyncPgConnection,
    evaluation: &Evaluation,
    member: MemberId,
    criterion: Criterion,
    rating: Rating,
    comment: Option<String>,
) -> QueryResult<RatingRow> {
    diesel::insert_into(evaluation_ratings::table)
        .values((
            evaluation_ratings::evaluation_id.eq(evaluation.id),
            evaluation_ratings::member_id.eq(member),
            evaluation_ratings::criterion.eq(criterion),
            evaluation_ratings::district_id.eq(evaluation.district_id),
            evaluation_ratings::rating.eq(rating),
            evaluation_ratings::comment.eq(comment.clone()),
        ))
        .on_conflict((
            evaluation_ratings::evaluation_id,
            evaluation_ratings::member_id,
            evaluation_ratings::criterion,
        ))
        .do_update()
        .set((
            evaluation_ratings::rating.eq(rating),
            evaluation_ratings::comment.eq(comment),
        ))
        .returning(RatingRow::as_returning())
        .get_result(conn)
        .await
}

/// A rectification item (整改事项).
#[derive(Debug, Clone, Queryable, Selectable, AsChangeset)]
#[diesel(table_name = rectification_items, check_for_backend(diesel::pg::Pg), treat_none_as_null = true)]
pub struct Item {
    pub id: ItemId,
    pub district_id: DistrictId,
    pub evaluation_id: EvaluationId,
    #[diesel(skip_update)]
    pub position: i32,
    pub description: String,
    pub due_on: NaiveDate,
    pub status: ItemStatus,
    pub carry_over_reason: Option<String>,
    #[diesel(skip_update)]
    pub created_at: DateTime<Utc>,
    #[diesel(skip_update)]
    pub updated_at: DateTime<Utc>,
    #[diesel(skip_update)]
    pub version: i64,
}

super::row!(Item, ItemId);

/// A finding of the report, to become an item.
#[derive(Debug, Clone)]
pub struct Finding {
    pub description: String,
    pub due_on: NaiveDate,
}

/// Creates the items of an evaluation's findings, numbered from 1.
#[tracing::instrument(skip_all)]
pub async fn insert_items(
    conn: &mut AsyncPgConnection,
    evaluation: &Evaluation,
    findings: &[Finding],
) -> QueryResult<Vec<Item>> {
    let rows: Vec<_> = findings
        .iter()
        .zip(1..)
        .map(|(finding, position)| {
            (
                rectification_items::id.eq(ItemId::generate()),
                rectification_items::district_id.eq(evaluation.district_id),
                rectification_items::evaluation_id.eq(evaluation.id),
                rectification_items::position.eq(position),
                rectification_items::description.eq(finding.description.clone()),
                rectification_items::due_on.eq(finding.due_on),
            )
        })
        .collect();
    diesel::insert_into(rectification_items::table)
        .values(rows)
        .returning(Item::as_returning())
        .get_results(conn)
        .await
}

/// The items of some evaluations, in their order.
#[tracing::instrument(skip_all)]
pub async fn items(conn: &mut AsyncPgConnection, ids: &[EvaluationId]) -> QueryResult<Vec<Item>> {
    rectification_items::table
        .select(Item::as_select())
        .filter(rectification_items::evaluation_id.eq_any(ids))
        .order((
            rectification_items::evaluation_id,
            rectification_items::position,
        ))
        .load(conn)
        .await
}

/// An item of `evaluation` in `scope`, locked for a change when `lock`.
#[tracing::instrument(skip_all)]
pub async fn item(
    mut conn: &AsyncPgConnection,
    evaluation: EvaluationId,
    id: ItemId,
    scope: crate::domain::access::Scope,
    lock: bool,
) -> QueryResult<Item> {
    let query = rectification_items::table
        .select(Item::as_select())
        .filter(rectification_items::id.eq(id))
        .filter(rectification_items::evaluation_id.eq(evaluation));
    let row: Item = if lock {
        query.for_update().first(&mut conn).await?
    } else {
        query.first(&mut conn).await?
    };
    if !scope.covers(row.district_id) {
        return Err(diesel::result::Error::NotFound);
    }
    // A person sees the items of the evaluations they see.
    if scope.person().is_some() {
        find(conn, evaluation, scope).await?;
    }
    Ok(row)
}

super::saved_later!(save_item_later, rectification_items, Item);

/// A progress note on an item.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = rectification_notes, check_for_backend(diesel::pg::Pg))]
pub struct Note {
    pub id: NoteId,
    pub item_id: ItemId,
    pub noted_on: NaiveDate,
    pub text: String,
    pub created_at: DateTime<Utc>,
}

/// Adds a progress note to an item.
#[tracing::instrument(skip_all)]
pub async fn add_note(
    conn: &mut AsyncPgConnection,
    item: &Item,
    noted_on: NaiveDate,
    text: String,
) -> QueryResult<Note> {
    diesel::insert_into(rectification_notes::table)
        .values((
            rectification_notes::id.eq(NoteId::generate()),
            rectification_notes::district_id.eq(item.district_id),
            rectification_notes::item_id.eq(item.id),
            rectification_notes::noted_on.eq(noted_on),
            rectification_notes::text.eq(text),
        ))
        .returning(Note::as_returning())
        .get_result(conn)
        .await
}

/// The notes of some items, oldest first.
#[tracing::instrument(skip_all)]
pub async fn notes(mut conn: &AsyncPgConnection, items: &[ItemId]) -> QueryResult<Vec<Note>> {
    rectification_notes::table
        .select(Note::as_select())
        .filter(rectification_notes::item_id.eq_any(items))
        .order(rectification_notes::id)
        .load(&mut conn)
        .await
}
