//! Every error a caller can cause answers with the right status and a problem document, and
//! nothing is written.

use chrono::{Duration, Utc};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn without_a_valid_token_every_api_route_is_401() {
    let app = TestApp::spawn().await;
    let id = "3f2c9a1e-0b7d-4c55-9a3e-1f2d3c4b5a69";
    let routes = [
        ("GET", "/api/doctors".to_owned()),
        (
            "GET",
            format!("/api/doctors/{DOCTOR}/slots?date=2030-01-07"),
        ),
        ("POST", "/api/appointments".to_owned()),
        ("GET", "/api/appointments".to_owned()),
        ("GET", format!("/api/appointments/{id}")),
        ("POST", format!("/api/appointments/{id}/cancel")),
        ("POST", format!("/api/appointments/{id}/reschedule")),
        ("GET", "/api/appointments/%FF".to_owned()),
    ];
    for (method, path) in &routes {
        for auth in [None, Some("Bearer not-a-jwt"), Some("Basic dXNlcjpwdw==")] {
            let mut req = app
                .client
                .request(method.parse().unwrap(), app.url(path))
                .json(&json!({}));
            if let Some(a) = auth {
                req = req.header("authorization", a);
            }
            let r = req.send().await.unwrap();
            assert_problem(r, StatusCode::UNAUTHORIZED).await;
        }
    }
}

#[tokio::test]
async fn only_patients_book() {
    let app = TestApp::spawn().await;
    let doctor = app.login(DOCTOR).await;
    let (_, slots) = app.next_free_day(&doctor, OTHER_DOCTOR).await;
    let r = app.book(&doctor, OTHER_DOCTOR, &slots[0]).await;
    assert_problem(r, StatusCode::FORBIDDEN).await;
}

#[tokio::test]
async fn strangers_get_404_for_appointments_that_are_not_theirs() {
    let app = TestApp::spawn().await;
    let patient = app.login(PATIENT).await;
    let (_, slots) = app.next_free_day(&patient, DOCTOR).await;
    let appt = json_of(app.book(&patient, DOCTOR, &slots[0]).await).await;
    let id = appt["id"].as_str().unwrap();
    for stranger in [OTHER_PATIENT, OTHER_DOCTOR] {
        let token = app.login(stranger).await;
        assert_problem(
            app.get(&token, &format!("/api/appointments/{id}")).await,
            StatusCode::NOT_FOUND,
        )
        .await;
        let r = app
            .post(&token, &format!("/api/appointments/{id}/cancel"), json!({}))
            .await;
        assert_problem(r, StatusCode::NOT_FOUND).await;
        let r = app
            .post(
                &token,
                &format!("/api/appointments/{id}/reschedule"),
                json!({ "start": slots[1] }),
            )
            .await;
        assert_problem(r, StatusCode::NOT_FOUND).await;
    }
    // Nothing changed.
    let still = json_of(app.get(&patient, &format!("/api/appointments/{id}")).await).await;
    assert_eq!(still["status"], "booked");
    assert_eq!(still["version"], 1);
    // Unknown and malformed ids look the same as someone else's.
    for bad in [
        "3f2c9a1e-0b7d-4c55-9a3e-1f2d3c4b5a69",
        "nope",
        "..%2F..%2Fetc",
    ] {
        assert_problem(
            app.get(&patient, &format!("/api/appointments/{bad}")).await,
            StatusCode::NOT_FOUND,
        )
        .await;
    }
}

