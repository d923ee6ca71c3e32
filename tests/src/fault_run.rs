//! The AWS fault run: events published through `ingest` and delivered by two `deliver`
//! instances to receivers that succeed, fail and time out, while the fault layer (`faults`)
//! throttles, fails and loses the answers of AWS calls and kills invocations between sending an
//! attempt and recording it, and the emulated poller duplicates messages, re-sends them late and
//! loses batch responses (an invocation killed after recording, before answering); the
//! table's stream hands batches of recorded events to `ingest` to fan out, some twice, each
//! retried until it succeeds. Afterwards
//! every accepted event must be delivered or dead on every webhook, with one delivery record
//! each; receivers may see an event again, under the same `webhook-id`.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sqs::types::{Message, MessageSystemAttributeName, QueueAttributeName};
use hookline_lambda::{Function, deliver, ingest};
use rand::Rng;
use serde_json::{Value, json};

use crate::TestReceiver;
use crate::emulator::Emulator;
use crate::fault_report::{FaultReport, outcome};
use crate::faults::{FaultCounts, FaultLayer, FaultPlan};
use crate::functions::{Functions, QueueSettings, sample_event, spawn_functions_over, sqs_event};

/// How hard the run is.
#[derive(Debug, Clone, Copy)]
pub struct FaultRunSettings {
    pub events: usize,
    /// Events published a second at most (as fast as they are accepted when `None`): moto's
    /// SQS does work in proportion to the messages a queue holds on every call, so thousands
    /// published at once slow it quadratically while a steady rate keeps the queue short.
    pub rate: Option<u32>,
    /// Faults in `ingest`'s AWS calls.
    pub ingest: FaultPlan,
    /// Faults in `deliver`'s AWS calls, kills included.
    pub deliver: FaultPlan,
    /// Share of received messages the poller also sends again, 0 to 2 s later.
    pub duplicate: f64,
    /// Share of invocations whose batch response is lost.
    pub response_lost: f64,
    /// How long the run may take before it is reported unfinished.
    pub limit: Duration,
}

impl FaultRunSettings {
    pub fn standard(events: usize) -> Self {
        let calls = FaultPlan { throttled: 0.05, server_error: 0.03, answer_lost: 0.03, ..FaultPlan::default() };
        Self {
            events,
            rate: None,
            ingest: calls,
            deliver: FaultPlan { kill_before_record: 0.03, ..calls },
            duplicate: 0.05,
            response_lost: 0.03,
            // Moto slows as the table grows: half a second per event, ten minutes at least.
            limit: Duration::from_secs(600.max(events as u64 / 2)),
        }
    }
}

/// The subscribers: what each answers.
const RECEIVERS: [&str; 4] = ["steady", "flaky", "slow", "down"];

/// What the poller and publishers did, beside the fault layer's counts.
#[derive(Debug, Default)]
struct Tally {
    invocations: AtomicU64,
    responses_lost: AtomicU64,
    duplicated: AtomicU64,
    ingest_failures: AtomicU64,
    fan_out_failures: AtomicU64,
    stream_repeats: AtomicU64,
}

