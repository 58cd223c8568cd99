//! Queries on the committee's meetings and their attendance.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::pagination::{PageRequest, page_row, paged};
use crate::db::schema::{meeting_attendance, meetings};
use crate::domain::ids::{DistrictId, MeetingId, MemberId};
use crate::domain::kinds::{AttendanceStatus, MeetingKind};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = meetings, check_for_backend(diesel::pg::Pg))]
pub struct Meeting {
    pub id: MeetingId,
    pub district_id: DistrictId,
    pub kind: MeetingKind,
    pub title: String,
    pub held_on: NaiveDate,
    pub place: Option<String>,
    pub agenda: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
    pub deleted_at: Option<DateTime<Utc>>,
}

/// The fields a client sets (the district is fixed at creation).
#[derive(Debug, Clone, PartialEq, Insertable, AsChangeset)]
#[diesel(table_name = meetings, treat_none_as_null = true)]
pub struct MeetingFields {
    pub kind: MeetingKind,
    pub title: String,
    pub held_on: NaiveDate,
    pub place: Option<String>,
    pub agenda: Option<String>,
}

impl Meeting {
    pub fn fields(&self) -> MeetingFields {
        MeetingFields {
            kind: self.kind,
            title: self.title.clone(),
            held_on: self.held_on,
            place: self.place.clone(),
            agenda: self.agenda.clone(),
        }
    }
}

page_row!(Meeting);

/// One member's attendance of a meeting.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = meeting_attendance, check_for_backend(diesel::pg::Pg))]
pub struct Attendance {
    pub meeting_id: MeetingId,
    pub member_id: MemberId,
    pub status: AttendanceStatus,
    pub note: Option<String>,
    pub recorded_at: DateTime<Utc>,
}

#[derive(Debug, Default)]
pub struct MeetingFilter {
    /// The caller's districts.
    pub scope: crate::domain::access::Scope,
    pub district_id: Option<DistrictId>,
    pub district_code: Option<String>,
    pub kind: Option<MeetingKind>,
    /// Only meetings whose attendance lists this member.
    pub member_id: Option<MemberId>,
    /// Held on or after this day.
    pub held_from: Option<NaiveDate>,
    /// Held on or before this day.
    pub held_to: Option<NaiveDate>,
    /// Text in the title.
    pub q: Option<String>,
}

#[tracing::instrument(skip_all)]
pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &MeetingFilter,
    page: &PageRequest,
) -> QueryResult<Vec<Meeting>> {
    let mut query = meetings::table.select(Meeting::as_select()).into_boxed();
    if let Some(district) = filter.scope.district() {
        query = query.filter(meetings::district_id.eq(district));
    }
    if let Some(district_id) = filter.district_id {
        query = query.filter(meetings::district_id.eq(district_id));
    }
    if let Some(code) = &filter.district_code {
        query =
            query.filter(meetings::district_id.eq_any(super::districts::ids_by_code(code.clone())));
    }
    if let Some(kind) = filter.kind {
        query = query.filter(meetings::kind.eq(kind));
    }
    if let Some(member_id) = filter.member_id {
        query = query.filter(
            meetings::id.eq_any(
                meeting_attendance::table
                    .select(meeting_attendance::meeting_id)
                    .filter(meeting_attendance::member_id.eq(member_id)),
            ),
        );
    }
    if let Some(from) = filter.held_from {
        query = query.filter(meetings::held_on.ge(from));
    }
    if let Some(to) = filter.held_to {
        query = query.filter(meetings::held_on.le(to));
    }
    if let Some(q) = &filter.q {
        query = query.filter(meetings::title.ilike(super::like_pattern(q)));
    }
    paged!(query, page,
        id: meetings::id, updated_at: meetings::updated_at, deleted_at: meetings::deleted_at)
    .load(conn)
    .await
}

super::record_queries!(meetings, Meeting, MeetingFields, MeetingId);

#[derive(Insertable)]
#[diesel(table_name = meetings)]
struct NewMeetingRow {
    id: MeetingId,
    district_id: DistrictId,
    #[diesel(embed)]
    fields: MeetingFields,
}

