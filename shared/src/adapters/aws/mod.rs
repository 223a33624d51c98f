//! The DynamoDB store: every store port on one table (see `docs/decisions-dynamodb.md` for the
//! key design). Each change is one conditional write or one `TransactWriteItems`, so the
//! guarantees match the embedded store's SQLite transactions: no double booking, updates
//! conditioned on the version read, idempotency completed together with the booking.

mod appointments;
// The audit trail and usage quotas (the hardening issue; docs/security.md).
mod audit;
mod directory;
// The SDK clients' HTTP client: hyper-util's pool, HTTP/1.1, rustls on ring.
pub mod http_client;
// Notifications, devices and reminder gates (the reminders issue; docs/reminders.md).
mod dynamodb_notifications;
pub mod iam;
mod idempotency;
pub mod parameters;
// The functions' SDK configuration, from the environment alone (no aws-config).
mod sdk_config;
pub mod table;
// Reminders' outbound adapters: EventBridge Scheduler, SNS, EventBridge (docs/reminders.md).
pub mod eventbridge;
mod outbound;
pub mod scheduler;
pub mod sns;

use std::collections::HashMap;

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, PutRequest, WriteRequest};
use aws_sdk_dynamodb::Client;

use crate::ports::StoreError;

pub use table::{
    IndexSpec, DOCTOR_APPOINTMENTS, INDEXES, PARTITION_KEY, PATIENT_APPOINTMENTS, SORT_KEY,
    STREAM_VIEW, TTL_ATTRIBUTE,
};

/// All store ports on one DynamoDB table. Cheap to clone; clones share the SDK client.
#[derive(Clone, Debug)]
pub struct DynamoDbStore {
    client: Client,
    table: String,
}

impl DynamoDbStore {
    /// A store on `table_name` through `client` (built once at cold start and reused).
    pub fn new(client: Client, table_name: impl Into<String>) -> Self {
        Self {
            client,
            table: table_name.into(),
        }
    }

    /// A store whose client is configured by aws-config's standard chain: region, credentials
    /// (environment, profiles, SSO, ...) and endpoint override (`AWS_ENDPOINT_URL`,
    /// `AWS_ENDPOINT_URL_DYNAMODB`). For a developer's machine (the local server); the functions
    /// use [`load_sdk_config`], which needs none of the chain.
    #[cfg(feature = "aws-default-chain")]
    pub async fn connect(table_name: impl Into<String>) -> Self {
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .http_client(https_client())
            .load()
            .await;
        Self::new(Client::new(&config), table_name)
    }

    pub fn table_name(&self) -> &str {
        &self.table
    }
}

/// A Lambda function's SDK configuration: region, credentials and endpoint overrides from the
/// environment (see `sdk_config`), with the one HTTPS client this crate builds in
/// ([`http_client`]: hyper 1 + rustls on ring). The SDK's default client would pull aws-lc-sys (a
/// C build) and an HTTP/2 stack as well; see `docs/decisions-dynamodb.md`.
pub async fn load_sdk_config() -> aws_types::SdkConfig {
    sdk_config::sdk_config_from_env()
}

/// The roots every AWS service endpoint's certificate chains to (Amazon Trust Services; the
/// Starfield root cross-signs them for old clients). Public certificates, compiled in.
const AWS_TRUST_ROOTS: [&[u8]; 5] = [
    include_bytes!("trust/amazon-root-ca-1.pem"),
    include_bytes!("trust/amazon-root-ca-2.pem"),
    include_bytes!("trust/amazon-root-ca-3.pem"),
    include_bytes!("trust/amazon-root-ca-4.pem"),
    include_bytes!("trust/starfield-services-root-ca-g2.pem"),
];

/// The HTTPS client (it speaks plain HTTP too, for a local endpoint such as moto).
///
/// It trusts the Amazon Trust Services roots only, not the system's store: loading the system's
/// ~140 certificates took 3 ms of every cold start's CPU (measured, docs/performance.md), and
/// nothing but AWS endpoints is ever called through it.
pub fn https_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
    http_client::http_client(&AWS_TRUST_ROOTS)
}

