//! Appointments and doctor-slot locks in the embedded store.

use async_trait::async_trait;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use rusqlite::params;
use serde::{Deserialize, Serialize};

use super::{
    audit, body_by_id, from_json, idempotency, internal, is_constraint_violation, to_json,
    EmbeddedStore,
};
use crate::adapters::{parse_time, sortable_time};
use crate::domain::audit::AuditEvent;
use crate::domain::doctor::SlotRules;
use crate::domain::{Appointment, AppointmentId, UserId};
use crate::ports::{
    AppointmentStore, BookingCap, IdempotencyCompletion, Page, PageRequest, Party, StoreError,
    TimeRange,
};

/// Where the previous page ended: the (start, id) of its last item.
#[derive(Serialize, Deserialize)]
struct Cursor {
    s: String,
    i: String,
}

fn encode_cursor(a: &Appointment) -> Result<String, StoreError> {
    let raw = to_json(&Cursor {
        s: sortable_time(a.start),
        i: a.id.to_string(),
    })?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw))
}

fn decode_cursor(raw: &str) -> Result<Cursor, StoreError> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(raw)
        .map_err(|_| StoreError::InvalidCursor)?;
    let cursor: Cursor = serde_json::from_slice(&bytes).map_err(|_| StoreError::InvalidCursor)?;
    parse_time(&cursor.s).map_err(|_| StoreError::InvalidCursor)?;
    AppointmentId::parse(&cursor.i).map_err(|_| StoreError::InvalidCursor)?;
    Ok(cursor)
}

impl EmbeddedStore {
    /// The booking transaction: the key first (see `AppointmentStore::create`), then the slot
    /// lock, the appointment, the key's completed record and the audit event.
    async fn create_with(
        &self,
        appointment: &Appointment,
        idempotency: Option<&IdempotencyCompletion>,
        audit: Option<&AuditEvent>,
        cap: Option<BookingCap>,
    ) -> Result<(), StoreError> {
        let a = appointment.clone();
        let body = to_json(&a)?;
        let done = idempotency.cloned();
        let audit_event = audit.cloned();
        self.run(move |conn| {
            let tx = conn.transaction().map_err(internal)?;
            // The key first: the retry of a booking finds its own slot lock taken.
            if let Some(done) = &done {
                if idempotency::held_by_another(&tx, done)? {
                    return Err(StoreError::IdempotencyKeyInUse);
                }
            }
            if a.holds_slot() {
                super::exec(
                    &tx,
                    "INSERT INTO slot_locks (doctor_id, start, appointment_id) VALUES (?1, ?2, ?3)",
                    params![
                        a.doctor_id.to_string(),
                        sortable_time(a.start),
                        a.id.to_string()
                    ],
                )
                .map_err(|e| {
                    if is_constraint_violation(&e) {
                        StoreError::SlotTaken
                    } else {
                        internal(e)
                    }
                })?;
            }
            // After the lock, so that a taken slot is what a racing patient hears about; inside
            // the transaction (SQLite holds the write lock), so two bookings cannot both pass.
            if let Some(cap) = cap {
                check_cap(&tx, &a.patient_id, cap)?;
            }
            super::exec(
                &tx,
                "INSERT INTO appointments (id, patient_id, doctor_id, start, version, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    a.id.to_string(),
                    a.patient_id.to_string(),
                    a.doctor_id.to_string(),
                    sortable_time(a.start),
                    a.version as i64,
                    body
                ],
            )
            .map_err(|e| {
                if is_constraint_violation(&e) {
                    StoreError::AlreadyExists
                } else {
                    internal(e)
                }
            })?;
            if let Some(done) = &done {
                idempotency::complete(&tx, done)?;
            }
            if let Some(event) = &audit_event {
                audit::insert_event(&tx, event)?;
            }
            tx.commit().map_err(internal)
        })
        .await
    }
}

/// `BookingCapReached` when the patient holds `cap.max` upcoming appointments already. An
/// appointment lasts at most [`SlotRules::MAX_SLOT_MINUTES`], so one that started longer ago than
/// that is over and the index on (patient, start) bounds the read.
fn check_cap(
    tx: &rusqlite::Connection,
    patient: &UserId,
    cap: BookingCap,
) -> Result<(), StoreError> {
    let since = cap.now - chrono::Duration::minutes(i64::from(SlotRules::MAX_SLOT_MINUTES));
    let mut stmt = tx
        .prepare_cached("SELECT body FROM appointments WHERE patient_id = ?1 AND start >= ?2")
        .map_err(internal)?;
    let bodies = stmt
        .query_map(params![patient.to_string(), sortable_time(since)], |row| {
            row.get::<_, String>(0)
        })
        .map_err(internal)?;
    let mut ends = Vec::new();
    for body in bodies {
        let held: Appointment = from_json(&body.map_err(internal)?)?;
        if held.holds_slot() && held.end > cap.now {
            ends.push(held.end);
        }
    }
    if ends.len() < cap.max {
        return Ok(());
    }
    Err(StoreError::BookingCapReached {
        next_free_at: ends.into_iter().min(),
    })
}

