//! Members' duty performance (委员履职), a read model computed from the records, never
//! typed in: `/api/v1/scoring-rules` (versioned, published by administrators),
//! `/api/v1/members/{id}/performance` (a member's scored items of a year) and
//! `/api/v1/performance` (a district's members ranked, as pages or CSV).

use crate::domain::cursor;
use crate::domain::kinds::Entity;
use crate::domain::values::FilterText;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use diesel_async::AsyncPgConnection;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::api::policy::{admin, read};

use crate::api::audit::record;
use crate::api::auth::Caller;
use crate::api::http::{
    IfNoneMatch, IfNoneMatchHeader, Versioned, accepted, created_response, csv_line_of,
    read_response,
};
use crate::api::input::{Checks, Field};
use crate::api::work::{Db, Write};
use crate::db::audit::Change;
use crate::db::pagination::{DEFAULT_LIMIT, MAX_LIMIT};
use crate::db::performance::{
    self as db, NewScoringRules, RankedMember, RankingFilter, ScoredItem, ScoringRules,
};
use crate::domain::access::{ADMINS, READERS};
use crate::domain::calendar::today;
use crate::domain::ids::{DistrictId, MemberId};
use crate::domain::kinds::MemberStatus;
use crate::domain::performance::{ItemKind, PerformanceGrade, grade};
use crate::domain::values::{Paragraph, Points, Score, Year};
use crate::error::{ApiError, Problem, not_found_as};

pub fn configure(config: &mut ServiceConfig) {
    use crate::domain::access::DistrictOf::*;
    config
        .service(
            utoipa_actix_web::scope("/scoring-rules")
                .service(read(Filter, list_scoring_rules))
                .service(admin(Body, publish_scoring_rules))
                .service(read(Path, get_scoring_rules)),
        )
        .service(
            utoipa_actix_web::scope("/performance").service(read(Query, get_performance_ranking)),
        );
}

/// Points per merit kind: what one item of the kind gives.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MeritPoints {
    pub proposal_led: i32,
    pub proposal_filed: i32,
    pub proposal_cosigned: i32,
    pub consultation_activity: i32,
    pub workstation_activity: i32,
    pub meeting_present: i32,
    pub meeting_excused: i32,
    pub evaluation_served: i32,
    pub ratings_given: i32,
}

/// Points per penalty kind: what one item of the kind takes away.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PenaltyPoints {
    pub meeting_absent: i32,
}

/// A published version of the scoring rules; never changed once published.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ScoringRules)]
pub struct ScoringRulesView {
    /// 1, 2, ... in the order published.
    pub version: i32,
    /// The district these are the own rules of; `null` for the rules common to every
    /// district without rules of its own.
    pub district_id: Option<DistrictId>,
    /// In force for this year and later ones, until a version from a later year.
    pub from_year: i32,
    pub points: MeritPoints,
    pub penalties: PenaltyPoints,
    /// A total at or above it is `competent` (称职).
    pub competent_line: i32,
    /// A total at or above it is `excellent` (优秀).
    pub excellent_line: i32,
    pub note: Option<String>,
    pub published_at: DateTime<Utc>,
}

impl Versioned for ScoringRulesView {
    fn version(&self) -> i64 {
        i64::from(self.version)
    }
}

impl TryFrom<ScoringRules> for ScoringRulesView {
    type Error = ApiError;

    fn try_from(row: ScoringRules) -> Result<Self, ApiError> {
        let unreadable =
            |error: serde_json::Error| ApiError::Internal(format!("stored scoring rules: {error}"));
        Ok(Self {
            version: row.version,
            district_id: row.district_id,
            from_year: row.from_year,
            points: serde_json::from_value(row.points).map_err(unreadable)?,
            penalties: serde_json::from_value(row.penalties).map_err(unreadable)?,
            competent_line: row.competent_line,
            excellent_line: row.excellent_line,
            note: row.note,
            published_at: row.published_at,
        })
    }
}

/// The published versions.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScoringRulesList {
    /// Oldest first.
    pub items: Vec<ScoringRulesView>,
}

/// Which versions to list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ScoringRulesQuery {
    /// Only the versions that may apply to this district: its own and the common ones. A
    /// key of one district always lists only those of its own (another district: 404).
    pub district_id: Option<DistrictId>,
}

