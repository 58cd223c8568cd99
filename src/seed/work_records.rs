//! The committee's own work in the demo: a year of meetings with attendance (Tongzhou's
//! 19 + 13 lectures among them), Huairou's 37 party-group meetings and 34 reports over
//! three years, Tongzhou's 65 key tasks over three years.

use crate::domain::kinds::Entity;
use chrono::{Datelike, Days, NaiveDate};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{DistrictSpec, SeedReport, audited};
use crate::api::reports::ReportView;
use crate::db;
use crate::db::audit::Change;
use crate::db::key_tasks::KeyTaskFields;
use crate::db::meetings::MeetingFields;
use crate::db::reports::ReportFields;
use crate::db::schema::{key_tasks, meetings, reports};
use crate::domain::ids::{DistrictId, KeyTaskId, MeetingId, MemberId, ReportId};
use crate::domain::kinds::{AttendanceStatus, KeyTaskStatus, MeetingKind, ReportKind};
use crate::error::ApiError;

/// The committee's work of this demo for one district, up to `today`.
pub(super) async fn seed(
    conn: &mut AsyncPgConnection,
    spec: &DistrictSpec,
    district: DistrictId,
    members: &[MemberId],
    today: NaiveDate,
    report: &mut SeedReport,
) -> Result<(), ApiError> {
    let year = today.year();
    let mut planned: Vec<(MeetingKind, String, NaiveDate)> = Vec::new();
    // A day of `year` for the `n`th of `count` meetings of a kind, none after today.
    let day = |year: i32, n: usize, count: usize, salt: usize| {
        let first = NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or(today);
        let last = if year == today.year() {
            today
        } else {
            NaiveDate::from_ymd_opt(year, 12, 31).unwrap_or(today)
        };
        let span = (last - first).num_days().max(0) as u64;
        let offset = (span * n as u64) / count.max(1) as u64 + salt as u64 % 7;
        first
            .checked_add_days(Days::new(offset.min(span)))
            .unwrap_or(first)
    };
    let regular: &[(MeetingKind, usize, &str)] = &[
        (MeetingKind::Plenary, 1, "全体会议"),
        (MeetingKind::StandingCommittee, 4, "常委会会议"),
        (MeetingKind::Chairs, 6, "主席会议"),
        (MeetingKind::SpecialCommittee, 4, "专委会会议"),
        (MeetingKind::Study, 4, "理论学习会"),
    ];
    for (salt, (kind, count, name)) in regular.iter().enumerate() {
        for n in 0..*count {
            planned.push((
                *kind,
                format!("{year}年第{}次{name}", n + 1),
                day(year, n, *count, salt),
            ));
        }
    }
    // Party-group meetings: the district's count over three years, or four this year.
    let party_group: Vec<i32> = if spec.party_group_meetings > 0 {
        spread(spec.party_group_meetings, year)
    } else {
        vec![year; 4]
    };
    let mut numbering = 0;
    let mut last_year = 0;
    for (n, of_year) in party_group.iter().enumerate() {
        if *of_year != last_year {
            numbering = 0;
            last_year = *of_year;
        }
        numbering += 1;
        let count = party_group.iter().filter(|y| *y == of_year).count();
        planned.push((
            MeetingKind::PartyGroup,
            format!("{of_year}年第{numbering}次党组会议"),
            day(*of_year, numbering - 1, count, n),
        ));
    }
    for (series, count) in spec.lectures {
        for n in 0..*count {
            planned.push((
                MeetingKind::Lecture,
                format!("{series}第{}期", n + 1),
                day(year, n, *count, series.len()),
            ));
        }
    }
    for (number, (kind, title, held_on)) in planned.into_iter().enumerate() {
        seed_meeting(
            conn,
            district,
            members,
            number,
            (kind, title, held_on),
            report,
        )
        .await?;
    }
    for (n, of_year) in spread(spec.reports, year).into_iter().enumerate() {
        let reported_on = day(of_year, n % 12, 12, n);
        seed_report(conn, district, n, reported_on, report).await?;
    }
    let key_task_years = spread(spec.key_tasks, year);
    for (n, of_year) in key_task_years.iter().enumerate() {
        seed_key_task(conn, district, n, *of_year, year, today, report).await?;
    }
    Ok(())
}

