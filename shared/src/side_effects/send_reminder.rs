//! `send-reminder`: what happens when a reminder's schedule fires. It re-reads the appointment
//! (consistently, with both users' contacts) and sends nothing for one that was cancelled, moved
//! (another version) or is over; the reminder gate makes sure a second delivery of the same
//! reminder — in sequence or at the same time — sends nothing either. Then: SMS to the doctor
//! (and to the patient who opted in), push to every registered device, and the in-app
//! notification for both participants, written together with the gate's "sent" in one store
//! write. What went out is logged (ids and counts); no bus event is published for it
//! (docs/decisions-dynamodb.md).

use chrono::Duration;

use super::{as_participants, EffectDeps, EffectError, Participant};
use crate::domain::notification::{render, Notice};
use crate::domain::reminder::{reminder_text, ReminderRequest};
use crate::domain::{Appointment, AppointmentStatus};
use crate::domain::{Role, UserId};
use crate::ports::{
    GateClaim, MessageContext, OutboundError, PushOutcome, QuotaKind, ReminderSubject, StoreError,
};

/// How long one worker may hold a reminder before another may take it over: far longer than a
/// send takes, far shorter than the scheduler's retry window.
pub const GATE_LEASE: Duration = Duration::minutes(2);
/// How long after the appointment's start the gate record is kept.
const GATE_RETENTION: Duration = Duration::days(30);
/// The most SMS one patient is sent on one UTC day. Reminders are two per appointment, so this
/// only stops runaway sending (a loop, or a flood of bookings towards one number: SMS pumping
/// through self-service patient accounts); past it, reminders still reach the patient in the app
/// and by push. Doctors are not capped: their reminders are bounded by their own calendar (two per
/// booked slot), and a cap would cut the SMS of a doctor with more than twenty consultations a day.
pub const DAILY_SMS_CAP: u32 = 40;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// No such appointment (deleted, or a payload from another table).
    Gone,
    /// Cancelled, completed or no-show.
    NotBooked,
    /// Moved since the reminder was scheduled (`ReminderRequest::is_current_for`).
    Stale,
    /// The appointment has ended: a late reminder would only confuse.
    Over,
    /// This reminder was sent already (a duplicate delivery).
    AlreadySent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReminderOutcome {
    Sent {
        sms: u32,
        push: u32,
        /// Push endpoints the platform reported disabled; skipped, not fatal.
        disabled_endpoints: u32,
    },
    Skipped(SkipReason),
    /// Another worker holds the reminder's lease right now. The caller may retry later: by then
    /// it is sent (and the retry skips) or the lease ran out (and the retry sends).
    InProgress,
}

/// Whether to send, judged from the appointment as it is now.
fn check(
    appointment: Option<&Appointment>,
    r: &ReminderRequest,
    deps: &EffectDeps,
) -> Option<SkipReason> {
    let Some(a) = appointment else {
        return Some(SkipReason::Gone);
    };
    if a.status != AppointmentStatus::Booked {
        Some(SkipReason::NotBooked)
    } else if !r.is_current_for(a) {
        Some(SkipReason::Stale)
    } else if deps.clock.now() >= a.end {
        Some(SkipReason::Over)
    } else {
        None
    }
}

pub async fn send_reminder(
    deps: &EffectDeps,
    reminder: &ReminderRequest,
) -> Result<ReminderOutcome, EffectError> {
    // The appointment and both users' contacts in one read (the payload names the users), before
    // the claim: a reminder that is skipped reads the contacts for nothing, but those are rare
    // (a cancel or move deletes the schedules), and every sent one saves a round trip.
    let subject = deps.reminder_reads.reminder_subject(reminder).await?;
    if let Some(reason) = check(subject.as_ref().map(|s| &s.appointment), reminder, deps) {
        tracing::info!(appointment_id = %reminder.appointment_id, kind = %reminder.kind, version = reminder.version, ?reason, "reminder skipped");
        return Ok(ReminderOutcome::Skipped(reason));
    }
    let Some(ReminderSubject {
        appointment,
        contacts,
    }) = subject
    else {
        return Ok(ReminderOutcome::Skipped(SkipReason::Gone));
    };
    let now = deps.clock.now();
    let expires_at = appointment.start + GATE_RETENTION;
    match deps
        .gate
        .claim_reminder(reminder, now, GATE_LEASE, expires_at)
        .await?
    {
        GateClaim::Claimed => {}
        GateClaim::AlreadySent => {
            tracing::info!(appointment_id = %reminder.appointment_id, kind = %reminder.kind, "reminder sent already; duplicate delivery ignored");
            return Ok(ReminderOutcome::Skipped(SkipReason::AlreadySent));
        }
        GateClaim::InProgress => return Ok(ReminderOutcome::InProgress),
    }
    let people = match as_participants(deps, &appointment, contacts).await {
        Ok(people) => people,
        Err(e) => {
            release(deps, reminder).await;
            return Err(e.into());
        }
    };
    let notices: Vec<_> = people
        .iter()
        .map(|p| render(&appointment, Notice::Reminder(reminder.kind), &p.recipient))
        .collect();
    match deliver(deps, &appointment, reminder, &people).await {
        Ok(outcome) => {
            // The in-app notices and the gate's "sent" in one write, after the deliveries (one
            // round trip fewer than writing the notices first: docs/performance.md). Should it
            // fail, the lease runs out and a retry sends again, as a failed "sent" mark alone did.
            deps.gate
                .complete_reminder(reminder, &notices, expires_at)
                .await?;
            Ok(outcome)
        }
        Err(e) => {
            // Nothing reached anyone (see `deliver`). The app still shows the reminder now —
            // the one channel that does not depend on SNS — and a retry sends the rest; its
            // notices are the same ones (same ids), not a second copy.
            if let Err(store) = deps.notifications.add_notifications(&notices).await {
                tracing::warn!(appointment_id = %reminder.appointment_id, error = %store, "in-app reminder not stored; the retry stores it");
            }
            release(deps, reminder).await;
            Err(e)
        }
    }
}

