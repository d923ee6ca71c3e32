//! `EventStore`: write once, duplicates told apart from conflicts, fan-out state, erasure.

use std::sync::Arc;

use chrono::Duration;
use hookline_core::domain::delivery::{Attempt, Delivery, DeliveryStatus};
use hookline_core::domain::event::{Event, PublishRequest, format_timestamp};
use hookline_core::domain::ids::WebhookId;
use hookline_core::ports::{AttemptRecord, FanOut, PlannedDeliveries, Recorded, StoreError};
use serde_json::json;

use super::{Backend, aws, event, now, retention_policy, sqlite, stored_webhook};

/// A store that fans out inline writes a new event and its deliveries at once (one commit per
/// publish); an event recorded before gets none of the deliveries planned for it.
async fn events_are_recorded_with_their_deliveries_where_the_store_can(backend: &Backend) {
    let store = &backend.stores.events;
    let (before, fresh) = (event("evt_with_1", "a"), event("evt_with_2", "b"));
    store.record(&before).await.unwrap();
    let webhook = WebhookId::generate(9);
    let planned: PlannedDeliveries =
        Arc::new([&before, &fresh].iter().map(|e| vec![Delivery::new(e.id.clone(), webhook.clone(), "auth.login", now())]).collect());
    let Some(recorded) = store.record_with_deliveries(&[before.clone(), fresh.clone()], &planned).await else {
        assert_eq!(store.fan_out(), FanOut::FromStream, "only a store whose stream fans out leaves it to the caller");
        return;
    };
    assert_eq!(recorded.unwrap(), [Recorded::Existing { fanned_out: false, same_content: true }, Recorded::New]);
    assert_eq!(Arc::strong_count(&planned), 1, "the write let go of the plan it shared: the publish takes it back uncopied");
    let deliveries = &backend.stores.deliveries;
    assert!(deliveries.get(&planned[0][0].id).await.unwrap().is_none(), "an event recorded before gets no deliveries here");
    assert!(deliveries.get(&planned[1][0].id).await.unwrap().is_some(), "the new one's are written with it");
    assert_eq!(store.get(&fresh.id).await.unwrap().map(|e| e.id), Some(fresh.id.clone()));
    let again = store.record(&fresh).await.unwrap();
    assert_eq!(again, Recorded::Existing { fanned_out: true, same_content: true }, "its deliveries stored, it needs no mark");
    // A held delivery asks for its webhook to be checked after it is stored: that event waits for its mark.
    let (settled, held) = (event("evt_with_3", "c"), event("evt_with_4", "d"));
    let mut held_delivery = Delivery::new(held.id.clone(), webhook.clone(), "auth.login", now());
    held_delivery.status = DeliveryStatus::Held;
    let planned = Arc::new(vec![vec![], vec![held_delivery]]);
    store.record_with_deliveries(&[settled.clone(), held.clone()], &planned).await.unwrap().unwrap();
    let unfanned: Vec<_> = store.unfanned().await.unwrap().into_iter().map(|e| e.id).collect();
    let waiting = [before.id.clone(), held.id.clone()];
    assert_eq!(unfanned, waiting, "an event with no deliveries is settled too; the held one and the one recorded alone are not");
    store.mark_all_fanned_out(&waiting).await.unwrap();
    assert!(store.unfanned().await.unwrap().is_empty());
}

#[tokio::test]
async fn sqlite_events_are_recorded_with_their_deliveries() {
    events_are_recorded_with_their_deliveries_where_the_store_can(&sqlite().await).await;
}

#[tokio::test]
async fn aws_events_leave_their_deliveries_to_the_stream() {
    events_are_recorded_with_their_deliveries_where_the_store_can(&aws().await).await;
}

async fn events_are_written_once(backend: &Backend) {
    let store = &backend.stores.events;
    // Fanned out from a stream (DynamoDB), an event never waits to be marked.
    let inline = store.fan_out() == FanOut::Inline;
    let first = event("evt_conf_1", "ada");
    assert_eq!(store.record(&first).await.unwrap(), Recorded::New);
    assert_eq!(store.record(&first).await.unwrap(), Recorded::Existing { fanned_out: !inline, same_content: true });
    let other = event("evt_conf_1", "grace");
    assert_eq!(store.record(&other).await.unwrap(), Recorded::Existing { fanned_out: !inline, same_content: false });
    assert_eq!(store.unfanned().await.unwrap().len(), usize::from(inline));
    store.mark_fanned_out(&first.id).await.unwrap();
    assert_eq!(store.record(&first).await.unwrap(), Recorded::Existing { fanned_out: true, same_content: true });
    assert!(store.unfanned().await.unwrap().is_empty());
    let read = store.get(&first.id).await.unwrap().unwrap();
    assert_eq!((read.body.as_str(), read.event_type.as_str()), (first.body.as_str(), "auth.login"));
}

