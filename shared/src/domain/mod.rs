//! The domain: values that can only hold valid data, and the rules of booking.

pub mod appointment;
pub mod audit;
pub mod call;
pub mod device;
pub mod doctor;
pub mod event;
#[cfg(test)]
pub(crate) mod fixtures;
pub mod ids;
pub mod notification;
pub mod reminder;
pub mod room;
pub mod user;
pub mod zone;

pub use appointment::{Appointment, AppointmentStatus};
pub use doctor::{Doctor, SlotRules, WeeklyHours, WorkingInterval};
pub use ids::{AppointmentId, UserId};
pub use room::{JitsiSettings, RoomName};
pub use user::{Caller, Role, UserProfile};

/// A value from outside (a request, a stored item, an event) did not hold what the domain needs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct InvalidValue {
    pub field: &'static str,
    pub reason: String,
}

impl InvalidValue {
    pub fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}
