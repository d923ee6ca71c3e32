//! The local queue's tasks in memory, found by webhook and by when they are due. A claim is a
//! lease held here: one that is never settled runs out, as SQS's visibility timeout does.
//! A waiting task may carry a copy of its stored delivery (`Carried::stored`) until its first
//! claim or a change to the delivery (`drop_carried`): a lease keeps its task without it, so
//! a task that comes back from a lease comes back without it (its delivery may have been
//! attempted).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use chrono::SubsecRound;

use crate::domain::ids::{DeliveryId, EventId, WebhookId};
use crate::ports::{Carried, ClaimLimits, DeliveryTask};

/// When a waiting task becomes visible (epoch ms), then the order it was added in.
type Due = (i64, u64);

/// A waiting task as its webhook's map keeps it. A fan-out queues tens of thousands of tasks
/// faster than they are delivered, so each is kept small: its delivery id is one allocation,
/// shared with `waiting`, and consecutive tasks of one event (a fan-out's) share its id and
/// copy of their deliveries: a fan-out's peak RSS grows by about 240 bytes per queued
/// delivery, from 380 with owned copies.
struct Waiting {
    delivery: Arc<DeliveryId>,
    event: Arc<OfEvent>,
}

/// What a fan-out's tasks have in common: the event, and what they carry of their deliveries.
#[derive(Clone, PartialEq, Eq)]
struct OfEvent {
    id: EventId,
    carried: Option<Carried>,
}

/// A claimed task, invisible until `until` (epoch ms) unless settled with `receipt`; `task`
/// carries no copy of its delivery.
struct Lease {
    receipt: String,
    until: i64,
    task: DeliveryTask,
}

#[derive(Default)]
pub struct QueueIndex {
    /// Each webhook's waiting tasks in the order they are due: a claim takes a webhook's
    /// oldest without looking at the tasks of webhooks at their cap.
    by_webhook: HashMap<WebhookId, BTreeMap<Due, Waiting>>,
    /// Each webhook with waiting tasks, by its oldest one.
    heads: BTreeSet<(Due, WebhookId)>,
    /// When each waiting task is due (its key in its webhook's map), by its delivery.
    waiting: HashMap<Arc<DeliveryId>, Due>,
    leases: HashMap<DeliveryId, Lease>,
    added: u64,
    /// The event of the task added last, which the next task may share.
    last_event: Option<Arc<OfEvent>>,
}

impl QueueIndex {
    /// Adds a task visible from `visible_at`, unless its delivery is already queued (waiting
    /// or claimed); returns whether it was added.
    pub fn add(&mut self, task: DeliveryTask, visible_at: i64) -> bool {
        if self.waiting.contains_key(&task.delivery_id) || self.leases.contains_key(&task.delivery_id) {
            return false;
        }
        self.added += 1;
        let due = (visible_at, self.added);
        let delivery = Arc::new(task.delivery_id);
        self.waiting.insert(delivery.clone(), due);
        let event = self.share_event(task.event_id, task.carried);
        let tasks = self.by_webhook.entry(task.webhook_id.clone()).or_default();
        let old_head = tasks.first_key_value().map(|(due, _)| *due);
        tasks.insert(due, Waiting { delivery, event });
        if old_head.is_none_or(|head| due < head) {
            if let Some(head) = old_head {
                self.heads.remove(&(head, task.webhook_id.clone()));
            }
            self.heads.insert((due, task.webhook_id));
        }
        true
    }

    /// Leases the visible tasks `limits` allows until `until`: the oldest webhooks first, each
    /// webhook's tasks oldest first. Expired leases are visible again first.
    pub fn claim(&mut self, now: i64, limits: &ClaimLimits<'_>, until: i64, receipt: &str) -> Vec<DeliveryTask> {
        self.expire_leases(now);
        let allowance = |webhook: &WebhookId| limits.per_webhook.saturating_sub(limits.in_flight.get(webhook).copied().unwrap_or(0));
        // Each due webhook with room gives at least one task, so `max` of them are enough (a
        // claim often takes one task, and there may be thousands of webhooks).
        let with_room: Vec<WebhookId> = self
            .heads
            .iter()
            .take_while(|(due, _)| due.0 <= now)
            .filter(|(_, webhook)| allowance(webhook) > 0)
            .take(limits.max)
            .map(|(_, webhook)| webhook.clone())
            .collect();
        let mut claimed = Vec::new();
        for webhook in with_room {
            let room = allowance(&webhook).min(limits.max - claimed.len());
            for task in self.take_due(&webhook, now, room) {
                self.leases.insert(task.delivery_id.clone(), Lease { receipt: receipt.to_owned(), until, task: uncarried(&task) });
                claimed.push(task);
            }
            if claimed.len() == limits.max {
                break;
            }
        }
        claimed
    }

    /// Ends the lease `receipt` holds on `delivery`, returning its task (without a copy of the
    /// delivery); `None` when it holds none (it ran out, or the task was claimed again since).
    pub fn release(&mut self, delivery: &DeliveryId, receipt: &str) -> Option<DeliveryTask> {
        match self.leases.get(delivery) {
            Some(lease) if lease.receipt == receipt => self.leases.remove(delivery).map(|lease| lease.task),
            _ => None,
        }
    }

