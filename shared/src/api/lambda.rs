//! The Lambda side of the API: an API Gateway HTTP API (payload v2) event becomes an
//! [`ApiRequest`] with the caller taken from the JWT authorizer's claims.

use std::collections::HashMap;

use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};

use super::auth::{caller_from_claims, AuthProblem};
use super::routes::Route;
use super::{ApiRequest, Deps};
use crate::domain::Caller;

/// Serves one API Gateway event with `route`'s handler.
pub async fn handle(
    deps: &Deps,
    route: &Route,
    event: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    let req = to_api_request(event);
    let response = route.call(deps, req).await;
    let mut out = Response::builder().status(response.status);
    if let Some(headers) = out.headers_mut() {
        headers.extend(response.headers);
    }
    Ok(out.body(Body::Binary(response.body.to_vec()))?)
}

pub fn to_api_request(event: Request) -> ApiRequest {
    let caller = caller_from_context(event.request_context_ref());
    let path_params = event
        .path_parameters_ref()
        .map(|p| {
            p.iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let query = event
        .query_string_parameters_ref()
        .map(|q| {
            q.iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let (parts, body) = event.into_parts();
    let body = match body {
        Body::Empty => bytes::Bytes::new(),
        Body::Text(t) => t.into(),
        Body::Binary(b) => b.into(),
        _ => bytes::Bytes::new(),
    };
    ApiRequest {
        method: parts.method,
        path_params,
        query,
        headers: parts.headers,
        body,
        caller,
    }
}

fn caller_from_context(ctx: Option<&RequestContext>) -> Result<Caller, AuthProblem> {
    let claims: Option<HashMap<String, String>> = match ctx {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx
            .authorizer
            .as_ref()
            .and_then(|a| a.jwt.as_ref())
            .map(|jwt| jwt.claims.clone()),
        _ => None,
    };
    match claims {
        Some(claims) => caller_from_claims(&claims),
        None => Err(AuthProblem::Unauthenticated(
            "no authorizer claims on the request".into(),
        )),
    }
}

/// The Lambda path end to end on the event fixtures in `functions/*/events/` (the same files
/// `cargo lambda invoke --data-file` takes), with the embedded store behind the handlers.
#[cfg(all(test, feature = "embedded"))]
mod tests {
    use std::sync::Arc;

    use chrono::{Duration, NaiveTime, Utc, Weekday};
    use http::StatusCode;
    use serde_json::{json, Value};

    use super::*;
    use crate::adapters::embedded::EmbeddedStore;
    use crate::api::routes;
    use crate::clock::SystemClock;
    use crate::config::AppConfig;
    use crate::domain::doctor::TimeZone;
    use crate::domain::{Doctor, UserId, WeeklyHours};
    use crate::ports::Directory;

    fn fixture(path: &str) -> Value {
        let full = format!("{}/../functions/{path}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(&full).unwrap()).unwrap()
    }

    fn request(event: &Value) -> Request {
        lambda_http::request::from_str(&event.to_string()).expect("an API Gateway v2 event")
    }

    async fn deps() -> (Deps, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        let all_week = [
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
            Weekday::Sat,
            Weekday::Sun,
        ];
        store
            .put_doctor(&Doctor {
                id: UserId::parse("doctor-okafor").unwrap(),
                name: "Amara Okafor".into(),
                specialty: "General practice".into(),
                time_zone: TimeZone::parse("America/New_York").unwrap(),
                weekly_hours: WeeklyHours::every(
                    &all_week,
                    NaiveTime::from_hms_opt(0, 0, 0).unwrap(),
                    NaiveTime::from_hms_opt(23, 30, 0).unwrap(),
                )
                .unwrap(),
                slot_minutes: 30,
            })
            .await
            .unwrap();
        let deps = Deps::from_store(store, Arc::new(SystemClock), AppConfig::default());
        (deps, dir)
    }

    async fn call(deps: &Deps, function: &str, event: &Value) -> (StatusCode, String, Value) {
        let route = routes::for_function(function);
        let response = handle(deps, &route, request(event)).await.unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let body = serde_json::from_slice(response.body().as_ref()).unwrap_or(Value::Null);
        (status, content_type, body)
    }

    /// A slot start two days ahead on the all-week grid, on the hour.
    fn future_start() -> String {
        let t = (Utc::now() + Duration::days(2))
            .date_naive()
            .and_hms_opt(15, 0, 0)
            .unwrap()
            .and_utc();
        t.to_rfc3339()
    }

    #[tokio::test]
    async fn a_booking_event_books_and_the_claims_decide_who_sees_it() {
        let (deps, _dir) = deps().await;
        let mut book = fixture("book-appointment/events/patient-books.json");
        book["body"] =
            json!(json!({ "doctor_id": "doctor-okafor", "start": future_start() }).to_string());
        let (status, _, created) = call(&deps, "book-appointment", &book).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        assert_eq!(created["patient_id"], "patient-rivera");
        // The same event again (a client retry with the same Idempotency-Key) books once.
        let (status, _, replay) = call(&deps, "book-appointment", &book).await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(replay["id"], created["id"]);

        let id = created["id"].as_str().unwrap();
        let mut get = fixture("get-appointment/events/patient-gets-appointment.json");
        get["pathParameters"]["id"] = json!(id);
        let (status, _, one) = call(&deps, "get-appointment", &get).await;
        assert_eq!((status, one["id"].as_str()), (StatusCode::OK, Some(id)));

        // Another patient's claims: not found, not forbidden.
        get["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] = json!("patient-schmidt");
        let (status, content_type, _) = call(&deps, "get-appointment", &get).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(content_type, "application/problem+json");

        let list = fixture("list-appointments/events/patient-lists-appointments.json");
        let (status, _, page) = call(&deps, "list-appointments", &list).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(page["items"].as_array().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn events_without_claims_or_with_the_wrong_group_are_refused() {
        let (deps, _dir) = deps().await;
        let (status, content_type, _) = call(
            &deps,
            "list-doctors",
            &fixture("list-doctors/events/no-authorizer.json"),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(content_type, "application/problem+json");
        let mut doctor_books = fixture("book-appointment/events/doctor-tries-to-book.json");
        doctor_books["body"] =
            json!(json!({ "doctor_id": "doctor-okafor", "start": future_start() }).to_string());
        let (status, _, _) = call(&deps, "book-appointment", &doctor_books).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _, doctors) = call(
            &deps,
            "list-doctors",
            &fixture("list-doctors/events/patient-lists-doctors.json"),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(doctors["items"][0]["time_zone"], "America/New_York");
    }

    #[test]
    fn every_route_has_an_event_fixture_for_its_function() {
        for route in routes::all() {
            let dir = format!(
                "{}/../functions/{}/events",
                env!("CARGO_MANIFEST_DIR"),
                route.function
            );
            let fixtures: Vec<_> = std::fs::read_dir(&dir)
                .unwrap_or_else(|_| panic!("{dir} is missing"))
                .filter_map(Result::ok)
                .collect();
            assert!(!fixtures.is_empty(), "{dir} has no fixture");
            for f in fixtures {
                let event: Value =
                    serde_json::from_str(&std::fs::read_to_string(f.path()).unwrap()).unwrap();
                assert_eq!(
                    event["requestContext"]["http"]["method"],
                    route.method.as_str(),
                    "{}",
                    f.path().display()
                );
                request(&event);
            }
        }
    }
}
