//! Every SMS text the product sends, rendered by the real code, held against one GSM-7 segment
//! (160 septets): both reminder kinds, both roles, time zones with long abbreviations, and the
//! longest site URL the configuration accepts.

use chrono::{Duration, Utc};
use medichain::domain::doctor::TimeZone;
use medichain::domain::reminder::{
    gsm7_length, reminder_text, ReminderKind, MAX_SITE_URL_FOR_ONE_SEGMENT,
};
use medichain::domain::{Appointment, AppointmentId, Role, RoomName};

use crate::report::{Table, Verdict};

const ZONES: [&str; 6] = [
    "UTC",
    "America/New_York",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "America/St_Johns",
];

/// The longest rendered text in septets, and how many texts there were; `None` in the length
/// when some text needs UCS-2.
pub fn longest() -> anyhow::Result<(Option<usize>, usize, String)> {
    let start = Utc::now() + Duration::days(3);
    let room = RoomName::mint();
    let appointment: Appointment = serde_json::from_value(serde_json::json!({
        "id": AppointmentId::new(),
        "patient_id": "patient-rivera",
        "doctor_id": "doctor-okafor",
        "doctor_name": "Amara Okafor",
        "patient_name": "Jordan Rivera",
        "start": start,
        "end": start + Duration::minutes(30),
        "status": "booked",
        "meeting_url": format!("https://meet.jit.si/{room}"),
        "room_name": room,
        "version": 1,
        "created_at": Utc::now(),
        "updated_at": Utc::now(),
    }))?;
    let long_site = format!(
        "https://{}",
        "a".repeat(MAX_SITE_URL_FOR_ONE_SEGMENT - "https://".len())
    );
    let mut worst: Option<usize> = Some(0);
    let mut worst_text = String::new();
    let mut count = 0;
    for site in ["https://app.medichain.example", long_site.as_str()] {
        for zone in ZONES {
            let zone = TimeZone::parse(zone)?;
            for kind in [ReminderKind::DayBefore, ReminderKind::Starting] {
                for role in [Role::Patient, Role::Doctor] {
                    let text = reminder_text(kind, &appointment, role, &zone, site);
                    count += 1;
                    match (gsm7_length(&text), worst) {
                        (None, _) => {
                            worst = None;
                            worst_text = text;
                        }
                        (Some(n), Some(w)) if n > w => {
                            worst = Some(n);
                            worst_text = text;
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    Ok((worst, count, worst_text))
}

pub fn check(table: &mut Table) {
    match longest() {
        Ok((Some(n), count, text)) => table.add(
            "SMS segments",
            &format!("{count} rendered reminder texts"),
            format!("longest {n} GSM-7 septets: \"{text}\""),
            "1 segment (≤ 160 GSM-7)",
            Verdict::from_check(n <= 160),
        ),
        Ok((None, count, text)) => table.add(
            "SMS segments",
            &format!("{count} rendered reminder texts"),
            format!("needs UCS-2: \"{text}\""),
            "1 segment (≤ 160 GSM-7)",
            Verdict::Missed,
        ),
        Err(e) => table.add(
            "SMS segments",
            "reminder texts",
            format!("could not render: {e:#}"),
            "1 segment (≤ 160 GSM-7)",
            Verdict::Missed,
        ),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_reminder_text_fits_one_segment() {
        let (longest, count, text) = super::longest().unwrap();
        assert_eq!(count, 48);
        assert!(longest.is_some_and(|n| n <= 160), "{longest:?}: {text}");
    }
}
