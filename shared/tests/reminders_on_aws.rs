//! The reminders' AWS adapters against `moto_server` (started by the test on a free loopback
//! port): schedules on EventBridge Scheduler follow bookings, moves and cancels; SMS and push go
//! out once through SNS; domain events reach the bus. What was sent is read back from moto's own
//! record (`/moto-api/data.json`, `/moto-api/recorder/...`), not from our code.

mod support;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use chrono::{DateTime, Duration, TimeZone as _, Utc};
use medichain::adapters::aws::eventbridge::EventBridgePublisher;
use medichain::adapters::aws::https_client;
use medichain::adapters::aws::scheduler::SchedulerReminders;
use medichain::adapters::aws::sns::SnsNotifier;
use medichain::clock::Clock;
use medichain::config::reminders::{PushApps, ScheduleTarget};
use medichain::domain::device::{Device, DeviceToken, PushPlatform};
use medichain::domain::doctor::TimeZone;
use medichain::domain::reminder::{ReminderKind, ReminderRequest};
use medichain::domain::user::PhoneNumber;
use medichain::domain::{Appointment, Role, UserId, UserProfile};
use medichain::ports::{AppointmentStore, DeviceRegistry, Directory, PushRegistrar};
use medichain::side_effects::{
    handle_change, send_reminder, EffectDeps, ReminderOutcome, SkipReason,
};
use serde_json::{json, Value};
use support::moto;

const SITE: &str = "https://app.medichain.example";
const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:send-reminder";
const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/medichain-scheduler";
const DLQ_ARN: &str = "arn:aws:sqs:us-east-1:123456789012:medichain-reminders-dlq";

macro_rules! moto_client {
    ($sdk:ident) => {{
        use $sdk::config::{BehaviorVersion, Credentials, Region};
        let conf = $sdk::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
            .endpoint_url(&moto::server().endpoint)
            .http_client(https_client())
            .build();
        $sdk::Client::from_conf(conf)
    }};
}

/// A plain HTTP/1.0 request to moto's own API.
fn moto_api(method: &str, path: &str) -> String {
    let authority = moto::server()
        .endpoint
        .trim_start_matches("http://")
        .to_owned();
    let mut stream = TcpStream::connect(&authority).expect("moto listens");
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: {authority}\r\nContent-Length: 0\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").expect("an HTTP response");
    assert!(head.contains(" 200 "), "{method} {path}: {head}");
    body.to_owned()
}

fn moto_data() -> Value {
    serde_json::from_str(&moto_api("GET", "/moto-api/data.json")).expect("moto's data is JSON")
}

struct FixedClock(Mutex<DateTime<Utc>>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

struct World {
    deps: EffectDeps,
    store: medichain::adapters::aws::DynamoDbStore,
    clock: Arc<FixedClock>,
    sns: aws_sdk_sns::Client,
    sns_notifier: SnsNotifier,
    group: String,
    bus: String,
    _fixture: support::Fixture<medichain::adapters::aws::DynamoDbStore>,
}

/// 2030-01-15 19:30 UTC: 14:30 in New York (the doctor), 20:30 in Berlin (the patient).
fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 15, 19, 30, 0).unwrap()
}

