//! Ports: what the use cases need from storage, in domain words. The shapes follow DynamoDB's
//! access patterns (key lookups, a query per "my appointments" view, one transaction per change)
//! so that the embedded SQLite store and the DynamoDB store can honour the same contract.

mod hardening;
mod notifications;
mod outbound;

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

use crate::domain::audit::AuditEvent;
use crate::domain::device::Device;
use crate::domain::{Appointment, AppointmentId, Doctor, InvalidValue, UserId, UserProfile};

pub use hardening::{AuditLog, QuotaKind, UsageQuota};
pub use notifications::{
    DeviceRegistry, GateClaim, NotificationStore, ProfileStore, ReminderGate, ReminderReads,
    ReminderSubject,
};
pub use outbound::{
    EventPublisher, MessageContext, NoPush, Notifier, OutboundError, PushOutcome, PushRegistrar,
    ReminderScheduler,
};

pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The doctor's slot is held by another appointment.
    #[error("the slot is already taken")]
    SlotTaken,
    /// The item changed since it was read (optimistic concurrency).
    #[error("the item changed since it was read")]
    StaleVersion,
    /// An item that must be new already exists.
    #[error("the item already exists")]
    AlreadyExists,
    /// The idempotency key of a change is held by a live record of another request (a completed
    /// one, or one in progress with another body): nothing was written. `find` says which.
    #[error("the idempotency key is in use")]
    IdempotencyKeyInUse,
    /// A pagination cursor that this store did not hand out.
    #[error("the pagination cursor is not valid")]
    InvalidCursor,
    /// The backend is overloaded or unreachable and retries are exhausted: the caller may retry.
    #[error("the store is unavailable, retry later")]
    Unavailable(#[source] BoxError),
    /// The patient holds [`BookingCap::max`] upcoming appointments already: nothing was written.
    /// `next_free_at` is when the first of them ends (`None` if the store could not tell).
    #[error("the patient holds the most upcoming appointments allowed")]
    BookingCapReached { next_free_at: Option<DateTime<Utc>> },
    /// A stored item no longer parses into the domain.
    #[error("a stored item is corrupt: {0}")]
    Corrupt(String),
    /// Anything else from the backend.
    #[error("the store failed")]
    Internal(#[source] BoxError),
}

impl From<InvalidValue> for StoreError {
    fn from(value: InvalidValue) -> Self {
        StoreError::Corrupt(value.to_string())
    }
}

/// A page of results and the opaque cursor for the next one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: u32,
    pub cursor: Option<String>,
}

impl PageRequest {
    pub const DEFAULT_LIMIT: u32 = 50;
    pub const MAX_LIMIT: u32 = 100;

    pub fn first(limit: u32) -> Self {
        Self {
            limit,
            cursor: None,
        }
    }
}

/// Whose appointments: a patient's or a doctor's (each is an index in DynamoDB).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Party {
    Patient(UserId),
    Doctor(UserId),
}

/// Start times from `from` (inclusive) to `to` (exclusive); either end may be open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeRange {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

#[async_trait]
pub trait Directory: Send + Sync {
    async fn list_doctors(&self) -> Result<Vec<Doctor>, StoreError>;
    async fn get_doctor(&self, id: &UserId) -> Result<Option<Doctor>, StoreError>;
    async fn put_doctor(&self, doctor: &Doctor) -> Result<(), StoreError>;
    async fn get_user(&self, id: &UserId) -> Result<Option<UserProfile>, StoreError>;
    async fn put_user(&self, user: &UserProfile) -> Result<(), StoreError>;

    /// What it takes to reach each of `ids` — the profile and the registered push devices — in
    /// one read (one `BatchGetItem` on DynamoDB: a user's devices live in their profile item), in
    /// the order asked. An id may be asked twice. The side effects read both participants of an
    /// appointment with it, once per change and once per reminder.
    async fn get_contacts(&self, ids: &[UserId]) -> Result<Vec<Contacts>, StoreError>;
}

/// How to reach a user: the profile (time zone, phone, SMS opt-in) where they have one, and the
/// devices registered for push reminders (a user may register one before they have a profile).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Contacts {
    pub profile: Option<UserProfile>,
    /// Ordered by device id.
    pub devices: Vec<Device>,
}

#[async_trait]
pub trait AppointmentStore: Send + Sync {
    /// Writes a new appointment and its doctor-slot lock in one transaction, and completes the
    /// idempotency record when one is given. `SlotTaken` when the slot is held already.
    ///
    /// With a completion, the transaction also requires that no live record of another request
    /// holds the key: a completed one, or one in progress with another fingerprint (one in
    /// progress with the same fingerprint is this request's own claim, or a concurrent retry of
    /// it). Otherwise nothing is written and the error is `IdempotencyKeyInUse`, which wins over
    /// `SlotTaken` (the retry of a booking finds its own slot lock). So a booking needs no claim
    /// before it: the key, the appointment and the lock change together or not at all.
    async fn create(
        &self,
        appointment: &Appointment,
        idempotency: Option<&IdempotencyCompletion>,
    ) -> Result<(), StoreError>;

