//! `seed-demo`: the six Beijing districts of the source report, with departments,
//! members, workstations and activities matching its numbers (Haidian's 33 workstations
//! of 8 kinds and 300 online activities, Yanqing's 20 studios, Shijingshan's 36 evaluated
//! departments, Tongzhou's 200-odd members), and the committees' own work of the last
//! three years ([`work_records`]). Names of people are made up.
//!
//! Every record is looked up by its natural key first, so running it again changes
//! nothing.

mod work_records;

use crate::domain::kinds::Entity;
use chrono::{Days, NaiveDate};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::api::activities::ActivityView;
use crate::api::departments::DepartmentView;
use crate::api::districts::DistrictView;
use crate::api::members::MemberView;
use crate::db;
use crate::db::activities::ActivityFields;
use crate::db::audit::{Actor, Change};
use crate::db::departments::DepartmentFields;
use crate::db::districts::{DistrictFields, DistrictKey};
use crate::db::members::MemberFields;
use crate::db::schema::{activities, departments, members, workstations};
use crate::db::workstations::{Workstation, WorkstationFields};
use crate::domain::access::Scope;
use crate::domain::ids::{DepartmentId, DistrictId, MemberId, WorkstationId};
use crate::domain::kinds::{ActivityKind, DepartmentKind, Gender, MemberStatus, WorkstationKind};
use crate::error::ApiError;

/// How many records a run created.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SeedReport {
    pub districts: usize,
    pub departments: usize,
    pub members: usize,
    pub workstations: usize,
    pub workstation_members: usize,
    pub activities: usize,
    pub meetings: usize,
    pub attendance: usize,
    pub reports: usize,
    pub key_tasks: usize,
}

impl std::fmt::Display for SeedReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "created {} district(s), {} department(s), {} member(s), {} workstation(s), \
             {} workstation membership(s), {} activity(ies), {} meeting(s) with {} \
             attendance record(s), {} report(s), {} key task(s)",
            self.districts,
            self.departments,
            self.members,
            self.workstations,
            self.workstation_members,
            self.activities,
            self.meetings,
            self.attendance,
            self.reports,
            self.key_tasks
        )
    }
}

struct DistrictSpec {
    code: &'static str,
    name: &'static str,
    name_en: &'static str,
    prefix: &'static str,
    members: usize,
    departments: usize,
    streets: &'static [&'static str],
    /// Workstations by kind and count.
    workstations: &'static [(WorkstationKind, usize)],
    /// Whether its workstations are called studios (工作室), as in Yanqing.
    studios: bool,
    /// Online activities (salons and online study) at its online workstations.
    online_activities: usize,
    /// Lecture series held this year, by name and number of sessions.
    lectures: &'static [(&'static str, usize)],
    /// Party-group meetings over three years (four this year when none are given).
    party_group_meetings: usize,
    /// Reports to the district party committee over three years.
    reports: usize,
    /// Key tasks over three years.
    key_tasks: usize,
}

const TERM: i32 = 16;

