//! The queue index: claims in due order per webhook within each allowance, leases, copies of
//! stored deliveries, and its room: overflow, turns, shares, and copies that may no longer hold.

use super::*;

fn task(n: u32, webhook: &WebhookId) -> DeliveryTask {
    let event = EventId::parse(&format!("evt_i{n}")).unwrap();
    DeliveryTask { delivery_id: DeliveryId::for_pair(&event, webhook), webhook_id: webhook.clone(), event_id: event, carried: None }
}

fn limits(max: usize, per_webhook: usize, in_flight: &HashMap<WebhookId, usize>) -> ClaimLimits<'_> {
    ClaimLimits { max, per_webhook, in_flight }
}

#[test]
fn a_webhook_at_its_cap_does_not_hide_the_tasks_of_others_behind_it() {
    let (busy, idle) = (WebhookId::generate(1), WebhookId::generate(2));
    let mut index = QueueIndex::default();
    for n in 0..1000 {
        index.add(task(n, &busy), 10);
    }
    index.add(task(5000, &idle), 20);
    let in_flight = HashMap::from([(busy, 4)]);
    let claimed = index.claim(100, &limits(10, 4, &in_flight), 200, "r");
    assert_eq!(claimed.iter().map(|t| &t.webhook_id).collect::<Vec<_>>(), [&idle]);
    assert_eq!(index.len(), 1001);
}

#[test]
fn a_claim_takes_webhooks_in_the_order_their_heads_came_due_each_up_to_its_room() {
    let webhooks: Vec<WebhookId> = (1..=5).map(WebhookId::generate).collect();
    let mut index = QueueIndex::default();
    for n in 0..3 {
        for (w, webhook) in webhooks.iter().enumerate() {
            index.add(task(10 * n + u32::try_from(w).unwrap(), webhook), 10);
        }
    }
    let in_flight = HashMap::from([(webhooks[0].clone(), 2)]);
    let taken = |claimed: Vec<DeliveryTask>| claimed.into_iter().map(|t| t.event_id.to_string()).collect::<Vec<_>>();
    assert_eq!(taken(index.claim(20, &limits(4, 2, &in_flight), 100, "a")), ["evt_i1", "evt_i11", "evt_i2", "evt_i12"]);
    assert_eq!(taken(index.claim(20, &limits(1, 2, &in_flight), 100, "b")), ["evt_i3"]);
    assert_eq!(index.len(), 15);
}

#[test]
fn tasks_come_out_oldest_first_and_not_before_they_are_visible() {
    let webhook = WebhookId::generate(1);
    let mut index = QueueIndex::default();
    index.add(task(1, &webhook), 30);
    index.add(task(2, &webhook), 10);
    index.add(task(3, &webhook), 50);
    let none = HashMap::new();
    let claimed = index.claim(40, &limits(10, 10, &none), 100, "r");
    assert_eq!(claimed.iter().map(|t| t.event_id.as_str()).collect::<Vec<_>>(), ["evt_i2", "evt_i1"]);
    assert_eq!(index.next_visible(), Some(50));
    assert_eq!(index.oldest_due(40), None);
    assert_eq!(index.oldest_due(60), Some(50));
}

#[test]
fn an_expired_lease_makes_its_task_visible_and_its_receipt_stale() {
    let webhook = WebhookId::generate(1);
    let mut index = QueueIndex::default();
    index.add(task(1, &webhook), 0);
    let none = HashMap::new();
    let first = index.claim(0, &limits(10, 10, &none), 100, "a");
    assert!(!index.add(first[0].clone(), 0), "a claimed delivery is not queued twice");
    assert!(index.claim(99, &limits(10, 10, &none), 200, "b").is_empty());
    let again = index.claim(100, &limits(10, 10, &none), 200, "c");
    assert_eq!(again, first);
    assert!(index.release(&first[0].delivery_id, "a").is_none(), "the expired receipt settles nothing");
    assert_eq!(index.release(&first[0].delivery_id, "c"), Some(first[0].clone()));
    assert_eq!(index.len(), 0);
}

