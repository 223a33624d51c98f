//! Idempotency records in the embedded store (see [`crate::ports::IdempotencyStore`]).

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use rusqlite::{params, OptionalExtension, Transaction};

use super::{internal, EmbeddedStore};
use crate::adapters::sortable_time;
use crate::ports::{
    IdempotencyBegin, IdempotencyCompletion, IdempotencyKey, IdempotencyStore, StoreError,
    StoredResponse,
};

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
        let (user, k, fp) = (
            key.user.to_string(),
            key.key.clone(),
            fingerprint.to_owned(),
        );
        self.run(move |conn| {
            let tx = conn.transaction().map_err(internal)?;
            let found = tx
                .query_row(
                    "SELECT fingerprint, status, lease_until, expires_at, response_status, response_body
                     FROM idempotency WHERE user_id = ?1 AND key = ?2",
                    params![user, k],
                    |row| {
                        Ok((
                            row.get::<_, String>(0)?,
                            row.get::<_, String>(1)?,
                            row.get::<_, String>(2)?,
                            row.get::<_, String>(3)?,
                            row.get::<_, Option<u16>>(4)?,
                            row.get::<_, Option<String>>(5)?,
                        ))
                    },
                )
                .optional()
                .map_err(internal)?;
            let now_key = sortable_time(now);
            let outcome = match found {
                Some((stored_fp, status, lease_until, expires, code, body)) if expires > now_key => {
                    if stored_fp != fp {
                        IdempotencyBegin::Mismatch
                    } else if status == "completed" {
                        IdempotencyBegin::Replay(StoredResponse {
                            status: code.unwrap_or(200),
                            body: body.unwrap_or_default(),
                        })
                    } else if lease_until > now_key {
                        IdempotencyBegin::InProgress
                    } else {
                        IdempotencyBegin::Started
                    }
                }
                _ => IdempotencyBegin::Started,
            };
            if outcome == IdempotencyBegin::Started {
                tx.execute(
                    "INSERT INTO idempotency (user_id, key, fingerprint, status, lease_until, expires_at)
                     VALUES (?1, ?2, ?3, 'in_progress', ?4, ?5)
                     ON CONFLICT (user_id, key) DO UPDATE SET
                        fingerprint = excluded.fingerprint, status = 'in_progress',
                        lease_until = excluded.lease_until, expires_at = excluded.expires_at,
                        response_status = NULL, response_body = NULL",
                    params![user, k, fp, sortable_time(now + lease), sortable_time(expires_at)],
                )
                .map_err(internal)?;
            }
            tx.commit().map_err(internal)?;
            Ok(outcome)
        })
        .await
    }

    async fn release(&self, key: &IdempotencyKey) -> Result<(), StoreError> {
        let (user, k) = (key.user.to_string(), key.key.clone());
        self.run(move |conn| {
            conn.execute(
                "DELETE FROM idempotency WHERE user_id = ?1 AND key = ?2 AND status = 'in_progress'",
                params![user, k],
            )
            .map_err(internal)?;
            Ok(())
        })
        .await
    }
}

/// Marks the record completed with its response, inside the caller's transaction.
pub(super) fn complete(
    tx: &Transaction<'_>,
    done: &IdempotencyCompletion,
) -> Result<(), StoreError> {
    tx.execute(
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
