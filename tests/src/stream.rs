//! The Lambda poller of the table's stream, emulated (moto keeps the stream but runs no
//! triggers): reads each shard past where it last stopped, keeps what the event source
//! mapping's filter in `template.yaml` lets through (inserted `EVT#` items), and shapes it as
//! the DynamoDB stream event Lambda hands to `ingest`.

use std::collections::HashMap;

use aws_sdk_dynamodbstreams::types::{AttributeValue, OperationType, Record, ShardIteratorType};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};
use tokio::sync::Mutex;

use crate::emulator::Emulator;

/// How many records one invocation gets (the template's `BatchSize`).
pub const BATCH_SIZE: usize = 100;

pub struct StreamPoller {
    client: aws_sdk_dynamodbstreams::Client,
    stream_arn: String,
    /// The last sequence number read, per shard.
    read_up_to: Mutex<HashMap<String, String>>,
}

impl StreamPoller {
    /// The poller of `table`'s stream.
    pub async fn of(emulator: &Emulator, table: &str) -> Self {
        let described = emulator.dynamodb.describe_table().table_name(table).send().await.expect("the table can be described");
        let stream_arn = described.table().and_then(|t| t.latest_stream_arn()).expect("the table has a stream").to_owned();
        Self { client: emulator.streams.clone(), stream_arn, read_up_to: Mutex::new(HashMap::new()) }
    }

    /// The stream events for what was written since the last call, `BATCH_SIZE` records each,
    /// filtered as the event source mapping filters.
    pub async fn take(&self) -> Vec<Value> {
        let records: Vec<Value> = self.new_records().await.iter().filter(|r| passes_filter(r)).map(|r| self.lambda_record(r)).collect();
        records.chunks(BATCH_SIZE).map(|chunk| json!({ "Records": chunk })).collect()
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
fn passes_filter(record: &Record) -> bool {
    let key = record.dynamodb().and_then(|c| c.keys()).and_then(|k| k.get("PK")).and_then(|pk| pk.as_s().ok());
    record.event_name() == Some(&OperationType::Insert) && key.is_some_and(|pk| pk.starts_with("EVT#"))
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
