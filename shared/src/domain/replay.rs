//! Bulk replays: which closed or held deliveries to send again, and how far a replay has got.
//! A replay pages through its selection in steps, so one of any size finishes over several
//! invocations; its progress is saved after every page.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Invalid;
use super::catalog;
use super::delivery::DeliveryStatus;
use super::ids::{ReplayId, WebhookId};

/// The body of `POST /api/v1/webhooks/deliveries/replay`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayRequest {
    pub webhook_id: Option<String>,
    /// Default `["dead"]`.
    pub status: Option<Vec<String>>,
    pub event_type: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// Which deliveries a replay sends again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReplayFilter {
    pub webhook_id: Option<WebhookId>,
    pub statuses: Vec<DeliveryStatus>,
    pub event_type: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// The statuses a bulk replay may select.
pub const REPLAYABLE: [DeliveryStatus; 3] = [DeliveryStatus::Dead, DeliveryStatus::Cancelled, DeliveryStatus::Held];

impl ReplayRequest {
    pub fn parse(self) -> Result<ReplayFilter, Invalid> {
        let webhook_id = self
            .webhook_id
            .map(|raw| WebhookId::parse(&raw).ok_or_else(|| Invalid::new("webhook_id", format!("'{raw}' is not a webhook id"))))
            .transpose()?;
        let raw = self.status.unwrap_or_else(|| vec!["dead".to_owned()]);
        if raw.is_empty() {
            return Err(Invalid::new("status", "name at least one of dead, cancelled, held"));
        }
        let mut statuses = Vec::new();
        for (index, name) in raw.iter().enumerate() {
            let status = DeliveryStatus::parse(name).filter(|status| REPLAYABLE.contains(status));
            let status =
                status.ok_or_else(|| Invalid::new(format!("status[{index}]"), format!("'{name}': only dead, cancelled or held")))?;
            if !statuses.contains(&status) {
                statuses.push(status);
            }
        }
        if let Some(event_type) = self.event_type.as_deref().filter(|t| catalog::find_subscribable(t).is_none()) {
            return Err(Invalid::new("event_type", format!("unknown event type '{event_type}'")));
        }
        if let (Some(since), Some(until)) = (self.since, self.until)
            && since > until
        {
            return Err(Invalid::new("until", format!("{until} is before since ({since})")));
        }
        Ok(ReplayFilter { webhook_id, statuses, event_type: self.event_type, since: self.since, until: self.until })
    }
}

/// A bulk replay and its progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Replay {
    pub id: ReplayId,
    pub filter: ReplayFilter,
    /// Deliveries found that the filter selects.
    pub matched: u64,
    /// Of those, the ones reopened and queued (one that changed meanwhile is skipped).
    pub replayed: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Where the next step starts: the status being paged (an index into `filter.statuses`)
    /// and the listing's cursor in it.
    #[serde(default)]
    pub status_index: usize,
    #[serde(default)]
    pub cursor: Option<String>,
}

impl Replay {
    pub fn new(id: ReplayId, filter: ReplayFilter, now: DateTime<Utc>) -> Self {
        Self { id, filter, matched: 0, replayed: 0, created_at: now, updated_at: now, finished_at: None, status_index: 0, cursor: None }
    }

    /// The status the next page is read for, `None` once every one was paged through.
    pub fn current_status(&self) -> Option<DeliveryStatus> {
        self.filter.statuses.get(self.status_index).copied()
    }

    /// Moves on after a page: to the next cursor, or to the next status when this one is done.
    pub fn advance(&mut self, next_cursor: Option<String>) {
        if next_cursor.is_none() {
            self.status_index += 1;
        }
        self.cursor = next_cursor;
    }

    pub fn is_finished(&self) -> bool {
        self.finished_at.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(json: serde_json::Value) -> Result<ReplayFilter, Invalid> {
        serde_json::from_value::<ReplayRequest>(json).unwrap().parse()
    }

    #[test]
    fn a_replay_selects_dead_deliveries_unless_told_otherwise() {
        let filter = request(serde_json::json!({})).unwrap();
        assert_eq!(filter.statuses, [DeliveryStatus::Dead]);
        let filter = request(serde_json::json!({"status": ["held", "cancelled", "held"]})).unwrap();
        assert_eq!(filter.statuses, [DeliveryStatus::Held, DeliveryStatus::Cancelled]);
    }

    #[test]
    fn bad_selections_are_refused_by_field() {
        assert_eq!(request(serde_json::json!({"status": ["succeeded"]})).unwrap_err().field, "status[0]");
        assert_eq!(request(serde_json::json!({"status": []})).unwrap_err().field, "status");
        assert_eq!(request(serde_json::json!({"webhook_id": "nope"})).unwrap_err().field, "webhook_id");
        assert_eq!(request(serde_json::json!({"event_type": "nope.nope"})).unwrap_err().field, "event_type");
        let backwards = serde_json::json!({"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"});
        assert_eq!(request(backwards).unwrap_err().field, "until");
    }

    #[test]
    fn a_replay_pages_through_each_status_in_turn() {
        let filter = request(serde_json::json!({"status": ["dead", "held"]})).unwrap();
        let mut replay = Replay::new(ReplayId::generate(1), filter, Utc::now());
        assert_eq!(replay.current_status(), Some(DeliveryStatus::Dead));
        replay.advance(Some("page-2".into()));
        assert_eq!((replay.current_status(), replay.cursor.as_deref()), (Some(DeliveryStatus::Dead), Some("page-2")));
        replay.advance(None);
        assert_eq!((replay.current_status(), replay.cursor.as_deref()), (Some(DeliveryStatus::Held), None));
        replay.advance(None);
        assert_eq!(replay.current_status(), None);
    }
}