#[tracing::instrument(skip_all)]
pub async fn insert(
    conn: &mut AsyncPgConnection,
    district_id: DistrictId,
    fields: MeetingFields,
) -> QueryResult<Meeting> {
    diesel::insert_into(meetings::table)
        .values(NewMeetingRow {
            id: MeetingId::generate(),
            district_id,
            fields,
        })
        .returning(Meeting::as_returning())
        .get_result(conn)
        .await
}

/// Gives a meeting a new version (its attendance changed).
#[tracing::instrument(skip_all)]
pub async fn touch(conn: &mut AsyncPgConnection, id: MeetingId) -> QueryResult<Meeting> {
    diesel::update(meetings::table.find(id))
        .set(meetings::updated_at.eq(super::now_not_null()))
        .returning(Meeting::as_returning())
        .get_result(conn)
        .await
}

/// The attendance of these meetings, by meeting, then in the order it was recorded.
#[tracing::instrument(skip_all)]
pub async fn attendance(
    conn: &mut AsyncPgConnection,
    ids: &[MeetingId],
) -> QueryResult<Vec<Attendance>> {
    meeting_attendance::table
        .select(Attendance::as_select())
        .filter(meeting_attendance::meeting_id.eq_any(ids))
        .order((
            meeting_attendance::meeting_id,
            meeting_attendance::recorded_at,
            meeting_attendance::member_id,
        ))
        .load(conn)
        .await
}

/// One member's attendance of a meeting, if recorded.
#[tracing::instrument(skip_all)]
pub async fn attendee(
    conn: &mut AsyncPgConnection,
    meeting: MeetingId,
    member: MemberId,
) -> QueryResult<Option<Attendance>> {
    meeting_attendance::table
        .select(Attendance::as_select())
        .find((meeting, member))
        .first(conn)
        .await
        .optional()
}

/// Records (or replaces) a member's attendance.
#[tracing::instrument(skip_all)]
pub async fn set_attendance(
    conn: &mut AsyncPgConnection,
    meeting: &Meeting,
    member: MemberId,
    status: AttendanceStatus,
    note: Option<&str>,
) -> QueryResult<()> {
    diesel::insert_into(meeting_attendance::table)
        .values((
            meeting_attendance::meeting_id.eq(meeting.id),
            meeting_attendance::member_id.eq(member),
            meeting_attendance::district_id.eq(meeting.district_id),
            meeting_attendance::status.eq(status),
            meeting_attendance::note.eq(note),
        ))
        .on_conflict((
            meeting_attendance::meeting_id,
            meeting_attendance::member_id,
        ))
        .do_update()
        .set((
            meeting_attendance::status.eq(status),
            meeting_attendance::note.eq(note),
            meeting_attendance::recorded_at.eq(super::now_not_null()),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// Removes a member's attendance record.
#[tracing::instrument(skip_all)]
pub async fn remove_attendance(
    conn: &mut AsyncPgConnection,
    meeting: MeetingId,
    member: MemberId,
) -> QueryResult<()> {
    diesel::delete(meeting_attendance::table.find((meeting, member)))
        .execute(conn)
        .await
        .map(drop)
}

/// Records the attendance of many members at once (a meeting being entered whole).
#[tracing::instrument(skip_all, fields(rows = attendance.len()))]
pub async fn insert_attendance(
    conn: &mut AsyncPgConnection,
    meeting: &Meeting,
    attendance: &[(MemberId, AttendanceStatus)],
) -> QueryResult<()> {
    let rows: Vec<_> = attendance
        .iter()
        .map(|(member, status)| {
            (
                meeting_attendance::meeting_id.eq(meeting.id),
                meeting_attendance::member_id.eq(*member),
                meeting_attendance::district_id.eq(meeting.district_id),
                meeting_attendance::status.eq(*status),
            )
        })
        .collect();
    diesel::insert_into(meeting_attendance::table)
        .values(rows)
        .execute(conn)
        .await
        .map(drop)
}
