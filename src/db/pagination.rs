//! Keyset pagination: a page starts after the last row of the previous one, so its cost
//! does not grow with the page number and concurrent inserts never shift a page.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::domain::cursor;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;

/// The orders a list can be read in; each resource allows some of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Order {
    /// Creation order (ids are time-ordered).
    Created,
    /// Change order, (`updated_at`, `id`): the change feed.
    UpdatedAt,
    Name,
    MemberNo,
    Number,
    SubmittedAt,
    ReplyDueOn,
}

impl Order {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::UpdatedAt => "updated_at",
            Self::Name => "name",
            Self::MemberNo => "member_no",
            Self::Number => "number",
            Self::SubmittedAt => "submitted_at",
            Self::ReplyDueOn => "reply_due_on",
        }
    }
}

/// The sort value of the last row read, besides its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CursorValue {
    Time(DateTime<Utc>),
    Text(String),
    Date(chrono::NaiveDate),
    None,
}

/// Where a page starts: after this row, in this order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    #[serde(rename = "o")]
    pub order: Order,
    #[serde(rename = "v")]
    pub value: CursorValue,
    #[serde(rename = "i")]
    pub id: Uuid,
}

impl Cursor {
    /// The cursor as handed out for `list`: its fields, signed (see
    /// [`crate::domain::cursor`]).
    pub fn encode(&self, list: &'static str) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        cursor::seal(cursor::Kind::Page(list), &URL_SAFE_NO_PAD.encode(json))
    }

    /// A cursor this service issued for `list`, unaltered; `None` for any other text.
    pub fn decode(list: &'static str, text: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD
            .decode(cursor::open(cursor::Kind::Page(list), text)?)
            .ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

/// One page of a list: which rows, in which order, from where.
#[derive(Debug, Clone)]
pub struct PageRequest {
    /// The list the page is of; its cursors are its own.
    pub list: &'static str,
    pub limit: i64,
    pub order: Order,
    pub after: Option<Cursor>,
    pub updated_since: Option<DateTime<Utc>>,
}

impl PageRequest {
    /// The id after which the page starts, with the time or text sort value.
    pub fn after_time(&self) -> Option<(DateTime<Utc>, Uuid)> {
        match &self.after {
            Some(Cursor {
                value: CursorValue::Time(time),
                id,
                ..
            }) => Some((*time, *id)),
            _ => None,
        }
    }

    pub fn after_text(&self) -> Option<(String, Uuid)> {
        match &self.after {
            Some(Cursor {
                value: CursorValue::Text(text),
                id,
                ..
            }) => Some((text.clone(), *id)),
            _ => None,
        }
    }

    pub fn after_date(&self) -> Option<(chrono::NaiveDate, Uuid)> {
        match &self.after {
            Some(Cursor {
                value: CursorValue::Date(date),
                id,
                ..
            }) => Some((*date, *id)),
            _ => None,
        }
    }

    pub fn after_id(&self) -> Option<Uuid> {
        self.after.as_ref().map(|cursor| cursor.id)
    }
}

/// A row that can be paged through.
pub trait PageRow {
    fn row_id(&self) -> Uuid;
    fn deleted_at(&self) -> Option<DateTime<Utc>>;
    /// The sort value of this row in `order`.
    fn sort_value(&self, order: Order) -> CursorValue;
}

/// Implements [`PageRow`] for a row with `id`, `updated_at` and `deleted_at`, sortable by
/// the given text columns besides creation and change order.
macro_rules! page_row {
    ($row:ty $(, $order:ident => $field:ident)* $(,)?) => {
        impl $crate::db::pagination::PageRow for $row {
            fn row_id(&self) -> uuid::Uuid {
                self.id.0
            }

            fn deleted_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
                self.deleted_at
            }

            fn sort_value(
                &self,
                order: $crate::db::pagination::Order,
            ) -> $crate::db::pagination::CursorValue {
                use $crate::db::pagination::{CursorValue, Order};
                match order {
                    Order::UpdatedAt => CursorValue::Time(self.updated_at),
                    $(Order::$order => CursorValue::Text(self.$field.clone()),)*
                    _ => CursorValue::None,
                }
            }
        }
    };
}
pub(crate) use page_row;

/// Leaves deleted records out (their deletions are in the change feed), applies the bound (`updated_since`), the
/// keyset start and the order to a boxed query, and reads one row more than the page to
/// know whether another page follows.
macro_rules! paged {
    (
        $query:expr, $page:expr,
        id: $id:expr, updated_at: $updated:expr, deleted_at: $deleted:expr
        $(, $order:ident => $column:expr)* $(,)?
    ) => {{
        use $crate::db::pagination::Order;
        let page: &$crate::db::pagination::PageRequest = $page;
        let mut query = $query;
        query = query.filter($deleted.is_null());
        if let Some(since) = page.updated_since {
            query = query.filter($updated.ge(since));
        }
        query = match page.order {
            Order::UpdatedAt => {
                if let Some((time, id)) = page.after_time() {
                    query = query.filter($updated.gt(time).or($updated.eq(time).and($id.gt(id))));
                }
                query.order(($updated.asc(), $id.asc()))
            }
            $(Order::$order => {
                if let Some((text, id)) = page.after_text() {
                    query = query.filter($column.gt(text.clone()).or($column.eq(text).and($id.gt(id))));
                }
                query.order(($column.asc(), $id.asc()))
            })*
            _ => {
                if let Some(id) = page.after_id() {
                    query = query.filter($id.gt(id));
                }
                query.order($id.asc())
            }
        };
        query.limit(page.limit + 1)
    }};
}
pub(crate) use paged;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let cursor = Cursor {
            order: Order::UpdatedAt,
            value: CursorValue::Time(Utc::now()),
            id: Uuid::now_v7(),
        };
        assert_eq!(Cursor::decode("test", &cursor.encode("test")), Some(cursor));
        let cursor = Cursor {
            order: Order::Name,
            value: CursorValue::Text("王小明".into()),
            id: Uuid::now_v7(),
        };
        assert_eq!(
            Cursor::decode("test", &cursor.encode("test")),
            Some(cursor.clone())
        );
        assert_eq!(Cursor::decode("test", "not a cursor"), None);
        assert_eq!(Cursor::decode("test", &URL_SAFE_NO_PAD.encode("{}")), None);
        // The same fields, unsigned or signed as another kind, are no cursor.
        let unsigned = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&cursor).unwrap());
        assert_eq!(Cursor::decode("test", &unsigned), None);
        let foreign = cursor::seal(cursor::Kind::Trail, &unsigned);
        assert_eq!(Cursor::decode("test", &foreign), None);
        let other_list = cursor::seal(cursor::Kind::Page("other"), &unsigned);
        assert_eq!(Cursor::decode("test", &other_list), None);
    }
}
