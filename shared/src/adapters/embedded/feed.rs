//! The embedded store's stand-ins for the DynamoDB stream and EventBridge Scheduler: the change
//! feed (every appointment change with its old and new image, written by triggers in the same
//! transaction as the change) and the table of pending one-time reminder schedules. The local
//! server's worker reads both and runs the same side effects as the Lambda functions.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::params;

use super::outbox::store_failure;
use super::{from_json, internal, EmbeddedStore};
use crate::adapters::{parse_time, sortable_time};
use crate::domain::reminder::{ReminderKind, ReminderRequest};
use crate::domain::{Appointment, AppointmentId};
use crate::ports::{OutboundError, ReminderScheduler, StoreError};

/// One entry of the change feed.
#[derive(Debug)]
pub struct FeedChange {
    pub seq: i64,
    /// How often handling it failed before.
    pub attempts: u32,
    /// The images before and after; an error when a stored body no longer parses.
    pub images: Result<(Option<Appointment>, Option<Appointment>), StoreError>,
}

/// A schedule whose time has come.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueReminder {
    pub request: ReminderRequest,
    pub due_at: DateTime<Utc>,
    pub attempts: u32,
}

fn image(body: Option<String>) -> Result<Option<Appointment>, StoreError> {
    body.map(|b| from_json(&b)).transpose()
}

impl EmbeddedStore {
    /// The oldest changes not handled yet, in the order they happened.
    pub async fn next_changes(&self, limit: u32) -> Result<Vec<FeedChange>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT seq, attempts, old_body, new_body FROM appointment_changes
                     ORDER BY seq LIMIT ?1",
                )
                .map_err(internal)?;
            let rows = stmt
                .query_map([i64::from(limit)], |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, u32>(1)?,
                        row.get::<_, Option<String>>(2)?,
                        row.get::<_, Option<String>>(3)?,
                    ))
                })
                .map_err(internal)?;
            let mut changes = Vec::new();
            for row in rows {
                let (seq, attempts, old, new) = row.map_err(internal)?;
                changes.push(FeedChange {
                    seq,
                    attempts,
                    images: image(old).and_then(|o| Ok((o, image(new)?))),
                });
            }
            Ok(changes)
        })
        .await
    }

    /// Removes the changes up to and including `seq` from the feed, once handled: the worker
    /// handles them in order, so one statement acknowledges a whole batch (as a stream consumer
    /// checkpoints a batch, not each record).
    pub async fn ack_changes_through(&self, seq: i64) -> Result<(), StoreError> {
        self.run(move |conn| {
            super::exec(
                conn,
                "DELETE FROM appointment_changes WHERE seq <= ?1",
                [seq],
            )
            .map_err(internal)?;
            Ok(())
        })
        .await
    }

    /// Counts a failed attempt at a change (it stays first in the feed).
    pub async fn retry_change(&self, seq: i64) -> Result<(), StoreError> {
        self.run(move |conn| {
            super::exec(
                conn,
                "UPDATE appointment_changes SET attempts = attempts + 1 WHERE seq = ?1",
                [seq],
            )
            .map_err(internal)?;
            Ok(())
        })
        .await
    }

    /// Schedules whose next attempt is due at `now`, earliest first.
    pub async fn due_reminders(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<DueReminder>, StoreError> {
        let now = sortable_time(now);
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT appointment_id, kind, version, due_at, attempts, start FROM scheduled_reminders
                     WHERE next_attempt_at <= ?1 ORDER BY next_attempt_at, appointment_id, kind
                     LIMIT ?2",
                )
                .map_err(internal)?;
            let rows = stmt
                .query_map(params![now, i64::from(limit)], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, i64>(2)?,
                        row.get::<_, String>(3)?,
                        row.get::<_, u32>(4)?,
                        row.get::<_, Option<String>>(5)?,
                    ))
                })
                .map_err(internal)?;
            let mut due = Vec::new();
            for row in rows {
                let (id, kind, version, due_at, attempts, start) = row.map_err(internal)?;
                due.push(DueReminder {
                    request: ReminderRequest {
                        appointment_id: AppointmentId::parse(&id)?,
                        kind: ReminderKind::parse(&kind)?,
                        version: u64::try_from(version)
                            .map_err(|_| StoreError::Corrupt("negative version".into()))?,
                        start: start.as_deref().map(parse_time).transpose()?,
                        // The embedded store reads the appointment and its users in one
                        // transaction without them.
                        participants: None,
                    },
                    due_at: parse_time(&due_at)?,
                    attempts,
                });
            }
            Ok(due)
        })
        .await
    }

    /// Drops a schedule after it fired (EventBridge Scheduler's `ActionAfterCompletion` DELETE),
    /// unless it was replaced by another version in the meantime.
    pub async fn finish_reminder(&self, r: &ReminderRequest) -> Result<(), StoreError> {
        let (id, kind, version) = (
            r.appointment_id.to_string(),
            r.kind.as_str(),
            r.version as i64,
        );
        self.run(move |conn| {
            super::exec(conn,
                "DELETE FROM scheduled_reminders WHERE appointment_id = ?1 AND kind = ?2 AND version = ?3",
                params![id, kind, version],
            )
            .map_err(internal)?;
            Ok(())
        })
        .await
    }

    /// Tries a schedule again at `next` (the scheduler's retry policy).
    pub async fn postpone_reminder(
        &self,
        r: &ReminderRequest,
        next: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (id, kind, version, next) = (
            r.appointment_id.to_string(),
            r.kind.as_str(),
            r.version as i64,
            sortable_time(next),
        );
        self.run(move |conn| {
            super::exec(
                conn,
                "UPDATE scheduled_reminders SET attempts = attempts + 1, next_attempt_at = ?4
                 WHERE appointment_id = ?1 AND kind = ?2 AND version = ?3",
                params![id, kind, version, next],
            )
            .map_err(internal)?;
            Ok(())
        })
        .await
    }
}