const DISTRICTS: &[DistrictSpec] = &[
    DistrictSpec {
        code: "xicheng",
        name: "西城区",
        name_en: "Xicheng",
        prefix: "XC",
        members: 120,
        departments: 12,
        streets: &[
            "西长安街街道",
            "新街口街道",
            "月坛街道",
            "展览路街道",
            "德胜街道",
            "金融街街道",
            "什刹海街道",
            "大栅栏街道",
        ],
        workstations: &[(WorkstationKind::Street, 8)],
        studios: false,
        online_activities: 0,
        lectures: &[],
        party_group_meetings: 0,
        reports: 0,
        key_tasks: 0,
    },
    DistrictSpec {
        code: "haidian",
        name: "海淀区",
        name_en: "Haidian",
        prefix: "HD",
        members: 150,
        departments: 12,
        streets: &[
            "万寿路街道",
            "羊坊店街道",
            "甘家口街道",
            "八里庄街道",
            "紫竹院街道",
            "北下关街道",
            "学院路街道",
            "中关村街道",
        ],
        workstations: &[
            (WorkstationKind::Sector, 6),
            (WorkstationKind::Party, 5),
            (WorkstationKind::Street, 8),
            (WorkstationKind::Community, 4),
            (WorkstationKind::Village, 2),
            (WorkstationKind::Industry, 3),
            (WorkstationKind::Thematic, 3),
            (WorkstationKind::Online, 2),
        ],
        studios: false,
        online_activities: 300,
        lectures: &[],
        party_group_meetings: 0,
        reports: 0,
        key_tasks: 0,
    },
    DistrictSpec {
        code: "shijingshan",
        name: "石景山区",
        name_en: "Shijingshan",
        prefix: "SJS",
        members: 80,
        departments: 36,
        streets: &[
            "八宝山街道",
            "老山街道",
            "八角街道",
            "古城街道",
            "苹果园街道",
            "金顶街街道",
            "广宁街道",
            "五里坨街道",
            "鲁谷街道",
        ],
        workstations: &[(WorkstationKind::Street, 3)],
        studios: false,
        online_activities: 0,
        lectures: &[],
        party_group_meetings: 0,
        reports: 0,
        key_tasks: 0,
    },
    DistrictSpec {
        code: "tongzhou",
        name: "通州区",
        name_en: "Tongzhou",
        prefix: "TZ",
        members: 210,
        departments: 12,
        streets: &[
            "中仓街道",
            "新华街道",
            "北苑街道",
            "玉桥街道",
            "潞源街道",
            "通运街道",
        ],
        workstations: &[(WorkstationKind::Street, 4)],
        studios: false,
        online_activities: 0,
        lectures: &[("城市副中心讲堂", 19), ("委员讲堂", 13)],
        party_group_meetings: 0,
        reports: 0,
        key_tasks: 65,
    },
    DistrictSpec {
        code: "huairou",
        name: "怀柔区",
        name_en: "Huairou",
        prefix: "HR",
        members: 90,
        departments: 12,
        streets: &[
            "泉河街道",
            "龙山街道",
            "怀柔镇",
            "雁栖镇",
            "庙城镇",
            "桥梓镇",
        ],
        workstations: &[(WorkstationKind::Street, 3)],
        studios: false,
        online_activities: 0,
        lectures: &[],
        party_group_meetings: 37,
        reports: 34,
        key_tasks: 0,
    },
    DistrictSpec {
        code: "yanqing",
        name: "延庆区",
        name_en: "Yanqing",
        prefix: "YQ",
        members: 100,
        departments: 12,
        streets: &[
            "百泉街道",
            "香水园街道",
            "儒林街道",
            "延庆镇",
            "康庄镇",
            "八达岭镇",
            "永宁镇",
        ],
        workstations: &[
            (WorkstationKind::Sector, 4),
            (WorkstationKind::Party, 3),
            (WorkstationKind::Street, 3),
            (WorkstationKind::Community, 3),
            (WorkstationKind::Village, 4),
            (WorkstationKind::Industry, 2),
            (WorkstationKind::Thematic, 1),
        ],
        studios: true,
        online_activities: 0,
        lectures: &[],
        party_group_meetings: 0,
        reports: 0,
        key_tasks: 0,
    },
];

