//! Notifications, profiles created on first sight, push devices and reminder gates on the
//! DynamoDB store's one table (see `docs/reminders.md`):
//!
//! | item | pk | sk |
//! |---|---|---|
//! | notification | `USER#<user>` | `NOTIF#<notification id>` (ids sort by creation time) |
//! | reminder gate | `APPT#<appointment>` | `REMINDER#<kind>#v<version>` |
//!
//! Profiles and push devices share the profile item (`USER#<user>` / `PROFILE`, see
//! `directory.rs`): a device is its attribute `device#<device id>`.
//!
//! Every access is a key lookup or a Query on one user's partition; nothing scans.

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, Select};
use chrono::{DateTime, Duration, Utc};

use super::directory::{
    contacts_in, device_attribute, device_of, devices_in, profile_key, profile_keys, profile_of,
    USER_ENTITY,
};
use super::table::keys;
use super::{
    body_of, get_s, key, n, s, sdk_error, to_json, DynamoDbStore, Item, BODY, ENTITY,
    PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE,
};
use crate::adapters::sortable_time;
use crate::domain::device::{Device, DeviceId};
use crate::domain::notification::{Notification, NotificationId};
use crate::domain::reminder::{Participants, ReminderRequest};
use crate::domain::{Appointment, UserId, UserProfile};
use crate::ports::{
    Contacts, DeviceRegistry, Directory, GateClaim, NotificationStore, Page, PageRequest,
    ProfileStore, ReminderGate, ReminderReads, ReminderSubject, StoreError,
};

const NOTIFICATION_PREFIX: &str = "NOTIF#";
const READ: &str = "read";
const STATUS: &str = "status";
const LEASE_UNTIL: &str = "lease_until";
/// How long a notification is kept before TTL may delete it.
const NOTIFICATION_RETENTION: Duration = Duration::days(180);

fn notification_sk(id: &NotificationId) -> String {
    format!("{NOTIFICATION_PREFIX}{id}")
}

fn gate_key(r: &ReminderRequest) -> Item {
    key(
        keys::appointment_pk(&r.appointment_id),
        format!("REMINDER#{}#v{}", r.kind, r.version),
    )
}

fn with(
    mut item: Item,
    attributes: impl IntoIterator<Item = (&'static str, AttributeValue)>,
) -> Item {
    for (name, value) in attributes {
        item.insert(name.to_owned(), value);
    }
    item
}

/// Whether an SDK error is a failed condition (the item exists, or is not in the expected state).
fn condition_failed<E: aws_sdk_dynamodb::error::ProvideErrorMetadata, R>(
    e: &SdkError<E, R>,
) -> bool {
    e.as_service_error()
        .and_then(|s| s.code())
        .is_some_and(|c| c == "ConditionalCheckFailedException")
}

/// The items of a batch of notifications. BatchWriteItem refuses a key twice in one batch; the
/// first of an id wins, as with `add_notification`.
fn notice_items(notifications: &[Notification]) -> Result<Vec<Item>, StoreError> {
    let mut seen = std::collections::HashSet::new();
    notifications
        .iter()
        .filter(|n| seen.insert((n.user_id.clone(), n.id.clone())))
        .map(notification_item)
        .collect()
}

fn notification_item(notification: &Notification) -> Result<Item, StoreError> {
    let expires = notification.created_at + NOTIFICATION_RETENTION;
    Ok(with(
        key(
            keys::user_pk(&notification.user_id),
            notification_sk(&notification.id),
        ),
        [
            (ENTITY, s("notification")),
            (BODY, s(to_json(notification)?)),
            (READ, AttributeValue::Bool(notification.read)),
            (TTL_ATTRIBUTE, n(expires.timestamp())),
        ],
    ))
}

fn notification_of(item: &Item) -> Result<Notification, StoreError> {
    let mut n: Notification = body_of(item)?;
    n.read = matches!(item.get(READ), Some(AttributeValue::Bool(true)));
    Ok(n)
}

fn encode_cursor(id: &NotificationId) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id.as_str())
}

