//! New tasks past the local queue's room in memory (`Room`), kept small until there is room:
//! 16 bytes a task (where a task in the index takes about 270): when it became visible and
//! its event, shared with the rest of its fan-out, or, past `Room::own_copies`, only its
//! id when it has no other task (about 70 bytes in all). Only a task whose delivery id is its
//! event's and webhook's (`DeliveryId::for_pair`, as every delivery's is) overflows: its id is
//! not kept but worked out again when it comes out.
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
/// and webhook. When it became visible sits beside the variant's tag, so a task takes two
/// words.
pub(super) enum Spilled {
    /// Its event is shared with the rest of its fan-out, with their copy of the stored
    /// delivery (or, for a task alone, one of its own while the overflow is short).
    Shared { visible: VisibleAt, event: Arc<OfEvent> },
    /// Only its event's id: its first attempt reads the delivery.
    Alone { visible: VisibleAt, event: Box<EventId> },
}

/// When an overflowing task became visible, in epoch milliseconds, in seven bytes: beside the
/// variant's tag, where the word the tag takes has room for them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct VisibleAt([u8; 7]);

impl VisibleAt {
    /// The latest time seven bytes hold, in some two million years.
    const LAST: i64 = (1 << 56) - 1;

    /// `at` in epoch milliseconds; one before 1970 is 1970's first.
    pub fn of(at: i64) -> Self {
        let bytes = at.clamp(0, Self::LAST).to_le_bytes();
        Self([bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6]])
    }

    /// In epoch milliseconds.
    pub fn millis(self) -> i64 {
        let [b0, b1, b2, b3, b4, b5, b6] = self.0;
        i64::from_le_bytes([b0, b1, b2, b3, b4, b5, b6, 0])
    }
}

impl Spilled {
    pub fn visible(&self) -> VisibleAt {
        match self {
            Self::Shared { visible, .. } | Self::Alone { visible, .. } => *visible,
        }
    }

    pub fn event_id(&self) -> &EventId {
        match self {
            Self::Shared { event, .. } => &event.id,
            Self::Alone { event, .. } => event,
        }
    }

    fn has_copy(&self) -> bool {
        matches!(self, Self::Shared { event, .. } if event.carried.is_some())
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
            let delivery = DeliveryId::pair_digest(spilled.event_id(), &webhook);
            // A mark stays until the task with a copy it is for comes out (or the overflow empties).
            let copy_holds = !spilled.has_copy() || !self.changed.remove(&delivery);
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

    /// When the task that overflowed first became visible (epoch ms).
    pub fn oldest(&self) -> Option<i64> {
        self.by_webhook.values().filter_map(|tasks| tasks.front()).map(|spilled| spilled.visible().millis()).min()
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
            tasks.retain(|spilled| spilled.event_id() != event);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_time_in_seven_bytes_comes_back_to_the_millisecond_within_two_million_years() {
        for at in [0, 1, 1_765_000_000_123, VisibleAt::LAST] {
            assert_eq!(VisibleAt::of(at).millis(), at);
        }
        assert_eq!(VisibleAt::of(-5).millis(), 0, "before 1970");
        assert_eq!(VisibleAt::of(i64::MAX).millis(), VisibleAt::LAST);
    }
}
