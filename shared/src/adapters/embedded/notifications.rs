//! Notifications, profiles created on first sight, push devices and reminder gates in the
//! embedded store.

use async_trait::async_trait;
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use rusqlite::{params, Connection, OptionalExtension};

use super::directory::contacts_of;
use super::{body_by_id, from_json, internal, to_json, EmbeddedStore};
use crate::adapters::sortable_time;
use crate::domain::device::{Device, DeviceId};
use crate::domain::notification::{Notification, NotificationId};
use crate::domain::reminder::ReminderRequest;
use crate::domain::{Appointment, UserId, UserProfile};
use crate::ports::{
    DeviceRegistry, GateClaim, NotificationStore, Page, PageRequest, ProfileStore, ReminderGate,
    ReminderReads, ReminderSubject, StoreError,
};

/// A page ends at a notification id; the cursor is that id, encoded so clients treat it as opaque.
fn encode_cursor(id: &NotificationId) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id.as_str())
}

fn decode_cursor(raw: &str) -> Result<NotificationId, StoreError> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(raw)
        .map_err(|_| StoreError::InvalidCursor)?;
    let text = String::from_utf8(bytes).map_err(|_| StoreError::InvalidCursor)?;
    NotificationId::parse(&text).map_err(|_| StoreError::InvalidCursor)
}

/// A notification as the columns of its row: user, id, read, JSON body.
type NoticeRow = (String, String, bool, String);

fn notice_rows(notifications: &[Notification]) -> Result<Vec<NoticeRow>, StoreError> {
    notifications
        .iter()
        .map(|n| Ok((n.user_id.to_string(), n.id.to_string(), n.read, to_json(n)?)))
        .collect()
}

/// Inserts each notification unless its user has one with its id (the read mark stays).
fn insert_notices(conn: &Connection, rows: &[NoticeRow]) -> Result<(), StoreError> {
    for (user, id, read, body) in rows {
        super::exec(
            conn,
            "INSERT INTO notifications (user_id, id, read, body) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (user_id, id) DO NOTHING",
            params![user, id, read, body],
        )
        .map_err(internal)?;
    }
    Ok(())
}

#[async_trait]
impl NotificationStore for EmbeddedStore {
    async fn add_notification(&self, n: &Notification) -> Result<bool, StoreError> {
        let (user, id, read, body) = (n.user_id.to_string(), n.id.to_string(), n.read, to_json(n)?);
        self.run(move |conn| {
            let added = conn
                .execute(
                    "INSERT INTO notifications (user_id, id, read, body) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (user_id, id) DO NOTHING",
                    params![user, id, read, body],
                )
                .map_err(internal)?;
            Ok(added == 1)
        })
        .await
    }

    async fn add_notifications(&self, notifications: &[Notification]) -> Result<(), StoreError> {
        let rows = notice_rows(notifications)?;
        self.run(move |conn| {
            // All or none, as the caller retries the whole batch after a failure.
            let tx = conn.transaction().map_err(internal)?;
            insert_notices(&tx, &rows)?;
            tx.commit().map_err(internal)
        })
        .await
    }

