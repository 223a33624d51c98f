//! One appointment's whole life against moto, with every AWS call counted by an SDK interceptor
//! on the very clients the code under test uses: the booking through the API handler, the
//! stream's `appointment-events` for the new appointment, and both reminders through
//! `send-reminder`. The interceptor also sizes what is written and read, for the cost model.
//!
//! The scenario is the demo's (see [`SCENARIO`]).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    AfterDeserializationInterceptorContextRef, BeforeSerializationInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use http::Method;
use medichain::adapters::aws::eventbridge::EventBridgePublisher;
use medichain::adapters::aws::scheduler::SchedulerReminders;
use medichain::adapters::aws::sns::SnsNotifier;
use medichain::adapters::aws::{https_client, DynamoDbStore, INDEXES};
use medichain::api::{routes, ApiRequest, Deps};
use medichain::clock::SystemClock;
use medichain::config::reminders::{PushApps, ScheduleTarget};
use medichain::config::AppConfig;
use medichain::domain::device::{Device, DeviceToken, PushEndpoint, PushPlatform};
use medichain::domain::reminder::{ReminderKind, ReminderRequest};
use medichain::domain::{Appointment, Caller, Role, UserId};
use medichain::ports::DeviceRegistry;
use medichain::side_effects::{handle_change, send_reminder, EffectDeps, ReminderOutcome};

use crate::cost::{self, Usage};
use crate::seed;

/// Who gets what in the counted life: the demo data's contact settings.
pub const SCENARIO: &str =
    "doctor: SMS + 1 push device; patient: SMS opt-in; booked 3 days ahead with an Idempotency-Key";

/// One AWS operation (retries of it are the same call), what it wrote and read.
#[derive(Debug, Clone, Default)]
pub struct Call {
    pub service: String,
    pub operation: String,
    pub write_units: f64,
    pub read_units: f64,
    pub events: usize,
    pub sms: usize,
    pub push: usize,
    pub schedules: usize,
}

/// The SDK interceptor: one [`Call`] per operation, in order.
#[derive(Debug, Clone, Default)]
pub struct Recorder(Arc<Mutex<Vec<Call>>>);

impl Recorder {
    /// The calls since the last `take`.
    pub fn take(&self) -> Vec<Call> {
        self.0
            .lock()
            .map(|mut calls| std::mem::take(&mut *calls))
            .unwrap_or_default()
    }
}

/// Which recorded call the current operation is, and how its reads are charged.
#[derive(Debug, Clone, Copy)]
struct Current {
    index: usize,
    consistent: bool,
}

impl Storable for Current {
    type Storer = StoreReplace<Self>;
}

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "CallRecorder"
    }

    fn read_before_serialization(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let (service, operation) = cfg
            .load::<Metadata>()
            .map(|m| (m.service().to_owned(), m.name().to_owned()))
            .unwrap_or_else(|| ("unknown".into(), "unknown".into()));
        let mut call = Call {
            service,
            operation,
            ..Call::default()
        };
        let consistent = describe_input(context.input(), &mut call);
        let mut calls = self.0.lock().map_err(|_| "recorder lock poisoned")?;
        cfg.interceptor_state().store_put(Current {
            index: calls.len(),
            consistent,
        });
        calls.push(call);
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(current) = cfg.load::<Current>().copied() else {
            return Ok(());
        };
        let Ok(output) = context.output_or_error() else {
            return Ok(());
        };
        if let Some(units) = read_units(output) {
            let units = units * if current.consistent { 1.0 } else { 0.5 };
            if let Some(call) = self
                .0
                .lock()
                .map_err(|_| "recorder lock poisoned")?
                .get_mut(current.index)
            {
                call.read_units = units;
            }
        }
        Ok(())
    }
}

type Item = std::collections::HashMap<String, AttributeValue>;

/// DynamoDB's size of an attribute value.
fn value_size(v: &AttributeValue) -> usize {
    match v {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => n.len().div_ceil(2) + 1,
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::Ss(v) => v.iter().map(String::len).sum(),
        AttributeValue::Ns(v) => v.iter().map(|n| n.len().div_ceil(2) + 1).sum(),
        AttributeValue::L(items) => 3 + items.iter().map(|i| 1 + value_size(i)).sum::<usize>(),
        AttributeValue::M(map) => 3 + item_size(map),
        _ => 1,
    }
}

