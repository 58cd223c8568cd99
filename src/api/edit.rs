//! What every record a client edits shares: the runner of a change (`PATCH`) and of a
//! removal (`DELETE`), beside [`crate::api::workflow::perform`] for workflow steps.
//!
//! The runner owns the order, the same for every record and child record: the parent
//! locked first, then the record (404 if either is not in the caller's scope);
//! `If-Match`; whether the record (and its parent) take the change now; the merge and its
//! checks; the views before and after; the write; the audit event (for a change, only
//! if something changed); the answer with its `ETag`. A record says only what is its
//! own, by implementing [`Editable`].

use crate::domain::kinds::Entity;
use actix_web::HttpResponse;
use diesel_async::AsyncPgConnection;
use serde::Serialize;

use crate::api::audit::{record, record_if_changed};
use crate::api::auth::Caller;
use crate::api::http::{
    IfMatch, IfNoneMatch, Versioned, no_content, read_response, updated_response,
};
use crate::api::input::Checks;
use crate::api::work::{Db, Write};
use crate::db::Stored;
use crate::db::audit::Change;
use crate::error::{ApiError, not_found_as};

/// What is asked of a record: a change, or its removal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Edit {
    Update,
    Delete,
}

/// A record a client changes with `PATCH` and removes with `DELETE`.
pub(crate) trait Editable: Stored {
    /// What the path names: the record's id, or its parent's and its own.
    type Key: Send;
    /// The record it belongs to, locked before it (`()` for a record of its own).
    type Parent: Send + Sync;
    /// The body of a change.
    type Patch: Send;
    /// What the API shows of the record.
    type View: Serialize + Versioned + Send + Sync;
    /// The record's type in histories and the audit trail.
    const ENTITY: Entity;

    /// What a change is checked against besides the record: the controlled lists its
    /// codes come from (`()` for none).
    type Lists: Default + Send + Sync;

    /// The record (and its parent) in the caller's scope, locked until the transaction
    /// ends; a 404 if either is not there. [`own!`] writes it for a record of its own.
    /// Takes the connection shared: the lists and the transaction's time are asked for
    /// with it.
    fn locked(
        conn: &AsyncPgConnection,
        caller: &Caller,
        key: Self::Key,
    ) -> impl Future<Output = Result<(Self::Parent, Self), ApiError>> + Send;

    /// The record `key` names in the caller's scope, to be read (not locked; a record of
    /// a parent is checked to be that parent's); a 404 if it is not there.
    fn found(
        conn: &mut AsyncPgConnection,
        caller: &Caller,
        key: Self::Key,
    ) -> impl Future<Output = Result<Self, ApiError>> + Send;

    /// The lists, asked for together with the record.
    fn lists(
        _conn: &AsyncPgConnection,
    ) -> impl Future<Output = Result<Self::Lists, ApiError>> + Send {
        async { Ok(Self::Lists::default()) }
    }

    /// Refuses `edit` when the record or its parent does not take it now (a 409).
    fn allows(_parent: &Self::Parent, _row: &Self, _edit: Edit) -> Result<(), ApiError> {
        Ok(())
    }

    /// The fields after `patch` (JSON Merge Patch over the record's own), each problem
    /// noted in `checks`.
    fn merge(
        conn: &mut AsyncPgConnection,
        checks: &mut Checks,
        lists: &Self::Lists,
        parent: &Self::Parent,
        row: &Self,
        patch: Self::Patch,
    ) -> impl Future<Output = Result<Option<Self::Fields>, ApiError>> + Send;

    fn view(
        conn: &mut AsyncPgConnection,
        row: Self,
    ) -> impl Future<Output = Result<Self::View, ApiError>> + Send;

    /// The view after a change: [`Editable::view`] unless what the change leaves alone
    /// (children kept in another table) can be taken from the view `before` it.
    fn view_after(
        conn: &mut AsyncPgConnection,
        row: Self,
        _before: &Self::View,
    ) -> impl Future<Output = Result<Self::View, ApiError>> + Send {
        Self::view(conn, row)
    }

    /// Removes the record; answers the changes this made to other records, for the
    /// trail after the record's own event. Marks it deleted unless the record says
    /// otherwise (dependents that must go first, links that go with it).
    fn remove(
        conn: &mut AsyncPgConnection,
        row: &Self,
    ) -> impl Future<Output = Result<Vec<Change>, ApiError>> + Send {
        let id = row.id();
        async move {
            Self::mark_deleted(conn, id).await?;
            Ok(Vec::new())
        }
    }

