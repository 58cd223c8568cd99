//! The database: connection pool, embedded migrations and the queries of each resource.

pub mod accounts;
pub mod activities;
pub mod audit;
pub mod changes;
pub mod checkpoints;
pub mod consultations;
pub mod departments;
pub mod districts;
pub mod evaluations;
pub mod idempotency;
pub mod key_tasks;
pub mod keys;
pub mod meetings;
pub mod members;

pub mod pagination;
pub mod performance;
pub mod proposals;
pub mod reference;
pub mod reports;
pub mod rulings;
pub mod schema;
pub mod workflow;
pub mod workstations;

use std::time::Duration;

use deadpool::managed::{Object, Pool};
use diesel_async::AsyncPgConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pooled_connection::AsyncDieselConnectionManager;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use tokio_postgres::NoTls;
use tokio_postgres::config::Host;

pub type DbPool = Pool<Manager>;
pub type PoolError = deadpool::managed::PoolError<diesel_async::pooled_connection::PoolError>;
pub type DbConn = Object<Manager>;

/// Connections for the pool: diesel-async's manager, except that a connection handed out
/// within the last second is given out again without a test query. A busy service then
/// spends no round trip per request on proving its connections; one idle for longer is
/// tested first. Either way a connection whose socket is closed (the server ended it, or
/// went away) or whose transaction was left broken is never given out.
pub struct Manager(AsyncDieselConnectionManager<AsyncPgConnection>);

impl Manager {
    /// How recently a connection must have been handed out to be trusted untested.
    const TRUSTED_FOR: Duration = Duration::from_secs(1);
}

impl deadpool::managed::Manager for Manager {
    type Type = AsyncPgConnection;
    type Error = diesel_async::pooled_connection::PoolError;

    async fn create(&self) -> Result<AsyncPgConnection, Self::Error> {
        self.0.create().await
    }

    async fn recycle(
        &self,
        conn: &mut AsyncPgConnection,
        metrics: &deadpool::managed::Metrics,
    ) -> deadpool::managed::RecycleResult<Self::Error> {
        use diesel_async::pooled_connection::PoolableConnection;
        if metrics.last_used() >= Self::TRUSTED_FOR {
            return self.0.recycle(conn, metrics).await;
        }
        if conn.is_broken() {
            return Err(deadpool::managed::RecycleError::Message(
                "the connection is closed or its transaction broken".into(),
            ));
        }
        Ok(())
    }
}

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Failures while preparing the database at start.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("DATABASE_URL is not a valid PostgreSQL URL: {0}")]
    BadUrl(String),
    #[error("cannot connect to the database at {url}: {cause}")]
    Connect { url: String, cause: String },
    #[error("cannot create database {name} at {url}: {cause}")]
    Create {
        name: String,
        url: String,
        cause: String,
    },
    #[error("migrations failed on {url}: {cause}")]
    Migrate { url: String, cause: String },
    #[error("cannot grant the service's role {role} what it needs: {cause}")]
    Grant { role: String, cause: String },
    #[error("cannot build the connection pool: {0}")]
    Pool(String),
    #[error("cannot read the cursor secret from the database: {0}")]
    Secret(String),
    #[error("cannot record the audit signing key in the database: {0}")]
    SigningKey(String),
}

/// The database URL as it may be shown in a log or an error: the password hidden.
pub fn redacted_url(url: &str) -> String {
    let Ok(config) = url.parse::<tokio_postgres::Config>() else {
        return "<unparseable DATABASE_URL>".to_owned();
    };
    let user = config.get_user().unwrap_or("");
    let password = if config.get_password().is_some() {
        ":***"
    } else {
        ""
    };
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(host)) => host.clone(),
        #[cfg(unix)]
        Some(Host::Unix(path)) => path.display().to_string(),
        None => "localhost".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let dbname = config.get_dbname().unwrap_or(user);
    format!("postgres://{user}{password}@{host}:{port}/{dbname}")
}

fn parse_url(url: &str) -> Result<tokio_postgres::Config, SetupError> {
    url.parse::<tokio_postgres::Config>()
        .map_err(|error| SetupError::BadUrl(error.to_string()))
}

