//! Idempotency records in the DynamoDB store, after the Powertools design: `begin` is one
//! conditional put that only succeeds when no live record stands in the way; the completed record
//! is written by the booking's own transaction ([`completed_item`]).

use async_trait::async_trait;
use aws_sdk_dynamodb::error::BuildError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{Put, ReturnValuesOnConditionCheckFailure};
use chrono::{DateTime, Duration, Utc};

use super::table::keys;
use super::{get_n, get_s, key, n, s, sdk_error, DynamoDbStore, Item, ENTITY, PARTITION_KEY};
use crate::adapters::sortable_time;
use crate::ports::{
    IdempotencyBegin, IdempotencyCompletion, IdempotencyKey, IdempotencyStore, StoreError,
    StoredResponse,
};

const FINGERPRINT: &str = "fingerprint";
const STATUS: &str = "status";
const LEASE_UNTIL: &str = "lease_until";
/// When the record stops counting, to the millisecond (checked in code: TTL deletion lags by up
/// to days). `expires_at` holds the same instant in epoch seconds for TTL.
const VALID_UNTIL: &str = "valid_until";
const RESPONSE_STATUS: &str = "response_status";
const RESPONSE_BODY: &str = "response_body";
const IN_PROGRESS: &str = "in_progress";
const COMPLETED: &str = "completed";

/// How often `begin` retries when the record changes between its write and its read (another
/// request finishing or releasing the same key at that very moment).
const BEGIN_ATTEMPTS: usize = 3;

/// Epoch seconds for TTL, rounded up so TTL never deletes a record that still counts.
fn ttl_seconds(t: DateTime<Utc>) -> i64 {
    t.timestamp() + i64::from(t.timestamp_subsec_nanos() > 0)
}