fn item_size(item: &Item) -> usize {
    cost::item_size(item.iter().map(|(k, v)| (k.as_str(), value_size(v))))
}

/// Units of putting `item`, with the writes of every index whose keys it carries (the indexes
/// project all attributes, so each index write is the item's size again; index writes are never
/// transactional).
fn put_units(item: &Item, transactional: bool) -> f64 {
    let size = item_size(item);
    let indexed = INDEXES
        .iter()
        .filter(|i| item.contains_key(i.partition_key) && item.contains_key(i.sort_key))
        .count();
    cost::write_units(size, transactional) + indexed as f64 * cost::write_units(size, false)
}

/// Fills in what the call writes or sends; returns whether its reads are strongly consistent.
fn describe_input(
    input: &aws_smithy_runtime_api::client::interceptors::context::Input,
    call: &mut Call,
) -> bool {
    use aws_sdk_dynamodb::operation as ddb;
    if let Some(i) = input.downcast_ref::<ddb::put_item::PutItemInput>() {
        call.write_units = i.item().map(|item| put_units(item, false)).unwrap_or(1.0);
    } else if let Some(i) =
        input.downcast_ref::<ddb::transact_write_items::TransactWriteItemsInput>()
    {
        call.write_units = i
            .transact_items()
            .iter()
            .map(|t| match t.put() {
                Some(put) => put_units(put.item(), true),
                // Deletes, updates and checks: sized as the 1 KB items they touch here.
                None => cost::write_units(1024, true),
            })
            .sum();
    } else if let Some(i) = input.downcast_ref::<ddb::batch_write_item::BatchWriteItemInput>() {
        call.write_units = i
            .request_items()
            .into_iter()
            .flat_map(|m| m.values())
            .flatten()
            .map(|w| match w.put_request() {
                Some(put) => put_units(put.item(), false),
                None => 1.0,
            })
            .sum();
    } else if input
        .downcast_ref::<ddb::update_item::UpdateItemInput>()
        .is_some()
        || input
            .downcast_ref::<ddb::delete_item::DeleteItemInput>()
            .is_some()
    {
        call.write_units = 1.0;
    } else if let Some(i) = input.downcast_ref::<ddb::get_item::GetItemInput>() {
        return i.consistent_read().unwrap_or(false);
    } else if let Some(i) = input.downcast_ref::<ddb::query::QueryInput>() {
        return i.consistent_read().unwrap_or(false) && i.index_name().is_none();
    } else if let Some(i) = input.downcast_ref::<ddb::batch_get_item::BatchGetItemInput>() {
        return i
            .request_items()
            .into_iter()
            .flat_map(|m| m.values())
            .all(|k| k.consistent_read().unwrap_or(false));
    } else if let Some(i) =
        input.downcast_ref::<aws_sdk_eventbridge::operation::put_events::PutEventsInput>()
    {
        call.events = i.entries().len();
    } else if let Some(i) = input.downcast_ref::<aws_sdk_sns::operation::publish::PublishInput>() {
        if i.phone_number().is_some() {
            call.sms = 1;
        } else {
            call.push = 1;
        }
    } else if input
        .downcast_ref::<aws_sdk_scheduler::operation::create_schedule::CreateScheduleInput>()
        .is_some()
    {
        call.schedules = 1;
    }
    false
}

