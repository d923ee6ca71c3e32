//! The delivery queue's consumer. A batch's records run concurrently; each is one
//! `deliver_one`. What the Lambda SQS poller then does: it deletes the records not reported as
//! failures, and leaves the failures in the queue, where a retry waits out the visibility the
//! handler set. Dead deliveries, undecodable tasks and tasks for deliveries that are not stored
//! are copied to the DLQ first, labelled with the reason, where the DLQ alarm sees them.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use futures_util::future::join_all;
use hookline_core::adapters::aws::{decode_task, encode_task};
use hookline_core::ports::{DeadLetterReason, Disposition};

use crate::wiring::Function;

/// Handles one batch; never fails as a whole, so one bad record cannot hold up the others.
pub async fn handle(function: &Function, event: SqsEvent) -> SqsBatchResponse {
    let handled = join_all(event.records.iter().map(|record| deliver(function, record))).await;
    let mut response = SqsBatchResponse::default();
    for (record, finished) in event.records.iter().zip(handled) {
        if !finished {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = record.message_id.clone().unwrap_or_default();
            response.batch_item_failures.push(failure);
        }
    }
    response
}

/// True when the record is finished with (the poller may delete it).
async fn deliver(function: &Function, record: &SqsMessage) -> bool {
    let body = record.body.as_deref().unwrap_or_default();
    let message_id = record.message_id.as_deref().unwrap_or_default();
    let Some(task) = decode_task(body) else {
        tracing::warn!(message_id, "undecodable delivery task moved to the DLQ");
        return dead_letter(function, record, body, DeadLetterReason::Undecodable).await;
    };
    let disposition = match function.hookline.deliver_one(&task).await {
        Ok(disposition) => disposition,
        Err(error) => {
            tracing::error!(%error, message_id, delivery_id = %task.delivery_id, "delivery step failed; the message will be received again");
            return false;
        }
    };
    if let Disposition::RetryIn(delay) = disposition {
        let receipt = record.receipt_handle.as_deref().unwrap_or_default();
        if let Err(error) = function.queue.delay(receipt, delay).await {
            tracing::error!(%error, message_id, delivery_id = %task.delivery_id, "could not set the retry delay; the queue's visibility timeout applies");
        }
        return false;
    }
    match disposition.dead_letter_reason() {
        Some(reason) => {
            if reason == DeadLetterReason::UnknownDelivery {
                tracing::warn!(message_id, delivery_id = %task.delivery_id, "task for a delivery that is not stored moved to the DLQ");
            }
            dead_letter(function, record, &encode_task(&task), reason).await
        }
        None => true,
    }
}

async fn dead_letter(function: &Function, record: &SqsMessage, body: &str, reason: DeadLetterReason) -> bool {
    match function.queue.dead_letter(body, reason, record.message_id.as_deref()).await {
        Ok(()) => true,
        Err(error) => {
            tracing::error!(%error, message_id = record.message_id.as_deref().unwrap_or_default(), "could not copy the message to the DLQ; it stays in the queue");
            false
        }
    }
}
