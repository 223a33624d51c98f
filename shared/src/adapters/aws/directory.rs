//! Doctors and user profiles in the DynamoDB store.

use std::collections::HashMap;

use async_trait::async_trait;

use super::table::keys;
use super::{body_of, get_s, key, s, to_json, DynamoDbStore, BODY, ENTITY, PARTITION_KEY};
use crate::domain::{Doctor, UserId, UserProfile};
use crate::ports::{Directory, StoreError};

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
        self.get_item(key(keys::user_pk(id), keys::PROFILE_SK))
            .await?
            .map(|item| body_of(&item))
            .transpose()
    }

    async fn get_users(&self, ids: &[UserId]) -> Result<Vec<Option<UserProfile>>, StoreError> {
        // BatchGetItem refuses a key asked twice.
        let mut distinct: Vec<&UserId> = Vec::with_capacity(ids.len());
        for id in ids {
            if !distinct.contains(&id) {
                distinct.push(id);
            }
        }
        let keys = distinct
            .iter()
            .map(|id| key(keys::user_pk(id), keys::PROFILE_SK))
            .collect();
        let items = self.batch_get(keys).await?;
        let found = items
            .iter()
            .map(|item| Ok((get_s(item, PARTITION_KEY)?.to_owned(), item)))
            .collect::<Result<HashMap<_, _>, StoreError>>()?;
        ids.iter()
            .map(|id| {
                found
                    .get(&keys::user_pk(id))
                    .map(|item| body_of(item))
                    .transpose()
            })
            .collect()
    }

    async fn put_user(&self, user: &UserProfile) -> Result<(), StoreError> {
        let mut item = key(keys::user_pk(&user.id), keys::PROFILE_SK);
        item.insert(ENTITY.into(), s("user"));
        item.insert(BODY.into(), s(to_json(user)?));
        self.put_plain(item).await
    }
}
