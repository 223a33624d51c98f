//! Appointments and doctor-slot locks in the DynamoDB store.
//!
//! An appointment is one item (`APPT#<id>` / `APPT`) that both indexes project; a held slot is one
//! lock item (`DOCTOR#<doctor>#SLOTS` / `<start>`). Every change writes both in one transaction
//! whose conditions say which domain error a failure means.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::audit::audit_item;
use super::idempotency::completion_put;
use super::table::{keys, IndexSpec, DOCTOR_APPOINTMENTS, PATIENT_APPOINTMENTS};
use super::{
    body_of, build_error, get_s, key, n, s, sdk_error, to_json, DynamoDbStore, Item, BODY, ENTITY,
    PARTITION_KEY, SORT_KEY,
};
use crate::adapters::{parse_time, sortable_time};
use crate::domain::audit::AuditEvent;
use crate::domain::{Appointment, AppointmentId, UserId};
use crate::ports::{
    AppointmentStore, BookingCap, IdempotencyCompletion, Page, PageRequest, Party, StoreError,
    TimeRange,
};

const VERSION: &str = "version";
const LOCK_OWNER: &str = "appointment_id";
/// On the patient's `BOOKINGS` item: a string set of appointment ids that count towards the cap.
const HELD: &str = "held";

/// How often a transaction that lost a race with another in-flight transaction on the same items
/// (`TransactionConflict`) is tried again before the caller is told to retry later. A second try
/// usually sees the winner's committed items and fails with the right domain error instead.
const CONFLICT_ATTEMPTS: u32 = 3;

/// Cancellation reasons that mean "busy", not "wrong": `None` marks the items that were fine.
const CONTENTION_REASONS: &[&str] = &[
    "None",
    "TransactionConflict",
    "ThrottlingError",
    "ProvisionedThroughputExceeded",
    "RequestLimitExceeded",
];

fn appointment_item(a: &Appointment) -> Result<Item, StoreError> {
    let mut item = key(keys::appointment_pk(&a.id), keys::APPOINTMENT_SK);
    let by_start = keys::by_start(a.start, &a.id);
    for (name, value) in [
        (ENTITY, s("appointment")),
        (BODY, s(to_json(a)?)),
        (VERSION, n(a.version)),
        ("status", s(a.status.as_str())),
        ("start", s(sortable_time(a.start))),
        ("doctor_id", s(a.doctor_id.to_string())),
        ("patient_id", s(a.patient_id.to_string())),
        (
            DOCTOR_APPOINTMENTS.partition_key,
            s(keys::doctor_party(&a.doctor_id)),
        ),
        (DOCTOR_APPOINTMENTS.sort_key, s(by_start.clone())),
        (
            PATIENT_APPOINTMENTS.partition_key,
            s(keys::patient_party(&a.patient_id)),
        ),
        (PATIENT_APPOINTMENTS.sort_key, s(by_start)),
    ] {
        item.insert(name.to_owned(), value);
    }
    Ok(item)
}

fn lock_key(a: &Appointment) -> Item {
    key(keys::slot_lock_pk(&a.doctor_id), sortable_time(a.start))
}

impl DynamoDbStore {
    /// A put that must not overwrite: a lock someone holds, an appointment id already used.
    fn put_new(&self, item: Item) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .build()
            .map_err(build_error)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    fn put_lock(&self, a: &Appointment) -> Result<TransactWriteItem, StoreError> {
        let mut item = lock_key(a);
        item.insert(ENTITY.into(), s("slot_lock"));
        item.insert(LOCK_OWNER.into(), s(a.id.to_string()));
        self.put_new(item)
    }

    /// Releases `a`'s lock; never someone else's (that would be a corrupt table, and the
    /// transaction fails rather than free a slot another appointment holds).
    fn delete_lock(&self, a: &Appointment) -> Result<TransactWriteItem, StoreError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(lock_key(a)))
            .condition_expression("attribute_not_exists(#pk) OR #owner = :id")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_names("#owner", LOCK_OWNER)
            .expression_attribute_values(":id", s(a.id.to_string()))
            .build()
            .map_err(build_error)?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    /// Runs one transaction. On a cancellation, `explain` gets for each item whether its
    /// condition failed and names the domain error.
    async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
        explain: impl Fn(&[bool]) -> StoreError,
    ) -> Result<(), StoreError> {
        let mut attempt = 1;
        loop {
            let sent = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            let err = match sent {
                Ok(_) => return Ok(()),
                Err(e) => e,
            };
            let reasons = match err.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(c)) => c
                    .cancellation_reasons()
                    .iter()
                    .map(|r| r.code().unwrap_or("None").to_owned())
                    .collect::<Vec<_>>(),
                _ => return Err(sdk_error(err)),
            };
            let failed: Vec<bool> = reasons
                .iter()
                .map(|code| code == "ConditionalCheckFailed")
                .collect();
            if failed.iter().any(|f| *f) {
                return Err(explain(&failed));
            }
            // Anything but contention (a validation error, an item too large) is our bug, and
            // retrying it would not help.
            if !reasons
                .iter()
                .all(|code| CONTENTION_REASONS.contains(&code.as_str()))
            {
                return Err(StoreError::Internal(Box::new(err)));
            }
            let conflict = reasons.iter().any(|code| code == "TransactionConflict");
            if !conflict || attempt >= CONFLICT_ATTEMPTS {
                // Throttled items or a conflict that would not clear: nothing was written, and
                // the same request may well succeed a moment later.
                return Err(StoreError::Unavailable(Box::new(err)));
            }
            tokio::time::sleep(Duration::from_millis(20 * u64::from(attempt))).await;
            attempt += 1;
        }
    }
}

