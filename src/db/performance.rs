//! Duty performance: scoring rule versions, and the scored items of a district's year read
//! in one set-based statement each (`performance_items` defines what counts).

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date, Integer, Jsonb, Nullable, Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::Value;

use crate::db::schema::scoring_rules;
use crate::domain::ids::{ApiKeyId, DistrictId, MemberId};
use crate::domain::kinds::MemberStatus;
use crate::domain::performance::ItemKind;

/// A published version of the scoring rules.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = scoring_rules, check_for_backend(diesel::pg::Pg))]
pub struct ScoringRules {
    pub version: i32,
    /// A district's own rules, or (none) the common ones.
    pub district_id: Option<DistrictId>,
    pub from_year: i32,
    /// Points per merit kind, as published.
    pub points: Value,
    /// Points taken away per penalty kind, as published.
    pub penalties: Value,
    pub competent_line: i32,
    pub excellent_line: i32,
    pub note: Option<String>,
    pub published_at: DateTime<Utc>,
    pub published_by: Option<ApiKeyId>,
}

/// What an administrator publishes.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = scoring_rules)]
pub struct NewScoringRules {
    pub district_id: Option<DistrictId>,
    pub from_year: i32,
    pub points: Value,
    pub penalties: Value,
    pub competent_line: i32,
    pub excellent_line: i32,
    pub note: Option<String>,
    pub published_by: Option<ApiKeyId>,
}

/// Every published version, oldest first; with a district, those that may apply to it
/// (its own and the common ones).
#[tracing::instrument(skip_all)]
pub async fn all_rules(
    conn: &mut AsyncPgConnection,
    district: Option<DistrictId>,
) -> QueryResult<Vec<ScoringRules>> {
    let mut query = scoring_rules::table
        .select(ScoringRules::as_select())
        .order(scoring_rules::version)
        .into_boxed();
    if let Some(district) = district {
        query = query.filter(
            scoring_rules::district_id
                .eq(district)
                .or(scoring_rules::district_id.is_null()),
        );
    }
    query.load(conn).await
}

/// One version, if published.
#[tracing::instrument(skip_all)]
pub async fn rules(
    conn: &mut AsyncPgConnection,
    version: i32,
) -> QueryResult<Option<ScoringRules>> {
    scoring_rules::table
        .select(ScoringRules::as_select())
        .find(version)
        .first(conn)
        .await
        .optional()
}

/// The version in force for `district` in `year`: of the district's own versions from that
/// year or earlier, the one from the latest year (of several from that year, the last
/// published); when it has none, the same of the common versions.
#[tracing::instrument(skip_all)]
pub async fn rules_for_year(
    conn: &mut AsyncPgConnection,
    district: DistrictId,
    year: i32,
) -> QueryResult<Option<ScoringRules>> {
    scoring_rules::table
        .select(ScoringRules::as_select())
        .filter(scoring_rules::from_year.le(year))
        .filter(
            scoring_rules::district_id
                .eq(district)
                .or(scoring_rules::district_id.is_null()),
        )
        .order((
            scoring_rules::district_id.is_null(),
            scoring_rules::from_year.desc(),
            scoring_rules::version.desc(),
        ))
        .first(conn)
        .await
        .optional()
}

/// Publishes the next version. Publishers queue on the table's lock, so versions are
/// numbered without gaps in the order they commit.
#[tracing::instrument(skip_all)]
pub async fn publish(
    conn: &mut AsyncPgConnection,
    rules: NewScoringRules,
) -> QueryResult<ScoringRules> {
    diesel::sql_query("LOCK TABLE scoring_rules IN SHARE ROW EXCLUSIVE MODE")
        .execute(conn)
        .await?;
    let last: Option<i32> = scoring_rules::table
        .select(diesel::dsl::max(scoring_rules::version))
        .first(conn)
        .await?;
    diesel::insert_into(scoring_rules::table)
        .values((scoring_rules::version.eq(last.unwrap_or(0) + 1), rules))
        .returning(ScoringRules::as_returning())
        .get_result(conn)
        .await
}

/// The points of item `i` under rules `r`: its merit points, or minus its penalty.
const POINTS: &str = "COALESCE((r.points ->> i.kind)::int, -(r.penalties ->> i.kind)::int, 0)";

/// An item that counts, with its points.
#[derive(Debug, Clone, QueryableByName)]
pub struct ScoredItem {
    #[diesel(sql_type = Text)]
    pub kind: ItemKind,
    #[diesel(sql_type = Text)]
    pub source_type: String,
    #[diesel(sql_type = SqlUuid)]
    pub source_id: uuid::Uuid,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub parent_id: Option<uuid::Uuid>,
    #[diesel(sql_type = Date)]
    pub occurred_on: NaiveDate,
    #[diesel(sql_type = Text)]
    pub title: String,
    #[diesel(sql_type = Integer)]
    pub points: i32,
}

