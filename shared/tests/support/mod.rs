//! What the store tests share: the two stores under test (each fresh per test), the moto server
//! the DynamoDB store talks to, and domain values to store. Each test binary uses a part of it.
#![allow(dead_code)]

pub mod api;
pub mod moto;
pub mod ops;

use std::any::Any;

use chrono::{DateTime, Duration, NaiveTime, Timelike, Utc, Weekday};
use medichain::adapters::aws::DynamoDbStore;
use medichain::adapters::embedded::EmbeddedStore;
use medichain::domain::doctor::TimeZone;
use medichain::domain::{
    Appointment, AppointmentId, AppointmentStatus, Doctor, Role, RoomName, UserId, UserProfile,
    WeeklyHours,
};

/// A store under test and whatever must live as long as it (a temporary directory).
pub struct Fixture<S> {
    pub store: S,
    _keep: Box<dyn Any + Send>,
}

pub async fn embedded() -> Fixture<EmbeddedStore> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = EmbeddedStore::open(dir.path()).expect("the embedded store opens");
    Fixture {
        store,
        _keep: Box::new(dir),
    }
}

/// A DynamoDB store on a table of its own, on this test binary's moto server.
pub async fn dynamodb() -> Fixture<DynamoDbStore> {
    let store = DynamoDbStore::new(moto::client().await, moto::unique_table_name());
    let created = store
        .create_table_if_missing()
        .await
        .expect("the table is created on moto");
    assert!(created, "a fresh table name must not exist yet");
    Fixture {
        store,
        _keep: Box::new(()),
    }
}

pub fn user(raw: &str) -> UserId {
    UserId::parse(raw).expect("a valid user id")
}

pub fn doctor(id: &str, name: &str) -> Doctor {
    let nine = NaiveTime::from_hms_opt(9, 0, 0).expect("a time");
    let five = NaiveTime::from_hms_opt(17, 0, 0).expect("a time");
    Doctor {
        id: user(id),
        name: name.to_owned(),
        specialty: "General practice".to_owned(),
        time_zone: TimeZone::parse("Europe/Berlin").expect("a zone"),
        weekly_hours: WeeklyHours::every(&[Weekday::Mon, Weekday::Wed], nine, five).expect("hours"),
        slot_minutes: 30,
    }
}

pub fn patient_profile(id: &str, name: &str) -> UserProfile {
    UserProfile {
        id: user(id),
        role: Role::Patient,
        name: name.to_owned(),
        time_zone: TimeZone::parse("America/Chicago").expect("a zone"),
        phone: None,
        sms_opt_in: false,
    }
}

/// A fixed future instant on a whole minute (as stored times are millisecond-precise), the same
/// for the whole test run: a case that computed it twice once saw the minute turn in between.
pub fn base_time() -> DateTime<Utc> {
    static BASE: std::sync::OnceLock<DateTime<Utc>> = std::sync::OnceLock::new();
    *BASE.get_or_init(|| {
        let t = Utc::now() + Duration::days(3);
        t.with_nanosecond(0).expect("a valid instant") - Duration::seconds(i64::from(t.second()))
    })
}

/// A booked appointment of `patient` with `doctor` at `start`. Built from its JSON form so that
/// fields the domain adds later (optional ones, with serde defaults) need no change here.
pub fn appointment(patient: &str, doctor: &str, start: DateTime<Utc>) -> Appointment {
    let room = RoomName::mint();
    let booked_at = start - Duration::days(1);
    serde_json::from_value(serde_json::json!({
        "id": AppointmentId::new(),
        "patient_id": patient,
        "doctor_id": doctor,
        "doctor_name": "Ada Example",
        "patient_name": "Pat Example",
        "start": start,
        "end": start + Duration::minutes(30),
        "status": AppointmentStatus::Booked,
        "meeting_url": format!("https://meet.jit.si/{room}"),
        "room_name": room,
        "version": 1,
        "created_at": booked_at,
        "updated_at": booked_at,
    }))
    .expect("a valid appointment")
}
