//! Abuse limits, the audit trail and log hygiene, through the real server: the cap on a
//! patient's upcoming bookings (429 with `Retry-After`), who read or changed an appointment
//! recorded per appointment, and the logs of a whole story free of names, phone numbers,
//! reasons and tokens.

use std::io::Write;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use medichain::api::appointments::MAX_FUTURE_BOOKINGS;
use medichain::domain::audit::AuditAction;
use medichain::domain::{AppointmentId, Role};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn a_patient_with_ten_upcoming_bookings_is_told_when_to_retry() {
    let app = TestApp::spawn().await;
    let patient = app.login(PATIENT).await;
    let (_, slots) = app.next_free_day(&patient, DOCTOR).await;
    assert!(slots.len() > MAX_FUTURE_BOOKINGS);
    let mut booked = Vec::new();
    for slot in &slots[..MAX_FUTURE_BOOKINGS] {
        let r = app.book(&patient, DOCTOR, slot).await;
        assert_eq!(r.status(), StatusCode::CREATED);
        booked.push(json_of(r).await);
    }
    let r = app
        .book(&patient, DOCTOR, &slots[MAX_FUTURE_BOOKINGS])
        .await;
    let retry_after: i64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let problem = assert_problem(r, StatusCode::TOO_MANY_REQUESTS).await;
    assert_eq!(problem["type"], "/problems/too-many-requests");
    // Retry-After points at the end of the first booking, when a place frees up by itself.
    let first_end = parse_time(booked[0]["end"].as_str().unwrap());
    let expected = (first_end - Utc::now()).num_seconds();
    assert!(
        (expected - 5..=expected + 1).contains(&retry_after),
        "{retry_after} vs {expected}"
    );
    // Another patient is not affected, and cancelling one frees a place at once.
    let other = app.login(OTHER_PATIENT).await;
    let r = app.book(&other, DOCTOR, &slots[MAX_FUTURE_BOOKINGS]).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let id = booked[3]["id"].as_str().unwrap();
    let r = app
        .post(
            &patient,
            &format!("/api/appointments/{id}/cancel"),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = app
        .book(&patient, DOCTOR, &slots[MAX_FUTURE_BOOKINGS + 1])
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn every_read_and_change_of_an_appointment_is_in_its_audit_trail() {
    let app = TestApp::spawn().await;
    let (patient, doctor, stranger) = (
        app.login(PATIENT).await,
        app.login(DOCTOR).await,
        app.login(OTHER_PATIENT).await,
    );
    let (_, slots) = app.next_free_day(&patient, DOCTOR).await;
    let r = app.book(&patient, DOCTOR, &slots[0]).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let id = json_of(r).await["id"].as_str().unwrap().to_owned();
    let path = format!("/api/appointments/{id}");
    assert_eq!(app.get(&patient, &path).await.status(), StatusCode::OK);
    assert_eq!(
        app.get(&doctor, "/api/appointments").await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.get(&doctor, &format!("{path}/calendar.ics"))
            .await
            .status(),
        StatusCode::OK
    );
    // Someone else's look is refused and so leaves no trace on this appointment.
    assert_eq!(
        app.get(&stranger, &path).await.status(),
        StatusCode::NOT_FOUND
    );
    let r = app
        .post(
            &patient,
            &format!("{path}/reschedule"),
            json!({"start": slots[1]}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = app
        .post(&doctor, &format!("{path}/cancel"), json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);

    let trail = app
        .server
        .state
        .deps
        .audit
        .audit_of(&AppointmentId::parse(&id).unwrap(), 100)
        .await
        .unwrap();
    let seen: Vec<(&str, Role, AuditAction)> = trail
        .iter()
        .map(|e| (e.actor.as_str(), e.actor_role, e.action))
        .collect();
    assert_eq!(
        seen,
        [
            (PATIENT, Role::Patient, AuditAction::Booked),
            (PATIENT, Role::Patient, AuditAction::Read),
            (DOCTOR, Role::Doctor, AuditAction::Listed),
            (DOCTOR, Role::Doctor, AuditAction::Exported),
            (PATIENT, Role::Patient, AuditAction::Rescheduled),
            (DOCTOR, Role::Doctor, AuditAction::Cancelled),
        ]
    );
    assert!(trail.windows(2).all(|w| w[0].at <= w[1].at));
    // Kept for the retention period, then deleted by the store (TTL).
    assert!(trail
        .iter()
        .all(|e| e.expires_at() - e.at > Duration::days(6 * 365)));
}

/// Collects what the server logs while a test runs (every level, JSON lines).
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn advance_to(app: &TestApp, to: DateTime<Utc>) {
    let r = app.client.get(app.url("/dev/clock")).send().await.unwrap();
    let now = parse_time(json_of(r).await["now"].as_str().unwrap());
    let seconds = ((to - now).num_milliseconds() + 999).max(0) / 1000;
    let r = app
        .client
        .post(app.url("/dev/clock/advance"))
        .json(&json!({ "seconds": seconds }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

/// A whole story — profile with a phone number, booking with a reason, reading, exporting,
/// reminders by SMS, the video room, a stranger and a forged token, cancelling — with every log
/// line captured: none may carry a name, a phone number, the reason, a token or the room.
/// (The test runs on one thread, so the server's tasks log into this test's subscriber.)
#[tokio::test]
async fn the_logs_of_a_whole_story_hold_no_personal_data() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            "trace,hyper=off,hyper_util=off,reqwest=off,h2=off",
        ))
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let app = TestApp::spawn().await;
    let (patient, doctor) = (app.login(PATIENT).await, app.login(DOCTOR).await);
    let phone = "+13125550199";
    let reason = "persistent chest pain since Tuesday";
    let r = app
        .client
        .put(app.url("/api/me"))
        .bearer_auth(&patient)
        .json(&json!({"phone": phone, "sms_opt_in": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let (_, slots) = app.next_free_day(&patient, DOCTOR).await;
    let r = app
        .post(
            &patient,
            "/api/appointments",
            json!({"doctor_id": DOCTOR, "start": slots[0], "reason": reason}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let booked = json_of(r).await;
    let id = booked["id"].as_str().unwrap().to_owned();
    let room = booked["room_name"].as_str().unwrap().to_owned();
    let start = parse_time(booked["start"].as_str().unwrap());
    let path = format!("/api/appointments/{id}");
    for (token, p) in [
        (&patient, path.clone()),
        (&doctor, path.clone()),
        (&doctor, format!("{path}/fhir")),
        (&patient, "/api/notifications".to_owned()),
    ] {
        assert_eq!(app.get(token, &p).await.status(), StatusCode::OK, "{p}");
    }
    // Reminders go out by SMS to both (the doctor's and the patient's numbers).
    advance_to(&app, start - Duration::hours(24) + Duration::seconds(30)).await;
    advance_to(&app, start - Duration::minutes(5) + Duration::seconds(30)).await;
    assert_eq!(
        app.get(&patient, &format!("{path}/join")).await.status(),
        StatusCode::OK
    );
    let stranger = app.login(OTHER_PATIENT).await;
    assert_eq!(
        app.get(&stranger, &path).await.status(),
        StatusCode::NOT_FOUND
    );
    let forged = format!("{}x", &patient[..patient.len() - 1]);
    assert_eq!(
        app.get(&forged, &path).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let r = app
        .post(&doctor, &format!("{path}/cancel"), json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    drop(_guard);

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains(&id),
        "the capture works: the appointment id is logged"
    );
    assert!(
        logs.contains("outbox: message sent"),
        "SMS went out during the story"
    );
    let forbidden = [
        ("patient's name", "Jordan Rivera"),
        ("patient's surname", "Rivera"),
        ("doctor's name", "Amara Okafor"),
        ("doctor's surname", "Okafor"),
        ("patient's phone", phone),
        ("patient's phone digits", "3125550199"),
        ("doctor's phone digits", "2125550101"),
        ("reason", "chest pain"),
        ("patient's token", patient.as_str()),
        ("doctor's token", doctor.as_str()),
        ("any JWT", "eyJ"),
        ("room name", room.as_str()),
    ];
    for (what, text) in forbidden {
        let line = logs.lines().find(|l| l.contains(text));
        assert!(
            line.is_none(),
            "the {what} is in the logs: {}",
            line.unwrap()
        );
    }
}
