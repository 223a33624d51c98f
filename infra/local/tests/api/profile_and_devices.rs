//! The caller's profile (`/api/me`) and push devices, and the notification endpoints' errors.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::*;

async fn put_me(app: &TestApp, token: &str, body: Value) -> reqwest::Response {
    app.client
        .put(app.url("/api/me"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn delete(app: &TestApp, token: &str, path: &str) -> reqwest::Response {
    app.client
        .delete(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_user_sees_and_changes_their_contact_settings() {
    let app = TestApp::spawn().await;
    let patient = app.login(PATIENT).await;
    let me = json_of(app.get(&patient, "/api/me").await).await;
    assert_eq!(
        me,
        json!({
            "id": PATIENT, "role": "patient", "name": "Jordan Rivera",
            "time_zone": "America/Chicago", "phone": "+13125550103", "sms_opt_in": true
        })
    );

    let r = put_me(
        &app,
        &patient,
        json!({ "phone": "+447700900123", "sms_opt_in": false, "time_zone": "Europe/London" }),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let updated = json_of(r).await;
    assert_eq!(updated["phone"], "+447700900123");
    assert_eq!(updated["sms_opt_in"], false);
    assert_eq!(updated["time_zone"], "Europe/London");
    assert_eq!(json_of(app.get(&patient, "/api/me").await).await, updated);

    // Fields left out keep their value; null removes the phone.
    let r = put_me(&app, &patient, json!({ "phone": null })).await;
    let cleared = json_of(r).await;
    assert_eq!(cleared["phone"], Value::Null);
    assert_eq!(cleared["time_zone"], "Europe/London");
}

#[tokio::test]
async fn bad_contact_settings_are_refused_and_nothing_changes() {
    let app = TestApp::spawn().await;
    let patient = app.login(PATIENT).await;
    let before = json_of(app.get(&patient, "/api/me").await).await;
    let cases = [
        (
            json!({ "phone": "0151 1234567" }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "phone": "+1 312 555 0103" }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "time_zone": "Mars/Olympus_Mons" }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "phone": null, "sms_opt_in": true }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "sms_opt_in": "yes" }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "role": "doctor" }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "name": "Someone Else" }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ];
    for (body, status) in cases {
        let r = put_me(&app, &patient, body.clone()).await;
        assert_problem(r, status).await;
    }
    let r = app
        .client
        .put(app.url("/api/me"))
        .bearer_auth(&patient)
        .header("content-type", "application/json")
        .body("{\"phone\": ")
        .send()
        .await
        .unwrap();
    assert_problem(r, StatusCode::BAD_REQUEST).await;
    assert_eq!(json_of(app.get(&patient, "/api/me").await).await, before);
}

#[tokio::test]
async fn a_doctor_registers_a_phone_for_push_and_removes_it() {
    let app = TestApp::spawn().await;
    let doctor = app.login(DOCTOR).await;
    let token = "ab".repeat(32);
    let r = app
        .post(
            &doctor,
            "/api/me/devices",
            json!({ "platform": "apns", "token": token }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let device = json_of(r).await;
    assert_eq!(device["platform"], "apns");
    let id = device["id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 32);
    assert!(!id.contains("abab"), "the id must not reveal the token");
    assert!(device["created_at"].is_string());

    // The same token again is the same device.
    let again = json_of(
        app.post(
            &doctor,
            "/api/me/devices",
            json!({ "platform": "apns", "token": token }),
        )
        .await,
    )
    .await;
    assert_eq!(again, device);

    // Nobody else can remove it.
    let other = app.login(OTHER_DOCTOR).await;
    assert_problem(
        delete(&app, &other, &format!("/api/me/devices/{id}")).await,
        StatusCode::NOT_FOUND,
    )
    .await;

    let r = delete(&app, &doctor, &format!("/api/me/devices/{id}")).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_problem(
        delete(&app, &doctor, &format!("/api/me/devices/{id}")).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_problem(
        delete(&app, &doctor, "/api/me/devices/not-an-id").await,
        StatusCode::NOT_FOUND,
    )
    .await;
}

#[tokio::test]
async fn bad_device_registrations_are_refused() {
    let app = TestApp::spawn().await;
    let patient = app.login(PATIENT).await;
    for body in [
        json!({ "platform": "sms", "token": "ab".repeat(32) }),
        json!({ "platform": "apns", "token": "not hex" }),
        json!({ "platform": "fcm", "token": "short" }),
        json!({ "platform": "apns" }),
        json!({ "platform": "apns", "token": "ab".repeat(32), "user_id": DOCTOR }),
    ] {
        let r = app.post(&patient, "/api/me/devices", body.clone()).await;
        assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    // At most ten devices per user.
    for i in 0..10 {
        let token = format!("{i:02}").repeat(32);
        let r = app
            .post(
                &patient,
                "/api/me/devices",
                json!({ "platform": "apns", "token": token }),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    let r = app
        .post(
            &patient,
            "/api/me/devices",
            json!({ "platform": "apns", "token": "ff".repeat(32) }),
        )
        .await;
    assert_problem(r, StatusCode::CONFLICT).await;
}

#[tokio::test]
async fn notification_endpoints_answer_problems_for_bad_input() {
    let app = TestApp::spawn().await;
    let patient = app.login(PATIENT).await;
    let empty = json_of(app.get(&patient, "/api/notifications").await).await;
    assert_eq!(
        empty,
        json!({ "items": [], "next_cursor": null, "unread_count": 0 })
    );
    for query in ["limit=0", "limit=101", "limit=x", "cursor=not-a-cursor"] {
        let r = app
            .get(&patient, &format!("/api/notifications?{query}"))
            .await;
        assert_problem(r, StatusCode::BAD_REQUEST).await;
    }
    for id in [
        "20300115T193000000Z-0123456789abcdef",
        "nope",
        "..%2F..%2Fetc",
    ] {
        let r = app
            .post(
                &patient,
                &format!("/api/notifications/{id}/read"),
                json!({}),
            )
            .await;
        assert_problem(r, StatusCode::NOT_FOUND).await;
    }
}

#[tokio::test]
async fn without_a_token_the_notification_and_profile_routes_are_401() {
    let app = TestApp::spawn().await;
    for (method, path) in [
        ("GET", "/api/notifications"),
        (
            "POST",
            "/api/notifications/20300115T193000000Z-0123456789abcdef/read",
        ),
        ("GET", "/api/me"),
        ("PUT", "/api/me"),
        ("POST", "/api/me/devices"),
        ("DELETE", "/api/me/devices/0123456789abcdef0123456789abcdef"),
    ] {
        let r = app
            .client
            .request(method.parse().unwrap(), app.url(path))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_problem(r, StatusCode::UNAUTHORIZED).await;
    }
}