/// Creates the database named by `url` if it does not exist yet (and the role may).
pub async fn ensure_database(url: &str) -> Result<(), SetupError> {
    let config = parse_url(url)?;
    match config.connect(NoTls).await {
        Ok((client, connection)) => {
            drop(client);
            drop(connection);
            return Ok(());
        }
        Err(error)
            if error.code() == Some(&tokio_postgres::error::SqlState::INVALID_CATALOG_NAME) => {}
        Err(error) => {
            return Err(SetupError::Connect {
                url: redacted_url(url),
                cause: error.to_string(),
            });
        }
    }
    let name = config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or("postgres")
        .to_owned();
    let mut maintenance = config.clone();
    maintenance.dbname("postgres");
    let (client, connection) =
        maintenance
            .connect(NoTls)
            .await
            .map_err(|error| SetupError::Connect {
                url: redacted_url(url),
                cause: error.to_string(),
            })?;
    let connection = tokio::spawn(connection);
    let result = client
        .batch_execute(&format!("CREATE DATABASE {}", quote_ident(&name)))
        .await;
    drop(client);
    let _ = connection.await;
    match result {
        Ok(()) => {
            tracing::info!(database = %name, "created the database");
            Ok(())
        }
        // Another process created it meanwhile.
        Err(error)
            if error.code() == Some(&tokio_postgres::error::SqlState::DUPLICATE_DATABASE) =>
        {
            Ok(())
        }
        Err(error) => Err(SetupError::Create {
            name,
            url: redacted_url(url),
            cause: error.to_string(),
        }),
    }
}

/// Quotes a PostgreSQL identifier.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The embedded migrations the database has not applied yet, read without writing
/// anything: a role that may not change the schema can tell whether it is current.
pub async fn pending_migrations(url: &str) -> Result<Vec<String>, SetupError> {
    use diesel::migration::MigrationSource;
    let client = connect_plain(url).await?;
    let applied: std::collections::HashSet<String> = match client
        .query("SELECT version FROM __diesel_schema_migrations", &[])
        .await
    {
        Ok(rows) => rows.iter().map(|row| row.get(0)).collect(),
        Err(error) if error.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_TABLE) => {
            std::collections::HashSet::new()
        }
        Err(error) => {
            return Err(SetupError::Migrate {
                url: redacted_url(url),
                cause: error.to_string(),
            });
        }
    };
    let embedded = MigrationSource::<diesel::pg::Pg>::migrations(&MIGRATIONS).map_err(|error| {
        SetupError::Migrate {
            url: redacted_url(url),
            cause: error.to_string(),
        }
    })?;
    Ok(embedded
        .iter()
        .map(|migration| migration.name().version().to_string())
        .filter(|version| !applied.contains(version))
        .collect())
}

/// A plain client on `url`, its connection driven in the background.
async fn connect_plain(url: &str) -> Result<tokio_postgres::Client, SetupError> {
    let (client, connection) =
        parse_url(url)?
            .connect(NoTls)
            .await
            .map_err(|error| SetupError::Connect {
                url: redacted_url(url),
                cause: error.to_string(),
            })?;
    tokio::spawn(connection);
    Ok(client)
}

/// Grants `role` what serving takes and no more, on the tables the migrations made: read
/// and write the records; only read and append to the audit trail, its checkpoints and
/// its signing keys;
/// take sealed events off `audit_pending` (its trigger allows that to the sealer alone);
/// nothing on the schema itself or its migration history. Run by the schema's owner after
/// migrating (`cppcc-api migrate --grant-to ROLE`); running it again changes nothing.
pub async fn grant_service_role(url: &str, role: &str) -> Result<(), SetupError> {
    let client = connect_plain(url).await?;
    let role = quote_ident(role);
    let database = quote_ident(parse_url(url)?.get_dbname().unwrap_or("postgres"));
    let grants = format!(
        "GRANT CONNECT ON DATABASE {database} TO {role};
         GRANT USAGE ON SCHEMA public TO {role};
         GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role};
         GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role};
         REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON __diesel_schema_migrations FROM {role};
         REVOKE UPDATE, DELETE, TRUNCATE ON audit_events, audit_checkpoints, audit_signing_keys
             FROM {role};
         REVOKE UPDATE, TRUNCATE ON audit_pending FROM {role};"
    );
    client
        .batch_execute(&grants)
        .await
        .map_err(|error| SetupError::Grant {
            role,
            cause: error.to_string(),
        })
}