    /// Drops the copy the waiting task of `delivery` carries (the delivery is changing), so its
    /// attempt reads the delivery; a claimed task's attempt read or carried it already.
    pub fn drop_carried(&mut self, delivery: &DeliveryId) {
        let Some(due) = self.waiting.get(delivery) else { return };
        // `due` is unique across webhooks (it holds the order of adding).
        let Some(waiting) = self.by_webhook.values_mut().find_map(|tasks| tasks.get_mut(due)) else { return };
        if waiting.event.carried.is_some() {
            waiting.event = Arc::new(OfEvent { id: waiting.event.id.clone(), carried: None });
        }
    }

    /// Forgets every waiting task of `webhook` (its deliveries were cancelled).
    pub fn forget_webhook(&mut self, webhook: &WebhookId) {
        let Some(tasks) = self.by_webhook.remove(webhook) else { return };
        if let Some(head) = tasks.first_key_value().map(|(due, _)| *due) {
            self.heads.remove(&(head, webhook.clone()));
        }
        for waiting in tasks.into_values() {
            self.waiting.remove(&*waiting.delivery);
        }
    }

    /// Forgets every waiting task of `event` (its deliveries were cancelled).
    pub fn forget_event(&mut self, event: &EventId) {
        let of_event: Vec<(WebhookId, DeliveryId)> = self
            .by_webhook
            .iter()
            .flat_map(|(webhook, tasks)| {
                tasks.values().filter(|w| w.event.id == *event).map(|w| (webhook.clone(), DeliveryId::clone(&w.delivery)))
            })
            .collect();
        for (webhook, delivery) in of_event {
            self.remove_waiting(&webhook, &delivery);
        }
    }

    /// Every task held, waiting or claimed.
    pub fn len(&self) -> usize {
        self.waiting.len() + self.leases.len()
    }

    /// When the task waiting longest became visible, if it is visible by `now`.
    pub fn oldest_due(&self, now: i64) -> Option<i64> {
        self.heads.first().map(|(due, _)| due.0).filter(|at| *at <= now)
    }

    /// When the next task becomes visible: the earliest waiting one, or the earliest lease to
    /// run out.
    pub fn next_visible(&self) -> Option<i64> {
        let waiting = self.heads.first().map(|(due, _)| due.0);
        let lease = self.leases.values().map(|lease| lease.until).min();
        waiting.into_iter().chain(lease).min()
    }

    fn expire_leases(&mut self, now: i64) {
        let expired: Vec<DeliveryId> = self.leases.iter().filter(|(_, l)| l.until <= now).map(|(id, _)| id.clone()).collect();
        for delivery in expired {
            if let Some(lease) = self.leases.remove(&delivery) {
                self.add(lease.task, lease.until);
            }
        }
    }

    /// Takes up to `max` of `webhook`'s tasks visible by `now`, oldest first.
    fn take_due(&mut self, webhook: &WebhookId, now: i64, max: usize) -> Vec<DeliveryTask> {
        let mut taken = Vec::new();
        while taken.len() < max {
            let Some(delivery) = self.head_of(webhook, now) else { break };
            if let Some(task) = self.remove_waiting(webhook, &delivery) {
                taken.push(task);
            }
        }
        taken
    }

    fn head_of(&self, webhook: &WebhookId, now: i64) -> Option<DeliveryId> {
        let (due, waiting) = self.by_webhook.get(webhook)?.first_key_value()?;
        (due.0 <= now).then(|| DeliveryId::clone(&waiting.delivery))
    }

    fn remove_waiting(&mut self, webhook: &WebhookId, delivery: &DeliveryId) -> Option<DeliveryTask> {
        let due = self.waiting.remove(delivery)?;
        let tasks = self.by_webhook.get_mut(webhook)?;
        let was_head = tasks.first_key_value().map(|(head, _)| *head) == Some(due);
        let Waiting { delivery, event } = tasks.remove(&due)?;
        if was_head {
            self.heads.remove(&(due, webhook.clone()));
            match tasks.first_key_value().map(|(head, _)| *head) {
                Some(next) => {
                    self.heads.insert((next, webhook.clone()));
                }
                None => {
                    self.by_webhook.remove(webhook);
                }
            }
        }
        let OfEvent { id: event_id, carried } = Arc::unwrap_or_clone(event);
        Some(DeliveryTask { delivery_id: Arc::unwrap_or_clone(delivery), webhook_id: webhook.clone(), event_id, carried })
    }

    /// `event` and the copy of a stored delivery in `carried` (only that: the delivery store
    /// drops it when the delivery changes) as an `Arc`, the last task's when they are the same.
    fn share_event(&mut self, id: EventId, carried: Option<Carried>) -> Arc<OfEvent> {
        // The store keeps times to the millisecond, and the copy is what it holds.
        let carried = carried.filter(|c| c.stored).map(|c| Carried { created_at: c.created_at.trunc_subsecs(3), ..c });
        let event = OfEvent { id, carried };
        match &self.last_event {
            Some(last) if **last == event => last.clone(),
            _ => {
                let event = Arc::new(event);
                self.last_event = Some(event.clone());
                event
            }
        }
    }
}

/// `task` as its lease keeps it and gives it back: its delivery may have been attempted since.
fn uncarried(task: &DeliveryTask) -> DeliveryTask {
    DeliveryTask {
        delivery_id: task.delivery_id.clone(),
        webhook_id: task.webhook_id.clone(),
        event_id: task.event_id.clone(),
        carried: None,
    }
}

#[cfg(test)]
mod tests {
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
        let stored =
            |webhook: &WebhookId| DeliveryTask::of_stored(&Delivery::new(event.clone(), webhook.clone(), "invoice.paid", created_at));
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
}
