//! Democratic evaluations (民主评议) of a department: the phases and their steps, the
//! ratings' score and grade, and the state machine of a rectification item (整改事项).

use crate::domain::kinds::text_enum;

text_enum! {
    /// Where an evaluation stands.
    EvaluationPhase {
        /// Evaluators are chosen and trained.
        Preparation = "preparation",
        /// Evaluators visit the department (调研).
        Investigation = "investigation",
        /// Evaluators rate the department (民主测评).
        Deliberation = "deliberation",
        /// The report's findings are being rectified (整改).
        Rectification = "rectification",
        /// The result (score and grade) is stored.
        Concluded = "concluded",
    }
}

text_enum! {
    /// A step of an evaluation.
    EvaluationAction {
        StartInvestigation = "start_investigation",
        StartDeliberation = "start_deliberation",
        /// Carries the report (评议报告); each finding becomes a rectification item.
        StartRectification = "start_rectification",
        Conclude = "conclude",
    }
}

text_enum! {
    /// What evaluators rate (测评内容).
    Criterion {
        /// 履职尽责
        PerformanceOfDuties = "performance_of_duties",
        /// 工作作风
        WorkStyle = "work_style",
        /// 服务效能
        ServiceEfficiency = "service_efficiency",
        /// 廉洁自律
        Integrity = "integrity",
    }
}

text_enum! {
    /// An evaluator's rating on one criterion.
    Rating {
        /// 满意: 100 points.
        Satisfied = "satisfied",
        /// 基本满意: 60 points.
        BasicallySatisfied = "basically_satisfied",
        /// 不满意: 0 points.
        Unsatisfied = "unsatisfied",
    }
}

text_enum! {
    /// The grade of a concluded evaluation.
    Grade {
        /// 优秀: a score of 90 or more.
        Excellent = "excellent",
        /// 良好: 75 or more.
        Good = "good",
        /// 一般: 60 or more.
        Fair = "fair",
        /// 较差: below 60.
        Poor = "poor",
    }
}

text_enum! {
    /// Where a rectification item stands.
    ItemStatus {
        Open = "open",
        InProgress = "in_progress",
        /// The department reports it done.
        Done = "done",
        /// The committee has checked it.
        Verified = "verified",
        /// Moved to next year's work, with a reason.
        CarriedOver = "carried_over",
    }
}

text_enum! {
    /// A step of a rectification item.
    ItemAction {
        /// A dated progress note; the status stays.
        Note = "note",
        Start = "start",
        Complete = "complete",
        Verify = "verify",
        /// Back to in_progress when the check finds it unfinished.
        Reopen = "reopen",
        CarryOver = "carry_over",
    }
}

impl Rating {
    pub fn points(self) -> u32 {
        match self {
            Self::Satisfied => 100,
            Self::BasicallySatisfied => 60,
            Self::Unsatisfied => 0,
        }
    }
}

/// The actions allowed in `phase`.
pub fn allowed_actions(phase: EvaluationPhase) -> Vec<EvaluationAction> {
    use EvaluationAction as A;
    use EvaluationPhase as P;
    match phase {
        P::Preparation => vec![A::StartInvestigation],
        P::Investigation => vec![A::StartDeliberation],
        P::Deliberation => vec![A::StartRectification],
        P::Rectification => vec![A::Conclude],
        P::Concluded => Vec::new(),
    }
}

/// The phase after `action`, or `None` when it is not allowed.
pub fn next(phase: EvaluationPhase, action: EvaluationAction) -> Option<EvaluationPhase> {
    use EvaluationAction as A;
    use EvaluationPhase as P;
    if !allowed_actions(phase).contains(&action) {
        return None;
    }
    Some(match action {
        A::StartInvestigation => P::Investigation,
        A::StartDeliberation => P::Deliberation,
        A::StartRectification => P::Rectification,
        A::Conclude => P::Concluded,
    })
}

/// Evaluators may be added and removed only while the evaluation is being prepared.
pub fn evaluators_changeable(phase: EvaluationPhase) -> bool {
    phase == EvaluationPhase::Preparation
}

/// Training can be recorded until deliberation begins.
pub fn training_recordable(phase: EvaluationPhase) -> bool {
    matches!(
        phase,
        EvaluationPhase::Preparation | EvaluationPhase::Investigation
    )
}

/// The mean of the ratings' points, to two decimals; `None` without ratings.
pub fn score(ratings: impl IntoIterator<Item = Rating>) -> Option<f64> {
    let (count, total) = ratings
        .into_iter()
        .fold((0u32, 0u32), |(count, total), rating| {
            (count + 1, total + rating.points())
        });
    (count > 0).then(|| (f64::from(total) * 100.0 / f64::from(count)).round() / 100.0)
}

