//! Events recorded a moment ago, kept in memory for the deliveries about to read them: each
//! delivery's first attempt reads its event, right after the publish that recorded it or at
//! the head of a backlog.
//!
//! A full cache admits nothing new rather than dropping what it holds. Deliveries are sent
//! oldest first, so under a backlog larger than the cache the events it holds are the next
//! to be read, and the newest would be dropped unread before their turn came (dropping the
//! oldest made every read of such a backlog miss). An event leaves after as many reads as it
//! has planned deliveries, and one kept longer than `STALE_AFTER` (its deliveries were held,
//! or cancelled before reading it) makes room when room is needed.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use crate::domain::event::Event;
use crate::domain::ids::EventId;

/// How many bytes of events are kept (`footprint`). 2 MiB hold about 3,200 events of 250
/// bytes: several hundred milliseconds of publishing ahead of delivery, past which attempts
/// read their events from the file (an indexed read, about a tenth of an attempt's CPU).
/// The 4 MiB it kept before, by an estimate that left out the map's slots, held 6,800 such
/// events in about 11 MB of heap: most of the server's heap at its peak under load.
pub(super) const RECENT_BYTES: usize = 2 * 1024 * 1024;

/// An event kept this long gives way to a new one when the cache is full.
const STALE_AFTER: Duration = Duration::from_secs(60);

/// About what one cached event takes: its strings (its id three times: the event's, the
/// map's key and the order's), the boxed entry, and the map's and the order's slots, each at
/// half load (a map doubles when full, and a B-tree filled in order leaves its nodes half full).
fn footprint(event: &Event) -> usize {
    const SLOTS: usize = 2 * (std::mem::size_of::<(EventId, Box<Kept>)>() + std::mem::size_of::<(u64, EventId)>());
    let strings = event.body.len() + event.fingerprint.len() + 3 * event.id.as_str().len();
    strings + std::mem::size_of::<Kept>() + SLOTS
}

struct Kept {
    event: Event,
    /// Reads still expected (one per planned delivery); `None` when nobody said.
    reads_left: Option<usize>,
    order: u64,
    since: Instant,
}

/// Events by id, and their ids in the order they were kept. Events never change.
pub(super) struct Recent {
    by_id: HashMap<EventId, Box<Kept>>,
    order: BTreeMap<u64, EventId>,
    kept: u64,
    bytes: usize,
    limit: usize,
}

impl Default for Recent {
    fn default() -> Self {
        Self::with_limit(RECENT_BYTES)
    }
}

impl Recent {
    pub(super) fn with_limit(limit: usize) -> Self {
        Self { by_id: HashMap::new(), order: BTreeMap::new(), kept: 0, bytes: 0, limit }
    }

    /// Keeps `event` for `reads` reads (`None`: until it gives way), if there is room or
    /// stale events to make room with.
    pub(super) fn remember(&mut self, event: &Event, reads: Option<usize>, now: Instant) {
        let size = footprint(event);
        if reads == Some(0) || self.by_id.contains_key(&event.id) || !self.make_room(size, now) {
            return;
        }
        self.kept += 1;
        self.bytes += size;
        self.order.insert(self.kept, event.id.clone());
        let kept = Kept { event: event.clone(), reads_left: reads, order: self.kept, since: now };
        self.by_id.insert(event.id.clone(), Box::new(kept));
    }

    /// The event, counting one read: its last expected read takes it out.
    pub(super) fn read(&mut self, id: &EventId) -> Option<Event> {
        let kept = self.by_id.get_mut(id)?;
        match &mut kept.reads_left {
            Some(left) if *left > 1 => *left -= 1,
            Some(_) => return self.forget(id),
            None => {}
        }
        Some(kept.event.clone())
    }

    /// Takes the event out, if kept.
    pub(super) fn forget(&mut self, id: &EventId) -> Option<Event> {
        let kept = self.by_id.remove(id)?;
        self.order.remove(&kept.order);
        self.bytes -= footprint(&kept.event);
        Some(kept.event)
    }

    /// Lets stale events go, oldest first, until `size` more bytes fit; false if they do not.
    fn make_room(&mut self, size: usize, now: Instant) -> bool {
        while self.bytes + size > self.limit {
            let Some((&order, oldest)) = self.order.first_key_value() else { return false };
            if self.by_id.get(oldest).is_some_and(|kept| now.duration_since(kept.since) < STALE_AFTER) {
                return false;
            }
            // Out of the order whatever it is, so this loop always ends.
            if let Some(oldest) = self.order.remove(&order) {
                self.forget(&oldest);
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    /// Events of the same size, with different ids.
    fn event(n: u32) -> Event {
        Event::test_ping(&format!("hook {n}"), Utc::now())
    }

    /// Which event a read found.
    fn read(recent: &mut Recent, event: &Event) -> Option<EventId> {
        recent.read(&event.id).map(|found| found.id)
    }

    /// A cache with room for exactly `events` events like `event(_)`.
    fn room_for(events: usize) -> Recent {
        Recent::with_limit(events * footprint(&event(0)))
    }

    #[test]
    fn an_event_leaves_after_its_last_planned_read() {
        let (mut recent, first, now) = (Recent::default(), event(1), Instant::now());
        recent.remember(&first, Some(2), now);
        assert_eq!(read(&mut recent, &first), Some(first.id.clone()));
        assert_eq!(read(&mut recent, &first), Some(first.id.clone()));
        assert_eq!(read(&mut recent, &first), None);
        assert_eq!(recent.bytes, 0);
        assert!(recent.order.is_empty());
    }

    #[test]
    fn an_event_without_deliveries_is_not_kept_and_one_with_unknown_reads_stays() {
        let (mut recent, unread, unknown, now) = (Recent::default(), event(1), event(2), Instant::now());
        recent.remember(&unread, Some(0), now);
        recent.remember(&unknown, None, now);
        assert_eq!(read(&mut recent, &unread), None);
        for _ in 0..3 {
            assert_eq!(read(&mut recent, &unknown), Some(unknown.id.clone()));
        }
    }

    #[test]
    fn a_full_cache_keeps_the_events_it_holds_and_takes_new_ones_as_reads_free_room() {
        let (mut recent, now) = (room_for(2), Instant::now());
        let (first, second, third, fourth) = (event(1), event(2), event(3), event(4));
        recent.remember(&first, Some(1), now);
        recent.remember(&second, Some(1), now);
        recent.remember(&third, Some(1), now);
        assert_eq!(read(&mut recent, &third), None, "a full cache admits nothing new");
        assert_eq!(read(&mut recent, &first), Some(first.id.clone()));
        recent.remember(&fourth, Some(1), now);
        assert_eq!(read(&mut recent, &second), Some(second.id.clone()));
        assert_eq!(read(&mut recent, &fourth), Some(fourth.id.clone()));
    }

    #[test]
    fn events_kept_past_their_time_give_way_oldest_first() {
        let (mut recent, start) = (room_for(2), Instant::now());
        let (held, fresh, newest) = (event(1), event(2), event(3));
        recent.remember(&held, Some(1), start);
        recent.remember(&fresh, Some(1), start + STALE_AFTER / 2);
        recent.remember(&newest, Some(1), start + STALE_AFTER);
        assert_eq!(read(&mut recent, &held), None);
        assert_eq!(read(&mut recent, &fresh), Some(fresh.id.clone()));
        assert_eq!(read(&mut recent, &newest), Some(newest.id.clone()));
    }
}