/// Applies every pending embedded migration; returns the versions applied. A database
/// that is current is only read, so a role that may not change the schema can start.
pub async fn run_migrations(url: &str) -> Result<Vec<String>, SetupError> {
    if pending_migrations(url).await?.is_empty() {
        return Ok(Vec::new());
    }
    let owned_url = url.to_owned();
    let result = tokio::task::spawn_blocking(move || {
        use diesel::Connection;
        let mut connection = AsyncConnectionWrapper::<AsyncPgConnection>::establish(&owned_url)
            .map_err(|error| SetupError::Connect {
                url: redacted_url(&owned_url),
                cause: error.to_string(),
            })?;
        connection
            .run_pending_migrations(MIGRATIONS)
            .map(|versions| versions.iter().map(ToString::to_string).collect())
            .map_err(|error| SetupError::Migrate {
                url: redacted_url(&owned_url),
                cause: error.to_string(),
            })
    })
    .await;
    result.map_err(|error| SetupError::Migrate {
        url: redacted_url(url),
        cause: error.to_string(),
    })?
}

/// How long a connection may sit idle inside a transaction before the server ends it.
const IDLE_IN_TRANSACTION_MS: u64 = 5 * 60 * 1000;

/// Builds the connection pool. Connections are made lazily, so a database that goes away
/// and comes back is picked up again without a restart. Every connection cancels any
/// statement that runs longer than `statement_timeout`.
pub fn build_pool(
    url: &str,
    size: usize,
    timeout: Duration,
    statement_timeout: Duration,
) -> Result<DbPool, SetupError> {
    use diesel_async::SimpleAsyncConnection;
    use diesel_async::pooled_connection::ManagerConfig;
    use futures_util::FutureExt;
    let statement_ms = statement_timeout.as_millis();
    let mut manager_config = ManagerConfig::default();
    manager_config.custom_setup = Box::new(move |url| {
        let url = url.to_owned();
        async move {
            use diesel_async::AsyncConnection;
            let mut conn = AsyncPgConnection::establish(&url).await?;
            // A transaction whose client went silent (a partition, a process gone) gives
            // its locks back after five minutes instead of a TCP keepalive's hours. No
            // statement of the service runs long enough to gain from compiling it: the
            // planner's estimate of a large sealing round (rows per array unknown) once
            // bought 330 ms of JIT compilation for 10 ms of work.
            conn.batch_execute(&format!(
                "SET statement_timeout = {statement_ms}; \
                 SET idle_in_transaction_session_timeout = {IDLE_IN_TRANSACTION_MS}; \
                 SET jit = off"
            ))
            .await
            .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
            Ok(conn)
        }
        .boxed()
    });
    let manager =
        AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(url, manager_config);
    Pool::builder(Manager(manager))
        .max_size(size)
        .wait_timeout(Some(timeout))
        .create_timeout(Some(timeout))
        .recycle_timeout(Some(timeout))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .map_err(|error| SetupError::Pool(error.to_string()))
}

/// The pools of the HTTP workers: one each, so that a request's queries are written and
/// read by the thread that serves it. A connection's I/O runs on the runtime that opened
/// it; with one pool shared by the workers about half the queries would cross threads,
/// two wake-ups each. `DATABASE_POOL_SIZE` is split among the workers (each has at least
/// one connection); the metrics show the pools summed.
pub struct Pools {
    built: Vec<DbPool>,
}

/// The connections of every worker's pool together.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolsStatus {
    pub max_size: usize,
    pub size: usize,
    pub available: usize,
    pub waiting: usize,
}