async fn several_events_are_recorded_and_marked_together(backend: &Backend) {
    let store = &backend.stores.events;
    let inline = store.fan_out() == FanOut::Inline;
    let (first, second, third) = (event("evt_all_1", "a"), event("evt_all_2", "b"), event("evt_all_3", "c"));
    store.record(&first).await.unwrap();
    let recorded = store.record_all(&[second.clone(), first.clone(), third.clone()]).await.unwrap();
    let existing = Recorded::Existing { fanned_out: !inline, same_content: true };
    assert_eq!(recorded, [Recorded::New, existing, Recorded::New], "an existing one among new ones is told apart");
    let (fourth, fifth) = (event("evt_all_4", "d"), event("evt_all_5", "e"));
    assert_eq!(store.record_all(&[fourth.clone(), fifth.clone()]).await.unwrap(), [Recorded::New, Recorded::New]);
    store.mark_all_fanned_out(&[second.id, third.id, fourth.id, fifth.id.clone(), fifth.id]).await.unwrap();
    let unfanned: Vec<_> = store.unfanned().await.unwrap().into_iter().map(|e| e.id).collect();
    assert_eq!(unfanned, if inline { vec![first.id] } else { vec![] });
}

async fn erased_events_keep_only_a_marker(backend: &Backend) {
    let store = &backend.stores.events;
    let stored = event("evt_conf_2", "ada.lovelace@example.net");
    store.record(&stored).await.unwrap();
    store.erase(&stored.id).await.unwrap();
    let read = store.get(&stored.id).await.unwrap().unwrap();
    assert!(!read.body.contains("ada.lovelace"), "{}", read.body);
    assert!(read.body.contains("\"erased\":true"));
    let missing = event("evt_conf_missing", "x");
    assert!(matches!(store.erase(&missing.id).await, Err(StoreError::NotFound)));
}

#[tokio::test]
async fn sqlite_events_are_written_once() {
    events_are_written_once(&sqlite().await).await;
}

#[tokio::test]
async fn aws_events_are_written_once() {
    events_are_written_once(&aws().await).await;
}

#[tokio::test]
async fn sqlite_erased_events_keep_only_a_marker() {
    erased_events_keep_only_a_marker(&sqlite().await).await;
}

#[tokio::test]
async fn aws_erased_events_keep_only_a_marker() {
    erased_events_keep_only_a_marker(&aws().await).await;
}

#[tokio::test]
async fn sqlite_several_events_are_recorded_and_marked_together() {
    several_events_are_recorded_and_marked_together(&sqlite().await).await;
}

#[tokio::test]
async fn aws_several_events_are_recorded_and_marked_together() {
    several_events_are_recorded_and_marked_together(&aws().await).await;
}

/// TTL deletes late, so the adapter itself hides what has expired.
#[tokio::test]
async fn aws_expired_events_are_hidden_before_ttl_deletes_them() {
    use hookline_core::adapters::aws::{Dynamo, DynamoDbEventStore};
    use hookline_core::ports::EventStore;
    use hookline_tests::emulator::Emulator;
    let emulator = Emulator::connect().await;
    let db = Dynamo::new(emulator.dynamodb.clone(), &emulator.fresh_table().await);
    let policy = |default| hookline_core::domain::retention::RetentionPolicy { default, ..Default::default() };
    let expired = DynamoDbEventStore::new(db.clone(), policy(chrono::Duration::seconds(-10)));
    let stored = event("evt_expired", "x");
    assert_eq!(expired.record(&stored).await.unwrap(), Recorded::New);
    assert!(expired.get(&stored.id).await.unwrap().is_none(), "an expired event is not read");
    let live = DynamoDbEventStore::new(db, policy(chrono::Duration::days(30)));
    assert_eq!(live.record(&stored).await.unwrap(), Recorded::New, "an expired item does not block its id");
    assert!(live.get(&stored.id).await.unwrap().is_some());
}

/// SQLite purges an event only once none of its deliveries is left (a delivery's page shows its
/// event), whatever the publisher's timestamp says: its id published again stays a duplicate,
/// never a new event whose deliveries would be queued as new while the old ones exist.
/// (DynamoDB expires each item by its own time; its tasks never carry a delivery.)
#[tokio::test]
async fn sqlite_an_event_stays_while_any_of_its_deliveries_does() {
    let backend = sqlite().await;
    let published = json!({"id": "evt_backfilled", "event_type": "auth.login", "timestamp": format_timestamp(now() - Duration::days(40)), "data": {"user_id": "ada"}});
    let old = Event::from_request(serde_json::from_value::<PublishRequest>(published).unwrap(), now(), "conformance").unwrap();
    assert_eq!(backend.stores.events.record(&old).await.unwrap(), Recorded::New);
    let delivery = Delivery::new(old.id.clone(), stored_webhook(&backend).await, "auth.login", now());
    backend.stores.deliveries.create(std::slice::from_ref(&delivery)).await.unwrap();
    let attempt = Attempt {
        number: 1,
        started_at: now(),
        duration_ms: 3,
        status_code: Some(200),
        response_excerpt: None,
        error_kind: None,
        error_detail: None,
        next_attempt_at: None,
    };
    let record = AttemptRecord::new(&delivery, attempt, DeliveryStatus::Succeeded, None);
    backend.stores.deliveries.record_attempt(&delivery.id, &record, now()).await.unwrap();
    let retention = &backend.stores.retention;
    assert_eq!(
        retention.purge(&retention_policy(), now()).await.unwrap(),
        (0, 0),
        "its delivery is new, though the event says 40 days old"
    );
    assert!(matches!(backend.stores.events.record(&old).await.unwrap(), Recorded::Existing { .. }));
    let week_later = now() + Duration::days(8);
    assert_eq!(retention.purge(&retention_policy(), week_later).await.unwrap(), (1, 1), "both go once the delivery is past its 7 days");
}
