//! Fault injection at the SDK level: EventBridge Scheduler, SNS and EventBridge clients built
//! with `aws-smithy-mocks` answer with throttling (retries spent: `Unavailable`) at one chosen
//! outbound call, for every call of booking, cancelling, rescheduling and reminding in turn. The
//! stream handler must report the record as a partial batch failure, and the redelivery (with
//! the services healthy again) must leave the world exactly as a run without faults did: both
//! schedules made or both gone, each notification once, each SMS at most once. The store is the
//! embedded one (SQLite); DynamoDB throttling is injected in `dynamodb_faults.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use aws_lambda_events::dynamodb::Event;
use aws_smithy_mocks::{mock, mock_client, MockResponse, RuleMode};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode as SmithyStatus;
use aws_smithy_types::body::SdkBody;
use chrono::{DateTime, Duration, TimeZone as _, Utc};
use medichain::adapters::aws::eventbridge::EventBridgePublisher;
use medichain::adapters::aws::scheduler::{SchedulerReminders, MAXIMUM_EVENT_AGE_SECONDS};
use medichain::adapters::aws::sns::SnsNotifier;
use medichain::adapters::embedded::EmbeddedStore;
use medichain::clock::Clock;
use medichain::config::reminders::{PushApps, ScheduleTarget};
use medichain::domain::doctor::TimeZone;
use medichain::domain::reminder::ReminderKind;
use medichain::domain::user::PhoneNumber;
use medichain::domain::{Appointment, AppointmentStatus, Role, UserId, UserProfile};
use medichain::ports::{AppointmentStore, Directory, NotificationStore, PageRequest};
use medichain::side_effects::lambda::{handle_scheduled, handle_stream_batch};
use medichain::side_effects::EffectDeps;
use serde_json::json;

/// What the mocked services did, across attempts: schedules that exist, SMS per number, and
/// events put on the bus. `fail_at` picks the outbound call (counted across all three services)
/// that is throttled.
#[derive(Default)]
struct World {
    calls: AtomicUsize,
    fail_at: Mutex<Option<usize>>,
    schedules: Mutex<BTreeSet<String>>,
    sms: Mutex<BTreeMap<String, usize>>,
    events: AtomicUsize,
}

impl World {
    /// Whether this call is the one to fail.
    fn fails_now(&self) -> bool {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        *self.fail_at.lock().unwrap() == Some(n)
    }
}

fn throttled(service_code: &str) -> HttpResponse {
    let body = json!({"__type": service_code, "message": "Rate exceeded"}).to_string();
    let mut r = HttpResponse::new(SmithyStatus::try_from(429).unwrap(), SdkBody::from(body));
    r.headers_mut()
        .insert("x-amzn-errortype", service_code.to_owned());
    r.headers_mut()
        .insert("content-type", "application/x-amz-json-1.0".to_owned());
    r
}

fn throttled_query() -> HttpResponse {
    let body = "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>x</RequestId></ErrorResponse>";
    HttpResponse::new(SmithyStatus::try_from(400).unwrap(), SdkBody::from(body))
}

/// One attempt per call: the fault stands for "the SDK's retries are spent".
fn no_retries() -> aws_smithy_types::retry::RetryConfig {
    aws_smithy_types::retry::RetryConfig::disabled()
}

