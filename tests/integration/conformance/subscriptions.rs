//! `SubscriptionStore`: round trips, listing with filters and cursors, fan-out matching.

use hookline_core::ports::{StoreError, WebhookFilter};

use super::{Backend, aws, sqlite, webhook};

async fn subscriptions_round_trip_and_match(backend: &Backend) {
    let store = &backend.stores.subscriptions;
    let customers = webhook(&["customer.*"], true);
    let everything = webhook(&["*"], true);
    let off = webhook(&["customer.created"], false);
    for w in [&customers, &everything, &off] {
        store.insert(w).await.unwrap();
    }
    let read = store.get(&customers.id).await.unwrap().unwrap();
    assert_eq!(read.secret, customers.secret);
    assert_eq!((read.name.as_str(), read.url.as_str()), (customers.name.as_str(), customers.url.as_str()));
    assert_eq!(
        (read.events.clone(), read.headers.clone(), read.retry_policy.clone()),
        (customers.events.clone(), customers.headers.clone(), customers.retry_policy.clone())
    );
    assert_eq!((read.created_at, read.description.clone()), (customers.created_at, customers.description.clone()));
    assert_eq!(read.rate_limit_per_sec, Some(20.0));
    assert_eq!(read.signature, customers.signature);
    let indexed = store.matching("customer.created").await.unwrap().into_iter().find(|w| w.id == customers.id).unwrap();
    assert_eq!(indexed.signature, customers.signature, "fan-out reads the profile too");
    assert_eq!(indexed.filter.as_ref().map(|f| f.source()), Some("data.amount > 500.0"), "and the filter");
    assert_eq!(indexed.transform.as_ref().map(|t| t.source()), Some(r#"{"amount": data.amount}"#), "and the transform");
    assert!(matches!(store.insert(&customers).await, Err(StoreError::Conflict(_))));

    let mut matching: Vec<_> = store.matching("customer.created").await.unwrap().into_iter().map(|w| w.id).collect();
    matching.sort();
    let mut expected = vec![customers.id.clone(), everything.id.clone(), off.id.clone()];
    expected.sort();
    assert_eq!(matching, expected, "subscribed, in any state (a paused one's deliveries are held)");
    assert_eq!(store.matching("invoice.paid").await.unwrap().len(), 1);

    let mut renamed = customers.clone();
    renamed.name = "renamed".into();
    store.replace(&renamed).await.unwrap();
    assert_eq!(store.get(&customers.id).await.unwrap().unwrap().name, "renamed");
    store.delete(&off.id).await.unwrap();
    assert!(store.get(&off.id).await.unwrap().is_none());
    assert!(matches!(store.delete(&off.id).await, Err(StoreError::NotFound)));
    assert!(matches!(store.replace(&off).await, Err(StoreError::NotFound)));
}

async fn subscriptions_page_with_filters(backend: &Backend) {
    let store = &backend.stores.subscriptions;
    for n in 0..5 {
        store.insert(&webhook(if n % 2 == 0 { &["invoice.*"] } else { &["auth.*"] }, n != 4)).await.unwrap();
    }
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = store.list(&WebhookFilter { limit: 2, cursor, ..WebhookFilter::default() }).await.unwrap();
        seen.extend(page.items.into_iter().map(|w| w.id));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5);
    let invoices = WebhookFilter { limit: 10, event_type: Some("invoice.paid".into()), ..WebhookFilter::default() };
    assert_eq!(store.list(&invoices).await.unwrap().items.len(), 3);
    let inactive = WebhookFilter { limit: 10, is_active: Some(false), ..WebhookFilter::default() };
    assert_eq!(store.list(&inactive).await.unwrap().items.len(), 1);
    let forged = WebhookFilter { limit: 10, cursor: Some("not-ours".into()), ..WebhookFilter::default() };
    assert!(matches!(store.list(&forged).await, Err(StoreError::InvalidCursor)));
}

#[tokio::test]
async fn sqlite_subscriptions_round_trip_and_match() {
    subscriptions_round_trip_and_match(&sqlite().await).await;
}

#[tokio::test]
async fn aws_subscriptions_round_trip_and_match() {
    subscriptions_round_trip_and_match(&aws().await).await;
}

#[tokio::test]
async fn sqlite_subscriptions_page_with_filters() {
    subscriptions_page_with_filters(&sqlite().await).await;
}

#[tokio::test]
async fn aws_subscriptions_page_with_filters() {
    subscriptions_page_with_filters(&aws().await).await;
}
