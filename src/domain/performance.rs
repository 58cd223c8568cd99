//! Members' duty performance (委员履职): what counts, how scoring rules are checked, and
//! how a total becomes a grade. Which records count is defined once, in the database
//! (`performance_items`); the kinds here are its kinds.

use crate::domain::kinds::text_enum;

text_enum! {
    /// A kind of item that counts for a member's duty performance.
    ItemKind {
        /// Led a proposal submitted in the year.
        ProposalLed = "proposal_led",
        /// A proposal the member led was filed (立案).
        ProposalFiled = "proposal_filed",
        /// Co-signed a joint proposal submitted in the year.
        ProposalCosigned = "proposal_cosigned",
        /// Took part in a consultation activity.
        ConsultationActivity = "consultation_activity",
        /// Took part in an activity at a workstation.
        WorkstationActivity = "workstation_activity",
        /// Attended a meeting.
        MeetingPresent = "meeting_present",
        /// Was excused from a meeting (请假).
        MeetingExcused = "meeting_excused",
        /// Was absent from a meeting without leave: a penalty.
        MeetingAbsent = "meeting_absent",
        /// Served as an evaluator in a democratic evaluation of the year.
        EvaluationServed = "evaluation_served",
        /// Gave ratings in a democratic evaluation of the year (one item per evaluation).
        RatingsGiven = "ratings_given",
    }
}

impl ItemKind {
    /// Whether the kind takes points away.
    pub fn is_penalty(self) -> bool {
        matches!(self, Self::MeetingAbsent)
    }
}

text_enum! {
    /// A member's grade for the year.
    PerformanceGrade {
        /// At or above the excellent line (优秀).
        Excellent = "excellent",
        /// At or above the competent line (称职).
        Competent = "competent",
        /// Below the competent line (不称职).
        NotCompetent = "not_competent",
    }
}

/// The grade of `total` between the two lines.
pub fn grade(total: i64, competent_line: i32, excellent_line: i32) -> PerformanceGrade {
    if total >= i64::from(excellent_line) {
        PerformanceGrade::Excellent
    } else if total >= i64::from(competent_line) {
        PerformanceGrade::Competent
    } else {
        PerformanceGrade::NotCompetent
    }
}

/// The most points one item may give or take.
pub const MAX_POINTS: i64 = 100;

/// The most a line may be.
pub const MAX_LINE: i64 = 100_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grades_are_bounded_below_by_their_lines() {
        assert_eq!(grade(59, 60, 90), PerformanceGrade::NotCompetent);
        assert_eq!(grade(60, 60, 90), PerformanceGrade::Competent);
        assert_eq!(grade(89, 60, 90), PerformanceGrade::Competent);
        assert_eq!(grade(90, 60, 90), PerformanceGrade::Excellent);
        assert_eq!(grade(-5, 0, 10), PerformanceGrade::NotCompetent);
    }
}
