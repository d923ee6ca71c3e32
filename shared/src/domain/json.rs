//! Reading JSON into typed requests with errors that name the offending field.

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::Invalid;

/// Deserialises `value`; a failure names the field's path (`events[1]`, `retry_policy.factor`),
/// down to the missing field when one is missing.
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, Invalid> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let message = error.into_inner().to_string();
        let base = if path == "." { String::new() } else { path };
        let field = match missing_field(&message) {
            Some(name) if base.is_empty() => name.to_owned(),
            Some(name) => format!("{base}.{name}"),
            None => base,
        };
        Invalid::new(field, message)
    })
}

/// The path already ends at an unknown field, but stops at the object missing one.
fn missing_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.split('`').next()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        name: String,
        inner: Option<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        count: u32,
    }

    fn field_of(value: Value) -> String {
        from_value::<Outer>(value).unwrap_err().field
    }

    #[test]
    fn errors_name_missing_unknown_and_mistyped_fields() {
        assert_eq!(field_of(json!({})), "name");
        assert_eq!(field_of(json!({"name": "a", "colour": 1})), "colour");
        assert_eq!(field_of(json!({"name": 5})), "name");
        assert_eq!(field_of(json!({"name": "a", "inner": {}})), "inner.count");
        assert_eq!(field_of(json!({"name": "a", "inner": {"count": -1}})), "inner.count");
    }
}
