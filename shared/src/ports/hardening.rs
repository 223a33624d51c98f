//! Store ports of the hardening issue: the appointment audit trail and per-user usage quotas
//! (the daily SMS cap).

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

use super::StoreError;
use crate::domain::audit::AuditEvent;
use crate::domain::{AppointmentId, UserId};

#[async_trait]
pub trait AuditLog: Send + Sync {
    /// Keeps every event (each its own item, deleted after the retention period).
    async fn record(&self, events: &[AuditEvent]) -> Result<(), StoreError>;

    /// The events of one appointment, oldest first (at most `limit`).
    async fn audit_of(
        &self,
        appointment: &AppointmentId,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, StoreError>;
}

/// What a quota counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QuotaKind {
    /// SMS messages sent to one user on one UTC day.
    SmsPerDay,
}

impl QuotaKind {
    pub fn as_str(self) -> &'static str {
        match self {
            QuotaKind::SmsPerDay => "sms",
        }
    }
}

#[async_trait]
pub trait UsageQuota: Send + Sync {
    /// Takes one unit of `user`'s `kind` quota for `day` unless `limit` are used already; returns
    /// whether it was taken. Atomic: concurrent takers never exceed `limit` together.
    /// `expires_at` is when the counter may be forgotten.
    async fn try_take(
        &self,
        user: &UserId,
        kind: QuotaKind,
        day: NaiveDate,
        limit: u32,
        expires_at: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
}
