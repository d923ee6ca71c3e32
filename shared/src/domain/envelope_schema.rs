//! The JSON Schema of a delivered request body for one event type: the [`Envelope`] around the
//! catalog's schema for its `data`. Published for receivers as `docs/schemas/<event_type>.json`
//! (a test regenerates them and fails when they drift).
//!
//! [`Envelope`]: super::event::Envelope

use serde_json::{Value, json};

use super::catalog::EventTypeInfo;

/// JSON Schema's 2020-12 dialect, which the published files declare.
pub const DIALECT: &str = "https://json-schema.org/draft/2020-12/schema";

/// The schema of the body a receiver gets for `info`'s event type.
pub fn envelope_schema(info: &EventTypeInfo) -> Value {
    json!({
        "$schema": DIALECT,
        "title": info.event_type,
        "description": format!("{} The body of a Hookline delivery of `{}` ({}).", info.description, info.event_type, info.category),
        "type": "object",
        "required": ["id", "event_type", "timestamp", "data", "metadata"],
        "properties": {
            "id": {
                "description": "The event's id, also sent as `webhook-id`: the same on every retry, so use it to deduplicate.",
                "type": "string",
                "pattern": "^[A-Za-z0-9_.:-]{1,128}$"
            },
            "event_type": {"const": info.event_type},
            "timestamp": {
                "description": "When the event happened (RFC 3339, UTC), as the publisher said or when Hookline accepted it.",
                "type": "string",
                "format": "date-time"
            },
            "data": info.schema,
            "metadata": {
                "description": "Who published it and how: `source` and `triggered_by` always, plus whatever the publisher added.",
                "type": "object",
                "required": ["source", "triggered_by"],
                "properties": {"source": {"type": "string"}, "triggered_by": {"type": "string"}}
            }
        },
        "examples": [{
            "id": "evt_06HZX0N4QK3R8W7Y2M5T9B1C4D",
            "event_type": info.event_type,
            "timestamp": "2024-01-15T10:30:00.000Z",
            "data": info.example,
            "metadata": {"source": "api", "triggered_by": "admin_user"}
        }]
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::catalog;

    #[test]
    fn the_envelope_schema_wraps_the_catalogs_data_schema() {
        let info = catalog::find("invoice.paid").unwrap();
        let schema = envelope_schema(info);
        assert_eq!(schema["properties"]["data"], info.schema);
        assert_eq!(schema["properties"]["event_type"]["const"], "invoice.paid");
        assert_eq!(schema["examples"][0]["data"], info.example);
    }
}
