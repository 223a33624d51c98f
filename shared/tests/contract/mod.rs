//! The store contract: what every implementation of the store ports must do, written once in
//! domain words. `contract_suite!(fixture)` turns each case into a `#[tokio::test]` on a fresh
//! store from `fixture`; the embedded and the DynamoDB test binaries each invoke it.

pub mod audit;
pub mod notifications;

use chrono::{DateTime, Duration, Utc};
use medichain::domain::audit::{AuditAction, AuditEvent};
use medichain::domain::{Appointment, AppointmentStatus, Role};
use medichain::ports::{
    AppointmentStore, AuditLog, BookingCap, Directory, IdempotencyBegin, IdempotencyCompletion,
    IdempotencyKey, IdempotencyStore, Page, PageRequest, Party, StoreError, StoredResponse,
    TimeRange,
};

use crate::support::{appointment, base_time, doctor, patient_profile, user};

/// Every port on one object, shareable across tasks (as `Deps::from_store` needs it).
pub trait Store: Directory + AppointmentStore + IdempotencyStore + Clone + 'static {}
impl<S: Directory + AppointmentStore + IdempotencyStore + Clone + 'static> Store for S {}

macro_rules! contract_suite {
    ($fixture:path) => {
        $crate::contract::contract_suite!(@cases $fixture;
            doctors_are_listed_by_name_and_found_by_id,
            user_profiles_are_stored_and_replaced,
            a_booked_appointment_reads_back_as_booked,
            booking_a_held_slot_is_refused_and_writes_nothing,
            the_same_appointment_cannot_be_created_twice,
            an_appointment_stored_as_cancelled_holds_no_slot,
            cancelling_releases_the_slot_for_someone_else,
            rescheduling_moves_the_slot_lock,
            rescheduling_onto_a_held_slot_is_refused_and_changes_nothing,
            an_update_from_a_stale_read_is_refused,
            updating_an_appointment_that_was_never_stored_is_refused,
            taken_slots_covers_the_range_from_inclusive_to_exclusive,
            a_party_pages_through_its_appointments_in_start_order,
            the_last_full_page_hands_out_no_cursor,
            time_ranges_bound_the_listing_and_its_pages,
            cursors_the_store_did_not_hand_out_are_refused,
            a_new_key_starts_and_a_concurrent_retry_is_in_progress,
            a_completed_booking_is_replayed,
            a_key_reused_with_another_body_is_a_mismatch,
            a_lapsed_lease_can_be_taken_over,
            an_expired_record_counts_as_absent,
            release_lets_a_retry_run_again_but_keeps_a_completed_response,
            keys_are_scoped_to_their_user,
            a_booking_completes_its_key_in_its_own_transaction,
            a_key_held_by_a_completed_booking_refuses_another_and_writes_nothing,
            an_expired_key_completes_a_new_booking,
            find_reports_a_live_claim_without_taking_it,
            concurrent_bookings_with_one_key_book_once,
            a_booking_and_its_audit_event_are_written_together,
            the_booking_cap_refuses_one_more_and_writes_nothing,
            cancelled_and_past_appointments_do_not_count_towards_the_cap,
            a_refused_booking_leaves_its_idempotency_record_in_progress,
            concurrent_bookings_of_one_slot_yield_exactly_one,
            concurrent_first_requests_with_one_key_start_exactly_once,
            concurrent_bookings_of_one_patient_stop_at_the_cap,
        );
    };
    (@cases $fixture:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let fixture = $fixture().await;
                $crate::contract::$case(&fixture.store).await;
            }
        )*
    };
}
pub(crate) use contract_suite;

// ---------------------------------------------------------------------------------------------
// Directory

pub async fn doctors_are_listed_by_name_and_found_by_id<S: Store>(store: &S) {
    for (id, name) in [
        ("doc-c", "Zoe Zed"),
        ("doc-a", "Ada Lane"),
        ("doc-b", "Mia Moss"),
    ] {
        store.put_doctor(&doctor(id, name)).await.unwrap();
    }
    let names: Vec<String> = store
        .list_doctors()
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.name)
        .collect();
    assert_eq!(names, ["Ada Lane", "Mia Moss", "Zoe Zed"]);

    let found = store.get_doctor(&user("doc-b")).await.unwrap();
    assert_eq!(found, Some(doctor("doc-b", "Mia Moss")));
    assert_eq!(store.get_doctor(&user("nobody")).await.unwrap(), None);

    // Putting a doctor again replaces them (and their place in the name order).
    store.put_doctor(&doctor("doc-c", "Abe Ash")).await.unwrap();
    let listed = store.list_doctors().await.unwrap();
    assert_eq!(listed.len(), 3);
    assert_eq!(listed[0], doctor("doc-c", "Abe Ash"));
}

pub async fn user_profiles_are_stored_and_replaced<S: Store>(store: &S) {
    let mut profile = patient_profile("pat-1", "Jordan Rivera");
    store.put_user(&profile).await.unwrap();
    assert_eq!(
        store.get_user(&user("pat-1")).await.unwrap(),
        Some(profile.clone())
    );
    profile.name = "Jordan R. Rivera".into();
    profile.sms_opt_in = true;
    store.put_user(&profile).await.unwrap();
    assert_eq!(store.get_user(&user("pat-1")).await.unwrap(), Some(profile));
    assert_eq!(store.get_user(&user("pat-2")).await.unwrap(), None);
}

