//! The unit of work of a request: the one connection its handler reaches the database
//! through, and how a write's transaction ends.
//!
//! A handler asks its [`Db`] for a connection and writes with [`Write::write`]. Most
//! requests get a connection of their own from the pool, and `write` is their
//! transaction: when its `COMMIT` is answered, the write is durable; when the connection
//! is lost before the answer arrives, nobody can know whether it was, and the request is
//! answered `503 outcome-unknown` (never "nothing was written").
//!
//! A `POST` sent with an `Idempotency-Key` is one transaction from the claim of its key to
//! the stored answer (see [`crate::api::idempotency`]): the transaction is opened when
//! the handler first asks for a connection (its body has been read by then: no connection
//! waits on a client), its handler gets that transaction's connection, each `write` in it
//! is a savepoint, and whatever must happen once the write is durable waits for the outer
//! `COMMIT` ([`Db::after_commit`]).

use std::cell::RefCell;
use std::future::{Ready, ready};
use std::rc::Rc;

use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use diesel::result::Error as DieselError;
use diesel_async::{AnsiTransactionManager, AsyncPgConnection, TransactionManager};

use crate::db::{DbConn, DbPool};
use crate::error::ApiError;

/// The database, for a handler whose caller the route's policy let through: handlers
/// reach the database only through it.
#[derive(Clone)]
pub struct Db {
    pool: web::Data<DbPool>,
    work: Option<Work>,
}

impl Db {
    /// The request's connection: the transaction of its idempotency key if it has one,
    /// else a connection of its own from the pool.
    pub async fn conn(&self) -> Result<Conn, ApiError> {
        match &self.work {
            Some(work) => Ok(Conn {
                conn: Some(work.lend().await?),
                home: Some(work.clone()),
            }),
            None => Ok(Conn {
                conn: Some(crate::db::connection(&self.pool).await?),
                home: None,
            }),
        }
    }

    /// Runs `then` once the request's writes are durable (call it after the write): now,
    /// after a transaction of its own has committed, or after the `COMMIT` of the
    /// request's unit of work (never, if it is rolled back).
    pub fn after_commit(&self, then: impl FnOnce() + 'static) {
        match &self.work {
            Some(work) => work.0.after_commit.borrow_mut().push(Box::new(then)),
            None => then(),
        }
    }
}

impl FromRequest for Db {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        ready(crate::api::auth::authorize(request).and_then(|_| {
            let pool = request
                .app_data::<web::Data<DbPool>>()
                .cloned()
                .ok_or_else(|| ApiError::Internal("no database pool".into()))?;
            let work = request.extensions().get::<Work>().cloned();
            Ok(Db { pool, work })
        }))
    }
}

/// A request's connection; one from the pool goes back to it when dropped, the unit of
/// work's goes back to the unit.
pub struct Conn {
    conn: Option<DbConn>,
    home: Option<Work>,
}

impl std::ops::Deref for Conn {
    type Target = AsyncPgConnection;

    fn deref(&self) -> &AsyncPgConnection {
        self.conn.as_ref().expect("a connection until dropped")
    }
}

impl std::ops::DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut AsyncPgConnection {
        self.conn.as_mut().expect("a connection until dropped")
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if let (Some(home), Some(conn)) = (&self.home, self.conn.take()) {
            *home.0.slot.borrow_mut() = Slot::Back(Box::new(conn));
        }
    }
}

/// How a unit of work opens its transaction: a future that runs only when first awaited.
pub type Opening = futures_util::future::LocalBoxFuture<'static, Result<DbConn, ApiError>>;

/// The transaction of a request that is one unit of work.
#[derive(Clone)]
pub struct Work(Rc<Unit>);

struct Unit {
    slot: RefCell<Slot>,
    after_commit: RefCell<Vec<Box<dyn FnOnce()>>>,
}

enum Slot {
    /// Not opened yet.
    Unopened(Opening),
    /// Open, and lent to the handler.
    Lent,
    /// Open, and given back.
    Back(Box<DbConn>),
    /// Opening it failed; the handler was told why.
    Failed,
}

/// Where a unit of work stands once the handler has answered.
pub enum Outcome {
    /// The handler never asked for the database.
    Unopened(Opening),
    /// The open transaction.
    Open(Box<DbConn>),
    /// Opening it failed, and the handler answered with why.
    Failed,
}

impl Work {
    /// A unit that `opening` opens when the handler first asks for a connection.
    pub fn new(opening: Opening) -> Self {
        Self(Rc::new(Unit {
            slot: RefCell::new(Slot::Unopened(opening)),
            after_commit: RefCell::default(),
        }))
    }

    /// The open transaction's connection, opening it first if needed.
    async fn lend(&self) -> Result<DbConn, ApiError> {
        let slot = std::mem::replace(&mut *self.0.slot.borrow_mut(), Slot::Lent);
        match slot {
            Slot::Back(conn) => Ok(*conn),
            Slot::Unopened(opening) => match opening.await {
                Ok(conn) => Ok(conn),
                Err(error) => {
                    *self.0.slot.borrow_mut() = Slot::Failed;
                    Err(error)
                }
            },
            Slot::Lent => Err(ApiError::Internal(
                "the request's connection is already in use".into(),
            )),
            Slot::Failed => {
                *self.0.slot.borrow_mut() = Slot::Failed;
                Err(ApiError::Internal(
                    "the request's unit of work could not be opened".into(),
                ))
            }
        }
    }

