//! The store contract of notifications and reminders: in-app notifications, profiles made on
//! first sight, push devices and the once-only reminder gate. `notification_contract_suite!`
//! turns each case into a test on a fresh store, like `contract_suite!`.

use chrono::{DateTime, Duration, Utc};
use medichain::domain::device::{Device, DeviceId, PushEndpoint, PushPlatform};
use medichain::domain::notification::{render, Notice, NotificationId, Recipient};
use medichain::domain::reminder::{Participants, ReminderKind, ReminderRequest};
use medichain::domain::Role;
use medichain::ports::{
    AppointmentStore, Contacts, DeviceRegistry, Directory, GateClaim, NotificationStore,
    PageRequest, ProfileStore, ReminderGate, ReminderReads, ReminderSubject, StoreError,
};

use crate::support::{appointment, base_time, patient_profile, user};

/// Every port these cases need, on one object shareable across tasks.
pub trait Store:
    Directory
    + AppointmentStore
    + NotificationStore
    + ProfileStore
    + DeviceRegistry
    + ReminderGate
    + ReminderReads
    + Clone
    + 'static
{
}
impl<S> Store for S where
    S: Directory
        + AppointmentStore
        + NotificationStore
        + ProfileStore
        + DeviceRegistry
        + ReminderGate
        + ReminderReads
        + Clone
        + 'static
{
}

macro_rules! notification_contract_suite {
    ($fixture:path) => {
        $crate::contract::notifications::notification_contract_suite!(@cases $fixture;
            a_notification_is_added_once_per_id,
            notifications_added_together_are_stored_once_per_id,
            notifications_page_newest_first,
            notification_cursors_the_store_did_not_hand_out_are_refused,
            marking_read_counts_down_and_only_for_the_recipient,
            a_profile_made_on_first_sight_never_replaces_one_that_exists,
            devices_register_once_list_per_user_and_remove_only_for_their_owner,
            contacts_are_read_together_in_the_order_asked,
            a_profile_and_its_devices_are_kept_apart,
            the_reminder_gate_lets_one_worker_send_once,
            a_lapsed_or_released_gate_can_be_claimed_again,
            each_version_and_kind_has_its_own_gate,
            completing_a_reminder_stores_its_notices_and_marks_it_sent,
            concurrent_claims_of_one_reminder_yield_exactly_one,
            a_reminder_reads_its_appointment_with_both_users_contacts,
        );
    };
    (@cases $fixture:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let fixture = $fixture().await;
                $crate::contract::notifications::$case(&fixture.store).await;
            }
        )*
    };
}
pub(crate) use notification_contract_suite;

/// A notification for `user` about an appointment changed at `at`.
fn notification(user_id: &str, at: DateTime<Utc>) -> medichain::domain::notification::Notification {
    let mut a = appointment("pat-1", "doc-1", base_time() + Duration::days(3));
    a.updated_at = at;
    let to = Recipient {
        id: user(user_id),
        role: Role::Patient,
        time_zone: Default::default(),
    };
    render(&a, Notice::Created, &to)
}