/// Runs it against the emulator the tests use.
pub async fn run(settings: FaultRunSettings) -> FaultReport {
    let queue = QueueSettings { visibility: Duration::from_secs(4), max_receives: 30 };
    let tuning = ["--request-timeout", "1", "--failing-after", "1000000"];
    let mut functions = spawn_functions_over(Emulator::connect().await, 3, "1", &tuning, queue).await;
    let counts = Arc::new(FaultCounts::default());
    functions.ingest_function = functions.cold_start("ingest", Some(&FaultLayer::new(settings.ingest, counts.clone()))).await;
    // Two containers of `deliver`, each with its own clients (and kill signal).
    let (first_layer, second_layer) =
        (FaultLayer::new(settings.deliver, counts.clone()), FaultLayer::new(settings.deliver, counts.clone()));
    let first_function = functions.cold_start("deliver", Some(&first_layer)).await;
    let second_function = functions.cold_start("deliver", Some(&second_layer)).await;
    let receivers = start_receivers().await;
    let mut webhooks = Vec::new();
    for (name, receiver) in RECEIVERS.iter().zip(&receivers) {
        let body = json!({"name": name, "url": receiver.url, "events": ["customer.*", "invoice.*"]});
        let (status, created) = functions.call("POST", "/api/v1/webhooks", Some(body)).await;
        assert_eq!(status, 201, "{created}");
        webhooks.push((*name, created["id"].as_str().unwrap_or_default().to_owned(), receiver.clone()));
    }

    let started = Instant::now();
    let (tally, publishing) = (Arc::new(Tally::default()), Arc::new(AtomicBool::new(true)));
    let publisher = async {
        let published = AtomicBool::new(false);
        let publish = async {
            let accepted = publish_all(&functions, &settings, &tally).await;
            published.store(true, Ordering::Relaxed);
            accepted
        };
        let (accepted, ()) = tokio::join!(Box::pin(publish), Box::pin(fan_out_stream(&functions, &settings, &tally, &published)));
        publishing.store(false, Ordering::Relaxed);
        accepted
    };
    let (accepted, first, second) = tokio::join!(
        publisher,
        consume(&functions, &first_function, &first_layer, &settings, &tally, &publishing, started),
        consume(&functions, &second_function, &second_layer, &settings, &tally, &publishing, started),
    );
    let drained = [first, second];
    let mut report = FaultReport {
        accepted: accepted.len(),
        elapsed: started.elapsed(),
        unfinished: drained.iter().any(|done| !done),
        calls: FaultCounts::get(&counts.calls),
        throttled: FaultCounts::get(&counts.throttled),
        server_errors: FaultCounts::get(&counts.server_errors),
        answers_lost: FaultCounts::get(&counts.answers_lost),
        killed_before_record: FaultCounts::get(&counts.kills),
        responses_lost: tally.responses_lost.load(Ordering::Relaxed),
        duplicated: tally.duplicated.load(Ordering::Relaxed),
        invocations: tally.invocations.load(Ordering::Relaxed),
        ingest_failures: tally.ingest_failures.load(Ordering::Relaxed),
        fan_out_failures: tally.fan_out_failures.load(Ordering::Relaxed),
        stream_repeats: tally.stream_repeats.load(Ordering::Relaxed),
        ..FaultReport::default()
    };
    let stored = stored_deliveries(&functions).await;
    let records_of = |webhook: &str| stored.get(webhook).map(Vec::as_slice).unwrap_or_default();
    for (name, id, receiver) in &webhooks {
        report.webhooks.insert(name, outcome(&accepted, records_of(id), receiver));
    }
    let steady = &webhooks[0];
    let received: BTreeSet<String> =
        steady.2.received().iter().filter(|r| r.status == 200).map(|r| r.header("webhook-id").to_owned()).collect();
    let steady_records = records_of(&steady.1);
    let succeeded: BTreeSet<&str> =
        steady_records.iter().filter(|d| d["status"] == "succeeded").filter_map(|d| d["event_id"].as_str()).collect();
    report.lost = accepted.iter().filter(|id| !received.contains(*id) || !succeeded.contains(id.as_str())).count();
    report
}

async fn start_receivers() -> Vec<TestReceiver> {
    let (steady, flaky, slow, down) =
        (TestReceiver::start().await, TestReceiver::start().await, TestReceiver::start().await, TestReceiver::start().await);
    flaky.every(3, 503, Duration::ZERO);
    // Longer than the 1 s the functions wait for an answer: a timeout.
    slow.every(4, 200, Duration::from_millis(1_500));
    down.always(500);
    vec![steady, flaky, slow, down]
}

