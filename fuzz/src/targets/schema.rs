//! Event data against the catalog's JSON Schemas: an input's first line is a schema, the rest a
//! value. The value is checked against every event type's schema (what a publish does) and,
//! when the validator supports the schema, against it.

use hookline_core::domain::catalog;
use hookline_core::domain::schema::{assert_supported, validate};
use serde_json::Value;

pub const DICTIONARY: &[&str] = &[
    "\"type\"",
    "\"properties\"",
    "\"required\"",
    "\"items\"",
    "\"enum\"",
    "\"minimum\"",
    "\"maximum\"",
    "\"minLength\"",
    "\"maxLength\"",
    "\"format\"",
    "\"email\"",
    "\"date-time\"",
    "\"object\"",
    "\"array\"",
    "\"string\"",
    "\"integer\"",
    "\"number\"",
    "\"boolean\"",
    "\"a@b.c\"",
    "\"2026-02-30T25:61:61Z\"",
];

pub fn run(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (schema, value) = text.split_once('\n').unwrap_or(("{}", &text));
    let value: Value = serde_json::from_str(value).unwrap_or(Value::Null);
    for info in catalog::all() {
        let _ = info.validate_data(&value);
    }
    if let Ok(schema) = serde_json::from_str::<Value>(schema)
        && assert_supported(&schema).is_ok()
    {
        let _ = validate(&schema, &value, "data");
    }
}
