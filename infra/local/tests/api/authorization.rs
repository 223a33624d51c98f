//! The authorization table: every route × every kind of caller → the expected status, through
//! the real server. The callers are the appointment's patient (A) and doctor (X), another patient
//! (B) and another doctor (Y), and four that must never get in: no token, an expired token, a
//! token signed with another key, and an unsigned `alg: none` token. The route table is read at
//! run time: a route without a row here fails the test, so a new route cannot ship unclassified.

use std::collections::{BTreeSet, HashMap};

use chrono::{Duration, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use medichain::api::routes;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::*;

/// Who calls. The first four are signed in; the rest must all be 401.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    PatientA,
    PatientB,
    DoctorX,
    DoctorY,
    NoToken,
    Expired,
    OtherKey,
    AlgNone,
}

const SIGNED_IN: [Who; 4] = [Who::PatientB, Who::DoctorY, Who::DoctorX, Who::PatientA];
const STRANGERS_AT_THE_DOOR: [Who; 4] = [Who::NoToken, Who::Expired, Who::OtherKey, Who::AlgNone];

/// What a signed-in caller gets: `[A, B, X, Y]`.
type Row = [u16; 4];

fn expected(who: Who, row: Row) -> u16 {
    match who {
        Who::PatientA => row[0],
        Who::PatientB => row[1],
        Who::DoctorX => row[2],
        Who::DoctorY => row[3],
        _ => 401,
    }
}

/// The table. Appointment routes act on an appointment of A with X; `/notifications/{id}` and
/// `/me/devices/{id}` on A's notification and device. Owners outside the join window get 403
/// (the window rule), never 404; anyone else gets 404 for someone else's object.
fn table() -> HashMap<(&'static str, &'static str), Row> {
    HashMap::from([
        (("GET", "/api/doctors"), [200, 200, 200, 200]),
        (("GET", "/api/doctors/{id}/slots"), [200, 200, 200, 200]),
        (("POST", "/api/appointments"), [201, 201, 403, 403]),
        (("GET", "/api/appointments"), [200, 200, 200, 200]),
        (("GET", "/api/appointments/{id}"), [200, 404, 200, 404]),
        (
            ("POST", "/api/appointments/{id}/cancel"),
            [200, 404, 200, 404],
        ),
        (
            ("POST", "/api/appointments/{id}/reschedule"),
            [200, 404, 200, 404],
        ),
        (("GET", "/api/appointments/{id}/join"), [403, 404, 403, 404]),
        (
            ("POST", "/api/appointments/{id}/call-events"),
            [403, 404, 403, 404],
        ),
        (
            ("GET", "/api/appointments/{id}/calendar.ics"),
            [200, 404, 200, 404],
        ),
        (("GET", "/api/appointments/{id}/fhir"), [200, 404, 200, 404]),
        (
            ("GET", "/api/appointments/{id}/audit"),
            [200, 404, 200, 404],
        ),
        (("GET", "/api/notifications"), [200, 200, 200, 200]),
        (
            ("POST", "/api/notifications/{id}/read"),
            [200, 404, 404, 404],
        ),
        (("GET", "/api/me"), [200, 200, 200, 200]),
        (("PUT", "/api/me"), [200, 200, 200, 200]),
        (("POST", "/api/me/devices"), [201, 201, 201, 201]),
        (("DELETE", "/api/me/devices/{id}"), [204, 404, 404, 404]),
    ])
}

struct Tokens {
    by_who: HashMap<&'static str, String>,
}

impl Tokens {
    fn header(&self, who: Who) -> Option<String> {
        let key = match who {
            Who::PatientA => "a",
            Who::PatientB => "b",
            Who::DoctorX => "x",
            Who::DoctorY => "y",
            Who::NoToken => return None,
            Who::Expired => "expired",
            Who::OtherKey => "other-key",
            Who::AlgNone => "alg-none",
        };
        Some(format!("Bearer {}", self.by_who[key]))
    }
}

/// Claims as the local sign-in writes them (see `medichain_local::auth`).
fn claims(sub: &str, group: &str, exp_from_now: Duration) -> Value {
    let now = Utc::now();
    json!({
        "sub": sub,
        "name": "Rosa Rivera",
        "cognito:groups": format!("[{group}]"),
        "iss": "medichain-local",
        "aud": "medichain-local",
        "iat": now.timestamp(),
        "exp": (now + exp_from_now).timestamp(),
    })
}

async fn tokens(app: &TestApp) -> Tokens {
    let server_key = std::fs::read(app.data_dir.join("local-signing.key")).expect("signing key");
    let sign = |key: &[u8], claims: &Value| {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(key),
        )
        .unwrap()
    };
    let valid = claims(PATIENT, "patients", Duration::hours(1));
    let other_key = sign(&[7u8; 32], &valid);
    // {"alg":"none","typ":"JWT"}, the valid claims, and no signature.
    let alg_none = format!(
        "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.",
        other_key.split('.').nth(1).unwrap()
    );
    let by_who = HashMap::from([
        ("a", app.login(PATIENT).await),
        ("b", app.login(OTHER_PATIENT).await),
        ("x", app.login(DOCTOR).await),
        ("y", app.login(OTHER_DOCTOR).await),
        // Signed with the server's own key, but it ran out an hour ago.
        (
            "expired",
            sign(
                &server_key,
                &claims(PATIENT, "patients", -Duration::hours(1)),
            ),
        ),
        ("other-key", other_key),
        ("alg-none", alg_none),
    ]);
    Tokens { by_who }
}

