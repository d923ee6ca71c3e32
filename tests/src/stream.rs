//! The Lambda poller of the table's stream, emulated (moto keeps the stream but runs no
//! triggers): reads each shard past where it last stopped, keeps what the event source
//! mappings' filters in `template.yaml` let through (inserted `EVT#` items; inserted or modified
//! `DLV#` items), and shapes it as the DynamoDB stream events Lambda hands to `ingest`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_dynamodbstreams::types::{AttributeValue, OperationType, Record, ShardIteratorType};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hookline_core::adapters::aws::sample_of_image;
use hookline_core::domain::metrics::Sample;
use serde_json::{Map, Value, json};
use tokio::sync::Mutex;

use crate::emulator::Emulator;

/// How many records one invocation of each event source mapping gets (the template's
/// `BatchSize`): inserted events (`Recorded`) and written deliveries (`Attempted`).
pub const BATCH_SIZE: usize = 100;
pub const ATTEMPTED_BATCH_SIZE: usize = 1_000;
/// How long the `Attempted` mapping gathers records before it invokes with fewer than a batch
/// (the template's `MaximumBatchingWindowInSeconds`).
pub const ATTEMPTED_WINDOW: Duration = Duration::from_secs(10);

pub struct StreamPoller {
    client: aws_sdk_dynamodbstreams::Client,
    stream_arn: String,
    /// The last sequence number read, per shard.
    read_up_to: Mutex<HashMap<String, String>>,
    /// Delivery writes the `Attempted` mapping is gathering, and since when.
    gathering: Mutex<(Vec<Value>, Option<Instant>)>,
}

impl StreamPoller {
    /// The poller of `table`'s stream.
    pub async fn of(emulator: &Emulator, table: &str) -> Self {
        let described = emulator.dynamodb.describe_table().table_name(table).send().await.expect("the table can be described");
        let stream_arn = described.table().and_then(|t| t.latest_stream_arn()).expect("the table has a stream").to_owned();
        Self { client: emulator.streams.clone(), stream_arn, read_up_to: Mutex::new(HashMap::new()), gathering: Mutex::default() }
    }

    /// The stream events for what was written since the last call, filtered and batched as
    /// each event source mapping does: inserted events at once, delivery writes once a batch
    /// is full or its window has passed.
    pub async fn take(&self) -> Vec<Value> {
        self.take_gathered(false).await
    }

    /// `take`, with the delivery writes still gathering handed over too (the window cut short),
    /// as a test does before it reads the metrics.
    pub async fn take_all(&self) -> Vec<Value> {
        self.take_gathered(true).await
    }

    async fn take_gathered(&self, cut_short: bool) -> Vec<Value> {
        let records = self.new_records().await;
        let passed = |filter: fn(&Record) -> bool| records.iter().filter(|r| filter(r)).map(|r| self.lambda_record(r)).collect::<Vec<_>>();
        let batched = |records: &[Value], size: usize| records.chunks(size).map(|chunk| json!({ "Records": chunk })).collect::<Vec<_>>();
        let mut batches = batched(&passed(recorded), BATCH_SIZE);
        let mut gathering = self.gathering.lock().await;
        let (gathered, since) = &mut *gathering;
        gathered.extend(passed(attempted));
        if gathered.is_empty() {
            return batches;
        }
        let started = *since.get_or_insert_with(Instant::now);
        if cut_short || gathered.len() >= ATTEMPTED_BATCH_SIZE || started.elapsed() >= ATTEMPTED_WINDOW {
            batches.extend(batched(&std::mem::take(gathered), ATTEMPTED_BATCH_SIZE));
            *since = None;
        }
        batches
    }

    /// The samples of the attempts written since the last call, as `ingest` reads them from
    /// the stream's delivery records (for tests of the adapters alone).
    pub async fn take_samples(&self) -> Vec<Sample> {
        let batches = self.take_all().await;
        let images = batches.iter().flat_map(|batch| batch["Records"].as_array().cloned().unwrap_or_default());
        images
            .filter_map(|record| record["dynamodb"]["NewImage"].as_object().cloned())
            .filter_map(|image| sample_of_image(&image).expect("a delivery's image reads back"))
            .collect()
    }

