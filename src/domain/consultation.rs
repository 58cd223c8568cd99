//! Consultation topics (协商议题) of a district's annual plan, as a state machine.

use crate::domain::kinds::text_enum;

text_enum! {
    /// Where a consultation topic stands.
    ConsultationStatus {
        /// In the year's plan, not begun.
        Planned = "planned",
        /// Its activities are being held.
        InProgress = "in_progress",
        /// Its outcome report (协商报告) is written and sent.
        Reported = "reported",
        Closed = "closed",
    }
}

text_enum! {
    /// A step of a topic, taken with `POST /consultations/{id}/<action>`.
    ConsultationAction {
        Start = "start",
        Report = "report",
        Close = "close",
    }
}

text_enum! {
    /// The format of a consultation activity.
    ConsultationFormat {
        /// 专题协商会
        ThematicMeeting = "thematic_meeting",
        /// 议政性常委会会议
        StandingCommittee = "standing_committee",
        /// 对口协商
        Counterpart = "counterpart",
        /// 界别协商
        Sector = "sector",
        /// 提案办理协商
        ProposalHandling = "proposal_handling",
        /// 街巷微协商
        StreetMicro = "street_micro",
    }
}

/// The actions allowed from `status`.
pub fn allowed_actions(status: ConsultationStatus) -> Vec<ConsultationAction> {
    use ConsultationAction as A;
    use ConsultationStatus as S;
    match status {
        S::Planned => vec![A::Start],
        S::InProgress => vec![A::Report],
        S::Reported => vec![A::Close],
        S::Closed => Vec::new(),
    }
}

/// The status after `action`, or `None` when it is not allowed.
pub fn next(status: ConsultationStatus, action: ConsultationAction) -> Option<ConsultationStatus> {
    use ConsultationAction as A;
    use ConsultationStatus as S;
    if !allowed_actions(status).contains(&action) {
        return None;
    }
    Some(match action {
        A::Start => S::InProgress,
        A::Report => S::Reported,
        A::Close => S::Closed,
    })
}

/// Whether activities may be added or changed: until the report is written.
pub fn takes_activities(status: ConsultationStatus) -> bool {
    matches!(
        status,
        ConsultationStatus::Planned | ConsultationStatus::InProgress
    )
}

/// Xicheng's bar: at least this many key topics a year.
pub const KEY_TOPICS_PER_YEAR: usize = 5;
/// Xicheng's bar: this many activities per topic.
pub const ACTIVITIES_PER_TOPIC: std::ops::RangeInclusive<usize> = 6..=8;

#[cfg(test)]
mod tests {
    use super::*;
    use ConsultationAction as A;
    use ConsultationStatus as S;

    #[test]
    fn every_status_and_action_pair_moves_or_is_refused() {
        for status in S::ALL {
            for action in A::ALL {
                let expected = match (status, action) {
                    (S::Planned, A::Start) => Some(S::InProgress),
                    (S::InProgress, A::Report) => Some(S::Reported),
                    (S::Reported, A::Close) => Some(S::Closed),
                    _ => None,
                };
                assert_eq!(next(*status, *action), expected, "{status:?} {action:?}");
                assert_eq!(
                    expected.is_some(),
                    allowed_actions(*status).contains(action)
                );
            }
        }
    }

    #[test]
    fn activities_are_taken_until_the_report() {
        assert!(takes_activities(S::Planned));
        assert!(takes_activities(S::InProgress));
        assert!(!takes_activities(S::Reported));
        assert!(!takes_activities(S::Closed));
    }
}
