//! A bulk replay of thousands of dead deliveries on the emulator: started through the `api`
//! function, carried on by the scheduled `maintain` function over several invocations (each
//! within its budget), every delivery queued again, and their copies swept out of the DLQ so its
//! alarm clears. The test command replays 500 (the emulator serves about a hundred requests a
//! second); `HOOKLINE_TEST_BULK_REPLAY=10000` runs the 10,000.

use std::time::{Duration, Instant};

use aws_sdk_sqs::types::{MessageAttributeValue, QueueAttributeName, SendMessageBatchRequestEntry};
use hookline_core::adapters::aws::encode_task;
use hookline_core::domain::delivery::Delivery;
use hookline_core::domain::ids::EventId;
use hookline_core::ports::DeliveryTask;
use hookline_tests::TestReceiver;
use hookline_tests::functions::{Functions, spawn_functions_tuned};
use serde_json::json;

use super::create_webhook;

/// How many dead deliveries to replay.
fn dead_count() -> usize {
    std::env::var("HOOKLINE_TEST_BULK_REPLAY").ok().and_then(|n| n.parse().ok()).unwrap_or(500)
}

/// `count` dead deliveries of one webhook, with a copy of each task in the DLQ, as `deliver`
/// leaves them after an outage (written straight to the table and queue: the point here is the
/// replay, not 10,000 failed attempts).
async fn seed_dead(functions: &Functions, webhook: &str, count: usize) {
    let webhook = hookline_core::domain::ids::WebhookId::parse(webhook).unwrap();
    let now = chrono::Utc::now();
    let dead: Vec<Delivery> = (0..count)
        .map(|n| {
            let event = EventId::parse(&format!("evt_bulk_{n:05}")).unwrap();
            let delivery = Delivery::new(event, webhook.clone(), "invoice.paid", now - chrono::Duration::seconds(n as i64));
            Delivery { status: hookline_core::domain::delivery::DeliveryStatus::Dead, next_attempt_at: None, attempts: 3, ..delivery }
        })
        .collect();
    functions.api_function.hookline.stores.deliveries.create_new(&dead).await.unwrap();
    let reason = MessageAttributeValue::builder().data_type("String").string_value("dead").build().unwrap();
    for chunk in dead.chunks(10) {
        let entries = chunk
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let body = encode_task(&DeliveryTask::of(d));
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(body)
                    .message_attributes("reason", reason.clone())
                    .build()
                    .unwrap()
            })
            .collect();
        functions.emulator.sqs.send_message_batch().queue_url(&functions.queues.dlq_url).set_entries(Some(entries)).send().await.unwrap();
    }
}

async fn messages_in(functions: &Functions, queue: &str) -> (u64, u64) {
    let output = functions
        .emulator
        .sqs
        .get_queue_attributes()
        .queue_url(queue)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .unwrap();
    let attributes = output.attributes().unwrap();
    let count = |name| attributes.get(&name).and_then(|v| v.parse().ok()).unwrap_or(0);
    (count(QueueAttributeName::ApproximateNumberOfMessages), count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible))
}

#[tokio::test]
async fn thousands_of_dead_deliveries_are_replayed_over_several_invocations_and_leave_the_dlq() {
    let dead = dead_count() as u64;
    let functions = spawn_functions_tuned(3, "1", &["--maintenance-budget-secs", "5"]).await;
    let receiver = TestReceiver::start().await;
    let (webhook, _) = create_webhook(&functions, &receiver.url, &["invoice.*"]).await;
    let seeding = Instant::now();
    seed_dead(&functions, &webhook, dead as usize).await;
    assert_eq!(messages_in(&functions, &functions.queues.dlq_url).await.0, dead);
    let replaying = Instant::now();

    let selection = json!({"webhook_id": webhook, "status": ["dead"]});
    let (status, started) = functions.call("POST", "/api/v1/webhooks/deliveries/replay", Some(selection)).await;
    assert_eq!(status, 202, "{started}");
    assert!(started["replayed"].as_u64().unwrap() < dead, "not all at once: {started}");
    let path = format!("/api/v1/webhooks/replays/{}", started["id"].as_str().unwrap());
    let (mut invocations, deadline) = (0, Instant::now() + Duration::from_secs(600));
    loop {
        functions.maintain().await;
        invocations += 1;
        let (_, replay) = functions.call("GET", &path, None).await;
        if replay["finished"] == true && messages_in(&functions, &functions.queues.dlq_url).await == (0, 0) {
            assert_eq!((replay["matched"].as_u64(), replay["replayed"].as_u64()), (Some(dead), Some(dead)), "{replay}");
            break;
        }
        assert!(Instant::now() < deadline, "the replay did not finish: {replay}");
    }
    assert!(invocations >= 2, "carried on by the scheduled function, {invocations} invocations");
    eprintln!(
        "bulk replay of {dead}: seeded in {:?}, replayed and swept in {:?} over {invocations} maintain invocations",
        replaying - seeding,
        replaying.elapsed()
    );
    assert_eq!(messages_in(&functions, &functions.queues.queue_url).await.0, dead, "every one queued again, once");
    assert_eq!(messages_in(&functions, &functions.queues.dlq_url).await, (0, 0), "their DLQ copies are gone, so the alarm clears");
}