    async fn notifications_of(
        &self,
        user: &UserId,
        page: PageRequest,
    ) -> Result<Page<Notification>, StoreError> {
        let user = user.to_string();
        let before = page.cursor.as_deref().map(decode_cursor).transpose()?;
        // Ids are never empty and sort by time: "~" sorts after every id, so no cursor = newest.
        let before = before.map(String::from).unwrap_or_else(|| "~".to_owned());
        let limit = page.limit.clamp(1, PageRequest::MAX_LIMIT);
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT body, read FROM notifications WHERE user_id = ?1 AND id < ?2
                     ORDER BY id DESC LIMIT ?3",
                )
                .map_err(internal)?;
            let rows = stmt
                .query_map(params![user, before, i64::from(limit) + 1], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, bool>(1)?))
                })
                .map_err(internal)?;
            let mut items = Vec::new();
            for row in rows {
                let (body, read) = row.map_err(internal)?;
                let mut n: Notification = from_json(&body)?;
                n.read = read;
                items.push(n);
            }
            let next_cursor = if items.len() > limit as usize {
                items.truncate(limit as usize);
                items.last().map(|n| encode_cursor(&n.id))
            } else {
                None
            };
            Ok(Page { items, next_cursor })
        })
        .await
    }

    async fn unread_count(&self, user: &UserId) -> Result<u64, StoreError> {
        let user = user.to_string();
        self.read(move |conn| {
            conn.query_row(
                "SELECT COUNT(*) FROM notifications WHERE user_id = ?1 AND read = 0",
                [user],
                |row| row.get::<_, i64>(0),
            )
            .map(|n| n.max(0) as u64)
            .map_err(internal)
        })
        .await
    }

    async fn mark_read(
        &self,
        user: &UserId,
        id: &NotificationId,
    ) -> Result<Option<Notification>, StoreError> {
        let (user, id) = (user.to_string(), id.to_string());
        self.run(move |conn| {
            let body = conn
                .query_row(
                    "UPDATE notifications SET read = 1 WHERE user_id = ?1 AND id = ?2 RETURNING body",
                    params![user, id],
                    |row| row.get::<_, String>(0),
                )
                .optional()
                .map_err(internal)?;
            body.map(|b| {
                let mut n: Notification = from_json(&b)?;
                n.read = true;
                Ok(n)
            })
            .transpose()
        })
        .await
    }
}

#[async_trait]
impl ProfileStore for EmbeddedStore {
    async fn create_profile_if_absent(
        &self,
        profile: &UserProfile,
    ) -> Result<UserProfile, StoreError> {
        let (id, body) = (profile.id.to_string(), to_json(profile)?);
        self.run(move |conn| {
            let tx = conn.transaction().map_err(internal)?;
            super::exec(
                &tx,
                "INSERT INTO users (id, body) VALUES (?1, ?2) ON CONFLICT (id) DO NOTHING",
                params![id, body],
            )
            .map_err(internal)?;
            let stored: String = tx
                .query_row("SELECT body FROM users WHERE id = ?1", [&id], |row| {
                    row.get(0)
                })
                .map_err(internal)?;
            tx.commit().map_err(internal)?;
            from_json(&stored)
        })
        .await
    }
}

#[async_trait]
impl DeviceRegistry for EmbeddedStore {
    async fn register_device(&self, device: &Device) -> Result<Device, StoreError> {
        let (user, id, body) = (
            device.user_id.to_string(),
            device.id.to_string(),
            to_json(device)?,
        );
        self.run(move |conn| {
            let tx = conn.transaction().map_err(internal)?;
            super::exec(
                &tx,
                "INSERT INTO devices (user_id, id, body) VALUES (?1, ?2, ?3)
                 ON CONFLICT (user_id, id) DO NOTHING",
                params![user, id, body],
            )
            .map_err(internal)?;
            let stored: String = tx
                .query_row(
                    "SELECT body FROM devices WHERE user_id = ?1 AND id = ?2",
                    params![user, id],
                    |row| row.get(0),
                )
                .map_err(internal)?;
            tx.commit().map_err(internal)?;
            from_json(&stored)
        })
        .await
    }

    async fn devices_of(&self, user: &UserId) -> Result<Vec<Device>, StoreError> {
        let user = user.to_string();
        self.read(move |conn| devices_of(conn, &user)).await
    }

    async fn remove_device(
        &self,
        user: &UserId,
        id: &DeviceId,
    ) -> Result<Option<Device>, StoreError> {
        let (user, id) = (user.to_string(), id.to_string());
        self.run(move |conn| {
            conn.query_row(
                "DELETE FROM devices WHERE user_id = ?1 AND id = ?2 RETURNING body",
                params![user, id],
                |row| row.get::<_, String>(0),
            )
            .optional()
            .map_err(internal)?
            .map(|b| from_json(&b))
            .transpose()
        })
        .await
    }
}

/// A user's devices, by id.
pub(super) fn devices_of(conn: &Connection, user: &str) -> Result<Vec<Device>, StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT body FROM devices WHERE user_id = ?1 ORDER BY id")
        .map_err(internal)?;
    let rows = stmt
        .query_map([user], |row| row.get::<_, String>(0))
        .map_err(internal)?;
    rows.map(|r| from_json(&r.map_err(internal)?)).collect()
}

