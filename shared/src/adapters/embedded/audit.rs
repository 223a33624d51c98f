//! The audit trail and usage quotas in the embedded store (see [`crate::ports::AuditLog`] and
//! [`crate::ports::UsageQuota`]).

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{params, OptionalExtension};

use super::{from_json, internal, to_json, EmbeddedStore};
use crate::adapters::sortable_time;
use crate::domain::audit::AuditEvent;
use crate::domain::{AppointmentId, UserId};
use crate::ports::{AuditLog, QuotaKind, StoreError, UsageQuota};

/// Writes one audit event inside the caller's transaction (a booking writes its own this way).
pub(super) fn insert_event(
    tx: &rusqlite::Connection,
    event: &AuditEvent,
) -> Result<(), StoreError> {
    super::exec(
        tx,
        "INSERT INTO audit_events (appointment_id, at, body, expires_at) VALUES (?1, ?2, ?3, ?4)",
        params![
            event.appointment_id.to_string(),
            sortable_time(event.at),
            to_json(event)?,
            sortable_time(event.expires_at())
        ],
    )
    .map_err(internal)?;
    Ok(())
}

#[async_trait]
impl AuditLog for EmbeddedStore {
    async fn record(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        let events = events.to_vec();
        self.run(move |conn| {
            let tx = conn.transaction().map_err(internal)?;
            for e in &events {
                insert_event(&tx, e)?;
            }
            tx.commit().map_err(internal)
        })
        .await
    }

    async fn audit_of(
        &self,
        appointment: &AppointmentId,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let id = appointment.to_string();
        let bodies: Vec<String> = self
            .read(move |conn| {
                let mut stmt = conn
                    .prepare(
                        "SELECT body FROM audit_events WHERE appointment_id = ?1
                         ORDER BY at, seq LIMIT ?2",
                    )
                    .map_err(internal)?;
                let rows = stmt
                    .query_map(params![id, limit], |row| row.get(0))
                    .map_err(internal)?
                    .collect::<Result<Vec<String>, _>>()
                    .map_err(internal)?;
                Ok(rows)
            })
            .await?;
        bodies.iter().map(|b| from_json(b)).collect()
    }
}

#[async_trait]
impl UsageQuota for EmbeddedStore {
    async fn try_take(
        &self,
        user: &UserId,
        kind: QuotaKind,
        day: NaiveDate,
        limit: u32,
        expires_at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let (user, kind, day, expires) = (
            user.to_string(),
            kind.as_str(),
            day.to_string(),
            sortable_time(expires_at),
        );
        self.run(move |conn| {
            let tx = conn.transaction().map_err(internal)?;
            let used: Option<u32> = tx
                .query_row(
                    "SELECT used FROM usage_quota WHERE user_id = ?1 AND kind = ?2 AND day = ?3",
                    params![user, kind, day],
                    |row| row.get(0),
                )
                .optional()
                .map_err(internal)?;
            let used = used.unwrap_or(0);
            if used >= limit {
                return Ok(false);
            }
            super::exec(&tx,
                "INSERT INTO usage_quota (user_id, kind, day, used, expires_at) VALUES (?1, ?2, ?3, 1, ?4)
                 ON CONFLICT (user_id, kind, day) DO UPDATE SET used = used + 1",
                params![user, kind, day, expires],
            )
            .map_err(internal)?;
            tx.commit().map_err(internal)?;
            Ok(true)
        })
        .await
    }
}
