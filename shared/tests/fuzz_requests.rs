//! Fuzzing of every route's request parsing, through the real handlers on the embedded store:
//! arbitrary and mutated JSON bodies, content types, `Idempotency-Key` headers, path ids, query
//! values (dates, date-times, limits, cursors) and callers. Whatever comes in, the answer is never
//! a 5xx, and every error is a problem document whose `status` matches. The route table is read
//! at run time, so a new route is fuzzed without touching this file.
//!
//! `FUZZ_CASES` sets the number of cases per route (default 2000, spread over the routes).

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use chrono::{NaiveTime, Weekday};
use http::{header, HeaderValue, Method};
use medichain::adapters::embedded::EmbeddedStore;
use medichain::api::routes;
use medichain::api::{ApiRequest, AuthProblem, Deps};
use medichain::clock::DevClock;
use medichain::config::AppConfig;
use medichain::domain::doctor::TimeZone;
use medichain::domain::{Caller, Doctor, Role, UserId, WeeklyHours};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

fn cases() -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2000)
}

#[derive(Debug, Clone)]
struct Input {
    caller: u8,
    body: Vec<u8>,
    content_type: Option<String>,
    idempotency_key: Option<Vec<u8>>,
    id: String,
    query: Vec<(String, String)>,
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[ -~]{0,40}",
        "[0-9a-f-]{36}",
        "[0-9]{4}-[0-9]{2}-[0-9]{2}",
        "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(Z|[+-][0-9]{2}:[0-9]{2})",
        "-?[0-9]{1,20}",
        Just("doc".to_owned()),
    ]
}

/// JSON bodies shaped like the routes' inputs, with random values, plus raw bytes.
fn body() -> impl Strategy<Value = Vec<u8>> {
    let value = prop_oneof![
        text().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        any::<bool>().prop_map(serde_json::Value::from),
        Just(serde_json::Value::Null),
        Just(serde_json::json!([])),
        Just(serde_json::json!({})),
    ];
    let field = prop::sample::select(vec![
        "doctor_id",
        "start",
        "reason",
        "phone",
        "sms_opt_in",
        "time_zone",
        "platform",
        "token",
        "event",
        "extra",
    ]);
    prop_oneof![
        prop::collection::btree_map(field, value, 0..5)
            .prop_map(|m| serde_json::to_vec(&m).unwrap()),
        any::<Vec<u8>>(),
        text().prop_map(String::into_bytes),
        (0usize..40_000).prop_map(|n| format!("{{\"reason\":\"{}\"}}", "a".repeat(n)).into_bytes()),
    ]
}

fn input() -> impl Strategy<Value = Input> {
    (
        0u8..4,
        body(),
        prop::option::of(prop::sample::select(vec![
            "application/json".to_owned(),
            "application/json; charset=utf-8".to_owned(),
            "application/problem+json".to_owned(),
            "text/plain".to_owned(),
            "multipart/form-data; boundary=x".to_owned(),
            "".to_owned(),
        ])),
        prop::option::of(prop_oneof![
            any::<Vec<u8>>(),
            "[!-~]{1,300}".prop_map(String::into_bytes)
        ]),
        text(),
        prop::collection::vec(
            (
                prop::sample::select(vec!["date", "from", "to", "limit", "cursor", "x"])
                    .prop_map(str::to_owned),
                text(),
            ),
            0..4,
        ),
    )
        .prop_map(
            |(caller, body, content_type, idempotency_key, id, query)| Input {
                caller,
                body,
                content_type,
                idempotency_key,
                id,
                query,
            },
        )
}

fn caller(n: u8) -> Result<Caller, AuthProblem> {
    match n {
        0 => Ok(Caller {
            id: UserId::parse("pat").unwrap(),
            name: "Pat".into(),
            role: Role::Patient,
        }),
        1 => Ok(Caller {
            id: UserId::parse("doc").unwrap(),
            name: "Ada".into(),
            role: Role::Doctor,
        }),
        2 => Err(AuthProblem::NoRole),
        _ => Err(AuthProblem::Unauthenticated("no bearer token".into())),
    }
}

#[test]
fn no_request_makes_any_route_fail_on_our_side() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path()).unwrap();
    let deps = Deps::from_store(store, Arc::new(DevClock::default()), AppConfig::default());
    rt.block_on(async {
        let hours = WeeklyHours::every(
            &[
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
            ],
            NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
            NaiveTime::from_hms_opt(17, 0, 0).unwrap(),
        )
        .unwrap();
        deps.directory
            .put_doctor(&Doctor {
                id: UserId::parse("doc").unwrap(),
                name: "Ada Example".into(),
                specialty: "General practice".into(),
                time_zone: TimeZone::parse("Europe/Berlin").unwrap(),
                weekly_hours: hours,
                slot_minutes: 30,
            })
            .await
            .unwrap();
    });
    let all = routes::all();
    let per_route = (cases() / all.len() as u32).max(20);
    for route in &all {
        let mut runner = TestRunner::new(Config {
            cases: per_route,
            ..Config::default()
        });
        runner
            .run(&input(), |input| {
                let mut req = ApiRequest::new(route.method.clone(), caller(input.caller));
                req.body = Bytes::from(input.body.clone());
                if let Some(ct) = input
                    .content_type
                    .as_deref()
                    .and_then(|c| HeaderValue::from_str(c).ok())
                {
                    req.headers.insert(header::CONTENT_TYPE, ct);
                }
                if let Some(key) = input
                    .idempotency_key
                    .as_deref()
                    .and_then(|k| HeaderValue::from_bytes(k).ok())
                {
                    req.headers.insert("idempotency-key", key);
                }
                if route.path.contains("{id}") {
                    req.path_params = HashMap::from([("id".to_owned(), input.id.clone())]);
                }
                req.query = input.query.iter().cloned().collect();
                let method: &Method = &route.method;
                let response = rt.block_on(route.call(&deps, req));
                prop_assert!(
                    !response.status.is_server_error(),
                    "{} {} answered {} for {:?}",
                    method,
                    route.path,
                    response.status,
                    input
                );
                if response.status.is_client_error() {
                    prop_assert_eq!(
                        response
                            .headers
                            .get(header::CONTENT_TYPE)
                            .map(|v| v.as_bytes()),
                        Some(&b"application/problem+json"[..])
                    );
                    let problem: serde_json::Value =
                        serde_json::from_slice(&response.body).unwrap();
                    prop_assert_eq!(
                        problem["status"].as_u64(),
                        Some(u64::from(response.status.as_u16()))
                    );
                }
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{} {}: {e}", route.method, route.path));
    }
}
