//! The controlled lists: sectors, parties and member roles.

use std::collections::HashSet;

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::schema::{member_roles, parties, proposal_categories, sectors};

/// One entry of a controlled list.
#[derive(Debug, Clone, Queryable)]
pub struct ListEntry {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
}

macro_rules! list_fn {
    ($name:ident, $table:ident) => {
        #[tracing::instrument(skip_all)]
        pub async fn $name(conn: &mut AsyncPgConnection) -> QueryResult<Vec<ListEntry>> {
            $table::table
                .select(($table::code, $table::name_zh, $table::name_en))
                .order(($table::sort_order.asc(), $table::code.asc()))
                .load(conn)
                .await
        }
    };
}

list_fn!(sectors, sectors);
list_fn!(parties, parties);
list_fn!(member_roles, member_roles);
list_fn!(proposal_categories, proposal_categories);

/// The codes a member record may use, loaded once per write.
#[derive(Debug, Default, Clone)]
pub struct MemberCodes {
    pub sectors: HashSet<String>,
    pub parties: HashSet<String>,
    pub roles: HashSet<String>,
}

diesel::table! {
    /// The view of the three lists' codes in one row (not a table: `diesel print-schema`
    /// leaves it out of the schema).
    member_code_lists (sectors) {
        sectors -> Array<Text>,
        parties -> Array<Text>,
        roles -> Array<Text>,
    }
}

/// The three lists' codes, in one statement.
#[tracing::instrument(skip_all)]
pub async fn member_codes(mut conn: &AsyncPgConnection) -> QueryResult<MemberCodes> {
    let (sectors, parties, roles) = member_code_lists::table
        .select((
            member_code_lists::sectors,
            member_code_lists::parties,
            member_code_lists::roles,
        ))
        .first::<(Vec<String>, Vec<String>, Vec<String>)>(&mut conn)
        .await?;
    Ok(MemberCodes {
        sectors: sectors.into_iter().collect(),
        parties: parties.into_iter().collect(),
        roles: roles.into_iter().collect(),
    })
}

/// The codes of the proposal categories.
#[tracing::instrument(skip_all)]
pub async fn proposal_category_codes(mut conn: &AsyncPgConnection) -> QueryResult<HashSet<String>> {
    Ok(proposal_categories::table
        .select(proposal_categories::code)
        .load(&mut conn)
        .await?
        .into_iter()
        .collect())
}
