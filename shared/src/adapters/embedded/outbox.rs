//! The embedded store's stand-ins for SNS and the event bus: SMS and push messages go to an outbox
//! table (and the log, with phone numbers shortened), push "endpoints" are local names, and
//! domain events go to an events table. `GET /dev/outbox` of the local server lists the outbox.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::params;
use serde::Serialize;

use super::{internal, EmbeddedStore};
use crate::adapters::{parse_time, sortable_time};
use crate::clock::Clock;
use crate::domain::device::{DeviceToken, PushEndpoint};
use crate::domain::event::DomainEvent;
use crate::domain::user::PhoneNumber;
use crate::domain::UserId;
use crate::ports::{
    EventPublisher, MessageContext, Notifier, OutboundError, PushOutcome, PushRegistrar, StoreError,
};

/// One message "sent" through the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutboxMessage {
    /// `sms` or `push`.
    pub channel: String,
    /// The user the message was for.
    pub recipient: String,
    /// Where it went: the phone number shortened to its last two digits, or the push endpoint.
    pub address: String,
    pub text: String,
    pub appointment_id: String,
    /// `24h` or `5m`.
    pub kind: String,
    pub sent_at: DateTime<Utc>,
}

/// The local notifier, push registrar and event publisher, writing into `store` with times from
/// `clock` (the dev clock locally).
#[derive(Clone)]
pub struct EmbeddedOutbox {
    store: EmbeddedStore,
    clock: std::sync::Arc<dyn Clock>,
}

impl EmbeddedOutbox {
    pub fn new(store: EmbeddedStore, clock: std::sync::Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    async fn record(
        &self,
        channel: &'static str,
        address: String,
        text: &str,
        context: &MessageContext,
    ) -> Result<(), OutboundError> {
        let row = (
            context.recipient.to_string(),
            text.to_owned(),
            context.appointment_id.to_string(),
            context.kind.as_str(),
            sortable_time(self.clock.now()),
        );
        tracing::info!(
            channel,
            recipient = %context.recipient,
            address = %address,
            appointment_id = %context.appointment_id,
            kind = %context.kind,
            text,
            "outbox: message sent"
        );
        self.store
            .run(move |conn| {
                super::exec(conn,
                    "INSERT INTO message_outbox (channel, recipient, address, text, appointment_id, kind, sent_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![channel, row.0, address, row.1, row.2, row.3, row.4],
                )
                .map_err(internal)?;
                Ok(())
            })
            .await
            .map_err(store_failure)
    }

    /// Every message sent so far, oldest first.
    pub async fn messages(&self) -> Result<Vec<OutboxMessage>, StoreError> {
        self.store
            .read(|conn| {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT channel, recipient, address, text, appointment_id, kind, sent_at
                         FROM message_outbox ORDER BY seq",
                    )
                    .map_err(internal)?;
                let rows = stmt
                    .query_map([], |row| {
                        Ok((
                            row.get::<_, String>(0)?,
                            row.get::<_, String>(1)?,
                            row.get::<_, String>(2)?,
                            row.get::<_, String>(3)?,
                            row.get::<_, String>(4)?,
                            row.get::<_, String>(5)?,
                            row.get::<_, String>(6)?,
                        ))
                    })
                    .map_err(internal)?;
                let mut out = Vec::new();
                for row in rows {
                    let (channel, recipient, address, text, appointment_id, kind, sent_at) =
                        row.map_err(internal)?;
                    out.push(OutboxMessage {
                        channel,
                        recipient,
                        address,
                        text,
                        appointment_id,
                        kind,
                        sent_at: parse_time(&sent_at)?,
                    });
                }
                Ok(out)
            })
            .await
    }
}

pub(super) fn store_failure(e: StoreError) -> OutboundError {
    match e {
        StoreError::Unavailable(source) => OutboundError::Unavailable(source),
        other => OutboundError::Rejected(Box::new(other)),
    }
}

/// A phone number as logs and the dev page show it.
fn shortened(phone: &PhoneNumber) -> String {
    let digits = phone.as_str();
    format!("+…{}", &digits[digits.len().saturating_sub(2)..])
}

/// Local push endpoints are named after the device, never after its token.
const LOCAL_ENDPOINT_PREFIX: &str = "local-push:";

#[async_trait]
impl Notifier for EmbeddedOutbox {
    async fn send_sms(
        &self,
        to: &PhoneNumber,
        text: &str,
        context: &MessageContext,
    ) -> Result<(), OutboundError> {
        self.record("sms", shortened(to), text, context).await
    }

    async fn send_push(
        &self,
        to: &PushEndpoint,
        text: &str,
        context: &MessageContext,
    ) -> Result<PushOutcome, OutboundError> {
        if !to.0.starts_with(LOCAL_ENDPOINT_PREFIX) {
            // An endpoint made elsewhere (a database copied from AWS): nothing can reach it here.
            return Ok(PushOutcome::EndpointDisabled);
        }
        self.record("push", to.0.clone(), text, context).await?;
        Ok(PushOutcome::Delivered)
    }
}

#[async_trait]
impl PushRegistrar for EmbeddedOutbox {
    async fn create_endpoint(
        &self,
        token: &DeviceToken,
        user: &UserId,
    ) -> Result<PushEndpoint, OutboundError> {
        Ok(PushEndpoint(format!(
            "{LOCAL_ENDPOINT_PREFIX}{}:{}",
            token.platform(),
            token.device_id(user)
        )))
    }

    async fn delete_endpoint(&self, _endpoint: &PushEndpoint) -> Result<(), OutboundError> {
        Ok(())
    }
}

#[async_trait]
impl EventPublisher for EmbeddedOutbox {
    async fn publish(&self, events: &[DomainEvent]) -> Result<(), OutboundError> {
        let now = sortable_time(self.clock.now());
        let rows: Vec<(String, &'static str, String, String)> = events
            .iter()
            .map(|e| {
                tracing::info!(event = e.name(), appointment_id = %e.appointment_id(), "event published");
                (e.event_id(), e.name(), e.appointment_id().to_string(), e.detail().to_string())
            })
            .collect();
        self.store
            .run(move |conn| {
                let tx = conn.transaction().map_err(internal)?;
                for (event_id, name, appointment_id, detail) in rows {
                    super::exec(&tx,
                        "INSERT INTO domain_events (event_id, name, appointment_id, detail, published_at)
                         VALUES (?1, ?2, ?3, ?4, ?5)",
                        params![event_id, name, appointment_id, detail, now],
                    )
                    .map_err(internal)?;
                }
                tx.commit().map_err(internal)
            })
            .await
            .map_err(store_failure)
    }
}
