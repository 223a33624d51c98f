//! Domain events on an EventBridge bus: `source` `medichain.appointments`, the event's name as
//! `detail-type`, ids and times only in `detail`.

use async_trait::async_trait;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sdk_eventbridge::Client;

use super::outbound::outbound_error;
use crate::domain::event::{DomainEvent, EVENT_SOURCE};
use crate::ports::{EventPublisher, OutboundError};

/// PutEvents takes at most ten entries per call.
const MAX_ENTRIES: usize = 10;

#[derive(Debug, Clone)]
pub struct EventBridgePublisher {
    client: Client,
    bus: String,
}

impl EventBridgePublisher {
    pub fn new(client: Client, bus: impl Into<String>) -> Self {
        Self {
            client,
            bus: bus.into(),
        }
    }

    /// Creates the bus unless it exists (local endpoints and tests; in AWS it comes from
    /// `template.yaml`).
    pub async fn create_bus_if_missing(&self) -> Result<(), OutboundError> {
        use aws_sdk_eventbridge::error::ProvideErrorMetadata;
        match self.client.create_event_bus().name(&self.bus).send().await {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("ResourceAlreadyExistsException") => Ok(()),
            Err(e) => Err(outbound_error(e)),
        }
    }
}

#[async_trait]
impl EventPublisher for EventBridgePublisher {
    async fn publish(&self, events: &[DomainEvent]) -> Result<(), OutboundError> {
        for chunk in events.chunks(MAX_ENTRIES) {
            let entries = chunk
                .iter()
                .map(|e| {
                    PutEventsRequestEntry::builder()
                        .event_bus_name(&self.bus)
                        .source(EVENT_SOURCE)
                        .detail_type(e.name())
                        .detail(e.detail().to_string())
                        .build()
                })
                .collect();
            let out = self
                .client
                .put_events()
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(outbound_error)?;
            // PutEvents succeeds as a call even when entries fail: each failed entry carries its
            // own error code.
            if out.failed_entry_count() > 0 {
                let codes: Vec<&str> = out
                    .entries()
                    .iter()
                    .filter_map(|e| e.error_code())
                    .collect();
                let reason = format!(
                    "{} of {} events were not put: {}",
                    out.failed_entry_count(),
                    chunk.len(),
                    codes.join(", ")
                );
                let transient = codes
                    .iter()
                    .all(|c| matches!(*c, "ThrottlingException" | "InternalFailure"));
                return Err(if transient {
                    OutboundError::Unavailable(reason.into())
                } else {
                    OutboundError::Rejected(reason.into())
                });
            }
        }
        Ok(())
    }
}
