//! The audit trail and usage quotas in the DynamoDB store. An audit event is an item of its own
//! under `AUDIT#<appointment id>` (sorted by time), deleted by TTL after the retention period; a
//! quota is one counter item per user, kind and day, taken with one conditional `UpdateItem`.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, NaiveDate, Utc};

use super::{
    body_of, key, n, s, sdk_error, to_json, DynamoDbStore, Item, BODY, ENTITY, PARTITION_KEY,
    TTL_ATTRIBUTE,
};
use crate::adapters::sortable_time;
use crate::domain::audit::AuditEvent;
use crate::domain::{AppointmentId, UserId};
use crate::ports::{AuditLog, QuotaKind, StoreError, UsageQuota};

const USED: &str = "used";

fn audit_pk(id: &AppointmentId) -> String {
    format!("AUDIT#{id}")
}

fn quota_pk(user: &UserId, kind: QuotaKind, day: NaiveDate) -> String {
    format!("QUOTA#{user}#{}#{day}", kind.as_str())
}

/// Epoch seconds for TTL, rounded up.
fn ttl_seconds(t: DateTime<Utc>) -> i64 {
    t.timestamp() + i64::from(t.timestamp_subsec_nanos() > 0)
}

pub(super) fn audit_item(event: &AuditEvent) -> Result<Item, StoreError> {
    // Two events of one appointment in the same millisecond must not overwrite each other.
    let mut nonce = [0u8; 6];
    getrandom::fill(&mut nonce).map_err(|e| StoreError::Internal(e.to_string().into()))?;
    let nonce: String = nonce.iter().map(|b| format!("{b:02x}")).collect();
    let mut item = key(
        audit_pk(&event.appointment_id),
        format!("{}#{nonce}", sortable_time(event.at)),
    );
    item.insert(ENTITY.to_owned(), s("audit"));
    item.insert(BODY.to_owned(), s(to_json(event)?));
    item.insert(TTL_ATTRIBUTE.to_owned(), n(ttl_seconds(event.expires_at())));
    Ok(item)
}

#[async_trait]
impl AuditLog for DynamoDbStore {
    async fn record(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        let items = events
            .iter()
            .map(audit_item)
            .collect::<Result<Vec<_>, _>>()?;
        self.batch_put(items, "audit events").await
    }

    async fn audit_of(
        &self,
        appointment: &AppointmentId,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let mut events = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", PARTITION_KEY)
                .expression_attribute_values(":pk", s(audit_pk(appointment)))
                .consistent_read(true)
                .limit(i32::try_from(limit).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(sdk_error)?;
            for item in out.items() {
                events.push(body_of(item)?);
            }
            start = out.last_evaluated_key;
            if start.is_none() || events.len() >= limit as usize {
                break;
            }
        }
        events.truncate(limit as usize);
        Ok(events)
    }
}

#[async_trait]
impl UsageQuota for DynamoDbStore {
    async fn try_take(
        &self,
        user: &UserId,
        kind: QuotaKind,
        day: NaiveDate,
        limit: u32,
        expires_at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(quota_pk(user, kind, day), "QUOTA")))
            .update_expression("SET #entity = :entity, #ttl = :ttl ADD #used :one")
            .condition_expression("attribute_not_exists(#used) OR #used < :limit")
            .expression_attribute_names("#entity", ENTITY)
            .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
            .expression_attribute_names("#used", USED)
            .expression_attribute_values(":entity", s("quota"))
            .expression_attribute_values(":ttl", n(ttl_seconds(expires_at)))
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":limit", n(limit))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(sdk_error(e)),
        }
    }
}
