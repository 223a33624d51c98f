//! In-app notifications: the texts, priorities, actions and metadata of the product brief, rendered
//! for one recipient with dates and times in that recipient's own time zone.
//!
//! A notification's id is derived from what it is about (appointment, version, notice, recipient)
//! and when it happened, so an event delivered twice writes the same notification twice — which
//! the stores turn into one.

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::doctor::TimeZone;
use super::reminder::{appointment_path, ReminderKind};
use super::{Appointment, AppointmentId, InvalidValue, Role, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationType {
    AppointmentCreated,
    VideoCallReady,
    VideoCallStarting,
    VideoCallReminder,
    AppointmentCancelled,
    AppointmentRescheduled,
    /// To the doctor: the patient is in the video room and the doctor has not joined yet.
    PatientWaiting,
}

impl NotificationType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AppointmentCreated => "appointment_created",
            Self::VideoCallReady => "video_call_ready",
            Self::VideoCallStarting => "video_call_starting",
            Self::VideoCallReminder => "video_call_reminder",
            Self::AppointmentCancelled => "appointment_cancelled",
            Self::AppointmentRescheduled => "appointment_rescheduled",
            Self::PatientWaiting => "patient_waiting",
        }
    }

    /// The seed's `metadata.notification_type`: the family a notification belongs to.
    pub fn family(self) -> &'static str {
        match self {
            Self::VideoCallReady
            | Self::VideoCallStarting
            | Self::VideoCallReminder
            | Self::PatientWaiting => "video_call",
            Self::AppointmentCreated
            | Self::AppointmentCancelled
            | Self::AppointmentRescheduled => "appointment",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Normal,
    High,
    Urgent,
}

/// The button a notification offers: a label and a path inside the web app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationAction {
    pub label: String,
    pub url: String,
}

/// What the web app needs to show or act on a notification without loading the appointment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationMetadata {
    pub appointment_id: AppointmentId,
    /// `YYYY-MM-DD` in the recipient's time zone.
    pub appointment_date: String,
    /// `HH:MM` (24-hour clock) in the recipient's time zone.
    pub appointment_time: String,
    pub meeting_url: String,
    /// `video_call` or `appointment` (see [`NotificationType::family`]).
    pub notification_type: String,
}

/// A notification's id: the UTC time it was created (`YYYYMMDDTHHMMSSmmmZ`), a `-`, and 16 hex
/// digits of a hash of what it is about. Ids sort by creation time, which is how a user's list is
/// ordered in both stores.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NotificationId(String);

const TIME_PART: usize = 19;
const HASH_PART: usize = 16;

impl NotificationId {
    pub fn derive(created_at: DateTime<Utc>, about: &[&str]) -> Self {
        let mut h = Sha256::new();
        for part in about {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part.as_bytes());
        }
        let digest = h.finalize();
        let hash: String = digest[..HASH_PART / 2]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Self(format!("{}-{hash}", created_at.format("%Y%m%dT%H%M%S%3fZ")))
    }

    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let b = raw.as_bytes();
        let ok = b.len() == TIME_PART + 1 + HASH_PART
            && b.iter().enumerate().all(|(i, &c)| match i {
                8 => c == b'T',
                18 => c == b'Z',
                19 => c == b'-',
                0..=17 => c.is_ascii_digit(),
                _ => c.is_ascii_digit() || (b'a'..=b'f').contains(&c),
            });
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(InvalidValue::new("id", "not a notification id"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for NotificationId {
    type Error = InvalidValue;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<NotificationId> for String {
    fn from(value: NotificationId) -> Self {
        value.0
    }
}

impl fmt::Display for NotificationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub id: NotificationId,
    pub user_id: UserId,
    #[serde(rename = "type")]
    pub kind: NotificationType,
    pub title: String,
    pub message: String,
    pub priority: Priority,
    pub action: NotificationAction,
    pub metadata: NotificationMetadata,
    pub read: bool,
    pub created_at: DateTime<Utc>,
}

/// Who a notification is for: a participant of the appointment and the zone they read times in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub id: UserId,
    pub role: Role,
    pub time_zone: TimeZone,
}

/// What happened to an appointment that its participants are told about in the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Notice {
    Created,
    VideoCallReady,
    Reminder(ReminderKind),
    Cancelled,
    Rescheduled,
    /// The patient joined the video room before the doctor (sent to the doctor, once).
    PatientWaiting,
}

