//! The Lambda handlers over the emulator, driven the way AWS drives them: API Gateway events
//! through the router, ingest events through `ingest::handle`, and the delivery queue drained
//! like the Lambda SQS poller does (receive a batch, invoke, delete what was not reported as a
//! failure, leave the failures).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use clap::Parser;
use hookline_core::adapters::aws::Queues;
use hookline_core::adapters::resolver::SystemResolver;
use hookline_lambda::emf::MetricsLog;
use hookline_lambda::{Function, FunctionArgs, deliver, http, ingest, maintain, wire_with_clients};
use serde_json::{Value, json};

use crate::emulator::Emulator;
use crate::faults::FaultLayer;
use crate::iam::RecordCalls;
use crate::stream::StreamPoller;

/// The local development key the sample events' token is signed with (README).
pub const DEV_AUTH_KEY: &[u8] = b"hookline local development key -- never deploy it";

pub fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().unwrap().join("events")
}

/// A sample event file, with `replacements` applied to its text (and to a base64 body's).
pub fn sample_event(name: &str, replacements: &[(&str, &str)]) -> Value {
    let replace = |mut text: String| {
        for (from, to) in replacements {
            text = text.replace(from, to);
        }
        text
    };
    let mut event: Value =
        serde_json::from_str(&replace(std::fs::read_to_string(events_dir().join(format!("{name}.json"))).unwrap())).unwrap();
    if event["isBase64Encoded"] == true {
        let body = String::from_utf8(STANDARD.decode(event["body"].as_str().unwrap()).unwrap()).unwrap();
        event["body"] = json!(STANDARD.encode(replace(body)));
    }
    event
}

/// The four functions over one table and queue pair, each wired on its own cold start with
/// its own SDK clients, so the calls each one makes are recorded under its name (`iam`).
pub struct Functions {
    pub api_function: Arc<Function>,
    pub ingest_function: Arc<Function>,
    pub deliver_function: Arc<Function>,
    pub maintain_function: Arc<Function>,
    pub emulator: Emulator,
    pub queues: Queues,
    pub table: String,
    /// The table's stream, read as Lambda's poller would for `ingest`'s fan-out.
    pub stream: StreamPoller,
    /// How many times `fan_out` invoked `ingest`.
    pub fan_out_invocations: AtomicU64,
    args: Box<FunctionArgs>,
    /// Physical resource names → the template's logical ids.
    resources: HashMap<String, String>,
}

/// The delivery queue's settings: how long a received task stays invisible, and after how
/// many receives the queue itself dead-letters it.
#[derive(Debug, Clone, Copy)]
pub struct QueueSettings {
    pub visibility: Duration,
    pub max_receives: u32,
}

impl Default for QueueSettings {
    fn default() -> Self {
        Self { visibility: Duration::from_secs(30), max_receives: 10 }
    }
}

/// The functions over a fresh table and queues: loopback deliveries allowed, retries after
/// `schedule` seconds, `max_attempts` attempts.
pub async fn spawn_functions(max_attempts: u32, schedule: &str) -> Functions {
    spawn_functions_with(Emulator::connect().await, max_attempts, schedule).await
}

/// `spawn_functions` with more settings, as the functions' flags (`--failing-after 3`, …).
pub async fn spawn_functions_tuned(max_attempts: u32, schedule: &str, more: &[&str]) -> Functions {
    spawn_functions_over(Emulator::connect().await, max_attempts, schedule, more, QueueSettings::default()).await
}

/// `spawn_functions` over the given clients (the benchmark's count their requests).
pub async fn spawn_functions_with(emulator: Emulator, max_attempts: u32, schedule: &str) -> Functions {
    spawn_functions_over(emulator, max_attempts, schedule, &[], QueueSettings::default()).await
}

/// `spawn_functions_tuned` over a delivery queue with the given settings.
pub async fn spawn_functions_over(emulator: Emulator, max_attempts: u32, schedule: &str, more: &[&str], queue: QueueSettings) -> Functions {
    let table = emulator.fresh_table().await;
    let queues = emulator.fresh_queues(queue.visibility, queue.max_receives).await;
    let args = function_args(&table, &queues, max_attempts, schedule, more);
    let resources: HashMap<String, String> =
        [(table.clone(), "Table"), (queues.queue_url.clone(), "DeliveryQueue"), (queues.dlq_url.clone(), "DeliveryDeadLetterQueue")]
            .into_iter()
            .map(|(physical, logical)| (physical, logical.to_owned()))
            .collect();
    let start = |name| cold_start(&emulator, &args, &resources, name, None);
    let (api_function, ingest_function) = (start("api").await, start("ingest").await);
    let (deliver_function, maintain_function) = (start("deliver").await, start("maintain").await);
    let stream = StreamPoller::of(&emulator, &table).await;
    Functions {
        api_function,
        ingest_function,
        deliver_function,
        maintain_function,
        emulator,
        queues,
        table,
        stream,
        fan_out_invocations: AtomicU64::new(0),
        args: Box::new(args),
        resources,
    }
}