    /// What a person may not make of the record (a member stays the lead of the
    /// proposal they edit): each refusal as a field error. Staff callers are refused
    /// nothing here.
    fn refused_to(_caller: &Caller, _fields: &Self::Fields) -> Vec<crate::error::FieldError> {
        Vec::new()
    }

    /// What the caller is shown of the view (the audit trail keeps all of it).
    fn shown(_caller: &Caller, view: Self::View) -> Self::View {
        view
    }
}

/// Declares the `GET` handler of the record `$record`: the record through [`read`], its
/// route and its OpenAPI operation (`$tag`, the path's `$params` and `If-None-Match`,
/// the record with its `ETag`).
macro_rules! get_route {
    (
        $(#[$doc:meta])*
        $name:ident: $record:ty, GET $path:literal,
        tag = $tag:literal, params($($params:tt)*), path = $path_ty:ty,
        answer = ($view:ty, $answered:literal) $(,)?
    ) => {
        $(#[$doc])*
        #[utoipa::path(
            tag = $tag,
            params($($params)*, IfNoneMatchHeader),
            responses(
                (status = 200, description = $answered, body = $view, headers(("ETag" = String))),
            ),
        )]
        #[get($path)]
        pub(crate) async fn $name(
            caller: Caller,
            pool: Db,
            path: web::Path<$path_ty>,
            condition: IfNoneMatch,
        ) -> Result<HttpResponse, ApiError> {
            $crate::api::edit::read::<$record>(&pool, caller, path.into_inner(), condition).await
        }
    };
}
pub(crate) use get_route;

/// Declares the `PATCH` handler of the record `$record`: the change through [`update`],
/// its route and its OpenAPI operation (`$tag`, the path's `$params` and `If-Match`, the
/// merge-patch body `$body`, the record after it, and the refusal `$refused` when the
/// record's state or a rule can refuse). Every record's change is declared with it.
macro_rules! patch_route {
    (
        $(#[$doc:meta])*
        $name:ident: $record:ty, PATCH $path:literal,
        tag = $tag:literal, params($($params:tt)*), path = $path_ty:ty,
        body = $body:ty, answer = ($view:ty, $answered:literal)
        $(, refused = $refused:literal)? $(,)?
    ) => {
        $(#[$doc])*
        #[utoipa::path(
            tag = $tag,
            params($($params)*, IfMatchHeader),
            request_body(content = $body, content_type = "application/merge-patch+json"),
            responses(
                (status = 200, description = $answered, body = $view, headers(("ETag" = String))),
                $((status = 409, description = $refused, body = Problem, content_type = "application/problem+json"),)?
            ),
        )]
        #[patch($path)]
        pub(crate) async fn $name(
            caller: Caller,
            pool: Db,
            path: web::Path<$path_ty>,
            condition: IfMatch,
            body: crate::api::http::Json<$body>,
        ) -> Result<HttpResponse, ApiError> {
            let key = path.into_inner();
            $crate::api::edit::update::<$record>(&pool, caller, key, condition, body.into_inner())
                .await
        }
    };
}
pub(crate) use patch_route;

/// Declares the `DELETE` handler of the record `$record`, as [`patch_route!`] its `PATCH`:
/// the removal through [`delete`], its route and its OpenAPI operation.
macro_rules! delete_route {
    (
        $(#[$doc:meta])*
        $name:ident: $record:ty, DELETE $path:literal,
        tag = $tag:literal, params($($params:tt)*), path = $path_ty:ty
        $(, refused = $refused:literal)? $(,)?
    ) => {
        $(#[$doc])*
        #[utoipa::path(
            tag = $tag,
            params($($params)*, IfMatchHeader),
            responses(
                (status = 204, description = "Deleted"),
                $((status = 409, description = $refused, body = Problem, content_type = "application/problem+json"),)?
            ),
        )]
        #[delete($path)]
        pub(crate) async fn $name(
            caller: Caller,
            pool: Db,
            path: web::Path<$path_ty>,
            condition: IfMatch,
        ) -> Result<HttpResponse, ApiError> {
            $crate::api::edit::delete::<$record>(&pool, caller, path.into_inner(), condition).await
        }
    };
}
pub(crate) use delete_route;