// ---------------------------------------------------------------------------------------------
// Appointments and slot locks

async fn taken<S: Store>(store: &S, doctor: &str) -> Vec<DateTime<Utc>> {
    let t = base_time();
    store
        .taken_slots(&user(doctor), t - Duration::days(1), t + Duration::days(2))
        .await
        .unwrap()
}

pub async fn a_booked_appointment_reads_back_as_booked<S: Store>(store: &S) {
    let a = appointment("pat-1", "doc-1", base_time());
    store.create(&a, None).await.unwrap();
    assert_eq!(store.get(&a.id).await.unwrap(), Some(a.clone()));
    assert_eq!(taken(store, "doc-1").await, [a.start]);
    let other = appointment("pat-1", "doc-1", base_time());
    assert_eq!(store.get(&other.id).await.unwrap(), None);
}

pub async fn booking_a_held_slot_is_refused_and_writes_nothing<S: Store>(store: &S) {
    let t = base_time();
    let first = appointment("pat-1", "doc-1", t);
    store.create(&first, None).await.unwrap();

    let second = appointment("pat-2", "doc-1", t);
    let refused = store.create(&second, None).await;
    assert!(matches!(refused, Err(StoreError::SlotTaken)), "{refused:?}");
    assert_eq!(store.get(&second.id).await.unwrap(), None);
    let listed = list_all(store, &Party::Patient(user("pat-2")), TimeRange::default()).await;
    assert!(listed.is_empty(), "{listed:?}");

    // The same time with another doctor is another slot.
    store
        .create(&appointment("pat-2", "doc-2", t), None)
        .await
        .unwrap();
}

pub async fn the_same_appointment_cannot_be_created_twice<S: Store>(store: &S) {
    let t = base_time();
    let a = appointment("pat-1", "doc-1", t);
    store.create(&a, None).await.unwrap();
    let mut again = a.clone();
    again.start = t + Duration::hours(2);
    again.end = again.start + Duration::minutes(30);
    let refused = store.create(&again, None).await;
    assert!(
        matches!(refused, Err(StoreError::AlreadyExists)),
        "{refused:?}"
    );
    // Nothing of the refused write stayed: the first version and only its lock.
    assert_eq!(store.get(&a.id).await.unwrap(), Some(a.clone()));
    assert_eq!(taken(store, "doc-1").await, [t]);
}

pub async fn an_appointment_stored_as_cancelled_holds_no_slot<S: Store>(store: &S) {
    let mut a = appointment("pat-1", "doc-1", base_time());
    a.status = AppointmentStatus::Cancelled;
    store.create(&a, None).await.unwrap();
    assert_eq!(store.get(&a.id).await.unwrap(), Some(a));
    assert!(taken(store, "doc-1").await.is_empty());
}

pub async fn cancelling_releases_the_slot_for_someone_else<S: Store>(store: &S) {
    let t = base_time();
    let a = appointment("pat-1", "doc-1", t);
    store.create(&a, None).await.unwrap();
    let cancelled = a.cancelled(Role::Patient, Utc::now()).unwrap();
    store.update(&a, &cancelled).await.unwrap();

    assert_eq!(store.get(&a.id).await.unwrap(), Some(cancelled));
    assert!(taken(store, "doc-1").await.is_empty());
    store
        .create(&appointment("pat-2", "doc-1", t), None)
        .await
        .unwrap();
    assert_eq!(taken(store, "doc-1").await, [t]);
}

fn moved(a: &Appointment, to: DateTime<Utc>) -> Appointment {
    a.rescheduled(
        medichain::domain::doctor::Slot {
            start: to,
            end: to + Duration::minutes(30),
        },
        Utc::now(),
    )
    .unwrap()
}

pub async fn rescheduling_moves_the_slot_lock<S: Store>(store: &S) {
    let t = base_time();
    let later = t + Duration::hours(1);
    let a = appointment("pat-1", "doc-1", t);
    store.create(&a, None).await.unwrap();
    let next = moved(&a, later);
    store.update(&a, &next).await.unwrap();

    assert_eq!(store.get(&a.id).await.unwrap(), Some(next.clone()));
    assert_eq!(taken(store, "doc-1").await, [later]);
    // The old slot is free, the new one is held.
    store
        .create(&appointment("pat-2", "doc-1", t), None)
        .await
        .unwrap();
    let refused = store
        .create(&appointment("pat-3", "doc-1", later), None)
        .await;
    assert!(matches!(refused, Err(StoreError::SlotTaken)), "{refused:?}");
    // The listing follows the move.
    let listed = list_all(store, &Party::Patient(user("pat-1")), TimeRange::default()).await;
    assert_eq!(listed, [next]);
}

