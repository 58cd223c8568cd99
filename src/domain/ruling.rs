//! Rulings (批示) of district leaders, as a state machine: issued, in handling once a
//! department records a measure, fed back to the committee, closed.

use crate::domain::kinds::text_enum;
use crate::domain::proposal::ProposalStatus;

text_enum! {
    /// Where a ruling stands.
    RulingStatus {
        Issued = "issued",
        /// A department has recorded a handling measure (办理举措).
        InHandling = "in_handling",
        /// The results went back to the committee (反馈).
        FedBack = "fed_back",
        Closed = "closed",
    }
}

text_enum! {
    /// A step of a ruling.
    RulingAction {
        /// Recording a measure (`POST /rulings/{id}/measures`).
        Measure = "measure",
        Feedback = "feedback",
        Close = "close",
    }
}

text_enum! {
    /// The leader who gave the ruling.
    LeaderTitle {
        /// 区委书记
        PartySecretary = "party_secretary",
        /// 区长
        DistrictMayor = "district_mayor",
        /// 区政协主席
        CommitteeChair = "committee_chair",
        /// 副职领导
        Deputy = "deputy",
        Other = "other",
    }
}

text_enum! {
    /// What a ruling is on.
    SubjectType {
        /// A consultation topic.
        Consultation = "consultation",
        Proposal = "proposal",
        /// A democratic evaluation.
        Evaluation = "evaluation",
    }
}

text_enum! {
    /// When a ruling on a proposal was given.
    RulingStage {
        /// 办前阅批: read before handling.
        Before = "before",
        /// 办中调度: scheduled during handling.
        During = "during",
        /// 办后阅签: signed off after handling.
        After = "after",
    }
}

text_enum! {
    /// How far a department's measure has come.
    MeasureStatus {
        Planned = "planned",
        InProgress = "in_progress",
        Done = "done",
    }
}

/// The actions allowed from `status`.
pub fn allowed_actions(status: RulingStatus) -> Vec<RulingAction> {
    use RulingAction as A;
    use RulingStatus as S;
    match status {
        S::Issued => vec![A::Measure],
        S::InHandling => vec![A::Measure, A::Feedback],
        S::FedBack => vec![A::Close],
        S::Closed => Vec::new(),
    }
}

/// The stages at which a leader may rule on a proposal in `status`: before its handling
/// (办前阅批: filed, not yet replied), during it (办中调度: assigned to its units) and after
/// it (办后阅签: replied or closed); none before it is filed, nor once it is not filed,
/// merged or withdrawn.
pub fn stages_allowed(status: ProposalStatus) -> Vec<RulingStage> {
    use ProposalStatus as P;
    use RulingStage as R;
    match status {
        P::Filed => vec![R::Before],
        P::Assigned => vec![R::Before, R::During],
        P::Replied | P::Closed => vec![R::After],
        P::Draft | P::Submitted | P::NotFiled | P::Merged | P::Withdrawn => Vec::new(),
    }
}

/// The status after `action`, or `None` when it is not allowed.
pub fn next(status: RulingStatus, action: RulingAction) -> Option<RulingStatus> {
    use RulingAction as A;
    use RulingStatus as S;
    if !allowed_actions(status).contains(&action) {
        return None;
    }
    Some(match action {
        A::Measure => S::InHandling,
        A::Feedback => S::FedBack,
        A::Close => S::Closed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use RulingAction as A;
    use RulingStatus as S;

    #[test]
    fn a_stage_is_allowed_exactly_where_the_proposal_stands_for_it() {
        use ProposalStatus as P;
        use RulingStage as R;
        for status in P::ALL {
            for stage in R::ALL {
                let expected = matches!(
                    (status, stage),
                    (P::Filed | P::Assigned, R::Before)
                        | (P::Assigned, R::During)
                        | (P::Replied | P::Closed, R::After)
                );
                assert_eq!(
                    stages_allowed(*status).contains(stage),
                    expected,
                    "{status:?} {stage:?}"
                );
            }
        }
    }

    #[test]
    fn every_status_and_action_pair_moves_or_is_refused() {
        for status in S::ALL {
            for action in A::ALL {
                let expected = match (status, action) {
                    (S::Issued | S::InHandling, A::Measure) => Some(S::InHandling),
                    (S::InHandling, A::Feedback) => Some(S::FedBack),
                    (S::FedBack, A::Close) => Some(S::Closed),
                    _ => None,
                };
                assert_eq!(next(*status, *action), expected, "{status:?} {action:?}");
            }
        }
    }
}
