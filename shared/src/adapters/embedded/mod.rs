//! The embedded store: one SQLite database file, opened once and shared. Every port method is one
//! SQLite transaction, so the guarantees match the DynamoDB store's transactions (no double
//! booking, conditional updates on the version, idempotency completed with the change).

mod appointments;
mod audit;
mod directory;
mod feed;
mod idempotency;
mod notifications;
mod outbox;
mod schema;

use std::path::Path;
use std::sync::Arc;

use rusqlite::Connection;

pub use feed::{DueReminder, FeedChange};
pub use outbox::{EmbeddedOutbox, OutboxMessage};

use crate::ports::StoreError;

/// More than the store's distinct statements, so none is ever parsed twice.
const STATEMENT_CACHE: usize = 128;

/// All store ports on one SQLite file. Cheap to clone; clones share the connection.
///
/// Each operation locks the connection and runs right on the calling thread. An operation is a
/// few tens of microseconds of SQLite work (the file is in WAL mode with `synchronous=NORMAL`, so
/// a commit does not wait for the disk; only a checkpoint does, about every thousand pages), far
/// less than the two thread hand-offs a dedicated SQLite thread or the blocking pool costs per
/// operation: under a booking load those hand-offs were a third of the local server's CPU
/// (`perf`: context switches and futex wake-ups around the job channel). SQLite serialises
/// writers anyway, so one lock gives up no parallelism. The lock is tokio's, not std's: an
/// operation that finds the connection busy waits as a parked task, and its worker thread goes on
/// serving other requests meanwhile. With std's mutex a waiting operation blocked its thread
/// (the local server runs one per core): under a booking load the connection was held 76% of the
/// time and the threads spent a third of theirs blocked on it (docs/performance.md). The
/// connection closes when the last clone is dropped.
#[derive(Clone)]
pub struct EmbeddedStore {
    conn: Arc<tokio::sync::Mutex<Connection>>,
}

impl EmbeddedStore {
    pub const FILE_NAME: &'static str = "medichain.sqlite3";

    /// Opens (creating when missing) the database in `data_dir` and brings its schema up to date.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|e| StoreError::Internal(Box::new(e)))?;
        let conn = Connection::open(data_dir.join(Self::FILE_NAME)).map_err(internal)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(internal)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(internal)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(internal)?;
        // Every statement this store runs is prepared once per connection (see `exec`).
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(internal)?;
        schema::migrate(&conn)?;
        Ok(Self {
            conn: Arc::new(tokio::sync::Mutex::new(conn)),
        })
    }

    /// Runs `f` with the connection, on the calling thread (see the type's documentation for
    /// why not on a thread of its own). A panic inside `f` is caught: it fails this call, not the
    /// store (a transaction it left open is rolled back as the panic unwinds). `f` runs without
    /// an await once the lock is taken, so a caller dropped while it waits has run nothing.
    pub(crate) async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let mut conn = self.conn.lock().await;
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&mut conn))).unwrap_or_else(
            |_| {
                Err(StoreError::Internal(
                    "an embedded store operation panicked".into(),
                ))
            },
        )
    }
}

/// `execute` through the connection's statement cache: `Connection::execute` parses its SQL on
/// every call, which was a tenth of the local server's CPU under a booking load.
pub(crate) fn exec(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute(params)
}

pub(crate) fn internal(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy) | Some(rusqlite::ErrorCode::DatabaseLocked) => {
            StoreError::Unavailable(Box::new(e))
        }
        _ => StoreError::Internal(Box::new(e)),
    }
}

pub(crate) fn is_constraint_violation(e: &rusqlite::Error) -> bool {
    e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation)
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Internal(Box::new(e)))
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(raw: &str) -> Result<T, StoreError> {
    serde_json::from_str(raw).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// The JSON body of the row with `id` in `table` (one of our fixed table names, never input).
pub(crate) fn body_by_id<T: serde::de::DeserializeOwned>(
    conn: &Connection,
    table: &'static str,
    id: &str,
) -> Result<Option<T>, StoreError> {
    use rusqlite::OptionalExtension as _;
    conn.prepare_cached(&format!("SELECT body FROM {table} WHERE id = ?1"))
        .map_err(internal)?
        .query_row([id], |row| row.get::<_, String>(0))
        .optional()
        .map_err(internal)?
        .map(|body| from_json(&body))
        .transpose()
}