struct FixedClock(Mutex<DateTime<Utc>>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

fn effect_deps(store: &EmbeddedStore, world: &Arc<World>, clock: Arc<FixedClock>) -> EffectDeps {
    use aws_sdk_eventbridge::operation::put_events::PutEventsOutput;
    use aws_sdk_scheduler::operation::create_schedule::CreateScheduleOutput;
    use aws_sdk_scheduler::operation::delete_schedule::DeleteScheduleOutput;
    use aws_sdk_sns::operation::publish::PublishOutput;

    let w = world.clone();
    let create =
        mock!(aws_sdk_scheduler::Client::create_schedule).then_compute_response(move |input| {
            if w.fails_now() {
                return MockResponse::Http(throttled("ThrottlingException"));
            }
            w.schedules
                .lock()
                .unwrap()
                .insert(input.name().unwrap_or_default().to_owned());
            MockResponse::Output(
                CreateScheduleOutput::builder()
                    .schedule_arn("arn:aws:scheduler:::schedule/x")
                    .build()
                    .unwrap(),
            )
        });
    let w = world.clone();
    let delete =
        mock!(aws_sdk_scheduler::Client::delete_schedule).then_compute_response(move |input| {
            if w.fails_now() {
                return MockResponse::Http(throttled("ThrottlingException"));
            }
            w.schedules
                .lock()
                .unwrap()
                .remove(input.name().unwrap_or_default());
            MockResponse::Output(DeleteScheduleOutput::builder().build())
        });
    let scheduler = mock_client!(
        aws_sdk_scheduler,
        RuleMode::MatchAny,
        [&create, &delete],
        |c| c.retry_config(no_retries())
    );
    let w = world.clone();
    let publish = mock!(aws_sdk_sns::Client::publish).then_compute_response(move |input| {
        if w.fails_now() {
            return MockResponse::Http(throttled_query());
        }
        if let Some(phone) = input.phone_number() {
            *w.sms.lock().unwrap().entry(phone.to_owned()).or_default() += 1;
        }
        MockResponse::Output(PublishOutput::builder().message_id("m-1").build())
    });
    let sns = mock_client!(aws_sdk_sns, RuleMode::MatchAny, [&publish], |c| c
        .retry_config(no_retries()));
    let w = world.clone();
    let put = mock!(aws_sdk_eventbridge::Client::put_events).then_compute_response(move |_| {
        if w.fails_now() {
            return MockResponse::Http(throttled("ThrottlingException"));
        }
        w.events.fetch_add(1, Ordering::SeqCst);
        MockResponse::Output(PutEventsOutput::builder().failed_entry_count(0).build())
    });
    let events = mock_client!(aws_sdk_eventbridge, RuleMode::MatchAny, [&put], |c| c
        .retry_config(no_retries()));
    EffectDeps::new(
        store.clone(),
        Arc::new(SchedulerReminders::new(
            scheduler,
            ScheduleTarget {
                group: "medichain-reminders".into(),
                function_arn: "arn:aws:lambda:us-east-1:123456789012:function:send-reminder".into(),
                role_arn: "arn:aws:iam::123456789012:role/scheduler".into(),
                dead_letter_arn: "arn:aws:sqs:us-east-1:123456789012:reminders-dlq".into(),
            },
        )),
        Arc::new(SnsNotifier::new(sns, PushApps::default())),
        Arc::new(EventBridgePublisher::new(events, "medichain")),
        clock,
        "https://app.medichain.example",
    )
}

/// 2030-01-15 19:30 UTC, booked three days before.
fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 15, 19, 30, 0).unwrap()
}

fn appointment() -> Appointment {
    let booked = start() - Duration::days(3);
    serde_json::from_value(json!({
        "id": "3f2c9a1e-0b7d-4c55-9a3e-1f2d3c4b5a69",
        "patient_id": "pat-1",
        "doctor_id": "doc-1",
        "doctor_name": "Ada Lane",
        "patient_name": "Jordan Rivera",
        "start": start(),
        "end": start() + Duration::minutes(30),
        "status": "booked",
        "room_name": "medichain-0123456789abcdef0123456789abcdef",
        "meeting_url": "https://meet.jit.si/medichain-0123456789abcdef0123456789abcdef",
        "version": 1,
        "created_at": booked,
        "updated_at": booked,
    }))
    .unwrap()
}

/// A stream batch of one change of `old` → `new` (as DynamoDB writes appointment items).
fn stream_event(old: Option<&Appointment>, new: Option<&Appointment>) -> Event {
    let image = |a: Option<&Appointment>| match a {
        None => json!({}),
        Some(a) => json!({
            "pk": {"S": format!("APPT#{}", a.id)},
            "sk": {"S": "APPT"},
            "entity": {"S": "appointment"},
            "body": {"S": serde_json::to_string(a).unwrap()},
        }),
    };
    let id = new.or(old).unwrap().id;
    serde_json::from_value(json!({"Records": [{
        "eventID": "evt-1",
        "eventName": if old.is_none() { "INSERT" } else { "MODIFY" },
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/medichain/stream/x",
        "dynamodb": {
            "ApproximateCreationDateTime": 1.0,
            "Keys": {"pk": {"S": format!("APPT#{id}")}, "sk": {"S": "APPT"}},
            "NewImage": image(new),
            "OldImage": image(old),
            "SequenceNumber": "4200000000000000000001",
            "SizeBytes": 100,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
    }]}))
    .unwrap()
}

async fn store_with_people(dir: &std::path::Path) -> EmbeddedStore {
    let store = EmbeddedStore::open(dir).unwrap();
    for (id, role, phone, opt_in) in [
        ("pat-1", Role::Patient, "+13125550103", true),
        ("doc-1", Role::Doctor, "+12125550101", false),
    ] {
        store
            .put_user(&UserProfile {
                id: UserId::parse(id).unwrap(),
                role,
                name: "Someone".into(),
                time_zone: TimeZone::parse("America/New_York").unwrap(),
                phone: Some(PhoneNumber::parse(phone).unwrap()),
                sms_opt_in: opt_in,
            })
            .await
            .unwrap();
    }
    store
}

/// What a run left behind, to compare a faulty run (plus its redelivery) with a clean one.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    schedules: BTreeSet<String>,
    notifications: Vec<(String, usize)>,
    sms: BTreeMap<String, usize>,
    events_published: bool,
}

