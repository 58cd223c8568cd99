//! Queries on rulings and their measures.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::pagination::{PageRequest, page_row, paged};
use crate::db::schema::{ruling_measures, rulings};
use crate::domain::ids::{
    ConsultationId, DepartmentId, DistrictId, EvaluationId, MeasureId, ProposalId, RulingId,
};
use crate::domain::ruling::{LeaderTitle, MeasureStatus, RulingStage, RulingStatus, SubjectType};

#[derive(Debug, Clone, Queryable, Selectable, AsChangeset)]
#[diesel(table_name = rulings, check_for_backend(diesel::pg::Pg), treat_none_as_null = true)]
pub struct Ruling {
    pub id: RulingId,
    pub district_id: DistrictId,
    pub leader_name: String,
    pub leader_title: LeaderTitle,
    pub subject_type: SubjectType,
    pub consultation_id: Option<ConsultationId>,
    pub proposal_id: Option<ProposalId>,
    pub evaluation_id: Option<EvaluationId>,
    pub stage: Option<RulingStage>,
    pub content: String,
    pub issued_on: NaiveDate,
    pub department_ids: Vec<DepartmentId>,
    pub status: RulingStatus,
    pub feedback_text: Option<String>,
    pub fed_back_at: Option<DateTime<Utc>>,
    #[diesel(skip_update)]
    pub created_at: DateTime<Utc>,
    #[diesel(skip_update)]
    pub updated_at: DateTime<Utc>,
    #[diesel(skip_update)]
    pub version: i64,
    #[diesel(skip_update)]
    pub deleted_at: Option<DateTime<Utc>>,
}

impl Ruling {
    /// The id of what the ruling is on.
    pub fn subject_id(&self) -> uuid::Uuid {
        self.consultation_id
            .map(|id| id.0)
            .or(self.proposal_id.map(|id| id.0))
            .or(self.evaluation_id.map(|id| id.0))
            .unwrap_or_default()
    }
}

/// A new ruling, checked.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = rulings)]
pub struct NewRuling {
    pub id: RulingId,
    pub district_id: DistrictId,
    pub leader_name: String,
    pub leader_title: LeaderTitle,
    pub subject_type: SubjectType,
    pub consultation_id: Option<ConsultationId>,
    pub proposal_id: Option<ProposalId>,
    pub evaluation_id: Option<EvaluationId>,
    pub stage: Option<RulingStage>,
    pub content: String,
    pub issued_on: NaiveDate,
    pub department_ids: Vec<DepartmentId>,
}

page_row!(Ruling);

#[derive(Debug, Default)]
pub struct RulingFilter {
    pub scope: crate::domain::access::Scope,
    pub district_id: Option<DistrictId>,
    pub status: Option<RulingStatus>,
    pub leader_title: Option<LeaderTitle>,
    pub consultation_id: Option<ConsultationId>,
    pub proposal_id: Option<ProposalId>,
    pub evaluation_id: Option<EvaluationId>,
    /// Rulings that ask this department to act.
    pub department_id: Option<DepartmentId>,
    pub subject_type: Option<SubjectType>,
    pub stage: Option<RulingStage>,
}

#[tracing::instrument(skip_all)]
pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &RulingFilter,
    page: &PageRequest,
) -> QueryResult<Vec<Ruling>> {
    let mut query = rulings::table.select(Ruling::as_select()).into_boxed();
    if let Some(district) = filter.scope.district() {
        query = query.filter(rulings::district_id.eq(district));
    }
    if let Some(person) = filter.scope.person() {
        query = query.filter(<Ruling as super::SeenBy>::seen_by(person));
    }
    if let Some(district) = filter.district_id {
        query = query.filter(rulings::district_id.eq(district));
    }
    if let Some(status) = filter.status {
        query = query.filter(rulings::status.eq(status));
    }
    if let Some(title) = filter.leader_title {
        query = query.filter(rulings::leader_title.eq(title));
    }
    if let Some(id) = filter.consultation_id {
        query = query.filter(rulings::consultation_id.eq(id));
    }
    if let Some(id) = filter.proposal_id {
        query = query.filter(rulings::proposal_id.eq(id));
    }
    if let Some(id) = filter.evaluation_id {
        query = query.filter(rulings::evaluation_id.eq(id));
    }
    if let Some(department) = filter.department_id {
        query = query.filter(rulings::department_ids.contains(vec![department]));
    }
    if let Some(kind) = filter.subject_type {
        query = query.filter(rulings::subject_type.eq(kind));
    }
    if let Some(stage) = filter.stage {
        query = query.filter(rulings::stage.eq(stage));
    }
    paged!(query, page,
        id: rulings::id, updated_at: rulings::updated_at, deleted_at: rulings::deleted_at)
    .load(conn)
    .await
}

super::record_fields! {
    /// The fields a client sets on a ruling (its district and subject are fixed).
    pub struct RulingFields for Ruling in rulings {
        pub leader_name: String,
        pub leader_title: LeaderTitle,
        pub stage: Option<RulingStage>,
        pub content: String,
        pub issued_on: NaiveDate,
        pub department_ids: Vec<DepartmentId>,
    }
}

