//! The delivery queue's consumer. A batch's records run concurrently; each is one
//! `Hookline::deliver_claimed` (deliver, then settle with the queue, the same path the local
//! workers take). What the Lambda SQS poller then does: it deletes the records not reported as
//! failures, and leaves the failures in the queue, where a retry waits out the visibility that
//! settling set. A body that is not a delivery task is set aside in the DLQ, labelled.

use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use futures_util::future::join_all;
use hookline_core::adapters::aws::decode_task;
use hookline_core::ports::{Claimed, DeadLetterReason, Settled};

use crate::batch::batch_response;
use crate::emf;
use crate::wiring::Function;

/// Handles one batch; never fails as a whole, so one bad record cannot hold up the others.
pub async fn handle(function: &Function, event: SqsEvent) -> SqsBatchResponse {
    let finished = join_all(event.records.iter().map(|record| deliver(function, record))).await;
    // The batch's metrics: one write per rollup it touched, and the invocation's EMF document.
    function.hookline.flush_metrics().await;
    emf::emit(&function.metrics_log, &function.name, &function.hookline.tally.take(), oldest_first_receive(&event.records));
    batch_response(&event.records, finished)
}

/// How long the batch's oldest task waited to be received the first time (from being sent,
/// which includes the delay of a released delivery's slot): the consumers' lag. Retries are left
/// out, since their wait is the backoff.
fn oldest_first_receive(records: &[SqsMessage]) -> Option<Duration> {
    let now = chrono::Utc::now().timestamp_millis();
    records
        .iter()
        .filter(|record| record.attributes.get("ApproximateReceiveCount").map(String::as_str) == Some("1"))
        .filter_map(|record| record.attributes.get("SentTimestamp")?.parse::<i64>().ok())
        .map(|sent| Duration::from_millis(u64::try_from(now - sent).unwrap_or(0)))
        .max()
}

/// True when the record is finished with (the poller may delete it).
async fn deliver(function: &Function, record: &SqsMessage) -> bool {
    let body = record.body.as_deref().unwrap_or_default();
    let message_id = record.message_id.as_deref().unwrap_or_default();
    let Some(task) = decode_task(body) else {
        tracing::warn!(message_id, "undecodable delivery task moved to the DLQ");
        return match function.hookline.stores.queue.set_aside(body, DeadLetterReason::Undecodable, record.message_id.as_deref()).await {
            Ok(()) => true,
            Err(error) => {
                tracing::error!(%error, message_id, "could not copy the message to the DLQ; it stays in the queue");
                false
            }
        };
    };
    let receipt = record.receipt_handle.clone().unwrap_or_default();
    let claimed = Claimed { task, receipt, message_id: record.message_id.clone() };
    match function.hookline.deliver_claimed(&claimed).await {
        Ok(settled) => settled == Settled::Finished,
        Err(error) => {
            tracing::error!(%error, message_id, delivery_id = %claimed.task.delivery_id, "delivery step failed; the message will be received again");
            false
        }
    }
}
