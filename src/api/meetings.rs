//! `/api/v1/meetings`: the committee's meetings (plenary sessions, standing committee,
//! chairs' and party group meetings, special committees, lectures, study sessions) and who
//! attended them.

use crate::domain::kinds::Entity;
use crate::domain::values::FilterText;
use std::collections::HashMap;

use actix_web::{HttpResponse, delete, get, patch, post, put, web};
use chrono::{DateTime, NaiveDate, Utc};
use diesel_async::AsyncPgConnection;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::api::policy::{read, read_with, write};

use crate::api::audit::{HistoryQuery, record};
use crate::api::auth::Caller;
use crate::api::districts::referenced_district;
use crate::api::edit::{self, Editable};
use crate::api::http::{IfMatch, IfMatchHeader, IfNoneMatch, IfNoneMatchHeader, created_response};
use crate::api::input::{Checks, Field};
use crate::api::page::{Page, list_query, page};
use crate::api::work::{Db, Write};
use crate::db::audit::Change;
use crate::db::meetings::{self as db, Attendance, Meeting, MeetingFields, MeetingFilter};
use crate::domain::calendar::Day;
use crate::domain::ids::{DistrictId, MeetingId, MemberId};
use crate::domain::kinds::{AttendanceStatus, MeetingKind};
use crate::domain::values::{Line, Paragraph};
use crate::error::{ApiError, Problem, not_found_as};

pub fn configure(config: &mut ServiceConfig) {
    use crate::domain::access::DistrictOf::*;
    use crate::domain::access::MEMBERS;
    config.service(
        utoipa_actix_web::scope("/meetings")
            .service(read_with(MEMBERS, Filter, list_meetings))
            .service(write(Body, create_meeting))
            .service(read_with(MEMBERS, Path, get_meeting))
            .service(write(Path, update_meeting))
            .service(write(Path, delete_meeting))
            .service(read(Path, get_meeting_history))
            .service(read(Path, list_attendance))
            .service(write(Path, put_attendance))
            .service(write(Path, delete_attendance)),
    );
}

/// A member's attendance of a meeting.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AttendanceView {
    pub member_id: MemberId,
    pub status: AttendanceStatus,
    /// Why the member was excused or absent, say.
    pub note: Option<String>,
    pub recorded_at: DateTime<Utc>,
}

impl From<Attendance> for AttendanceView {
    fn from(row: Attendance) -> Self {
        Self {
            member_id: row.member_id,
            status: row.status,
            note: row.note,
            recorded_at: row.recorded_at,
        }
    }
}

/// How many members attended, were excused and were absent.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct AttendanceCounts {
    pub present: usize,
    pub excused: usize,
    pub absent: usize,
}

/// A meeting of the committee, with its attendance.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Meeting)]
pub struct MeetingView {
    pub id: MeetingId,
    pub district_id: DistrictId,
    pub kind: MeetingKind,
    #[schema(example = "城市副中心讲堂（第十二期）")]
    pub title: String,
    pub held_on: NaiveDate,
    pub place: Option<String>,
    pub agenda: Option<String>,
    /// The district system's id, for meetings it syncs (`/sync/meetings`).
    pub external_id: Option<String>,
    pub attendance_counts: AttendanceCounts,
    /// Every recorded attendance, in the order it was recorded.
    pub attendance: Vec<AttendanceView>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Increases with every change, attendance included; sent as the `ETag`.
    pub version: i64,
}

/// A page of a list of Meeting records.
pub type MeetingPage = crate::api::page::Page<MeetingView>;

crate::api::http::versioned!(MeetingView);

impl MeetingView {
    pub(crate) fn new(row: Meeting, attendance: Vec<AttendanceView>) -> Self {
        let mut counts = AttendanceCounts::default();
        for entry in &attendance {
            match entry.status {
                AttendanceStatus::Present => counts.present += 1,
                AttendanceStatus::Excused => counts.excused += 1,
                AttendanceStatus::Absent => counts.absent += 1,
            }
        }
        Self {
            id: row.id,
            district_id: row.district_id,
            kind: row.kind,
            title: row.title,
            held_on: row.held_on,
            place: row.place,
            agenda: row.agenda,
            external_id: row.external_id,
            attendance_counts: counts,
            attendance,
            created_at: row.created_at,
            updated_at: row.updated_at,
            version: row.version,
        }
    }
}

