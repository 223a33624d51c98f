//! `Idempotency-Key` on booking: a retried request books once.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::*;

async fn book_with_key(
    app: &TestApp,
    token: &str,
    key: &str,
    body: serde_json::Value,
) -> reqwest::Response {
    app.client
        .post(app.url("/api/appointments"))
        .bearer_auth(token)
        .header("idempotency-key", key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_retried_booking_returns_the_first_response_and_books_once() {
    let app = TestApp::spawn().await;
    let patient = app.login(PATIENT).await;
    let (_, slots) = app.next_free_day(&patient, DOCTOR).await;
    let body = json!({ "doctor_id": DOCTOR, "start": slots[0] });
    let first = book_with_key(&app, &patient, "key-1", body.clone()).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let location = first.headers()["location"].clone();
    let first = json_of(first).await;
    assert_eq!(
        location,
        format!("/api/appointments/{}", first["id"].as_str().unwrap()).as_str()
    );
    let again = book_with_key(&app, &patient, "key-1", body.clone()).await;
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    // The replay is the same 201, its Location included.
    assert_eq!(again.headers().get("location"), Some(&location));
    assert_eq!(json_of(again).await, first);
    let mine = json_of(app.get(&patient, "/api/appointments").await).await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 1);

    // The same key with another body is refused and books nothing.
    let other_body = json!({ "doctor_id": DOCTOR, "start": slots[1] });
    let r = book_with_key(&app, &patient, "key-1", other_body).await;
    let problem = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(problem["type"], "/problems/idempotency-key-reused");
    let mine = json_of(app.get(&patient, "/api/appointments").await).await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn keys_are_scoped_to_the_caller() {
    let app = TestApp::spawn().await;
    let patient = app.login(PATIENT).await;
    let other = app.login(OTHER_PATIENT).await;
    let (_, slots) = app.next_free_day(&patient, DOCTOR).await;
    let r1 = book_with_key(
        &app,
        &patient,
        "shared-key",
        json!({ "doctor_id": DOCTOR, "start": slots[0] }),
    )
    .await;
    assert_eq!(r1.status(), StatusCode::CREATED);
    let r2 = book_with_key(
        &app,
        &other,
        "shared-key",
        json!({ "doctor_id": DOCTOR, "start": slots[1] }),
    )
    .await;
    assert_eq!(
        r2.status(),
        StatusCode::CREATED,
        "another user's key does not collide"
    );
    let theirs = json_of(r2).await;
    assert_eq!(theirs["patient_id"], OTHER_PATIENT);
}

#[tokio::test]
async fn a_failed_booking_does_not_burn_the_key() {
    let app = TestApp::spawn().await;
    let patient = app.login(PATIENT).await;
    let other = app.login(OTHER_PATIENT).await;
    let (_, slots) = app.next_free_day(&patient, DOCTOR).await;
    assert_eq!(
        app.book(&other, DOCTOR, &slots[0]).await.status(),
        StatusCode::CREATED
    );
    let body = json!({ "doctor_id": DOCTOR, "start": slots[0] });
    let r = book_with_key(&app, &patient, "retry-me", body.clone()).await;
    assert_problem(r, StatusCode::CONFLICT).await;
    // The other patient cancels; the retry with the same key now books.
    let theirs = json_of(app.get(&other, "/api/appointments").await).await;
    let id = theirs["items"][0]["id"].as_str().unwrap().to_owned();
    app.post(&other, &format!("/api/appointments/{id}/cancel"), json!({}))
        .await;
    let r = book_with_key(&app, &patient, "retry-me", body).await;
    assert_eq!(r.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn malformed_keys_are_400() {
    let app = TestApp::spawn().await;
    let patient = app.login(PATIENT).await;
    let (_, slots) = app.next_free_day(&patient, DOCTOR).await;
    let long = "k".repeat(256);
    for key in ["", long.as_str(), "has space"] {
        let r = book_with_key(
            &app,
            &patient,
            key,
            json!({ "doctor_id": DOCTOR, "start": slots[0] }),
        )
        .await;
        assert_problem(r, StatusCode::BAD_REQUEST).await;
    }
}

#[tokio::test]
async fn a_retry_of_the_booking_that_reached_the_cap_still_gets_its_answer() {
    // The booking with the key happened, so the retry meets the patient's cap (and its own slot
    // lock); the key's record answers it all the same.
    let app = TestApp::spawn().await;
    let patient = app.login(PATIENT).await;
    let mut booked = 0;
    let mut last = None;
    let mut date = app.next_free_day(&patient, DOCTOR).await.0;
    while booked < medichain::api::appointments::MAX_FUTURE_BOOKINGS {
        for start in app.free_slots(&patient, DOCTOR, date).await {
            if booked == medichain::api::appointments::MAX_FUTURE_BOOKINGS {
                break;
            }
            let body = json!({ "doctor_id": DOCTOR, "start": start });
            let r = book_with_key(&app, &patient, &format!("cap-{booked}"), body.clone()).await;
            assert_eq!(r.status(), StatusCode::CREATED);
            last = Some((format!("cap-{booked}"), body, json_of(r).await));
            booked += 1;
        }
        date = date.succ_opt().unwrap();
    }
    let (key, body, first) = last.unwrap();
    let again = book_with_key(&app, &patient, &key, body).await;
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(json_of(again).await, first);
    // A new request is refused by the cap, and its key stays unused.
    let (_, later) = app.next_free_day(&patient, DOCTOR).await;
    let body = json!({ "doctor_id": DOCTOR, "start": later.last().unwrap() });
    let r = book_with_key(&app, &patient, "cap-new", body).await;
    assert_problem(r, StatusCode::TOO_MANY_REQUESTS).await;
}