#[async_trait]
impl AppointmentStore for EmbeddedStore {
    async fn create(
        &self,
        appointment: &Appointment,
        idempotency: Option<&IdempotencyCompletion>,
    ) -> Result<(), StoreError> {
        self.create_with(appointment, idempotency, None, None).await
    }

    async fn create_audited(
        &self,
        appointment: &Appointment,
        idempotency: Option<&IdempotencyCompletion>,
        audit: &AuditEvent,
        cap: Option<BookingCap>,
    ) -> Result<(), StoreError> {
        self.create_with(appointment, idempotency, Some(audit), cap)
            .await
    }

    async fn get(&self, id: &AppointmentId) -> Result<Option<Appointment>, StoreError> {
        let id = id.to_string();
        self.read(move |conn| body_by_id(conn, "appointments", &id))
            .await
    }

    async fn update(&self, previous: &Appointment, next: &Appointment) -> Result<(), StoreError> {
        let (prev, next) = (previous.clone(), next.clone());
        let body = to_json(&next)?;
        self.run(move |conn| {
            let tx = conn.transaction().map_err(internal)?;
            let updated = tx
                .execute(
                    "UPDATE appointments SET start = ?1, version = ?2, body = ?3
                     WHERE id = ?4 AND version = ?5",
                    params![
                        sortable_time(next.start),
                        next.version as i64,
                        body,
                        next.id.to_string(),
                        prev.version as i64
                    ],
                )
                .map_err(internal)?;
            if updated != 1 {
                return Err(StoreError::StaleVersion);
            }
            let moved = prev.start != next.start;
            if prev.holds_slot() && (moved || !next.holds_slot()) {
                super::exec(&tx,
                    "DELETE FROM slot_locks WHERE doctor_id = ?1 AND start = ?2 AND appointment_id = ?3",
                    params![prev.doctor_id.to_string(), sortable_time(prev.start), prev.id.to_string()],
                )
                .map_err(internal)?;
            }
            if next.holds_slot() && (moved || !prev.holds_slot()) {
                super::exec(&tx,
                    "INSERT INTO slot_locks (doctor_id, start, appointment_id) VALUES (?1, ?2, ?3)",
                    params![next.doctor_id.to_string(), sortable_time(next.start), next.id.to_string()],
                )
                .map_err(|e| {
                    if is_constraint_violation(&e) {
                        StoreError::SlotTaken
                    } else {
                        internal(e)
                    }
                })?;
            }
            tx.commit().map_err(internal)
        })
        .await
    }

    async fn list_for(
        &self,
        party: &Party,
        range: TimeRange,
        page: PageRequest,
    ) -> Result<Page<Appointment>, StoreError> {
        let (column, user) = match party {
            Party::Patient(id) => ("patient_id", id.to_string()),
            Party::Doctor(id) => ("doctor_id", id.to_string()),
        };
        let after = page.cursor.as_deref().map(decode_cursor).transpose()?;
        let from = range.from.map(sortable_time).unwrap_or_default();
        let to = range
            .to
            .map(sortable_time)
            .unwrap_or_else(|| "9999".to_owned());
        let (after_start, after_id) = after.map(|c| (c.s, c.i)).unwrap_or_default();
        let limit = page.limit.clamp(1, PageRequest::MAX_LIMIT);
        // `column` is one of two fixed names, never caller input.
        let sql = format!(
            "SELECT body FROM appointments
             WHERE {column} = ?1 AND start >= ?2 AND start < ?3
               AND (start > ?4 OR (start = ?4 AND id > ?5))
             ORDER BY start, id LIMIT ?6"
        );
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&sql).map_err(internal)?;
            let rows = stmt
                .query_map(
                    params![user, from, to, after_start, after_id, i64::from(limit) + 1],
                    |row| row.get::<_, String>(0),
                )
                .map_err(internal)?;
            let mut items: Vec<Appointment> = rows
                .map(|r| from_json(&r.map_err(internal)?))
                .collect::<Result<_, _>>()?;
            let next_cursor = if items.len() > limit as usize {
                items.truncate(limit as usize);
                items.last().map(encode_cursor).transpose()?
            } else {
                None
            };
            Ok(Page { items, next_cursor })
        })
        .await
    }

    async fn taken_slots(
        &self,
        doctor: &UserId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>, StoreError> {
        let (doctor, from, to) = (doctor.to_string(), sortable_time(from), sortable_time(to));
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT start FROM slot_locks WHERE doctor_id = ?1 AND start >= ?2 AND start < ?3
                     ORDER BY start",
                )
                .map_err(internal)?;
            let rows = stmt
                .query_map(params![doctor, from, to], |row| row.get::<_, String>(0))
                .map_err(internal)?;
            rows.map(|r| parse_time(&r.map_err(internal)?)).collect()
        })
        .await
    }
}
