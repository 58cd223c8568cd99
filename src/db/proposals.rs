//! Queries on proposals, their co-signers, numbers and workflow history.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::pagination::{CursorValue, Order, PageRequest, PageRow, paged};
use crate::db::schema::{proposal_cosigners, proposal_number_counters, proposals};
use crate::domain::ids::{DepartmentId, DistrictId, MemberId, ProposalId};
use crate::domain::proposal::{ForwardAs, ProposalKind, ProposalStatus, ReplyResult, Verdict};

#[derive(Debug, Clone, Queryable, Selectable, AsChangeset)]
#[diesel(table_name = proposals, check_for_backend(diesel::pg::Pg), treat_none_as_null = true)]
pub struct Proposal {
    pub id: ProposalId,
    pub district_id: DistrictId,
    pub kind: ProposalKind,
    pub title: String,
    pub body: String,
    pub category: String,
    pub lead_member_id: Option<MemberId>,
    pub proposer_org: Option<String>,
    pub is_key: bool,
    pub supervising_leader: Option<String>,
    pub lead_unit_id: Option<DepartmentId>,
    pub co_unit_ids: Vec<DepartmentId>,
    pub number: Option<String>,
    pub status: ProposalStatus,
    pub submitted_at: Option<DateTime<Utc>>,
    pub filed_at: Option<DateTime<Utc>>,
    pub reply_due_on: Option<NaiveDate>,
    pub extended: bool,
    pub rehandled: bool,
    pub reply_text: Option<String>,
    pub reply_document_no: Option<String>,
    pub reply_result: Option<ReplyResult>,
    pub replied_on: Option<NaiveDate>,
    pub verdict: Option<Verdict>,
    pub reject_reason: Option<String>,
    pub forward_as: Option<ForwardAs>,
    pub merged_into_id: Option<ProposalId>,
    /// The district system's id, for records it syncs.
    #[diesel(skip_update)]
    pub external_id: Option<String>,
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
    /// The fields a draft carries.
    pub struct DraftFields for Proposal in proposals {
        pub kind: ProposalKind,
        pub title: String,
        pub body: String,
        pub category: String,
        pub lead_member_id: Option<MemberId>,
        pub proposer_org: Option<String>,
        pub is_key: bool,
        pub supervising_leader: Option<String>,
    }
}

impl Proposal {
    /// Whether the reply is late on `today`.
    pub fn overdue_on(&self, today: NaiveDate) -> bool {
        self.status == ProposalStatus::Assigned && self.reply_due_on.is_some_and(|due| due < today)
    }
}

impl PageRow for Proposal {
    fn row_id(&self) -> uuid::Uuid {
        self.id.0
    }

    fn deleted_at(&self) -> Option<DateTime<Utc>> {
        self.deleted_at
    }

    fn sort_value(&self, order: Order) -> CursorValue {
        match order {
            Order::UpdatedAt => CursorValue::Time(self.updated_at),
            Order::SubmittedAt => self
                .submitted_at
                .map_or(CursorValue::None, CursorValue::Time),
            Order::Number => self
                .number
                .clone()
                .map_or(CursorValue::None, CursorValue::Text),
            Order::ReplyDueOn => self
                .reply_due_on
                .map_or(CursorValue::None, CursorValue::Date),
            _ => CursorValue::None,
        }
    }
}

#[derive(Debug, Default)]
pub struct ProposalFilter {
    pub scope: crate::domain::access::Scope,
    pub district_id: Option<DistrictId>,
    pub district_code: Option<String>,
    pub status: Option<ProposalStatus>,
    pub kind: Option<ProposalKind>,
    pub category: Option<String>,
    pub is_key: Option<bool>,
    /// Proposals submitted (or, unsubmitted, created) in this year.
    pub year: Option<i32>,
    /// Lead member or co-signer.
    pub member_id: Option<MemberId>,
    /// Lead or co-handling unit.
    pub unit_id: Option<DepartmentId>,
    /// Assigned and past the reply due date on this day.
    pub overdue_on: Option<NaiveDate>,
    /// Text in the title or body.
    pub q: Option<String>,
}

