//! Outbound ports: what the side effects of a booking need from the world outside the store —
//! one-time reminder schedules, SMS and push delivery, push endpoint registration and the event
//! bus. In AWS: EventBridge Scheduler, SNS and EventBridge; locally: the embedded outbox.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::BoxError;
use crate::domain::device::{DeviceToken, PushEndpoint};
use crate::domain::event::DomainEvent;
use crate::domain::reminder::{ReminderKind, ReminderRequest};
use crate::domain::user::PhoneNumber;
use crate::domain::{AppointmentId, UserId};

#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    /// Throttled, timed out or down after the SDK's own retries: the same call may work later.
    #[error("the service is unavailable, retry later")]
    Unavailable(#[source] BoxError),
    /// The service refused the request as it is (a bad token, a missing resource, no permission).
    #[error("the request was rejected")]
    Rejected(#[source] BoxError),
    /// This deployment has no such channel configured (e.g. no FCM platform application).
    #[error("{0} is not configured")]
    NotConfigured(&'static str),
}

#[async_trait]
pub trait ReminderScheduler: Send + Sync {
    /// Makes sure `reminder` fires at `at` (UTC). Scheduling the same appointment and kind again
    /// is harmless (a retried event).
    async fn schedule_reminder(
        &self,
        reminder: &ReminderRequest,
        at: DateTime<Utc>,
    ) -> Result<(), OutboundError>;

    /// [`ReminderScheduler::schedule_reminder`] for each `(reminder, at)`: a booking's two
    /// reminders in one go. Stores that can do it in one write or in parallel override this;
    /// the default schedules them one after the other and stops at the first error (a retry
    /// schedules them all again, which is harmless).
    async fn schedule_reminders(
        &self,
        reminders: &[(ReminderRequest, DateTime<Utc>)],
    ) -> Result<(), OutboundError> {
        for (reminder, at) in reminders {
            self.schedule_reminder(reminder, *at).await?;
        }
        Ok(())
    }

    /// Makes sure the appointment's reminder of `kind` does not fire; one that is missing (never
    /// made, already fired) is fine.
    async fn unschedule_reminder(
        &self,
        appointment_id: &AppointmentId,
        kind: ReminderKind,
    ) -> Result<(), OutboundError>;
}

/// What a message is about, for logs and the local outbox (never sent to the recipient).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageContext {
    pub recipient: UserId,
    pub appointment_id: AppointmentId,
    pub kind: ReminderKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    Delivered,
    /// The platform told us the endpoint no longer works (app uninstalled, token expired).
    EndpointDisabled,
}

#[async_trait]
pub trait Notifier: Send + Sync {
    async fn send_sms(
        &self,
        to: &PhoneNumber,
        text: &str,
        context: &MessageContext,
    ) -> Result<(), OutboundError>;

    async fn send_push(
        &self,
        to: &PushEndpoint,
        text: &str,
        context: &MessageContext,
    ) -> Result<PushOutcome, OutboundError>;
}

#[async_trait]
pub trait PushRegistrar: Send + Sync {
    /// The push endpoint for a device token (SNS `CreatePlatformEndpoint`, idempotent per token).
    async fn create_endpoint(
        &self,
        token: &DeviceToken,
        user: &UserId,
    ) -> Result<PushEndpoint, OutboundError>;

    /// Forgets an endpoint; one that is gone already is fine.
    async fn delete_endpoint(&self, endpoint: &PushEndpoint) -> Result<(), OutboundError>;
}

#[async_trait]
pub trait EventPublisher: Send + Sync {
    async fn publish(&self, events: &[DomainEvent]) -> Result<(), OutboundError>;
}

/// A push registrar for deployments without push: every registration is refused as not
/// configured, so the API answers with a clear problem instead of failing later.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoPush;

#[async_trait]
impl PushRegistrar for NoPush {
    async fn create_endpoint(
        &self,
        _token: &DeviceToken,
        _user: &UserId,
    ) -> Result<PushEndpoint, OutboundError> {
        Err(OutboundError::NotConfigured("push"))
    }

    async fn delete_endpoint(&self, _endpoint: &PushEndpoint) -> Result<(), OutboundError> {
        Ok(())
    }
}