/// List the published versions of the scoring rules.
#[utoipa::path(
    tag = "performance",
    params(ScoringRulesQuery),
    responses(
        (status = 200, description = "The versions, oldest first", body = ScoringRulesList),
        (status = 404, description = "A district key named another district", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("")]
async fn list_scoring_rules(
    caller: Caller,
    pool: Db,
    query: web::Query<ScoringRulesQuery>,
) -> Result<web::Json<ScoringRulesList>, ApiError> {
    caller.require(READERS, "reading scoring rules")?;
    // A district's own rules are its own: a key of one district lists its own and the
    // common ones, never another's.
    let district = crate::api::districts::district_filter(query.district_id, caller.scope())?;
    let mut conn = pool.conn().await?;
    let items = db::all_rules(&mut conn, district)
        .await?
        .into_iter()
        .map(ScoringRulesView::try_from)
        .collect::<Result<_, _>>()?;
    Ok(web::Json(ScoringRulesList { items }))
}

/// Get one version of the scoring rules.
#[utoipa::path(
    tag = "performance",
    params(("version" = i32, Path, description = "The version", minimum = 1), IfNoneMatchHeader),
    responses(
        (status = 200, description = "The version", body = ScoringRulesView, headers(("ETag" = String))),
    ),
)]
#[get("/{version}")]
async fn get_scoring_rules(
    caller: Caller,
    pool: Db,
    path: web::Path<i32>,
    condition: IfNoneMatch,
) -> Result<HttpResponse, ApiError> {
    caller.require(READERS, "reading scoring rules")?;
    let mut conn = pool.conn().await?;
    // Another district's own version is not there for this caller (404, not 403).
    let row = db::rules(&mut conn, path.into_inner())
        .await?
        .filter(|row| {
            row.district_id
                .is_none_or(|district| caller.scope().covers(district))
        })
        .ok_or_else(|| ApiError::not_found("scoring rules version"))?;
    Ok(read_response(&ScoringRulesView::try_from(row)?, &condition))
}

/// Points per merit kind.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MeritPointsBody {
    #[serde(default)]
    #[schema(value_type = Points, required = true)]
    pub proposal_led: Field<Points>,
    #[serde(default)]
    #[schema(value_type = Points, required = true)]
    pub proposal_filed: Field<Points>,
    #[serde(default)]
    #[schema(value_type = Points, required = true)]
    pub proposal_cosigned: Field<Points>,
    #[serde(default)]
    #[schema(value_type = Points, required = true)]
    pub consultation_activity: Field<Points>,
    #[serde(default)]
    #[schema(value_type = Points, required = true)]
    pub workstation_activity: Field<Points>,
    #[serde(default)]
    #[schema(value_type = Points, required = true)]
    pub meeting_present: Field<Points>,
    #[serde(default)]
    #[schema(value_type = Points, required = true)]
    pub meeting_excused: Field<Points>,
    #[serde(default)]
    #[schema(value_type = Points, required = true)]
    pub evaluation_served: Field<Points>,
    #[serde(default)]
    #[schema(value_type = Points, required = true)]
    pub ratings_given: Field<Points>,
}

/// Points per penalty kind, taken away per item.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PenaltyPointsBody {
    #[serde(default)]
    #[schema(value_type = Points, required = true)]
    pub meeting_absent: Field<Points>,
}

/// A new version of the scoring rules.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewScoringRulesBody {
    /// The district whose own rules these are (they then come before the common ones for
    /// it); absent or `null` for rules common to every district.
    #[serde(default)]
    #[schema(value_type = Option<DistrictId>)]
    pub district_id: Field<DistrictId>,
    /// The first year it is in force for: this year or a later one, up to 2100.
    #[serde(default)]
    #[schema(value_type = Year, required = true, example = 2027)]
    pub from_year: Field<Year>,
    #[serde(default)]
    #[schema(value_type = MeritPointsBody, required = true)]
    pub points: Field<MeritPointsBody>,
    #[serde(default)]
    #[schema(value_type = PenaltyPointsBody, required = true)]
    pub penalties: Field<PenaltyPointsBody>,
    /// Defaults to 60.
    #[serde(default)]
    #[schema(value_type = Score)]
    pub competent_line: Field<Score>,
    /// Above the competent line; defaults to 90.
    #[serde(default)]
    #[schema(value_type = Score)]
    pub excellent_line: Field<Score>,
    #[serde(default)]
    #[schema(value_type = Option<Paragraph<2000>>)]
    pub note: Field<Paragraph<2000>>,
}