/// One cold start of the function `name`: its own SDK clients, recorded for IAM, behind
/// `faults` when given.
async fn cold_start(
    emulator: &Emulator,
    args: &FunctionArgs,
    resources: &HashMap<String, String>,
    name: &'static str,
    faults: Option<&FaultLayer>,
) -> Arc<Function> {
    let recorder = RecordCalls::new(name, resources.clone());
    let (dynamodb_config, sqs_config) = (emulator.dynamodb.config(), emulator.sqs.config());
    let mut dynamodb = dynamodb_config.to_builder().interceptor(recorder.clone());
    let mut sqs = sqs_config.to_builder().interceptor(recorder);
    if let Some(layer) = faults {
        dynamodb.set_http_client(Some(layer.wrap(dynamodb_config.http_client())));
        sqs.set_http_client(Some(layer.wrap(sqs_config.http_client())));
    }
    let clients = (aws_sdk_dynamodb::Client::from_conf(dynamodb.build()), aws_sdk_sqs::Client::from_conf(sqs.build()));
    let args = FunctionArgs { function_name: Some(format!("hookline-test-{name}")), ..args.clone() };
    let mut function = wire_with_clients(&args, clients, Arc::new(SystemResolver)).await.unwrap();
    // Tests read the EMF documents the handlers write.
    function.metrics_log = MetricsLog::kept();
    Arc::new(function)
}

fn function_args(table: &str, queues: &Queues, max_attempts: u32, schedule: &str, more: &[&str]) -> FunctionArgs {
    let (auth_key, secret_key) = (STANDARD.encode(DEV_AUTH_KEY), STANDARD.encode([7u8; 32]));
    let attempts = max_attempts.to_string();
    let base = [
        "functions",
        "--table",
        table,
        "--queue-url",
        &queues.queue_url,
        "--dlq-url",
        &queues.dlq_url,
        "--auth-key",
        &auth_key,
        "--secret-key",
        &secret_key,
        "--allow-http",
        "--allow-net",
        "127.0.0.0/8",
        "--max-attempts",
        &attempts,
        "--retry-schedule",
        schedule,
        "--management-rate",
        "100000",
        "--management-burst",
        "100000",
    ];
    // Five seconds for a receiver to answer, unless the test says otherwise.
    let timeout: &[&str] = if more.contains(&"--request-timeout") { &[] } else { &["--request-timeout", "5"] };
    FunctionArgs::try_parse_from(base.iter().chain(timeout).chain(more)).unwrap()
}

/// What one poll of the delivery queue did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Poll {
    pub received: usize,
    pub failed: usize,
}

impl Functions {
    /// Another cold start of the function `name` (a second container), behind `faults` when given.
    pub async fn cold_start(&self, name: &'static str, faults: Option<&FaultLayer>) -> Arc<Function> {
        cold_start(&self.emulator, &self.args, &self.resources, name, faults).await
    }

    /// An API Gateway request answered through the router: (status, JSON body).
    pub async fn api(&self, event: Value) -> (u16, Value) {
        let request: ApiGatewayV2httpRequest = serde_json::from_value(event).unwrap();
        let response = http::serve(self.api_function.router(), request).await;
        let body = match response.body {
            Some(aws_lambda_events::encodings::Body::Text(text)) => serde_json::from_str(&text).unwrap_or(Value::String(text)),
            _ => Value::Null,
        };
        (u16::try_from(response.status_code).unwrap(), body)
    }