impl Pools {
    /// A pool for each of `workers`, `size` connections among them. No connection is
    /// opened until one is asked for, on the worker that asks.
    pub fn new(
        url: &str,
        size: usize,
        workers: usize,
        timeout: Duration,
        statement_timeout: Duration,
    ) -> Result<Self, SetupError> {
        let built = shares(size, workers)
            .into_iter()
            .map(|share| build_pool(url, share, timeout, statement_timeout))
            .collect::<Result<_, _>>()?;
        Ok(Self { built })
    }

    /// The pool of the `worker`-th worker started (a worker started again takes the
    /// pool after the last one's).
    pub fn for_worker(&self, worker: usize) -> DbPool {
        self.built[worker % self.built.len()].clone()
    }

    /// The connections of every pool, summed.
    pub fn status(&self) -> PoolsStatus {
        self.built
            .iter()
            .map(DbPool::status)
            .fold(PoolsStatus::default(), |sum, status| PoolsStatus {
                max_size: sum.max_size + status.max_size,
                size: sum.size + status.size,
                available: sum.available + status.available,
                waiting: sum.waiting + status.waiting,
            })
    }
}

/// `size` connections shared out among `workers`, as evenly as they go, at least one each.
fn shares(size: usize, workers: usize) -> Vec<usize> {
    let workers = workers.max(1);
    (0..workers)
        .map(|worker| (size / workers + usize::from(worker < size % workers)).max(1))
        .collect()
}

/// A connection from the pool, waiting at most the pool's timeout; a wait is counted in
/// the metrics.
pub async fn connection(pool: &DbPool) -> Result<DbConn, PoolError> {
    let status = pool.status();
    if status.available == 0 && status.size >= status.max_size {
        crate::metrics::pool_waited();
    }
    pool.get().await
}

/// Records the audit signing key's public key, so that its checkpoints name it.
pub async fn register_signing_key(
    pool: &DbPool,
    signer: &crate::domain::checkpoint::Signer,
) -> Result<(), SetupError> {
    let failed = |cause: String| SetupError::SigningKey(cause);
    let mut conn = connection(pool)
        .await
        .map_err(|error| failed(error.to_string()))?;
    checkpoints::register(&mut conn, signer)
        .await
        .map_err(|error| failed(error.to_string()))
}

/// The secret the database made for signing cursors, the same for every instance.
pub async fn cursor_secret(pool: &DbPool) -> Result<Vec<u8>, SetupError> {
    use diesel::QueryableByName;
    use diesel_async::RunQueryDsl;
    #[derive(QueryableByName)]
    struct Secret {
        #[diesel(sql_type = diesel::sql_types::Bytea)]
        secret: Vec<u8>,
    }
    let failed = |cause: String| SetupError::Secret(cause);
    let mut conn = connection(pool)
        .await
        .map_err(|error| failed(error.to_string()))?;
    let row: Secret = diesel::sql_query("SELECT secret FROM service_secrets WHERE name = 'cursor'")
        .get_result(&mut conn)
        .await
        .map_err(|error| failed(error.to_string()))?;
    Ok(row.secret)
}

/// Escapes `%`, `_` and `\\` so a search text matches literally inside `ILIKE`.
pub fn like_pattern(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// The database's clock, for a non-null timestamp column.
pub fn now_not_null() -> diesel::expression::SqlLiteral<diesel::sql_types::Timestamptz> {
    diesel::dsl::sql("now()")
}

/// One row of a district-owned record, as every runner reads it: conditional requests
/// ([`Row::version`]), the audit trail ([`Row::id`], [`Row::district`]), workflows and
/// sync. [`row!`] writes it for a row with `id`, `version` and `district_id` columns.
pub trait Row: Clone + Send + Sync + 'static {
    type Id: Copy + Send + Sync + std::fmt::Display + Into<uuid::Uuid>;

    fn id(&self) -> Self::Id;

    /// What `ETag` and `If-Match` carry.
    fn version(&self) -> i64;

    /// The district that owns it (none for the few records of no district: accounts of
    /// administrators and auditors).
    fn district(&self) -> Option<crate::domain::ids::DistrictId>;
}

/// A condition on the rows of a table, as a person's rules write it.
pub type Seen<T> = Box<
    dyn diesel::expression::BoxableExpression<T, diesel::pg::Pg, SqlType = diesel::sql_types::Bool>,
