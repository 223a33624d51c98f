//! The appointment exported for calendars (RFC 5545, checked by an independent parser: Python's
//! `icalendar` package) and for health records (a FHIR R4 `Appointment`, checked against the R4
//! rules that can be checked offline: required elements, value sets and invariants).

use std::io::Write as _;
use std::process::{Command, Stdio};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::*;
use crate::video_rooms::book_one;

/// Parses `ics` with Python's `icalendar` and returns what it read, as JSON. Fails loudly when
/// python3 or the package is missing (infra/test.sh installs it).
fn parse_with_icalendar(ics: &str) -> Value {
    const SCRIPT: &str = r#"
import json, sys
try:
    import icalendar
except ImportError:
    sys.exit("python3 cannot import icalendar: pip install icalendar")
raw = sys.stdin.buffer.read()
cal = icalendar.Calendar.from_ical(raw)
events = [c for c in cal.walk() if c.name == "VEVENT"]
alarms = [c for c in cal.walk() if c.name == "VALARM"]
e = events[0]
print(json.dumps({
    "method": str(cal.get("METHOD")),
    "version": str(cal.get("VERSION")),
    "prodid": str(cal.get("PRODID")),
    "events": len(events),
    "uid": str(e.get("UID")),
    "sequence": int(e.get("SEQUENCE")),
    "status": str(e.get("STATUS")),
    "dtstart": e.decoded("DTSTART").isoformat(),
    "dtend": e.decoded("DTEND").isoformat(),
    "dtstamp": e.decoded("DTSTAMP").isoformat(),
    "summary": str(e.get("SUMMARY")),
    "description": str(e.get("DESCRIPTION")),
    "alarms": [{"action": str(a.get("ACTION")), "trigger_seconds": a.decoded("TRIGGER").total_seconds()} for a in alarms],
    "crlf_only": b"\n" not in raw.replace(b"\r\n", b""),
    "longest_line": max(len(l) for l in raw.split(b"\r\n")),
}))
"#;
    let mut child = Command::new("python3")
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 is needed to check the .ics with the icalendar package");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(ics.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "icalendar could not parse the calendar: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

async fn calendar(app: &TestApp, token: &str, id: &str) -> (String, String) {
    let r = app
        .get(token, &format!("/api/appointments/{id}/calendar.ics"))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
    (ct, r.text().await.unwrap())
}

#[tokio::test]
async fn the_calendar_file_parses_keeps_its_uid_and_follows_reschedules_and_cancels() {
    let app = TestApp::spawn().await;
    let patient = app.login(PATIENT).await;
    let doctor = app.login(DOCTOR).await;
    let (_, slots) = app.next_free_day(&patient, DOCTOR).await;
    let booked = app
        .post(
            &patient,
            "/api/appointments",
            json!({ "doctor_id": DOCTOR, "start": slots[0], "reason": "persistent cough, asthma" }),
        )
        .await;
    let a = json_of(booked).await;
    let id = a["id"].as_str().unwrap().to_owned();

    let (ct, ics) = calendar(&app, &patient, &id).await;
    assert!(ct.starts_with("text/calendar"), "{ct}");
    let first = parse_with_icalendar(&ics);
    assert_eq!(first["method"], "PUBLISH");
    assert_eq!(first["version"], "2.0");
    assert_eq!(first["events"], 1);
    assert_eq!(first["sequence"], 0);
    assert_eq!(first["status"], "CONFIRMED");
    assert!(first["uid"].as_str().unwrap().starts_with(&id));
    assert_eq!(
        parse_time(first["dtstart"].as_str().unwrap()),
        parse_time(a["start"].as_str().unwrap())
    );
    assert_eq!(
        parse_time(first["dtend"].as_str().unwrap()),
        parse_time(a["end"].as_str().unwrap())
    );
    assert_eq!(first["alarms"][0]["action"], "DISPLAY");
    assert_eq!(first["alarms"][0]["trigger_seconds"], -900.0);
    assert_eq!(first["crlf_only"], true);
    assert!(first["longest_line"].as_u64().unwrap() <= 75);
    for private in ["cough", "asthma", "Rivera", "Okafor"] {
        assert!(!ics.contains(private), "{private} is in the calendar file");
    }
    // The doctor's copy is the same event.
    let (_, doctors) = calendar(&app, &doctor, &id).await;
    assert_eq!(parse_with_icalendar(&doctors)["uid"], first["uid"]);

    // Rescheduled: same UID, higher SEQUENCE, new time.
    let moved = app
        .post(
            &patient,
            &format!("/api/appointments/{id}/reschedule"),
            json!({ "start": slots[2] }),
        )
        .await;
    assert_eq!(moved.status(), StatusCode::OK);
    let (_, ics) = calendar(&app, &patient, &id).await;
    let second = parse_with_icalendar(&ics);
    assert_eq!(second["uid"], first["uid"]);
    assert!(second["sequence"].as_i64() > first["sequence"].as_i64());
    assert_eq!(
        parse_time(second["dtstart"].as_str().unwrap()),
        parse_time(&slots[2])
    );

    // Cancelled: METHOD:CANCEL and STATUS:CANCELLED, sequence higher again.
    app.post(
        &doctor,
        &format!("/api/appointments/{id}/cancel"),
        json!({}),
    )
    .await;
    let (ct, ics) = calendar(&app, &patient, &id).await;
    assert!(ct.contains("method=CANCEL"), "{ct}");
    let third = parse_with_icalendar(&ics);
    assert_eq!(third["method"], "CANCEL");
    assert_eq!(third["status"], "CANCELLED");
    assert_eq!(third["uid"], first["uid"]);
    assert!(third["sequence"].as_i64() > second["sequence"].as_i64());
}

/// The R4 rules for an `Appointment` that can be checked without a terminology server. Returns
/// every violation.
fn r4_appointment_violations(r: &Value) -> Vec<String> {
    const STATUS: &[&str] = &[
        "proposed",
        "pending",
        "booked",
        "arrived",
        "fulfilled",
        "cancelled",
        "noshow",
        "entered-in-error",
        "checked-in",
        "waitlist",
    ];
    const PARTICIPANT_STATUS: &[&str] = &["accepted", "declined", "tentative", "needs-action"];
    const REQUIRED: &[&str] = &["required", "optional", "information-only"];
    let mut v = Vec::new();
    let str_of = |x: &Value| x.as_str().map(str::to_owned);
    if r["resourceType"] != "Appointment" {
        v.push("resourceType must be Appointment".into());
    }
    let id_ok = str_of(&r["id"]).is_some_and(|id| {
        (1..=64).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    });
    if !id_ok {
        v.push("id must match [A-Za-z0-9-.]{1,64}".into());
    }
    let status = str_of(&r["status"]).unwrap_or_default();
    if !STATUS.contains(&status.as_str()) {
        v.push(format!(
            "status {status:?} is not in AppointmentStatus (1..1, required)"
        ));
    }
    let instant_ok =
        |x: &Value| str_of(x).is_some_and(|s| chrono::DateTime::parse_from_rfc3339(&s).is_ok());
    let has_start = !r["start"].is_null();
    let has_end = !r["end"].is_null();
    if has_start != has_end {
        v.push("app-2: either start and end are specified, or neither".into());
    }
    let timed = has_start && has_end;
    if !timed && !["proposed", "cancelled", "waitlist"].contains(&status.as_str()) {
        v.push("app-3: only proposed, cancelled or waitlist may lack start/end".into());
    }
    if has_start && !(instant_ok(&r["start"]) && instant_ok(&r["end"])) {
        v.push("start/end must be instants with a time zone".into());
    }
    let parse = |x: &Value| {
        x.as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
    };
    if let (Some(start), Some(end)) = (parse(&r["start"]), parse(&r["end"])) {
        if start >= end {
            v.push("start must be before end".into());
        }
    }
    if !r["cancelationReason"].is_null() && !["cancelled", "noshow"].contains(&status.as_str()) {
        v.push("app-4: cancelationReason only for cancelled or noshow".into());
    }
    if let Some(m) = r.get("minutesDuration") {
        if m.as_i64().is_none_or(|m| m <= 0) {
            v.push("minutesDuration must be a positiveInt".into());
        }
    }
    match r["participant"].as_array() {
        Some(ps) if !ps.is_empty() => {
            for (i, p) in ps.iter().enumerate() {
                let ps = str_of(&p["status"]).unwrap_or_default();
                if !PARTICIPANT_STATUS.contains(&ps.as_str()) {
                    v.push(format!(
                        "participant[{i}].status {ps:?} (1..1, ParticipationStatus)"
                    ));
                }
                if p["actor"].is_null() && p["type"].is_null() {
                    v.push(format!("app-1: participant[{i}] needs actor or type"));
                }
                if let Some(reference) = p["actor"]["reference"].as_str() {
                    let ok = reference.split_once('/').is_some_and(|(kind, id)| {
                        ["Patient", "Practitioner"].contains(&kind) && !id.is_empty()
                    });
                    if !ok {
                        v.push(format!("participant[{i}].actor.reference {reference:?}"));
                    }
                }
                if let Some(req) = p["required"].as_str() {
                    if !REQUIRED.contains(&req) {
                        v.push(format!("participant[{i}].required {req:?}"));
                    }
                }
            }
        }
        _ => v.push("participant is 1..*".into()),
    }
    v
}

#[test]
fn the_r4_checker_catches_what_it_claims_to() {
    let bad = json!({
        "resourceType": "Appointment",
        "id": "x y",
        "status": "done",
        "start": "2030-01-01T10:00:00Z",
        "cancelationReason": { "text": "x" },
        "participant": [{ "status": "maybe" }],
    });
    let v = r4_appointment_violations(&bad);
    for rule in [
        "id must",
        "status \"done\"",
        "app-2",
        "app-4",
        "participant[0].status",
        "app-1",
    ] {
        assert!(
            v.iter().any(|m| m.contains(rule)),
            "{rule} not caught: {v:?}"
        );
    }
    assert!(r4_appointment_violations(
        &json!({ "resourceType": "Appointment", "id": "a", "status": "booked" })
    )
    .iter()
    .any(|m| m.contains("participant is 1..*")));
}

#[tokio::test]
async fn the_fhir_export_is_a_valid_r4_appointment_for_participants_only() {
    let app = TestApp::spawn().await;
    let patient = app.login(PATIENT).await;
    let doctor = app.login(DOCTOR).await;
    let a = book_one(&app, &patient).await;
    let r = app
        .get(&doctor, &format!("/api/appointments/{}/fhir", a.id))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/fhir+json"));
    let resource: Value = r.json().await.unwrap();
    assert_eq!(r4_appointment_violations(&resource), Vec::<String>::new());
    assert_eq!(resource["id"], a.id.as_str());
    assert_eq!(resource["status"], "booked");
    assert_eq!(parse_time(resource["start"].as_str().unwrap()), a.start);
    assert_eq!(parse_time(resource["end"].as_str().unwrap()), a.end);
    assert_eq!(resource["minutesDuration"], 30);
    let actors: Vec<(&str, &str)> = resource["participant"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["actor"]["reference"].as_str().unwrap(),
                p["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        actors,
        [
            (&*format!("Patient/{PATIENT}"), "accepted"),
            (&*format!("Practitioner/{DOCTOR}"), "accepted")
        ]
    );
    assert_eq!(
        resource["participant"][1]["actor"]["display"],
        "Dr. Amara Okafor"
    );

    // Cancelled by the patient: status cancelled, the reason coded, still valid.
    app.post(
        &patient,
        &format!("/api/appointments/{}/cancel", a.id),
        json!({}),
    )
    .await;
    let cancelled = json_of(
        app.get(&patient, &format!("/api/appointments/{}/fhir", a.id))
            .await,
    )
    .await;
    assert_eq!(r4_appointment_violations(&cancelled), Vec::<String>::new());
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["cancelationReason"]["coding"][0]["code"], "pat");
    assert_eq!(cancelled["participant"][0]["status"], "declined");

    // Strangers get 404 for both exports.
    let stranger = app.login(OTHER_DOCTOR).await;
    for path in ["fhir", "calendar.ics"] {
        assert_problem(
            app.get(&stranger, &format!("/api/appointments/{}/{path}", a.id))
                .await,
            StatusCode::NOT_FOUND,
        )
        .await;
    }
}