/// `count` things spread over the three years up to `year`, oldest first.
fn spread(count: usize, year: i32) -> Vec<i32> {
    (0..count)
        .map(|n| year - 2 + i32::try_from(n * 3 / count.max(1)).unwrap_or(0))
        .collect()
}

/// Who is expected at a meeting: everyone at a plenary, the standing committee at its
/// sessions, the chairs at theirs, the party group (the first four) at its, a rotating
/// group otherwise. The `index`es are those of the demo's members.
fn invited(kind: MeetingKind, number: usize, members: usize) -> Vec<usize> {
    let rotating = |size: usize| -> Vec<usize> {
        let size = size.min(members);
        (0..size).map(|k| (number * size + k) % members).collect()
    };
    match kind {
        MeetingKind::Plenary => (0..members).collect(),
        MeetingKind::StandingCommittee => (0..members)
            .filter(|index| *index <= 5 || index.is_multiple_of(5))
            .collect(),
        MeetingKind::Chairs => (0..members.min(6)).collect(),
        MeetingKind::PartyGroup => (0..members.min(4)).collect(),
        MeetingKind::SpecialCommittee => rotating(15),
        MeetingKind::Lecture | MeetingKind::Study | MeetingKind::Other => rotating(40),
    }
}

/// One in 25 is absent without leave, two excused, the rest present.
fn attendance_of(index: usize, number: usize) -> AttendanceStatus {
    match (index * 31 + number * 17) % 25 {
        0 => AttendanceStatus::Absent,
        1 | 2 => AttendanceStatus::Excused,
        _ => AttendanceStatus::Present,
    }
}

async fn seed_meeting(
    conn: &mut AsyncPgConnection,
    district: DistrictId,
    members: &[MemberId],
    number: usize,
    (kind, title, held_on): (MeetingKind, String, NaiveDate),
    report: &mut SeedReport,
) -> Result<(), ApiError> {
    let existing: Option<MeetingId> = meetings::table
        .select(meetings::id)
        .filter(meetings::district_id.eq(district))
        .filter(meetings::kind.eq(kind))
        .filter(meetings::title.eq(&title))
        .filter(meetings::deleted_at.is_null())
        .first(conn)
        .await
        .optional()?;
    if existing.is_some() {
        return Ok(());
    }
    report.meetings += 1;
    let fields = MeetingFields {
        kind,
        title,
        held_on,
        place: Some("区政协机关会议室".to_owned()),
        agenda: None,
    };
    let meeting = db::meetings::insert(conn, district, fields).await?;
    let attendance: Vec<_> = invited(kind, number, members.len())
        .into_iter()
        .map(|index| {
            (
                meeting.id,
                members[index],
                attendance_of(index, number),
                None,
            )
        })
        .collect();
    report.attendance += attendance.len();
    db::meetings::insert_attendance(conn, district, attendance).await?;
    let views = crate::api::meetings::views(conn, vec![meeting.clone()]).await?;
    if let Some(view) = views.into_iter().next() {
        let change = Change::new("create", Entity::Meeting, meeting.id, Some(district));
        audited(conn, change.after(&view)).await?;
    }
    Ok(())
}

const REPORT_SUBJECTS: &[(&str, ReportKind)] = &[
    ("区政协党组工作情况", ReportKind::WorkReport),
    ("年度协商计划执行情况", ReportKind::ConsultationReport),
    ("民主评议工作情况", ReportKind::EvaluationReport),
    ("委员履职管理工作情况", ReportKind::Other),
    ("重点提案办理情况", ReportKind::WorkReport),
    ("全面从严治党工作情况", ReportKind::Other),
];

