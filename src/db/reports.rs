//! Queries on reports to the district party committee.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::pagination::{PageRequest, page_row, paged};
use crate::db::schema::reports;
use crate::domain::ids::{ConsultationId, DistrictId, EvaluationId, ReportId};
use crate::domain::kinds::ReportKind;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = reports, check_for_backend(diesel::pg::Pg))]
pub struct Report {
    pub id: ReportId,
    pub district_id: DistrictId,
    pub kind: ReportKind,
    pub reported_on: NaiveDate,
    pub subject: String,
    pub summary: Option<String>,
    pub consultation_id: Option<ConsultationId>,
    pub evaluation_id: Option<EvaluationId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
    pub deleted_at: Option<DateTime<Utc>>,
}

super::record_fields! {
    /// The fields a client sets (the district is fixed at creation).
    pub struct ReportFields for Report in reports {
        pub kind: ReportKind,
        pub reported_on: NaiveDate,
        pub subject: String,
        pub summary: Option<String>,
        pub consultation_id: Option<ConsultationId>,
        pub evaluation_id: Option<EvaluationId>,
    }
}

page_row!(Report);

#[derive(Debug, Default)]
pub struct ReportFilter {
    /// The caller's districts.
    pub scope: crate::domain::access::Scope,
    pub district_id: Option<DistrictId>,
    pub district_code: Option<String>,
    pub kind: Option<ReportKind>,
    pub consultation_id: Option<ConsultationId>,
    pub evaluation_id: Option<EvaluationId>,
    /// Reported on or after this day.
    pub reported_from: Option<NaiveDate>,
    /// Reported on or before this day.
    pub reported_to: Option<NaiveDate>,
    /// Text in the subject.
    pub q: Option<String>,
}

#[tracing::instrument(skip_all)]
pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &ReportFilter,
    page: &PageRequest,
) -> QueryResult<Vec<Report>> {
    let mut query = reports::table.select(Report::as_select()).into_boxed();
    if let Some(district) = filter.scope.district() {
        query = query.filter(reports::district_id.eq(district));
    }
    if let Some(person) = filter.scope.person() {
        query = query.filter(<Report as super::SeenBy>::seen_by(person));
    }
    if let Some(district_id) = filter.district_id {
        query = query.filter(reports::district_id.eq(district_id));
    }
    if let Some(code) = &filter.district_code {
        query =
            query.filter(reports::district_id.eq_any(super::districts::ids_by_code(code.clone())));
    }
    if let Some(kind) = filter.kind {
        query = query.filter(reports::kind.eq(kind));
    }
    if let Some(consultation_id) = filter.consultation_id {
        query = query.filter(reports::consultation_id.eq(consultation_id));
    }
    if let Some(evaluation_id) = filter.evaluation_id {
        query = query.filter(reports::evaluation_id.eq(evaluation_id));
    }
    if let Some(from) = filter.reported_from {
        query = query.filter(reports::reported_on.ge(from));
    }
    if let Some(to) = filter.reported_to {
        query = query.filter(reports::reported_on.le(to));
    }
    if let Some(q) = &filter.q {
        query = query.filter(reports::subject.ilike(super::like_pattern(q)));
    }
    paged!(query, page,
        id: reports::id, updated_at: reports::updated_at, deleted_at: reports::deleted_at)
    .load(conn)
    .await
}

super::record_queries!(reports, Report, ReportFields, ReportId);

/// Reports to the party committee are the committee's own work: no person's.
impl super::SeenBy for Report {
    type Table = reports::table;

    fn seen_by(_person: crate::domain::access::Person) -> super::Seen<reports::table> {
        super::no_row()
    }
}

#[derive(Insertable)]
#[diesel(table_name = reports)]
struct NewReportRow {
    id: ReportId,
    district_id: DistrictId,
    #[diesel(embed)]
    fields: ReportFields,
}

#[tracing::instrument(skip_all)]
pub async fn insert(
    conn: &mut AsyncPgConnection,
    district_id: DistrictId,
    fields: ReportFields,
) -> QueryResult<Report> {
    diesel::insert_into(reports::table)
        .values(NewReportRow {
            id: ReportId::generate(),
            district_id,
            fields,
        })
        .returning(Report::as_returning())
        .get_result(conn)
        .await
}