fn decode_cursor(raw: &str) -> Result<NotificationId, StoreError> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(raw)
        .map_err(|_| StoreError::InvalidCursor)?;
    let text = String::from_utf8(bytes).map_err(|_| StoreError::InvalidCursor)?;
    NotificationId::parse(&text).map_err(|_| StoreError::InvalidCursor)
}

impl DynamoDbStore {
    /// Puts `item` unless an item with its key exists; `false` when one did.
    async fn put_if_absent(&self, item: Item) -> Result<bool, StoreError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .send()
            .await;
        match put {
            Ok(_) => Ok(true),
            Err(e) if condition_failed(&e) => Ok(false),
            Err(e) => Err(sdk_error(e)),
        }
    }
}

#[async_trait]
impl NotificationStore for DynamoDbStore {
    async fn add_notification(&self, notification: &Notification) -> Result<bool, StoreError> {
        self.put_if_absent(notification_item(notification)?).await
    }

    async fn add_notifications(&self, notifications: &[Notification]) -> Result<(), StoreError> {
        self.batch_put(notice_items(notifications)?, "notifications")
            .await
    }

    async fn notifications_of(
        &self,
        user: &UserId,
        page: PageRequest,
    ) -> Result<Page<Notification>, StoreError> {
        let after = page.cursor.as_deref().map(decode_cursor).transpose()?;
        let limit = page.limit.clamp(1, PageRequest::MAX_LIMIT);
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_names("#sk", SORT_KEY)
            .expression_attribute_values(":pk", s(keys::user_pk(user)))
            .expression_attribute_values(":prefix", s(NOTIFICATION_PREFIX))
            // Newest first: ids, and so sort keys, order by creation time.
            .scan_index_forward(false)
            .consistent_read(true)
            // One more than asked tells whether another page follows.
            .limit(limit as i32 + 1)
            .set_exclusive_start_key(after.map(|id| key(keys::user_pk(user), notification_sk(&id))))
            .send()
            .await
            .map_err(sdk_error)?;
        let mut items = out
            .items()
            .iter()
            .map(notification_of)
            .collect::<Result<Vec<_>, _>>()?;
        let next_cursor = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(|n| encode_cursor(&n.id))
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    async fn unread_count(&self, user: &UserId) -> Result<u64, StoreError> {
        let mut count = 0u64;
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                .filter_expression("#read = :unread")
                .expression_attribute_names("#pk", PARTITION_KEY)
                .expression_attribute_names("#sk", SORT_KEY)
                .expression_attribute_names("#read", READ)
                .expression_attribute_values(":pk", s(keys::user_pk(user)))
                .expression_attribute_values(":prefix", s(NOTIFICATION_PREFIX))
                .expression_attribute_values(":unread", AttributeValue::Bool(false))
                .select(Select::Count)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(sdk_error)?;
            count += u64::try_from(out.count).unwrap_or(0);
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(count);
            }
        }
    }

    async fn mark_read(
        &self,
        user: &UserId,
        id: &NotificationId,
    ) -> Result<Option<Notification>, StoreError> {
        let updated = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::user_pk(user), notification_sk(id))))
            .update_expression("SET #read = :read")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_names("#read", READ)
            .expression_attribute_values(":read", AttributeValue::Bool(true))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match updated {
            Ok(out) => out.attributes.as_ref().map(notification_of).transpose(),
            Err(e) if condition_failed(&e) => Ok(None),
            Err(e) => Err(sdk_error(e)),
        }
    }
}