async fn seed_report(
    conn: &mut AsyncPgConnection,
    district: DistrictId,
    number: usize,
    reported_on: NaiveDate,
    report: &mut SeedReport,
) -> Result<(), ApiError> {
    let (topic, kind) = REPORT_SUBJECTS[number % REPORT_SUBJECTS.len()];
    let subject = format!("关于{topic}的报告（第{}号）", number + 1);
    let existing: Option<ReportId> = reports::table
        .select(reports::id)
        .filter(reports::district_id.eq(district))
        .filter(reports::subject.eq(&subject))
        .filter(reports::deleted_at.is_null())
        .first(conn)
        .await
        .optional()?;
    if existing.is_some() {
        return Ok(());
    }
    report.reports += 1;
    let fields = ReportFields {
        kind,
        reported_on,
        subject,
        summary: None,
        consultation_id: None,
        evaluation_id: None,
    };
    let row = db::reports::insert(conn, district, fields).await?;
    let change = Change::new("create", Entity::Report, row.id, Some(district));
    audited(conn, change.after(&ReportView::from(row))).await
}

/// Tongzhou's yearly themes, oldest first.
const THEMES: &[&str] = &["联系群众、广聚共识", "商以求同、协以成事", "画好最大同心圆"];
const TASK_AREAS: &[&str] = &[
    "副中心控规落实",
    "重大项目推进",
    "金融产业发展",
    "“两区”建设",
    "城市更新",
    "生态环境治理",
    "教育医疗资源布局",
    "文化旅游融合",
];
const BODIES: &[&str] = &[
    "办公室",
    "研究室",
    "提案委员会",
    "经济委员会",
    "城建环保委员会",
    "教文卫体委员会",
    "社会和法制委员会",
    "文史和学习委员会",
];

async fn seed_key_task(
    conn: &mut AsyncPgConnection,
    district: DistrictId,
    number: usize,
    of_year: i32,
    year: i32,
    today: NaiveDate,
    report: &mut SeedReport,
) -> Result<(), ApiError> {
    let theme = THEMES[usize::try_from(of_year - (year - 2)).unwrap_or(0) % THEMES.len()];
    let title = format!(
        "{theme}：{}（第{}项）",
        TASK_AREAS[number % TASK_AREAS.len()],
        number + 1
    );
    let existing: Option<KeyTaskId> = key_tasks::table
        .select(key_tasks::id)
        .filter(key_tasks::district_id.eq(district))
        .filter(key_tasks::year.eq(of_year))
        .filter(key_tasks::title.eq(&title))
        .filter(key_tasks::deleted_at.is_null())
        .first(conn)
        .await
        .optional()?;
    if existing.is_some() {
        return Ok(());
    }
    report.key_tasks += 1;
    let status = match (of_year < year, number % 3) {
        (true, _) | (false, 0) => KeyTaskStatus::Done,
        (false, 1) => KeyTaskStatus::InProgress,
        (false, _) => KeyTaskStatus::Planned,
    };
    let fields = KeyTaskFields {
        year: of_year,
        title,
        responsible_body: BODIES[number % BODIES.len()].to_owned(),
        status,
        description: None,
    };
    let task = db::key_tasks::insert(conn, district, fields).await?;
    if status != KeyTaskStatus::Planned {
        let noted_on = NaiveDate::from_ymd_opt(of_year, 6, 30)
            .filter(|day| *day <= today)
            .unwrap_or(today);
        db::key_tasks::add_note(
            conn,
            &task,
            noted_on,
            "按方案推进，阶段目标完成。".to_owned(),
        )
        .await?;
    }
    let views = crate::api::key_tasks::views(conn, vec![task.clone()]).await?;
    if let Some(view) = views.into_iter().next() {
        let change = Change::new("create", Entity::KeyTask, task.id, Some(district));
        audited(conn, change.after(&view)).await?;
    }
    Ok(())
}
