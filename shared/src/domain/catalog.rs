//! The catalog: the 25 ISP event types Hookline accepts, each with a description,
//! a category, a JSON Schema for `data` and an example payload, and Hookline's own
//! operational types (`hookline.*`: a webhook failing, recovered or disabled, a delivery dead,
//! a replay finished), which webhooks subscribe to like any other but only Hookline publishes.
//! The data lives in `catalog.json`; this module loads it once and answers look-ups.

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Invalid, schema};

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EventTypeInfo {
    pub event_type: String,
    pub category: String,
    pub description: String,
    /// A JSON Schema (the subset [`schema`] checks) for the event's `data`.
    pub schema: Value,
    /// A `data` object that satisfies `schema`.
    pub example: Value,
}

impl EventTypeInfo {
    pub fn validate_data(&self, data: &Value) -> Result<(), Invalid> {
        schema::validate(&self.schema, data, "data")
    }
}

#[derive(Deserialize)]
struct CatalogFile {
    event_types: Vec<EventTypeInfo>,
    test_ping: EventTypeInfo,
    operational_types: Vec<EventTypeInfo>,
}

/// The prefix of Hookline's own event types; `*` does not cover them.
pub const OPERATIONAL_PREFIX: &str = "hookline.";

static CATALOG: LazyLock<CatalogFile> = LazyLock::new(|| {
    // The file is compiled in and checked by the tests below, so it always parses.
    serde_json::from_str(include_str!("catalog.json")).unwrap_or_else(|_| CatalogFile {
        event_types: Vec::new(),
        operational_types: Vec::new(),
        test_ping: EventTypeInfo {
            event_type: "webhook.test".into(),
            category: "hookline".into(),
            description: String::new(),
            schema: Value::Bool(true),
            example: Value::Null,
        },
    })
});

/// Every publishable event type, in catalog order.
pub fn all() -> &'static [EventTypeInfo] {
    &CATALOG.event_types
}

pub fn find(event_type: &str) -> Option<&'static EventTypeInfo> {
    all().iter().find(|info| info.event_type == event_type)
}

/// Hookline's own event types, which only Hookline publishes.
pub fn operational() -> &'static [EventTypeInfo] {
    &CATALOG.operational_types
}

/// Every type a webhook may subscribe to: the ISP types, then Hookline's own.
pub fn subscribable() -> impl Iterator<Item = &'static EventTypeInfo> {
    all().iter().chain(operational())
}

/// A type a webhook may subscribe to.
pub fn find_subscribable(event_type: &str) -> Option<&'static EventTypeInfo> {
    subscribable().find(|info| info.event_type == event_type)
}

pub fn is_operational(event_type: &str) -> bool {
    event_type.starts_with(OPERATIONAL_PREFIX)
}

/// `webhook.test` is not publishable and not subscribable; only the test route sends it.
pub fn test_ping() -> &'static EventTypeInfo {
    &CATALOG.test_ping
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_holds_the_seeds_25_types_in_six_categories() {
        assert_eq!(all().len(), 25);
        let mut categories: Vec<_> = all().iter().map(|info| info.category.as_str()).collect();
        categories.dedup();
        assert_eq!(categories, ["customer", "billing", "service", "network", "ticketing", "authentication"]);
        for name in ["customer.created", "invoice.paid", "network.device.down", "ticket.assigned", "auth.failed"] {
            assert!(find(name).is_some(), "{name} missing");
        }
    }

    #[test]
    fn hookline_has_five_operational_types_of_its_own() {
        let names: Vec<&str> = operational().iter().map(|info| info.event_type.as_str()).collect();
        assert_eq!(
            names,
            [
                "hookline.webhook.failing",
                "hookline.webhook.recovered",
                "hookline.webhook.disabled",
                "hookline.delivery.dead",
                "hookline.replay.finished"
            ]
        );
        assert!(operational().iter().all(|info| info.category == "hookline" && is_operational(&info.event_type)));
        assert!(!all().iter().any(|info| is_operational(&info.event_type)));
        assert_eq!(subscribable().count(), 30);
    }

    #[test]
    fn every_example_satisfies_its_own_schema() {
        for info in subscribable().chain([test_ping()]) {
            info.validate_data(&info.example).unwrap_or_else(|e| panic!("{}: {e}", info.event_type));
        }
    }

    #[test]
    fn every_schema_uses_only_keywords_the_validator_checks() {
        for info in subscribable() {
            schema::assert_supported(&info.schema).unwrap_or_else(|e| panic!("{}: {e}", info.event_type));
        }
    }
}
