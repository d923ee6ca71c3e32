//! Creating the table and queues, for tests, the benchmark and a first run against an
//! emulator. In AWS, `template.yaml` creates the same shapes; keep the two in step.

use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType, ScalarAttributeType,
    StreamSpecification, StreamViewType, TimeToLiveSpecification,
};
use aws_sdk_sqs::types::QueueAttributeName;

use super::{queue_error, store_error};
use crate::ports::{QueueError, StoreError};

/// The secondary indexes: name and key attributes. Every index projects keys only: an update
/// that leaves an item's index keys alone (an attempt, a health or state change) then writes
/// the item and no index, and listings read the items by key (`reads::items_of`).
const INDEXES: [(&str, &str, &str); 3] = [("GSI1", "GSI1PK", "GSI1SK"), ("GSI2", "GSI2PK", "GSI2SK"), ("GSI3", "GSI3PK", "GSI3SK")];

fn key_element(name: &str, key_type: KeyType) -> Result<KeySchemaElement, StoreError> {
    KeySchemaElement::builder().attribute_name(name).key_type(key_type).build().map_err(store_error)
}

fn string_attribute(name: &str) -> Result<AttributeDefinition, StoreError> {
    AttributeDefinition::builder().attribute_name(name).attribute_type(ScalarAttributeType::S).build().map_err(store_error)
}

/// Creates the single table with its indexes, TTL on `expires_at`, and a stream of new images
/// (the fan-out reads inserted events from it).
pub async fn create_table(client: &aws_sdk_dynamodb::Client, name: &str) -> Result<(), StoreError> {
    let mut request = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key_element("PK", KeyType::Hash)?)
        .key_schema(key_element("SK", KeyType::Range)?)
        .attribute_definitions(string_attribute("PK")?)
        .attribute_definitions(string_attribute("SK")?)
        .stream_specification(
            StreamSpecification::builder().stream_enabled(true).stream_view_type(StreamViewType::NewImage).build().map_err(store_error)?,
        );
    for (index, pk, sk) in INDEXES {
        request =
            request.attribute_definitions(string_attribute(pk)?).attribute_definitions(string_attribute(sk)?).global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(index)
                    .key_schema(key_element(pk, KeyType::Hash)?)
                    .key_schema(key_element(sk, KeyType::Range)?)
                    .projection(Projection::builder().projection_type(ProjectionType::KeysOnly).build())
                    .build()
                    .map_err(store_error)?,
            );
    }
    request.send().await.map_err(store_error)?;
    let ttl = TimeToLiveSpecification::builder().attribute_name("expires_at").enabled(true).build().map_err(store_error)?;
    client.update_time_to_live().table_name(name).time_to_live_specification(ttl).send().await.map_err(store_error)?;
    Ok(())
}

/// The delivery queue and its dead-letter queue.
pub struct Queues {
    pub queue_url: String,
    pub dlq_url: String,
    pub dlq_arn: String,
}

/// Creates `name` and `name-dlq`; messages move to the DLQ after `max_receives` receives.
pub async fn create_queues(
    client: &aws_sdk_sqs::Client,
    name: &str,
    visibility: Duration,
    max_receives: u32,
) -> Result<Queues, QueueError> {
    let dlq = client
        .create_queue()
        .queue_name(format!("{name}-dlq"))
        .attributes(QueueAttributeName::MessageRetentionPeriod, (14 * 24 * 3600).to_string())
        .send()
        .await
        .map_err(queue_error)?;
    let dlq_url = dlq.queue_url().unwrap_or_default().to_owned();
    let attributes = client
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(queue_error)?;
    let dlq_arn = attributes.attributes().and_then(|a| a.get(&QueueAttributeName::QueueArn)).cloned().unwrap_or_default();
    let redrive = serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receives}).to_string();
    let queue = client
        .create_queue()
        .queue_name(name)
        .attributes(QueueAttributeName::VisibilityTimeout, visibility.as_secs().max(1).to_string())
        .attributes(QueueAttributeName::RedrivePolicy, redrive)
        .send()
        .await
        .map_err(queue_error)?;
    Ok(Queues { queue_url: queue.queue_url().unwrap_or_default().to_owned(), dlq_url, dlq_arn })
}
