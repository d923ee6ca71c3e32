//! A small JSON Schema validator for the subset the catalog uses: `type`, `properties`,
//! `required`, `items`, `enum`, `minimum`, `maximum`, `minLength`, `maxLength` and
//! `format` (`email`, `date-time`). Errors name the failing field as a dotted path.

use chrono::DateTime;
use serde_json::{Map, Value};

use super::Invalid;

const SUPPORTED: &[&str] = &["type", "properties", "required", "items", "enum", "minimum", "maximum", "minLength", "maxLength", "format"];

/// Checks `value` against `schema`; `path` names `value` in the error.
pub fn validate(schema: &Value, value: &Value, path: &str) -> Result<(), Invalid> {
    let Some(rules) = schema.as_object() else { return Ok(()) };
    check_type(rules, value, path)?;
    check_enum(rules, value, path)?;
    check_bounds(rules, value, path)?;
    check_format(rules, value, path)?;
    if let Value::Object(fields) = value {
        check_object(rules, fields, path)?;
    }
    if let (Some(items), Value::Array(elements)) = (rules.get("items"), value) {
        for (index, element) in elements.iter().enumerate() {
            validate(items, element, &format!("{path}[{index}]"))?;
        }
    }
    Ok(())
}

/// Refuses a schema that relies on a keyword this validator would silently ignore.
pub fn assert_supported(schema: &Value) -> Result<(), String> {
    let Some(rules) = schema.as_object() else { return Ok(()) };
    if let Some(unknown) = rules.keys().find(|key| !SUPPORTED.contains(&key.as_str())) {
        return Err(format!("unsupported keyword '{unknown}'"));
    }
    for child in rules.get("properties").and_then(Value::as_object).into_iter().flat_map(|p| p.values()) {
        assert_supported(child)?;
    }
    rules.get("items").map_or(Ok(()), assert_supported)
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn type_matches(expected: &str, value: &Value) -> bool {
    let actual = type_name(value);
    expected == actual || (expected == "number" && actual == "integer")
}

fn check_type(rules: &Map<String, Value>, value: &Value, path: &str) -> Result<(), Invalid> {
    let allowed: Vec<&str> = match rules.get("type") {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ => return Ok(()),
    };
    if allowed.iter().any(|expected| type_matches(expected, value)) {
        return Ok(());
    }
    Err(Invalid::new(path, format!("expected {}, found {}", allowed.join(" or "), type_name(value))))
}

fn check_enum(rules: &Map<String, Value>, value: &Value, path: &str) -> Result<(), Invalid> {
    match rules.get("enum").and_then(Value::as_array) {
        Some(options) if !options.contains(value) => {
            let listed: Vec<String> = options.iter().map(Value::to_string).collect();
            Err(Invalid::new(path, format!("must be one of {}", listed.join(", "))))
        }
        _ => Ok(()),
    }
}

fn check_bounds(rules: &Map<String, Value>, value: &Value, path: &str) -> Result<(), Invalid> {
    if let Some(number) = value.as_f64() {
        if let Some(min) = rules.get("minimum").and_then(Value::as_f64).filter(|min| number < *min) {
            return Err(Invalid::new(path, format!("must be at least {min}")));
        }
        if let Some(max) = rules.get("maximum").and_then(Value::as_f64).filter(|max| number > *max) {
            return Err(Invalid::new(path, format!("must be at most {max}")));
        }
    }
    if let Some(text) = value.as_str() {
        let length = text.chars().count() as u64;
        if let Some(min) = rules.get("minLength").and_then(Value::as_u64).filter(|min| length < *min) {
            return Err(Invalid::new(path, format!("must be at least {min} characters")));
        }
        if let Some(max) = rules.get("maxLength").and_then(Value::as_u64).filter(|max| length > *max) {
            return Err(Invalid::new(path, format!("must be at most {max} characters")));
        }
    }
    Ok(())
}

fn check_format(rules: &Map<String, Value>, value: &Value, path: &str) -> Result<(), Invalid> {
    let (Some(format), Some(text)) = (rules.get("format").and_then(Value::as_str), value.as_str()) else {
        return Ok(());
    };
    let valid = match format {
        "email" => text.split_once('@').is_some_and(|(user, host)| !user.is_empty() && host.contains('.')),
        "date-time" => DateTime::parse_from_rfc3339(text).is_ok(),
        _ => true,
    };
    if valid { Ok(()) } else { Err(Invalid::new(path, format!("must be a valid {format}"))) }
}

fn check_object(rules: &Map<String, Value>, fields: &Map<String, Value>, path: &str) -> Result<(), Invalid> {
    let required = rules.get("required").and_then(Value::as_array).into_iter().flatten();
    if let Some(missing) = required.filter_map(Value::as_str).find(|name| !fields.contains_key(*name)) {
        return Err(Invalid::new(format!("{path}.{missing}"), "is required"));
    }
    let properties = rules.get("properties").and_then(Value::as_object);
    for (name, child_schema) in properties.into_iter().flatten() {
        if let Some(child) = fields.get(name) {
            validate(child_schema, child, &format!("{path}.{name}"))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({"type": "object", "required": ["id", "tags"], "properties": {
            "id": {"type": ["integer", "string"]},
            "email": {"type": "string", "format": "email"},
            "amount": {"type": "number", "minimum": 0},
            "tags": {"type": "array", "items": {"type": "string", "minLength": 1}},
            "level": {"type": "string", "enum": ["low", "high"]}
        }})
    }

    fn field_of(value: Value) -> String {
        validate(&schema(), &value, "data").unwrap_err().field
    }

    #[test]
    fn a_valid_object_passes() {
        let value = json!({"id": 1, "email": "a@b.co", "amount": 2.5, "tags": ["x"], "level": "low", "extra": true});
        assert!(validate(&schema(), &value, "data").is_ok());
    }

    #[test]
    fn each_broken_rule_names_its_field() {
        assert_eq!(field_of(json!([])), "data");
        assert_eq!(field_of(json!({"tags": []})), "data.id");
        assert_eq!(field_of(json!({"id": true, "tags": []})), "data.id");
        assert_eq!(field_of(json!({"id": 1, "tags": [], "email": "nope"})), "data.email");
        assert_eq!(field_of(json!({"id": 1, "tags": [], "amount": -1})), "data.amount");
        assert_eq!(field_of(json!({"id": 1, "tags": ["ok", ""]})), "data.tags[1]");
        assert_eq!(field_of(json!({"id": 1, "tags": [], "level": "mid"})), "data.level");
    }

    #[test]
    fn unsupported_keywords_are_reported() {
        assert!(assert_supported(&schema()).is_ok());
        assert!(assert_supported(&json!({"properties": {"a": {"pattern": "x"}}})).is_err());
    }
}