super::record_queries!(rulings, Ruling, RulingFields, RulingId);

/// A leaders' office reads its district's rulings; a unit, the rulings that name it.
impl super::SeenBy for Ruling {
    type Table = rulings::table;

    fn seen_by(person: crate::domain::access::Person) -> super::Seen<rulings::table> {
        use crate::domain::access::Person;
        match person {
            Person::Office(_) => super::every_row(),
            Person::Unit(department) => {
                Box::new(rulings::department_ids.contains(vec![department.0]))
            }
            Person::Member(_) => super::no_row(),
        }
    }

    fn changed_by(_person: crate::domain::access::Person) -> super::Seen<rulings::table> {
        super::no_row()
    }
}

#[tracing::instrument(skip_all)]
pub async fn insert(conn: &mut AsyncPgConnection, ruling: NewRuling) -> QueryResult<Ruling> {
    diesel::insert_into(rulings::table)
        .values(ruling)
        .returning(Ruling::as_returning())
        .get_result(conn)
        .await
}

super::saved_later!(save_later, rulings, Ruling);

/// A department's handling measure on a ruling.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = ruling_measures, check_for_backend(diesel::pg::Pg))]
pub struct Measure {
    pub id: MeasureId,
    pub district_id: DistrictId,
    pub ruling_id: RulingId,
    pub department_id: DepartmentId,
    pub text: String,
    pub taken_on: NaiveDate,
    pub status: MeasureStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
    pub deleted_at: Option<DateTime<Utc>>,
}

/// The live measures of `rulings`, oldest first.
#[tracing::instrument(skip_all)]
pub async fn measures(
    mut conn: &AsyncPgConnection,
    rulings: &[RulingId],
) -> QueryResult<Vec<Measure>> {
    ruling_measures::table
        .select(Measure::as_select())
        .filter(ruling_measures::ruling_id.eq_any(rulings))
        .filter(ruling_measures::deleted_at.is_null())
        .order(ruling_measures::id)
        .load(&mut conn)
        .await
}

#[tracing::instrument(skip_all)]
pub async fn add_measure(
    conn: &mut AsyncPgConnection,
    ruling: &Ruling,
    department: DepartmentId,
    text: String,
    taken_on: NaiveDate,
    status: MeasureStatus,
) -> QueryResult<Measure> {
    diesel::insert_into(ruling_measures::table)
        .values((
            ruling_measures::id.eq(MeasureId::generate()),
            ruling_measures::district_id.eq(ruling.district_id),
            ruling_measures::ruling_id.eq(ruling.id),
            ruling_measures::department_id.eq(department),
            ruling_measures::text.eq(text),
            ruling_measures::taken_on.eq(taken_on),
            ruling_measures::status.eq(status),
        ))
        .returning(Measure::as_returning())
        .get_result(conn)
        .await
}

/// The live rulings on one subject in `scope`, oldest first.
#[tracing::instrument(skip_all)]
pub async fn on_subject(
    conn: &mut AsyncPgConnection,
    scope: crate::domain::access::Scope,
    kind: SubjectType,
    id: uuid::Uuid,
) -> QueryResult<Vec<Ruling>> {
    let mut query = rulings::table
        .select(Ruling::as_select())
        .filter(rulings::deleted_at.is_null())
        .into_boxed();
    query = match kind {
        SubjectType::Consultation => query.filter(rulings::consultation_id.eq(ConsultationId(id))),
        SubjectType::Proposal => query.filter(rulings::proposal_id.eq(ProposalId(id))),
        SubjectType::Evaluation => query.filter(rulings::evaluation_id.eq(EvaluationId(id))),
    };
    if let Some(district) = scope.district() {
        query = query.filter(rulings::district_id.eq(district));
    }
    if let Some(person) = scope.person() {
        query = query.filter(<Ruling as super::SeenBy>::seen_by(person));
    }
    query.order(rulings::id).load(conn).await
}

super::record_fields! {
    /// What a client sets on a measure.
    pub struct MeasureFields for Measure in ruling_measures {
        pub text: String,
        pub taken_on: NaiveDate,
        pub status: MeasureStatus,
    }
}

/// Writes a measure's fields.
#[tracing::instrument(skip_all)]
pub async fn update_measure(
    conn: &mut AsyncPgConnection,
    id: MeasureId,
    fields: &MeasureFields,
) -> QueryResult<()> {
    diesel::update(ruling_measures::table.find(id))
        .set(fields)
        .execute(conn)
        .await
        .map(drop)
}

/// Marks a measure deleted.
#[tracing::instrument(skip_all)]
pub async fn delete_measure(conn: &mut AsyncPgConnection, id: MeasureId) -> QueryResult<()> {
    diesel::update(ruling_measures::table.find(id))
        .set(ruling_measures::deleted_at.eq(diesel::dsl::now))
        .execute(conn)
        .await
        .map(drop)
}