/// Lets a retry claim the reminder at once.
async fn release(deps: &EffectDeps, reminder: &ReminderRequest) {
    if let Err(release) = deps.gate.release_reminder(reminder).await {
        tracing::warn!(appointment_id = %reminder.appointment_id, error = %release, "could not release the reminder gate; it frees itself when the lease runs out");
    }
}

/// Sends the reminder by SMS and push. A channel that fails is logged and skipped once anything
/// reached someone, because a retry would repeat what was delivered; only when every attempt
/// failed for a passing reason is it an error.
async fn deliver(
    deps: &EffectDeps,
    appointment: &Appointment,
    reminder: &ReminderRequest,
    people: &[Participant; 2],
) -> Result<ReminderOutcome, EffectError> {
    let (mut sms, mut push, mut disabled) = (0u32, 0u32, 0u32);
    let mut transient: Option<OutboundError> = None;
    let mut attempted = 0u32;
    for Participant {
        recipient,
        profile,
        devices,
    } in people
    {
        let context = MessageContext {
            recipient: recipient.id.clone(),
            appointment_id: appointment.id,
            kind: reminder.kind,
        };
        let text = reminder_text(
            reminder.kind,
            appointment,
            recipient.role,
            &recipient.time_zone,
            &deps.site_url,
        );
        if let Some(phone) = profile
            .as_ref()
            .filter(|p| p.wants_sms())
            .and_then(|p| p.phone.as_ref())
        {
            if recipient.role == Role::Doctor || sms_allowed(deps, &recipient.id).await? {
                attempted += 1;
                match deps.notifier.send_sms(phone, &text, &context).await {
                    Ok(()) => sms += 1,
                    Err(e) => {
                        tracing::warn!(appointment_id = %appointment.id, recipient = %recipient.id, error = %e, "SMS not sent");
                        keep_transient(&mut transient, e);
                    }
                }
            } else {
                tracing::warn!(appointment_id = %appointment.id, recipient = %recipient.id, cap = DAILY_SMS_CAP, "daily SMS cap reached; SMS skipped");
            }
        }
        for device in devices {
            attempted += 1;
            match deps
                .notifier
                .send_push(&device.endpoint, &text, &context)
                .await
            {
                Ok(PushOutcome::Delivered) => push += 1,
                Ok(PushOutcome::EndpointDisabled) => {
                    disabled += 1;
                    tracing::warn!(appointment_id = %appointment.id, recipient = %recipient.id, device_id = %device.id, "push endpoint disabled; skipped");
                }
                Err(e) => {
                    tracing::warn!(appointment_id = %appointment.id, recipient = %recipient.id, device_id = %device.id, error = %e, "push not sent");
                    keep_transient(&mut transient, e);
                }
            }
        }
    }
    if sms + push == 0 && attempted > disabled {
        if let Some(e) = transient {
            return Err(e.into());
        }
    }
    tracing::info!(appointment_id = %appointment.id, kind = %reminder.kind, version = reminder.version, sms, push, disabled, "reminder sent");
    Ok(ReminderOutcome::Sent {
        sms,
        push,
        disabled_endpoints: disabled,
    })
}

/// Takes one SMS from the recipient's quota of today (UTC). A unit taken for a send that then
/// fails stays used: the cap errs on the side of sending less.
async fn sms_allowed(deps: &EffectDeps, user: &UserId) -> Result<bool, StoreError> {
    let now = deps.clock.now();
    deps.quotas
        .try_take(
            user,
            QuotaKind::SmsPerDay,
            now.date_naive(),
            DAILY_SMS_CAP,
            now + Duration::days(2),
        )
        .await
}

fn keep_transient(slot: &mut Option<OutboundError>, e: OutboundError) {
    if matches!(e, OutboundError::Unavailable(_)) && slot.is_none() {
        *slot = Some(e);
    }
}