impl Notice {
    pub fn kind(self) -> NotificationType {
        match self {
            Notice::Created => NotificationType::AppointmentCreated,
            Notice::VideoCallReady => NotificationType::VideoCallReady,
            Notice::Reminder(ReminderKind::DayBefore) => NotificationType::VideoCallReminder,
            Notice::Reminder(ReminderKind::Starting) => NotificationType::VideoCallStarting,
            Notice::Cancelled => NotificationType::AppointmentCancelled,
            Notice::Rescheduled => NotificationType::AppointmentRescheduled,
            Notice::PatientWaiting => NotificationType::PatientWaiting,
        }
    }

    pub fn priority(self) -> Priority {
        match self {
            Notice::Reminder(ReminderKind::DayBefore) => Priority::High,
            Notice::Reminder(ReminderKind::Starting) | Notice::PatientWaiting => Priority::Urgent,
            _ => Priority::Normal,
        }
    }

    fn title(self) -> &'static str {
        match self {
            Notice::Created => "Appointment Scheduled",
            Notice::VideoCallReady => "Video Consultation Ready",
            Notice::Reminder(ReminderKind::DayBefore) => "Video Consultation Reminder",
            Notice::Reminder(ReminderKind::Starting) => "Video Consultation Starting",
            Notice::Cancelled => "Appointment Cancelled",
            Notice::Rescheduled => "Appointment Rescheduled",
            Notice::PatientWaiting => "Patient Waiting",
        }
    }

    /// When a notice about `appointment` happened, derived from the appointment itself so that a
    /// redelivered event yields the same notification: the change's time for changes (plus a
    /// millisecond for "ready", so it lists above "created"), the due time for reminders (never
    /// before the booking, for a "starting" sent at once).
    pub fn created_at(self, appointment: &Appointment) -> DateTime<Utc> {
        let changed = appointment.updated_at;
        match self {
            Notice::Created | Notice::Cancelled | Notice::Rescheduled | Notice::PatientWaiting => {
                changed
            }
            Notice::VideoCallReady => changed + Duration::milliseconds(1),
            Notice::Reminder(kind) => kind
                .due_at(appointment.start)
                .max(changed + Duration::milliseconds(2)),
        }
    }

    fn tag(self) -> &'static str {
        match self {
            Notice::Reminder(kind) => kind.as_str(),
            other => other.kind().as_str(),
        }
    }
}

/// The participant's view of the other participant, as the brief's texts name them.
fn other_party(appointment: &Appointment, role: Role) -> String {
    match role {
        Role::Patient => format!("Dr. {}", appointment.doctor_name),
        Role::Doctor => appointment.patient_name.clone(),
    }
}