pub async fn rescheduling_onto_a_held_slot_is_refused_and_changes_nothing<S: Store>(store: &S) {
    let t = base_time();
    let other_slot = t + Duration::hours(1);
    let a = appointment("pat-1", "doc-1", t);
    let b = appointment("pat-2", "doc-1", other_slot);
    store.create(&a, None).await.unwrap();
    store.create(&b, None).await.unwrap();

    let refused = store.update(&a, &moved(&a, other_slot)).await;
    assert!(matches!(refused, Err(StoreError::SlotTaken)), "{refused:?}");
    assert_eq!(store.get(&a.id).await.unwrap(), Some(a));
    assert_eq!(taken(store, "doc-1").await, [t, other_slot]);
}

pub async fn an_update_from_a_stale_read_is_refused<S: Store>(store: &S) {
    let t = base_time();
    let a = appointment("pat-1", "doc-1", t);
    store.create(&a, None).await.unwrap();
    let cancelled = a.cancelled(Role::Doctor, Utc::now()).unwrap();
    store.update(&a, &cancelled).await.unwrap();

    // A second writer still holds version 1 and tries to move it.
    let later = t + Duration::hours(1);
    let refused = store.update(&a, &moved(&a, later)).await;
    assert!(
        matches!(refused, Err(StoreError::StaleVersion)),
        "{refused:?}"
    );
    assert_eq!(store.get(&a.id).await.unwrap(), Some(cancelled));
    assert!(taken(store, "doc-1").await.is_empty());
}

pub async fn updating_an_appointment_that_was_never_stored_is_refused<S: Store>(store: &S) {
    let a = appointment("pat-1", "doc-1", base_time());
    let refused = store
        .update(&a, &moved(&a, a.start + Duration::hours(1)))
        .await;
    assert!(
        matches!(refused, Err(StoreError::StaleVersion)),
        "{refused:?}"
    );
    assert_eq!(store.get(&a.id).await.unwrap(), None);
    assert!(taken(store, "doc-1").await.is_empty());
}

pub async fn taken_slots_covers_the_range_from_inclusive_to_exclusive<S: Store>(store: &S) {
    let t = base_time();
    let half = Duration::minutes(30);
    for (i, patient) in ["pat-1", "pat-2", "pat-3"].into_iter().enumerate() {
        let start = t + half * i as i32;
        store
            .create(&appointment(patient, "doc-1", start), None)
            .await
            .unwrap();
    }
    store
        .create(&appointment("pat-1", "doc-2", t), None)
        .await
        .unwrap();

    let doc = user("doc-1");
    let got = store.taken_slots(&doc, t, t + half * 2).await.unwrap();
    assert_eq!(got, [t, t + half]);
    let got = store
        .taken_slots(&doc, t + Duration::milliseconds(1), t + half * 3)
        .await
        .unwrap();
    assert_eq!(got, [t + half, t + half * 2]);
    assert!(store.taken_slots(&doc, t, t).await.unwrap().is_empty());
    assert!(store
        .taken_slots(&doc, t + half, t)
        .await
        .unwrap()
        .is_empty());
}

// ---------------------------------------------------------------------------------------------
// Listing and pagination

/// Every page of a listing, checking that each page is at most `limit` long.
async fn pages<S: Store>(
    store: &S,
    party: &Party,
    range: TimeRange,
    limit: u32,
) -> Vec<Page<Appointment>> {
    let mut pages = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .list_for(party, range, PageRequest { limit, cursor })
            .await
            .unwrap();
        assert!(page.items.len() <= limit as usize, "{page:?}");
        cursor = page.next_cursor.clone();
        pages.push(page);
        if cursor.is_none() {
            return pages;
        }
        assert!(pages.len() < 100, "the listing does not end");
    }
}

async fn list_all<S: Store>(store: &S, party: &Party, range: TimeRange) -> Vec<Appointment> {
    pages(store, party, range, PageRequest::MAX_LIMIT)
        .await
        .into_iter()
        .flat_map(|p| p.items)
        .collect()
}

/// Seven appointments of patient `pat-1` with two doctors (two share a start, so the id decides
/// their order), and two of another patient. Returns `pat-1`'s in (start, id) order.
async fn seed_listing<S: Store>(store: &S) -> Vec<Appointment> {
    let t = base_time();
    let hour = Duration::hours(1);
    let mut mine = Vec::new();
    for (doctor_id, offset) in [
        ("doc-1", 5),
        ("doc-2", 0),
        ("doc-1", 2),
        ("doc-2", 2),
        ("doc-1", 0),
        ("doc-2", 7),
        ("doc-1", 9),
    ] {
        let a = appointment("pat-1", doctor_id, t + hour * offset);
        store.create(&a, None).await.unwrap();
        mine.push(a);
    }
    for offset in [1, 3] {
        store
            .create(&appointment("pat-2", "doc-1", t + hour * offset), None)
            .await
            .unwrap();
    }
    mine.sort_by_key(|a| (a.start, a.id));
    mine
}