impl DynamoDbStore {
    /// The booking cap as one more item of the booking's transaction: adds the appointment's id
    /// to the patient's `held` set on condition that the set has fewer than `max` ids. `ADD`
    /// creates the item and the set on a patient's first booking. Ids are only ever added here;
    /// those of appointments that are over or cancelled are taken out by [`Self::prune_held`],
    /// and only when the condition fails, so the happy path reads nothing.
    fn hold_for_patient(
        &self,
        a: &Appointment,
        cap: BookingCap,
    ) -> Result<TransactWriteItem, StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::user_pk(&a.patient_id), keys::BOOKINGS_SK)))
            .update_expression("ADD #held :id SET #entity = :entity")
            .condition_expression("attribute_not_exists(#held) OR size(#held) < :max")
            .expression_attribute_names("#held", HELD)
            .expression_attribute_names("#entity", ENTITY)
            .expression_attribute_values(":id", AttributeValue::Ss(vec![a.id.to_string()]))
            .expression_attribute_values(":entity", s("booking_holds"))
            .expression_attribute_values(":max", n(cap.max as u64))
            .build()
            .map_err(build_error)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// Takes the ids of appointments that no longer count (cancelled, over, gone) out of the
    /// patient's `held` set, reading each appointment with a consistent read. Only those ids are
    /// deleted (`DELETE` of set elements), so a booking that adds one meanwhile is kept. Returns
    /// the ends of the appointments that still count, and whether any id was taken out.
    async fn prune_held(
        &self,
        patient: &UserId,
        now: DateTime<Utc>,
    ) -> Result<(Vec<DateTime<Utc>>, bool), StoreError> {
        let holds_key = key(keys::user_pk(patient), keys::BOOKINGS_SK);
        let held = match self.get_item(holds_key.clone()).await? {
            Some(item) => match item.get(HELD) {
                Some(AttributeValue::Ss(ids)) => ids.clone(),
                _ => Vec::new(),
            },
            None => Vec::new(),
        };
        let mut live = Vec::new();
        let mut dead = Vec::new();
        let mut found = std::collections::HashMap::new();
        let appointment_keys = held
            .iter()
            .filter_map(|raw| AppointmentId::parse(raw).ok())
            .map(|id| key(keys::appointment_pk(&id), keys::APPOINTMENT_SK))
            .collect::<Vec<_>>();
        for item in self.batch_get(appointment_keys).await? {
            let a: Appointment = body_of(&item)?;
            found.insert(a.id.to_string(), a);
        }
        for raw in held {
            match found.get(&raw) {
                Some(a) if a.holds_slot() && a.end > now => live.push(a.end),
                _ => dead.push(raw),
            }
        }
        if dead.is_empty() {
            return Ok((live, false));
        }
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(holds_key))
            .update_expression("DELETE #held :dead")
            .expression_attribute_names("#held", HELD)
            .expression_attribute_values(":dead", AttributeValue::Ss(dead))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok((live, true))
    }
}

/// Where the previous page ended: the (start, id) of its last item, as the embedded store's.
#[derive(Serialize, Deserialize)]
struct Cursor {
    s: String,
    i: String,
}

fn encode_cursor(a: &Appointment) -> Result<String, StoreError> {
    let raw = to_json(&Cursor {
        s: sortable_time(a.start),
        i: a.id.to_string(),
    })?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw))
}

/// The cursor's position, checked: a cursor is caller input and becomes part of a key.
fn decode_cursor(raw: &str) -> Result<(DateTime<Utc>, AppointmentId), StoreError> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(raw)
        .map_err(|_| StoreError::InvalidCursor)?;
    let cursor: Cursor = serde_json::from_slice(&bytes).map_err(|_| StoreError::InvalidCursor)?;
    let start = parse_time(&cursor.s).map_err(|_| StoreError::InvalidCursor)?;
    let id = AppointmentId::parse(&cursor.i).map_err(|_| StoreError::InvalidCursor)?;
    Ok((start, id))
}