/// Strongly consistent read units of a read's answer, for the reads this adapter makes. A Query
/// rounds the total of its items up to 4 KB; BatchGetItem is charged per item, each rounded up as
/// a GetItem would be.
fn read_units(
    output: &aws_smithy_runtime_api::client::interceptors::context::Output,
) -> Option<f64> {
    use aws_sdk_dynamodb::operation as ddb;
    if let Some(o) = output.downcast_ref::<ddb::get_item::GetItemOutput>() {
        return Some(cost::read_units(o.item().map(item_size).unwrap_or(0)));
    }
    if let Some(o) = output.downcast_ref::<ddb::query::QueryOutput>() {
        return Some(cost::read_units(o.items().iter().map(item_size).sum()));
    }
    if let Some(o) = output.downcast_ref::<ddb::batch_get_item::BatchGetItemOutput>() {
        let units: f64 = o
            .responses()
            .into_iter()
            .flat_map(|m| m.values())
            .flatten()
            .map(|item| cost::read_units(item_size(item)))
            .sum();
        // A key that finds nothing still costs a read; counted here only when none found anything.
        return Some(units.max(1.0));
    }
    None
}

/// The calls of one step of the life, by operation.
#[derive(Debug, Clone)]
pub struct Step {
    pub name: &'static str,
    pub calls: Vec<Call>,
}

impl Step {
    pub fn by_operation(&self) -> BTreeMap<String, usize> {
        let mut ops = BTreeMap::new();
        for c in &self.calls {
            *ops.entry(c.operation.clone()).or_default() += 1;
        }
        ops
    }

    /// `3 calls (GetItem 2, TransactWriteItems 1); 12 WRU, 2 RRU`.
    pub fn describe(&self) -> String {
        let ops: Vec<String> = self
            .by_operation()
            .iter()
            .map(|(op, n)| format!("{op} {n}"))
            .collect();
        let wru: f64 = self.calls.iter().map(|c| c.write_units).sum();
        let rru: f64 = self.calls.iter().map(|c| c.read_units).sum();
        format!(
            "{} calls ({}); {wru} WRU, {rru} RRU",
            self.calls.len(),
            ops.join(", ")
        )
    }
}

#[derive(Debug, Clone)]
pub struct Life {
    pub steps: Vec<Step>,
}

/// Lambda time an invocation of each step is assumed to bill (256 MB, arm64): these cannot be
/// measured without AWS, so they are stated generously (each DynamoDB call ≈ 5–10 ms in-region).
const ASSUMED_BILLED_MS: [(&str, f64); 4] = [
    ("book", 30.0),
    ("appointment-events", 80.0),
    ("send-reminder 24h", 80.0),
    ("send-reminder 5m", 80.0),
];
/// The template's memory for these functions.
const MEMORY_GB: f64 = 256.0 / 1024.0;
/// Log bytes per invocation: the platform's START/END/REPORT lines and a few JSON lines of ours.
const ASSUMED_LOG_BYTES_PER_INVOCATION: f64 = 1_000.0;

impl Life {
    pub fn total_calls(&self) -> usize {
        self.steps.iter().map(|s| s.calls.len()).sum()
    }

    pub fn booking_is_one_transaction(&self) -> bool {
        self.steps
            .first()
            .is_some_and(|s| s.calls.len() == 1 && s.calls[0].operation == "TransactWriteItems")
    }

    pub fn usage(&self) -> Usage {
        let calls = || self.steps.iter().flat_map(|s| &s.calls);
        let invocations = self.steps.len() as f64;
        let billed_ms: f64 = ASSUMED_BILLED_MS.iter().map(|(_, ms)| ms).sum();
        let sns_push: usize = calls().map(|c| c.push).sum();
        Usage {
            http_api_requests: 1.0,
            lambda_invocations: invocations,
            lambda_gb_seconds: billed_ms / 1000.0 * MEMORY_GB,
            dynamodb_wru: calls().map(|c| c.write_units).sum(),
            dynamodb_rru: calls().map(|c| c.read_units).sum(),
            scheduler_invocations: calls().map(|c| c.schedules).sum::<usize>() as f64,
            eventbridge_events: calls().map(|c| c.events).sum::<usize>() as f64,
            // SMS publishes are billed as SMS (excluded); other SNS calls as requests.
            sns_requests: calls()
                .filter(|c| c.service.eq_ignore_ascii_case("sns") && c.sms == 0)
                .count() as f64,
            sns_push: sns_push as f64,
            sms_messages: calls().map(|c| c.sms).sum::<usize>() as f64,
            log_gb: invocations * ASSUMED_LOG_BYTES_PER_INVOCATION / 1e9,
        }
    }
}