#[async_trait]
impl ProfileStore for DynamoDbStore {
    async fn create_profile_if_absent(
        &self,
        profile: &UserProfile,
    ) -> Result<UserProfile, StoreError> {
        // The item `Directory::put_user` writes; it may exist already with devices only.
        let created = self
            .profile_update(profile)?
            .condition_expression("attribute_not_exists(#body)")
            .send()
            .await;
        match created {
            Ok(_) => return Ok(profile.clone()),
            Err(e) if condition_failed(&e) => {}
            Err(e) => return Err(sdk_error(e)),
        }
        let stored = self.get_item(profile_key(&profile.id)).await?;
        stored
            .as_ref()
            .map(profile_of)
            .transpose()?
            .flatten()
            .ok_or_else(|| {
                StoreError::Corrupt("a profile vanished between its write and its read".into())
            })
    }
}

#[async_trait]
impl DeviceRegistry for DynamoDbStore {
    async fn register_device(&self, device: &Device) -> Result<Device, StoreError> {
        let attribute = device_attribute(&device.id);
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(profile_key(&device.user_id)))
            // The first registration stays (the same token gives the same id).
            .update_expression("SET #entity = :entity, #device = if_not_exists(#device, :device)")
            .expression_attribute_names("#entity", ENTITY)
            .expression_attribute_names("#device", &attribute)
            .expression_attribute_values(":entity", s(USER_ENTITY))
            .expression_attribute_values(":device", s(to_json(device)?))
            // Not UPDATED_NEW: an attribute `if_not_exists` kept is not always counted as
            // updated (moto leaves it out), and the stored device is what the caller gets.
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(sdk_error)?;
        let stored = out
            .attributes
            .as_ref()
            .and_then(|a| a.get(&attribute))
            .ok_or_else(|| StoreError::Corrupt("a registered device was not returned".into()))?;
        device_of(&attribute, stored)
    }

    async fn devices_of(&self, user: &UserId) -> Result<Vec<Device>, StoreError> {
        match self.get_item(profile_key(user)).await? {
            Some(item) => devices_in(&item),
            None => Ok(Vec::new()),
        }
    }

    async fn remove_device(
        &self,
        user: &UserId,
        id: &DeviceId,
    ) -> Result<Option<Device>, StoreError> {
        let attribute = device_attribute(id);
        let removed = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(profile_key(user)))
            .update_expression("REMOVE #device")
            // Without it, an update of a missing item would create an empty one.
            .condition_expression("attribute_exists(#device)")
            .expression_attribute_names("#device", &attribute)
            .return_values(ReturnValue::UpdatedOld)
            .send()
            .await;
        match removed {
            Ok(out) => out
                .attributes
                .as_ref()
                .and_then(|a| a.get(&attribute))
                .map(|value| device_of(&attribute, value))
                .transpose(),
            Err(e) if condition_failed(&e) => Ok(None),
            Err(e) => Err(sdk_error(e)),
        }
    }
}

#[async_trait]
impl ReminderGate for DynamoDbStore {
    async fn claim_reminder(
        &self,
        reminder: &ReminderRequest,
        now: DateTime<Utc>,
        lease: Duration,
        expires_at: DateTime<Utc>,
    ) -> Result<GateClaim, StoreError> {
        let item = with(
            gate_key(reminder),
            [
                (ENTITY, s("reminder_gate")),
                (STATUS, s("in_progress")),
                (LEASE_UNTIL, s(sortable_time(now + lease))),
                (TTL_ATTRIBUTE, n(expires_at.timestamp())),
            ],
        );
        // Free when absent, when a lease ran out before the worker finished, or when the record
        // expired (TTL deletion lags, so expiry is checked here).
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(
                "attribute_not_exists(#pk) OR (#status = :in_progress AND #lease < :now) OR #exp < :epoch",
            )
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_names("#lease", LEASE_UNTIL)
            .expression_attribute_names("#exp", TTL_ATTRIBUTE)
            .expression_attribute_values(":in_progress", s("in_progress"))
            .expression_attribute_values(":now", s(sortable_time(now)))
            .expression_attribute_values(":epoch", n(now.timestamp()))
            .send()
            .await;
        match put {
            Ok(_) => Ok(GateClaim::Claimed),
            Err(e) if condition_failed(&e) => {
                let found = self.get_item(gate_key(reminder)).await?;
                match found.as_ref().map(|item| get_s(item, STATUS)).transpose()? {
                    Some("sent") => Ok(GateClaim::AlreadySent),
                    // Gone again already (released by its holder): the retry will claim it.
                    _ => Ok(GateClaim::InProgress),
                }
            }
            Err(e) => Err(sdk_error(e)),
        }
    }

