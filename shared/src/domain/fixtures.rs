//! Sample appointments and profiles for unit tests across the crate (test builds only).

use chrono::{DateTime, Duration, Utc};

use super::{Appointment, AppointmentId, AppointmentStatus, RoomName, UserId};

/// A booked 30-minute appointment of "pat" (Pat Example) with "doc" (Ada Example) at `start`,
/// booked a day before it.
pub fn sample(start: DateTime<Utc>) -> Appointment {
    Appointment {
        id: AppointmentId::new(),
        patient_id: UserId::parse("pat").unwrap(),
        doctor_id: UserId::parse("doc").unwrap(),
        doctor_name: "Ada Example".into(),
        patient_name: "Pat Example".into(),
        start,
        end: start + Duration::minutes(30),
        status: AppointmentStatus::Booked,
        room_name: RoomName::parse("medichain-0123456789abcdef0123456789abcdef").unwrap(),
        meeting_url: "https://meet.jit.si/medichain-0123456789abcdef0123456789abcdef".into(),
        reason: None,
        version: 1,
        created_at: start - Duration::days(1),
        updated_at: start - Duration::days(1),
        cancelled_by: None,
        ..placeholder()
    }
}

/// Fields other engineers add to `Appointment` later default here, so these fixtures keep
/// compiling; `sample` overrides every field it knows.
fn placeholder() -> Appointment {
    let start = DateTime::<Utc>::UNIX_EPOCH;
    let mut a: Appointment = serde_json::from_value(serde_json::json!({
        "id": "3f2c9a1e-0b7d-4c55-9a3e-1f2d3c4b5a69",
        "patient_id": "pat",
        "doctor_id": "doc",
        "doctor_name": "",
        "patient_name": "",
        "start": start,
        "end": start,
        "status": "booked",
        "room_name": "medichain-0123456789abcdef0123456789abcdef",
        "meeting_url": "",
        "version": 1,
        "created_at": start,
        "updated_at": start,
    }))
    .expect("the minimal appointment document parses");
    a.reason = None;
    a
}
