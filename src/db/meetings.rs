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
    /// The district system's id, for meetings it syncs.
    pub external_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
    pub deleted_at: Option<DateTime<Utc>>,
}

super::record_fields! {
    /// The fields a client sets (the district is fixed at creation).
    pub struct MeetingFields for Meeting in meetings {
        pub kind: MeetingKind,
        pub title: String,
        pub held_on: NaiveDate,
        pub place: Option<String>,
        pub agenda: Option<String>,
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
    if let Some(person) = filter.scope.person() {
        query = query.filter(<Meeting as super::SeenBy>::seen_by(person));
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

/// A member reads their district's meetings.
impl super::SeenBy for Meeting {
    type Table = meetings::table;

    fn seen_by(person: crate::domain::access::Person) -> super::Seen<meetings::table> {
        use crate::domain::access::Person;
        match person {
            Person::Member(_) => super::every_row(),
            Person::Unit(_) | Person::Office(_) => super::no_row(),
        }
    }

    fn changed_by(_person: crate::domain::access::Person) -> super::Seen<meetings::table> {
        super::no_row()
    }
}

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
    mut conn: &AsyncPgConnection,
    meeting: MeetingId,
    member: MemberId,
) -> QueryResult<Option<Attendance>> {
    meeting_attendance::table
        .select(Attendance::as_select())
        .find((meeting, member))
        .first(&mut conn)
        .await
        .optional()
}

/// Records (or replaces) a member's attendance, with the `COMMIT`
/// ([`crate::api::work::Tx::defer`]): recorded at the transaction's time.
pub fn set_attendance_later(
    meeting: &Meeting,
    member: MemberId,
    status: AttendanceStatus,
    note: Option<String>,
) -> super::Statement {
    let (id, district) = (meeting.id, meeting.district_id);
    Box::new(move |mut conn| {
        Box::pin(async move {
            crate::db::Prepared(
                diesel::insert_into(meeting_attendance::table)
                    .values((
                        meeting_attendance::meeting_id.eq(id),
                        meeting_attendance::member_id.eq(member),
                        meeting_attendance::district_id.eq(district),
                        meeting_attendance::status.eq(status),
                        meeting_attendance::note.eq(&note),
                    ))
                    .on_conflict((
                        meeting_attendance::meeting_id,
                        meeting_attendance::member_id,
                    ))
                    .do_update()
                    .set((
                        meeting_attendance::status.eq(status),
                        meeting_attendance::note.eq(&note),
                        meeting_attendance::recorded_at.eq(super::now_not_null()),
                    )),
            )
            .execute(&mut conn)
            .await
            .and_then(super::one_row)
        })
    })
}

/// Removes a member's attendance record, with the `COMMIT`.
pub fn remove_attendance_later(meeting: MeetingId, member: MemberId) -> super::Statement {
    Box::new(move |mut conn| {
        Box::pin(async move {
            crate::db::Prepared(diesel::delete(
                meeting_attendance::table.find((meeting, member)),
            ))
            .execute(&mut conn)
            .await
            .and_then(super::one_row)
        })
    })
}

/// Records many attendances of meetings of `district` at once (meetings entered whole),
/// in one statement.
#[tracing::instrument(skip_all, fields(rows = attendance.len()))]
pub async fn insert_attendance(
    conn: &mut AsyncPgConnection,
    district: DistrictId,
    attendance: Vec<(MeetingId, MemberId, AttendanceStatus, Option<String>)>,
) -> QueryResult<()> {
    if attendance.is_empty() {
        return Ok(());
    }
    // One statement binds at most 65,535 parameters (five a row here), and a batch of
    // meetings may carry more attendance than that: it is written in parts.
    const ROWS_PER_STATEMENT: usize = 10_000;
    let mut rows: Vec<_> = attendance
        .into_iter()
        .map(|(meeting, member, status, note)| {
            (
                meeting_attendance::meeting_id.eq(meeting),
                meeting_attendance::member_id.eq(member),
                meeting_attendance::district_id.eq(district),
                meeting_attendance::status.eq(status),
                meeting_attendance::note.eq(note),
            )
        })
        .collect();
    while !rows.is_empty() {
        let rest = rows.split_off(rows.len().min(ROWS_PER_STATEMENT));
        diesel::insert_into(meeting_attendance::table)
            .values(std::mem::replace(&mut rows, rest))
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// A meeting with its attendance, as a sync batch compares and writes it.
#[derive(Debug, Clone)]
pub struct MeetingRecord {
    pub meeting: Meeting,
    pub attendance: Vec<Attendance>,
}

/// A meeting as a batch sets it: its fields and every member's attendance, by member.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncedMeeting {
    pub fields: MeetingFields,
    pub attendance: Vec<(MemberId, AttendanceStatus, Option<String>)>,
}

/// A meeting with its attendance is the meeting's row.
impl super::Row for MeetingRecord {
    type Id = MeetingId;

    fn id(&self) -> MeetingId {
        self.meeting.id
    }

    fn version(&self) -> i64 {
        self.meeting.version
    }

    fn district(&self) -> Option<DistrictId> {
        Some(self.meeting.district_id)
    }
}

impl MeetingRecord {
    pub fn synced(&self) -> SyncedMeeting {
        let mut attendance: Vec<_> = self
            .attendance
            .iter()
            .map(|entry| (entry.member_id, entry.status, entry.note.clone()))
            .collect();
        attendance.sort_by_key(|(member, _, _)| *member);
        SyncedMeeting {
            fields: self.meeting.fields(),
            attendance,
        }
    }
}

/// These meetings with their attendance.
async fn with_attendance(
    conn: &mut AsyncPgConnection,
    meetings: Vec<Meeting>,
) -> QueryResult<Vec<MeetingRecord>> {
    let ids: Vec<MeetingId> = meetings.iter().map(|meeting| meeting.id).collect();
    let mut by_meeting: std::collections::HashMap<MeetingId, Vec<Attendance>> =
        std::collections::HashMap::new();
    for entry in attendance(conn, &ids).await? {
        by_meeting.entry(entry.meeting_id).or_default().push(entry);
    }
    Ok(meetings
        .into_iter()
        .map(|meeting| MeetingRecord {
            attendance: by_meeting.remove(&meeting.id).unwrap_or_default(),
            meeting,
        })
        .collect())
}

/// The live meetings of `district` with these external ids and their attendance, locked
/// until the transaction ends.
#[tracing::instrument(skip_all)]
pub async fn lock_by_external_ids(
    conn: &mut AsyncPgConnection,
    district: DistrictId,
    keys: &[String],
) -> QueryResult<Vec<MeetingRecord>> {
    let rows = meetings::table
        .select(Meeting::as_select())
        .filter(meetings::district_id.eq(district))
        .filter(meetings::external_id.eq_any(keys))
        .filter(meetings::deleted_at.is_null())
        // One order for every batch: two batches never wait on each other in a cycle.
        .order(meetings::external_id)
        .for_update()
        .load(conn)
        .await?;
    with_attendance(conn, rows).await
}

#[derive(Insertable)]
#[diesel(table_name = meetings)]
struct SyncedMeetingRow {
    id: MeetingId,
    district_id: DistrictId,
    external_id: String,
    #[diesel(embed)]
    fields: MeetingFields,
}

/// Creates or replaces meetings of `district` by external id, with their whole
/// attendance: one statement for the meetings, one to clear their attendance and one to
/// write it.
#[tracing::instrument(skip_all, fields(rows = rows.len()))]
pub async fn upsert_all(
    conn: &mut AsyncPgConnection,
    district: DistrictId,
    rows: Vec<(MeetingId, String, SyncedMeeting)>,
) -> QueryResult<Vec<MeetingRecord>> {
    use diesel::query_builder::DecoratableTarget;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut wanted = std::collections::HashMap::new();
    let mut inserts = Vec::with_capacity(rows.len());
    for (id, external_id, synced) in rows {
        wanted.insert(external_id.clone(), synced.attendance);
        inserts.push(SyncedMeetingRow {
            id,
            district_id: district,
            external_id,
            fields: synced.fields,
        });
    }
    let written: Vec<Meeting> = diesel::insert_into(meetings::table)
        .values(inserts)
        .on_conflict((meetings::district_id, meetings::external_id))
        .filter_target(
            meetings::deleted_at
                .is_null()
                .and(meetings::external_id.is_not_null()),
        )
        .do_update()
        .set(MeetingFields::excluded())
        .returning(Meeting::as_returning())
        .get_results(conn)
        .await?;
    let ids: Vec<MeetingId> = written.iter().map(|meeting| meeting.id).collect();
    diesel::delete(meeting_attendance::table.filter(meeting_attendance::meeting_id.eq_any(&ids)))
        .execute(conn)
        .await?;
    let attendance = written
        .iter()
        .flat_map(|meeting| {
            let entries = meeting
                .external_id
                .as_ref()
                .and_then(|key| wanted.remove(key))
                .unwrap_or_default();
            entries
                .into_iter()
                .map(move |(member, status, note)| (meeting.id, member, status, note))
        })
        .collect();
    insert_attendance(conn, district, attendance).await?;
    with_attendance(conn, written).await
}

/// Marks meetings deleted, in one statement (their attendance stops counting with them).
#[tracing::instrument(skip_all)]
pub async fn mark_all_deleted(conn: &mut AsyncPgConnection, ids: &[MeetingId]) -> QueryResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    diesel::update(meetings::table.filter(meetings::id.eq_any(ids)))
        .set(meetings::deleted_at.eq(diesel::dsl::now))
        .execute(conn)
        .await
        .map(drop)
}