>;

/// Which rows of its table a person of a district sees and changes, besides being of
/// their district: every record type with [`record_queries!`] says it (the macro needs
/// it), so a record type nobody wrote a rule for is seen by no person.
pub trait SeenBy {
    type Table;

    /// The rows `person` reads.
    fn seen_by(person: crate::domain::access::Person) -> Seen<Self::Table>;

    /// The rows `person` changes (the records they read unless said otherwise).
    fn changed_by(person: crate::domain::access::Person) -> Seen<Self::Table> {
        Self::seen_by(person)
    }
}

/// No row: what a person sees of a record type their rules do not name.
pub fn no_row<T>() -> Seen<T> {
    Box::new(diesel::dsl::sql::<diesel::sql_types::Bool>("FALSE"))
}

/// Every row of the person's district.
pub fn every_row<T>() -> Seen<T> {
    Box::new(diesel::dsl::sql::<diesel::sql_types::Bool>("TRUE"))
}

/// The queries a record a client edits has: written by [`record_queries!`].
pub trait Stored: Row {
    /// The fields a client sets.
    type Fields: PartialEq + Send + Sync;

    /// The live record in `scope`.
    fn find(
        conn: &AsyncPgConnection,
        id: Self::Id,
        scope: crate::domain::access::Scope,
    ) -> impl Future<Output = diesel::QueryResult<Self>> + Send;

    /// The live record in `scope`, locked for a change until the transaction ends. Takes
    /// the connection shared, so that other statements can go with it.
    fn lock(
        conn: &AsyncPgConnection,
        id: Self::Id,
        scope: crate::domain::access::Scope,
    ) -> impl Future<Output = diesel::QueryResult<Self>> + Send;

    /// Marks the record deleted (a tombstone in the change feed).
    fn mark_deleted(
        conn: &mut AsyncPgConnection,
        id: Self::Id,
    ) -> impl Future<Output = diesel::QueryResult<()>> + Send;

    /// The record as [`Stored::update_later`] leaves it when its transaction began at
    /// `now`: the fields set, the next version, `updated_at` now (what the `touch_row`
    /// trigger writes), all else kept.
    fn changed(&self, fields: &Self::Fields, now: chrono::DateTime<chrono::Utc>) -> Self;

    /// Its client-set fields as they are.
    fn own_fields(&self) -> Self::Fields;

    /// The `UPDATE` that writes `fields`, as a statement to send later, with the `COMMIT`
    /// ([`crate::api::work::Tx::defer`]), for a change that changes something (one that
    /// changes nothing is not written: the version stays and the change feed stays
    /// quiet); it fails unless it changes the one live row.
    fn update_later(id: Self::Id, fields: Self::Fields) -> Statement;
}

/// A statement kept prepared on its connection, keyed by its SQL text, that diesel would
/// prepare again on every call: an `UPDATE`, an `INSERT` of a struct with optional fields
/// (`DEFAULT` for an absent one), an upsert. diesel refuses to cache them under their Rust
/// type because one type gives several texts; keyed by the text, each text is prepared
/// once per connection and then costs no round trip of its own (a prepared-on-every-call
/// statement costs two messages more: its preparation, a round trip, and its closing).
#[derive(Debug, Clone, Copy)]
pub struct Prepared<Q>(pub Q);

impl<Q> diesel::query_builder::QueryId for Prepared<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: diesel::query_builder::Query> diesel::query_builder::Query for Prepared<Q> {
    type SqlType = Q::SqlType;
}

impl<Q: diesel::query_builder::QueryFragment<diesel::pg::Pg>>
    diesel::query_builder::QueryFragment<diesel::pg::Pg> for Prepared<Q>
{
    fn walk_ast<'b>(
        &'b self,
        pass: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> diesel::QueryResult<()> {
        self.0.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, _backend: &diesel::pg::Pg) -> diesel::QueryResult<bool> {
        // Keyed by its text (no static query id), so a text is never taken for another.
        Ok(true)
    }
}

