//! Criterion benchmarks of the domain's hot paths, the work every request or event does on CPU
//! alone: a month of free slots (what the booking page asks for, day by day), finding the slot a
//! booking names, minting a room, and rendering the in-app notifications and the reminder SMS.
//!
//! `cargo bench -p medichain-bench --bench domain` (add `-- --quick` for a short run).

use std::hint::black_box;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc, Weekday};
use criterion::{criterion_group, criterion_main, Criterion};
use medichain::domain::doctor::TimeZone;
use medichain::domain::notification::{render, Notice, Recipient};
use medichain::domain::reminder::{reminder_text, ReminderKind};
use medichain::domain::{
    Appointment, AppointmentId, Doctor, JitsiSettings, Role, RoomName, UserId, WeeklyHours,
};

fn doctor() -> Doctor {
    let weekdays = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
    ];
    Doctor {
        id: UserId::parse("doctor-okafor").expect("id"),
        name: "Amara Okafor".into(),
        specialty: "General practice".into(),
        time_zone: TimeZone::parse("America/New_York").expect("zone"),
        weekly_hours: WeeklyHours::every(
            &weekdays,
            NaiveTime::from_hms_opt(9, 0, 0).expect("time"),
            NaiveTime::from_hms_opt(17, 0, 0).expect("time"),
        )
        .expect("hours"),
        slot_minutes: 30,
    }
}

fn appointment(start: DateTime<Utc>) -> Appointment {
    let room = RoomName::mint();
    serde_json::from_value(serde_json::json!({
        "id": AppointmentId::new(),
        "patient_id": "patient-rivera",
        "doctor_id": "doctor-okafor",
        "doctor_name": "Amara Okafor",
        "patient_name": "Jordan Rivera",
        "start": start,
        "end": start + Duration::minutes(30),
        "status": "booked",
        "meeting_url": JitsiSettings::default().meeting_url(&room),
        "room_name": room,
        "version": 1,
        "created_at": start - Duration::days(3),
        "updated_at": start - Duration::days(3),
    }))
    .expect("an appointment")
}

fn slots(c: &mut Criterion) {
    let doctor = doctor();
    let now = Utc::now();
    let first = (now + Duration::days(1)).date_naive();
    let month: Vec<NaiveDate> = (0..30).map(|d| first + Duration::days(d)).collect();
    // A busy doctor: every other slot of each day is taken.
    let taken: Vec<Vec<DateTime<Utc>>> = month
        .iter()
        .map(|d| {
            doctor
                .slots_on(*d)
                .iter()
                .step_by(2)
                .map(|s| s.start)
                .collect()
        })
        .collect();
    c.bench_function("free slots for a month (30 days, half taken)", |b| {
        b.iter(|| {
            let mut free = 0;
            for (date, taken) in month.iter().zip(&taken) {
                free += doctor.free_slots_on(*date, now, taken).len();
            }
            black_box(free)
        })
    });
    let start = doctor
        .slots_on(month[3])
        .get(5)
        .map(|s| s.start)
        .unwrap_or(now);
    c.bench_function("slot a booking names (slot_at)", |b| {
        b.iter(|| black_box(doctor.slot_at(black_box(start))))
    });
}

fn rooms(c: &mut Criterion) {
    let jitsi = JitsiSettings::default();
    c.bench_function("mint a room and its meeting URL", |b| {
        b.iter(|| {
            let room = RoomName::mint();
            black_box(jitsi.meeting_url(&room))
        })
    });
}

fn notifications(c: &mut Criterion) {
    let a = appointment(Utc::now() + Duration::days(3));
    let patient = Recipient {
        id: a.patient_id.clone(),
        role: Role::Patient,
        time_zone: TimeZone::parse("America/Chicago").expect("zone"),
    };
    let doctor = Recipient {
        id: a.doctor_id.clone(),
        role: Role::Doctor,
        time_zone: TimeZone::parse("America/New_York").expect("zone"),
    };
    c.bench_function("render a booking's four in-app notifications", |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(4);
            for notice in [Notice::Created, Notice::VideoCallReady] {
                for r in [&patient, &doctor] {
                    out.push(render(black_box(&a), notice, r));
                }
            }
            black_box(out)
        })
    });
    c.bench_function("render a reminder SMS", |b| {
        b.iter(|| {
            black_box(reminder_text(
                ReminderKind::DayBefore,
                black_box(&a),
                Role::Doctor,
                &doctor.time_zone,
                "https://app.medichain.example",
            ))
        })
    });
}

criterion_group!(benches, slots, rooms, notifications);
criterion_main!(benches);