    /// [`create`](Self::create) with the booking's audit event in the same transaction: the
    /// appointment and the record of who booked it exist together or not at all, in one write.
    ///
    /// With a `cap`, the same transaction also requires that the patient holds fewer than
    /// `cap.max` upcoming appointments (holding a slot, ending after `cap.now`); otherwise nothing
    /// is written and the error is `BookingCapReached`. Two bookings at the same instant cannot
    /// both pass it. `IdempotencyKeyInUse` and `SlotTaken` win over it.
    async fn create_audited(
        &self,
        appointment: &Appointment,
        idempotency: Option<&IdempotencyCompletion>,
        audit: &AuditEvent,
        cap: Option<BookingCap>,
    ) -> Result<(), StoreError>;

    async fn get(&self, id: &AppointmentId) -> Result<Option<Appointment>, StoreError>;

    /// Replaces `previous` with `next` in one transaction, on condition that the stored version
    /// is still `previous.version`: releases the slot lock when `next` no longer holds a slot,
    /// moves it when the start changed. `StaleVersion` or `SlotTaken` when the condition fails.
    async fn update(&self, previous: &Appointment, next: &Appointment) -> Result<(), StoreError>;

    /// A party's appointments ordered by start (then id), one page at a time.
    async fn list_for(
        &self,
        party: &Party,
        range: TimeRange,
        page: PageRequest,
    ) -> Result<Page<Appointment>, StoreError>;

    /// Starts of the doctor's slots held by appointments with a start in `[from, to)`.
    async fn taken_slots(
        &self,
        doctor: &UserId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>, StoreError>;
}

/// The most upcoming appointments one patient may hold, enforced inside the booking's
/// transaction (see [`AppointmentStore::create_audited`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BookingCap {
    pub max: usize,
    /// Appointments that end at or before this instant are over and do not count.
    pub now: DateTime<Utc>,
}

/// An `Idempotency-Key`, scoped to the caller who sent it: one user's key never collides with
/// another's.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey {
    pub user: UserId,
    pub key: String,
}

impl IdempotencyKey {
    /// Keys are 1–255 visible ASCII characters (a UUID is what clients usually send).
    pub fn parse(user: UserId, raw: &str) -> Result<Self, InvalidValue> {
        let ok = !raw.is_empty() && raw.len() <= 255 && raw.bytes().all(|b| b.is_ascii_graphic());
        if ok {
            Ok(Self {
                user,
                key: raw.to_owned(),
            })
        } else {
            Err(InvalidValue::new(
                "Idempotency-Key",
                "must be 1-255 visible ASCII characters",
            ))
        }
    }
}

impl fmt::Debug for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdempotencyKey({}/{})", self.user, self.key)
    }
}

/// A response kept so that a retried request can be answered with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: String,
}

/// What `begin` found for a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyBegin {
    /// No live record: this request now holds the lease and must complete or release it.
    Started,
    /// The same request completed before: answer with its response.
    Replay(StoredResponse),
    /// The same request is being processed right now (its lease has not run out).
    InProgress,
    /// The key was used with a different request body.
    Mismatch,
}

/// The completed record written in the same transaction as the change it protects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyCompletion {
    pub key: IdempotencyKey,
    pub fingerprint: String,
    pub response: StoredResponse,
    /// When the request came in: a record that expired by then no longer holds the key.
    pub requested_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// Idempotency records after the Powertools design: in progress with a lease, or completed with
/// the response; expiry is checked in code because TTL deletion lags.
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Claims the key for this request unless a live record exists. An in-progress record whose
    /// lease ran out (its worker died) is taken over; an expired record counts as absent.
    async fn begin(
        &self,
        key: &IdempotencyKey,
        fingerprint: &str,
        now: DateTime<Utc>,
        lease: Duration,
        expires_at: DateTime<Utc>,
    ) -> Result<IdempotencyBegin, StoreError>;

    /// Drops an in-progress record after a failure, so a retry can run again.
    async fn release(&self, key: &IdempotencyKey) -> Result<(), StoreError>;

    /// What a live record of the key means for a request with `fingerprint` at `now`, without
    /// claiming anything: `Replay`, `InProgress` or `Mismatch`, or `None` when no live record
    /// holds the key (absent, expired, or this request's own lapsed lease). One read, for the
    /// paths where a change did not happen and the key may explain why.
    async fn find(
        &self,
        key: &IdempotencyKey,
        fingerprint: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<IdempotencyBegin>, StoreError>;
}