/// A statement whose answer a write does not need, to be sent with others on the
/// connection it is given (a write's audit events, its deferred changes).
pub type Statement = Box<
    dyn for<'c> FnOnce(
            &'c AsyncPgConnection,
        ) -> futures_util::future::BoxFuture<'c, diesel::QueryResult<()>>
        + Send,
>;

/// Sends `sql` (simple protocol: no parameters, nothing to prepare) without waiting for
/// its answer, which is read and dropped when it comes: it reaches the server with the
/// next statement sent, in the same round trip. If it fails, its transaction has failed,
/// and every statement after it in that transaction fails too. Fails here only if the
/// connection is already known to be lost.
pub fn send_ahead(conn: &AsyncPgConnection, sql: &str) -> diesel::QueryResult<()> {
    use diesel_async::SimpleAsyncConnection;
    use futures_util::FutureExt;
    let mut shared = conn;
    match shared.batch_execute(sql).now_or_never() {
        Some(Err(error)) => Err(error),
        Some(Ok(())) | None => Ok(()),
    }
}

/// The time the connection's transaction began: `now()`, what every `DEFAULT now()` and
/// trigger of the transaction writes.
pub async fn transaction_time(
    mut conn: &AsyncPgConnection,
) -> diesel::QueryResult<chrono::DateTime<chrono::Utc>> {
    use diesel::IntoSql;
    use diesel_async::RunQueryDsl;
    diesel::select(diesel::dsl::now.into_sql::<diesel::sql_types::Timestamptz>())
        .get_result(&mut conn)
        .await
}

/// Fails unless exactly one row was written: a deferred change whose row is gone.
pub fn one_row(written: usize) -> diesel::QueryResult<()> {
    if written == 1 {
        Ok(())
    } else {
        Err(diesel::result::Error::NotFound)
    }
}

/// [`Row`] for a row struct with `id: $id`, `version` and `district_id` fields.
macro_rules! row {
    ($row:ty, $id:ty) => {
        impl $crate::db::Row for $row {
            type Id = $id;

            fn id(&self) -> $id {
                self.id
            }

            fn version(&self) -> i64 {
                self.version
            }

            fn district(&self) -> Option<$crate::domain::ids::DistrictId> {
                self.district_id.into()
            }
        }
    };
}
pub(crate) use row;

