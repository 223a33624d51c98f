//! What a change of an appointment sets off, as a pure function of its old and new image (the
//! DynamoDB stream's `NEW_AND_OLD_IMAGES`, or the embedded store's change feed) and the time.

use chrono::{DateTime, Utc};

use crate::domain::event::DomainEvent;
use crate::domain::notification::Notice;
use crate::domain::reminder::{ReminderKind, ReminderRequest, ReminderTiming};
use crate::domain::{Appointment, AppointmentId, AppointmentStatus};

/// One thing to do, in the order the plan lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Make sure the reminder fires at `at`.
    Schedule {
        reminder: ReminderRequest,
        at: DateTime<Utc>,
    },
    /// Make sure the appointment's reminder of `kind` does not fire (missing is fine).
    Unschedule {
        appointment_id: AppointmentId,
        kind: ReminderKind,
    },
    /// Tell both participants in the app.
    Notify {
        appointment: Box<Appointment>,
        notice: Notice,
    },
    /// Send the reminder now, through the same once-only path a fired schedule takes.
    SendNow(ReminderRequest),
    Publish(DomainEvent),
}

/// What happened, read from the two images.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Booked,
    Cancelled,
    Rescheduled,
    /// No longer booked (completed, no-show, deleted) without a cancel: nothing will be sent.
    Ended,
    /// Nothing that reminders or notifications care about: still booked at the same start (e.g.
    /// the call record changed, which bumps the version). Reminders check the start they were
    /// armed for, so theirs stand; re-arming them here would drop one that is due but not yet
    /// sent (a participant joining just after the 5-minute mark).
    Irrelevant,
}

pub fn classify(old: Option<&Appointment>, new: Option<&Appointment>) -> Change {
    let booked = |a: &Appointment| a.status == AppointmentStatus::Booked;
    match (old, new) {
        (None, Some(n)) if booked(n) => Change::Booked,
        (Some(o), Some(n)) if booked(o) && n.status == AppointmentStatus::Cancelled => {
            Change::Cancelled
        }
        (Some(o), Some(n)) if booked(o) && booked(n) && o.start != n.start => Change::Rescheduled,
        (Some(o), Some(n)) if booked(o) && !booked(n) => Change::Ended,
        (Some(o), None) if booked(o) => Change::Ended,
        _ => Change::Irrelevant,
    }
}

fn unschedule_all(id: AppointmentId) -> impl Iterator<Item = Action> {
    ReminderKind::ALL
        .into_iter()
        .map(move |kind| Action::Unschedule {
            appointment_id: id,
            kind,
        })
}

/// Schedules the reminders still ahead of `a`; with `send_late`, a "starting" whose time has
/// passed is sent at once.
fn arm(a: &Appointment, now: DateTime<Utc>, send_late: bool) -> Vec<Action> {
    let mut actions = Vec::new();
    for kind in ReminderKind::ALL {
        let reminder = ReminderRequest::for_appointment(a, kind);
        match kind.timing(a, now) {
            ReminderTiming::At(at) => actions.push(Action::Schedule { reminder, at }),
            ReminderTiming::Now if send_late => actions.push(Action::SendNow(reminder)),
            ReminderTiming::Now | ReminderTiming::Skip => {}
        }
    }
    actions
}

fn notify(a: &Appointment, notice: Notice) -> Action {
    Action::Notify {
        appointment: Box::new(a.clone()),
        notice,
    }
}

