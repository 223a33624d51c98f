//! The audit trail of appointments (HIPAA §164.312(b)): who read or changed which appointment,
//! how, and when. An event names people by id and role only — never a name, phone number,
//! reason or token — so the trail itself holds no more personal data than needed to answer
//! "who saw this record".

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::{AppointmentId, Role, UserId};

/// How long audit events are kept: six years, the HIPAA retention period for documentation.
pub const AUDIT_RETENTION: Duration = Duration::days(6 * 365 + 2);

/// What was done to the appointment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    /// Read on its own (`GET /api/appointments/{id}`).
    Read,
    /// Read as part of a listing.
    Listed,
    Booked,
    Cancelled,
    Rescheduled,
    /// The video room's details (and token) were handed out.
    JoinedCall,
    /// The video page reported joining or leaving.
    CallEvent,
    /// Exported (calendar file, FHIR resource).
    Exported,
}

/// One audit event: an item of its own, kept for [`AUDIT_RETENTION`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub appointment_id: AppointmentId,
    pub at: DateTime<Utc>,
    pub actor: UserId,
    pub actor_role: Role,
    pub action: AuditAction,
}

impl AuditEvent {
    /// When the event may be deleted (the store's TTL).
    pub fn expires_at(&self) -> DateTime<Utc> {
        self.at + AUDIT_RETENTION
    }
}
