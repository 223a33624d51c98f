//! Cold-start wiring of the reminder functions and of the API functions that register push
//! devices: the typed settings from the environment, one SDK configuration load, and the adapters
//! (DynamoDB and SNS for both reminder functions; EventBridge Scheduler and the event bus for
//! `appointment-events` only). A missing or malformed setting fails here, once, never per event.
//! The variables are listed in [`crate::config::reminders`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use aws_types::SdkConfig;

use super::EffectDeps;
use crate::adapters::aws::eventbridge::EventBridgePublisher;
use crate::adapters::aws::scheduler::SchedulerReminders;
use crate::adapters::aws::sns::SnsNotifier;
use crate::adapters::aws::{load_sdk_config, DynamoDbStore};
use crate::api::Deps;
use crate::clock::SystemClock;
use crate::config::reminders::{event_bus, sms_site_url, PushApps, ScheduleTarget};
use crate::config::{self, AppConfig};
use crate::domain::event::DomainEvent;
use crate::domain::reminder::ReminderKind;
use crate::domain::reminder::ReminderRequest;
use crate::domain::AppointmentId;
use crate::ports::{EventPublisher, OutboundError, ReminderScheduler};

pub type BootError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Which function is wired: only `appointment-events` manages schedules (and so needs their
/// settings and permissions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EffectFunction {
    AppointmentEvents,
    SendReminder,
}

/// What `send-reminder` gets for the scheduler and the event bus, which it never uses: a wiring
/// mistake fails loudly instead of linking (and permitting) a client the function does not need.
struct NotWiredHere;

#[async_trait::async_trait]
impl ReminderScheduler for NotWiredHere {
    async fn schedule_reminder(
        &self,
        _reminder: &ReminderRequest,
        _at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), OutboundError> {
        Err(OutboundError::NotConfigured("scheduling in this function"))
    }

    async fn unschedule_reminder(
        &self,
        _appointment_id: &AppointmentId,
        _kind: ReminderKind,
    ) -> Result<(), OutboundError> {
        Err(OutboundError::NotConfigured("scheduling in this function"))
    }
}

#[async_trait::async_trait]
impl EventPublisher for NotWiredHere {
    async fn publish(&self, _events: &[DomainEvent]) -> Result<(), OutboundError> {
        Err(OutboundError::NotConfigured(
            "domain events in this function",
        ))
    }
}

/// The reminder schedules and the event bus: real in `appointment-events`, [`NotWiredHere`] in
/// `send-reminder`.
type Outbound = (Arc<dyn ReminderScheduler>, Arc<dyn EventPublisher>);

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The side effects' dependencies for `function`, from the environment.
///
/// Each arm builds a different future type, and this wrapper is inlined into each `main`, where
/// `function` is a constant: the match folds at compile time and `send-reminder` links neither
/// the Scheduler nor the EventBridge client and their adapters (docs/performance.md). A run-time
/// choice inside one function kept them in both binaries.
#[inline(always)]
pub fn effect_deps(
    function: EffectFunction,
) -> Pin<Box<dyn Future<Output = Result<EffectDeps, BootError>>>> {
    match function {
        EffectFunction::AppointmentEvents => Box::pin(build_effect_deps(|| {
            let bus = event_bus(env)?;
            let target = ScheduleTarget::from_lookup(env)?;
            Ok(move |sdk: &SdkConfig| -> Outbound {
                (
                    Arc::new(SchedulerReminders::new(
                        aws_sdk_scheduler::Client::new(sdk),
                        target,
                    )),
                    Arc::new(EventBridgePublisher::new(
                        aws_sdk_eventbridge::Client::new(sdk),
                        bus,
                    )),
                )
            })
        })),
        EffectFunction::SendReminder => Box::pin(build_effect_deps(|| {
            Ok(|_: &SdkConfig| -> Outbound { (Arc::new(NotWiredHere), Arc::new(NotWiredHere)) })
        })),
    }
}

/// The wiring both functions share; `outbound` reads the settings of what only one function
/// wires (after the common ones, so errors come in a fixed order) and returns how to build it.
async fn build_effect_deps<S, B>(outbound: S) -> Result<EffectDeps, BootError>
where
    S: FnOnce() -> Result<B, BootError>,
    B: FnOnce(&SdkConfig) -> Outbound,
{
    let app = AppConfig::from_lookup(env)?;
    let site_url = sms_site_url(&app)?;
    let table = config::required(&env, "TABLE_NAME")?;
    let outbound = outbound()?;
    let sdk = load_sdk_config().await;
    let store = DynamoDbStore::new(aws_sdk_dynamodb::Client::new(&sdk), table);
    let (scheduler, events) = outbound(&sdk);
    // Publishing to endpoints and phone numbers needs no platform application.
    let sns = SnsNotifier::new(aws_sdk_sns::Client::new(&sdk), PushApps::default());
    Ok(EffectDeps::new(
        store,
        scheduler,
        Arc::new(sns),
        events,
        Arc::new(SystemClock),
        site_url,
    ))
}

/// The API dependencies with push registration through SNS, for `register-device` and
/// `remove-device` (the platform applications come from `SNS_APNS_APPLICATION_ARN` and
/// `SNS_FCM_APPLICATION_ARN`).
pub async fn push_api_deps() -> Result<Deps, BootError> {
    let apps = PushApps::from_lookup(|name| std::env::var(name).ok())?;
    let deps = crate::bootstrap::aws_deps().await?;
    let sdk = load_sdk_config().await;
    Ok(deps.with_push(Arc::new(SnsNotifier::new(
        aws_sdk_sns::Client::new(&sdk),
        apps,
    ))))
}