fn points(value: Points) -> Result<i32, String> {
    Ok(value.into())
}

fn merit_points(checks: &mut Checks, body: MeritPointsBody) -> Option<MeritPoints> {
    let mut one =
        |kind: &str, field| checks.required(&format!("/points/{kind}"), field, None, points);
    // Every kind is checked, even after a bad one.
    let proposal_led = one("proposal_led", body.proposal_led);
    let proposal_filed = one("proposal_filed", body.proposal_filed);
    let proposal_cosigned = one("proposal_cosigned", body.proposal_cosigned);
    let consultation_activity = one("consultation_activity", body.consultation_activity);
    let workstation_activity = one("workstation_activity", body.workstation_activity);
    let meeting_present = one("meeting_present", body.meeting_present);
    let meeting_excused = one("meeting_excused", body.meeting_excused);
    let evaluation_served = one("evaluation_served", body.evaluation_served);
    let ratings_given = one("ratings_given", body.ratings_given);
    Some(MeritPoints {
        proposal_led: proposal_led?,
        proposal_filed: proposal_filed?,
        proposal_cosigned: proposal_cosigned?,
        consultation_activity: consultation_activity?,
        workstation_activity: workstation_activity?,
        meeting_present: meeting_present?,
        meeting_excused: meeting_excused?,
        evaluation_served: evaluation_served?,
        ratings_given: ratings_given?,
    })
}

/// Checks a new version; every bad field is reported at once.
fn new_rules(body: NewScoringRulesBody, caller: &Caller) -> Result<NewScoringRules, ApiError> {
    let mut checks = Checks::default();
    // A past year keeps the rules it was scored under: a version applies from this year on.
    let this_year = today().year();
    let from_year = checks.required("/from_year", body.from_year, None, |v| Ok(v.get()));
    if from_year.is_some_and(|year| year < this_year) {
        checks.rule(
            "/from_year",
            format!(
                "must be {this_year} or later: a past year keeps the rules it was scored under"
            ),
        );
    }
    let merits = checks
        .required("/points", body.points, None, Ok)
        .and_then(|body| merit_points(&mut checks, body));
    let penalties = checks
        .required("/penalties", body.penalties, None, Ok)
        .and_then(|body| {
            checks.required(
                "/penalties/meeting_absent",
                body.meeting_absent,
                None,
                points,
            )
        })
        .map(|meeting_absent| PenaltyPoints { meeting_absent });
    let competent_line = checks.required("/competent_line", body.competent_line, Some(60), |v| {
        Ok(v.get())
    });
    let excellent_line = checks.required("/excellent_line", body.excellent_line, Some(90), |v| {
        Ok(v.get())
    });
    if let (Some(competent), Some(excellent)) = (competent_line, excellent_line)
        && excellent <= competent
    {
        checks.rule("/excellent_line", "must be above the competent line");
    }
    let note = checks.optional("/note", body.note, None, |v| Ok(v.into()));
    let district_id = checks.optional("/district_id", body.district_id, None, Ok);
    let json = |value: serde_json::Result<serde_json::Value>| {
        value.map_err(|error| ApiError::Internal(format!("scoring rules as JSON: {error}")))
    };
    let checked = checks.finish((|| {
        Some((
            from_year?,
            merits?,
            penalties?,
            competent_line?,
            excellent_line?,
        ))
    })())?;
    let (from_year, merits, penalties, competent_line, excellent_line) = checked;
    Ok(NewScoringRules {
        district_id,
        from_year,
        points: json(serde_json::to_value(merits))?,
        penalties: json(serde_json::to_value(penalties))?,
        competent_line,
        excellent_line,
        note,
        published_by: caller.key_id,
    })
}

