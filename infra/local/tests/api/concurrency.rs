//! Many patients reaching for one slot at once: exactly one wins.

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
