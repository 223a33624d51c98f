//! The side effects end to end on the embedded store, with recording stand-ins for the scheduler,
//! SMS/push and the event bus.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Duration, TimeZone as _, Utc};

use super::*;
use crate::adapters::embedded::EmbeddedStore;
use crate::clock::Clock;
use crate::domain::device::{Device, DeviceId, PushEndpoint, PushPlatform};
use crate::domain::doctor::TimeZone;
use crate::domain::event::DomainEvent;
use crate::domain::fixtures::sample;
use crate::domain::notification::NotificationType;
use crate::domain::reminder::{ReminderKind, ReminderRequest};
use crate::domain::user::PhoneNumber;
use crate::domain::{AppointmentId, Role, UserId, UserProfile};
use crate::ports::{
    AppointmentStore, DeviceRegistry, Directory, MessageContext, NotificationStore, PageRequest,
    PushOutcome,
};

struct TestClock(Mutex<DateTime<Utc>>);

impl TestClock {
    fn set(&self, t: DateTime<Utc>) {
        *self.0.lock().unwrap() = t;
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

/// Schedules by name, as EventBridge Scheduler keeps them.
#[derive(Default)]
struct FakeScheduler {
    schedules: Mutex<BTreeMap<String, (ReminderRequest, DateTime<Utc>)>>,
    down: Mutex<bool>,
}

#[async_trait]
impl ReminderScheduler for FakeScheduler {
    async fn schedule_reminder(
        &self,
        r: &ReminderRequest,
        at: DateTime<Utc>,
    ) -> Result<(), OutboundError> {
        if *self.down.lock().unwrap() {
            return Err(OutboundError::Unavailable("scheduler throttled".into()));
        }
        let name = format!("{}-{}", r.appointment_id, r.kind);
        self.schedules
            .lock()
            .unwrap()
            .entry(name)
            .or_insert((r.clone(), at));
        Ok(())
    }

    async fn unschedule_reminder(
        &self,
        id: &AppointmentId,
        kind: ReminderKind,
    ) -> Result<(), OutboundError> {
        self.schedules
            .lock()
            .unwrap()
            .remove(&format!("{id}-{kind}"));
        Ok(())
    }
}

#[derive(Default)]
struct FakeNotifier {
    sent: Mutex<Vec<(String, String, String, MessageContext)>>,
    disabled: Mutex<Vec<String>>,
    down: Mutex<bool>,
}

impl FakeNotifier {
    fn sent(&self) -> Vec<(String, String, String, MessageContext)> {
        self.sent.lock().unwrap().clone()
    }
}

#[async_trait]
impl Notifier for FakeNotifier {
    async fn send_sms(
        &self,
        to: &PhoneNumber,
        text: &str,
        context: &MessageContext,
    ) -> Result<(), OutboundError> {
        if *self.down.lock().unwrap() {
            return Err(OutboundError::Unavailable("throttled".into()));
        }
        // Give a concurrent duplicate every chance to interleave.
        tokio::task::yield_now().await;
        self.sent.lock().unwrap().push((
            "sms".into(),
            to.as_str().into(),
            text.into(),
            context.clone(),
        ));
        Ok(())
    }

    async fn send_push(
        &self,
        to: &PushEndpoint,
        text: &str,
        context: &MessageContext,
    ) -> Result<PushOutcome, OutboundError> {
        if *self.down.lock().unwrap() {
            return Err(OutboundError::Unavailable("throttled".into()));
        }
        if self.disabled.lock().unwrap().contains(&to.0) {
            return Ok(PushOutcome::EndpointDisabled);
        }
        self.sent
            .lock()
            .unwrap()
            .push(("push".into(), to.0.clone(), text.into(), context.clone()));
        Ok(PushOutcome::Delivered)
    }
}

#[derive(Default)]
struct FakeEvents(Mutex<Vec<DomainEvent>>);

#[async_trait]
impl EventPublisher for FakeEvents {
    async fn publish(&self, events: &[DomainEvent]) -> Result<(), OutboundError> {
        self.0.lock().unwrap().extend_from_slice(events);
        Ok(())
    }
}

impl FakeEvents {
    fn names(&self) -> Vec<&'static str> {
        self.0.lock().unwrap().iter().map(|e| e.name()).collect()
    }
}

struct World {
    deps: EffectDeps,
    store: EmbeddedStore,
    clock: Arc<TestClock>,
    scheduler: Arc<FakeScheduler>,
    notifier: Arc<FakeNotifier>,
    events: Arc<FakeEvents>,
    _dir: tempfile::TempDir,
}

const SITE: &str = "https://app.medichain.example";

/// 2030-01-15 19:30 UTC: 14:30 in New York (the patient), 20:30 in Berlin (the doctor).
fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 15, 19, 30, 0).unwrap()
}

