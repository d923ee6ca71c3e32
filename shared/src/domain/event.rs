//! The event envelope every delivery carries: `{id, event_type, timestamp, data, metadata}`.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::Invalid;
use super::catalog::{self, EventTypeInfo};
use super::ids::EventId;
use super::trace::TraceContext;

/// An event type known to the catalog (or the `webhook.test` ping).
#[derive(Debug, Clone, Copy)]
pub struct EventType(&'static EventTypeInfo);

impl PartialEq for EventType {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for EventType {}

impl EventType {
    /// Only catalog types parse: publishing an unknown type, or one of Hookline's own, is refused.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        if catalog::is_operational(raw) {
            return Err(Invalid::new("event_type", format!("'{raw}' is one of Hookline's own event types; only Hookline publishes those")));
        }
        catalog::find(raw).map(Self).ok_or_else(|| Invalid::new("event_type", format!("unknown event type '{raw}'")))
    }

    /// A stored event's type: any type that can be stored (the catalog's, Hookline's own, the
    /// test ping), whoever may publish it.
    pub fn from_stored(raw: &str) -> Option<Self> {
        let ping = catalog::test_ping();
        if raw == ping.event_type { Some(Self(ping)) } else { catalog::find_subscribable(raw).map(Self) }
    }

    /// One of Hookline's own types, for the events it publishes itself.
    pub fn operational(name: &str) -> Option<Self> {
        catalog::operational().iter().find(|info| info.event_type == name).map(Self)
    }

    pub fn test_ping() -> Self {
        Self(catalog::test_ping())
    }

    pub fn as_str(&self) -> &'static str {
        &self.0.event_type
    }

    pub fn info(&self) -> &'static EventTypeInfo {
        self.0
    }
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a publisher sends: everything but `event_type` and `data` is optional.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishRequest {
    pub id: Option<String>,
    pub event_type: String,
    pub timestamp: Option<String>,
    pub data: Value,
    pub metadata: Option<Map<String, Value>>,
}

/// The envelope as delivered. Serialised once, at ingestion; every attempt sends the same bytes.
#[derive(Debug, Clone, Serialize)]
pub struct Envelope {
    pub id: EventId,
    pub event_type: &'static str,
    pub timestamp: String,
    pub data: Value,
    pub metadata: Map<String, Value>,
}

/// A validated event, ready to store and fan out.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: EventId,
    pub event_type: EventType,
    pub occurred_at: DateTime<Utc>,
    /// The serialised [`Envelope`]: the exact bytes that are signed and sent.
    pub body: String,
    /// A digest of what the publisher said (type and data), to tell a retried publish
    /// from a different event that reuses an id.
    pub fingerprint: String,
    /// The publisher's trace (W3C `traceparent`), or one started for the event; every attempt
    /// is a child span of it. `None` for events stored before traces were kept.
    pub trace: Option<TraceContext>,
}

/// An erased event's body is at most this long (an id, a type and the flag).
const ERASED_BODY_MAX: usize = 512;

impl Event {
    /// The body an erased event keeps: its id and type, and that it was erased (the SQLite
    /// adapter writes the same object in SQL).
    pub fn erased_body(id: &EventId, event_type: &str) -> String {
        serde_json::json!({"id": id.as_str(), "event_type": event_type, "erased": true}).to_string()
    }