/// Publish a new version of the scoring rules (administrators). It never changes an
/// earlier version: a score under that version stays what it was.
#[utoipa::path(
    tag = "performance",
    request_body = NewScoringRulesBody,
    responses(
        (status = 201, description = "The published version", body = ScoringRulesView,
            headers(("ETag" = String), ("Location" = String, description = "The version's URL"))),
    ),
)]
#[post("")]
async fn publish_scoring_rules(
    caller: Caller,
    pool: Db,
    body: crate::api::http::Json<NewScoringRulesBody>,
) -> Result<HttpResponse, ApiError> {
    caller.require(ADMINS, "publishing scoring rules")?;
    let rules = new_rules(body.into_inner(), &caller)?;
    let mut conn = pool.conn().await?;
    let view = conn
        .write(async move |conn| {
            if let Some(district) = rules.district_id
                && crate::db::districts::find_for_reference(conn, district)
                    .await?
                    .is_none()
            {
                return Err(ApiError::unknown("/district_id", "no such district"));
            }
            let row = db::publish(conn, rules).await?;
            let view = ScoringRulesView::try_from(row)?;
            let change = Change::new(
                "publish",
                Entity::ScoringRules,
                view.version,
                view.district_id,
            );
            record(conn, &caller, change.after(&view));
            Ok::<_, ApiError>(view)
        })
        .await?;
    let location = format!("/api/v1/scoring-rules/{}", view.version);
    Ok(created_response(&view, location))
}

/// Which year, under which rules.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MemberPerformanceQuery {
    /// The Beijing calendar year (default: this one).
    #[param(minimum = 2000, maximum = 2100)]
    pub year: Option<i32>,
    /// The scoring rules version, common or the district's own (default: the one in
    /// force for the district and year).
    #[param(minimum = 1)]
    pub rules: Option<i32>,
}

/// Where an item comes from.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SourceLink {
    /// `proposal`, `consultation_activity`, `activity`, `meeting` or `evaluation`.
    #[serde(rename = "type")]
    pub kind: String,
    pub id: uuid::Uuid,
    /// The record's URL in this API.
    pub href: String,
}

/// One item that counts, with its points.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PerformanceItem {
    pub kind: ItemKind,
    /// What it gives (negative for a penalty).
    pub points: i32,
    pub occurred_on: NaiveDate,
    /// The record's title (for an evaluation, the department's name).
    pub title: String,
    pub source: SourceLink,
}

/// How many items of a kind, and their points.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct KindTally {
    pub kind: ItemKind,
    pub count: i64,
    pub points: i64,
}

/// The rules a score was computed under.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RulesUsed {
    pub version: i32,
    pub competent_line: i32,
    pub excellent_line: i32,
}

/// A member's duty performance in a year.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberPerformance {
    pub member_id: MemberId,
    pub district_id: DistrictId,
    pub year: i32,
    pub rules: RulesUsed,
    pub total: i64,
    pub grade: PerformanceGrade,
    /// Every kind, in a fixed order, zero where there is none.
    pub by_kind: Vec<KindTally>,
    /// Every item, by date.
    pub items: Vec<PerformanceItem>,
}

fn href(item: &ScoredItem) -> String {
    match (item.source_type.as_str(), item.parent_id) {
        ("proposal", _) => format!("/api/v1/proposals/{}", item.source_id),
        ("consultation_activity", Some(topic)) => format!(
            "/api/v1/consultations/{topic}/activities/{}",
            item.source_id
        ),
        ("activity", _) => format!("/api/v1/activities/{}", item.source_id),
        ("meeting", _) => format!("/api/v1/meetings/{}", item.source_id),
        ("evaluation", _) => format!("/api/v1/evaluations/{}", item.source_id),
        (other, _) => format!("/api/v1/{other}s/{}", item.source_id),
    }
}

/// Every kind once, in the kinds' order, from (kind, count, points) of those present.
fn tallies(present: impl IntoIterator<Item = (ItemKind, i64, i64)>) -> Vec<KindTally> {
    let mut all: Vec<KindTally> = ItemKind::ALL
        .iter()
        .map(|kind| KindTally {
            kind: *kind,
            count: 0,
            points: 0,
        })
        .collect();
    for (kind, count, points) in present {
        if let Some(tally) = all.iter_mut().find(|tally| tally.kind == kind) {
            tally.count += count;
            tally.points += points;
        }
    }
    all
}

