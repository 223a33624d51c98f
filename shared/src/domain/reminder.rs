//! Reminders before an appointment: the two kinds (24 hours and 5 minutes before the start), when
//! each is due, what a scheduler hands back when one fires, and the short texts sent by SMS and
//! push. Those texts carry the time in the recipient's zone and a link into the web app, nothing
//! else: no reason, no diagnosis, no other person's name (minimum necessary).

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::doctor::TimeZone;
use super::{Appointment, AppointmentId, InvalidValue, Role, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ReminderKind {
    /// "Reminder": 24 hours before the start.
    #[serde(rename = "24h")]
    DayBefore,
    /// "Starting now": 5 minutes before the start.
    #[serde(rename = "5m")]
    Starting,
}

impl ReminderKind {
    pub const ALL: [ReminderKind; 2] = [ReminderKind::DayBefore, ReminderKind::Starting];

    pub fn as_str(self) -> &'static str {
        match self {
            ReminderKind::DayBefore => "24h",
            ReminderKind::Starting => "5m",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        match raw {
            "24h" => Ok(ReminderKind::DayBefore),
            "5m" => Ok(ReminderKind::Starting),
            _ => Err(InvalidValue::new("kind", "must be \"24h\" or \"5m\"")),
        }
    }

    /// How long before the start this reminder is due.
    pub fn lead_time(self) -> Duration {
        match self {
            ReminderKind::DayBefore => Duration::hours(24),
            ReminderKind::Starting => Duration::minutes(5),
        }
    }

    pub fn due_at(self, start: DateTime<Utc>) -> DateTime<Utc> {
        start - self.lead_time()
    }
}

impl fmt::Display for ReminderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a fired schedule hands to `send-reminder`: ids, a version and a start time only, never
/// personal data. The start tells a reminder of a moved appointment from a current one; the
/// version keys the reminder's once-only gate.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReminderRequest {
    pub appointment_id: AppointmentId,
    pub kind: ReminderKind,
    pub version: u64,
    /// The start the reminder was armed for. A change at the same start (the call record, which
    /// the video page writes as people join, up to the reminder's own time) leaves the reminder
    /// current; a move makes it stale. Absent in payloads scheduled before it was added: those
    /// are stale at any other version, as every reminder was then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<DateTime<Utc>>,
    /// Who the appointment is between, so that the reminder reads the appointment and both
    /// profiles in one round trip (docs/performance.md, design 3). Opaque user ids, no contact
    /// details. Absent in payloads scheduled before it was added: those read the appointment
    /// first, then the profiles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub participants: Option<Participants>,
}

/// The two users of an appointment, as named in a reminder's payload.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Participants {
    pub patient: UserId,
    pub doctor: UserId,
}

impl Participants {
    pub fn of(appointment: &Appointment) -> Self {
        Participants {
            patient: appointment.patient_id.clone(),
            doctor: appointment.doctor_id.clone(),
        }
    }
}

impl ReminderRequest {
    /// The `kind` reminder of `appointment` as it is now (its version, start and participants).
    pub fn for_appointment(appointment: &Appointment, kind: ReminderKind) -> Self {
        ReminderRequest {
            appointment_id: appointment.id,
            kind,
            version: appointment.version,
            start: Some(appointment.start),
            participants: Some(Participants::of(appointment)),
        }
    }

    /// Whether this reminder is still about `appointment` as it is now: armed for its start (or,
    /// for a payload without a start, for its version). Status and the end are checked apart.
    pub fn is_current_for(&self, appointment: &Appointment) -> bool {
        match self.start {
            Some(start) => appointment.start == start,
            None => appointment.version == self.version,
        }
    }
}

/// When a reminder of a booked appointment goes out, seen at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReminderTiming {
    /// Schedule it for this instant.
    At(DateTime<Utc>),
    /// Its time has passed but it still makes sense: send it now ("starting" for a booking less
    /// than 5 minutes ahead).
    Now,
    /// Its time has passed and it would only confuse (a 24 h reminder for a booking made less
    /// than 24 hours ahead), or the appointment is over.
    Skip,
}