    /// Where the unit stands, once the handler is done with it.
    pub fn outcome(&self) -> Result<Outcome, ApiError> {
        match std::mem::replace(&mut *self.0.slot.borrow_mut(), Slot::Failed) {
            Slot::Unopened(opening) => Ok(Outcome::Unopened(opening)),
            Slot::Back(conn) => Ok(Outcome::Open(conn)),
            Slot::Failed => Ok(Outcome::Failed),
            Slot::Lent => Err(ApiError::Internal(
                "the request's connection was kept past its answer".into(),
            )),
        }
    }

    /// What waits for the commit.
    pub fn after_commit(&self) -> Vec<Box<dyn FnOnce()>> {
        std::mem::take(&mut *self.0.after_commit.borrow_mut())
    }
}

impl Drop for Unit {
    fn drop(&mut self) {
        // A connection still inside the unit's transaction (its request was dropped
        // part-way) is closed rather than pooled: the server rolls it back at once, and
        // no lock it holds outlives the request.
        if let Slot::Back(conn) = std::mem::replace(self.slot.get_mut(), Slot::Failed) {
            discard(*conn);
        }
    }
}

/// Closes `conn` instead of giving it back to the pool, if it is inside a transaction.
pub fn discard(mut conn: DbConn) {
    if in_transaction(&mut conn) {
        drop(deadpool::managed::Object::take(conn));
    }
}

/// Opens a transaction on `conn` (a savepoint inside one already open).
pub async fn begin(conn: &mut AsyncPgConnection) -> Result<(), ApiError> {
    AnsiTransactionManager::begin_transaction(conn)
        .await
        .map_err(ApiError::from)
}

/// Ends the innermost transaction of `conn`, keeping nothing of it. A rollback that fails
/// leaves the connection broken, and the pool does not hand it out again.
pub async fn rollback(conn: &mut AsyncPgConnection) {
    if let Err(error) = AnsiTransactionManager::rollback_transaction(conn).await {
        tracing::warn!(%error, "a rollback failed; the connection is dropped");
    }
}

/// Commits the innermost transaction of `conn`. A `COMMIT` whose answer never arrived
/// is [`ApiError::OutcomeUnknown`]: the server may have committed it or not.
pub async fn commit(conn: &mut AsyncPgConnection) -> Result<(), ApiError> {
    let outermost = AnsiTransactionManager::transaction_manager_status_mut(conn)
        .transaction_depth()
        .is_ok_and(|depth| depth.is_some_and(|depth| depth.get() == 1));
    match AnsiTransactionManager::commit_transaction(conn).await {
        Ok(()) => Ok(()),
        Err(error) if outermost && !refused_by_server(&error) => {
            tracing::warn!(%error, "a COMMIT was sent and its answer lost");
            crate::metrics::db_failure(crate::metrics::DbFailure::Unavailable);
            Err(ApiError::OutcomeUnknown)
        }
        Err(error) => Err(error.into()),
    }
}

/// Whether the server itself answered the `COMMIT` with an error, which means it rolled
/// the transaction back (a serialization failure, a deferred constraint). Anything else
/// (the connection closed, the server ending it, a reply that never came) leaves the
/// outcome unknown.
fn refused_by_server(error: &DieselError) -> bool {
    match error {
        DieselError::RollbackErrorOnCommit { commit_error, .. } => refused_by_server(commit_error),
        DieselError::DatabaseError(..) => !crate::error::connection_lost(error),
        _ => false,
    }
}

/// How many times a write that met a concurrent one is run again before the answer is
/// [`ApiError::Busy`].
pub const RETRIES: u32 = 4;

/// A write: `work` runs in a transaction on this connection, which commits when it
/// succeeds and keeps nothing when it fails.
pub trait Write {
    fn write<R>(
        &mut self,
        work: impl AsyncFnOnce(&mut AsyncPgConnection) -> Result<R, ApiError>,
    ) -> impl Future<Output = Result<R, ApiError>>;

    /// A write that can run again: one that met a concurrent write (a deadlock, a
    /// serialization failure) and was rolled back runs again, up to [`RETRIES`] times,
    /// after a short random pause.
    fn write_again<R>(
        &mut self,
        work: impl AsyncFn(&mut AsyncPgConnection) -> Result<R, ApiError>,
    ) -> impl Future<Output = Result<R, ApiError>>;
}

impl Write for AsyncPgConnection {
    async fn write<R>(
        &mut self,
        work: impl AsyncFnOnce(&mut AsyncPgConnection) -> Result<R, ApiError>,
    ) -> Result<R, ApiError> {
        begin(self).await?;
        match work(self).await {
            Ok(value) => commit(self).await.map(|()| value),
            Err(error) => {
                rollback(self).await;
                Err(error)
            }
        }
    }

    async fn write_again<R>(
        &mut self,
        work: impl AsyncFn(&mut AsyncPgConnection) -> Result<R, ApiError>,
    ) -> Result<R, ApiError> {
        let mut attempt = 0;
        loop {
            match self.write(async |conn| work(conn).await).await {
                Err(ApiError::Busy) if attempt < RETRIES => {
                    attempt += 1;
                    tokio::time::sleep(pause(attempt)).await;
                }
                answer => return answer,
            }
        }
    }
}

/// The pause before attempt `attempt`: growing, and random so two writers that met do not
/// meet again.
fn pause(attempt: u32) -> std::time::Duration {
    let spread = getrandom::u32().unwrap_or(0) % 10;
    std::time::Duration::from_millis(u64::from(5 * 2_u32.pow(attempt) + spread))
}

/// Whether `conn` is inside a transaction.
pub fn in_transaction(conn: &mut AsyncPgConnection) -> bool {
    AnsiTransactionManager::transaction_manager_status_mut(conn)
        .transaction_depth()
        .is_ok_and(|depth| depth.is_some())
}