/// The rules for a district's year: the version asked for (the common ones or the
/// district's own), or the one in force.
async fn rules_for(
    conn: &mut AsyncPgConnection,
    district: DistrictId,
    year: i32,
    asked: Option<i32>,
) -> Result<ScoringRules, ApiError> {
    match asked {
        Some(version) => db::rules(conn, version)
            .await?
            .filter(|rules| rules.district_id.is_none_or(|own| own == district))
            .ok_or_else(|| {
                ApiError::unknown(
                    "rules",
                    "no such scoring rules version, common or of this district",
                )
            }),
        None => db::rules_for_year(conn, district, year)
            .await?
            .ok_or_else(|| {
                ApiError::unknown("year", "no scoring rules are in force for this year")
            }),
    }
}

fn year_of(asked: Option<i32>) -> Result<i32, ApiError> {
    crate::domain::calendar::year(asked.unwrap_or_else(|| today().year()))
        .map_err(ApiError::BadRequest)
}

fn rules_used(rules: &ScoringRules) -> RulesUsed {
    RulesUsed {
        version: rules.version,
        competent_line: rules.competent_line,
        excellent_line: rules.excellent_line,
    }
}

/// A member's duty performance in a year: every item that counts, with its points and the
/// record it comes from, the total and the grade, under the rules in force for the year
/// or the version asked for.
#[utoipa::path(
    tag = "performance",
    params(("id" = MemberId, Path, description = "The member's id"), MemberPerformanceQuery),
    responses(
        (status = 200, description = "The member's performance", body = MemberPerformance),
        (status = 422, description = "No such scoring rules version", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/{id}/performance")]
pub(super) async fn get_member_performance(
    caller: Caller,
    pool: Db,
    path: web::Path<MemberId>,
    query: web::Query<MemberPerformanceQuery>,
) -> Result<web::Json<MemberPerformance>, ApiError> {
    let query = query.into_inner();
    let year = year_of(query.year)?;
    let mut conn = pool.conn().await?;
    let member = crate::db::members::find(&conn, path.into_inner(), caller.scope())
        .await
        .map_err(not_found_as("member"))?;
    let rules = rules_for(&mut conn, member.district_id, year, query.rules).await?;
    let scored = db::member_items(
        &mut conn,
        member.district_id,
        member.id,
        year,
        rules.version,
    )
    .await?;
    let by_kind = tallies(
        scored
            .iter()
            .map(|item| (item.kind, 1, i64::from(item.points))),
    );
    let total = by_kind.iter().map(|tally| tally.points).sum();
    let items = scored
        .into_iter()
        .map(|item| PerformanceItem {
            source: SourceLink {
                href: href(&item),
                kind: item.source_type.clone(),
                id: item.source_id,
            },
            kind: item.kind,
            points: item.points,
            occurred_on: item.occurred_on,
            title: item.title,
        })
        .collect();
    Ok(web::Json(MemberPerformance {
        member_id: member.id,
        district_id: member.district_id,
        year,
        total,
        grade: grade(total, rules.competent_line, rules.excellent_line),
        rules: rules_used(&rules),
        by_kind,
        items,
    }))
}

/// Which ranking to read.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RankingQuery {
    /// The district (a district key's own by default; required with any other key).
    pub district_id: Option<DistrictId>,
    /// The Beijing calendar year (default: this one).
    #[param(minimum = 2000, maximum = 2100)]
    pub year: Option<i32>,
    /// The scoring rules version, common or the district's own (default: the one in
    /// force for the district and year).
    #[param(minimum = 1)]
    pub rules: Option<i32>,
    /// Only members of this sector (a sector code).
    #[param(inline)]
    pub sector: Option<FilterText<40>>,
    /// Only members of this street.
    #[param(inline)]
    pub street: Option<FilterText<100>>,
    /// Page size, 1 to 200 (default 50); ignored for CSV, which has every member.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the page before.
    #[param(pattern = r"^[A-Za-z0-9_-]+$")]
    pub cursor: Option<String>,
}

/// A member's place in the district's ranking.
#[derive(Debug, Serialize, ToSchema)]
pub struct RankedMemberView {
    /// Place in the whole district, filters aside; equal totals share a place (1, 2, 2, 4).
    pub rank: i64,
    pub member_id: MemberId,
    pub member_no: String,
    pub name: String,
    pub sector: String,
    pub street: Option<String>,
    pub status: MemberStatus,
    pub total: i64,
    pub grade: PerformanceGrade,
    /// Every kind, in a fixed order, zero where there is none.
    pub by_kind: Vec<KindTally>,
}

/// A page of a district's ranking.
#[derive(Debug, Serialize, ToSchema)]
pub struct RankingPage {
    pub district_id: DistrictId,
    pub year: i32,
    pub rules: RulesUsed,
    /// Highest total first, then by member id.
    pub items: Vec<RankedMemberView>,
    /// Pass as `cursor` to read the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// Where a ranking page starts: after this total and member.
#[derive(Debug, Serialize, Deserialize)]
struct RankingCursor {
    #[serde(rename = "t")]
    total: i64,
    #[serde(rename = "i")]
    id: uuid::Uuid,
}

impl RankingCursor {
    fn encode(&self) -> String {
        let text = URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default());
        cursor::seal(cursor::Kind::Ranking, &text)
    }

    fn decode(text: &str) -> Result<Self, ApiError> {
        crate::api::page::check_cursor_shape(text)?;
        cursor::open(cursor::Kind::Ranking, text)
            .and_then(|text| URL_SAFE_NO_PAD.decode(text).ok())
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or_else(|| ApiError::unknown("cursor", "is not a cursor of this ranking"))
    }
}

fn ranked_view(row: RankedMember, rules: &ScoringRules) -> RankedMemberView {
    let present: Vec<(ItemKind, i64, i64)> = row
        .by_kind
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(kind, tally)| {
            let kind = kind.parse().ok()?;
            let count = tally.get(0)?.as_i64()?;
            let points = tally.get(1)?.as_i64()?;
            Some((kind, count, points))
        })
        .collect();
    RankedMemberView {
        rank: row.rank,
        member_id: MemberId(row.id),
        member_no: row.member_no,
        name: row.name,
        sector: row.sector,
        street: row.street,
        status: row.status,
        grade: grade(row.total, rules.competent_line, rules.excellent_line),
        total: row.total,
        by_kind: tallies(present),
    }
}