/// The fields a client sets on a record, declared once: the struct (inserted and written
/// as a change set), the row's `fields()` that reads them back, and `excluded()`, which
/// sets every one of them from the row an `INSERT … ON CONFLICT DO UPDATE` was refused
/// for. A sync upsert writes `excluded()`, so a field added here is synced with no other
/// change.
macro_rules! record_fields {
    (
        $(#[$meta:meta])*
        pub struct $name:ident for $row:ident in $table:ident {
            $( $(#[$field_meta:meta])* pub $field:ident: $ty:ty, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, diesel::Insertable, diesel::AsChangeset)]
        #[diesel(table_name = $table, treat_none_as_null = true)]
        pub struct $name {
            $( $(#[$field_meta])* pub $field: $ty, )+
        }

        impl $row {
            /// Its client-set fields.
            pub fn fields(&self) -> $name {
                $name {
                    $( $field: Clone::clone(&self.$field), )+
                }
            }

            /// The row with its client-set fields replaced by `fields`.
            pub fn with_fields(&self, fields: &$name) -> Self {
                let mut row = self.clone();
                $( row.$field = Clone::clone(&fields.$field); )+
                row
            }
        }

        impl $name {
            /// Every field, set from the row the insert was refused for (`excluded.…`).
            pub fn excluded() -> impl diesel::AsChangeset<
                Target = $table::table,
                Changeset: diesel::query_builder::QueryFragment<diesel::pg::Pg>
                    + Send
                    + 'static,
            > {
                ( $( $table::$field.eq(diesel::upsert::excluded($table::$field)), )+ )
            }
        }
    };
}
pub(crate) use record_fields;

/// The queries every district-owned record has: a live record by id, the same locked
/// for a change until the transaction ends, a full update of its client-set fields, the
/// soft delete and a new version with nothing else changed ([`touch`]); and the record's
/// [`Row`] and [`Stored`] that runners use.
macro_rules! record_queries {
    ($table:ident, $row:ty, $fields:ty, $id:ty) => {
        $crate::db::row!($row, $id);

        impl $crate::db::Stored for $row {
            type Fields = $fields;

            fn find(
                conn: &diesel_async::AsyncPgConnection,
                id: $id,
                scope: $crate::domain::access::Scope,
            ) -> impl Future<Output = diesel::QueryResult<Self>> + Send {
                find(conn, id, scope)
            }

            fn lock(
                conn: &diesel_async::AsyncPgConnection,
                id: $id,
                scope: $crate::domain::access::Scope,
            ) -> impl Future<Output = diesel::QueryResult<Self>> + Send {
                lock(conn, id, scope)
            }

            fn mark_deleted(
                conn: &mut diesel_async::AsyncPgConnection,
                id: $id,
            ) -> impl Future<Output = diesel::QueryResult<()>> + Send {
                mark_deleted(conn, id)
            }

            fn own_fields(&self) -> $fields {
                self.fields()
            }

            fn changed(&self, fields: &$fields, now: chrono::DateTime<chrono::Utc>) -> Self {
                let mut row = self.with_fields(fields);
                row.version += 1;
                row.updated_at = now;
                row
            }

            fn update_later(id: $id, fields: $fields) -> $crate::db::Statement {
                Box::new(move |mut conn| {
                    Box::pin(async move {
                        $crate::db::Prepared(
                            diesel::update($table::table.find(id))
                                .filter($table::deleted_at.is_null())
                                .set(&fields),
                        )
                        .execute(&mut conn)
                        .await
                        .and_then($crate::db::one_row)
                    })
                })
            }
        }

        /// Gives the record a new version with nothing else changed (a part of it kept
        /// in another table changed), so it goes into the change feed.
        #[tracing::instrument(skip_all)]
        pub async fn touch(
            conn: &mut diesel_async::AsyncPgConnection,
            id: $id,
        ) -> diesel::QueryResult<$row> {
            $crate::db::Prepared(
                diesel::update($table::table.find(id))
                    .set($table::updated_at.eq($crate::db::now_not_null()))
                    .returning(<$row>::as_returning()),
            )
            .get_result(conn)
            .await
        }

        /// [`touch`] with the `COMMIT` ([`crate::api::work::Tx::defer`]), for a record
        /// locked in the transaction: its new version is the one read plus one.
        pub fn touch_later(id: $id) -> $crate::db::Statement {
            Box::new(move |mut conn| {
                Box::pin(async move {
                    $crate::db::Prepared(
                        diesel::update($table::table.find(id))
                            .set($table::updated_at.eq($crate::db::now_not_null())),
                    )
                    .execute(&mut conn)
                    .await
                    .and_then($crate::db::one_row)
                })
            })
        }

        /// [`touch`] for many records, in one statement.
        #[tracing::instrument(skip_all)]
        pub async fn touch_all(
            conn: &mut diesel_async::AsyncPgConnection,
            ids: &[$id],
        ) -> diesel::QueryResult<()> {
            $crate::db::Prepared(
                diesel::update($table::table.filter($table::id.eq_any(ids)))
                    .set($table::updated_at.eq($crate::db::now_not_null())),
            )
            .execute(conn)
            .await
            .map(drop)
        }

        /// A live record by id, if `scope` covers its district.
        #[tracing::instrument(skip_all)]
        pub async fn find(
            mut conn: &diesel_async::AsyncPgConnection,
            id: $id,
            scope: $crate::domain::access::Scope,
        ) -> diesel::QueryResult<$row> {
            let mut query = $table::table
                .select(<$row>::as_select())
                .filter($table::id.eq(id))
                .filter($table::deleted_at.is_null())
                .into_boxed();
            if let Some(district) = scope.district() {
                query = query.filter($table::district_id.eq(district));
            }
            if let Some(person) = scope.person() {
                query = query.filter(<$row as $crate::db::SeenBy>::seen_by(person));
            }
            query.first(&mut conn).await
        }

        /// A live record in `scope`, locked for a change until the transaction ends.
        #[tracing::instrument(skip_all)]
        pub async fn lock(
            mut conn: &diesel_async::AsyncPgConnection,
            id: $id,
            scope: $crate::domain::access::Scope,
        ) -> diesel::QueryResult<$row> {
            let row: $row = $table::table
                .select(<$row>::as_select())
                .filter($table::id.eq(id))
                .filter($table::deleted_at.is_null())
                .for_update()
                .first(&mut conn)
                .await?;
            if !scope.covers_owner(<$row as $crate::db::Row>::district(&row)) {
                return Err(diesel::result::Error::NotFound);
            }
            if let Some(person) = scope.person() {
                let changes: bool = diesel::select(diesel::dsl::exists(
                    $table::table
                        .filter($table::id.eq(id))
                        .filter(<$row as $crate::db::SeenBy>::changed_by(person)),
                ))
                .get_result(&mut conn)
                .await?;
                if !changes {
                    return Err(diesel::result::Error::NotFound);
                }
            }
            Ok(row)
        }

        /// Marks the record deleted; it stays in the change feed as a tombstone.
        #[tracing::instrument(skip_all)]
        pub async fn mark_deleted(
            conn: &mut diesel_async::AsyncPgConnection,
            id: $id,
        ) -> diesel::QueryResult<()> {
            $crate::db::Prepared(
                diesel::update($table::table.find(id)).set($table::deleted_at.eq(diesel::dsl::now)),
            )
            .execute(conn)
            .await
            .map(drop)
        }
    };
}
pub(crate) use record_queries;

/// The save of a workflow's record after a step, sent with the `COMMIT`: `$name`
/// answers the row as its whole-row `UPDATE` leaves it in a transaction begun at `now`
/// (what the `touch_row` trigger writes: the next version, `updated_at` now; the record is
/// locked, so nothing else moves it), and that `UPDATE`, which fails unless it writes the
/// one row.
macro_rules! saved_later {
    ($name:ident, $table:ident, $row:ty) => {
        /// Writes the whole record after a step, with the `COMMIT`; answers it as written.
        pub fn $name(
            row: &$row,
            now: chrono::DateTime<chrono::Utc>,
        ) -> ($row, $crate::db::Statement) {
            let mut saved = row.clone();
            saved.version += 1;
            saved.updated_at = now;
            let written = row.clone();
            let statement: $crate::db::Statement = Box::new(move |mut conn| {
                Box::pin(async move {
                    $crate::db::Prepared(
                        diesel::update($table::table.find(written.id)).set(&written),
                    )
                    .execute(&mut conn)
                    .await
                    .and_then($crate::db::one_row)
                })
            });
            (saved, statement)
        }
    };
}
pub(crate) use saved_later;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacted_url_hides_the_password() {
        let shown = redacted_url("postgres://app:s3cret@db.example:6543/cppcc");
        assert_eq!(shown, "postgres://app:***@db.example:6543/cppcc");
        assert!(!shown.contains("s3cret"));
    }

    #[test]
    fn the_pool_size_is_shared_out_among_the_workers() {
        assert_eq!(shares(10, 2), vec![5, 5]);
        assert_eq!(shares(10, 3), vec![4, 3, 3]);
        assert_eq!(shares(4, 1), vec![4]);
        // Every worker can reach the database, even with fewer connections than workers.
        assert_eq!(shares(1, 3), vec![1, 1, 1]);
    }

    #[tokio::test]
    async fn each_worker_has_a_pool_of_its_own_and_the_status_sums_them() {
        let pools = Pools::new(
            "postgres://postgres@127.0.0.1:1/none",
            5,
            2,
            Duration::from_secs(1),
            Duration::from_secs(1),
        )
        .expect("pools are built without connecting");
        assert_eq!(pools.for_worker(0).status().max_size, 3);
        assert_eq!(pools.for_worker(1).status().max_size, 2);
        // A worker started again takes a pool of its own again, not a new one.
        assert_eq!(pools.for_worker(2).status().max_size, 3);
        assert_eq!(pools.status().max_size, 5);
        assert_eq!(pools.status().size, 0);
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_ident("cppcc"), "\"cppcc\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }
}
