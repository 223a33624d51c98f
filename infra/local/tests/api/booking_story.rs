//! The whole user story: a patient books, sees, reschedules and cancels; the doctor sees it.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn a_patient_books_a_slot_and_the_doctor_sees_it_on_the_schedule() {
    let app = TestApp::spawn().await;
    let patient = app.login(PATIENT).await;
    let doctor = app.login(DOCTOR).await;

    // The directory lists both demo doctors with their time zones.
    let doctors = json_of(app.get(&patient, "/api/doctors").await).await;
    let items = doctors["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    let zones: Vec<&str> = items
        .iter()
        .map(|d| d["time_zone"].as_str().unwrap())
        .collect();
    assert!(zones.contains(&"America/New_York") && zones.contains(&"Europe/Berlin"));

    // Free slots of a working day, 16 half-hour slots from 09:00 New York time.
    let (_, slots) = app.next_free_day(&patient, DOCTOR).await;
    assert_eq!(slots.len(), 16);
    let start = slots[3].clone();

    let booked = app
        .post(
            &patient,
            "/api/appointments",
            json!({ "doctor_id": DOCTOR, "start": start, "reason": "follow-up" }),
        )
        .await;
    assert_eq!(booked.status(), StatusCode::CREATED);
    let location = booked.headers()["location"].to_str().unwrap().to_owned();
    let appt = json_of(booked).await;
    let id = appt["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/api/appointments/{id}"));
    assert_eq!(appt["status"], "booked");
    assert_eq!(appt["version"], 1);
    assert_eq!(appt["patient_id"], PATIENT);
    assert_eq!(appt["patient_name"], "Jordan Rivera");
    assert_eq!(appt["doctor_name"], "Amara Okafor");
    assert_eq!(
        parse_time(appt["start"].as_str().unwrap()),
        parse_time(&start)
    );
    let room = appt["room_name"].as_str().unwrap();
    assert!(room.starts_with("medichain-") && room.len() == 42);
    assert_eq!(
        appt["meeting_url"],
        format!("https://meet.jit.si/{room}#config.prejoinConfig.enabled=true")
    );
    // The room's join window, as the join route enforces it: 15 minutes before the start to
    // 30 minutes after the end.
    let at = |field: &str| parse_time(appt[field].as_str().unwrap());
    assert_eq!(at("room_opens_at"), at("start") - Duration::minutes(15));
    assert_eq!(at("room_closes_at"), at("end") + Duration::minutes(30));

    // The slot is gone from the free list.
    let date = parse_time(&start)
        .with_timezone(&chrono_tz_new_york())
        .date_naive();
    assert!(!app
        .free_slots(&patient, DOCTOR, date)
        .await
        .contains(&start));

    // The patient sees it in their appointments, the doctor on their schedule.
    let mine = json_of(app.get(&patient, "/api/appointments").await).await;
    assert_eq!(mine["items"][0]["id"], id.as_str());
    assert_eq!(mine["items"][0]["room_closes_at"], appt["room_closes_at"]);
    let schedule = json_of(app.get(&doctor, "/api/appointments").await).await;
    assert_eq!(schedule["items"][0]["id"], id.as_str());
    assert_eq!(schedule["items"][0]["patient_name"], "Jordan Rivera");
    let one = json_of(app.get(&doctor, &format!("/api/appointments/{id}")).await).await;
    assert_eq!(one["reason"], "follow-up");

    // Reschedule to another free slot: the old one is free again.
    let to = slots[6].clone();
    let moved = app
        .post(
            &patient,
            &format!("/api/appointments/{id}/reschedule"),
            json!({ "start": to }),
        )
        .await;
    assert_eq!(moved.status(), StatusCode::OK);
    let moved = json_of(moved).await;
    assert_eq!(moved["version"], 2);
    assert_eq!(
        parse_time(moved["start"].as_str().unwrap()),
        parse_time(&to)
    );
    assert_eq!(
        moved["room_name"], room,
        "the room stays with the appointment"
    );
    assert_eq!(
        parse_time(moved["room_opens_at"].as_str().unwrap()),
        parse_time(&to) - Duration::minutes(15),
        "the window moves with it"
    );
    let free = app.free_slots(&patient, DOCTOR, date).await;
    assert!(free.contains(&start) && !free.contains(&to));

    // The doctor cancels; the slot is free for others at once.
    let cancelled = app
        .post(
            &doctor,
            &format!("/api/appointments/{id}/cancel"),
            json!({}),
        )
        .await;
    assert_eq!(cancelled.status(), StatusCode::OK);
    let cancelled = json_of(cancelled).await;
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["cancelled_by"], "doctor");
    assert_eq!(cancelled["version"], 3);
    assert!(app.free_slots(&patient, DOCTOR, date).await.contains(&to));
    let other = app.login(OTHER_PATIENT).await;
    assert_eq!(
        app.book(&other, DOCTOR, &to).await.status(),
        StatusCode::CREATED
    );
}

