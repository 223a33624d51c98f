//! Reminders and notifications through the local server: a booking notifies both users, the dev
//! clock fast-forwards past T−24 h and T−5 min, the outbox shows the SMS and push messages, and a
//! cancelled appointment sends nothing.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::*;

async fn now(app: &TestApp) -> DateTime<Utc> {
    let r = app.client.get(app.url("/dev/clock")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    parse_time(json_of(r).await["now"].as_str().unwrap())
}

/// Moves the dev clock to `to` (and lets everything due fire).
async fn advance_to(app: &TestApp, to: DateTime<Utc>) {
    // Whole seconds, rounded up, so the clock lands at or after `to`.
    let seconds = ((to - now(app).await).num_milliseconds() + 999).max(0) / 1000;
    let r = app
        .client
        .post(app.url("/dev/clock/advance"))
        .json(&json!({ "seconds": seconds }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body = json_of(r).await;
    assert!(parse_time(body["now"].as_str().unwrap()) >= to);
}

async fn outbox_for(app: &TestApp, appointment: &str) -> Vec<Value> {
    let r = app.client.get(app.url("/dev/outbox")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body = json_of(r).await;
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["appointment_id"] == appointment)
        .cloned()
        .collect()
}

async fn notifications(app: &TestApp, token: &str) -> Value {
    let r = app.get(token, "/api/notifications").await;
    assert_eq!(r.status(), StatusCode::OK);
    json_of(r).await
}

fn local(t: DateTime<Utc>, zone: &str) -> (String, String, String) {
    let tz: Tz = zone.parse().unwrap();
    let l = t.with_timezone(&tz);
    (
        l.format("%Y-%m-%d").to_string(),
        l.format("%H:%M").to_string(),
        l.format("%Z").to_string(),
    )
}

/// (type, message, priority, action label, action url) of each notification, newest first.
fn summary(list: &Value) -> Vec<(String, String, String, String, String)> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["type"].as_str().unwrap().to_owned(),
                n["message"].as_str().unwrap().to_owned(),
                n["priority"].as_str().unwrap().to_owned(),
                n["action"]["label"].as_str().unwrap().to_owned(),
                n["action"]["url"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn row(
    kind: &str,
    message: String,
    priority: &str,
    label: &str,
    url: &str,
) -> (String, String, String, String, String) {
    (
        kind.into(),
        message,
        priority.into(),
        label.into(),
        url.into(),
    )
}

#[tokio::test]
async fn both_users_are_notified_and_reminded_and_a_cancelled_appointment_sends_nothing() {
    let app = TestApp::spawn().await;
    let patient = app.login(PATIENT).await;
    let doctor = app.login(DOCTOR).await;
    let other_patient = app.login(OTHER_PATIENT).await;

    // The doctor's phone gets push reminders.
    let r = app
        .post(
            &doctor,
            "/api/me/devices",
            json!({ "platform": "apns", "token": "c0ffee".repeat(11) + "00" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let device = json_of(r).await["id"].as_str().unwrap().to_owned();

    // Jordan (Chicago) books Dr. Okafor (New York); Mia books Dr. Becker and cancels.
    let (_, slots) = app.next_free_day(&patient, DOCTOR).await;
    let booked = json_of(app.book(&patient, DOCTOR, &slots[2]).await).await;
    let id = booked["id"].as_str().unwrap().to_owned();
    let room = booked["room_name"].as_str().unwrap().to_owned();
    let start = parse_time(booked["start"].as_str().unwrap());
    let (_, other_slots) = app.next_free_day(&other_patient, OTHER_DOCTOR).await;
    let other = json_of(
        app.book(&other_patient, OTHER_DOCTOR, &other_slots[1])
            .await,
    )
    .await;
    let other_id = other["id"].as_str().unwrap().to_owned();
    let other_start = parse_time(other["start"].as_str().unwrap());
    let r = app
        .post(
            &other_patient,
            &format!("/api/appointments/{other_id}/cancel"),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);

    let (p_date, p_time, p_zone) = local(start, "America/Chicago");
    let (d_date, d_time, d_zone) = local(start, "America/New_York");
    let patient_view = format!("/appointments/?id={id}");
    let doctor_view = format!("/schedule/?id={id}");
    let video = format!("/video/{room}?appointment={id}");

    // At once: "created" and "video call ready" for both, in their own time zones.
    let created_for_patient = vec![
        row(
            "video_call_ready",
            "Your video consultation with Dr. Amara Okafor is ready. Click to join the call."
                .into(),
            "normal",
            "Join Video Call",
            &video,
        ),
        row(
            "appointment_created",
            format!("Your appointment with Dr. Amara Okafor is scheduled for {p_date} at {p_time}"),
            "normal",
            "View Appointment",
            &patient_view,
        ),
    ];
    let created_for_doctor = vec![
        row(
            "video_call_ready",
            "Your video consultation with Jordan Rivera is ready. Click to join the call.".into(),
            "normal",
            "Join Video Call",
            &video,
        ),
        row(
            "appointment_created",
            format!("You have a new appointment with Jordan Rivera on {d_date} at {d_time}"),
            "normal",
            "View Appointment",
            &doctor_view,
        ),
    ];
    let list = notifications(&app, &patient).await;
    assert_eq!(summary(&list), created_for_patient);
    assert_eq!(list["unread_count"], 2);
    let first = &list["items"][1];
    assert_eq!(
        first["metadata"],
        json!({
            "appointment_id": id, "appointment_date": p_date, "appointment_time": p_time,
            "meeting_url": booked["meeting_url"], "notification_type": "appointment"
        })
    );
    assert_eq!(first["title"], "Appointment Scheduled");
    assert_eq!(
        summary(&notifications(&app, &doctor).await),
        created_for_doctor
    );
    assert!(
        outbox_for(&app, &id).await.is_empty(),
        "nothing by SMS or push yet"
    );

    // Past T−24 h: one reminder by SMS to both (Jordan opted in), push to the doctor's phone.
    advance_to(&app, start - Duration::hours(24) + Duration::seconds(30)).await;
    let sent = outbox_for(&app, &id).await;
    let base = &app.base;
    let patient_sms = format!("MediChain reminder: video consultation on {p_date} {p_time} {p_zone}. Details: {base}{patient_view}");
    let doctor_sms = format!("MediChain reminder: video consultation on {d_date} {d_time} {d_zone}. Details: {base}{doctor_view}");
    let brief: Vec<(&str, &str, &str, &str, &str)> = sent
        .iter()
        .map(|m| {
            (
                m["channel"].as_str().unwrap(),
                m["recipient"].as_str().unwrap(),
                m["address"].as_str().unwrap(),
                m["text"].as_str().unwrap(),
                m["kind"].as_str().unwrap(),
            )
        })
        .collect();
    let push_address = format!("local-push:apns:{device}");
    assert_eq!(
        brief,
        [
            ("sms", PATIENT, "+…03", patient_sms.as_str(), "24h"),
            ("sms", DOCTOR, "+…01", doctor_sms.as_str(), "24h"),
            (
                "push",
                DOCTOR,
                push_address.as_str(),
                doctor_sms.as_str(),
                "24h"
            ),
        ]
    );
    for m in &sent {
        let sent_at = parse_time(m["sent_at"].as_str().unwrap());
        assert!(sent_at >= start - Duration::hours(24) && sent_at < start);
        let text = m["text"].as_str().unwrap();
        assert!(text.chars().count() <= 160);
        // The site's address is the test server's, whose port may hold "555".
        let text = text.replace(&app.url(""), "SITE");
        for private in [
            "Jordan",
            "Rivera",
            "Okafor",
            "555",
            "meet.jit.si",
            "medichain-",
        ] {
            assert!(!text.contains(private), "{text:?} contains {private:?}");
        }
    }

    // Advancing again to the same day sends nothing twice.
    advance_to(&app, start - Duration::hours(6)).await;
    assert_eq!(outbox_for(&app, &id).await.len(), 3);

    // Past T−5 min: "starting" on every channel, urgent in the app.
    advance_to(&app, start - Duration::minutes(5) + Duration::seconds(30)).await;
    let sent = outbox_for(&app, &id).await;
    assert_eq!(sent.len(), 6);
    let starting: Vec<&str> = sent[3..]
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        starting,
        [
            format!("MediChain: your video consultation starts at {p_time} {p_zone}. Join: {base}{patient_view}"),
            format!("MediChain: your video consultation starts at {d_time} {d_zone}. Join: {base}{doctor_view}"),
            format!("MediChain: your video consultation starts at {d_time} {d_zone}. Join: {base}{doctor_view}"),
        ]
    );
    assert!(sent[3..].iter().all(|m| m["kind"] == "5m"));

    let reminded = |view: &str, date: &str, time: &str| {
        vec![
            row(
                "video_call_starting",
                "Your video consultation is starting now. Click to join immediately.".into(),
                "urgent",
                "Join Now",
                &video,
            ),
            row(
                "video_call_reminder",
                format!("Reminder: Your video consultation is scheduled for {date} at {time}"),
                "high",
                "View Details",
                view,
            ),
        ]
    };
    let list = notifications(&app, &patient).await;
    let mut want = reminded(&patient_view, &p_date, &p_time);
    want.extend(created_for_patient.clone());
    assert_eq!(summary(&list), want);
    assert_eq!(list["unread_count"], 4);
    let mut want = reminded(&doctor_view, &d_date, &d_time);
    want.extend(created_for_doctor.clone());
    assert_eq!(summary(&notifications(&app, &doctor).await), want);

    // The patient reads the urgent one; the count goes down, the doctor's does not.
    let urgent = list["items"][0]["id"].as_str().unwrap().to_owned();
    let r = app
        .post(
            &patient,
            &format!("/api/notifications/{urgent}/read"),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(json_of(r).await["read"], true);
    assert_eq!(notifications(&app, &patient).await["unread_count"], 3);
    assert_eq!(notifications(&app, &doctor).await["unread_count"], 4);
    let r = app
        .post(
            &doctor,
            &format!("/api/notifications/{urgent}/read"),
            json!({}),
        )
        .await;
    assert_problem(r, StatusCode::NOT_FOUND).await;

    // The cancelled appointment: told about the cancel, never reminded.
    advance_to(&app, other_start.max(start) + Duration::hours(1)).await;
    assert!(outbox_for(&app, &other_id).await.is_empty());
    let mia = summary(&notifications(&app, &other_patient).await);
    assert_eq!(mia[0].0, "appointment_cancelled");
    assert!(mia
        .iter()
        .all(|n| n.0 != "video_call_reminder" && n.0 != "video_call_starting"));
    assert_eq!(
        outbox_for(&app, &id).await.len(),
        6,
        "nothing more after the start"
    );
}

#[tokio::test]
async fn a_rescheduled_appointment_is_reminded_at_its_new_time_only() {
    let app = TestApp::spawn().await;
    let patient = app.login(PATIENT).await;
    let (_, slots) = app.next_free_day(&patient, DOCTOR).await;
    let booked = json_of(app.book(&patient, DOCTOR, &slots[0]).await).await;
    let id = booked["id"].as_str().unwrap().to_owned();
    let old_start = parse_time(booked["start"].as_str().unwrap());
    let moved = app
        .post(
            &patient,
            &format!("/api/appointments/{id}/reschedule"),
            json!({ "start": slots[4] }),
        )
        .await;
    assert_eq!(moved.status(), StatusCode::OK);
    let new_start = parse_time(&slots[4]);
    let list = summary(&notifications(&app, &patient).await);
    assert_eq!(list[0].0, "appointment_rescheduled");
    let (date, time, _) = local(new_start, "America/Chicago");
    assert_eq!(
        list[0].1,
        format!("Your appointment with Dr. Amara Okafor has been moved to {date} at {time}.")
    );

    // Nothing at the old T−5 min; the reminders follow the new time.
    advance_to(&app, old_start - Duration::minutes(4)).await;
    assert!(outbox_for(&app, &id)
        .await
        .iter()
        .all(|m| m["kind"] == "24h"));
    let before = outbox_for(&app, &id).await.len();
    advance_to(&app, new_start - Duration::minutes(4)).await;
    let sent = outbox_for(&app, &id).await;
    assert_eq!(sent.len(), before + 2, "starting by SMS to both");
    let (_, new_time, zone) = local(new_start, "America/Chicago");
    assert!(sent.iter().any(|m| m["kind"] == "5m"
        && m["text"]
            .as_str()
            .unwrap()
            .contains(&format!("starts at {new_time} {zone}"))));
}

#[tokio::test]
async fn pending_reminders_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let first = TestApp::spawn_in(dir.path().to_path_buf()).await;
    let patient = first.login(PATIENT).await;
    let (_, slots) = first.next_free_day(&patient, DOCTOR).await;
    let booked = json_of(first.book(&patient, DOCTOR, &slots[1]).await).await;
    let id = booked["id"].as_str().unwrap().to_owned();
    let start = parse_time(booked["start"].as_str().unwrap());
    first.server.task.abort();
    let _ = first.server.task.await;

    let second = TestApp::spawn_in(dir.path().to_path_buf()).await;
    advance_to(&second, start - Duration::minutes(4)).await;
    let kinds: Vec<String> = outbox_for(&second, &id)
        .await
        .iter()
        .map(|m| {
            format!(
                "{} {}",
                m["channel"].as_str().unwrap(),
                m["kind"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(kinds, ["sms 24h", "sms 24h", "sms 5m", "sms 5m"]);
}

#[tokio::test]
async fn the_dev_clock_only_moves_forward() {
    let app = TestApp::spawn().await;
    let before = now(&app).await;
    for body in [
        json!({ "seconds": -1 }),
        json!({ "seconds": "10" }),
        json!({}),
        json!({ "seconds": 1e12 }),
    ] {
        let r = app
            .client
            .post(app.url("/dev/clock/advance"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    advance_to(&app, before + Duration::hours(3)).await;
    let after = now(&app).await;
    assert!(
        after - before >= Duration::hours(3)
            && after - before < Duration::hours(3) + Duration::seconds(30)
    );
}
