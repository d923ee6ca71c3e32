//! The answer to an SQS batch with `ReportBatchItemFailures`: the records not finished with,
//! which the Lambda poller leaves in the queue (every other one it deletes).

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsMessage};

/// `finished[i]` says whether `records[i]` is finished with.
pub fn batch_response(records: &[SqsMessage], finished: Vec<bool>) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for (record, finished) in records.iter().zip(finished) {
        if !finished {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = record.message_id.clone().unwrap_or_default();
            response.batch_item_failures.push(failure);
        }
    }
    response
}
