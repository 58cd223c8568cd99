//! `/api/v1/reports`: the committee's reports to the district party committee (向区委报告),
//! each linked to the consultation or evaluation it carries, where there is one.

use crate::domain::kinds::Entity;
use crate::domain::values::FilterText;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use diesel_async::AsyncPgConnection;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::api::edit::{self, Editable};
use crate::api::policy::{read, write};

use crate::api::audit::{HistoryQuery, record};
use crate::api::auth::Caller;
use crate::api::districts::referenced_district;
use crate::api::http::{IfMatch, IfMatchHeader, IfNoneMatch, IfNoneMatchHeader, created_response};
use crate::api::input::{Checks, Field};
use crate::api::page::{Page, list_query, page};
use crate::api::work::{Db, Write};
use crate::db::audit::Change;
use crate::db::reports::{self as db, Report, ReportFields, ReportFilter};
use crate::domain::access::Scope;
use crate::domain::calendar::Day;
use crate::domain::ids::{ConsultationId, DistrictId, EvaluationId, ReportId};
use crate::domain::kinds::ReportKind;
use crate::domain::values::{Line, Paragraph};
use crate::error::ApiError;

pub fn configure(config: &mut ServiceConfig) {
    use crate::domain::access::DistrictOf::*;
    config.service(
        utoipa_actix_web::scope("/reports")
            .service(read(Filter, list_reports))
            .service(write(Body, create_report))
            .service(read(Path, get_report))
            .service(write(Path, update_report))
            .service(write(Path, delete_report))
            .service(read(Path, get_report_history)),
    );
}

/// A report to the district party committee.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Report)]
pub struct ReportView {
    pub id: ReportId,
    pub district_id: DistrictId,
    pub kind: ReportKind,
    pub reported_on: NaiveDate,
    #[schema(example = "关于区政协2026年上半年工作情况的报告")]
    pub subject: String,
    pub summary: Option<String>,
    /// The consultation whose report this carries (a `consultation_report` only).
    pub consultation_id: Option<ConsultationId>,
    /// The evaluation whose report this carries (an `evaluation_report` only).
    pub evaluation_id: Option<EvaluationId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Increases with every change; sent as the `ETag`.
    pub version: i64,
}

/// A page of a list of Report records.
pub type ReportPage = crate::api::page::Page<ReportView>;

impl From<Report> for ReportView {
    fn from(row: Report) -> Self {
        Self {
            id: row.id,
            district_id: row.district_id,
            kind: row.kind,
            reported_on: row.reported_on,
            subject: row.subject,
            summary: row.summary,
            consultation_id: row.consultation_id,
            evaluation_id: row.evaluation_id,
            created_at: row.created_at,
            updated_at: row.updated_at,
            version: row.version,
        }
    }
}

crate::api::http::versioned!(ReportView);

/// A new report.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewReport {
    #[serde(default)]
    #[schema(value_type = DistrictId, required = true)]
    pub district_id: Field<DistrictId>,
    #[serde(default)]
    #[schema(value_type = ReportKind, required = true)]
    pub kind: Field<ReportKind>,
    #[serde(default)]
    #[schema(value_type = Day, required = true)]
    pub reported_on: Field<Day>,
    #[serde(default)]
    #[schema(value_type = Line<200>, required = true, example = "关于区政协2026年上半年工作情况的报告")]
    pub subject: Field<Line<200>>,
    #[serde(default)]
    #[schema(value_type = Option<Paragraph<5000>>)]
    pub summary: Field<Paragraph<5000>>,
    /// A consultation of the same district; with `kind` `consultation_report` only.
    #[serde(default)]
    #[schema(value_type = Option<ConsultationId>)]
    pub consultation_id: Field<ConsultationId>,
    /// An evaluation of the same district; with `kind` `evaluation_report` only.
    #[serde(default)]
    #[schema(value_type = Option<EvaluationId>)]
    pub evaluation_id: Field<EvaluationId>,
}