impl DynamoDbStore {
    pub(crate) async fn get_item(&self, key: Item) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            // Read-your-writes: a profile or appointment just written must be seen as written.
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(out.item)
    }

    /// Every item a Query matches, following `LastEvaluatedKey` across DynamoDB's 1 MB pages.
    /// For small, bounded partitions (the directory, one doctor's locks in a range).
    pub(crate) async fn query_all(
        &self,
        query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start_key = None;
        loop {
            let out = query
                .clone()
                .set_exclusive_start_key(start_key)
                .send()
                .await
                .map_err(sdk_error)?;
            items.extend(out.items.unwrap_or_default());
            start_key = out.last_evaluated_key;
            if start_key.is_none() {
                return Ok(items);
            }
        }
    }

    /// Reads the items of `keys` with one `BatchGetItem` per 100 keys, consistently, sending
    /// unprocessed keys (throttling inside a batch) again. Keys must be distinct; the items come
    /// back in no particular order, absent ones missing.
    pub(crate) async fn batch_get(&self, keys: Vec<Item>) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        for chunk in keys.chunks(BATCH_GET) {
            let mut pending = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(chunk.to_vec()))
                    // Read-your-writes, as `get_item`.
                    .consistent_read(true)
                    .build()
                    .map_err(build_error)?,
            );
            for attempt in 0..BATCH_ATTEMPTS {
                let Some(request) = pending.take() else { break };
                let mut out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(sdk_error)?;
                items.extend(
                    out.responses
                        .as_mut()
                        .and_then(|r| r.remove(&self.table))
                        .unwrap_or_default(),
                );
                pending = out
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&self.table))
                    .filter(|k| !k.keys().is_empty());
                if pending.is_some() {
                    tokio::time::sleep(std::time::Duration::from_millis(50 << attempt)).await;
                }
            }
            if let Some(left) = pending {
                return Err(StoreError::Unavailable(
                    format!("{} keys left unprocessed", left.keys().len()).into(),
                ));
            }
        }
        Ok(items)
    }

    /// Puts `items` with one `BatchWriteItem` per 25, sending unprocessed items again. No
    /// conditions (the batch takes none): each item replaces one with its key. `what` names the
    /// items in the error when some stay unprocessed.
    pub(crate) async fn batch_put(&self, items: Vec<Item>, what: &str) -> Result<(), StoreError> {
        for chunk in items.chunks(BATCH_WRITE) {
            let mut requests = chunk
                .iter()
                .map(|item| {
                    let put = PutRequest::builder()
                        .set_item(Some(item.clone()))
                        .build()
                        .map_err(build_error)?;
                    Ok(WriteRequest::builder().put_request(put).build())
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            for attempt in 0..BATCH_ATTEMPTS {
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .send()
                    .await
                    .map_err(sdk_error)?;
                requests = out
                    .unprocessed_items
                    .and_then(|mut u| u.remove(&self.table))
                    .unwrap_or_default();
                if requests.is_empty() {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50 << attempt)).await;
            }
            if !requests.is_empty() {
                return Err(StoreError::Unavailable(
                    format!("{} {what} left unprocessed", requests.len()).into(),
                ));
            }
        }
        Ok(())
    }

    pub(crate) async fn put_plain(&self, item: Item) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }
}

type Item = HashMap<String, AttributeValue>;

/// BatchGetItem takes at most 100 keys.
const BATCH_GET: usize = 100;
/// BatchWriteItem takes at most 25 puts.
const BATCH_WRITE: usize = 25;
/// How often unprocessed keys or items (throttling inside a batch) are sent again before giving up.
const BATCH_ATTEMPTS: u32 = 4;

/// Error codes that mean "too busy now, the same request may succeed later". The SDK has retried
/// them already when they reach us.
const RETRYABLE_CODES: &[&str] = &[
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionInProgressException",
];

/// Whether an SDK failure is overload or an outage (worth retrying later) rather than a refusal:
/// timeouts, dispatch failures, 5xx, or a service error code in `codes`.
pub(crate) fn is_transient<E: ProvideErrorMetadata>(
    e: &SdkError<E, HttpResponse>,
    codes: &[&str],
) -> bool {
    match e {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => true,
        SdkError::ServiceError(ctx) => {
            ctx.raw().status().is_server_error()
                || ctx.err().code().is_some_and(|c| codes.contains(&c))
        }
        SdkError::ResponseError(ctx) => ctx.raw().status().is_server_error(),
        _ => false,
    }
}

/// An SDK failure as a store error: overload and outages (after the SDK's own retries) are
/// `Unavailable`, so the API answers 503 with `Retry-After`; anything else is `Internal`, keeping
/// the SDK error as its cause.
pub(crate) fn sdk_error<E>(e: SdkError<E, HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let transient = is_transient(&e, RETRYABLE_CODES);
    if transient {
        StoreError::Unavailable(Box::new(e))
    } else {
        StoreError::Internal(Box::new(e))
    }
}

/// A request this adapter built is missing a required part: a bug here, never the caller's.
pub(crate) fn build_error(e: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Internal(Box::new(e))
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// A string attribute of a stored item; its absence means the item is not what we wrote.
fn get_s<'a>(item: &'a Item, name: &str) -> Result<&'a str, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v),
        _ => Err(StoreError::Corrupt(format!(
            "item lacks string attribute {name}"
        ))),
    }
}

fn get_n<T: std::str::FromStr>(item: &Item, name: &str) -> Result<T, StoreError> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("attribute {name} is not a valid number"))),
        _ => Err(StoreError::Corrupt(format!(
            "item lacks number attribute {name}"
        ))),
    }
}

/// The domain value kept as JSON in the item's `body` attribute.
const BODY: &str = "body";
/// What kind of item this is, for people and stream consumers reading the table.
const ENTITY: &str = "entity";

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Internal(Box::new(e)))
}

fn body_of<T: serde::de::DeserializeOwned>(item: &Item) -> Result<T, StoreError> {
    serde_json::from_str(get_s(item, BODY)?).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn key(pk: impl Into<String>, sk: impl Into<String>) -> Item {
    HashMap::from([
        (PARTITION_KEY.to_owned(), s(pk)),
        (SORT_KEY.to_owned(), s(sk)),
    ])
}

#[cfg(test)]
mod trust_tests {
    use base64::Engine as _;

    #[test]
    fn every_compiled_in_root_is_one_pem_certificate() {
        for pem in super::AWS_TRUST_ROOTS {
            let text = std::str::from_utf8(pem).expect("PEM is text");
            assert_eq!(text.matches("-----BEGIN CERTIFICATE-----").count(), 1);
            let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
            let der = base64::engine::general_purpose::STANDARD
                .decode(body)
                .expect("base64 body");
            // A certificate is a DER SEQUENCE of a few hundred bytes or more.
            assert!(der.len() > 300 && der[0] == 0x30, "{} bytes", der.len());
        }
        // And the client builds with them.
        let _client = super::https_client();
    }
}
