//! The video room of an appointment: joining it (domain, room, display name, moderator flag and a
//! Jitsi token for this participant, this room and this join window only) and the joined/left
//! reports of the video page that make the waiting room and the call history.

use chrono::{DateTime, SecondsFormat, Utc};
use http::StatusCode;
use serde::{Deserialize, Serialize};

use super::appointments::load_for_participant;
use super::{ApiError, ApiRequest, ApiResponse, Deps};
use crate::domain::call::{CallEvent, JoinWindow, WindowError};
use crate::domain::notification::{render, Notice, Recipient};
use crate::domain::{Appointment, AppointmentId, AppointmentStatus, Caller, Role};
use crate::jitsi::JitsiUser;
use crate::ports::StoreError;

/// What the video page passes to the Jitsi IFrame External API.
#[derive(Debug, Serialize)]
struct JoinInfo {
    appointment_id: AppointmentId,
    /// Where `external_api.js` is loaded from and the IFrame API's `domain`.
    domain: String,
    /// The IFrame API's `roomName` (`<AppID>/<room>` on JaaS).
    room: String,
    display_name: String,
    /// The doctor moderates; the patient does not.
    moderator: bool,
    /// The IFrame API's `jwt`, when the deployment uses token auth.
    token: Option<String>,
    /// The room runs a lobby in which only the moderator admits people (token auth only).
    lobby: bool,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    /// The join window; a token is valid for exactly this span.
    opens_at: DateTime<Utc>,
    closes_at: DateTime<Utc>,
}

fn time_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The 403 for a join outside the window, saying when the room opens (or that it has closed).
fn window_problem(e: WindowError, window: JoinWindow) -> ApiError {
    let mut extensions = serde_json::Map::new();
    extensions.insert("opens_at".into(), time_text(window.opens_at).into());
    extensions.insert("closes_at".into(), time_text(window.closes_at).into());
    let (kind, detail) = match e {
        WindowError::NotYetOpen { opens_at } => (
            "room-not-open",
            format!(
                "The video room opens at {} (15 minutes before the appointment starts).",
                time_text(opens_at)
            ),
        ),
        WindowError::Closed { closed_at } => (
            "room-closed",
            format!(
                "The video room closed at {} (30 minutes after the appointment ended).",
                time_text(closed_at)
            ),
        ),
    };
    ApiError::Extended {
        status: StatusCode::FORBIDDEN,
        kind,
        detail,
        extensions,
    }
}

fn cancelled_problem() -> ApiError {
    ApiError::Conflict {
        kind: "appointment-cancelled",
        detail: "The appointment was cancelled; its video room cannot be joined.".into(),
    }
}

/// The appointment once its room is open and it is still booked: 409 when cancelled, 403 outside
/// the join window.
fn require_open_room(a: &Appointment, now: DateTime<Utc>) -> Result<JoinWindow, ApiError> {
    if a.status == AppointmentStatus::Cancelled {
        return Err(cancelled_problem());
    }
    let window = a.join_window();
    window.check(now).map_err(|e| window_problem(e, window))?;
    if a.status != AppointmentStatus::Booked {
        return Err(ApiError::Conflict {
            kind: "appointment-ended",
            detail: format!("The appointment is {}.", a.status.as_str()),
        });
    }
    Ok(window)
}

/// The caller's part in the appointment, by id (the role claim alone does not make a participant).
pub(crate) fn role_in(a: &Appointment, caller: &Caller) -> Role {
    if a.doctor_id == caller.id {
        Role::Doctor
    } else {
        Role::Patient
    }
}

