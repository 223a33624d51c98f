//! Calling the API handlers directly on a store, as a Lambda function would: a signed-in caller,
//! a route from the route table, a JSON body.

use std::sync::Arc;

use bytes::Bytes;
use chrono::{Duration, Utc};
use http::{header, HeaderValue, StatusCode};
use medichain::adapters::aws::DynamoDbStore;
use medichain::api::{routes, ApiRequest, ApiResponse, Deps};
use medichain::clock::SystemClock;
use medichain::config::AppConfig;
use medichain::domain::{Caller, Doctor, Role};

use super::user;

/// The handlers' dependencies with every store port on the DynamoDB store.
pub fn deps(store: DynamoDbStore) -> Deps {
    Deps::from_store(store, Arc::new(SystemClock), AppConfig::default())
}

pub fn patient(id: &str) -> Caller {
    Caller {
        id: user(id),
        name: "Jordan Rivera".into(),
        role: Role::Patient,
    }
}

pub fn doctor_caller(id: &str) -> Caller {
    Caller {
        id: user(id),
        name: "Ada Lane".into(),
        role: Role::Doctor,
    }
}

/// The first bookable slot of `doctor` at least two days from now, as RFC 3339.
pub fn future_slot(doctor: &Doctor, nth: usize) -> String {
    let mut date = (Utc::now() + Duration::days(2)).date_naive();
    loop {
        let slots = doctor.slots_on(date);
        if let Some(slot) = slots.get(nth) {
            return slot.start.to_rfc3339();
        }
        date = date.succ_opt().expect("a next day");
    }
}

/// A request to `function`'s route (its path parameters in `params`).
pub async fn call(
    deps: &Deps,
    function: &str,
    caller: &Caller,
    params: &[(&str, &str)],
    query: &[(&str, &str)],
    body: Option<serde_json::Value>,
    idempotency_key: Option<&str>,
) -> ApiResponse {
    let route = routes::for_function(function);
    let mut req = ApiRequest::new(route.method.clone(), Ok(caller.clone()));
    for (k, v) in params {
        req.path_params.insert((*k).to_owned(), (*v).to_owned());
    }
    for (k, v) in query {
        req.query.insert((*k).to_owned(), (*v).to_owned());
    }
    if let Some(body) = body {
        req.body = Bytes::from(serde_json::to_vec(&body).expect("JSON"));
        req.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    if let Some(key) = idempotency_key {
        req.headers.insert(
            "idempotency-key",
            HeaderValue::from_str(key).expect("a header value"),
        );
    }
    route.call(deps, req).await
}

pub async fn book(
    deps: &Deps,
    caller: &Caller,
    doctor_id: &str,
    start: &str,
    idempotency_key: Option<&str>,
) -> ApiResponse {
    call(
        deps,
        "book-appointment",
        caller,
        &[],
        &[],
        Some(serde_json::json!({ "doctor_id": doctor_id, "start": start })),
        idempotency_key,
    )
    .await
}

pub fn json_of(response: &ApiResponse) -> serde_json::Value {
    serde_json::from_slice(&response.body).expect("a JSON body")
}

pub fn assert_status(response: &ApiResponse, status: StatusCode) {
    assert_eq!(
        response.status,
        status,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
}
