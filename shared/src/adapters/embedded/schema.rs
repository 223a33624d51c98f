//! The embedded store's schema, migrated forward with SQLite's `user_version`.

use rusqlite::Connection;

use super::internal;
use crate::ports::StoreError;

/// Each entry brings the schema from version `index` to `index + 1`. Append only.
const MIGRATIONS: &[&str] = &[
    r#"
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
"#,
    r#"
    -- Notifications and reminders (docs/reminders.md).
    CREATE TABLE notifications (
        user_id TEXT NOT NULL,
        id      TEXT NOT NULL,
        read    INTEGER NOT NULL DEFAULT 0,
        body    TEXT NOT NULL,
        PRIMARY KEY (user_id, id)
    );
    CREATE INDEX notifications_unread ON notifications (user_id, read);
    CREATE TABLE devices (
        user_id TEXT NOT NULL,
        id      TEXT NOT NULL,
        body    TEXT NOT NULL,
        PRIMARY KEY (user_id, id)
    );
    -- The once-only gate of each reminder of each version of an appointment.
    CREATE TABLE reminder_gates (
        appointment_id TEXT NOT NULL,
        kind           TEXT NOT NULL,
        version        INTEGER NOT NULL,
        status         TEXT NOT NULL CHECK (status IN ('in_progress', 'sent')),
        lease_until    TEXT NOT NULL,
        expires_at     TEXT NOT NULL,
        PRIMARY KEY (appointment_id, kind, version)
    );
    -- The local stand-in for EventBridge Scheduler: one row per pending one-time schedule.
    CREATE TABLE scheduled_reminders (
        appointment_id  TEXT NOT NULL,
        kind            TEXT NOT NULL,
        version         INTEGER NOT NULL,
        due_at          TEXT NOT NULL,
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        PRIMARY KEY (appointment_id, kind)
    );
    CREATE INDEX scheduled_reminders_due ON scheduled_reminders (next_attempt_at);
    -- The local stand-in for SNS: every SMS and push message "sent".
    CREATE TABLE message_outbox (
        seq            INTEGER PRIMARY KEY AUTOINCREMENT,
        channel        TEXT NOT NULL CHECK (channel IN ('sms', 'push')),
        recipient      TEXT NOT NULL,
        address        TEXT NOT NULL,
        text           TEXT NOT NULL,
        appointment_id TEXT NOT NULL,
        kind           TEXT NOT NULL,
        sent_at        TEXT NOT NULL
    );
    -- The local stand-in for the event bus.
    CREATE TABLE domain_events (
        seq            INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id       TEXT NOT NULL,
        name           TEXT NOT NULL,
        appointment_id TEXT NOT NULL,
        detail         TEXT NOT NULL,
        published_at   TEXT NOT NULL
    );
    -- The local stand-in for the DynamoDB stream: every change of an appointment, old and new
    -- image, written by triggers in the same transaction as the change (an outbox), read in order.
    CREATE TABLE appointment_changes (
        seq      INTEGER PRIMARY KEY AUTOINCREMENT,
        old_body TEXT,
        new_body TEXT,
        attempts INTEGER NOT NULL DEFAULT 0
    );
    CREATE TRIGGER appointment_changes_insert AFTER INSERT ON appointments BEGIN
        INSERT INTO appointment_changes (old_body, new_body) VALUES (NULL, NEW.body);
    END;
    CREATE TRIGGER appointment_changes_update AFTER UPDATE ON appointments BEGIN
        INSERT INTO appointment_changes (old_body, new_body) VALUES (OLD.body, NEW.body);
    END;
    CREATE TRIGGER appointment_changes_delete AFTER DELETE ON appointments BEGIN
        INSERT INTO appointment_changes (old_body, new_body) VALUES (OLD.body, NULL);
    END;
"#,
    // The audit trail (one row per event; `expires_at` mirrors DynamoDB's TTL) and per-user
    // usage counters (the daily SMS cap).
    r#"
    CREATE TABLE audit_events (
        seq            INTEGER PRIMARY KEY AUTOINCREMENT,
        appointment_id TEXT NOT NULL,
        at             TEXT NOT NULL,
        body           TEXT NOT NULL,
        expires_at     TEXT NOT NULL
    );
    CREATE INDEX audit_events_by_appointment ON audit_events (appointment_id, at, seq);
    CREATE TABLE usage_quota (
        user_id    TEXT NOT NULL,
        kind       TEXT NOT NULL,
        day        TEXT NOT NULL,
        used       INTEGER NOT NULL,
        expires_at TEXT NOT NULL,
        PRIMARY KEY (user_id, kind, day)
    );
"#,
    // The start a schedule was armed for (`ReminderRequest::start`); NULL in rows from before.
    r#"
    ALTER TABLE scheduled_reminders ADD COLUMN start TEXT;
"#,
];

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