/// Settles an appointment whose room has closed (completed or no-show) and stores that, so the
/// transition happens on the first read after the window without a scheduler. A concurrent
/// change wins: the stored appointment is read back and settled again if still due.
pub async fn settle_if_due(deps: &Deps, appointment: Appointment) -> Result<Appointment, ApiError> {
    let mut current = appointment;
    for _ in 0..3 {
        let Some(next) = current.settled(deps.clock.now()) else {
            return Ok(current);
        };
        match deps.appointments.update(&current, &next).await {
            Ok(()) => {
                tracing::info!(
                    appointment_id = %next.id,
                    status = next.status.as_str(),
                    "appointment settled after its room closed"
                );
                return Ok(next);
            }
            Err(StoreError::StaleVersion) => {
                current = deps
                    .appointments
                    .get(&current.id)
                    .await?
                    .ok_or(ApiError::NotFound("appointment"))?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(StoreError::StaleVersion.into())
}

/// `GET /api/appointments/{id}/join`: the patient or doctor of the appointment, inside the join
/// window, gets what the video page needs to enter the room.
pub async fn join(deps: &Deps, req: ApiRequest) -> Result<ApiResponse, ApiError> {
    let caller = req.caller()?;
    let appointment = load_for_participant(deps, caller, req.path_param("id")?).await?;
    let appointment = settle_if_due(deps, appointment).await?;
    let window = require_open_room(&appointment, deps.clock.now())?;
    let role = role_in(&appointment, caller);
    let display_name = match role {
        Role::Doctor => format!("Dr. {}", appointment.doctor_name),
        Role::Patient => appointment.patient_name.clone(),
    };
    let user = JitsiUser {
        id: caller.id.clone(),
        name: display_name.clone(),
        moderator: role == Role::Doctor,
    };
    let access = deps
        .config
        .jitsi_auth
        .access(&deps.config.jitsi, &appointment.room_name, &user, window)
        .map_err(ApiError::internal)?;
    super::audit::record_read(
        deps,
        caller,
        crate::domain::audit::AuditAction::JoinedCall,
        &[appointment.id],
    )
    .await?;
    tracing::info!(
        appointment_id = %appointment.id,
        role = %role,
        mode = deps.config.jitsi_auth.mode(),
        "room access granted"
    );
    ApiResponse::json(
        StatusCode::OK,
        &JoinInfo {
            appointment_id: appointment.id,
            domain: access.domain,
            room: access.room,
            display_name,
            moderator: user.moderator,
            token: access.token,
            lobby: access.lobby,
            starts_at: appointment.start,
            ends_at: appointment.end,
            opens_at: window.opens_at,
            closes_at: window.closes_at,
        },
    )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CallEventBody {
    event: CallEvent,
}

/// `POST /api/appointments/{id}/call-events`: the video page reports that the caller joined or
/// left the room. Kept as the call history on the appointment; the patient joining before the
/// doctor tells the doctor, once.
pub async fn call_event(deps: &Deps, req: ApiRequest) -> Result<ApiResponse, ApiError> {
    let caller = req.caller()?;
    let body: CallEventBody = req.json()?;
    let appointment = load_for_participant(deps, caller, req.path_param("id")?).await?;
    let mut current = settle_if_due(deps, appointment).await?;
    let role = role_in(&current, caller);
    // A concurrent report (the other participant, or a second tab) may win the version race:
    // read again and re-apply, a few times.
    for _ in 0..5 {
        let now = deps.clock.now();
        require_open_room(&current, now)?;
        let mut call = current.call.clone().unwrap_or_default();
        if !call.apply(role, body.event, now) {
            return Ok(ApiResponse::new(StatusCode::NO_CONTENT, Default::default()));
        }
        // "Before the doctor": the doctor has not been in the room at all yet.
        let tell_doctor = role == Role::Patient
            && body.event == CallEvent::Joined
            && !call.has_joined(Role::Doctor)
            && call.patient_waiting_notified_at.is_none();
        if tell_doctor {
            call.patient_waiting_notified_at = Some(now);
        }
        let mut next = current.clone();
        next.version = current.version + 1;
        next.updated_at = now;
        next.call = Some(call);
        match deps.appointments.update(&current, &next).await {
            Ok(()) => {
                tracing::info!(appointment_id = %next.id, role = %role, event = ?body.event, "call event recorded");
                super::audit::record_change(
                    deps,
                    caller,
                    crate::domain::audit::AuditAction::CallEvent,
                    next.id,
                )
                .await;
                if tell_doctor {
                    // The flag went in with the versioned write, so only one request gets here.
                    // A failure now is logged, not retried: the event itself is recorded.
                    if let Err(e) = tell_doctor_patient_waits(deps, &next).await {
                        tracing::warn!(appointment_id = %next.id, error = %e, "could not tell the doctor the patient is waiting");
                    }
                }
                return Ok(ApiResponse::new(StatusCode::NO_CONTENT, Default::default()));
            }
            Err(StoreError::StaleVersion) => {
                current = deps
                    .appointments
                    .get(&current.id)
                    .await?
                    .ok_or(ApiError::NotFound("appointment"))?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(StoreError::StaleVersion.into())
}

/// The doctor's in-app "patient is waiting" notification, dated in the doctor's time zone. Its id
/// derives from the appointment version that set the flag, so writing it twice stores it once.
async fn tell_doctor_patient_waits(deps: &Deps, a: &Appointment) -> Result<(), StoreError> {
    let zone = match deps.directory.get_user(&a.doctor_id).await? {
        Some(profile) => profile.time_zone,
        None => deps
            .directory
            .get_doctor(&a.doctor_id)
            .await?
            .map(|d| d.time_zone)
            .unwrap_or_default(),
    };
    let recipient = Recipient {
        id: a.doctor_id.clone(),
        role: Role::Doctor,
        time_zone: zone,
    };
    let notice = render(a, Notice::PatientWaiting, &recipient);
    deps.notifications.add_notification(&notice).await?;
    Ok(())
}
