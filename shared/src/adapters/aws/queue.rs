//! `DeliveryQueue` over SQS (standard queue: at-least-once, like the local queue). Tasks go out
//! with `SendMessageBatch`, ten per call; a retry is `ChangeMessageVisibility` on the received
//! message, so the message itself waits out the backoff.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageAttributeValue, SendMessageBatchRequestEntry};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::queue_error;
use crate::domain::ids::{DeliveryId, EventId, WebhookId};
use crate::ports::{
    Carried, ClaimLimits, Claimed, DeadLetter, DeadLetterReason, DeliveryQueue, DeliveryTask, Disposition, QueueError, Settled,
};

/// SQS caps a message's visibility at 12 hours; a longer wait is served in 12-hour steps
/// (`deliver_one` puts back a task that comes back before its delivery is due).
pub const MAX_VISIBILITY: Duration = Duration::from_secs(12 * 3600 - 60);

#[derive(Serialize, Deserialize)]
struct TaskBody {
    delivery_id: String,
    webhook_id: String,
    event_id: String,
    /// Absent from tasks whose delivery is stored (and from every task of earlier versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    carried: Option<CarriedBody>,
}

#[derive(Serialize, Deserialize)]
struct CarriedBody {
    event_type: String,
    created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    body: Option<String>,
}

pub fn encode_task(task: &DeliveryTask) -> String {
    let body = TaskBody {
        delivery_id: task.delivery_id.to_string(),
        webhook_id: task.webhook_id.to_string(),
        event_id: task.event_id.to_string(),
        // A copy of a stored delivery is not sent: SQS cannot drop it when the delivery changes.
        carried: task.carried.as_ref().filter(|carried| !carried.stored).map(|carried| CarriedBody {
            event_type: carried.event_type.clone(),
            created_at: carried.created_at,
            body: carried.body.clone(),
        }),
    };
    serde_json::to_string(&body).unwrap_or_default()
}

/// The task in a message body, or `None` for a body this queue never wrote.
pub fn decode_task(body: &str) -> Option<DeliveryTask> {
    let body: TaskBody = serde_json::from_str(body).ok()?;
    Some(DeliveryTask {
        delivery_id: DeliveryId::parse(&body.delivery_id)?,
        webhook_id: WebhookId::parse(&body.webhook_id)?,
        event_id: EventId::parse(&body.event_id).ok()?,
        carried: body.carried.map(|carried| Carried {
            event_type: carried.event_type,
            created_at: carried.created_at,
            body: carried.body,
            stored: false,
        }),
    })
}

fn string_attribute(value: &str) -> Result<MessageAttributeValue, QueueError> {
    MessageAttributeValue::builder().data_type("String").string_value(value).build().map_err(queue_error)
}

/// Seconds of visibility for a retry after `delay`, rounded up so a task never returns early.
pub fn visibility_for(delay: Duration) -> i32 {
    let delay = delay.min(MAX_VISIBILITY);
    let seconds = delay.as_secs() + u64::from(delay.subsec_nanos() > 0);
    i32::try_from(seconds).unwrap_or(i32::MAX)
}

/// Who deletes a finished message from the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acknowledgement {
    /// `settle` deletes it (a consumer that claims its own messages).
    Delete,
    /// The Lambda poller deletes every message its function's batch response does not name as
    /// failed, so `settle` leaves it: one `DeleteMessageBatch` per batch, not a call a message.
    BatchResponse,
}

pub struct SqsDeliveryQueue {
    client: aws_sdk_sqs::Client,
    queue_url: String,
    dlq_url: String,
    acknowledgement: Acknowledgement,
}

