//! The events the benchmark sends: each function's own fixture (`functions/<name>/events/*.json`,
//! the files `cargo lambda invoke --data-file` takes), pointed at data that exists and varied per
//! invocation where a repeat would change what the handler does (a booking needs a free slot).

use std::path::Path;

use anyhow::Context as _;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::{json, Value};

/// What the seeded store holds that events may refer to.
#[derive(Debug, Clone)]
pub struct Seeded {
    pub doctor_id: String,
    /// The patient of the fixtures' claims, who owns `appointment_id`.
    pub appointment_id: String,
    /// A date (in the doctor's calendar) with slots, for slot listings.
    pub slot_date: NaiveDate,
    /// Free slot starts, one per booking.
    pub free_slots: Vec<DateTime<Utc>>,
}

/// The function's fixture: the first file by name whose request a signed-in caller may make
/// (fixtures of refusals, such as a missing authorizer, are skipped).
pub fn fixture(repo: &Path, function: &str) -> anyhow::Result<Value> {
    let dir = repo.join("functions").join(function).join("events");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let refusal = |p: &Path| {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        ["no-authorizer", "tries", "forbidden", "invalid"]
            .iter()
            .any(|word| name.contains(word))
    };
    let chosen = files
        .iter()
        .find(|p| !refusal(p))
        .or(files.first())
        .with_context(|| format!("no event fixture in {}", dir.display()))?;
    let text = std::fs::read_to_string(chosen)?;
    Ok(serde_json::from_str(&text)?)
}

/// Whether `event` is an API Gateway HTTP API event (the API functions), as opposed to a stream
/// batch or a scheduler payload.
pub fn is_api_event(event: &Value) -> bool {
    event.get("routeKey").is_some() && event.get("requestContext").is_some()
}

/// Event number `i` for `function`: the fixture with ids, dates and bodies that exist in the
/// seeded store. Non-API events are sent as they are.
pub fn event_for(function: &str, fixture: &Value, seeded: &Seeded, i: usize) -> Value {
    let mut event = fixture.clone();
    if !is_api_event(&event) {
        return event;
    }
    let path = event["rawPath"].as_str().unwrap_or_default().to_owned();
    if event["pathParameters"]["id"].is_string() {
        let id = if path.starts_with("/api/appointments/") {
            seeded.appointment_id.clone()
        } else if path.starts_with("/api/doctors/") {
            seeded.doctor_id.clone()
        } else {
            event["pathParameters"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        };
        let old = event["pathParameters"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        event["pathParameters"]["id"] = json!(id);
        if !old.is_empty() {
            event["rawPath"] = json!(path.replace(&old, &id));
        }
    }
    match function {
        "book-appointment" => {
            let start = seeded.free_slots[i % seeded.free_slots.len().max(1)];
            event["body"] = json!(json!({
                "doctor_id": seeded.doctor_id,
                "start": start.to_rfc3339(),
            })
            .to_string());
            // A fresh key per booking: the same key would be a replay after the first.
            if event["headers"]["idempotency-key"].is_string() {
                event["headers"]["idempotency-key"] = json!(format!("bench-{i}"));
            }
            // A few bookings per patient: one patient may hold only so many upcoming ones.
            let claims = &mut event["requestContext"]["authorizer"]["jwt"]["claims"];
            if claims.is_object() {
                claims["sub"] = json!(bench_patient(i));
            }
        }
        "reschedule-appointment" => {
            let start = seeded.free_slots[(i + 1) % seeded.free_slots.len().max(1)];
            event["body"] = json!(json!({ "start": start.to_rfc3339() }).to_string());
        }
        "list-slots" => {
            let date = seeded.slot_date.to_string();
            event["queryStringParameters"] = json!({ "date": date });
            event["rawQueryString"] = json!(format!("date={date}"));
        }
        _ => {}
    }
    event
}

/// Bookings per bench patient: well under any per-patient cap on upcoming appointments.
pub const BOOKINGS_PER_PATIENT: usize = 5;

/// The patient who makes booking number `i` of a run.
pub fn bench_patient(i: usize) -> String {
    format!("bench-patient-{:05}", i / BOOKINGS_PER_PATIENT)
}

/// Slot starts of `doctor` from `from_day` days ahead on, skipping days without hours, until
/// `count` are found.
pub fn free_slots(
    doctor: &medichain::domain::Doctor,
    now: DateTime<Utc>,
    from_day: i64,
    count: usize,
) -> Vec<DateTime<Utc>> {
    let mut slots = Vec::with_capacity(count);
    let mut day = from_day;
    let last_day = medichain::domain::SlotRules::MAX_DAYS_AHEAD - 1;
    while slots.len() < count && day <= last_day {
        let date = (now + Duration::days(day)).date_naive();
        slots.extend(
            doctor
                .free_slots_on(date, now, &[])
                .into_iter()
                .map(|s| s.start)
                .take(count - slots.len()),
        );
        day += 1;
    }
    slots
}