/// Every item of a member's year in the member's district, scored under `version`, by
/// date.
#[tracing::instrument(skip_all)]
pub async fn member_items(
    conn: &mut AsyncPgConnection,
    district: DistrictId,
    member: MemberId,
    year: i32,
    version: i32,
) -> QueryResult<Vec<ScoredItem>> {
    diesel::sql_query(format!(
        "SELECT i.kind, i.source_type, i.source_id, i.parent_id, i.occurred_on, i.title, \
                {POINTS} AS points \
         FROM performance_items($1, $2, $3) i \
         CROSS JOIN scoring_rules r \
         WHERE r.version = $4 \
         ORDER BY i.occurred_on, i.kind, i.source_id"
    ))
    .bind::<SqlUuid, _>(district.0)
    .bind::<Integer, _>(year)
    .bind::<SqlUuid, _>(member.0)
    .bind::<Integer, _>(version)
    .load(conn)
    .await
}

/// A member of the district's ranking.
#[derive(Debug, Clone, QueryableByName)]
pub struct RankedMember {
    #[diesel(sql_type = SqlUuid)]
    pub id: uuid::Uuid,
    #[diesel(sql_type = Text)]
    pub member_no: String,
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = Text)]
    pub sector: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub street: Option<String>,
    #[diesel(sql_type = Text)]
    pub status: MemberStatus,
    #[diesel(sql_type = BigInt)]
    pub total: i64,
    /// Place in the whole district (members with equal totals share it).
    #[diesel(sql_type = BigInt)]
    pub rank: i64,
    /// `{kind: [count, points]}` of the kinds the member has items of.
    #[diesel(sql_type = Jsonb)]
    pub by_kind: Value,
}

/// Which part of a ranking to read.
#[derive(Debug, Clone, Default)]
pub struct RankingFilter {
    pub sector: Option<String>,
    pub street: Option<String>,
    /// Start after this (total, member id), in ranking order.
    pub after: Option<(i64, uuid::Uuid)>,
    /// At most this many; all when absent.
    pub limit: Option<i64>,
}

/// The live members of a district ranked by their total for the year under `version`
/// (highest first, then by id), in one statement: every item of the district's year is
/// read once, counted per member and kind, and scored.
#[tracing::instrument(skip_all)]
pub async fn ranking(
    conn: &mut AsyncPgConnection,
    district: DistrictId,
    year: i32,
    version: i32,
    filter: &RankingFilter,
) -> QueryResult<Vec<RankedMember>> {
    diesel::sql_query(format!(
        "WITH counted AS ( \
             SELECT i.member_id, i.kind, count(*) AS n, sum({POINTS}) AS points \
             FROM performance_items($1, $2, NULL) i \
             CROSS JOIN scoring_rules r \
             WHERE r.version = $3 \
             GROUP BY i.member_id, i.kind \
         ), scored AS ( \
             SELECT m.id, m.member_no, m.name, m.sector, m.street, m.status, \
                    COALESCE(sum(c.points), 0)::bigint AS total, \
                    COALESCE(jsonb_object_agg(c.kind, jsonb_build_array(c.n, c.points)) \
                        FILTER (WHERE c.kind IS NOT NULL), '{{}}') AS by_kind \
             FROM members m \
             LEFT JOIN counted c ON c.member_id = m.id \
             WHERE m.district_id = $1 AND m.deleted_at IS NULL \
             GROUP BY m.id \
         ), ranked AS ( \
             SELECT s.*, rank() OVER (ORDER BY s.total DESC) AS rank FROM scored s \
         ) \
         SELECT id, member_no, name, sector, street, status, total, rank, by_kind \
         FROM ranked \
         WHERE ($4::text IS NULL OR sector = $4) \
           AND ($5::text IS NULL OR street = $5) \
           AND ($6::bigint IS NULL OR total < $6 OR (total = $6 AND id > $7)) \
         ORDER BY total DESC, id \
         LIMIT $8"
    ))
    .bind::<SqlUuid, _>(district.0)
    .bind::<Integer, _>(year)
    .bind::<Integer, _>(version)
    .bind::<Nullable<Text>, _>(filter.sector.clone())
    .bind::<Nullable<Text>, _>(filter.street.clone())
    .bind::<Nullable<BigInt>, _>(filter.after.map(|(total, _)| total))
    .bind::<Nullable<SqlUuid>, _>(filter.after.map(|(_, id)| id))
    .bind::<Nullable<BigInt>, _>(filter.limit)
    .load(conn)
    .await
}