fn csv(rows: Vec<RankedMemberView>) -> String {
    let mut header: Vec<String> = [
        "rank",
        "member_id",
        "member_no",
        "name",
        "sector",
        "street",
        "status",
        "total",
        "grade",
    ]
    .iter()
    .map(|name| (*name).to_owned())
    .collect();
    header.extend(ItemKind::ALL.iter().map(|kind| kind.as_str().to_owned()));
    let mut body = csv_line_of(&header);
    for row in rows {
        let mut fields = vec![
            row.rank.to_string(),
            row.member_id.to_string(),
            row.member_no,
            row.name,
            row.sector,
            row.street.unwrap_or_default(),
            row.status.as_str().to_owned(),
            row.total.to_string(),
            row.grade.as_str().to_owned(),
        ];
        fields.extend(row.by_kind.iter().map(|tally| tally.count.to_string()));
        body.push_str(&csv_line_of(&fields));
    }
    body
}

/// A district's members ranked by their duty performance in a year, with filters by
/// sector and street, in cursor pages; with `Accept: text/csv` the whole (filtered)
/// ranking as CSV: rank, member, total, grade and the count of every item kind.
#[utoipa::path(
    tag = "performance",
    params(RankingQuery),
    responses(
        (status = 200, description = "A page of the ranking, or all of it as CSV (with a UTF-8 byte-order mark)", content(
            (RankingPage = "application/json"),
            (String = "text/csv"),
        ), headers(
            ("Content-Disposition" = String, description = "With CSV: `attachment`, with the file's name (`filename`, and `filename*` in UTF-8)"),
            ("Vary" = String, description = "Includes `Accept`: the format follows it"),
        )),
        (status = 404, description = "No such district", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No `district_id` with a key of no district, no such scoring rules version, or a cursor this ranking did not issue", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("")]
async fn get_performance_ranking(
    caller: Caller,
    pool: Db,
    request: HttpRequest,
    query: web::Query<RankingQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let year = year_of(query.year)?;
    let district = crate::api::districts::district_to_read(query.district_id, caller.scope())?;
    let as_csv = accepted(&request, &["text/csv"]).is_some();
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "limit must be between 1 and {MAX_LIMIT}"
        )));
    }
    let after = query
        .cursor
        .as_deref()
        .map(RankingCursor::decode)
        .transpose()?;
    // CSV is the whole ranking: no page, so no cursor and no limit.
    let filter = RankingFilter {
        sector: query.sector.and_then(FilterText::into_filter),
        street: query.street.and_then(FilterText::into_filter),
        after: after
            .filter(|_| !as_csv)
            .map(|cursor| (cursor.total, cursor.id)),
        limit: (!as_csv).then_some(limit + 1),
    };
    let mut conn = pool.conn().await?;
    crate::db::districts::find_for_reference(&conn, district)
        .await?
        .ok_or_else(|| ApiError::not_found("district"))?;
    let rules = rules_for(&mut conn, district, year, query.rules).await?;
    let rows = db::ranking(&mut conn, district, year, rules.version, &filter).await?;
    let mut items: Vec<RankedMemberView> = rows
        .into_iter()
        .map(|row| ranked_view(row, &rules))
        .collect();
    if as_csv {
        return Ok(HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((actix_web::http::header::VARY, "Accept"))
            .insert_header(crate::api::http::attachment(
                &format!("performance-{year}.csv"),
                &format!("履职排名-{year}.csv"),
            ))
            .body(format!("{}{}", crate::api::http::CSV_BOM, csv(items))));
    }
    let page_size = usize::try_from(limit).unwrap_or(usize::MAX);
    let next_cursor = if items.len() > page_size {
        items.truncate(page_size);
        items.last().map(|last| {
            RankingCursor {
                total: last.total,
                id: last.member_id.0,
            }
            .encode()
        })
    } else {
        None
    };
    // The same URL answers JSON or CSV by `Accept`: caches must tell them apart.
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::VARY, "Accept"))
        .json(RankingPage {
            district_id: district,
            year,
            rules: rules_used(&rules),
            items,
            next_cursor,
        }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_points_tables_name_every_item_kind_once() {
        let merits = serde_json::to_value(MeritPoints {
            proposal_led: 0,
            proposal_filed: 0,
            proposal_cosigned: 0,
            consultation_activity: 0,
            workstation_activity: 0,
            meeting_present: 0,
            meeting_excused: 0,
            evaluation_served: 0,
            ratings_given: 0,
        })
        .unwrap();
        let penalties = serde_json::to_value(PenaltyPoints { meeting_absent: 0 }).unwrap();
        for (table, penalty) in [(&merits, false), (&penalties, true)] {
            let mut named: Vec<&str> = table
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            named.sort_unstable();
            let mut kinds: Vec<&str> = ItemKind::ALL
                .iter()
                .filter(|kind| kind.is_penalty() == penalty)
                .map(|kind| kind.as_str())
                .collect();
            kinds.sort_unstable();
            assert_eq!(named, kinds);
        }
    }

    #[test]
    fn ranking_cursors_round_trip_and_reject_others() {
        let cursor = RankingCursor {
            total: -12,
            id: uuid::Uuid::now_v7(),
        };
        let decoded = RankingCursor::decode(&cursor.encode()).unwrap();
        assert_eq!((decoded.total, decoded.id), (cursor.total, cursor.id));
        assert!(RankingCursor::decode("bm90LWEtY3Vyc29y").is_err());
        assert!(RankingCursor::decode("with space").is_err());
    }

    #[test]
    fn every_kind_is_tallied_once_in_order() {
        let all = tallies([
            (ItemKind::MeetingAbsent, 2, -10),
            (ItemKind::ProposalLed, 1, 10),
        ]);
        assert_eq!(all.len(), ItemKind::ALL.len());
        assert_eq!(all[0].kind, ItemKind::ALL[0]);
        let absent = all
            .iter()
            .find(|t| t.kind == ItemKind::MeetingAbsent)
            .unwrap();
        assert_eq!((absent.count, absent.points), (2, -10));
        assert_eq!(all.iter().map(|t| t.count).sum::<i64>(), 3);
    }
}