/// An SDK configuration for moto: dummy credentials, a region, the endpoint, our HTTP client.
pub fn moto_sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
            aws_sdk_dynamodb::config::Credentials::new("testing", "testing", None, None, "moto"),
        ))
        .endpoint_url(endpoint)
        .http_client(https_client())
        .build()
}

/// The DynamoDB store on `table` at moto, the table created if missing.
pub async fn dynamodb_store(endpoint: &str, table: &str) -> anyhow::Result<DynamoDbStore> {
    let sdk = moto_sdk_config(endpoint);
    let store = DynamoDbStore::new(aws_sdk_dynamodb::Client::new(&sdk), table);
    store.create_table_if_missing().await?;
    Ok(store)
}

const GROUP: &str = "medichain-reminders";
const BUS: &str = "medichain-bench";

fn schedule_target() -> ScheduleTarget {
    ScheduleTarget {
        group: GROUP.into(),
        function_arn: "arn:aws:lambda:us-east-1:123456789012:function:send-reminder".into(),
        role_arn: "arn:aws:iam::123456789012:role/medichain-scheduler".into(),
        dead_letter_arn: "arn:aws:sqs:us-east-1:123456789012:medichain-reminders-dlq".into(),
    }
}

/// What the reminder functions expect to exist (in AWS: from `template.yaml`): the schedule
/// group and the event bus.
pub async fn prepare_outbound(endpoint: &str) -> anyhow::Result<()> {
    let sdk = moto_sdk_config(endpoint);
    SchedulerReminders::new(aws_sdk_scheduler::Client::new(&sdk), schedule_target())
        .create_group_if_missing()
        .await?;
    EventBridgePublisher::new(aws_sdk_eventbridge::Client::new(&sdk), BUS)
        .create_bus_if_missing()
        .await?;
    Ok(())
}

/// A push endpoint on moto for the doctor's phone, registered in the store.
async fn register_doctor_phone(
    sdk: &aws_config::SdkConfig,
    store: &DynamoDbStore,
    doctor: &UserId,
) -> anyhow::Result<()> {
    let sns = aws_sdk_sns::Client::new(sdk);
    let app = sns
        .create_platform_application()
        .name("medichain-bench-apns")
        .platform("APNS")
        .attributes("PlatformCredential", "bench")
        .attributes("PlatformPrincipal", "bench")
        .send()
        .await?;
    let app_arn = app
        .platform_application_arn()
        .context("no application ARN")?;
    let token = DeviceToken::parse(PushPlatform::Apns, &"ab".repeat(32))?;
    let endpoint = sns
        .create_platform_endpoint()
        .platform_application_arn(app_arn)
        .token(token.as_str())
        .send()
        .await?;
    let endpoint_arn = endpoint.endpoint_arn().context("no endpoint ARN")?;
    store
        .register_device(&Device {
            id: token.device_id(doctor),
            user_id: doctor.clone(),
            platform: PushPlatform::Apns,
            endpoint: PushEndpoint(endpoint_arn.to_owned()),
            created_at: chrono::Utc::now(),
        })
        .await?;
    Ok(())
}