impl SqsDeliveryQueue {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: &str, dlq_url: &str, acknowledgement: Acknowledgement) -> Self {
        Self { client, queue_url: queue_url.to_owned(), dlq_url: dlq_url.to_owned(), acknowledgement }
    }

    /// Puts a copy of a message body in the dead-letter queue, labelled with why (message
    /// attribute `reason`) and, when known, the original message's id (`source_message_id`).
    async fn dead_letter(&self, body: &str, reason: DeadLetterReason, source_message_id: Option<&str>) -> Result<(), QueueError> {
        let mut send = self.client.send_message().queue_url(&self.dlq_url).message_body(body);
        send = send.message_attributes("reason", string_attribute(reason.as_str())?);
        if let Some(id) = source_message_id.filter(|id| !id.is_empty()) {
            send = send.message_attributes("source_message_id", string_attribute(id)?);
        }
        send.send().await.map_err(queue_error)?;
        Ok(())
    }

    /// Makes a received message visible again after `delay`.
    async fn delay(&self, receipt: &str, delay: Duration) -> Result<(), QueueError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt)
            .visibility_timeout(visibility_for(delay))
            .send()
            .await
            .map_err(queue_error)?;
        Ok(())
    }

    async fn send_batch(&self, tasks: &[&DeliveryTask]) -> Result<(), QueueError> {
        let mut entries = Vec::with_capacity(tasks.len());
        for (index, task) in tasks.iter().enumerate() {
            entries.push(
                SendMessageBatchRequestEntry::builder()
                    .id(index.to_string())
                    .message_body(encode_task(task))
                    .build()
                    .map_err(queue_error)?,
            );
        }
        // Entries can fail one by one (throttling): send those again, once.
        for _ in 0..2 {
            let output = self
                .client
                .send_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries.clone()))
                .send()
                .await
                .map_err(queue_error)?;
            let failed: HashSet<&str> = output.failed().iter().map(|f| f.id()).collect();
            if failed.is_empty() {
                return Ok(());
            }
            entries.retain(|entry| failed.contains(entry.id()));
        }
        Err(QueueError::Backend(format!("SQS refused {} of the tasks twice", entries.len()).into()))
    }
}

#[async_trait]
impl DeliveryQueue for SqsDeliveryQueue {
    async fn enqueue(&self, tasks: &[DeliveryTask]) -> Result<(), QueueError> {
        let mut seen = HashSet::new();
        let unique: Vec<&DeliveryTask> = tasks.iter().filter(|task| seen.insert(&task.delivery_id)).collect();
        for chunk in unique.chunks(10) {
            self.send_batch(chunk).await?;
        }
        Ok(())
    }

    async fn claim(&self, limits: &ClaimLimits<'_>) -> Result<Vec<Claimed>, QueueError> {
        let max = i32::try_from(limits.max.clamp(1, 10)).unwrap_or(10);
        let output = self
            .client
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(max)
            .wait_time_seconds(0)
            .send()
            .await
            .map_err(queue_error)?;
        let mut taken: HashMap<WebhookId, usize> = HashMap::new();
        let mut claimed = Vec::new();
        for message in output.messages() {
            let receipt = message.receipt_handle().unwrap_or_default().to_owned();
            let Some(task) = message.body().and_then(decode_task) else {
                // Left invisible: after the redrive policy's receive count it moves to the DLQ.
                tracing::warn!(message_id = message.message_id().unwrap_or_default(), "undecodable delivery task left for the DLQ");
                continue;
            };
            let count =
                taken.entry(task.webhook_id.clone()).or_insert_with(|| limits.in_flight.get(&task.webhook_id).copied().unwrap_or(0));
            if *count >= limits.per_webhook {
                self.delay(&receipt, Duration::ZERO).await?;
                continue;
            }
            *count += 1;
            claimed.push(Claimed { task, receipt, message_id: message.message_id().map(String::from) });
        }
        Ok(claimed)
    }

    /// A retry is the message's own visibility (so it stays, waiting out the backoff); a dead
    /// delivery's or an unknown one's task is copied to the DLQ, labelled, before it goes.
    async fn settle(&self, claimed: &Claimed, disposition: Disposition) -> Result<Settled, QueueError> {
        if let Disposition::RetryIn(delay) = disposition {
            self.delay(&claimed.receipt, delay).await?;
            return Ok(Settled::Waiting);
        }
        if let Some(reason) = disposition.dead_letter_reason() {
            self.dead_letter(&encode_task(&claimed.task), reason, claimed.message_id.as_deref()).await?;
        }
        if self.acknowledgement == Acknowledgement::Delete {
            let delete = self.client.delete_message().queue_url(&self.queue_url).receipt_handle(&claimed.receipt);
            delete.send().await.map_err(queue_error)?;
        }
        Ok(Settled::Finished)
    }