#[test]
fn tasks_that_share_an_event_id_come_out_with_their_own_ids() {
    let (a, b) = (WebhookId::generate(1), WebhookId::generate(2));
    let mut index = QueueIndex::default();
    let added = [task(1, &a), task(1, &b), task(2, &a), task(1, &a), task(2, &b)];
    for (at, task) in added.iter().enumerate() {
        index.add(task.clone(), i64::try_from(at).unwrap());
    }
    assert_eq!(index.len(), 4, "the same delivery is queued once");
    let none = HashMap::new();
    let mut claimed = index.claim(10, &limits(10, 10, &none), 100, "r");
    claimed.sort_by(|x, y| x.delivery_id.as_str().cmp(y.delivery_id.as_str()));
    let mut expected = vec![task(1, &a), task(1, &b), task(2, &a), task(2, &b)];
    expected.sort_by(|x, y| x.delivery_id.as_str().cmp(y.delivery_id.as_str()));
    assert_eq!(claimed, expected);
}

#[test]
fn a_copy_of_a_stored_delivery_comes_out_of_the_first_claim_only() {
    use crate::domain::delivery::Delivery;
    let (a, b) = (WebhookId::generate(1), WebhookId::generate(2));
    let event = EventId::parse("evt_i1").unwrap();
    let created_at = chrono::DateTime::from_timestamp(1_700_000_000, 123_456_789).unwrap();
    let stored = |webhook: &WebhookId| DeliveryTask::of_stored(&Delivery::new(event.clone(), webhook.clone(), "invoice.paid", created_at));
    let mut index = QueueIndex::default();
    for task in [stored(&a), stored(&b), DeliveryTask::carrying(&Delivery::new(event.clone(), a.clone(), "x", created_at)).unwrap()] {
        index.add(task, 0);
    }
    index.drop_carried(&stored(&b).delivery_id);
    let none = HashMap::new();
    let claimed = index.claim(0, &limits(10, 10, &none), 100, "r");
    let copies: Vec<_> = claimed.iter().map(|t| t.stored_delivery().map(|d| (d.webhook_id, d.created_at.timestamp_millis()))).collect();
    assert_eq!(copies, [Some((a, 1_700_000_000_123)), None], "b's copy was dropped; one task per delivery");
    assert_eq!(claimed[0].carried.as_ref().unwrap().created_at.timestamp_subsec_nanos(), 123_000_000, "to the store's millisecond");
    assert!(index.release(&claimed[1].delivery_id, "r").is_some_and(|t| t.carried.is_none()));
    let expired = index.claim(100, &limits(10, 10, &none), 200, "s");
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].carried, None, "a lease that ran out gives the task back without its copy");
}

#[test]
fn forgetting_a_webhook_or_an_event_removes_only_their_waiting_tasks() {
    let (a, b) = (WebhookId::generate(1), WebhookId::generate(2));
    let mut index = QueueIndex::default();
    for n in 0..3 {
        index.add(task(n, &a), i64::from(n));
        index.add(task(n, &b), i64::from(n));
    }
    index.forget_webhook(&a);
    index.forget_event(&EventId::parse("evt_i0").unwrap());
    assert_eq!(index.len(), 2);
    let none = HashMap::new();
    let claimed = index.claim(10, &limits(10, 10, &none), 100, "r");
    assert_eq!(claimed.iter().map(|t| t.event_id.as_str()).collect::<Vec<_>>(), ["evt_i1", "evt_i2"]);
    assert!(claimed.iter().all(|t| t.webhook_id == b));
}

/// The pending delivery of event `n` to `webhook`, as stored.
fn delivery(n: u32, webhook: &WebhookId) -> crate::domain::delivery::Delivery {
    let created_at = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
    crate::domain::delivery::Delivery::new(EventId::parse(&format!("evt_i{n}")).unwrap(), webhook.clone(), "x", created_at)
}

/// The task of `delivery(n, webhook)`, carrying it as stored.
fn stored(n: u32, webhook: &WebhookId) -> DeliveryTask {
    DeliveryTask::of_stored(&delivery(n, webhook))
}

/// Claims one task at a time until none is left, releasing each: the event of each, in order.
fn drain(index: &mut QueueIndex, in_flight: &HashMap<WebhookId, usize>) -> Vec<String> {
    let mut taken = Vec::new();
    for round in 0.. {
        let claimed = index.claim(100, &limits(1, 10, in_flight), 200, &format!("r{round}"));
        let Some(task) = claimed.into_iter().next() else { break };
        assert!(index.release(&task.delivery_id, &format!("r{round}")).is_some());
        taken.push(task.event_id.to_string());
    }
    taken
}

