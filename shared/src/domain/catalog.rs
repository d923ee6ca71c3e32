//! The catalog: the 25 ISP event types Hookline accepts, each with a description,
//! a category, a JSON Schema for `data` and an example payload. The data lives in
//! `catalog.json`; this module loads it once and answers look-ups.

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Invalid, schema};

#[derive(Debug, Serialize, Deserialize)]
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
}

static CATALOG: LazyLock<CatalogFile> = LazyLock::new(|| {
    // The file is compiled in and checked by the tests below, so it always parses.
    serde_json::from_str(include_str!("catalog.json")).unwrap_or_else(|_| CatalogFile {
        event_types: Vec::new(),
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
    fn every_example_satisfies_its_own_schema() {
        for info in all().iter().chain([test_ping()]) {
            info.validate_data(&info.example).unwrap_or_else(|e| panic!("{}: {e}", info.event_type));
        }
    }

    #[test]
    fn every_schema_uses_only_keywords_the_validator_checks() {
        for info in all() {
            schema::assert_supported(&info.schema).unwrap_or_else(|e| panic!("{}: {e}", info.event_type));
        }
    }
}
