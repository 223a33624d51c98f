//! Booking and managing appointments. Only patients book; a caller sees, cancels or reschedules
//! only appointments they take part in, and anything else answers 404 so ids cannot be probed.

use chrono::{DateTime, Datelike, Duration, Utc};
use http::{header, HeaderValue, StatusCode};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{audit, ApiError, ApiRequest, ApiResponse, Deps};
use crate::domain::appointment::{Reason, TransitionError};
use crate::domain::audit::AuditAction;
use crate::domain::call::JoinWindow;
use crate::domain::doctor::{Slot, SlotRules};
use crate::domain::{
    Appointment, AppointmentId, AppointmentStatus, Caller, Doctor, Role, RoomName, UserId,
};
use crate::ports::{
    BookingCap, IdempotencyBegin, IdempotencyCompletion, IdempotencyKey, Page, PageRequest, Party,
    StoreError, StoredResponse, TimeRange,
};

/// How long a completed booking is replayed for the same key.
const IDEMPOTENCY_TTL: Duration = Duration::hours(24);
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";
/// How many upcoming appointments one patient may hold at once: far above what care needs, low
/// enough that one account cannot hold a doctor's calendar hostage.
pub const MAX_FUTURE_BOOKINGS: usize = 10;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BookBody {
    doctor_id: String,
    start: String,
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RescheduleBody {
    start: String,
}

#[derive(Debug, Serialize)]
struct AppointmentList<'a> {
    items: Vec<AppointmentView<'a>>,
    next_cursor: Option<String>,
}

/// An appointment as the API shows it: what is stored, and when its video room is open (the
/// join window), so that a client offers Join exactly as long as the API lets it in.
#[derive(Debug, Serialize)]
struct AppointmentView<'a> {
    #[serde(flatten)]
    appointment: &'a Appointment,
    room_opens_at: DateTime<Utc>,
    room_closes_at: DateTime<Utc>,
}

impl<'a> AppointmentView<'a> {
    fn of(appointment: &'a Appointment) -> Self {
        let window = JoinWindow::of(appointment);
        AppointmentView {
            appointment,
            room_opens_at: window.opens_at,
            room_closes_at: window.closes_at,
        }
    }
}

fn appointment_response(status: StatusCode, a: &Appointment) -> Result<ApiResponse, ApiError> {
    ApiResponse::json(status, &AppointmentView::of(a))
}

fn unprocessable(kind: &'static str, detail: impl Into<String>) -> ApiError {
    ApiError::Unprocessable {
        kind,
        detail: detail.into(),
    }
}

fn parse_start(raw: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| unprocessable("invalid-value", "start: must be an RFC 3339 date-time"))
}

