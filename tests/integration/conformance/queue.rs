//! `DeliveryQueue`: at-least-once claims with a visibility timeout, receipts, delays, caps.

use std::collections::HashMap;
use std::time::Duration;

use chrono::Utc;
use hookline_core::domain::delivery::Delivery;
use hookline_core::domain::ids::{DeliveryId, EventId, WebhookId};
use hookline_core::ports::{ClaimLimits, DeliveryTask, Disposition};

use super::{Backend, VISIBILITY, aws, sqlite};

fn task(n: u32, webhook: &WebhookId) -> DeliveryTask {
    let event = EventId::parse(&format!("evt_q{n}")).unwrap();
    DeliveryTask { delivery_id: DeliveryId::for_pair(&event, webhook), webhook_id: webhook.clone(), event_id: event, carried: None }
}

fn limits(max: usize, in_flight: &HashMap<WebhookId, usize>) -> ClaimLimits<'_> {
    ClaimLimits { max, per_webhook: 100, in_flight }
}

async fn claims_are_invisible_until_settled_or_timed_out(backend: &Backend) {
    let queue = &backend.stores.queue;
    let none = HashMap::new();
    let webhook = WebhookId::generate(1);
    queue.enqueue(&[task(1, &webhook), task(2, &webhook), task(1, &webhook)]).await.unwrap();
    let claimed = queue.claim(&limits(10, &none)).await.unwrap();
    assert_eq!(claimed.len(), 2, "enqueueing the same delivery twice queues it once");
    assert!(queue.claim(&limits(10, &none)).await.unwrap().is_empty(), "claimed tasks are invisible");

    queue.settle(&claimed[0], Disposition::Done).await.unwrap();
    queue.settle(&claimed[1], Disposition::RetryIn(Duration::from_secs(1))).await.unwrap();
    assert!(queue.claim(&limits(10, &none)).await.unwrap().is_empty(), "a retry waits its delay");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let again = queue.claim(&limits(10, &none)).await.unwrap();
    assert_eq!(again.iter().map(|c| &c.task).collect::<Vec<_>>(), [&claimed[1].task], "the settled one is gone");

    tokio::time::sleep(VISIBILITY + Duration::from_millis(100)).await;
    let reclaimed = queue.claim(&limits(10, &none)).await.unwrap();
    assert_eq!(reclaimed.len(), 1, "an unsettled claim comes back after the visibility timeout");
    if !backend.refuses_stale_receipts {
        queue.settle(&reclaimed[0], Disposition::Done).await.unwrap();
        assert!(queue.claim(&limits(10, &none)).await.unwrap().is_empty());
        return;
    }
    queue.settle(&again[0], Disposition::Done).await.unwrap();
    assert!(queue.claim(&limits(10, &none)).await.unwrap().is_empty(), "the stale receipt did not settle it");
    tokio::time::sleep(VISIBILITY + Duration::from_millis(100)).await;
    let last = queue.claim(&limits(10, &none)).await.unwrap();
    queue.settle(&last[0], Disposition::Done).await.unwrap();
    tokio::time::sleep(VISIBILITY + Duration::from_millis(100)).await;
    assert!(queue.claim(&limits(10, &none)).await.unwrap().is_empty());
}

async fn claims_respect_each_webhooks_allowance(backend: &Backend) {
    let queue = &backend.stores.queue;
    let (busy, idle) = (WebhookId::generate(2), WebhookId::generate(3));
    queue.enqueue(&[task(10, &busy), task(11, &busy), task(12, &busy), task(13, &idle)]).await.unwrap();
    let in_flight = HashMap::from([(busy.clone(), 1)]);
    let claimed = queue.claim(&ClaimLimits { max: 10, per_webhook: 2, in_flight: &in_flight }).await.unwrap();
    let per: Vec<&WebhookId> = claimed.iter().map(|c| &c.task.webhook_id).collect();
    assert_eq!(per.iter().filter(|w| ***w == busy).count(), 1, "one more brings it to its cap of 2");
    assert_eq!(per.iter().filter(|w| ***w == idle).count(), 1);
}

/// A task may carry a copy of its stored delivery, sparing the attempt a read, so what a claim
/// hands out must be what the store holds: no copy once the delivery changed while its task
/// waited, nor once the task comes back from a claim. Returns how many claims carried one.
async fn a_carried_copy_is_what_the_store_holds(backend: &Backend) -> usize {
    let (queue, store) = (&backend.stores.queue, &backend.stores.deliveries);
    let none = HashMap::new();
    let webhook = WebhookId::generate(4);
    let planned: Vec<Delivery> = (20..23)
        .map(|n| Delivery::new(EventId::parse(&format!("evt_q{n}")).unwrap(), webhook.clone(), "invoice.paid", Utc::now()))
        .collect();
    store.create(&planned).await.unwrap();
    queue.enqueue(&planned.iter().map(DeliveryTask::of_stored).collect::<Vec<_>>()).await.unwrap();
    assert!(store.hold(&planned[1], Utc::now()).await.unwrap());
    store.cancel(&planned[2].id, "changed while its task waited", Utc::now()).await.unwrap();
    let claimed = queue.claim(&limits(10, &none)).await.unwrap();
    assert_eq!(claimed.len(), 3);
    let mut carried = 0;
    for claim in &claimed {
        let Some(copy) = claim.task.stored_delivery() else { continue };
        let stored = store.get(&claim.task.delivery_id).await.unwrap().unwrap();
        assert_eq!(serde_json::to_value(copy).unwrap(), serde_json::to_value(stored).unwrap(), "{}", claim.task.delivery_id);
        carried += 1;
    }
    for claim in &claimed {
        queue.settle(claim, Disposition::RetryIn(Duration::ZERO)).await.unwrap();
    }
    let again = queue.claim(&limits(10, &none)).await.unwrap();
    assert_eq!(again.len(), 3);
    assert!(again.iter().all(|claim| claim.task.carried.is_none()), "a task back from a claim carries nothing");
    carried
}

#[tokio::test]
async fn sqlite_keeps_a_copy_of_a_stored_delivery_until_it_changes() {
    assert_eq!(a_carried_copy_is_what_the_store_holds(&sqlite().await).await, 1, "the untouched delivery's task carries it");
}

#[tokio::test]
async fn aws_sends_no_copy_of_a_stored_delivery() {
    assert_eq!(a_carried_copy_is_what_the_store_holds(&aws().await).await, 0, "SQS cannot drop a copy when the delivery changes");
}

#[tokio::test]
async fn sqlite_claims_are_invisible_until_settled_or_timed_out() {
    claims_are_invisible_until_settled_or_timed_out(&sqlite().await).await;
}

#[tokio::test]
async fn aws_claims_are_invisible_until_settled_or_timed_out() {
    claims_are_invisible_until_settled_or_timed_out(&aws().await).await;
}

#[tokio::test]
async fn sqlite_claims_respect_each_webhooks_allowance() {
    claims_respect_each_webhooks_allowance(&sqlite().await).await;
}

#[tokio::test]
async fn aws_claims_respect_each_webhooks_allowance() {
    claims_respect_each_webhooks_allowance(&aws().await).await;
}