async fn outcome(store: &EmbeddedStore, world: &World) -> Outcome {
    let mut notifications = Vec::new();
    for user in ["pat-1", "doc-1"] {
        let page = store
            .notifications_of(&UserId::parse(user).unwrap(), PageRequest::first(100))
            .await
            .unwrap();
        notifications.push((user.to_owned(), page.items.len()));
    }
    Outcome {
        schedules: world.schedules.lock().unwrap().clone(),
        notifications,
        sms: world.sms.lock().unwrap().clone(),
        events_published: world.events.load(Ordering::SeqCst) > 0,
    }
}

/// Runs one stream change with the outbound call `fail_at` throttled, then (if it was reported
/// as failed) its redelivery with every service healthy. Returns the outcome, how many outbound
/// calls the first attempt made, and whether it reported a batch failure.
async fn run_change(
    setup: &[(Option<Appointment>, Option<Appointment>)],
    change: (Option<Appointment>, Option<Appointment>),
    now: DateTime<Utc>,
    fail_at: Option<usize>,
) -> (Outcome, usize, bool) {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_people(dir.path()).await;
    let world = Arc::new(World::default());
    let clock = Arc::new(FixedClock(Mutex::new(now)));
    let deps = effect_deps(&store, &world, clock);
    for (old, new) in setup {
        if let Some(a) = new {
            match old {
                None => store.create(a, None).await.unwrap(),
                Some(o) => store.update(o, a).await.unwrap(),
            }
        }
        let r = handle_stream_batch(&deps, stream_event(old.as_ref(), new.as_ref())).await;
        assert!(r.batch_item_failures.is_empty());
    }
    let (old, new) = change;
    if let Some(a) = &new {
        match &old {
            None => store.create(a, None).await.unwrap(),
            Some(o) => store.update(o, a).await.unwrap(),
        }
    }
    let before = world.calls.load(Ordering::SeqCst);
    *world.fail_at.lock().unwrap() = fail_at.map(|k| before + k);
    let event = || stream_event(old.as_ref(), new.as_ref());
    let first = handle_stream_batch(&deps, event()).await;
    let calls = world.calls.load(Ordering::SeqCst) - before;
    let failed = !first.batch_item_failures.is_empty();
    if failed {
        // The failed record is the one reported: Lambda retries the batch from it.
        assert_eq!(
            first.batch_item_failures[0].item_identifier.as_deref(),
            Some("4200000000000000000001")
        );
        *world.fail_at.lock().unwrap() = None;
        let again = handle_stream_batch(&deps, event()).await;
        assert!(
            again.batch_item_failures.is_empty(),
            "the redelivery succeeds"
        );
    }
    (outcome(&store, &world).await, calls, failed)
}

/// For every outbound call of `change`, a throttled run plus its redelivery ends exactly where a
/// run without faults ends.
async fn every_step_is_done_or_cleanly_retried(
    name: &str,
    setup: Vec<(Option<Appointment>, Option<Appointment>)>,
    change: (Option<Appointment>, Option<Appointment>),
    now: DateTime<Utc>,
) -> Outcome {
    let (clean, steps, failed) = run_change(&setup, change.clone(), now, None).await;
    assert!(!failed, "{name}: a clean run reports no failure");
    assert!(steps > 0, "{name}: the change calls out");
    for k in 0..steps {
        let (faulty, _, failed) = run_change(&setup, change.clone(), now, Some(k)).await;
        assert!(
            failed,
            "{name}: a throttled call {k} of {steps} is reported for retry"
        );
        assert_eq!(
            faulty, clean,
            "{name}: throttled at call {k} of {steps}, then redelivered"
        );
    }
    clean
}

#[tokio::test]
async fn booking_side_effects_are_done_or_cleanly_retried_at_every_step() {
    let a = appointment();
    let now = start() - Duration::days(3);
    let clean =
        every_step_is_done_or_cleanly_retried("booking", vec![], (None, Some(a.clone())), now)
            .await;
    assert_eq!(clean.schedules.len(), 2, "{clean:?}");
    assert!(clean.events_published);
    assert!(clean.notifications.iter().all(|(_, n)| *n >= 1));
}

