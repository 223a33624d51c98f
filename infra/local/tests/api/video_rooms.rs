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

/// Moves the server's clock forward so that its "now" is `at` (give or take a second).
pub fn set_clock(app: &TestApp, at: DateTime<Utc>) {
    let clock = &app.server.state.clock;
    let now = medichain::clock::Clock::now(clock.as_ref());
    assert!(at >= now, "the dev clock only moves forward");
    clock.advance(at - now);
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
