//! `appointment-events`: runs the [`plan`](super::plan) of one appointment change. Every action
//! is idempotent (schedules by name, notifications by derived id, "starting" behind the reminder
//! gate, events with a stable id), so a redelivered change does no harm.

use chrono::{DateTime, Utc};

use super::plan::{plan, Action};
use super::{participants, send_reminder, EffectDeps, EffectError, ReminderOutcome};
use crate::domain::notification::render;
use crate::domain::reminder::ReminderRequest;
use crate::domain::Appointment;

/// Handles one change of an appointment, given its image before and after.
pub async fn handle_change(
    deps: &EffectDeps,
    old: Option<&Appointment>,
    new: Option<&Appointment>,
) -> Result<(), EffectError> {
    let now = deps.clock.now();
    let actions = plan(old, new, now);
    let mut events = Vec::new();
    // Both participants are read once per change however many notices it sends, and the
    // notices of consecutive `Notify` actions go out in one write, before the next action
    // (the plan's order: schedules, notices, "starting", event).
    // Consecutive `Schedule` actions (a booking's two reminders) go out together too: in AWS
    // the two CreateSchedule calls run in parallel, locally they are one transaction.
    let mut people = None;
    let mut notices = Vec::new();
    let mut schedules = Vec::new();
    for action in actions {
        if !matches!(action, Action::Notify { .. }) && !notices.is_empty() {
            deps.notifications
                .add_notifications(&std::mem::take(&mut notices))
                .await?;
        }
        if !matches!(action, Action::Schedule { .. }) && !schedules.is_empty() {
            schedule_all(deps, &std::mem::take(&mut schedules)).await?;
        }
        match action {
            Action::Unschedule {
                appointment_id,
                kind,
            } => {
                deps.scheduler
                    .unschedule_reminder(&appointment_id, kind)
                    .await?;
            }
            Action::Schedule { reminder, at } => schedules.push((reminder, at)),
            Action::Notify {
                appointment,
                notice,
            } => {
                let people = match &mut people {
                    Some(people) => people,
                    None => people.insert(participants(deps, &appointment).await?),
                };
                for p in people.iter() {
                    notices.push(render(&appointment, notice, &p.recipient));
                }
            }
            Action::SendNow(reminder) => {
                // In progress means someone else is sending it right now; retrying the whole
                // change would only find it sent, so that is fine here.
                if send_reminder(deps, &reminder).await? == ReminderOutcome::InProgress {
                    tracing::info!(appointment_id = %reminder.appointment_id, "reminder already in progress");
                }
            }
            Action::Publish(event) => events.push(event),
        }
    }
    if !schedules.is_empty() {
        schedule_all(deps, &schedules).await?;
    }
    if !notices.is_empty() {
        deps.notifications.add_notifications(&notices).await?;
    }
    if !events.is_empty() {
        deps.events.publish(&events).await?;
    }
    Ok(())
}

async fn schedule_all(
    deps: &EffectDeps,
    schedules: &[(ReminderRequest, DateTime<Utc>)],
) -> Result<(), EffectError> {
    deps.scheduler.schedule_reminders(schedules).await?;
    for (reminder, at) in schedules {
        tracing::info!(appointment_id = %reminder.appointment_id, kind = %reminder.kind, version = reminder.version, %at, "reminder scheduled");
    }
    Ok(())
}
