//! Lists: cursor pages of live records (deletions are the change feed's).

use std::borrow::Cow;

use serde::Serialize;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::{PartialSchema, ToSchema};

use crate::db::pagination::{Cursor, DEFAULT_LIMIT, MAX_LIMIT, Order, PageRequest, PageRow};
use crate::domain::calendar::Moment;
use crate::error::ApiError;

/// One page of a list: its records, and where the next page starts. Its schema is named
/// for the record (`MemberPage` lists `Member`s, by reference).
#[derive(Debug, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to read the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

impl<T: ToSchema> PartialSchema for Page<T> {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .property(
                "items",
                ArrayBuilder::new().items(crate::api::schema::named(&T::name())),
            )
            .property(
                "next_cursor",
                ObjectBuilder::new()
                    .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
                    .description(Some(
                        "Pass as `cursor` to read the next page; `null` on the last page.",
                    )),
            )
            .required("items")
            .required("next_cursor")
            .description(Some(format!("A page of a list of {} records.", T::name())))
            .into()
    }
}

impl<T: ToSchema> ToSchema for Page<T> {
    fn name() -> Cow<'static, str> {
        format!("{}Page", T::name()).into()
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((T::name().into_owned(), T::schema()));
        T::schemas(schemas);
    }
}

/// Not the shape of any cursor (`^[A-Za-z0-9_-]+$`): the request does not match the spec
/// (400). A cursor of that shape that the list did not issue cannot be used (422).
pub fn check_cursor_shape(text: &str) -> Result<(), ApiError> {
    let shaped = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if shaped {
        Ok(())
    } else {
        Err(ApiError::BadRequest(
            "cursor must be a next_cursor of this list".into(),
        ))
    }
}

/// The paging parameters every list shares, as read from the query string.
#[derive(Debug, Default)]
pub struct PageParams {
    /// The list's name: a cursor of one list is no cursor of another.
    pub list: &'static str,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    pub sort: Option<Order>,
    pub updated_since: Option<Moment>,
}

impl PageParams {
    /// Checks the parameters; lists are in creation order unless `sort` says otherwise,
    /// and in change order when `updated_since` is given.
    pub fn request(self) -> Result<PageRequest, ApiError> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::BadRequest(format!(
                "limit must be between 1 and {MAX_LIMIT}"
            )));
        }
        let order = match (self.sort, self.updated_since) {
            (Some(order), _) => order,
            (None, Some(_)) => Order::UpdatedAt,
            (None, None) => Order::Created,
        };
        if self.updated_since.is_some() && order != Order::UpdatedAt {
            return Err(ApiError::rule(
                "sort",
                "must be updated_at (or absent) with updated_since: it reads the change feed",
            ));
        }
        let after = match self.cursor {
            None => None,
            Some(text) => {
                check_cursor_shape(&text)?;
                let cursor = Cursor::decode(self.list, &text)
                    .ok_or_else(|| ApiError::unknown("cursor", "is not a cursor of this list"))?;
                if cursor.order != order {
                    return Err(ApiError::rule(
                        "cursor",
                        "belongs to the list in another sort order",
                    ));
                }
                Some(cursor)
            }
        };
        Ok(PageRequest {
            list: self.list,
            limit,
            order,
            after,
            updated_since: self.updated_since.map(Moment::get),
        })
    }
}

/// Turns the rows read for a page (one more than the limit, if there are more) into the
/// answer.
pub fn page<R: PageRow, V>(
    mut rows: Vec<R>,
    request: &PageRequest,
    view: impl FnMut(R) -> V,
) -> Page<V> {
    let limit = usize::try_from(request.limit).unwrap_or(usize::MAX);
    let next_cursor = if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(|row| {
            Cursor {
                order: request.order,
                value: row.sort_value(request.order),
                id: row.row_id(),
            }
            .encode(request.list)
        })
    } else {
        None
    };
    let items = rows.into_iter().map(view).collect();
    Page { items, next_cursor }
}

/// Declares the query parameters of a list: its filters, then the paging and change-feed
/// parameters every list shares, with `sort` limited to the given orders.
macro_rules! list_query {
    (
        $(#[$meta:meta])* $name:ident, sort: $sort:ident { $($variant:ident = $code:tt),+ $(,)? },
        { $($(#[$field_meta:meta])* $field:ident: $ty:ty,)* }
    ) => {
        /// The orders this list can be read in.
        #[derive(Debug, Clone, Copy, serde::Deserialize, utoipa::ToSchema)]
        pub enum $sort {
            $(#[serde(rename = $code)] $variant,)+
        }

        impl From<$sort> for $crate::db::pagination::Order {
            fn from(sort: $sort) -> Self {
                match sort {
                    $($sort::$variant => Self::$variant,)+
                }
            }
        }

        $(#[$meta])*
        #[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
        #[serde(deny_unknown_fields)]
        #[into_params(parameter_in = Query)]
        pub struct $name {
            $($(#[$field_meta])* pub $field: Option<$ty>,)*
            /// Page size, 1 to 200 (default 50).
            #[param(minimum = 1, maximum = 200)]
            pub limit: Option<i64>,
            /// The `next_cursor` of the previous page.
            #[param(min_length = 1, pattern = r"^[A-Za-z0-9_-]+$")]
            pub cursor: Option<String>,
            /// Sort order (default `created`, or `updated_at` with `updated_since`).
            #[param(inline)]
            pub sort: Option<$sort>,
            /// Only records changed at or after this time (RFC 3339), sorted by
            /// (`updated_at`, `id`); deletions are in the change feed (`/changes`).
            pub updated_since: Option<$crate::domain::calendar::Moment>,
        }

        impl $name {
            /// The paging part of the query.
            pub fn page(&self) -> Result<$crate::db::pagination::PageRequest, $crate::error::ApiError> {
                $crate::api::page::PageParams {
                    list: stringify!($name),
                    limit: self.limit,
                    cursor: self.cursor.clone(),
                    sort: self.sort.map(Into::into),
                    updated_since: self.updated_since,
                }
                .request()
            }
        }
    };
}
pub(crate) use list_query;