    /// A request shaped like `events/api-health.json` for any route.
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut event = sample_event("api-health", &[]);
        event["rawPath"] = json!(path);
        event["requestContext"]["http"]["method"] = json!(method);
        event["requestContext"]["http"]["path"] = json!(path);
        if let Some(body) = body {
            event["body"] = json!(body.to_string());
            event["headers"]["content-type"] = json!("application/json");
        }
        self.api(event).await
    }

    /// One scheduled run of the `maintain` function, with the sample schedule event.
    pub async fn maintain(&self) -> Value {
        let done = maintain::handle(&self.maintain_function, sample_event("maintain-schedule", &[])).await.unwrap();
        serde_json::to_value(done).unwrap()
    }

    pub async fn ingest(&self, event: Value) -> Value {
        ingest::handle(&self.ingest_function, event).await.unwrap()
    }

    /// One round of the stream's poller: what was recorded since the last round, handed to
    /// `ingest` to fan out as Lambda would; returns how many events were fanned out.
    pub async fn fan_out(&self) -> usize {
        self.hand_over(self.stream.take().await).await
    }

    /// `fan_out`, with the delivery writes the stream's second mapping is still gathering
    /// handed over too: what a test runs before it reads the metrics (counted from them).
    pub async fn count_attempts(&self) -> usize {
        self.hand_over(self.stream.take_all().await).await
    }

    async fn hand_over(&self, batches: Vec<Value>) -> usize {
        let mut events = 0;
        for batch in batches {
            self.fan_out_invocations.fetch_add(1, Ordering::Relaxed);
            let answer = ingest::handle(&self.ingest_function, batch).await.unwrap();
            events += answer["events"].as_u64().unwrap_or(0) as usize;
        }
        events
    }

    /// One round of the Lambda pollers: the stream's (`fan_out`), then the delivery queue's:
    /// receive up to ten, invoke, delete the successes.
    pub async fn poll(&self) -> Poll {
        self.poll_by(&self.deliver_function, 10).await
    }

    /// `poll` with another instance of `deliver` (one with faults), taking up to `max` messages.
    pub async fn poll_by(&self, deliver_function: &Function, max: i32) -> Poll {
        self.fan_out().await;
        let output = self
            .emulator
            .sqs
            .receive_message()
            .queue_url(&self.queues.queue_url)
            .max_number_of_messages(max)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .unwrap();
        if output.messages().is_empty() {
            return Poll::default();
        }
        let event = sqs_event(output.messages());
        let response = deliver::handle(deliver_function, event).await;
        let failed = self.acknowledge(output.messages(), &response).await;
        Poll { received: output.messages().len(), failed }
    }

    /// What the Lambda poller does with a batch's response: one `DeleteMessageBatch` for the
    /// messages not reported as failures. Returns how many were reported.
    pub async fn acknowledge(&self, messages: &[aws_sdk_sqs::types::Message], response: &SqsBatchResponse) -> usize {
        let failed: Vec<&str> = response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
        let finished: Vec<DeleteMessageBatchRequestEntry> = messages
            .iter()
            .filter(|m| !failed.contains(&m.message_id().unwrap_or_default()))
            .enumerate()
            .map(|(index, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(index.to_string())
                    .receipt_handle(m.receipt_handle().unwrap_or_default())
                    .build()
                    .unwrap()
            })
            .collect();
        if !finished.is_empty() {
            let sqs = &self.emulator.sqs;
            sqs.delete_message_batch().queue_url(&self.queues.queue_url).set_entries(Some(finished)).send().await.unwrap();
        }
        failed.len()
    }

    /// Polls until a batch arrives (a retry's visibility delay is jittered), for at most `limit`.
    pub async fn poll_when_due(&self, limit: Duration) -> Poll {
        crate::eventually("a delivery task to become visible", limit, || async {
            let poll = self.poll().await;
            (poll.received > 0).then_some(poll)
        })
        .await
    }

    /// Message bodies waiting in the DLQ (received, so invisible for a while afterwards).
    pub async fn dead_letters(&self) -> Vec<String> {
        self.dead_letters_with_reasons().await.into_iter().map(|(body, _)| body).collect()
    }

    /// Messages waiting in the DLQ with their `reason` attribute (received, as above).
    pub async fn dead_letters_with_reasons(&self) -> Vec<(String, String)> {
        let receive = self.emulator.sqs.receive_message().queue_url(&self.queues.dlq_url).max_number_of_messages(10);
        let output = receive.message_attribute_names("All").send().await.unwrap();
        let reason = |m: &aws_sdk_sqs::types::Message| {
            m.message_attributes().and_then(|a| a.get("reason")).and_then(|r| r.string_value()).unwrap_or_default().to_owned()
        };
        output.messages().iter().map(|m| (m.body().unwrap_or_default().to_owned(), reason(m))).collect()
    }

    /// Messages visible in the delivery queue right now (without receiving them).
    pub async fn visible_tasks(&self) -> usize {
        let output = self
            .emulator
            .sqs
            .get_queue_attributes()
            .queue_url(&self.queues.queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .unwrap();
        let count = output.attributes().and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages));
        count.and_then(|c| c.parse().ok()).unwrap_or(0)
    }
}

/// The SQS event the Lambda poller makes of received `messages`.
pub fn sqs_event(messages: &[aws_sdk_sqs::types::Message]) -> SqsEvent {
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            let attributes: serde_json::Map<String, Value> =
                m.attributes().map(|a| a.iter().map(|(k, v)| (k.as_str().to_owned(), json!(v))).collect()).unwrap_or_default();
            json!({
                "messageId": m.message_id(), "receiptHandle": m.receipt_handle(), "body": m.body(), "attributes": attributes,
                "messageAttributes": {}, "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:deliveries",
                "awsRegion": "us-east-1"
            })
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).unwrap_or_default()
}