#[tokio::test]
async fn cancelling_side_effects_are_done_or_cleanly_retried_at_every_step() {
    let a = appointment();
    let now = start() - Duration::days(2);
    let cancelled = a.cancelled(Role::Patient, now).unwrap();
    let clean = every_step_is_done_or_cleanly_retried(
        "cancel",
        vec![(None, Some(a.clone()))],
        (Some(a), Some(cancelled)),
        now,
    )
    .await;
    assert!(
        clean.schedules.is_empty(),
        "no reminder survives a cancel: {clean:?}"
    );
}

#[tokio::test]
async fn rescheduling_side_effects_are_done_or_cleanly_retried_at_every_step() {
    let a = appointment();
    let now = start() - Duration::days(2);
    let slot = medichain::domain::doctor::Slot {
        start: start() + Duration::days(1),
        end: start() + Duration::days(1) + Duration::minutes(30),
    };
    let moved = a.rescheduled(slot, now).unwrap();
    let clean = every_step_is_done_or_cleanly_retried(
        "reschedule",
        vec![(None, Some(a.clone()))],
        (Some(a), Some(moved)),
        now,
    )
    .await;
    assert_eq!(clean.schedules.len(), 2, "{clean:?}");
}

/// A fired reminder whose every SMS is throttled sends nothing and asks to be retried; the retry
/// sends each SMS exactly once. A throttled SMS after another went out is not retried (that
/// would repeat the delivered one) — the reminder still reached both in the app.
#[tokio::test]
async fn a_reminder_is_sent_once_or_retried_never_twice() {
    for fail_at in [None, Some(0), Some(1)] {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_people(dir.path()).await;
        let world = Arc::new(World::default());
        let a = appointment();
        store.create(&a, None).await.unwrap();
        let clock = Arc::new(FixedClock(Mutex::new(start() - Duration::hours(24))));
        let deps = effect_deps(&store, &world, clock);
        *world.fail_at.lock().unwrap() = fail_at;
        let payload = json!({"appointment_id": a.id.to_string(), "kind": "24h", "version": 1});
        let first = handle_scheduled(&deps, payload.clone()).await;
        *world.fail_at.lock().unwrap() = None;
        let second = handle_scheduled(&deps, payload).await;
        let sms = world.sms.lock().unwrap().clone();
        assert!(sms.values().all(|n| *n == 1), "{fail_at:?}: {sms:?}");
        // Whichever SMS was throttled, the other went out: the reminder counts as sent, and the
        // throttled one is not repeated by a retry.
        assert!(first.is_ok(), "{fail_at:?}: {first:?}");
        assert_eq!(
            sms.len(),
            if fail_at.is_none() { 2 } else { 1 },
            "{fail_at:?}"
        );
        // A second delivery of the same reminder sends nothing.
        assert_eq!(second.unwrap()["outcome"], "skipped");
    }
}

/// Every SMS throttled: nothing reached anyone by SMS, so the invocation fails (Lambda retries
/// it) and the gate is released; the retry sends each SMS once.
#[tokio::test]
async fn a_reminder_that_reached_no_one_is_retried_and_then_sent_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_people(dir.path()).await;
    // Only the doctor has SMS: one channel, so its failure means nothing went out.
    let mut patient = store
        .get_user(&UserId::parse("pat-1").unwrap())
        .await
        .unwrap()
        .unwrap();
    patient.sms_opt_in = false;
    store.put_user(&patient).await.unwrap();
    let world = Arc::new(World::default());
    let a = appointment();
    store.create(&a, None).await.unwrap();
    let clock = Arc::new(FixedClock(Mutex::new(start() - Duration::minutes(5))));
    let deps = effect_deps(&store, &world, clock);
    *world.fail_at.lock().unwrap() = Some(0);
    let payload = json!({"appointment_id": a.id.to_string(), "kind": "5m", "version": 1});
    let first = handle_scheduled(&deps, payload.clone()).await;
    let err = first.expect_err("nothing went out: retry");
    assert!(err.is_retryable(), "{err}");
    assert!(world.sms.lock().unwrap().is_empty());
    let second = handle_scheduled(&deps, payload.clone()).await.unwrap();
    assert_eq!(second["outcome"], "sent");
    assert_eq!(world.sms.lock().unwrap().get("+12125550101"), Some(&1));
    assert_eq!(
        handle_scheduled(&deps, payload).await.unwrap()["outcome"],
        "skipped"
    );
}

