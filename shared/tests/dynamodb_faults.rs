//! Fault behaviour of the DynamoDB store. Throttling and 5xx are retried a bounded number of
//! times by the SDK; once retries are exhausted the store says `Unavailable`, the API answers 503
//! with `Retry-After`, and nothing was half-written.
//!
//! Two tools: `aws-smithy-mocks` for the SDK's retry decisions on canned responses, and a thin
//! HTTP client in front of moto that throttles only `TransactWriteItems`, so what was (not)
//! written is read back from a real table.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::{HttpClient, RuntimeComponents, SharedHttpClient};
use aws_sdk_dynamodb::operation::transact_write_items::{
    TransactWriteItemsError, TransactWriteItemsOutput,
};
use aws_sdk_dynamodb::types::error::TransactionCanceledException;
use aws_sdk_dynamodb::types::CancellationReason;
use aws_sdk_dynamodb::Client;
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use aws_smithy_runtime_api::client::http::{
    HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::http::StatusCode as SmithyStatus;
use aws_smithy_types::body::SdkBody;
use http::StatusCode;
use medichain::adapters::aws::DynamoDbStore;
use medichain::domain::AppointmentStatus;
use medichain::ports::{AppointmentStore, Directory, PageRequest, Party, StoreError, TimeRange};

use support::api::{assert_status, book, deps, future_slot, json_of, patient};
use support::{appointment, base_time, doctor, moto, user};

const THROTTLED: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"Rate of requests exceeds the allowed throughput."}"#;

/// Three attempts with short backoffs: the SDK's standard policy, quick enough for a test.
fn quick_retries() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(3)
        .with_initial_backoff(Duration::from_millis(5))
        .with_max_backoff(Duration::from_millis(20))
}

// ---------------------------------------------------------------------------------------------
// The SDK's retry decisions, on canned responses

#[tokio::test]
async fn a_throttled_booking_is_retried_by_the_sdk_and_then_succeeds() {
    let transaction = mock!(Client::transact_write_items)
        .sequence()
        .http_status(400, Some(THROTTLED.to_owned()))
        .times(2)
        .output(|| TransactWriteItemsOutput::builder().build())
        .build();
    let client = mock_client!(
        aws_sdk_dynamodb,
        RuleMode::Sequential,
        [&transaction],
        |c| c.retry_config(quick_retries())
    );
    let store = DynamoDbStore::new(client, "medichain");
    store
        .create(&appointment("pat-1", "doc-1", base_time()), None)
        .await
        .expect("the third attempt succeeds");
    assert_eq!(transaction.num_calls(), 3);
}

#[tokio::test]
async fn server_errors_past_the_retry_budget_make_the_store_unavailable() {
    let transaction = mock!(Client::transact_write_items)
        .sequence()
        .http_status(500, None)
        .repeatedly()
        .build();
    let client = mock_client!(
        aws_sdk_dynamodb,
        RuleMode::Sequential,
        [&transaction],
        |c| c.retry_config(quick_retries())
    );
    let store = DynamoDbStore::new(client, "medichain");
    let got = store
        .create(&appointment("pat-1", "doc-1", base_time()), None)
        .await;
    assert!(matches!(got, Err(StoreError::Unavailable(_))), "{got:?}");
    assert_eq!(transaction.num_calls(), 3, "retries are bounded");
}

#[tokio::test]
async fn a_client_error_is_internal_and_not_retried() {
    let get = mock!(Client::get_item)
        .sequence()
        .http_status(
            400,
            Some(
                r#"{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"Requested resource not found"}"#
                    .to_owned(),
            ),
        )
        .repeatedly()
        .build();
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&get], |c| c
        .retry_config(quick_retries()));
    let store = DynamoDbStore::new(client, "no-such-table");
    let got = store.get_doctor(&user("doc-1")).await;
    let Err(StoreError::Internal(cause)) = got else {
        panic!("expected Internal, got {got:?}");
    };
    // The SDK error is kept as the cause, for the logs.
    let chain = format!("{:?}", cause);
    assert!(chain.contains("ResourceNotFoundException"), "{chain}");
    assert_eq!(get.num_calls(), 1);
}

// ---------------------------------------------------------------------------------------------
// Throttled transactions in front of moto

/// An HTTP client that answers `TransactWriteItems` with DynamoDB's throttling error while it has
/// failures left, and passes everything else to the real client.
#[derive(Debug, Clone)]
struct ThrottleTransactions {
    inner: SharedHttpClient,
    failures_left: Arc<AtomicUsize>,
    attempts: Arc<AtomicUsize>,
}

#[derive(Debug)]
struct ThrottlingConnector {
    inner: SharedHttpConnector,
    failures_left: Arc<AtomicUsize>,
    attempts: Arc<AtomicUsize>,
}

impl HttpClient for ThrottleTransactions {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(ThrottlingConnector {
            inner: self.inner.http_connector(settings, components),
            failures_left: self.failures_left.clone(),
            attempts: self.attempts.clone(),
        })
    }
}

impl HttpConnector for ThrottlingConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let is_transaction = request
            .headers()
            .get("x-amz-target")
            .is_some_and(|t| t.ends_with(".TransactWriteItems"));
        if is_transaction {
            self.attempts.fetch_add(1, Ordering::SeqCst);
            let throttle = self
                .failures_left
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            if throttle {
                let status = SmithyStatus::try_from(400).expect("a status");
                return HttpConnectorFuture::ready(Ok(HttpResponse::new(
                    status,
                    SdkBody::from(THROTTLED),
                )));
            }
        }
        self.inner.call(request)
    }
}

