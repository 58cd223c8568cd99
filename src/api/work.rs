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
use diesel::connection::{TransactionDepthChange, TransactionManagerStatus};
use diesel::result::Error as DieselError;
use diesel_async::{AnsiTransactionManager, AsyncPgConnection, RunQueryDsl, TransactionManager};
use std::task::Poll;

use crate::db::audit::{self, Actor, Change};
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
        match (&self.home, self.conn.take()) {
            (Some(home), Some(conn)) => *home.0.slot.borrow_mut() = Slot::Back(Box::new(conn)),
            // A request dropped in the middle of a write: closed, so the server rolls the
            // transaction back now and no lock it holds waits for the pool's next use.
            (None, Some(conn)) => discard(conn),
            (_, None) => {}
        }
    }
}

/// A connection outside a request's handler (the idempotency layer's) that is closed
/// rather than pooled when dropped inside a transaction, as [`Conn`] is.
pub struct Held(Option<DbConn>);

impl Held {
    pub fn new(conn: DbConn) -> Self {
        Self(Some(conn))
    }

    /// The connection, no longer guarded.
    pub fn into_inner(mut self) -> DbConn {
        self.0.take().expect("a connection until taken")
    }
}

impl std::ops::Deref for Held {
    type Target = AsyncPgConnection;

    fn deref(&self) -> &AsyncPgConnection {
        self.0.as_ref().expect("a connection until taken")
    }
}