/// Meetings with their attendance.
pub(crate) async fn views(
    conn: &mut AsyncPgConnection,
    rows: Vec<Meeting>,
) -> Result<Vec<MeetingView>, ApiError> {
    let ids: Vec<MeetingId> = rows.iter().map(|row| row.id).collect();
    let mut by_meeting: HashMap<MeetingId, Vec<AttendanceView>> = HashMap::new();
    for entry in db::attendance(conn, &ids).await? {
        by_meeting
            .entry(entry.meeting_id)
            .or_default()
            .push(entry.into());
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            let attendance = by_meeting.remove(&row.id).unwrap_or_default();
            MeetingView::new(row, attendance)
        })
        .collect())
}

async fn view(conn: &mut AsyncPgConnection, row: Meeting) -> Result<MeetingView, ApiError> {
    let mut all = views(conn, vec![row]).await?;
    all.pop()
        .ok_or_else(|| ApiError::Internal("a meeting vanished".into()))
}

/// A new meeting.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMeeting {
    #[serde(default)]
    #[schema(value_type = DistrictId, required = true)]
    pub district_id: Field<DistrictId>,
    #[serde(default)]
    #[schema(value_type = MeetingKind, required = true)]
    pub kind: Field<MeetingKind>,
    #[serde(default)]
    #[schema(value_type = Line<200>, required = true, example = "城市副中心讲堂（第十二期）")]
    pub title: Field<Line<200>>,
    #[serde(default)]
    #[schema(value_type = Day, required = true)]
    pub held_on: Field<Day>,
    #[serde(default)]
    #[schema(value_type = Option<Line<200>>)]
    pub place: Field<Line<200>>,
    #[serde(default)]
    #[schema(value_type = Option<Paragraph<5000>>)]
    pub agenda: Field<Paragraph<5000>>,
}

/// Changes to a meeting (JSON Merge Patch: absent fields are kept, `null` clears).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MeetingPatch {
    #[serde(default)]
    #[schema(value_type = MeetingKind)]
    pub kind: Field<MeetingKind>,
    #[serde(default)]
    #[schema(value_type = Line<200>)]
    pub title: Field<Line<200>>,
    #[serde(default)]
    #[schema(value_type = Day)]
    pub held_on: Field<Day>,
    #[serde(default)]
    #[schema(value_type = Option<Line<200>>)]
    pub place: Field<Line<200>>,
    #[serde(default)]
    #[schema(value_type = Option<Paragraph<5000>>)]
    pub agenda: Field<Paragraph<5000>>,
}

impl NewMeeting {
    fn split(self) -> (Field<DistrictId>, MeetingPatch) {
        let patch = MeetingPatch {
            kind: self.kind,
            title: self.title,
            held_on: self.held_on,
            place: self.place,
            agenda: self.agenda,
        };
        (self.district_id, patch)
    }
}

pub(crate) fn merge(
    checks: &mut Checks,
    patch: MeetingPatch,
    current: Option<&MeetingFields>,
) -> Option<MeetingFields> {
    let c = current;
    let kind = checks.required("/kind", patch.kind, c.map(|c| c.kind), Ok);
    let title = checks.required("/title", patch.title, c.map(|c| c.title.clone()), |v| {
        Ok(v.into())
    });
    let held_on = checks.required("/held_on", patch.held_on, c.map(|c| c.held_on), Day::date);
    let place = checks.optional(
        "/place",
        patch.place,
        c.and_then(|c| c.place.clone()),
        |v| Ok(v.into()),
    );
    let agenda = checks.optional(
        "/agenda",
        patch.agenda,
        c.and_then(|c| c.agenda.clone()),
        |v| Ok(v.into()),
    );
    Some(MeetingFields {
        kind: kind?,
        title: title?,
        held_on: held_on?,
        place,
        agenda,
    })
}

list_query! {
    /// Filters of the meeting list.
    MeetingQuery, sort: MeetingSort { Created = "created", UpdatedAt = "updated_at" },
    {
        district_id: DistrictId,
        /// The district's code.
        #[param(inline)]
        district: FilterText<40>,
        kind: MeetingKind,
        /// Only meetings whose attendance lists this member (in any status).
        member_id: MemberId,
        /// Only meetings held on or after this day.
        held_from: Day,
        /// Only meetings held on or before this day.
        held_to: Day,
        /// Text in the title.
        #[param(inline)]
        q: FilterText<100>,
    }
}

