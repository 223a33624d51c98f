//! The video call of an appointment: when its room may be joined (the join window), who was in it
//! and when (the call record), and how the appointment ends once the window has closed (completed
//! when both participants joined, no-show otherwise). Pure rules; the API decides when to apply them.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::{Appointment, AppointmentStatus, Role};

/// The room opens this long before the appointment starts (people like to test their camera).
pub const OPENS_BEFORE_START: Duration = Duration::minutes(15);
/// The room stays open this long after the appointment's end (consultations overrun).
pub const CLOSES_AFTER_END: Duration = Duration::minutes(30);
/// Join/leave pairs kept per participant; later joins reopen the last one so an item stays small
/// however often a flaky connection reconnects.
pub const MAX_SESSIONS: usize = 20;

/// When the room of an appointment may be joined: from `opens_at` (inclusive) to `closes_at`
/// (exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JoinWindow {
    pub opens_at: DateTime<Utc>,
    pub closes_at: DateTime<Utc>,
}

/// Why the room cannot be joined at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    #[error("the room opens at {opens_at}")]
    NotYetOpen { opens_at: DateTime<Utc> },
    #[error("the room closed at {closed_at}")]
    Closed { closed_at: DateTime<Utc> },
}

impl JoinWindow {
    pub fn of(appointment: &Appointment) -> Self {
        Self {
            opens_at: appointment.start - OPENS_BEFORE_START,
            closes_at: appointment.end + CLOSES_AFTER_END,
        }
    }

    pub fn check(&self, now: DateTime<Utc>) -> Result<(), WindowError> {
        if now < self.opens_at {
            Err(WindowError::NotYetOpen {
                opens_at: self.opens_at,
            })
        } else if now >= self.closes_at {
            Err(WindowError::Closed {
                closed_at: self.closes_at,
            })
        } else {
            Ok(())
        }
    }
}

/// What the video page reports about one participant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallEvent {
    Joined,
    Left,
}

/// One stay in the room. `left_at` is empty while the participant is in the room; when the room
/// closes with no `left` reported (a closed tab), it is set to the window's close.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallSession {
    pub joined_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left_at: Option<DateTime<Utc>>,
}

/// The call history of an appointment, kept on the appointment itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallRecord {
    #[serde(default)]
    pub patient: Vec<CallSession>,
    #[serde(default)]
    pub doctor: Vec<CallSession>,
    /// When the doctor was told the patient is waiting; set once, so the notice goes out once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient_waiting_notified_at: Option<DateTime<Utc>>,
    /// Seconds both participants were in the room together; set when the appointment is settled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<i64>,
}

impl CallRecord {
    pub fn sessions(&self, role: Role) -> &[CallSession] {
        match role {
            Role::Patient => &self.patient,
            Role::Doctor => &self.doctor,
        }
    }

    fn sessions_mut(&mut self, role: Role) -> &mut Vec<CallSession> {
        match role {
            Role::Patient => &mut self.patient,
            Role::Doctor => &mut self.doctor,
        }
    }

    pub fn is_present(&self, role: Role) -> bool {
        self.sessions(role)
            .last()
            .is_some_and(|s| s.left_at.is_none())
    }

    pub fn has_joined(&self, role: Role) -> bool {
        !self.sessions(role).is_empty()
    }

    /// Applies `event` for `role` at `at`. Returns false when it changes nothing (a repeated
    /// `joined` while present, a `left` while absent), so callers can skip the write.
    pub fn apply(&mut self, role: Role, event: CallEvent, at: DateTime<Utc>) -> bool {
        let present = self.is_present(role);
        let sessions = self.sessions_mut(role);
        match (event, present) {
            (CallEvent::Joined, true) | (CallEvent::Left, false) => false,
            (CallEvent::Joined, false) => {
                if sessions.len() >= MAX_SESSIONS {
                    if let Some(last) = sessions.last_mut() {
                        last.left_at = None;
                    }
                } else {
                    sessions.push(CallSession {
                        joined_at: at,
                        left_at: None,
                    });
                }
                true
            }
            (CallEvent::Left, true) => {
                if let Some(last) = sessions.last_mut() {
                    last.left_at = Some(at.max(last.joined_at));
                }
                true
            }
        }
    }

    /// Closes every open session at `at` (the room closed with someone still "in" it).
    fn close_open_sessions(&mut self, at: DateTime<Utc>) {
        for s in self.patient.iter_mut().chain(self.doctor.iter_mut()) {
            if s.left_at.is_none() {
                s.left_at = Some(at.max(s.joined_at));
            }
        }
    }

    /// Seconds during which both participants were in the room. Sessions still open count up to
    /// `until`.
    pub fn overlap_seconds(&self, until: DateTime<Utc>) -> i64 {
        let end = |s: &CallSession| s.left_at.unwrap_or(until);
        let mut total = 0;
        for p in &self.patient {
            for d in &self.doctor {
                let from = p.joined_at.max(d.joined_at);
                let to = end(p).min(end(d));
                if to > from {
                    total += (to - from).num_seconds();
                }
            }
        }
        total
    }

    /// Whether the patient is in the room and the doctor is not.
    pub fn patient_waiting(&self) -> bool {
        self.is_present(Role::Patient) && !self.is_present(Role::Doctor)
    }
}

impl Appointment {
    pub fn join_window(&self) -> JoinWindow {
        JoinWindow::of(self)
    }

