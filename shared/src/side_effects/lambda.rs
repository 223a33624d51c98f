//! The Lambda side of the side effects: a DynamoDB stream batch (`NEW_AND_OLD_IMAGES`) becomes one
//! [`handle_change`] per appointment record, in order, with partial batch failures reported; a
//! fired schedule's payload becomes one [`send_reminder()`].

use aws_lambda_events::dynamodb::{Event, EventRecord};
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use serde_dynamo::AttributeValue;

use super::{handle_change, send_reminder, EffectDeps, EffectError, ReminderOutcome};
use crate::adapters::aws::table::keys::{APPOINTMENT_PK_PREFIX, APPOINTMENT_SK};
use crate::adapters::aws::table::{PARTITION_KEY, SORT_KEY};
use crate::domain::reminder::ReminderRequest;
use crate::domain::Appointment;

/// The appointment in a stream image: the item's JSON `body`, if the image is an appointment item
/// (`APPT#<id>` / `APPT`). Other items share the table (locks, notifications, gates) and are not
/// this consumer's business.
fn appointment_of(image: &serde_dynamo::Item) -> Result<Option<Appointment>, EffectError> {
    let text = |name: &str| match image.get(name) {
        Some(AttributeValue::S(s)) => Some(s.as_str()),
        _ => None,
    };
    let is_appointment = text(PARTITION_KEY)
        .is_some_and(|pk| pk.starts_with(APPOINTMENT_PK_PREFIX))
        && text(SORT_KEY) == Some(APPOINTMENT_SK);
    if !is_appointment {
        return Ok(None);
    }
    let body = text("body")
        .ok_or_else(|| EffectError::Invalid("appointment image without a body".into()))?;
    serde_json::from_str(body)
        .map(Some)
        .map_err(|e| EffectError::Invalid(format!("appointment image does not parse: {e}")))
}

fn is_appointment_record(record: &EventRecord) -> bool {
    let keys = &record.change.keys;
    // The same test as the event source mapping's filter (`table::appointment_stream_filter`),
    // kept here for records that reach the handler another way (tests, a mapping without it).
    matches!(keys.get(SORT_KEY), Some(AttributeValue::S(sk)) if sk == APPOINTMENT_SK)
        && matches!(keys.get(PARTITION_KEY), Some(AttributeValue::S(pk)) if pk.starts_with(APPOINTMENT_PK_PREFIX))
}

async fn handle_record(deps: &EffectDeps, record: &EventRecord) -> Result<(), EffectError> {
    let old = appointment_of(&record.change.old_image)?;
    let new = appointment_of(&record.change.new_image)?;
    handle_change(deps, old.as_ref(), new.as_ref()).await
}

/// Handles a batch in order. At the first record that fails for a passing reason, it stops and
/// reports that record: Lambda retries the batch from there, so changes of one appointment are
/// never handled out of order. A record that can never succeed (it does not parse) is logged and
/// skipped rather than blocking the shard.
pub async fn handle_stream_batch(deps: &EffectDeps, event: Event) -> DynamoDbEventResponse {
    let mut response = DynamoDbEventResponse::default();
    for record in &event.records {
        if !is_appointment_record(record) {
            continue;
        }
        let sequence = record.change.sequence_number.clone();
        match handle_record(deps, record).await {
            Ok(()) => {}
            Err(e) if e.is_retryable() => {
                tracing::warn!(event_id = %record.event_id, error = %e, "appointment change failed; the batch is retried from it");
                let mut failure = DynamoDbBatchItemFailure::default();
                failure.item_identifier = sequence;
                response.batch_item_failures.push(failure);
                break;
            }
            Err(e) => {
                tracing::error!(event_id = %record.event_id, error = %e, "appointment change skipped: it cannot succeed");
            }
        }
    }
    response
}

/// Handles one fired schedule and answers with what happened. `Err` asks Lambda to retry the
/// invocation: when the work may succeed later (a passing failure, or another worker holding the
/// reminder right now) and for a payload we did not make (so it lands in the failure destination).
pub async fn handle_scheduled(
    deps: &EffectDeps,
    payload: serde_json::Value,
) -> Result<serde_json::Value, EffectError> {
    let request: ReminderRequest = serde_json::from_value(payload).map_err(|e| {
        tracing::error!(error = %e, "reminder payload is not {{appointment_id, kind, version[, participants]}}");
        EffectError::Invalid(e.to_string())
    })?;
    let outcome = match send_reminder(deps, &request).await? {
        ReminderOutcome::InProgress => return Err(EffectError::InProgress),
        ReminderOutcome::Sent {
            sms,
            push,
            disabled_endpoints,
        } => {
            serde_json::json!({ "outcome": "sent", "sms": sms, "push": push, "disabled_endpoints": disabled_endpoints })
        }
        ReminderOutcome::Skipped(reason) => {
            serde_json::json!({ "outcome": "skipped", "reason": format!("{reason:?}") })
        }
    };
    Ok(outcome)
}