    async fn new_records(&self) -> Vec<Record> {
        let mut read_up_to = self.read_up_to.lock().await;
        let described = self.client.describe_stream().stream_arn(&self.stream_arn).send().await.expect("the stream can be described");
        let shards: Vec<String> = described
            .stream_description()
            .map(|d| d.shards().iter().filter_map(|s| s.shard_id().map(str::to_owned)).collect())
            .unwrap_or_default();
        let mut records = Vec::new();
        for shard in shards {
            let iterator = self.client.get_shard_iterator().stream_arn(&self.stream_arn).shard_id(&shard);
            let iterator = match read_up_to.get(&shard) {
                Some(sequence) => iterator.shard_iterator_type(ShardIteratorType::AfterSequenceNumber).sequence_number(sequence),
                None => iterator.shard_iterator_type(ShardIteratorType::TrimHorizon),
            };
            let mut next = iterator.send().await.expect("a shard iterator").shard_iterator().map(str::to_owned);
            while let Some(position) = next {
                let page = self.client.get_records().shard_iterator(position).send().await.expect("the stream's records");
                if page.records().is_empty() {
                    break;
                }
                if let Some(last) = page.records().last().and_then(|r| r.dynamodb()).and_then(|d| d.sequence_number()) {
                    read_up_to.insert(shard.clone(), last.to_owned());
                }
                records.extend(page.records().iter().cloned());
                next = page.next_shard_iterator().map(str::to_owned);
            }
        }
        records
    }

    fn lambda_record(&self, record: &Record) -> Value {
        let change = record.dynamodb();
        let image = |attributes: Option<&HashMap<String, AttributeValue>>| attributes.map(as_json);
        json!({
            "eventID": record.event_id(),
            "eventName": record.event_name().map(OperationType::as_str),
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1",
            "dynamodb": {
                "Keys": image(change.and_then(|c| c.keys())),
                "NewImage": image(change.and_then(|c| c.new_image())),
                "SequenceNumber": change.and_then(|c| c.sequence_number()),
                "SizeBytes": change.and_then(|c| c.size_bytes()),
                "StreamViewType": "NEW_IMAGE",
            },
            "eventSourceARN": self.stream_arn,
        })
    }
}

/// The template's filter: `{"eventName": ["INSERT"], "dynamodb": {"Keys": {"PK": {"S": [{"prefix": "EVT#"}]}}}}`.
/// The `Recorded` mapping's filter: inserted events.
fn recorded(record: &Record) -> bool {
    record.event_name() == Some(&OperationType::Insert) && key_starts(record, "EVT#")
}

/// The `Attempted` mapping's filter: deliveries inserted or modified.
fn attempted(record: &Record) -> bool {
    matches!(record.event_name(), Some(OperationType::Insert | OperationType::Modify)) && key_starts(record, "DLV#")
}

fn key_starts(record: &Record, prefix: &str) -> bool {
    let key = record.dynamodb().and_then(|c| c.keys()).and_then(|k| k.get("PK")).and_then(|pk| pk.as_s().ok());
    key.is_some_and(|pk| pk.starts_with(prefix))
}

/// Attributes in DynamoDB's JSON, as stream events carry them.
fn as_json(attributes: &HashMap<String, AttributeValue>) -> Value {
    Value::Object(attributes.iter().map(|(name, value)| (name.clone(), attribute(value))).collect::<Map<_, _>>())
}

fn attribute(value: &AttributeValue) -> Value {
    let encoded = |blob: &aws_sdk_dynamodbstreams::primitives::Blob| STANDARD.encode(blob.as_ref());
    match value {
        AttributeValue::S(text) => json!({ "S": text }),
        AttributeValue::N(number) => json!({ "N": number }),
        AttributeValue::B(blob) => json!({ "B": encoded(blob) }),
        AttributeValue::Bool(flag) => json!({ "BOOL": flag }),
        AttributeValue::Null(_) => json!({ "NULL": true }),
        AttributeValue::Ss(texts) => json!({ "SS": texts }),
        AttributeValue::Ns(numbers) => json!({ "NS": numbers }),
        AttributeValue::Bs(blobs) => json!({ "BS": blobs.iter().map(encoded).collect::<Vec<_>>() }),
        AttributeValue::L(list) => json!({ "L": list.iter().map(attribute).collect::<Vec<_>>() }),
        AttributeValue::M(map) => json!({ "M": as_json(map) }),
        _ => Value::Null,
    }
}