impl ReminderKind {
    pub fn timing(self, appointment: &Appointment, now: DateTime<Utc>) -> ReminderTiming {
        let due = self.due_at(appointment.start);
        if due > now {
            return ReminderTiming::At(due);
        }
        match self {
            ReminderKind::DayBefore => ReminderTiming::Skip,
            ReminderKind::Starting if now < appointment.end => ReminderTiming::Now,
            ReminderKind::Starting => ReminderTiming::Skip,
        }
    }
}

/// The page of the web app that shows one appointment to this participant.
pub fn appointment_path(role: Role, id: &AppointmentId) -> String {
    match role {
        Role::Patient => format!("/appointments/?id={id}"),
        Role::Doctor => format!("/schedule/?id={id}"),
    }
}

/// The text of a reminder SMS or push message: the start in the recipient's zone and the link to
/// the appointment in the web app (`site_url` without a trailing slash). A long site URL gets the
/// compact wording, so the text stays one SMS segment for any site URL up to
/// [`MAX_SITE_URL_FOR_ONE_SEGMENT`] characters.
pub fn reminder_text(
    kind: ReminderKind,
    appointment: &Appointment,
    role: Role,
    zone: &TimeZone,
    site_url: &str,
) -> String {
    let local = appointment.start.with_timezone(&zone.tz());
    let when = local.format("%Y-%m-%d %H:%M %Z");
    let time = local.format("%H:%M %Z");
    let link = format!("{site_url}{}", appointment_path(role, &appointment.id));
    let (full, compact) = match kind {
        ReminderKind::DayBefore => (
            format!("MediChain reminder: video consultation on {when}. Details: {link}"),
            format!("Video consultation {when}: {link}"),
        ),
        ReminderKind::Starting => (
            format!("MediChain: your video consultation starts at {time}. Join: {link}"),
            format!("Video consultation now, {time}: {link}"),
        ),
    };
    if fits_one_sms_segment(&full) {
        full
    } else {
        compact
    }
}

/// The longest site URL for which every reminder text stays within one GSM-7 SMS segment (the
/// configuration refuses longer ones).
pub const MAX_SITE_URL_FOR_ONE_SEGMENT: usize = 60;

/// Characters of the GSM 03.38 basic set that are ASCII (one septet each), and the ASCII
/// characters of its extension table (two septets: escape + character).
fn gsm7_septets(c: char) -> Option<usize> {
    const EXTENDED: &str = "^{}\\[~]|";
    if EXTENDED.contains(c) {
        return Some(2);
    }
    let basic = c.is_ascii_alphanumeric()
        || " \n\r@$_!\"#%&'()*+,-./:;<=>?".contains(c)
        || "£¥èéùìòÇØøÅåΔΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà".contains(c);
    basic.then_some(1)
}

/// The length of `text` in GSM-7 septets, or `None` when it needs UCS-2 (and so 70-character
/// segments).
pub fn gsm7_length(text: &str) -> Option<usize> {
    text.chars().map(gsm7_septets).sum()
}