/// Changes to a report (JSON Merge Patch: absent fields are kept, `null` clears).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportPatch {
    #[serde(default)]
    #[schema(value_type = ReportKind)]
    pub kind: Field<ReportKind>,
    #[serde(default)]
    #[schema(value_type = Day)]
    pub reported_on: Field<Day>,
    #[serde(default)]
    #[schema(value_type = Line<200>)]
    pub subject: Field<Line<200>>,
    #[serde(default)]
    #[schema(value_type = Option<Paragraph<5000>>)]
    pub summary: Field<Paragraph<5000>>,
    #[serde(default)]
    #[schema(value_type = Option<ConsultationId>)]
    pub consultation_id: Field<ConsultationId>,
    #[serde(default)]
    #[schema(value_type = Option<EvaluationId>)]
    pub evaluation_id: Field<EvaluationId>,
}

impl NewReport {
    fn split(self) -> (Field<DistrictId>, ReportPatch) {
        let patch = ReportPatch {
            kind: self.kind,
            reported_on: self.reported_on,
            subject: self.subject,
            summary: self.summary,
            consultation_id: self.consultation_id,
            evaluation_id: self.evaluation_id,
        };
        (self.district_id, patch)
    }
}

/// The report's fields after `patch`; a linked consultation or evaluation must be a live
/// one of `district`, and only a report of its kind may link it.
async fn merge(
    conn: &mut AsyncPgConnection,
    checks: &mut Checks,
    patch: ReportPatch,
    current: Option<&ReportFields>,
    district: Option<DistrictId>,
) -> Result<Option<ReportFields>, ApiError> {
    let c = current;
    let kind = checks.required("/kind", patch.kind, c.map(|c| c.kind), Ok);
    let reported_on = checks.required(
        "/reported_on",
        patch.reported_on,
        c.map(|c| c.reported_on),
        Day::date,
    );
    let subject = checks.required(
        "/subject",
        patch.subject,
        c.map(|c| c.subject.clone()),
        |v| Ok(v.into()),
    );
    let summary = checks.optional(
        "/summary",
        patch.summary,
        c.and_then(|c| c.summary.clone()),
        |v| Ok(v.into()),
    );
    let consultation_id = checks.optional(
        "/consultation_id",
        patch.consultation_id,
        c.and_then(|c| c.consultation_id),
        Ok,
    );
    let evaluation_id = checks.optional(
        "/evaluation_id",
        patch.evaluation_id,
        c.and_then(|c| c.evaluation_id),
        Ok,
    );
    if let Some(kind) = kind {
        if consultation_id.is_some() && kind != ReportKind::ConsultationReport {
            checks.rule(
                "/consultation_id",
                "only a consultation_report carries a consultation",
            );
        }
        if evaluation_id.is_some() && kind != ReportKind::EvaluationReport {
            checks.rule(
                "/evaluation_id",
                "only an evaluation_report carries an evaluation",
            );
        }
    }
    if let Some(district) = district {
        let scope = Scope::District(district);
        if let Some(id) = consultation_id
            && crate::db::consultations::find(conn, id, scope)
                .await
                .is_err()
        {
            checks.unknown(
                "/consultation_id",
                "no such consultation in the report's district",
            );
        }
        if let Some(id) = evaluation_id
            && crate::db::evaluations::find(conn, id, scope).await.is_err()
        {
            checks.unknown(
                "/evaluation_id",
                "no such evaluation in the report's district",
            );
        }
    }
    Ok((|| {
        Some(ReportFields {
            kind: kind?,
            reported_on: reported_on?,
            subject: subject?,
            summary,
            consultation_id,
            evaluation_id,
        })
    })())
}

list_query! {
    /// Filters of the report list.
    ReportQuery, sort: ReportSort { Created = "created", UpdatedAt = "updated_at" },
    {
        district_id: DistrictId,
        /// The district's code.
        #[param(inline)]
        district: FilterText<40>,
        kind: ReportKind,
        /// Only reports carrying this consultation.
        consultation_id: ConsultationId,
        /// Only reports carrying this evaluation.
        evaluation_id: EvaluationId,
        /// Only reports made on or after this day.
        reported_from: Day,
        /// Only reports made on or before this day.
        reported_to: Day,
        /// Text in the subject.
        #[param(inline)]
        q: FilterText<100>,
    }
}