fn profile(id: &str, role: Role, zone: &str, phone: &str, opt_in: bool) -> UserProfile {
    UserProfile {
        id: UserId::parse(id).unwrap(),
        role,
        name: format!("{id} name"),
        time_zone: TimeZone::parse(zone).unwrap(),
        phone: Some(PhoneNumber::parse(phone).unwrap()),
        sms_opt_in: opt_in,
    }
}

async fn world(patient_opts_in: bool) -> World {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path()).unwrap();
    let clock = Arc::new(TestClock(Mutex::new(start() - Duration::days(3))));
    let scheduler = Arc::new(FakeScheduler::default());
    let notifier = Arc::new(FakeNotifier::default());
    let events = Arc::new(FakeEvents::default());
    store
        .put_user(&profile(
            "pat",
            Role::Patient,
            "America/New_York",
            "+13125550103",
            patient_opts_in,
        ))
        .await
        .unwrap();
    store
        .put_user(&profile(
            "doc",
            Role::Doctor,
            "Europe/Berlin",
            "+12125550101",
            false,
        ))
        .await
        .unwrap();
    let deps = EffectDeps::new(
        store.clone(),
        scheduler.clone(),
        notifier.clone(),
        events.clone(),
        clock.clone(),
        SITE,
    );
    World {
        deps,
        store,
        clock,
        scheduler,
        notifier,
        events,
        _dir: dir,
    }
}

impl World {
    async fn book(&self) -> Appointment {
        let mut a = sample(start());
        a.created_at = self.clock.now();
        a.updated_at = a.created_at;
        self.store.create(&a, None).await.unwrap();
        handle_change(&self.deps, None, Some(&a)).await.unwrap();
        a
    }

    async fn add_device(&self, user: &str, endpoint: &str) {
        let device = Device {
            id: DeviceId::parse(&format!("{:0>32}", endpoint.len())).unwrap(),
            user_id: UserId::parse(user).unwrap(),
            platform: PushPlatform::Apns,
            endpoint: PushEndpoint(endpoint.into()),
            created_at: self.clock.now(),
        };
        self.store.register_device(&device).await.unwrap();
    }

    async fn notification_types(&self, user: &str) -> Vec<NotificationType> {
        let page = self
            .store
            .notifications_of(&UserId::parse(user).unwrap(), PageRequest::first(100))
            .await
            .unwrap();
        page.items.iter().map(|n| n.kind).collect()
    }

    fn request(&self, a: &Appointment, kind: ReminderKind) -> ReminderRequest {
        ReminderRequest::for_appointment(a, kind)
    }
}

