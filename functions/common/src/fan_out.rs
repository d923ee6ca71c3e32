//! The fan-out of recorded events, invoked by the table's DynamoDB stream (`ingest`'s fifth
//! source): publishing is one write (the event's item) and answers after it; this queues the
//! deliveries of every event inserted, each task carrying its delivery, which `deliver` stores
//! with its first attempt (held ones, and those too large to carry, are stored here). The same
//! stream shows every attempt's write once (`fresh`): their samples are counted into the
//! metrics rollups, a few writes for a whole batch. The two event source mappings filter the
//! stream down to inserted `EVT#` items and to written `DLV#` items; anything else that arrives
//! is passed over.
//!
//! Lambda hands each record over at least once and retries a failed invocation (halving the
//! batch) until the record leaves the stream after 24 hours, so a failure fails the invocation:
//! the fan-out is idempotent (delivery ids derive from the event and the webhook, and a task
//! queued twice is a duplicate the consumer drops). An image that does not read back into an
//! event cannot be helped by retries: it is logged with its key and passed over.

use hookline_core::adapters::aws::{event_of_image, sample_of_image};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::ingest::IngestError;
use crate::wiring::Function;

/// A DynamoDB stream event, as Lambda hands it over.
#[derive(Debug, Deserialize)]
pub struct StreamEvent {
    #[serde(rename = "Records")]
    pub records: Vec<StreamRecord>,
}

#[derive(Debug, Deserialize)]
pub struct StreamRecord {
    /// `INSERT`, `MODIFY` or `REMOVE`.
    #[serde(rename = "eventName", default)]
    pub event_name: String,
    pub dynamodb: StreamChange,
}

#[derive(Debug, Deserialize)]
pub struct StreamChange {
    #[serde(rename = "NewImage", default)]
    pub new_image: Option<Map<String, Value>>,
}

/// Fans out the events the batch inserted and counts the attempts its deliveries' writes
/// recorded: `{events, deliveries, attempts, unreadable}`.
pub async fn from_stream(function: &Function, event: StreamEvent) -> Result<Value, IngestError> {
    let (mut events, mut samples, mut unreadable) = (Vec::new(), Vec::new(), 0);
    let written = event.records.iter().filter(|record| matches!(record.event_name.as_str(), "INSERT" | "MODIFY"));
    for record in written {
        let Some(image) = record.dynamodb.new_image.as_ref() else { continue };
        let read = if record.event_name == "INSERT" { event_of_image(image) } else { Ok(None) };
        let read = read.and_then(|event| Ok((event, sample_of_image(image)?)));
        match read {
            Ok((event, sample)) => {
                events.extend(event);
                samples.extend(sample);
            }
            Err(error) => {
                unreadable += 1;
                let key = image.get("PK").map(Value::to_string).unwrap_or_default();
                tracing::error!(%key, %error, "an item could not be read from the stream; it is passed over");
            }
        }
    }
    let deliveries = function.hookline.fan_out_recorded(&events).await.map_err(|error| IngestError::NotFannedOut(error.to_string()))?;
    function.hookline.count_from_stream(&samples).await;
    Ok(json!({"events": events.len(), "deliveries": deliveries, "attempts": samples.len(), "unreadable": unreadable}))
}
