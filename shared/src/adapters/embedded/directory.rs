//! Doctors and user profiles in the embedded store.

use async_trait::async_trait;
use rusqlite::{params, Connection};

use super::notifications::devices_of;
use super::{body_by_id, from_json, internal, to_json, EmbeddedStore};
use crate::domain::{Doctor, UserId, UserProfile};
use crate::ports::{Contacts, Directory, StoreError};

#[async_trait]
impl Directory for EmbeddedStore {
    async fn list_doctors(&self) -> Result<Vec<Doctor>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn
                .prepare_cached("SELECT body FROM doctors ORDER BY name, id")
                .map_err(internal)?;
            let rows = stmt
                .query_map([], |row| row.get::<_, String>(0))
                .map_err(internal)?;
            rows.map(|r| from_json(&r.map_err(internal)?)).collect()
        })
        .await
    }

    async fn get_doctor(&self, id: &UserId) -> Result<Option<Doctor>, StoreError> {
        let id = id.to_string();
        self.read(move |conn| body_by_id(conn, "doctors", &id))
            .await
    }

    async fn put_doctor(&self, doctor: &Doctor) -> Result<(), StoreError> {
        let (id, name, body) = (doctor.id.to_string(), doctor.name.clone(), to_json(doctor)?);
        self.run(move |conn| {
            super::exec(
                conn,
                "INSERT INTO doctors (id, name, body) VALUES (?1, ?2, ?3)
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, body = excluded.body",
                params![id, name, body],
            )
            .map_err(internal)?;
            Ok(())
        })
        .await
    }

    async fn get_user(&self, id: &UserId) -> Result<Option<UserProfile>, StoreError> {
        let id = id.to_string();
        self.read(move |conn| body_by_id(conn, "users", &id)).await
    }

    async fn get_contacts(&self, ids: &[UserId]) -> Result<Vec<Contacts>, StoreError> {
        let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
        // One connection turn for all of them, as one BatchGetItem is on DynamoDB.
        self.read(move |conn| ids.iter().map(|id| contacts_of(conn, id)).collect())
            .await
    }

    async fn put_user(&self, user: &UserProfile) -> Result<(), StoreError> {
        let (id, body) = (user.id.to_string(), to_json(user)?);
        self.run(move |conn| {
            super::exec(
                conn,
                "INSERT INTO users (id, body) VALUES (?1, ?2)
                 ON CONFLICT (id) DO UPDATE SET body = excluded.body",
                params![id, body],
            )
            .map_err(internal)?;
            Ok(())
        })
        .await
    }
}

/// How to reach user `id`: their profile and devices, inside the caller's read transaction.
pub(super) fn contacts_of(conn: &Connection, id: &str) -> Result<Contacts, StoreError> {
    Ok(Contacts {
        profile: body_by_id(conn, "users", id)?,
        devices: devices_of(conn, id)?,
    })
}