impl std::ops::DerefMut for Held {
    fn deref_mut(&mut self) -> &mut AsyncPgConnection {
        self.0.as_mut().expect("a connection until taken")
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(conn) = self.0.take() {
            discard(conn);
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
    /// The changes its writes deferred, for its `COMMIT`.
    deferred: RefCell<Vec<Last>>,
    /// The audit events of its writes, for its `COMMIT`.
    events: RefCell<Vec<(Actor, Change)>>,
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
            deferred: RefCell::default(),
            events: RefCell::default(),
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

    /// What the unit's writes send with its `COMMIT`: their deferred changes, then their
    /// audit events.
    pub fn finishing(&self) -> Last {
        finishing(
            std::mem::take(&mut *self.0.deferred.borrow_mut()),
            std::mem::take(&mut *self.0.events.borrow_mut()),
        )
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

/// Opens a transaction on `conn` (a savepoint inside one already open) without waiting
/// for the server: the `BEGIN` leaves now and reaches the server with the transaction's
/// first statement, in the same round trip. It is a simple-protocol statement (nothing to
/// prepare), so it is written out in full before this returns; on a live connection it
/// cannot fail, and on a lost one the statement after it fails as well.
///
/// The transaction is counted open before anything is sent: a request dropped from here
/// on leaves a connection inside a transaction, which is closed rather than pooled.
pub fn begin(conn: &mut AsyncPgConnection) -> Result<(), ApiError> {
    let sql = match transaction_depth(conn)? {
        0 => "BEGIN".to_owned(),
        depth => format!("SAVEPOINT diesel_savepoint_{depth}"),
    };
    change_depth(conn, TransactionDepthChange::IncreaseDepth)?;
    Ok(crate::db::send_ahead(conn, &sql)?)
}

/// How many transactions deep `conn` is: 0 outside one, 1 in one, 2 in a savepoint.
fn transaction_depth(conn: &mut AsyncPgConnection) -> Result<u32, ApiError> {
    Ok(AnsiTransactionManager::transaction_manager_status_mut(conn)
        .transaction_depth()?
        .map_or(0, std::num::NonZeroU32::get))
}

fn change_depth(
    conn: &mut AsyncPgConnection,
    change: TransactionDepthChange,
) -> Result<(), ApiError> {
    match AnsiTransactionManager::transaction_manager_status_mut(conn) {
        TransactionManagerStatus::Valid(status) => Ok(status.change_transaction_depth(change)?),
        TransactionManagerStatus::InError => Err(DieselError::BrokenTransactionManager.into()),
    }
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
///
/// A savepoint is released without waiting (as [`begin`] sends its `BEGIN`): the release
/// goes out with the next statement, and if it failed (only in a transaction already
/// failed) so does every statement after it, the `COMMIT`'s last statement included.
pub async fn commit(conn: &mut AsyncPgConnection) -> Result<(), ApiError> {
    let depth = transaction_depth(conn)?;
    if depth > 1 {
        change_depth(conn, TransactionDepthChange::DecreaseDepth)?;
        return Ok(crate::db::send_ahead(
            conn,
            &format!("RELEASE SAVEPOINT diesel_savepoint_{}", depth - 1),
        )?);
    }
    let outermost = depth == 1;
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

/// What a write sends with its `COMMIT`: statements whose answers it does not need (its
/// deferred changes, its audit events, the answer an idempotency key keeps).
pub type Last = crate::db::Statement;

/// `COMMIT` as a statement prepared once on each connection and kept.
///
/// The statements of a pipeline reach the server in the order they reach the
/// connection's statement cache (a lock taken in turn, in the order the statements are
/// first polled): one prepared on first use is written only once prepared, and holds the
/// cache until then. A `COMMIT` sent in the simple protocol does not take that lock and
/// would overtake it, committing the transaction before the statement; this one waits
/// its turn.
#[derive(Debug, Clone, Copy, diesel::query_builder::QueryId)]
struct Commit;

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for Commit {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> diesel::QueryResult<()> {
        out.push_sql("COMMIT");
        Ok(())
    }
}

/// Commits the outermost transaction of `conn` with `last` sent just before the `COMMIT`,
/// in the same round trip. `last` must ask for its statements when first polled, as a
/// diesel query does, and bind no type of the database's own (an enum looked up on first
/// use is asked for before the statement cache is taken, and the COMMIT would overtake
/// it; the service's tables have none, `tests/api/architecture.rs` holds it). When `last` fails, the server ends the transaction without
/// committing anything (a `COMMIT` of a failed transaction rolls it back), and the
/// answer is `last`'s error; a `COMMIT` sent and not answered is
/// [`ApiError::OutcomeUnknown`], as in [`commit`].
pub async fn commit_with(conn: &mut AsyncPgConnection, last: Last) -> Result<(), ApiError> {
    if transaction_depth(conn)? != 1 {
        return Err(ApiError::Internal(
            "commit_with outside an outermost transaction".into(),
        ));
    }
    let outcome = {
        let shared: &AsyncPgConnection = conn;
        let mut last = last(shared);
        // What fails before it reaches the server (a value that cannot be encoded, no
        // randomness for a salt) fails in this first poll, before the COMMIT is asked
        // for: then nothing is sent to commit.
        match futures_util::poll!(&mut last) {
            Poll::Ready(Err(error)) => Err(error),
            first => {
                let rest = async move {
                    match first {
                        Poll::Ready(done) => done,
                        Poll::Pending => last.await,
                    }
                };
                let mut committing = shared;
                Ok(futures_util::future::join(rest, Commit.execute(&mut committing)).await)
            }
        }
    };
    let (sent, committed) = match outcome {
        Ok(both) => both,
        Err(error) => {
            rollback(conn).await;
            return Err(error.into());
        }
    };
    let ended = match &committed {
        Ok(_) => true,
        Err(error) => refused_by_server(error),
    };
    if ended {
        // Committed, or rolled back by the server: the connection is out of the
        // transaction either way. Otherwise it stays counted inside one, and is closed.
        change_depth(conn, TransactionDepthChange::DecreaseDepth)?;
    }
    match (sent, committed) {
        (Ok(()), Ok(_)) => Ok(()),
        // The server refused a statement: the transaction failed, and its COMMIT rolled
        // it back (or never came to it).
        (Err(error), _) if refused_by_server(&error) => Err(error.into()),
        (_, Err(error)) if ended => Err(error.into()),
        // Failed in the client after the COMMIT was on its way (not seen: every
        // statement is encoded in its first poll): committed without it.
        (Err(error), Ok(_)) if !crate::error::connection_lost(&error) => {
            tracing::error!(%error, "a COMMIT went without a statement sent with it");
            Err(ApiError::OutcomeUnknown)
        }
        (_, Err(error)) | (Err(error), Ok(_)) => {
            tracing::warn!(%error, "a COMMIT was sent and its answer lost");
            crate::metrics::db_failure(crate::metrics::DbFailure::Unavailable);
            Err(ApiError::OutcomeUnknown)
        }
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

/// A write's transaction as its work sees it: the connection, on which every query runs
/// as on any, the audit events the work records ([`Tx::record`]) and the changes it
/// defers ([`Tx::defer`]). Both are kept until the transaction commits and go to the
/// server with its `COMMIT`, in the same round trip: they commit with the write or vanish
/// with it.
pub struct Tx<'c> {
    conn: &'c mut AsyncPgConnection,
    /// Changes whose outcome the work already knows, in order.
    deferred: Vec<Last>,
    events: Vec<(Actor, Change)>,
}

impl std::ops::Deref for Tx<'_> {
    type Target = AsyncPgConnection;

    fn deref(&self) -> &AsyncPgConnection {
        self.conn
    }
}

impl std::ops::DerefMut for Tx<'_> {
    fn deref_mut(&mut self) -> &mut AsyncPgConnection {
        self.conn
    }
}

impl Tx<'_> {
    /// Records `change`, made by `actor`, in the audit trail of this transaction.
    pub fn record(&mut self, actor: Actor, change: Change) {
        self.events.push((actor, change));
    }

    /// Sends `statement` later, after the statements deferred before it: with the
    /// `COMMIT` of the write's own transaction or of its request's unit of work (an
    /// `Idempotency-Key`'s), or, in a savepoint inside a write, when it is released. For
    /// a change whose result the work has already worked out
    /// ([`crate::db::Stored::changed`]). If it fails, nothing of the transaction is kept
    /// and its error is the request's answer (in a unit of work the handler never sees
    /// it, and [`Write::write_again`] does not run the write again).
    pub fn defer(&mut self, statement: Last) {
        self.deferred.push(statement);
    }
}

/// The audit events of a transaction as one statement to send with others.
pub fn appending(events: Vec<(Actor, Change)>) -> Last {
    Box::new(move |conn| Box::pin(audit::append_events(conn, events)))
}

/// `statements` as one, pipelined in order: each asks for its statement when first
/// polled, in turn (see `commit_with`).
pub fn in_order(statements: Vec<Last>) -> Last {
    Box::new(move |conn| {
        Box::pin(async move {
            futures_util::future::try_join_all(
                statements.into_iter().map(|statement| statement(conn)),
            )
            .await
            .map(drop)
        })
    })
}

/// The deferred changes and then the audit events of a transaction, as what is sent with
/// its `COMMIT`.
fn finishing(mut deferred: Vec<Last>, events: Vec<(Actor, Change)>) -> Last {
    deferred.push(appending(events));
    in_order(deferred)
}

/// A statement that fails in a failed transaction and does nothing else (`SELECT 1`).
fn still_good() -> Last {
    use diesel::IntoSql;
    Box::new(|mut conn| {
        Box::pin(async move {
            diesel::select(1_i32.into_sql::<diesel::sql_types::Integer>())
                .execute(&mut conn)
                .await
                .map(drop)
        })
    })
}

/// Where the events of a write that succeeded go.
enum Home<'h> {
    /// Its own transaction: with its `COMMIT`.
    Commit,
    /// The request's unit of work: with the unit's `COMMIT`.
    Unit(&'h Work),
    /// The write it runs inside: with that write's.
    Outer(&'h mut Vec<(Actor, Change)>),
}

/// Runs `work` in a transaction (a savepoint inside one) on `conn`, which commits when it
/// succeeds and keeps nothing when it fails.
async fn run<R>(
    conn: &mut AsyncPgConnection,
    home: Home<'_>,
    work: impl AsyncFnOnce(&mut Tx<'_>) -> Result<R, ApiError>,
) -> Result<R, ApiError> {
    if let Home::Unit(unit) = &home {
        // A later write of the unit reads what an earlier one deferred: it is made first.
        // If it fails, the unit's transaction has failed whole: its error is this write's,
        // and nothing of the request is kept (no handler writes twice on one request).
        let earlier = std::mem::take(&mut *unit.0.deferred.borrow_mut());
        if !earlier.is_empty() {
            in_order(earlier)(conn).await?;
        }
    }
    begin(conn)?;
    let mut tx = Tx {
        conn,
        deferred: Vec::new(),
        events: Vec::new(),
    };
    let value = match work(&mut tx).await {
        Ok(value) => value,
        // The transaction failed before this savepoint was asked for (an Idempotency-Key's
        // claim sent ahead): the savepoint was never made, and there is nothing to return
        // to. The transaction is rolled back whole by whoever opened it.
        Err(ApiError::Unclaimed) if transaction_depth(tx.conn)? > 1 => {
            change_depth(tx.conn, TransactionDepthChange::DecreaseDepth)?;
            return Err(ApiError::Unclaimed);
        }
        Err(error) => {
            rollback(tx.conn).await;
            return Err(error);
        }
    };
    let Tx {
        conn,
        deferred,
        mut events,
    } = tx;
    if matches!(home, Home::Commit) && transaction_depth(conn)? == 1 {
        // Never a bare COMMIT: a transaction that failed unseen (a statement sent ahead,
        // an error the work swallowed) would be rolled back by it and answered as
        // committed. The last statement fails in a failed transaction, so the write does.
        let last = if deferred.is_empty() && events.is_empty() {
            still_good()
        } else {
            finishing(deferred, events)
        };
        commit_with(conn, last).await?;
        return Ok(value);
    }
    // A savepoint. In a request's unit of work, its deferred changes and its events wait
    // for the unit's COMMIT, like those of a write of its own (one refused there is the
    // request's failure). Inside a write, its deferred changes are made now, so that one
    // refused is this write's failure, and its events join the outer write's; inside a
    // transaction this code does not end, both are written now.
    let (now, written_here, later) = match &home {
        Home::Commit => (deferred, std::mem::take(&mut events), Vec::new()),
        Home::Unit(_) => (Vec::new(), Vec::new(), deferred),
        Home::Outer(_) => (deferred, Vec::new(), Vec::new()),
    };
    if !(now.is_empty() && written_here.is_empty())
        && let Err(error) = finishing(now, written_here)(conn).await
    {
        rollback(conn).await;
        return Err(error.into());
    }
    commit(conn).await?;
    match home {
        Home::Commit => {}
        Home::Unit(unit) => {
            unit.0.deferred.borrow_mut().extend(later);
            unit.0.events.borrow_mut().extend(events);
        }
        Home::Outer(outer) => outer.extend(events),
    }
    Ok(value)
}

/// A write: `work` runs in a transaction on this connection, which commits when it
/// succeeds and keeps nothing when it fails.
pub trait Write {
    fn write<R>(
        &mut self,
        work: impl AsyncFnOnce(&mut Tx<'_>) -> Result<R, ApiError>,
    ) -> impl Future<Output = Result<R, ApiError>>;

    /// A write that can run again: one that met a concurrent write (a deadlock, a
    /// serialization failure) and was rolled back runs again, up to [`RETRIES`] times,
    /// after a short random pause.
    fn write_again<R>(
        &mut self,
        work: impl AsyncFn(&mut Tx<'_>) -> Result<R, ApiError>,
    ) -> impl Future<Output = Result<R, ApiError>> {
        async move {
            let mut attempt = 0;
            loop {
                match self.write(async |tx| work(tx).await).await {
                    Err(ApiError::Busy) if attempt < RETRIES => {
                        attempt += 1;
                        tokio::time::sleep(pause(attempt)).await;
                    }
                    answer => return answer,
                }
            }
        }
    }
}

/// A connection of its own (the command line, the sealer): its own transactions.
impl Write for AsyncPgConnection {
    async fn write<R>(
        &mut self,
        work: impl AsyncFnOnce(&mut Tx<'_>) -> Result<R, ApiError>,
    ) -> Result<R, ApiError> {
        run(self, Home::Commit, work).await
    }
}

/// A request's connection: a write of its own, or a savepoint of its unit of work.
impl Write for Conn {
    async fn write<R>(
        &mut self,
        work: impl AsyncFnOnce(&mut Tx<'_>) -> Result<R, ApiError>,
    ) -> Result<R, ApiError> {
        let home = self.home.clone();
        let conn: &mut AsyncPgConnection = self;
        match &home {
            Some(unit) => run(conn, Home::Unit(unit), work).await,
            None => run(conn, Home::Commit, work).await,
        }
    }
}

/// A write inside a write: a savepoint, whose events join the outer write's.
impl Write for Tx<'_> {
    async fn write<R>(
        &mut self,
        work: impl AsyncFnOnce(&mut Tx<'_>) -> Result<R, ApiError>,
    ) -> Result<R, ApiError> {
        run(self.conn, Home::Outer(&mut self.events), work).await
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
