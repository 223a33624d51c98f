//! Domain events published for other systems (analytics, billing, audit) on the event bus. They
//! carry ids, times and versions only — never names, reasons or contact details.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{Appointment, AppointmentId, Role, UserId};

/// The `source` of every event MediChain publishes.
pub const EVENT_SOURCE: &str = "medichain.appointments";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppointmentFacts {
    pub appointment_id: AppointmentId,
    pub doctor_id: UserId,
    pub patient_id: UserId,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub version: u64,
}

impl From<&Appointment> for AppointmentFacts {
    fn from(a: &Appointment) -> Self {
        Self {
            appointment_id: a.id,
            doctor_id: a.doctor_id.clone(),
            patient_id: a.patient_id.clone(),
            start: a.start,
            end: a.end,
            version: a.version,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainEvent {
    AppointmentBooked(AppointmentFacts),
    AppointmentCancelled {
        facts: AppointmentFacts,
        cancelled_by: Option<Role>,
    },
    AppointmentRescheduled {
        facts: AppointmentFacts,
        previous_start: DateTime<Utc>,
    },
}

impl DomainEvent {
    /// The event's `detail-type`.
    pub fn name(&self) -> &'static str {
        match self {
            DomainEvent::AppointmentBooked(_) => "AppointmentBooked",
            DomainEvent::AppointmentCancelled { .. } => "AppointmentCancelled",
            DomainEvent::AppointmentRescheduled { .. } => "AppointmentRescheduled",
        }
    }

    pub fn appointment_id(&self) -> AppointmentId {
        match self {
            DomainEvent::AppointmentBooked(f)
            | DomainEvent::AppointmentCancelled { facts: f, .. }
            | DomainEvent::AppointmentRescheduled { facts: f, .. } => f.appointment_id,
        }
    }

    fn version(&self) -> u64 {
        match self {
            DomainEvent::AppointmentBooked(f)
            | DomainEvent::AppointmentCancelled { facts: f, .. }
            | DomainEvent::AppointmentRescheduled { facts: f, .. } => f.version,
        }
    }

    /// The same event published twice (a redelivered stream record) has the same id, so
    /// consumers can drop the duplicate.
    pub fn event_id(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.name());
        h.update(self.appointment_id().to_string());
        h.update(self.version().to_be_bytes());
        h.finalize()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The event's `detail` document.
    pub fn detail(&self) -> serde_json::Value {
        let mut detail = match self {
            DomainEvent::AppointmentBooked(facts) => serde_json::to_value(facts),
            DomainEvent::AppointmentCancelled {
                facts,
                cancelled_by,
            } => serde_json::to_value(facts).map(|mut v| {
                v["cancelled_by"] = serde_json::json!(cancelled_by);
                v
            }),
            DomainEvent::AppointmentRescheduled {
                facts,
                previous_start,
            } => serde_json::to_value(facts).map(|mut v| {
                v["previous_start"] = serde_json::json!(previous_start);
                v
            }),
        }
        .unwrap_or_default();
        detail["event_id"] = serde_json::json!(self.event_id());
        detail
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;
    use crate::domain::appointment::Reason;
    use crate::domain::fixtures::sample;

    #[test]
    fn details_hold_ids_and_times_but_no_personal_data() {
        let mut a = sample(Utc.with_ymd_and_hms(2030, 1, 15, 19, 30, 0).unwrap());
        a.reason = Some(Reason::parse("rash").unwrap());
        let events = [
            DomainEvent::AppointmentBooked((&a).into()),
            DomainEvent::AppointmentCancelled {
                facts: (&a).into(),
                cancelled_by: Some(Role::Doctor),
            },
            DomainEvent::AppointmentRescheduled {
                facts: (&a).into(),
                previous_start: a.start,
            },
        ];
        for e in &events {
            let detail = e.detail();
            assert_eq!(detail["appointment_id"], a.id.to_string(), "{}", e.name());
            let text = detail.to_string();
            for private in ["rash", "Ada", "Pat Example", "meet.jit.si"] {
                assert!(!text.contains(private), "{} leaks {private}", e.name());
            }
            assert_eq!(detail["event_id"].as_str().unwrap().len(), 32);
        }
        assert_eq!(events[1].detail()["cancelled_by"], "doctor");
        assert_eq!(
            events[0].event_id(),
            DomainEvent::AppointmentBooked((&a).into()).event_id()
        );
        assert_ne!(events[0].event_id(), events[1].event_id());
    }
}
