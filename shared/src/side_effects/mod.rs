//! The side effects of appointment changes: what `appointment-events` does with each change of an
//! appointment (schedules, in-app notifications, domain events) and what `send-reminder` does when
//! a schedule fires (a once-only SMS, push and in-app reminder). The same code runs in the Lambda
//! functions (DynamoDB stream, EventBridge Scheduler, SNS) and in the local server (change feed,
//! in-process timer, outbox); only the adapters in [`EffectDeps`] differ.

pub mod appointment_events;
#[cfg(all(feature = "aws", feature = "lambda"))]
pub mod bootstrap;
#[cfg(feature = "aws")]
pub mod lambda;
pub mod plan;
pub mod send_reminder;

use std::sync::Arc;

use crate::clock::Clock;
use crate::domain::device::Device;
use crate::domain::doctor::TimeZone;
use crate::domain::notification::Recipient;
use crate::domain::{Appointment, Role, UserProfile};
use crate::ports::{
    AppointmentStore, Contacts, Directory, EventPublisher, NotificationStore, Notifier,
    OutboundError, ReminderGate, ReminderReads, ReminderScheduler, StoreError, UsageQuota,
};

pub use appointment_events::handle_change;
pub use send_reminder::{send_reminder, ReminderOutcome, SkipReason};

/// What the side effects need, built once at cold start (or server start).
#[derive(Clone)]
pub struct EffectDeps {
    pub appointments: Arc<dyn AppointmentStore>,
    pub directory: Arc<dyn Directory>,
    pub notifications: Arc<dyn NotificationStore>,
    pub gate: Arc<dyn ReminderGate>,
    /// What a fired reminder reads: the appointment and both users' contacts at once.
    pub reminder_reads: Arc<dyn ReminderReads>,
    /// The per-user daily SMS cap (see `send_reminder::DAILY_SMS_CAP`).
    pub quotas: Arc<dyn UsageQuota>,
    pub scheduler: Arc<dyn ReminderScheduler>,
    pub notifier: Arc<dyn Notifier>,
    pub events: Arc<dyn EventPublisher>,
    pub clock: Arc<dyn Clock>,
    /// The web app's base URL (no trailing slash), for the links in SMS and push texts.
    pub site_url: String,
}

impl EffectDeps {
    /// Every store port from one store, the outbound ports from their adapters.
    pub fn new<S>(
        store: S,
        scheduler: Arc<dyn ReminderScheduler>,
        notifier: Arc<dyn Notifier>,
        events: Arc<dyn EventPublisher>,
        clock: Arc<dyn Clock>,
        site_url: impl Into<String>,
    ) -> Self
    where
        S: AppointmentStore
            + Directory
            + NotificationStore
            + ReminderGate
            + ReminderReads
            + UsageQuota
            + Clone
            + 'static,
    {
        Self {
            appointments: Arc::new(store.clone()),
            directory: Arc::new(store.clone()),
            notifications: Arc::new(store.clone()),
            gate: Arc::new(store.clone()),
            reminder_reads: Arc::new(store.clone()),
            quotas: Arc::new(store),
            scheduler,
            notifier,
            events,
            clock,
            site_url: site_url.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EffectError {
    #[error("the store failed")]
    Store(#[from] StoreError),
    #[error("an outbound call failed")]
    Outbound(#[from] OutboundError),
    /// The event or payload does not hold what it must (a bug or a foreign record): retrying
    /// cannot help.
    #[error("invalid input: {0}")]
    Invalid(String),
    /// Another worker holds this reminder's lease right now: try again after it.
    #[error("another worker is sending this reminder")]
    InProgress,
}

impl EffectError {
    /// Whether the same work may succeed if tried again later.
    pub fn is_retryable(&self) -> bool {
        match self {
            EffectError::Store(StoreError::Unavailable(_))
            | EffectError::Outbound(OutboundError::Unavailable(_))
            | EffectError::InProgress => true,
            // Anything unexpected from the store is retried too: the stream or scheduler gives
            // up after its own limit and parks the record in the dead-letter queue.
            EffectError::Store(StoreError::Internal(_)) => true,
            _ => false,
        }
    }
}

/// A participant of `appointment` as a recipient: their profile when they have one (for the time
/// zone and contact), else the doctor's directory zone, else UTC; and their push devices.
pub(crate) struct Participant {
    pub recipient: Recipient,
    pub profile: Option<UserProfile>,
    pub devices: Vec<Device>,
}

pub(crate) async fn participants(
    deps: &EffectDeps,
    appointment: &Appointment,
) -> Result<[Participant; 2], StoreError> {
    // Both users' profiles and devices in one read: the side effects run once per change and
    // per reminder, so every round trip here is paid on each of them (docs/performance.md, AWS
    // calls).
    let contacts: [Contacts; 2] = deps
        .directory
        .get_contacts(&[
            appointment.patient_id.clone(),
            appointment.doctor_id.clone(),
        ])
        .await?
        .try_into()
        .map_err(|_| {
            StoreError::Internal("get_contacts answered for another number of users".into())
        })?;
    as_participants(deps, appointment, contacts).await
}

/// The participants of `appointment` from their `contacts` (the patient's, then the doctor's).
pub(crate) async fn as_participants(
    deps: &EffectDeps,
    appointment: &Appointment,
    [patient, doctor]: [Contacts; 2],
) -> Result<[Participant; 2], StoreError> {
    let doctor_zone = match &doctor.profile {
        Some(p) => p.time_zone,
        None => deps
            .directory
            .get_doctor(&appointment.doctor_id)
            .await?
            .map(|d| d.time_zone)
            .unwrap_or_default(),
    };
    let patient_zone = patient
        .profile
        .as_ref()
        .map(|p| p.time_zone)
        .unwrap_or_else(TimeZone::default);
    Ok([
        Participant {
            recipient: Recipient {
                id: appointment.patient_id.clone(),
                role: Role::Patient,
                time_zone: patient_zone,
            },
            profile: patient.profile,
            devices: patient.devices,
        },
        Participant {
            recipient: Recipient {
                id: appointment.doctor_id.clone(),
                role: Role::Doctor,
                time_zone: doctor_zone,
            },
            profile: doctor.profile,
            devices: doctor.devices,
        },
    ])
}

#[cfg(all(test, feature = "embedded"))]
mod tests;