impl DynamoDbStore {
    /// The booking transaction: the slot lock, the appointment, the key's completed record and
    /// the audit event, each with the condition that says which domain error a failure is.
    async fn create_with(
        &self,
        appointment: &Appointment,
        idempotency: Option<&IdempotencyCompletion>,
        audit: Option<&AuditEvent>,
        cap: Option<BookingCap>,
    ) -> Result<(), StoreError> {
        let Some(cap) = cap else {
            return self
                .create_once(appointment, idempotency, audit, None)
                .await;
        };
        match self
            .create_once(appointment, idempotency, audit, Some(cap))
            .await
        {
            Err(StoreError::BookingCapReached { .. }) => {}
            other => return other,
        }
        // The set is full: take out what no longer counts, and try once more if that freed room.
        let (live, pruned) = self.prune_held(&appointment.patient_id, cap.now).await?;
        let refused = StoreError::BookingCapReached {
            next_free_at: live.iter().min().copied(),
        };
        // Nothing taken out and still full: a refusal. (Room without pruning means another
        // booking's prune freed it meanwhile.)
        if !pruned && live.len() >= cap.max {
            return Err(refused);
        }
        match self
            .create_once(appointment, idempotency, audit, Some(cap))
            .await
        {
            Err(StoreError::BookingCapReached { .. }) => Err(refused),
            other => other,
        }
    }

    async fn create_once(
        &self,
        appointment: &Appointment,
        idempotency: Option<&IdempotencyCompletion>,
        audit: Option<&AuditEvent>,
        cap: Option<BookingCap>,
    ) -> Result<(), StoreError> {
        let mut items = Vec::new();
        let lock = appointment.holds_slot().then_some(items.len());
        if lock.is_some() {
            items.push(self.put_lock(appointment)?);
        }
        let record = items.len();
        items.push(self.put_new(appointment_item(appointment)?)?);
        let mut key = None;
        if let Some(done) = idempotency {
            key = Some(items.len());
            let put = completion_put(&self.table, done).map_err(build_error)?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        if let Some(event) = audit {
            // Its sort key is unique (time and a random suffix): no condition needed.
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(audit_item(event)?))
                .build()
                .map_err(build_error)?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        let mut held = None;
        if let Some(cap) = cap {
            held = Some(items.len());
            items.push(self.hold_for_patient(appointment, cap)?);
        }
        self.transact(items, |failed| {
            // The key first: the retry of a booking also finds its own slot lock. Then the lock:
            // a taken slot is what a racing patient must hear about.
            if key.is_some_and(|i| failed[i]) {
                StoreError::IdempotencyKeyInUse
            } else if lock.is_some_and(|i| failed[i]) {
                StoreError::SlotTaken
            } else if held.is_some_and(|i| failed[i]) {
                StoreError::BookingCapReached { next_free_at: None }
            } else if failed[record] {
                StoreError::AlreadyExists
            } else {
                StoreError::Internal("booking failed a condition it does not set".into())
            }
        })
        .await
    }
}

#[async_trait]
impl AppointmentStore for DynamoDbStore {
    async fn create(
        &self,
        appointment: &Appointment,
        idempotency: Option<&IdempotencyCompletion>,
    ) -> Result<(), StoreError> {
        self.create_with(appointment, idempotency, None, None).await
    }

    async fn create_audited(
        &self,
        appointment: &Appointment,
        idempotency: Option<&IdempotencyCompletion>,
        audit: &AuditEvent,
        cap: Option<BookingCap>,
    ) -> Result<(), StoreError> {
        self.create_with(appointment, idempotency, Some(audit), cap)
            .await
    }

    async fn get(&self, id: &AppointmentId) -> Result<Option<Appointment>, StoreError> {
        self.get_item(key(keys::appointment_pk(id), keys::APPOINTMENT_SK))
            .await?
            .map(|item| body_of(&item))
            .transpose()
    }

