//! An appointment and the changes its life allows: booked → cancelled, moved to another slot,
//! or ended as completed or no-show. Every change bumps `version`, which stores use for optimistic
//! concurrency and reminders use to recognise a moved appointment.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::call::CallRecord;
use super::doctor::Slot;
use super::{AppointmentId, InvalidValue, Role, RoomName, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppointmentStatus {
    Booked,
    Cancelled,
    Completed,
    NoShow,
}

impl AppointmentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Booked => "booked",
            Self::Cancelled => "cancelled",
            Self::Completed => "completed",
            Self::NoShow => "no_show",
        }
    }
}

/// Free text a patient may give when booking. Visible only to the two participants, never put in
/// notifications, SMS or logs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Reason(String);

impl Reason {
    pub const MAX_CHARS: usize = 500;

    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let trimmed = raw.trim();
        if trimmed.chars().count() > Self::MAX_CHARS {
            return Err(InvalidValue::new(
                "reason",
                "must be at most 500 characters",
            ));
        }
        if trimmed.chars().any(|c| c.is_control() && c != '\n') {
            return Err(InvalidValue::new(
                "reason",
                "must not contain control characters",
            ));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Reason {
    type Error = InvalidValue;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Reason> for String {
    fn from(value: Reason) -> Self {
        value.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Appointment {
    pub id: AppointmentId,
    pub patient_id: UserId,
    pub doctor_id: UserId,
    pub doctor_name: String,
    pub patient_name: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub status: AppointmentStatus,
    pub room_name: RoomName,
    pub meeting_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    pub version: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled_by: Option<Role>,
    /// Who was in the video room and when; absent until someone joins (and on rows written
    /// before calls were recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call: Option<CallRecord>,
}

/// Why a change to an appointment is not allowed in its current state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("the appointment is {0}, not booked")]
    NotBooked(&'static str),
    #[error("the appointment has already started")]
    AlreadyStarted,
    #[error("the appointment is already at that time")]
    SameSlot,
}

impl Appointment {
    pub fn is_participant(&self, user: &UserId) -> bool {
        &self.patient_id == user || &self.doctor_id == user
    }

    /// The participant who is not `user`.
    pub fn other_participant(&self, user: &UserId) -> &UserId {
        if &self.patient_id == user {
            &self.doctor_id
        } else {
            &self.patient_id
        }
    }

    fn changeable(&self, now: DateTime<Utc>) -> Result<(), TransitionError> {
        if self.status != AppointmentStatus::Booked {
            return Err(TransitionError::NotBooked(self.status.as_str()));
        }
        if self.start <= now {
            return Err(TransitionError::AlreadyStarted);
        }
        Ok(())
    }

    /// The next version, changed at `now`, but never less than 3 ms after the previous change:
    /// the notices of a version are stamped from its change time up to 2 ms later
    /// (`Notice::created_at`), and notifications list newest first by that stamp, so a cancel or
    /// move right after a booking (within a millisecond, as a script can) still lists after it.
    fn next_version(&self, now: DateTime<Utc>) -> Self {
        let mut next = self.clone();
        next.version = self.version + 1;
        next.updated_at = now.max(self.updated_at + Duration::milliseconds(3));
        next
    }

    pub fn cancelled(&self, by: Role, now: DateTime<Utc>) -> Result<Self, TransitionError> {
        self.changeable(now)?;
        let mut next = self.next_version(now);
        next.status = AppointmentStatus::Cancelled;
        next.cancelled_by = Some(by);
        Ok(next)
    }

    /// The appointment moved to another slot of the same doctor (the caller has checked that the
    /// slot is on the grid and free). The call record stays behind: it belongs to the room's
    /// window at the old time, and the new time starts with nobody in the room and the doctor
    /// not yet told that the patient waits (the audit trail keeps the old call's events).
    pub fn rescheduled(&self, to: Slot, now: DateTime<Utc>) -> Result<Self, TransitionError> {
        self.changeable(now)?;
        if to.start == self.start {
            return Err(TransitionError::SameSlot);
        }
        let mut next = self.next_version(now);
        next.start = to.start;
        next.end = to.end;
        next.call = None;
        Ok(next)
    }

    /// Whether this appointment holds its doctor's slot (a cancelled one releases it).
    pub fn holds_slot(&self) -> bool {
        self.status != AppointmentStatus::Cancelled
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn sample(start: DateTime<Utc>) -> Appointment {
        Appointment {
            id: AppointmentId::new(),
            patient_id: UserId::parse("pat").unwrap(),
            doctor_id: UserId::parse("doc").unwrap(),
            doctor_name: "Ada Example".into(),
            patient_name: "Pat Example".into(),
            start,
            end: start + Duration::minutes(30),
            status: AppointmentStatus::Booked,
            room_name: RoomName::mint(),
            meeting_url: "https://meet.jit.si/x".into(),
            reason: None,
            version: 1,
            created_at: start - Duration::days(1),
            updated_at: start - Duration::days(1),
            cancelled_by: None,
            call: None,
        }
    }

    /// A cancel in the same millisecond as the booking (a script can) still lists its notice
    /// after the booking's "video call ready" (stamped 1 ms after the booking).
    #[test]
    fn a_change_right_after_the_last_one_is_stamped_after_its_notices() {
        let start = DateTime::parse_from_rfc3339("2030-01-15T19:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let booked = sample(start);
        let now = booked.updated_at;
        let cancelled = booked.cancelled(Role::Patient, now).unwrap();
        assert_eq!(cancelled.updated_at, now + Duration::milliseconds(3));
        let ready = crate::domain::notification::Notice::VideoCallReady.created_at(&booked);
        let cancel = crate::domain::notification::Notice::Cancelled.created_at(&cancelled);
        assert!(cancel > ready);
        // Later than that, the change keeps its own time.
        let later = now + Duration::minutes(5);
        assert_eq!(
            booked.cancelled(Role::Patient, later).unwrap().updated_at,
            later
        );
    }

    #[test]
    fn cancelling_bumps_the_version_and_releases_the_slot() {
        let start = Utc::now() + Duration::days(2);
        let a = sample(start);
        let c = a.cancelled(Role::Patient, Utc::now()).unwrap();
        assert_eq!(c.version, 2);
        assert_eq!(c.status, AppointmentStatus::Cancelled);
        assert!(!c.holds_slot());
        assert_eq!(
            c.cancelled(Role::Doctor, Utc::now()),
            Err(TransitionError::NotBooked("cancelled"))
        );
    }

    #[test]
    fn started_appointments_cannot_change() {
        let a = sample(Utc::now() - Duration::minutes(1));
        assert_eq!(
            a.cancelled(Role::Patient, Utc::now()),
            Err(TransitionError::AlreadyStarted)
        );
    }

    #[test]
    fn rescheduling_moves_start_and_end_and_refuses_the_same_slot() {
        let start = Utc::now() + Duration::days(2);
        let a = sample(start);
        let to = Slot {
            start: start + Duration::hours(1),
            end: start + Duration::minutes(90),
        };
        let mut joined = a.clone();
        let mut call = crate::domain::call::CallRecord::default();
        assert!(call.apply(
            Role::Patient,
            crate::domain::call::CallEvent::Joined,
            Utc::now()
        ));
        call.patient_waiting_notified_at = Some(Utc::now());
        joined.call = Some(call);
        let moved = joined.rescheduled(to, Utc::now()).unwrap();
        assert_eq!(
            (moved.start, moved.end, moved.version),
            (to.start, to.end, 2)
        );
        assert_eq!(moved.call, None, "the call at the old time stays behind");
        let same = Slot { start, end: a.end };
        assert_eq!(
            a.rescheduled(same, Utc::now()),
            Err(TransitionError::SameSlot)
        );
    }

    #[test]
    fn reasons_are_bounded_and_trimmed() {
        assert_eq!(Reason::parse("  cough \n").unwrap().as_str(), "cough");
        assert!(Reason::parse(&"x".repeat(501)).is_err());
        assert!(Reason::parse("a\u{0}b").is_err());
    }
}