    async fn complete_reminder(
        &self,
        reminder: &ReminderRequest,
        notices: &[Notification],
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        // The gate's "sent" rides in the notices' batch: one call instead of two. A put, not an
        // update (a batch takes puts only): it replaces the claim this worker holds.
        let mut items = notice_items(notices)?;
        items.push(with(
            gate_key(reminder),
            [
                (ENTITY, s("reminder_gate")),
                (STATUS, s("sent")),
                (TTL_ATTRIBUTE, n(expires_at.timestamp())),
            ],
        ));
        self.batch_put(items, "reminder notices and gate").await
    }

    async fn release_reminder(&self, reminder: &ReminderRequest) -> Result<(), StoreError> {
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(gate_key(reminder)))
            .condition_expression("#status = :in_progress")
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_values(":in_progress", s("in_progress"))
            .send()
            .await;
        match deleted {
            Ok(_) => Ok(()),
            // Sent (or gone) already: nothing to release.
            Err(e) if condition_failed(&e) => Ok(()),
            Err(e) => Err(sdk_error(e)),
        }
    }
}

#[async_trait]
impl ReminderReads for DynamoDbStore {
    async fn reminder_subject(
        &self,
        reminder: &ReminderRequest,
    ) -> Result<Option<ReminderSubject>, StoreError> {
        let appointment_pk = keys::appointment_pk(&reminder.appointment_id);
        let appointment_key = key(appointment_pk.clone(), keys::APPOINTMENT_SK);
        let Some(named) = &reminder.participants else {
            // A payload from before the participants were in it: two reads.
            return match self.get_item(appointment_key).await? {
                Some(item) => self.subject_of(body_of(&item)?).await.map(Some),
                None => Ok(None),
            };
        };
        // The appointment and both profiles in one consistent BatchGetItem (docs/performance.md).
        let ids = [named.patient.clone(), named.doctor.clone()];
        let mut keys = vec![appointment_key];
        keys.extend(profile_keys(&ids));
        let items = self.batch_get(keys).await?;
        let mut appointment = None;
        for item in &items {
            if get_s(item, PARTITION_KEY)? == appointment_pk {
                appointment = Some(body_of::<Appointment>(item)?);
            }
        }
        let Some(appointment) = appointment else {
            return Ok(None);
        };
        if Participants::of(&appointment) != *named {
            // Not a payload this code writes; read the appointment's own participants.
            tracing::warn!(appointment_id = %appointment.id, "reminder names other participants than its appointment");
            return self.subject_of(appointment).await.map(Some);
        }
        Ok(Some(ReminderSubject {
            contacts: both(contacts_in(&items, &ids)?)?,
            appointment,
        }))
    }
}

impl DynamoDbStore {
    /// `appointment` with its participants' contacts, read by themselves.
    async fn subject_of(&self, appointment: Appointment) -> Result<ReminderSubject, StoreError> {
        let contacts = self
            .get_contacts(&[
                appointment.patient_id.clone(),
                appointment.doctor_id.clone(),
            ])
            .await?;
        Ok(ReminderSubject {
            contacts: both(contacts)?,
            appointment,
        })
    }
}

fn both(contacts: Vec<Contacts>) -> Result<[Contacts; 2], StoreError> {
    contacts
        .try_into()
        .map_err(|_| StoreError::Internal("contacts read for another number of users".into()))
}