/// Claims and releases everything for `rounds` claims: each task's event, and whether it came
/// with a copy of its delivery.
fn copies_out(index: &mut QueueIndex, rounds: usize) -> Vec<(String, bool)> {
    let none = HashMap::new();
    let mut out = Vec::new();
    for round in 0..rounds {
        let receipt = format!("r{round}");
        for task in index.claim(100, &limits(10, 10, &none), 200, &receipt) {
            index.release(&task.delivery_id, &receipt);
            out.push((task.event_id.to_string(), task.carried.is_some()));
        }
    }
    out
}

fn events(numbers: impl IntoIterator<Item = u32>) -> Vec<String> {
    numbers.into_iter().map(|n| format!("evt_i{n}")).collect()
}

#[test]
fn new_tasks_past_the_room_overflow_and_come_in_oldest_first_as_claims_make_room() {
    let webhook = WebhookId::generate(1);
    let mut index = QueueIndex::with_room(Room { tasks: 3, per_webhook: 3, own_copies: 0 });
    for n in 0..10 {
        assert!(index.offer(task(n, &webhook), i64::from(n), true));
    }
    assert_eq!((index.len(), index.waiting.len()), (10, 3), "seven overflow");
    assert_eq!(index.oldest_due(100), Some(0));
    assert_eq!(index.next_visible(), Some(0));
    assert!(!index.offer(task(1, &webhook), 50, true), "a task in the index is not queued twice");
    assert_eq!(drain(&mut index, &HashMap::new()), events(0..10));
    assert_eq!(index.len(), 0);
}

#[test]
fn a_webhook_at_its_share_leaves_the_room_to_the_others() {
    let (slow, quick) = (WebhookId::generate(1), WebhookId::generate(2));
    let mut index = QueueIndex::with_room(Room { tasks: 4, per_webhook: 2, own_copies: 0 });
    for n in 0..6 {
        index.offer(task(n, &slow), 0, true);
    }
    for n in 10..12 {
        index.offer(task(n, &quick), 1, true);
    }
    assert_eq!(index.waiting.len(), 4, "two of each webhook");
    let at_cap = HashMap::from([(slow, 10)]);
    assert_eq!(drain(&mut index, &at_cap), events(10..12));
    assert_eq!(index.len(), 6);
    assert_eq!(drain(&mut index, &HashMap::new()), events(0..6));
}

#[test]
fn webhooks_with_overflowing_tasks_take_turns_coming_in() {
    let (a, b) = (WebhookId::generate(1), WebhookId::generate(2));
    let mut index = QueueIndex::with_room(Room { tasks: 1, per_webhook: 1, own_copies: 0 });
    for n in 0..3 {
        index.offer(task(n, &a), 0, true);
    }
    for n in 10..13 {
        index.offer(task(n, &b), 0, true);
    }
    assert_eq!(drain(&mut index, &HashMap::new()), events([0, 1, 10, 2, 11, 12]));
}

#[test]
fn a_task_offered_twice_while_overflowing_goes_out_once_while_the_first_is_queued() {
    let webhook = WebhookId::generate(1);
    let mut index = QueueIndex::with_room(Room { tasks: 1, per_webhook: 1, own_copies: 0 });
    for n in [0, 1, 2, 1] {
        assert!(index.offer(task(n, &webhook), 0, true));
    }
    let first = index.claim(100, &limits(10, 10, &HashMap::new()), 200, "a");
    let second = index.claim(100, &limits(10, 10, &HashMap::new()), 200, "b");
    let third = index.claim(100, &limits(10, 10, &HashMap::new()), 200, "c");
    let taken: Vec<_> = [first, second, third].concat().into_iter().map(|t| t.event_id.to_string()).collect();
    assert_eq!(taken, events(0..3), "the second copy of evt_i1 finds it claimed");
    assert!(index.claim(100, &limits(10, 10, &HashMap::new()), 200, "d").is_empty());
    assert_eq!(index.len(), 3, "the three leases");
}