pub async fn a_party_pages_through_its_appointments_in_start_order<S: Store>(store: &S) {
    let mine = seed_listing(store).await;
    let patient = Party::Patient(user("pat-1"));
    let got = pages(store, &patient, TimeRange::default(), 3).await;
    let sizes: Vec<usize> = got.iter().map(|p| p.items.len()).collect();
    assert_eq!(sizes, [3, 3, 1]);
    let flat: Vec<Appointment> = got.into_iter().flat_map(|p| p.items).collect();
    assert_eq!(flat, mine);

    // The doctor's view: their own appointments with every patient, in start order.
    let doctor = Party::Doctor(user("doc-1"));
    let theirs: Vec<(DateTime<Utc>, String)> = pages(store, &doctor, TimeRange::default(), 2)
        .await
        .into_iter()
        .flat_map(|p| p.items)
        .map(|a| (a.start, a.patient_id.to_string()))
        .collect();
    let t = base_time();
    let at = |h: i64| t + Duration::hours(h);
    assert_eq!(
        theirs,
        [
            (at(0), "pat-1".to_owned()),
            (at(1), "pat-2".to_owned()),
            (at(2), "pat-1".to_owned()),
            (at(3), "pat-2".to_owned()),
            (at(5), "pat-1".to_owned()),
            (at(9), "pat-1".to_owned()),
        ]
    );
    let nobody = list_all(store, &Party::Doctor(user("doc-9")), TimeRange::default()).await;
    assert!(nobody.is_empty());
}

pub async fn the_last_full_page_hands_out_no_cursor<S: Store>(store: &S) {
    let t = base_time();
    for h in 0..4 {
        store
            .create(&appointment("pat-1", "doc-1", t + Duration::hours(h)), None)
            .await
            .unwrap();
    }
    let got = pages(
        store,
        &Party::Patient(user("pat-1")),
        TimeRange::default(),
        2,
    )
    .await;
    let sizes: Vec<usize> = got.iter().map(|p| p.items.len()).collect();
    assert_eq!(sizes, [2, 2], "no empty page after an exact multiple");
}

