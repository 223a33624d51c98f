//! An appointment as a FHIR R4 `Appointment` resource, for electronic health records.
//!
//! Status mapping: booked → `booked` (or `arrived` while the patient is in the video room
//! waiting), cancelled → `cancelled`, completed → `fulfilled`, no-show → `noshow`. Both
//! participants are listed with an actor reference (`Patient/<id>`, `Practitioner/<id>`), marked
//! required, and `accepted` — except the one who cancelled, who `declined`. The reason the patient
//! typed is not exported (minimum necessary; it is free text, not a coded reason).

use http::{header, HeaderValue, StatusCode};
use serde_json::{json, Value};

use super::appointments::load_for_participant;
use super::video::settle_if_due;
use super::{ApiError, ApiRequest, ApiResponse, Deps};
use crate::domain::{Appointment, AppointmentStatus, Role};

pub const FHIR_JSON: &str = "application/fhir+json; fhirVersion=4.0";

/// The R4 `AppointmentStatus` code for `a`.
pub fn status_code(a: &Appointment) -> &'static str {
    match a.status {
        AppointmentStatus::Booked if a.call.as_ref().is_some_and(|c| c.patient_waiting()) => {
            "arrived"
        }
        AppointmentStatus::Booked => "booked",
        AppointmentStatus::Cancelled => "cancelled",
        AppointmentStatus::Completed => "fulfilled",
        AppointmentStatus::NoShow => "noshow",
    }
}

fn instant(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The resource for `a`.
pub fn resource(a: &Appointment) -> Value {
    let participant_status = |role: Role| {
        if a.status == AppointmentStatus::Cancelled && a.cancelled_by == Some(role) {
            "declined"
        } else {
            "accepted"
        }
    };
    let minutes = (a.end - a.start).num_minutes();
    let mut r = json!({
        "resourceType": "Appointment",
        "id": a.id.to_string(),
        "meta": {
            "versionId": a.version.to_string(),
            "lastUpdated": instant(a.updated_at),
        },
        "status": status_code(a),
        "serviceType": [{ "text": "Video consultation" }],
        "description": "Video consultation",
        "start": instant(a.start),
        "end": instant(a.end),
        "created": instant(a.created_at),
        "participant": [
            {
                "actor": {
                    "reference": format!("Patient/{}", a.patient_id),
                    "display": a.patient_name,
                },
                "required": "required",
                "status": participant_status(Role::Patient),
            },
            {
                "actor": {
                    "reference": format!("Practitioner/{}", a.doctor_id),
                    "display": format!("Dr. {}", a.doctor_name),
                },
                "required": "required",
                "status": participant_status(Role::Doctor),
            },
        ],
    });
    if minutes > 0 {
        r["minutesDuration"] = json!(minutes);
    }
    if let (AppointmentStatus::Cancelled, Some(by)) = (a.status, a.cancelled_by) {
        let (code, display) = match by {
            Role::Patient => ("pat", "Patient"),
            Role::Doctor => ("prov", "Provider"),
        };
        r["cancelationReason"] = json!({
            "coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/appointment-cancellation-reason",
                "code": code,
                "display": display,
            }],
        });
    }
    r
}

/// `GET /api/appointments/{id}/fhir`.
pub async fn fhir(deps: &Deps, req: ApiRequest) -> Result<ApiResponse, ApiError> {
    let caller = req.caller()?;
    let appointment = load_for_participant(deps, caller, req.path_param("id")?).await?;
    let appointment = settle_if_due(deps, appointment).await?;
    super::audit::record_read(
        deps,
        caller,
        crate::domain::audit::AuditAction::Exported,
        &[appointment.id],
    )
    .await?;
    let body = serde_json::to_vec(&resource(&appointment)).map_err(ApiError::internal)?;
    let mut r = ApiResponse::new(StatusCode::OK, body.into());
    r.headers
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
    Ok(r)
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeZone as _, Utc};

    use super::*;
    use crate::domain::appointment::tests::sample;
    use crate::domain::call::{CallEvent, CallRecord};

    fn t(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2030, 3, 4, h, m, 0).unwrap()
    }

    #[test]
    fn statuses_map_onto_the_r4_value_set() {
        let a = sample(t(10, 0));
        assert_eq!(status_code(&a), "booked");
        let mut waiting = a.clone();
        let mut call = CallRecord::default();
        call.apply(Role::Patient, CallEvent::Joined, t(9, 50));
        waiting.call = Some(call.clone());
        assert_eq!(status_code(&waiting), "arrived");
        call.apply(Role::Doctor, CallEvent::Joined, t(9, 55));
        waiting.call = Some(call);
        assert_eq!(status_code(&waiting), "booked", "the doctor came in");
        assert_eq!(
            status_code(&a.cancelled(Role::Patient, t(8, 0)).unwrap()),
            "cancelled"
        );
        let mut done = a.clone();
        done.status = AppointmentStatus::Completed;
        assert_eq!(status_code(&done), "fulfilled");
        done.status = AppointmentStatus::NoShow;
        assert_eq!(status_code(&done), "noshow");
    }

    #[test]
    fn a_cancellation_says_who_cancelled() {
        let a = sample(t(10, 0)).cancelled(Role::Doctor, t(8, 0)).unwrap();
        let r = resource(&a);
        assert_eq!(r["cancelationReason"]["coding"][0]["code"], "prov");
        assert_eq!(r["participant"][1]["status"], "declined");
        assert_eq!(r["participant"][0]["status"], "accepted");
        assert_eq!(r["meta"]["versionId"], "2");
        assert!(resource(&sample(t(10, 0)))
            .get("cancelationReason")
            .is_none());
    }
}