/// List reports to the district party committee.
#[utoipa::path(
    tag = "reports",
    params(ReportQuery),
    responses((status = 200, description = "A page of reports", body = ReportPage)),
)]
#[get("")]
async fn list_reports(
    caller: Caller,
    pool: Db,
    query: web::Query<ReportQuery>,
) -> Result<web::Json<Page<ReportView>>, ApiError> {
    let query = query.into_inner();
    let request = query.page()?;
    let filter = ReportFilter {
        scope: caller.scope(),
        district_id: query.district_id,
        district_code: query.district.and_then(FilterText::into_filter),
        kind: query.kind,
        consultation_id: query.consultation_id,
        evaluation_id: query.evaluation_id,
        reported_from: query.reported_from.map(Day::get),
        reported_to: query.reported_to.map(Day::get),
        q: query.q.and_then(FilterText::into_filter),
    };
    let mut conn = pool.conn().await?;
    let rows = db::list(&mut conn, &filter, &request).await?;
    Ok(web::Json(page(rows, &request, ReportView::from)))
}

/// Record a report to the district party committee.
#[utoipa::path(
    tag = "reports",
    request_body = NewReport,
    responses(
        (status = 201, description = "The new report", body = ReportView,
            headers(("ETag" = String), ("Location" = String, description = "The report's URL"))),
    ),
)]
#[post("")]
async fn create_report(
    caller: Caller,
    pool: Db,
    body: crate::api::http::Json<NewReport>,
) -> Result<HttpResponse, ApiError> {
    let (district_id, patch) = body.into_inner().split();
    let mut conn = pool.conn().await?;
    let row = conn
        .write(async move |conn| {
            let mut checks = Checks::default();
            let district =
                referenced_district(conn, &mut checks, district_id, caller.scope()).await?;
            let fields = merge(
                conn,
                &mut checks,
                patch,
                None,
                district.as_ref().map(|d| d.id),
            )
            .await?;
            let (district, fields) = checks.finish(district.zip(fields))?;
            let row = db::insert(conn, district.id, fields).await?;
            let change = Change::new("create", Entity::Report, row.id, Some(district.id));
            record(conn, &caller, change.after(&ReportView::from(row.clone())));
            Ok::<_, ApiError>(row)
        })
        .await?;
    let location = format!("/api/v1/reports/{}", row.id);
    Ok(created_response(&ReportView::from(row), location))
}

edit::get_route! {
    /// Get a report.
    get_report: Report, GET "/{id}",
    tag = "reports", params(("id" = ReportId, Path, description = "The report's id")), path = ReportId,
    answer = (ReportView, "The report"),
}

edit::patch_route! {
    /// Change a report (JSON Merge Patch).
    update_report: Report, PATCH "/{id}",
    tag = "reports", params(("id" = ReportId, Path, description = "The report's id")), path = ReportId,
    body = ReportPatch, answer = (ReportView, "The changed report"),
}

edit::delete_route! {
    /// Delete a report.
    delete_report: Report, DELETE "/{id}",
    tag = "reports", params(("id" = ReportId, Path, description = "The report's id")), path = ReportId,
}

impl Editable for Report {
    edit::own!(ReportId, "report");
    type Patch = ReportPatch;
    type View = ReportView;
    const ENTITY: Entity = Entity::Report;
    type Lists = ();

    async fn merge(
        conn: &mut AsyncPgConnection,
        checks: &mut Checks,
        _lists: &Self::Lists,
        _parent: &(),
        row: &Self,
        patch: ReportPatch,
    ) -> Result<Option<ReportFields>, ApiError> {
        merge(
            conn,
            checks,
            patch,
            Some(&row.fields()),
            Some(row.district_id),
        )
        .await
    }

    async fn view(_conn: &mut AsyncPgConnection, row: Self) -> Result<ReportView, ApiError> {
        Ok(ReportView::from(row))
    }
}

/// The audit trail of a report.
#[utoipa::path(
    tag = "reports",
    params(("id" = ReportId, Path, description = "The report's id"), HistoryQuery),
    responses(
        (status = 200, description = "Its changes, oldest first", body = crate::api::audit::AuditEventPage),
    ),
)]
#[get("/{id}/history")]
async fn get_report_history(
    caller: Caller,
    pool: Db,
    path: web::Path<ReportId>,
    query: web::Query<HistoryQuery>,
) -> Result<web::Json<Page<crate::api::audit::AuditEventView>>, ApiError> {
    let id = path.into_inner().to_string();
    crate::api::audit::history(&pool, &caller, Entity::Report, id, query.into_inner()).await
}