/// The actions for one change, in order: schedules first (so a failure before the user is told
/// leaves nothing half-announced), then notifications, "starting" sent at once, and the event.
pub fn plan(
    old: Option<&Appointment>,
    new: Option<&Appointment>,
    now: DateTime<Utc>,
) -> Vec<Action> {
    let mut actions = Vec::new();
    match (classify(old, new), old, new) {
        (Change::Booked, _, Some(n)) => {
            let armed = arm(n, now, true);
            let (send_now, schedules): (Vec<_>, Vec<_>) = armed
                .into_iter()
                .partition(|a| matches!(a, Action::SendNow(_)));
            actions.extend(schedules);
            actions.push(notify(n, Notice::Created));
            actions.push(notify(n, Notice::VideoCallReady));
            actions.extend(send_now);
            actions.push(Action::Publish(DomainEvent::AppointmentBooked(n.into())));
        }
        (Change::Cancelled, _, Some(n)) => {
            actions.extend(unschedule_all(n.id));
            actions.push(notify(n, Notice::Cancelled));
            actions.push(Action::Publish(DomainEvent::AppointmentCancelled {
                facts: n.into(),
                cancelled_by: n.cancelled_by,
            }));
        }
        (Change::Rescheduled, Some(o), Some(n)) => {
            actions.extend(unschedule_all(n.id));
            let armed = arm(n, now, true);
            let (send_now, schedules): (Vec<_>, Vec<_>) = armed
                .into_iter()
                .partition(|a| matches!(a, Action::SendNow(_)));
            actions.extend(schedules);
            actions.push(notify(n, Notice::Rescheduled));
            actions.extend(send_now);
            actions.push(Action::Publish(DomainEvent::AppointmentRescheduled {
                facts: n.into(),
                previous_start: o.start,
            }));
        }
        (Change::Ended, Some(o), _) => actions.extend(unschedule_all(o.id)),
        _ => {}
    }
    actions
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone as _};

    use super::*;
    use crate::domain::fixtures::sample;
    use crate::domain::Role;

    fn start() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2030, 3, 4, 15, 0, 0).unwrap()
    }

    fn kinds(actions: &[Action]) -> Vec<String> {
        actions
            .iter()
            .map(|a| match a {
                Action::Schedule { reminder, at } => {
                    format!("schedule {} v{} at {at}", reminder.kind, reminder.version)
                }
                Action::Unschedule { kind, .. } => format!("unschedule {kind}"),
                Action::Notify { notice, .. } => format!("notify {}", notice.kind().as_str()),
                Action::SendNow(r) => format!("send {} v{}", r.kind, r.version),
                Action::Publish(e) => format!("publish {}", e.name()),
            })
            .collect()
    }

    #[test]
    fn a_booking_days_ahead_schedules_both_reminders_and_tells_both_users() {
        let a = sample(start());
        let actions = plan(None, Some(&a), start() - Duration::days(3));
        assert_eq!(
            kinds(&actions),
            [
                "schedule 24h v1 at 2030-03-03 15:00:00 UTC",
                "schedule 5m v1 at 2030-03-04 14:55:00 UTC",
                "notify appointment_created",
                "notify video_call_ready",
                "publish AppointmentBooked",
            ]
        );
        let Action::Schedule { reminder, .. } = &actions[0] else {
            panic!("first action is a schedule")
        };
        assert_eq!(reminder.appointment_id, a.id);
    }

    #[test]
    fn a_booking_less_than_a_day_ahead_skips_the_24h_reminder() {
        let a = sample(start());
        let actions = plan(None, Some(&a), start() - Duration::hours(23));
        assert_eq!(
            kinds(&actions),
            [
                "schedule 5m v1 at 2030-03-04 14:55:00 UTC",
                "notify appointment_created",
                "notify video_call_ready",
                "publish AppointmentBooked",
            ]
        );
    }

    #[test]
    fn a_booking_less_than_five_minutes_ahead_sends_starting_at_once() {
        let a = sample(start());
        let actions = plan(None, Some(&a), start() - Duration::minutes(3));
        assert_eq!(
            kinds(&actions),
            [
                "notify appointment_created",
                "notify video_call_ready",
                "send 5m v1",
                "publish AppointmentBooked",
            ]
        );
    }

    #[test]
    fn a_cancel_removes_both_schedules_and_tells_both_users() {
        let a = sample(start());
        let c = a
            .cancelled(Role::Patient, start() - Duration::days(2))
            .unwrap();
        let actions = plan(Some(&a), Some(&c), start() - Duration::days(2));
        assert_eq!(
            kinds(&actions),
            [
                "unschedule 24h",
                "unschedule 5m",
                "notify appointment_cancelled",
                "publish AppointmentCancelled",
            ]
        );
    }

    #[test]
    fn a_reschedule_replaces_the_schedules_with_the_new_version() {
        let a = sample(start());
        let mut moved = a.clone();
        moved.version = 2;
        moved.start = start() + Duration::days(1);
        moved.end = moved.start + Duration::minutes(30);
        let actions = plan(Some(&a), Some(&moved), start() - Duration::days(2));
        assert_eq!(
            kinds(&actions),
            [
                "unschedule 24h",
                "unschedule 5m",
                "schedule 24h v2 at 2030-03-04 15:00:00 UTC",
                "schedule 5m v2 at 2030-03-05 14:55:00 UTC",
                "notify appointment_rescheduled",
                "publish AppointmentRescheduled",
            ]
        );
    }

    #[test]
    fn other_changes_keep_or_drop_reminders_without_telling_anyone() {
        let a = sample(start());
        let now = start() - Duration::days(2);
        // A change at the same start that bumps the version (a call record written): the
        // reminders armed for that start stand, before their time and after it (a "starting"
        // due but not yet sent must not be dropped).
        let mut bumped = a.clone();
        bumped.version = 2;
        assert!(plan(Some(&a), Some(&bumped), now).is_empty());
        let just_due = start() - Duration::minutes(5) + Duration::milliseconds(200);
        assert!(plan(Some(&a), Some(&bumped), just_due).is_empty());
        // Same version: nothing.
        assert!(plan(Some(&a), Some(&a.clone()), now).is_empty());
        // Settled as completed, or deleted: the reminders go.
        let mut done = a.clone();
        done.status = AppointmentStatus::Completed;
        done.version = 2;
        assert_eq!(
            kinds(&plan(Some(&a), Some(&done), now)),
            ["unschedule 24h", "unschedule 5m"]
        );
        assert_eq!(
            kinds(&plan(Some(&a), None, now)),
            ["unschedule 24h", "unschedule 5m"]
        );
        // A cancelled appointment changing again, or a non-booked insert: nothing.
        let c = a.cancelled(Role::Doctor, now).unwrap();
        assert!(plan(Some(&c), Some(&c), now).is_empty());
        assert!(plan(None, Some(&c), now).is_empty());
        assert!(plan(None, None, now).is_empty());
    }
}
