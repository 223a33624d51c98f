//! Idempotency records in the embedded store (see [`crate::ports::IdempotencyStore`]).

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use rusqlite::{params, OptionalExtension};

use super::{internal, EmbeddedStore};
use crate::adapters::sortable_time;
use crate::ports::{
    IdempotencyBegin, IdempotencyCompletion, IdempotencyKey, IdempotencyStore, StoreError,
    StoredResponse,
};

/// A stored record, as `begin` and `find` judge it.
struct Record {
    fingerprint: String,
    status: String,
    lease_until: String,
    expires_at: String,
    response_status: Option<u16>,
    response_body: Option<String>,
}

impl Record {
    fn load(conn: &rusqlite::Connection, key: &IdempotencyKey) -> Result<Option<Self>, StoreError> {
        conn.query_row(
            "SELECT fingerprint, status, lease_until, expires_at, response_status, response_body
             FROM idempotency WHERE user_id = ?1 AND key = ?2",
            params![key.user.to_string(), key.key],
            |row| {
                Ok(Self {
                    fingerprint: row.get(0)?,
                    status: row.get(1)?,
                    lease_until: row.get(2)?,
                    expires_at: row.get(3)?,
                    response_status: row.get(4)?,
                    response_body: row.get(5)?,
                })
            },
        )
        .optional()
        .map_err(internal)
    }

    /// What the record means for a request with `fingerprint` at `now` (a sortable time);
    /// `None` when it no longer counts (expired, or this request's lapsed lease).
    fn judge(self, fingerprint: &str, now: &str) -> Option<IdempotencyBegin> {
        if self.expires_at.as_str() <= now {
            None
        } else if self.fingerprint != fingerprint {
            Some(IdempotencyBegin::Mismatch)
        } else if self.status == "completed" {
            Some(IdempotencyBegin::Replay(StoredResponse {
                status: self.response_status.unwrap_or(200),
                body: self.response_body.unwrap_or_default(),
            }))
        } else if self.lease_until.as_str() > now {
            Some(IdempotencyBegin::InProgress)
        } else {
            None
        }
    }
}

#[async_trait]
impl IdempotencyStore for EmbeddedStore {
    async fn begin(
        &self,
        key: &IdempotencyKey,
        fingerprint: &str,
        now: DateTime<Utc>,
        lease: Duration,
        expires_at: DateTime<Utc>,
    ) -> Result<IdempotencyBegin, StoreError> {
        let (key, fp) = (key.clone(), fingerprint.to_owned());
        self.run(move |conn| {
            let tx = conn.transaction().map_err(internal)?;
            let outcome = Record::load(&tx, &key)?
                .and_then(|r| r.judge(&fp, &sortable_time(now)))
                .unwrap_or(IdempotencyBegin::Started);
            if outcome == IdempotencyBegin::Started {
                super::exec(&tx,
                    "INSERT INTO idempotency (user_id, key, fingerprint, status, lease_until, expires_at)
                     VALUES (?1, ?2, ?3, 'in_progress', ?4, ?5)
                     ON CONFLICT (user_id, key) DO UPDATE SET
                        fingerprint = excluded.fingerprint, status = 'in_progress',
                        lease_until = excluded.lease_until, expires_at = excluded.expires_at,
                        response_status = NULL, response_body = NULL",
                    params![
                        key.user.to_string(),
                        key.key,
                        fp,
                        sortable_time(now + lease),
                        sortable_time(expires_at)
                    ],
                )
                .map_err(internal)?;
            }
            tx.commit().map_err(internal)?;
            Ok(outcome)
        })
        .await
    }

    async fn find(
        &self,
        key: &IdempotencyKey,
        fingerprint: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<IdempotencyBegin>, StoreError> {
        let (key, fp) = (key.clone(), fingerprint.to_owned());
        self.read(move |conn| {
            Ok(Record::load(conn, &key)?.and_then(|r| r.judge(&fp, &sortable_time(now))))
        })
        .await
    }

    async fn release(&self, key: &IdempotencyKey) -> Result<(), StoreError> {
        let (user, k) = (key.user.to_string(), key.key.clone());
        self.run(move |conn| {
            super::exec(conn,
                "DELETE FROM idempotency WHERE user_id = ?1 AND key = ?2 AND status = 'in_progress'",
                params![user, k],
            )
            .map_err(internal)?;
            Ok(())
        })
        .await
    }
}

/// Whether a live record of another request holds `done`'s key, inside the caller's transaction:
/// a completed one, or one in progress with another fingerprint (see `AppointmentStore::create`).
pub(super) fn held_by_another(
    tx: &rusqlite::Connection,
    done: &IdempotencyCompletion,
) -> Result<bool, StoreError> {
    let now = sortable_time(done.requested_at);
    Ok(Record::load(tx, &done.key)?.is_some_and(|r| {
        r.expires_at > now && (r.status == "completed" || r.fingerprint != done.fingerprint)
    }))
}

/// Marks the record completed with its response, inside the caller's transaction.
pub(super) fn complete(
    tx: &rusqlite::Connection,
    done: &IdempotencyCompletion,
) -> Result<(), StoreError> {
    super::exec(
        tx,
        "INSERT INTO idempotency (user_id, key, fingerprint, status, lease_until, expires_at,
                                  response_status, response_body)
         VALUES (?1, ?2, ?3, 'completed', ?4, ?4, ?5, ?6)
         ON CONFLICT (user_id, key) DO UPDATE SET
            fingerprint = excluded.fingerprint, status = 'completed',
            expires_at = excluded.expires_at, response_status = excluded.response_status,
            response_body = excluded.response_body",
        params![
            done.key.user.to_string(),
            done.key.key,
            done.fingerprint,
            sortable_time(done.expires_at),
            done.response.status,
            done.response.body
        ],
    )
    .map_err(internal)?;
    Ok(())
}