/// The departments of a district; Shijingshan evaluated the first 36.
const DEPARTMENTS: &[(&str, DepartmentKind)] = &[
    ("区生态环境局", DepartmentKind::Government),
    ("区发展和改革委员会", DepartmentKind::Government),
    ("区教育委员会", DepartmentKind::Government),
    ("区科学技术和信息化局", DepartmentKind::Government),
    ("区民政局", DepartmentKind::Government),
    ("区司法局", DepartmentKind::Government),
    ("区财政局", DepartmentKind::Government),
    ("区人力资源和社会保障局", DepartmentKind::Government),
    ("区住房和城乡建设委员会", DepartmentKind::Government),
    ("区城市管理委员会", DepartmentKind::Government),
    ("区卫生健康委员会", DepartmentKind::Government),
    ("区市场监督管理局", DepartmentKind::Government),
    ("区委办公室", DepartmentKind::Party),
    ("区政府办公室", DepartmentKind::Government),
    ("区公安分局", DepartmentKind::Government),
    ("区规划和自然资源分局", DepartmentKind::Government),
    ("区交通委员会", DepartmentKind::Government),
    ("区水务局", DepartmentKind::Government),
    ("区农业农村局", DepartmentKind::Government),
    ("区商务局", DepartmentKind::Government),
    ("区文化和旅游局", DepartmentKind::Government),
    ("区退役军人事务局", DepartmentKind::Government),
    ("区应急管理局", DepartmentKind::Government),
    ("区审计局", DepartmentKind::Government),
    ("区国有资产监督管理委员会", DepartmentKind::Government),
    ("区体育局", DepartmentKind::Government),
    ("区统计局", DepartmentKind::Government),
    ("区医疗保障局", DepartmentKind::Government),
    ("区园林绿化局", DepartmentKind::Government),
    ("区金融服务办公室", DepartmentKind::Government),
    ("区信访办公室", DepartmentKind::Government),
    ("区政务服务管理局", DepartmentKind::Government),
    ("区城市管理综合行政执法局", DepartmentKind::Government),
    ("区投资促进服务中心", DepartmentKind::PublicInstitution),
    ("区残疾人联合会", DepartmentKind::PeopleOrganization),
    ("区妇女联合会", DepartmentKind::PeopleOrganization),
];

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "胡", "朱", "高", "林",
    "何", "郭", "马", "罗",
];
const GIVEN_NAMES: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀英", "华", "平", "刚", "桂英", "建华", "文", "晨", "宇", "欣", "浩", "思远", "子涵",
    "雨桐",
];
const SECTORS: &[&str] = &[
    "cpc",
    "cdl",
    "cndca",
    "capd",
    "jiusan",
    "non_party",
    "economy",
    "education",
    "medicine_health",
    "science_technology",
    "culture_arts",
    "agriculture",
    "social_welfare",
    "environment_resources",
    "acwf",
    "acfic",
    "sports",
    "press_publishing",
];
const PARTIES: &[&str] = &[
    "cpc",
    "cpc",
    "cpc",
    "cdl",
    "cndca",
    "capd",
    "jiusan",
    "rck",
    "cpwdp",
    "zgd",
    "non_party",
    "none",
];
const INDUSTRIES: &[&str] = &["科技创新", "金融服务", "医疗卫生", "文化旅游"];
const THEMES: &[&str] = &["垃圾分类", "养老服务", "物业管理", "生态涵养"];

/// Records a change made by the seed in the audit trail.
async fn audited(conn: &mut AsyncPgConnection, change: Change) -> Result<(), ApiError> {
    db::audit::append(conn, &Actor::command("seed-demo"), change).await?;
    Ok(())
}

/// Loads the demo data; what exists already is left as it is. Every record it creates is
/// in the audit trail.
pub async fn seed_demo(conn: &mut AsyncPgConnection) -> Result<SeedReport, ApiError> {
    conn.transaction(async |conn| {
        let mut report = SeedReport::default();
        for spec in DISTRICTS {
            seed_district(conn, spec, &mut report).await?;
        }
        Ok(report)
    })
    .await
}

