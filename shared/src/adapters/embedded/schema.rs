//! The embedded store's schema, migrated forward with SQLite's `user_version`.

use rusqlite::Connection;

use super::internal;
use crate::ports::StoreError;

/// Each entry brings the schema from version `index` to `index + 1`. Append only.
const MIGRATIONS: &[&str] = &[r#"
    CREATE TABLE doctors (
        id   TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        body TEXT NOT NULL
    );
    CREATE TABLE users (
        id   TEXT PRIMARY KEY,
        body TEXT NOT NULL
    );
    CREATE TABLE appointments (
        id         TEXT PRIMARY KEY,
        patient_id TEXT NOT NULL,
        doctor_id  TEXT NOT NULL,
        start      TEXT NOT NULL,
        version    INTEGER NOT NULL,
        body       TEXT NOT NULL
    );
    CREATE INDEX appointments_by_patient ON appointments (patient_id, start, id);
    CREATE INDEX appointments_by_doctor  ON appointments (doctor_id, start, id);
    -- One row per held doctor slot: the primary key is what makes a double booking impossible.
    CREATE TABLE slot_locks (
        doctor_id      TEXT NOT NULL,
        start          TEXT NOT NULL,
        appointment_id TEXT NOT NULL,
        PRIMARY KEY (doctor_id, start)
    );
    CREATE TABLE idempotency (
        user_id         TEXT NOT NULL,
        key             TEXT NOT NULL,
        fingerprint     TEXT NOT NULL,
        status          TEXT NOT NULL CHECK (status IN ('in_progress', 'completed')),
        lease_until     TEXT NOT NULL,
        expires_at      TEXT NOT NULL,
        response_status INTEGER,
        response_body   TEXT,
        PRIMARY KEY (user_id, key)
    );
"#];

pub(crate) fn migrate(conn: &Connection) -> Result<(), StoreError> {
    let current: i64 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(internal)?;
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        conn.execute_batch(&format!(
            "BEGIN; {sql} PRAGMA user_version = {}; COMMIT;",
            index + 1
        ))
        .map_err(internal)?;
    }
    Ok(())
}