/// List meetings.
#[utoipa::path(
    tag = "meetings",
    params(MeetingQuery),
    responses((status = 200, description = "A page of meetings", body = MeetingPage)),
)]
#[get("")]
async fn list_meetings(
    caller: Caller,
    pool: Db,
    query: web::Query<MeetingQuery>,
) -> Result<web::Json<Page<MeetingView>>, ApiError> {
    let query = query.into_inner();
    let request = query.page()?;
    let filter = MeetingFilter {
        scope: caller.scope(),
        district_id: query.district_id,
        district_code: query.district.and_then(FilterText::into_filter),
        kind: query.kind,
        member_id: query.member_id,
        held_from: query.held_from.map(Day::get),
        held_to: query.held_to.map(Day::get),
        q: query.q.and_then(FilterText::into_filter),
    };
    let mut conn = pool.conn().await?;
    let rows = db::list(&mut conn, &filter, &request).await?;
    let live: Vec<Meeting> = rows
        .iter()
        .filter(|row| row.deleted_at.is_none())
        .cloned()
        .collect();
    let mut full: HashMap<MeetingId, MeetingView> = views(&mut conn, live)
        .await?
        .into_iter()
        .map(|view| (view.id, view))
        .collect();
    Ok(web::Json(page(rows, &request, |row| {
        full.remove(&row.id)
            .unwrap_or_else(|| MeetingView::new(row, Vec::new()))
    })))
}

/// Record a meeting.
#[utoipa::path(
    tag = "meetings",
    request_body = NewMeeting,
    responses(
        (status = 201, description = "The new meeting", body = MeetingView,
            headers(("ETag" = String), ("Location" = String, description = "The meeting's URL"))),
    ),
)]
#[post("")]
async fn create_meeting(
    caller: Caller,
    pool: Db,
    body: crate::api::http::Json<NewMeeting>,
) -> Result<HttpResponse, ApiError> {
    let (district_id, patch) = body.into_inner().split();
    let mut conn = pool.conn().await?;
    let row = conn
        .write(async move |conn| {
            let mut checks = Checks::default();
            let district =
                referenced_district(conn, &mut checks, district_id, caller.scope()).await?;
            let fields = merge(&mut checks, patch, None);
            let (district, fields) = checks.finish(district.zip(fields))?;
            let row = db::insert(conn, district.id, fields).await?;
            let change = Change::new("create", Entity::Meeting, row.id, Some(district.id));
            record(
                conn,
                &caller,
                change.after(&MeetingView::new(row.clone(), Vec::new())),
            );
            Ok::<_, ApiError>(row)
        })
        .await?;
    let location = format!("/api/v1/meetings/{}", row.id);
    Ok(created_response(
        &MeetingView::new(row, Vec::new()),
        location,
    ))
}

edit::get_route! {
    /// Get a meeting with its attendance.
    get_meeting: Meeting, GET "/{id}",
    tag = "meetings", params(("id" = MeetingId, Path, description = "The meeting's id")), path = MeetingId,
    answer = (MeetingView, "The meeting"),
}

edit::patch_route! {
    /// Change a meeting (JSON Merge Patch).
    update_meeting: Meeting, PATCH "/{id}",
    tag = "meetings", params(("id" = MeetingId, Path, description = "The meeting's id")), path = MeetingId,
    body = MeetingPatch, answer = (MeetingView, "The changed meeting"),
}

edit::delete_route! {
    /// Delete a meeting; its attendance stops counting for duty performance.
    delete_meeting: Meeting, DELETE "/{id}",
    tag = "meetings", params(("id" = MeetingId, Path, description = "The meeting's id")), path = MeetingId,
}

impl Editable for Meeting {
    edit::own!(MeetingId, "meeting");
    type Patch = MeetingPatch;
    type View = MeetingView;
    const ENTITY: Entity = Entity::Meeting;
    type Lists = ();

    async fn merge(
        _conn: &mut AsyncPgConnection,
        checks: &mut Checks,
        _lists: &Self::Lists,
        _parent: &(),
        row: &Self,
        patch: MeetingPatch,
    ) -> Result<Option<MeetingFields>, ApiError> {
        Ok(merge(checks, patch, Some(&row.fields())))
    }

