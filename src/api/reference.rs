//! `/api/v1/sectors`, `/api/v1/parties`, `/api/v1/member-roles`: the controlled lists.

use actix_web::{get, web};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::api::policy::read;

use crate::api::work::Db;
use crate::db::reference::{self as db, ListEntry};
use crate::error::ApiError;

pub fn configure(config: &mut ServiceConfig) {
    use crate::domain::access::DistrictOf::*;
    config
        .service(read(Nothing, list_sectors))
        .service(read(Nothing, list_parties))
        .service(read(Nothing, list_member_roles))
        .service(read(Nothing, list_proposal_categories));
}

/// An entry of a controlled list: the code is the API value, the names are for people.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListItem {
    #[schema(example = "medicine_health")]
    pub code: String,
    #[schema(example = "医药卫生界")]
    pub name_zh: String,
    #[schema(example = "Medicine and health")]
    pub name_en: String,
}

/// A whole controlled list (these lists are short; they are not paged).
#[derive(Debug, Serialize, ToSchema)]
pub struct ListItems {
    pub items: Vec<ListItem>,
}

fn items(entries: Vec<ListEntry>) -> web::Json<ListItems> {
    web::Json(ListItems {
        items: entries
            .into_iter()
            .map(|entry| ListItem {
                code: entry.code,
                name_zh: entry.name_zh,
                name_en: entry.name_en,
            })
            .collect(),
    })
}

/// List the sectors (界别) a member can belong to.
#[utoipa::path(tag = "reference", responses((status = 200, description = "The sectors", body = ListItems)))]
#[get("/sectors")]
async fn list_sectors(pool: Db) -> Result<web::Json<ListItems>, ApiError> {
    let mut conn = pool.conn().await?;
    Ok(items(db::sectors(&mut conn).await?))
}

/// List the parties (党派) a member can belong to.
#[utoipa::path(tag = "reference", responses((status = 200, description = "The parties", body = ListItems)))]
#[get("/parties")]
async fn list_parties(pool: Db) -> Result<web::Json<ListItems>, ApiError> {
    let mut conn = pool.conn().await?;
    Ok(items(db::parties(&mut conn).await?))
}

/// List the roles a member can hold in the committee.
#[utoipa::path(tag = "reference", responses((status = 200, description = "The member roles", body = ListItems)))]
#[get("/member-roles")]
async fn list_member_roles(pool: Db) -> Result<web::Json<ListItems>, ApiError> {
    let mut conn = pool.conn().await?;
    Ok(items(db::member_roles(&mut conn).await?))
}

/// List the categories a proposal can have.
#[utoipa::path(tag = "reference", responses((status = 200, description = "The proposal categories", body = ListItems)))]
#[get("/proposal-categories")]
async fn list_proposal_categories(pool: Db) -> Result<web::Json<ListItems>, ApiError> {
    let mut conn = pool.conn().await?;
    Ok(items(db::proposal_categories(&mut conn).await?))
}
