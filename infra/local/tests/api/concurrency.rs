//! Many requests at once: one slot, one winner; many bookings, each with its side effects.

use futures::future::join_all;
use reqwest::StatusCode;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_bookings_of_one_slot_give_one_201_and_49_409() {
    let app = TestApp::spawn().await;
    let patients = [app.login(PATIENT).await, app.login(OTHER_PATIENT).await];
    let (_, slots) = app.next_free_day(&patients[0], OTHER_DOCTOR).await;
    let start = slots[0].clone();
    let attempts = (0..50).map(|i| {
        let token = patients[i % 2].clone();
        let start = start.clone();
        let app = &app;
        async move { app.book(&token, OTHER_DOCTOR, &start).await.status() }
    });
    let statuses = join_all(attempts).await;
    let created = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    let conflicts = statuses
        .iter()
        .filter(|s| **s == StatusCode::CONFLICT)
        .count();
    assert_eq!((created, conflicts), (1, 49), "{statuses:?}");
    let doctor = app.login(OTHER_DOCTOR).await;
    let schedule = json_of(app.get(&doctor, "/api/appointments").await).await;
    assert_eq!(schedule["items"].as_array().unwrap().len(), 1);
}

/// Concurrent bookings of different slots: when each booking's response arrives, its side effects
/// (both users' notices) are there, however many other bookings share the worker's passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_concurrent_booking_finds_its_notices_when_it_returns() {
    let app = TestApp::spawn().await;
    let patients = [app.login(PATIENT).await, app.login(OTHER_PATIENT).await];
    let (_, slots) = app.next_free_day(&patients[0], OTHER_DOCTOR).await;
    assert!(slots.len() >= 8, "{slots:?}");
    let bookings = slots.iter().take(8).enumerate().map(|(i, start)| {
        let token = patients[i % 2].clone();
        let app = &app;
        async move {
            let r = app.book(&token, OTHER_DOCTOR, start).await;
            assert_eq!(r.status(), StatusCode::CREATED);
            let id = json_of(r).await["id"].as_str().unwrap().to_owned();
            // Read straight after the response, before any other booking is awaited.
            let notes = json_of(app.get(&token, "/api/notifications?limit=100").await).await;
            let mine = notices_about(&notes, &id);
            (id, mine)
        }
    });
    let results = join_all(bookings).await;
    for (id, mine) in &results {
        assert_eq!(*mine, 2, "appointment {id}: created + video call ready");
    }
    let doctor = app.login(OTHER_DOCTOR).await;
    let notes = json_of(app.get(&doctor, "/api/notifications?limit=100").await).await;
    for (id, _) in &results {
        assert_eq!(notices_about(&notes, id), 2, "the doctor's notices of {id}");
    }
}

/// How many notices of a `GET /api/notifications` page are about appointment `id`.
fn notices_about(page: &serde_json::Value, id: &str) -> usize {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["metadata"]["appointment_id"] == id)
        .count()
}