    async fn view(conn: &mut AsyncPgConnection, row: Self) -> Result<MeetingView, ApiError> {
        view(conn, row).await
    }

    /// A change of the meeting leaves its attendance as it was read.
    async fn view_after(
        _conn: &mut AsyncPgConnection,
        row: Self,
        before: &MeetingView,
    ) -> Result<MeetingView, ApiError> {
        Ok(MeetingView::new(row, before.attendance.clone()))
    }
}

/// The audit trail of a meeting, attendance changes included.
#[utoipa::path(
    tag = "meetings",
    params(("id" = MeetingId, Path, description = "The meeting's id"), HistoryQuery),
    responses(
        (status = 200, description = "Its changes, oldest first", body = crate::api::audit::AuditEventPage),
    ),
)]
#[get("/{id}/history")]
async fn get_meeting_history(
    caller: Caller,
    pool: Db,
    path: web::Path<MeetingId>,
    query: web::Query<HistoryQuery>,
) -> Result<web::Json<Page<crate::api::audit::AuditEventView>>, ApiError> {
    let id = path.into_inner().to_string();
    crate::api::audit::history(&pool, &caller, Entity::Meeting, id, query.into_inner()).await
}

/// The attendance of a meeting.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttendanceList {
    /// In the order it was recorded.
    pub items: Vec<AttendanceView>,
}

/// List a meeting's attendance.
#[utoipa::path(
    tag = "meetings",
    params(("id" = MeetingId, Path, description = "The meeting's id")),
    responses((status = 200, description = "Its attendance", body = AttendanceList)),
)]
#[get("/{id}/attendance")]
async fn list_attendance(
    caller: Caller,
    pool: Db,
    path: web::Path<MeetingId>,
) -> Result<web::Json<AttendanceList>, ApiError> {
    let mut conn = pool.conn().await?;
    let row = db::find(&conn, path.into_inner(), caller.scope())
        .await
        .map_err(not_found_as("meeting"))?;
    Ok(web::Json(AttendanceList {
        items: view(&mut conn, row).await?.attendance,
    }))
}

/// A member's attendance of a meeting.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttendanceBody {
    #[serde(default)]
    #[schema(value_type = AttendanceStatus, required = true)]
    pub status: Field<AttendanceStatus>,
    #[serde(default)]
    #[schema(value_type = Option<AttendanceNote>)]
    pub note: Field<String>,
}

/// An attendance note, as given to a single record or in a sync batch.
pub(crate) type AttendanceNote = Paragraph<500>;

/// An attendance note, checked.
pub(crate) fn attendance_note(value: &str) -> Result<String, String> {
    AttendanceNote::parse(value).map(String::from)
}

/// Changes a member's attendance under the meeting's lock and `If-Match`: a change that
/// changes something gives the meeting a new version and an audit event with the
/// attendance before and after. `wanted` is the attendance to record (its problems are
/// answered after the precondition's), or none to remove it.
async fn change_attendance(
    pool: &Db,
    caller: Caller,
    (id, member): (MeetingId, MemberId),
    condition: IfMatch,
    wanted: Result<Option<(AttendanceStatus, Option<String>)>, ApiError>,
) -> Result<AttendanceChange, ApiError> {
    let mut conn = pool.conn().await?;
    conn.write(async move |conn| {
        // The meeting locked, then (with snapshots taken after the lock) its attendance of
        // the member, the member and the transaction's time: one round trip, with the
        // BEGIN. The change goes with the COMMIT.
        let (meeting, existing, attendee, now) = {
            let shared: &AsyncPgConnection = conn;
            let attendee = async {
                match &wanted {
                    Ok(Some(_)) => crate::db::members::find(shared, member, caller.scope())
                        .await
                        .map(Some),
                    _ => Ok(None),
                }
            };
            futures_util::future::join4(
                db::lock(shared, id, caller.scope()),
                db::attendee(shared, id, member),
                attendee,
                crate::db::transaction_time(shared),
            )
            .await
        };
        let meeting = meeting.map_err(not_found_as("meeting"))?;
        condition.check(meeting.version)?;
        let wanted = wanted?;
        let existing = existing?.map(AttendanceView::from);
        let (action, after) = match wanted {
            Some((status, note)) => {
                let attendee = attendee
                    .map_err(not_found_as("member"))?
                    .ok_or_else(|| ApiError::Internal("the member was not asked for".into()))?;
                if attendee.district_id != meeting.district_id {
                    return Err(ApiError::unknown(
                        "/member_id",
                        "the member belongs to another district than the meeting",
                    ));
                }
                let same = existing
                    .as_ref()
                    .is_some_and(|e| e.status == status && e.note == note);
                if same {
                    return Ok(AttendanceChange {
                        before: existing.clone(),
                        after: existing,
                        meeting_version: meeting.version,
                    });
                }
                conn.defer(db::set_attendance_later(
                    &meeting,
                    member,
                    status,
                    note.clone(),
                ));
                let after = AttendanceView {
                    member_id: member,
                    status,
                    note,
                    recorded_at: now?,
                };
                ("set_attendance", Some(after))
            }
            None => {
                if existing.is_none() {
                    return Err(ApiError::not_found("attendance"));
                }
                conn.defer(db::remove_attendance_later(id, member));
                ("remove_attendance", None)
            }
        };
        conn.defer(db::touch_later(id));
        let mut event = Change::new(action, Entity::Meeting, id, Some(meeting.district_id));
        if let Some(before) = &existing {
            event = event.before(before);
        }
        if let Some(after) = &after {
            event = event.after(after);
        }
        record(conn, &caller, event);
        Ok(AttendanceChange {
            before: existing,
            after,
            meeting_version: meeting.version + 1,
        })
    })
    .await
}

