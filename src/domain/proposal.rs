//! The proposal (提案) workflow as a state machine: from (status, action) to the next
//! status, or a refusal naming what is allowed.

use crate::domain::kinds::text_enum;

text_enum! {
    /// Where a proposal stands.
    ProposalStatus {
        /// 草稿: being written; only now may its text change.
        Draft = "draft",
        /// 已提交: waiting for the committee's review.
        Submitted = "submitted",
        /// 立案: accepted and numbered.
        Filed = "filed",
        /// 不立案: not accepted (possibly forwarded as an opinion).
        NotFiled = "not_filed",
        /// 并案: merged into another proposal.
        Merged = "merged",
        /// 交办: with its handling units.
        Assigned = "assigned",
        /// 答复: answered by the lead unit.
        Replied = "replied",
        /// 办结: done.
        Closed = "closed",
        /// 撤回: withdrawn by its proposer before filing.
        Withdrawn = "withdrawn",
    }
}

text_enum! {
    /// A step of the workflow, taken with `POST /proposals/{id}/<action>`.
    ProposalAction {
        Submit = "submit",
        File = "file",
        Reject = "reject",
        Merge = "merge",
        Assign = "assign",
        Extend = "extend",
        Reply = "reply",
        Feedback = "feedback",
        Withdraw = "withdraw",
    }
}

text_enum! {
    /// The proposer's verdict on the reply.
    Verdict {
        /// 满意
        Satisfied = "satisfied",
        /// 基本满意
        BasicallySatisfied = "basically_satisfied",
        /// 不满意: the first time, the proposal goes back to its units.
        Unsatisfied = "unsatisfied",
    }
}

text_enum! {
    /// Who proposes: a member (alone or jointly with co-signers), a party or group, a
    /// sector group, or a special committee.
    ProposalKind {
        /// 委员个人提案
        Member = "member",
        /// 联名提案
        Joint = "joint",
        /// 党派团体提案
        PartyGroup = "party_group",
        /// 界别提案
        SectorGroup = "sector_group",
        /// 专委会提案
        Committee = "committee",
    }
}

impl ProposalKind {
    /// Whether a member (rather than an organization) proposes.
    pub fn by_member(self) -> bool {
        matches!(self, Self::Member | Self::Joint)
    }
}

text_enum! {
    /// The result class of a reply.
    ReplyResult {
        /// 已解决或采纳: solved or adopted.
        A = "A",
        /// 正在解决或列入计划: being solved or planned.
        B = "B",
        /// 留作参考: kept for reference.
        C = "C",
    }
}

text_enum! {
    /// What a proposal that is not filed is passed on as.
    ForwardAs {
        /// 意见建议
        Opinion = "opinion",
        /// 社情民意
        SocialConditions = "social_conditions",
    }
}

/// What the machine needs to know besides the status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// The reply due date was extended already (once is the limit).
    pub extended: bool,
    /// An unsatisfied verdict already sent it back once.
    pub rehandled: bool,
}

/// A move the workflow does not allow from where the proposal stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub status: ProposalStatus,
    pub allowed: Vec<ProposalAction>,
}

/// The actions allowed from `status`.
pub fn allowed_actions(status: ProposalStatus, progress: Progress) -> Vec<ProposalAction> {
    use ProposalAction as A;
    use ProposalStatus as S;
    match status {
        S::Draft => vec![A::Submit, A::Withdraw],
        S::Submitted => vec![A::File, A::Reject, A::Merge, A::Withdraw],
        S::Filed => vec![A::Assign],
        S::Assigned if progress.extended => vec![A::Reply],
        S::Assigned => vec![A::Extend, A::Reply],
        S::Replied => vec![A::Feedback],
        S::NotFiled | S::Merged | S::Closed | S::Withdrawn => Vec::new(),
    }
}