fn record(
    key_: &IdempotencyKey,
    fingerprint: &str,
    status: &str,
    lease_until: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Item {
    let mut item = key(keys::idempotency_pk(key_), keys::IDEMPOTENCY_SK);
    for (name, value) in [
        (ENTITY, s("idempotency")),
        (FINGERPRINT, s(fingerprint)),
        (STATUS, s(status)),
        (LEASE_UNTIL, s(sortable_time(lease_until))),
        (VALID_UNTIL, s(sortable_time(expires_at))),
        (super::TTL_ATTRIBUTE, n(ttl_seconds(expires_at))),
    ] {
        item.insert(name.to_owned(), value);
    }
    item
}

/// The completed record, put in the same transaction as the booking it protects.
fn completed_item(done: &IdempotencyCompletion) -> Item {
    let mut item = record(
        &done.key,
        &done.fingerprint,
        COMPLETED,
        done.expires_at,
        done.expires_at,
    );
    item.insert(RESPONSE_STATUS.into(), n(done.response.status));
    item.insert(RESPONSE_BODY.into(), s(done.response.body.clone()));
    item
}

/// The completed record as a transaction item, on condition that no live record of another
/// request holds the key: absent, expired at the request's time, or in progress with the same
/// fingerprint (this request's own claim, or a retry of it racing this one; whichever commits
/// first is the answer both get). See `AppointmentStore::create`.
pub(super) fn completion_put(table: &str, done: &IdempotencyCompletion) -> Result<Put, BuildError> {
    Put::builder()
        .table_name(table)
        .set_item(Some(completed_item(done)))
        .condition_expression(
            "attribute_not_exists(#pk) OR #valid <= :now OR (#status = :in_progress AND #fp = :fp)",
        )
        .expression_attribute_names("#pk", PARTITION_KEY)
        .expression_attribute_names("#valid", VALID_UNTIL)
        .expression_attribute_names("#status", STATUS)
        .expression_attribute_names("#fp", FINGERPRINT)
        .expression_attribute_values(":now", s(sortable_time(done.requested_at)))
        .expression_attribute_values(":in_progress", s(IN_PROGRESS))
        .expression_attribute_values(":fp", s(done.fingerprint.clone()))
        .build()
}

/// What a live record means for a new request with `fingerprint` at `now`; `None` when the
/// record no longer counts (expired, or in progress with a lapsed lease of the same request).
fn classify(
    found: &Item,
    fingerprint: &str,
    now: &str,
) -> Result<Option<IdempotencyBegin>, StoreError> {
    if get_s(found, VALID_UNTIL)? <= now {
        return Ok(None);
    }
    if get_s(found, FINGERPRINT)? != fingerprint {
        return Ok(Some(IdempotencyBegin::Mismatch));
    }
    if get_s(found, STATUS)? == COMPLETED {
        return Ok(Some(IdempotencyBegin::Replay(StoredResponse {
            status: get_n(found, RESPONSE_STATUS)?,
            body: get_s(found, RESPONSE_BODY)?.to_owned(),
        })));
    }
    if get_s(found, LEASE_UNTIL)? > now {
        return Ok(Some(IdempotencyBegin::InProgress));
    }
    Ok(None)
}

#[async_trait]
impl IdempotencyStore for DynamoDbStore {
    async fn begin(
        &self,
        key_: &IdempotencyKey,
        fingerprint: &str,
        now: DateTime<Utc>,
        lease: Duration,
        expires_at: DateTime<Utc>,
    ) -> Result<IdempotencyBegin, StoreError> {
        let now_key = sortable_time(now);
        for _ in 0..BEGIN_ATTEMPTS {
            let claimed = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(record(
                    key_,
                    fingerprint,
                    IN_PROGRESS,
                    now + lease,
                    expires_at,
                )))
                // Absent, expired, or the same request's lapsed lease (its worker died): ours.
                .condition_expression(
                    "attribute_not_exists(#pk) OR #valid <= :now \
                     OR (#status = :in_progress AND #lease <= :now AND #fp = :fp)",
                )
                .expression_attribute_names("#pk", PARTITION_KEY)
                .expression_attribute_names("#valid", VALID_UNTIL)
                .expression_attribute_names("#status", STATUS)
                .expression_attribute_names("#lease", LEASE_UNTIL)
                .expression_attribute_names("#fp", FINGERPRINT)
                .expression_attribute_values(":now", s(now_key.clone()))
                .expression_attribute_values(":in_progress", s(IN_PROGRESS))
                .expression_attribute_values(":fp", s(fingerprint))
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .send()
                .await;
            let err = match claimed {
                Ok(_) => return Ok(IdempotencyBegin::Started),
                Err(e) => e,
            };
            let old = match err.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(c)) => c.item.clone(),
                _ => return Err(sdk_error(err)),
            };
            // The record that stood in the way; read it when the server did not send it back.
            let found = match old {
                Some(item) => Some(item),
                None => {
                    self.get_item(key(keys::idempotency_pk(key_), keys::IDEMPOTENCY_SK))
                        .await?
                }
            };
            if let Some(found) = found {
                if let Some(outcome) = classify(&found, fingerprint, &now_key)? {
                    return Ok(outcome);
                }
            }
            // It changed between our write and our look: try the claim again.
        }
        Err(StoreError::Unavailable(
            "the idempotency record kept changing; retry".into(),
        ))
    }

    async fn find(
        &self,
        key_: &IdempotencyKey,
        fingerprint: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<IdempotencyBegin>, StoreError> {
        match self
            .get_item(key(keys::idempotency_pk(key_), keys::IDEMPOTENCY_SK))
            .await?
        {
            Some(found) => classify(&found, fingerprint, &sortable_time(now)),
            None => Ok(None),
        }
    }

    async fn release(&self, key_: &IdempotencyKey) -> Result<(), StoreError> {
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::idempotency_pk(key_), keys::IDEMPOTENCY_SK)))
            // Only an attempt still in progress is dropped; a completed response stays.
            .condition_expression("#status = :in_progress")
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_values(":in_progress", s(IN_PROGRESS))
            .send()
            .await;
        match deleted {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(sdk_error(e)),
        }
    }
}