/// The slot of `doctor` that starts at `start`, if it can be booked now.
fn bookable_slot(
    doctor: &Doctor,
    start: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Slot, ApiError> {
    let slot = doctor.slot_at(start).ok_or_else(|| {
        unprocessable(
            "invalid-slot",
            "start: not one of the doctor's slots (see GET /api/doctors/{id}/slots)",
        )
    })?;
    if slot.start <= now {
        return Err(unprocessable(
            "invalid-slot",
            "start: the slot is in the past",
        ));
    }
    if slot.start > now + Duration::days(SlotRules::MAX_DAYS_AHEAD) {
        return Err(unprocessable(
            "invalid-slot",
            format!(
                "start: bookings open {} days ahead",
                SlotRules::MAX_DAYS_AHEAD
            ),
        ));
    }
    Ok(slot)
}

fn transition_error(e: TransitionError) -> ApiError {
    ApiError::Conflict {
        kind: "invalid-state",
        detail: format!("{e}."),
    }
}

/// `POST /api/appointments`: a patient books a doctor's free slot.
///
/// With an `Idempotency-Key`, the booking's one transaction also completes the key's record, so
/// a first attempt claims nothing beforehand: the key costs no call of its own. Only when the
/// booking does not happen is the key looked up, so that a retry of a booking that did happen
/// gets the stored answer whatever changed since (its slot is its own now, the cap is reached).
pub async fn book(deps: &Deps, req: ApiRequest) -> Result<ApiResponse, ApiError> {
    let caller = req.caller_with_role(Role::Patient)?.clone();
    let body: BookBody = req.json()?;
    let key = req
        .header(IDEMPOTENCY_KEY_HEADER)?
        .map(|raw| IdempotencyKey::parse(caller.id.clone(), raw))
        .transpose()
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let now = deps.clock.now();
    let Some(key) = key else {
        return match book_once(deps, &caller, &body, now, None).await? {
            Booked::Created(response) => Ok(response),
            Booked::Refused(e) => Err(e),
            // Only a booking with a key can meet one.
            Booked::KeyInUse => Err(StoreError::IdempotencyKeyInUse.into()),
        };
    };
    let fingerprint = fingerprint(&body);
    let keyed = Some((&key, fingerprint.as_str()));
    let refused = match book_once(deps, &caller, &body, now, keyed).await? {
        Booked::Created(response) => return Ok(response),
        Booked::Refused(e) => Some(e),
        Booked::KeyInUse => None,
    };
    let found = match deps.idempotency.find(&key, &fingerprint, now).await {
        Ok(found) => found,
        Err(e) => return Err(refused.unwrap_or_else(|| e.into())),
    };
    match (found, refused) {
        (Some(IdempotencyBegin::Replay(stored)), _) => replay(stored),
        (Some(IdempotencyBegin::InProgress), _) => Err(request_in_progress()),
        (Some(IdempotencyBegin::Mismatch), _) => Err(unprocessable(
            "idempotency-key-reused",
            "This Idempotency-Key was already used with a different request body.",
        )),
        (Some(IdempotencyBegin::Started) | None, Some(e)) => Err(e),
        // The record that held the key is gone since (it expired, or its attempt was released):
        // book once more; a second refusal means another attempt is at it right now.
        (Some(IdempotencyBegin::Started) | None, None) => {
            match book_once(deps, &caller, &body, now, keyed).await? {
                Booked::Created(response) => Ok(response),
                Booked::Refused(e) => Err(e),
                Booked::KeyInUse => Err(request_in_progress()),
            }
        }
    }
}

fn request_in_progress() -> ApiError {
    ApiError::Conflict {
        kind: "request-in-progress",
        detail: "A request with this Idempotency-Key is still being processed.".into(),
    }
}

fn fingerprint(body: &BookBody) -> String {
    let mut h = Sha256::new();
    for part in [
        &body.doctor_id,
        &body.start,
        body.reason.as_deref().unwrap_or(""),
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn replay(stored: StoredResponse) -> Result<ApiResponse, ApiError> {
    let status = StatusCode::from_u16(stored.status).map_err(ApiError::internal)?;
    // The stored body is the booked appointment; its id gives back the `Location` of the 201.
    #[derive(Deserialize)]
    struct Created {
        id: AppointmentId,
    }
    let created = (status == StatusCode::CREATED)
        .then(|| serde_json::from_str::<Created>(&stored.body).ok())
        .flatten();
    let mut r = ApiResponse::new(status, stored.body.into_bytes().into());
    r.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(Created { id }) = created {
        set_location(&mut r, id);
    }
    r.headers
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    Ok(r)
}

fn set_location(r: &mut ApiResponse, id: AppointmentId) {
    if let Ok(location) = HeaderValue::from_str(&format!("/api/appointments/{id}")) {
        r.headers.insert(header::LOCATION, location);
    }
}

/// How one attempt at a booking ended.
enum Booked {
    Created(ApiResponse),
    /// Refused before anything was written (unknown doctor, not a bookable slot, the cap).
    Refused(ApiError),
    /// The key is held by another request's live record: nothing was written.
    KeyInUse,
}

/// Checks the booking, then writes it in one transaction (with the key's completed record).
/// Errors are those of the transaction itself (slot taken, store unavailable).
async fn book_once(
    deps: &Deps,
    caller: &Caller,
    body: &BookBody,
    now: DateTime<Utc>,
    idempotency: Option<(&IdempotencyKey, &str)>,
) -> Result<Booked, ApiError> {
    let appointment = match prepare(deps, caller, body, now).await {
        Ok(a) => a,
        Err(e) => return Ok(Booked::Refused(e)),
    };
    let response = appointment_response(StatusCode::CREATED, &appointment)?;
    let completion = idempotency.map(|(key, fingerprint)| IdempotencyCompletion {
        key: key.clone(),
        fingerprint: fingerprint.to_owned(),
        response: StoredResponse {
            status: StatusCode::CREATED.as_u16(),
            body: String::from_utf8_lossy(&response.body).into_owned(),
        },
        requested_at: now,
        expires_at: now + IDEMPOTENCY_TTL,
    });
    // The audit event and the booking cap are part of the booking's one transaction.
    let booked = audit::event(deps, caller, AuditAction::Booked, appointment.id);
    let cap = BookingCap {
        max: MAX_FUTURE_BOOKINGS,
        now,
    };
    match deps
        .appointments
        .create_audited(&appointment, completion.as_ref(), &booked, Some(cap))
        .await
    {
        Ok(()) => {}
        Err(StoreError::IdempotencyKeyInUse) => return Ok(Booked::KeyInUse),
        Err(StoreError::BookingCapReached { next_free_at }) => {
            return Ok(Booked::Refused(booking_cap_reached(next_free_at, now)))
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(appointment_id = %appointment.id, "appointment booked");
    let mut response = response;
    set_location(&mut response, appointment.id);
    Ok(Booked::Created(response))
}

/// The appointment a booking request asks for, if it may be booked now.
async fn prepare(
    deps: &Deps,
    caller: &Caller,
    body: &BookBody,
    now: DateTime<Utc>,
) -> Result<Appointment, ApiError> {
    let doctor_id = UserId::parse(&body.doctor_id)
        .map_err(|_| unprocessable("unknown-doctor", "doctor_id: no such doctor"))?;
    let doctor = deps
        .directory
        .get_doctor(&doctor_id)
        .await?
        .ok_or_else(|| unprocessable("unknown-doctor", "doctor_id: no such doctor"))?;
    let start = parse_start(&body.start)?;
    let reason = body
        .reason
        .as_deref()
        .map(Reason::parse)
        .transpose()
        .map_err(ApiError::invalid)?
        .filter(|r| !r.as_str().is_empty());
    let slot = bookable_slot(&doctor, start, now)?;
    let room = RoomName::mint();
    Ok(Appointment {
        id: AppointmentId::new(),
        patient_id: caller.id.clone(),
        doctor_id: doctor.id.clone(),
        doctor_name: doctor.name.clone(),
        patient_name: caller.name.clone(),
        start: slot.start,
        end: slot.end,
        status: AppointmentStatus::Booked,
        meeting_url: deps.config.jitsi.meeting_url(&room),
        room_name: room,
        reason,
        version: 1,
        created_at: now,
        updated_at: now,
        cancelled_by: None,
        call: None,
    })
}

/// The 429 for a patient who holds [`MAX_FUTURE_BOOKINGS`] upcoming appointments already.
/// `Retry-After` says when the first of them is over.
fn booking_cap_reached(next_free_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> ApiError {
    let retry_after_secs = next_free_at
        .map(|end| (end - now).num_seconds())
        .unwrap_or(3600)
        .max(1) as u64;
    ApiError::TooManyRequests {
        retry_after_secs,
        detail: format!(
            "You have {MAX_FUTURE_BOOKINGS} upcoming appointments, the most one patient may hold. \
             Cancel one, or book again after your next appointment."
        ),
    }
}

/// `GET /api/appointments`: the caller's appointments by start, optionally within `from`/`to`.
pub async fn list(deps: &Deps, req: ApiRequest) -> Result<ApiResponse, ApiError> {
    let caller = req.caller()?;
    let party = match caller.role {
        Role::Patient => Party::Patient(caller.id.clone()),
        Role::Doctor => Party::Doctor(caller.id.clone()),
    };
    let time = |name: &str| -> Result<Option<DateTime<Utc>>, ApiError> {
        req.query_param(name)
            .map(|raw| {
                DateTime::parse_from_rfc3339(raw)
                    .map(|t| t.with_timezone(&Utc))
                    .ok()
                    // Both stores compare times as text of four-digit years (`sortable_time`).
                    .filter(|t| (0..=9999).contains(&t.year()))
                    .ok_or_else(|| {
                        ApiError::BadRequest(format!(
                            "{name}: must be an RFC 3339 date-time in the years 0000 to 9999 (UTC)"
                        ))
                    })
            })
            .transpose()
    };
    let range = TimeRange {
        from: time("from")?,
        to: time("to")?,
    };
    let page = page_request(&req)?;
    let Page { items, next_cursor } = deps.appointments.list_for(&party, range, page).await?;
    let ids: Vec<AppointmentId> = items.iter().map(|a| a.id).collect();
    audit::record_read(deps, caller, AuditAction::Listed, &ids).await?;
    // Appointments whose video room has closed show how they ended (completed or no-show). The
    // list only shows it; opening one stores it (see `video::settle_if_due`).
    let now = deps.clock.now();
    let items = items
        .into_iter()
        .map(|a| a.settled(now).unwrap_or(a))
        .collect::<Vec<_>>();
    let items = items.iter().map(AppointmentView::of).collect();
    ApiResponse::json(StatusCode::OK, &AppointmentList { items, next_cursor })
}

/// Reads `limit` (1–100, default 50) and `cursor` from the query.
pub fn page_request(req: &ApiRequest) -> Result<PageRequest, ApiError> {
    let limit = match req.query_param("limit") {
        None => PageRequest::DEFAULT_LIMIT,
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=PageRequest::MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::BadRequest("limit: must be a whole number from 1 to 100".into())
            })?,
    };
    let cursor = req.query_param("cursor").map(str::to_owned);
    if cursor
        .as_deref()
        .is_some_and(|c| c.is_empty() || c.len() > 1024)
    {
        return Err(ApiError::BadRequest(
            "cursor: not a cursor this API handed out".into(),
        ));
    }
    Ok(PageRequest { limit, cursor })
}

/// The appointment in the path, if the caller takes part in it; 404 otherwise.
pub async fn load_for_participant(
    deps: &Deps,
    caller: &Caller,
    raw_id: &str,
) -> Result<Appointment, ApiError> {
    let id = AppointmentId::parse(raw_id).map_err(|_| ApiError::NotFound("appointment"))?;
    match deps.appointments.get(&id).await? {
        Some(a) if a.is_participant(&caller.id) => Ok(a),
        _ => Err(ApiError::NotFound("appointment")),
    }
}

/// `GET /api/appointments/{id}`.
pub async fn get(deps: &Deps, req: ApiRequest) -> Result<ApiResponse, ApiError> {
    let caller = req.caller()?;
    let appointment = load_for_participant(deps, caller, req.path_param("id")?).await?;
    let appointment = super::video::settle_if_due(deps, appointment).await?;
    audit::record_read(deps, caller, AuditAction::Read, &[appointment.id]).await?;
    appointment_response(StatusCode::OK, &appointment)
}

/// `POST /api/appointments/{id}/cancel`: either participant cancels a booked appointment that has
/// not started; the doctor's slot is free again at once.
pub async fn cancel(deps: &Deps, req: ApiRequest) -> Result<ApiResponse, ApiError> {
    let caller = req.caller()?;
    let _: serde_json::Map<String, serde_json::Value> = req.json()?;
    let current = load_for_participant(deps, caller, req.path_param("id")?).await?;
    let next = current
        .cancelled(caller.role, deps.clock.now())
        .map_err(transition_error)?;
    deps.appointments.update(&current, &next).await?;
    audit::record_change(deps, caller, AuditAction::Cancelled, next.id).await;
    tracing::info!(appointment_id = %next.id, version = next.version, "appointment cancelled");
    appointment_response(StatusCode::OK, &next)
}

/// `POST /api/appointments/{id}/reschedule`: either participant moves it to another free slot of
/// the same doctor.
pub async fn reschedule(deps: &Deps, req: ApiRequest) -> Result<ApiResponse, ApiError> {
    let caller = req.caller()?;
    let body: RescheduleBody = req.json()?;
    let current = load_for_participant(deps, caller, req.path_param("id")?).await?;
    let start = parse_start(&body.start)?;
    let now = deps.clock.now();
    let doctor = deps
        .directory
        .get_doctor(&current.doctor_id)
        .await?
        .ok_or_else(|| {
            ApiError::internal(StoreError::Corrupt("appointment's doctor is gone".into()))
        })?;
    let slot = bookable_slot(&doctor, start, now)?;
    let next = current.rescheduled(slot, now).map_err(|e| match e {
        TransitionError::SameSlot => unprocessable(
            "invalid-slot",
            "start: the appointment is already at that time",
        ),
        other => transition_error(other),
    })?;
    deps.appointments.update(&current, &next).await?;
    audit::record_change(deps, caller, AuditAction::Rescheduled, next.id).await;
    tracing::info!(appointment_id = %next.id, version = next.version, "appointment rescheduled");
    appointment_response(StatusCode::OK, &next)
}