/// Publishes `count` events, half from EventBridge one at a time and half from an inbound SQS
/// queue ten to a batch, each retried until accepted as its source would; returns their ids.
async fn publish_all(functions: &Functions, settings: &FaultRunSettings, tally: &Tally) -> BTreeSet<String> {
    let (count, started) = (settings.events, Instant::now());
    let mut accepted = BTreeSet::new();
    let run = crate::emulator::unique_name("fr");
    let (eventbridge, queued) = (count / 2, count - count / 2);
    for n in 0..eventbridge {
        keep_pace(started, accepted.len(), settings.rate).await;
        let id = format!("{run}-eb-{n}");
        let mut event = sample_event("ingest-eventbridge", &[]);
        event["id"] = json!(id);
        event["detail-type"] = json!("customer.created");
        event["detail"] = catalog_example("customer.created");
        while ingest::handle(&functions.ingest_function, event.clone()).await.is_err() {
            tally.ingest_failures.fetch_add(1, Ordering::Relaxed);
        }
        accepted.insert(format!("evt_{id}"));
    }
    let ids: Vec<String> = (0..queued).map(|n| format!("evt_{run}-sqs-{n}")).collect();
    for batch in ids.chunks(10) {
        keep_pace(started, accepted.len(), settings.rate).await;
        let mut pending: Vec<&String> = batch.iter().collect();
        while !pending.is_empty() {
            let records: Vec<Value> = pending.iter().map(|id| inbound_record(id)).collect();
            let answer = ingest::handle(&functions.ingest_function, json!({ "Records": records })).await;
            let failed: BTreeSet<String> = match &answer {
                Ok(response) => response["batchItemFailures"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|f| f["itemIdentifier"].as_str().map(str::to_owned))
                    .collect(),
                Err(_) => pending.iter().map(|id| id.to_string()).collect(),
            };
            if !failed.is_empty() {
                tally.ingest_failures.fetch_add(1, Ordering::Relaxed);
            }
            pending.retain(|id| failed.contains(id.as_str()));
        }
        accepted.extend(batch.iter().cloned());
    }
    accepted
}

/// Waits until `published` events are due at `rate` a second from `started`.
async fn keep_pace(started: Instant, published: usize, rate: Option<u32>) {
    if let Some(rate) = rate.filter(|rate| *rate > 0) {
        tokio::time::sleep_until((started + Duration::from_secs_f64(published as f64 / f64::from(rate))).into()).await;
    }
}

