//! The change feed's collections and cursors.
//!
//! A cursor is a position in the order every feed reader sees: (transaction id, sequence
//! number) of the last change delivered. Everything at or before it has been delivered;
//! nothing can be written at or before it later, because the feed only passes changes of
//! transactions older than every transaction still running.

use crate::domain::cursor;
use crate::domain::kinds::text_enum;

text_enum! {
    /// A collection the feed and the snapshot carry.
    Collection {
        Districts = "districts",
        Departments = "departments",
        Members = "members",
        Workstations = "workstations",
        Activities = "activities",
        Proposals = "proposals",
        Consultations = "consultations",
        ConsultationActivities = "consultation_activities",
        Evaluations = "evaluations",
        EvaluationVisits = "evaluation_visits",
        RectificationItems = "rectification_items",
        Rulings = "rulings",
        Meetings = "meetings",
        Reports = "reports",
        KeyTasks = "key_tasks",
        Accounts = "accounts",
    }
}

/// A position in the feed: the change of (`txid`, `seq`) and every one before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Cursor {
    pub txid: i64,
    pub seq: i64,
}

impl Cursor {
    /// The position after every change of a transaction below `horizon`.
    pub fn below(horizon: i64) -> Self {
        Self {
            txid: horizon - 1,
            seq: i64::MAX,
        }
    }

    /// The position as handed out: `txid.seq.signature`.
    pub fn encode(self) -> String {
        let text = format!("{}.{}", self.txid, self.seq);
        let tag = cursor::tag(cursor::Kind::Feed, &text);
        format!("{text}.{tag}")
    }

    /// A position this service handed out, unaltered. Text not of the shape is `Shape`
    /// (the request does not match the API's schema); of the shape but not issued here,
    /// or altered, is `Foreign`.
    pub fn parse(text: &str) -> Result<Self, Refused> {
        let (position, tag) = text.rsplit_once('.').ok_or(Refused::Shape)?;
        let (txid, seq) = position.split_once('.').ok_or(Refused::Shape)?;
        // Each part is 1 to 19 digits, as the API's schema says.
        let part = |digits: &str| {
            if (1..=19).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
                Ok(digits
                    .parse::<u64>()
                    .map_or(i64::MAX, |value| i64::try_from(value).unwrap_or(i64::MAX)))
            } else {
                Err(Refused::Shape)
            }
        };
        let shaped_tag = tag.len() == cursor::TAG_CHARS
            && tag
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        let (txid, seq) = (part(txid)?, part(seq)?);
        if !shaped_tag {
            return Err(Refused::Shape);
        }
        if !cursor::verify(cursor::Kind::Feed, position, tag) {
            return Err(Refused::Foreign);
        }
        Ok(Self { txid, seq })
    }
}

/// Why a feed cursor is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Not `txid.seq.signature` with digits and base64url.
    Shape,
    /// Of that shape, but not handed out by this service, or altered.
    Foreign,
}

/// The collections named in `text` (comma-separated), each once, in the list's order;
/// all of them when absent.
pub fn collections(text: Option<&str>) -> Result<Vec<Collection>, String> {
    let Some(text) = text else {
        return Ok(Collection::ALL.to_vec());
    };
    let mut named = Vec::new();
    for part in text.split(',') {
        let collection: Collection = part.parse().map_err(|_| {
            format!(
                "unknown collection `{part}`; the feed carries {}",
                Collection::ALL
                    .iter()
                    .map(|c| c.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
        named.push(collection);
    }
    Ok(Collection::ALL
        .iter()
        .copied()
        .filter(|collection| named.contains(collection))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_what_it_wrote() {
        let cursor = Cursor {
            txid: 9_212,
            seq: 77,
        };
        assert_eq!(Cursor::parse(&cursor.encode()), Ok(cursor));
        assert_eq!(Cursor::parse(&Cursor::below(10).encode()).unwrap().txid, 9);
        for bad in [
            "",
            "12",
            "a.b",
            "1.",
            ".1",
            "-1.2",
            "+1.2",
            "1.2.3",
            "12345678901234567890.1",
        ] {
            assert_eq!(Cursor::parse(bad), Err(Refused::Shape), "{bad}");
        }
        // The right shape, but not signed here, or altered: foreign.
        let encoded = cursor.encode();
        let (_, tag) = encoded.rsplit_once('.').unwrap();
        for foreign in [format!("9212.78.{tag}"), format!("9213.77.{tag}")] {
            assert_eq!(Cursor::parse(&foreign), Err(Refused::Foreign), "{foreign}");
        }
        let other =
            crate::domain::cursor::tag(crate::domain::cursor::Kind::Page("changes"), "9212.77");
        assert_eq!(
            Cursor::parse(&format!("9212.77.{other}")),
            Err(Refused::Foreign)
        );
    }

    #[test]
    fn below_a_horizon_passes_every_change_of_older_transactions_and_none_newer() {
        let cursor = Cursor::below(100);
        assert!(
            cursor
                > Cursor {
                    txid: 99,
                    seq: 1 << 40
                }
        );
        assert!(cursor < Cursor { txid: 100, seq: 0 });
    }

    #[test]
    fn collections_are_named_once_in_the_list_order() {
        assert_eq!(collections(None).unwrap(), Collection::ALL);
        assert_eq!(
            collections(Some("members,departments,members")).unwrap(),
            [Collection::Departments, Collection::Members]
        );
        assert!(collections(Some("members,keys")).is_err());
        assert!(
            collections(Some("members, departments")).is_err(),
            "names are exact, as the schema's pattern says"
        );
    }
}