    /// Whether this event was erased (an envelope has no `erased` member). Checked before every
    /// attempt, so only a short body that mentions the flag is parsed.
    pub fn is_erased(&self) -> bool {
        self.body.len() <= ERASED_BODY_MAX
            && self.body.contains(r#""erased":true"#)
            && serde_json::from_str::<Value>(&self.body).is_ok_and(|body| body.get("erased") == Some(&Value::Bool(true)))
    }

    /// Parses and validates a publish request against the catalog.
    /// `source` names the ingestion path and fills `metadata.source` when the publisher left it out.
    pub fn from_request(request: PublishRequest, now: DateTime<Utc>, source: &str) -> Result<Self, Invalid> {
        let event_type = EventType::parse(&request.event_type)?;
        event_type.info().validate_data(&request.data)?;
        let id = match request.id {
            Some(raw) => EventId::parse(&raw)?,
            None => EventId::generate(unix_millis(now)),
        };
        let occurred_at = match request.timestamp {
            Some(raw) => parse_timestamp(&raw)?,
            None => now,
        };
        let mut metadata = request.metadata.unwrap_or_default();
        metadata.entry("source").or_insert_with(|| Value::from(source));
        metadata.entry("triggered_by").or_insert_with(|| Value::from(source));
        Ok(Self::new(id, event_type, occurred_at, request.data, metadata))
    }

    /// One of Hookline's own events (`hookline.*`), checked against its schema like any other.
    pub fn operational(event_type: EventType, data: Value, now: DateTime<Utc>) -> Result<Self, Invalid> {
        event_type.info().validate_data(&data)?;
        let mut metadata = Map::new();
        metadata.insert("source".into(), Value::from("hookline"));
        metadata.insert("triggered_by".into(), Value::from("hookline"));
        Ok(Self::new(EventId::generate(unix_millis(now)), event_type, now, data, metadata))
    }

    /// Builds the `webhook.test` ping sent by `POST /webhooks/{id}/test`.
    pub fn test_ping(webhook_name: &str, now: DateTime<Utc>) -> Self {
        let data = serde_json::json!({ "message": "This is a test event from Hookline.", "webhook": webhook_name });
        let mut metadata = Map::new();
        metadata.insert("source".into(), Value::from("hookline"));
        metadata.insert("triggered_by".into(), Value::from("test"));
        Self::new(EventId::generate(unix_millis(now)), EventType::test_ping(), now, data, metadata)
    }

    fn new(id: EventId, event_type: EventType, occurred_at: DateTime<Utc>, data: Value, metadata: Map<String, Value>) -> Self {
        let envelope =
            Envelope { id: id.clone(), event_type: event_type.as_str(), timestamp: format_timestamp(occurred_at), data, metadata };
        let fingerprint = fingerprint(event_type, &envelope.data);
        let body = serde_json::to_string(&envelope).unwrap_or_default();
        Self { id, event_type, occurred_at, body, fingerprint, trace: Some(TraceContext::root()) }
    }

    /// The event in the publisher's trace instead of a new one.
    pub fn in_trace(self, trace: Option<TraceContext>) -> Self {
        Self { trace: trace.or(self.trace), ..self }
    }
}

fn fingerprint(event_type: EventType, data: &Value) -> String {
    let digest = Sha256::new().chain_update(event_type.as_str()).chain_update([0u8]).chain_update(data.to_string()).finalize();
    super::hex(&digest[..16])
}

pub fn unix_millis(at: DateTime<Utc>) -> u64 {
    u64::try_from(at.timestamp_millis()).unwrap_or(0)
}

pub fn format_timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn parse_timestamp(raw: &str) -> Result<DateTime<Utc>, Invalid> {
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| Invalid::new("timestamp", "must be an RFC 3339 date-time such as 2024-01-15T10:30:00Z"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(value: Value) -> PublishRequest {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn a_publish_request_becomes_the_seeds_envelope_with_generated_id_and_timestamp() {
        let now = Utc::now();
        let data = json!({"id": 123, "portal_id": "100123", "full_name": "John Doe", "email": "john@example.com"});
        let event = Event::from_request(request(json!({"event_type": "customer.created", "data": data})), now, "api").unwrap();
        let body: Value = serde_json::from_str(&event.body).unwrap();
        assert!(body["id"].as_str().unwrap().starts_with("evt_"));
        assert_eq!(body["event_type"], "customer.created");
        assert_eq!(body["timestamp"], format_timestamp(now));
        assert_eq!(body["data"], data);
        assert_eq!(body["metadata"]["source"], "api");
    }

    #[test]
    fn an_erased_event_is_told_from_one_whose_data_says_erased() {
        let data = json!({"user_id": "u1", "erased": true});
        let event = Event::from_request(request(json!({"event_type": "auth.logout", "data": data})), Utc::now(), "api").unwrap();
        assert!(!event.is_erased());
        let erased = Event { body: Event::erased_body(&event.id, "auth.logout"), ..event.clone() };
        assert!(erased.is_erased());
        let sqlite_order = format!(r#"{{"id":"{}","event_type":"auth.logout","erased":true}}"#, event.id);
        assert!(Event { body: sqlite_order, ..event }.is_erased());
    }

    #[test]
    fn the_publishers_id_timestamp_and_metadata_are_kept() {
        let raw = json!({
            "id": "evt_mine", "event_type": "auth.logout", "timestamp": "2024-01-15T10:30:00Z",
            "data": {"user_id": "u1"}, "metadata": {"triggered_by": "admin_user", "source": "admin_portal"}
        });
        let event = Event::from_request(request(raw), Utc::now(), "api").unwrap();
        let body: Value = serde_json::from_str(&event.body).unwrap();
        assert_eq!(body["id"], "evt_mine");
        assert_eq!(body["timestamp"], "2024-01-15T10:30:00.000Z");
        assert_eq!(body["metadata"], json!({"triggered_by": "admin_user", "source": "admin_portal"}));
    }

    #[test]
    fn unknown_types_bad_data_and_bad_timestamps_name_their_field() {
        let unknown = Event::from_request(request(json!({"event_type": "customer.exploded", "data": {}})), Utc::now(), "api");
        assert_eq!(unknown.unwrap_err().field, "event_type");
        let bad_data = json!({"event_type": "customer.created", "data": {"id": 1, "full_name": "A", "email": 5}});
        assert_eq!(Event::from_request(request(bad_data), Utc::now(), "api").unwrap_err().field, "data.email");
        let bad_time = json!({"event_type": "auth.logout", "data": {"user_id": "u"}, "timestamp": "yesterday"});
        assert_eq!(Event::from_request(request(bad_time), Utc::now(), "api").unwrap_err().field, "timestamp");
    }
}