/// Whether `text` is sent as a single SMS segment (160 GSM-7 septets).
pub fn fits_one_sms_segment(text: &str) -> bool {
    gsm7_length(text).is_some_and(|n| n <= 160)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;
    use crate::domain::appointment::Reason;
    use crate::domain::fixtures::sample;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_reminder_is_current_at_its_start_whatever_the_version() {
        let a = sample(at("2030-03-04T15:00:00Z"));
        let r = ReminderRequest::for_appointment(&a, ReminderKind::Starting);
        // The call record written as someone joins: a new version, the same start.
        let mut joined = a.clone();
        joined.version += 1;
        assert!(r.is_current_for(&joined));
        let moved = a
            .rescheduled(
                crate::domain::doctor::Slot {
                    start: at("2030-03-05T15:00:00Z"),
                    end: at("2030-03-05T15:30:00Z"),
                },
                at("2030-03-01T00:00:00Z"),
            )
            .unwrap();
        assert!(!r.is_current_for(&moved));
        // A payload from before the start was in it goes by the version.
        let legacy = ReminderRequest { start: None, ..r };
        assert!(legacy.is_current_for(&a));
        assert!(!legacy.is_current_for(&joined));
    }

    #[test]
    fn kinds_round_trip_in_the_payload_spelling() {
        for kind in ReminderKind::ALL {
            assert_eq!(ReminderKind::parse(kind.as_str()).unwrap(), kind);
        }
        assert!(ReminderKind::parse("1h").is_err());
        let request = ReminderRequest {
            appointment_id: AppointmentId::parse("3f2c9a1e-0b7d-4c55-9a3e-1f2d3c4b5a69").unwrap(),
            kind: ReminderKind::DayBefore,
            version: 3,
            start: None,
            participants: None,
        };
        let json = serde_json::to_value(&request).unwrap();
        // A payload scheduled before `participants` existed still reads, and one without them
        // writes the same three fields.
        assert_eq!(
            json,
            serde_json::json!({
                "appointment_id": "3f2c9a1e-0b7d-4c55-9a3e-1f2d3c4b5a69",
                "kind": "24h",
                "version": 3
            })
        );
        assert_eq!(
            serde_json::from_value::<ReminderRequest>(json).unwrap(),
            request
        );
        let with = ReminderRequest {
            participants: Some(Participants {
                patient: UserId::parse("patient-1").unwrap(),
                doctor: UserId::parse("doctor-1").unwrap(),
            }),
            ..request
        };
        let json = serde_json::to_value(&with).unwrap();
        assert_eq!(
            json["participants"],
            serde_json::json!({"patient": "patient-1", "doctor": "doctor-1"})
        );
        assert_eq!(
            serde_json::from_value::<ReminderRequest>(json).unwrap(),
            with
        );
        let armed = ReminderRequest {
            start: Some(at("2030-03-04T15:00:00Z")),
            ..with
        };
        let json = serde_json::to_value(&armed).unwrap();
        assert_eq!(json["start"], "2030-03-04T15:00:00Z");
        assert_eq!(
            serde_json::from_value::<ReminderRequest>(json).unwrap(),
            armed
        );
        let bad = serde_json::json!({"appointment_id": "3f2c9a1e-0b7d-4c55-9a3e-1f2d3c4b5a69", "kind": "5m", "version": 1, "participants": {"patient": "p", "doctor": "d", "phone": "+1"}});
        assert!(serde_json::from_value::<ReminderRequest>(bad).is_err());
        let extra = serde_json::json!({"appointment_id": "3f2c9a1e-0b7d-4c55-9a3e-1f2d3c4b5a69", "kind": "5m", "version": 1, "phone": "+1"});
        assert!(serde_json::from_value::<ReminderRequest>(extra).is_err());
    }

    #[test]
    fn timing_schedules_skips_or_sends_at_once() {
        let start = at("2030-03-04T15:00:00Z");
        let a = sample(start);
        let cases = [
            // (now, 24h, 5m)
            (
                "2030-03-01T10:00:00Z",
                ReminderTiming::At(at("2030-03-03T15:00:00Z")),
                ReminderTiming::At(at("2030-03-04T14:55:00Z")),
            ),
            // 23 hours ahead: no 24 h reminder.
            (
                "2030-03-03T16:00:00Z",
                ReminderTiming::Skip,
                ReminderTiming::At(at("2030-03-04T14:55:00Z")),
            ),
            // Exactly 24 hours ahead: the 24 h reminder is due now, which is not in the future.
            (
                "2030-03-03T15:00:00Z",
                ReminderTiming::Skip,
                ReminderTiming::At(at("2030-03-04T14:55:00Z")),
            ),
            // 3 minutes ahead: "starting" at once.
            (
                "2030-03-04T14:57:00Z",
                ReminderTiming::Skip,
                ReminderTiming::Now,
            ),
            // During the appointment (a stream that lagged): still "starting".
            (
                "2030-03-04T15:10:00Z",
                ReminderTiming::Skip,
                ReminderTiming::Now,
            ),
            // After its end: nothing.
            (
                "2030-03-04T15:30:00Z",
                ReminderTiming::Skip,
                ReminderTiming::Skip,
            ),
        ];
        for (now, day, starting) in cases {
            let now = at(now);
            assert_eq!(ReminderKind::DayBefore.timing(&a, now), day, "24h at {now}");
            assert_eq!(
                ReminderKind::Starting.timing(&a, now),
                starting,
                "5m at {now}"
            );
        }
    }

    #[test]
    fn sms_texts_carry_local_time_and_link_and_nothing_personal() {
        let start = Utc.with_ymd_and_hms(2030, 1, 15, 19, 30, 0).unwrap();
        let mut a = sample(start);
        a.reason = Some(Reason::parse("chest pain and dizziness").unwrap());
        let ny = TimeZone::parse("America/New_York").unwrap();
        let berlin = TimeZone::parse("Europe/Berlin").unwrap();
        let site = "https://app.medichain.example";
        let id = a.id;

        let day = reminder_text(ReminderKind::DayBefore, &a, Role::Doctor, &ny, site);
        assert_eq!(
            day,
            format!("MediChain reminder: video consultation on 2030-01-15 14:30 EST. Details: {site}/schedule/?id={id}")
        );
        let starting = reminder_text(ReminderKind::Starting, &a, Role::Patient, &berlin, site);
        assert_eq!(
            starting,
            format!("MediChain: your video consultation starts at 20:30 CET. Join: {site}/appointments/?id={id}")
        );
        for text in [&day, &starting] {
            for private in [
                "chest",
                "Ada",
                "Example",
                "Pat",
                "meet.jit.si",
                "medichain-",
            ] {
                assert!(!text.contains(private), "{text:?} contains {private:?}");
            }
        }
    }

    #[test]
    fn every_reminder_text_fits_one_sms_segment() {
        let a = sample(Utc.with_ymd_and_hms(2030, 12, 31, 23, 30, 0).unwrap());
        // The longest zone abbreviations the database has are numeric offsets like "+0545".
        let zones = [
            "America/New_York",
            "Asia/Kathmandu",
            "Pacific/Chatham",
            "UTC",
        ];
        for len in [21, 35, 45, MAX_SITE_URL_FOR_ONE_SEGMENT] {
            let site = format!("https://{}", "x".repeat(len - 8));
            for kind in ReminderKind::ALL {
                for role in [Role::Patient, Role::Doctor] {
                    for zone in zones {
                        let zone = TimeZone::parse(zone).unwrap();
                        let text = reminder_text(kind, &a, role, &zone, &site);
                        assert!(
                            fits_one_sms_segment(&text),
                            "{} septets: {text}",
                            text.len()
                        );
                        assert!(text.contains(&format!("{site}{}", appointment_path(role, &a.id))));
                    }
                }
            }
        }
        // A typical deployment gets the full wording.
        let text = reminder_text(
            ReminderKind::Starting,
            &a,
            Role::Doctor,
            &TimeZone::parse("UTC").unwrap(),
            "https://d111111abcdef8.cloudfront.net",
        );
        assert!(
            text.starts_with("MediChain: your video consultation starts at 23:30 UTC. Join: "),
            "{text}"
        );
    }

    #[test]
    fn gsm7_counts_extension_characters_twice_and_rejects_others() {
        assert_eq!(gsm7_length("abc?=/"), Some(6));
        assert_eq!(gsm7_length("a[b]"), Some(6));
        assert_eq!(gsm7_length("emoji 😀"), None);
        assert_eq!(gsm7_length("`"), None);
        assert!(fits_one_sms_segment(&"a".repeat(160)));
        assert!(!fits_one_sms_segment(&"a".repeat(161)));
        assert!(!fits_one_sms_segment(&"[".repeat(81)));
    }
}
