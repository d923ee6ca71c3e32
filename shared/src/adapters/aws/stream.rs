//! Items as the table's stream hands them to a function: a stream record's `NewImage`, in
//! DynamoDB's JSON (`{"S": "…"}`, `{"N": "…"}`, …), read back into the `Event` recorded or the
//! metrics sample of the attempt a delivery's write recorded.

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};

use super::delivery_item::{FRESH, sample_of_item};
use super::events::read_event;
use super::item::Item;
use crate::domain::event::Event;
use crate::domain::metrics::Sample;
use crate::ports::StoreError;

/// The event a stream record's new image holds; `None` for an item that is not an event.
pub fn event_of_image(image: &Map<String, Value>) -> Result<Option<Event>, StoreError> {
    if !has_prefix(image, "EVT#") {
        return Ok(None);
    }
    read_event(&item_of(image)?).map(Some)
}

/// The metrics sample of the attempt a stream record's new image shows recorded (a delivery
/// item marked `fresh`); `None` for any other item or write.
pub fn sample_of_image(image: &Map<String, Value>) -> Result<Option<Sample>, StoreError> {
    if !has_prefix(image, "DLV#") || !image.contains_key(FRESH) {
        return Ok(None);
    }
    sample_of_item(&item_of(image)?)
}

fn has_prefix(image: &Map<String, Value>, prefix: &str) -> bool {
    image.get("PK").and_then(|pk| pk.get("S")).and_then(Value::as_str).is_some_and(|pk| pk.starts_with(prefix))
}

fn item_of(image: &Map<String, Value>) -> Result<Item, StoreError> {
    image.iter().map(|(name, value)| Ok((name.clone(), attribute(value)?))).collect()
}

/// One attribute in DynamoDB's JSON: an object with exactly one key naming its type.
fn attribute(value: &Value) -> Result<AttributeValue, StoreError> {
    let unreadable = || StoreError::Backend(format!("a stream image holds an attribute that does not parse: {value}").into());
    let Some((kind, inner)) = value.as_object().filter(|typed| typed.len() == 1).and_then(|typed| typed.iter().next()) else {
        return Err(unreadable());
    };
    let text = || inner.as_str().map(str::to_owned).ok_or_else(unreadable);
    let texts = || -> Result<Vec<String>, StoreError> {
        inner.as_array().ok_or_else(unreadable)?.iter().map(|v| v.as_str().map(str::to_owned).ok_or_else(unreadable)).collect()
    };
    let bytes = |encoded: &str| STANDARD.decode(encoded).map(Blob::new).map_err(|_| unreadable());
    Ok(match kind.as_str() {
        "S" => AttributeValue::S(text()?),
        "N" => AttributeValue::N(text()?),
        "B" => AttributeValue::B(bytes(&text()?)?),
        "BOOL" => AttributeValue::Bool(inner.as_bool().ok_or_else(unreadable)?),
        "NULL" => AttributeValue::Null(true),
        "SS" => AttributeValue::Ss(texts()?),
        "NS" => AttributeValue::Ns(texts()?),
        "BS" => AttributeValue::Bs(texts()?.iter().map(|b| bytes(b)).collect::<Result<_, _>>()?),
        "L" => AttributeValue::L(inner.as_array().ok_or_else(unreadable)?.iter().map(attribute).collect::<Result<_, _>>()?),
        "M" => AttributeValue::M(
            inner
                .as_object()
                .ok_or_else(unreadable)?
                .iter()
                .map(|(k, v)| Ok((k.clone(), attribute(v)?)))
                .collect::<Result<_, StoreError>>()?,
        ),
        _ => return Err(unreadable()),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn image(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn an_event_image_reads_back_into_the_event() {
        let body = r#"{"id":"evt_1","type":"invoice.paid","timestamp":"2026-12-04T10:00:00Z","data":{}}"#;
        let event = event_of_image(&image(json!({
            "PK": {"S": "EVT#evt_1"}, "SK": {"S": "META"}, "event_type": {"S": "invoice.paid"},
            "occurred_at": {"S": "2026-12-04T10:00:00Z"}, "body": {"S": body}, "fingerprint": {"S": "f"},
            "expires_at": {"N": "1800000000"}, "extra": {"M": {"list": {"L": [{"BOOL": true}, {"NULL": true}, {"B": "AAE="}]}}}
        })))
        .unwrap()
        .unwrap();
        assert_eq!((event.id.as_str(), event.event_type.as_str(), event.body.as_str()), ("evt_1", "invoice.paid", body));
    }

    #[test]
    fn other_items_are_not_events_and_bad_attributes_are_errors() {
        assert!(event_of_image(&image(json!({"PK": {"S": "DLV#1"}, "SK": {"S": "META"}}))).unwrap().is_none());
        assert!(event_of_image(&image(json!({}))).unwrap().is_none());
        for bad in [json!({"S": 1}), json!({"S": "a", "N": "1"}), json!({"X": "a"}), json!({"B": "not base64!"}), json!("plain")] {
            assert!(event_of_image(&image(json!({"PK": {"S": "EVT#e"}, "body": bad}))).is_err(), "{bad}");
        }
    }
}
