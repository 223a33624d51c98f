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
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use rusqlite::Connection;

pub use feed::{DueReminder, FeedChange};
pub use outbox::{EmbeddedOutbox, OutboxMessage};

use crate::ports::StoreError;

/// More than the store's distinct statements, so none is ever parsed twice.
const STATEMENT_CACHE: usize = 128;
/// Read connections: one per core of the machines the local server runs on is enough, as each
/// read runs on the calling thread; a few more cost only their page caches.
const READERS: usize = 4;

/// All store ports on one SQLite file. Cheap to clone; clones share the connections.
///
/// Operations that write share one connection; operations that only read use a few read
/// connections of their own (`EmbeddedStore::read`): in WAL mode a reader sees every commit
/// made before it began and neither waits for the writer nor holds it up, so slot queries run on
/// both cores and a booking's reads stay out of the writer's queue.
///
/// Each operation locks its connection and runs right on the calling thread. An operation is a
/// few tens of microseconds of SQLite work (the file is in WAL mode with `synchronous=NORMAL`, so
/// a commit does not wait for the disk; only a checkpoint does, about every thousand pages), far
/// less than the two thread hand-offs a dedicated SQLite thread or the blocking pool costs per
/// operation: under a booking load those hand-offs were a third of the local server's CPU
/// (`perf`: context switches and futex wake-ups around the job channel). SQLite serialises
/// writers anyway, so one lock on the writing connection gives up no parallelism. The locks are
/// tokio's, not std's: an operation that finds its connection busy waits as a parked task, and
/// its worker thread goes on serving other requests meanwhile. With std's mutex a waiting
/// operation blocked its thread (the local server runs one per core): under a booking load the
/// one connection was held 76% of the time and the threads spent a third of theirs blocked on it
/// (docs/performance.md). The connections close when the last clone is dropped.
#[derive(Clone)]
pub struct EmbeddedStore {
    conn: Arc<tokio::sync::Mutex<Connection>>,
    readers: Arc<Readers>,
}

struct Readers {
    conns: Vec<tokio::sync::Mutex<Connection>>,
    next: AtomicUsize,
}

impl EmbeddedStore {
    pub const FILE_NAME: &'static str = "medichain.sqlite3";

    /// Opens (creating when missing) the database in `data_dir` and brings its schema up to date.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|e| StoreError::Internal(Box::new(e)))?;
        let path = data_dir.join(Self::FILE_NAME);
        let conn = open_connection(&path)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(internal)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(internal)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(internal)?;
        schema::migrate(&conn)?;
        let readers = (0..READERS)
            .map(|_| open_reader(&path).map(tokio::sync::Mutex::new))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            conn: Arc::new(tokio::sync::Mutex::new(conn)),
            readers: Arc::new(Readers {
                conns: readers,
                next: AtomicUsize::new(0),
            }),
        })
    }

    /// Runs `f`, which only reads, in one read transaction on one of the read connections: the
    /// first free one, or the next in turn when all are busy. A read connection refuses writes
    /// (`query_only`).
    pub(crate) async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conns = &self.readers.conns;
        let conn = match conns.iter().find_map(|c| c.try_lock().ok()) {
            Some(free) => free,
            None => {
                let i = self.readers.next.fetch_add(1, Ordering::Relaxed) % conns.len();
                conns[i].lock().await
            }
        };
        // One read transaction: an operation of several statements (a user's profile and
        // devices) sees one snapshot, as it did under the writer's lock.
        guarded(|| {
            let tx = conn.unchecked_transaction().map_err(internal)?;
            let out = f(&tx)?;
            tx.finish().map_err(internal)?;
            Ok(out)
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
        guarded(|| f(&mut conn))
    }
}

/// A connection with what both kinds share: every statement this store runs is prepared once
/// per connection (see `exec`), and a lock held elsewhere is waited for, not failed on.
fn open_connection(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path).map_err(internal)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(internal)?;
    Ok(conn)
}

/// A read connection on the database the writer has opened and migrated.
fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let conn = open_connection(path)?;
    conn.pragma_update(None, "query_only", "ON")
        .map_err(internal)?;
    Ok(conn)
}

/// Runs a store operation, turning a panic inside it into an error of this call only.
fn guarded<T>(f: impl FnOnce() -> Result<T, StoreError>) -> Result<T, StoreError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Err(StoreError::Internal(
            "an embedded store operation panicked".into(),
        ))
    })
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn count_doctors(conn: &Connection) -> Result<i64, StoreError> {
        conn.query_row("SELECT count(*) FROM doctors", [], |r| r.get(0))
            .map_err(internal)
    }

    #[tokio::test]
    async fn reads_go_on_while_the_writer_is_busy() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        let writer = store.conn.lock().await;
        let read = tokio::time::timeout(Duration::from_secs(5), store.read(count_doctors)).await;
        assert_eq!(read.expect("a read waited for the writer").unwrap(), 0);
        drop(writer);
    }

    #[tokio::test]
    async fn a_read_sees_every_write_that_returned_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        for n in 1..=3 {
            store
                .run(move |conn| {
                    exec(
                        conn,
                        "INSERT INTO doctors (id, name, body) VALUES (?1, 'n', '{}')",
                        [format!("doc-{n}")],
                    )
                    .map_err(internal)
                })
                .await
                .unwrap();
            assert_eq!(store.read(count_doctors).await.unwrap(), n);
        }
    }

    #[tokio::test]
    async fn a_read_connection_refuses_writes() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        let write = store
            .read(|conn| {
                exec(
                    conn,
                    "INSERT INTO doctors (id, name, body) VALUES ('doc-1', 'n', '{}')",
                    [],
                )
                .map_err(internal)
            })
            .await;
        assert!(write.is_err(), "{write:?}");
        assert_eq!(store.run(|conn| count_doctors(conn)).await.unwrap(), 0);
    }
}