/// `Key`, `Parent`, [`Editable::locked`] and [`Editable::found`] for a record of its own (no parent): its id
/// in the path, and the live record in the caller's scope, locked, or a 404 naming
/// `$what`.
macro_rules! own {
    ($id:ty, $what:literal) => {
        type Key = $id;
        type Parent = ();

        async fn locked(
            conn: &diesel_async::AsyncPgConnection,
            caller: &$crate::api::auth::Caller,
            id: $id,
        ) -> Result<((), Self), $crate::error::ApiError> {
            let row = <Self as $crate::db::Stored>::lock(conn, id, caller.scope())
                .await
                .map_err($crate::error::not_found_as($what))?;
            Ok(((), row))
        }

        async fn found(
            conn: &mut diesel_async::AsyncPgConnection,
            caller: &$crate::api::auth::Caller,
            id: $id,
        ) -> Result<Self, $crate::error::ApiError> {
            <Self as $crate::db::Stored>::find(conn, id, caller.scope())
                .await
                .map_err($crate::error::not_found_as($what))
        }
    };
}
pub(crate) use own;

/// The record `key` names, with its `ETag`, or `304` if the client holds it already.
pub(crate) async fn read<R: Editable>(
    pool: &Db,
    caller: Caller,
    key: R::Key,
    condition: IfNoneMatch,
) -> Result<HttpResponse, ApiError> {
    let mut conn = pool.conn().await?;
    let row = R::found(&mut conn, &caller, key).await?;
    let view = R::view(&mut conn, row).await?;
    Ok(read_response(&R::shown(&caller, view), &condition))
}

/// A record of a parent: the live record `id` in the caller's scope (locked until the
/// transaction ends with `lock`), if `of_parent` says it is the parent's the path names;
/// a 404 naming `what` otherwise, so one parent's path never reaches another's records.
pub(crate) async fn child<R: Stored>(
    conn: &AsyncPgConnection,
    caller: &Caller,
    id: R::Id,
    lock: bool,
    what: &'static str,
    of_parent: impl FnOnce(&R) -> bool,
) -> Result<R, ApiError> {
    let row = if lock {
        R::lock(conn, id, caller.scope()).await
    } else {
        R::find(conn, id, caller.scope()).await
    }
    .map_err(not_found_as(what))?;
    if of_parent(&row) {
        Ok(row)
    } else {
        Err(ApiError::not_found(what))
    }
}

/// Changes the record `key` names with `patch`, all of it or none of it, and answers the
/// record after it with its `ETag`.
pub(crate) async fn update<R: Editable>(
    pool: &Db,
    caller: Caller,
    key: R::Key,
    condition: IfMatch,
    patch: R::Patch,
) -> Result<HttpResponse, ApiError> {
    let mut conn = pool.conn().await?;
    let shown = conn
        .write(async move |tx| {
            // The record, the lists and the time the transaction began, in one round trip
            // (with the BEGIN).
            let (locked, lists, now) = {
                let shared: &AsyncPgConnection = tx;
                futures_util::future::join3(
                    R::locked(shared, &caller, key),
                    R::lists(shared),
                    crate::db::transaction_time(shared),
                )
                .await
            };
            let (parent, current) = locked?;
            let (lists, now) = (lists?, now?);
            condition.check(current.version())?;
            R::allows(&parent, &current, Edit::Update)?;
            let mut checks = Checks::default();
            let fields = R::merge(tx, &mut checks, &lists, &parent, &current, patch).await?;
            if let Some(fields) = &fields {
                checks.extend(R::refused_to(&caller, fields));
            }
            let fields = checks.finish(fields)?;
            let before = R::view(tx, current.clone()).await?;
            // The change is worked out here and written with the COMMIT; one that changes
            // nothing is not written, and keeps the version.
            let saved = if current.own_fields() == fields {
                current
            } else {
                let saved = current.changed(&fields, now);
                tx.defer(R::update_later(current.id(), fields));
                saved
            };
            let change = Change::new("update", R::ENTITY, saved.id(), saved.district());
            let after = R::view_after(tx, saved, &before).await?;
            record_if_changed(tx, &caller, change, &before, &after);
            Ok::<_, ApiError>(R::shown(&caller, after))
        })
        .await?;
    Ok(updated_response(&shown))
}

/// Removes the record `key` names, with what goes with it, all of it or none of it.
pub(crate) async fn delete<R: Editable>(
    pool: &Db,
    caller: Caller,
    key: R::Key,
    condition: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let mut conn = pool.conn().await?;
    conn.write(async move |conn| {
        let (parent, current) = R::locked(conn, &caller, key).await?;
        condition.check(current.version())?;
        R::allows(&parent, &current, Edit::Delete)?;
        let change = Change::new("delete", R::ENTITY, current.id(), current.district());
        let before = R::view(conn, current.clone()).await?;
        let others = R::remove(conn, &current).await?;
        record(conn, &caller, change.before(&before));
        for other in others {
            record(conn, &caller, other);
        }
        Ok::<_, ApiError>(())
    })
    .await?;
    Ok(no_content())
}