/// The status after `action`; `verdict` is the proposer's, for `feedback`.
pub fn next(
    status: ProposalStatus,
    progress: Progress,
    action: ProposalAction,
    verdict: Option<Verdict>,
) -> Result<ProposalStatus, Refused> {
    use ProposalAction as A;
    use ProposalStatus as S;
    let allowed = allowed_actions(status, progress);
    if !allowed.contains(&action) {
        return Err(Refused { status, allowed });
    }
    Ok(match action {
        A::Submit => S::Submitted,
        A::File => S::Filed,
        A::Reject => S::NotFiled,
        A::Merge => S::Merged,
        A::Assign | A::Extend => S::Assigned,
        A::Reply => S::Replied,
        A::Feedback if verdict == Some(Verdict::Unsatisfied) && !progress.rehandled => S::Assigned,
        A::Feedback => S::Closed,
        A::Withdraw => S::Withdrawn,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ProposalAction as A;
    use ProposalStatus as S;

    /// Every (status, action) pair: the next status, or `None` for a refusal.
    fn expected(status: S, action: A, progress: Progress, verdict: Option<Verdict>) -> Option<S> {
        match (status, action) {
            (S::Draft, A::Submit) => Some(S::Submitted),
            (S::Draft | S::Submitted, A::Withdraw) => Some(S::Withdrawn),
            (S::Submitted, A::File) => Some(S::Filed),
            (S::Submitted, A::Reject) => Some(S::NotFiled),
            (S::Submitted, A::Merge) => Some(S::Merged),
            (S::Filed, A::Assign) => Some(S::Assigned),
            (S::Assigned, A::Extend) if !progress.extended => Some(S::Assigned),
            (S::Assigned, A::Reply) => Some(S::Replied),
            (S::Replied, A::Feedback) => Some(
                if verdict == Some(Verdict::Unsatisfied) && !progress.rehandled {
                    S::Assigned
                } else {
                    S::Closed
                },
            ),
            _ => None,
        }
    }

    #[test]
    fn every_status_and_action_pair_moves_or_is_refused_as_the_workflow_says() {
        let progresses = [
            Progress::default(),
            Progress {
                extended: true,
                rehandled: false,
            },
            Progress {
                extended: false,
                rehandled: true,
            },
            Progress {
                extended: true,
                rehandled: true,
            },
        ];
        let verdicts = [
            None,
            Some(Verdict::Satisfied),
            Some(Verdict::BasicallySatisfied),
            Some(Verdict::Unsatisfied),
        ];
        let mut pairs = 0;
        for status in S::ALL {
            for action in A::ALL {
                for progress in progresses {
                    for verdict in verdicts {
                        pairs += 1;
                        let got = next(*status, progress, *action, verdict);
                        match expected(*status, *action, progress, verdict) {
                            Some(to) => assert_eq!(
                                got,
                                Ok(to),
                                "{status:?} {action:?} {progress:?} {verdict:?}"
                            ),
                            None => {
                                let refused = got.expect_err("refused");
                                assert_eq!(refused.status, *status);
                                assert!(!refused.allowed.contains(action));
                                assert_eq!(refused.allowed, allowed_actions(*status, progress));
                            }
                        }
                    }
                }
            }
        }
        assert_eq!(pairs, 9 * 9 * 4 * 4);
    }

    #[test]
    fn an_unsatisfied_verdict_sends_it_back_once_only() {
        let first = next(
            S::Replied,
            Progress::default(),
            A::Feedback,
            Some(Verdict::Unsatisfied),
        );
        assert_eq!(first, Ok(S::Assigned));
        let second = next(
            S::Replied,
            Progress {
                extended: false,
                rehandled: true,
            },
            A::Feedback,
            Some(Verdict::Unsatisfied),
        );
        assert_eq!(second, Ok(S::Closed));
    }

    #[test]
    fn finished_proposals_allow_nothing() {
        for status in [S::NotFiled, S::Merged, S::Closed, S::Withdrawn] {
            assert!(allowed_actions(status, Progress::default()).is_empty());
        }
    }
}