pub async fn a_notification_is_added_once_per_id<S: Store>(store: &S) {
    let n = notification("pat-1", base_time());
    assert!(store.add_notification(&n).await.unwrap());
    assert!(!store.add_notification(&n).await.unwrap());
    let page = store
        .notifications_of(&user("pat-1"), PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(page.items, vec![n]);
    assert_eq!(page.next_cursor, None);
    assert_eq!(store.unread_count(&user("pat-1")).await.unwrap(), 1);
}

pub async fn notifications_added_together_are_stored_once_per_id<S: Store>(store: &S) {
    store.add_notifications(&[]).await.unwrap();
    // More than one DynamoDB batch (25), for two users, with an id twice in the same call.
    let mut batch: Vec<_> = (0..30)
        .map(|i| {
            notification(
                ["pat-1", "pat-2"][i % 2],
                base_time() + Duration::minutes(i as i64),
            )
        })
        .collect();
    batch.push(batch[0].clone());
    store.add_notifications(&batch).await.unwrap();
    // A redelivery writes the same ids again: still one notification per id.
    store.add_notifications(&batch[..4]).await.unwrap();
    for (who, expected) in [("pat-1", 15), ("pat-2", 15)] {
        let page = store
            .notifications_of(&user(who), PageRequest::first(50))
            .await
            .unwrap();
        let mut want: Vec<_> = batch[..30]
            .iter()
            .filter(|n| n.user_id == user(who))
            .cloned()
            .collect();
        want.sort_by_key(|n| std::cmp::Reverse(n.created_at));
        assert_eq!(page.items.len(), expected, "{who}");
        assert_eq!(page.items, want, "{who}");
        assert_eq!(
            store.unread_count(&user(who)).await.unwrap(),
            expected as u64
        );
    }
    // What the batch wrote is there for the single, conditional add as well.
    assert!(!store.add_notification(&batch[5]).await.unwrap());
}

pub async fn notifications_page_newest_first<S: Store>(store: &S) {
    let mut all = Vec::new();
    for minutes in [5, 1, 4, 2, 3] {
        let n = notification("pat-1", base_time() + Duration::minutes(minutes));
        store.add_notification(&n).await.unwrap();
        all.push(n);
    }
    // Someone else's never shows.
    store
        .add_notification(&notification("pat-2", base_time() + Duration::minutes(9)))
        .await
        .unwrap();
    all.sort_by_key(|n| std::cmp::Reverse(n.created_at));
    let mut seen = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = store
            .notifications_of(
                &user("pat-1"),
                PageRequest {
                    limit: 2,
                    cursor: cursor.clone(),
                },
            )
            .await
            .unwrap();
        pages += 1;
        assert!(page.items.len() <= 2);
        seen.extend(page.items);
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, all);
}

pub async fn notification_cursors_the_store_did_not_hand_out_are_refused<S: Store>(store: &S) {
    for bad in ["x", "not base64 !", "bm90IGFuIGlk"] {
        let page = PageRequest {
            limit: 5,
            cursor: Some(bad.to_owned()),
        };
        assert!(
            matches!(
                store.notifications_of(&user("pat-1"), page).await,
                Err(StoreError::InvalidCursor)
            ),
            "{bad:?}"
        );
    }
}

pub async fn marking_read_counts_down_and_only_for_the_recipient<S: Store>(store: &S) {
    let first = notification("pat-1", base_time());
    let second = notification("pat-1", base_time() + Duration::minutes(1));
    let theirs = notification("pat-2", base_time());
    for n in [&first, &second, &theirs] {
        store.add_notification(n).await.unwrap();
    }
    assert_eq!(store.unread_count(&user("pat-1")).await.unwrap(), 2);
    let read = store
        .mark_read(&user("pat-1"), &first.id)
        .await
        .unwrap()
        .expect("the recipient's notification");
    assert!(read.read);
    assert_eq!(read.id, first.id);
    assert_eq!(store.unread_count(&user("pat-1")).await.unwrap(), 1);
    // Again is fine and changes nothing.
    assert!(store
        .mark_read(&user("pat-1"), &first.id)
        .await
        .unwrap()
        .is_some());
    assert_eq!(store.unread_count(&user("pat-1")).await.unwrap(), 1);
    // Nobody marks someone else's, nor one that does not exist.
    assert!(store
        .mark_read(&user("pat-2"), &second.id)
        .await
        .unwrap()
        .is_none());
    let unknown = NotificationId::parse("20300115T193000000Z-0123456789abcdef").unwrap();
    assert!(store
        .mark_read(&user("pat-1"), &unknown)
        .await
        .unwrap()
        .is_none());
    assert_eq!(store.unread_count(&user("pat-2")).await.unwrap(), 1);
    let listed = store
        .notifications_of(&user("pat-1"), PageRequest::first(10))
        .await
        .unwrap();
    let flags: Vec<bool> = listed.items.iter().map(|n| n.read).collect();
    assert_eq!(flags, [false, true]);
}

