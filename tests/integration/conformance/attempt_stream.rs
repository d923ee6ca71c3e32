//! DynamoDB counts attempts from the table's stream: every write of an attempt shows in one
//! stream record as that attempt's sample, and no other write of a delivery (a hold, a release,
//! an expiry, an acknowledgement, an erasure's cleanup, an attempt recorded twice) shows one,
//! though each is in the stream.

use hookline_core::domain::delivery::{Attempt, Delivery, DeliveryStatus};
use hookline_core::domain::ids::{EventId, WebhookId};
use hookline_core::domain::metrics::Finished;
use hookline_core::domain::outcome::ErrorKind;
use hookline_core::ports::{AttemptRecord, Slots};
use hookline_tests::stream::StreamPoller;

use super::{aws_with_table, now};

fn attempt(number: u32, status: u16) -> Attempt {
    Attempt {
        number,
        started_at: now(),
        duration_ms: 20,
        status_code: Some(status),
        response_excerpt: Some("excerpt".into()),
        error_kind: (status != 200).then_some(ErrorKind::HttpStatus),
        error_detail: None,
        next_attempt_at: None,
    }
}

#[tokio::test]
async fn aws_each_attempt_shows_once_in_the_stream_and_nothing_else_does() {
    let (backend, emulator, table) = aws_with_table().await;
    let poller = StreamPoller::of(&emulator, &table).await;
    let log = &backend.stores.deliveries;
    let webhook = WebhookId::generate(3);
    let first = Delivery::new(EventId::parse("evt_s1").unwrap(), webhook.clone(), "invoice.paid", now());
    let failed = AttemptRecord::new(&first, attempt(1, 503), DeliveryStatus::Retrying, Some("HTTP 503".into()));
    log.store_attempted(&first, &failed, now()).await.unwrap();
    log.store_attempted(&first, &failed, now()).await.unwrap();
    let done = AttemptRecord::new(&first, attempt(2, 200), DeliveryStatus::Succeeded, None);
    log.record_attempt(&first.id, &done, now()).await.unwrap();
    log.record_attempt(&first.id, &done, now()).await.unwrap();

    let second = Delivery::new(EventId::parse("evt_s2").unwrap(), webhook.clone(), "invoice.paid", now());
    log.create(std::slice::from_ref(&second)).await.unwrap();
    assert!(log.hold(&second, now()).await.unwrap());
    let slots = Slots { first_at: now(), interval: std::time::Duration::from_millis(100) };
    assert_eq!(log.release_held(&webhook, &slots, 10).await.unwrap().len(), 1);
    let dead = AttemptRecord::new(&second, attempt(1, 410), DeliveryStatus::Dead, Some("HTTP 410".into()));
    log.record_attempt(&second.id, &dead, now()).await.unwrap();
    assert!(log.acknowledge(&second.id, now()).await.unwrap());
    log.forget_event(&second.event_id, now()).await.unwrap();

    let samples = poller.take_samples().await;
    let finished: Vec<Option<Finished>> = samples.iter().map(|s| s.finished).collect();
    assert!(matches!(finished[..], [None, Some(Finished::Succeeded { .. }), Some(Finished::Dead)]), "one sample per attempt: {samples:?}");
    assert!(samples.iter().all(|s| s.webhook_id == webhook && s.event_type == "invoice.paid"));
    assert_eq!(samples.iter().filter(|s| s.error_kind.is_some()).count(), 2, "the 503 and the 410 failed");
}