pub async fn time_ranges_bound_the_listing_and_its_pages<S: Store>(store: &S) {
    let mine = seed_listing(store).await;
    let t = base_time();
    let hour = Duration::hours(1);
    let patient = Party::Patient(user("pat-1"));
    let starts =
        |items: &[Appointment]| -> Vec<DateTime<Utc>> { items.iter().map(|a| a.start).collect() };
    let expect = |pred: &dyn Fn(DateTime<Utc>) -> bool| -> Vec<DateTime<Utc>> {
        mine.iter().map(|a| a.start).filter(|s| pred(*s)).collect()
    };

    // From inclusive, to exclusive, across pages of two.
    let range = TimeRange {
        from: Some(t + hour * 2),
        to: Some(t + hour * 7),
    };
    let got = pages(store, &patient, range, 2).await;
    let flat: Vec<Appointment> = got.iter().flat_map(|p| p.items.clone()).collect();
    assert_eq!(
        starts(&flat),
        expect(&|s| s >= t + hour * 2 && s < t + hour * 7)
    );
    assert_eq!(starts(&flat), [t + hour * 2, t + hour * 2, t + hour * 5]);
    assert_eq!(got.len(), 2);

    let from_only = TimeRange {
        from: Some(t + hour * 5),
        to: None,
    };
    let got = list_all(store, &patient, from_only).await;
    assert_eq!(starts(&got), [t + hour * 5, t + hour * 7, t + hour * 9]);

    let to_only = TimeRange {
        from: None,
        to: Some(t + hour * 2),
    };
    let got = list_all(store, &patient, to_only).await;
    assert_eq!(starts(&got), [t, t]);

    let backwards = TimeRange {
        from: Some(t + hour * 5),
        to: Some(t + hour),
    };
    assert!(list_all(store, &patient, backwards).await.is_empty());

    // A cursor from an unbounded listing, reused with a range that starts after it.
    let first = store
        .list_for(&patient, TimeRange::default(), PageRequest::first(1))
        .await
        .unwrap();
    let got = store
        .list_for(
            &patient,
            from_only,
            PageRequest {
                limit: 10,
                cursor: first.next_cursor.clone(),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        starts(&got.items),
        [t + hour * 5, t + hour * 7, t + hour * 9]
    );
    // ... and with a range that ends before it.
    let late = store
        .list_for(&patient, from_only, PageRequest::first(1))
        .await
        .unwrap();
    let got = store
        .list_for(
            &patient,
            to_only,
            PageRequest {
                limit: 10,
                cursor: late.next_cursor,
            },
        )
        .await
        .unwrap();
    assert!(got.items.is_empty() && got.next_cursor.is_none(), "{got:?}");
}

pub async fn cursors_the_store_did_not_hand_out_are_refused<S: Store>(store: &S) {
    use base64::Engine as _;
    seed_listing(store).await;
    let b64 = |raw: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
    let bad = [
        "not base64 at all!".to_owned(),
        "%%%".to_owned(),
        b64("plain text"),
        b64("{}"),
        b64(r#"{"s":"yesterday","i":"6f1c1f8e-3c2b-4a8e-9f51-0f0e4d3c2b1a"}"#),
        b64(r#"{"s":"2030-01-01T00:00:00.000Z","i":"APPT#x"}"#),
        b64(r#"{"s":"2030-01-01T00:00:00.000Z"}"#),
    ];
    for cursor in bad {
        let got = store
            .list_for(
                &Party::Patient(user("pat-1")),
                TimeRange::default(),
                PageRequest {
                    limit: 3,
                    cursor: Some(cursor.clone()),
                },
            )
            .await;
        assert!(
            matches!(got, Err(StoreError::InvalidCursor)),
            "{cursor:?} gave {got:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Idempotency

fn key(user_id: &str, raw: &str) -> IdempotencyKey {
    IdempotencyKey::parse(user(user_id), raw).unwrap()
}

const LEASE: Duration = Duration::seconds(30);

fn now() -> DateTime<Utc> {
    base_time() - Duration::days(2)
}

async fn begin<S: Store>(
    store: &S,
    k: &IdempotencyKey,
    fingerprint: &str,
    at: DateTime<Utc>,
) -> IdempotencyBegin {
    store
        .begin(k, fingerprint, at, LEASE, at + Duration::hours(24))
        .await
        .unwrap()
}

/// Books `a` under key `k` as the API does: the completed record goes with the booking.
async fn complete<S: Store>(
    store: &S,
    k: &IdempotencyKey,
    fingerprint: &str,
    a: &Appointment,
    expires_at: DateTime<Utc>,
) -> Result<StoredResponse, StoreError> {
    complete_at(store, k, fingerprint, a, now(), expires_at).await
}

/// [`complete`] for a request that came in at `requested_at`.
async fn complete_at<S: Store>(
    store: &S,
    k: &IdempotencyKey,
    fingerprint: &str,
    a: &Appointment,
    requested_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<StoredResponse, StoreError> {
    let response = StoredResponse {
        status: 201,
        body: format!(r#"{{"id":"{}","note":"ünïcode # and \"quotes\""}}"#, a.id),
    };
    let done = IdempotencyCompletion {
        key: k.clone(),
        fingerprint: fingerprint.to_owned(),
        response: response.clone(),
        requested_at,
        expires_at,
    };
    store.create(a, Some(&done)).await.map(|()| response)
}

pub async fn a_new_key_starts_and_a_concurrent_retry_is_in_progress<S: Store>(store: &S) {
    let k = key("pat-1", "3f2c9a1e-0b7d-4c55-9a3e-1f2d3c4b5a69");
    assert_eq!(
        begin(store, &k, "fp", now()).await,
        IdempotencyBegin::Started
    );
    let retry = now() + Duration::seconds(5);
    assert_eq!(
        begin(store, &k, "fp", retry).await,
        IdempotencyBegin::InProgress
    );
}

pub async fn a_completed_booking_is_replayed<S: Store>(store: &S) {
    let k = key("pat-1", "key#with/odd:chars");
    assert_eq!(
        begin(store, &k, "fp", now()).await,
        IdempotencyBegin::Started
    );
    let a = appointment("pat-1", "doc-1", base_time());
    let response = complete(store, &k, "fp", &a, now() + Duration::hours(24))
        .await
        .unwrap();
    let later = now() + Duration::hours(1);
    assert_eq!(
        begin(store, &k, "fp", later).await,
        IdempotencyBegin::Replay(response)
    );
    assert_eq!(store.get(&a.id).await.unwrap(), Some(a));
}

pub async fn a_key_reused_with_another_body_is_a_mismatch<S: Store>(store: &S) {
    let k = key("pat-1", "k1");
    assert_eq!(
        begin(store, &k, "fp-1", now()).await,
        IdempotencyBegin::Started
    );
    let soon = now() + Duration::seconds(1);
    assert_eq!(
        begin(store, &k, "fp-2", soon).await,
        IdempotencyBegin::Mismatch
    );
    let a = appointment("pat-1", "doc-1", base_time());
    complete(store, &k, "fp-1", &a, now() + Duration::hours(24))
        .await
        .unwrap();
    let later = now() + Duration::hours(2);
    assert_eq!(
        begin(store, &k, "fp-2", later).await,
        IdempotencyBegin::Mismatch
    );
}

pub async fn a_lapsed_lease_can_be_taken_over<S: Store>(store: &S) {
    let k = key("pat-1", "k1");
    assert_eq!(
        begin(store, &k, "fp", now()).await,
        IdempotencyBegin::Started
    );
    // The first worker died; once its lease has run out a retry takes the key over...
    let after_lease = now() + LEASE + Duration::seconds(1);
    assert_eq!(
        begin(store, &k, "fp", after_lease).await,
        IdempotencyBegin::Started
    );
    // ... and holds a fresh lease of its own.
    let soon_after = after_lease + Duration::seconds(1);
    assert_eq!(
        begin(store, &k, "fp", soon_after).await,
        IdempotencyBegin::InProgress
    );
    // A different body never takes over, lease or not.
    let much_later = now() + LEASE * 4;
    assert_eq!(
        begin(store, &k, "other", much_later).await,
        IdempotencyBegin::Mismatch
    );
}

pub async fn an_expired_record_counts_as_absent<S: Store>(store: &S) {
    let k = key("pat-1", "k1");
    assert_eq!(
        begin(store, &k, "fp", now()).await,
        IdempotencyBegin::Started
    );
    let a = appointment("pat-1", "doc-1", base_time());
    complete(store, &k, "fp", &a, now() + Duration::hours(1))
        .await
        .unwrap();
    // Past its expiry the record is gone for the contract, whether or not TTL removed it,
    // so even another body may use the key.
    let past_expiry = now() + Duration::hours(1) + Duration::milliseconds(1);
    assert_eq!(
        begin(store, &k, "other", past_expiry).await,
        IdempotencyBegin::Started
    );
}

pub async fn release_lets_a_retry_run_again_but_keeps_a_completed_response<S: Store>(store: &S) {
    let k = key("pat-1", "k1");
    assert_eq!(
        begin(store, &k, "fp", now()).await,
        IdempotencyBegin::Started
    );
    store.release(&k).await.unwrap();
    let soon = now() + Duration::seconds(1);
    assert_eq!(
        begin(store, &k, "fp", soon).await,
        IdempotencyBegin::Started
    );

    let a = appointment("pat-1", "doc-1", base_time());
    let response = complete(store, &k, "fp", &a, now() + Duration::hours(24))
        .await
        .unwrap();
    store.release(&k).await.unwrap();
    assert_eq!(
        begin(store, &k, "fp", soon).await,
        IdempotencyBegin::Replay(response)
    );
    // Releasing a key nobody used is harmless.
    store.release(&key("pat-1", "never-used")).await.unwrap();
}

pub async fn keys_are_scoped_to_their_user<S: Store>(store: &S) {
    let mine = key("pat-1", "shared-key");
    let theirs = key("pat-2", "shared-key");
    assert_eq!(
        begin(store, &mine, "fp", now()).await,
        IdempotencyBegin::Started
    );
    assert_eq!(
        begin(store, &theirs, "other", now()).await,
        IdempotencyBegin::Started
    );
}

pub async fn a_booking_completes_its_key_in_its_own_transaction<S: Store>(store: &S) {
    // No claim first: the booking's transaction writes the completed record by itself.
    let k = key("pat-1", "one-shot");
    let a = appointment("pat-1", "doc-1", base_time());
    let response = complete(store, &k, "fp", &a, now() + Duration::hours(24))
        .await
        .unwrap();
    let later = now() + Duration::hours(1);
    assert_eq!(
        store.find(&k, "fp", later).await.unwrap(),
        Some(IdempotencyBegin::Replay(response.clone()))
    );
    assert_eq!(
        store.find(&k, "another body", later).await.unwrap(),
        Some(IdempotencyBegin::Mismatch)
    );
    assert_eq!(
        store
            .find(&key("pat-1", "unused"), "fp", later)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        begin(store, &k, "fp", later).await,
        IdempotencyBegin::Replay(response)
    );
}

pub async fn a_key_held_by_a_completed_booking_refuses_another_and_writes_nothing<S: Store>(
    store: &S,
) {
    let k = key("pat-1", "k1");
    let t = base_time();
    let first = appointment("pat-1", "doc-1", t);
    let response = complete(store, &k, "fp", &first, now() + Duration::hours(24))
        .await
        .unwrap();
    let soon = now() + Duration::seconds(2);
    // The retry of the same request: its own slot lock stands in the way too, but the key is
    // what explains the refusal.
    let retry = appointment("pat-1", "doc-1", t);
    let refused = complete_at(store, &k, "fp", &retry, soon, soon + Duration::hours(24)).await;
    assert!(
        matches!(refused, Err(StoreError::IdempotencyKeyInUse)),
        "{refused:?}"
    );
    // Another body under the same key, on a free slot.
    let other = appointment("pat-1", "doc-1", t + Duration::hours(1));
    let refused = complete_at(store, &k, "fp-2", &other, soon, soon + Duration::hours(24)).await;
    assert!(
        matches!(refused, Err(StoreError::IdempotencyKeyInUse)),
        "{refused:?}"
    );
    assert_eq!(store.get(&retry.id).await.unwrap(), None);
    assert_eq!(store.get(&other.id).await.unwrap(), None);
    assert_eq!(taken(store, "doc-1").await, [t]);
    assert_eq!(
        store.find(&k, "fp", soon).await.unwrap(),
        Some(IdempotencyBegin::Replay(response))
    );
    assert_eq!(
        store.find(&k, "fp-2", soon).await.unwrap(),
        Some(IdempotencyBegin::Mismatch)
    );
}

pub async fn an_expired_key_completes_a_new_booking<S: Store>(store: &S) {
    let k = key("pat-1", "k1");
    let t = base_time();
    let first = appointment("pat-1", "doc-1", t);
    let expiry = now() + Duration::hours(1);
    complete(store, &k, "fp", &first, expiry).await.unwrap();
    // Past its expiry the record holds nothing, whether or not TTL removed it.
    let after = expiry + Duration::milliseconds(1);
    let second = appointment("pat-1", "doc-1", t + Duration::hours(1));
    let response = complete_at(
        store,
        &k,
        "other",
        &second,
        after,
        after + Duration::hours(24),
    )
    .await
    .unwrap();
    assert_eq!(
        store.find(&k, "other", after).await.unwrap(),
        Some(IdempotencyBegin::Replay(response))
    );
    assert_eq!(store.get(&second.id).await.unwrap(), Some(second));
}

pub async fn find_reports_a_live_claim_without_taking_it<S: Store>(store: &S) {
    let k = key("pat-1", "k1");
    assert_eq!(
        begin(store, &k, "fp", now()).await,
        IdempotencyBegin::Started
    );
    let during = now() + Duration::seconds(5);
    assert_eq!(
        store.find(&k, "fp", during).await.unwrap(),
        Some(IdempotencyBegin::InProgress)
    );
    assert_eq!(
        store.find(&k, "other", during).await.unwrap(),
        Some(IdempotencyBegin::Mismatch)
    );
    // A lapsed lease of the same request holds nothing; looking did not take it over.
    let lapsed = now() + LEASE + Duration::seconds(1);
    assert_eq!(store.find(&k, "fp", lapsed).await.unwrap(), None);
    assert_eq!(
        begin(store, &k, "fp", lapsed).await,
        IdempotencyBegin::Started
    );
}

pub async fn concurrent_bookings_with_one_key_book_once<S: Store>(store: &S) {
    // A double click: the same request ten times at once, each attempt with its own id.
    let k = key("pat-1", "double-click");
    let t = base_time();
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (store, k) = (store.clone(), k.clone());
            let a = appointment("pat-1", "doc-1", t);
            tokio::spawn(async move {
                let got = complete(&store, &k, "fp", &a, now() + Duration::hours(24)).await;
                (got, a)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            (Ok(response), a) => winners.push((response, a)),
            (Err(StoreError::IdempotencyKeyInUse), _) => {}
            (Err(other), _) => panic!("the others must find the key in use, got {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one attempt books");
    let (response, a) = winners.remove(0);
    assert_eq!(
        store.find(&k, "fp", now()).await.unwrap(),
        Some(IdempotencyBegin::Replay(response))
    );
    let listed = list_all(store, &Party::Patient(user("pat-1")), TimeRange::default()).await;
    assert_eq!(listed, [a]);
}

pub async fn a_booking_and_its_audit_event_are_written_together<S: Store + AuditLog>(store: &S) {
    let t = base_time();
    let a = appointment("pat-1", "doc-1", t);
    let booked = |id| AuditEvent {
        appointment_id: id,
        at: now(),
        actor: user("pat-1"),
        actor_role: Role::Patient,
        action: AuditAction::Booked,
    };
    store
        .create_audited(&a, None, &booked(a.id), None)
        .await
        .unwrap();
    assert_eq!(store.audit_of(&a.id, 10).await.unwrap(), [booked(a.id)]);
    assert_eq!(store.get(&a.id).await.unwrap(), Some(a));
    // A refused booking leaves no trace in the trail either.
    let late = appointment("pat-2", "doc-1", t);
    let refused = store
        .create_audited(&late, None, &booked(late.id), None)
        .await;
    assert!(matches!(refused, Err(StoreError::SlotTaken)), "{refused:?}");
    assert!(store.audit_of(&late.id, 10).await.unwrap().is_empty());
}

fn booked_by(a: &Appointment) -> AuditEvent {
    AuditEvent {
        appointment_id: a.id,
        at: now(),
        actor: a.patient_id.clone(),
        actor_role: Role::Patient,
        action: AuditAction::Booked,
    }
}

/// Books `a` as the booking handler does: audited, under a cap of `max` at `at`.
async fn book_capped<S: Store>(
    store: &S,
    a: &Appointment,
    max: usize,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let cap = BookingCap { max, now: at };
    store
        .create_audited(a, None, &booked_by(a), Some(cap))
        .await
}

pub async fn the_booking_cap_refuses_one_more_and_writes_nothing<S: Store + AuditLog>(store: &S) {
    let t = base_time();
    let hour = Duration::hours(1);
    let held: Vec<_> = (0..3)
        .map(|i| appointment("pat-1", "doc-1", t + hour * i))
        .collect();
    for a in &held {
        book_capped(store, a, 3, now()).await.unwrap();
    }
    let fourth = appointment("pat-1", "doc-2", t);
    let refused = book_capped(store, &fourth, 3, now()).await;
    match refused {
        Err(StoreError::BookingCapReached { next_free_at }) => {
            assert_eq!(
                next_free_at,
                Some(held[0].end),
                "the first to end frees room"
            )
        }
        other => panic!("the fourth booking must hit the cap, got {other:?}"),
    }
    assert_eq!(store.get(&fourth.id).await.unwrap(), None);
    assert!(store.audit_of(&fourth.id, 10).await.unwrap().is_empty());
    assert!(
        taken(store, "doc-2").await.is_empty(),
        "no slot lock is left"
    );
    // A taken slot is what a capped patient hears about first.
    let clash = appointment("pat-1", "doc-1", t);
    let refused = book_capped(store, &clash, 3, now()).await;
    assert!(matches!(refused, Err(StoreError::SlotTaken)), "{refused:?}");
    // The cap is per patient.
    book_capped(store, &appointment("pat-2", "doc-2", t), 3, now())
        .await
        .unwrap();
}

pub async fn cancelled_and_past_appointments_do_not_count_towards_the_cap<S: Store>(store: &S) {
    let t = base_time();
    let hour = Duration::hours(1);
    let held: Vec<_> = (0..3)
        .map(|i| appointment("pat-1", "doc-1", t + hour * i))
        .collect();
    for a in &held {
        book_capped(store, a, 3, now()).await.unwrap();
    }
    let cancelled = held[1].cancelled(Role::Patient, Utc::now()).unwrap();
    store.update(&held[1], &cancelled).await.unwrap();
    let instead = appointment("pat-1", "doc-2", t);
    book_capped(store, &instead, 3, now()).await.unwrap();
    let refused = book_capped(store, &appointment("pat-1", "doc-2", t + hour), 3, now()).await;
    assert!(
        matches!(refused, Err(StoreError::BookingCapReached { .. })),
        "three count again: {refused:?}"
    );
    // Once the first two are over, two more fit; the third is refused again.
    let later = held[0].end.max(instead.end) + Duration::minutes(1);
    for i in 3..5 {
        book_capped(
            store,
            &appointment("pat-1", "doc-1", t + hour * i),
            3,
            later,
        )
        .await
        .unwrap();
    }
    let refused = book_capped(
        store,
        &appointment("pat-1", "doc-1", t + hour * 5),
        3,
        later,
    )
    .await;
    match refused {
        Err(StoreError::BookingCapReached { next_free_at }) => {
            assert_eq!(next_free_at, Some(held[2].end))
        }
        other => panic!("the cap must hold after the past ones are gone, got {other:?}"),
    }
}

pub async fn concurrent_bookings_of_one_patient_stop_at_the_cap<S: Store>(store: &S) {
    let t = base_time();
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            let a = appointment("pat-1", "doc-1", t + Duration::hours(i));
            tokio::spawn(async move { (book_capped(&store, &a, 3, now()).await, a) })
        })
        .collect();
    let mut booked = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            (Ok(()), a) => booked.push(a),
            (Err(StoreError::BookingCapReached { .. }), _) => {}
            // DynamoDB may tell a loser of a transaction conflict to retry later.
            (Err(StoreError::Unavailable(_)), _) => {}
            (Err(other), _) => panic!("a refused booking must hit the cap, got {other:?}"),
        }
    }
    assert_eq!(booked.len(), 3, "exactly the cap's worth of bookings win");
    booked.sort_by_key(|a| a.start);
    let listed = list_all(store, &Party::Patient(user("pat-1")), TimeRange::default()).await;
    assert_eq!(listed, booked);
}

pub async fn a_refused_booking_leaves_its_idempotency_record_in_progress<S: Store>(store: &S) {
    let t = base_time();
    store
        .create(&appointment("pat-2", "doc-1", t), None)
        .await
        .unwrap();
    let k = key("pat-1", "k1");
    assert_eq!(
        begin(store, &k, "fp", now()).await,
        IdempotencyBegin::Started
    );
    let mine = appointment("pat-1", "doc-1", t);
    let refused = complete(store, &k, "fp", &mine, now() + Duration::hours(24)).await;
    assert!(matches!(refused, Err(StoreError::SlotTaken)), "{refused:?}");
    // The transaction wrote nothing: no completed record to replay, no appointment.
    let soon = now() + Duration::seconds(1);
    assert_eq!(
        begin(store, &k, "fp", soon).await,
        IdempotencyBegin::InProgress
    );
    assert_eq!(store.get(&mine.id).await.unwrap(), None);
}

// ---------------------------------------------------------------------------------------------
// Races

pub async fn concurrent_bookings_of_one_slot_yield_exactly_one<S: Store>(store: &S) {
    let t = base_time();
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let store = store.clone();
            let a = appointment(&format!("pat-{i}"), "doc-1", t);
            tokio::spawn(async move { (store.create(&a, None).await, a) })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            (Ok(()), a) => winners.push(a),
            (Err(StoreError::SlotTaken), _) => {}
            (Err(other), _) => panic!("a losing booking must hear SlotTaken, got {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one booking wins the slot");
    assert_eq!(taken(store, "doc-1").await, [t]);
    let listed = list_all(store, &Party::Doctor(user("doc-1")), TimeRange::default()).await;
    assert_eq!(listed, winners);
}

pub async fn concurrent_first_requests_with_one_key_start_exactly_once<S: Store>(store: &S) {
    let k = key("pat-1", "double-click");
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (store, k) = (store.clone(), k.clone());
            tokio::spawn(async move { begin(&store, &k, "fp", now()).await })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }
    let started = outcomes
        .iter()
        .filter(|o| **o == IdempotencyBegin::Started)
        .count();
    assert_eq!(started, 1, "{outcomes:?}");
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, IdempotencyBegin::Started | IdempotencyBegin::InProgress)),
        "the others must wait for the first: {outcomes:?}"
    );
}