fn chrono_tz_new_york() -> chrono::FixedOffset {
    // Slots are fetched by the doctor's local date; a fixed -05:00/-04:00 offset never moves a
    // 09:00-17:00 slot across midnight, so either gives the same date.
    chrono::FixedOffset::west_opt(5 * 3600).unwrap()
}

#[tokio::test]
async fn appointments_list_in_start_order_with_pages_and_ranges() {
    let app = TestApp::spawn().await;
    let patient = app.login(PATIENT).await;
    let (_, slots) = app.next_free_day(&patient, DOCTOR).await;
    for start in slots.iter().take(5).rev() {
        assert_eq!(
            app.book(&patient, DOCTOR, start).await.status(),
            StatusCode::CREATED
        );
    }
    let first = json_of(app.get(&patient, "/api/appointments?limit=2").await).await;
    let starts: Vec<_> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["start"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(starts.len(), 2);
    assert_eq!(parse_time(&starts[0]), parse_time(&slots[0]));
    assert_eq!(parse_time(&starts[1]), parse_time(&slots[1]));
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    let mut seen = 2;
    let mut cursor = Some(cursor);
    while let Some(c) = cursor {
        let page = json_of(
            app.get(&patient, &format!("/api/appointments?limit=2&cursor={c}"))
                .await,
        )
        .await;
        seen += page["items"].as_array().unwrap().len();
        cursor = page["next_cursor"].as_str().map(str::to_owned);
    }
    assert_eq!(seen, 5);
    let from = &slots[2];
    let to = &slots[4];
    let ranged = json_of(
        app.get(
            &patient,
            &format!(
                "/api/appointments?from={}&to={}",
                urlencode(from),
                urlencode(to)
            ),
        )
        .await,
    )
    .await;
    assert_eq!(ranged["items"].as_array().unwrap().len(), 2);
    // Another patient sees none of them.
    let other = app.login(OTHER_PATIENT).await;
    let theirs = json_of(app.get(&other, "/api/appointments").await).await;
    assert!(theirs["items"].as_array().unwrap().is_empty());
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

#[tokio::test]
async fn data_survives_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let id;
    {
        let app = TestApp::spawn_in(tmp.path().to_path_buf()).await;
        let patient = app.login(PATIENT).await;
        let (_, slots) = app.next_free_day(&patient, DOCTOR).await;
        id = json_of(app.book(&patient, DOCTOR, &slots[0]).await).await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        app.server.task.abort();
    }
    let app = TestApp::spawn_in(tmp.path().to_path_buf()).await;
    let patient = app.login(PATIENT).await;
    let r = app.get(&patient, &format!("/api/appointments/{id}")).await;
    assert_eq!(r.status(), StatusCode::OK);
    let users = json_of(app.client.get(app.url("/dev/users")).send().await.unwrap()).await;
    assert_eq!(
        users.as_array().unwrap().len(),
        4,
        "demo data is seeded once"
    );
}