fn gate_key(r: &ReminderRequest) -> (String, &'static str, i64) {
    (
        r.appointment_id.to_string(),
        r.kind.as_str(),
        r.version as i64,
    )
}

#[async_trait]
impl ReminderGate for EmbeddedStore {
    async fn claim_reminder(
        &self,
        reminder: &ReminderRequest,
        now: DateTime<Utc>,
        lease: Duration,
        expires_at: DateTime<Utc>,
    ) -> Result<GateClaim, StoreError> {
        let (appointment, kind, version) = gate_key(reminder);
        let (now, lease_until, expires) = (
            sortable_time(now),
            sortable_time(now + lease),
            sortable_time(expires_at),
        );
        self.run(move |conn| {
            let tx = conn.transaction().map_err(internal)?;
            let found = tx
                .query_row(
                    "SELECT status, lease_until, expires_at FROM reminder_gates
                     WHERE appointment_id = ?1 AND kind = ?2 AND version = ?3",
                    params![appointment, kind, version],
                    |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?, row.get::<_, String>(2)?)),
                )
                .optional()
                .map_err(internal)?;
            let claim = match found {
                Some((status, _, exp)) if status == "sent" && exp > now => GateClaim::AlreadySent,
                Some((status, lease, exp)) if status == "in_progress" && lease > now && exp > now => {
                    GateClaim::InProgress
                }
                _ => GateClaim::Claimed,
            };
            if claim == GateClaim::Claimed {
                super::exec(&tx,
                    "INSERT INTO reminder_gates (appointment_id, kind, version, status, lease_until, expires_at)
                     VALUES (?1, ?2, ?3, 'in_progress', ?4, ?5)
                     ON CONFLICT (appointment_id, kind, version) DO UPDATE SET
                       status = 'in_progress', lease_until = excluded.lease_until,
                       expires_at = excluded.expires_at",
                    params![appointment, kind, version, lease_until, expires],
                )
                .map_err(internal)?;
            }
            tx.commit().map_err(internal)?;
            Ok(claim)
        })
        .await
    }

    async fn complete_reminder(
        &self,
        reminder: &ReminderRequest,
        notices: &[Notification],
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (appointment, kind, version) = gate_key(reminder);
        let expires = sortable_time(expires_at);
        let rows = notice_rows(notices)?;
        self.run(move |conn| {
            let tx = conn.transaction().map_err(internal)?;
            insert_notices(&tx, &rows)?;
            super::exec(
                &tx,
                "INSERT INTO reminder_gates (appointment_id, kind, version, status, lease_until, expires_at)
                 VALUES (?1, ?2, ?3, 'sent', '', ?4)
                 ON CONFLICT (appointment_id, kind, version) DO UPDATE SET
                   status = 'sent', expires_at = excluded.expires_at",
                params![appointment, kind, version, expires],
            )
            .map_err(internal)?;
            tx.commit().map_err(internal)
        })
        .await
    }

    async fn release_reminder(&self, reminder: &ReminderRequest) -> Result<(), StoreError> {
        let (appointment, kind, version) = gate_key(reminder);
        self.run(move |conn| {
            super::exec(conn,
                "DELETE FROM reminder_gates
                 WHERE appointment_id = ?1 AND kind = ?2 AND version = ?3 AND status = 'in_progress'",
                params![appointment, kind, version],
            )
            .map_err(internal)?;
            Ok(())
        })
        .await
    }
}

#[async_trait]
impl ReminderReads for EmbeddedStore {
    async fn reminder_subject(
        &self,
        reminder: &ReminderRequest,
    ) -> Result<Option<ReminderSubject>, StoreError> {
        // One read transaction whether or not the payload names the participants: the
        // appointment's own are read, so a payload naming others changes nothing.
        let id = reminder.appointment_id.to_string();
        self.read(move |conn| {
            let Some(appointment) = body_by_id::<Appointment>(conn, "appointments", &id)? else {
                return Ok(None);
            };
            Ok(Some(ReminderSubject {
                contacts: [
                    contacts_of(conn, appointment.patient_id.as_str())?,
                    contacts_of(conn, appointment.doctor_id.as_str())?,
                ],
                appointment,
            }))
        })
        .await
    }
}