    async fn set_aside(&self, body: &str, reason: DeadLetterReason, message_id: Option<&str>) -> Result<(), QueueError> {
        self.dead_letter(body, reason, message_id).await
    }

    /// Received from the DLQ, each out of sight for a minute (a sweep reads each once).
    async fn dead_letters(&self, max: usize) -> Result<Vec<DeadLetter>, QueueError> {
        let output = self
            .client
            .receive_message()
            .queue_url(&self.dlq_url)
            .max_number_of_messages(i32::try_from(max.clamp(1, 10)).unwrap_or(10))
            .visibility_timeout(60)
            .message_attribute_names("reason")
            .send()
            .await
            .map_err(queue_error)?;
        let reason = |m: &aws_sdk_sqs::types::Message| m.message_attributes()?.get("reason")?.string_value().map(str::to_owned);
        Ok(output
            .messages()
            .iter()
            .map(|m| DeadLetter {
                task: m.body().and_then(decode_task),
                reason: reason(m),
                receipt: m.receipt_handle().unwrap_or_default().to_owned(),
            })
            .collect())
    }

    async fn drop_dead_letters(&self, letters: &[DeadLetter]) -> Result<(), QueueError> {
        for chunk in letters.chunks(10) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, letter)| DeleteMessageBatchRequestEntry::builder().id(i.to_string()).receipt_handle(&letter.receipt).build())
                .collect::<Result<Vec<_>, _>>()
                .map_err(queue_error)?;
            self.client.delete_message_batch().queue_url(&self.dlq_url).set_entries(Some(entries)).send().await.map_err(queue_error)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retry_delay_becomes_whole_seconds_rounded_up_and_capped_below_12_hours() {
        assert_eq!(visibility_for(Duration::from_millis(1200)), 2);
        assert_eq!(visibility_for(Duration::from_secs(10)), 10);
        assert_eq!(visibility_for(Duration::from_secs(30 * 3600)), 12 * 3600 - 60);
    }

    #[test]
    fn tasks_round_trip_and_foreign_bodies_are_refused() {
        let body = r#"{"delivery_id":"dlv_a","webhook_id":"wh_b","event_id":"evt_c"}"#;
        let task = decode_task(body).unwrap();
        assert_eq!(decode_task(&encode_task(&task)), Some(task));
        assert!(decode_task("not a delivery task").is_none());
        assert!(decode_task(r#"{"delivery_id":"x","webhook_id":"wh_b","event_id":"evt_c"}"#).is_none());
    }

    #[test]
    fn a_carried_delivery_round_trips_and_comes_back_as_planned() {
        let event = EventId::parse("evt_c").unwrap();
        let webhook = WebhookId::parse("wh_b").unwrap();
        let created_at = DateTime::parse_from_rfc3339("2026-12-05T10:00:00.123456Z").unwrap().with_timezone(&Utc);
        let planned = crate::domain::delivery::Delivery {
            body: Some("{\"quoted\": \"\u{1}\"}".into()),
            ..crate::domain::delivery::Delivery::new(event, webhook, "invoice.paid", created_at)
        };
        let task = DeliveryTask::carrying(&planned).unwrap();
        let decoded = decode_task(&encode_task(&task)).unwrap();
        assert_eq!(decoded, task);
        let carried = decoded.carried_delivery().unwrap();
        assert_eq!((&carried.id, carried.created_at, &carried.body), (&planned.id, created_at, &planned.body));
        assert_eq!((carried.status, carried.attempts, carried.event_type.as_str()), (planned.status, 0, "invoice.paid"));
        let too_long = crate::domain::delivery::Delivery { body: Some("x".repeat(crate::ports::MAX_CARRIED_BODY + 1)), ..carried };
        assert!(DeliveryTask::carrying(&too_long).is_none());
        let stored = DeliveryTask::of_stored(&crate::domain::delivery::Delivery { body: None, ..planned });
        assert!(stored.stored_delivery().is_some());
        assert_eq!(decode_task(&encode_task(&stored)), Some(DeliveryTask::of(&too_long)), "a stored delivery's copy is not sent");
    }
}