#[tokio::test]
async fn a_booking_schedules_both_reminders_and_notifies_both_users_once() {
    let w = world(true).await;
    let a = w.book().await;
    let schedules = w.scheduler.schedules.lock().unwrap().clone();
    assert_eq!(
        schedules.values().cloned().collect::<Vec<_>>(),
        vec![
            (
                w.request(&a, ReminderKind::DayBefore),
                start() - Duration::hours(24)
            ),
            (
                w.request(&a, ReminderKind::Starting),
                start() - Duration::minutes(5)
            ),
        ]
    );
    use NotificationType::*;
    assert_eq!(
        w.notification_types("pat").await,
        [VideoCallReady, AppointmentCreated]
    );
    assert_eq!(
        w.notification_types("doc").await,
        [VideoCallReady, AppointmentCreated]
    );
    assert_eq!(w.events.names(), ["AppointmentBooked"]);
    assert!(w.notifier.sent().is_empty());

    // The stream delivers the same change again: nothing new for the users.
    handle_change(&w.deps, None, Some(&a)).await.unwrap();
    assert_eq!(w.notification_types("pat").await.len(), 2);
    assert_eq!(w.notification_types("doc").await.len(), 2);
    assert_eq!(w.scheduler.schedules.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn a_reminder_goes_out_once_by_sms_push_and_in_app() {
    let w = world(true).await;
    w.add_device("doc", "arn:endpoint/doctor-phone").await;
    let a = w.book().await;
    w.clock.set(start() - Duration::hours(24));
    let r = w.request(&a, ReminderKind::DayBefore);

    let first = send_reminder(&w.deps, &r).await.unwrap();
    assert_eq!(
        first,
        ReminderOutcome::Sent {
            sms: 2,
            push: 1,
            disabled_endpoints: 0
        }
    );
    let second = send_reminder(&w.deps, &r).await.unwrap();
    assert_eq!(second, ReminderOutcome::Skipped(SkipReason::AlreadySent));

    let sent = w.notifier.sent();
    assert_eq!(sent.len(), 3, "{sent:#?}");
    let id = a.id;
    let doctor_text = format!(
        "MediChain reminder: video consultation on 2030-01-15 20:30 CET. Details: {SITE}/schedule/?id={id}"
    );
    let patient_text = format!(
        "MediChain reminder: video consultation on 2030-01-15 14:30 EST. Details: {SITE}/appointments/?id={id}"
    );
    assert!(sent.contains(&(
        "sms".into(),
        "+12125550101".into(),
        doctor_text.clone(),
        MessageContext {
            recipient: UserId::parse("doc").unwrap(),
            appointment_id: id,
            kind: ReminderKind::DayBefore
        }
    )));
    assert!(sent
        .iter()
        .any(|m| m.0 == "sms" && m.1 == "+13125550103" && m.2 == patient_text));
    assert!(sent
        .iter()
        .any(|m| m.0 == "push" && m.1 == "arn:endpoint/doctor-phone" && m.2 == doctor_text));
    use NotificationType::*;
    assert_eq!(w.notification_types("pat").await[0], VideoCallReminder);
    assert_eq!(w.notification_types("doc").await[0], VideoCallReminder);
    assert_eq!(w.notification_types("doc").await.len(), 3);
    assert_eq!(
        w.events.names(),
        ["AppointmentBooked"],
        "a reminder publishes no event"
    );
}

#[tokio::test]
async fn someone_joining_just_after_the_5_minute_mark_does_not_lose_that_reminder() {
    let w = world(true).await;
    let a = w.book().await;
    let starting = w.request(&a, ReminderKind::Starting);
    // The schedule fired at 14:55; before send-reminder reads the appointment, the patient joins
    // and the call record is written: a new version at the same start.
    w.clock
        .set(start() - Duration::minutes(5) + Duration::milliseconds(200));
    let mut call = crate::domain::call::CallRecord::default();
    assert!(call.apply(
        Role::Patient,
        crate::domain::call::CallEvent::Joined,
        w.clock.now()
    ));
    let mut joined = a.clone();
    joined.version = a.version + 1;
    joined.updated_at = w.clock.now();
    joined.call = Some(call);
    w.store.update(&a, &joined).await.unwrap();
    handle_change(&w.deps, Some(&a), Some(&joined))
        .await
        .unwrap();
    // The schedules stand, and the reminder armed before the join still goes out.
    assert_eq!(w.scheduler.schedules.lock().unwrap().len(), 2);
    assert!(matches!(
        send_reminder(&w.deps, &starting).await.unwrap(),
        ReminderOutcome::Sent { sms: 2, .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reminder_delivered_twice_at_the_same_time_goes_out_once() {
    let w = world(true).await;
    w.add_device("doc", "arn:endpoint/doctor-phone").await;
    let a = w.book().await;
    w.clock.set(start() - Duration::minutes(5));
    let r = w.request(&a, ReminderKind::Starting);
    for _ in 0..5 {
        let (x, y, z) = tokio::join!(
            send_reminder(&w.deps, &r),
            send_reminder(&w.deps, &r),
            send_reminder(&w.deps, &r)
        );
        let outcomes = [x.unwrap(), y.unwrap(), z.unwrap()];
        let sent = outcomes
            .iter()
            .filter(|o| matches!(o, ReminderOutcome::Sent { .. }))
            .count();
        assert!(sent <= 1, "{outcomes:?}");
    }
    assert_eq!(
        w.notifier.sent().len(),
        3,
        "doctor SMS, patient SMS, doctor push"
    );
    let urgent = &w
        .store
        .notifications_of(&UserId::parse("doc").unwrap(), PageRequest::first(1))
        .await
        .unwrap()
        .items[0];
    assert_eq!(urgent.kind, NotificationType::VideoCallStarting);
    assert_eq!(
        urgent.priority,
        crate::domain::notification::Priority::Urgent
    );
}

#[tokio::test]
async fn cancelled_or_moved_appointments_send_nothing() {
    let w = world(true).await;
    let a = w.book().await;
    let r = w.request(&a, ReminderKind::DayBefore);

    // Moved: the stored version is 2, the schedule carries 1.
    w.clock.set(w.clock.now() + Duration::minutes(1));
    let mut moved = a.clone();
    moved.version = 2;
    moved.start = start() + Duration::days(1);
    moved.end = moved.start + Duration::minutes(30);
    moved.updated_at = w.clock.now();
    w.store.update(&a, &moved).await.unwrap();
    handle_change(&w.deps, Some(&a), Some(&moved))
        .await
        .unwrap();
    assert_eq!(
        send_reminder(&w.deps, &r).await.unwrap(),
        ReminderOutcome::Skipped(SkipReason::Stale)
    );
    // The replacement schedules carry version 2.
    let versions: Vec<u64> = w
        .scheduler
        .schedules
        .lock()
        .unwrap()
        .values()
        .map(|(r, _)| r.version)
        .collect();
    assert_eq!(versions, [2, 2]);

    // Cancelled: nothing for the current version either, and no schedules left.
    w.clock.set(w.clock.now() + Duration::minutes(1));
    let cancelled = moved.cancelled(Role::Patient, w.clock.now()).unwrap();
    w.store.update(&moved, &cancelled).await.unwrap();
    handle_change(&w.deps, Some(&moved), Some(&cancelled))
        .await
        .unwrap();
    assert!(w.scheduler.schedules.lock().unwrap().is_empty());
    let current = w.request(&moved, ReminderKind::Starting);
    assert_eq!(
        send_reminder(&w.deps, &current).await.unwrap(),
        ReminderOutcome::Skipped(SkipReason::NotBooked)
    );
    let unknown = ReminderRequest {
        appointment_id: AppointmentId::new(),
        ..current
    };
    assert_eq!(
        send_reminder(&w.deps, &unknown).await.unwrap(),
        ReminderOutcome::Skipped(SkipReason::Gone)
    );
    assert!(w.notifier.sent().is_empty());
    use NotificationType::*;
    assert_eq!(
        w.notification_types("pat").await,
        [
            AppointmentCancelled,
            AppointmentRescheduled,
            VideoCallReady,
            AppointmentCreated
        ]
    );
    assert_eq!(
        w.events.names(),
        [
            "AppointmentBooked",
            "AppointmentRescheduled",
            "AppointmentCancelled"
        ]
    );
}

#[tokio::test]
async fn patients_without_opt_in_get_no_sms_and_disabled_endpoints_are_skipped() {
    let w = world(false).await;
    w.add_device("doc", "arn:endpoint/old-phone").await;
    w.add_device("doc", "arn:endpoint/new-phone-xyz").await;
    w.notifier
        .disabled
        .lock()
        .unwrap()
        .push("arn:endpoint/old-phone".into());
    let a = w.book().await;
    w.clock.set(start() - Duration::minutes(5));
    let outcome = send_reminder(&w.deps, &w.request(&a, ReminderKind::Starting))
        .await
        .unwrap();
    assert_eq!(
        outcome,
        ReminderOutcome::Sent {
            sms: 1,
            push: 1,
            disabled_endpoints: 1
        }
    );
    let sent = w.notifier.sent();
    assert!(
        sent.iter().all(|m| m.1 != "+13125550103"),
        "no SMS to the patient"
    );
    assert_eq!(
        sent[0].2,
        format!(
            "MediChain: your video consultation starts at 20:30 CET. Join: {SITE}/schedule/?id={}",
            a.id
        )
    );
}

#[tokio::test]
async fn when_every_channel_is_down_the_reminder_is_released_for_a_retry() {
    let w = world(true).await;
    let a = w.book().await;
    w.clock.set(start() - Duration::hours(24));
    let r = w.request(&a, ReminderKind::DayBefore);
    *w.notifier.down.lock().unwrap() = true;
    let err = send_reminder(&w.deps, &r).await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    *w.notifier.down.lock().unwrap() = false;
    assert!(matches!(
        send_reminder(&w.deps, &r).await.unwrap(),
        ReminderOutcome::Sent { sms: 2, .. }
    ));
    // The in-app reminder written by the failed attempt is the same one, not a second.
    assert_eq!(w.notification_types("pat").await.len(), 3);
}

#[tokio::test]
async fn a_booking_minutes_before_the_start_sends_starting_at_once() {
    let w = world(true).await;
    w.clock.set(start() - Duration::minutes(3));
    let a = w.book().await;
    assert!(w.scheduler.schedules.lock().unwrap().is_empty());
    assert_eq!(w.notifier.sent().len(), 2, "SMS to both");
    use NotificationType::*;
    assert_eq!(
        w.notification_types("pat").await,
        [VideoCallStarting, VideoCallReady, AppointmentCreated]
    );
    assert_eq!(w.events.names(), ["AppointmentBooked"]);
    // After the end, a late delivery sends nothing.
    w.clock.set(a.end + Duration::minutes(1));
    let r = ReminderRequest {
        appointment_id: a.id,
        kind: ReminderKind::DayBefore,
        version: 1,
        start: Some(a.start),
        participants: None,
    };
    assert_eq!(
        send_reminder(&w.deps, &r).await.unwrap(),
        ReminderOutcome::Skipped(SkipReason::Over)
    );
}

#[cfg(feature = "aws")]
fn fixture(path: &str) -> serde_json::Value {
    let path = format!("{}/../functions/{path}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

#[cfg(feature = "aws")]
#[tokio::test]
async fn a_stream_batch_handles_appointment_records_and_ignores_other_items() {
    use crate::side_effects::lambda::handle_stream_batch;
    let w = world(true).await;
    let booking =
        serde_json::from_value(fixture("appointment-events/events/booking.json")).unwrap();
    let response = handle_stream_batch(&w.deps, booking).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(w.scheduler.schedules.lock().unwrap().len(), 2);
    assert_eq!(w.notification_types("patient-rivera").await.len(), 2);
    assert_eq!(w.notification_types("doctor-okafor").await.len(), 2);
    assert_eq!(w.events.names(), ["AppointmentBooked"]);

    let cancel = serde_json::from_value(fixture("appointment-events/events/cancel.json")).unwrap();
    let response = handle_stream_batch(&w.deps, cancel).await;
    assert!(response.batch_item_failures.is_empty());
    assert!(w.scheduler.schedules.lock().unwrap().is_empty());
    assert_eq!(
        w.notification_types("patient-rivera").await[0],
        NotificationType::AppointmentCancelled
    );
    assert_eq!(
        w.events.names(),
        ["AppointmentBooked", "AppointmentCancelled"]
    );
}

#[cfg(feature = "aws")]
#[tokio::test]
async fn a_failing_record_is_reported_and_the_rest_of_the_batch_waits_for_it() {
    use crate::side_effects::lambda::handle_stream_batch;
    let w = world(true).await;
    let mut both = fixture("appointment-events/events/booking.json");
    let cancel = fixture("appointment-events/events/cancel.json");
    both["Records"]
        .as_array_mut()
        .unwrap()
        .extend(cancel["Records"].as_array().unwrap().iter().cloned());
    *w.scheduler.down.lock().unwrap() = true;
    let response =
        handle_stream_batch(&w.deps, serde_json::from_value(both.clone()).unwrap()).await;
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    assert_eq!(failed, [Some("100000000000000000001".to_owned())]);
    assert!(
        w.events.names().is_empty(),
        "the cancel was not handled before the booking"
    );

    // Lambda retries from the failed record; this time it works, in order.
    *w.scheduler.down.lock().unwrap() = false;
    let response = handle_stream_batch(&w.deps, serde_json::from_value(both).unwrap()).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(
        w.events.names(),
        ["AppointmentBooked", "AppointmentCancelled"]
    );
    assert!(w.scheduler.schedules.lock().unwrap().is_empty());
}

#[cfg(feature = "aws")]
#[tokio::test]
async fn a_corrupt_record_is_skipped_rather_than_blocking_the_shard() {
    use crate::side_effects::lambda::handle_stream_batch;
    let w = world(true).await;
    let mut event = fixture("appointment-events/events/booking.json");
    event["Records"][0]["dynamodb"]["NewImage"]["body"]["S"] = serde_json::json!("{not json");
    let response = handle_stream_batch(&w.deps, serde_json::from_value(event).unwrap()).await;
    assert!(response.batch_item_failures.is_empty());
    assert!(w.scheduler.schedules.lock().unwrap().is_empty());
}

#[cfg(feature = "aws")]
#[tokio::test]
async fn a_scheduled_payload_is_checked_and_answered() {
    use crate::side_effects::lambda::handle_scheduled;
    let w = world(true).await;
    let a = w.book().await;
    w.clock.set(start() - Duration::hours(24));
    let mut payload = fixture("send-reminder/events/reminder-24h.json");
    payload["appointment_id"] = serde_json::json!(a.id);
    let first = handle_scheduled(&w.deps, payload.clone()).await.unwrap();
    assert_eq!(first["outcome"], "sent");
    assert_eq!(first["sms"], 2);
    let again = handle_scheduled(&w.deps, payload.clone()).await.unwrap();
    assert_eq!(
        again,
        serde_json::json!({ "outcome": "skipped", "reason": "AlreadySent" })
    );
    for bad in [
        serde_json::json!({ "appointment_id": a.id, "kind": "1h", "version": 1 }),
        serde_json::json!({ "appointment_id": "x", "kind": "24h", "version": 1 }),
        serde_json::json!({ "appointment_id": a.id, "kind": "24h", "version": 1, "phone": "+1" }),
        serde_json::json!({ "appointment_id": a.id, "kind": "24h", "version": 1, "participants": { "patient": "pat" } }),
    ] {
        let err = handle_scheduled(&w.deps, bad).await.unwrap_err();
        assert!(!err.is_retryable(), "{err}");
    }
}