/// The notification `recipient` gets for `notice` about `appointment`.
pub fn render(appointment: &Appointment, notice: Notice, recipient: &Recipient) -> Notification {
    let local = appointment.start.with_timezone(&recipient.time_zone.tz());
    let date = local.format("%Y-%m-%d").to_string();
    let time = local.format("%H:%M").to_string();
    let other = other_party(appointment, recipient.role);
    let message = match (notice, recipient.role) {
        (Notice::Created, Role::Patient) => format!(
            "Your appointment with Dr. {} is scheduled for {date} at {time}",
            appointment.doctor_name
        ),
        (Notice::Created, Role::Doctor) => format!(
            "You have a new appointment with {} on {date} at {time}",
            appointment.patient_name
        ),
        (Notice::VideoCallReady, _) => {
            format!("Your video consultation with {other} is ready. Click to join the call.")
        }
        (Notice::Reminder(ReminderKind::Starting), _) => {
            "Your video consultation is starting now. Click to join immediately.".to_owned()
        }
        (Notice::Reminder(ReminderKind::DayBefore), _) => {
            format!("Reminder: Your video consultation is scheduled for {date} at {time}")
        }
        (Notice::Cancelled, _) => {
            format!("Your appointment with {other} on {date} at {time} has been cancelled.")
        }
        (Notice::Rescheduled, _) => {
            format!("Your appointment with {other} has been moved to {date} at {time}.")
        }
        (Notice::PatientWaiting, _) => format!(
            "{} is waiting in the video room for the consultation at {time}. Click to join now.",
            appointment.patient_name
        ),
    };
    let view = appointment_path(recipient.role, &appointment.id);
    let video = format!(
        "/video/{}?appointment={}",
        appointment.room_name, appointment.id
    );
    let action = match notice {
        Notice::Created | Notice::Cancelled | Notice::Rescheduled => ("View Appointment", view),
        Notice::VideoCallReady => ("Join Video Call", video),
        Notice::Reminder(ReminderKind::Starting) | Notice::PatientWaiting => ("Join Now", video),
        Notice::Reminder(ReminderKind::DayBefore) => ("View Details", view),
    };
    let created_at = notice.created_at(appointment);
    let id = NotificationId::derive(
        created_at,
        &[
            &appointment.id.to_string(),
            &appointment.version.to_string(),
            notice.tag(),
            recipient.id.as_str(),
        ],
    );
    let kind = notice.kind();
    Notification {
        id,
        user_id: recipient.id.clone(),
        kind,
        title: notice.title().to_owned(),
        message,
        priority: notice.priority(),
        action: NotificationAction {
            label: action.0.to_owned(),
            url: action.1,
        },
        metadata: NotificationMetadata {
            appointment_id: appointment.id,
            appointment_date: date,
            appointment_time: time,
            meeting_url: appointment.meeting_url.clone(),
            notification_type: kind.family().to_owned(),
        },
        read: false,
        created_at,
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;
    use crate::domain::fixtures::sample;

    fn recipient(id: &str, role: Role, zone: &str) -> Recipient {
        Recipient {
            id: UserId::parse(id).unwrap(),
            role,
            time_zone: TimeZone::parse(zone).unwrap(),
        }
    }

    /// 2030-01-15 19:30 UTC: 14:30 in New York, 20:30 in Berlin.
    fn appointment() -> Appointment {
        sample(Utc.with_ymd_and_hms(2030, 1, 15, 19, 30, 0).unwrap())
    }

    #[test]
    fn the_brief_texts_with_each_recipients_own_date_and_time() {
        let a = appointment();
        let id = a.id;
        let room = a.room_name.as_str().to_owned();
        let patient = recipient("pat", Role::Patient, "America/New_York");
        let doctor = recipient("doc", Role::Doctor, "Europe/Berlin");
        let patient_view = format!("/appointments/?id={id}");
        let doctor_view = format!("/schedule/?id={id}");
        let video = format!("/video/{room}?appointment={id}");
        let cases: Vec<(Notice, &Recipient, &str, Priority, &str, &str, String)> = vec![
            (
                Notice::Created,
                &patient,
                "appointment_created",
                Priority::Normal,
                "Your appointment with Dr. Ada Example is scheduled for 2030-01-15 at 14:30",
                "View Appointment",
                patient_view.clone(),
            ),
            (
                Notice::Created,
                &doctor,
                "appointment_created",
                Priority::Normal,
                "You have a new appointment with Pat Example on 2030-01-15 at 20:30",
                "View Appointment",
                doctor_view.clone(),
            ),
            (
                Notice::VideoCallReady,
                &patient,
                "video_call_ready",
                Priority::Normal,
                "Your video consultation with Dr. Ada Example is ready. Click to join the call.",
                "Join Video Call",
                video.clone(),
            ),
            (
                Notice::VideoCallReady,
                &doctor,
                "video_call_ready",
                Priority::Normal,
                "Your video consultation with Pat Example is ready. Click to join the call.",
                "Join Video Call",
                video.clone(),
            ),
            (
                Notice::Reminder(ReminderKind::Starting),
                &doctor,
                "video_call_starting",
                Priority::Urgent,
                "Your video consultation is starting now. Click to join immediately.",
                "Join Now",
                video.clone(),
            ),
            (
                Notice::Reminder(ReminderKind::DayBefore),
                &patient,
                "video_call_reminder",
                Priority::High,
                "Reminder: Your video consultation is scheduled for 2030-01-15 at 14:30",
                "View Details",
                patient_view.clone(),
            ),
            (
                Notice::Reminder(ReminderKind::DayBefore),
                &doctor,
                "video_call_reminder",
                Priority::High,
                "Reminder: Your video consultation is scheduled for 2030-01-15 at 20:30",
                "View Details",
                doctor_view.clone(),
            ),
            (
                Notice::Cancelled,
                &patient,
                "appointment_cancelled",
                Priority::Normal,
                "Your appointment with Dr. Ada Example on 2030-01-15 at 14:30 has been cancelled.",
                "View Appointment",
                patient_view.clone(),
            ),
            (
                Notice::Rescheduled,
                &doctor,
                "appointment_rescheduled",
                Priority::Normal,
                "Your appointment with Pat Example has been moved to 2030-01-15 at 20:30.",
                "View Appointment",
                doctor_view.clone(),
            ),
        ];
        for (notice, to, kind, priority, message, label, url) in cases {
            let n = render(&a, notice, to);
            assert_eq!(n.kind.as_str(), kind);
            assert_eq!(n.message, message, "{notice:?} to {:?}", to.role);
            assert_eq!(n.priority, priority, "{notice:?}");
            assert_eq!(
                (n.action.label.as_str(), n.action.url.as_str()),
                (label, url.as_str())
            );
            assert_eq!(n.user_id, to.id);
            assert!(!n.read);
            assert_eq!(n.metadata.appointment_id, id);
            assert_eq!(n.metadata.meeting_url, a.meeting_url);
            let (date, time) = match to.role {
                Role::Patient => ("2030-01-15", "14:30"),
                Role::Doctor => ("2030-01-15", "20:30"),
            };
            assert_eq!(
                (
                    n.metadata.appointment_date.as_str(),
                    n.metadata.appointment_time.as_str()
                ),
                (date, time)
            );
        }
    }

    #[test]
    fn metadata_serialises_with_the_seed_field_names() {
        let a = appointment();
        let n = render(
            &a,
            Notice::VideoCallReady,
            &recipient("pat", Role::Patient, "UTC"),
        );
        let json = serde_json::to_value(&n).unwrap();
        assert_eq!(json["type"], "video_call_ready");
        assert_eq!(json["priority"], "normal");
        assert_eq!(
            json["metadata"],
            serde_json::json!({
                "appointment_id": a.id.to_string(),
                "appointment_date": "2030-01-15",
                "appointment_time": "19:30",
                "meeting_url": a.meeting_url,
                "notification_type": "video_call",
            })
        );
        let created = render(&a, Notice::Created, &recipient("pat", Role::Patient, "UTC"));
        assert_eq!(created.metadata.notification_type, "appointment");
    }

    #[test]
    fn the_same_notice_renders_the_same_id_and_different_notices_do_not() {
        let a = appointment();
        let p = recipient("pat", Role::Patient, "UTC");
        let d = recipient("doc", Role::Doctor, "UTC");
        assert_eq!(
            render(&a, Notice::Created, &p).id,
            render(&a, Notice::Created, &p).id
        );
        let ids: std::collections::HashSet<_> = [
            render(&a, Notice::Created, &p).id,
            render(&a, Notice::Created, &d).id,
            render(&a, Notice::VideoCallReady, &p).id,
            render(&a, Notice::Reminder(ReminderKind::DayBefore), &p).id,
            render(&a, Notice::Reminder(ReminderKind::Starting), &p).id,
        ]
        .into();
        assert_eq!(ids.len(), 5);
        let mut moved = a.clone();
        moved.version += 1;
        assert_ne!(
            render(&moved, Notice::Created, &p).id,
            render(&a, Notice::Created, &p).id
        );
    }

    #[test]
    fn ids_sort_by_creation_and_parse_back() {
        let mut a = appointment();
        a.updated_at = a.start - Duration::days(3);
        let p = recipient("pat", Role::Patient, "UTC");
        let created = render(&a, Notice::Created, &p);
        let ready = render(&a, Notice::VideoCallReady, &p);
        let reminder = render(&a, Notice::Reminder(ReminderKind::DayBefore), &p);
        assert!(created.id < ready.id && ready.id < reminder.id);
        assert_eq!(reminder.created_at, a.start - Duration::hours(24));
        assert_eq!(
            NotificationId::parse(created.id.as_str()).unwrap(),
            created.id
        );
        for bad in [
            "",
            "20300115T193000000Z",
            "20300115T193000000Z-0123456789ABCDEF",
            "2030011XT193000000Z-0123456789abcdef",
            "20300115T193000000Z_0123456789abcdef",
            "../../etc/passwd",
        ] {
            assert!(NotificationId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_starting_notice_sent_at_once_lists_above_the_booking_notices() {
        // Booked 3 minutes ahead: "starting" is sent at once, after "created" and "ready".
        let start = Utc.with_ymd_and_hms(2030, 1, 15, 19, 30, 0).unwrap();
        let mut a = sample(start);
        a.created_at = start - Duration::minutes(3);
        a.updated_at = a.created_at;
        let p = recipient("pat", Role::Patient, "UTC");
        let ready = render(&a, Notice::VideoCallReady, &p);
        let starting = render(&a, Notice::Reminder(ReminderKind::Starting), &p);
        assert!(starting.id > ready.id);
    }
}