#[test]
fn an_overflowing_task_whose_delivery_changed_comes_in_without_its_copy() {
    let webhook = WebhookId::generate(1);
    let mut index = QueueIndex::with_room(Room { tasks: 1, per_webhook: 1, own_copies: 0 });
    for n in 0..3 {
        index.offer(stored(n, &webhook), 0, true);
    }
    index.drop_carried(&stored(1, &webhook).delivery_id);
    let copies: Vec<bool> = (0..3)
        .map(|round| {
            let claimed = index.claim(100, &limits(10, 10, &HashMap::new()), 200, &format!("r{round}"));
            claimed[0].carried.is_some()
        })
        .collect();
    assert_eq!(copies, [true, false, true]);
}

#[test]
fn forgetting_a_webhook_or_an_event_takes_their_overflowing_tasks_too() {
    let (a, b) = (WebhookId::generate(1), WebhookId::generate(2));
    let mut index = QueueIndex::with_room(Room { tasks: 1, per_webhook: 1, own_copies: 0 });
    for n in 0..3 {
        index.offer(task(n, &a), 0, true);
        index.offer(task(n, &b), 0, true);
    }
    index.forget_webhook(&a);
    index.forget_event(&EventId::parse("evt_i1").unwrap());
    assert_eq!(index.len(), 2);
    let left = drain(&mut index, &HashMap::new());
    assert_eq!(left, events([0, 2]));
}

#[test]
fn a_delivery_id_not_of_its_pair_stays_in_the_index_past_its_room() {
    let (webhook, other) = (WebhookId::generate(1), WebhookId::generate(2));
    let mut index = QueueIndex::with_room(Room { tasks: 1, per_webhook: 1, own_copies: 0 });
    for n in 0..3 {
        let mut task = task(n, &webhook);
        task.delivery_id = DeliveryId::parse(&format!("dlv_custom{n}")).unwrap();
        index.offer(task, 0, true);
    }
    // Spelled as a pair's, but another pair's: the overflow, which keeps no id, would lose it.
    let mut task = task(3, &webhook);
    task.delivery_id = DeliveryId::for_pair(&task.event_id, &other);
    index.offer(task, 0, true);
    assert_eq!(index.waiting.len(), 4);
    let claimed = index.claim(0, &limits(10, 10, &HashMap::new()), 100, "r");
    assert!(claimed.iter().any(|t| t.delivery_id == DeliveryId::for_pair(&t.event_id, &other)));
}

#[test]
fn a_copy_offered_after_the_same_delivery_without_one_comes_in_without_it() {
    let webhook = WebhookId::generate(1);
    let mut index = QueueIndex::with_room(Room { tasks: 1, per_webhook: 1, own_copies: 0 });
    index.offer(task(0, &webhook), 0, true);
    // A second publish of evt_i1 found its delivery stored; the first one's task comes after.
    index.offer(DeliveryTask::of(&delivery(1, &webhook)), 0, true);
    index.offer(stored(1, &webhook), 0, true);
    index.offer(stored(2, &webhook), 0, true);
    let out = copies_out(&mut index, 4);
    let expected = [("evt_i0", false), ("evt_i1", false), ("evt_i1", false), ("evt_i2", true)];
    assert_eq!(out, expected.map(|(event, copy)| (event.to_owned(), copy)), "the second evt_i1 may find it attempted: it reads it");
}

#[test]
fn an_overflowing_task_alone_keeps_its_own_copy_only_while_the_overflow_is_short_and_a_fan_outs_share_one() {
    let (a, b) = (WebhookId::generate(1), WebhookId::generate(2));
    let mut index = QueueIndex::with_room(Room { tasks: 1, per_webhook: 1, own_copies: 1 });
    index.offer(stored(0, &a), 0, false);
    index.offer(stored(1, &a), 0, false);
    index.offer(stored(3, &a), 0, false);
    index.offer(stored(2, &a), 0, true);
    index.offer(stored(2, &b), 0, true);
    let out = copies_out(&mut index, 6);
    let expected = [("evt_i0", true), ("evt_i1", true), ("evt_i2", true), ("evt_i3", false), ("evt_i2", true)];
    assert_eq!(out, expected.map(|(event, copy)| (event.to_owned(), copy)), "evt_i3 overflowed alone behind one own copy");
}

#[test]
fn an_overflowing_task_takes_16_bytes_beside_what_it_shares() {
    // When it became visible and its event: the delivery id is worked out again as it comes out.
    assert_eq!(std::mem::size_of::<Spilled>(), 16);
}