/// Like EventBridge Scheduler, one schedule per appointment and kind; creating one that exists is
/// a success that keeps the existing one.
#[async_trait]
impl ReminderScheduler for EmbeddedStore {
    async fn schedule_reminder(
        &self,
        r: &ReminderRequest,
        at: DateTime<Utc>,
    ) -> Result<(), OutboundError> {
        let row = ScheduleRow::of(r, at);
        self.run(move |conn| insert_schedule(conn, row))
            .await
            .map_err(store_failure)
    }

    /// All in one transaction: under a booking load the local server's worker makes a booking's
    /// two schedules with one commit instead of two.
    async fn schedule_reminders(
        &self,
        reminders: &[(ReminderRequest, DateTime<Utc>)],
    ) -> Result<(), OutboundError> {
        let rows: Vec<ScheduleRow> = reminders
            .iter()
            .map(|(r, at)| ScheduleRow::of(r, *at))
            .collect();
        self.run(move |conn| {
            let tx = conn.transaction().map_err(internal)?;
            for row in rows {
                insert_schedule(&tx, row)?;
            }
            tx.commit().map_err(internal)
        })
        .await
        .map_err(store_failure)
    }

    async fn unschedule_reminder(
        &self,
        appointment_id: &AppointmentId,
        kind: ReminderKind,
    ) -> Result<(), OutboundError> {
        let (id, kind) = (appointment_id.to_string(), kind.as_str());
        self.run(move |conn| {
            super::exec(
                conn,
                "DELETE FROM scheduled_reminders WHERE appointment_id = ?1 AND kind = ?2",
                params![id, kind],
            )
            .map_err(internal)?;
            Ok(())
        })
        .await
        .map_err(store_failure)
    }
}

/// A schedule's columns, as stored.
struct ScheduleRow {
    id: String,
    kind: &'static str,
    version: i64,
    start: Option<String>,
    at: String,
}

impl ScheduleRow {
    fn of(r: &ReminderRequest, at: DateTime<Utc>) -> Self {
        ScheduleRow {
            id: r.appointment_id.to_string(),
            kind: r.kind.as_str(),
            version: r.version as i64,
            // Not `sortable_time` (milliseconds): compared for equality when the reminder fires,
            // so kept to the last digit.
            start: r
                .start
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
            at: sortable_time(at),
        }
    }
}

/// A schedule's row; one that exists for the appointment and kind is kept (see above).
fn insert_schedule(conn: &rusqlite::Connection, row: ScheduleRow) -> Result<(), StoreError> {
    let ScheduleRow {
        id,
        kind,
        version,
        start,
        at,
    } = row;
    super::exec(
        conn,
        "INSERT INTO scheduled_reminders
             (appointment_id, kind, version, start, due_at, next_attempt_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT (appointment_id, kind) DO NOTHING",
        params![id, kind, version, start, at],
    )
    .map_err(internal)?;
    Ok(())
}