async fn world(tag: &str) -> World {
    let fixture = support::dynamodb().await;
    let store = fixture.store.clone();
    let group = format!("medichain-reminders-{tag}-{}", std::process::id());
    let bus = format!("medichain-{tag}-{}", std::process::id());
    let scheduler = SchedulerReminders::new(
        moto_client!(aws_sdk_scheduler),
        ScheduleTarget {
            group: group.clone(),
            function_arn: FUNCTION_ARN.into(),
            role_arn: ROLE_ARN.into(),
            dead_letter_arn: DLQ_ARN.into(),
        },
    );
    // moto answers CreateSchedule into a missing group with a 500: the group comes first.
    scheduler.create_group_if_missing().await.unwrap();
    scheduler.create_group_if_missing().await.unwrap();
    let events_client = moto_client!(aws_sdk_eventbridge);
    let events = EventBridgePublisher::new(events_client.clone(), &bus);
    events.create_bus_if_missing().await.unwrap();
    // An archive on the bus keeps every event put there: what "reached the bus" means in moto.
    events_client
        .create_archive()
        .archive_name(&bus)
        .event_source_arn(format!(
            "arn:aws:events:us-east-1:123456789012:event-bus/{bus}"
        ))
        .send()
        .await
        .unwrap();
    let sns = moto_client!(aws_sdk_sns);
    let app = sns
        .create_platform_application()
        .name(format!("medichain-{tag}"))
        .platform("APNS")
        .attributes("PlatformCredential", "test-key")
        .attributes("PlatformPrincipal", "test-cert")
        .send()
        .await
        .unwrap()
        .platform_application_arn
        .unwrap();
    let sns_notifier = SnsNotifier::new(
        sns.clone(),
        PushApps {
            apns: Some(app),
            fcm: None,
        },
    );
    let clock = Arc::new(FixedClock(Mutex::new(start() - Duration::days(3))));
    let deps = EffectDeps::new(
        store.clone(),
        Arc::new(scheduler),
        Arc::new(sns_notifier.clone()),
        Arc::new(events),
        clock.clone(),
        SITE,
    );
    World {
        deps,
        store,
        clock,
        sns,
        sns_notifier,
        group,
        bus,
        _fixture: fixture,
    }
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

impl World {
    async fn book(&self, patient: &str, doctor: &str) -> Appointment {
        self.book_at(patient, doctor, start()).await
    }

    async fn book_at(&self, patient: &str, doctor: &str, at: DateTime<Utc>) -> Appointment {
        let mut a = support::appointment(patient, doctor, at);
        a.created_at = self.clock.now();
        a.updated_at = a.created_at;
        self.store.create(&a, None).await.unwrap();
        handle_change(&self.deps, None, Some(&a)).await.unwrap();
        a
    }

    async fn change(&self, from: &Appointment, to: &Appointment) {
        self.store.update(from, to).await.unwrap();
        handle_change(&self.deps, Some(from), Some(to))
            .await
            .unwrap();
    }

    /// This world's schedules as moto has them, by name. Read through the Scheduler API:
    /// `data.json` also lists deleted schedules until moto's garbage collector runs.
    async fn schedules(&self) -> Vec<Value> {
        let client = moto_client!(aws_sdk_scheduler);
        let listed = client
            .list_schedules()
            .group_name(&self.group)
            .send()
            .await
            .unwrap();
        let mut found = Vec::new();
        for summary in listed.schedules() {
            let s = client
                .get_schedule()
                .group_name(&self.group)
                .name(summary.name().unwrap())
                .send()
                .await
                .unwrap();
            let t = s.target().unwrap();
            let retry = t.retry_policy().unwrap();
            found.push(json!({
                "name": s.name(),
                "group_name": s.group_name(),
                "schedule_expression": s.schedule_expression(),
                "schedule_expression_timezone": s.schedule_expression_timezone(),
                "flexible_time_window": { "Mode": s.flexible_time_window().map(|f| f.mode().as_str()) },
                "action_after_completion": s.action_after_completion().map(|a| a.as_str()),
                "state": s.state().map(|x| x.as_str()),
                "target": {
                    "Arn": t.arn(),
                    "RoleArn": t.role_arn(),
                    "Input": t.input(),
                    "RetryPolicy": {
                        "MaximumEventAgeInSeconds": retry.maximum_event_age_in_seconds(),
                        "MaximumRetryAttempts": retry.maximum_retry_attempts(),
                    },
                    "DeadLetterConfig": { "Arn": t.dead_letter_config().and_then(|d| d.arn()) },
                },
            }));
        }
        found.sort_by_key(|s| s["name"].as_str().unwrap_or_default().to_owned());
        found
    }

    /// (detail-type, detail) of the events archived from this world's bus.
    fn events(&self) -> Vec<(String, Value)> {
        moto_data()["events"]["Archive"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["name"] == self.bus.as_str())
            .flat_map(|a| a["events"].as_array().cloned().unwrap_or_default())
            .map(|e| {
                (
                    e["detail-type"].as_str().unwrap().to_owned(),
                    e["detail"].clone(),
                )
            })
            .collect()
    }
}

fn expected_schedule(world: &World, a: &Appointment, kind: ReminderKind, at: &str) -> Value {
    json!({
        "name": format!("medichain-{}-{}", a.id, kind),
        "group_name": world.group,
        "schedule_expression": format!("at({at})"),
        "schedule_expression_timezone": "UTC",
        "flexible_time_window": { "Mode": "OFF" },
        "action_after_completion": "DELETE",
        "state": "ENABLED",
        "target": {
            "Arn": FUNCTION_ARN,
            "RoleArn": ROLE_ARN,
            "Input": serde_json::to_string(&ReminderRequest::for_appointment(a, kind)).unwrap(),
            "RetryPolicy": { "MaximumEventAgeInSeconds": 900, "MaximumRetryAttempts": 5 },
            "DeadLetterConfig": { "Arn": DLQ_ARN },
        },
    })
}

#[tokio::test]
async fn schedules_follow_bookings_moves_and_cancels() {
    let w = world("schedules").await;
    let a = w.book("pat-s", "doc-s").await;
    let schedules = w.schedules().await;
    assert_eq!(
        schedules,
        [
            expected_schedule(&w, &a, ReminderKind::DayBefore, "2030-01-14T19:30:00"),
            expected_schedule(&w, &a, ReminderKind::Starting, "2030-01-15T19:25:00"),
        ]
    );
    let input: Value =
        serde_json::from_str(schedules[0]["target"]["Input"].as_str().unwrap()).unwrap();
    assert_eq!(
        input,
        json!({
            "appointment_id": a.id.to_string(),
            "kind": "24h",
            "version": 1,
            "start": "2030-01-15T19:30:00Z",
            "participants": { "patient": "pat-s", "doctor": "doc-s" },
        }),
        "ids, a version and the start only"
    );

    // The stream delivers the booking again: the existing schedules are kept (ConflictException).
    handle_change(&w.deps, None, Some(&a)).await.unwrap();
    assert_eq!(w.schedules().await.len(), 2);

    // A new version at the same start (the call record): the schedules stand as they were.
    let mut bumped = a.clone();
    bumped.version = 2;
    bumped.updated_at = w.clock.now();
    handle_change(&w.deps, Some(&a), Some(&bumped))
        .await
        .unwrap();
    assert_eq!(w.schedules().await, schedules);

    // Moved a day later: both replaced, carrying version 2.
    let mut moved = a.clone();
    moved.version = 2;
    moved.start = start() + Duration::days(1);
    moved.end = moved.start + Duration::minutes(30);
    moved.updated_at = w.clock.now();
    w.change(&a, &moved).await;
    let schedules = w.schedules().await;
    assert_eq!(
        schedules,
        [
            expected_schedule(&w, &moved, ReminderKind::DayBefore, "2030-01-15T19:30:00"),
            expected_schedule(&w, &moved, ReminderKind::Starting, "2030-01-16T19:25:00"),
        ]
    );

    // Cancelled: gone; a second cancel finds nothing to delete and is fine.
    let cancelled = moved.cancelled(Role::Patient, w.clock.now()).unwrap();
    w.change(&moved, &cancelled).await;
    assert!(w.schedules().await.is_empty());
    handle_change(&w.deps, Some(&moved), Some(&cancelled))
        .await
        .unwrap();

    let events: Vec<String> = w.events().into_iter().map(|(name, _)| name).collect();
    assert_eq!(
        events,
        [
            "AppointmentBooked",
            "AppointmentBooked",
            "AppointmentRescheduled",
            "AppointmentCancelled",
            "AppointmentCancelled"
        ],
        "redeliveries publish again, with the same event_id for consumers to drop"
    );
    let details: Vec<Value> = w.events().into_iter().map(|(_, d)| d).collect();
    assert_eq!(details[0]["event_id"], details[1]["event_id"]);
    assert_eq!(details[2]["appointment_id"], a.id.to_string());
    assert_eq!(details[2]["previous_start"], "2030-01-15T19:30:00Z");
    assert!(!details.iter().any(|d| d.to_string().contains("name")));
}

fn sms_to(phone: &str) -> Vec<String> {
    moto_data()["sns"]["SMS"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|m| m["phone_number"] == phone)
        .map(|m| m["message"].as_str().unwrap().to_owned())
        .collect()
}

fn pushed_to(endpoint: &str) -> Vec<Value> {
    moto_data()["sns"]["PlatformEndpoint"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|e| e["arn"] == endpoint)
        .flat_map(|e| {
            e["messages"]
                .as_object()
                .cloned()
                .unwrap_or_default()
                .into_values()
                .map(|m| serde_json::from_str(m.as_str().unwrap()).unwrap())
                .collect::<Vec<Value>>()
        })
        .collect()
}

async fn register(w: &World, user: &str, token: &str) -> Device {
    let token = DeviceToken::parse(PushPlatform::Apns, token).unwrap();
    let user = UserId::parse(user).unwrap();
    let endpoint = w.sns_notifier.create_endpoint(&token, &user).await.unwrap();
    let device = Device {
        id: token.device_id(&user),
        user_id: user,
        platform: PushPlatform::Apns,
        endpoint,
        created_at: w.clock.now(),
    };
    w.store.register_device(&device).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reminders_go_out_once_by_sms_and_push_and_never_for_a_cancelled_appointment() {
    let w = world("sends").await;
    moto_api("POST", "/moto-api/recorder/reset-recording");
    moto_api("POST", "/moto-api/recorder/start-recording");
    let (doctor_phone, patient_phone) = ("+12125550171", "+4930555017");
    w.store
        .put_user(&profile(
            "doc-r",
            Role::Doctor,
            "America/New_York",
            doctor_phone,
            false,
        ))
        .await
        .unwrap();
    w.store
        .put_user(&profile(
            "pat-r",
            Role::Patient,
            "Europe/Berlin",
            patient_phone,
            true,
        ))
        .await
        .unwrap();
    let phone = register(&w, "doc-r", &"a1".repeat(32)).await;
    let old_phone = register(&w, "doc-r", &"b2".repeat(32)).await;
    // The same token again is the same endpoint.
    assert_eq!(
        register(&w, "doc-r", &"a1".repeat(32)).await.endpoint,
        phone.endpoint
    );
    w.sns
        .set_endpoint_attributes()
        .endpoint_arn(&old_phone.endpoint.0)
        .attributes("Enabled", "false")
        .send()
        .await
        .unwrap();

    let a = w.book("pat-r", "doc-r").await;
    *w.clock.0.lock().unwrap() = start() - Duration::hours(24);
    let day = ReminderRequest::for_appointment(&a, ReminderKind::DayBefore);
    let first = send_reminder(&w.deps, &day).await.unwrap();
    assert_eq!(
        first,
        ReminderOutcome::Sent {
            sms: 2,
            push: 1,
            disabled_endpoints: 1
        }
    );
    assert_eq!(
        send_reminder(&w.deps, &day).await.unwrap(),
        ReminderOutcome::Skipped(SkipReason::AlreadySent)
    );

    // Three deliveries of the 5-minute reminder at the same moment.
    *w.clock.0.lock().unwrap() = start() - Duration::minutes(5);
    let starting = ReminderRequest {
        kind: ReminderKind::Starting,
        ..day
    };
    let (x, y, z) = tokio::join!(
        send_reminder(&w.deps, &starting),
        send_reminder(&w.deps, &starting),
        send_reminder(&w.deps, &starting)
    );
    let sent = [x.unwrap(), y.unwrap(), z.unwrap()]
        .iter()
        .filter(|o| matches!(o, ReminderOutcome::Sent { .. }))
        .count();
    assert_eq!(sent, 1);

    let id = a.id;
    assert_eq!(
        sms_to(doctor_phone),
        [
            format!("MediChain reminder: video consultation on 2030-01-15 14:30 EST. Details: {SITE}/schedule/?id={id}"),
            format!("MediChain: your video consultation starts at 14:30 EST. Join: {SITE}/schedule/?id={id}"),
        ]
    );
    assert_eq!(
        sms_to(patient_phone),
        [
            format!("MediChain reminder: video consultation on 2030-01-15 20:30 CET. Details: {SITE}/appointments/?id={id}"),
            format!("MediChain: your video consultation starts at 20:30 CET. Join: {SITE}/appointments/?id={id}"),
        ]
    );
    let pushes = pushed_to(&phone.endpoint.0);
    assert_eq!(pushes.len(), 2);
    assert_eq!(pushes[0]["default"], sms_to(doctor_phone)[0]);
    let apns: Value = serde_json::from_str(pushes[1]["APNS"].as_str().unwrap()).unwrap();
    assert_eq!(apns["aps"]["alert"], sms_to(doctor_phone)[1]);
    assert!(
        pushed_to(&old_phone.endpoint.0).is_empty(),
        "disabled: skipped"
    );

    // Every SMS went out as Transactional (moto keeps message attributes only in its recording).
    let recording = moto_api("GET", "/moto-api/recorder/download-recording");
    let publishes: Vec<String> = recording
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter_map(|r| {
            let body = r["body"].as_str()?.to_owned();
            if r["body_encoded"] == true {
                String::from_utf8(
                    base64::engine::general_purpose::STANDARD
                        .decode(body)
                        .ok()?,
                )
                .ok()
            } else {
                Some(body)
            }
        })
        .filter(|body| {
            body.contains("Action=Publish") && body.contains("PhoneNumber=%2B12125550171")
        })
        .collect();
    assert_eq!(publishes.len(), 2);
    for body in publishes {
        assert!(
            body.contains("MessageAttributes.entry.1.Name=AWS.SNS.SMS.SMSType")
                && body.contains("MessageAttributes.entry.1.Value.StringValue=Transactional"),
            "{body}"
        );
    }

    // A moved and then cancelled appointment: nothing for the old version, nothing after cancel.
    let b = w
        .book_at("pat-r", "doc-r", start() + Duration::hours(2))
        .await;
    let mut moved = b.clone();
    moved.version = 2;
    moved.start = b.start + Duration::hours(1);
    moved.end = moved.start + Duration::minutes(30);
    w.change(&b, &moved).await;
    // The payload scheduled for the first time (version 1).
    let stale = ReminderRequest::for_appointment(&b, ReminderKind::Starting);
    assert_eq!(
        send_reminder(&w.deps, &stale).await.unwrap(),
        ReminderOutcome::Skipped(SkipReason::Stale)
    );
    let cancelled = moved.cancelled(Role::Doctor, w.clock.now()).unwrap();
    w.change(&moved, &cancelled).await;
    let current = ReminderRequest {
        version: 2,
        ..stale
    };
    assert_eq!(
        send_reminder(&w.deps, &current).await.unwrap(),
        ReminderOutcome::Skipped(SkipReason::NotBooked)
    );
    assert_eq!(sms_to(doctor_phone).len(), 2, "nothing more was sent");
    assert_eq!(pushed_to(&phone.endpoint.0).len(), 2);

    // Reminders put nothing on the bus: it carries the appointments' own changes only.
    let names: Vec<String> = w.events().into_iter().map(|(name, _)| name).collect();
    assert!(
        names.iter().all(|n| n.starts_with("Appointment")),
        "{names:?}"
    );
}
