//! Secure video rooms through the local server: who may join, and when. The server's dev clock is
//! moved to the interesting moments around a booked appointment (it only moves forward, so every
//! test books first, then advances).

use chrono::{DateTime, Duration, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::*;

/// A booked appointment of `PATIENT` with `DOCTOR`: its id, start, end and room name.
pub struct Booked {
    pub id: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub room: String,
}

pub async fn book_one(app: &TestApp, patient: &str) -> Booked {
    let (_, slots) = app.next_free_day(patient, DOCTOR).await;
    let r = app.book(patient, DOCTOR, &slots[0]).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let a = json_of(r).await;
    Booked {
        id: a["id"].as_str().unwrap().to_owned(),
        start: parse_time(a["start"].as_str().unwrap()),
        end: parse_time(a["end"].as_str().unwrap()),
        room: a["room_name"].as_str().unwrap().to_owned(),
    }
}

/// Moves the server's clock forward so that its "now" is `at` or a few milliseconds later (the
/// clock keeps flowing, and it advances in whole milliseconds: round up so "now" is never before
/// `at`).
pub fn set_clock(app: &TestApp, at: DateTime<Utc>) {
    let clock = &app.server.state.clock;
    let now = medichain::clock::Clock::now(clock.as_ref());
    assert!(at >= now, "the dev clock only moves forward");
    clock.advance(at - now + Duration::milliseconds(1));
}

pub async fn join(app: &TestApp, token: &str, id: &str) -> reqwest::Response {
    app.get(token, &format!("/api/appointments/{id}/join"))
        .await
}

#[tokio::test]
async fn both_participants_join_inside_the_window_and_only_the_doctor_moderates() {
    let app = TestApp::spawn().await;
    let patient = app.login(PATIENT).await;
    let doctor = app.login(DOCTOR).await;
    let a = book_one(&app, &patient).await;
    set_clock(&app, a.start - Duration::minutes(10));

    let p = join(&app, &patient, &a.id).await;
    assert_eq!(p.status(), StatusCode::OK);
    let p: Value = json_of(p).await;
    assert_eq!(p["appointment_id"], a.id.as_str());
    assert_eq!(p["domain"], "meet.jit.si");
    assert_eq!(p["room"], a.room.as_str());
    assert_eq!(p["display_name"], "Jordan Rivera");
    assert_eq!(p["moderator"], false);
    assert_eq!(p["token"], Value::Null, "public Jitsi has no tokens");
    assert_eq!(p["lobby"], false);
    assert_eq!(parse_time(p["starts_at"].as_str().unwrap()), a.start);
    assert_eq!(parse_time(p["ends_at"].as_str().unwrap()), a.end);
    assert_eq!(
        parse_time(p["opens_at"].as_str().unwrap()),
        a.start - Duration::minutes(15)
    );
    assert_eq!(
        parse_time(p["closes_at"].as_str().unwrap()),
        a.end + Duration::minutes(30)
    );

    let d: Value = json_of(join(&app, &doctor, &a.id).await).await;
    assert_eq!(d["display_name"], "Dr. Amara Okafor");
    assert_eq!(d["moderator"], true);
    assert_eq!(d["room"], a.room.as_str());
}

#[tokio::test]
async fn others_get_404_as_if_the_appointment_did_not_exist() {
    let app = TestApp::spawn().await;
    let patient = app.login(PATIENT).await;
    let a = book_one(&app, &patient).await;
    set_clock(&app, a.start);
    for user in [OTHER_PATIENT, OTHER_DOCTOR] {
        let token = app.login(user).await;
        assert_problem(join(&app, &token, &a.id).await, StatusCode::NOT_FOUND).await;
    }
    assert_problem(
        join(&app, &patient, "00000000-0000-4000-8000-000000000000").await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_problem(
        join(&app, &patient, "not-an-id").await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let r = app
        .client
        .get(app.url(&format!("/api/appointments/{}/join", a.id)))
        .send()
        .await
        .unwrap();
    assert_problem(r, StatusCode::UNAUTHORIZED).await;
}

#[tokio::test]
async fn an_early_join_is_refused_with_the_time_the_room_opens() {
    let app = TestApp::spawn().await;
    let patient = app.login(PATIENT).await;
    let a = book_one(&app, &patient).await;
    set_clock(&app, a.start - Duration::minutes(16));
    let body = assert_problem(join(&app, &patient, &a.id).await, StatusCode::FORBIDDEN).await;
    assert_eq!(body["type"], "/problems/room-not-open");
    let opens_at = a.start - Duration::minutes(15);
    assert_eq!(parse_time(body["opens_at"].as_str().unwrap()), opens_at);
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains(&opens_at.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
        "{detail}"
    );
    // A minute later the door is open.
    set_clock(&app, a.start - Duration::minutes(14));
    assert_eq!(join(&app, &patient, &a.id).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_late_join_is_refused_once_the_room_has_closed() {
    let app = TestApp::spawn().await;
    let patient = app.login(PATIENT).await;
    let doctor = app.login(DOCTOR).await;
    let a = book_one(&app, &patient).await;
    set_clock(&app, a.end + Duration::minutes(29));
    assert_eq!(join(&app, &doctor, &a.id).await.status(), StatusCode::OK);
    set_clock(&app, a.end + Duration::minutes(31));
    let body = assert_problem(join(&app, &doctor, &a.id).await, StatusCode::FORBIDDEN).await;
    assert_eq!(body["type"], "/problems/room-closed");
    assert_eq!(
        parse_time(body["closes_at"].as_str().unwrap()),
        a.end + Duration::minutes(30)
    );
}

#[tokio::test]
async fn a_cancelled_appointment_cannot_be_joined() {
    let app = TestApp::spawn().await;
    let patient = app.login(PATIENT).await;
    let a = book_one(&app, &patient).await;
    let r = app
        .post(
            &patient,
            &format!("/api/appointments/{}/cancel", a.id),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    set_clock(&app, a.start);
    let body = assert_problem(join(&app, &patient, &a.id).await, StatusCode::CONFLICT).await;
    assert_eq!(body["type"], "/problems/appointment-cancelled");
}

pub async fn report(app: &TestApp, token: &str, id: &str, event: &str) -> reqwest::Response {
    app.post(
        token,
        &format!("/api/appointments/{id}/call-events"),
        json!({ "event": event }),
    )
    .await
}

async fn waiting_notices(app: &TestApp, token: &str) -> Vec<Value> {
    let list = json_of(app.get(token, "/api/notifications?limit=100").await).await;
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["type"] == "patient_waiting")
        .cloned()
        .collect()
}

#[tokio::test]
async fn the_doctor_is_told_once_when_the_patient_waits() {
    let app = TestApp::spawn().await;
    let patient = app.login(PATIENT).await;
    let doctor = app.login(DOCTOR).await;
    let a = book_one(&app, &patient).await;
    set_clock(&app, a.start - Duration::minutes(5));

    assert_eq!(
        report(&app, &patient, &a.id, "joined").await.status(),
        StatusCode::NO_CONTENT
    );
    // The patient's page reconnects, and a second tab reports too: still one notice.
    assert_eq!(
        report(&app, &patient, &a.id, "joined").await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        report(&app, &patient, &a.id, "left").await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        report(&app, &patient, &a.id, "joined").await.status(),
        StatusCode::NO_CONTENT
    );

    let notices = waiting_notices(&app, &doctor).await;
    assert_eq!(notices.len(), 1, "{notices:?}");
    let n = &notices[0];
    assert_eq!(n["priority"], "urgent");
    assert_eq!(n["title"], "Patient Waiting");
    assert_eq!(n["action"]["label"], "Join Now");
    assert_eq!(
        n["action"]["url"],
        format!("/video/{}?appointment={}", a.room, a.id)
    );
    assert_eq!(n["metadata"]["appointment_id"], a.id.as_str());
    assert!(n["message"].as_str().unwrap().contains("Jordan Rivera"));
    assert!(
        waiting_notices(&app, &patient).await.is_empty(),
        "only the doctor is told"
    );

    // While the patient waits, the FHIR view says so.
    let fhir = json_of(
        app.get(&doctor, &format!("/api/appointments/{}/fhir", a.id))
            .await,
    )
    .await;
    assert_eq!(fhir["status"], "arrived");

    // The doctor joins; the patient leaving and coming back does not notify again.
    assert_eq!(
        report(&app, &doctor, &a.id, "joined").await.status(),
        StatusCode::NO_CONTENT
    );
    report(&app, &patient, &a.id, "left").await;
    report(&app, &patient, &a.id, "joined").await;
    assert_eq!(waiting_notices(&app, &doctor).await.len(), 1);
}

#[tokio::test]
async fn no_notice_when_the_doctor_is_there_first() {
    let app = TestApp::spawn().await;
    let patient = app.login(PATIENT).await;
    let doctor = app.login(DOCTOR).await;
    let a = book_one(&app, &patient).await;
    set_clock(&app, a.start - Duration::minutes(2));
    report(&app, &doctor, &a.id, "joined").await;
    report(&app, &patient, &a.id, "joined").await;
    assert!(waiting_notices(&app, &doctor).await.is_empty());
}

#[tokio::test]
async fn concurrent_reports_are_all_recorded_and_notify_once() {
    let app = TestApp::spawn().await;
    let patient = app.login(PATIENT).await;
    let doctor = app.login(DOCTOR).await;
    let a = book_one(&app, &patient).await;
    set_clock(&app, a.start - Duration::minutes(1));
    let (p1, p2, d) = tokio::join!(
        report(&app, &patient, &a.id, "joined"),
        report(&app, &patient, &a.id, "joined"),
        report(&app, &doctor, &a.id, "joined"),
    );
    for r in [p1, p2, d] {
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
    }
    let appt = json_of(
        app.get(&patient, &format!("/api/appointments/{}", a.id))
            .await,
    )
    .await;
    assert_eq!(appt["call"]["patient"].as_array().unwrap().len(), 1);
    assert_eq!(appt["call"]["doctor"].as_array().unwrap().len(), 1);
    assert!(waiting_notices(&app, &doctor).await.len() <= 1);
}

#[tokio::test]
async fn call_events_are_refused_like_joins() {
    let app = TestApp::spawn().await;
    let patient = app.login(PATIENT).await;
    let stranger = app.login(OTHER_PATIENT).await;
    let a = book_one(&app, &patient).await;
    let early = assert_problem(
        report(&app, &patient, &a.id, "joined").await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(early["type"], "/problems/room-not-open");
    set_clock(&app, a.start);
    assert_problem(
        report(&app, &stranger, &a.id, "joined").await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_problem(
        report(&app, &patient, &a.id, "teleported").await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_problem(
        app.post(
            &patient,
            &format!("/api/appointments/{}/call-events", a.id),
            json!({}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let r = app
        .client
        .post(app.url(&format!("/api/appointments/{}/call-events", a.id)))
        .bearer_auth(&patient)
        .header("content-type", "application/json")
        .body("{\"event\": ")
        .send()
        .await
        .unwrap();
    assert_problem(r, StatusCode::BAD_REQUEST).await;

    // A cancelled appointment (another one, cancelled before its start) takes no events.
    let b = {
        let (_, slots) = app.next_free_day(&patient, DOCTOR).await;
        json_of(app.book(&patient, DOCTOR, slots.last().unwrap()).await).await
    };
    let b_id = b["id"].as_str().unwrap();
    app.post(
        &patient,
        &format!("/api/appointments/{b_id}/cancel"),
        json!({}),
    )
    .await;
    let body = assert_problem(
        report(&app, &patient, b_id, "joined").await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(body["type"], "/problems/appointment-cancelled");
}

#[tokio::test]
async fn a_call_both_joined_is_completed_with_its_history_and_duration() {
    let app = TestApp::spawn().await;
    let patient = app.login(PATIENT).await;
    let doctor = app.login(DOCTOR).await;
    let a = book_one(&app, &patient).await;
    set_clock(&app, a.start - Duration::minutes(3));
    report(&app, &patient, &a.id, "joined").await;
    set_clock(&app, a.start);
    report(&app, &doctor, &a.id, "joined").await;
    set_clock(&app, a.start + Duration::minutes(20));
    report(&app, &doctor, &a.id, "left").await;
    report(&app, &patient, &a.id, "left").await;

    // Still booked until the room closes (a late rejoin is possible)...
    let during = json_of(
        app.get(&doctor, &format!("/api/appointments/{}", a.id))
            .await,
    )
    .await;
    assert_eq!(during["status"], "booked");
    let call = &during["call"];
    assert_eq!(
        parse_time(call["patient"][0]["joined_at"].as_str().unwrap()).timestamp() / 60,
        (a.start - Duration::minutes(3)).timestamp() / 60
    );
    assert!(call["doctor"][0]["left_at"].is_string());

    // ...then completed, with the time both were in the room.
    set_clock(&app, a.end + Duration::minutes(31));
    let list = json_of(app.get(&patient, "/api/appointments").await).await;
    assert_eq!(
        list["items"][0]["status"], "completed",
        "the list shows how it ended"
    );
    let done = json_of(
        app.get(&doctor, &format!("/api/appointments/{}", a.id))
            .await,
    )
    .await;
    assert_eq!(done["status"], "completed");
    let minutes = done["call"]["duration_seconds"].as_i64().unwrap() / 60;
    assert!((19..=20).contains(&minutes), "{minutes} minutes");
    let fhir = json_of(
        app.get(&patient, &format!("/api/appointments/{}/fhir", a.id))
            .await,
    )
    .await;
    assert_eq!(fhir["status"], "fulfilled");
    // Settled once: reading again changes nothing.
    let again = json_of(
        app.get(&doctor, &format!("/api/appointments/{}", a.id))
            .await,
    )
    .await;
    assert_eq!(again["version"], done["version"]);
}

#[tokio::test]
async fn an_appointment_nobody_joined_is_a_no_show_after_its_room_closes() {
    let app = TestApp::spawn().await;
    let patient = app.login(PATIENT).await;
    let a = book_one(&app, &patient).await;
    set_clock(&app, a.end + Duration::minutes(5));
    let open = json_of(
        app.get(&patient, &format!("/api/appointments/{}", a.id))
            .await,
    )
    .await;
    assert_eq!(open["status"], "booked", "the room is still open");
    set_clock(&app, a.end + Duration::minutes(30));
    let r = app
        .get(&patient, &format!("/api/appointments/{}", a.id))
        .await;
    let gone = json_of(r).await;
    assert_eq!(gone["status"], "no_show");
    assert_eq!(gone["call"]["duration_seconds"], 0);
    let fhir = json_of(
        app.get(&patient, &format!("/api/appointments/{}/fhir", a.id))
            .await,
    )
    .await;
    assert_eq!(fhir["status"], "noshow");
    // The slot stays taken (it is in the past), and the room stays shut.
    let body = assert_problem(join(&app, &patient, &a.id).await, StatusCode::FORBIDDEN).await;
    assert_eq!(body["type"], "/problems/room-closed");
}
