//! What `deliver`'s batch size costs: the same deliveries handed to `deliver` in batches of 1 to
//! 100 (as Lambda's SQS poller gathers them: `ReceiveMessage` ten at a time, then one
//! `DeleteMessageBatch` per ten finished), to one webhook answering in 50 ms, to one that also
//! answers every 50th request after 3 s (a slow tail), and to ten webhooks answering in 50 ms
//! (where a batch's metrics rollups grow with the webhooks it touches). Each invocation's
//! wall-clock time is what Lambda bills; the table prints it, the DynamoDB write units the
//! deliveries took (attempts and rollups), and the dollars per million deliveries they make.
//! On moto every DynamoDB call of a batch queues on one Python process, so the overhead of
//! large batches is measured high: an upper bound.

use std::time::{Duration, Instant};

use aws_sdk_sqs::types::{Message, MessageSystemAttributeName};
use hookline_core::adapters::aws::CountRequests;
use hookline_lambda::deliver;
use hookline_tests::TestReceiver;
use hookline_tests::emulator::Emulator;
use hookline_tests::functions::{Functions, spawn_functions_with, sqs_event};

use crate::bill::{self, TableState};
use crate::prices;
use crate::workloads::{publish_in_batches, request, subscribe};

/// The batch sizes compared (Lambda allows 1 to 10,000 for a standard queue).
pub const SIZES: [usize; 5] = [1, 10, 25, 50, 100];

/// Who receives the deliveries.
struct Receivers {
    name: &'static str,
    webhooks: usize,
    latency: Duration,
    /// Every how many requests one is answered after 3 s instead.
    slow_every: Option<usize>,
}

const RECEIVERS: [Receivers; 3] = [
    Receivers { name: "1 webhook, 50 ms", webhooks: 1, latency: Duration::from_millis(50), slow_every: None },
    Receivers { name: "1 webhook, 50 ms, every 50th 3 s", webhooks: 1, latency: Duration::from_millis(50), slow_every: Some(50) },
    Receivers { name: "10 webhooks, 50 ms", webhooks: 10, latency: Duration::from_millis(50), slow_every: None },
];

/// One batch size against one receiver.
pub struct BatchCost {
    pub receiver: &'static str,
    pub size: usize,
    pub deliveries: usize,
    pub invocations: usize,
    /// Wall-clock seconds of all the invocations together.
    pub billed_seconds: f64,
    pub receives: usize,
    pub deletes: usize,
    /// DynamoDB write units of the deliveries (attempts and rollups).
    pub write_units: f64,
}

impl BatchCost {
    fn per_delivery(&self, count: f64) -> f64 {
        count / self.deliveries.max(1) as f64
    }

    /// Lambda (invocations and GB-seconds) and the poller's SQS requests, per million deliveries.
    fn dollars(&self) -> f64 {
        let lambda =
            self.invocations as f64 * prices::LAMBDA_INVOCATION + self.billed_seconds * prices::FUNCTION_GB * prices::LAMBDA_GB_SECOND;
        let sqs = (self.receives + self.deletes) as f64 * prices::SQS_REQUEST;
        let dynamodb = self.write_units * prices::DYNAMODB_WRITE_UNIT;
        1e6 * self.per_delivery(lambda + sqs + dynamodb)
    }

    pub fn row(&self) -> String {
        format!(
            "| {} | {} | {:.1} | {:.0} ms | {:.1} ms | {:.2} | {:.2} | ${:.2} |",
            self.receiver,
            self.size,
            self.deliveries as f64 / self.invocations.max(1) as f64,
            1e3 * self.billed_seconds / self.invocations.max(1) as f64,
            1e3 * self.per_delivery(self.billed_seconds),
            self.per_delivery((self.receives + self.deletes) as f64),
            self.per_delivery(self.write_units),
            self.dollars()
        )
    }
}

/// Every batch size against every receiver, `deliveries` deliveries each.
pub async fn compare(endpoint: &str, deliveries: usize) -> Vec<BatchCost> {
    let mut costs = Vec::new();
    for receivers in &RECEIVERS {
        for size in SIZES {
            costs.push(measure(endpoint, receivers, size, deliveries).await);
        }
    }
    costs
}

async fn measure(endpoint: &str, receivers: &Receivers, size: usize, deliveries: usize) -> BatchCost {
    let counter = CountRequests::default();
    let functions = spawn_functions_with(Emulator::connect_to(endpoint, Some(counter.clone())).await, 3, "1").await;
    let receiver = TestReceiver::start().await;
    receiver.delay_all(receivers.latency);
    if let Some(n) = receivers.slow_every {
        receiver.every(n, 200, Duration::from_secs(3));
    }
    for _ in 0..receivers.webhooks {
        subscribe(&functions, &receiver.url, &["invoice.*"]).await;
    }
    let events = deliveries.div_ceil(receivers.webhooks);
    let deliveries = events * receivers.webhooks;
    let requests: Vec<_> = (0..events).map(|n| request("invoice.paid", &format!("evt_batch_{size}_{n}"))).collect();
    publish_in_batches(&functions, &requests).await;
    let mut fanned_out = 0;
    while fanned_out < events {
        fanned_out += functions.fan_out().await;
    }
    counter.0.reset();
    let mut cost = BatchCost {
        receiver: receivers.name,
        size,
        deliveries,
        invocations: 0,
        billed_seconds: 0.0,
        receives: 0,
        deletes: 0,
        write_units: 0.0,
    };
    let deadline = Instant::now() + Duration::from_secs(600);
    while receiver.received().len() < deliveries {
        assert!(Instant::now() < deadline, "deliveries did not finish");
        let (messages, receives) = gather(&functions, size).await;
        cost.receives += receives;
        if messages.is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        }
        let started = Instant::now();
        let response = deliver::handle(&functions.deliver_function, sqs_event(&messages)).await;
        cost.billed_seconds += started.elapsed().as_secs_f64();
        cost.invocations += 1;
        for chunk in messages.chunks(10) {
            functions.acknowledge(chunk, &response).await;
            cost.deletes += 1;
        }
    }
    let state = TableState::read(&functions.emulator.dynamodb, &functions.table).await;
    cost.write_units = bill::total(&state, &counter.0.dynamodb_requests()).0.write;
    cost
}

/// Up to `size` messages, received ten at a time as Lambda's poller does, and the receives that
/// returned some (the poller's empty long polls are left out).
async fn gather(functions: &Functions, size: usize) -> (Vec<Message>, usize) {
    let (mut messages, mut receives) = (Vec::new(), 0);
    while messages.len() < size {
        let output = functions
            .emulator
            .sqs
            .receive_message()
            .queue_url(&functions.queues.queue_url)
            .max_number_of_messages(i32::try_from((size - messages.len()).min(10)).unwrap_or(10))
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .unwrap();
        let received = output.messages.unwrap_or_default();
        if received.is_empty() {
            break;
        }
        receives += 1;
        messages.extend(received);
    }
    (messages, receives)
}
