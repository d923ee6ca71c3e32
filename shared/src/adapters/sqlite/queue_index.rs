//! The local queue's tasks in memory, found by webhook and by when they are due. A claim is a
//! lease held here: one that is never settled runs out, as SQS's visibility timeout does.
//! A waiting task may carry a copy of its stored delivery (`Carried::stored`) until its first
//! claim or a change to the delivery (`drop_carried`): a lease keeps its task without it, so
//! a task that comes back from a lease comes back without it (its delivery may have been
//! attempted).
//! The index keeps a bounded number of waiting tasks (`Room`); new tasks past it wait in the
//! overflow (`queue_overflow`), kept smaller, and move in as claims make room.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use chrono::SubsecRound;

use super::queue_overflow::{Overflow, Popped, Spilled, VisibleAt};
use crate::domain::ids::{DeliveryId, EventId, WebhookId};
use crate::ports::{Carried, ClaimLimits, DeliveryTask};

/// How many waiting tasks the index keeps; new tasks past it overflow.
#[derive(Debug, Clone, Copy)]
pub struct Room {
    /// All webhooks' together.
    pub tasks: usize,
    /// One webhook's: one with a backlog that is slow to drain leaves room for the others.
    pub per_webhook: usize,
    /// How many tasks may overflow before a task alone (its event has no other task in its
    /// enqueue) overflows without a copy of its delivery of its own: only its event id, and
    /// its first attempt reads the delivery.
    pub own_copies: usize,
}

/// 8,192 tasks (about 2.2 MiB), 256 of them one webhook's: sixteen times a webhook's default
/// concurrency, so its next tasks are always at hand, and 32 webhooks at their cap with full
/// shares before they keep another webhook's new tasks out. Tasks alone keep their own copy
/// while fewer than 32,768 overflow (about 6 MiB of them): a backlog of a few seconds reads
/// nothing back (the reads cost single-webhook throughput 0.80–0.93×), and past it a task
/// alone takes about 70 bytes, not 190.
pub const ROOM: Room = Room { tasks: 8_192, per_webhook: 256, own_copies: 32_768 };

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
pub(super) struct OfEvent {
    pub id: EventId,
    pub carried: Option<Carried>,
}

/// A claimed task, invisible until `until` (epoch ms) unless settled with `receipt`; `task`
/// carries no copy of its delivery.
struct Lease {
    receipt: String,
    until: i64,
    task: DeliveryTask,
}

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
    room: Room,
    overflow: Overflow,
}

impl Default for QueueIndex {
    fn default() -> Self {
        Self::with_room(ROOM)
    }
}

impl QueueIndex {
    pub fn with_room(room: Room) -> Self {
        Self {
            by_webhook: HashMap::new(),
            heads: BTreeSet::new(),
            waiting: HashMap::new(),
            leases: HashMap::new(),
            added: 0,
            last_event: None,
            room,
            overflow: Overflow::default(),
        }
    }

    /// Queues a new task, visible from `visible_at`: in the index if there is room for it and
    /// its webhook has no overflowing tasks, else behind them in the overflow (a delivery id
    /// not of `for_pair` always goes in the index). Returns whether it was queued: a delivery
    /// waiting in the index or claimed is not queued twice. One already overflowing may be:
    /// the copy that comes out second finds it claimed or attempted. So a task without a copy
    /// of its delivery (a publish found the delivery stored) marks any task that overflows
    /// with a copy for it (the publish that stored it) to come in without: by then it may
    /// have been attempted. `shares_event`: other tasks of its event come with it (a fan-out),
    /// so an overflowing copy of its delivery is shared; a task alone keeps one of its own
    /// while the overflow is short (`Room::own_copies`).
    pub fn offer(&mut self, task: DeliveryTask, visible_at: i64, shares_event: bool) -> bool {
        self.offer_with(task, visible_at, true, shares_event)
    }

    /// `offer` for an open delivery found at start-up: no task with a copy comes after it.
    pub fn offer_recovered(&mut self, task: DeliveryTask, visible_at: i64) -> bool {
        self.offer_with(task, visible_at, false, false)
    }

    fn offer_with(&mut self, task: DeliveryTask, visible_at: i64, copies_may_follow: bool, shares_event: bool) -> bool {
        if self.queued(&task.delivery_id) {
            return false;
        }
        let overflows = self.overflow.holds(&task.webhook_id) || !self.has_room_for(&task.webhook_id);
        if !overflows || !task.delivery_id.is_for_pair(&task.event_id, &task.webhook_id) {
            return self.add(task, visible_at);
        }
        // The id is its pair's, so its packed spelling is the pair's digest.
        let marks = (copies_may_follow && task.carried.is_none()).then(|| task.delivery_id.packed()).flatten();
        let visible = VisibleAt::of(visible_at);
        let spilled = match task.carried {
            Some(carried) if shares_event || self.overflow.len() < self.room.own_copies => {
                Spilled::Shared { visible, event: self.share_event(task.event_id, Some(carried)) }
            }
            _ => Spilled::Alone { visible, event: Box::new(task.event_id) },
        };
        self.overflow.push(&task.webhook_id, spilled);
        // After the push: an empty overflow forgets its marks.
        if let Some(delivery) = marks {
            self.overflow.changed(delivery);
        }
        true
    }

