//! `DeliveryStore`: idempotent creation, attempts, closing, replay, history, retention.

use chrono::Duration;
use hookline_core::domain::delivery::{Attempt, Delivery, DeliveryStatus};
use hookline_core::domain::ids::{EventId, WebhookId};
use hookline_core::domain::outcome::ErrorKind;
use hookline_core::ports::{AttemptRecord, DeliveryFilter, Reopen, Slots};
use hookline_tests::eventually;

use super::{Backend, aws, now, retention_policy, sqlite, stored_webhook, webhook};

fn delivery(event: &str, webhook: &WebhookId, event_type: &str) -> Delivery {
    Delivery::new(EventId::parse(event).unwrap(), webhook.clone(), event_type, now())
}

fn attempt(number: u32, status: Option<u16>, retry: bool) -> Attempt {
    Attempt {
        number,
        started_at: now(),
        duration_ms: 12,
        status_code: status,
        response_excerpt: Some("body".into()),
        error_kind: (status != Some(200)).then_some(ErrorKind::HttpStatus),
        error_detail: None,
        next_attempt_at: retry.then(|| now() + Duration::seconds(10)),
    }
}

async fn deliveries_record_attempts_and_close(backend: &Backend) {
    let log = &backend.stores.deliveries;
    let webhook = WebhookId::generate(1);
    let first = delivery("evt_d1", &webhook, "auth.login");
    log.create(&[first.clone(), first.clone()]).await.unwrap();
    log.create(std::slice::from_ref(&first)).await.unwrap();
    let filter = DeliveryFilter { limit: 10, webhook_id: Some(webhook.clone()), ..DeliveryFilter::default() };
    assert_eq!(log.list(&filter).await.unwrap().items.len(), 1, "creation is idempotent");
    let other = WebhookId::generate(11);
    let fresh: Vec<Delivery> = (0..30).map(|n| delivery(&format!("evt_new{n}"), &other, "auth.login")).collect();
    log.create_new(&fresh).await.unwrap();
    let filter_other = DeliveryFilter { limit: 100, webhook_id: Some(other), ..DeliveryFilter::default() };
    assert_eq!(log.list(&filter_other).await.unwrap().items.len(), 30, "new deliveries are written in batches");
    let body = Some(r#"{"invoice":"INV-1"}"#.to_owned());
    let transforming = WebhookId::generate(12);
    let transformed = [Delivery { body: body.clone(), ..delivery("evt_t1", &transforming, "invoice.paid") }];
    let again = [Delivery { body: body.clone(), ..delivery("evt_t2", &transforming, "invoice.paid") }];
    log.create_new(&transformed).await.unwrap();
    log.create(&again).await.unwrap();
    for made in [&transformed[0], &again[0]] {
        assert_eq!(log.get(&made.id).await.unwrap().unwrap().body, body, "a transformed body is kept with its delivery");
    }

    let failed = AttemptRecord::new(&first, attempt(1, Some(503), true), DeliveryStatus::Retrying, Some("HTTP 503".into()));
    log.record_attempt(&first.id, &failed, now()).await.unwrap();
    let read = log.get(&first.id).await.unwrap().unwrap();
    assert_eq!((read.status, read.attempts, read.last_status_code), (DeliveryStatus::Retrying, 1, Some(503)));
    assert!(read.next_attempt_at.is_some());
    let done = AttemptRecord::new(&first, attempt(2, Some(200), false), DeliveryStatus::Succeeded, None);
    log.record_attempt(&first.id, &done, now()).await.unwrap();
    let read = log.get(&first.id).await.unwrap().unwrap();
    assert_eq!((read.status, read.attempts, read.next_attempt_at), (DeliveryStatus::Succeeded, 2, None));
    let attempts = log.attempts(&first.id).await.unwrap();
    assert_eq!(attempts.iter().map(|a| a.number).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(attempts[0].error_kind, Some(ErrorKind::HttpStatus));

    log.cancel(&first.id, "too late", now()).await.unwrap();
    assert_eq!(log.get(&first.id).await.unwrap().unwrap().status, DeliveryStatus::Succeeded, "closed deliveries stay closed");
    let open = [delivery("evt_d2", &webhook, "auth.login"), delivery("evt_d3", &webhook, "auth.logout")];
    log.create(&open).await.unwrap();
    assert_eq!(log.cancel_open_for(&webhook, "webhook was deleted", now()).await.unwrap(), 2);
    assert_eq!(log.get(&open[0].id).await.unwrap().unwrap().last_error.as_deref(), Some("webhook was deleted"));
}

async fn a_delivery_is_stored_with_its_first_attempt(backend: &Backend) {
    let log = &backend.stores.deliveries;
    let webhook = stored_webhook(backend).await;
    let body = Some(r#"{"invoice":"INV-2"}"#.to_owned());
    let planned = Delivery { body: body.clone(), ..delivery("evt_f1", &webhook, "invoice.paid") };
    let failed = AttemptRecord::new(&planned, attempt(1, Some(503), true), DeliveryStatus::Retrying, Some("HTTP 503".into()));
    log.store_attempted(&planned, &failed, now()).await.unwrap();
    let read = log.get(&planned.id).await.unwrap().unwrap();
    assert_eq!((read.status, read.attempts, read.last_status_code), (DeliveryStatus::Retrying, 1, Some(503)));
    assert_eq!((read.last_error.as_deref(), read.next_attempt_at.is_some(), &read.body), (Some("HTTP 503"), true, &body));
    assert_eq!((read.event_type.as_str(), read.created_at.timestamp_millis()), ("invoice.paid", planned.created_at.timestamp_millis()));
    let again = AttemptRecord::new(&planned, attempt(1, Some(200), false), DeliveryStatus::Succeeded, None);
    log.store_attempted(&planned, &again, now()).await.unwrap();
    let attempts = log.attempts(&planned.id).await.unwrap();
    assert_eq!(attempts.len(), 1, "the same attempt handed over twice is recorded once: {attempts:?}");
    assert_eq!(attempts[0].response_excerpt.as_deref(), Some("body"));
    let next = AttemptRecord::new(&planned, attempt(2, Some(200), false), DeliveryStatus::Succeeded, None);
    log.record_attempt(&planned.id, &next, now()).await.unwrap();
    assert_eq!(log.get(&planned.id).await.unwrap().unwrap().status, DeliveryStatus::Succeeded, "later attempts append");
    let dead = delivery("evt_f2", &webhook, "invoice.paid");
    let gone = AttemptRecord::new(&dead, attempt(1, Some(410), false), DeliveryStatus::Dead, Some("HTTP 410".into()));
    log.store_attempted(&dead, &gone, now()).await.unwrap();
    assert_eq!(log.get(&dead.id).await.unwrap().unwrap().status, DeliveryStatus::Dead);
    let filter = DeliveryFilter { limit: 10, webhook_id: Some(webhook), ..DeliveryFilter::default() };
    assert_eq!(log.list(&filter).await.unwrap().items.len(), 2, "both are listed under their webhook");
    let everyone = log.list(&DeliveryFilter { limit: 10, ..DeliveryFilter::default() }).await.unwrap().items;
    assert!(everyone.iter().any(|d| d.id == dead.id), "and among everyone's");
}

/// The consumer's success (`record_delivered_soon`): recorded within moments, once.
async fn a_success_recorded_soon_is_recorded_once_within_moments(backend: &Backend) {
    let log = &backend.stores.deliveries;
    let sent = delivery("evt_s1", &WebhookId::generate(13), "auth.login");
    log.create(std::slice::from_ref(&sent)).await.unwrap();
    let done = AttemptRecord::new(&sent, attempt(1, Some(200), false), DeliveryStatus::Succeeded, None);
    for _ in 0..2 {
        log.record_delivered_soon(&sent, &done, now()).await.unwrap();
    }
    let limit = std::time::Duration::from_secs(5);
    let read = eventually("the success to be recorded", limit, || async {
        log.get(&sent.id).await.unwrap().filter(|read| read.status == DeliveryStatus::Succeeded)
    })
    .await;
    assert_eq!((read.attempts, log.attempts(&sent.id).await.unwrap().len()), (1, 1), "a task handed over twice is one attempt");
}

#[tokio::test]
async fn sqlite_a_success_recorded_soon_is_recorded_once_within_moments() {
    a_success_recorded_soon_is_recorded_once_within_moments(&sqlite().await).await;
}

#[tokio::test]
async fn aws_a_success_recorded_soon_is_recorded_once_within_moments() {
    a_success_recorded_soon_is_recorded_once_within_moments(&aws().await).await;
}

#[tokio::test]
async fn sqlite_a_delivery_is_stored_with_its_first_attempt() {
    a_delivery_is_stored_with_its_first_attempt(&sqlite().await).await;
}

#[tokio::test]
async fn aws_a_delivery_is_stored_with_its_first_attempt() {
    a_delivery_is_stored_with_its_first_attempt(&aws().await).await;
}

async fn closed_deliveries_reopen_for_a_replay(backend: &Backend) {
    let log = &backend.stores.deliveries;
    let webhook = WebhookId::generate(2);
    let dead = delivery("evt_r1", &webhook, "auth.login");
    log.create(std::slice::from_ref(&dead)).await.unwrap();
    let last = AttemptRecord::new(&dead, attempt(1, Some(500), false), DeliveryStatus::Dead, Some("HTTP 500".into()));
    log.record_attempt(&dead.id, &last, now()).await.unwrap();
    let far_future = Some(now() + Duration::days(1));
    assert!(log.reopen(&Reopen::DeadOf { webhook: webhook.clone(), since: far_future }, now()).await.unwrap().is_empty());
    let reopened = log.reopen(&Reopen::DeadOf { webhook: webhook.clone(), since: None }, now()).await.unwrap();
    assert_eq!(reopened.len(), 1);
    assert_eq!((reopened[0].status, reopened[0].attempts_before_replay), (DeliveryStatus::Pending, 1));
    assert!(log.reopen(&Reopen::One(dead.id.clone()), now()).await.unwrap().is_empty(), "an open delivery is not reopened");
}

async fn held_deliveries_are_released_oldest_first_into_their_slots(backend: &Backend) {
    let log = &backend.stores.deliveries;
    let webhook = WebhookId::generate(3);
    let mut created = Vec::new();
    for n in 0..5 {
        let mut held = delivery(&format!("evt_h{n}"), &webhook, "auth.login").held();
        held.created_at = now() + Duration::milliseconds(n);
        created.push(held);
    }
    let (new, again) = created.split_at(3);
    log.create_new(new).await.unwrap();
    log.create(again).await.unwrap();
    let open = delivery("evt_h5", &webhook, "auth.login");
    log.create(std::slice::from_ref(&open)).await.unwrap();
    assert!(log.hold(&open, now()).await.unwrap(), "an open delivery is held");
    assert!(!log.hold(&open, now()).await.unwrap(), "only once");
    assert_eq!(log.get(&open.id).await.unwrap().unwrap().status, DeliveryStatus::Held);

    let slots = Slots { first_at: now(), interval: std::time::Duration::from_millis(100) };
    let first = log.release_held(&webhook, &slots, 2).await.unwrap();
    assert_eq!(first.iter().map(|d| d.id.clone()).collect::<Vec<_>>(), [created[0].id.clone(), created[1].id.clone()], "oldest first");
    assert_eq!(
        first.iter().map(|d| (d.status, d.next_attempt_at)).collect::<Vec<_>>(),
        [(DeliveryStatus::Pending, Some(slots.nth(0))), (DeliveryStatus::Pending, Some(slots.nth(1)))]
    );
    let rest = log.release_held(&webhook, &slots, 10).await.unwrap();
    assert_eq!(rest.len(), 4, "the rest, the one held after creation included");
    assert!(log.release_held(&webhook, &slots, 10).await.unwrap().is_empty(), "released once");

    let other = WebhookId::generate(4);
    let discarded = [delivery("evt_h6", &other, "auth.login").held(), delivery("evt_h7", &other, "auth.login").held()];
    log.create(&discarded).await.unwrap();
    assert_eq!(log.cancel_held(&other, "enabled without its held deliveries", now()).await.unwrap(), 2);
    let read = log.get(&discarded[0].id).await.unwrap().unwrap();
    assert_eq!((read.status, read.last_error.as_deref()), (DeliveryStatus::Cancelled, Some("enabled without its held deliveries")));
    assert!(log.release_held(&other, &slots, 10).await.unwrap().is_empty());
    let deleted = delivery("evt_h8", &other, "auth.login").held();
    log.create(std::slice::from_ref(&deleted)).await.unwrap();
    assert_eq!(log.cancel_open_for(&other, "webhook was deleted", now()).await.unwrap(), 1, "deleting a webhook cancels what it held");
}

async fn history_filters_retention_and_health(backend: &Backend) {
    let log = &backend.stores.deliveries;
    // Stored webhooks, as every delivery has: an erasure finds the event's deliveries from them.
    let (stored, gone) = (webhook(&["auth.*"], true), webhook(&["auth.*"], true));
    for subscriber in [&stored, &gone] {
        backend.stores.subscriptions.insert(subscriber).await.unwrap();
    }
    let webhook = stored.id;
    let login = delivery("evt_h1", &webhook, "auth.login");
    let logout = delivery("evt_h2", &webhook, "auth.logout");
    let logout_gone = delivery("evt_h2", &gone.id, "auth.logout");
    log.create(&[login.clone(), logout.clone(), logout_gone.clone()]).await.unwrap();
    let dead = AttemptRecord::new(&login, attempt(1, Some(500), false), DeliveryStatus::Dead, None);
    log.record_attempt(&login.id, &dead, now()).await.unwrap();
    let by = |status, event_type: Option<&str>| DeliveryFilter {
        limit: 10,
        webhook_id: Some(webhook.clone()),
        status,
        event_type: event_type.map(String::from),
        ..DeliveryFilter::default()
    };
    assert_eq!(log.list(&by(Some(DeliveryStatus::Dead), None)).await.unwrap().items.len(), 1);
    assert_eq!(log.list(&by(None, Some("auth.logout"))).await.unwrap().items.len(), 1);

    backend.stores.subscriptions.delete(&gone.id).await.unwrap();
    log.forget_event(&logout.event_id, now()).await.unwrap();
    assert_eq!(log.get(&logout.id).await.unwrap().unwrap().status, DeliveryStatus::Cancelled);
    assert_eq!(log.get(&logout_gone.id).await.unwrap().unwrap().status, DeliveryStatus::Cancelled, "also a deleted webhook's");
    assert_eq!(log.get(&login.id).await.unwrap().unwrap().status, DeliveryStatus::Dead, "another event's stays");
    let policy = retention_policy();
    let month_later = now() + Duration::days(31);
    let purged = backend.stores.retention.purge(&policy, month_later).await.unwrap().0;
    assert_eq!(purged, 2, "the cancelled deliveries are past the 30 days; the dead one waits for review");
    assert!(log.get(&logout.id).await.unwrap().is_none());
    assert!(log.get(&login.id).await.unwrap().is_some());
    assert!(log.acknowledge(&login.id, now()).await.unwrap());
    assert!(!log.acknowledge(&login.id, now()).await.unwrap(), "once");
    assert!(!log.acknowledge(&logout.id, now()).await.unwrap(), "only a dead delivery");
    assert_eq!(backend.stores.retention.purge(&policy, month_later).await.unwrap().0, 1, "reviewed, it follows its type's retention");
    assert!(log.get(&login.id).await.unwrap().is_none());
    assert!(log.attempts(&login.id).await.unwrap().is_empty());
}

/// Every page of `filter`'s listing, `limit` at a time: the ids in the order given.
async fn every_page(backend: &Backend, mut filter: DeliveryFilter) -> Vec<String> {
    let mut ids = Vec::new();
    loop {
        let page = backend.stores.deliveries.list(&filter).await.unwrap();
        assert!(page.items.len() <= filter.limit);
        ids.extend(page.items.iter().map(|d| d.id.as_str().to_owned()));
        match page.next_cursor {
            Some(cursor) => filter.cursor = Some(cursor),
            None => return ids,
        }
    }
}

/// Listings page newest first with nothing skipped or repeated, whatever partitions (webhooks,
/// shards, days) the deliveries are spread over; a deleted webhook's stay listed.
async fn listings_page_newest_first_across_days(backend: &Backend) {
    let (busy, quiet) = (stored_webhook(backend).await, stored_webhook(backend).await);
    let mut made = Vec::new();
    for n in (0..45).rev() {
        let webhook = if n % 3 == 0 { &quiet } else { &busy };
        let mut old = delivery(&format!("evt_page{n}"), webhook, "customer.created");
        old.created_at -= Duration::hours(2 * n);
        old.updated_at = old.created_at;
        made.push(old);
    }
    for one in &made {
        backend.stores.deliveries.create(std::slice::from_ref(one)).await.unwrap();
    }
    let newest_first = |of: Option<&WebhookId>| -> Vec<String> {
        made.iter().rev().filter(|d| of.is_none_or(|w| &d.webhook_id == w)).map(|d| d.id.as_str().to_owned()).collect()
    };
    let all = DeliveryFilter { limit: 7, ..DeliveryFilter::default() };
    assert_eq!(every_page(backend, all.clone()).await, newest_first(None), "all deliveries, over four days");
    backend.stores.subscriptions.delete(&quiet).await.unwrap();
    assert_eq!(every_page(backend, all.clone()).await, newest_first(None), "a deleted webhook's too");
    let of_quiet = DeliveryFilter { webhook_id: Some(quiet.clone()), ..all.clone() };
    assert_eq!(every_page(backend, of_quiet).await, newest_first(Some(&quiet)));
    let of_busy = DeliveryFilter { webhook_id: Some(busy.clone()), ..all.clone() };
    assert_eq!(every_page(backend, of_busy).await, newest_first(Some(&busy)));
    let since = DeliveryFilter { since: Some(now() - Duration::hours(31)), limit: 4, ..all.clone() };
    assert_eq!(every_page(backend, since).await, newest_first(None)[..16].to_vec(), "since is a bound, inclusive");
    let dead = DeliveryFilter { status: Some(DeliveryStatus::Dead), ..all };
    assert!(every_page(backend, dead).await.is_empty());
}

/// A delivery of `event_type` created `days` ago, closed as `status`.
async fn aged(backend: &Backend, event: &str, webhook: &WebhookId, event_type: &str, days: i64, status: DeliveryStatus) -> Delivery {
    let log = &backend.stores.deliveries;
    let mut old = delivery(event, webhook, event_type);
    old.created_at -= Duration::days(days);
    log.create(std::slice::from_ref(&old)).await.unwrap();
    let last = AttemptRecord::new(&old, attempt(1, Some(500), false), status, Some("HTTP 500".into()));
    log.record_attempt(&old.id, &last, now()).await.unwrap();
    old
}

async fn retention_follows_the_event_type_and_dead_letters_wait_for_review(backend: &Backend) {
    let log = &backend.stores.deliveries;
    let webhook = stored_webhook(backend).await;
    let policy = retention_policy();
    let login = aged(backend, "evt_t1", &webhook, "auth.login", 10, DeliveryStatus::Succeeded).await;
    let invoice = aged(backend, "evt_t2", &webhook, "invoice.paid", 10, DeliveryStatus::Succeeded).await;
    let dead_login = aged(backend, "evt_t3", &webhook, "auth.login", 10, DeliveryStatus::Dead).await;
    let reviewed = aged(backend, "evt_t4", &webhook, "auth.logout", 10, DeliveryStatus::Dead).await;
    log.acknowledge(&reviewed.id, now()).await.unwrap();
    let forgotten = aged(backend, "evt_t5", &webhook, "invoice.paid", 95, DeliveryStatus::Dead).await;
    let purged = backend.stores.retention.purge(&policy, now()).await.unwrap().0;
    let kept = |d: &Delivery| {
        let id = d.id.clone();
        async move { log.get(&id).await.unwrap().is_some() }
    };
    assert_eq!(
        (kept(&login).await, kept(&invoice).await, kept(&dead_login).await, kept(&reviewed).await, kept(&forgotten).await),
        (false, true, true, false, false),
        "auth.* is kept 7 days, the rest 30; dead ones until reviewed, at most 90 days"
    );
    assert_eq!(purged, 3);
}

#[tokio::test]
async fn sqlite_deliveries_record_attempts_and_close() {
    deliveries_record_attempts_and_close(&sqlite().await).await;
}

#[tokio::test]
async fn aws_deliveries_record_attempts_and_close() {
    deliveries_record_attempts_and_close(&aws().await).await;
}

#[tokio::test]
async fn sqlite_closed_deliveries_reopen_for_a_replay() {
    closed_deliveries_reopen_for_a_replay(&sqlite().await).await;
}

#[tokio::test]
async fn aws_closed_deliveries_reopen_for_a_replay() {
    closed_deliveries_reopen_for_a_replay(&aws().await).await;
}

#[tokio::test]
async fn sqlite_history_filters_retention_and_health() {
    history_filters_retention_and_health(&sqlite().await).await;
}

#[tokio::test]
async fn aws_history_filters_retention_and_health() {
    history_filters_retention_and_health(&aws().await).await;
}

#[tokio::test]
async fn sqlite_listings_page_newest_first_across_days() {
    listings_page_newest_first_across_days(&sqlite().await).await;
}

#[tokio::test]
async fn aws_listings_page_newest_first_across_days() {
    listings_page_newest_first_across_days(&aws().await).await;
}

#[tokio::test]
async fn sqlite_held_deliveries_are_released_oldest_first_into_their_slots() {
    held_deliveries_are_released_oldest_first_into_their_slots(&sqlite().await).await;
}

#[tokio::test]
async fn aws_held_deliveries_are_released_oldest_first_into_their_slots() {
    held_deliveries_are_released_oldest_first_into_their_slots(&aws().await).await;
}

/// A held delivery created again (the stream hands its fan-out over again after it died between
/// writing the delivery and its marker) gets its marker, so it is released.
#[tokio::test]
async fn aws_a_held_delivery_created_again_is_released() {
    let (backend, emulator, table) = super::aws_with_table().await;
    let (log, webhook) = (&backend.stores.deliveries, WebhookId::generate(7));
    let held = delivery("evt_held_again", &webhook, "auth.login").held();
    log.create(std::slice::from_ref(&held)).await.unwrap();
    let markers = emulator.dynamodb.query().table_name(&table).key_condition_expression("PK = :pk");
    let markers = markers.expression_attribute_values(":pk", aws_sdk_dynamodb::types::AttributeValue::S(format!("HELD#{webhook}")));
    let mut marker = markers.send().await.unwrap().items()[0].clone();
    marker.retain(|name, _| name == "PK" || name == "SK");
    emulator.dynamodb.delete_item().table_name(&table).set_key(Some(marker)).send().await.unwrap();
    log.create(std::slice::from_ref(&held)).await.unwrap();
    let released = log.release_held(&webhook, &Slots { first_at: now(), interval: std::time::Duration::from_secs(1) }, 10).await.unwrap();
    assert_eq!(released.iter().map(|d| d.id.clone()).collect::<Vec<_>>(), [held.id]);
}

#[tokio::test]
async fn sqlite_retention_follows_the_event_type_and_dead_letters_wait_for_review() {
    retention_follows_the_event_type_and_dead_letters_wait_for_review(&sqlite().await).await;
}

#[tokio::test]
async fn aws_retention_follows_the_event_type_and_dead_letters_wait_for_review() {
    retention_follows_the_event_type_and_dead_letters_wait_for_review(&aws().await).await;
}