pub async fn a_profile_made_on_first_sight_never_replaces_one_that_exists<S: Store>(store: &S) {
    let fresh = patient_profile("pat-1", "Pat One");
    assert_eq!(store.create_profile_if_absent(&fresh).await.unwrap(), fresh);
    assert_eq!(
        store.get_user(&user("pat-1")).await.unwrap(),
        Some(fresh.clone())
    );
    let mut edited = fresh.clone();
    edited.sms_opt_in = !fresh.sms_opt_in;
    edited.name = "Pat Renamed".into();
    store.put_user(&edited).await.unwrap();
    assert_eq!(
        store.create_profile_if_absent(&fresh).await.unwrap(),
        edited
    );
    assert_eq!(store.get_user(&user("pat-1")).await.unwrap(), Some(edited));
}

fn device(owner: &str, n: u8, at: DateTime<Utc>) -> Device {
    Device {
        id: DeviceId::parse(&format!("{n:032x}")).unwrap(),
        user_id: user(owner),
        platform: PushPlatform::Fcm,
        endpoint: PushEndpoint(format!(
            "arn:aws:sns:us-east-1:123456789012:endpoint/GCM/app/{n}"
        )),
        created_at: at,
    }
}

pub async fn devices_register_once_list_per_user_and_remove_only_for_their_owner<S: Store>(
    store: &S,
) {
    let first = device("doc-1", 1, base_time());
    assert_eq!(store.register_device(&first).await.unwrap(), first);
    let again = device("doc-1", 1, base_time() + Duration::hours(1));
    assert_eq!(
        store.register_device(&again).await.unwrap(),
        first,
        "the first stays"
    );
    let second = device("doc-1", 2, base_time());
    store.register_device(&second).await.unwrap();
    store
        .register_device(&device("doc-2", 3, base_time()))
        .await
        .unwrap();
    let mut mine = store.devices_of(&user("doc-1")).await.unwrap();
    mine.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(mine, vec![first.clone(), second.clone()]);
    assert!(store
        .remove_device(&user("doc-2"), &first.id)
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        store
            .remove_device(&user("doc-1"), &first.id)
            .await
            .unwrap(),
        Some(first.clone())
    );
    assert!(store
        .remove_device(&user("doc-1"), &first.id)
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        store.devices_of(&user("doc-1")).await.unwrap(),
        vec![second]
    );
    assert!(store.devices_of(&user("nobody")).await.unwrap().is_empty());
}

pub async fn contacts_are_read_together_in_the_order_asked<S: Store>(store: &S) {
    let jordan = patient_profile("pat-1", "Jordan Rivera");
    let sam = patient_profile("pat-2", "Sam Okafor");
    store.put_user(&jordan).await.unwrap();
    store.put_user(&sam).await.unwrap();
    let phone = device("pat-2", 2, base_time());
    let tablet = device("pat-2", 1, base_time() + Duration::hours(1));
    let no_profile_yet = device("newcomer", 3, base_time());
    for d in [&phone, &tablet, &no_profile_yet] {
        store.register_device(d).await.unwrap();
    }
    assert_eq!(store.get_contacts(&[]).await.unwrap(), vec![]);
    // Order kept, devices by id, a user without a profile has none (but may have devices), and
    // an id asked twice is answered twice.
    let found = store
        .get_contacts(&[
            user("pat-2"),
            user("nobody"),
            user("pat-1"),
            user("newcomer"),
            user("pat-2"),
        ])
        .await
        .unwrap();
    let sam_contacts = Contacts {
        profile: Some(sam),
        devices: vec![tablet, phone],
    };
    assert_eq!(
        found,
        vec![
            sam_contacts.clone(),
            Contacts::default(),
            Contacts {
                profile: Some(jordan),
                devices: vec![]
            },
            Contacts {
                profile: None,
                devices: vec![no_profile_yet]
            },
            sam_contacts,
        ]
    );
}

