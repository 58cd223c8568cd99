//! Closed sets of values, stored as checked text and sent as snake_case strings.

macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $code:tt,)+ }) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash,
            serde::Serialize, serde::Deserialize, utoipa::ToSchema,
            diesel::expression::AsExpression, diesel::deserialize::FromSqlRow,
        )]
        #[diesel(sql_type = ::diesel::sql_types::Text)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $code)] $variant,)+
        }

        impl $name {
            pub const ALL: &'static [Self] = &[$(Self::$variant,)+];

            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $code,)+
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(value: &str) -> Result<Self, Self::Err> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|candidate| candidate.as_str() == value)
                    .ok_or_else(|| format!("unknown {} `{value}`", stringify!($name)))
            }
        }

        impl ::diesel::serialize::ToSql<::diesel::sql_types::Text, ::diesel::pg::Pg> for $name {
            fn to_sql<'b>(
                &'b self,
                out: &mut ::diesel::serialize::Output<'b, '_, ::diesel::pg::Pg>,
            ) -> ::diesel::serialize::Result {
                <str as ::diesel::serialize::ToSql<::diesel::sql_types::Text, ::diesel::pg::Pg>>::to_sql(
                    self.as_str(),
                    out,
                )
            }
        }

        impl ::diesel::deserialize::FromSql<::diesel::sql_types::Text, ::diesel::pg::Pg> for $name {
            fn from_sql(bytes: ::diesel::pg::PgValue<'_>) -> ::diesel::deserialize::Result<Self> {
                let value = <String as ::diesel::deserialize::FromSql<
                    ::diesel::sql_types::Text,
                    ::diesel::pg::Pg,
                >>::from_sql(bytes)?;
                Ok(value.parse()?)
            }
        }
    };
}
pub(crate) use text_enum;

text_enum! {
    /// A member's gender.
    Gender {
        Male = "male",
        Female = "female",
    }
}

text_enum! {
    /// Whether a member currently serves: `active`, `suspended` or `ended`.
    MemberStatus {
        Active = "active",
        Suspended = "suspended",
        Ended = "ended",
    }
}

text_enum! {
    /// What kind of unit a department is.
    DepartmentKind {
        /// 政府部门, a government department.
        Government = "government",
        /// 党委部门, an organ of the party committee.
        Party = "party",
        /// 人民团体, a people's organization.
        PeopleOrganization = "people_organization",
        /// 事业单位, a public institution.
        PublicInstitution = "public_institution",
        /// 国有企业, a state-owned enterprise.
        Enterprise = "enterprise",
        Other = "other",
    }
}

text_enum! {
    /// The kind of a members' workstation or studio (委员工作站 / 工作室).
    WorkstationKind {
        /// 界别, for a sector.
        Sector = "sector",
        /// 党派, for a party.
        Party = "party",
        /// 街道, in a street office.
        Street = "street",
        /// 社区, in a community.
        Community = "community",
        /// 村, in a village.
        Village = "village",
        /// 行业, in an industry.
        Industry = "industry",
        /// 专题, on a theme.
        Thematic = "thematic",
        /// 网上, online.
        Online = "online",
    }
}

text_enum! {
    /// The kind of an activity held at a workstation (履职活动).
    ActivityKind {
        /// 线上咨询
        OnlineConsultation = "online_consultation",
        /// 征求意见
        OpinionCollecting = "opinion_collecting",
        /// 委员沙龙
        Salon = "salon",
        /// 讲堂
        Lecture = "lecture",
        /// 走访
        Visit = "visit",
        /// 宣传
        Publicity = "publicity",
    }
}

text_enum! {
    /// What a caller may do: `admin` everything; `clerk` read and write its district;
    /// `sync` read its district and use the sync endpoints; `auditor` read everything,
    /// including the audit trail, and write nothing. `member`, `unit` and
    /// `leaders_office` are people of a district acting for a member, a unit or a
    /// leaders' office: their own records and steps.
    Role {
        Admin = "admin",
        Clerk = "clerk",
        Sync = "sync",
        Auditor = "auditor",
        /// A member of a district (委员).
        Member = "member",
        /// A unit of a district: a handling unit or an evaluated department (单位).
        Unit = "unit",
        /// A leaders' office of a district (区委书记, 区长, 区政协主席…).
        LeadersOffice = "leaders_office",
    }
}

impl Role {
    /// Whether callers of this role belong to one district.
    pub fn is_district_scoped(self) -> bool {
        !matches!(self, Self::Admin | Self::Auditor)
    }

    /// Whether this is the role of a person acting for something of a district (a
    /// member, a unit, a leaders' office), which only an account can hold.
    pub fn is_person(self) -> bool {
        matches!(self, Self::Member | Self::Unit | Self::LeadersOffice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for kind in WorkstationKind::ALL {
            assert_eq!(kind.as_str().parse::<WorkstationKind>(), Ok(*kind));
        }
        assert_eq!(
            serde_json::to_string(&ActivityKind::OnlineConsultation).unwrap(),
            "\"online_consultation\""
        );
    }

    #[test]
    fn unknown_codes_are_refused() {
        assert!("martian".parse::<MemberStatus>().is_err());
    }
}

text_enum! {
    /// The kind of a meeting of the committee.
    MeetingKind {
        /// 全体会议, a plenary session.
        Plenary = "plenary",
        /// 常委会会议, a session of the standing committee.
        StandingCommittee = "standing_committee",
        /// 主席会议, a meeting of the chair and vice-chairs.
        Chairs = "chairs",
        /// 党组会议, a meeting of the party group.
        PartyGroup = "party_group",
        /// 专委会会议, a meeting of a special committee.
        SpecialCommittee = "special_committee",
        /// 讲堂, a lecture.
        Lecture = "lecture",
        /// 学习会, a study session.
        Study = "study",
        Other = "other",
    }
}

text_enum! {
    /// How a member attended a meeting.
    AttendanceStatus {
        /// 出席, attended.
        Present = "present",
        /// 请假, excused in advance.
        Excused = "excused",
        /// 缺席, absent without leave.
        Absent = "absent",
    }
}

text_enum! {
    /// The kind of a report to the district party committee.
    ReportKind {
        /// 工作报告, on the committee's work.
        WorkReport = "work_report",
        /// 协商报告, the outcome of a consultation.
        ConsultationReport = "consultation_report",
        /// 评议报告, the outcome of a democratic evaluation.
        EvaluationReport = "evaluation_report",
        Other = "other",
    }
}

text_enum! {
    /// How far a key task has come.
    KeyTaskStatus {
        Planned = "planned",
        InProgress = "in_progress",
        Done = "done",
    }
}

text_enum! {
    /// A record's type in the audit trail and in histories: every change the trail keeps
    /// is of one of these.
    Entity {
        Account = "account",
        Activity = "activity",
        ApiKey = "api_key",
        AuditEvent = "audit_event",
        Consultation = "consultation",
        ConsultationActivity = "consultation_activity",
        Department = "department",
        District = "district",
        Evaluation = "evaluation",
        EvaluationRating = "evaluation_rating",
        EvaluationVisit = "evaluation_visit",
        KeyTask = "key_task",
        Meeting = "meeting",
        Member = "member",
        Proposal = "proposal",
        RectificationItem = "rectification_item",
        Report = "report",
        Ruling = "ruling",
        ScoringRules = "scoring_rules",
        Workstation = "workstation",
    }
}
