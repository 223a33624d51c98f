//! The data every measured run starts from: the demo users of the local server (the fixtures'
//! callers), doctors who work around the clock (so thousands of bookings find free slots), and
//! one appointment of the fixtures' patient for the routes that take an appointment id.

use chrono::{DateTime, Duration, NaiveTime, Utc, Weekday};
use medichain::domain::doctor::TimeZone;
use medichain::domain::{
    Appointment, AppointmentId, Doctor, Role, RoomName, UserId, UserProfile, WeeklyHours,
};
use medichain::ports::{AppointmentStore, Directory};

use crate::events::{free_slots, Seeded};

/// The patient the event fixtures sign in as.
pub const FIXTURE_PATIENT: &str = "patient-rivera";

const ALL_WEEK: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

/// The profile of the patient who makes booking number `i` (see `events::bench_patient`).
pub fn bench_patient_profile(i: usize) -> anyhow::Result<UserProfile> {
    Ok(UserProfile {
        id: UserId::parse(&crate::events::bench_patient(i))?,
        role: Role::Patient,
        name: "Bench Patient".into(),
        time_zone: TimeZone::parse("America/Chicago")?,
        phone: None,
        sms_opt_in: false,
    })
}

/// `bench-doctor-01`, `bench-doctor-02`, ...
pub fn bench_doctor_id(n: usize) -> String {
    format!("bench-doctor-{n:02}")
}

/// A doctor with 30-minute slots from 00:00 to 23:30 UTC every day: 47 slots a day.
pub fn bench_doctor(n: usize) -> anyhow::Result<Doctor> {
    let start = NaiveTime::from_hms_opt(0, 0, 0).unwrap_or_default();
    let end = NaiveTime::from_hms_opt(23, 30, 0).unwrap_or_default();
    Ok(Doctor {
        id: UserId::parse(&bench_doctor_id(n))?,
        name: format!("Bench Doctor {n:02}"),
        specialty: "General practice".into(),
        time_zone: TimeZone::parse("UTC")?,
        weekly_hours: WeeklyHours::every(&ALL_WEEK, start, end)?,
        slot_minutes: 30,
    })
}

/// Seeds `doctors` bench doctors and the demo users, and books the first free slot of
/// `bench-doctor-01` for the fixtures' patient. `slots` free starts of that doctor are returned
/// for bookings.
pub async fn seed<S>(store: &S, doctors: usize, slots: usize) -> anyhow::Result<Seeded>
where
    S: Directory + AppointmentStore,
{
    medichain_local::seed::seed_if_empty(store).await?;
    for n in 1..=doctors.max(1) {
        store.put_doctor(&bench_doctor(n)?).await?;
    }
    let doctor = bench_doctor(1)?;
    let now = Utc::now();
    // From tomorrow on, so that nothing becomes "in the past" during a run.
    let mut free = free_slots(&doctor, now, 1, slots + 1);
    anyhow::ensure!(free.len() > slots, "not enough free slots for the run");
    let booked_at = free.remove(0);
    let appointment = appointment(FIXTURE_PATIENT, &doctor, booked_at)?;
    store.create(&appointment, None).await?;
    Ok(Seeded {
        doctor_id: doctor.id.to_string(),
        appointment_id: appointment.id.to_string(),
        slot_date: (now + Duration::days(2)).date_naive(),
        free_slots: free,
    })
}

/// A booked appointment, built from its JSON form so that fields added to `Appointment` later
/// (optional, with serde defaults) need no change here.
fn appointment(
    patient: &str,
    doctor: &Doctor,
    start: DateTime<Utc>,
) -> anyhow::Result<Appointment> {
    let room = RoomName::mint();
    let booked_at = Utc::now();
    Ok(serde_json::from_value(serde_json::json!({
        "id": AppointmentId::new(),
        "patient_id": patient,
        "doctor_id": doctor.id,
        "doctor_name": doctor.name,
        "patient_name": "Jordan Rivera",
        "start": start,
        "end": start + doctor.slot_length(),
        "status": "booked",
        "meeting_url": format!("https://meet.jit.si/{room}"),
        "room_name": room,
        "version": 1,
        "created_at": booked_at,
        "updated_at": booked_at,
    }))?)
}