/// Profiles and devices may share storage (one DynamoDB item): writing one never loses or makes
/// up the other.
pub async fn a_profile_and_its_devices_are_kept_apart<S: Store>(store: &S) {
    let phone = device("pat-1", 1, base_time());
    store.register_device(&phone).await.unwrap();
    assert_eq!(
        store.get_user(&user("pat-1")).await.unwrap(),
        None,
        "a device makes no profile"
    );

    let first = patient_profile("pat-1", "Jordan Rivera");
    assert_eq!(store.create_profile_if_absent(&first).await.unwrap(), first);
    let mut changed = first.clone();
    changed.name = "Jordan R. Rivera".into();
    store.put_user(&changed).await.unwrap();
    assert_eq!(
        store.create_profile_if_absent(&first).await.unwrap(),
        changed,
        "the stored profile stays"
    );
    assert_eq!(
        store.devices_of(&user("pat-1")).await.unwrap(),
        vec![phone.clone()]
    );

    store
        .remove_device(&user("pat-1"), &phone.id)
        .await
        .unwrap();
    assert_eq!(
        store.get_user(&user("pat-1")).await.unwrap(),
        Some(changed),
        "removing a device keeps the profile"
    );
    assert!(store.devices_of(&user("pat-1")).await.unwrap().is_empty());
}

fn reminder(kind: ReminderKind, version: u64) -> ReminderRequest {
    ReminderRequest {
        appointment_id: appointment("pat-1", "doc-1", base_time()).id,
        kind,
        version,
        start: None,
        participants: None,
    }
}

const LEASE: Duration = Duration::minutes(2);

pub async fn the_reminder_gate_lets_one_worker_send_once<S: Store>(store: &S) {
    let r = reminder(ReminderKind::DayBefore, 1);
    let now = base_time();
    let expires = now + Duration::days(30);
    assert_eq!(
        store.claim_reminder(&r, now, LEASE, expires).await.unwrap(),
        GateClaim::Claimed
    );
    assert_eq!(
        store
            .claim_reminder(&r, now + Duration::seconds(5), LEASE, expires)
            .await
            .unwrap(),
        GateClaim::InProgress
    );
    store.complete_reminder(&r, &[], expires).await.unwrap();
    // Sent stays sent, however late the duplicate and even after a stray release.
    store.release_reminder(&r).await.unwrap();
    for later in [Duration::seconds(1), Duration::hours(1), Duration::days(2)] {
        assert_eq!(
            store
                .claim_reminder(&r, now + later, LEASE, expires)
                .await
                .unwrap(),
            GateClaim::AlreadySent
        );
    }
}

pub async fn a_lapsed_or_released_gate_can_be_claimed_again<S: Store>(store: &S) {
    let r = reminder(ReminderKind::Starting, 1);
    let now = base_time();
    let expires = now + Duration::days(30);
    assert_eq!(
        store.claim_reminder(&r, now, LEASE, expires).await.unwrap(),
        GateClaim::Claimed
    );
    // Its worker died: after the lease another takes over.
    let later = now + LEASE + Duration::seconds(1);
    assert_eq!(
        store
            .claim_reminder(&r, later, LEASE, expires)
            .await
            .unwrap(),
        GateClaim::Claimed
    );
    assert_eq!(
        store
            .claim_reminder(&r, later + Duration::seconds(1), LEASE, expires)
            .await
            .unwrap(),
        GateClaim::InProgress
    );
    // A failed send releases it for an immediate retry.
    store.release_reminder(&r).await.unwrap();
    assert_eq!(
        store
            .claim_reminder(&r, later + Duration::seconds(2), LEASE, expires)
            .await
            .unwrap(),
        GateClaim::Claimed
    );
    // A record past its expiry counts as absent (TTL deletion lags).
    store.complete_reminder(&r, &[], expires).await.unwrap();
    assert_eq!(
        store
            .claim_reminder(
                &r,
                expires + Duration::seconds(1),
                LEASE,
                expires + Duration::days(1)
            )
            .await
            .unwrap(),
        GateClaim::Claimed
    );
}

pub async fn each_version_and_kind_has_its_own_gate<S: Store>(store: &S) {
    let now = base_time();
    let expires = now + Duration::days(30);
    let v1 = reminder(ReminderKind::DayBefore, 1);
    store
        .claim_reminder(&v1, now, LEASE, expires)
        .await
        .unwrap();
    store.complete_reminder(&v1, &[], expires).await.unwrap();
    for other in [
        reminder(ReminderKind::DayBefore, 2),
        reminder(ReminderKind::Starting, 1),
    ] {
        assert_eq!(
            store
                .claim_reminder(&other, now, LEASE, expires)
                .await
                .unwrap(),
            GateClaim::Claimed,
            "{other:?}"
        );
    }
}

