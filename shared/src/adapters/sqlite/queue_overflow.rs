//! New tasks past the local queue's room in memory (`Room`), kept small until there is room:
//! when it became visible and its event, shared with the rest of its fan-out (32 bytes a
//! task, where a task in the index takes about 270), or, past `Room::own_copies`, only its id
//! when it has no other task (about 60). Only a task whose delivery id is its event's and
//! webhook's (`DeliveryId::for_pair`, as every delivery's is) overflows: its id is not kept
//! but worked out again when it comes out.
//! Each webhook's overflow is first in, first out, and the webhooks take turns, so one with a
//! long backlog does not keep the others' tasks out of the index.
//! Nothing here is durable: as every queued task, an overflowing one is an open delivery,
//! and start-up queues the open deliveries again.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use super::queue_index::OfEvent;
use crate::domain::ids::{DeliveryId, EventId, PACKED_LEN, WebhookId};

pub(super) type Packed = [u8; PACKED_LEN];

/// A task waiting for room in the index; its delivery is `DeliveryId::for_pair` of its event
/// and webhook.
pub(super) struct Spilled {
    pub visible_at: i64,
    pub event: SpilledEvent,
}

/// An overflowing task's event: shared with the rest of its fan-out, with their copy of the
/// stored delivery (or, for a task alone, one of its own while the overflow is short), or only
/// its id: its first attempt reads the delivery.
pub(super) enum SpilledEvent {
    Shared(Arc<OfEvent>),
    Alone(EventId),
}

impl SpilledEvent {
    pub fn id(&self) -> &EventId {
        match self {
            Self::Shared(event) => &event.id,
            Self::Alone(id) => id,
        }
    }

    fn has_copy(&self) -> bool {
        matches!(self, Self::Shared(event) if event.carried.is_some())
    }
}

/// A task out of the overflow (`Overflow::pop_turn`).
pub(super) struct Popped {
    pub webhook: WebhookId,
    pub delivery: DeliveryId,
    pub spilled: Spilled,
    /// Its copy of the delivery (if it has one) still holds.
    pub copy_holds: bool,
}

#[derive(Default)]
pub(super) struct Overflow {
    by_webhook: HashMap<WebhookId, VecDeque<Spilled>>,
    /// The webhooks with overflowing tasks, in the order they take turns.
    turns: VecDeque<WebhookId>,
    len: usize,
    /// Deliveries whose copy may no longer hold: changed, or offered again without a copy (by
    /// the time a task with a copy comes out, the other may have been attempted). A task with
    /// a copy comes out without it. Cleared when the overflow empties.
    changed: HashSet<Packed>,
}

impl Overflow {
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether `webhook` has overflowing tasks (its new tasks queue up behind them).
    pub fn holds(&self, webhook: &WebhookId) -> bool {
        self.by_webhook.contains_key(webhook)
    }

    pub fn push(&mut self, webhook: &WebhookId, spilled: Spilled) {
        self.len += 1;
        if let Some(tasks) = self.by_webhook.get_mut(webhook) {
            tasks.push_back(spilled);
            return;
        }
        self.by_webhook.insert(webhook.clone(), VecDeque::from([spilled]));
        self.turns.push_back(webhook.clone());
    }

    /// The oldest task of the next webhook in turn that `may_take` accepts, its delivery, and
    /// whether its copy of the delivery still holds; `None` when no webhook with overflowing
    /// tasks is accepted. A webhook that gives a task goes to the back of the turns.
    pub fn pop_turn(&mut self, may_take: impl Fn(&WebhookId) -> bool) -> Option<Popped> {
        for _ in 0..self.turns.len() {
            let webhook = self.turns.pop_front()?;
            if !may_take(&webhook) {
                self.turns.push_back(webhook);
                continue;
            }
            let tasks = self.by_webhook.get_mut(&webhook)?;
            let spilled = tasks.pop_front()?;
            if tasks.is_empty() {
                self.by_webhook.remove(&webhook);
            } else {
                self.turns.push_back(webhook.clone());
            }
            self.len -= 1;
            let delivery = DeliveryId::pair_digest(spilled.event.id(), &webhook);
            // A mark stays until the task with a copy it is for comes out (or the overflow empties).
            let copy_holds = !spilled.event.has_copy() || !self.changed.remove(&delivery);
            self.forget_changes_when_empty();
            return Some(Popped { webhook, delivery: DeliveryId::unpacked(&delivery), spilled, copy_holds });
        }
        None
    }

    /// Notes that `delivery` changed, or may have, in case it overflows: its copy no longer
    /// holds.
    pub fn changed(&mut self, delivery: Packed) {
        self.changed.insert(delivery);
        self.forget_changes_when_empty();
    }

    /// When the task that overflowed first became visible.
    pub fn oldest(&self) -> Option<i64> {
        self.by_webhook.values().filter_map(|tasks| tasks.front()).map(|spilled| spilled.visible_at).min()
    }

    pub fn forget_webhook(&mut self, webhook: &WebhookId) {
        if let Some(tasks) = self.by_webhook.remove(webhook) {
            self.len -= tasks.len();
            self.turns.retain(|turn| turn != webhook);
        }
        self.forget_changes_when_empty();
    }

    pub fn forget_event(&mut self, event: &EventId) {
        for tasks in self.by_webhook.values_mut() {
            let before = tasks.len();
            tasks.retain(|spilled| spilled.event.id() != event);
            self.len -= before - tasks.len();
        }
        self.by_webhook.retain(|_, tasks| !tasks.is_empty());
        let by_webhook = &self.by_webhook;
        self.turns.retain(|webhook| by_webhook.contains_key(webhook));
        self.forget_changes_when_empty();
    }

    fn forget_changes_when_empty(&mut self) {
        if self.len == 0 {
            self.changed.clear();
        }
    }
}