#[tracing::instrument(skip_all)]
pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &ProposalFilter,
    page: &PageRequest,
) -> QueryResult<Vec<Proposal>> {
    let mut query = proposals::table.select(Proposal::as_select()).into_boxed();
    if let Some(district) = filter.scope.district() {
        query = query.filter(proposals::district_id.eq(district));
    }
    if let Some(person) = filter.scope.person() {
        query = query.filter(<Proposal as super::SeenBy>::seen_by(person));
    }
    if let Some(district) = filter.district_id {
        query = query.filter(proposals::district_id.eq(district));
    }
    if let Some(code) = &filter.district_code {
        query = query
            .filter(proposals::district_id.eq_any(super::districts::ids_by_code(code.clone())));
    }
    if let Some(status) = filter.status {
        query = query.filter(proposals::status.eq(status));
    }
    if let Some(kind) = filter.kind {
        query = query.filter(proposals::kind.eq(kind));
    }
    if let Some(category) = &filter.category {
        query = query.filter(proposals::category.eq(category.clone()));
    }
    if let Some(is_key) = filter.is_key {
        query = query.filter(proposals::is_key.eq(is_key));
    }
    if let Some(year) = filter.year {
        query = query.filter(
            diesel::dsl::sql::<Bool>(
                "extract(year from coalesce(submitted_at, created_at) AT TIME ZONE 'Asia/Shanghai') = ",
            )
            .bind::<diesel::sql_types::Integer, _>(year),
        );
    }
    if let Some(member) = filter.member_id {
        query = query.filter(
            proposals::lead_member_id
                .eq(member)
                .or(proposals::id.eq_any(
                    proposal_cosigners::table
                        .select(proposal_cosigners::proposal_id)
                        .filter(proposal_cosigners::member_id.eq(member)),
                )),
        );
    }
    if let Some(unit) = filter.unit_id {
        query = query.filter(
            proposals::lead_unit_id
                .eq(unit)
                .or(proposals::co_unit_ids.contains(vec![unit])),
        );
    }
    if let Some(today) = filter.overdue_on {
        query = query
            .filter(proposals::status.eq(ProposalStatus::Assigned))
            .filter(proposals::reply_due_on.lt(today));
    }
    if let Some(q) = &filter.q {
        // Every two characters of the text among the proposal's (its index), then the text
        // itself; a single character has no bigram and is matched by the text alone.
        if q.chars().nth(1).is_some() {
            query = query.filter(
                diesel::dsl::sql::<Bool>("search_terms @@ cppcc_bigram_query(")
                    .bind::<Text, _>(q.clone())
                    .sql(")"),
            );
        }
        let pattern = super::like_pattern(q);
        query = query.filter(
            proposals::title
                .ilike(pattern.clone())
                .or(proposals::body.ilike(pattern)),
        );
    }
    // The sorts by a field a proposal may not have yet list those that have it.
    match page.order {
        Order::Number => {
            query = query.filter(proposals::number.is_not_null());
            if let Some((number, id)) = page.after_text() {
                query = query.filter(
                    proposals::number.gt(number.clone()).or(proposals::number
                        .eq(number)
                        .and(proposals::id.gt(ProposalId(id)))),
                );
            }
            query = query.order((proposals::number.asc(), proposals::id.asc()));
        }
        Order::SubmittedAt => {
            query = query.filter(proposals::submitted_at.is_not_null());
            if let Some((time, id)) = page.after_time() {
                query = query.filter(
                    proposals::submitted_at.gt(time).or(proposals::submitted_at
                        .eq(time)
                        .and(proposals::id.gt(ProposalId(id)))),
                );
            }
            query = query.order((proposals::submitted_at.asc(), proposals::id.asc()));
        }
        Order::ReplyDueOn => {
            query = query.filter(proposals::reply_due_on.is_not_null());
            if let Some((date, id)) = page.after_date() {
                query = query.filter(
                    proposals::reply_due_on.gt(date).or(proposals::reply_due_on
                        .eq(date)
                        .and(proposals::id.gt(ProposalId(id)))),
                );
            }
            query = query.order((proposals::reply_due_on.asc(), proposals::id.asc()));
        }
        _ => {
            return paged!(query, page,
                id: proposals::id, updated_at: proposals::updated_at, deleted_at: proposals::deleted_at)
            .load(conn)
            .await;
        }
    }
    query = query.filter(proposals::deleted_at.is_null());
    query.limit(page.limit + 1).load(conn).await
}