#[tokio::test]
async fn bad_booking_requests_get_the_status_that_says_why() {
    let app = TestApp::spawn().await;
    let patient = app.login(PATIENT).await;
    let (date, slots) = app.next_free_day(&patient, DOCTOR).await;
    let off_grid = (parse_time(&slots[0]) + Duration::minutes(10)).to_rfc3339();
    let past = (Utc::now() - Duration::days(1)).to_rfc3339();
    let far = (Utc::now() + Duration::days(200)).to_rfc3339();
    let cases: Vec<(&str, String, StatusCode)> = vec![
        (
            "malformed JSON",
            r#"{"doctor_id": "#.into(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "not an object",
            r#"[1,2]"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "missing start",
            json!({ "doctor_id": DOCTOR }).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "unknown field",
            json!({ "doctor_id": DOCTOR, "start": slots[0], "price": 1 }).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "start not a time",
            json!({ "doctor_id": DOCTOR, "start": "tomorrow" }).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "off the grid",
            json!({ "doctor_id": DOCTOR, "start": off_grid }).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "in the past",
            json!({ "doctor_id": DOCTOR, "start": past }).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "beyond the horizon",
            json!({ "doctor_id": DOCTOR, "start": far }).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "unknown doctor",
            json!({ "doctor_id": "doctor-nobody", "start": slots[0] }).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "doctor id with #",
            json!({ "doctor_id": "a#b", "start": slots[0] }).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "reason too long",
            json!({ "doctor_id": DOCTOR, "start": slots[0], "reason": "x".repeat(501) })
                .to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "too large",
            json!({ "doctor_id": DOCTOR, "start": slots[0], "reason": "x".repeat(40_000) })
                .to_string(),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
    ];
    for (name, body, status) in cases {
        let r = app
            .client
            .post(app.url("/api/appointments"))
            .bearer_auth(&patient)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status, "case {name}");
        assert_problem(r, status).await;
    }
    let r = app
        .client
        .post(app.url("/api/appointments"))
        .bearer_auth(&patient)
        .header("content-type", "text/plain")
        .body(json!({ "doctor_id": DOCTOR, "start": slots[0] }).to_string())
        .send()
        .await
        .unwrap();
    assert_problem(r, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    // None of that booked anything.
    assert_eq!(app.free_slots(&patient, DOCTOR, date).await, slots);
    let mine = json_of(app.get(&patient, "/api/appointments").await).await;
    assert!(mine["items"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn a_taken_slot_is_409_and_state_conflicts_are_409() {
    let app = TestApp::spawn().await;
    let patient = app.login(PATIENT).await;
    let other = app.login(OTHER_PATIENT).await;
    let (_, slots) = app.next_free_day(&patient, DOCTOR).await;
    let first = json_of(app.book(&patient, DOCTOR, &slots[0]).await).await;
    let second = json_of(app.book(&other, DOCTOR, &slots[1]).await).await;
    let body = assert_problem(
        app.book(&other, DOCTOR, &slots[0]).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(body["type"], "/problems/slot-taken");
    // Moving onto a taken slot is a conflict too, and moves nothing.
    let id = first["id"].as_str().unwrap();
    let r = app
        .post(
            &patient,
            &format!("/api/appointments/{id}/reschedule"),
            json!({ "start": slots[1] }),
        )
        .await;
    assert_problem(r, StatusCode::CONFLICT).await;
    let unchanged = json_of(app.get(&patient, &format!("/api/appointments/{id}")).await).await;
    assert_eq!(unchanged["start"], first["start"]);
    assert_eq!(unchanged["version"], 1);
    assert_eq!(second["status"], "booked");
    // Cancelling twice: the second is a conflict.
    let path = format!("/api/appointments/{id}/cancel");
    assert_eq!(
        app.post(&patient, &path, json!({})).await.status(),
        StatusCode::OK
    );
    assert_problem(
        app.post(&patient, &path, json!({})).await,
        StatusCode::CONFLICT,
    )
    .await;
    // Rescheduling a cancelled appointment is a conflict.
    let r = app
        .post(
            &patient,
            &format!("/api/appointments/{id}/reschedule"),
            json!({ "start": slots[2] }),
        )
        .await;
    assert_problem(r, StatusCode::CONFLICT).await;
}

#[tokio::test]
async fn bad_queries_and_unknown_routes_are_problems_too() {
    let app = TestApp::spawn().await;
    let patient = app.login(PATIENT).await;
    for (path, status) in [
        (
            format!("/api/doctors/{DOCTOR}/slots"),
            StatusCode::BAD_REQUEST,
        ),
        (
            format!("/api/doctors/{DOCTOR}/slots?date=2030-02-30"),
            StatusCode::BAD_REQUEST,
        ),
        (
            format!("/api/doctors/{DOCTOR}/slots?date=tomorrow"),
            StatusCode::BAD_REQUEST,
        ),
        // Signed six-digit years (chrono's `%Y` takes them) once overflowed the day's range.
        (
            format!("/api/doctors/{DOCTOR}/slots?date=%2B262142-12-31"),
            StatusCode::BAD_REQUEST,
        ),
        (
            format!("/api/doctors/{DOCTOR}/slots?date=-262143-01-01"),
            StatusCode::BAD_REQUEST,
        ),
        (
            format!("/api/doctors/{DOCTOR}/slots?date=26-12-08"),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/api/doctors/doctor-nobody/slots?date=2030-01-07".to_owned(),
            StatusCode::NOT_FOUND,
        ),
        (
            "/api/appointments?limit=0".to_owned(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/api/appointments?limit=101".to_owned(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/api/appointments?limit=ten".to_owned(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/api/appointments?cursor=garbage".to_owned(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/api/appointments?from=yesterday".to_owned(),
            StatusCode::BAD_REQUEST,
        ),
        // Year 10000 in UTC: as text it would sort before every stored time.
        (
            "/api/appointments?from=9999-12-31T23:59:59-23:59".to_owned(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/api/appointments?to=9999-12-31T23:59:59-23:59".to_owned(),
            StatusCode::BAD_REQUEST,
        ),
        ("/api/nothing-here".to_owned(), StatusCode::NOT_FOUND),
        // An id that is not UTF-8 once decoded names nothing: 404 as a problem, not a text 400.
        ("/api/appointments/%FF".to_owned(), StatusCode::NOT_FOUND),
        (
            "/api/doctors/%E0/slots?date=2030-01-07".to_owned(),
            StatusCode::NOT_FOUND,
        ),
    ] {
        assert_problem(app.get(&patient, &path).await, status).await;
    }
    // The last date of the calendar is a date: no slots, not an error.
    let r = app
        .get(
            &patient,
            &format!("/api/doctors/{DOCTOR}/slots?date=9999-12-31"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["slots"], serde_json::json!([]));
    let r = app
        .client
        .delete(app.url("/api/doctors"))
        .bearer_auth(&patient)
        .send()
        .await
        .unwrap();
    assert_problem(r, StatusCode::METHOD_NOT_ALLOWED).await;
}