    /// The appointment after its join window closed: a booked one becomes completed when both
    /// participants joined and no-show otherwise, with open sessions closed and the call's
    /// duration recorded. `None` when there is nothing to settle (not booked, or the room is still
    /// open). Settling happens after the window rather than at the end so a late doctor can still
    /// save a consultation that overran or started late.
    pub fn settled(&self, now: DateTime<Utc>) -> Option<Appointment> {
        let window = self.join_window();
        if self.status != AppointmentStatus::Booked || now < window.closes_at {
            return None;
        }
        let mut next = self.clone();
        next.version = self.version + 1;
        next.updated_at = now;
        let mut call = self.call.clone().unwrap_or_default();
        call.close_open_sessions(window.closes_at);
        let both = call.has_joined(Role::Patient) && call.has_joined(Role::Doctor);
        next.status = if both {
            AppointmentStatus::Completed
        } else {
            AppointmentStatus::NoShow
        };
        call.duration_seconds = Some(call.overlap_seconds(window.closes_at));
        next.call = Some(call);
        Some(next)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;
    use crate::domain::appointment::tests::sample;

    fn t(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2030, 3, 4, h, m, 0).unwrap()
    }

    #[test]
    fn the_window_opens_15_minutes_before_and_closes_30_minutes_after_the_end() {
        let a = sample(t(10, 0)); // 10:00-10:30
        let w = a.join_window();
        assert_eq!(
            w.check(t(9, 44)),
            Err(WindowError::NotYetOpen { opens_at: t(9, 45) })
        );
        assert_eq!(w.check(t(9, 45)), Ok(()));
        assert_eq!(w.check(t(10, 59)), Ok(()));
        assert_eq!(
            w.check(t(11, 0)),
            Err(WindowError::Closed {
                closed_at: t(11, 0)
            })
        );
    }

    #[test]
    fn repeated_events_change_nothing_and_reconnects_add_sessions() {
        let mut call = CallRecord::default();
        assert!(!call.apply(Role::Patient, CallEvent::Left, t(9, 50)));
        assert!(call.apply(Role::Patient, CallEvent::Joined, t(9, 50)));
        assert!(!call.apply(Role::Patient, CallEvent::Joined, t(9, 51)));
        assert!(call.patient_waiting());
        assert!(call.apply(Role::Patient, CallEvent::Left, t(9, 55)));
        assert!(call.apply(Role::Patient, CallEvent::Joined, t(9, 58)));
        assert_eq!(call.patient.len(), 2);
        assert_eq!(call.patient[0].left_at, Some(t(9, 55)));
        assert!(call.apply(Role::Doctor, CallEvent::Joined, t(10, 0)));
        assert!(!call.patient_waiting());
    }

    #[test]
    fn sessions_are_bounded() {
        let mut call = CallRecord::default();
        for i in 0..(MAX_SESSIONS as i64 + 5) {
            let at = t(10, 0) + Duration::seconds(i * 2);
            call.apply(Role::Doctor, CallEvent::Joined, at);
            call.apply(Role::Doctor, CallEvent::Left, at + Duration::seconds(1));
        }
        assert_eq!(call.doctor.len(), MAX_SESSIONS);
        assert!(!call.is_present(Role::Doctor));
    }

    #[test]
    fn duration_counts_only_the_time_both_were_in_the_room() {
        let mut call = CallRecord::default();
        call.apply(Role::Patient, CallEvent::Joined, t(9, 50));
        call.apply(Role::Doctor, CallEvent::Joined, t(10, 0));
        call.apply(Role::Doctor, CallEvent::Left, t(10, 10));
        call.apply(Role::Doctor, CallEvent::Joined, t(10, 12));
        call.apply(Role::Patient, CallEvent::Left, t(10, 20));
        // 10:00-10:10 and 10:12-10:20 together.
        assert_eq!(call.overlap_seconds(t(12, 0)), 18 * 60);
    }

    #[test]
    fn settling_marks_no_show_or_completed_only_after_the_window() {
        let a = sample(t(10, 0));
        assert_eq!(a.settled(t(10, 59)), None, "room still open");
        let nobody = a.settled(t(11, 0)).unwrap();
        assert_eq!(nobody.status, AppointmentStatus::NoShow);
        assert_eq!(nobody.version, a.version + 1);
        assert!(nobody.holds_slot(), "a past slot stays taken");
        assert_eq!(nobody.call.as_ref().unwrap().duration_seconds, Some(0));
        assert_eq!(nobody.settled(t(12, 0)), None, "settled once");

        let mut only_patient = a.clone();
        let mut call = CallRecord::default();
        call.apply(Role::Patient, CallEvent::Joined, t(9, 58));
        only_patient.call = Some(call.clone());
        assert_eq!(
            only_patient.settled(t(11, 0)).unwrap().status,
            AppointmentStatus::NoShow
        );

        let mut both = a.clone();
        call.apply(Role::Doctor, CallEvent::Joined, t(10, 5));
        both.call = Some(call);
        let done = both.settled(t(13, 0)).unwrap();
        assert_eq!(done.status, AppointmentStatus::Completed);
        let call = done.call.unwrap();
        // Nobody reported leaving: both stays end when the room closed at 11:00.
        assert_eq!(call.patient[0].left_at, Some(t(11, 0)));
        assert_eq!(call.duration_seconds, Some(55 * 60));
    }

    #[test]
    fn cancelled_appointments_are_never_settled() {
        let a = sample(t(10, 0));
        let c = a.cancelled(Role::Patient, t(8, 0)).unwrap();
        assert_eq!(c.settled(t(12, 0)), None);
    }

    #[test]
    fn stored_appointments_without_a_call_section_still_parse() {
        let a = sample(t(10, 0));
        let mut json = serde_json::to_value(&a).unwrap();
        json.as_object_mut().unwrap().remove("call");
        let back: Appointment = serde_json::from_value(json).unwrap();
        assert_eq!(back.call, None);
    }
}
