//! Doctors, and user profiles with their push devices, in the DynamoDB store.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::AttributeValue;

use super::table::keys;
use super::{
    body_of, get_s, key, s, sdk_error, to_json, DynamoDbStore, Item, BODY, ENTITY, PARTITION_KEY,
};
use crate::domain::device::{Device, DeviceId};
use crate::domain::{Doctor, UserId, UserProfile};
use crate::ports::{Contacts, Directory, StoreError};

const NAME: &str = "name";

#[async_trait]
impl Directory for DynamoDbStore {
    async fn list_doctors(&self) -> Result<Vec<Doctor>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            // A doctor just added is listed at once, as in the embedded store.
            .consistent_read(true)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", super::PARTITION_KEY)
            .expression_attribute_values(":pk", s(keys::DIRECTORY_PK));
        let mut doctors = self
            .query_all(query)
            .await?
            .iter()
            .map(body_of::<Doctor>)
            .collect::<Result<Vec<_>, _>>()?;
        // The partition is ordered by id; people look for doctors by name.
        doctors.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
        Ok(doctors)
    }

    async fn get_doctor(&self, id: &UserId) -> Result<Option<Doctor>, StoreError> {
        self.get_item(key(keys::DIRECTORY_PK, keys::doctor_sk(id)))
            .await?
            .map(|item| body_of(&item))
            .transpose()
    }

    async fn put_doctor(&self, doctor: &Doctor) -> Result<(), StoreError> {
        let mut item = key(keys::DIRECTORY_PK, keys::doctor_sk(&doctor.id));
        item.insert(ENTITY.into(), s("doctor"));
        item.insert(NAME.into(), s(doctor.name.clone()));
        item.insert(BODY.into(), s(to_json(doctor)?));
        self.put_plain(item).await
    }

    async fn get_user(&self, id: &UserId) -> Result<Option<UserProfile>, StoreError> {
        match self.get_item(profile_key(id)).await? {
            Some(item) => profile_of(&item),
            None => Ok(None),
        }
    }

    async fn get_contacts(&self, ids: &[UserId]) -> Result<Vec<Contacts>, StoreError> {
        let items = self.batch_get(profile_keys(ids)).await?;
        contacts_in(&items, ids)
    }

    async fn put_user(&self, user: &UserProfile) -> Result<(), StoreError> {
        self.profile_update(user)?.send().await.map_err(sdk_error)?;
        Ok(())
    }
}

impl DynamoDbStore {
    /// An UpdateItem that writes `profile` into its item: an update, not a put, because the
    /// item also holds the user's devices, which must stay. `#body` names the profile.
    pub(super) fn profile_update(
        &self,
        profile: &UserProfile,
    ) -> Result<UpdateItemFluentBuilder, StoreError> {
        Ok(self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(profile_key(&profile.id)))
            .update_expression("SET #entity = :entity, #body = :body")
            .expression_attribute_names("#entity", ENTITY)
            .expression_attribute_names("#body", BODY)
            .expression_attribute_values(":entity", s(USER_ENTITY))
            .expression_attribute_values(":body", s(to_json(profile)?)))
    }
}

/// What a user's profile item (`USER#<user>` / `PROFILE`) is marked as.
pub(super) const USER_ENTITY: &str = "user";
/// The prefix of the attributes that hold a user's devices in the profile item, one attribute
/// `device#<device id>` per device with its JSON: the side effects read a user's profile and
/// devices in one item, and registering or removing a device touches that attribute only.
pub(super) const DEVICE_ATTRIBUTE_PREFIX: &str = "device#";

pub(super) fn profile_key(id: &UserId) -> Item {
    key(keys::user_pk(id), keys::PROFILE_SK)
}

/// The profile items' keys of `ids`, each once: BatchGetItem refuses a key asked twice.
pub(super) fn profile_keys(ids: &[UserId]) -> Vec<Item> {
    let mut distinct: Vec<&UserId> = Vec::with_capacity(ids.len());
    for id in ids {
        if !distinct.contains(&id) {
            distinct.push(id);
        }
    }
    distinct.into_iter().map(profile_key).collect()
}

/// The contacts of each of `ids`, in order, from the profile items among `items` (a user with
/// no item has none). Items of other entities are passed over.
pub(super) fn contacts_in(items: &[Item], ids: &[UserId]) -> Result<Vec<Contacts>, StoreError> {
    let found = items
        .iter()
        .map(|item| Ok((get_s(item, PARTITION_KEY)?, item)))
        .collect::<Result<HashMap<_, _>, StoreError>>()?;
    ids.iter()
        .map(|id| match found.get(keys::user_pk(id).as_str()) {
            Some(item) => Ok(Contacts {
                profile: profile_of(item)?,
                devices: devices_in(item)?,
            }),
            None => Ok(Contacts::default()),
        })
        .collect()
}

pub(super) fn device_attribute(id: &DeviceId) -> String {
    format!("{DEVICE_ATTRIBUTE_PREFIX}{id}")
}

/// The profile in a profile item; `None` when the item holds only devices (registered before
/// the profile was made).
pub(super) fn profile_of(item: &Item) -> Result<Option<UserProfile>, StoreError> {
    if item.contains_key(BODY) {
        body_of(item).map(Some)
    } else {
        Ok(None)
    }
}

/// The devices in a profile item, by id.
pub(super) fn devices_in(item: &Item) -> Result<Vec<Device>, StoreError> {
    let mut devices = item
        .iter()
        .filter(|(name, _)| name.starts_with(DEVICE_ATTRIBUTE_PREFIX))
        .map(|(name, value)| device_of(name, value))
        .collect::<Result<Vec<_>, _>>()?;
    devices.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(devices)
}

pub(super) fn device_of(name: &str, value: &AttributeValue) -> Result<Device, StoreError> {
    let AttributeValue::S(json) = value else {
        return Err(StoreError::Corrupt(format!("{name} is not a string")));
    };
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt(e.to_string()))
}
