//! Queries on consultation topics and their activities.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::pagination::{PageRequest, page_row, paged};
use crate::db::schema::{consultation_activities, consultations};
use crate::domain::consultation::{ConsultationFormat, ConsultationStatus};
use crate::domain::ids::{
    ConsultationActivityId, ConsultationId, DepartmentId, DistrictId, MemberId,
};

#[derive(Debug, Clone, Queryable, Selectable, AsChangeset)]
#[diesel(table_name = consultations, check_for_backend(diesel::pg::Pg), treat_none_as_null = true)]
pub struct Consultation {
    pub id: ConsultationId,
    pub district_id: DistrictId,
    pub year: i32,
    pub title: String,
    pub is_key: bool,
    pub lead_committee: Option<String>,
    pub status: ConsultationStatus,
    pub report_title: Option<String>,
    pub report_text: Option<String>,
    pub report_recipients: Vec<String>,
    pub reported_at: Option<DateTime<Utc>>,
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
    /// The fields a client sets on a topic (the district is fixed at creation).
    pub struct ConsultationFields for Consultation in consultations {
        pub year: i32,
        pub title: String,
        pub is_key: bool,
        pub lead_committee: Option<String>,
    }
}

page_row!(Consultation, Name => title);

#[derive(Debug, Default)]
pub struct ConsultationFilter {
    pub scope: crate::domain::access::Scope,
    pub district_id: Option<DistrictId>,
    pub district_code: Option<String>,
    pub year: Option<i32>,
    pub status: Option<ConsultationStatus>,
    pub is_key: Option<bool>,
    pub q: Option<String>,
}

#[tracing::instrument(skip_all)]
pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &ConsultationFilter,
    page: &PageRequest,
) -> QueryResult<Vec<Consultation>> {
    let mut query = consultations::table
        .select(Consultation::as_select())
        .into_boxed();
    if let Some(district) = filter.scope.district() {
        query = query.filter(consultations::district_id.eq(district));
    }
    if let Some(person) = filter.scope.person() {
        query = query.filter(<Consultation as super::SeenBy>::seen_by(person));
    }
    if let Some(district) = filter.district_id {
        query = query.filter(consultations::district_id.eq(district));
    }
    if let Some(code) = &filter.district_code {
        query = query
            .filter(consultations::district_id.eq_any(super::districts::ids_by_code(code.clone())));
    }
    if let Some(year) = filter.year {
        query = query.filter(consultations::year.eq(year));
    }
    if let Some(status) = filter.status {
        query = query.filter(consultations::status.eq(status));
    }
    if let Some(is_key) = filter.is_key {
        query = query.filter(consultations::is_key.eq(is_key));
    }
    if let Some(q) = &filter.q {
        query = query.filter(consultations::title.ilike(super::like_pattern(q)));
    }
    paged!(query, page,
        id: consultations::id, updated_at: consultations::updated_at,
        deleted_at: consultations::deleted_at, Name => consultations::title)
    .load(conn)
    .await
}

super::record_queries!(
    consultations,
    Consultation,
    ConsultationFields,
    ConsultationId
);

/// A leaders' office reads its district's consultation topics.
impl super::SeenBy for Consultation {
    type Table = consultations::table;

    fn seen_by(person: crate::domain::access::Person) -> super::Seen<consultations::table> {
        use crate::domain::access::Person;
        match person {
            Person::Office(_) => super::every_row(),
            Person::Member(_) | Person::Unit(_) => super::no_row(),
        }
    }

    fn changed_by(_person: crate::domain::access::Person) -> super::Seen<consultations::table> {
        super::no_row()
    }
}

#[derive(Insertable)]
#[diesel(table_name = consultations)]
struct NewConsultationRow {
    id: ConsultationId,
    district_id: DistrictId,
    #[diesel(embed)]
    fields: ConsultationFields,
}

#[tracing::instrument(skip_all)]
pub async fn insert(
    conn: &mut AsyncPgConnection,
    district_id: DistrictId,
    fields: ConsultationFields,
) -> QueryResult<Consultation> {
    diesel::insert_into(consultations::table)
        .values(NewConsultationRow {
            id: ConsultationId::generate(),
            district_id,
            fields,
        })
        .returning(Consultation::as_returning())
        .get_result(conn)
        .await
}

super::saved_later!(save_later, consultations, Consultation);