    async fn update(&self, previous: &Appointment, next: &Appointment) -> Result<(), StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(appointment_item(next)?))
            // A missing item has no version, so this also fails for an appointment never stored.
            .condition_expression("#version = :previous")
            .expression_attribute_names("#version", VERSION)
            .expression_attribute_values(":previous", n(previous.version))
            .build()
            .map_err(build_error)?;
        let mut items = vec![TransactWriteItem::builder().put(put).build()];
        let moved = previous.start != next.start;
        let mut released = None;
        if previous.holds_slot() && (moved || !next.holds_slot()) {
            released = Some(items.len());
            items.push(self.delete_lock(previous)?);
        }
        let mut taken = None;
        if next.holds_slot() && (moved || !previous.holds_slot()) {
            taken = Some(items.len());
            items.push(self.put_lock(next)?);
        }
        self.transact(items, |failed| {
            if failed[0] {
                StoreError::StaleVersion
            } else if taken.is_some_and(|i| failed[i]) {
                StoreError::SlotTaken
            } else if released.is_some_and(|i| failed[i]) {
                StoreError::Corrupt(format!(
                    "the slot lock of appointment {} is held by another appointment",
                    previous.id
                ))
            } else {
                StoreError::Internal("update failed a condition it does not set".into())
            }
        })
        .await
    }

    async fn list_for(
        &self,
        party: &Party,
        range: TimeRange,
        page: PageRequest,
    ) -> Result<Page<Appointment>, StoreError> {
        let (index, party_key): (IndexSpec, String) = match party {
            Party::Doctor(id) => (DOCTOR_APPOINTMENTS, keys::doctor_party(id)),
            Party::Patient(id) => (PATIENT_APPOINTMENTS, keys::patient_party(id)),
        };
        let limit = page.limit.clamp(1, PageRequest::MAX_LIMIT) as usize;
        let after = page.cursor.as_deref().map(decode_cursor).transpose()?;
        let from = range.from.map(sortable_time);
        let to = range.to.map(sortable_time);
        let empty = Page {
            items: Vec::new(),
            next_cursor: None,
        };
        // Index sort keys are `<start>#<id>`: `<start>#...` sorts after `<start>` itself, so
        // `>= from` includes appointments starting at `from` and `<= to` excludes those at `to`.
        let mut condition = "#ipk = :party".to_owned();
        match (&from, &to) {
            (Some(f), Some(t)) if f > t => return Ok(empty),
            (Some(_), Some(_)) => condition.push_str(" AND #isk BETWEEN :from AND :to"),
            (Some(_), None) => condition.push_str(" AND #isk >= :from"),
            (None, Some(_)) => condition.push_str(" AND #isk < :to"),
            (None, None) => {}
        }
        // DynamoDB refuses a start key outside the key condition, so a cursor before `from` is
        // dropped (the range starts later anyway) and one at or past `to` leaves nothing.
        let mut start_key = None;
        if let Some((start, id)) = &after {
            let position = keys::by_start(*start, id);
            if to.as_ref().is_some_and(|t| position.as_str() >= t.as_str()) {
                return Ok(empty);
            }
            if from
                .as_ref()
                .is_none_or(|f| position.as_str() >= f.as_str())
            {
                let mut k = key(keys::appointment_pk(id), keys::APPOINTMENT_SK);
                k.insert(index.partition_key.to_owned(), s(party_key.clone()));
                k.insert(index.sort_key.to_owned(), s(position));
                start_key = Some(k);
            }
        }
        let mut items = Vec::new();
        // One item more than the page shows tells whether another page exists, so a cursor is
        // only handed out when it leads somewhere (as the embedded store does).
        while items.len() <= limit {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(index.name)
                .key_condition_expression(&condition)
                .expression_attribute_names("#ipk", index.partition_key)
                .expression_attribute_values(":party", s(party_key.clone()))
                .limit((limit + 1 - items.len()) as i32)
                .set_exclusive_start_key(start_key.take());
            if condition.contains("#isk") {
                query = query.expression_attribute_names("#isk", index.sort_key);
            }
            if let Some(f) = &from {
                query = query.expression_attribute_values(":from", s(f.clone()));
            }
            if let Some(t) = &to {
                query = query.expression_attribute_values(":to", s(t.clone()));
            }
            let out = query.send().await.map_err(sdk_error)?;
            for item in out.items() {
                items.push(body_of::<Appointment>(item)?);
            }
            match out.last_evaluated_key {
                Some(k) => start_key = Some(k),
                None => break,
            }
        }
        let next_cursor = if items.len() > limit {
            items.truncate(limit);
            items.last().map(encode_cursor).transpose()?
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    async fn taken_slots(
        &self,
        doctor: &UserId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>, StoreError> {
        let (lo, hi) = (sortable_time(from), sortable_time(to));
        if lo >= hi {
            return Ok(Vec::new());
        }
        let query = self
            .client
            .query()
            .table_name(&self.table)
            // A slot freed or taken a moment ago must show as such on the next look.
            .consistent_read(true)
            .key_condition_expression("#pk = :pk AND #sk BETWEEN :from AND :to")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_names("#sk", SORT_KEY)
            .expression_attribute_values(":pk", s(keys::slot_lock_pk(doctor)))
            .expression_attribute_values(":from", s(lo))
            .expression_attribute_values(":to", s(hi.clone()))
            .projection_expression("#sk");
        let mut starts = Vec::new();
        for item in self.query_all(query).await? {
            let start = get_s(&item, SORT_KEY)?;
            // BETWEEN includes its upper end; the port's range excludes it.
            if start != hi {
                starts.push(parse_time(start)?);
            }
        }
        Ok(starts)
    }
}