async fn seed_district(
    conn: &mut AsyncPgConnection,
    spec: &DistrictSpec,
    report: &mut SeedReport,
) -> Result<(), ApiError> {
    let district =
        match db::districts::find(conn, &DistrictKey::Code(spec.code.to_owned()), Scope::All)
            .await
            .optional()?
        {
            Some(district) => district,
            None => {
                report.districts += 1;
                let district = db::districts::insert(
                    conn,
                    DistrictFields {
                        code: spec.code.to_owned(),
                        name: spec.name.to_owned(),
                        name_en: Some(spec.name_en.to_owned()),
                        term: TERM,
                    },
                )
                .await?;
                let change =
                    Change::new("create", Entity::District, district.id, Some(district.id));
                audited(conn, change.after(&DistrictView::from(district.clone()))).await?;
                district
            }
        };
    for (name, kind) in &DEPARTMENTS[..spec.departments] {
        let existing: Option<DepartmentId> = departments::table
            .select(departments::id)
            .filter(departments::district_id.eq(district.id))
            .filter(departments::name.eq(*name))
            .filter(departments::deleted_at.is_null())
            .first(conn)
            .await
            .optional()?;
        if existing.is_none() {
            report.departments += 1;
            let fields = DepartmentFields {
                name: (*name).to_owned(),
                short_name: name.strip_prefix('区').map(str::to_owned),
                kind: *kind,
            };
            let department = db::departments::insert(conn, district.id, fields).await?;
            let change = Change::new(
                "create",
                Entity::Department,
                department.id,
                Some(district.id),
            );
            audited(conn, change.after(&DepartmentView::from(department))).await?;
        }
    }
    let mut member_ids = Vec::with_capacity(spec.members);
    for index in 0..spec.members {
        member_ids.push(seed_member(conn, spec, district.id, index, report).await?);
    }
    let mut station_index = 0;
    for (kind, count) in spec.workstations {
        for number in 0..*count {
            let name = workstation_name(spec, *kind, number);
            let station = seed_workstation(
                conn,
                spec,
                district.id,
                *kind,
                name,
                station_index,
                &member_ids,
                report,
            )
            .await?;
            seed_monthly_activities(conn, &station, station_index, &member_ids, report).await?;
            if *kind == WorkstationKind::Online && spec.online_activities > 0 {
                let online_stations = spec
                    .workstations
                    .iter()
                    .find(|(kind, _)| *kind == WorkstationKind::Online)
                    .map_or(1, |(_, count)| *count);
                let share = spec.online_activities / online_stations;
                seed_online_activities(conn, &station, number, share, &member_ids, report).await?;
            }
            station_index += 1;
        }
    }
    let today = crate::domain::calendar::today();
    work_records::seed(conn, spec, district.id, &member_ids, today, report).await
}

async fn seed_member(
    conn: &mut AsyncPgConnection,
    spec: &DistrictSpec,
    district: DistrictId,
    index: usize,
    report: &mut SeedReport,
) -> Result<MemberId, ApiError> {
    let member_no = format!("{}-{TERM}-{:03}", spec.prefix, index + 1);
    let existing: Option<MemberId> = members::table
        .select(members::id)
        .filter(members::district_id.eq(district))
        .filter(members::member_no.eq(&member_no))
        .filter(members::deleted_at.is_null())
        .first(conn)
        .await
        .optional()?;
    if let Some(id) = existing {
        return Ok(id);
    }
    report.members += 1;
    let salt = spec.code.len();
    let roles = match index {
        0 => vec!["chair".to_owned()],
        1..=4 => vec!["vice_chair".to_owned(), "standing_committee".to_owned()],
        5 => vec![
            "secretary_general".to_owned(),
            "standing_committee".to_owned(),
        ],
        _ if index.is_multiple_of(5) => vec!["standing_committee".to_owned()],
        _ => vec!["member".to_owned()],
    };
    let fields = MemberFields {
        member_no,
        name: format!(
            "{}{}",
            SURNAMES[(index + salt) % SURNAMES.len()],
            GIVEN_NAMES[(index * 7 + salt) % GIVEN_NAMES.len()]
        ),
        gender: Some(if index.is_multiple_of(2) {
            Gender::Male
        } else {
            Gender::Female
        }),
        sector: SECTORS[index % SECTORS.len()].to_owned(),
        party: PARTIES[index % PARTIES.len()].to_owned(),
        employer_title: None,
        street: Some(spec.streets[index % spec.streets.len()].to_owned()),
        term: TERM,
        roles,
        resides_in_district: index % 4 != 3,
        status: MemberStatus::Active,
        phone: None,
        email: None,
    };
    let member = db::members::insert(conn, district, fields).await?;
    let change = Change::new("create", Entity::Member, member.id, Some(district));
    audited(conn, change.after(&MemberView::from(member.clone()))).await?;
    Ok(member.id)
}