    /// Adds a task visible from `visible_at` to the index whatever its room (a task coming
    /// back from a claim takes the room it had), unless its delivery is already queued
    /// (waiting or claimed); returns whether it was added.
    pub fn add(&mut self, task: DeliveryTask, visible_at: i64) -> bool {
        if self.queued(&task.delivery_id) {
            return false;
        }
        let event = self.share_event(task.event_id, task.carried);
        self.insert(task.delivery_id, task.webhook_id, event, visible_at);
        true
    }

    fn queued(&self, delivery: &DeliveryId) -> bool {
        self.waiting.contains_key(delivery) || self.leases.contains_key(delivery)
    }

    fn has_room_for(&self, webhook: &WebhookId) -> bool {
        self.waiting.len() < self.room.tasks && waiting_of(&self.by_webhook, webhook) < self.room.per_webhook
    }

    fn insert(&mut self, delivery: DeliveryId, webhook: WebhookId, event: Arc<OfEvent>, visible_at: i64) {
        self.added += 1;
        let due = (visible_at, self.added);
        let delivery = Arc::new(delivery);
        self.waiting.insert(delivery.clone(), due);
        let tasks = self.by_webhook.entry(webhook.clone()).or_default();
        let old_head = tasks.first_key_value().map(|(due, _)| *due);
        tasks.insert(due, Waiting { delivery, event });
        if old_head.is_none_or(|head| due < head) {
            if let Some(head) = old_head {
                self.heads.remove(&(head, webhook.clone()));
            }
            self.heads.insert((due, webhook));
        }
    }

    /// Moves overflowing tasks into the index while it has room, the webhooks in turn, each
    /// up to its share.
    fn admit_overflow(&mut self) {
        while self.waiting.len() < self.room.tasks {
            let (by_webhook, per_webhook) = (&self.by_webhook, self.room.per_webhook);
            let has_share = |webhook: &WebhookId| waiting_of(by_webhook, webhook) < per_webhook;
            let Some(Popped { webhook, delivery, spilled, copy_holds }) = self.overflow.pop_turn(has_share) else {
                break;
            };
            if self.queued(&delivery) {
                continue;
            }
            let visible_at = spilled.visible().millis();
            let event = match spilled {
                Spilled::Shared { event, .. } if copy_holds => event,
                Spilled::Shared { event, .. } => self.share_event(event.id.clone(), None),
                Spilled::Alone { event, .. } => self.share_event(*event, None),
            };
            self.insert(delivery, webhook, event, visible_at);
        }
    }

    /// Leases the visible tasks `limits` allows until `until`: the oldest webhooks first, each
    /// webhook's tasks oldest first. Expired leases are visible again first.
    pub fn claim(&mut self, now: i64, limits: &ClaimLimits<'_>, until: i64, receipt: &str) -> Vec<DeliveryTask> {
        self.expire_leases(now);
        self.admit_overflow();
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
        let Some(due) = self.waiting.get(delivery) else {
            if let Some(packed) = delivery.packed() {
                self.overflow.changed(packed);
            }
            return;
        };
        // `due` is unique across webhooks (it holds the order of adding).
        let Some(waiting) = self.by_webhook.values_mut().find_map(|tasks| tasks.get_mut(due)) else { return };
        if waiting.event.carried.is_some() {
            waiting.event = Arc::new(OfEvent { id: waiting.event.id.clone(), carried: None });
        }
    }

    /// Forgets every waiting task of `webhook` (its deliveries were cancelled).
    pub fn forget_webhook(&mut self, webhook: &WebhookId) {
        self.overflow.forget_webhook(webhook);
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
        self.overflow.forget_event(event);
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

    /// Every task held, waiting (in the index or overflowing) or claimed.
    pub fn len(&self) -> usize {
        self.waiting.len() + self.leases.len() + self.overflow.len()
    }

    /// When the task waiting longest became visible, if it is visible by `now`.
    pub fn oldest_due(&self, now: i64) -> Option<i64> {
        let waiting = self.heads.first().map(|(due, _)| due.0);
        waiting.into_iter().chain(self.overflow.oldest()).min().filter(|at| *at <= now)
    }

    /// When the next task becomes visible: the earliest waiting one (overflowing ones while
    /// there is room for them), or the earliest lease to run out.
    pub fn next_visible(&self) -> Option<i64> {
        let waiting = self.heads.first().map(|(due, _)| due.0);
        let overflowing = self.overflow.oldest().filter(|_| self.waiting.len() < self.room.tasks);
        let lease = self.leases.values().map(|lease| lease.until).min();
        waiting.into_iter().chain(overflowing).chain(lease).min()
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

/// How many of `webhook`'s tasks wait in the index.
fn waiting_of(by_webhook: &HashMap<WebhookId, BTreeMap<Due, Waiting>>, webhook: &WebhookId) -> usize {
    by_webhook.get(webhook).map_or(0, BTreeMap::len)
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
#[path = "queue_index_tests.rs"]
mod tests;