pub async fn completing_a_reminder_stores_its_notices_and_marks_it_sent<S: Store>(store: &S) {
    let r = reminder(ReminderKind::DayBefore, 2);
    let now = base_time();
    let expires = now + Duration::days(30);
    assert_eq!(
        store.claim_reminder(&r, now, LEASE, expires).await.unwrap(),
        GateClaim::Claimed
    );
    let notices = [
        notification("pat-1", now + Duration::seconds(1)),
        notification("doc-1", now + Duration::seconds(1)),
    ];
    // One of them is there already: the failed attempt before this retry stored it.
    assert!(store.add_notification(&notices[1]).await.unwrap());
    store
        .complete_reminder(&r, &notices, expires)
        .await
        .unwrap();
    for (who, notice) in [("pat-1", &notices[0]), ("doc-1", &notices[1])] {
        let page = store
            .notifications_of(&user(who), PageRequest::first(10))
            .await
            .unwrap();
        assert_eq!(page.items.len(), 1, "{who}: one notice per id");
        assert_eq!(page.items[0].id, notice.id, "{who}");
    }
    assert_eq!(store.unread_count(&user("pat-1")).await.unwrap(), 1);
    // Sent: a duplicate delivery sends nothing (expiry: `a_lapsed_or_released_gate_…`).
    assert_eq!(
        store
            .claim_reminder(&r, now + Duration::days(2), LEASE, expires)
            .await
            .unwrap(),
        GateClaim::AlreadySent
    );
}

pub async fn concurrent_claims_of_one_reminder_yield_exactly_one<S: Store>(store: &S) {
    let r = reminder(ReminderKind::Starting, 3);
    let now = base_time();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (store, r) = (store.clone(), r.clone());
            tokio::spawn(async move {
                store
                    .claim_reminder(&r, now, LEASE, now + Duration::days(30))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut claimed = 0;
    for t in tasks {
        match t.await.unwrap() {
            GateClaim::Claimed => claimed += 1,
            GateClaim::InProgress => {}
            GateClaim::AlreadySent => panic!("nobody marked it sent"),
        }
    }
    assert_eq!(claimed, 1);
}

/// What a fired reminder reads is the stored appointment and its own users' contacts, whether
/// the payload names the users (one read on DynamoDB), names none (a payload from before they
/// were in it) or names others.
pub async fn a_reminder_reads_its_appointment_with_both_users_contacts<S: Store>(store: &S) {
    let a = appointment("pat-1", "doc-1", base_time() + Duration::days(2));
    store.create(&a, None).await.unwrap();
    let jordan = patient_profile("pat-1", "Jordan Rivera");
    store.put_user(&jordan).await.unwrap();
    let phone = device("pat-1", 1, base_time());
    store.register_device(&phone).await.unwrap();
    // The doctor has a device but no profile yet.
    let pager = device("doc-1", 2, base_time());
    store.register_device(&pager).await.unwrap();
    // Another user's profile, which must not be mixed in.
    store
        .put_user(&patient_profile("pat-2", "Sam Okafor"))
        .await
        .unwrap();
    let expected = ReminderSubject {
        appointment: a.clone(),
        contacts: [
            Contacts {
                profile: Some(jordan),
                devices: vec![phone],
            },
            Contacts {
                profile: None,
                devices: vec![pager],
            },
        ],
    };
    let named = ReminderRequest::for_appointment(&a, ReminderKind::DayBefore);
    let unnamed = ReminderRequest {
        participants: None,
        ..named.clone()
    };
    let misnamed = ReminderRequest {
        participants: Some(Participants {
            patient: user("pat-2"),
            doctor: user("doc-1"),
        }),
        ..named.clone()
    };
    for r in [&named, &unnamed, &misnamed] {
        assert_eq!(
            store.reminder_subject(r).await.unwrap().as_ref(),
            Some(&expected),
            "{r:?}"
        );
    }
    let gone = ReminderRequest {
        appointment_id: appointment("pat-1", "doc-1", base_time()).id,
        ..named
    };
    assert_eq!(store.reminder_subject(&gone).await.unwrap(), None);
}
