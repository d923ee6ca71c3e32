//! DynamoDB only: items written before the keys that every delivery and event writes were
//! sharded (the delivery index's webhook partitions, the partition of events not yet
//! fanned out, metrics rollups sharded over four by another hash), and events waiting to be
//! fanned out from before the stream did it, are still read after the upgrade, in order among
//! the new ones.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Duration;
use hookline_core::domain::delivery::Delivery;
use hookline_core::domain::ids::EventId;
use hookline_core::domain::metrics::{Level, RollupSelection};
use hookline_core::ports::DeliveryFilter;
use hookline_tests::emulator::Emulator;

use super::{aws_with_table, event, now, stored_webhook};

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// Sets attributes of the item `pk` / `META` as the version before sharding wrote them.
async fn rewrite(emulator: &Emulator, table: &str, pk: String, attributes: &[(&str, String)]) {
    let mut request = emulator.dynamodb.update_item().table_name(table).key("PK", s(pk)).key("SK", s("META"));
    let mut sets = Vec::new();
    for (name, value) in attributes {
        sets.push(format!("{name} = :{name}"));
        request = request.expression_attribute_values(format!(":{name}"), s(value));
    }
    request.update_expression(format!("SET {}", sets.join(", "))).send().await.unwrap();
}

#[tokio::test]
async fn aws_items_under_the_unsharded_keys_are_still_read() {
    let (backend, emulator, table) = aws_with_table().await;
    let webhook = stored_webhook(&backend).await;
    let made: Vec<Delivery> = (0..3)
        .rev()
        .map(|n| {
            let mut delivery = Delivery::new(EventId::parse(&format!("evt_old{n}")).unwrap(), webhook.clone(), "customer.created", now());
            delivery.created_at -= Duration::minutes(n);
            delivery
        })
        .collect();
    for delivery in &made {
        backend.stores.deliveries.create(std::slice::from_ref(delivery)).await.unwrap();
    }
    let old = &made[1];
    let day = format!("DAY#{}", old.created_at.format("%Y-%m-%d"));
    rewrite(&emulator, &table, format!("DLV#{}", old.id), &[("GSI1PK", day), ("GSI2PK", format!("WHD#{webhook}"))]).await;
    let newest_first: Vec<_> = made.iter().rev().map(|d| d.id.clone()).collect();
    for filter in [DeliveryFilter::default(), DeliveryFilter { webhook_id: Some(webhook.clone()), ..DeliveryFilter::default() }] {
        let listed = backend.stores.deliveries.list(&DeliveryFilter { limit: 2, ..filter.clone() }).await.unwrap();
        let rest = backend.stores.deliveries.list(&DeliveryFilter { limit: 2, cursor: listed.next_cursor, ..filter }).await.unwrap();
        let ids: Vec<_> = listed.items.iter().chain(&rest.items).map(|d| d.id.clone()).collect();
        assert_eq!(ids, newest_first);
    }

    // Written by versions that fanned out inline, before the stream: waiting in the unsharded
    // partition (before sharding) and in a sharded one (after).
    let mut waiting = Vec::new();
    for (id, partition) in [("evt_unfanned_old", "UNFANNED"), ("evt_unfanned_sharded", "UNFANNED#77")] {
        let event = event(id, "u1");
        backend.stores.events.record(&event).await.unwrap();
        let waits = [("GSI1PK", partition.to_owned()), ("GSI1SK", format!("0#{}", event.id))];
        rewrite(&emulator, &table, format!("EVT#{}", event.id), &waits).await;
        waiting.push(event.id);
    }
    let mut unfanned: Vec<_> = backend.stores.events.unfanned().await.unwrap().into_iter().map(|e| e.id).collect();
    unfanned.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    assert_eq!(unfanned, waiting);
    backend.stores.events.mark_all_fanned_out(&waiting).await.unwrap();
    assert!(backend.stores.events.unfanned().await.unwrap().is_empty());

    // Rollups were sharded over four by this hash of the webhook id.
    let legacy = webhook.as_str().bytes().fold(0u32, |hash, byte| hash.wrapping_mul(31).wrapping_add(u32::from(byte))) % 4;
    let minute = now() - Duration::minutes(5);
    let start = minute.timestamp() - minute.timestamp() % 60;
    let item = [
        ("PK", s(format!("MET#m#{}#{legacy}", minute.format("%Y-%m-%d")))),
        ("SK", s(format!("{start:010}#{webhook}#customer.created"))),
        ("wh", s(webhook.as_str())),
        ("et", s("customer.created")),
        ("t", AttributeValue::N(start.to_string())),
        ("a", AttributeValue::N("5".into())),
    ];
    let mut put = emulator.dynamodb.put_item().table_name(&table);
    for (name, value) in item {
        put = put.item(name, value);
    }
    put.send().await.unwrap();
    let selection = RollupSelection {
        level: Level::Minute,
        from: now() - Duration::minutes(10),
        until: now(),
        webhook_id: Some(webhook),
        event_type: None,
    };
    let rollups = backend.stores.metrics.rollups(&selection).await.unwrap();
    assert_eq!(rollups.iter().map(|(_, counts)| counts.attempts).sum::<u64>(), 5);
}
