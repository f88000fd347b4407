//! Connecting, migrating and the pool behind a [`CrmStore`].

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::Connection;

use super::error::{db_err, migrate_err, redact_url, scrub};
use super::{Backend, CrmError};

/// Small pools: the engine writes from one task, the UI reads a little.
const MAX_CONNECTIONS: u32 = 5;
/// An outage must be reported fast (the engine parks writes in its outbox).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);
/// Connecting the first time may include a TLS handshake to a remote server.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an SQLite writer waits for another one before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// A pooled PostgreSQL connection idle this long is pinged before use (the server
/// may have restarted meanwhile). sqlx already pings every connection as it returns
/// to the pool and drops broken ones, so a ping on every acquire would only add a
/// round trip to each query (a lot, against a remote Supabase).
const PG_IDLE_CHECK: Duration = Duration::from_secs(5);

// `sqlx::migrate!` embeds the SQL at compile time but does not make cargo rebuild
// when a file changes; naming each file here does.
const _: &str = include_str!("../../migrations/common/0001_crm_schema.sql");
const _: &str = include_str!("../../migrations/common/0002_replay.sql");
const _: &str = include_str!("../../migrations/sqlite/1001_turns_fts.sql");
const _: &str = include_str!("../../migrations/postgres/2001_turns_fts.sql");

/// The portable schema and one dialect's full-text search. They share the
/// `_sqlx_migrations` table (versions 0001…, 1001… for SQLite, 2001… for
/// PostgreSQL), so each ignores the others' versions.
fn migrators(backend: Backend) -> [Migrator; 2] {
    let mut common = sqlx::migrate!("migrations/common");
    let mut dialect = match backend {
        Backend::Sqlite => sqlx::migrate!("migrations/sqlite"),
        Backend::Postgres => sqlx::migrate!("migrations/postgres"),
    };
    common.set_ignore_missing(true);
    dialect.set_ignore_missing(true);
    [common, dialect]
}

#[derive(Clone)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The CRM database. Cheap to clone (all clones share one pool).
#[derive(Clone)]
pub struct CrmStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    /// The URL with its password masked: the only form ever shown.
    url: String,
}

impl fmt::Debug for CrmStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CrmStore")
            .field("backend", &self.backend())
            .field("url", &self.inner.url)
            .finish()
    }
}

impl CrmStore {
    /// Connects to `sqlite://PATH` (the file and its folder are created if missing)
    /// or `postgres://…` / `postgresql://…` (`?sslmode=require` works, e.g. Supabase),
    /// and brings the schema up to date.
    pub async fn connect(url: &str) -> Result<CrmStore, CrmError> {
        let url = url.trim();
        let result = if url.starts_with("sqlite:") {
            connect_sqlite(url).await
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            connect_postgres(url).await
        } else {
            Err(CrmError::InvalidInput(format!(
                "unsupported database URL {:?}: use sqlite://PATH or postgres://USER@HOST/DB",
                redact_url(url)
            )))
        };
        let pool = result.map_err(|e| scrub(e, url))?;
        let store = CrmStore {
            inner: Arc::new(Inner {
                pool,
                url: redact_url(url),
            }),
        };
        tracing::info!(backend = store.backend().as_str(), url = %store.inner.url, "CRM store ready");
        Ok(store)
    }

    /// `sqlite://` + `$XDG_DATA_HOME/switchboard/crm.sqlite3` (or
    /// `~/.local/share/switchboard/crm.sqlite3`).
    pub fn default_sqlite_url() -> String {
        format!(
            "sqlite://{}",
            crate::config::data_dir().join("crm.sqlite3").display()
        )
    }

    pub fn backend(&self) -> Backend {
        match self.inner.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// The URL this store was opened with, password masked.
    pub fn redacted_url(&self) -> &str {
        &self.inner.url
    }

    pub(crate) fn pool(&self) -> &Pool {
        &self.inner.pool
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), CrmError> {
        with_pool!(self, p => sqlx::query("SELECT 1").execute(p).await.map(|_| ()).map_err(db_err))
    }

    /// Closes every connection; later calls fail with `Unavailable`.
    pub async fn close(&self) {
        with_pool!(self, p => p.close().await)
    }
}

async fn connect_sqlite(url: &str) -> Result<Pool, CrmError> {
    let opts = SqliteConnectOptions::from_str(url)
        .map_err(|e| CrmError::InvalidInput(format!("bad SQLite URL {url:?}: {e}")))?;
    let in_memory = url.contains(":memory:");
    if !in_memory {
        let path = opts.get_filename().to_path_buf();
        if path.as_os_str().is_empty() {
            return Err(CrmError::InvalidInput(format!(
                "SQLite URL {url:?} names no file"
            )));
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                CrmError::Database(format!("cannot create the folder {}: {e}", dir.display()))
            })?;
        }
    }
    let opts = opts
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // FULL: a committed turn survives a power cut, not only a crash.
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(SQLITE_BUSY_TIMEOUT)
        .foreign_keys(true)
        // Keeps the planner's statistics fresh, bounded in cost (SQLite's advice).
        .optimize_on_close(true, 400);
    let mut pool_opts = SqlitePoolOptions::new()
        .max_connections(MAX_CONNECTIONS)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .test_before_acquire(false);
    if in_memory {
        // One connection that never closes: each connection would be its own database.
        pool_opts = pool_opts
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None);
    }
    let pool = pool_opts.connect_with(opts).await.map_err(db_err)?;
    for m in migrators(Backend::Sqlite) {
        if let Err(e) = m.run(&pool).await {
            pool.close().await;
            return Err(migrate_err(e));
        }
    }
    Ok(Pool::Sqlite(pool))
}

async fn connect_postgres(url: &str) -> Result<Pool, CrmError> {
    let opts = PgConnectOptions::from_str(url)
        .map_err(|e| {
            CrmError::InvalidInput(format!("bad PostgreSQL URL {:?}: {e}", redact_url(url)))
        })?
        .application_name("switchboard");
    // Migrations run on a connection of their own, closed afterwards: a failed run can
    // leave PostgreSQL's advisory migration lock held by its session, and on a pooled
    // connection that lock would outlive the failure and hang every later connect.
    let mut conn = tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&opts))
        .await
        .map_err(|_| CrmError::Unavailable(format!("timed out connecting to {}", redact_url(url))))?
        .map_err(db_err)?;
    for m in migrators(Backend::Postgres) {
        if let Err(e) = m.run(&mut conn).await {
            let _ = conn.close().await;
            return Err(migrate_err(e));
        }
    }
    conn.close().await.map_err(db_err)?;
    let pool = PgPoolOptions::new()
        .max_connections(MAX_CONNECTIONS)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                // Ok(false) discards the connection and takes or opens another.
                Ok(meta.idle_for < PG_IDLE_CHECK || conn.ping().await.is_ok())
            })
        })
        .connect_lazy_with(opts);
    Ok(Pool::Postgres(pool))
}