/// The grade of a score.
pub fn grade(score: f64) -> Grade {
    if score >= 90.0 {
        Grade::Excellent
    } else if score >= 75.0 {
        Grade::Good
    } else if score >= 60.0 {
        Grade::Fair
    } else {
        Grade::Poor
    }
}

/// The actions allowed on an item in `status`.
pub fn item_actions(status: ItemStatus) -> Vec<ItemAction> {
    use ItemAction as A;
    use ItemStatus as S;
    match status {
        S::Open => vec![A::Note, A::Start, A::CarryOver],
        S::InProgress => vec![A::Note, A::Complete, A::CarryOver],
        S::Done => vec![A::Note, A::Verify, A::Reopen, A::CarryOver],
        S::Verified | S::CarriedOver => Vec::new(),
    }
}

/// The item's status after `action`, or `None` when it is not allowed.
pub fn item_next(status: ItemStatus, action: ItemAction) -> Option<ItemStatus> {
    use ItemAction as A;
    use ItemStatus as S;
    if !item_actions(status).contains(&action) {
        return None;
    }
    Some(match action {
        A::Note => status,
        A::Start | A::Reopen => S::InProgress,
        A::Complete => S::Done,
        A::Verify => S::Verified,
        A::CarryOver => S::CarriedOver,
    })
}

/// Whether an item no longer holds back the conclusion.
pub fn item_settled(status: ItemStatus) -> bool {
    matches!(status, ItemStatus::Verified | ItemStatus::CarriedOver)
}

#[cfg(test)]
mod tests {
    use super::*;
    use EvaluationAction as A;
    use EvaluationPhase as P;

    #[test]
    fn every_phase_and_action_pair_moves_or_is_refused() {
        for phase in P::ALL {
            for action in A::ALL {
                let expected = match (phase, action) {
                    (P::Preparation, A::StartInvestigation) => Some(P::Investigation),
                    (P::Investigation, A::StartDeliberation) => Some(P::Deliberation),
                    (P::Deliberation, A::StartRectification) => Some(P::Rectification),
                    (P::Rectification, A::Conclude) => Some(P::Concluded),
                    _ => None,
                };
                assert_eq!(next(*phase, *action), expected, "{phase:?} {action:?}");
            }
        }
    }

    #[test]
    fn every_item_status_and_action_pair_moves_or_is_refused() {
        use ItemAction as IA;
        use ItemStatus as S;
        for status in S::ALL {
            for action in IA::ALL {
                let unsettled = matches!(status, S::Open | S::InProgress | S::Done);
                let expected = match (status, action) {
                    (_, IA::Note) if unsettled => Some(*status),
                    (_, IA::CarryOver) if unsettled => Some(S::CarriedOver),
                    (S::Open, IA::Start) | (S::Done, IA::Reopen) => Some(S::InProgress),
                    (S::InProgress, IA::Complete) => Some(S::Done),
                    (S::Done, IA::Verify) => Some(S::Verified),
                    _ => None,
                };
                assert_eq!(
                    item_next(*status, *action),
                    expected,
                    "{status:?} {action:?}"
                );
            }
            assert_eq!(item_settled(*status), item_actions(*status).is_empty());
        }
    }

    #[test]
    fn the_score_averages_the_points_of_every_rating() {
        use Rating as R;
        assert_eq!(score([]), None);
        assert_eq!(score([R::Satisfied, R::Satisfied]), Some(100.0));
        assert_eq!(score([R::Satisfied, R::BasicallySatisfied]), Some(80.0));
        assert_eq!(
            score([R::Satisfied, R::BasicallySatisfied, R::Unsatisfied]),
            Some(53.33)
        );
        assert_eq!(
            score([R::BasicallySatisfied, R::Satisfied, R::Satisfied]),
            Some(86.67)
        );
    }

    #[test]
    fn grades_follow_the_thresholds() {
        assert_eq!(grade(100.0), Grade::Excellent);
        assert_eq!(grade(90.0), Grade::Excellent);
        assert_eq!(grade(89.99), Grade::Good);
        assert_eq!(grade(75.0), Grade::Good);
        assert_eq!(grade(74.99), Grade::Fair);
        assert_eq!(grade(60.0), Grade::Fair);
        assert_eq!(grade(59.99), Grade::Poor);
        assert_eq!(grade(0.0), Grade::Poor);
    }
}