super::record_queries!(proposals, Proposal, DraftFields, ProposalId);

/// A member reads the proposals they lead or co-sign; a unit, those assigned to it (to lead or co-handle); a leaders' office, its district's once submitted. A member changes the proposals they lead.
impl super::SeenBy for Proposal {
    type Table = proposals::table;

    fn seen_by(person: crate::domain::access::Person) -> super::Seen<proposals::table> {
        use crate::domain::access::Person;
        match person {
            Person::Member(member) => Box::new(
                proposals::lead_member_id
                    .assume_not_null()
                    .eq(member)
                    .or(proposals::id.eq_any(
                        crate::db::schema::proposal_cosigners::table
                            .select(crate::db::schema::proposal_cosigners::proposal_id)
                            .filter(crate::db::schema::proposal_cosigners::member_id.eq(member)),
                    )),
            ),
            Person::Unit(department) => Box::new(
                proposals::lead_unit_id
                    .assume_not_null()
                    .eq(department)
                    .or(proposals::co_unit_ids.contains(vec![department.0])),
            ),
            // A draft is its members' own until it is submitted (one withdrawn unsubmitted
            // stays theirs).
            Person::Office(_) => Box::new(proposals::submitted_at.is_not_null()),
        }
    }

    fn changed_by(person: crate::domain::access::Person) -> super::Seen<proposals::table> {
        use crate::domain::access::Person;
        match person {
            Person::Member(member) => {
                Box::new(proposals::lead_member_id.assume_not_null().eq(member))
            }
            Person::Unit(_) | Person::Office(_) => super::no_row(),
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = proposals)]
struct NewProposalRow {
    id: ProposalId,
    district_id: DistrictId,
    #[diesel(embed)]
    fields: DraftFields,
}

#[tracing::instrument(skip_all)]
pub async fn insert(
    conn: &mut AsyncPgConnection,
    district_id: DistrictId,
    fields: DraftFields,
) -> QueryResult<Proposal> {
    diesel::insert_into(proposals::table)
        .values(NewProposalRow {
            id: ProposalId::generate(),
            district_id,
            fields,
        })
        .returning(Proposal::as_returning())
        .get_result(conn)
        .await
}

super::saved_later!(save_later, proposals, Proposal);

/// The next number of `district` in `year`: consecutive, and given back if the filing
/// rolls back (the counter row stays locked until the transaction ends).
#[tracing::instrument(skip_all)]
pub async fn next_number(
    conn: &mut AsyncPgConnection,
    district: DistrictId,
    year: i32,
) -> QueryResult<i32> {
    diesel::insert_into(proposal_number_counters::table)
        .values((
            proposal_number_counters::district_id.eq(district),
            proposal_number_counters::year.eq(year),
            proposal_number_counters::last.eq(1),
        ))
        .on_conflict((
            proposal_number_counters::district_id,
            proposal_number_counters::year,
        ))
        .do_update()
        .set(proposal_number_counters::last.eq(proposal_number_counters::last + 1))
        .returning(proposal_number_counters::last)
        .get_result(conn)
        .await
}

/// The co-signers of each of `ids`. Takes the connection shared, so it can be sent
/// pipelined with other reads.
#[tracing::instrument(skip_all)]
pub async fn cosigners(
    mut conn: &AsyncPgConnection,
    ids: &[ProposalId],
) -> QueryResult<Vec<(ProposalId, MemberId)>> {
    proposal_cosigners::table
        .select((
            proposal_cosigners::proposal_id,
            proposal_cosigners::member_id,
        ))
        .filter(proposal_cosigners::proposal_id.eq_any(ids))
        .order((
            proposal_cosigners::proposal_id,
            proposal_cosigners::member_id,
        ))
        .load(&mut conn)
        .await
}

/// The proposals merged into each of `ids` (shared connection, as [`cosigners`]).
#[tracing::instrument(skip_all)]
pub async fn merged_into(
    mut conn: &AsyncPgConnection,
    ids: &[ProposalId],
) -> QueryResult<Vec<(ProposalId, ProposalId)>> {
    proposals::table
        .select((proposals::merged_into_id.assume_not_null(), proposals::id))
        .filter(proposals::merged_into_id.eq_any(ids))
        .filter(proposals::deleted_at.is_null())
        .order((proposals::merged_into_id, proposals::id))
        .load(&mut conn)
        .await
}

/// Adds a co-signer; `false` if already there.
#[tracing::instrument(skip_all)]
pub async fn add_cosigner(
    conn: &mut AsyncPgConnection,
    proposal: &Proposal,
    member: MemberId,
) -> QueryResult<bool> {
    let added = diesel::insert_into(proposal_cosigners::table)
        .values((
            proposal_cosigners::proposal_id.eq(proposal.id),
            proposal_cosigners::member_id.eq(member),
            proposal_cosigners::district_id.eq(proposal.district_id),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?
        > 0;
    if added {
        touch(conn, proposal.id).await?;
    }
    Ok(added)
}

/// Removes a co-signer; `false` if not there.
#[tracing::instrument(skip_all)]
pub async fn remove_cosigner(
    conn: &mut AsyncPgConnection,
    proposal: ProposalId,
    member: MemberId,
) -> QueryResult<bool> {
    let removed = diesel::delete(
        proposal_cosigners::table
            .filter(proposal_cosigners::proposal_id.eq(proposal))
            .filter(proposal_cosigners::member_id.eq(member)),
    )
    .execute(conn)
    .await?
        > 0;
    if removed {
        touch(conn, proposal).await?;
    }
    Ok(removed)
}

/// Counts behind the proposal statistics.
#[derive(Debug, Default)]
pub struct Figures {
    pub total: i64,
    pub by_status: std::collections::BTreeMap<String, i64>,
    pub by_kind: std::collections::BTreeMap<String, i64>,
    pub by_category: std::collections::BTreeMap<String, i64>,
    pub decided: i64,
    pub filed: i64,
    pub replied: i64,
    pub replied_on_time: i64,
    pub with_verdict: i64,
    pub satisfied: i64,
}

#[derive(Debug, QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    dimension: String,
    #[diesel(sql_type = Text)]
    value: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    count: i64,
}

/// The counts of live, non-draft-excluded proposals in `scope` (and `district`, `year`).
#[tracing::instrument(skip_all)]
pub async fn stats(
    conn: &mut AsyncPgConnection,
    scope: crate::domain::access::Scope,
    district: Option<DistrictId>,
    year: Option<i32>,
) -> QueryResult<Figures> {
    let rows: Vec<Row> = diesel::sql_query(
        "WITH chosen AS (
             SELECT * FROM proposals
             WHERE deleted_at IS NULL
               AND ($1::uuid IS NULL OR district_id = $1)
               AND ($2::uuid IS NULL OR district_id = $2)
               AND ($3::int IS NULL
                    OR extract(year FROM coalesce(submitted_at, created_at) AT TIME ZONE 'Asia/Shanghai') = $3))
         SELECT 'status' AS dimension, status AS value, count(*) AS count FROM chosen GROUP BY status
         UNION ALL SELECT 'kind', kind, count(*) FROM chosen GROUP BY kind
         UNION ALL SELECT 'category', category, count(*) FROM chosen GROUP BY category
         UNION ALL SELECT 'figure', 'total', count(*) FROM chosen
         UNION ALL SELECT 'figure', 'decided', count(*) FROM chosen
             WHERE number IS NOT NULL OR status IN ('not_filed', 'merged')
         UNION ALL SELECT 'figure', 'filed', count(*) FROM chosen WHERE number IS NOT NULL
         UNION ALL SELECT 'figure', 'replied', count(*) FROM chosen WHERE replied_on IS NOT NULL
         UNION ALL SELECT 'figure', 'replied_on_time', count(*) FROM chosen
             WHERE replied_on IS NOT NULL AND replied_on <= reply_due_on
         UNION ALL SELECT 'figure', 'with_verdict', count(*) FROM chosen WHERE verdict IS NOT NULL
         UNION ALL SELECT 'figure', 'satisfied', count(*) FROM chosen
             WHERE verdict IN ('satisfied', 'basically_satisfied')",
    )
    .bind::<diesel::sql_types::Nullable<diesel::sql_types::Uuid>, _>(scope.district())
    .bind::<diesel::sql_types::Nullable<diesel::sql_types::Uuid>, _>(district)
    .bind::<diesel::sql_types::Nullable<diesel::sql_types::Integer>, _>(year)
    .load(conn)
    .await?;
    let mut figures = Figures::default();
    for row in rows {
        match (row.dimension.as_str(), row.value.as_str()) {
            ("status", _) => {
                figures.by_status.insert(row.value, row.count);
            }
            ("kind", _) => {
                figures.by_kind.insert(row.value, row.count);
            }
            ("category", _) => {
                figures.by_category.insert(row.value, row.count);
            }
            (_, "total") => figures.total = row.count,
            (_, "decided") => figures.decided = row.count,
            (_, "filed") => figures.filed = row.count,
            (_, "replied") => figures.replied = row.count,
            (_, "replied_on_time") => figures.replied_on_time = row.count,
            (_, "with_verdict") => figures.with_verdict = row.count,
            (_, "satisfied") => figures.satisfied = row.count,
            _ => {}
        }
    }
    Ok(figures)
}

/// The live proposals of `district` with these external ids, locked until the
/// transaction ends.
#[tracing::instrument(skip_all)]
pub async fn lock_by_external_ids(
    conn: &mut AsyncPgConnection,
    district: DistrictId,
    keys: &[String],
) -> QueryResult<Vec<Proposal>> {
    proposals::table
        .select(Proposal::as_select())
        .filter(proposals::district_id.eq(district))
        .filter(proposals::external_id.eq_any(keys))
        .filter(proposals::deleted_at.is_null())
        // One order for every batch: two batches never wait on each other in a cycle.
        .order(proposals::external_id)
        .for_update()
        .load(conn)
        .await
}

#[derive(Insertable)]
#[diesel(table_name = proposals)]
struct SyncedProposalRow {
    id: ProposalId,
    district_id: DistrictId,
    external_id: String,
    #[diesel(embed)]
    fields: DraftFields,
}

/// Creates or replaces drafts of `district` by external id, in one statement (the
/// caller has made sure every replaced proposal is a draft).
#[tracing::instrument(skip_all, fields(rows = rows.len()))]
pub async fn upsert_drafts(
    conn: &mut AsyncPgConnection,
    district: DistrictId,
    rows: Vec<(ProposalId, String, DraftFields)>,
) -> QueryResult<Vec<Proposal>> {
    use diesel::query_builder::DecoratableTarget;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<SyncedProposalRow> = rows
        .into_iter()
        .map(|(id, external_id, fields)| SyncedProposalRow {
            id,
            district_id: district,
            external_id,
            fields,
        })
        .collect();
    diesel::insert_into(proposals::table)
        .values(rows)
        .on_conflict((proposals::district_id, proposals::external_id))
        .filter_target(
            proposals::deleted_at
                .is_null()
                .and(proposals::external_id.is_not_null()),
        )
        .do_update()
        .set(DraftFields::excluded())
        .returning(Proposal::as_returning())
        .get_results(conn)
        .await
}

/// Marks proposals deleted, in one statement.
#[tracing::instrument(skip_all)]
pub async fn mark_all_deleted(conn: &mut AsyncPgConnection, ids: &[ProposalId]) -> QueryResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    diesel::update(proposals::table.filter(proposals::id.eq_any(ids)))
        .set(proposals::deleted_at.eq(diesel::dsl::now))
        .execute(conn)
        .await
        .map(drop)
}
