//! The AWS adapters: the storage ports over one DynamoDB table (single-table design, see
//! ARCHITECTURE.md) and the delivery queue over SQS. Built once per cold start and shared by
//! every invocation.

mod api_keys;
mod audit;
mod batch;
mod counting;
mod cursor;
mod deliveries;
mod delivery_item;
mod events;
mod health_item;
mod held;
#[cfg(test)]
mod hot_keys;
mod item;
mod key_check;
mod merge;
mod metrics;
mod queue;
mod rate_gate;
mod reads;
mod replays;
mod retention;
mod rollup_item;
mod shards;
mod stream;
mod subscriptions;
mod table;
mod units;
mod walk;
mod webhook_item;

use std::error::Error;
use std::sync::Arc;
use std::time::Duration;

pub use api_keys::DynamoDbApiKeyStore;
pub use audit::DynamoDbAuditLog;
pub use counting::{CountRequests, RequestCounts, is_dynamodb_write};
pub use cursor::{Cursors, Position};
pub use deliveries::DynamoDbDeliveryStore;
pub use events::DynamoDbEventStore;
pub use metrics::DynamoDbMetricsStore;
pub use queue::{Acknowledgement, SqsDeliveryQueue, decode_task, encode_task, visibility_for};
pub use rate_gate::DynamoDbRateGate;
pub use replays::DynamoDbReplayStore;
pub use retention::DynamoDbRetention;
pub use stream::{event_of_image, sample_of_image};
pub use subscriptions::DynamoDbSubscriptionStore;
pub use table::{Queues, create_queues, create_table};
pub use units::{item_size, read_units, write_units};

use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};

use crate::ports::{QueueError, StoreError};

/// Where the data lives, and the clients to reach it.
#[derive(Clone)]
pub struct Dynamo {
    pub client: aws_sdk_dynamodb::Client,
    pub table: Arc<str>,
}

impl Dynamo {
    pub fn new(client: aws_sdk_dynamodb::Client, table: &str) -> Self {
        Self { client, table: table.into() }
    }
}

/// An SDK failure, with its whole context in the message (the SDK's own `Display` says little).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct AwsFailure(String);

fn failure<E: Error + 'static>(error: E) -> AwsFailure {
    AwsFailure(DisplayErrorContext(&error).to_string())
}

pub(crate) fn store_error<E: Error + 'static>(error: E) -> StoreError {
    StoreError::Backend(Box::new(failure(error)))
}

pub(crate) fn queue_error<E: Error + 'static>(error: E) -> QueueError {
    QueueError::Backend(Box::new(failure(error)))
}

/// The outcome of a conditional single-item write: `Some(output)` when written, `None` when
/// only its condition did not hold; any other failure is an error.
pub(crate) fn written<T, E, R>(result: Result<T, SdkError<E, R>>) -> Result<Option<T>, StoreError>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match result {
        Ok(output) => Ok(Some(output)),
        Err(error) if condition_failed(&error) => Ok(None),
        Err(error) => Err(store_error(error)),
    }
}

/// True when a single-item write failed only because its condition did not hold.
pub(crate) fn condition_failed<E, R>(error: &SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    error.as_service_error().and_then(|e| e.code()) == Some("ConditionalCheckFailedException")
}

/// A query's `Limit` for a page of `limit` items (at least 1, at most 100).
pub(crate) fn page_size(limit: usize) -> i32 {
    i32::try_from(limit.clamp(1, 100)).unwrap_or(100)
}

/// How every AWS call is retried, in one place: the SDK's standard mode (exponential backoff
/// with full jitter, and a retry quota that stops retrying when most calls fail), at most five
/// attempts, waiting 100 ms doubling to at most 5 s: a throttled DynamoDB partition gets about
/// 1.5 s to recover before the call fails. The Rust SDK's own default starts at 1 s, which
/// would spend a Lambda invocation's time asleep.
pub fn retry_config() -> aws_config::retry::RetryConfig {
    aws_config::retry::RetryConfig::standard()
        .with_max_attempts(5)
        .with_initial_backoff(Duration::from_millis(100))
        .with_max_backoff(Duration::from_secs(5))
}

/// How long an AWS call may take: 2 s to connect, 5 s an attempt, 15 s in all with its retries,
/// well inside the functions' timeouts (30 s `ingest`, 60 s `deliver`), so a call that hangs
/// fails the step (its message comes back) instead of the invocation being cut off.
pub fn timeout_config() -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(2))
        .operation_attempt_timeout(Duration::from_secs(5))
        .operation_timeout(Duration::from_secs(15))
        .build()
}

/// The SDK configuration from the environment (the Lambda role, `AWS_REGION`), pointed at
/// `endpoint` when one is given (an emulator such as moto).
pub async fn sdk_config(endpoint: Option<&str>) -> aws_config::SdkConfig {
    let mut loader =
        aws_config::defaults(aws_config::BehaviorVersion::latest()).retry_config(retry_config()).timeout_config(timeout_config());
    if let Some(endpoint) = endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    loader.load().await
}

/// A configuration for an emulator on `endpoint`: fixed test credentials, region `us-east-1`,
/// and the same retries and timeouts as on AWS.
pub async fn emulator_config(endpoint: &str) -> aws_config::SdkConfig {
    let credentials = aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "emulator");
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(credentials)
        .retry_config(retry_config())
        .timeout_config(timeout_config())
        .load()
        .await
}