/// The objects the rows act on, made fresh where a call changes them.
struct Fixture {
    slots: Vec<String>,
    next_slot: usize,
    notification: String,
    device: String,
}

impl Fixture {
    fn slot(&mut self) -> String {
        let s = self.slots[self.next_slot].clone();
        self.next_slot += 1;
        s
    }
}

async fn book_for_a(app: &TestApp, tokens: &Tokens, fixture: &mut Fixture) -> String {
    let r = app.book(&tokens.by_who["a"], DOCTOR, &fixture.slot()).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    json_of(r).await["id"].as_str().unwrap().to_owned()
}

async fn call(
    app: &TestApp,
    method: &str,
    path: &str,
    auth: Option<String>,
    body: Option<Value>,
) -> reqwest::Response {
    let mut rb = app.client.request(
        Method::from_bytes(method.as_bytes()).unwrap(),
        app.url(path),
    );
    if let Some(auth) = auth {
        rb = rb.header("authorization", auth);
    }
    if let Some(body) = body {
        rb = rb.json(&body);
    }
    rb.send().await.unwrap()
}

#[tokio::test]
async fn every_route_answers_every_caller_as_the_table_says() {
    let app = TestApp::spawn().await;
    let tokens = tokens(&app).await;
    let (date, slots) = app.next_free_day(&tokens.by_who["a"], DOCTOR).await;
    assert!(slots.len() >= 12, "{date}: {} free slots", slots.len());
    let mut fixture = Fixture {
        slots,
        next_slot: 0,
        notification: String::new(),
        device: String::new(),
    };
    let shared_appointment = book_for_a(&app, &tokens, &mut fixture).await;
    let notes = json_of(app.get(&tokens.by_who["a"], "/api/notifications").await).await;
    fixture.notification = notes["items"][0]["id"]
        .as_str()
        .expect("A has a notification")
        .to_owned();
    let device = app
        .post(
            &tokens.by_who["a"],
            "/api/me/devices",
            json!({"platform": "apns", "token": "ab".repeat(32)}),
        )
        .await;
    assert_eq!(device.status(), StatusCode::CREATED);
    fixture.device = json_of(device).await["id"].as_str().unwrap().to_owned();

    let table = table();
    let served: BTreeSet<(String, &str)> = routes::all()
        .iter()
        .map(|r| (r.method.to_string(), r.path))
        .collect();
    let unclassified: Vec<_> = served
        .iter()
        .filter(|(m, p)| !table.contains_key(&(m.as_str(), *p)))
        .collect();
    assert!(
        unclassified.is_empty(),
        "routes without a row in the authorization table: {unclassified:?}"
    );

    let mut failures = Vec::new();
    let mut checked = 0;
    for (method, path) in &served {
        let row = table[&(method.as_str(), *path)];
        for who in STRANGERS_AT_THE_DOOR.into_iter().chain(SIGNED_IN) {
            // Calls that change their object get a fresh one, so each caller meets it unchanged.
            let mutates = matches!(
                *path,
                "/api/appointments/{id}/cancel" | "/api/appointments/{id}/reschedule"
            );
            let appointment = if mutates && expected(who, row) < 300 {
                book_for_a(&app, &tokens, &mut fixture).await
            } else {
                shared_appointment.clone()
            };
            let id = if path.starts_with("/api/doctors/") {
                DOCTOR.to_owned()
            } else if path.starts_with("/api/notifications/") {
                fixture.notification.clone()
            } else if path.starts_with("/api/me/devices/") {
                fixture.device.clone()
            } else {
                appointment.clone()
            };
            let mut url = path.replace("{id}", &id);
            if path.ends_with("/slots") {
                url.push_str(&format!("?date={date}"));
            }
            // Only a call that is meant to succeed takes up a free slot.
            let want = expected(who, row);
            let mut slot = || {
                if want < 300 {
                    fixture.slot()
                } else {
                    fixture.slots[0].clone()
                }
            };
            let body = match *path {
                "/api/appointments" if method == "POST" => {
                    Some(json!({"doctor_id": DOCTOR, "start": slot()}))
                }
                "/api/appointments/{id}/reschedule" => Some(json!({"start": slot()})),
                "/api/appointments/{id}/call-events" => Some(json!({"event": "joined"})),
                "/api/me/devices" => Some(
                    json!({"platform": "fcm", "token": format!("{:?}-token-of-a-test-device-0123456789", who)}),
                ),
                _ if method == "POST" || method == "PUT" => Some(json!({})),
                _ => None,
            };
            let r = call(&app, method, &url, tokens.header(who), body).await;
            checked += 1;
            if r.status().as_u16() != want {
                let got = r.status();
                let text = r.text().await.unwrap_or_default();
                failures.push(format!(
                    "{method} {path} as {who:?}: {got}, expected {want} ({text})"
                ));
                continue;
            }
            if want >= 400 {
                assert_problem(r, StatusCode::from_u16(want).unwrap()).await;
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} calls differ from the table:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked >= served.len() * 8);
}