/// The live topics of a district's plan for a year, with how many live activities each
/// has, in creation order.
#[tracing::instrument(skip_all)]
pub async fn plan(
    conn: &mut AsyncPgConnection,
    district: DistrictId,
    year: i32,
) -> QueryResult<Vec<(Consultation, i64)>> {
    let topics: Vec<Consultation> = consultations::table
        .select(Consultation::as_select())
        .filter(consultations::district_id.eq(district))
        .filter(consultations::year.eq(year))
        .filter(consultations::deleted_at.is_null())
        .order(consultations::id)
        .load(conn)
        .await?;
    let ids: Vec<ConsultationId> = topics.iter().map(|topic| topic.id).collect();
    let counts: Vec<(ConsultationId, i64)> = consultation_activities::table
        .group_by(consultation_activities::consultation_id)
        .select((
            consultation_activities::consultation_id,
            diesel::dsl::count_star(),
        ))
        .filter(consultation_activities::consultation_id.eq_any(&ids))
        .filter(consultation_activities::deleted_at.is_null())
        .load(conn)
        .await?;
    Ok(topics
        .into_iter()
        .map(|topic| {
            let count = counts
                .iter()
                .find(|(id, _)| *id == topic.id)
                .map_or(0, |(_, count)| *count);
            (topic, count)
        })
        .collect())
}

/// An activity of a consultation topic.
pub mod activities {
    use super::*;

    #[derive(Debug, Clone, Queryable, Selectable)]
    #[diesel(table_name = consultation_activities, check_for_backend(diesel::pg::Pg))]
    pub struct ConsultationActivity {
        pub id: ConsultationActivityId,
        pub district_id: DistrictId,
        pub consultation_id: ConsultationId,
        pub format: ConsultationFormat,
        pub held_on: NaiveDate,
        pub place: Option<String>,
        pub participant_ids: Vec<MemberId>,
        pub department_ids: Vec<DepartmentId>,
        pub opinions_gathered: i32,
        pub summary: Option<String>,
        pub created_at: DateTime<Utc>,
        pub updated_at: DateTime<Utc>,
        pub version: i64,
        pub deleted_at: Option<DateTime<Utc>>,
    }

    crate::db::record_fields! {
        /// The fields a client sets on an activity.
        pub struct ActivityFields for ConsultationActivity in consultation_activities {
            pub format: ConsultationFormat,
            pub held_on: NaiveDate,
            pub place: Option<String>,
            pub participant_ids: Vec<MemberId>,
            pub department_ids: Vec<DepartmentId>,
            pub opinions_gathered: i32,
            pub summary: Option<String>,
        }
    }

    page_row!(ConsultationActivity);

    #[tracing::instrument(skip_all)]
    pub async fn list(
        conn: &mut AsyncPgConnection,
        topic: ConsultationId,
        page: &PageRequest,
    ) -> QueryResult<Vec<ConsultationActivity>> {
        let query = consultation_activities::table
            .select(ConsultationActivity::as_select())
            .filter(consultation_activities::consultation_id.eq(topic))
            .into_boxed();
        paged!(query, page,
            id: consultation_activities::id, updated_at: consultation_activities::updated_at,
            deleted_at: consultation_activities::deleted_at)
        .load(conn)
        .await
    }

    crate::db::record_queries!(
        consultation_activities,
        ConsultationActivity,
        ActivityFields,
        ConsultationActivityId
    );

    /// A leaders' office reads the activities of its district's consultation topics.
    impl crate::db::SeenBy for ConsultationActivity {
        type Table = consultation_activities::table;

        fn seen_by(
            person: crate::domain::access::Person,
        ) -> crate::db::Seen<consultation_activities::table> {
            use crate::domain::access::Person;
            match person {
                Person::Office(_) => crate::db::every_row(),
                Person::Member(_) | Person::Unit(_) => crate::db::no_row(),
            }
        }

        fn changed_by(
            _person: crate::domain::access::Person,
        ) -> crate::db::Seen<consultation_activities::table> {
            crate::db::no_row()
        }
    }

    #[derive(Insertable)]
    #[diesel(table_name = consultation_activities)]
    struct NewActivityRow {
        id: ConsultationActivityId,
        district_id: DistrictId,
        consultation_id: ConsultationId,
        #[diesel(embed)]
        fields: ActivityFields,
    }

    #[tracing::instrument(skip_all)]
    pub async fn insert(
        conn: &mut AsyncPgConnection,
        topic: &super::Consultation,
        fields: ActivityFields,
    ) -> QueryResult<ConsultationActivity> {
        diesel::insert_into(consultation_activities::table)
            .values(NewActivityRow {
                id: ConsultationActivityId::generate(),
                district_id: topic.district_id,
                consultation_id: topic.id,
                fields,
            })
            .returning(ConsultationActivity::as_returning())
            .get_result(conn)
            .await
    }
}
