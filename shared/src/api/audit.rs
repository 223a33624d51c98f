//! The audit trail at the API boundary: every handler that reads or changes an appointment says
//! so here, with the caller's id and role (never a name or anything else personal).
//!
//! Reads fail closed: an access that cannot be recorded is not served (503, retry). A change is
//! recorded after it succeeded; if recording fails then, the change stands (refusing now would
//! only make the client retry something that already happened), the failure is logged at error
//! level for the alarm, and the change's domain event still says what happened.

use super::{ApiError, Deps};
use crate::domain::audit::{AuditAction, AuditEvent};
use crate::domain::{AppointmentId, Caller};

fn events(
    deps: &Deps,
    caller: &Caller,
    action: AuditAction,
    ids: &[AppointmentId],
) -> Vec<AuditEvent> {
    let at = deps.clock.now();
    ids.iter()
        .map(|id| event_at(caller, action, *id, at))
        .collect()
}

fn event_at(
    caller: &Caller,
    action: AuditAction,
    id: AppointmentId,
    at: chrono::DateTime<chrono::Utc>,
) -> AuditEvent {
    AuditEvent {
        appointment_id: id,
        at,
        actor: caller.id.clone(),
        actor_role: caller.role,
        action,
    }
}

/// The event of `caller` doing `action` to appointment `id` now, for a change that writes its
/// event in its own transaction (a booking).
pub fn event(deps: &Deps, caller: &Caller, action: AuditAction, id: AppointmentId) -> AuditEvent {
    event_at(caller, action, id, deps.clock.now())
}

/// Records that `caller` read the appointments `ids`; an error means the read must not be served.
pub async fn record_read(
    deps: &Deps,
    caller: &Caller,
    action: AuditAction,
    ids: &[AppointmentId],
) -> Result<(), ApiError> {
    if ids.is_empty() {
        return Ok(());
    }
    deps.audit
        .record(&events(deps, caller, action, ids))
        .await
        .map_err(ApiError::from)
}

/// Records a change that has happened.
pub async fn record_change(deps: &Deps, caller: &Caller, action: AuditAction, id: AppointmentId) {
    if let Err(e) = deps
        .audit
        .record(&events(deps, caller, action, &[id]))
        .await
    {
        tracing::error!(appointment_id = %id, action = ?action, error = %e, "audit event not recorded");
    }
}