fn workstation_name(spec: &DistrictSpec, kind: WorkstationKind, number: usize) -> String {
    let suffix = if spec.studios {
        "委员工作室"
    } else {
        "委员工作站"
    };
    let pick = |list: &[&str]| list[number % list.len()].to_owned();
    let base = match kind {
        WorkstationKind::Sector => format!("界别{}", number + 1),
        WorkstationKind::Party => format!("党派{}", number + 1),
        WorkstationKind::Street => pick(spec.streets),
        WorkstationKind::Community => {
            format!("{}社区", pick(spec.streets).trim_end_matches("街道"))
        }
        WorkstationKind::Village => format!("第{}村", number + 1),
        WorkstationKind::Industry => format!("{}行业", pick(INDUSTRIES)),
        WorkstationKind::Thematic => format!("{}专题", pick(THEMES)),
        WorkstationKind::Online => format!("网上{}", number + 1),
    };
    format!("{base}{suffix}")
}

#[expect(clippy::too_many_arguments, reason = "one call site, all plain data")]
async fn seed_workstation(
    conn: &mut AsyncPgConnection,
    spec: &DistrictSpec,
    district: DistrictId,
    kind: WorkstationKind,
    name: String,
    index: usize,
    member_ids: &[MemberId],
    report: &mut SeedReport,
) -> Result<Workstation, ApiError> {
    let existing: Option<WorkstationId> = workstations::table
        .select(workstations::id)
        .filter(workstations::district_id.eq(district))
        .filter(workstations::name.eq(&name))
        .filter(workstations::deleted_at.is_null())
        .first(conn)
        .await
        .optional()?;
    let station = match existing {
        Some(id) => db::workstations::find(conn, id, Scope::All).await?,
        None => {
            report.workstations += 1;
            let fields = WorkstationFields {
                name,
                kind,
                street: Some(spec.streets[index % spec.streets.len()].to_owned()),
                address: None,
                opened_on: NaiveDate::from_ymd_opt(2019, 1, 1)
                    .and_then(|day| day.checked_add_days(Days::new(37 * index as u64))),
                convenor_member_id: member_ids.get(index % member_ids.len()).copied(),
                description: None,
            };
            let station = db::workstations::insert(conn, district, fields).await?;
            let created = crate::api::workstations::views(conn, &[station.id]).await?;
            if let Some(created) = <[_]>::first(&created) {
                let change = Change::new("create", Entity::Workstation, station.id, Some(district));
                audited(conn, change.after(created)).await?;
            }
            station
        }
    };
    // Each workstation gathers six members of its district.
    let before = crate::api::workstations::views(conn, &[station.id]).await?;
    let mut added = false;
    for offset in 0..6 {
        let member = member_ids[(index + offset * 11) % member_ids.len()];
        if db::workstations::add_member(conn, &station, member).await? {
            report.workstation_members += 1;
            added = true;
        }
    }
    let after = crate::api::workstations::views(conn, &[station.id]).await?;
    if let (true, Some(before), Some(after)) = (added, <[_]>::first(&before), <[_]>::first(&after))
    {
        let change = Change::new(
            "add_member",
            Entity::Workstation,
            station.id,
            Some(district),
        );
        audited(conn, change.before(before).after(after)).await?;
    }
    Ok(station)
}