struct Throttled {
    store: DynamoDbStore,
    failures_left: Arc<AtomicUsize>,
    attempts: Arc<AtomicUsize>,
}

/// A store on a fresh moto table whose transactions are throttled `failures` times.
async fn throttled_store(failures: usize) -> Throttled {
    let plain = support::dynamodb().await.store;
    let failures_left = Arc::new(AtomicUsize::new(failures));
    let attempts = Arc::new(AtomicUsize::new(0));
    let http = ThrottleTransactions {
        inner: medichain::adapters::aws::https_client(),
        failures_left: failures_left.clone(),
        attempts: attempts.clone(),
    };
    let config = moto::config()
        .http_client(http)
        .retry_config(quick_retries())
        .build();
    Throttled {
        store: DynamoDbStore::new(Client::from_conf(config), plain.table_name()),
        failures_left,
        attempts,
    }
}

#[tokio::test]
async fn a_booking_throttled_twice_books_once() {
    let t = throttled_store(2).await;
    let doc = doctor("doc-1", "Ada Lane");
    t.store.put_doctor(&doc).await.unwrap();
    let deps = deps(t.store.clone());

    let start = future_slot(&doc, 0);
    let booked = book(&deps, &patient("pat-1"), "doc-1", &start, Some("k-1")).await;
    assert_status(&booked, StatusCode::CREATED);
    assert_eq!(t.attempts.load(Ordering::SeqCst), 3);

    let page = t
        .store
        .list_for(
            &Party::Patient(user("pat-1")),
            TimeRange::default(),
            PageRequest::first(10),
        )
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].id.to_string(), json_of(&booked)["id"]);
}

#[tokio::test]
async fn a_booking_throttled_past_the_retries_answers_503_and_writes_nothing() {
    let t = throttled_store(usize::MAX).await;
    let doc = doctor("doc-1", "Ada Lane");
    t.store.put_doctor(&doc).await.unwrap();
    let deps = deps(t.store.clone());
    let start = future_slot(&doc, 0);

    let refused = book(&deps, &patient("pat-1"), "doc-1", &start, Some("k-1")).await;
    assert_status(&refused, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(refused.headers[http::header::RETRY_AFTER], "2");
    assert_eq!(t.attempts.load(Ordering::SeqCst), 3, "bounded retries");

    // Nothing of the booking exists: no appointment, no slot lock ...
    let page = t
        .store
        .list_for(
            &Party::Patient(user("pat-1")),
            TimeRange::default(),
            PageRequest::first(10),
        )
        .await
        .unwrap();
    assert!(page.items.is_empty(), "{page:?}");
    let (from, to) = (
        chrono::Utc::now(),
        chrono::Utc::now() + chrono::Duration::days(30),
    );
    assert!(t
        .store
        .taken_slots(&user("doc-1"), from, to)
        .await
        .unwrap()
        .is_empty());

    // ... and the idempotency key was released: once DynamoDB recovers, the client's retry with
    // the same key books (it is not told "in progress" nor replayed a failure).
    t.failures_left.store(0, Ordering::SeqCst);
    let retried = book(&deps, &patient("pat-1"), "doc-1", &start, Some("k-1")).await;
    assert_status(&retried, StatusCode::CREATED);
    assert_eq!(json_of(&retried)["status"], "booked");
    let id = json_of(&retried)["id"].as_str().unwrap().to_owned();
    let stored = t
        .store
        .get(&medichain::domain::AppointmentId::parse(&id).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, AppointmentStatus::Booked);
}

// ---------------------------------------------------------------------------------------------
// Cancelled transactions: which reason means what

fn cancelled(codes: &[&str]) -> TransactWriteItemsError {
    let mut e = TransactionCanceledException::builder().message("Transaction cancelled");
    for code in codes {
        e = e.cancellation_reasons(CancellationReason::builder().code(*code).build());
    }
    TransactWriteItemsError::TransactionCanceledException(e.build())
}

#[tokio::test]
async fn a_transaction_conflict_is_tried_again_and_then_meets_the_winners_lock() {
    let transaction = mock!(Client::transact_write_items)
        .sequence()
        .error(|| cancelled(&["TransactionConflict", "None"]))
        .error(|| cancelled(&["ConditionalCheckFailed", "None"]))
        .build();
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&transaction]);
    let store = DynamoDbStore::new(client, "medichain");
    let got = store
        .create(&appointment("pat-1", "doc-1", base_time()), None)
        .await;
    assert!(matches!(got, Err(StoreError::SlotTaken)), "{got:?}");
    assert_eq!(transaction.num_calls(), 2);
}

#[tokio::test]
async fn a_transaction_refused_as_invalid_is_internal_and_not_retried() {
    let transaction = mock!(Client::transact_write_items)
        .sequence()
        .error(|| cancelled(&["None", "ValidationError"]))
        .repeatedly()
        .build();
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&transaction]);
    let store = DynamoDbStore::new(client, "medichain");
    let got = store
        .create(&appointment("pat-1", "doc-1", base_time()), None)
        .await;
    assert!(matches!(got, Err(StoreError::Internal(_))), "{got:?}");
    assert_eq!(transaction.num_calls(), 1);
}
