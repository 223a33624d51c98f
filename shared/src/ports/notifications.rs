//! Store ports of notifications and reminders: in-app notifications, user profiles created on
//! first sight, registered push devices and the once-only gate of each reminder.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

use super::{Contacts, Page, PageRequest, StoreError};
use crate::domain::device::{Device, DeviceId};
use crate::domain::notification::{Notification, NotificationId};
use crate::domain::reminder::ReminderRequest;
use crate::domain::{Appointment, UserId, UserProfile};

#[async_trait]
pub trait NotificationStore: Send + Sync {
    /// Adds `notification` unless one with its id exists for its user (a redelivered event
    /// renders the same id). Returns whether it was added.
    async fn add_notification(&self, notification: &Notification) -> Result<bool, StoreError>;

    /// Stores `notifications` in one write (one `BatchWriteItem` per 25 on DynamoDB), for the
    /// side effects that tell both participants at once. Unlike [`add_notification`], a
    /// notification whose id exists may be written again with the same content (DynamoDB's batch
    /// writes take no condition): a redelivered change leaves one notification per id, but one
    /// read in between may show as unread again. The embedded store keeps the read mark.
    ///
    /// [`add_notification`]: Self::add_notification
    async fn add_notifications(&self, notifications: &[Notification]) -> Result<(), StoreError>;

    /// The user's notifications, newest first, one page at a time.
    async fn notifications_of(
        &self,
        user: &UserId,
        page: PageRequest,
    ) -> Result<Page<Notification>, StoreError>;

    async fn unread_count(&self, user: &UserId) -> Result<u64, StoreError>;

    /// Marks the user's notification read and returns it; `None` when the user has no
    /// notification with that id (someone else's is the same as none).
    async fn mark_read(
        &self,
        user: &UserId,
        id: &NotificationId,
    ) -> Result<Option<Notification>, StoreError>;
}

#[async_trait]
pub trait ProfileStore: Send + Sync {
    /// Writes `profile` unless the user has one, and returns the stored profile either way: two
    /// first requests at once never overwrite what a third wrote in between.
    async fn create_profile_if_absent(
        &self,
        profile: &UserProfile,
    ) -> Result<UserProfile, StoreError>;
}

#[async_trait]
pub trait DeviceRegistry: Send + Sync {
    /// Registers `device` for its user; registering the same id again keeps and returns the first.
    async fn register_device(&self, device: &Device) -> Result<Device, StoreError>;

    async fn devices_of(&self, user: &UserId) -> Result<Vec<Device>, StoreError>;

    /// Removes the user's device and returns it; `None` when the user has no such device.
    async fn remove_device(
        &self,
        user: &UserId,
        id: &DeviceId,
    ) -> Result<Option<Device>, StoreError>;
}

/// What a claim on a reminder's gate found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateClaim {
    /// Nobody sent it and nobody holds a live lease: this worker sends it, then completes it (or
    /// releases the gate after a failure).
    Claimed,
    /// It was sent already: a duplicate delivery, do nothing.
    AlreadySent,
    /// Another worker is sending it right now (its lease has not run out).
    InProgress,
}

/// The once-only gate of a reminder (`REMINDER#<kind>#<version>` of the appointment): a lease for
/// the worker sending it, then a record that it was sent.
#[async_trait]
pub trait ReminderGate: Send + Sync {
    /// Claims the reminder unless it was sent or a live lease holds it; a lease that ran out (its
    /// worker died) is taken over. `expires_at` is when the record may be forgotten.
    async fn claim_reminder(
        &self,
        reminder: &ReminderRequest,
        now: DateTime<Utc>,
        lease: Duration,
        expires_at: DateTime<Utc>,
    ) -> Result<GateClaim, StoreError>;

    /// Marks the claimed reminder sent and stores its in-app `notices` in the same write (one
    /// `BatchWriteItem` on DynamoDB: the notices and the gate record; one transaction on SQLite),
    /// after the deliveries. `expires_at` is when the record may be forgotten, as at the claim.
    /// The notices are written as [`NotificationStore::add_notifications`] writes them.
    async fn complete_reminder(
        &self,
        reminder: &ReminderRequest,
        notices: &[Notification],
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Drops a claim after a failure so a retry can send it.
    async fn release_reminder(&self, reminder: &ReminderRequest) -> Result<(), StoreError>;
}

/// What a fired reminder works on: the appointment as it is now and how to reach both of its
/// users.
#[derive(Debug, Clone, PartialEq)]
pub struct ReminderSubject {
    pub appointment: Appointment,
    /// The patient's, then the doctor's.
    pub contacts: [Contacts; 2],
}

#[async_trait]
pub trait ReminderReads: Send + Sync {
    /// The reminder's appointment, read consistently, and the contacts of its patient and
    /// doctor; `None` when there is no such appointment. The contacts are always those of the
    /// stored appointment's participants. When the reminder names them, all of it is one read
    /// (one `BatchGetItem` on DynamoDB); a reminder that names none (a payload from before they
    /// were added) or others costs the DynamoDB store a second read. The embedded store reads it
    /// all in one transaction either way.
    async fn reminder_subject(
        &self,
        reminder: &ReminderRequest,
    ) -> Result<Option<ReminderSubject>, StoreError>;
}
