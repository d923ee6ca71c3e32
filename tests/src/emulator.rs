//! The AWS emulator (moto server) the test command starts: its endpoint, and fresh tables and
//! queues with unique names, so tests never share state and never need a reset.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use hookline_core::adapters::aws::{CountRequests, Queues, create_queues, create_table, emulator_config};

/// Set by `scripts/test.sh`, which starts moto on a free loopback port.
pub const ENDPOINT_VARIABLE: &str = "HOOKLINE_TEST_AWS_ENDPOINT";

/// Set by `scripts/aws-fault-run.sh`, which gives SQS a moto of its own; SQS uses the endpoint
/// above when it is not set.
pub const SQS_ENDPOINT_VARIABLE: &str = "HOOKLINE_TEST_SQS_ENDPOINT";

pub fn endpoint() -> String {
    std::env::var(ENDPOINT_VARIABLE)
        .unwrap_or_else(|_| panic!("{ENDPOINT_VARIABLE} is not set: run the tests with scripts/test.sh, which starts the AWS emulator"))
}

/// The SQS endpoint when it differs from the others.
fn sqs_endpoint() -> Option<String> {
    std::env::var(SQS_ENDPOINT_VARIABLE).ok().filter(|endpoint| !endpoint.is_empty())
}

/// A name no other test in any run uses.
pub fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("{prefix}-{}-{}-{nanos}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Clients for the emulator.
#[derive(Clone)]
pub struct Emulator {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    /// The tables' streams, which only the emulated Lambda poller reads.
    pub streams: aws_sdk_dynamodbstreams::Client,
}

impl Emulator {
    pub async fn connect() -> Self {
        Self::connect_to(&endpoint(), None).await
    }

    /// Clients for the emulator at `endpoint`, counting their requests when `counter` is given.
    /// SQS goes to `HOOKLINE_TEST_SQS_ENDPOINT` when it is set.
    pub async fn connect_to(endpoint: &str, counter: Option<CountRequests>) -> Self {
        let config = emulator_config(endpoint).await;
        let sqs_config = match sqs_endpoint() {
            Some(sqs_endpoint) => emulator_config(&sqs_endpoint).await,
            None => config.clone(),
        };
        let mut dynamodb = aws_sdk_dynamodb::config::Builder::from(&config);
        let mut sqs = aws_sdk_sqs::config::Builder::from(&sqs_config);
        if let Some(counter) = counter {
            dynamodb = dynamodb.interceptor(counter.clone());
            sqs = sqs.interceptor(counter);
        }
        Self {
            dynamodb: aws_sdk_dynamodb::Client::from_conf(dynamodb.build()),
            sqs: aws_sdk_sqs::Client::from_conf(sqs.build()),
            streams: aws_sdk_dynamodbstreams::Client::new(&config),
        }
    }

    /// A new table with Hookline's keys and indexes; returns its name.
    pub async fn fresh_table(&self) -> String {
        let name = unique_name("hookline");
        create_table(&self.dynamodb, &name).await.unwrap();
        name
    }

    /// A new delivery queue and DLQ; messages dead-letter after `max_receives` receives.
    pub async fn fresh_queues(&self, visibility: Duration, max_receives: u32) -> Queues {
        create_queues(&self.sqs, &unique_name("deliveries"), visibility, max_receives).await.unwrap()
    }
}