/// Runs the life and returns the calls of each step.
pub async fn run(endpoint: &str) -> anyhow::Result<Life> {
    let table = format!("medichain-life-{}", std::process::id());
    let setup = dynamodb_store(endpoint, &table).await?;
    let seeded = seed::seed(&setup, 1, 47 * 4).await?;
    prepare_outbound(endpoint).await?;
    let doctor = UserId::parse(&seeded.doctor_id)?;
    // The bench doctor has no profile of its own; give it the demo doctor's contact details.
    let mut profile =
        medichain::ports::Directory::get_user(&setup, &UserId::parse("doctor-okafor")?)
            .await?
            .context("the demo doctor's profile")?;
    profile.id = doctor.clone();
    medichain::ports::Directory::put_user(&setup, &profile).await?;
    let sdk = moto_sdk_config(endpoint);
    register_doctor_phone(&sdk, &setup, &doctor).await?;

    // The clients under test, each with the recorder.
    let recorder = Recorder::default();
    let dynamodb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk)
            .interceptor(recorder.clone())
            .build(),
    );
    let scheduler = aws_sdk_scheduler::Client::from_conf(
        aws_sdk_scheduler::config::Builder::from(&sdk)
            .interceptor(recorder.clone())
            .build(),
    );
    let sns = aws_sdk_sns::Client::from_conf(
        aws_sdk_sns::config::Builder::from(&sdk)
            .interceptor(recorder.clone())
            .build(),
    );
    let events = aws_sdk_eventbridge::Client::from_conf(
        aws_sdk_eventbridge::config::Builder::from(&sdk)
            .interceptor(recorder.clone())
            .build(),
    );
    let store = DynamoDbStore::new(dynamodb.clone(), &table);
    let site_url = "https://app.medichain.example".to_owned();
    // The API as the functions wire it (medichain::bootstrap), on the counted client.
    let api = medichain::bootstrap::deps_on(dynamodb, table.clone(), AppConfig::default());
    let effects = EffectDeps::new(
        store,
        Arc::new(SchedulerReminders::new(scheduler, schedule_target())),
        Arc::new(SnsNotifier::new(sns, PushApps::default())),
        Arc::new(EventBridgePublisher::new(events, BUS)),
        Arc::new(SystemClock),
        site_url,
    );

    // A warm container: whatever the first request of a container loads is loaded already.
    warm_up(&api, &seeded.doctor_id).await;
    recorder.take();

    let mut steps = Vec::new();
    // Three days ahead, so that both reminders are scheduled.
    let start = seeded
        .free_slots
        .iter()
        .find(|s| **s > chrono::Utc::now() + chrono::Duration::days(3))
        .context("a free slot three days ahead")?;
    let response = book(&api, &seeded.doctor_id, &start.to_rfc3339()).await;
    anyhow::ensure!(
        response.status == http::StatusCode::CREATED,
        "booking failed: {} {}",
        response.status,
        String::from_utf8_lossy(&response.body)
    );
    steps.push(Step {
        name: "book",
        calls: recorder.take(),
    });
    let appointment: Appointment = serde_json::from_slice(&response.body)?;

    handle_change(&effects, None, Some(&appointment)).await?;
    steps.push(Step {
        name: "appointment-events",
        calls: recorder.take(),
    });
    for (name, kind) in [
        ("send-reminder 24h", ReminderKind::DayBefore),
        ("send-reminder 5m", ReminderKind::Starting),
    ] {
        let outcome = send_reminder(
            &effects,
            // The payload appointment-events schedules.
            &ReminderRequest::for_appointment(&appointment, kind),
        )
        .await?;
        anyhow::ensure!(
            matches!(outcome, ReminderOutcome::Sent { .. }),
            "{name}: {outcome:?}"
        );
        steps.push(Step {
            name,
            calls: recorder.take(),
        });
    }
    Ok(Life { steps })
}

fn caller() -> Caller {
    Caller {
        id: UserId::parse(seed::FIXTURE_PATIENT).expect("the fixture patient id is valid"),
        name: "Jordan Rivera".into(),
        role: Role::Patient,
    }
}

async fn warm_up(deps: &Deps, doctor: &str) {
    let mut req = ApiRequest::new(Method::GET, Ok(caller()));
    req.path_params.insert("id".into(), doctor.into());
    req.query.insert(
        "date".into(),
        (chrono::Utc::now() + chrono::Duration::days(2))
            .date_naive()
            .to_string(),
    );
    routes::for_function("list-slots").call(deps, req).await;
}

async fn book(deps: &Deps, doctor: &str, start: &str) -> medichain::api::ApiResponse {
    let mut req = ApiRequest::new(Method::POST, Ok(caller()));
    req.headers.insert(
        "idempotency-key",
        http::HeaderValue::from_static("bench-life-1"),
    );
    req.headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    req.body = serde_json::json!({ "doctor_id": doctor, "start": start })
        .to_string()
        .into();
    routes::for_function("book-appointment")
        .call(deps, req)
        .await
}