/// A reminder whose retries outlast the appointment is dropped, not sent late; the scheduler
/// stops retrying after 15 minutes and parks the event in the dead-letter queue.
#[tokio::test]
async fn a_reminder_retried_past_its_appointment_is_not_sent_late() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_people(dir.path()).await;
    let world = Arc::new(World::default());
    let a = appointment();
    store.create(&a, None).await.unwrap();
    let late = Arc::new(FixedClock(Mutex::new(a.end + Duration::minutes(1))));
    let deps = effect_deps(&store, &world, late);
    let payload = json!({"appointment_id": a.id.to_string(), "kind": "5m", "version": 1});
    let r = handle_scheduled(&deps, payload).await.unwrap();
    assert_eq!(r["outcome"], "skipped");
    assert!(world.sms.lock().unwrap().is_empty());
    assert!(
        i64::from(MAXIMUM_EVENT_AGE_SECONDS) <= ReminderKind::DayBefore.lead_time().num_seconds()
    );
    assert_eq!(
        store.get(&a.id).await.unwrap().unwrap().status,
        AppointmentStatus::Booked
    );
}

/// Takes every SMS of `user`'s quota of `now`'s day.
async fn use_up_todays_sms(store: &EmbeddedStore, user: &UserId, now: DateTime<Utc>) {
    use medichain::ports::{QuotaKind, UsageQuota};
    use medichain::side_effects::send_reminder::DAILY_SMS_CAP;
    for _ in 0..DAILY_SMS_CAP {
        let taken = store
            .try_take(
                user,
                QuotaKind::SmsPerDay,
                now.date_naive(),
                DAILY_SMS_CAP,
                now + Duration::days(2),
            )
            .await
            .unwrap();
        assert!(taken);
    }
}

/// Books the demo appointment, uses up `user`'s SMS of the reminder's day and fires the 24 h
/// reminder; returns the store, the SMS sent per number and the reminder's time.
async fn day_before_reminder_with_sms_used_up(
    dir: &std::path::Path,
    user: &UserId,
) -> (EmbeddedStore, BTreeMap<String, usize>, DateTime<Utc>) {
    let store = store_with_people(dir).await;
    let world = Arc::new(World::default());
    let a = appointment();
    store.create(&a, None).await.unwrap();
    let now = start() - Duration::hours(24);
    use_up_todays_sms(&store, user, now).await;
    let deps = effect_deps(&store, &world, Arc::new(FixedClock(Mutex::new(now))));
    let payload = json!({"appointment_id": a.id.to_string(), "kind": "24h", "version": 1});
    let r = handle_scheduled(&deps, payload).await.unwrap();
    assert_eq!(r["outcome"], "sent");
    let sms = world.sms.lock().unwrap().clone();
    (store, sms, now)
}

/// The per-user daily SMS cap: a user whose SMS of today are used up gets the reminder in the app
/// only; the other participant still gets the SMS.
#[tokio::test]
async fn past_the_daily_sms_cap_a_reminder_goes_out_in_the_app_only() {
    let dir = tempfile::tempdir().unwrap();
    let patient = UserId::parse("pat-1").unwrap();
    let (store, sms, _) = day_before_reminder_with_sms_used_up(dir.path(), &patient).await;
    assert_eq!(
        sms.get("+13125550103"),
        None,
        "the patient's SMS are used up"
    );
    assert_eq!(
        sms.get("+12125550101"),
        Some(&1),
        "the doctor still gets one"
    );
    let notes = store
        .notifications_of(&patient, PageRequest::first(10))
        .await
        .unwrap();
    assert!(notes
        .items
        .iter()
        .any(|n| n.kind.as_str() == "video_call_reminder"));
}

/// Doctors are not under the daily SMS cap: their reminders are bounded by their own calendar,
/// and a busy day (more than twenty consultations) must not silence the last ones.
#[tokio::test]
async fn a_doctor_past_the_patients_daily_sms_cap_still_gets_the_sms() {
    use medichain::ports::{QuotaKind, UsageQuota};
    use medichain::side_effects::send_reminder::DAILY_SMS_CAP;

    let dir = tempfile::tempdir().unwrap();
    let doctor = UserId::parse("doc-1").unwrap();
    let (store, sms, now) = day_before_reminder_with_sms_used_up(dir.path(), &doctor).await;
    assert_eq!(sms.get("+12125550101"), Some(&1), "the doctor gets the SMS");
    assert_eq!(sms.get("+13125550103"), Some(&1), "and the patient too");
    let taken_today = store
        .try_take(
            &doctor,
            QuotaKind::SmsPerDay,
            now.date_naive(),
            DAILY_SMS_CAP + 1,
            now + Duration::days(2),
        )
        .await
        .unwrap();
    assert!(taken_today, "the doctor's SMS took nothing from a quota");
}
