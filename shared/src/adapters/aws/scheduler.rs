//! Reminder schedules on EventBridge Scheduler: one one-time `at(...)` schedule per appointment and
//! kind, in UTC, with no flexible window, deleted by the scheduler after it ran, invoking
//! `send-reminder` with `{appointment_id, kind, version, participants: {patient, doctor}}` only —
//! ids, no personal data in names, descriptions or payloads.

use std::future::Future;
use std::pin::Pin;

use async_trait::async_trait;
use aws_sdk_scheduler::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_scheduler::types::{
    ActionAfterCompletion, DeadLetterConfig, FlexibleTimeWindow, FlexibleTimeWindowMode,
    RetryPolicy, ScheduleState, Target,
};
use aws_sdk_scheduler::Client;
use chrono::{DateTime, Utc};

use super::outbound::outbound_error;
use crate::config::reminders::ScheduleTarget;
use crate::domain::reminder::{ReminderKind, ReminderRequest};
use crate::domain::AppointmentId;
use crate::ports::{OutboundError, ReminderScheduler};

/// How long the scheduler keeps trying to invoke `send-reminder` for one firing, and how often:
/// a reminder more than 15 minutes late is better parked in the dead-letter queue.
pub const MAXIMUM_EVENT_AGE_SECONDS: i32 = 15 * 60;
pub const MAXIMUM_RETRY_ATTEMPTS: i32 = 5;

/// A schedule's name: the appointment id and the kind, e.g.
/// `medichain-3f2c9a1e-0b7d-4c55-9a3e-1f2d3c4b5a69-24h` (at most 64 characters).
pub fn schedule_name(appointment_id: &AppointmentId, kind: ReminderKind) -> String {
    format!("medichain-{appointment_id}-{kind}")
}

/// `at(yyyy-mm-ddThh:mm:ss)`, read in the time zone of `ScheduleExpressionTimezone` (UTC).
pub fn at_expression(at: DateTime<Utc>) -> String {
    format!("at({})", at.format("%Y-%m-%dT%H:%M:%S"))
}

#[derive(Debug, Clone)]
pub struct SchedulerReminders {
    client: Client,
    target: ScheduleTarget,
}

impl SchedulerReminders {
    pub fn new(client: Client, target: ScheduleTarget) -> Self {
        Self { client, target }
    }

    /// Creates the schedule group unless it exists (local endpoints and tests; in AWS the group
    /// comes from `template.yaml`).
    pub async fn create_group_if_missing(&self) -> Result<(), OutboundError> {
        match self
            .client
            .create_schedule_group()
            .name(&self.target.group)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("ConflictException") => Ok(()),
            Err(e) => Err(outbound_error(e)),
        }
    }

    fn build_error(e: aws_sdk_scheduler::error::BuildError) -> OutboundError {
        OutboundError::Rejected(Box::new(e))
    }
}

fn is_code<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>, code: &str) -> bool {
    e.code() == Some(code)
}

impl SchedulerReminders {
    /// Splits the list in halves joined on this task (no spawned tasks, no extra dependency).
    fn schedule_in_parallel<'a>(
        &'a self,
        reminders: &'a [(ReminderRequest, DateTime<Utc>)],
    ) -> Pin<Box<dyn Future<Output = Result<(), OutboundError>> + Send + 'a>> {
        Box::pin(async move {
            match reminders {
                [] => Ok(()),
                [(reminder, at)] => self.schedule_reminder(reminder, *at).await,
                _ => {
                    let (left, right) = reminders.split_at(reminders.len() / 2);
                    let (l, r) = tokio::join!(
                        self.schedule_in_parallel(left),
                        self.schedule_in_parallel(right)
                    );
                    l.and(r)
                }
            }
        })
    }
}

#[async_trait]
impl ReminderScheduler for SchedulerReminders {
    async fn schedule_reminder(
        &self,
        reminder: &ReminderRequest,
        at: DateTime<Utc>,
    ) -> Result<(), OutboundError> {
        let input =
            serde_json::to_string(reminder).map_err(|e| OutboundError::Rejected(Box::new(e)))?;
        let target = Target::builder()
            .arn(&self.target.function_arn)
            .role_arn(&self.target.role_arn)
            .input(input)
            .retry_policy(
                RetryPolicy::builder()
                    .maximum_event_age_in_seconds(MAXIMUM_EVENT_AGE_SECONDS)
                    .maximum_retry_attempts(MAXIMUM_RETRY_ATTEMPTS)
                    .build(),
            )
            .dead_letter_config(
                DeadLetterConfig::builder()
                    .arn(&self.target.dead_letter_arn)
                    .build(),
            )
            .build()
            .map_err(Self::build_error)?;
        let created = self
            .client
            .create_schedule()
            .name(schedule_name(&reminder.appointment_id, reminder.kind))
            .group_name(&self.target.group)
            .schedule_expression(at_expression(at))
            .schedule_expression_timezone("UTC")
            .flexible_time_window(
                FlexibleTimeWindow::builder()
                    .mode(FlexibleTimeWindowMode::Off)
                    .build()
                    .map_err(Self::build_error)?,
            )
            .action_after_completion(ActionAfterCompletion::Delete)
            .state(ScheduleState::Enabled)
            .description(format!("MediChain {} reminder", reminder.kind))
            .target(target)
            .send()
            .await;
        match created {
            Ok(_) => Ok(()),
            // The same name exists: a retried event created it already (on a move, the old one
            // is deleted first, so an existing schedule is this one).
            Err(e) if is_code(&e, "ConflictException") => Ok(()),
            Err(e) => Err(outbound_error(e)),
        }
    }

    /// In parallel: a booking's two CreateSchedule calls take one round trip of the function's
    /// time instead of two. The first error is returned once every call has finished.
    async fn schedule_reminders(
        &self,
        reminders: &[(ReminderRequest, DateTime<Utc>)],
    ) -> Result<(), OutboundError> {
        self.schedule_in_parallel(reminders).await
    }

    async fn unschedule_reminder(
        &self,
        appointment_id: &AppointmentId,
        kind: ReminderKind,
    ) -> Result<(), OutboundError> {
        let deleted = self
            .client
            .delete_schedule()
            .name(schedule_name(appointment_id, kind))
            .group_name(&self.target.group)
            .send()
            .await;
        match deleted {
            Ok(_) => Ok(()),
            // Never made (skipped), already fired (deleted after completion), or deleted before.
            Err(e) if is_code(&e, "ResourceNotFoundException") => Ok(()),
            Err(e) => Err(outbound_error(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    #[test]
    fn names_and_expressions_hold_ids_and_utc_times_only() {
        let id = AppointmentId::parse("3f2c9a1e-0b7d-4c55-9a3e-1f2d3c4b5a69").unwrap();
        let name = schedule_name(&id, ReminderKind::DayBefore);
        assert_eq!(name, "medichain-3f2c9a1e-0b7d-4c55-9a3e-1f2d3c4b5a69-24h");
        assert!(name.len() <= 64);
        assert!(schedule_name(&id, ReminderKind::Starting).ends_with("-5m"));
        let at = Utc.with_ymd_and_hms(2030, 1, 14, 19, 30, 0).unwrap();
        assert_eq!(at_expression(at), "at(2030-01-14T19:30:00)");
    }
}
