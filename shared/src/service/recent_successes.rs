//! The successes this process wrote into webhooks' health lately. A success is written at most
//! once a minute per webhook (`SUCCESS_RECORDED_EVERY`), judged from the webhook as read before
//! the attempt; attempts to one webhook that run at once (a `deliver` batch's records, the local
//! workers) all read it before any of them writes, so without this each of them would write.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Utc};

use crate::domain::health::SUCCESS_RECORDED_EVERY;
use crate::domain::ids::WebhookId;

/// Webhooks past which stale entries are dropped before another is added.
const KEPT: usize = 4096;

#[derive(Debug, Default)]
pub struct RecentSuccesses(Mutex<HashMap<WebhookId, DateTime<Utc>>>);

impl RecentSuccesses {
    /// Takes the write of a success to `webhook` at `now`: false when this process took one
    /// within `SUCCESS_RECORDED_EVERY`, which that write already covers.
    pub fn take(&self, webhook: &WebhookId, now: DateTime<Utc>) -> bool {
        let mut written = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if written.get(webhook).is_some_and(|at| now - *at < SUCCESS_RECORDED_EVERY) {
            return false;
        }
        if written.len() >= KEPT {
            written.retain(|_, at| now - *at < SUCCESS_RECORDED_EVERY);
        }
        written.insert(webhook.clone(), now);
        true
    }

    /// Gives the write back after it failed, so the next success writes.
    pub fn give_back(&self, webhook: &WebhookId) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).remove(webhook);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn webhook(id: &str) -> WebhookId {
        WebhookId::parse(id).unwrap()
    }

    #[test]
    fn one_write_a_minute_per_webhook() {
        let (successes, start) = (RecentSuccesses::default(), Utc::now());
        assert!(successes.take(&webhook("wh_a"), start));
        assert!(!successes.take(&webhook("wh_a"), start + chrono::Duration::seconds(59)));
        assert!(successes.take(&webhook("wh_b"), start), "each webhook on its own");
        assert!(successes.take(&webhook("wh_a"), start + SUCCESS_RECORDED_EVERY));
        successes.give_back(&webhook("wh_b"));
        assert!(successes.take(&webhook("wh_b"), start), "a failed write is taken again");
    }

    #[test]
    fn stale_entries_go_when_many_are_kept() {
        let (successes, start) = (RecentSuccesses::default(), Utc::now());
        for n in 0..KEPT {
            successes.take(&webhook(&format!("wh_{n}")), start);
        }
        successes.take(&webhook("wh_late"), start + SUCCESS_RECORDED_EVERY);
        assert_eq!(successes.0.lock().unwrap().len(), 1);
    }
}
