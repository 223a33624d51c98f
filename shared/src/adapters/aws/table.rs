//! The one table's shape: key and index names, how each item's keys are spelled, and the creation
//! of the table where none exists yet (moto in tests, the local server pointed at a local
//! endpoint). `template.yaml` declares the same table for AWS; a test holds the two together.

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
    TimeToLiveSpecification,
};
use chrono::{DateTime, Utc};

use super::{build_error, sdk_error, DynamoDbStore};
use crate::adapters::sortable_time;
use crate::domain::{AppointmentId, UserId};
use crate::ports::{IdempotencyKey, StoreError};

/// The table's partition key (a string).
pub const PARTITION_KEY: &str = "pk";
/// The table's sort key (a string).
pub const SORT_KEY: &str = "sk";
/// Epoch seconds after which DynamoDB may delete the item (TTL); code never relies on it.
pub const TTL_ATTRIBUTE: &str = "expires_at";

/// A global secondary index with a string partition and sort key, projecting every attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexSpec {
    pub name: &'static str,
    pub partition_key: &'static str,
    pub sort_key: &'static str,
}

/// A doctor's appointments ordered by start (then id): `DOCTOR#<id>` / `<start>#<appointment id>`.
pub const DOCTOR_APPOINTMENTS: IndexSpec = IndexSpec {
    name: "DoctorAppointments",
    partition_key: "doctor_pk",
    sort_key: "doctor_sk",
};

/// A patient's appointments ordered by start (then id): `PATIENT#<id>` / `<start>#<appointment id>`.
pub const PATIENT_APPOINTMENTS: IndexSpec = IndexSpec {
    name: "PatientAppointments",
    partition_key: "patient_pk",
    sort_key: "patient_sk",
};

pub const INDEXES: [IndexSpec; 2] = [DOCTOR_APPOINTMENTS, PATIENT_APPOINTMENTS];

/// The stream view the outbox consumer needs (it diffs old and new appointment images).
pub const STREAM_VIEW: &str = "NEW_AND_OLD_IMAGES";

/// The event filter of the stream's consumer (`template.yaml`, the `appointment-events`
/// mapping): only records whose keys are an appointment item's (`APPT#<id>` / `APPT`) invoke it,
/// the same test as the handler's own. Every other write to the table (notifications, gates,
/// quotas, audit events, idempotency records, slot locks) would cost an invocation that does
/// nothing. `Keys` is in every record, a removal's too.
pub fn appointment_stream_filter() -> serde_json::Value {
    serde_json::json!({
        "dynamodb": {
            "Keys": {
                PARTITION_KEY: { "S": [{ "prefix": keys::APPOINTMENT_PK_PREFIX }] },
                SORT_KEY: { "S": [keys::APPOINTMENT_SK] },
            }
        }
    })
}

/// Item keys. User ids never contain `#` (see [`UserId`]), so every composite key splits one way.
pub(crate) mod keys {
    use super::*;

    pub const APPOINTMENT_SK: &str = "APPT";
    pub const PROFILE_SK: &str = "PROFILE";
    pub const IDEMPOTENCY_SK: &str = "IDEMP";
    /// Beside a patient's profile (`USER#<id>`): the ids of the appointments that count towards
    /// the booking cap, changed only inside booking transactions (see appointments.rs).
    pub const BOOKINGS_SK: &str = "BOOKINGS";
    /// Every doctor of the directory lives in this one partition, so listing them is one Query.
    /// The directory is small and read-mostly, far from a partition's limits.
    pub const DIRECTORY_PK: &str = "DIRECTORY#DOCTORS";

    pub const APPOINTMENT_PK_PREFIX: &str = "APPT#";

    pub fn appointment_pk(id: &AppointmentId) -> String {
        format!("{APPOINTMENT_PK_PREFIX}{id}")
    }

    pub fn doctor_party(doctor: &UserId) -> String {
        format!("DOCTOR#{doctor}")
    }

    pub fn patient_party(patient: &UserId) -> String {
        format!("PATIENT#{patient}")
    }

    /// The index sort key: sortable start, then the id, so equal starts still order by id as the
    /// embedded store does.
    pub fn by_start(start: DateTime<Utc>, id: &AppointmentId) -> String {
        format!("{}#{id}", sortable_time(start))
    }

    /// A doctor's slot locks share one partition, ordered by start: `taken_slots` is one Query.
    pub fn slot_lock_pk(doctor: &UserId) -> String {
        format!("DOCTOR#{doctor}#SLOTS")
    }

    pub fn doctor_sk(doctor: &UserId) -> String {
        format!("DOCTOR#{doctor}")
    }

    pub fn user_pk(user: &UserId) -> String {
        format!("USER#{user}")
    }

    pub fn idempotency_pk(key: &IdempotencyKey) -> String {
        format!("IDEMP#{}#{}", key.user, key.key)
    }
}

fn key_element(name: &str, kind: KeyType) -> Result<KeySchemaElement, StoreError> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .map_err(build_error)
}

fn string_attribute(name: &str) -> Result<AttributeDefinition, StoreError> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(build_error)
}

impl DynamoDbStore {
    /// Creates the table with its indexes, stream and TTL unless it exists. For local endpoints
    /// and tests; in AWS the table comes from `template.yaml`. Returns whether it was created.
    pub async fn create_table_if_missing(&self) -> Result<bool, StoreError> {
        match self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
        {
            Ok(_) => return Ok(false),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) => {}
            Err(e) => return Err(sdk_error(e)),
        }
        let mut attributes = vec![
            string_attribute(PARTITION_KEY)?,
            string_attribute(SORT_KEY)?,
        ];
        let mut indexes = Vec::new();
        for index in INDEXES {
            attributes.push(string_attribute(index.partition_key)?);
            attributes.push(string_attribute(index.sort_key)?);
            indexes.push(
                GlobalSecondaryIndex::builder()
                    .index_name(index.name)
                    .key_schema(key_element(index.partition_key, KeyType::Hash)?)
                    .key_schema(key_element(index.sort_key, KeyType::Range)?)
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::All)
                            .build(),
                    )
                    .build()
                    .map_err(build_error)?,
            );
        }
        let created = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key_element(PARTITION_KEY, KeyType::Hash)?)
            .key_schema(key_element(SORT_KEY, KeyType::Range)?)
            .set_attribute_definitions(Some(attributes))
            .set_global_secondary_indexes(Some(indexes))
            .stream_specification(
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(StreamViewType::from(STREAM_VIEW))
                    .build()
                    .map_err(build_error)?,
            )
            .send()
            .await;
        match created {
            Ok(_) => {}
            // Someone else created it between our look and our create: that is what we wanted.
            Err(e) if e.code() == Some("ResourceInUseException") => return Ok(false),
            Err(e) => return Err(sdk_error(e)),
        }
        self.wait_until_active().await?;
        self.client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .enabled(true)
                    .attribute_name(TTL_ATTRIBUTE)
                    .build()
                    .map_err(build_error)?,
            )
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(true)
    }

    /// A new table takes a few seconds to become usable in AWS (moto is immediate).
    async fn wait_until_active(&self) -> Result<(), StoreError> {
        for _ in 0..120 {
            let described = self
                .client
                .describe_table()
                .table_name(&self.table)
                .send()
                .await
                .map_err(sdk_error)?;
            let status = described.table().and_then(|t| t.table_status());
            if status.is_some_and(|s| s.as_str() == "ACTIVE") {
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
        Err(StoreError::Unavailable(
            format!("table {} did not become active in time", self.table).into(),
        ))
    }
}