/// The stream's poller over `ingest` (with its faults) until publishing is over and the stream
/// holds nothing more: each batch is invoked until it succeeds, as Lambda retries a stream
/// batch, and a share of the batches is handed over twice (at-least-once).
async fn fan_out_stream(functions: &Functions, settings: &FaultRunSettings, tally: &Tally, published: &AtomicBool) {
    loop {
        // Read before taking: whatever was recorded before publishing ended is in this take.
        let finished = published.load(Ordering::Relaxed);
        let batches = functions.stream.take().await;
        for batch in &batches {
            let twice = rand::rng().random_bool(settings.duplicate);
            tally.stream_repeats.fetch_add(u64::from(twice), Ordering::Relaxed);
            for _ in 0..=usize::from(twice) {
                while ingest::handle(&functions.ingest_function, batch.clone()).await.is_err() {
                    tally.fan_out_failures.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        if batches.is_empty() {
            if finished {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn catalog_example(event_type: &str) -> Value {
    hookline_core::domain::catalog::find(event_type).map(|t| t.example.clone()).unwrap_or(Value::Null)
}

/// An inbound queue record publishing `invoice.paid` with the event id `id` (also its message id).
fn inbound_record(id: &str) -> Value {
    let body = json!({"id": id, "event_type": "invoice.paid", "data": catalog_example("invoice.paid")});
    json!({
        "messageId": id, "receiptHandle": format!("receipt-{id}"), "body": body.to_string(),
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1773342238000"},
        "messageAttributes": {}, "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:hookline-inbound",
        "awsRegion": "us-east-1"
    })
}

/// One emulated Lambda poller over one `deliver` instance, until publishing is over and the
/// queue stays empty; false when `limit` passed first.
async fn consume(
    functions: &Functions,
    function: &Function,
    layer: &FaultLayer,
    settings: &FaultRunSettings,
    tally: &Tally,
    publishing: &AtomicBool,
    started: Instant,
) -> bool {
    let mut idle_since: Option<Instant> = None;
    while started.elapsed() < settings.limit {
        let messages = receive(functions).await;
        if messages.is_empty() {
            if publishing.load(Ordering::Relaxed) || queue_holds_any(functions).await {
                idle_since = None;
            } else if idle_since.get_or_insert_with(Instant::now).elapsed() > Duration::from_secs(2) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        idle_since = None;
        duplicate_some(functions, &messages, settings.duplicate, tally).await;
        invoke(functions, function, layer, &messages, settings.response_lost, tally).await;
    }
    false
}

async fn receive(functions: &Functions) -> Vec<Message> {
    let sqs = &functions.emulator.sqs;
    let output = sqs
        .receive_message()
        .queue_url(&functions.queues.queue_url)
        .max_number_of_messages(10)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .send()
        .await;
    output.map(|o| o.messages.unwrap_or_default()).unwrap_or_default()
}

/// True while any task is visible, in flight or delayed.
async fn queue_holds_any(functions: &Functions) -> bool {
    let names = [
        QueueAttributeName::ApproximateNumberOfMessages,
        QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
        QueueAttributeName::ApproximateNumberOfMessagesDelayed,
    ];
    let request =
        functions.emulator.sqs.get_queue_attributes().queue_url(&functions.queues.queue_url).set_attribute_names(Some(names.to_vec()));
    let Ok(output) = request.send().await else { return true };
    output.attributes().is_some_and(|a| a.values().any(|count| count != "0"))
}

/// SQS's at-least-once delivery: a share of the messages come again, up to 2 s later.
async fn duplicate_some(functions: &Functions, messages: &[Message], share: f64, tally: &Tally) {
    for message in messages {
        let (again, delay) = {
            let mut rng = rand::rng();
            (rng.random_bool(share), rng.random_range(0..=2))
        };
        if again {
            let send = functions
                .emulator
                .sqs
                .send_message()
                .queue_url(&functions.queues.queue_url)
                .message_body(message.body().unwrap_or_default());
            if send.delay_seconds(delay).send().await.is_ok() {
                tally.duplicated.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// One invocation: killed when the layer says so (nothing deleted, as when Lambda times out),
/// its response lost for a share of them, otherwise the poller deletes what did not fail.
async fn invoke(functions: &Functions, function: &Function, layer: &FaultLayer, messages: &[Message], response_lost: f64, tally: &Tally) {
    tally.invocations.fetch_add(1, Ordering::Relaxed);
    let event = sqs_event(messages);
    let response = tokio::select! {
        response = deliver::handle(function, event) => response,
        // Counted by the layer, as `kills`.
        () = layer.killed() => return,
    };
    if rand::rng().random_bool(response_lost) {
        tally.responses_lost.fetch_add(1, Ordering::Relaxed);
        return;
    }
    functions.acknowledge(messages, &response).await;
}

/// Every delivery record in the table, by webhook, as `{event_id, status, attempts}`. Read with
/// a scan rather than through the API: moto answers an index query by going through every item
/// in Python (0.29 s per query at 40,000 items; the 32 shards of a webhook's listing, asked at
/// once, took 11.6 s, past the SDK's 5 s per attempt), so once a run passes about a thousand
/// events no listing page can be answered, while a scan reads each item once. It also sees every
/// record, whatever the listing would merge.
async fn stored_deliveries(functions: &Functions) -> HashMap<String, Vec<Value>> {
    let (mut by_webhook, mut start) = (HashMap::<String, Vec<Value>>::new(), None);
    loop {
        let page = functions
            .emulator
            .dynamodb
            .scan()
            .table_name(&functions.table)
            .filter_expression("begins_with(PK, :delivery)")
            .expression_attribute_values(":delivery", AttributeValue::S("DLV#".into()))
            .set_exclusive_start_key(start)
            .limit(1_000)
            .send()
            .await
            .expect("the table can be scanned");
        for item in page.items() {
            let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
            let attempts = item.get("attempts").and_then(|v| v.as_n().ok()).and_then(|n| n.parse::<u64>().ok());
            let record = json!({"event_id": text("event_id"), "status": text("status"), "attempts": attempts});
            by_webhook.entry(text("webhook_id")).or_default().push(record);
        }
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            return by_webhook;
        }
    }
}