/// A member's attendance before and after a change, and the meeting's version after it.
struct AttendanceChange {
    before: Option<AttendanceView>,
    after: Option<AttendanceView>,
    meeting_version: i64,
}

/// Record how a member of the meeting's district attended it (present, excused or
/// absent), replacing what was recorded before. The `ETag` is the meeting's new version,
/// for the next change's `If-Match`.
#[utoipa::path(
    tag = "meetings",
    params(
        ("id" = MeetingId, Path, description = "The meeting's id"),
        ("member_id" = MemberId, Path, description = "The member's id"),
        IfMatchHeader,
    ),
    request_body = AttendanceBody,
    responses(
        (status = 201, description = "Recorded", body = AttendanceView,
            headers(("ETag" = String, description = "The meeting's version after the change"))),
        (status = 200, description = "Replaced, or already so recorded", body = AttendanceView,
            headers(("ETag" = String, description = "The meeting's version after the change"))),
        (status = 412, description = "If-Match does not name the meeting's current version", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The member belongs to another district, or the body is invalid", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[put("/{id}/attendance/{member_id}")]
async fn put_attendance(
    caller: Caller,
    pool: Db,
    path: web::Path<(MeetingId, MemberId)>,
    condition: IfMatch,
    body: crate::api::http::Json<AttendanceBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let mut checks = Checks::default();
    let status = checks.required("/status", body.status, None, Ok);
    let note = checks.optional("/note", body.note, None, |v| attendance_note(&v));
    let wanted = checks.finish(status).map(|status| Some((status, note)));
    let change = change_attendance(&pool, caller, path.into_inner(), condition, wanted).await?;
    let after = change
        .after
        .ok_or_else(|| ApiError::Internal("an attendance vanished".into()))?;
    let mut response = if change.before.is_none() {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    };
    Ok(response
        .insert_header((
            actix_web::http::header::ETAG,
            crate::api::http::etag(change.meeting_version),
        ))
        .json(after))
}

/// Remove a member's attendance record.
#[utoipa::path(
    tag = "meetings",
    params(
        ("id" = MeetingId, Path, description = "The meeting's id"),
        ("member_id" = MemberId, Path, description = "The member's id"),
        IfMatchHeader,
    ),
    responses(
        (status = 204, description = "Removed",
            headers(("ETag" = String, description = "The meeting's version after the change"))),
        (status = 404, description = "No such meeting, or no attendance of the member recorded", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match does not name the meeting's current version", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[delete("/{id}/attendance/{member_id}")]
async fn delete_attendance(
    caller: Caller,
    pool: Db,
    path: web::Path<(MeetingId, MemberId)>,
    condition: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let change = change_attendance(&pool, caller, path.into_inner(), condition, Ok(None)).await?;
    Ok(HttpResponse::NoContent()
        .insert_header((
            actix_web::http::header::ETAG,
            crate::api::http::etag(change.meeting_version),
        ))
        .finish())
}