/// One activity a month at every workstation this year, up to this month: its own six
/// members and four others of the district take part.
async fn seed_monthly_activities(
    conn: &mut AsyncPgConnection,
    station: &Workstation,
    index: usize,
    member_ids: &[MemberId],
    report: &mut SeedReport,
) -> Result<(), ApiError> {
    use chrono::Datelike;
    const KINDS: &[(ActivityKind, &str)] = &[
        (ActivityKind::Visit, "委员走访"),
        (ActivityKind::OpinionCollecting, "征求意见"),
        (ActivityKind::Salon, "委员沙龙"),
        (ActivityKind::Publicity, "政策宣传"),
        (ActivityKind::Lecture, "委员讲堂"),
    ];
    let today = crate::domain::calendar::today();
    for month in 1..=today.month() {
        let Some(held_on) = NaiveDate::from_ymd_opt(today.year(), month, 1)
            .and_then(|first| first.checked_add_days(Days::new((index as u64 * 3) % 25)))
            .filter(|day| *day <= today)
        else {
            continue;
        };
        let (kind, label) = KINDS[(index + month as usize) % KINDS.len()];
        let title = format!("{}年{month}月{label}", today.year());
        let exists: Option<crate::domain::ids::ActivityId> = activities::table
            .select(activities::id)
            .filter(activities::workstation_id.eq(station.id))
            .filter(activities::title.eq(&title))
            .filter(activities::deleted_at.is_null())
            .first(conn)
            .await
            .optional()?;
        if exists.is_some() {
            continue;
        }
        report.activities += 1;
        let own = (0..6).map(|offset| member_ids[(index + offset * 11) % member_ids.len()]);
        let guests = (0..4)
            .map(|k| member_ids[(index * 4 + month as usize * 7 + k * 13) % member_ids.len()]);
        let participants = own
            .chain(guests)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let fields = ActivityFields {
            kind,
            title,
            held_on,
            participant_ids: participants,
            people_reached: i32::try_from(30 + (index * 7 + month as usize * 11) % 120)
                .unwrap_or(30),
            opinions_collected: i32::try_from((index + month as usize) % 12).unwrap_or(0),
            summary: None,
        };
        let activity =
            db::activities::insert(conn, station.district_id, station.id, fields).await?;
        let change = Change::new(
            "create",
            Entity::Activity,
            activity.id,
            Some(station.district_id),
        );
        audited(conn, change.after(&ActivityView::from(activity))).await?;
    }
    Ok(())
}

async fn seed_online_activities(
    conn: &mut AsyncPgConnection,
    station: &Workstation,
    station_number: usize,
    count: usize,
    member_ids: &[MemberId],
    report: &mut SeedReport,
) -> Result<(), ApiError> {
    let Some(first_day) = NaiveDate::from_ymd_opt(2023, 1, 1) else {
        return Ok(());
    };
    for number in 0..count {
        let (kind, title) = if number.is_multiple_of(2) {
            (
                ActivityKind::Salon,
                format!("网上{}站在线沙龙第{}期", station_number + 1, number / 2 + 1),
            )
        } else {
            (
                ActivityKind::OnlineConsultation,
                format!("网上{}站在线学习第{}期", station_number + 1, number / 2 + 1),
            )
        };
        let exists: Option<crate::domain::ids::ActivityId> = activities::table
            .select(activities::id)
            .filter(activities::workstation_id.eq(station.id))
            .filter(activities::title.eq(&title))
            .filter(activities::deleted_at.is_null())
            .first(conn)
            .await
            .optional()?;
        if exists.is_some() {
            continue;
        }
        report.activities += 1;
        let participants = (0..3)
            .map(|offset| member_ids[(number + offset * 17) % member_ids.len()])
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let fields = ActivityFields {
            kind,
            title,
            held_on: first_day
                .checked_add_days(Days::new((number as u64 * 3) % 1000))
                .unwrap_or(first_day),
            participant_ids: participants,
            people_reached: i32::try_from(20 + (number * 13) % 180).unwrap_or(20),
            opinions_collected: i32::try_from(number % 9).unwrap_or(0),
            summary: None,
        };
        let activity =
            db::activities::insert(conn, station.district_id, station.id, fields).await?;
        let change = Change::new(
            "create",
            Entity::Activity,
            activity.id,
            Some(station.district_id),
        );
        audited(conn, change.after(&ActivityView::from(activity))).await?;
    }
    Ok(())
}
