//! The DynamoDB calls of the side effects, counted on moto with an SDK interceptor: what
//! `appointment-events` and `send-reminder` send for one booking and one reminder, so that a
//! change that adds a round trip per appointment (a profile read per notice, a write per notice)
//! fails here rather than only in the benchmark's figures (docs/performance.md). The outbound
//! ports are stand-ins that count; `reminders_on_aws` covers them against moto.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Duration, Utc};
use medichain::adapters::aws::DynamoDbStore;
use medichain::clock::Clock;
use medichain::domain::device::{Device, DeviceToken, PushEndpoint, PushPlatform};
use medichain::domain::event::DomainEvent;
use medichain::domain::reminder::{ReminderKind, ReminderRequest};
use medichain::domain::user::PhoneNumber;
use medichain::domain::{AppointmentId, Role, UserProfile};
use medichain::ports::{
    AppointmentStore, DeviceRegistry, Directory, EventPublisher, MessageContext, NotificationStore,
    Notifier, OutboundError, PageRequest, PushOutcome, ReminderScheduler,
};
use medichain::side_effects::{handle_change, send_reminder, EffectDeps, ReminderOutcome};
use support::ops::{ops, OperationCounter};
use support::{appointment, base_time, moto, patient_profile, user};

struct FixedClock(DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

/// Counts what would leave for Scheduler, SNS and EventBridge.
#[derive(Default)]
struct Outbound {
    schedules: Mutex<Vec<ReminderRequest>>,
    sms: AtomicUsize,
    push: AtomicUsize,
    events: Mutex<Vec<String>>,
}

#[async_trait]
impl ReminderScheduler for Outbound {
    async fn schedule_reminder(
        &self,
        reminder: &ReminderRequest,
        _at: DateTime<Utc>,
    ) -> Result<(), OutboundError> {
        self.schedules.lock().unwrap().push(reminder.clone());
        Ok(())
    }

    async fn unschedule_reminder(
        &self,
        _appointment_id: &AppointmentId,
        _kind: ReminderKind,
    ) -> Result<(), OutboundError> {
        Ok(())
    }
}

#[async_trait]
impl Notifier for Outbound {
    async fn send_sms(
        &self,
        _to: &PhoneNumber,
        _text: &str,
        _context: &MessageContext,
    ) -> Result<(), OutboundError> {
        self.sms.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    async fn send_push(
        &self,
        _to: &PushEndpoint,
        _text: &str,
        _context: &MessageContext,
    ) -> Result<PushOutcome, OutboundError> {
        self.push.fetch_add(1, Ordering::SeqCst);
        Ok(PushOutcome::Delivered)
    }
}

#[async_trait]
impl EventPublisher for Outbound {
    async fn publish(&self, events: &[DomainEvent]) -> Result<(), OutboundError> {
        let mut seen = self.events.lock().expect("events lock");
        seen.extend(events.iter().map(|e| e.name().to_owned()));
        Ok(())
    }
}

fn with_sms(mut profile: UserProfile, role: Role, phone: &str) -> UserProfile {
    profile.role = role;
    profile.phone = Some(PhoneNumber::parse(phone).expect("a phone number"));
    profile.sms_opt_in = true;
    profile
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_booking_and_a_reminder_take_one_read_and_one_notice_write_each() {
    let table = support::dynamodb().await.store.table_name().to_owned();
    let counter = OperationCounter::default();
    let client = Client::from_conf(moto::config().interceptor(counter.clone()).build());
    let store = DynamoDbStore::new(client, table);

    // The benchmark's contacts: doctor with SMS and one push device, patient opted in to SMS.
    let start = base_time() + Duration::days(2);
    let a = appointment("pat-1", "doc-1", start);
    let patient = with_sms(
        patient_profile("pat-1", "Jordan Rivera"),
        Role::Patient,
        "+4930555017",
    );
    let doctor = with_sms(
        patient_profile("doc-1", "Ada Lane"),
        Role::Doctor,
        "+12125550171",
    );
    store.put_user(&patient).await.unwrap();
    store.put_user(&doctor).await.unwrap();
    store
        .register_device(&Device {
            id: DeviceToken::parse(PushPlatform::Apns, &"ab".repeat(32))
                .unwrap()
                .device_id(&user("doc-1")),
            user_id: user("doc-1"),
            platform: PushPlatform::Apns,
            endpoint: PushEndpoint("arn:aws:sns:us-east-1:123456789012:endpoint/APNS/x/1".into()),
            created_at: base_time(),
        })
        .await
        .unwrap();
    store.create(&a, None).await.unwrap();

    let outbound = Arc::new(Outbound::default());
    let deps = |now: DateTime<Utc>| {
        EffectDeps::new(
            store.clone(),
            outbound.clone(),
            outbound.clone(),
            outbound.clone(),
            Arc::new(FixedClock(now)),
            "https://app.medichain.example",
        )
    };
    counter.take();

    // The booking's change: both profiles in one read, four notices in one write.
    let booked_at = start - Duration::days(2);
    handle_change(&deps(booked_at), None, Some(&a))
        .await
        .unwrap();
    assert_eq!(
        counter.take(),
        ops(&[("BatchGetItem", 1), ("BatchWriteItem", 1)])
    );
    let scheduled = outbound.schedules.lock().unwrap().clone();
    assert_eq!(scheduled.len(), 2);
    for who in ["pat-1", "doc-1"] {
        let notices = store
            .notifications_of(&user(who), PageRequest::first(10))
            .await
            .unwrap();
        assert_eq!(
            notices.items.len(),
            2,
            "created and video call ready for {who}"
        );
    }

    counter.take();

    // The 24 h reminder, with the payload that was scheduled: the appointment and both profiles
    // with their devices in one read, the gate claim, the patient's SMS quota (doctors are not
    // capped), then both notices and the gate's "sent" in one write; nothing on the bus.
    let reminder = scheduled
        .iter()
        .find(|r| r.kind == ReminderKind::DayBefore)
        .expect("the 24 h reminder was scheduled");
    let sent = ReminderOutcome::Sent {
        sms: 2,
        push: 1,
        disabled_endpoints: 0,
    };
    let outcome = send_reminder(&deps(start - Duration::days(1)), reminder)
        .await
        .unwrap();
    assert_eq!(outcome, sent);
    assert_eq!(
        counter.take(),
        ops(&[
            ("BatchGetItem", 1),
            ("BatchWriteItem", 1),
            ("PutItem", 1),
            ("UpdateItem", 1),
        ])
    );
    // A payload scheduled before the participants were in it reads the appointment first: one
    // GetItem more, and the same reminder otherwise.
    let old_payload = ReminderRequest {
        kind: ReminderKind::Starting,
        participants: None,
        ..reminder.clone()
    };
    let outcome = send_reminder(&deps(start - Duration::minutes(5)), &old_payload)
        .await
        .unwrap();
    assert_eq!(outcome, sent);
    assert_eq!(
        counter.take(),
        ops(&[
            ("BatchGetItem", 1),
            ("BatchWriteItem", 1),
            ("GetItem", 1),
            ("PutItem", 1),
            ("UpdateItem", 1),
        ])
    );
    for who in ["pat-1", "doc-1"] {
        let notices = store
            .notifications_of(&user(who), PageRequest::first(10))
            .await
            .unwrap();
        assert_eq!(notices.items.len(), 4, "and both reminders for {who}");
    }
    assert_eq!(*outbound.events.lock().unwrap(), ["AppointmentBooked"]);
}
